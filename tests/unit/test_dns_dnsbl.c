/*
 * Table tests for the Spamhaus query names and return codes
 * (src/dns/dnsbl.h) and the DNS rdata decoding (src/dns/answer.h).
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns/answer.h"
#include "dns/dnsbl.h"

struct ipname_case {
	const char *ip;
	const char *zone;
	const char *want;	/* NULL: refused */
};

static const struct ipname_case ipname_cases[] = {
	{ "127.0.0.2", "zen.spamhaus.org", "2.0.0.127.zen.spamhaus.org" },
	{ "192.0.2.99", "zen.spamhaus.org", "99.2.0.192.zen.spamhaus.org" },
	{ "1.2.3.4", "KEY.zen.dq.spamhaus.net", "4.3.2.1.KEY.zen.dq.spamhaus.net" },
	{ "255.255.255.255", "z", "255.255.255.255.z" },
	{ "2001:db8::1", "zen.spamhaus.org",
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org" },
	{ "2001:0db8:0000:0000:0000:0000:0000:0001", "zen.spamhaus.org",
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org" },
	{ "::1", "zen", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.zen" },
	{ "2a01:4f8:c17:1a2b::abcd", "zen",
	    "d.c.b.a.0.0.0.0.0.0.0.0.0.0.0.0.b.2.a.1.7.1.c.0.8.f.4.0.1.0.a.2.zen" },
	/* IPv4-mapped IPv6 is looked up as IPv4 */
	{ "::ffff:192.0.2.1", "zen.spamhaus.org", "1.2.0.192.zen.spamhaus.org" },
	{ "not an ip", "zen", NULL },
	{ "1.2.3", "zen", NULL },
	{ "01.2.3.4", "zen", NULL },
	{ "", "zen", NULL },
};

static void
test_ip_names(void **state)
{
	char out[DNSBL_NAME_MAX + 80];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(ipname_cases); i++) {
		const struct ipname_case *c = &ipname_cases[i];
		int rc = dnsbl_ip_name_str(c->ip, c->zone, out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, rc == -1, i, "%s: accepted as %s", c->ip, out);
		else
			CASE_CHECK(bad, rc == 0 && strcmp(out, c->want) == 0, i,
			    "%s: got rc=%d %s", c->ip, rc, rc == 0 ? out : "");
	}
	/* the sockaddr form agrees */
	{
		struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
		struct sockaddr_in s4 = { .sin_family = AF_INET };
		inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
		assert_int_equal(dnsbl_ip_name((struct sockaddr *)&s6, "zen.spamhaus.org", out,
		    sizeof(out)), 0);
		assert_string_equal(out, ipname_cases[4].want);
		inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
		assert_int_equal(dnsbl_ip_name((struct sockaddr *)&s4, "zen.spamhaus.org", out,
		    sizeof(out)), 0);
		assert_string_equal(out, "2.0.0.127.zen.spamhaus.org");
		/* too small a buffer is refused, not truncated */
		assert_int_equal(dnsbl_ip_name((struct sockaddr *)&s6, "zen.spamhaus.org", out, 40), -1);
	}
	assert_int_equal(bad, 0);
}

static const struct ipname_case domname_cases[] = {
	{ "dbltest.com", "dbl.spamhaus.org", "dbltest.com.dbl.spamhaus.org" },
	{ "Mail.Example.COM", "dbl.spamhaus.org", "mail.example.com.dbl.spamhaus.org" },
	{ "example.com.", "dbl.spamhaus.org", "example.com.dbl.spamhaus.org" },
	{ "a-b_c.example.org", "dbl", "a-b_c.example.org.dbl" },
	/* never an IP literal: the DBL would answer 127.0.1.255 */
	{ "192.0.2.1", "dbl.spamhaus.org", NULL },
	{ "[192.0.2.1]", "dbl.spamhaus.org", NULL },
	{ "2001:db8::1", "dbl.spamhaus.org", NULL },
	{ "[IPv6:2001:db8::1]", "dbl.spamhaus.org", NULL },
	{ "1.2.3.4.5", "dbl.spamhaus.org", NULL },
	/* not host names */
	{ "localhost", "dbl.spamhaus.org", NULL },
	{ "", "dbl.spamhaus.org", NULL },
	{ ".example.com", "dbl.spamhaus.org", NULL },
	{ "a..example.com", "dbl.spamhaus.org", NULL },
	{ "exa mple.com", "dbl.spamhaus.org", NULL },
	{ "ex\"ample.com", "dbl.spamhaus.org", NULL },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "dbl", NULL },
};

static void
test_domain_names(void **state)
{
	char out[DNSBL_NAME_MAX + 80];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(domname_cases); i++) {
		const struct ipname_case *c = &domname_cases[i];
		int rc = dnsbl_domain_name(c->ip, strlen(c->ip), c->zone, out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, rc == -1, i, "%s: accepted as %s", c->ip, out);
		else
			CASE_CHECK(bad, rc == 0 && strcmp(out, c->want) == 0, i,
			    "%s: got rc=%d %s", c->ip, rc, rc == 0 ? out : "");
	}
	assert_int_equal(bad, 0);
}

