/*
 * Table tests for src/queue/dane.h: which TLSA records SMTP can use
 * (RFC 7672 3.1: DANE-TA 2 and DANE-EE 3 only; RFC 7671 5.1: a digest of
 * the wrong length is unusable), what is malformed, and the record set
 * kept per host (capped, unusable ones counted).
 */
#include "unit.h"

#include "queue/dane.h"

static const char sha256[32] = { 1, 2, 3 };
static const char sha512[64] = { 4, 5, 6 };

struct tlsa_case {
	const char *what;
	unsigned char head[3];	/* usage, selector, matching type */
	const char *data;
	size_t dlen;
	enum dane_rr want;
};

static const struct tlsa_case cases[] = {
	{ "DANE-EE SPKI SHA-256", { 3, 1, 1 }, sha256, 32, DANE_USABLE },
	{ "DANE-EE cert SHA-512", { 3, 0, 2 }, sha512, 64, DANE_USABLE },
	{ "DANE-TA cert SHA-256", { 2, 0, 1 }, sha256, 32, DANE_USABLE },
	{ "DANE-TA SPKI full", { 2, 1, 0 }, "0123456789", 10, DANE_USABLE },
	{ "PKIX-TA", { 0, 0, 1 }, sha256, 32, DANE_UNUSABLE },
	{ "PKIX-EE", { 1, 1, 1 }, sha256, 32, DANE_UNUSABLE },
	{ "usage 4", { 4, 1, 1 }, sha256, 32, DANE_UNUSABLE },
	{ "usage 255", { 255, 1, 1 }, sha256, 32, DANE_UNUSABLE },
	{ "selector 2", { 3, 2, 1 }, sha256, 32, DANE_UNUSABLE },
	{ "matching type 3", { 3, 1, 3 }, sha256, 32, DANE_UNUSABLE },
	{ "SHA-256 of 31", { 3, 1, 1 }, sha256, 31, DANE_UNUSABLE },
	{ "SHA-256 of 64", { 3, 1, 1 }, sha512, 64, DANE_UNUSABLE },
	{ "SHA-512 of 32", { 3, 1, 2 }, sha256, 32, DANE_UNUSABLE },
	{ "no data", { 3, 1, 1 }, "", 0, DANE_MALFORMED },
};

static void
test_parse(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct tlsa_case *c = &cases[i];
		char rdata[80];
		unsigned u, s, m;
		const unsigned char *d;
		size_t dl;
		enum dane_rr got;

		memcpy(rdata, c->head, 3);
		memcpy(rdata + 3, c->data, c->dlen);
		got = dane_tlsa_parse(rdata, 3 + c->dlen, &u, &s, &m, &d, &dl);
		CASE_CHECK(bad, got == c->want, i, "%s: got %d, want %d", c->what, got, c->want);
		if (got != DANE_MALFORMED)
			CASE_CHECK(bad, u == c->head[0] && s == c->head[1] && m == c->head[2] &&
			    dl == c->dlen && d == (const unsigned char *)rdata + 3, i, "%s: fields",
			    c->what);
	}
	/* shorter than the fixed fields */
	{
		unsigned u, s, m;
		const unsigned char *d;
		size_t dl;
		assert_int_equal(dane_tlsa_parse("\x03\x01", 2, &u, &s, &m, &d, &dl), DANE_MALFORMED);
		assert_int_equal(dane_tlsa_parse("", 0, &u, &s, &m, &d, &dl), DANE_MALFORMED);
	}
	assert_int_equal(bad, 0);
}

static void
test_records(void **state)
{
	struct dane_records r = { 0 };
	char ee[35] = { 3, 1, 1 }, pkix[35] = { 1, 1, 1 };

	dane_records_add(&r, pkix, sizeof(pkix));
	assert_int_equal(r.n, 0);
	assert_int_equal(r.unusable, 1);
	for (int i = 0; i < DANE_TLSA_MAX + 2; i++) {
		ee[3] = (char)i;
		dane_records_add(&r, ee, sizeof(ee));
	}
	/* capped: the ones past the cap count as unusable */
	assert_int_equal(r.n, DANE_TLSA_MAX);
	assert_int_equal(r.unusable, 3);
	assert_int_equal(r.rec[0].usage, 3);
	assert_int_equal(r.rec[0].len, 32);
	assert_int_equal(r.rec[1].data[0], 1);
	dane_records_add(&r, "\x03", 1);	/* malformed */
	assert_int_equal(r.unusable, 4);
	dane_records_clear(&r);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.unusable, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
