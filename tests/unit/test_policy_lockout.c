/*
 * Tests for the per-IP AUTH failure lockout (src/policy/lockout.h,
 * SPEC 6.2) over the local state (state/state_local.c): failures counted
 * in a sliding window, a lockout of fixed length once auth_max_failures
 * is reached, per address only, and a bounded table that forgets the
 * addresses used the longest ago when more than LOCKOUT_TRACKED_MAX fail.
 *
 * The scripted tests are tables of steps on one lockout object: a failure
 * (with its expected "lockout starts" result) or a check of the locked
 * state, each at a given time.
 */
#include "unit.h"

#include <time.h>

#include "policy/lockout.h"
#include "state/state.h"

#define T0 ((time_t)1700000000)

enum op { FAIL, LOCKED, FREE };

struct step {
	enum op op;
	const char *ip;
	time_t at;		/* seconds after T0 */
	bool starts;		/* FAIL: lockout_fail's result */
	time_t until;		/* FAIL that starts, LOCKED: expected until (after T0) */
};

struct script {
	const char *name;
	struct rate max;
	unsigned lockout;
	const struct step *steps;
	size_t n;
};

#define A "192.0.2.1"
#define B "192.0.2.2"
#define V6 "2001:db8::25"

/* 3 failures per minute, 15 minutes of lockout */
static const struct step basic[] = {
	{ FREE, A, 0, false, 0 },
	{ FAIL, A, 0, false, 0 },
	{ FREE, A, 1, false, 0 },
	{ FAIL, A, 10, false, 0 },
	{ FREE, A, 11, false, 0 },
	{ FAIL, A, 20, true, 920 },	/* the third in the window starts it */
	{ LOCKED, A, 20, false, 920 },
	{ LOCKED, A, 500, false, 920 },
	{ LOCKED, A, 919, false, 920 },
	{ FREE, B, 500, false, 0 },	/* per IP only */
	{ FREE, V6, 500, false, 0 },
	{ FREE, A, 920, false, 0 },	/* over at until */
	{ FREE, A, 5000, false, 0 },
	/* the old failures are out of the window: one more does not lock */
	{ FAIL, A, 5000, false, 0 },
	{ FREE, A, 5001, false, 0 },
};

/* the window slides: failures older than it no longer count */
static const struct step sliding[] = {
	{ FAIL, A, 0, false, 0 },
	{ FAIL, A, 30, false, 0 },
	{ FAIL, A, 61, false, 0 },	/* 0 left the window */
	{ FREE, A, 61, false, 0 },
	{ FAIL, A, 95, false, 0 },	/* 30 left it too: 61, 95 */
	{ FREE, A, 95, false, 0 },
	{ FAIL, A, 100, true, 1000 },	/* 61, 95, 100 */
	{ LOCKED, A, 999, false, 1000 },
	{ FREE, A, 1000, false, 0 },
	/* spread out, one every 31 s: never three in a minute */
	{ FAIL, B, 0, false, 0 },
	{ FAIL, B, 31, false, 0 },
	{ FAIL, B, 62, false, 0 },
	{ FAIL, B, 93, false, 0 },
	{ FAIL, B, 124, false, 0 },
	{ FAIL, B, 155, false, 0 },
	{ FREE, B, 156, false, 0 },
	/* all three in the same second */
	{ FAIL, V6, 7, false, 0 },
	{ FAIL, V6, 7, false, 0 },
	{ FAIL, V6, 7, true, 907 },
	{ LOCKED, V6, 7, false, 907 },
};

/* failures while locked out do not start another lockout, and the
 * address stays locked until the first one ends */
static const struct step during[] = {
	{ FAIL, A, 0, false, 0 },
	{ FAIL, A, 1, false, 0 },
	{ FAIL, A, 2, true, 902 },
	{ FAIL, A, 3, false, 0 },
	{ FAIL, A, 4, false, 0 },
	{ FAIL, A, 5, false, 0 },
	{ LOCKED, A, 6, false, 902 },
	{ LOCKED, A, 901, false, 902 },
	{ FREE, B, 901, false, 0 },
};

/* one failure allowed */
static const struct step single[] = {
	{ FAIL, A, 0, true, 60 },
	{ LOCKED, A, 59, false, 60 },
	{ FREE, A, 60, false, 0 },
	{ FREE, B, 30, false, 0 },
	{ FAIL, B, 30, true, 90 },
};