static void
test_dqs_zones(void **state)
{
	char ip[DNSBL_NAME_MAX], dom[DNSBL_NAME_MAX];

	dnsbl_zones("zen.spamhaus.org", "dbl.spamhaus.org", NULL, ip, dom);
	assert_string_equal(ip, "zen.spamhaus.org");
	assert_string_equal(dom, "dbl.spamhaus.org");
	dnsbl_zones("zen.spamhaus.org", "dbl.spamhaus.org", "", ip, dom);
	assert_string_equal(ip, "zen.spamhaus.org");
	dnsbl_zones("zen.spamhaus.org", "dbl.spamhaus.org", "abc123", ip, dom);
	assert_string_equal(ip, "abc123.zen.dq.spamhaus.net");
	assert_string_equal(dom, "abc123.dbl.dq.spamhaus.net");
	dnsbl_zones("my.zen", "my.dbl", NULL, ip, dom);
	assert_string_equal(ip, "my.zen");
	assert_string_equal(dom, "my.dbl");
}

struct code_case {
	enum dnsbl_kind kind;
	unsigned char a[4];
	size_t len;
	enum dnsbl_code want;
};

#define IP DNSBL_KIND_IP
#define DOM DNSBL_KIND_DOMAIN
#define AUTH DNSBL_KIND_AUTHBL
#define ZRD DNSBL_KIND_ZRD
#define HBL DNSBL_KIND_HBL
static const struct code_case code_cases[] = {
	/* zen: every documented code */
	{ IP, { 127, 0, 0, 2 }, 4, DNSBL_SBL },
	{ IP, { 127, 0, 0, 3 }, 4, DNSBL_SBL_CSS },
	{ IP, { 127, 0, 0, 4 }, 4, DNSBL_XBL },
	{ IP, { 127, 0, 0, 5 }, 4, DNSBL_XBL },
	{ IP, { 127, 0, 0, 6 }, 4, DNSBL_XBL },
	{ IP, { 127, 0, 0, 7 }, 4, DNSBL_XBL },
	{ IP, { 127, 0, 0, 9 }, 4, DNSBL_SBL_DROP },
	{ IP, { 127, 0, 0, 10 }, 4, DNSBL_PBL },
	{ IP, { 127, 0, 0, 11 }, 4, DNSBL_PBL },
	/* zen: undocumented and error codes are never listings */
	{ IP, { 127, 0, 0, 0 }, 4, DNSBL_ERROR },
	{ IP, { 127, 0, 0, 1 }, 4, DNSBL_ERROR },
	{ IP, { 127, 0, 0, 8 }, 4, DNSBL_ERROR },
	{ IP, { 127, 0, 0, 12 }, 4, DNSBL_ERROR },
	{ IP, { 127, 0, 0, 255 }, 4, DNSBL_ERROR },
	{ IP, { 127, 255, 255, 250 }, 4, DNSBL_ERROR },
	{ IP, { 127, 255, 255, 251 }, 4, DNSBL_ERROR },
	{ IP, { 127, 255, 255, 252 }, 4, DNSBL_ERROR },
	{ IP, { 127, 255, 255, 254 }, 4, DNSBL_ERROR },
	{ IP, { 127, 255, 255, 255 }, 4, DNSBL_ERROR },
	{ IP, { 127, 0, 1, 2 }, 4, DNSBL_ERROR },	/* a DBL code in zen */
	{ IP, { 10, 0, 0, 2 }, 4, DNSBL_ERROR },	/* outside 127/8 */
	{ IP, { 192, 0, 2, 1 }, 4, DNSBL_ERROR },
	{ IP, { 0, 0, 0, 0 }, 4, DNSBL_ERROR },
	{ IP, { 127, 0, 0 }, 3, DNSBL_ERROR },		/* malformed rdata */
	{ IP, { 0 }, 0, DNSBL_ERROR },
	/* DBL: every documented code */
	{ DOM, { 127, 0, 1, 2 }, 4, DNSBL_DBL_SPAM },
	{ DOM, { 127, 0, 1, 4 }, 4, DNSBL_DBL_PHISH },
	{ DOM, { 127, 0, 1, 5 }, 4, DNSBL_DBL_MALWARE },
	{ DOM, { 127, 0, 1, 6 }, 4, DNSBL_DBL_BOTNET },
	{ DOM, { 127, 0, 1, 3 }, 4, DNSBL_DBL_OTHER },
	{ DOM, { 127, 0, 1, 99 }, 4, DNSBL_DBL_OTHER },
	{ DOM, { 127, 0, 1, 102 }, 4, DNSBL_DBL_ABUSED },
	{ DOM, { 127, 0, 1, 103 }, 4, DNSBL_DBL_ABUSED },
	{ DOM, { 127, 0, 1, 104 }, 4, DNSBL_DBL_ABUSED },
	{ DOM, { 127, 0, 1, 105 }, 4, DNSBL_DBL_ABUSED },
	{ DOM, { 127, 0, 1, 106 }, 4, DNSBL_DBL_ABUSED },
	/* DBL: errors */
	{ DOM, { 127, 0, 1, 255 }, 4, DNSBL_ERROR },	/* an IP was queried */
	{ DOM, { 127, 0, 1, 0 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 0, 1, 1 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 0, 1, 100 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 0, 1, 101 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 0, 1, 107 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 0, 0, 2 }, 4, DNSBL_ERROR },	/* a zen code in DBL */
	{ DOM, { 127, 255, 255, 252 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 255, 255, 254 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 255, 255, 255 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 255, 255, 250 }, 4, DNSBL_ERROR },
	{ DOM, { 127, 255, 255, 251 }, 4, DNSBL_ERROR },
	{ DOM, { 8, 8, 8, 8 }, 4, DNSBL_ERROR },
	/* AuthBL (SPEC 4.1): 127.0.0.20, and any other 127/8 record but the
	 * 127.255.255.x errors */
	{ AUTH, { 127, 0, 0, 20 }, 4, DNSBL_AUTHBL },
	{ AUTH, { 127, 0, 0, 2 }, 4, DNSBL_AUTHBL },
	{ AUTH, { 127, 255, 255, 254 }, 4, DNSBL_ERROR },
	{ AUTH, { 127, 255, 255, 250 }, 4, DNSBL_ERROR },
	{ AUTH, { 127, 255, 255, 251 }, 4, DNSBL_ERROR },
	{ AUTH, { 10, 0, 0, 20 }, 4, DNSBL_ERROR },
	{ AUTH, { 127, 0, 0 }, 3, DNSBL_ERROR },
	/* ZRD: 127.0.2.2-24, the hours since first seen */
	{ ZRD, { 127, 0, 2, 2 }, 4, DNSBL_ZRD },
	{ ZRD, { 127, 0, 2, 4 }, 4, DNSBL_ZRD },
	{ ZRD, { 127, 0, 2, 5 }, 4, DNSBL_ZRD },
	{ ZRD, { 127, 0, 2, 24 }, 4, DNSBL_ZRD },
	{ ZRD, { 127, 0, 2, 1 }, 4, DNSBL_ERROR },
	{ ZRD, { 127, 0, 2, 25 }, 4, DNSBL_ERROR },
	{ ZRD, { 127, 0, 1, 2 }, 4, DNSBL_ERROR },
	{ ZRD, { 127, 255, 255, 252 }, 4, DNSBL_ERROR },
	{ ZRD, { 192, 168, 0, 1 }, 4, DNSBL_ERROR },
	/* HBL: one code per kind of item */
	{ HBL, { 127, 0, 3, 2 }, 4, DNSBL_HBL_EMAIL },
	{ HBL, { 127, 0, 3, 10 }, 4, DNSBL_HBL_FILE_MALWARE },
	{ HBL, { 127, 0, 3, 15 }, 4, DNSBL_HBL_FILE_SUSPICIOUS },
	{ HBL, { 127, 0, 3, 20 }, 4, DNSBL_HBL_CW },
	{ HBL, { 127, 0, 3, 3 }, 4, DNSBL_ERROR },
	{ HBL, { 127, 0, 3, 255 }, 4, DNSBL_ERROR },
	{ HBL, { 127, 0, 0, 2 }, 4, DNSBL_ERROR },
	{ HBL, { 127, 255, 255, 254 }, 4, DNSBL_ERROR },
	{ HBL, { 127, 255, 255, 255 }, 4, DNSBL_ERROR },
	{ HBL, { 10, 0, 3, 20 }, 4, DNSBL_ERROR },
};

