/*
 * The local backend of the shared state (src/state/state_local.c), through
 * the table every backend fills (state/state.h): sliding windows with and
 * without a limit, claims and their expiry, maps answering "not shared",
 * answers given before the call returns, and the bounded tables.
 */
#include "unit.h"

#include "state/state.h"

#define T0 ((time_t)1700000000)

static struct state *
local_state(void)
{
	struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.hostname = "unit.test";
	return state_new(NULL, &cfg);
}

struct got {
	int calls;
	bool passed;
	unsigned long count;
	time_t t;
};

static void
on_window(void *arg, bool passed, unsigned long count)
{
	struct got *g = arg;

	g->calls++;
	g->passed = passed;
	g->count = count;
}

static void
on_bool(void *arg, bool yes)
{
	struct got *g = arg;

	g->calls++;
	g->passed = yes;
}

static void
on_time(void *arg, time_t t)
{
	struct got *g = arg;

	g->calls++;
	g->t = t;
}

static void
on_pairs(void *arg, bool ok, const struct state_pair *p, size_t n)
{
	struct got *g = arg;

	g->calls++;
	g->passed = ok;
	g->count = n;
}

/* One window step: at +at, take n under limit over window; expected. */
static const struct {
	const char *key;
	unsigned limit, window, n;
	time_t at;
	bool passed;
	unsigned long count;
} steps[] = {
	{ "a", 3, 60, 1, 0, true, 1 },
	{ "a", 3, 60, 1, 0, true, 2 },
	{ "a", 3, 60, 1, 10, true, 3 },
	{ "a", 3, 60, 1, 20, false, 3 },	/* full: nothing counted */
	{ "a", 3, 60, 0, 20, true, 3 },		/* n 0 only looks */
	{ "a", 3, 60, 1, 60, true, 2 },		/* the two at 0 left (t > now - window) */
	{ "a", 3, 60, 2, 61, false, 2 },	/* two do not fit, one would */
	{ "a", 3, 60, 1, 61, true, 3 },
	{ "b", 3, 60, 1, 61, true, 1 },		/* per key */
	{ "c", 0, 60, 1, 0, true, 1 },		/* no limit: always counted */
	{ "c", 0, 60, 5, 1, true, 6 },
	{ "c", 0, 60, 0, 59, true, 6 },
	{ "c", 0, 60, 0, 60, true, 5 },
	{ "c", 0, 60, 0, 61, true, 0 },
	{ "d", 1, 3600, 2, 0, false, 0 },	/* more than the limit at once */
	{ "d", 1, 3600, 1, 0, true, 1 },
};

static void
test_windows(void **state)
{
	struct state *st = local_state();
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(steps); i++) {
		struct got g = { 0 };
		struct state_req *r = state_window_take(st, steps[i].key, steps[i].limit,
		    steps[i].window, steps[i].n, T0 + steps[i].at, on_window, &g);
		CASE_CHECK(bad, r == NULL && g.calls == 1, i, "%s: answered %d times, req %p",
		    steps[i].key, g.calls, (void *)r);
		CASE_CHECK(bad, g.passed == steps[i].passed && g.count == steps[i].count, i,
		    "%s at +%lld: passed %d count %lu", steps[i].key, (long long)steps[i].at,
		    g.passed, g.count);
	}
	assert_int_equal(bad, 0);
	state_free(st);
}

static void
test_claims_and_maps(void **state)
{
	struct state *st = local_state();
	struct got g = { 0 };

	assert_false(state_shared(st));
	assert_false(state_up(st));
	assert_string_equal(state_node(st), "unit.test");
	state_expiry(st, "x", T0, on_time, &g);
	assert_int_equal(g.t, 0);
	state_claim(st, "x", 100, T0, on_bool, &g);
	assert_true(g.passed);
	state_claim(st, "x", 100, T0 + 50, on_bool, &g);
	assert_false(g.passed);			/* taken: not extended */
	state_expiry(st, "x", T0 + 99, on_time, &g);
	assert_int_equal(g.t, T0 + 100);
	state_expiry(st, "x", T0 + 100, on_time, &g);
	assert_int_equal(g.t, 0);		/* over at its end */
	state_claim(st, "x", 10, T0 + 100, on_bool, &g);
	assert_true(g.passed);			/* free again */
	state_expiry(st, "y", T0, on_time, &g);
	assert_int_equal(g.t, 0);
	/* maps are each module's own files with local state */
	g.calls = 0;
	state_map_put(st, "m", "f", "v", 0, on_bool, &g);
	assert_int_equal(g.calls, 1);
	assert_false(g.passed);
	state_map_all(st, "m", on_pairs, &g);
	assert_int_equal(g.calls, 2);
	assert_false(g.passed);
	state_map_del(st, "m", "f", NULL, NULL);	/* no callback is fine */
	state_publish(st, "k", "payload");
	state_free(st);
	state_free(NULL);
}

/* Far more keys than the table holds, in a window that never ends: the
 * oldest are forgotten, the newest kept, memory stays bounded. */
static void
test_bounded(void **state)
{
	struct state *st = local_state();
	char key[32];
	struct got g = { 0 };

	for (unsigned i = 0; i < 200000; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		state_window_take(st, key, 0, 365 * 86400, 1, T0 + i, on_window, &g);
		assert_int_equal(g.count, 1);
		state_claim(st, key, 365 * 86400, T0 + i, on_bool, &g);
		assert_true(g.passed);
	}
	state_window_take(st, "k199999", 0, 365 * 86400, 0, T0 + 200000, on_window, &g);
	assert_int_equal(g.count, 1);
	state_window_take(st, "k0", 0, 365 * 86400, 0, T0 + 200000, on_window, &g);
	assert_int_equal(g.count, 0);
	state_expiry(st, "k199999", T0 + 200000, on_time, &g);
	assert_true(g.t > 0);
	state_expiry(st, "k0", T0 + 200000, on_time, &g);
	assert_int_equal(g.t, 0);
	state_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_windows),
		cmocka_unit_test(test_claims_and_maps),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests_name("state_local", tests, NULL, NULL);
}
