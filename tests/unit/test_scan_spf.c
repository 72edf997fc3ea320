/*
 * Table tests for the pure parts of SPF (src/scan/spf.h): record syntax
 * (RFC 7208 section 12) and macro expansion (section 7, with the
 * examples of 7.4 verbatim). The DNS evaluation is covered by
 * tests/integration/test_spf_dkim_dmarc.py against a real unbound and
 * by the RFC 7208 suite (tests/integration/test_spf_rfc7208.py).
 */
#include "unit.h"

#include "scan/spf.h"

struct valid_case {
	const char *rec;
	bool valid;
};

static const struct valid_case valid_cases[] = {
	{ "v=spf1", true },
	{ "v=spf1 -all", true },
	{ "v=spf1 -all ", true },			/* trailing SP */
	{ "v=spf1  a   mx  ", true },
	{ "V=SPF1 MX -ALL", true },			/* names are case-insensitive */
	{ "v=spf1 +all", true },
	{ "v=spf1 ?all", true },
	{ "v=spf1 ~all", true },
	{ "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx ~all", true },
	{ "v=spf1 ip4:192.0.2.1 ip4:0.0.0.0/0 ip6:::1 ip6:::/0", true },
	{ "v=spf1 ip6:::ffff:192.0.2.1/128", true },
	{ "v=spf1 a:mail.example.com/24//64 mx/26 -all", true },
	{ "v=spf1 a//64 mx//128 a/0", true },
	{ "v=spf1 a:example.com. mx:foo-bar.example", true },
	{ "v=spf1 a:a.b.1-2", true },			/* toplabel: digits with a hyphen */
	{ "v=spf1 include:_spf.example.com ?all", true },
	{ "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all", true },
	{ "v=spf1 exists:%{i}._spf.%{d2}", true },
	{ "v=spf1 exists:%{d}", true },			/* domain-end is a macro */
	{ "v=spf1 a:%{H}.example.com", true },		/* upper case: URL-escape */
	{ "v=spf1 exists:%%%_%-.example.com", true },
	{ "v=spf1 redirect=_spf.example.com", true },
	{ "v=spf1 ptr ptr:example.com -all", true },
	{ "v=spf1 exp=explain._spf.%{d} -all", true },
	{ "v=spf1 foo=bar -all", true },		/* unknown modifier: ignored */
	{ "v=spf1 foo.bar_baz-1= -all", true },		/* empty macro-string */
	{ "v=spf1 moo.cow=%{c}%{r}%{t} -all", true },	/* exp letters in modifiers */
	{ "v=spf1 -include:example.com ~mx:example.org ?a:example.net", true },
	/* 7.1: a domain-spec holds any visible character; only a trailing
	 * "/" DIGITS [ "//" DIGITS ] is a CIDR length */
	{ "v=spf1 a:foo:bar/baz.example.com", true },
	{ "v=spf1 mx:foo:bar/baz.example.com -all", true },
	{ "v=spf1 a:foo:bar/baz.example.com/24//64", true },
	{ "v=spf1 mx:a/b.example.com//64", true },
	{ "v=spf1 a:%{d}/24", true },

	{ "", false },
	{ "v=spf", false },
	{ "v=spf10", false },
	{ "v=spf1-all", false },
	{ "spf1 -all", false },
	{ " v=spf1 -all", false },
	{ "v=spf1 foo", false },			/* unknown mechanism */
	{ "v=spf1 -foo:bar.com", false },
	{ "v=spf1 all:example.com", false },
	{ "v=spf1 all/24", false },
	{ "v=spf1 include", false },
	{ "v=spf1 include:", false },
	{ "v=spf1 exists", false },
	{ "v=spf1 ip4", false },
	{ "v=spf1 ip4:", false },
	{ "v=spf1 ip4:192.0.2", false },
	{ "v=spf1 ip4:192.0.2.0/33", false },
	{ "v=spf1 ip4:192.0.2.0/", false },
	{ "v=spf1 ip4:192.0.2.0/024", false },		/* leading zero */
	{ "v=spf1 ip4:192.0.2.0/24/", false },
	{ "v=spf1 ip4:2001:db8::1", false },
	{ "v=spf1 ip6:192.0.2.1", false },
	{ "v=spf1 ip6:2001:db8::/129", false },
	{ "v=spf1 ip6:2001:db8::/", false },
	{ "v=spf1 a/33", false },
	{ "v=spf1 a//129", false },
	{ "v=spf1 a/24/64", false },
	{ "v=spf1 mx/", false },
	{ "v=spf1 a:1.2.3.4", false },			/* all-numeric toplabel */
	{ "v=spf1 a:localhost", false },		/* no "." toplabel */
	{ "v=spf1 a:example.-com", false },
	{ "v=spf1 a:example.com-", false },
	{ "v=spf1 a:", false },
	{ "v=spf1 a:exa\tmple.com", false },
	{ "v=spf1 a:exampl\xc3\xa9.com", false },
	{ "v=spf1 exists:%{x}.example.com", false },	/* unknown macro letter */
	{ "v=spf1 exists:%{d0}.example.com", false },	/* zero DIGIT */
	{ "v=spf1 exists:%{d", false },
	{ "v=spf1 exists:%{d2r?}.example.com", false },	/* '?' is no delimiter */
	{ "v=spf1 exists:%a.example.com", false },
	{ "v=spf1 exists:example.com%", false },
	{ "v=spf1 exists:%{c}.example.com", false },	/* c, r, t: exp only */
	{ "v=spf1 redirect=a.example redirect=b.example", false },
	{ "v=spf1 exp=a.example exp=b.example", false },
	{ "v=spf1 redirect=", false },
	{ "v=spf1 redirect=localhost", false },
	{ "v=spf1 -redirect=a.example", false },	/* no qualifier on a modifier */
	{ "v=spf1 =foo", false },
	{ "v=spf1 1foo=bar", false },
	{ "v=spf1 foo=b r", false },			/* "r" is no mechanism */
	{ "v=spf1 foo=%{", false },
	{ "v=spf1 a:foo.example.com/abc", false },	/* toplabel "com/abc" */
	{ "v=spf1 a:foo.example.com/24/", false },
	{ "v=spf1 a:foo.example.com/33", false },
	{ "v=spf1 a:foo.example.com///64", false },
	{ "v=spf1 mx:example.com:8080", false },
	{ "v=spf1 exists:mail.example.com/24", false },	/* exists has no CIDR */
};

