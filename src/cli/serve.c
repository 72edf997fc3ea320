/*
 * postern serve: set up, bind, drop privileges, recover the queue, run
 * the loop. Order matters: ports below 1024 need root, the data must end
 * up owned by the unprivileged user, and recovery must see the queue as
 * the previous run left it before any new session writes to it.
 */
#include "cli.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "lib/durable.h"
#include "lib/groupsync.h"
#include "lib/keyreader.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/learn.h"
#include "policy/local.h"
#include "monitor/alert.h"
#include "monitor/metrics.h"
#include "monitor/stats.h"
#include "policy/bounceratio.h"
#include "state/state.h"
#include "queue/control.h"
#include "queue/inject.h"
#include "queue/dkim_sign.h"
#include "queue/mta.h"
#include "queue/smarthost.h"
#include "queue/scheduler.h"
#include "queue/spool.h"
#include "report/service.h"
#include "policy/bayes_live.h"
#include "smtp/server.h"
#include "smtp/session.h"
#include "smtp/tls.h"
#include "acme/challenge.h"
#include "acme/service.h"
#include "web/https.h"
#include "dns/health.h"
#include "monitor/alertmail.h"
#include "monitor/queuewatch.h"
#include "dns/resolver.h"
#include "policy/reputation.h"
#include "policy/selftest.h"
#include "policy/spamhaus.h"

#define QUEUE_WATCH_INTERVAL 300	/* seconds between looks at the queue */
/* Threads computing content scans (MIME walk, URLs, the classifier):
 * one takes the scans' share off the loop (some 16% of it on the pipeline
 * bench) and leaves the delivery and sync threads their cores. */
#define SCAN_WORKERS 1
#define HOLDS_REFRESH 5		/* seconds: holds changed by the command apply within 10 s */

static const char *config_path;
static uid_t chown_uid;
static gid_t chown_gid;

static int
chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (st->st_uid != chown_uid || st->st_gid != chown_gid)
		if (lchown(path, chown_uid, chown_gid) == -1)
			return -1;
	return 0;
}

/* SPEC 6.7: with `user =`, everything under data_dir belongs to it. */
static int
drop_privileges(const struct config *cfg)
{
	struct passwd *pw;

	if (cfg->user == NULL) {
		if (geteuid() == 0)
			log_event("warning", "reason=\"running as root: set user = in the configuration\"");
		return 0;
	}
	if ((pw = getpwnam(cfg->user)) == NULL) {
		log_event("error", "reason=\"user %s does not exist\"", cfg->user);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0;
		log_event("error", "reason=\"user = %s needs postern to start as root\"", cfg->user);
		return -1;
	}
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	if (nftw(cfg->data_dir, chown_entry, 32, FTW_PHYS) == -1 ||
	    lchown(cfg->log_file, pw->pw_uid, pw->pw_gid) == -1) {
		log_event("error", "reason=\"cannot give %s to %s: %s\"", cfg->data_dir,
		    cfg->user, strerror(errno));
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		log_event("error", "reason=\"cannot become %s: %s\"", cfg->user, strerror(errno));
		return -1;
	}
	if (setuid(0) != -1) {
		log_event("error", "reason=\"privileges could be regained after dropping them\"");
		return -1;
	}
	log_event("privileges", "user=%s uid=%u gid=%u", pw->pw_name, (unsigned)pw->pw_uid,
	    (unsigned)pw->pw_gid);
	return 0;
}

static void
finish(struct server *srv)
{
	event_base_loopexit(srv->base, NULL);
}

static void start_selftest(struct server *srv);

/* acme_install_fn: a certificate from the CA goes into service at once;
 * the submission ports open with the first one (SPEC 9). */
