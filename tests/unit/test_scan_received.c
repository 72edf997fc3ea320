/*
 * Table tests for the Received chain (src/scan/received.h): the sending
 * IP of real-world header formats (Postfix, Exim, Sendmail, Exchange,
 * Gmail, qmail, IPv6), the internal-address test, and the walk from the
 * newest header down to the last external hop (SPEC 5.1).
 */
#include "unit.h"

#include "lib/value.h"
#include "scan/received.h"

struct ip_case {
	const char *what;
	const char *value;	/* the header value, after "Received:" */
	const char *want;	/* NULL: no IP */
};

static const struct ip_case ip_cases[] = {
	/* Postfix: "from HELO (RDNS [IP])" */
	{ "postfix", " from mail.example.com (mail.example.com [192.0.2.10])\r\n"
	  "\tby mx.example.test (Postfix) with ESMTPS id 4ABC123\r\n"
	  "\tfor <u@example.test>; Mon, 1 Jan 2024 00:00:00 +0000 (UTC)", "192.0.2.10" },
	{ "postfix unknown rdns", " from helo.example (unknown [198.51.100.7])\n"
	  "\tby mx.example.test (Postfix) with ESMTP id 1F2E3D\n"
	  "\tfor <u@example.test>; Mon, 1 Jan 2024 00:00:00 +0000 (UTC)", "198.51.100.7" },
	{ "postfix ipv6", " from mail.example.org (mail.example.org [IPv6:2001:db8::1])\r\n"
	  "\tby mx.example.test (Postfix) with ESMTPS id 4XYZ; Tue, 2 Jan 2024 10:00:00 +0100",
	  "2001:db8::1" },
	{ "postfix ipv6 long form", " from h (h [IPv6:2001:0DB8:0000:0000:0000:0000:0000:0002])"
	  " by mx", "2001:db8::2" },
	{ "postfix v4-mapped", " from h (h [IPv6:::ffff:192.0.2.5]) by mx", "192.0.2.5" },
	{ "postfix local", " from localhost (localhost [127.0.0.1])\n"
	  "\tby mx.example.test (Postfix) with ESMTP id AB12; Mon, 1 Jan 2024 00:00:00 +0000",
	  "127.0.0.1" },
	{ "postfix pickup", " by mx.example.test (Postfix, from userid 1000)\n"
	  "\tid 3C4D5E; Mon, 1 Jan 2024 00:00:00 +0000 (UTC)", NULL },
	/* a client that says HELO with an address literal (Thunderbird and
	 * most MUAs behind NAT do): the HELO is the client's word, the
	 * address in the comment is what the server saw */
	{ "postfix helo literal", " from [192.168.1.10] (host.isp.example [203.0.113.9])\r\n"
	  "\tby mx.example.test (Postfix) with ESMTPSA id 4Q5R6S\r\n"
	  "\tfor <u@example.test>; Mon, 1 Jan 2024 00:00:00 +0000 (UTC)", "203.0.113.9" },
	{ "postfix helo literal forged", " from [10.0.0.1] (unknown [198.51.100.66])\n"
	  "\tby mx.example.test (Postfix) with ESMTP id 9Z8Y7X; Mon, 1 Jan 2024", "198.51.100.66" },
	/* Exim: "from RDNS ([IP]:PORT helo=HELO)" or "from [IP] (helo=HELO)" */
	{ "exim", " from client.example.org ([203.0.113.5]:54321 helo=client.example.org)\n"
	  "\tby mx.example.test with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384\n"
	  "\t(Exim 4.96)\n\t(envelope-from <a@example.org>)\n\tid 1rABCD-000123-4E\n"
	  "\tfor u@example.test; Mon, 01 Jan 2024 00:00:00 +0000", "203.0.113.5" },
	{ "exim no rdns", " from [203.0.113.6] (helo=[192.168.0.2])\n"
	  "\tby mx.example.test with esmtp (Exim 4.96)\n\tid 1rABCD-000124-5F;"
	  " Mon, 01 Jan 2024 00:00:00 +0000", "203.0.113.6" },
	{ "exim ipv6", " from mail.example.org ([2001:db8:1::25]:41000 helo=mail.example.org)\n"
	  "\tby mx.example.test with esmtps (Exim 4.96)", "2001:db8:1::25" },
	{ "exim local", " from user by mx.example.test with local (Exim 4.96)\n"
	  "\t(envelope-from <user@example.test>)\n\tid 1rABCD-000125-6G;"
	  " Mon, 01 Jan 2024 00:00:00 +0000", NULL },
	/* Sendmail */
	{ "sendmail", " from client.example.org (client.example.org [198.51.100.20])\n"
	  "\tby mx.example.test (8.15.2/8.15.2) with ESMTP id 40100000012345\n"
	  "\tfor <u@example.test>; Mon, 1 Jan 2024 00:00:00 GMT", "198.51.100.20" },
	{ "sendmail forged", " from helo.example (host.example.net [198.51.100.21] (may be forged))\n"
	  "\tby mx.example.test (8.15.2/8.15.2) with ESMTP id 4010000001; Mon, 1 Jan 2024",
	  "198.51.100.21" },
	{ "sendmail ident", " from helo.example (user@host.example.net [198.51.100.22])\n"
	  "\tby mx.example.test (8.14.4/8.14.4) with ESMTP id s0100000; Mon, 1 Jan 2024",
	  "198.51.100.22" },
	/* Exchange: the IP in parentheses, no brackets */
	{ "exchange", " from EXCH01.corp.example.com (10.1.2.3) by EXCH02.corp.example.com\r\n"
	  " (10.1.2.4) with Microsoft SMTP Server (version=TLS1_2,\r\n"
	  " cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.1.2507.6; Mon, 1 Jan 2024\r\n"
	  " 00:00:00 +0000", "10.1.2.3" },
	{ "exchange ipv6", " from DM6PR12MB1234.namprd12.prod.outlook.com\r\n"
	  " (2603:10b6:5:1c0::12) by BN6PR12MB5678.namprd12.prod.outlook.com\r\n"
	  " (2603:10b6:405:4c::22) with Microsoft SMTP Server (version=TLS1_2,\r\n"
	  " cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7135.21; Mon, 1 Jan 2024\r\n"
	  " 00:00:00 +0000", "2603:10b6:5:1c0::12" },
	{ "exchange online", " from NAM12-DM6-obe.outbound.protection.outlook.com\r\n"
	  " (mail-dm6nam12on2100.outbound.protection.outlook.com [40.107.243.100])\r\n"
	  " by mx.example.test (Postfix) with ESMTPS id 4T1U2V; Mon,  1 Jan 2024", "40.107.243.100" },
	/* Gmail */
	{ "gmail", " from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])\r\n"
	  "        by mx.google.com with SMTPS id x1sor123456qtb.12.2024.01.01.00.00.00\r\n"
	  "        for <u@gmail.com>\r\n        (Google Transport Security);\r\n"
	  "        Mon, 01 Jan 2024 00:00:00 -0800 (PST)", "209.85.220.41" },
	{ "gmail internal", " by 2002:a05:6a10:8e0b:b0:4a1:2b3c:4d5e with SMTP id x12csp123456pxb;\r\n"
	  "        Mon, 1 Jan 2024 00:00:00 -0800 (PST)", NULL },
	{ "gmail ipv6 client", " from mail-ej1-x62f.google.com (mail-ej1-x62f.google.com."
	  " [2a00:1450:4864:20::62f])\r\n        by mx.example.test (Postfix) with ESMTPS id 4W",
	  "2a00:1450:4864:20::62f" },
	/* qmail */
	{ "qmail", " from unknown (HELO client.example.org) (192.0.2.1)\n"
	  "  by mx.example.test with SMTP; 1 Jan 2024 00:00:00 -0000", "192.0.2.1" },
	{ "qmail rdns", " from host.example.org (HELO helo.example) (198.51.100.30)\n"
	  "  by mx.example.test with ESMTPA; 1 Jan 2024 00:00:00 -0000", "198.51.100.30" },
	{ "qmail remoteinfo", " from unknown (HELO x) (user@198.51.100.31)\n"
	  "  by mx.example.test with SMTP; 1 Jan 2024 00:00:00 -0000", "198.51.100.31" },
	{ "qmail ipv6", " from unknown (HELO x) (2001:db8::31)\n  by mx.example.test with SMTP",
	  "2001:db8::31" },
	{ "qmail invoked", " (qmail 12345 invoked from network); 1 Jan 2024 00:00:00 -0000", NULL },
	{ "qmail uid", " (qmail 12346 invoked by uid 500); 1 Jan 2024 00:00:00 -0000", NULL },
	/* other shapes */
	{ "bare ip", " from 192.0.2.77 by mx.example.test; Mon, 1 Jan 2024", "192.0.2.77" },
	{ "bracket only", " from [192.0.2.78] by mx.example.test; Mon, 1 Jan 2024", "192.0.2.78" },
	{ "uppercase FROM", " FROM x.example (x.example [192.0.2.79]) BY mx", "192.0.2.79" },
	{ "LF only folding", " from x.example\n (x.example\n [192.0.2.80])\n by mx", "192.0.2.80" },
	/* an IP after "by" is the receiving server's, not the sender's */
	{ "ip only after by", " from x.example (x.example) by mx.example.test ([192.0.2.99])", NULL },
	{ "no from", " by mx.example.test with LMTP id abc; Mon, 1 Jan 2024 00:00:00 +0000", NULL },
	{ "not an ip", " from x.example (x.example [not.an.ip]) by mx", NULL },
	{ "bad octets", " from x.example (x.example [300.1.2.3]) by mx", NULL },
	{ "empty", "", NULL },
	{ "from only", " from", NULL },
};

