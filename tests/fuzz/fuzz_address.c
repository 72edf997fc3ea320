/*
 * Fuzz target for the RFC 5321 path parser, with every combination of
 * allow_null and utf8, and addr_format. Invariants: results are
 * terminated strings within their caps; the flags only widen acceptance;
 * no 8-bit octet passes without utf8; the domain is lower-case; an
 * accepted path never hid a NUL; and formatting then re-parsing an
 * accepted mailbox gives it back unchanged.
 */
#include "fuzz.h"

#include "smtp/address.h"

static void
check_ok(const struct mailaddr *a, const char *buf, size_t size, bool allow_null,
    bool utf8)
{
	char out[ADDR_LOCAL_MAX + ADDR_DOMAIN_MAX + 8], small[8], *path;
	struct mailaddr again;
	size_t ll, dl, n;

	CHECK(memchr(a->local, '\0', sizeof(a->local)) != NULL);
	CHECK(memchr(a->domain, '\0', sizeof(a->domain)) != NULL);
	CHECK(memchr(buf, '\0', size) == NULL);
	ll = strlen(a->local);
	dl = strlen(a->domain);
	if (a->null) {
		CHECK(allow_null && size == 2 && ll == 0 && dl == 0);
		addr_format(a, out, sizeof(out));
		CHECK(out[0] == '\0');
		return;
	}
	CHECK(ll > 0 && dl > 0 && ll <= ADDR_LOCAL_MAX + 2 && dl <= ADDR_DOMAIN_MAX);
	CHECK(a->literal == (a->domain[0] == '['));
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)a->domain[i];
		CHECK(!(c >= 'A' && c <= 'Z'));
		CHECK(utf8 || c < 0x80);
	}
	for (size_t i = 0; i < ll; i++)
		CHECK(utf8 || (unsigned char)a->local[i] < 0x80);
	CHECK(a->quoted == (a->local[0] == '"'));

	addr_format(a, out, sizeof(out));
	n = strlen(out);
	CHECK(n == ll + 1 + dl);
	/* truncation always terminates */
	addr_format(a, small, (size_t)(size % sizeof(small)) + 1);
	CHECK(strlen(small) <= size % sizeof(small));
	CHECK(strncmp(small, out, strlen(small)) == 0);

	/* round trip: "<" formatted ">" parses back to the same mailbox */
	path = malloc(n + 2);
	path[0] = '<';
	memcpy(path + 1, out, n);
	path[n + 1] = '>';
	CHECK(addr_parse_path(path, n + 2, allow_null, utf8, &again) == ADDR_OK);
	CHECK(strcmp(again.local, a->local) == 0);
	CHECK(strcmp(again.domain, a->domain) == 0);
	CHECK(!again.source_route && !again.null);
	CHECK(again.quoted == a->quoted && again.literal == a->literal);
	free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	enum addr_result r[4];

	for (int f = 0; f < 4; f++) {
		bool allow_null = (f & 1) != 0, utf8 = (f & 2) != 0;
		struct mailaddr a;
		const char *reason;

		r[f] = addr_parse_path(buf, size, allow_null, utf8, &a);
		CHECK(r[f] >= ADDR_OK && r[f] <= ADDR_NULL_NOT_ALLOWED);
		reason = addr_result_reason(r[f]);
		CHECK(reason != NULL && reason[0] != '\0');
		if (r[f] == ADDR_OK)
			check_ok(&a, buf, size, allow_null, utf8);
	}
	/* the flags only ever widen what is accepted */
	if (r[0] == ADDR_OK)
		CHECK(r[1] == ADDR_OK && r[2] == ADDR_OK && r[3] == ADDR_OK);
	if (r[1] == ADDR_OK || r[2] == ADDR_OK)
		CHECK(r[3] == ADDR_OK);
	free(buf);
	return 0;
}