static void
test_record_valid(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(valid_cases); i++) {
		const struct valid_case *c = &valid_cases[i];
		bool got = spf_record_valid(c->rec, strlen(c->rec));
		CASE_CHECK(bad, got == c->valid, i, "\"%s\": got %s", unit_show(c->rec,
		    strlen(c->rec)), got ? "valid" : "invalid");
	}
	/* a NUL inside a record is a syntax error, never a qualifier or the
	 * record's end (the suite's a-null, mx-null) */
	assert_false(spf_record_valid("v=spf1 \0all", 11));
	assert_false(spf_record_valid("v=spf1 a:foo.example.com\0", 25));
	assert_false(spf_record_valid("v=spf1 -all\0", 12));
	/* len is honoured: the bytes after it are not read */
	assert_true(spf_record_valid("v=spf1 -allXXXX", 11));
	assert_false(spf_record_valid("v=spf1 -all", 10));
	assert_int_equal(bad, 0);
}

struct macro_case {
	const char *spec;
	const char *ip;
	const char *want;	/* NULL: refused */
};

/* RFC 7208 7.4: sender strong-bad@email.example.com, <domain>
 * email.example.com, IPv4 192.0.2.3, IPv6 2001:db8::cb01. */
#define SENDER "strong-bad@email.example.com"
#define DOMAIN "email.example.com"
#define HELO "mx.example.org"

