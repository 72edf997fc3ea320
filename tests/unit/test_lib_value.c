/*
 * Table tests for the typed configuration values (src/lib/value.h):
 * durations, sizes, rates, HOST:PORT, CIDR networks and matching, numbers,
 * integers and booleans. Each input is parsed from an exactly-sized copy
 * so a read past len is caught under ASan.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <limits.h>

#include "lib/value.h"

/* An exactly-sized heap copy of s (len octets). */
static char *
dup_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	memcpy(p, s, len);
	return p;
}

static void
test_value_duration(void **state)
{
	static const struct {
		const char *in;
		int rc;
		unsigned out;
	} cases[] = {
		{ "30s", 0, 30 }, { "10m", 0, 600 }, { "1h", 0, 3600 },
		{ "5d", 0, 432000 }, { "0", 0, 0 }, { "0s", 0, 0 }, { "90", 0, 90 },
		{ "15m", 0, 900 }, { "24h", 0, 86400 },
		{ "4294967295", 0, 4294967295u }, { "4294967295s", 0, 4294967295u },
		{ "", -1, 0 }, { "5x", -1, 0 }, { "s", -1, 0 }, { "m", -1, 0 },
		{ "-5s", -1, 0 }, { "+5s", -1, 0 }, { "5 s", -1, 0 }, { " 5s", -1, 0 },
		{ "5s ", -1, 0 }, { "1.5h", -1, 0 }, { "5ss", -1, 0 }, { "5h30m", -1, 0 },
		{ "5S", -1, 0 }, { "0x10", -1, 0 },
		/* overflow is an error, never a wrap */
		{ "4294967296", VALUE_RANGE, 0 }, { "4294967296s", VALUE_RANGE, 0 },
		{ "71582789m", VALUE_RANGE, 0 }, { "1193047h", VALUE_RANGE, 0 },
		{ "49711d", VALUE_RANGE, 0 },
		{ "99999999999999999999999", VALUE_RANGE, 0 },
		{ "18446744073709551616s", VALUE_RANGE, 0 },
		/* too large and malformed: malformed wins */
		{ "99999999999999999999999x", -1, 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len = strlen(cases[i].in);
		char *p = dup_exact(cases[i].in, len);
		unsigned out = 777;
		int rc = value_duration(p, len, &out);

		CASE_CHECK(bad, rc == cases[i].rc, i, "\"%s\": rc %d, want %d",
		    cases[i].in, rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0)
			CASE_CHECK(bad, out == cases[i].out, i, "\"%s\": %u, want %u",
			    cases[i].in, out, cases[i].out);
		free(p);
	}
	/* only len octets are read */
	{
		unsigned out = 0;
		assert_int_equal(value_duration("10mXYZ", 3, &out), 0);
		assert_int_equal(out, 600);
		assert_int_equal(value_duration("10", 1, &out), 0);
		assert_int_equal(out, 1);
	}
	assert_int_equal(bad, 0);
}

static void
test_value_size(void **state)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t out;
	} cases[] = {
		{ "50M", 0, 52428800 }, { "50m", 0, 52428800 }, { "0", 0, 0 },
		{ "1024", 0, 1024 }, { "1K", 0, 1024 }, { "1k", 0, 1024 },
		{ "2G", 0, 2147483648ULL }, { "1g", 0, 1073741824ULL },
		{ "16383G", 0, 16383ULL << 30 },
		{ "17179869183G", 0, 17179869183ULL << 30 },
		{ "", -1, 0 }, { "M", -1, 0 }, { "5MB", -1, 0 }, { "1.5M", -1, 0 },
		{ "-1", -1, 0 }, { "+1", -1, 0 }, { "5 M", -1, 0 }, { " 5M", -1, 0 },
		{ "5M ", -1, 0 }, { "5b", -1, 0 }, { "5KK", -1, 0 }, { "5P", -1, 0 },
		{ "1T", 0, 1ULL << 40 }, { "5t", 0, 5ULL << 40 },
		{ "16777215T", 0, 16777215ULL << 40 },
		/* overflow: out of range, not malformed */
		{ "17179869184G", VALUE_RANGE, 0 }, { "18014398509481984K", VALUE_RANGE, 0 },
		{ "16777216T", VALUE_RANGE, 0 },
		{ "99999999999999999999999", VALUE_RANGE, 0 },
		{ "18446744073709551615", 0, 18446744073709551615ULL },
		{ "18446744073709551616", VALUE_RANGE, 0 },
		{ "99999999999999999999999Q", -1, 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len = strlen(cases[i].in);
		char *p = dup_exact(cases[i].in, len);
		uint64_t out = 777;
		int rc = value_size(p, len, &out);

		CASE_CHECK(bad, rc == cases[i].rc, i, "\"%s\": rc %d, want %d",
		    cases[i].in, rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0)
			CASE_CHECK(bad, out == cases[i].out, i, "\"%s\": %llu, want %llu",
			    cases[i].in, (unsigned long long)out,
			    (unsigned long long)cases[i].out);
		free(p);
	}
	assert_int_equal(bad, 0);
}

