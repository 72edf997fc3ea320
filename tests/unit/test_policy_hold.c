/*
 * Tests of held accounts (src/policy/hold.h): the line parser as a table,
 * and set/release/refresh in a temporary data_dir, including a change
 * made by another process (a second holds object) being noticed and a
 * release being reported to the callback.
 */
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

#include "monitor/log.h"
#include "policy/hold.h"

static const struct {
	const char *line;
	size_t len;
	bool ok;
	const char *account, *reason;
	long long since;
} line_cases[] = {
	{ S("bob@example.org 1700000000 ratelimit"), true, "bob@example.org", "ratelimit", 1700000000 },
	{ S("Bob@Example.ORG 5 held by hand (postern user hold)"), true, "bob@example.org",
	    "held by hand (postern user hold)", 5 },
	{ S("bob@example.org 12"), true, "bob@example.org", "", 12 },
	{ S("bob@example.org 12 a\tb"), true, "bob@example.org", "a b", 12 },
	{ S("bob@example.org"), false, NULL, NULL, 0 },
	{ S("bob@example.org x reason"), false, NULL, NULL, 0 },
	{ S(" 12 reason"), false, NULL, NULL, 0 },
	{ S("b\x01ob 12 r"), false, NULL, NULL, 0 },
	{ S("bob 99999999999999999999999 r"), false, NULL, NULL, 0 },
	{ S(""), false, NULL, NULL, 0 },
};

static void
test_hold_parse_line(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(line_cases); i++) {
		char account[64], reason[64];
		time_t since = 0;
		bool ok = holds_parse_line(line_cases[i].line, line_cases[i].len, account,
		    sizeof(account), &since, reason, sizeof(reason));
		CASE_CHECK(bad, ok == line_cases[i].ok, i, "parse %s", ok ? "accepted" : "refused");
		if (ok && line_cases[i].ok) {
			CASE_CHECK(bad, strcmp(account, line_cases[i].account) == 0, i, "account %s",
			    account);
			CASE_CHECK(bad, strcmp(reason, line_cases[i].reason) == 0, i, "reason %s",
			    reason);
			CASE_CHECK(bad, (long long)since == line_cases[i].since, i, "since %lld",
			    (long long)since);
		}
	}
	assert_int_equal(bad, 0);
}

static char released_seen[128];

static void
on_released(void *arg, const char *account)
{
	(void)arg;
	snprintf(released_seen, sizeof(released_seen), "%s", account);
}

static void
test_hold_set_release_refresh(void **state)
{
	char dir[] = "/tmp/postern-hold-XXXXXX", *err = NULL;
	struct holds *server, *cli;
	struct hold_entry *e;
	size_t n;

	(void)state;
	log_set_stderr(false);
	assert_non_null(mkdtemp(dir));
	server = holds_open(dir, on_released, NULL);
	cli = holds_open(dir, NULL, NULL);
	assert_int_equal(holds_refresh(server), 0);
	assert_false(holds_held(server, "bob@example.org"));
	/* the command holds bob: the server sees it at its next refresh */
	assert_int_equal(holds_set(cli, "Bob@example.org", "by hand", &err), 0);
	assert_int_equal(holds_set(cli, "bob@example.org", "again", &err), 1);
	assert_false(holds_held(server, "bob@example.org"));
	assert_int_equal(holds_refresh(server), 0);
	assert_true(holds_held(server, "bob@example.org"));
	/* the server holds carol itself; bob's hold is kept */
	assert_int_equal(holds_set(server, "carol@example.org", "ratelimit", &err), 0);
	n = holds_list(server, &e);
	assert_int_equal(n, 2);
	holds_list_free(e, n);
	/* the command releases bob: the server is told once */
	released_seen[0] = '\0';
	assert_int_equal(holds_release(cli, "bob@example.org", &err), 0);
	assert_int_equal(holds_refresh(server), 0);
	assert_string_equal(released_seen, "bob@example.org");
	assert_false(holds_held(server, "bob@example.org"));
	assert_true(holds_held(server, "carol@example.org"));
	released_seen[0] = '\0';
	assert_int_equal(holds_refresh(server), 0);
	assert_string_equal(released_seen, "");
	/* its own release is not reported back to it */
	assert_int_equal(holds_release(server, "carol@example.org", &err), 0);
	assert_string_equal(released_seen, "");
	assert_int_equal(holds_release(server, "carol@example.org", &err), 1);
	/* a bad account name is refused */
	assert_int_equal(holds_set(server, "bad name", "x", &err), -1);
	free(err);
	holds_free(server);
	holds_free(cli);
	assert_int_equal(system("rm -rf /tmp/postern-hold-*"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_parse_line),
		cmocka_unit_test(test_hold_set_release_refresh),
	};

	return cmocka_run_group_tests_name("policy_hold", tests, NULL, NULL);
}