static void
test_classify(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(code_cases); i++) {
		const struct code_case *c = &code_cases[i];
		enum dnsbl_code got = dnsbl_classify(c->kind, c->a, c->len);
		CASE_CHECK(bad, got == c->want, i, "%u.%u.%u.%u: got %s, want %s",
		    c->a[0], c->a[1], c->a[2], c->a[3], dnsbl_code_name(got),
		    dnsbl_code_name(c->want));
	}
	assert_int_equal(bad, 0);
	assert_true(dnsbl_code_rejects(DNSBL_SBL));
	assert_true(dnsbl_code_rejects(DNSBL_PBL));
	assert_true(dnsbl_code_rejects(DNSBL_DBL_SPAM));
	assert_false(dnsbl_code_rejects(DNSBL_DBL_ABUSED));
	assert_false(dnsbl_code_rejects(DNSBL_ERROR));
	assert_false(dnsbl_code_rejects(DNSBL_NONE));
	/* the DQS-only lists never refuse a recipient */
	assert_false(dnsbl_code_rejects(DNSBL_AUTHBL));
	assert_false(dnsbl_code_rejects(DNSBL_ZRD));
	assert_false(dnsbl_code_rejects(DNSBL_HBL_FILE_MALWARE));
}

static void
test_dqs_only_zones(void **state)
{
	char out[DNSBL_NAME_MAX];
	static const char fresh[4] = { 127, 0, 2, 3 }, older[4] = { 127, 0, 2, 17 };
	const char *data[2] = { older, fresh };
	int len[2] = { 4, 4 };
	struct dnsbl_verdict v;

	dnsbl_dqs_zone("K3y", DNSBL_KIND_AUTHBL, out);
	assert_string_equal(out, "K3y.authbl.dq.spamhaus.net");
	dnsbl_dqs_zone("K3y", DNSBL_KIND_ZRD, out);
	assert_string_equal(out, "K3y.zrd.dq.spamhaus.net");
	dnsbl_dqs_zone("K3y", DNSBL_KIND_HBL, out);
	assert_string_equal(out, "K3y.hbl.dq.spamhaus.net");
	/* without a key, or for a public zone: nothing to ask */
	dnsbl_dqs_zone(NULL, DNSBL_KIND_HBL, out);
	assert_string_equal(out, "");
	dnsbl_dqs_zone("", DNSBL_KIND_ZRD, out);
	assert_string_equal(out, "");
	dnsbl_dqs_zone("K3y", DNSBL_KIND_IP, out);
	assert_string_equal(out, "");
	assert_string_equal(dnsbl_kind_display(DNSBL_KIND_HBL), "hbl");
	/* ZRD: the freshest record gives the hours */
	dnsbl_verdict_of(DNSBL_KIND_ZRD, data, len, 2, &v);
	assert_int_equal(v.code, DNSBL_ZRD);
	assert_int_equal(v.hours, 3);
	dnsbl_verdict_of(DNSBL_KIND_ZRD, data, len, 1, &v);
	assert_int_equal(v.hours, 17);
}