static void
test_value_rate(void **state)
{
	static const struct {
		const char *in;
		int rc;
		unsigned count, seconds;
	} cases[] = {
		{ "100/1h", 0, 100, 3600 }, { "5/10m", 0, 5, 600 },
		{ "200/1h", 0, 200, 3600 }, { "1000/1d", 0, 1000, 86400 },
		{ "1/1", 0, 1, 1 }, { "0/1h", 0, 0, 3600 }, { "3/30s", 0, 3, 30 },
		{ "100", -1, 0, 0 }, { "/1h", -1, 0, 0 }, { "100/", -1, 0, 0 },
		{ "100/0s", -1, 0, 0 }, { "100/0", -1, 0, 0 }, { "a/1h", -1, 0, 0 },
		{ "100/1x", -1, 0, 0 }, { "100/1h/2", -1, 0, 0 }, { "-1/1h", -1, 0, 0 },
		{ "100 /1h", -1, 0, 0 }, { "100/ 1h", -1, 0, 0 }, { "", -1, 0, 0 },
		{ "/", -1, 0, 0 }, { "4294967296/1h", VALUE_RANGE, 0, 0 },
		{ "1/4294967296", VALUE_RANGE, 0, 0 }, { "1/49711d", VALUE_RANGE, 0, 0 },
		{ "4294967296/0s", -1, 0, 0 }, { "4294967296/x", -1, 0, 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len = strlen(cases[i].in);
		char *p = dup_exact(cases[i].in, len);
		struct rate out = { 777, 777 };
		int rc = value_rate(p, len, &out);

		CASE_CHECK(bad, rc == cases[i].rc, i, "\"%s\": rc %d, want %d",
		    cases[i].in, rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0)
			CASE_CHECK(bad, out.count == cases[i].count &&
			    out.seconds == cases[i].seconds, i, "\"%s\": %u/%u, want %u/%u",
			    cases[i].in, out.count, out.seconds, cases[i].count,
			    cases[i].seconds);
		free(p);
	}
	assert_int_equal(bad, 0);
}

static void
test_value_hostport(void **state)
{
	static const struct {
		const char *in;
		int rc;
		const char *host;
		unsigned port;
	} cases[] = {
		{ "[::1]:25", 0, "::1", 25 },
		{ "[2001:db8::1]:2525", 0, "2001:db8::1", 2525 },
		{ "[::]:587", 0, "::", 587 },
		{ "127.0.0.1:25", 0, "127.0.0.1", 25 },
		{ "0.0.0.0:465", 0, "0.0.0.0", 465 },
		{ "mx.example.org:587", 0, "mx.example.org", 587 },
		{ "localhost:65535", 0, "localhost", 65535 },
		{ "localhost:1", 0, "localhost", 1 },
		{ "[::1]", -1, NULL, 0 },
		{ "[::1]:", -1, NULL, 0 },
		{ "[::1]25", -1, NULL, 0 },
		{ "[::1:25", -1, NULL, 0 },
		{ "::1:25", -1, NULL, 0 },
		{ "[]:25", -1, NULL, 0 },
		{ "[1.2.3.4]:25", -1, NULL, 0 },
		{ "[example.com]:25", -1, NULL, 0 },
		{ "host", -1, NULL, 0 },
		{ "host:", -1, NULL, 0 },
		{ ":25", -1, NULL, 0 },
		{ "host:0", -1, NULL, 0 },
		{ "host:65536", -1, NULL, 0 },
		{ "host:99999999999", -1, NULL, 0 },
		{ "host:25x", -1, NULL, 0 },
		{ "host:-1", -1, NULL, 0 },
		{ "host: 25", -1, NULL, 0 },
		{ "ho st:25", -1, NULL, 0 },
		{ "host/x:25", -1, NULL, 0 },
		{ "", -1, NULL, 0 },
		{ ":", -1, NULL, 0 },
		{ "[", -1, NULL, 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len = strlen(cases[i].in);
		char *p = dup_exact(cases[i].in, len);
		struct hostport out;
		int rc;

		memset(&out, 0, sizeof(out));
		rc = value_hostport(p, len, &out);
		CASE_CHECK(bad, rc == cases[i].rc, i, "\"%s\": rc %d, want %d",
		    cases[i].in, rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0)
			CASE_CHECK(bad, strcmp(out.host, cases[i].host) == 0 &&
			    out.port == cases[i].port, i, "\"%s\": \"%s\" %u, want \"%s\" %u",
			    cases[i].in, out.host, out.port, cases[i].host, cases[i].port);
		free(p);
	}
	/* a host name longer than the field is refused, not truncated */
	{
		char big[HOSTPORT_HOST_MAX + 16];
		memset(big, 'a', HOSTPORT_HOST_MAX + 5);
		memcpy(big + HOSTPORT_HOST_MAX + 5, ":25", 3);
		struct hostport out;
		CASE_CHECK(bad, value_hostport(big, HOSTPORT_HOST_MAX + 8, &out) == -1,
		    (size_t)999, "%s", "over-long host accepted");
	}
	assert_int_equal(bad, 0);
}

static void
test_value_cidr(void **state)
{
	static const struct {
		const char *in;
		int rc;
		int family;
		const char *net;	/* masked network address */
		unsigned prefix;
	} cases[] = {
		{ "10.0.0.0/8", 0, AF_INET, "10.0.0.0", 8 },
		{ "10.1.2.3/8", 0, AF_INET, "10.0.0.0", 8 },
		{ "192.168.1.77/24", 0, AF_INET, "192.168.1.0", 24 },
		{ "192.0.2.1", 0, AF_INET, "192.0.2.1", 32 },
		{ "192.0.2.1/32", 0, AF_INET, "192.0.2.1", 32 },
		{ "0.0.0.0/0", 0, AF_INET, "0.0.0.0", 0 },
		{ "255.255.255.255/1", 0, AF_INET, "128.0.0.0", 1 },
		{ "10.255.255.255/9", 0, AF_INET, "10.128.0.0", 9 },
		{ "2001:db8::/32", 0, AF_INET6, "2001:db8::", 32 },
		{ "2001:db8:ffff::1/32", 0, AF_INET6, "2001:db8::", 32 },
		{ "::1", 0, AF_INET6, "::1", 128 },
		{ "::/0", 0, AF_INET6, "::", 0 },
		{ "fe80::1234/10", 0, AF_INET6, "fe80::", 10 },
		{ "10.0.0.0/33", -1, 0, NULL, 0 },
		{ "::/129", -1, 0, NULL, 0 },
		{ "10.0.0/8", -1, 0, NULL, 0 },
		{ "1.2.3.4/", -1, 0, NULL, 0 },
		{ "/8", -1, 0, NULL, 0 },
		{ "abc", -1, 0, NULL, 0 },
		{ "", -1, 0, NULL, 0 },
		{ "1.2.3.4/8x", -1, 0, NULL, 0 },
		{ "1.2.3.4/-1", -1, 0, NULL, 0 },
		{ "1.2.3.4/ 8", -1, 0, NULL, 0 },
		{ " 1.2.3.4", -1, 0, NULL, 0 },
		{ "1.2.3.4/8/8", -1, 0, NULL, 0 },
		{ "256.0.0.0/8", -1, 0, NULL, 0 },
		{ "example.com/8", -1, 0, NULL, 0 },
		{ "1111:2222:3333:4444:5555:6666:7777:8888:9999/64", -1, 0, NULL, 0 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -1, 0, NULL, 0 },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len = strlen(cases[i].in);
		char *p = dup_exact(cases[i].in, len);
		struct cidr out;
		int rc = value_cidr(p, len, &out);

		CASE_CHECK(bad, rc == cases[i].rc, i, "\"%s\": rc %d, want %d",
		    cases[i].in, rc, cases[i].rc);
		if (rc == 0 && cases[i].rc == 0) {
			unsigned char want[16] = { 0 };
			inet_pton(cases[i].family, cases[i].net, want);
			CASE_CHECK(bad, out.family == cases[i].family &&
			    out.prefix == cases[i].prefix &&
			    memcmp(out.addr, want, cases[i].family == AF_INET ? 4 : 16) == 0,
			    i, "\"%s\": family %d prefix %u, want %d %s/%u", cases[i].in,
			    out.family, out.prefix, cases[i].family, cases[i].net,
			    cases[i].prefix);
		}
		free(p);
	}
	assert_int_equal(bad, 0);
}

/* Builds a sockaddr for a textual IPv4 or IPv6 address. */
static const struct sockaddr *
sa_of(const char *ip, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(ip, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static void
test_cidr_match(void **state)
{
	static const struct {
		const char *net, *ip;
		bool match;
	} cases[] = {
		{ "10.0.0.0/8", "10.255.1.2", true },
		{ "10.0.0.0/8", "10.0.0.0", true },
		{ "10.0.0.0/8", "11.0.0.1", false },
		{ "10.0.0.0/8", "9.255.255.255", false },
		{ "192.168.1.0/24", "192.168.1.255", true },
		{ "192.168.1.0/24", "192.168.2.0", false },
		{ "10.0.0.0/9", "10.127.0.1", true },
		{ "10.0.0.0/9", "10.128.0.1", false },
		{ "0.0.0.0/0", "1.2.3.4", true },
		{ "0.0.0.0/0", "255.255.255.255", true },
		{ "1.2.3.4", "1.2.3.4", true },
		{ "1.2.3.4", "1.2.3.5", false },
		{ "2001:db8::/32", "2001:db8:ffff::1", true },
		{ "2001:db8::/32", "2001:db9::1", false },
		{ "::1", "::1", true },
		{ "::1", "::2", false },
		{ "::/0", "2001:db8::1", true },
		{ "fe80::/10", "febf::1", true },
		{ "fe80::/10", "fec0::1", false },
		/* an IPv4 network matches an IPv4-mapped IPv6 client */
		{ "10.0.0.0/8", "::ffff:10.1.1.1", true },
		{ "10.0.0.0/8", "::ffff:11.1.1.1", false },
		{ "127.0.0.1", "::ffff:127.0.0.1", true },
		/* families do not mix otherwise */
		{ "10.0.0.0/8", "::1", false },
		{ "0.0.0.0/0", "::1", false },
		{ "::1/128", "127.0.0.1", false },
		{ "::/0", "127.0.0.1", false },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct cidr net;
		struct sockaddr_storage ss;
		bool m;

		assert_int_equal(value_cidr(cases[i].net, strlen(cases[i].net), &net), 0);
		m = cidr_match(&net, sa_of(cases[i].ip, &ss));
		CASE_CHECK(bad, m == cases[i].match, i, "%s in %s: %d, want %d",
		    cases[i].ip, cases[i].net, m, cases[i].match);
	}

	/* lists */
	{
		struct cidr nets[2];
		struct sockaddr_storage ss;

		assert_int_equal(value_cidr("192.0.2.0/24", 12, &nets[0]), 0);
		assert_int_equal(value_cidr("2001:db8::/32", 13, &nets[1]), 0);
		assert_true(cidr_list_match(nets, 2, sa_of("192.0.2.9", &ss)));
		assert_true(cidr_list_match(nets, 2, sa_of("2001:db8::9", &ss)));
		assert_false(cidr_list_match(nets, 2, sa_of("198.51.100.1", &ss)));
		assert_false(cidr_list_match(nets, 0, sa_of("192.0.2.9", &ss)));
		assert_false(cidr_list_match(NULL, 0, sa_of("192.0.2.9", &ss)));
	}
	assert_int_equal(bad, 0);
}

static void
test_value_number_uint_bool(void **state)
{
	static const struct {
		const char *in;
		int rc;
		double out;
	} numbers[] = {
		{ "5.0", 0, 5.0 }, { "5", 0, 5.0 }, { "-1.5", 0, -1.5 }, { "+2", 0, 2.0 },
		{ ".5", 0, 0.5 }, { "5.", 0, 5.0 }, { "12", 0, 12.0 }, { "0", 0, 0.0 },
		{ "0.25", 0, 0.25 }, { "-0.1", 0, -0.1 },
		{ "", -1, 0 }, { "abc", -1, 0 }, { "1e3", -1, 0 }, { "1.2.3", -1, 0 },
		{ "-", -1, 0 }, { ".", -1, 0 }, { "- 1", -1, 0 }, { "1 ", -1, 0 },
		{ "1,5", -1, 0 }, { "nan", -1, 0 }, { "inf", -1, 0 }, { "0x10", -1, 0 },
		{ "1234567890123456", -1, 0 },
	};
	static const struct {
		const char *in;
		int rc;
		unsigned out;
	} uints[] = {
		{ "0", 0, 0 }, { "42", 0, 42 }, { "4294967295", 0, UINT_MAX },
		{ "007", 0, 7 },
		{ "4294967296", VALUE_RANGE, 0 }, { "99999999999999999999999", VALUE_RANGE, 0 },
		{ "4294967296x", -1, 0 }, { "-1", -1, 0 }, { "", -1, 0 }, { "1 ", -1, 0 },
		{ "+1", -1, 0 }, { "1.0", -1, 0 }, { "x", -1, 0 },
	};
	static const struct {
		const char *in;
		int rc;
		bool out;
	} bools[] = {
		{ "yes", 0, true }, { "true", 0, true }, { "on", 0, true }, { "1", 0, true },
		{ "YES", 0, true }, { "On", 0, true },
		{ "no", 0, false }, { "false", 0, false }, { "off", 0, false },
		{ "0", 0, false }, { "OFF", 0, false },
		{ "maybe", -1, false }, { "", -1, false }, { "2", -1, false },
		{ "yes ", -1, false }, { "y", -1, false }, { "onn", -1, false },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(numbers); i++) {
		size_t len = strlen(numbers[i].in);
		char *p = dup_exact(numbers[i].in, len);
		double d = 777;
		int rc = value_number(p, len, &d);

		CASE_CHECK(bad, rc == numbers[i].rc, i, "number \"%s\": rc %d, want %d",
		    numbers[i].in, rc, numbers[i].rc);
		if (rc == 0 && numbers[i].rc == 0)
			CASE_CHECK(bad, d > numbers[i].out - 1e-9 && d < numbers[i].out + 1e-9,
			    i, "number \"%s\": %g, want %g", numbers[i].in, d, numbers[i].out);
		free(p);
	}
	for (size_t i = 0; i < NELEM(uints); i++) {
		size_t len = strlen(uints[i].in);
		char *p = dup_exact(uints[i].in, len);
		unsigned u = 777;
		int rc = value_uint(p, len, &u);

		CASE_CHECK(bad, rc == uints[i].rc, i, "uint \"%s\": rc %d, want %d",
		    uints[i].in, rc, uints[i].rc);
		if (rc == 0 && uints[i].rc == 0)
			CASE_CHECK(bad, u == uints[i].out, i, "uint \"%s\": %u, want %u",
			    uints[i].in, u, uints[i].out);
		free(p);
	}
	for (size_t i = 0; i < NELEM(bools); i++) {
		size_t len = strlen(bools[i].in);
		char *p = dup_exact(bools[i].in, len);
		bool b = !bools[i].out;
		int rc = value_bool(p, len, &b);

		CASE_CHECK(bad, rc == bools[i].rc, i, "bool \"%s\": rc %d, want %d",
		    bools[i].in, rc, bools[i].rc);
		if (rc == 0 && bools[i].rc == 0)
			CASE_CHECK(bad, b == bools[i].out, i, "bool \"%s\": %d, want %d",
			    bools[i].in, b, bools[i].out);
		free(p);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_duration),
		cmocka_unit_test(test_value_size),
		cmocka_unit_test(test_value_rate),
		cmocka_unit_test(test_value_hostport),
		cmocka_unit_test(test_value_cidr),
		cmocka_unit_test(test_cidr_match),
		cmocka_unit_test(test_value_number_uint_bool),
	};

	return cmocka_run_group_tests_name("lib_value", tests, NULL, NULL);
}
