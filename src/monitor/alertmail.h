/*
 * Alert mails (SPEC 7.2): what monitor/alert.c decides to mail goes to
 * alert_address through the queue. Mails are queued from a loop event,
 * never from inside the code that logged the alert (it may be the
 * scheduler itself). An alert_address of ours without a mailbox falls
 * back to postmaster: an alarm must not vanish.
 */
#ifndef POSTERN_MONITOR_ALERTMAIL_H
#define POSTERN_MONITOR_ALERTMAIL_H

#include <event2/event.h>

#include "lib/config.h"
#include "lib/groupsync.h"
#include "queue/scheduler.h"

struct alert_mailer;

/*
 * cfg points at the server's configuration pointer (replaced on reload,
 * so always read through it). route(route_arg, addr): the Maildirs of an
 * address of ours, newly allocated, or NULL (scheduler_options.route).
 * Alerts may be queued from the start; they are mailed once the loop runs
 * and alert_mailer_attach() has named the queue.
 */
struct alert_mailer *alert_mailer_new(struct event_base *base, struct config *const *cfg,
    char *(*route)(void *arg, const char *addr), void *route_arg);
/* The queue the mails go into (borrowed). */
void alert_mailer_attach(struct alert_mailer *m, struct scheduler *sched, struct groupsync *gs);
/* Drops what was not sent yet. NULL is a no-op. */
void alert_mailer_free(struct alert_mailer *m);

/* alerts_new()'s send callback: arg is the alert_mailer. */
void alert_mailer_queue(void *arg, const char *subject, const char *body);

#endif
