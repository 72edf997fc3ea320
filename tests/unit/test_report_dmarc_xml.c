/*
 * Table tests for the DMARC aggregate report reader (src/report/
 * dmarc_xml.h, RFC 7489 Appendix C): real-world shapes (namespaces,
 * declarations, comments, CDATA, entities, several DKIM results), and
 * what is refused: DTDs, mismatched or unclosed tags, missing required
 * fields, over-long values, depth and record caps.
 */
#include "unit.h"

#include "report/dmarc_xml.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<feedback>\n"                 \
	"<report_metadata><org_name>google.com</org_name>"                             \
	"<email>noreply-dmarc-support@google.com</email>"                              \
	"<report_id>1234567890</report_id>"                                            \
	"<date_range><begin>1700000000</begin><end>1700086399</end></date_range>"      \
	"</report_metadata>"                                                          \
	"<policy_published><domain>example.test</domain><adkim>r</adkim><aspf>r</aspf>" \
	"<p>reject</p><sp>reject</sp><pct>100</pct></policy_published>\n"
#define REC(ip, n, dkim, spf) "<record><row><source_ip>" ip "</source_ip><count>" n      \
	"</count><policy_evaluated><disposition>none</disposition><dkim>" dkim         \
	"</dkim><spf>" spf "</spf></policy_evaluated></row><identifiers>"              \
	"<header_from>example.test</header_from></identifiers><auth_results>"          \
	"<dkim><domain>example.test</domain><result>" dkim "</result></dkim>"          \
	"<spf><domain>example.test</domain><result>" spf "</result></spf>"             \
	"</auth_results></record>\n"
#define TAIL "</feedback>\n"

struct xml_case {
	const char *doc;
	int rc;
	size_t nrows;
	unsigned long count0;		/* first row's count */
	const char *ip0, *dkim_result0;
	const char *why;		/* part of the reason when refused */
};

