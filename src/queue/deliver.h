/*
 * The delivery agent: a worker thread that takes committed queue ids,
 * delivers each recipient to its Maildir, and removes the queue file only
 * after the Maildir files are durably in new/. Batches share their syncs
 * (group commit). Asynchronous from SMTP sessions: a session only hands
 * over an id.
 */
#ifndef POSTERN_DELIVER_H
#define POSTERN_DELIVER_H

#include "lib/groupsync.h"

struct deliver;

/* Starts the thread. data_dir is copied; gs is borrowed. */
struct deliver *deliver_start(const char *data_dir, struct groupsync *gs);
/* Queues a committed message for delivery. Thread-safe. */
void deliver_enqueue(struct deliver *d, const char *id);
/* Finishes the batch in progress, then stops. Pending ids stay queued on
 * disk for the next start. NULL is a no-op. */
void deliver_stop(struct deliver *d);

#endif
