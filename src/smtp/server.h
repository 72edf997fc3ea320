/*
 * The SMTP server: listeners, connection limits, and what sessions share
 * (configuration, accounts, TLS context, queue hand-off). One process,
 * one libevent loop; disk syncs and deliveries run on worker threads.
 */
#ifndef POSTERN_SMTP_SERVER_H
#define POSTERN_SMTP_SERVER_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>

#include "auth/userdb.h"
#include "auth/verify.h"
#include "policy/lockout.h"
#include "policy/hold.h"
#include "policy/suppress.h"
#include "policy/ratelimit.h"
#include "lib/config.h"
#include "lib/groupsync.h"
#include "lib/workq.h"
#include "policy/spamhaus.h"
#include "queue/mta.h"
#include "queue/scheduler.h"

enum listener_role {
	ROLE_MX,		/* port 25: no AUTH, no relay */
	ROLE_SUBMISSION,	/* 587: STARTTLS then AUTH */
	ROLE_SUBMISSIONS,	/* 465: implicit TLS, AUTH */
};

struct session;
struct dkim_signer;

/* every address of the three listen_* keys */
#define SERVER_LISTENERS_MAX (3 * CONFIG_LISTEN_MAX)

struct server {
	struct event_base *base;
	struct config *cfg;		/* owned; replaced on reload */
	struct userdb *users;		/* owned */
	struct learned *learned;	/* owned: what users taught by Junk moves */
	struct bayes_live *bayes;	/* owned: the classifier's counts (SPEC 13) */
	SSL_CTX *ssl_ctx;		/* owned; NULL without a certificate */
	struct keyreader *keyreader;	/* owned: re-reads root-only keys on reload;
					 * NULL when privileges are not dropped */
	struct groupsync *gs;		/* owned */
	struct workq *scanq;		/* owned: the content scans' worker
					 * (SCAN_WORKERS), NULL: scans on the loop */
	struct scheduler *sched;	/* owned: the queue after the 250 */
	struct mta *mta;		/* owned: remote delivery */
	struct mta *lmtp;		/* owned: local delivery by LMTP, or NULL */
	struct dkim_signer *dkim;	/* owned; NULL: not signing (no dkim_key) */
	struct verifier *verifier;	/* owned: password checks off the loop */
	struct lockout *lockout;	/* owned: AUTH failures per client IP */
	struct state *state;		/* owned: shared state (state/state.h) */
	struct ratelimit *ratelimit;	/* owned: per-account limits */
	struct holds *holds;		/* owned: held accounts (policy/hold.h) */
	struct suppress *suppress;	/* owned: remembered bounces (policy/suppress.h) */
	struct event *holds_timer;	/* re-reads the holds another process changed */
	struct selftest *selftest;	/* owned: relay self-test in flight */
	struct stats *stats;		/* owned: counters (SQLite) */
	struct metrics *metrics;	/* owned: /metrics, NULL when off */
	struct alerts *alerts;		/* owned: alert mails */
	struct bounceratio *bounces;	/* owned: bounce ratio watch */
	struct alert_mailer *alert_mailer;	/* owned: alert mails into the queue */
	struct queue_watch *queue_watch;	/* owned: queue growing without deliveries */
	char selftest_helo[128];	/* its secret EHLO name */
	bool selftest_running;		/* its connections are exempt from limits */
	bool selftest_again;		/* reloaded during a run: run again */
	int exit_status;		/* what serve returns */
	struct resolver *resolver;	/* owned */
	struct dnsbl_health *health;	/* owned; NULL when dnsbl is off */
	struct spamhaus *spamhaus;	/* owned; NULL when dnsbl is off */
	struct reputation *reputation;	/* owned: the server watches itself (SPEC 9) */
	struct evconnlistener *listeners[SERVER_LISTENERS_MAX];
	enum listener_role roles[SERVER_LISTENERS_MAX];	/* of each listener */
	bool deferred[SERVER_LISTENERS_MAX];	/* bound, not listening: waits for
						 * its certificate (ACME) */
	bool cert_coming;		/* ACME will bring the certificate */
	struct acme_service *acme;	/* owned: ACME renewal, NULL when off */
	struct acme_challenge *acme_challenge;	/* owned: http-01 answers */
	struct https *https;		/* owned: https_listen, NULL when off */
	size_t nlisteners;
	struct session *sessions;	/* all live sessions (list) */
	unsigned nsessions;
	unsigned nselftest;		/* of which the relay self-test's */
	bool stopping;			/* SIGTERM received */
	struct event *ev_stop_timer;
};

/*
 * Opens the listeners of cfg on base (before dropping privileges).
 * Returns 0, or -1 after logging which address failed.
 */
int server_listen(struct server *srv);
/* Starts listening on the submission sockets bound while waiting for a
 * certificate (srv->cert_coming), now that srv->ssl_ctx is set. */
void server_listen_deferred(struct server *srv);
/* Stops accepting, asks every session to finish; calls done when the
 * last one is gone (or after a grace period). */
void server_shutdown(struct server *srv, void (*done)(struct server *));
/* Replaces configuration, accounts and TLS context (SIGHUP). Returns 0,
 * or -1 keeping the old ones (the reason is logged). */
int server_reload(struct server *srv, const char *config_path);

#endif