static int
acme_install(void *arg, const char *cert, size_t cert_len, const char *key, size_t key_len)
{
	struct server *srv = arg;
	char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx_pem(cert, cert_len, key, key_len, "(ACME certificate)",
	    "(ACME key)", &err);
	bool first = srv->ssl_ctx == NULL;

	if (ctx == NULL) {
		log_event("error", "reason=\"%s\"", err);
		free(err);
		return -1;
	}
	SSL_CTX_free(srv->ssl_ctx);
	srv->ssl_ctx = ctx;
	tls_log_cert(ctx, "acme");
	if (first && !srv->stopping) {
		server_listen_deferred(srv);
		start_selftest(srv);
	}
	return 0;
}

/* https_listen (autoconfig, autodiscover, MTA-STS), bound before
 * privileges are dropped (port 443); it serves with srv->ssl_ctx as it is
 * at each connection. */
static int
start_https(struct server *srv)
{
	char *err = NULL;

	if (srv->cfg->https_listen == NULL)
		return 0;
	if ((srv->https = https_new(srv->base, srv->cfg->https_listen, &srv->ssl_ctx, &srv->cfg,
	    &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		free(err);
		return -1;
	}
	if (srv->ssl_ctx == NULL && !srv->cert_coming)
		log_event("warning", "reason=\"https_listen without tls_cert or acme_email: "
		    "every handshake will fail\"");
	return 0;
}

/* The http-01 port, bound before privileges are dropped (port 80). */
static int
start_acme_listener(struct server *srv)
{
	char *err = NULL;

	if (!srv->cert_coming)
		return 0;
	if ((srv->acme_challenge = acme_challenge_new(srv->base, srv->cfg->acme_http_listen,
	    &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		free(err);
		return -1;
	}
	return 0;
}

static void
on_selftest(void *arg, unsigned attempts, unsigned relayed, const char *error)
{
	struct server *srv = arg;

	srv->selftest_running = false;
	if (relayed == 0 && srv->selftest_again) {
		/* a reload came during the run: test the new configuration */
		srv->selftest_again = false;
		start_selftest(srv);
	}
	if (relayed > 0) {
		/* SPEC 6.3: refuse to serve as an open relay */
		log_event("alert", "kind=open_relay attempts=%u relayed=%u reason=\"the relay self-test was accepted for relay: stopping\"",
		    attempts, relayed);
		srv->exit_status = 1;
		server_shutdown(srv, finish);
		return;
	}
	if (error != NULL)
		log_event("warning", "reason=\"relay self-test could not run: %s\"", error);
	log_event("relaytest", "attempts=%u relayed=0 result=%s", attempts, error ? "incomplete" : "ok");
}

/* The battery against every listener of ours (after start and reload). */
static void
start_selftest(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct selftest_target t[SELFTEST_TARGETS_MAX];
	size_t n = 0;

	/* never wait for a running battery from the loop: it needs the loop
	 * to answer it; run again once it reports */
	if (srv->selftest_running) {
		srv->selftest_again = true;
		return;
	}
	selftest_free(srv->selftest);	/* finished: joins at once */
	srv->selftest = NULL;
	selftest_make_helo(srv->selftest_helo, sizeof(srv->selftest_helo));
	if (cfg->listen_smtp) {
		t[n].addr = *cfg->listen_smtp;
		t[n++].implicit_tls = false;
	}
	if (srv->ssl_ctx && cfg->listen_submission) {
		t[n].addr = *cfg->listen_submission;
		t[n++].implicit_tls = false;
	}
	if (srv->ssl_ctx && cfg->listen_submissions) {
		t[n].addr = *cfg->listen_submissions;
		t[n++].implicit_tls = true;
	}
	if (n > 0) {
		srv->selftest = selftest_start(srv->base, t, n, srv->selftest_helo, on_selftest, srv);
		srv->selftest_running = srv->selftest != NULL;
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server *srv = arg;

	switch (sig) {
	case SIGTERM:
	case SIGINT:
		log_event("stopping", "signal=%s sessions=%u", sig == SIGTERM ? "TERM" : "INT",
		    srv->nsessions);
		server_shutdown(srv, finish);
		break;
	case SIGHUP:
		if (server_reload(srv, config_path) == 0) {
			alerts_set_window(srv->alerts, srv->cfg->alert_window);
			reputation_set_config(srv->reputation, srv->cfg, srv->cfg->doctor_interval);
			start_selftest(srv);
		}
		break;
	case SIGUSR1:
		if (log_reopen() == -1)
			log_event("error", "reason=\"cannot reopen log: %s\"", strerror(errno));
		else
			log_event("log_reopened", "file=%s", srv->cfg->log_file);
		break;
	}
}

/* The resolver (after dropping privileges: it has threads) and the
 * Spamhaus checks with their health watch. */
static int
start_dns(struct server *srv, char **err)
{
	const struct config *cfg = srv->cfg;
	struct resolver_options opt = cli_resolver_options(cfg);
	char ipz[DNSBL_NAME_MAX], domz[DNSBL_NAME_MAX];

	if ((srv->resolver = resolver_new(srv->base, &opt, err)) == NULL)
		return -1;
	if (!cfg->dnsbl) {
		log_event("warning", "reason=\"dnsbl = no: Spamhaus checks are off\"");
		return 0;
	}
	srv->spamhaus = xcalloc(1, sizeof(*srv->spamhaus));
	spamhaus_init(srv->spamhaus, srv->resolver, NULL, cfg->dnsbl_ip_zone,
	    cfg->dnsbl_domain_zone, cfg->spamhaus_dqs_key, cfg->dnsbl_timeout);
	dnsbl_zones(cfg->dnsbl_ip_zone, cfg->dnsbl_domain_zone, cfg->spamhaus_dqs_key, ipz, domz);
	srv->health = health_new(srv->base, srv->resolver, ipz, srv->spamhaus->ip_display,
	    domz, srv->spamhaus->domain_display, cfg->dnsbl_timeout * 1000,
	    cfg->dnsbl_health_interval, cfg->ndns_servers == 0);
	spamhaus_set_hbl(srv->spamhaus, cfg->spamhaus_hbl);
	spamhaus_attach_health(srv->spamhaus, srv->health);
	log_event("dnsbl", "ip_zone=%s domain_zone=%s resolver=%s timeout=%us",
	    srv->spamhaus->ip_display, srv->spamhaus->domain_display,
	    cfg->ndns_servers ? "forward" : "recursive", cfg->dnsbl_timeout);
	return 0;
}

/*
 * Where a bounce to addr goes (scheduler_options.route): NULL for SMTP.
 * A sender of one of our domains is never handed to the relayhost or an
 * MX (SPEC 6.7): without a mailbox of its own (a web application's
 * web@ourdomain) the domain's postmaster gets the bounce (RFC 5321 4.5.1).
 */
static char *
route_local(void *arg, const char *addr)
{
	struct server *srv = arg;
	struct mailaddr a;
	char path[ADDR_PATH_MAX + 3], *mailboxes = NULL;
	enum local_result r;

	snprintf(path, sizeof(path), "<%s>", addr);
	if (addr_parse_path(path, strlen(path), false, true, &a) != ADDR_OK)
		return NULL;
	if ((r = local_resolve(srv->cfg, srv->users, &a, &mailboxes)) == LOCAL_OK)
		return mailboxes;
	free(mailboxes);
	if (r == LOCAL_NOT_LOCAL)
		return NULL;
	snprintf(a.local, sizeof(a.local), "postmaster");
	a.quoted = false;
	if (local_resolve(srv->cfg, srv->users, &a, &mailboxes) == LOCAL_OK)
		return mailboxes;
	free(mailboxes);
	return xasprintf("%s/postmaster", a.domain);	/* SPEC 3: always there */
}

/* scheduler_options.outcome: the bounce ratio, per account and global
 * (policy/bounceratio.c decides, alerts and holds). */
static void
on_outcome(void *arg, const char *user, bool delivered)
{
	struct server *srv = arg;

	bounceratio_outcome(srv->bounces, srv->cfg, user, delivered);
}

/* scheduler_options.rcpt_refused: a remote "no such user" is
 * remembered for queue_lifetime (SPEC 10). */
static void
rcpt_refused(void *arg, const char *user, const char *rcpt, const char *reply)
{
	struct server *srv = arg;
	char q[LOG_VALUE_MAX];

	if (!suppress_is_unknown_user(reply, strlen(reply)))
		return;
	if (suppress_add(srv->suppress, rcpt, time(NULL), srv->cfg->queue_lifetime) == 0)
		log_event("suppressed", "rcpt=%s for=%us reply=%s", rcpt, srv->cfg->queue_lifetime,
		    log_quote(q, sizeof(q), reply, strlen(reply)));
}

/* The operator released one held message (postern queue release ID):
 * the account's hold goes with it. */
static void
account_released(void *arg, const char *user)
{
	struct server *srv = arg;
	char *err = NULL;

	if (holds_held(srv->holds, user) && holds_release(srv->holds, user, &err) == -1) {
		log_event("error", "reason=\"cannot release %s: %s\"", user, err);
		free(err);
	}
}

/* A hold lifted by `postern user release` or by another node: what the
 * account's hold kept goes now (SPEC 10). */
static void
account_released_elsewhere(void *arg, const char *user)
{
	struct server *srv = arg;
	unsigned n = srv->sched ? scheduler_release_user(srv->sched, user) : 0;

	log_event("released", "user=%s messages=%u", user, n);
}

/* Holds set or lifted by the command line (or another node) apply
 * within HOLDS_REFRESH seconds. */
static void
refresh_holds(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	holds_refresh(srv->holds);
}

/* Delivered messages' files wait in the queue's pool at most
 * SPOOL_POOL_LINGER seconds before they are emptied (spool.h). */
static void
sweep_pool(evutil_socket_t fd, short what, void *arg)
{
	int err;

	spool_pool_sweep(SPOOL_POOL_LINGER);
	if ((err = spool_pool_failed()) != 0)
		log_event("warning", "reason=\"queue files cannot be reused under queue-free/ (%s): created and removed per message\"",
		    strerror(err));
}

/* mta_options.sign (SPEC 6.7): srv->dkim is read at each transaction, so
 * a key replaced by SIGHUP applies to the next one. */
static char *
dkim_hook(void *arg, const char *data, size_t len)
{
	struct server *srv = arg;

	return dkim_sign_local(srv->dkim, srv->cfg, data, len);
}

/* relay_pass: the smart host's password (SPEC 12), copied by the mta */
static int
start_queue(struct server *srv, const char *relay_pass)
{
	const struct config *cfg = srv->cfg;
	struct mta_options mo = {
		.helo = cfg->hostname,
		.port = cfg->outbound_port,
		.relayhost = cfg->relayhost,
		.relayhost_user = cfg->relayhost_user,
		.relayhost_password = relay_pass,
		.data_dir = cfg->data_dir,	/* MTA-STS policy cache */
		.dane = cfg->dnssec,		/* RFC 7672 */
		.tls_required = (const char *const *)cfg->tls_required_domains,
		.ntls_required = cfg->ntls_required_domains,
		.timeout = cfg->outbound_timeout,
		.family = strcmp(cfg->outbound_family, "ipv4") == 0 ? AF_INET :
		    strcmp(cfg->outbound_family, "ipv6") == 0 ? AF_INET6 : 0,
		.source4 = cfg->outbound_source_ip4,
		.source6 = cfg->outbound_source_ip6,
		.sign = dkim_hook,
		.sign_arg = srv,
	};
	struct scheduler_options so = {
		.data_dir = cfg->data_dir,
		.hostname = cfg->hostname,
		.queue_lifetime = cfg->queue_lifetime,
		.delay_warning = cfg->delay_warning,
		.retry_initial = cfg->retry_initial,
		.retry_max = cfg->retry_max,
		.route = route_local,
		.route_arg = srv,
		.released = account_released,
		.outcome = on_outcome,
		.rcpt_refused = rcpt_refused,
	};

	srv->mta = mta_new(srv->base, srv->resolver, &mo);
	if (cfg->lmtp_socket != NULL || cfg->lmtp_host != NULL) {
		struct mta_options lo = {
			.helo = cfg->hostname,
			.relayhost = cfg->lmtp_host,
			.unix_path = cfg->lmtp_socket,
			.timeout = cfg->outbound_timeout,
			.lmtp = true,
		};
		srv->lmtp = mta_new(srv->base, srv->resolver, &lo);
		so.lmtp = srv->lmtp;
		if (cfg->lmtp_socket)
			log_event("local_delivery", "via=lmtp socket=%s", cfg->lmtp_socket);
		else
			log_event("local_delivery", "via=lmtp host=%s port=%u", cfg->lmtp_host->host,
			    cfg->lmtp_host->port);
	}
	srv->sched = scheduler_new(srv->base, &so, srv->gs, srv->mta);
	return srv->sched == NULL ? -1 : 0;
}

int
cli_serve(int argc, char **argv)
{
	struct server srv = { 0 };
	struct event *sigs[4];
	struct event *pool_timer = NULL;
	static const int signums[4] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	char *err = NULL, path[4096], *relay_pass = NULL;
	struct control *control = NULL;
	struct report_service *reports = NULL;
	int n, rc = 1;

	config_path = cli_config_path(&argc, argv);
	if (argc > 1) {
		fprintf(stderr, "usage: postern serve -c FILE\n");
		return 2;
	}
	srv.cfg = xcalloc(1, sizeof(*srv.cfg));
	if (cli_load_config(config_path, srv.cfg) == -1) {
		fprintf(stderr, "postern: not starting: fix the configuration (postern check-config -c %s)\n",
		    config_path);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/mail", srv.cfg->data_dir);
	if (durable_mkdirs(path, 0750) == -1 || spool_init(srv.cfg->data_dir) == -1) {
		fprintf(stderr, "postern: cannot create %s: %s\n", srv.cfg->data_dir, strerror(errno));
		goto out;
	}
	if (log_open(srv.cfg->log_file) == -1) {
		fprintf(stderr, "postern: cannot open log %s: %s\n", srv.cfg->log_file, strerror(errno));
		goto out;
	}
	/* queue files reused rather than created and unlinked per message
	 * (spool.h); without the pool the queue works all the same */
	if (spool_pool_init(srv.cfg->data_dir, SPOOL_POOL_FILES) == -1)
		log_event("warning", "reason=\"cannot use %s/queue-free/ (%s): queue files are created and removed per message\"",
		    srv.cfg->data_dir, strerror(errno));
	log_event("start", "version=%s config=%s pid=%ld", POSTERN_VERSION, config_path, (long)getpid());
	/* the self-test's 27 sessions go to the log file; its summary line
	 * (event=relaytest) still reaches the terminal */
	log_set_stderr_quiet_client(SELFTEST_SOURCE);
	if (srv.cfg->tls_cert != NULL &&
	    (srv.ssl_ctx = tls_server_ctx(srv.cfg->tls_cert, srv.cfg->tls_key, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	tls_log_cert(srv.ssl_ctx, "file");
	/* before any thread and before dropping privileges: what will re-read
	 * a root-only key at SIGHUP (lib/keyreader.h) */
	if (srv.cfg->user != NULL && geteuid() == 0 &&
	    (srv.keyreader = keyreader_start(config_path, srv.cfg->user, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	/* before dropping privileges: the key may be readable by root only */
	if (srv.cfg->dkim_key != NULL &&
	    (srv.dkim = dkim_signer_load(srv.cfg->dkim_selector, srv.cfg->dkim_key, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	/* the smart host's password, likewise (SPEC 12); read once: a
	 * change takes effect at restart, as relayhost itself */
	if (srv.cfg->relayhost_password_file != NULL &&
	    (relay_pass = smarthost_password_read(srv.cfg->relayhost_password_file, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	srv.learned = learned_new(srv.cfg->data_dir);
	srv.bayes = bayes_live_new(srv.cfg);
	/* the classifier votes from the first message: its table is asked
	 * for now (the load runs on its own thread: 15 ms for 52,000
	 * tokens) and waited for up to 2 s, not at the first scan, which
	 * went without it while the load ran */
	if (srv.cfg->bayes) {
		bayes_live_table(srv.bayes);
		bayes_live_settle(srv.bayes, 2000);
	}
	if ((srv.users = userdb_open(srv.cfg->data_dir, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((srv.base = event_base_new()) == NULL) {
		log_event("error", "reason=\"cannot create event loop\"");
		goto out;
	}
	/* ACME brings the certificate when none is configured (SPEC 9) */
	srv.cert_coming = srv.cfg->acme_email != NULL && srv.cfg->tls_cert == NULL;
	if (srv.cfg->acme_email != NULL && srv.cfg->tls_cert != NULL)
		log_event("warning", "reason=\"tls_cert is set: acme_email is not used\"");
	if (server_listen(&srv) == -1 || start_acme_listener(&srv) == -1 ||
	    start_https(&srv) == -1 || drop_privileges(srv.cfg) == -1)
		goto out;
	/* SPEC 10: shared state (Redis) is reached in the background; until
	 * it answers, local state does */
	srv.state = state_new(srv.base, srv.cfg);
	learned_share(srv.learned, srv.state);
	/* statistics and alerts observe the log from here on */
	if ((srv.stats = stats_open(srv.cfg->data_dir, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	log_add_observer(stats_observe, srv.stats);
	stats_share(srv.stats, srv.state);
	srv.alert_mailer = alert_mailer_new(srv.base, &srv.cfg, route_local, &srv);
	srv.alerts = alerts_new(srv.cfg->alert_window, alert_mailer_queue, srv.alert_mailer);
	alerts_share(srv.alerts, srv.state);
	if (srv.cfg->metrics_listen != NULL &&
	    (srv.metrics = metrics_start(srv.cfg->metrics_listen, srv.stats, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	if (start_dns(&srv, &err) == -1) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	srv.reputation = reputation_new(srv.base, srv.resolver, srv.cfg, &srv.ssl_ctx,
	    srv.cfg->doctor_interval);
	srv.lockout = lockout_new(srv.state);
	srv.ratelimit = ratelimit_new(srv.state);
	srv.holds = holds_open(srv.cfg->data_dir, account_released_elsewhere, &srv);
	srv.bounces = bounceratio_new(srv.state, srv.holds);
	holds_share(srv.holds, srv.state);
	holds_refresh(srv.holds);
	srv.suppress = suppress_open(srv.cfg->data_dir);
	suppress_share(srv.suppress, srv.state);
	/* the content scans' computation off the loop (issue 18): the
	 * loop only starts their lookups */
	if ((srv.scanq = workq_new(srv.base, SCAN_WORKERS, "scan")) == NULL ||
	    (srv.gs = groupsync_new(srv.base, srv.cfg->data_dir)) == NULL ||
	    (srv.verifier = verifier_new(srv.base)) == NULL || start_queue(&srv, relay_pass) == -1) {
		log_event("error", "reason=\"cannot start worker threads: %s\"", strerror(errno));
		goto out;
	}
	/* alert mails need the scheduler; recovery may raise queue_corrupt */
	log_add_observer(alerts_observe, srv.alerts);
	n = scheduler_recover(srv.sched);
	snprintf(path, sizeof(path), "%s/control", srv.cfg->data_dir);
	if ((control = control_start(srv.base, path, srv.sched)) == NULL)
		log_event("warning", "reason=\"no control socket %s: %s (postern queue flush|hold|release need it)\"",
		    path, strerror(errno));
	if (n == -1) {
		log_event("error", "reason=\"cannot read queue: %s\"", strerror(errno));
		goto out;
	}
	if (n > 0)
		log_event("recovered", "messages=%d", n);
	alert_mailer_attach(srv.alert_mailer, srv.sched, srv.gs);
	srv.queue_watch = queue_watch_new(srv.base, srv.sched, QUEUE_WATCH_INTERVAL);
	/* SPEC 12: DMARC and TLS reports, sent daily and received */
	reports = report_service_new(srv.base, srv.resolver, (const struct config *const *)&srv.cfg,
	    srv.sched, srv.gs);
	srv.holds_timer = event_new(srv.base, -1, EV_PERSIST, refresh_holds, &srv);
	event_add(srv.holds_timer, &(struct timeval){ HOLDS_REFRESH, 0 });
	pool_timer = event_new(srv.base, -1, EV_PERSIST, sweep_pool, NULL);
	event_add(pool_timer, &(struct timeval){ SPOOL_POOL_LINGER / 2, 0 });
	for (int i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(srv.base, signums[i], on_signal, &srv);
		evsignal_add(sigs[i], NULL);
	}
	log_event("ready", "hostname=%s domains=%zu", srv.cfg->hostname, srv.cfg->ndomains);
	start_selftest(&srv);
	if (srv.cert_coming && (srv.acme = acme_service_new(srv.base, srv.cfg,
	    srv.acme_challenge, acme_install, &srv, &err)) == NULL) {
		log_event("error", "reason=\"%s\"", err);
		goto out;
	}
	event_base_dispatch(srv.base);
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	rc = srv.exit_status;
out:
	/* Deliveries first: they may still wait on a sync. Then the syncs,
	 * whose last callbacks answer sessions still committing. */
	control_free(control);
	metrics_stop(srv.metrics);
	acme_service_free(srv.acme);
	https_free(srv.https);
	acme_challenge_free(srv.acme_challenge);
	scheduler_stop(srv.sched);
	groupsync_free(srv.gs);
	session_abandon_all(&srv);
	/* after the sessions: freeing one cancels its scan's job */
	workq_free(srv.scanq);
	scheduler_free(srv.sched);
	/* its sessions are closed now: the battery fails fast and ends */
	selftest_free(srv.selftest);
	verifier_free(srv.verifier);
	stats_final_push(srv.stats, srv.cfg);
	/* what still waits for Redis is answered locally: before the holds,
	 * limits and counters those answers use are freed */
	state_free(srv.state);
	log_clear_observers();
	report_service_free(reports);
	stats_close(srv.stats);
	alerts_free(srv.alerts);
	bounceratio_free(srv.bounces);
	queue_watch_free(srv.queue_watch);
	if (srv.holds_timer)
		event_free(srv.holds_timer);
	if (pool_timer)
		event_free(pool_timer);
	spool_pool_sweep(0);
	alert_mailer_free(srv.alert_mailer);
	lockout_free(srv.lockout);
	ratelimit_free(srv.ratelimit);
	holds_free(srv.holds);
	suppress_free(srv.suppress);
	mta_free(srv.mta);
	if (relay_pass != NULL)
		explicit_bzero(relay_pass, strlen(relay_pass));
	free(relay_pass);
	mta_free(srv.lmtp);
	dkim_signer_free(srv.dkim);
	reputation_free(srv.reputation);
	health_free(srv.health);
	free(srv.spamhaus);
	resolver_free(srv.resolver);
	for (size_t i = 0; i < srv.nlisteners; i++)
		evconnlistener_free(srv.listeners[i]);
	if (srv.ev_stop_timer)
		event_free(srv.ev_stop_timer);
	userdb_free(srv.users);
	learned_free(srv.learned);
	bayes_live_free(srv.bayes);
	SSL_CTX_free(srv.ssl_ctx);
	keyreader_free(srv.keyreader);
	if (srv.base)
		event_base_free(srv.base);
	if (rc == 0)
		log_event("stop", "status=0");
	free(err);
	config_clear(srv.cfg);
	free(srv.cfg);
	log_close();
	return rc;
}
