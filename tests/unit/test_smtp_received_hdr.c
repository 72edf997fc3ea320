/*
 * Table tests for our Received header (src/smtp/received_hdr.h): the
 * "with" keyword of RFC 3848 and RFC 6531 3.7.3, address literals of
 * RFC 5321 4.1.3, and the whole line.
 */
#include "unit.h"

#include <time.h>

#include "smtp/received_hdr.h"

struct proto_case {
	bool esmtp, tls, auth, utf8;
	const char *want;
};

static const struct proto_case proto_cases[] = {
	{ false, false, false, false, "SMTP" },
	{ false, true, false, false, "SMTPS" },
	{ true, false, false, false, "ESMTP" },
	{ true, false, true, false, "ESMTPA" },
	{ true, true, false, false, "ESMTPS" },
	{ true, true, true, false, "ESMTPSA" },
	{ true, false, false, true, "UTF8SMTP" },
	{ true, false, true, true, "UTF8SMTPA" },
	{ true, true, false, true, "UTF8SMTPS" },
	{ true, true, true, true, "UTF8SMTPSA" },
};

static void
test_protocol(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(proto_cases); i++) {
		const struct proto_case *c = &proto_cases[i];
		const char *got = received_protocol(c->esmtp, c->tls, c->auth, c->utf8);
		CASE_CHECK(bad, strcmp(got, c->want) == 0, i, "got %s want %s", got, c->want);
	}
	assert_int_equal(bad, 0);
}

struct hdr_case {
	const char *ip;
	const char *user;
	const char *rcpt;
	bool tls, utf8;
	const char *want;
};

#define DATE "Tue, 14 Nov 2023 22:13:20 +0000"

static const struct hdr_case hdr_cases[] = {
	{ "192.0.2.1", NULL, "bob@example.test", false, false,
	    "Received: from client.test (mail.client.test [192.0.2.1]) by mx.example.test "
	    "(postern) with ESMTP id 0123456789ABCDEF for <bob@example.test>; " DATE "\r\n" },
	{ "2001:db8::1", NULL, NULL, true, false,
	    "Received: from client.test (mail.client.test [IPv6:2001:db8::1]) by mx.example.test "
	    "(postern) with ESMTPS id 0123456789ABCDEF; " DATE "\r\n" },
	{ "::1", "alice@example.test", NULL, true, true,
	    "Received: from client.test (mail.client.test [IPv6:::1]) by mx.example.test "
	    "(postern) with UTF8SMTPSA id 0123456789ABCDEF (authenticated as alice@example.test); "
	    DATE "\r\n" },
	{ "::ffff:192.0.2.7", NULL, NULL, false, true,
	    "Received: from client.test (mail.client.test [192.0.2.7]) by mx.example.test "
	    "(postern) with UTF8SMTP id 0123456789ABCDEF; " DATE "\r\n" },
};

static void
test_header(void **state)
{
	size_t bad = 0;

	setenv("TZ", "UTC", 1);
	tzset();
	for (size_t i = 0; i < NELEM(hdr_cases); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		struct received_info ri = {
			.helo = "client.test", .rdns = "mail.client.test", .ip = c->ip,
			.hostname = "mx.example.test", .id = "0123456789ABCDEF", .user = c->user,
			.rcpt = c->rcpt, .esmtp = true, .tls = c->tls, .smtputf8 = c->utf8,
			.when = 1700000000,
		};
		char *got = received_hdr(&ri);
		CASE_CHECK(bad, strcmp(got, c->want) == 0, i, "\ngot  %s\nwant %s",
		    unit_show(got, strlen(got)), unit_show(c->want, strlen(c->want)));
		free(got);
	}
	assert_int_equal(bad, 0);
}

static void
test_unknown_rdns(void **state)
{
	struct received_info ri = {
		.helo = "h", .rdns = NULL, .ip = "192.0.2.1", .hostname = "mx", .id = "ID",
		.esmtp = false, .when = 0,
	};
	char *got = received_hdr(&ri);

	assert_non_null(strstr(got, "from h (unknown [192.0.2.1]) by mx (postern) with SMTP id ID;"));
	free(got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protocol),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_unknown_rdns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
