/*
 * Remembered bounces (src/policy/suppress.h): which remote replies mean
 * "no such user" (table), remembering, expiry and reload from the file;
 * and the rate windows every compromised-account signal counts in
 * (src/policy/ratelimit.h), "failed_recipients" included.
 */
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

#include "monitor/log.h"
#include "policy/ratelimit.h"
#include "policy/suppress.h"

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
test_ratelimit_windows(void **state)
{
	struct ratelimit *rl = ratelimit_new();
	struct rate one = { 1, 3600 }, two = { 2, 60 };
	time_t t = 1000000;

	(void)state;
	/* a kind whose name is longer than 16 used to start a new window at
	 * every call, so the limit never tripped */
	assert_true(ratelimit_take(rl, "a@x", "failed_recipients", &one, 1, t));
	assert_false(ratelimit_take(rl, "a@x", "failed_recipients", &one, 1, t + 1));
	assert_true(ratelimit_take(rl, "b@x", "failed_recipients", &one, 1, t + 1));
	assert_true(ratelimit_take(rl, "a@x", "messages", &two, 1, t));
	assert_true(ratelimit_take(rl, "a@x", "messages", &two, 1, t + 1));
	assert_false(ratelimit_take(rl, "a@x", "messages", &two, 1, t + 2));
	assert_true(ratelimit_take(rl, "a@x", "messages", &two, 1, t + 61));
	ratelimit_free(rl);
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
