/*
 * Table tests for src/queue/mtasts_policy.h (RFC 8461): the _mta-sts TXT
 * record (3.1), the policy file (3.2: required fields, case-sensitive
 * keywords, extensions ignored, LF or CRLF, the 64 KiB cap) and the MX
 * pattern match (4.1: a wildcard covers exactly one left-most label).
 */
#include "unit.h"

#include "queue/mtasts_policy.h"

struct txt_case {
	const char *in;
	size_t len;
	const char *id;		/* NULL: refused */
};

static const struct txt_case txt_cases[] = {
	{ S("v=STSv1; id=20160831085700Z;"), "20160831085700Z" },
	{ S("v=STSv1;id=abc"), "abc" },
	{ S("v=STSv1 ; id=1 ; ext=val ;"), "1" },
	{ S("v=STSv1; ext.name_x-y=v!al; id=A1"), "A1" },
	{ S("v=STSv1; id=12345678901234567890123456789012"), "12345678901234567890123456789012" },
	{ S("v=STSv1; id=123456789012345678901234567890123"), NULL },	/* 33 */
	{ S("v=STSv1; id=abc-def"), NULL },
	{ S("v=STSv1; id="), NULL },
	{ S("v=STSv1;"), NULL },
	{ S("v=STSv1"), NULL },
	{ S("v=STSv1; id=1; id=2"), NULL },
	{ S("v=STSv10; id=1"), NULL },
	{ S("v=stsv1; id=1"), NULL },
	{ S(" v=STSv1; id=1"), NULL },
	{ S("v=STSv1 id=1"), NULL },
	{ S("v=STSv1; id=1 x"), NULL },
	{ S("v=STSv1; =x; id=1"), NULL },
	{ S("v=STSv1; id=1; bad=a=b"), NULL },
	{ S("v=STSv1; id=1\0"), NULL },
	{ S("v=spf1 -all"), NULL },
	{ S(""), NULL },
};

static void
test_txt(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < NELEM(txt_cases); i++) {
		const struct txt_case *c = &txt_cases[i];
		char id[MTASTS_ID_MAX + 1];
		const char *why = NULL;
		int rc = mtasts_txt_parse(c->in, c->len, id, &why);
		if (c->id != NULL)
			CASE_CHECK(bad, rc == 0 && strcmp(id, c->id) == 0, i, "%s: rc %d id %s (%s)",
			    unit_show(c->in, c->len), rc, id, why ? why : "");
		else
			CASE_CHECK(bad, rc == -1 && why != NULL, i, "%s: accepted, id %s",
			    unit_show(c->in, c->len), id);
	}
	assert_true(mtasts_txt_is_sts(S("v=STSv1; id=1")));
	assert_true(mtasts_txt_is_sts(S("v=STSv1 garbage")));
	assert_false(mtasts_txt_is_sts(S("v=STSv10;")));
	assert_false(mtasts_txt_is_sts(S("v=spf1")));
	assert_int_equal(bad, 0);
}

struct policy_case {
	const char *in;
	size_t len;
	int rc;
	enum mtasts_mode mode;
	unsigned max_age;
	const char *mx[3];	/* the first patterns kept */
	size_t nmx;
	const char *why;	/* part of the reason when refused */
};

#define OK(text, mode, age, n, ...) { S(text), 0, mode, age, { __VA_ARGS__ }, n, NULL }
#define BAD(text, why) { S(text), -1, 0, 0, { NULL }, 0, why }

static const struct policy_case policy_cases[] = {
	OK("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n",
	    MTASTS_ENFORCE, 604800, 2, "mail.example.com", "*.example.net"),
	OK("version: STSv1\r\nmode: testing\r\nmx: MX.Example.COM\r\nmax_age: 86400\r\n",
	    MTASTS_TESTING, 86400, 1, "mx.example.com"),
	/* no final line end, blanks around, order free, extensions ignored */
	OK("max_age:86400\nmx:\t a.example \nx-ext: anything at all\nmode: enforce\nversion: STSv1",
	    MTASTS_ENFORCE, 86400, 1, "a.example"),
	/* none needs no mx; a year at most */
	OK("version: STSv1\nmode: none\nmax_age: 600\n", MTASTS_NONE, 600, 0, NULL),
	OK("version: STSv1\nmode: none\nmax_age: 9999999999\n", MTASTS_NONE, MTASTS_MAX_AGE_MAX, 0,
	    NULL),
	OK("version: STSv1\nmode: enforce\nmx: single\nmax_age: 0\n", MTASTS_ENFORCE, 0, 1,
	    "single"),
	OK("\n\nversion: STSv1\n\nmode: enforce\nmx: a.b\nmax_age: 1\n\n", MTASTS_ENFORCE, 1, 1, "a.b"),
	BAD("version: STSv1\nmode: none\nmax_age: 99999999999\n", "10 digits"),
	BAD("version: STSv1\nmode: enforce\nmax_age: 86400\n", "no mx"),
	BAD("version: STSv1\nmode: enforce\nmx: a.example\n", "no max_age"),
	BAD("mode: enforce\nmx: a.example\nmax_age: 1\n", "no version"),
	BAD("version: STSv1\nmx: a.example\nmax_age: 1\n", "no mode"),
	BAD("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n", "STSv1"),
	BAD("version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n", "mode is not"),
	BAD("version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 1\n", "twice"),
	BAD("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nmax_age: 2\n", "twice"),
	BAD("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n", "number"),
	BAD("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1d\n", "number"),
	BAD("version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n", "mx pattern"),
	BAD("version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n", "mx pattern"),
	BAD("version: STSv1\nmode: enforce\nmx: -a.example\nmax_age: 1\n", "mx pattern"),
	BAD("version: STSv1\nmode: enforce\nmx: a_b.example\nmax_age: 1\n", "mx pattern"),
	BAD("version: STSv1\nmode: enforce\nmx: a.example.\nmax_age: 1\n", "mx pattern"),
	BAD("version: STSv1\nmode: enforce\nmx: mail.example.com extra\nmax_age: 1\n", "mx pattern"),
	BAD("version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n", "no value"),
	BAD("version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n", "key: value"),
	BAD("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n<html>\n", "key: value"),
	BAD("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nbad key: x\n", "field name"),
	BAD("version: STSv1\rmode: enforce\nmx: a.example\nmax_age: 1\n", "control"),
	BAD("version: STSv1\nmode: enforce\nmx: a.\0example\nmax_age: 1\n", "control"),
	BAD("", "no version"),
};