static void
test_parse_ip(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(ip_cases); i++) {
		const struct ip_case *c = &ip_cases[i];
		size_t len = strlen(c->value);
		char *in = malloc(len ? len : 1), ip[RCVD_IP_MAX];
		bool ok;

		memcpy(in, c->value, len);
		strcpy(ip, "(untouched)");
		ok = received_parse_ip(in, len, ip);
		if (c->want == NULL)
			CASE_CHECK(bad, !ok, i, "%s: found %s", c->what, ip);
		else
			CASE_CHECK(bad, ok && strcmp(ip, c->want) == 0, i, "%s: got %s, want %s",
			    c->what, ok ? ip : "none", c->want);
		free(in);
	}
	assert_int_equal(bad, 0);
}

struct internal_case {
	const char *ip;
	bool want;
};

static const struct internal_case internal_cases[] = {
	{ "127.0.0.1", true },
	{ "127.255.255.254", true },
	{ "10.0.0.1", true },
	{ "10.255.255.255", true },
	{ "172.16.0.1", true },
	{ "172.31.255.255", true },
	{ "172.15.255.255", false },
	{ "172.32.0.1", false },
	{ "192.168.0.1", true },
	{ "192.168.255.255", true },
	{ "192.169.0.1", false },
	{ "192.167.255.255", false },
	{ "100.64.0.1", true },		/* RFC 6598 */
	{ "100.127.255.255", true },
	{ "100.128.0.1", false },
	{ "169.254.1.1", true },	/* link-local */
	{ "0.0.0.0", true },
	{ "8.8.8.8", false },
	{ "192.0.2.1", false },
	{ "203.0.113.9", false },
	{ "::1", true },
	{ "::", true },
	{ "fc00::1", true },		/* RFC 4193 */
	{ "fd12:3456:789a::1", true },
	{ "fe80::1", true },		/* link-local */
	{ "febf::1", true },
	{ "fec0::1", false },
	{ "2001:db8::1", false },
	{ "2a00:1450:4864:20::62f", false },
	{ "", false },
	{ "garbage", false },
};

