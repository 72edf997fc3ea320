/*
 * Routing of the HTTPS requests. Every connection gets an SSL object from
 * the server's context of the moment; without one yet (ACME still at
 * work) the handshake fails on a context without certificate instead of
 * falling back to plain HTTP. Small caps: headers 8 KiB, bodies
 * AUTODISCOVER_BODY_MAX, 10 s per connection.
 */
#include "https.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "web/autoconfig.h"
#include "web/mtasts.h"

#define HTTPS_TIMEOUT 10
#define HTTPS_HEADERS_MAX 8192

struct https {
	struct evhttp *http;
	SSL_CTX *const *ctx;
	struct config *const *cfg;
	SSL_CTX *nocert;	/* refuses handshakes while there is no certificate */
};

static struct bufferevent *
make_bev(struct event_base *base, void *arg)
{
	struct https *h = arg;
	SSL *ssl = SSL_new(*h->ctx ? *h->ctx : h->nocert);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
}

static void
reply(struct evhttp_request *req, int code, const char *reason, const char *type,
    const char *body)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
	char q[LOG_VALUE_MAX];
	const char *uri = evhttp_request_get_uri(req);

	evhttp_add_header(hdr, "Content-Type", type);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	evbuffer_add(b, body, strlen(body));
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
	log_event("https", "uri=%s status=%d", log_quote(q, sizeof(q), uri, strlen(uri)), code);
}

/* The domain a Thunderbird request is about: the address's when given
 * (it must be ours), else the Host (autoconfig.DOMAIN or DOMAIN), else
 * our first domain. NULL when the address names another domain. */
static const char *
request_domain(const struct config *cfg, struct evhttp_request *req, const char *address)
{
	const char *host = evhttp_request_get_host(req), *d;

	if (address != NULL) {
		if (!autoconfig_address_ok(address, &d) || !config_is_local_domain(cfg, d, strlen(d)))
			return NULL;
		for (size_t i = 0; i < cfg->ndomains; i++)
			if (strcasecmp(cfg->domains[i], d) == 0)
				return cfg->domains[i];
	}
	if (host != NULL)
		for (size_t i = 0; i < cfg->ndomains; i++) {
			size_t hl = strlen(host), dl = strlen(cfg->domains[i]);
			if (strcasecmp(host, cfg->domains[i]) == 0 ||
			    (hl == dl + 11 && strncasecmp(host, "autoconfig.", 11) == 0 &&
			    strcasecmp(host + 11, cfg->domains[i]) == 0))
				return cfg->domains[i];
		}
	return cfg->domains[0];
}

static void
thunderbird(struct https *h, struct evhttp_request *req)
{
	const struct config *cfg = *h->cfg;
	struct evkeyvalq query = { NULL, &query.tqh_first };
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	const char *address = NULL, *domain;
	char *xml;


	if (q != NULL && evhttp_parse_query_str(q, &query) == 0)
		address = evhttp_find_header(&query, "emailaddress");
	domain = request_domain(cfg, req, address);
	if (domain == NULL) {
		reply(req, HTTP_NOTFOUND, "Not Found", "text/plain", "not a domain of this server\n");
		evhttp_clear_headers(&query);
		return;
	}
	xml = autoconfig_thunderbird(cfg->hostname, domain);
	reply(req, HTTP_OK, "OK", "application/xml; charset=utf-8", xml);
	free(xml);
	evhttp_clear_headers(&query);
}

static void
outlook(struct https *h, struct evhttp_request *req)
{
	const struct config *cfg = *h->cfg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	char address[AUTOCONFIG_ADDRESS_MAX], *body, *xml;
	const char *why, *d;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		reply(req, HTTP_BADMETHOD, "Method Not Allowed", "text/plain",
		    "autodiscover takes a POST\n");
		return;
	}
	body = xmalloc(len + 1);
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	if (autodiscover_request_address(body, len, address, &why) == -1) {
		char *msg = xasprintf("%s\n", why);
		reply(req, HTTP_BADREQUEST, "Bad Request", "text/plain", msg);
		free(msg);
		free(body);
		return;
	}
	free(body);
	autoconfig_address_ok(address, &d);
	if (!config_is_local_domain(cfg, d, strlen(d))) {
		reply(req, HTTP_NOTFOUND, "Not Found", "text/plain", "not a domain of this server\n");
		return;
	}
	xml = autodiscover_response(cfg->hostname, address);
	reply(req, HTTP_OK, "OK", "application/xml; charset=utf-8", xml);
	free(xml);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct https *h = arg;
	const struct config *cfg = *h->cfg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	char *text;

	if (path == NULL) {
		reply(req, HTTP_BADREQUEST, "Bad Request", "text/plain", "bad request\n");
		return;
	}
	if (strcmp(path, "/.well-known/autoconfig/mail/config-v1.1.xml") == 0 ||
	    strcmp(path, "/mail/config-v1.1.xml") == 0)
		thunderbird(h, req);
	else if (strcasecmp(path, "/autodiscover/autodiscover.xml") == 0)
		outlook(h, req);
	else if (strcmp(path, "/.well-known/mta-sts.txt") == 0) {
		text = mtasts_policy(cfg->mta_sts_mode, cfg->hostname);
		reply(req, HTTP_OK, "OK", "text/plain", text);
		free(text);
	} else
		reply(req, HTTP_NOTFOUND, "Not Found", "text/plain", "not found\n");
}

struct https *
https_new(struct event_base *base, const struct hostport *hp, SSL_CTX *const *ctx,
    struct config *const *cfg, char **err)
{
	struct https *h = xcalloc(1, sizeof(*h));

	h->ctx = ctx;
	h->cfg = cfg;
	h->nocert = SSL_CTX_new(TLS_server_method());
	h->http = evhttp_new(base);
	if (h->nocert == NULL || h->http == NULL ||
	    evhttp_bind_socket_with_handle(h->http, hp->host, (ev_uint16_t)hp->port) == NULL) {
		*err = xasprintf("cannot listen on %s:%u for https_listen", hp->host, hp->port);
		https_free(h);
		return NULL;
	}
	evhttp_set_bevcb(h->http, make_bev, h);
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST);
	evhttp_set_max_headers_size(h->http, HTTPS_HEADERS_MAX);
	evhttp_set_max_body_size(h->http, AUTODISCOVER_BODY_MAX);
	evhttp_set_timeout(h->http, HTTPS_TIMEOUT);
	evhttp_set_gencb(h->http, on_request, h);
	log_event("listen", "address=%s:%u role=https", hp->host, hp->port);
	return h;
}

void
https_free(struct https *h)
{
	if (h == NULL)
		return;
	if (h->http)
		evhttp_free(h->http);
	SSL_CTX_free(h->nocert);
	free(h);
}
