/*
 * A queue of jobs run on worker threads, each result handed back to the
 * event loop's thread (the way groupsync.c hands back its syncs): run()
 * runs on a worker, then done() on the loop. The owner of a job may
 * cancel it at any time before done() runs; once workq_cancel returns,
 * neither function runs or will run, so the job's data may be freed.
 */
#ifndef POSTERN_LIB_WORKQ_H
#define POSTERN_LIB_WORKQ_H

#include <event2/event.h>

struct workq;
struct workq_job;

typedef void workq_fn(void *arg);

/*
 * Starts nthreads workers named name (at most 15 octets: what perf and
 * top show); done() callbacks run on base's thread. Returns NULL with
 * errno set.
 */
struct workq *workq_new(struct event_base *base, unsigned nthreads, const char *name);
/*
 * Stops and joins the workers. Every job must be finished (its done()
 * has run) or cancelled before. NULL is a no-op.
 */
void workq_free(struct workq *q);

/*
 * Loop side: queues run(arg) for a worker; done(arg) follows on the loop,
 * exactly once unless the job is cancelled. The handle is the queue's:
 * valid until done() is called (it is freed just before) or until
 * workq_cancel.
 */
struct workq_job *workq_submit(struct workq *q, workq_fn *run, workq_fn *done, void *arg);

/*
 * Loop side: drops a job whose done() has not been called. A job not yet
 * taken by a worker is removed at once; one a worker is running is waited
 * for (at most one job's run time: the loop did that work itself before
 * it had workers). NULL is a no-op.
 */
void workq_cancel(struct workq_job *j);

/* Jobs run so far (tests, benchmarks). */
unsigned long workq_count(struct workq *q);

#endif