static void
test_internal(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(internal_cases); i++) {
		bool got = received_ip_internal(internal_cases[i].ip);
		CASE_CHECK(bad, got == internal_cases[i].want, i, "%s: got %d", internal_cases[i].ip,
		    (int)got);
	}
	assert_int_equal(bad, 0);
}

/* ---- the chain ---- */

#define R_LOCAL "Received: from localhost (localhost [127.0.0.1])\r\n\tby mx.example.test " \
	"(Postfix) with ESMTP id A1; Mon, 1 Jan 2024 00:00:05 +0000\r\n"
#define R_PUB1 "Received: from mail.sender.example (mail.sender.example [198.51.100.5])\r\n" \
	"\tby mx.example.test (Postfix) with ESMTPS id A2; Mon, 1 Jan 2024 00:00:04 +0000\r\n"
#define R_LAN "Received: from client (client [10.0.0.5])\r\n\tby mail.sender.example " \
	"(Postfix) with ESMTP id A3; Mon, 1 Jan 2024 00:00:03 +0000\r\n"
#define R_PUB2 "Received: from origin.example (origin.example [203.0.113.50])\r\n" \
	"\tby client (Postfix) with ESMTP id A4; Mon, 1 Jan 2024 00:00:02 +0000\r\n"
#define R_NOIP "Received: by mx.example.test (Postfix, from userid 0)\r\n" \
	"\tid A5; Mon, 1 Jan 2024 00:00:01 +0000\r\n"
