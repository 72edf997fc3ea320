/*
 * lib/workq: every job runs on a worker and its done() once on the loop,
 * in order; a cancelled job's done() never runs, whether it was queued,
 * running (cancel waits for it) or finished and not yet delivered.
 */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "lib/workq.h"

#define JOBS 200

struct job {
	int id;
	pthread_t ran_on;
	atomic_int runs;
	int dones;
	int *order;		/* done() appends id here */
	size_t *norder;
	/* a gate: run() waits until it opens */
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	bool *open;
	atomic_bool *started;
};

static void
run(void *arg)
{
	struct job *j = arg;

	j->ran_on = pthread_self();
	if (j->mu != NULL) {
		pthread_mutex_lock(j->mu);
		atomic_store(j->started, true);
		while (!*j->open)
			pthread_cond_wait(j->cv, j->mu);
		pthread_mutex_unlock(j->mu);
	}
	atomic_fetch_add(&j->runs, 1);
}

static void
done(void *arg)
{
	struct job *j = arg;

	j->dones++;
	if (j->order != NULL)
		j->order[(*j->norder)++] = j->id;
}

/* Runs the loop until pred(arg) or 10 s. */
static void
loop_until(struct event_base *base, bool (*pred)(void *), void *arg)
{
	for (int i = 0; i < 10000 && !pred(arg); i++) {
		struct timeval tv = { 0, 1000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static size_t *order_n;
static size_t order_want;

static bool
all_done(void *arg)
{
	(void)arg;
	return *order_n >= order_want;
}

static void
test_runs_all_in_order(void **state)
{
	struct event_base *base = event_base_new();
	struct workq *q = workq_new(base, 1, "test");
	static struct job jobs[JOBS];
	int order[JOBS];
	size_t n = 0;

	assert_non_null(q);
	for (int i = 0; i < JOBS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].id = i;
		jobs[i].order = order;
		jobs[i].norder = &n;
		workq_submit(q, run, done, &jobs[i]);
	}
	order_n = &n;
	order_want = JOBS;
	loop_until(base, all_done, NULL);
	assert_int_equal(n, JOBS);
	for (int i = 0; i < JOBS; i++) {
		assert_int_equal(order[i], i);
		assert_int_equal(atomic_load(&jobs[i].runs), 1);
		assert_int_equal(jobs[i].dones, 1);
		assert_false(pthread_equal(jobs[i].ran_on, pthread_self()));
	}
	assert_int_equal(workq_count(q), JOBS);
	workq_free(q);
	event_base_free(base);
}

struct opener {
	pthread_mutex_t *mu;
	pthread_cond_t *cv;
	bool *open;
};

static void *
open_later(void *arg)
{
	struct opener *o = arg;

	usleep(50000);
	pthread_mutex_lock(o->mu);
	*o->open = true;
	pthread_cond_broadcast(o->cv);
	pthread_mutex_unlock(o->mu);
	return NULL;
}

static void
test_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct workq *q = workq_new(base, 1, "test");
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
	bool open = false;
	atomic_bool started = false;
	struct job gate = { .id = 0, .mu = &mu, .cv = &cv, .open = &open, .started = &started };
	struct job queued = { .id = 1 }, finished = { .id = 2 }, last = { .id = 3 };
	struct workq_job *jg, *jq, *jf;
	struct opener o = { &mu, &cv, &open };
	pthread_t opener;
	size_t n = 0;
	int order[4];

	last.order = order;
	last.norder = &n;
	jg = workq_submit(q, run, done, &gate);
	jq = workq_submit(q, run, done, &queued);
	/* the gate holds the only worker: the second job stays queued */
	while (!atomic_load(&started))
		usleep(1000);
	workq_cancel(jq);
	/* cancelling the running gate waits for it to finish */
	pthread_create(&opener, NULL, open_later, &o);
	workq_cancel(jg);
	assert_int_equal(atomic_load(&gate.runs), 1);
	pthread_join(opener, NULL);
	/* finished, its done() not yet delivered (the loop has not run) */
	jf = workq_submit(q, run, done, &finished);
	while (atomic_load(&finished.runs) == 0)
		usleep(1000);
	workq_cancel(jf);
	workq_submit(q, run, done, &last);
	order_n = &n;
	order_want = 1;
	loop_until(base, all_done, NULL);
	assert_int_equal(atomic_load(&queued.runs), 0);
	assert_int_equal(queued.dones + gate.dones + finished.dones, 0);
	assert_int_equal(last.dones, 1);
	workq_free(q);
	event_base_free(base);
}

/* done() may submit the next job: a chain of them all completes. */
struct chain {
	struct workq *q;
	int left;
	atomic_int runs;
};

static void
chain_run(void *arg)
{
	atomic_fetch_add(&((struct chain *)arg)->runs, 1);
}

static void
chain_done(void *arg)
{
	struct chain *c = arg;

	if (--c->left > 0)
		workq_submit(c->q, chain_run, chain_done, c);
}

static bool
chain_over(void *arg)
{
	return ((struct chain *)arg)->left == 0;
}

static void
test_done_submits(void **state)
{
	struct event_base *base = event_base_new();
	struct chain c = { .q = workq_new(base, 2, "test"), .left = 50 };

	workq_submit(c.q, chain_run, chain_done, &c);
	loop_until(base, chain_over, &c);
	assert_int_equal(c.left, 0);
	assert_int_equal(atomic_load(&c.runs), 50);
	workq_free(c.q);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_runs_all_in_order),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_done_submits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