static void
test_verdicts(void **state)
{
	static const char sbl[4] = { 127, 0, 0, 2 }, xbl[4] = { 127, 0, 0, 4 },
	    pbl[4] = { 127, 0, 0, 10 }, err[4] = { 127, (char)255, (char)255, (char)254 };
	const char *data[3];
	int len[3] = { 4, 4, 4 };
	struct dnsbl_verdict v;
	char lists[64];

	/* The test point: SBL, XBL and PBL at once; SBL shown. */
	data[0] = pbl, data[1] = sbl, data[2] = xbl;
	dnsbl_verdict_of(DNSBL_KIND_IP, data, len, 3, &v);
	assert_int_equal(v.code, DNSBL_SBL);
	assert_string_equal(v.text, "127.0.0.2");
	dnsbl_lists_text(&v, lists, sizeof(lists));
	assert_string_equal(lists, "SBL, XBL, PBL");
	/* An error among listings: the whole answer is untrusted. */
	data[0] = sbl, data[1] = err;
	dnsbl_verdict_of(DNSBL_KIND_IP, data, len, 2, &v);
	assert_int_equal(v.code, DNSBL_ERROR);
	assert_string_equal(v.text, "127.255.255.254");
	assert_int_equal(v.lists, 0);
	assert_false(dnsbl_code_rejects(v.code));
	/* No records: not listed. */
	dnsbl_verdict_of(DNSBL_KIND_IP, data, len, 0, &v);
	assert_int_equal(v.code, DNSBL_NONE);
	/* A short record is an error, never read past its length. */
	len[0] = 2;
	data[0] = sbl;
	dnsbl_verdict_of(DNSBL_KIND_IP, data, len, 1, &v);
	assert_int_equal(v.code, DNSBL_ERROR);
}

