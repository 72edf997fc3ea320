/*
 * Worker threads behind a job queue (workq.h). Invariants: a job is in
 * exactly one of the queue (QUEUED), a worker's hands (RUNNING) or the
 * done list (DONE), changed under the lock only; the loop alone frees
 * jobs (in delivery or in workq_cancel), so a worker never touches a job
 * after putting it on the done list.
 */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xmalloc.h"

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct workq_job {
	struct workq_job *next;
	struct workq *q;
	workq_fn *run, *done;
	void *arg;
	enum job_state state;	/* under q->lock */
};

struct workq {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job queued, or stop */
	pthread_cond_t finished;	/* a running job went to the done list */
	struct workq_job *queue, **queue_tail;	/* QUEUED, oldest first */
	struct workq_job *done, **done_tail;	/* DONE, oldest first */
	bool stop;
	unsigned long count;		/* jobs run */
	int efd;			/* workers -> loop: the done list is not empty */
	struct event *ev;
	pthread_t *threads;
	unsigned nthreads;
};

/* Unlinks j from the list at *head (tail fixed); false if absent. */
static bool
unlink_job(struct workq_job **head, struct workq_job ***tail, struct workq_job *j)
{
	for (struct workq_job **p = head; *p != NULL; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			if (*tail == &j->next)
				*tail = p;
			j->next = NULL;
			return true;
		}
	return false;
}

static void *
worker(void *arg)
{
	struct workq *q = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct workq_job *j;
		bool was_empty;
		while (q->queue == NULL && !q->stop)
			pthread_cond_wait(&q->work, &q->lock);
		if (q->queue == NULL)
			break;
		j = q->queue;
		q->queue = j->next;
		if (q->queue == NULL)
			q->queue_tail = &q->queue;
		j->next = NULL;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&q->lock);
		j->run(j->arg);
		pthread_mutex_lock(&q->lock);
		j->state = JOB_DONE;
		was_empty = q->done == NULL;
		*q->done_tail = j;
		q->done_tail = &j->next;
		q->count++;
		pthread_cond_broadcast(&q->finished);
		/* one wake-up per batch: the loop takes the whole list */
		if (was_empty)
			(void)!write(q->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

/* On the loop: runs done() of every finished job, oldest first. Each is
 * taken off the list before its callback, which may submit or cancel. */
static void
on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct workq *q = arg;
	uint64_t n;

	(void)what;
	(void)!read(fd, &n, sizeof(n));
	for (;;) {
		struct workq_job *j;
		workq_fn *done;
		void *jarg;
		pthread_mutex_lock(&q->lock);
		j = q->done;
		if (j != NULL) {
			q->done = j->next;
			if (q->done == NULL)
				q->done_tail = &q->done;
		}
		pthread_mutex_unlock(&q->lock);
		if (j == NULL)
			break;
		done = j->done;
		jarg = j->arg;
		free(j);
		done(jarg);
	}
}

struct workq *
workq_new(struct event_base *base, unsigned nthreads, const char *name)
{
	struct workq *q = xcalloc(1, sizeof(*q));
	int err;

	if (nthreads == 0)
		nthreads = 1;
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd == -1) {
		free(q);
		return NULL;
	}
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->work, NULL);
	pthread_cond_init(&q->finished, NULL);
	q->queue_tail = &q->queue;
	q->done_tail = &q->done;
	q->ev = event_new(base, q->efd, EV_READ | EV_PERSIST, on_wakeup, q);
	event_add(q->ev, NULL);
	q->threads = xcalloc(nthreads, sizeof(*q->threads));
	for (; q->nthreads < nthreads; q->nthreads++)
		if ((err = pthread_create(&q->threads[q->nthreads], NULL, worker, q)) != 0) {
			workq_free(q);
			errno = err;
			return NULL;
		} else
			pthread_setname_np(q->threads[q->nthreads], name);
	return q;
}

void
workq_free(struct workq *q)
{
	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_broadcast(&q->work);
	pthread_mutex_unlock(&q->lock);
	for (unsigned i = 0; i < q->nthreads; i++)
		pthread_join(q->threads[i], NULL);
	/* the contract leaves nothing here; a job left anyway is freed
	 * without its callback rather than leaked */
	while (q->queue != NULL) {
		struct workq_job *j = q->queue;
		q->queue = j->next;
		free(j);
	}
	while (q->done != NULL) {
		struct workq_job *j = q->done;
		q->done = j->next;
		free(j);
	}
	event_free(q->ev);
	close(q->efd);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->finished);
	free(q->threads);
	free(q);
}

struct workq_job *
workq_submit(struct workq *q, workq_fn *run, workq_fn *done, void *arg)
{
	struct workq_job *j = xcalloc(1, sizeof(*j));

	j->q = q;
	j->run = run;
	j->done = done;
	j->arg = arg;
	j->state = JOB_QUEUED;
	pthread_mutex_lock(&q->lock);
	*q->queue_tail = j;
	q->queue_tail = &j->next;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	return j;
}

void
workq_cancel(struct workq_job *j)
{
	struct workq *q;

	if (j == NULL)
		return;
	q = j->q;
	pthread_mutex_lock(&q->lock);
	if (j->state == JOB_QUEUED)
		unlink_job(&q->queue, &q->queue_tail, j);
	else {
		while (j->state == JOB_RUNNING)
			pthread_cond_wait(&q->finished, &q->lock);
		unlink_job(&q->done, &q->done_tail, j);
	}
	pthread_mutex_unlock(&q->lock);
	free(j);
}

unsigned long
workq_count(struct workq *q)
{
	unsigned long n;

	pthread_mutex_lock(&q->lock);
	n = q->count;
	pthread_mutex_unlock(&q->lock);
	return n;
}