static const struct xml_case cases[] = {
	{ HEAD REC("192.0.2.1", "3", "pass", "pass") TAIL, 0, 1, 3, "192.0.2.1", "pass", NULL },
	{ HEAD REC("192.0.2.1", "3", "pass", "pass") REC("2001:db8::1", "10", "fail", "fail") TAIL,
	    0, 2, 3, "192.0.2.1", "pass", NULL },
	/* no record at all is still a report (a quiet day) */
	{ HEAD TAIL, 0, 0, 0, NULL, NULL, NULL },
	/* a namespace prefix and attributes, a comment, white space */
	{ "<?xml version=\"1.0\"?><!-- hi --><d:feedback xmlns:d=\"http://dmarc.org/dmarc-xml/0.1\">"
	    "<d:report_metadata><d:org_name>x</d:org_name><d:report_id a='1'>r1</d:report_id>"
	    "<d:date_range><d:begin> 1 </d:begin><d:end>\n2\n</d:end></d:date_range>"
	    "</d:report_metadata><d:policy_published><d:domain>example.test</d:domain>"
	    "</d:policy_published><d:record><d:row><d:source_ip>192.0.2.9</d:source_ip>"
	    "<d:count>7</d:count></d:row></d:record></d:feedback>", 0, 1, 7, "192.0.2.9", "", NULL },
	/* entities, character references and CDATA in values */
	{ "<feedback><report_metadata><org_name>A&amp;B &#x41;&#66;</org_name>"
	    "<report_id><![CDATA[id<1>]]></report_id><date_range><begin>1</begin><end>2</end>"
	    "</date_range></report_metadata><policy_published><domain>example.test</domain>"
	    "</policy_published></feedback>", 0, 0, 0, NULL, NULL, NULL },
	/* several DKIM results: the passing one is kept */
	{ HEAD "<record><row><source_ip>192.0.2.1</source_ip><count>1</count></row>"
	    "<auth_results><dkim><domain>a.test</domain><result>fail</result></dkim>"
	    "<dkim><domain>example.test</domain><result>pass</result></dkim></auth_results>"
	    "</record>" TAIL, 0, 1, 1, "192.0.2.1", "pass", NULL },
	/* self-closing elements and a BOM */
	{ "\xef\xbb\xbf" HEAD "<record><row><source_ip>192.0.2.1</source_ip><count>1</count>"
	    "<policy_evaluated/></row><identifiers/></record>" TAIL, 0, 1, 1, "192.0.2.1", "", NULL },

	/* refused */
	{ "", -1, 0, 0, NULL, NULL, "no feedback" },
	{ "<html><body>hi</body></html>", -1, 0, 0, NULL, NULL, "root element" },
	{ "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]>" HEAD TAIL, -1, 0, 0, NULL, NULL, "document type" },
	{ HEAD "<record><row><source_ip>1.2.3.4</row></record>" TAIL, -1, 0, 0, NULL, NULL, "mismatched" },
	{ HEAD REC("192.0.2.1", "3", "pass", "pass"), -1, 0, 0, NULL, NULL, "cut short" },
	{ HEAD "<record><row><count>1</count></row></record>" TAIL, -1, 0, 0, NULL, NULL, "source_ip" },
	{ HEAD REC("192.0.2.1", "-3", "pass", "pass") TAIL, -1, 0, 0, NULL, NULL, "bad number" },
	{ HEAD REC("192.0.2.1", "99999999999", "pass", "pass") TAIL, -1, 0, 0, NULL, NULL, "range" },
	{ HEAD "&bogus;" TAIL, -1, 0, 0, NULL, NULL, "entity" },
	{ HEAD "&#0;" TAIL, -1, 0, 0, NULL, NULL, "character reference" },
	{ HEAD TAIL "<feedback/>", -1, 0, 0, NULL, NULL, "second root" },
	{ HEAD TAIL "junk", -1, 0, 0, NULL, NULL, "outside the root" },
	{ "<feedback><report_metadata><org_name>x</org_name><date_range><begin>1</begin>"
	    "<end>2</end></date_range></report_metadata><policy_published><domain>d</domain>"
	    "</policy_published></feedback>", -1, 0, 0, NULL, NULL, "report_id" },
	{ "<feedback><report_metadata><org_name>x</org_name><report_id>r</report_id>"
	    "</report_metadata></feedback>", -1, 0, 0, NULL, NULL, "policy_published" },
	{ HEAD "<a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q></q></p></o></n></m></l>"
	    "</k></j></i></h></g></f></e></d></c></b></a>" TAIL, -1, 0, 0, NULL, NULL, "deeper" },
	{ HEAD "<record><row><source_ip a=\"<\">1</source_ip></row></record>" TAIL, -1, 0, 0, NULL,
	    NULL, "attribute" },
	{ HEAD "<!-- unterminated" TAIL, -1, 0, 0, NULL, NULL, "comment" },
};

static void
test_cases(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct xml_case *c = &cases[i];
		struct dmarc_xml_report r;
		char why[DMARC_XML_WHY_MAX] = "";
		int rc = dmarc_xml_parse(c->doc, strlen(c->doc), &r, why, sizeof(why));

		CASE_CHECK(bad, rc == c->rc, i, "rc %d, want %d (%s)", rc, c->rc, why);
		if (rc == 0 && c->rc == 0) {
			CASE_CHECK(bad, r.nrows == c->nrows, i, "%zu rows, want %zu", r.nrows, c->nrows);
			if (c->nrows > 0 && r.nrows > 0) {
				CASE_CHECK(bad, r.rows[0].count == c->count0, i, "count %lu", r.rows[0].count);
				CASE_CHECK(bad, strcmp(r.rows[0].source_ip, c->ip0) == 0, i, "ip %s",
				    r.rows[0].source_ip);
				CASE_CHECK(bad, strcmp(r.rows[0].dkim_result, c->dkim_result0) == 0, i,
				    "dkim %s", r.rows[0].dkim_result);
			}
		}
		if (rc == -1 && c->why != NULL)
			CASE_CHECK(bad, strstr(why, c->why) != NULL, i, "why \"%s\", want \"%s\"", why,
			    c->why);
		dmarc_xml_clear(&r);
	}
	assert_int_equal(bad, 0);
}

