/*
 * The local delivery agent: a worker thread that writes queued messages
 * into Maildirs. Batches share their syncs (group commit): every Maildir
 * file of a batch is written to tmp/, one sync makes them durable, they
 * are renamed into new/, one more sync makes the renames durable, and
 * only then are the results reported. The scheduler (queue/scheduler.h)
 * owns the queue files; this thread never removes one.
 *
 * Each copy's Maildir name is derived from the queue id, the recipient
 * and the mailbox (maildir.h), so a delivery done again writes the same
 * names: a delivery that may have been interrupted (a message recovered
 * at start, a recipient tried before) first looks for the copies that
 * arrived, and a crash at any point delivers no recipient twice.
 */
#ifndef POSTERN_DELIVER_H
#define POSTERN_DELIVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/groupsync.h"

#define DELIVER_REASON_MAX 256

struct local_result {
	size_t rcpt;		/* index in the message's recipients */
	bool ok;
	bool permanent;		/* the failure will not go away by retrying */
	char reason[DELIVER_REASON_MAX];
};

/* Runs on the loop thread with the results of one message. */
typedef void deliver_done_cb(void *arg, const char *id, const struct local_result *res,
    size_t n);

struct deliver;

/* Starts the thread; results come back on base's loop. data_dir is copied,
 * gs borrowed. */
struct deliver *deliver_start(struct event_base *base, const char *data_dir,
    struct groupsync *gs, deliver_done_cb *cb, void *arg);
/*
 * Delivers recipients rcpts[0..n) of queued message id. check: the
 * delivery may have been done before (recovered at start, tried
 * before): skip the copies already in new/ or cur/ (reads the Maildirs,
 * so only then). Thread-safe.
 */
void deliver_enqueue(struct deliver *d, const char *id, const size_t *rcpts, size_t n,
    bool check);
/* Finishes the batch in progress, reports what is done, then stops.
 * NULL is a no-op. */
void deliver_stop(struct deliver *d);

#endif
