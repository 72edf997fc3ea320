/*
 * Listeners and server-wide life cycle. Connection limits are decided
 * here, at accept, before a session costs anything: over the limit the
 * client gets a 421 written straight to the socket. Every address of
 * every listen_* key is bound; [::] is one dual-stack socket, and the
 * IPv4 clients it accepts are handed on as plain IPv4 addresses.
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
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
	struct sockaddr_in v4;

	/* A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d
	 * (RFC 4291 2.5.5.2); everything after accept (limits per IP,
	 * blocklists, networks, logs) wants the IPv4 address itself. */
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)sa)->sin6_addr)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		memset(&v4, 0, sizeof(v4));
		v4.sin_family = AF_INET;
		v4.sin_port = s6->sin6_port;
		memcpy(&v4.sin_addr, s6->sin6_addr.s6_addr + 12, 4);
		sa = (struct sockaddr *)&v4;
		salen = (int)sizeof(v4);
	}
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

/*
 * A listening socket on one address. dual: an IPv6 wildcard that also
 * takes IPv4 (IPV6_V6ONLY off, whatever net.ipv6.bindv6only says); any
 * other IPv6 address is IPv6 only. Returns the socket, or -1 with errno.
 */
static evutil_socket_t
bind_socket(const struct sockaddr *sa, socklen_t salen, bool dual, bool listening)
{
	int fd, on = 1, v6only = dual ? 0 : 1, saved;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1) ||
	    bind(fd, sa, salen) == -1 || (listening && listen(fd, 511) == -1)) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int
open_listener(struct server *srv, const struct hostport *hp, enum listener_role role,
    const char *name)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	struct sockaddr_in6 any6 = { 0 };
	struct sockaddr_in any4 = { 0 };
	const struct sockaddr *sa;
	socklen_t salen;
	char port[8], shown[HOSTPORT_HOST_MAX + 8];
	struct evconnlistener *l;
	evutil_socket_t fd;
	int rc;
	/* submission waiting for its ACME certificate: the port is bound now
	 * (it may need root) but refuses connections until listen() */
	bool defer = role != ROLE_MX && srv->ssl_ctx == NULL;

	snprintf(shown, sizeof(shown), strchr(hp->host, ':') ? "[%s]:%u" : "%s:%u", hp->host,
	    hp->port);
	if (srv->nlisteners == SERVER_LISTENERS_MAX) {
		log_event("error", "reason=\"cannot listen on %s for %s: more than %d listeners\"",
		    shown, name, SERVER_LISTENERS_MAX);
		return -1;
	}
	if (strcmp(hp->host, "::") == 0 || strcmp(hp->host, "*") == 0) {
		/* every address, IPv4 and IPv6 (SPEC 9: dual stack) */
		any6.sin6_family = AF_INET6;
		any6.sin6_addr = in6addr_any;
		any6.sin6_port = htons((uint16_t)hp->port);
		fd = bind_socket((struct sockaddr *)&any6, sizeof(any6), true, !defer);
		if (fd == -1 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			/* a host without IPv6 still serves IPv4 */
			log_event("warning", "reason=\"no IPv6 on this host (%s): %s listens on "
			    "0.0.0.0:%u only\"", strerror(errno), name, hp->port);
			any4.sin_family = AF_INET;
			any4.sin_addr.s_addr = htonl(INADDR_ANY);
			any4.sin_port = htons((uint16_t)hp->port);
			fd = bind_socket((struct sockaddr *)&any4, sizeof(any4), false, !defer);
		}
	} else {
		snprintf(port, sizeof(port), "%u", hp->port);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		if ((rc = getaddrinfo(hp->host, port, &hints, &res)) != 0) {
			log_event("error", "reason=\"cannot resolve %s address %s: %s\"", name,
			    shown, gai_strerror(rc));
			return -1;
		}
		sa = res->ai_addr;
		salen = res->ai_addrlen;
		fd = bind_socket(sa, salen, false, !defer);
		rc = errno;
		freeaddrinfo(res);
		errno = rc;
	}
	if (fd == -1) {
		log_event("error", "reason=\"cannot listen on %s for %s: %s\"", shown, name,
		    strerror(errno));
		return -1;
	}
	l = evconnlistener_new(srv->base, on_accept, srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, defer ? 0 : -1, fd);
	if (l == NULL) {
		log_event("error", "reason=\"cannot listen on %s for %s: libevent refused the "
		    "socket\"", shown, name);
		close(fd);
		return -1;
	}
	evconnlistener_set_error_cb(l, on_accept_error);
	if (defer)
		evconnlistener_disable(l);
	srv->listeners[srv->nlisteners] = l;
	srv->roles[srv->nlisteners] = role;
	srv->deferred[srv->nlisteners] = defer;
	srv->nlisteners++;
	log_event(defer ? "listen_deferred" : "listen", "address=%s role=%s", shown, name);
	return 0;
}

