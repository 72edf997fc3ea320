/*
 * Remembered bounces (src/policy/suppress.h): which remote replies mean
 * "no such user" (table), remembering, expiry and reload from the file;
 * and the rate windows every compromised-account signal counts in
 * (src/policy/ratelimit.h, over the local state), "failed_recipients"
 * included, asked both ways (for a command, in the background).
 */
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

#include "monitor/log.h"
#include "policy/ratelimit.h"
#include "policy/suppress.h"
#include "state/state.h"

static const struct {
	const char *reply;
	bool unknown;
} reply_cases[] = {
	{ "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown", true },
	{ "550 5.1.1 no such user", true },
	{ "553 5.1.1", true },
	{ "556 5.1.10 Recipient address has null MX", true },
	{ "550 5.1.2 bad destination system", false },
	{ "550 5.7.1 refused by local policy", false },
	{ "552 5.2.2 mailbox full", false },
	{ "550 Recipient address rejected: User unknown", true },
	{ "551 No such user here", true },
	{ "550 sorry, no mailbox here by that name", true },
	{ "554 no such user", false },			/* not a mailbox reply code */
	{ "550 access denied", false },
	{ "450 4.1.1 mailbox busy", false },
	{ "452 4.5.3 too many recipients", false },
	{ "5", false },
	{ "", false },
};

static void
test_suppress_unknown_user(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(reply_cases); i++)
		CASE_CHECK(bad, suppress_is_unknown_user(reply_cases[i].reply,
		    strlen(reply_cases[i].reply)) == reply_cases[i].unknown, i, "%s",
		    reply_cases[i].reply);
	assert_int_equal(bad, 0);
}

static void
test_suppress_remember_expire_reload(void **state)
{
	char dir[] = "/tmp/postern-suppress-XXXXXX";
	struct suppress *s;
	time_t until, now = time(NULL);

	(void)state;
	log_set_stderr(false);
	assert_non_null(mkdtemp(dir));
	s = suppress_open(dir);
	assert_false(suppress_check(s, "gone@remote.example", now, &until));
	assert_int_equal(suppress_add(s, "Gone@Remote.example", now, 3600), 0);
	assert_int_equal(suppress_add(s, "short@remote.example", now, 10), 0);
	assert_true(suppress_check(s, "gone@remote.example", now, &until));
	assert_true(until == now + 3600);
	assert_false(suppress_check(s, "gone@remote.example", now + 3600, &until));
	assert_int_equal(suppress_add(s, "bad address@x", now, 10), -1);
	suppress_free(s);
	/* a restart remembers */
	s = suppress_open(dir);
	assert_true(suppress_check(s, "GONE@remote.example", now + 1, &until));
	assert_true(suppress_check(s, "short@remote.example", now + 1, &until));
	assert_false(suppress_check(s, "short@remote.example", now + 11, &until));
	suppress_free(s);
	assert_int_equal(system("rm -rf /tmp/postern-suppress-*"), 0);
}

static void
got(void *arg, bool passed)
{
	*(int *)arg = passed;
}

/* ratelimit_take, answered at once by the local state: 1 passed, 0 not */
static int
take(struct ratelimit *rl, const char *account, const char *what, const struct rate *r,
    time_t now)
{
	int v = -1;

	ratelimit_take(rl, account, what, r, 1, now, got, &v);
	assert_int_not_equal(v, -1);
	return v;
}

/* ratelimit_ask, as a command asks (a fresh replay memo each time) */
static int
ask(struct ratelimit *rl, const char *account, const char *what, const struct rate *r,
    time_t now)
{
	struct state_ask q;
	enum state_answer a;

	memset(&q, 0, sizeof(q));
	a = ratelimit_ask(rl, &q, account, what, r, 1, now);
	assert_int_not_equal(a, STATE_WAIT);
	return a == STATE_YES;
}

static void
test_ratelimit_windows(void **state)
{
	struct config cfg;
	struct state *st;
	struct ratelimit *rl;
	struct rate one = { 1, 3600 }, two = { 2, 60 }, none = { 0, 0 };
	time_t t = 1000000;
	struct state_ask q;
	long long v;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.hostname = "unit.test";
	st = state_new(NULL, &cfg);
	rl = ratelimit_new(st);
	/* a kind whose name is longer than 16 used to start a new window at
	 * every call, so the limit never tripped */
	assert_true(take(rl, "a@x", "failed_recipients", &one, t));
	assert_false(take(rl, "a@x", "failed_recipients", &one, t + 1));
	assert_true(take(rl, "b@x", "failed_recipients", &one, t + 1));
	assert_true(ask(rl, "a@x", "messages", &two, t));
	assert_true(ask(rl, "a@x", "messages", &two, t + 1));
	assert_false(ask(rl, "a@x", "messages", &two, t + 2));
	assert_true(ask(rl, "a@x", "messages", &two, t + 61));
	/* the two ways count in one window */
	assert_true(take(rl, "c@x", "recipients", &two, t));
	assert_true(ask(rl, "c@x", "recipients", &two, t));
	assert_false(take(rl, "c@x", "recipients", &two, t));
	/* no limit configured: always yes */
	assert_true(ask(rl, "a@x", "messages", &none, t));
	/* a command run again replays its answers, in order, without
	 * counting twice: the run that got "yes" gets it again */
	memset(&q, 0, sizeof(q));
	assert_int_equal(ratelimit_ask(rl, &q, "d@x", "messages", &one, 1, t), STATE_YES);
	assert_int_equal(ratelimit_ask(rl, &q, "d@x", "recipients", &one, 1, t), STATE_YES);
	state_ask_rewind(&q);
	assert_int_equal(ratelimit_ask(rl, &q, "d@x", "messages", &one, 1, t), STATE_YES);
	assert_int_equal(ratelimit_ask(rl, &q, "d@x", "recipients", &one, 1, t), STATE_YES);
	assert_false(state_ask_next(&q, &v));
	state_ask_clear(&q);
	/* a new command asks anew: the window is full now */
	assert_int_equal(ratelimit_ask(rl, &q, "d@x", "messages", &one, 1, t), STATE_NO);
	ratelimit_free(rl);
	state_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suppress_unknown_user),
		cmocka_unit_test(test_suppress_remember_expire_reload),
		cmocka_unit_test(test_ratelimit_windows),
	};

	return cmocka_run_group_tests_name("policy_suppress", tests, NULL, NULL);
}