struct wire_case {
	const char *in;
	size_t len;
	const char *want;	/* NULL: refused */
};

static const struct wire_case wire_cases[] = {
	{ S("\x04mail\x07""example\x03""com\x00"), "mail.example.com" },
	{ S("\x02MX\x07""Example\x04TEST\x00"), "mx.example.test" },
	{ S("\x01""a\x00"), "a" },
	{ S("\x00"), NULL },				/* the root */
	{ S("\x04mail\x07""example"), NULL },		/* truncated label */
	{ S("\x04mail\x07""example\x03""com"), NULL },	/* no terminator */
	{ S("\xc0\x0c"), NULL },			/* compression pointer */
	{ S("\x04ma l\x03""com\x00"), NULL },		/* space */
	{ S("\x04ma\nl\x03""com\x00"), NULL },		/* control */
	{ S("\x04ma\x00l\x03""com\x00"), NULL },	/* NUL */
	{ S("\x05m\xc3\xa4il\x03""com\x00"), NULL },	/* 8-bit */
	{ S(""), NULL },
};

static void
test_wire_names(void **state)
{
	char out[DNS_NAME_TEXT_MAX];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(wire_cases); i++) {
		const struct wire_case *c = &wire_cases[i];
		int rc = dns_name_from_wire(c->in, c->len, out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, rc == -1, i, "%s: accepted as %s",
			    unit_show(c->in, c->len), out);
		else
			CASE_CHECK(bad, rc == 0 && strcmp(out, c->want) == 0, i, "%s: rc=%d",
			    unit_show(c->in, c->len), rc);
	}
	/* a name too long for the output is refused */
	assert_int_equal(dns_name_from_wire(S("\x04mail\x07""example\x03""com\x00"), out, 8), -1);
	assert_int_equal(bad, 0);
	assert_int_equal(dns_reverse_name("192.0.2.1", out, sizeof(out)), 0);
	assert_string_equal(out, "1.2.0.192.in-addr.arpa");
	assert_int_equal(dns_reverse_name("2001:db8::1", out, sizeof(out)), 0);
	assert_string_equal(out,
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_reverse_name("bogus", out, sizeof(out)), -1);
}

