/*
 * Listeners and server-wide life cycle. Connection limits are decided
 * here, at accept, before a session costs anything: over the limit the
 * client gets a 421 written straight to the socket.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "smtp/session.h"
#include "smtp/tls.h"
#include "policy/selftest.h"
#include "queue/dkim_sign.h"

#define SHUTDOWN_GRACE 10	/* seconds for sessions to finish */

static void
refuse(evutil_socket_t fd, const char *ip, const char *reason, const char *text)
{
	char line[200];
	int n = snprintf(line, sizeof(line), "%s\r\n", text);

	/* Best effort: the socket is fresh, the reply small. */
	(void)!write(fd, line, (size_t)n);
	evutil_closesocket(fd);
	log_event("reject", "reason=%s stage=connect client=%s reply=\"%s\"", reason, ip, text);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct server *srv = arg;
	enum listener_role role = ROLE_MX;
	char ip[INET6_ADDRSTRLEN] = "?";

	for (size_t i = 0; i < srv->nlisteners; i++)
		if (srv->listeners[i] == l)
			role = srv->roles[i];
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
	if (srv->stopping) {
		refuse(fd, ip, "shutting_down", "421 4.3.2 Service shutting down");
		return;
	}
	/* the relay self-test's own connections take no client's slot */
	if (srv->selftest_running && strcmp(ip, SELFTEST_SOURCE) == 0) {
		evutil_make_socket_nonblocking(fd);
		session_start(srv, fd, sa, (socklen_t)salen, role);
		return;
	}
	/* A full server makes room by closing its longest-idle session
	 * (SPEC 2): slow clients cannot keep honest ones out. */
	if (srv->nsessions - srv->nselftest >= srv->cfg->max_connections &&
	    !session_close_idlest(srv)) {
		refuse(fd, ip, "too_many_connections",
		    "421 4.7.0 Too many connections, try again later");
		return;
	}
	if (session_count_ip(srv, sa) >= srv->cfg->max_connections_per_ip) {
		refuse(fd, ip, "too_many_connections_from_ip",
		    "421 4.7.0 Too many connections from your address, try again later");
		return;
	}
	evutil_make_socket_nonblocking(fd);
	session_start(srv, fd, sa, (socklen_t)salen, role);
}

static void
resume_listeners(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	for (size_t i = 0; i < srv->nlisteners; i++)
		evconnlistener_enable(srv->listeners[i]);
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct server *srv = arg;
	struct timeval tv = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	/* EMFILE and friends: stop accepting for a second instead of
	 * spinning on a listener that cannot accept. */
	log_event("error", "reason=\"accept failed: %s\"", evutil_socket_error_to_string(err));
	evconnlistener_disable(l);
	event_base_once(srv->base, -1, EV_TIMEOUT, resume_listeners, srv, &tv);
}

static int
open_listener(struct server *srv, const struct hostport *hp, enum listener_role role,
    const char *name)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[8];
	const char *host = hp->host;
	struct evconnlistener *l;
	int rc;

	if (strcmp(host, "*") == 0)
		host = NULL;
	snprintf(port, sizeof(port), "%u", hp->port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		log_event("error", "reason=\"cannot resolve %s address %s: %s\"", name,
		    hp->host, gai_strerror(rc));
		return -1;
	}
	l = evconnlistener_new_bind(srv->base, on_accept, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC, 511,
	    res->ai_addr, (int)res->ai_addrlen);
	freeaddrinfo(res);
	if (l == NULL) {
		log_event("error", "reason=\"cannot listen on %s:%u for %s: %s\"", hp->host,
		    hp->port, name, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	srv->listeners[srv->nlisteners] = l;
	srv->roles[srv->nlisteners] = role;
	srv->nlisteners++;
	log_event("listen", "address=%s:%u role=%s", hp->host, hp->port, name);
	return 0;
}

int
server_listen(struct server *srv)
{
	const struct config *cfg = srv->cfg;

	if (cfg->listen_smtp && open_listener(srv, cfg->listen_smtp, ROLE_MX, "smtp") == -1)
		return -1;
	if (srv->ssl_ctx == NULL) {
		if (cfg->listen_submission || cfg->listen_submissions)
			log_event("warning", "reason=\"no tls_cert/tls_key: submission ports 587 and 465 not started\"");
		return 0;
	}
	if (cfg->listen_submission &&
	    open_listener(srv, cfg->listen_submission, ROLE_SUBMISSION, "submission") == -1)
		return -1;
	if (cfg->listen_submissions &&
	    open_listener(srv, cfg->listen_submissions, ROLE_SUBMISSIONS, "submissions") == -1)
		return -1;
	return 0;
}

static void (*shutdown_done)(struct server *);

static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (srv->nsessions > 0)
		log_event("warning", "reason=\"%u sessions still open after %ds: abandoning them\"",
		    srv->nsessions, SHUTDOWN_GRACE);
	shutdown_done(srv);
}