/* the longest textual IPv6 addresses are tracked exactly */
#define LONG6 "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255"
#define LONG6B "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.254"
#define FULL6 "2001:0db8:0000:0000:0000:0000:0000:0001"
#define FULL6B "2001:0db8:0000:0000:0000:0000:0000:0002"
static const struct step longip[] = {
	{ FAIL, LONG6, 0, false, 0 },
	{ FAIL, LONG6B, 0, false, 0 },
	{ FAIL, LONG6, 1, true, 901 },
	{ LOCKED, LONG6, 2, false, 901 },
	{ FREE, LONG6B, 2, false, 0 },
	{ FAIL, FULL6, 0, false, 0 },
	{ FAIL, FULL6B, 0, false, 0 },
	{ FAIL, FULL6, 1, true, 901 },
	{ LOCKED, FULL6, 2, false, 901 },
	{ FREE, FULL6B, 2, false, 0 },
};

static const struct script scripts[] = {
	{ "basic 3/1m", { 3, 60 }, 900, basic, NELEM(basic) },
	{ "sliding 3/1m", { 3, 60 }, 900, sliding, NELEM(sliding) },
	{ "during 3/1m", { 3, 60 }, 900, during, NELEM(during) },
	{ "single 1/1m", { 1, 60 }, 60, single, NELEM(single) },
	{ "long addresses 2/1m", { 2, 60 }, 900, longip, NELEM(longip) },
};

/* A state of its own per test: the local backend answers at once. */
static struct state *
local_state(void)
{
	struct config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.hostname = "unit.test";
	return state_new(NULL, &cfg);
}

static void
got_until(void *arg, time_t until)
{
	*(time_t *)arg = until;
}

/* lockout_fail, answered at once: true when it started a lockout */
static bool
fail_at(struct lockout *l, const char *ip, const struct rate *max, unsigned lock, time_t now,
    time_t *until)
{
	time_t u = -1;

	lockout_fail(l, ip, max, lock, now, got_until, &u);
	assert_true(u != -1);	/* local: answered before returning */
	*until = u;
	return u != 0;
}

static bool
locked_at(struct lockout *l, const char *ip, time_t now, time_t *until)
{
	struct state_ask q;
	enum state_answer a;

	memset(&q, 0, sizeof(q));
	a = lockout_ask(l, &q, ip, now, until);
	assert_true(a != STATE_WAIT);
	return a == STATE_YES;
}

static void
run_script(const struct script *sc, size_t *bad)
{
	struct state *stt = local_state();
	struct lockout *l = lockout_new(stt);

	assert_non_null(l);
	for (size_t i = 0; i < sc->n; i++) {
		const struct step *st = &sc->steps[i];
		time_t until = 0;
		bool got;

		switch (st->op) {
		case FAIL:
			got = fail_at(l, st->ip, &sc->max, sc->lockout, T0 + st->at, &until);
			CASE_CHECK(*bad, got == st->starts, i, "%s: fail %s at +%lld: starts=%d",
			    sc->name, st->ip, (long long)st->at, got);
			if (got && st->starts)
				CASE_CHECK(*bad, until == T0 + st->until, i,
				    "%s: fail %s: until +%lld want +%lld", sc->name, st->ip,
				    (long long)(until - T0), (long long)st->until);
			break;
		case LOCKED:
			got = locked_at(l, st->ip, T0 + st->at, &until);
			CASE_CHECK(*bad, got && until == T0 + st->until, i,
			    "%s: %s at +%lld: locked=%d until +%lld want +%lld", sc->name, st->ip,
			    (long long)st->at, got, got ? (long long)(until - T0) : 0LL,
			    (long long)st->until);
			break;
		case FREE:
			got = locked_at(l, st->ip, T0 + st->at, &until);
			CASE_CHECK(*bad, !got, i, "%s: %s at +%lld: locked (until +%lld)", sc->name,
			    st->ip, (long long)st->at, (long long)(until - T0));
			break;
		}
	}
	lockout_free(l);
	state_free(stt);
}

static void
test_scripts(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(scripts); i++)
		run_script(&scripts[i], &bad);
	assert_int_equal(bad, 0);
}

/* auth_max_failures is honoured whatever its count: 10/1m locks at the
 * 10th failure, 100/1h at the 100th (not earlier). */
