/*
 * Tests for the reports we send (src/report/rua.h, dmarc_note.h,
 * dmarc_build.h): where they go (rua lists, unsafe addresses refused,
 * the external verification record), the day-file line of an
 * evaluation, counting, and the XML read back by our own reader with
 * alignment judged as RFC 7489 3.1 says.
 */
#include "unit.h"

#include "report/dmarc_build.h"
#include "report/dmarc_note.h"
#include "report/dmarc_xml.h"
#include "report/rua.h"
#include "report/tally.h"

struct rua_case {
	const char *txt;
	int tlsrpt;			/* which parser */
	int rc;
	size_t n, https;
	const char *a0, *a1;
	unsigned long long limit0;
};

static const struct rua_case rua_cases[] = {
	{ "v=DMARC1; p=reject; rua=mailto:d@example.com", 0, 0, 1, 0, "d@example.com", NULL, 0 },
	{ "v=DMARC1; p=none; rua=mailto:a@Example.COM!10m, mailto:b@x.example.net", 0, 0, 2, 0,
	    "a@example.com", "b@x.example.net", 10u << 20 },
	{ "v=DMARC1;p=none;rua=mailto:a%40b@example.com", 0, 0, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC1; p=none; rua=mailto:r%2Bdmarc@example.com", 0, 0, 1, 0, "r+dmarc@example.com", NULL, 0 },
	{ "v=DMARC1; p=none", 0, 0, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC1; p=none; rua=mailto:a@a.test,mailto:b@b.test,mailto:c@c.test", 0, 0, 2, 0,
	    "a@a.test", "b@b.test", 0 },
	/* what could write into our envelope or headers is dropped */
	{ "v=DMARC1; p=none; rua=mailto:x@example.com%0D%0ABcc:evil@evil.test", 0, 0, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC1; p=none; rua=mailto:\"a b\"@example.com", 0, 0, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC1; p=none; rua=mailto:a@localhost", 0, 0, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC1; p=none; rua=mailto:a@b_c.example", 0, 0, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC1; p=none; rua=mailto:a@example.com?subject=x", 0, 0, 1, 0, "a@example.com", NULL, 0 },
	{ "v=DMARC1; p=none; rua=https://example.com/r", 0, 0, 0, 1, NULL, NULL, 0 },
	{ "p=none; v=DMARC1; rua=mailto:a@example.com", 0, -1, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC2; rua=mailto:a@example.com", 0, -1, 0, 0, NULL, NULL, 0 },
	{ "v=spf1 -all", 0, -1, 0, 0, NULL, NULL, 0 },
	/* RFC 8460 3 */
	{ "v=TLSRPTv1; rua=mailto:tls@example.com", 1, 0, 1, 0, "tls@example.com", NULL, 0 },
	{ "v=TLSRPTv1;rua=https://r.example.com/x,mailto:t@example.com", 1, 0, 1, 1, "t@example.com", NULL, 0 },
	{ "v=TLSRPTv1", 1, 0, 0, 0, NULL, NULL, 0 },
	{ "v=TLSRPTv2; rua=mailto:tls@example.com", 1, -1, 0, 0, NULL, NULL, 0 },
	{ "v=DMARC1; rua=mailto:tls@example.com", 1, -1, 0, 0, NULL, NULL, 0 },
};

static void
test_rua(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(rua_cases); i++) {
		const struct rua_case *c = &rua_cases[i];
		struct rua_list r;
		int rc = c->tlsrpt ? rua_from_tlsrpt(c->txt, strlen(c->txt), &r) :
		    rua_from_dmarc(c->txt, strlen(c->txt), &r);
		CASE_CHECK(bad, rc == c->rc, i, "rc %d for %s", rc, c->txt);
		if (rc != 0)
			continue;
		CASE_CHECK(bad, r.n == c->n, i, "%zu addresses for %s", r.n, c->txt);
		CASE_CHECK(bad, r.https == c->https, i, "%zu https for %s", r.https, c->txt);
		if (c->a0 && r.n > 0)
			CASE_CHECK(bad, strcmp(r.addr[0], c->a0) == 0, i, "addr0 %s", r.addr[0]);
		if (c->a1 && r.n > 1)
			CASE_CHECK(bad, strcmp(r.addr[1], c->a1) == 0, i, "addr1 %s", r.addr[1]);
		if (r.n > 0)
			CASE_CHECK(bad, r.limit[0] == c->limit0, i, "limit %llu", r.limit[0]);
	}
	assert_int_equal(bad, 0);
	assert_true(rua_verify_record(S("v=DMARC1")));
	assert_true(rua_verify_record(S("v=DMARC1;")));
	assert_false(rua_verify_record(S("v=DMARC2")));
	assert_false(rua_verify_record(S("")));
	assert_string_equal(rua_domain("a@b.test"), "b.test");
}

static void
test_note(void **state)
{
	struct dmarc_note n, m;
	char line[2048];
	size_t len;

	memset(&n, 0, sizeof(n));
	n.ts = 1700000000;
	snprintf(n.ip, sizeof(n.ip), "2001:db8::1");
	snprintf(n.header_from, sizeof(n.header_from), "example.org");
	snprintf(n.envelope_from, sizeof(n.envelope_from), "bounce.example.org");
	snprintf(n.spf, sizeof(n.spf), "pass");
	snprintf(n.dmarc, sizeof(n.dmarc), "pass");
	snprintf(n.disposition, sizeof(n.disposition), "none");
	n.ndkim = 2;
	snprintf(n.dkim[0].domain, sizeof(n.dkim[0].domain), "example.org");
	snprintf(n.dkim[0].selector, sizeof(n.dkim[0].selector), "s1");
	snprintf(n.dkim[0].result, sizeof(n.dkim[0].result), "pass");
	snprintf(n.dkim[1].domain, sizeof(n.dkim[1].domain), "esp.test");
	snprintf(n.dkim[1].result, sizeof(n.dkim[1].result), "fail");
	len = dmarc_note_format(&n, line, sizeof(line));
	assert_true(len > 0);
	assert_string_equal(line, "1700000000 2001:db8::1 example.org bounce.example.org pass pass "
	    "none example.org/s1/pass,esp.test/-/fail");
	assert_int_equal(dmarc_note_parse(line, len, &m), 0);
	assert_memory_equal(&n, &m, sizeof(n));
	/* a header_from that is no host name never splits the line */
	snprintf(n.header_from, sizeof(n.header_from), "evil test\nx");
	len = dmarc_note_format(&n, line, sizeof(line));
	assert_null(strchr(line, '\n'));
	assert_int_equal(dmarc_note_parse(line, len, &m), -1);	/* "-" from: no report */
	assert_int_equal(dmarc_note_parse(S("1 1.2.3.4 a.test - pass pass none"), &m), -1);
	assert_int_equal(dmarc_note_parse(S("x 1.2.3.4 a.test - pass pass none -"), &m), -1);
	assert_int_equal(dmarc_note_parse(S("1 1.2.3.4 a.test - pass pass none a/b"), &m), -1);
	assert_int_equal(dmarc_note_parse(S("1 1.2.3.4 a.test - pass pass none -"), &m), 0);
	assert_int_equal(m.envelope_from[0], '\0');
}

static bool
all(void *arg, const char *from)
{
	return strcmp(from, (const char *)arg) == 0 || strcmp((const char *)arg, "*") == 0;
}

/* Rows counted, alignment per adkim/aspf, and the XML read back. */
static void
test_build(void **state)
{
	struct tally t;
	struct dmarc_published pub = { "example.org", false, false, "reject", "quarantine", 100 };
	struct dmarc_report_meta meta = { "mx.example.test", "postmaster@example.test",
		"id&<1>", 1700000000, 1700086400 };
	struct dmarc_xml_report r;
	char why[DMARC_XML_WHY_MAX], *xml;
	size_t len, rows;
	unsigned long msgs;

	tally_init(&t);
	/* SPF passes for a subdomain (relaxed: aligned), twice */
	dmarc_build_add(&t, S("1700000001 192.0.2.1 example.org mail.example.org pass pass none -"));
	dmarc_build_add(&t, S("1700000002 192.0.2.1 example.org mail.example.org pass pass none -"));
	/* a forgery: SPF passes for another domain, DKIM fails */
	dmarc_build_add(&t, S("1700000003 198.51.100.9 example.org evil.test pass fail reject "
	    "example.org/s/fail"));
	/* another header_from, not in this report */
	dmarc_build_add(&t, S("1700000004 192.0.2.2 other.test other.test pass pass none -"));
	dmarc_build_add(&t, S("damaged"));
	assert_int_equal(t.n, 3);
	assert_int_equal(t.dropped, 1);
	xml = dmarc_build_xml(&t, &meta, &pub, all, "example.org", &len, &rows, &msgs);
	assert_non_null(xml);
	assert_int_equal(rows, 2);
	assert_int_equal(msgs, 3);
	assert_int_equal(dmarc_xml_parse(xml, len, &r, why, sizeof(why)), 0);
	assert_string_equal(r.org_name, "mx.example.test");
	assert_string_equal(r.report_id, "id&<1>");
	assert_string_equal(r.domain, "example.org");
	assert_string_equal(r.p, "reject");
	assert_int_equal(r.begin, 1700000000);
	assert_int_equal(r.nrows, 2);
	assert_string_equal(r.rows[0].source_ip, "192.0.2.1");
	assert_int_equal(r.rows[0].count, 2);
	assert_string_equal(r.rows[0].spf, "pass");
	assert_string_equal(r.rows[0].dkim, "fail");
	assert_string_equal(r.rows[0].spf_domain, "mail.example.org");
	assert_string_equal(r.rows[1].source_ip, "198.51.100.9");
	assert_string_equal(r.rows[1].disposition, "reject");
	assert_string_equal(r.rows[1].spf, "fail");		/* evil.test is not aligned */
	assert_string_equal(r.rows[1].dkim, "fail");
	assert_string_equal(r.rows[1].dkim_domain, "example.org");
	dmarc_xml_clear(&r);
	free(xml);
	/* aspf=s: the subdomain is no longer aligned */
	pub.aspf_strict = true;
	xml = dmarc_build_xml(&t, &meta, &pub, all, "example.org", &len, &rows, &msgs);
	assert_int_equal(dmarc_xml_parse(xml, len, &r, why, sizeof(why)), 0);
	assert_string_equal(r.rows[0].spf, "fail");
	dmarc_xml_clear(&r);
	free(xml);
	/* nothing for a domain without rows */
	assert_null(dmarc_build_xml(&t, &meta, &pub, all, "none.test", &len, &rows, &msgs));
	tally_clear(&t);
}

/* The row cap holds whatever the input. */
static void
test_tally_cap(void **state)
{
	struct tally t;
	char key[64];

	tally_init(&t);
	for (unsigned i = 0; i < TALLY_ROWS_MAX + 50; i++) {
		snprintf(key, sizeof(key), "k%u", i);
		tally_add(&t, key, "g", 1);
	}
	tally_add(&t, "k7", "g", 1);
	assert_int_equal(t.n, TALLY_ROWS_MAX);
	assert_int_equal(t.dropped, 50);
	assert_int_equal(t.rows[7].count, 2);
	tally_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rua),
		cmocka_unit_test(test_note),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_tally_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
