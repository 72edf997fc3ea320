/*
 * Fuzz target for the ACME answer parsers (acme/answer.c): the same input
 * is read as a directory, an order, an authorization and a problem.
 * Invariants: what is accepted is bounded and well-formed: URLs are
 * https:// without quote, backslash or control octet; tokens base64url;
 * problem text printable without quotes.
 */
#include "fuzz.h"

#include "acme/answer.h"

static void
check_url(const char *u, bool may_be_empty)
{
	size_t n = strlen(u);

	if (n == 0 && may_be_empty)
		return;
	CHECK(n < ACME_URL_MAX && strncmp(u, "https://", 8) == 0);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)u[i] > 0x20 && (unsigned char)u[i] < 0x7f && u[i] != '"' &&
		    u[i] != '\\');
}

static void
check_text(const char *t)
{
	for (size_t i = 0; t[i]; i++)
		CHECK((unsigned char)t[i] >= 0x20 && t[i] != '"' && t[i] != '\\' && t[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	struct acme_directory d;
	struct acme_order *o = malloc(sizeof(*o));
	struct acme_authz z;
	struct acme_problem p;
	const char *why;

	if (acme_parse_directory(buf, size, &d, &why) == 0) {
		check_url(d.new_nonce, false);
		check_url(d.new_account, false);
		check_url(d.new_order, false);
	}
	if (acme_parse_order(buf, size, o, &why) == 0) {
		CHECK(o->nauthz >= 1 && o->nauthz <= ACME_AUTHZ_MAX);
		for (size_t i = 0; i < o->nauthz; i++)
			check_url(o->authz[i], false);
		check_url(o->finalize, false);
		check_url(o->certificate, o->status != ACME_STATUS_VALID);
		check_text(o->error.type);
		check_text(o->error.detail);
	}
	if (acme_parse_authz(buf, size, &z, &why) == 0) {
		CHECK(z.identifier[0] != '\0');
		if (z.has_http01) {
			CHECK(acme_b64url_ok(z.token, strlen(z.token)));
			check_url(z.challenge_url, false);
		}
		check_text(z.error.detail);
	}
	if (acme_parse_problem(buf, size, &p, &why) == 0) {
		check_text(p.type);
		check_text(p.detail);
	}
	free(o);
	free(buf);
	return 0;
}