static void
test_counts(void **state)
{
	static const struct {
		unsigned count, seconds;
	} rates[] = { { 2, 60 }, { 5, 600 }, { 10, 60 }, { 63, 3600 }, { 64, 3600 },
		{ 65, 3600 }, { 100, 3600 }, { 1000, 86400 } };
	size_t bad = 0;

	for (size_t r = 0; r < NELEM(rates); r++) {
		struct rate max = { rates[r].count, rates[r].seconds };
		struct state *stt = local_state();
		struct lockout *l = lockout_new(stt);
		time_t until = 0;
		unsigned first_lock = 0;

		for (unsigned k = 1; k <= max.count + 1 && first_lock == 0; k++) {
			/* all inside the window: one per second */
			if (fail_at(l, A, &max, 300, T0 + k, &until))
				first_lock = k;
		}
		CASE_CHECK(bad, first_lock == max.count, r,
		    "%u/%us: lockout started at failure %u", max.count, max.seconds, first_lock);
		lockout_free(l);
		state_free(stt);
	}
	assert_int_equal(bad, 0);
}

/* More than LOCKOUT_TRACKED_MAX addresses within one (long) window: the
 * ones used the longest ago are forgotten, the recent ones still count,
 * nothing crashes (ASan builds watch memory). */
static void
test_table_bound(void **state)
{
	struct rate max = { 2, 365 * 86400 };
	struct state *stt = local_state();
	struct lockout *l = lockout_new(stt);
	const size_t total = LOCKOUT_TRACKED_MAX + LOCKOUT_TRACKED_MAX / 2 + 7;
	char ip[64], last[64];
	time_t until;

	for (size_t i = 0; i < total; i++) {
		snprintf(ip, sizeof(ip), "2001:db8:%zx:%zx::1", i >> 16, i & 0xffff);
		assert_false(fail_at(l, ip, &max, 900, T0 + (time_t)i, &until));
		assert_false(locked_at(l, ip, T0 + (time_t)i, &until));
	}
	/* the most recent addresses are still tracked: their second failure locks */
	for (size_t i = total - 10; i < total; i++) {
		snprintf(last, sizeof(last), "2001:db8:%zx:%zx::1", i >> 16, i & 0xffff);
		assert_true(fail_at(l, last, &max, 900, T0 + (time_t)total, &until));
		assert_int_equal(until, T0 + (time_t)total + 900);
		assert_true(locked_at(l, last, T0 + (time_t)total + 1, &until));
	}
	/* the oldest was forgotten to make room (its failure is still inside
	 * the year-long window): its next failure starts afresh */
	assert_false(fail_at(l, "2001:db8:0:0::1", &max, 900, T0 + (time_t)total + 2, &until));
	assert_false(locked_at(l, "2001:db8:0:0::1", T0 + (time_t)total + 2, &until));
	/* and a brand-new address still works with the table full */
	assert_false(fail_at(l, "198.51.100.7", &max, 900, T0 + (time_t)total + 3, &until));
	assert_true(fail_at(l, "198.51.100.7", &max, 900, T0 + (time_t)total + 4, &until));
	assert_true(locked_at(l, "198.51.100.7", T0 + (time_t)total + 5, &until));
	/* lookups of unknown addresses never create entries nor lock them */
	for (size_t i = 0; i < 2 * LOCKOUT_TRACKED_MAX; i++) {
		snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		assert_false(locked_at(l, ip, T0 + (time_t)total + 6, &until));
	}
	assert_true(locked_at(l, "198.51.100.7", T0 + (time_t)total + 7, &until));
	lockout_free(l);
	lockout_free(NULL);
	state_free(stt);
}

/* The lockout is the state's: two lockouts over one state see each
 * other's failures (as two nodes over one Redis do), two states do not. */
static void
test_state_is_the_truth(void **state)
{
	struct rate max = { 2, 60 };
	struct state *s1 = local_state(), *s2 = local_state();
	struct lockout *a = lockout_new(s1), *b = lockout_new(s1), *c = lockout_new(s2);
	time_t until;

	assert_false(fail_at(a, A, &max, 100, T0, &until));
	assert_true(fail_at(b, A, &max, 100, T0 + 1, &until));
	assert_true(locked_at(a, A, T0 + 2, &until));
	assert_int_equal(until, T0 + 101);
	assert_false(locked_at(c, A, T0 + 2, &until));
	lockout_free(a);
	lockout_free(b);
	lockout_free(c);
	state_free(s1);
	state_free(s2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scripts),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_table_bound),
		cmocka_unit_test(test_state_is_the_truth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