static const struct macro_case macro_cases[] = {
	{ "%{s}", "192.0.2.3", "strong-bad@email.example.com" },
	{ "%{o}", "192.0.2.3", "email.example.com" },
	{ "%{d}", "192.0.2.3", "email.example.com" },
	{ "%{d4}", "192.0.2.3", "email.example.com" },
	{ "%{d3}", "192.0.2.3", "email.example.com" },
	{ "%{d2}", "192.0.2.3", "example.com" },
	{ "%{d1}", "192.0.2.3", "com" },
	{ "%{dr}", "192.0.2.3", "com.example.email" },
	{ "%{d2r}", "192.0.2.3", "example.email" },
	{ "%{l}", "192.0.2.3", "strong-bad" },
	{ "%{l-}", "192.0.2.3", "strong.bad" },
	{ "%{lr}", "192.0.2.3", "strong-bad" },
	{ "%{lr-}", "192.0.2.3", "bad.strong" },
	{ "%{l1r-}", "192.0.2.3", "strong" },
	{ "%{ir}.%{v}._spf.%{d2}", "192.0.2.3", "3.2.0.192.in-addr._spf.example.com" },
	{ "%{lr-}.lp._spf.%{d2}", "192.0.2.3", "bad.strong.lp._spf.example.com" },
	{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "192.0.2.3",
	    "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
	{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "192.0.2.3",
	    "3.2.0.192.in-addr.strong.lp._spf.example.com" },
	{ "%{d2}.trusted-domains.example.net", "192.0.2.3",
	    "example.com.trusted-domains.example.net" },
	{ "%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01",
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com" },
	/* beyond 7.4 */
	{ "%{i}", "192.0.2.3", "192.0.2.3" },
	{ "%{i}", "2001:db8::cb01",
	    "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1" },
	{ "%{i}", "::ffff:192.0.2.3", "192.0.2.3" },	/* IPv4-mapped: IPv4 */
	{ "%{v}", "::ffff:192.0.2.3", "in-addr" },
	{ "%{h}", "192.0.2.3", "mx.example.org" },
	{ "%{h1}", "192.0.2.3", "org" },
	{ "%{p}", "192.0.2.3", "unknown" },
	{ "%%%_%-", "192.0.2.3", "% %20" },
	{ "%{S}", "192.0.2.3", "strong-bad%40email.example.com" },	/* URL-escaped */
	{ "%{L}", "192.0.2.3", "strong-bad" },
	{ "%{D2}", "192.0.2.3", "example.com" },
	{ "%{d100}", "192.0.2.3", "email.example.com" },
	{ "%{l-.}", "192.0.2.3", "strong.bad" },
	{ "%{s@}", "192.0.2.3", NULL },			/* '@' is no delimiter */
	{ "%{s=}", "192.0.2.3", "strong-bad@email.example.com" },
	{ "%{o2r}", "192.0.2.3", "example.email" },
	{ "plain.example.com", "192.0.2.3", "plain.example.com" },
	{ "", "192.0.2.3", "" },
	{ "%{x}", "192.0.2.3", NULL },
	{ "%{d0}", "192.0.2.3", NULL },
	{ "%{c}", "192.0.2.3", NULL },			/* exp only */
	{ "%{d", "192.0.2.3", NULL },
	{ "%d", "192.0.2.3", NULL },
	{ "%", "192.0.2.3", NULL },
	{ "a b", "192.0.2.3", NULL },
	{ "%{d}", "not-an-ip", NULL },
};

static void
test_macros(void **state)
{
	char out[512];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(macro_cases); i++) {
		const struct macro_case *c = &macro_cases[i];
		int rc = spf_expand_macros(c->spec, strlen(c->spec), c->ip, SENDER, DOMAIN, HELO,
		    out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, rc == -1, i, "%s: accepted as %s", c->spec, out);
		else
			CASE_CHECK(bad, rc == 0 && strcmp(out, c->want) == 0, i,
			    "%s (%s): rc=%d got \"%s\" want \"%s\"", c->spec, c->ip, rc,
			    rc == 0 ? out : "", c->want);
	}
	assert_int_equal(bad, 0);
}

static void
test_macro_edges(void **state)
{
	char out[64];

	/* the sender without local-part is postmaster (4.3) */
	assert_int_equal(spf_expand_macros(S("%{l}.%{o}"), "192.0.2.3", "example.org",
	    "example.org", HELO, out, sizeof(out)), 0);
	assert_string_equal(out, "postmaster.example.org");
	assert_int_equal(spf_expand_macros(S("%{l}"), "192.0.2.3", "@example.org",
	    "example.org", HELO, out, sizeof(out)), 0);
	assert_string_equal(out, "postmaster");
	/* output too small: refused, never truncated */
	assert_int_equal(spf_expand_macros(S("%{s}"), "192.0.2.3", SENDER, DOMAIN, HELO, out,
	    10), -1);
	assert_int_equal(spf_expand_macros(S("%{s}"), "192.0.2.3", SENDER, DOMAIN, HELO, out,
	    strlen(SENDER)), -1);
	assert_int_equal(spf_expand_macros(S("%{s}"), "192.0.2.3", SENDER, DOMAIN, HELO, out,
	    strlen(SENDER) + 1), 0);
	/* len is honoured */
	assert_int_equal(spf_expand_macros("%{d1}XYZ", 5, "192.0.2.3", SENDER, DOMAIN, HELO, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "com");
}

static void
test_names(void **state)
{
	assert_string_equal(spf_result_name(SPF_NONE), "none");
	assert_string_equal(spf_result_name(SPF_NEUTRAL), "neutral");
	assert_string_equal(spf_result_name(SPF_PASS), "pass");
	assert_string_equal(spf_result_name(SPF_FAIL), "fail");
	assert_string_equal(spf_result_name(SPF_SOFTFAIL), "softfail");
	assert_string_equal(spf_result_name(SPF_TEMPERROR), "temperror");
	assert_string_equal(spf_result_name(SPF_PERMERROR), "permerror");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_valid),
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_macro_edges),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