/* Every address of one listen_* key; -1 at the first that fails. */
static int
open_listeners(struct server *srv, const struct hostport *hps, size_t n,
    enum listener_role role, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (open_listener(srv, &hps[i], role, name) == -1)
			return -1;
	return 0;
}

int
server_listen(struct server *srv)
{
	const struct config *cfg = srv->cfg;

	if (open_listeners(srv, cfg->listen_smtp, cfg->nlisten_smtp, ROLE_MX, "smtp") == -1)
		return -1;
	if (srv->ssl_ctx == NULL && !srv->cert_coming) {
		if (cfg->nlisten_submission || cfg->nlisten_submissions)
			log_event("warning", "reason=\"no tls_cert/tls_key: submission ports 587 and 465 not started\"");
		return 0;
	}
	if (open_listeners(srv, cfg->listen_submission, cfg->nlisten_submission,
	    ROLE_SUBMISSION, "submission") == -1)
		return -1;
	if (open_listeners(srv, cfg->listen_submissions, cfg->nlisten_submissions,
	    ROLE_SUBMISSIONS, "submissions") == -1)
		return -1;
	return 0;
}

void
server_listen_deferred(struct server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++) {
		evutil_socket_t fd = evconnlistener_get_fd(srv->listeners[i]);

		if (!srv->deferred[i])
			continue;
		if (listen(fd, 511) == -1) {
			log_event("error", "reason=\"cannot listen for %s: %s\"",
			    srv->roles[i] == ROLE_SUBMISSIONS ? "submissions" : "submission",
			    strerror(errno));
			continue;
		}
		srv->deferred[i] = false;
		evconnlistener_enable(srv->listeners[i]);
		log_event("listen", "role=%s reason=\"certificate ready\"",
		    srv->roles[i] == ROLE_SUBMISSIONS ? "submissions" : "submission");
	}
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

/* Same addresses in the same order. */
static bool
listen_eq(const struct hostport *a, size_t na, const struct hostport *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!hostport_eq(&a[i], &b[i]))
			return false;
	return true;
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

/* An optional key (NULL when unset) read once at start: the running value
 * stays, and the administrator is told when to expect the new one. */
static void
keep_opt_str(char **newv, const char *oldv, const char *what)
{
	if ((*newv == NULL && oldv == NULL) || (*newv && oldv && strcmp(*newv, oldv) == 0))
		return;
	log_event("warning", "reason=\"%s changed: takes effect at restart\"", what);
	free(*newv);
	*newv = oldv ? xstrdup(oldv) : NULL;
}

static void
keep_hostport(struct hostport **newv, const struct hostport *oldv, const char *what)
{
	if (hostport_eq(*newv, oldv))
		return;
	log_event("warning", "reason=\"%s changed: takes effect at restart\"", what);
	free(*newv);
	*newv = NULL;
	if (oldv != NULL) {
		*newv = xmalloc(sizeof(**newv));
		**newv = *oldv;
	}
}

static void
keep_unsigned(unsigned *newv, unsigned oldv, const char *what)
{
	if (*newv == oldv)
		return;
	log_event("warning", "reason=\"%s changed: takes effect at restart\"", what);
	*newv = oldv;
}

