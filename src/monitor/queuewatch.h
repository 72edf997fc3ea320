/*
 * The queue watch (SPEC 7.2): a queue that grows while nothing is
 * delivered means the delivery side is stuck (disk, DNS, network) or
 * something floods it; every interval it compares, and raises the
 * queue_stuck alert.
 */
#ifndef POSTERN_MONITOR_QUEUEWATCH_H
#define POSTERN_MONITOR_QUEUEWATCH_H

#include <event2/event.h>

#include "queue/scheduler.h"

struct queue_watch;

/* sched is borrowed; interval in seconds. */
struct queue_watch *queue_watch_new(struct event_base *base, struct scheduler *sched,
    unsigned interval);
/* NULL is a no-op. */
void queue_watch_free(struct queue_watch *w);

#endif
