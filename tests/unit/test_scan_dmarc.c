/*
 * Table tests for the DMARC record parser (src/scan/dmarc.h, RFC 7489
 * 6.3 and 6.6.3). Alignment and the lookups run against a real unbound
 * in tests/integration/test_spf_dkim_dmarc.py.
 */
#include "unit.h"

#include "scan/dmarc.h"

#define N DMARC_POLICY_NONE
#define Q DMARC_POLICY_QUARANTINE
#define R DMARC_POLICY_REJECT

struct record_case {
	const char *rec;
	int rc;
	enum dmarc_policy p, sp;
	int adkim_strict, aspf_strict, pct;
};

static const struct record_case record_cases[] = {
	{ "v=DMARC1; p=reject", 0, R, R, 0, 0, 100 },
	{ "v=DMARC1; p=none", 0, N, N, 0, 0, 100 },
	{ "v=DMARC1;p=quarantine;", 0, Q, Q, 0, 0, 100 },
	{ "v=DMARC1; p=none; sp=quarantine; adkim=s; aspf=s; pct=50", 0, N, Q, 1, 1, 50 },
	{ "v=DMARC1; p=reject; sp=none; adkim=r; aspf=r; pct=0", 0, R, N, 0, 0, 0 },
	{ "v=DMARC1; p=reject; rua=mailto:d@example.com,mailto:e@example.net!10m; "
	    "ruf=mailto:f@example.com; fo=1:d; rf=afrf; ri=3600", 0, R, R, 0, 0, 100 },
	{ "v = DMARC1 ; p = reject ; adkim = s", 0, R, R, 1, 0, 100 },
	{ "v=DMARC1; p=REJECT; sp=Quarantine", 0, R, Q, 0, 0, 100 },
	{ "v=DMARC1; p=reject; future=yes", 0, R, R, 0, 0, 100 },	/* unknown tag */
	/* 6.6.3: a missing or bad p= with rua= is p=none */
	{ "v=DMARC1; rua=mailto:x@example.com", 0, N, N, 0, 0, 100 },
	{ "v=DMARC1; p=bogus; rua=mailto:x@example.com", 0, N, N, 0, 0, 100 },
	/* bad optional values keep their defaults */
	{ "v=DMARC1; p=reject; sp=bogus", 0, R, R, 0, 0, 100 },
	{ "v=DMARC1; p=reject; adkim=x; aspf=strict", 0, R, R, 0, 0, 100 },
	{ "v=DMARC1; p=reject; pct=200", 0, R, R, 0, 0, 100 },
	{ "v=DMARC1; p=reject; pct=-1", 0, R, R, 0, 0, 100 },
	{ "v=DMARC1; p=reject; pct=abc", 0, R, R, 0, 0, 100 },

	{ "", -1, N, N, 0, 0, 0 },
	{ "v=DMARC1", -1, N, N, 0, 0, 0 },			/* no p=, no rua= */
	{ "v=DMARC1;", -1, N, N, 0, 0, 0 },
	{ "v=DMARC1; p=bogus", -1, N, N, 0, 0, 0 },
	{ "v=DMARC1; sp=reject", -1, N, N, 0, 0, 0 },
	{ "p=reject; v=DMARC1", -1, N, N, 0, 0, 0 },		/* v= not first */
	{ "p=reject", -1, N, N, 0, 0, 0 },
	{ "v=DMARC2; p=reject", -1, N, N, 0, 0, 0 },
	{ "v=dmarc1; p=reject", -1, N, N, 0, 0, 0 },		/* 6.4: exact case */
	{ "v=DMARC1; p=reject; p=none", -1, N, N, 0, 0, 0 },	/* duplicate */
	{ "v=DMARC1; p", -1, N, N, 0, 0, 0 },
	{ "v=DMARC1;; p=reject", -1, N, N, 0, 0, 0 },
	{ "v=spf1 -all", -1, N, N, 0, 0, 0 },
};

static void
test_records(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(record_cases); i++) {
		const struct record_case *c = &record_cases[i];
		enum dmarc_policy p = 99, sp = 99;
		int as = -1, ss = -1, pct = -1;
		int rc = dmarc_parse_record(c->rec, strlen(c->rec), &p, &sp,
		    &as, &ss, &pct);
		if (c->rc == -1)
			CASE_CHECK(bad, rc == -1, i, "\"%s\": accepted", c->rec);
		else
			CASE_CHECK(bad, rc == 0 && p == c->p && sp == c->sp &&
			    as == c->adkim_strict && ss == c->aspf_strict && pct == c->pct, i,
			    "\"%s\": rc=%d p=%d sp=%d adkim_s=%d aspf_s=%d pct=%d", c->rec, rc,
			    (int)p, (int)sp, as, ss, pct);
	}
	/* len is honoured */
	{
		enum dmarc_policy p, sp;
		int as, ss, pct;
		assert_int_equal(dmarc_parse_record("v=DMARC1; p=rejectXX", 18, &p, &sp, &as,
		    &ss, &pct), 0);
		assert_int_equal(p, R);
		assert_int_equal(dmarc_parse_record("v=DMARC1; p=reject", 17, &p, &sp, &as, &ss,
		    &pct), -1);
	}
	assert_int_equal(bad, 0);
}

static void
test_names(void **state)
{
	assert_string_equal(dmarc_result_name(DMARC_NONE), "none");
	assert_string_equal(dmarc_result_name(DMARC_PASS), "pass");
	assert_string_equal(dmarc_result_name(DMARC_FAIL), "fail");
	assert_string_equal(dmarc_result_name(DMARC_TEMPERROR), "temperror");
	assert_string_equal(dmarc_result_name(DMARC_PERMERROR), "permerror");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_NONE), "none");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_QUARANTINE), "quarantine");
	assert_string_equal(dmarc_policy_name(DMARC_POLICY_REJECT), "reject");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
