/*
 * http-01 answers. The table is tiny (one token per name being
 * validated) and guarded by a mutex: the worker publishes before it
 * asks the CA to validate, the loop reads when the CA connects.
 */
#include "challenge.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "acme/answer.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"

#define CHALLENGE_MAX 32
#define CHALLENGE_PREFIX "/.well-known/acme-challenge/"

struct entry {
	char *token, *keyauth;
};

struct acme_challenge {
	struct evhttp *http;
	pthread_mutex_t lock;
	struct entry e[CHALLENGE_MAX];
};

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct acme_challenge *c = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *token;
	char *answer = NULL, q[LOG_VALUE_MAX];
	struct evbuffer *buf;

	if (path == NULL || strncmp(path, CHALLENGE_PREFIX, strlen(CHALLENGE_PREFIX)) != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	token = path + strlen(CHALLENGE_PREFIX);
	if (acme_b64url_ok(token, strlen(token))) {
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < CHALLENGE_MAX; i++)
			if (c->e[i].token && strcmp(c->e[i].token, token) == 0)
				answer = xstrdup(c->e[i].keyauth);
		pthread_mutex_unlock(&c->lock);
	}
	log_event("acme_challenge", "token=%s host=%s status=%d",
	    log_quote(q, sizeof(q), token, strlen(token)),
	    evhttp_request_get_host(req) ? evhttp_request_get_host(req) : "?", answer ? 200 : 404);
	if (answer == NULL) {
		evhttp_send_error(req, HTTP_NOTFOUND, "Not Found");
		return;
	}
	buf = evbuffer_new();
	evbuffer_add(buf, answer, strlen(answer));
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/octet-stream");
	evhttp_send_reply(req, HTTP_OK, "OK", buf);
	evbuffer_free(buf);
	free(answer);
}

struct acme_challenge *
acme_challenge_new(struct event_base *base, const struct hostport *hp, char **err)
{
	struct acme_challenge *c = xcalloc(1, sizeof(*c));

	c->http = evhttp_new(base);
	if (c->http == NULL || evhttp_bind_socket_with_handle(c->http, hp->host,
	    (ev_uint16_t)hp->port) == NULL) {
		*err = xasprintf("cannot listen on %s:%u for ACME http-01 (acme_http_listen)",
		    hp->host, hp->port);
		if (c->http)
			evhttp_free(c->http);
		free(c);
		return NULL;
	}
	/* the CA asks small questions: small caps, short timeouts */
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(c->http, 8192);
	evhttp_set_max_body_size(c->http, 0);
	evhttp_set_timeout(c->http, 10);
	evhttp_set_gencb(c->http, on_request, c);
	pthread_mutex_init(&c->lock, NULL);
	log_event("listen", "address=%s:%u role=acme_http", hp->host, hp->port);
	return c;
}

void
acme_challenge_publish(struct acme_challenge *c, const char *token, const char *keyauth)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CHALLENGE_MAX; i++)
		if (c->e[i].token == NULL) {
			c->e[i].token = xstrdup(token);
			c->e[i].keyauth = xstrdup(keyauth);
			break;
		}
	pthread_mutex_unlock(&c->lock);
}

void
acme_challenge_withdraw(struct acme_challenge *c, const char *token)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < CHALLENGE_MAX; i++)
		if (c->e[i].token && strcmp(c->e[i].token, token) == 0) {
			free(c->e[i].token);
			free(c->e[i].keyauth);
			c->e[i].token = c->e[i].keyauth = NULL;
		}
	pthread_mutex_unlock(&c->lock);
}

void
acme_challenge_free(struct acme_challenge *c)
{
	if (c == NULL)
		return;
	evhttp_free(c->http);
	for (size_t i = 0; i < CHALLENGE_MAX; i++) {
		free(c->e[i].token);
		free(c->e[i].keyauth);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}
