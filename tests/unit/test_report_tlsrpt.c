/*
 * Tests for TLS-RPT (src/report/tlsrpt_json.h, tlsrpt_note.h, RFC 8460):
 * the RFC's own example report parsed, reports refused for what they
 * lack or hold wrongly, our report built and read back, failure reasons
 * mapped to result types, and delivery log events to day-file lines.
 */
#include "unit.h"

#include "lib/json.h"
#include "report/tally.h"
#include "report/tlsrpt_json.h"
#include "report/tlsrpt_note.h"

/* RFC 8460 4.8's example, trimmed of its long policy strings */
static const char rfc_example[] =
    "{\"organization-name\": \"Company-X\",\n"
    " \"date-range\": {\"start-datetime\": \"2016-04-01T00:00:00Z\","
    " \"end-datetime\": \"2016-04-01T23:59:59Z\"},\n"
    " \"contact-info\": \"sts-reporting@company-x.example\",\n"
    " \"report-id\": \"5065427c-23d3-47ca-b6e0-946ea0e8c4be\",\n"
    " \"policies\": [{\n"
    "   \"policy\": {\"policy-type\": \"sts\", \"policy-string\": [\"version: STSv1\","
    " \"mode: testing\"], \"policy-domain\": \"company-y.example\","
    " \"mx-host\": [\"*.mail.company-y.example\"]},\n"
    "   \"summary\": {\"total-successful-session-count\": 5326,"
    " \"total-failure-session-count\": 303},\n"
    "   \"failure-details\": [{\"result-type\": \"certificate-expired\","
    " \"sending-mta-ip\": \"2001:db8:abcd:0012::1\","
    " \"receiving-mx-hostname\": \"mx1.mail.company-y.example\","
    " \"failed-session-count\": 100},\n"
    "   {\"result-type\": \"starttls-not-supported\", \"sending-mta-ip\": \"2001:db8:abcd:0013::1\","
    " \"receiving-mx-hostname\": \"mx2.mail.company-y.example\","
    " \"receiving-ip\": \"203.0.113.56\", \"failed-session-count\": 200,"
    " \"additional-information\": \"https://reports.company-x.example/x\"},\n"
    "   {\"result-type\": \"validation-failure\", \"sending-mta-ip\": \"198.51.100.62\","
    " \"receiving-ip\": \"203.0.113.58\", \"failed-session-count\": 3,"
    " \"failure-reason-code\": \"X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED\"}]\n"
    " }]\n}\n";

static void
test_rfc_example(void **state)
{
	struct tlsrpt_report r;
	char why[TLSRPT_WHY_MAX] = "";

	assert_int_equal(tlsrpt_parse(rfc_example, strlen(rfc_example), &r, why, sizeof(why)), 0);
	assert_string_equal(r.org, "Company-X");
	assert_string_equal(r.report_id, "5065427c-23d3-47ca-b6e0-946ea0e8c4be");
	assert_int_equal(r.begin, 1459468800);
	assert_int_equal(r.end, 1459468800 + 86399);
	assert_int_equal(r.npolicies, 1);
	assert_string_equal(r.policies[0].type, "sts");
	assert_string_equal(r.policies[0].domain, "company-y.example");
	assert_int_equal(r.policies[0].success, 5326);
	assert_int_equal(r.policies[0].failure, 303);
	assert_int_equal(r.policies[0].ndetails, 3);
	assert_string_equal(r.policies[0].details[1].result_type, "starttls-not-supported");
	assert_string_equal(r.policies[0].details[1].receiving_ip, "203.0.113.56");
	assert_int_equal(r.policies[0].details[1].count, 200);
	tlsrpt_clear(&r);
}

struct bad_case {
	const char *doc;
	const char *why;
};

#define DR "\"date-range\":{\"start-datetime\":\"2016-04-01T00:00:00Z\",\"end-datetime\":\"2016-04-02T00:00:00+02:00\"}"
#define ID "\"organization-name\":\"o\",\"report-id\":\"r\""

static const struct bad_case bad_cases[] = {
	{ "", "not JSON" },
	{ "[1,2]", "not a JSON object" },
	{ "{" DR ",\"policies\":[]}", "organization-name" },
	{ "{" ID ",\"policies\":[]}", "date-range" },
	{ "{" ID ",\"date-range\":{\"start-datetime\":\"yesterday\",\"end-datetime\":\"x\"},\"policies\":[]}",
	    "date-range" },
	{ "{" ID "," DR "}", "policies" },
	{ "{" ID "," DR ",\"policies\":[1]}", "not an object" },
	{ "{" ID "," DR ",\"policies\":[{\"summary\":{}}]}", "policy-type" },
	{ "{" ID "," DR ",\"policies\":[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":\"d\"},"
	    "\"summary\":{\"total-successful-session-count\":-1}}]}", "summary" },
	{ "{" ID "," DR ",\"policies\":[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":\"d\"},"
	    "\"summary\":{\"total-successful-session-count\":\"5\"}}]}", "summary" },
	{ "{" ID "," DR ",\"policies\":[{\"policy\":{\"policy-type\":\"sts\",\"policy-domain\":\"d\"},"
	    "\"summary\":{},\"failure-details\":[{\"failed-session-count\":1}]}]}", "result-type" },
	{ "{" ID "," ID "," DR ",\"policies\":[]}", "not JSON" },	/* duplicate keys */
};

