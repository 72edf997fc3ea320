/*
 * Email addresses in body text (src/scan/bodyaddr.h), for HBL _email:
 * every address (not one per domain), any TLD, URL punctuation left out
 * of the local part, bounded work on hostile text.
 */
#include "unit.h"

#include "scan/bodyaddr.h"

struct addr_case {
	const char *text;
	const char *want[4];	/* in order, NULL-terminated */
};

static const struct addr_case cases[] = {
	{ "write to sales@example.com today", { "sales@example.com" } },
	{ "Two: a@example.com, b@example.com.", { "a@example.com", "b@example.com" } },
	{ "Mixed Case: John.Doe+Tag@GoogleMail.COM", { "john.doe+tag@googlemail.com" } },
	/* any TLD (SPEC 5.1) */
	{ "sales@badspam2.test and x@y.zz", { "sales@badspam2.test", "x@y.zz" } },
	{ "idn: a@xn--bcher-kva.example", { "a@xn--bcher-kva.example" } },
	/* mailto: and URL queries give the address, not the punctuation */
	{ "<a href=\"mailto:drop@box.example\">", { "drop@box.example" } },
	{ "https://r.example/?to=drop@box.example&x=1", { "drop@box.example" } },
	{ "<drop@box.example>", { "drop@box.example" } },
	/* dots: not first, not last, not twice */
	{ "...lead@example.com", { "lead@example.com" } },
	{ "trail.@example.com", { NULL } },
	{ "dou..ble@example.com", { NULL } },
	/* domains: a dot, a TLD of letters (cid: and versions are no address) */
	{ "user@localhost", { NULL } },
	{ "image001.png@01D3A1B2.C3D4E5F0", { NULL } },
	{ "a@b.c", { NULL } },
	{ "a@-bad.example", { NULL } },
	{ "a@bad-.example", { NULL } },
	{ "end a@example.com.-", { "a@example.com" } },
	{ "@example.com", { NULL } },
	{ "a@", { NULL } },
	{ "", { NULL } },
	/* a 64-octet local part is one, 65 is none */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	    { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com" } },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com",
	    { NULL } },
};

static void
test_addresses(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct addr_case *c = &cases[i];
		size_t pos = 0, len = strlen(c->text), n = 0;
		char out[BODYADDR_MAX];

		while (bodyaddr_next(c->text, len, &pos, out)) {
			CASE_CHECK(bad, n < 3 && c->want[n] != NULL && strcmp(out, c->want[n]) == 0,
			    i, "%s: #%zu got %s", c->text, n, out);
			n++;
		}
		CASE_CHECK(bad, n == 3 || c->want[n] == NULL, i, "%s: %zu found, %s missing",
		    c->text, n, c->want[n] ? c->want[n] : "");
		CASE_CHECK(bad, pos == len, i, "%s: pos %zu", c->text, pos);
	}
	assert_int_equal(bad, 0);
}

/* Never reads past len: a cut domain is the cut part or nothing. */
static void
test_bounds(void **state)
{
	static const char text[] = "mail someone@example.com";
	char *buf = malloc(sizeof(text) - 5), out[BODYADDR_MAX];
	size_t pos = 0;

	assert_non_null(buf);
	memcpy(buf, text, sizeof(text) - 5);	/* "mail someone@example", no NUL */
	assert_false(bodyaddr_next(buf, sizeof(text) - 5, &pos, out));
	free(buf);
}

/* Hostile text: '@' everywhere, endless labels. Bounded per '@'. */
static void
test_hostile(void **state)
{
	size_t len = 1u << 20, pos = 0, n = 0;
	char *t = malloc(len), out[BODYADDR_MAX];

	assert_non_null(t);
	for (size_t i = 0; i < len; i++)
		t[i] = "a.b@"[i % 4];
	while (bodyaddr_next(t, len, &pos, out))
		n++;
	assert_int_equal(pos, len);
	memset(t, 'a', len);
	t[len / 2] = '@';
	pos = 0;
	assert_false(bodyaddr_next(t, len, &pos, out));
	(void)n;
	free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