static void
test_policy(void **state)
{
	struct mtasts_policy p;
	int bad = 0;

	for (size_t i = 0; i < NELEM(policy_cases); i++) {
		const struct policy_case *c = &policy_cases[i];
		const char *why = NULL;
		int rc = mtasts_policy_parse(c->in, c->len, &p, &why);

		CASE_CHECK(bad, rc == c->rc, i, "%s: rc %d (%s)", unit_show(c->in, c->len), rc,
		    why ? why : "");
		if (rc != c->rc)
			continue;
		if (rc == -1) {
			CASE_CHECK(bad, why != NULL && strstr(why, c->why) != NULL, i,
			    "%s: reason \"%s\", want \"%s\"", unit_show(c->in, c->len),
			    why ? why : "", c->why);
			continue;
		}
		CASE_CHECK(bad, p.mode == c->mode && p.max_age == c->max_age && p.nmx == c->nmx, i,
		    "%s: mode %d max_age %u nmx %zu", unit_show(c->in, c->len), p.mode, p.max_age,
		    p.nmx);
		for (size_t k = 0; k < c->nmx && k < 3; k++)
			CASE_CHECK(bad, strcmp(p.mx[k], c->mx[k]) == 0, i, "mx[%zu] %s, want %s", k,
			    p.mx[k], c->mx[k]);
	}
	assert_int_equal(bad, 0);
}

static void
test_policy_caps(void **state)
{
	struct mtasts_policy p;
	const char *why;
	char *big = malloc(MTASTS_POLICY_MAX + 2), *many = malloc(64 * 40 + 100);
	size_t o;

	/* a valid policy padded past 64 KiB with an extension field */
	o = (size_t)sprintf(big, "version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\nx: ");
	memset(big + o, 'y', MTASTS_POLICY_MAX + 1 - o);
	assert_int_equal(mtasts_policy_parse(big, MTASTS_POLICY_MAX + 1, &p, &why), -1);
	assert_non_null(strstr(why, "64 KiB"));
	/* exactly 64 KiB is fine */
	big[MTASTS_POLICY_MAX - 1] = '\n';
	assert_int_equal(mtasts_policy_parse(big, MTASTS_POLICY_MAX, &p, &why), 0);
	/* 32 mx patterns, not 33 */
	o = (size_t)sprintf(many, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < MTASTS_MX_MAX; i++)
		o += (size_t)sprintf(many + o, "mx: mx%d.example\n", i);
	assert_int_equal(mtasts_policy_parse(many, o, &p, &why), 0);
	assert_int_equal(p.nmx, MTASTS_MX_MAX);
	o += (size_t)sprintf(many + o, "mx: one-more.example\n");
	assert_int_equal(mtasts_policy_parse(many, o, &p, &why), -1);
	assert_non_null(strstr(why, "32"));
	free(big);
	free(many);
}

struct match_case {
	const char *host;
	bool want;
};

static const struct match_case match_cases[] = {
	{ "mail.example.com", true },
	{ "MAIL.Example.Com.", true },
	{ "mx1.example.net", true },		/* *.example.net */
	{ "MX2.EXAMPLE.NET", true },
	{ "example.net", false },		/* the wildcard needs a label */
	{ "a.b.example.net", false },		/* exactly one */
	{ ".example.net", false },
	{ "xexample.net", false },
	{ "mail.example.com.evil", false },
	{ "other.example.com", false },
	{ "", false },
	{ ".", false },
};

static void
test_mx_match(void **state)
{
	struct mtasts_policy p;
	const char *why;
	const char text[] = "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
	    "max_age: 1\n";
	int bad = 0;

	assert_int_equal(mtasts_policy_parse(text, sizeof(text) - 1, &p, &why), 0);
	for (size_t i = 0; i < NELEM(match_cases); i++) {
		bool got = mtasts_policy_mx_match(&p, match_cases[i].host);
		CASE_CHECK(bad, got == match_cases[i].want, i, "%s: got %d", match_cases[i].host, got);
	}
	assert_string_equal(mtasts_mode_name(MTASTS_ENFORCE), "enforce");
	assert_string_equal(mtasts_mode_name(MTASTS_TESTING), "testing");
	assert_string_equal(mtasts_mode_name(MTASTS_NONE), "none");
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_policy_caps),
		cmocka_unit_test(test_mx_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