#define R_V6ULA "Received: from h (h [IPv6:fd00::25]) by mx; Mon, 1 Jan 2024\r\n"
#define R_V6LL "Received: from h (h [IPv6:fe80::1]) by mx; Mon, 1 Jan 2024\r\n"
#define R_V6PUB "Received: from h (h [IPv6:2001:db8:5::7]) by mx; Mon, 1 Jan 2024\r\n"
#define R_CGN "Received: from h (h [100.64.1.2]) by mx; Mon, 1 Jan 2024\r\n"
#define R_172 "Received: from h (h [172.20.0.9]) by mx; Mon, 1 Jan 2024\r\n"
#define R_192 "Received: from h (h [192.168.7.7]) by mx; Mon, 1 Jan 2024\r\n"
#define HDRS_TAIL "From: a@sender.example\r\nSubject: hi\r\n\r\n"

struct chain_case {
	const char *what;
	const char *headers;
	const char *trusted;	/* comma-separated CIDRs, or NULL */
	const char *own;	/* one own address, or NULL */
	/* expectations: hop IPs newest first, with a flag each:
	 * 'i' internal, 'L' last external, 'd' deeper, 'D' deeper and internal,
	 * '-' external above the last (impossible) */
	const char *ips;	/* space separated */
	const char *flags;	/* one letter per hop */
	int last;
};

static const struct chain_case chain_cases[] = {
	{ "loopback then public", R_LOCAL R_PUB1 R_LAN R_PUB2 HDRS_TAIL, NULL, NULL,
	    "127.0.0.1 198.51.100.5 10.0.0.5 203.0.113.50", "iLDd", 1 },
	{ "client connects from a public IP", R_PUB1 R_LAN R_PUB2 HDRS_TAIL, NULL, NULL,
	    "198.51.100.5 10.0.0.5 203.0.113.50", "LDd", 0 },
	{ "trusted network skipped", R_LOCAL R_PUB1 R_LAN R_PUB2 HDRS_TAIL, "198.51.100.0/24",
	    NULL, "127.0.0.1 198.51.100.5 10.0.0.5 203.0.113.50", "iiiL", 3 },
	{ "two trusted networks", R_PUB1 R_PUB2 HDRS_TAIL, "203.0.113.0/24,198.51.100.5/32",
	    NULL, "198.51.100.5 203.0.113.50", "ii", -1 },
	{ "own address skipped", R_LOCAL R_PUB1 R_LAN R_PUB2 HDRS_TAIL, NULL, "198.51.100.5",
	    "127.0.0.1 198.51.100.5 10.0.0.5 203.0.113.50", "iiiL", 3 },
	{ "headers without an IP are no hop", R_NOIP R_LOCAL R_PUB2 HDRS_TAIL, NULL, NULL,
	    "127.0.0.1 203.0.113.50", "iL", 1 },
	{ "private ranges", R_CGN R_172 R_192 R_V6ULA R_V6LL R_PUB2 HDRS_TAIL, NULL, NULL,
	    "100.64.1.2 172.20.0.9 192.168.7.7 fd00::25 fe80::1 203.0.113.50", "iiiiiL", 5 },
	{ "ipv6 public", R_V6ULA R_V6PUB R_PUB1 HDRS_TAIL, NULL, NULL,
	    "fd00::25 2001:db8:5::7 198.51.100.5", "iLd", 1 },
	{ "ipv6 trusted", R_V6PUB R_PUB1 HDRS_TAIL, "2001:db8::/32", NULL,
	    "2001:db8:5::7 198.51.100.5", "iL", 1 },
	{ "all internal", R_LOCAL R_LAN R_192 HDRS_TAIL, NULL, NULL,
	    "127.0.0.1 10.0.0.5 192.168.7.7", "iii", -1 },
	{ "no Received", HDRS_TAIL, NULL, NULL, "", "", -1 },
	/* only Received: counts, any case; the body is not read */
	{ "other headers", "X-Received: from h (h [192.0.2.1]) by mx\r\n"
	  "received: from h (h [192.0.2.2]) by mx\r\n" HDRS_TAIL
	  "Received: from h (h [192.0.2.3]) by mx\r\n", NULL, NULL, "192.0.2.2", "L", 0 },
	{ "LF only", "Received: from a (a [127.0.0.1])\n\tby mx; Mon\n"
	  "Received: from b (b [192.0.2.20])\n\tby a; Mon\n"
	  "Received: from c (c [192.0.2.21])\n\tby b; Mon\nSubject: x\n\nbody\n", NULL, NULL,
	  "127.0.0.1 192.0.2.20 192.0.2.21", "iLd", 1 },
};

