/*
 * Queue watch: two numbers kept between looks, the queue's size and the
 * deliveries so far; ten messages or more and growth without a single
 * delivery is the alert.
 */
#include "queuewatch.h"

#include <stdlib.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

#define QUEUE_WATCH_MIN 10	/* messages: below, a quiet queue is normal */

struct queue_watch {
	struct scheduler *sched;
	unsigned interval;
	struct event *ev;
	unsigned count;			/* queue size at the last look */
	unsigned long delivered;	/* deliveries at the last look */
};

static void
look(evutil_socket_t fd, short what, void *arg)
{
	struct queue_watch *w = arg;
	unsigned count = scheduler_count(w->sched);
	unsigned long delivered = scheduler_delivered(w->sched);

	if (count > w->count && delivered == w->delivered && count >= QUEUE_WATCH_MIN)
		log_event("alert", "kind=queue_stuck account=queue messages=%u before=%u reason=\"the queue grows and nothing was delivered for %us\"",
		    count, w->count, w->interval);
	w->count = count;
	w->delivered = delivered;
}

struct queue_watch *
queue_watch_new(struct event_base *base, struct scheduler *sched, unsigned interval)
{
	struct queue_watch *w = xcalloc(1, sizeof(*w));

	w->sched = sched;
	w->interval = interval;
	w->ev = event_new(base, -1, EV_PERSIST, look, w);
	event_add(w->ev, &(struct timeval){ interval, 0 });
	return w;
}

void
queue_watch_free(struct queue_watch *w)
{
	if (w == NULL)
		return;
	event_free(w->ev);
	free(w);
}