static void
test_fields(void **state)
{
	const char *doc = "<feedback><report_metadata><org_name>A&amp;B &#x41;&#66;</org_name>"
	    "<email>x@y</email><report_id><![CDATA[id<1>]]></report_id><date_range><begin>5</begin>"
	    "<end>6</end></date_range></report_metadata><policy_published><domain>"
	    "example.test</domain><p>quarantine</p></policy_published><record><row>"
	    "<source_ip>192.0.2.1</source_ip><count>2</count><policy_evaluated><disposition>"
	    "quarantine</disposition><dkim>fail</dkim><spf>pass</spf></policy_evaluated></row>"
	    "<identifiers><header_from>Example.test</header_from></identifiers><auth_results>"
	    "<spf><domain>bounce.example.test</domain><result>pass</result></spf>"
	    "<spf><domain>second</domain><result>fail</result></spf></auth_results></record>"
	    "</feedback>";
	struct dmarc_xml_report r;
	char why[DMARC_XML_WHY_MAX];

	assert_int_equal(dmarc_xml_parse(doc, strlen(doc), &r, why, sizeof(why)), 0);
	assert_string_equal(r.org_name, "A&B AB");
	assert_string_equal(r.report_id, "id<1>");
	assert_string_equal(r.email, "x@y");
	assert_int_equal(r.begin, 5);
	assert_int_equal(r.end, 6);
	assert_string_equal(r.domain, "example.test");
	assert_string_equal(r.p, "quarantine");
	assert_int_equal(r.nrows, 1);
	assert_string_equal(r.rows[0].disposition, "quarantine");
	assert_string_equal(r.rows[0].dkim, "fail");
	assert_string_equal(r.rows[0].spf, "pass");
	assert_string_equal(r.rows[0].header_from, "Example.test");
	assert_string_equal(r.rows[0].spf_domain, "bounce.example.test");	/* the first */
	assert_string_equal(r.rows[0].spf_result, "pass");
	dmarc_xml_clear(&r);
}

/* Caps: a value longer than its field, and more records than allowed. */
static void
test_caps(void **state)
{
	size_t big = DMARC_XML_RECORDS_MAX + 1, len = 0, cap = 600 + big * 64;
	char *doc = malloc(cap), why[DMARC_XML_WHY_MAX];
	struct dmarc_xml_report r;
	char longval[DMARC_XML_VALUE_MAX + 10];

	assert_non_null(doc);
	memset(longval, 'a', sizeof(longval) - 1);
	longval[sizeof(longval) - 1] = '\0';
	len = (size_t)snprintf(doc, cap, "%s<record><row><source_ip>%s</source_ip></row></record>%s",
	    HEAD, longval, TAIL);
	assert_int_equal(dmarc_xml_parse(doc, len, &r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "too long"));
	/* a long value nobody reads is fine */
	len = (size_t)snprintf(doc, cap, "%s<extra>%s</extra>%s", HEAD, longval, TAIL);
	assert_int_equal(dmarc_xml_parse(doc, len, &r, why, sizeof(why)), 0);
	dmarc_xml_clear(&r);
	len = (size_t)snprintf(doc, cap, "%s", HEAD);
	for (size_t i = 0; i < big; i++)
		len += (size_t)snprintf(doc + len, cap - len,
		    "<record><row><source_ip>1</source_ip></row></record>");
	len += (size_t)snprintf(doc + len, cap - len, "%s", TAIL);
	assert_int_equal(dmarc_xml_parse(doc, len, &r, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "more than"));
	/* the cap itself is fine */
	len = (size_t)snprintf(doc, cap, "%s", HEAD);
	for (size_t i = 0; i < DMARC_XML_RECORDS_MAX; i++)
		len += (size_t)snprintf(doc + len, cap - len,
		    "<record><row><source_ip>1</source_ip></row></record>");
	len += (size_t)snprintf(doc + len, cap - len, "%s", TAIL);
	assert_int_equal(dmarc_xml_parse(doc, len, &r, why, sizeof(why)), 0);
	assert_int_equal(r.nrows, DMARC_XML_RECORDS_MAX);
	dmarc_xml_clear(&r);
	/* every prefix of a valid report is refused, never read past */
	len = (size_t)snprintf(doc, cap, "%s", HEAD REC("192.0.2.1", "3", "pass", "pass") TAIL);
	for (size_t n = 0; n + 2 < len; n++) {
		char *p = malloc(n + 1);
		assert_non_null(p);
		memcpy(p, doc, n);
		assert_int_equal(dmarc_xml_parse(p, n, &r, why, sizeof(why)), -1);
		free(p);
	}
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_caps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