static size_t
parse_cidrs(const char *list, struct cidr *out, size_t max)
{
	size_t n = 0;
	const char *p = list;

	while (p && *p && n < max) {
		const char *comma = strchr(p, ',');
		size_t l = comma ? (size_t)(comma - p) : strlen(p);
		assert_int_equal(value_cidr(p, l, &out[n]), 0);
		n++;
		p = comma ? comma + 1 : NULL;
	}
	return n;
}

static void
test_chain(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(chain_cases); i++) {
		const struct chain_case *c = &chain_cases[i];
		struct cidr trusted[4];
		size_t ntrusted = parse_cidrs(c->trusted, trusted, 4);
		const char *own[1] = { c->own };
		size_t len = strlen(c->headers), nwant = strlen(c->flags);
		char *in = malloc(len ? len : 1), got[512] = "", gotflags[RCVD_HOPS_MAX + 1] = "";
		struct received_chain ch;

		memcpy(in, c->headers, len);
		received_chain(in, len, trusted, ntrusted, own, c->own ? 1 : 0, &ch);
		for (size_t k = 0; k < ch.n; k++) {
			const struct received_hop *h = &ch.hops[k];
			char f = h->last_external ? 'L' : h->deeper ? (h->internal ? 'D' : 'd') :
			    h->internal ? 'i' : '-';
			/* a hop is never both last external and internal or deeper */
			if (h->last_external && (h->internal || h->deeper))
				f = '!';
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? " " : "",
			    h->ip);
			gotflags[k] = f;
			gotflags[k + 1] = '\0';
		}
		CASE_CHECK(bad, ch.n == nwant && strcmp(got, c->ips) == 0 &&
		    strcmp(gotflags, c->flags) == 0 && ch.last_external == c->last, i,
		    "%s: got [%s] %s last=%d, want [%s] %s last=%d", c->what, got, gotflags,
		    ch.last_external, c->ips, c->flags, c->last);
		free(in);
	}
	assert_int_equal(bad, 0);
}

/* At most RCVD_HOPS_MAX hops are kept, the newest. */
static void
test_chain_cap(void **state)
{
	char *buf = malloc(64 * 1024);
	size_t o = 0;
	struct received_chain ch;

	for (int i = 0; i < RCVD_HOPS_MAX + 10; i++)
		o += (size_t)snprintf(buf + o, 64 * 1024 - o,
		    "Received: from h%d (h%d [192.0.2.%d]) by mx; Mon, 1 Jan 2024\r\n", i, i, i + 1);
	o += (size_t)snprintf(buf + o, 64 * 1024 - o, "\r\n");
	received_chain(buf, o, NULL, 0, NULL, 0, &ch);
	assert_int_equal(ch.n, RCVD_HOPS_MAX);
	assert_string_equal(ch.hops[0].ip, "192.0.2.1");
	assert_string_equal(ch.hops[RCVD_HOPS_MAX - 1].ip, "192.0.2.32");
	assert_int_equal(ch.last_external, 0);
	for (size_t k = 1; k < ch.n; k++)
		assert_true(ch.hops[k].deeper);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_internal),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_chain_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