void
server_shutdown(struct server *srv, void (*done)(struct server *))
{
	struct timeval tv = { SHUTDOWN_GRACE, 0 };

	if (srv->stopping)
		return;
	srv->stopping = true;
	shutdown_done = done;
	for (size_t i = 0; i < srv->nlisteners; i++)
		evconnlistener_free(srv->listeners[i]);
	srv->nlisteners = 0;
	srv->ev_stop_timer = evtimer_new(srv->base, on_stop_timer, srv);
	evtimer_add(srv->ev_stop_timer, &tv);
	session_shutdown_all(srv);
	if (srv->nsessions == 0)
		event_active(srv->ev_stop_timer, EV_TIMEOUT, 0);
}

static int
hostport_eq(const struct hostport *a, const struct hostport *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static void
keep_str(char **newv, char *oldv, const char *what)
{
	if (strcmp(*newv, oldv) != 0) {
		log_event("warning", "reason=\"%s changed: takes effect at restart\"", what);
		free(*newv);
		*newv = xstrdup(oldv);
	}
}

int
server_reload(struct server *srv, const char *config_path)
{
	struct config *cfg = xcalloc(1, sizeof(*cfg));
	struct config_diag diag = { 0 };
	SSL_CTX *ctx = NULL;
	struct dkim_signer *dkim = NULL;
	char *err = NULL;

	if (config_load(config_path, cfg, &diag) > 0) {
		for (size_t i = 0; i < diag.n; i++)
			log_event("error", "reason=\"reload refused: %s\"", diag.msgs[i]);
		log_event("alert", "kind=config part=configuration reason=\"reload refused: %zu "
		    "problem(s) in %s, the running configuration stays\"", diag.n, config_path);
		config_diag_clear(&diag);
		config_clear(cfg);
		free(cfg);
		return -1;
	}
	/* SPEC 9: a part that fails keeps its old state, the rest applies;
	 * the key reader opens what only root may read (certbot's keys) */
	if (cfg->tls_cert &&
	    (ctx = tls_reload_ctx(srv->keyreader, cfg->tls_cert, cfg->tls_key, &err)) == NULL) {
		log_event("alert", "kind=config part=certificate reason=\"certificate not reloaded, "
		    "the old one stays in use: %s\"", err);
		free(err);
		err = NULL;
	}
	if (cfg->dkim_key != NULL &&
	    (dkim = dkim_signer_load(cfg->dkim_selector, cfg->dkim_key, &err)) == NULL) {
		log_event("alert", "kind=config part=dkim reason=\"DKIM key not reloaded, the old "
		    "one stays in use: %s\"", err);
		free(err);
		err = NULL;
	}
	if (!hostport_eq(cfg->listen_smtp, srv->cfg->listen_smtp) ||
	    !hostport_eq(cfg->listen_submission, srv->cfg->listen_submission) ||
	    !hostport_eq(cfg->listen_submissions, srv->cfg->listen_submissions) ||
	    !hostport_eq(cfg->metrics_listen, srv->cfg->metrics_listen))
		log_event("warning", "reason=\"listener addresses (or metrics_listen) changed: take effect at restart\"");
	if (!hostport_eq(cfg->lmtp_host, srv->cfg->lmtp_host) ||
	    (cfg->lmtp_socket == NULL) != (srv->cfg->lmtp_socket == NULL) ||
	    (cfg->lmtp_socket && strcmp(cfg->lmtp_socket, srv->cfg->lmtp_socket) != 0))
		log_event("warning", "reason=\"local_delivery changed: takes effect at restart\"");
	keep_str(&cfg->data_dir, srv->cfg->data_dir, "data_dir");
	keep_str(&cfg->log_file, srv->cfg->log_file, "log_file");
	if (userdb_refresh(srv->users, &err) == -1) {
		log_event("error", "reason=\"accounts not reloaded: %s\"", err);
		free(err);
	}
	/* Sessions read srv->cfg afresh at every command and keep no
	 * pointer into it across callbacks, so the swap is safe. The TLS
	 * context is reference-counted by the SSL objects still using it. */
	config_clear(srv->cfg);
	free(srv->cfg);
	srv->cfg = cfg;
	if (dkim != NULL || cfg->dkim_key == NULL) {
		dkim_signer_free(srv->dkim);
		srv->dkim = dkim;
	}
	if (ctx != NULL) {
		SSL_CTX_free(srv->ssl_ctx);
		srv->ssl_ctx = ctx;
		tls_log_cert(srv->ssl_ctx, "file");
	} else if (srv->ssl_ctx != NULL && cfg->tls_cert == NULL)
		log_event("warning", "reason=\"tls_cert removed: the old certificate stays in use until restart\"");
	log_event("reload", "config=%s", config_path);
	return 0;
}