static void
test_refused(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(bad_cases); i++) {
		struct tlsrpt_report r;
		char why[TLSRPT_WHY_MAX] = "";
		int rc = tlsrpt_parse(bad_cases[i].doc, strlen(bad_cases[i].doc), &r, why, sizeof(why));
		CASE_CHECK(bad, rc == -1, i, "accepted %s", bad_cases[i].doc);
		CASE_CHECK(bad, strstr(why, bad_cases[i].why) != NULL, i, "why \"%s\", want \"%s\"", why,
		    bad_cases[i].why);
		tlsrpt_clear(&r);
	}
	assert_int_equal(bad, 0);
	{
		/* an offset in the date is honoured; a policy with no details is fine */
		const char *ok = "{" ID "," DR ",\"policies\":[{\"policy\":{\"policy-type\":"
		    "\"no-policy-found\",\"policy-domain\":\"example.test\"},\"summary\":"
		    "{\"total-successful-session-count\":4}}]}";
		struct tlsrpt_report r;
		char why[TLSRPT_WHY_MAX];
		assert_int_equal(tlsrpt_parse(ok, strlen(ok), &r, why, sizeof(why)), 0);
		assert_int_equal(r.end, 1459468800 + 86400 - 7200);
		assert_int_equal(r.policies[0].success, 4);
		assert_int_equal(r.policies[0].failure, 0);
		tlsrpt_clear(&r);
	}
}

/* What we send parses back as what we counted. lib/json.h's
 * json_string is linked in, as in the server, where it interposes on
 * jansson's of the same name (the builder must use neither). */
static void
test_build_roundtrip(void **state)
{
	{
		char *buf = NULL;
		size_t blen = 0;
		FILE *f = open_memstream(&buf, &blen);
		json_string(f, "linked");
		fclose(f);
		free(buf);
	}
	struct tlsrpt_row rows[] = {
		{ "no-policy-found", "", "mx.remote.test", "192.0.2.7", 5 },
		{ "no-policy-found", "certificate-expired", "mx.remote.test", "192.0.2.7", 2 },
		{ "sts", "sts-policy-fetch-error", "mx2.remote.test", "192.0.2.8", 1 },
	};
	struct tlsrpt_meta m = { "mx.example.test", "mailto:postmaster@example.test", "id-1",
		1700000000, 1700086400, "198.51.100.1" };
	char *json = tlsrpt_build(&m, "remote.test", rows, NELEM(rows)), why[TLSRPT_WHY_MAX];
	struct tlsrpt_report r;

	assert_non_null(json);
	assert_int_equal(tlsrpt_parse(json, strlen(json), &r, why, sizeof(why)), 0);
	assert_string_equal(r.org, "mx.example.test");
	assert_string_equal(r.report_id, "id-1");
	assert_int_equal(r.begin, 1700000000);
	assert_int_equal(r.end, 1700086400);
	assert_int_equal(r.npolicies, 2);
	assert_string_equal(r.policies[0].type, "no-policy-found");
	assert_string_equal(r.policies[0].domain, "remote.test");
	assert_int_equal(r.policies[0].success, 5);
	assert_int_equal(r.policies[0].failure, 2);
	assert_int_equal(r.policies[0].ndetails, 1);
	assert_string_equal(r.policies[0].details[0].result_type, "certificate-expired");
	assert_string_equal(r.policies[0].details[0].receiving_mx, "mx.remote.test");
	assert_string_equal(r.policies[0].details[0].sending_ip, "198.51.100.1");
	assert_string_equal(r.policies[1].type, "sts");
	assert_int_equal(r.policies[1].success, 0);
	assert_int_equal(r.policies[1].failure, 1);
	tlsrpt_clear(&r);
	free(json);
}

struct classify_case {
	const char *reason, *type;
};

static const struct classify_case classify_cases[] = {
	{ "451 4.7.5 example.org requires TLS: the server does not offer STARTTLS", "starttls-not-supported" },
	{ "451 4.7.5 TLS to mx.example.org: certificate verify failed: certificate has expired", "certificate-expired" },
	{ "certificate verify failed: Hostname mismatch", "certificate-host-mismatch" },
	{ "certificate verify failed: self-signed certificate", "certificate-not-trusted" },
	{ "certificate verify failed: unable to get local issuer certificate", "certificate-not-trusted" },
	{ "TLS handshake with mx.example.org failed: wrong version number", "validation-failure" },
	{ "MTA-STS policy of example.org could not be fetched: HTTP 404", "sts-policy-fetch-error" },
	{ "MTA-STS (enforce): mx.evil.test is not listed in the policy", "sts-webpki-invalid" },
	{ "MTA-STS policy of example.org is invalid", "sts-policy-invalid" },
	{ "DANE: no TLSA record matches the certificate of mx.example.org", "tlsa-invalid" },
	{ "DANE: TLSA lookup for _25._tcp.mx.example.org bogus (DNSSEC)", "dnssec-invalid" },
	{ "451 4.3.0 try later", NULL },
	{ "connection timed out", NULL },
	{ "550 5.1.1 no such user", NULL },
};

