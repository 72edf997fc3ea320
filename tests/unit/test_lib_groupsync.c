/*
 * Tests of the group commit thread (src/lib/groupsync.h): every request
 * answered exactly once, on the loop or at groupsync_free, by a sync
 * counted after the request; syncs asked for one after another start
 * GROUPSYNC_GAP_NS apart; many waiting at once share syncs. Run on
 * /dev/shm when there is one (a sync there costs next to nothing, so the
 * spacing seen is the thread's, not the disk's).
 */
#include "unit.h"

#include <event2/event.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "lib/groupsync.h"

#define NREQ 8

static char dir[64];

struct answer {
	struct groupsync *gs;
	unsigned long asked;	/* syncs counted when the request was made */
	unsigned long seen;	/* syncs counted when it was answered */
	int calls, status;
};

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	return 0;
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
on_synced(void *arg, int status)
{
	struct answer *a = arg;

	a->calls++;
	a->status = status;
	a->seen = groupsync_count(a->gs);
}

static void
test_request_answered_once_on_loop(void **state)
{
	struct event_base *base = event_base_new();
	struct groupsync *gs;
	struct answer a[NREQ];
	double t0 = now();
	int left = NREQ;

	(void)state;
	assert_non_null(base);
	gs = groupsync_new(base, dir);
	assert_non_null(gs);
	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < NREQ; i++) {
		a[i].gs = gs;
		a[i].asked = groupsync_count(gs);
		groupsync_request(gs, on_synced, &a[i]);
	}
	/* bounded: 10 s, then whatever is missing fails below */
	while (left > 0 && now() - t0 < 10) {
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		left = 0;
		for (size_t i = 0; i < NREQ; i++)
			left += a[i].calls == 0;
		if (left > 0)
			usleep(1000);
	}
	for (size_t i = 0; i < NREQ; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].status, 0);
		assert_true(a[i].seen > a[i].asked);
	}
	groupsync_free(gs);
	for (size_t i = 0; i < NREQ; i++)
		assert_int_equal(a[i].calls, 1);	/* not again at free */
	event_base_free(base);
}

static void
test_free_answers_pending(void **state)
{
	struct event_base *base = event_base_new();
	struct groupsync *gs;
	struct answer a[NREQ];

	(void)state;
	assert_non_null(base);
	gs = groupsync_new(base, dir);
	assert_non_null(gs);
	memset(a, 0, sizeof(a));
	for (size_t i = 0; i < NREQ; i++) {
		a[i].gs = gs;
		groupsync_request(gs, on_synced, &a[i]);
	}
	/* the loop never runs: groupsync_free answers them, after a sync */
	groupsync_free(gs);
	for (size_t i = 0; i < NREQ; i++) {
		assert_int_equal(a[i].calls, 1);
		assert_int_equal(a[i].status, 0);
	}
	event_base_free(base);
}

/* One waiter after another: each needs a sync of its own, and these
 * start GROUPSYNC_GAP_NS apart (a lower bound only: a slow machine makes
 * it longer, never shorter). */
static void
test_waits_one_after_another_are_spaced(void **state)
{
	struct groupsync *gs = groupsync_new(NULL, dir);
	unsigned long before;
	double t0;
	const int n = 20;

	(void)state;
	assert_non_null(gs);
	assert_int_equal(groupsync_wait(gs), 0);	/* the first starts at once */
	before = groupsync_count(gs);
	t0 = now();
	for (int i = 0; i < n; i++) {
		unsigned long c = groupsync_count(gs);
		assert_int_equal(groupsync_wait(gs), 0);
		assert_true(groupsync_count(gs) > c);
	}
	assert_true(now() - t0 >= n * (GROUPSYNC_GAP_NS / 1e9) * 0.95);
	assert_true(groupsync_count(gs) - before >= (unsigned long)n);
	groupsync_free(gs);
}

struct waiter {
	struct groupsync *gs;
	int failed;
};

static void *
wait_some(void *arg)
{
	struct waiter *w = arg;

	for (int i = 0; i < 5; i++)
		w->failed += groupsync_wait(w->gs) != 0;
	return NULL;
}

/* Threads waiting at the same time share syncs: 8 threads of 5 waits
 * each take far fewer than 40, since each sync answers everyone who
 * asked before it started. */
static void
test_concurrent_waits_share_syncs(void **state)
{
	struct groupsync *gs = groupsync_new(NULL, dir);
	pthread_t t[NREQ];
	struct waiter w[NREQ];
	unsigned long before;

	(void)state;
	assert_non_null(gs);
	assert_int_equal(groupsync_wait(gs), 0);
	before = groupsync_count(gs);
	for (size_t i = 0; i < NREQ; i++) {
		w[i].gs = gs;
		w[i].failed = 0;
		assert_int_equal(pthread_create(&t[i], NULL, wait_some, &w[i]), 0);
	}
	for (size_t i = 0; i < NREQ; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failed, 0);
	}
	/* at least 5 (each thread waits for 5 in turn) */
	assert_true(groupsync_count(gs) - before >= 5);
	assert_true(groupsync_count(gs) - before < 5 * NREQ);
	groupsync_free(gs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_answered_once_on_loop),
		cmocka_unit_test(test_free_answers_pending),
		cmocka_unit_test(test_waits_one_after_another_are_spaced),
		cmocka_unit_test(test_concurrent_waits_share_syncs),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
