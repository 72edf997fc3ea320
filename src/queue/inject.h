/*
 * Messages postern writes itself (alerts): queued like any other, made
 * durable by a group sync, then handed to the scheduler.
 */
#ifndef POSTERN_QUEUE_INJECT_H
#define POSTERN_QUEUE_INJECT_H

#include "lib/groupsync.h"
#include "queue/scheduler.h"

/*
 * Queues text (a whole message, LF or CRLF lines) from the null sender to
 * rcpt, delivered to mailbox (a Maildir list, or SPOOL_REMOTE). Returns 0
 * or -1 with errno.
 */
int inject_message(struct scheduler *sc, struct groupsync *gs, const char *data_dir,
    const char *hostname, const char *rcpt, const char *mailbox, const char *text);

#endif