static void
test_classify(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(classify_cases); i++) {
		const char *t = tlsrpt_classify(classify_cases[i].reason);
		const char *w = classify_cases[i].type;
		CASE_CHECK(bad, (t == NULL && w == NULL) || (t && w && strcmp(t, w) == 0), i,
		    "%s -> %s, want %s", classify_cases[i].reason, t ? t : "NULL", w ? w : "NULL");
	}
	assert_int_equal(bad, 0);
}

struct line_case {
	const char *event, *fields, *line;
};

static const struct line_case line_cases[] = {
	{ "delivered", "id=A1 rcpt=bob@Remote.Test from=a@b relay=mx.remote.test[192.0.2.7]:25 tls=TLSv1.3 reply=ok",
	    "100 remote.test no-policy-found success mx.remote.test 192.0.2.7" },
	{ "delivered", "id=A1 rcpt=bob@remote.test from=a@b relay=mx.remote.test[192.0.2.7]:25 tls=none reply=ok",
	    "100 remote.test no-policy-found starttls-not-supported mx.remote.test 192.0.2.7" },
	{ "delivered", "id=A1 rcpt=bob@remote.test from=a@b relay=mx.remote.test[192.0.2.7]:25 tls=TLSv1.3 policy=sts",
	    "100 remote.test sts success mx.remote.test 192.0.2.7" },
	{ "deferred", "id=A1 rcpt=bob@remote.test from=a@b relay=mx.remote.test[192.0.2.7]:25 reason=\"TLS to mx.remote.test: certificate verify failed: certificate has expired\" attempt=1",
	    "100 remote.test no-policy-found certificate-expired mx.remote.test 192.0.2.7" },
	{ "deferred", "id=A1 rcpt=bob@remote.test from=a@b relay=mx.remote.test[192.0.2.7]:25 reason=\"MTA-STS policy of remote.test could not be fetched\" attempt=1",
	    "100 remote.test sts sts-policy-fetch-error mx.remote.test 192.0.2.7" },
	/* not TLS results */
	{ "deferred", "id=A1 rcpt=bob@remote.test relay=mx.remote.test[192.0.2.7]:25 reason=\"451 4.3.0 try later\"", NULL },
	{ "delivered", "id=A1 rcpt=bob@example.test relay=local mailbox=x", NULL },
	{ "deferred", "id=A1 rcpt=bob@remote.test relay=none reason=\"cannot resolve\"", NULL },
	{ "accepted", "id=A1 rcpt=bob@remote.test relay=mx[1.2.3.4]:25 tls=TLSv1.3", NULL },
	{ "delivered", "id=A1 rcpt=bob@remote.test relay=mx[1.2.3.4]:25", NULL },	/* no tls= */
};

static void
test_lines(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(line_cases); i++) {
		char out[512] = "";
		size_t n = tlsrpt_note_line(line_cases[i].event, line_cases[i].fields, 100, out,
		    sizeof(out));
		const char *w = line_cases[i].line;
		CASE_CHECK(bad, (n == 0 && w == NULL) || (n > 0 && w && strcmp(out, w) == 0), i,
		    "got \"%s\", want \"%s\"", n ? out : "(none)", w ? w : "(none)");
	}
	assert_int_equal(bad, 0);
}

static void
test_tally(void **state)
{
	struct tally t;

	tally_init(&t);
	tlsrpt_note_add(&t, S("100 remote.test no-policy-found success mx.remote.test 192.0.2.7"));
	tlsrpt_note_add(&t, S("90 remote.test no-policy-found success mx.remote.test 192.0.2.7"));
	tlsrpt_note_add(&t, S("110 other.test sts success mx.other.test 192.0.2.8"));
	tlsrpt_note_add(&t, S("garbage"));
	tlsrpt_note_add(&t, S("0 remote.test a b c d"));
	assert_int_equal(t.n, 2);
	assert_int_equal(t.dropped, 2);
	assert_int_equal(t.rows[0].count, 2);
	assert_string_equal(t.rows[0].group, "remote.test");
	assert_string_equal(t.rows[0].key, "no-policy-found success mx.remote.test 192.0.2.7");
	assert_int_equal(t.begin, 90);
	assert_int_equal(t.end, 110);
	tally_clear(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_build_roundtrip),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_tally),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
