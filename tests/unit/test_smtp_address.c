/*
 * Table tests for the RFC 5321 path parser (src/smtp/address.h): the null
 * path, quoted local parts, source routes, address literals, length caps,
 * SMTPUTF8, and the relay tricks that must never be guessed at
 * (user%remote@local is only a local part; user@remote@local is refused).
 */
#include "unit.h"

#include "smtp/address.h"

/* parse flags */
#define N 1		/* allow_null */
#define U 2		/* utf8 */
/* expected result flags */
#define F_NULL 1
#define F_QUOTED 2
#define F_LITERAL 4
#define F_ROUTE 8
#define F_UTF8 16

struct addr_case {
	const char *in;
	size_t len;
	int flags;
	enum addr_result rc;
	/* checked when rc == ADDR_OK */
	const char *local, *domain;
	int expect;
};

static const struct addr_case addr_cases[] = {
	/* null path */
	{ S("<>"), N, ADDR_OK, "", "", F_NULL },
	{ S("<>"), N | U, ADDR_OK, "", "", F_NULL },
	{ S("<>"), 0, ADDR_NULL_NOT_ALLOWED, NULL, NULL, 0 },
	{ S("<>"), U, ADDR_NULL_NOT_ALLOWED, NULL, NULL, 0 },

	/* ordinary mailboxes; the domain is lower-cased, the local part kept */
	{ S("<user@example.com>"), 0, ADDR_OK, "user", "example.com", 0 },
	{ S("<user@example.com>"), N, ADDR_OK, "user", "example.com", 0 },
	{ S("<User@Example.COM>"), 0, ADDR_OK, "User", "example.com", 0 },
	{ S("<USER@EXAMPLE.COM>"), 0, ADDR_OK, "USER", "example.com", 0 },
	{ S("<first.last@sub.example.org>"), 0, ADDR_OK, "first.last", "sub.example.org", 0 },
	{ S("<a+tag@x.example>"), 0, ADDR_OK, "a+tag", "x.example", 0 },
	{ S("<o'brien@x.example>"), 0, ADDR_OK, "o'brien", "x.example", 0 },
	{ S("<a@b>"), 0, ADDR_OK, "a", "b", 0 },
	{ S("<x@a-b.c-d.example>"), 0, ADDR_OK, "x", "a-b.c-d.example", 0 },
	{ S("<x@123.example>"), 0, ADDR_OK, "x", "123.example", 0 },

	/* quoted local parts: unquoted when the content is a dot-string */
	{ S("<\"bob\"@x.example>"), 0, ADDR_OK, "bob", "x.example", 0 },
	{ S("<\"b.o.b\"@x.example>"), 0, ADDR_OK, "b.o.b", "x.example", 0 },
	{ S("<\"a b\"@x.example>"), 0, ADDR_OK, "\"a b\"", "x.example", F_QUOTED },
	{ S("<\"a..b\"@x.example>"), 0, ADDR_OK, "\"a..b\"", "x.example", F_QUOTED },
	{ S("<\"a\\\"b\"@x.example>"), 0, ADDR_OK, "\"a\\\"b\"", "x.example", F_QUOTED },
	{ S("<\"unterminated@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<\"a\"b@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<\"a\x01\"@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<\"a\\\x01\"@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },

	/* source routes: recognised, dropped, flagged (RFC 5321 4.1.1.3) */
	{ S("<@a,@b:u@c>"), 0, ADDR_OK, "u", "c", F_ROUTE },
	{ S("<@a:u@c>"), 0, ADDR_OK, "u", "c", F_ROUTE },
	{ S("<@relay.example,@other.example:User@Final.Example>"), 0, ADDR_OK,
	    "User", "final.example", F_ROUTE },
	{ S("<@[192.0.2.1]:u@c>"), 0, ADDR_OK, "u", "c", F_ROUTE },
	{ S("<@a,u@c>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<@a,@b u@c>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<@a:>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<@:u@c>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<@a,:u@c>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<@x>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<@bad..dom:u@c>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },

	/* relay tricks (SPEC 6.3): only a local part, or refused */
	{ S("<user%remote.example@local.example>"), 0, ADDR_OK,
	    "user%remote.example", "local.example", 0 },
	{ S("<remote.example!user@local.example>"), 0, ADDR_OK,
	    "remote.example!user", "local.example", 0 },
	{ S("<\"user@remote.example\"@local.example>"), 0, ADDR_OK,
	    "\"user@remote.example\"", "local.example", F_QUOTED },
	{ S("<\"user%remote\"@local.example>"), 0, ADDR_OK,
	    "user%remote", "local.example", 0 },
	{ S("<user@remote.example@local.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@@local.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@local.example:25>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@local.example,remote.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },

	/* address literals (RFC 5321 4.1.3) */
	{ S("<user@[1.2.3.4]>"), 0, ADDR_OK, "user", "[1.2.3.4]", F_LITERAL },
	{ S("<user@[192.0.2.255]>"), 0, ADDR_OK, "user", "[192.0.2.255]", F_LITERAL },
	{ S("<user@[IPv6:::1]>"), 0, ADDR_OK, "user", "[ipv6:::1]", F_LITERAL },
	{ S("<user@[IPv6:2001:db8::1]>"), 0, ADDR_OK, "user", "[ipv6:2001:db8::1]", F_LITERAL },
	{ S("<user@[1.2.3]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[1.2.3.4.5]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[256.1.1.1]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[1.2.3.4 ]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[1.2.3.4>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[IPv6:zz::1]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[IPv6:1.2.3.4]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[::1]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[example.com]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },
	{ S("<user@[1.2.3.4\0x]>"), 0, ADDR_BAD_LITERAL, NULL, NULL, 0 },

	/* domain syntax */
	{ S("<user@example.com.>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@.example.com>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@exa..mple.com>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@-x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@x-.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@example->"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@ex_ample.com>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@exa mple.com>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user>"), 0, ADDR_NO_DOMAIN, NULL, NULL, 0 },
	{ S("<postmaster>"), N, ADDR_NO_DOMAIN, NULL, NULL, 0 },

	/* local part syntax */
	{ S("<.user@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user.@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<us..er@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<us er@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<us(er@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<us\x01er@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<a\0b@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<postmaster\0@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("< user@x.example>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<user@x.example >"), 0, ADDR_SYNTAX, NULL, NULL, 0 },
	{ S("<<user@x.example>>"), 0, ADDR_SYNTAX, NULL, NULL, 0 },

	/* brackets */
	{ S("user@x.example"), 0, ADDR_NO_BRACKETS, NULL, NULL, 0 },
	{ S("<user@x.example"), 0, ADDR_NO_BRACKETS, NULL, NULL, 0 },
	{ S("user@x.example>"), 0, ADDR_NO_BRACKETS, NULL, NULL, 0 },
	{ S("<user@x.example> "), 0, ADDR_NO_BRACKETS, NULL, NULL, 0 },
	{ S(""), N, ADDR_NO_BRACKETS, NULL, NULL, 0 },
	{ S("<"), N, ADDR_NO_BRACKETS, NULL, NULL, 0 },
	{ S(">"), N, ADDR_NO_BRACKETS, NULL, NULL, 0 },
	{ S("><"), N, ADDR_NO_BRACKETS, NULL, NULL, 0 },

	/* 8-bit: refused without SMTPUTF8, accepted with it (RFC 6531) */
	{ S("<j\xc3\xb6rg@example.de>"), 0, ADDR_8BIT, NULL, NULL, 0 },
	{ S("<j\xc3\xb6rg@example.de>"), N, ADDR_8BIT, NULL, NULL, 0 },
	{ S("<j\xc3\xb6rg@example.de>"), U, ADDR_OK, "j\xc3\xb6rg", "example.de", F_UTF8 },
	{ S("<user@b\xc3\xbc" "cher.example>"), 0, ADDR_8BIT, NULL, NULL, 0 },
	{ S("<user@b\xc3\xbc" "cher.example>"), U, ADDR_OK, "user",
	    "b\xc3\xbc" "cher.example", F_UTF8 },
	{ S("<\"j\xc3\xb6 rg\"@example.de>"), U, ADDR_OK, "\"j\xc3\xb6 rg\"",
	    "example.de", F_QUOTED | F_UTF8 },
	{ S("<\"j\xc3\xb6rg\"@example.de>"), 0, ADDR_8BIT, NULL, NULL, 0 },
	{ S("<user@EXAMPLE.de>"), U, ADDR_OK, "user", "example.de", 0 },
};

static void
check_addr_case(const struct addr_case *c, size_t i, int *bad)
{
	char *buf = malloc(c->len ? c->len : 1);
	struct mailaddr a;
	enum addr_result rc;
	int got;

	memcpy(buf, c->in, c->len);
	memset(&a, 0x5a, sizeof(a));
	rc = addr_parse_path(buf, c->len, (c->flags & N) != 0, (c->flags & U) != 0, &a);
	CASE_CHECK(*bad, rc == c->rc, i, "\"%s\" flags %d: result %d (%s), want %d (%s)",
	    unit_show(c->in, c->len), c->flags, rc, addr_result_reason(rc), c->rc,
	    addr_result_reason(c->rc));
	if (rc == ADDR_OK && c->rc == ADDR_OK) {
		got = (a.null ? F_NULL : 0) | (a.quoted ? F_QUOTED : 0) |
		    (a.literal ? F_LITERAL : 0) | (a.source_route ? F_ROUTE : 0) |
		    (a.utf8 ? F_UTF8 : 0);
		CASE_CHECK(*bad, memchr(a.local, '\0', sizeof(a.local)) != NULL &&
		    strcmp(a.local, c->local) == 0, i, "\"%s\": local \"%s\", want \"%s\"",
		    unit_show(c->in, c->len),
		    unit_show(a.local, strnlen(a.local, sizeof(a.local))), c->local);
		CASE_CHECK(*bad, memchr(a.domain, '\0', sizeof(a.domain)) != NULL &&
		    strcmp(a.domain, c->domain) == 0, i, "\"%s\": domain \"%s\", want \"%s\"",
		    unit_show(c->in, c->len),
		    unit_show(a.domain, strnlen(a.domain, sizeof(a.domain))), c->domain);
		CASE_CHECK(*bad, got == c->expect, i, "\"%s\": flags %#x, want %#x",
		    unit_show(c->in, c->len), got, c->expect);
	}
	free(buf);
}

static void
test_addr_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(addr_cases); i++)
		check_addr_case(&addr_cases[i], i, &bad);
	assert_int_equal(bad, 0);
}

/*
 * Length caps, built at run time: RFC 5321 4.5.3.1: local part 64 octets,
 * domain 255, path 256 "including the punctuation and element separators",
 * i.e. with its angle brackets.
 */
static char *
make_path(size_t llen, size_t dlen, size_t *len)
{
	/* domain of dlen octets made of labels of at most 63 */
	char *p = malloc(llen + dlen + 3);
	size_t o = 0;

	p[o++] = '<';
	memset(p + o, 'l', llen);
	o += llen;
	p[o++] = '@';
	for (size_t i = 0; i < dlen; i++)
		p[o + i] = (i % 50 == 49 && i + 1 < dlen) ? '.' : 'd';
	o += dlen;
	p[o++] = '>';
	*len = o;
	return p;
}

static void
test_addr_lengths(void **state)
{
	static const struct {
		size_t llen, dlen;
		enum addr_result rc;
	} cases[] = {
		{ 64, 10, ADDR_OK },
		{ 65, 10, ADDR_LOCAL_TOO_LONG },
		{ 100, 10, ADDR_LOCAL_TOO_LONG },
		{ 1, 200, ADDR_OK },
		{ 64, 189, ADDR_OK },			/* path of 256 octets */
		{ 64, 190, ADDR_PATH_TOO_LONG },	/* 257 */
		{ 1, 256, ADDR_DOMAIN_TOO_LONG },	/* the more precise reason */
		{ 1, 1000, ADDR_PATH_TOO_LONG },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len;
		char *p = make_path(cases[i].llen, cases[i].dlen, &len);
		struct mailaddr a;
		enum addr_result rc = addr_parse_path(p, len, false, false, &a);

		CASE_CHECK(bad, rc == cases[i].rc, i,
		    "local %zu domain %zu (path %zu): result %d (%s), want %d (%s)",
		    cases[i].llen, cases[i].dlen, len, rc, addr_result_reason(rc),
		    cases[i].rc, addr_result_reason(cases[i].rc));
		if (rc == ADDR_OK)
			CASE_CHECK(bad, strlen(a.local) == cases[i].llen &&
			    strlen(a.domain) == cases[i].dlen, i, "lengths %zu %zu",
			    strlen(a.local), strlen(a.domain));
		free(p);
	}

	/* a label of 63 octets is fine, 64 is not (RFC 1035 2.3.4) */
	{
		char p[80 + 63 + 10];
		int n = snprintf(p, sizeof(p), "<u@%.*s.example>", 63,
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		struct mailaddr a;

		CASE_CHECK(bad, addr_parse_path(p, (size_t)n, false, false, &a) == ADDR_OK,
		    (size_t)100, "%s", "label of 63 octets refused");
		n = snprintf(p, sizeof(p), "<u@%.*s.example>", 64,
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
		CASE_CHECK(bad, addr_parse_path(p, (size_t)n, false, false, &a) == ADDR_SYNTAX,
		    (size_t)101, "%s", "label of 64 octets accepted");
	}

	/* a quoted local part counts with its quotes: 64 fits, 65 does not */
	for (size_t inner = 62; inner <= 63; inner++) {
		char p[128];
		struct mailaddr a;
		size_t o = 0;
		enum addr_result rc;

		p[o++] = '<';
		p[o++] = '"';
		memset(p + o, 'q', inner);
		p[o + inner / 2] = ' ';	/* keeps the quotes needed */
		o += inner;
		p[o++] = '"';
		memcpy(p + o, "@x>", 3);
		o += 3;
		rc = addr_parse_path(p, o, false, false, &a);
		if (inner + 2 <= ADDR_LOCAL_MAX)
			CASE_CHECK(bad, rc == ADDR_OK && a.quoted &&
			    strlen(a.local) == inner + 2, inner, "quoted local part of %zu: %d",
			    inner + 2, rc);
		else
			CASE_CHECK(bad, rc == ADDR_LOCAL_TOO_LONG, inner,
			    "quoted local part of %zu: %d", inner + 2, rc);
	}
	assert_int_equal(bad, 0);
}

/* Every combination of the two flags on every table input: the flags only
 * ever widen what is accepted. */
static void
test_addr_flags_monotonic(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(addr_cases); i++) {
		const struct addr_case *c = &addr_cases[i];
		enum addr_result r[4];
		struct mailaddr a;

		for (int f = 0; f < 4; f++)
			r[f] = addr_parse_path(c->in, c->len, (f & N) != 0, (f & U) != 0, &a);
		CASE_CHECK(bad, r[0] != ADDR_OK || (r[1] == ADDR_OK && r[2] == ADDR_OK &&
		    r[3] == ADDR_OK), i, "\"%s\": flags narrowed acceptance",
		    unit_show(c->in, c->len));
		CASE_CHECK(bad, (r[1] != ADDR_OK && r[2] != ADDR_OK) || r[3] == ADDR_OK, i,
		    "\"%s\": both flags narrowed acceptance", unit_show(c->in, c->len));
	}
	assert_int_equal(bad, 0);
}

static void
test_addr_format(void **state)
{
	static const struct {
		const char *in;
		bool allow_null;
		size_t dstlen;
		const char *out;
	} cases[] = {
		{ "<User@Example.COM>", false, 256, "User@example.com" },
		{ "<>", true, 256, "" },
		{ "<\"a b\"@x.example>", false, 256, "\"a b\"@x.example" },
		{ "<\"bob\"@x.example>", false, 256, "bob@x.example" },
		{ "<@a,@b:u@c>", false, 256, "u@c" },
		{ "<user@[1.2.3.4]>", false, 256, "user@[1.2.3.4]" },
		/* truncation keeps a terminated string */
		{ "<User@Example.COM>", false, 5, "User" },
		{ "<User@Example.COM>", false, 1, "" },
		{ "<User@Example.COM>", false, 17, "User@example.com" },
		{ "<User@Example.COM>", false, 16, "User@example.co" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct mailaddr a;
		char *dst = malloc(cases[i].dstlen);
		enum addr_result rc = addr_parse_path(cases[i].in, strlen(cases[i].in),
		    cases[i].allow_null, false, &a);

		CASE_CHECK(bad, rc == ADDR_OK, i, "\"%s\": result %d", cases[i].in, rc);
		if (rc == ADDR_OK) {
			addr_format(&a, dst, cases[i].dstlen);
			CASE_CHECK(bad, strcmp(dst, cases[i].out) == 0, i,
			    "\"%s\" in %zu: \"%s\", want \"%s\"", cases[i].in,
			    cases[i].dstlen, dst, cases[i].out);
		}
		free(dst);
	}
	assert_int_equal(bad, 0);
}

static void
test_addr_result_reason(void **state)
{
	static const enum addr_result all[] = {
		ADDR_OK, ADDR_NO_BRACKETS, ADDR_SYNTAX, ADDR_LOCAL_TOO_LONG,
		ADDR_DOMAIN_TOO_LONG, ADDR_PATH_TOO_LONG, ADDR_NO_DOMAIN,
		ADDR_BAD_LITERAL, ADDR_8BIT, ADDR_NULL_NOT_ALLOWED,
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(all); i++) {
		const char *r = addr_result_reason(all[i]);

		CASE_CHECK(bad, r != NULL && *r != '\0', i, "%s", "empty reason");
		for (size_t j = 0; r != NULL && j < i; j++)
			CASE_CHECK(bad, strcmp(r, addr_result_reason(all[j])) != 0, i,
			    "reason \"%s\" shared with %zu", r, j);
	}
	assert_string_equal(addr_result_reason(ADDR_OK), "ok");
	assert_non_null(addr_result_reason((enum addr_result)999));
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_table),
		cmocka_unit_test(test_addr_lengths),
		cmocka_unit_test(test_addr_flags_monotonic),
		cmocka_unit_test(test_addr_format),
		cmocka_unit_test(test_addr_result_reason),
	};

	return cmocka_run_group_tests_name("smtp_address", tests, NULL, NULL);
}
