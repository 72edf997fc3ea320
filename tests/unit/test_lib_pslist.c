/*
 * Tests of pslist_registrable (src/lib/pslist.h): the same answers as
 * libpsl's psl_registrable_domain, pointing into the name asked, whether
 * they come from libpsl or from the table of remembered ones (each name
 * asked twice, more names than slots, names too long to keep).
 */
#include "unit.h"

#include "lib/pslist.h"

static const struct { const char *host, *reg; } cases[] = {
	{ "www.example.com", "example.com" },
	{ "example.com", "example.com" },
	{ "com", NULL },
	{ "a.b.example.co.uk", "example.co.uk" },
	{ "co.uk", NULL },
	{ "foo.dyndns.org", "foo.dyndns.org" },
	{ "mail.badspam.test", "badspam.test" },
	{ "x", NULL },
};

static void
test_table(void **state)
{
	size_t bad = 0;

	(void)state;
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < NELEM(cases); i++) {
			char host[64];
			const char *reg;
			snprintf(host, sizeof(host), "%s", cases[i].host);
			reg = pslist_registrable(host);
			CASE_CHECK(bad, cases[i].reg == NULL ? reg == NULL :
			    reg != NULL && reg >= host && reg < host + strlen(host) &&
			    strcmp(reg, cases[i].reg) == 0, i, "%s (round %d): %s", cases[i].host,
			    round, reg ? reg : "(null)");
		}
	assert_null(pslist_registrable(NULL));
	assert_int_equal(bad, 0);
}

/* Thousands of names (more than the table holds, colliding), each
 * asked twice in a row and again later: always libpsl's answer. */
static void
test_many_and_long(void **state)
{
	char host[300];

	(void)state;
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < 5000; i++) {
			const char *want, *got;
			snprintf(host, sizeof(host), "h%d.d%d.example%s", i, i % 97,
			    i % 3 ? ".co.uk" : ".com");
			want = psl_registrable_domain(pslist(), host);
			got = pslist_registrable(host);
			assert_true((want == NULL) == (got == NULL));
			if (want != NULL)
				assert_ptr_equal(got, want);
			assert_ptr_equal(pslist_registrable(host), got);
		}
	/* too long to remember: asked of libpsl each time, same answer */
	memset(host, 'a', 280);
	memcpy(host + 280, ".example.com", 13);
	assert_string_equal(pslist_registrable(host), "example.com");
	assert_string_equal(pslist_registrable(host), "example.com");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_many_and_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
