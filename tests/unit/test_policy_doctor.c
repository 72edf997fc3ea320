/*
 * Table tests for the pure parts of postern doctor (src/policy/doctor.h):
 * the comparison of a published DKIM key record with ours, address
 * normalization, and the public_ip and doctor_interval keys of the
 * configuration it reads.
 */
#include "unit.h"

#include "lib/config.h"
#include "policy/doctor.h"

#define OURS "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/0="

static void
test_dkim_match(void **state)
{
	static const struct {
		const char *published;
		enum doctor_status want;
		const char *why;	/* a word of the reason, NULL when ok */
	} cases[] = {
		{ OURS, DOCTOR_OK, NULL },
		/* FWS inside p= and around tags (RFC 6376 3.6.1) */
		{ "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A MIIBCgKCAQEAxyz+/0=",
		  DOCTOR_OK, NULL },
		{ " v = DKIM1 ;k=rsa;\tp = MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/0= ;",
		  DOCTOR_OK, NULL },
		/* k= defaults to rsa, v= is optional, other tags are allowed */
		{ "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/0=", DOCTOR_OK, NULL },
		{ "v=DKIM1; h=sha256; t=s; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/0=",
		  DOCTOR_OK, NULL },
		/* differences */
		{ "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/1=",
		  DOCTOR_FAIL, "public half" },
		{ "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/0",
		  DOCTOR_FAIL, "public half" },
		{ "v=DKIM1; k=ed25519; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/0=",
		  DOCTOR_FAIL, "k=" },
		{ "v=DKIM1; k=rsa; p=", DOCTOR_FAIL, "revoked" },
		{ "v=DKIM1; k=rsa; p= ", DOCTOR_FAIL, "revoked" },
		{ "v=DKIM1; k=rsa", DOCTOR_FAIL, "no p=" },
		{ "v=DKIM2; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxyz+/0=", DOCTOR_FAIL,
		  "DKIM1" },
		{ "v=spf1 -all", DOCTOR_FAIL, "DKIM1" },
		{ "spf1 -all", DOCTOR_FAIL, "tag list" },
		{ "", DOCTOR_FAIL, "no p=" },
		{ "p=a; p=b", DOCTOR_FAIL, "tag list" },
		{ "v=DKIM1; k=rsa; p=MIIB\x01", DOCTOR_FAIL, "tag list" },
	};
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		const char *why = "unset";
		enum doctor_status st = doctor_dkim_match(cases[i].published,
		    strlen(cases[i].published), OURS, &why);
		CASE_CHECK(bad, st == cases[i].want, i, "\"%s\": status %d", cases[i].published,
		    (int)st);
		if (cases[i].why == NULL)
			CASE_CHECK(bad, why == NULL, i, "\"%s\": reason %s", cases[i].published,
			    why);
		else
			CASE_CHECK(bad, why != NULL && strstr(why, cases[i].why) != NULL, i,
			    "\"%s\": reason %s", cases[i].published, why ? why : "(null)");
	}
	/* bounded by len: the bytes after it are never read */
	{
		const char *why;
		char buf[] = OURS "garbage";
		assert_int_equal(doctor_dkim_match(buf, strlen(OURS), OURS, &why), DOCTOR_OK);
	}
	assert_int_equal(bad, 0);
}

static void
test_ip_normalize(void **state)
{
	static const struct {
		const char *in, *out;	/* out NULL: refused */
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1" },
		{ "2001:DB8:0:0::1", "2001:db8::1" },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.1" },
		{ "127.0.0.2", "127.0.0.2" },
		{ "192.0.2.300", NULL },
		{ "192.0.2.1/24", NULL },
		{ "mx.example.org", NULL },
		{ "", NULL },
		{ "1.2.3", NULL },
	};
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		char out[64] = "";
		int rc = doctor_ip_normalize(cases[i].in, out, sizeof(out));
		if (cases[i].out == NULL)
			CASE_CHECK(bad, rc == -1, i, "\"%s\" accepted as %s", cases[i].in, out);
		else
			CASE_CHECK(bad, rc == 0 && strcmp(out, cases[i].out) == 0, i,
			    "\"%s\" -> \"%s\"", cases[i].in, out);
	}
	assert_int_equal(bad, 0);
}

static void
test_config_public_ip(void **state)
{
	static const struct {
		const char *text;
		size_t problems;
		const char *ips;	/* space-joined, normalized */
	} cases[] = {
		{ "domains = a.test\n", 0, "" },
		{ "domains = a.test\npublic_ip = 192.0.2.1\n", 0, "192.0.2.1" },
		{ "domains = a.test\npublic_ip = 192.0.2.1 2001:DB8::25\n", 0,
		  "192.0.2.1 2001:db8::25" },
		{ "domains = a.test\npublic_ip = 192.0.2.1, 198.51.100.7\n", 0,
		  "192.0.2.1 198.51.100.7" },
		{ "domains = a.test\npublic_ip = 192.0.2.0/24\n", 1, "" },
		{ "domains = a.test\npublic_ip = mx.a.test\n", 1, "" },
	};
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct config cfg;
		struct config_diag diag = { 0 };
		char got[256] = "";
		size_t n = config_parse(cases[i].text, strlen(cases[i].text), "t.conf", "/",
		    &cfg, &diag);
		for (size_t k = 0; k < cfg.npublic_ip; k++) {
			strcat(got, k ? " " : "");
			strcat(got, cfg.public_ip[k]);
		}
		CASE_CHECK(bad, n == cases[i].problems, i, "%zu problems (%s)", n,
		    diag.n ? diag.msgs[0] : "");
		if (cases[i].problems == 0)
			CASE_CHECK(bad, strcmp(got, cases[i].ips) == 0, i, "public_ip \"%s\"", got);
		else
			CASE_CHECK(bad, diag.n > 0 && strstr(diag.msgs[0], "t.conf:2:") != NULL &&
			    strstr(diag.msgs[0], "public_ip") != NULL, i, "diag %s",
			    diag.n ? diag.msgs[0] : "(none)");
		config_clear(&cfg);
		config_diag_clear(&diag);
	}
	assert_int_equal(bad, 0);
}

static void
test_config_doctor_interval(void **state)
{
	static const struct {
		const char *text;
		size_t problems;
		unsigned want;
	} cases[] = {
		{ "domains = a.test\n", 0, 3600 },		/* SPEC 9: 1h */
		{ "domains = a.test\ndoctor_interval = 10m\n", 0, 600 },
		{ "domains = a.test\ndoctor_interval = 1d\n", 0, 86400 },
		{ "domains = a.test\ndoctor_interval = 0\n", 1, 0 },
		{ "domains = a.test\ndoctor_interval = soon\n", 1, 0 },
	};
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct config cfg;
		struct config_diag diag = { 0 };
		size_t n = config_parse(cases[i].text, strlen(cases[i].text), "t.conf", "/",
		    &cfg, &diag);
		CASE_CHECK(bad, n == cases[i].problems, i, "%zu problems (%s)", n,
		    diag.n ? diag.msgs[0] : "");
		if (cases[i].problems == 0)
			CASE_CHECK(bad, cfg.doctor_interval == cases[i].want, i, "interval %u",
			    cfg.doctor_interval);
		else
			CASE_CHECK(bad, diag.n > 0 && strstr(diag.msgs[0], "doctor_interval") != NULL,
			    i, "diag %s", diag.n ? diag.msgs[0] : "(none)");
		config_clear(&cfg);
		config_diag_clear(&diag);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_match),
		cmocka_unit_test(test_ip_normalize),
		cmocka_unit_test(test_config_public_ip),
		cmocka_unit_test(test_config_doctor_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