static bool
strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/*
 * What the queue's client, the scheduler, the resolver, the state backend,
 * ACME and the HTTPS listener copied at start (cli/serve.c): a reload
 * keeps the running values, so what the server does and what its
 * configuration says agree, and says which change waits for a restart.
 */
static void
keep_start_only(struct config *cfg, const struct config *old)
{
	keep_hostport(&cfg->relayhost, old->relayhost, "relayhost");
	keep_opt_str(&cfg->relayhost_user, old->relayhost_user, "relayhost_user");
	keep_opt_str(&cfg->relayhost_password_file, old->relayhost_password_file,
	    "relayhost_password_file");
	keep_opt_str(&cfg->outbound_family, old->outbound_family, "outbound_family");
	keep_opt_str(&cfg->outbound_source_ip4, old->outbound_source_ip4, "outbound_source_ip4");
	keep_opt_str(&cfg->outbound_source_ip6, old->outbound_source_ip6, "outbound_source_ip6");
	keep_unsigned(&cfg->outbound_port, old->outbound_port, "outbound_port");
	keep_unsigned(&cfg->outbound_timeout, old->outbound_timeout, "outbound_timeout");
	keep_unsigned(&cfg->queue_lifetime, old->queue_lifetime, "queue_lifetime");
	keep_unsigned(&cfg->delay_warning, old->delay_warning, "delay_warning");
	keep_unsigned(&cfg->retry_initial, old->retry_initial, "retry_initial");
	keep_unsigned(&cfg->retry_max, old->retry_max, "retry_max");
	if (!strv_eq(cfg->tls_required_domains, cfg->ntls_required_domains,
	    old->tls_required_domains, old->ntls_required_domains))
		log_event("warning", "reason=\"tls_required_domains changed: takes effect at restart\"");
	if (!listen_eq(cfg->dns_servers, cfg->ndns_servers, old->dns_servers, old->ndns_servers) ||
	    cfg->dnssec != old->dnssec)
		log_event("warning", "reason=\"dns_servers or dnssec changed: take effect at restart\"");
	keep_opt_str(&cfg->state_backend, old->state_backend, "state_backend");
	keep_opt_str(&cfg->state_password, old->state_password, "state_password");
	keep_opt_str(&cfg->node_name, old->node_name, "node_name");
	keep_opt_str(&cfg->acme_email, old->acme_email, "acme_email");
	keep_opt_str(&cfg->acme_directory, old->acme_directory, "acme_directory");
	keep_opt_str(&cfg->acme_ca_file, old->acme_ca_file, "acme_ca_file");
	keep_hostport(&cfg->acme_http_listen, old->acme_http_listen, "acme_http_listen");
	keep_hostport(&cfg->https_listen, old->https_listen, "https_listen");
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
	if (!listen_eq(cfg->listen_smtp, cfg->nlisten_smtp, srv->cfg->listen_smtp,
	    srv->cfg->nlisten_smtp) ||
	    !listen_eq(cfg->listen_submission, cfg->nlisten_submission,
	    srv->cfg->listen_submission, srv->cfg->nlisten_submission) ||
	    !listen_eq(cfg->listen_submissions, cfg->nlisten_submissions,
	    srv->cfg->listen_submissions, srv->cfg->nlisten_submissions) ||
	    !hostport_eq(cfg->metrics_listen, srv->cfg->metrics_listen))
		log_event("warning", "reason=\"listener addresses (or metrics_listen) changed: take effect at restart\"");
	if (!hostport_eq(cfg->lmtp_host, srv->cfg->lmtp_host) ||
	    (cfg->lmtp_socket == NULL) != (srv->cfg->lmtp_socket == NULL) ||
	    (cfg->lmtp_socket && strcmp(cfg->lmtp_socket, srv->cfg->lmtp_socket) != 0))
		log_event("warning", "reason=\"local_delivery changed: takes effect at restart\"");
	keep_start_only(cfg, srv->cfg);
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
	} else if (srv->ssl_ctx != NULL && cfg->tls_cert == NULL && !srv->cert_coming)
		log_event("warning", "reason=\"tls_cert removed: the old certificate stays in use until restart\"");
	log_event("reload", "config=%s", config_path);
	return 0;
}