/* Messages for dns_packet_has_soa: a header (id, flags, QD AN NS AR
 * counts), the question "x.test A IN", then records. */
#define HDR(an, ns, ar) "\x12\x34\x81\x83\x00\x01\x00" an "\x00" ns "\x00" ar
#define QUESTION "\x01x\x04test\x00\x00\x01\x00\x01"
/* test. SOA, TTL 300, rdata: root, root, serial..minimum (22 octets) */
#define SOA_RR "\xc0\x0e\x00\x06\x00\x01\x00\x00\x01\x2c\x00\x16\x00\x00" \
	"\x00\x00\x00\x01\x00\x00\x0e\x10\x00\x00\x07\x08\x00\x09\x3a\x80\x00\x00\x01\x2c"
#define NS_RR "\xc0\x0e\x00\x02\x00\x01\x00\x00\x01\x2c\x00\x05\x02ns\xc0\x0e"
#define A_RR "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\xc0\x00\x02\x01"
#define OPT_RR "\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"

static const struct soa_case {
	const char *in;
	size_t len;
	bool want;
} soa_cases[] = {
	{ S(HDR("\x00", "\x01", "\x01") QUESTION SOA_RR OPT_RR), true },	/* NXDOMAIN, SOA */
	{ S(HDR("\x00", "\x01", "\x00") QUESTION SOA_RR), true },
	{ S(HDR("\x01", "\x01", "\x00") QUESTION A_RR SOA_RR), true },	/* SOA after an answer */
	{ S(HDR("\x00", "\x02", "\x00") QUESTION NS_RR SOA_RR), true },
	{ S(HDR("\x00", "\x00", "\x01") QUESTION OPT_RR), false },		/* no authority */
	{ S(HDR("\x00", "\x01", "\x01") QUESTION NS_RR OPT_RR), false },	/* NS only */
	{ S(HDR("\x01", "\x00", "\x00") QUESTION SOA_RR), false },		/* SOA as the answer */
	{ S(HDR("\x00", "\x02", "\x00") QUESTION SOA_RR), false },		/* counts past the end */
	{ S(HDR("\x00", "\x01", "\x00") "\x01x\x44test\x00\x00\x01\x00\x01" SOA_RR), false },
	{ S(HDR("\x00", "\x01", "\x00")), false },				/* no question */
	{ S("\x12\x34\x81\x83\x00\x01"), false },				/* short header */
	{ S(""), false },
};

static void
test_packet_soa(void **state)
{
	size_t bad = 0;
	const struct soa_case *full = &soa_cases[0];

	(void)state;
	for (size_t i = 0; i < NELEM(soa_cases); i++) {
		const struct soa_case *c = &soa_cases[i];
		CASE_CHECK(bad, dns_packet_has_soa(c->in, c->len) == c->want, i, "%s: wrong",
		    unit_show(c->in, c->len));
	}
	/* every cut of a message with an SOA short of the whole SOA record
	 * is malformed, never read past its end (ASan build) */
	for (size_t l = 0; l < full->len - sizeof(OPT_RR) + 1; l++) {
		char *cut = malloc(l ? l : 1);
		memcpy(cut, full->in, l);
		CASE_CHECK(bad, !dns_packet_has_soa(cut, l), l, "cut at %zu: SOA found", l);
		free(cut);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_names),
		cmocka_unit_test(test_domain_names),
		cmocka_unit_test(test_dqs_zones),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_dqs_only_zones),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_wire_names),
		cmocka_unit_test(test_packet_soa),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
