/*
 * The queue scheduler: the one owner of queued messages once they are
 * acknowledged. It hands local recipients to the local delivery thread
 * and remote ones to the SMTP client (per destination domain, with
 * concurrency limits), records every result, retries with backoff until
 * queue_lifetime, sends RFC 3464 bounces, and removes a queue file only
 * when every recipient is delivered or bounced. State that must survive
 * a restart (which recipients are done, attempts, hold) is written to the
 * message's .state file; the rest is rebuilt from the queue at start.
 */
#ifndef POSTERN_QUEUE_SCHEDULER_H
#define POSTERN_QUEUE_SCHEDULER_H

#include <event2/event.h>
#include <stdbool.h>

#include "lib/groupsync.h"
#include "queue/mta.h"
#include "queue/spool.h"

struct scheduler_options {
	const char *data_dir;
	const char *hostname;
	unsigned queue_lifetime;	/* seconds, then bounce */
	unsigned retry_initial;		/* first retry delay, doubling */
	unsigned retry_max;		/* cap of the delay */
	unsigned delay_warning;		/* seconds: "still trying" report, 0: never */
	unsigned domain_concurrency;	/* transactions per destination */
	unsigned concurrency;		/* remote transactions in all */
	/* Where a bounce to addr goes: a newly allocated Maildir list
	 * ("DOMAIN/LOCAL,...") when addr is ours, NULL when remote. */
	char *(*route)(void *arg, const char *addr);
	void *route_arg;
	/* A held message of account user was released by the operator. */
	void (*released)(void *arg, const char *user);
	/* The final result of a remote recipient (user NULL: no account),
	 * for the bounce-ratio watch. */
	void (*outcome)(void *arg, const char *user, bool delivered);
	/* A remote recipient refused permanently (reply: the remote's
	 * reply), for the remembered bounces (policy/suppress.h). */
	void (*rcpt_refused)(void *arg, const char *user, const char *rcpt, const char *reply);
	/* Local delivery by LMTP (local_delivery = lmtp:...) instead of the
	 * Maildir thread: an SMTP client in LMTP mode, borrowed. */
	struct mta *lmtp;
	unsigned lmtp_concurrency;	/* LMTP transactions at once */
};

struct scheduler;

/* mta may be NULL (no remote delivery). Starts the local delivery thread. */
struct scheduler *scheduler_new(struct event_base *base, const struct scheduler_options *opt,
    struct groupsync *gs, struct mta *mta);
/*
 * Shutting down, in three steps because the syncs and the scheduler call
 * each other: scheduler_stop stops delivering (the local thread finishes
 * its batch and its results are recorded, which may queue a bounce);
 * then groupsync_free runs the last sync callbacks, whose scheduler_add
 * now leaves the message on disk for the next start; then scheduler_free.
 */
void scheduler_stop(struct scheduler *sc);
/* Stops if needed and frees. NULL is a no-op. */
void scheduler_free(struct scheduler *sc);

/* A message just acknowledged: schedule all its recipients, or keep it
 * on hold (an account that tripped a compromised-account signal). */
void scheduler_add(struct scheduler *sc, const struct spool_envelope *env, bool held);
/* Loads every message of the queue (start-up). Returns how many, or -1. */
int scheduler_recover(struct scheduler *sc);

/* Operator actions (postern queue). Return 0, or -1 when id is unknown. */
void scheduler_flush(struct scheduler *sc);
int scheduler_hold(struct scheduler *sc, const char *id, bool hold);
int scheduler_delete(struct scheduler *sc, const char *id);
/* The account's hold was lifted: every message it kept goes now.
 * Returns how many. */
unsigned scheduler_release_user(struct scheduler *sc, const char *user);

/* Messages in the queue. */
unsigned scheduler_count(const struct scheduler *sc);
/* Recipients delivered since start (the queue-growth watch). */
unsigned long scheduler_delivered(const struct scheduler *sc);

#endif
