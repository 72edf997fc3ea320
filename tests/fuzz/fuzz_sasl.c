/*
 * Fuzz target for the SMTP AUTH decoders (src/auth/sasl.h): the input is
 * handed as one base64 response, in an exactly-sized buffer, to
 * sasl_plain_decode and sasl_login_decode with the server's buffer sizes
 * (SASL_FIELD_MAX) and with small ones derived from the input, and the
 * first line is also looked up as a mechanism name.
 *
 * Invariants: an accepted response decodes to NUL-terminated fields
 * within the caller's buffers (and SASL_FIELD_MAX), with no NUL inside
 * and none empty; nothing is written past the buffers; the input was
 * strict base64 (alphabet, length a multiple of 4, at most two '=' and
 * only at the end); an accepted PLAIN response re-encodes to exactly the
 * input when its authzid was empty or equal to the user; decoding is
 * deterministic; a smaller buffer never accepts what a larger refuses.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "auth/sasl.h"

#define GUARD 32
#define FILL 0x5A

static bool
b64_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '+' || c == '/';
}

/* The structural rules of strict base64 an accepted input must obey. */
static void
check_strict_b64(const char *in, size_t len)
{
	size_t pad = 0;

	CHECK(len > 0 && len % 4 == 0);
	while (pad < len && in[len - 1 - pad] == '=')
		pad++;
	CHECK(pad <= 2);
	for (size_t i = 0; i < len - pad; i++)
		CHECK(b64_alpha((unsigned char)in[i]));
}

static size_t
b64_encode(const char *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)(unsigned char)in[i] << 16;
		size_t n = len - i < 3 ? len - i : 3;
		if (n > 1)
			v |= (unsigned)(unsigned char)in[i + 1] << 8;
		if (n > 2)
			v |= (unsigned char)in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = n > 1 ? tab[(v >> 6) & 63] : '=';
		out[o++] = n > 2 ? tab[v & 63] : '=';
	}
	return o;
}

static unsigned char *
guarded(size_t n)
{
	unsigned char *p = malloc(n + GUARD);

	if (p == NULL)
		abort();
	memset(p, FILL, n + GUARD);
	return p;
}

static void
check_guard(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < GUARD; i++)
		CHECK(p[n + i] == FILL);
}

/* A decoded field: terminated inside its buffer, non-empty, no NUL
 * before the terminator (trivially) and within the caps. */
static size_t
check_field(const unsigned char *p, size_t cap)
{
	const unsigned char *nul = memchr(p, '\0', cap);
	size_t n;

	CHECK(nul != NULL);
	n = (size_t)(nul - p);
	CHECK(n > 0 && n < cap && n < SASL_FIELD_MAX);
	return n;
}

static int
plain(const char *in, size_t len, size_t ulen, size_t plen, char *user_out, char *pass_out)
{
	unsigned char *u = guarded(ulen), *p = guarded(plen);
	int rc = sasl_plain_decode(in, len, (char *)u, ulen, (char *)p, plen);

	CHECK(rc == 0 || rc == -1);
	check_guard(u, ulen);
	check_guard(p, plen);
	if (rc == 0) {
		size_t un = check_field(u, ulen), pn = check_field(p, plen);
		check_strict_b64(in, len);
		if (user_out != NULL) {
			memcpy(user_out, u, un + 1);
			memcpy(pass_out, p, pn + 1);
		}
	}
	free(u);
	free(p);
	return rc;
}

static int
login(const char *in, size_t len, size_t outlen, char *copy)
{
	unsigned char *o = guarded(outlen);
	int rc = sasl_login_decode(in, len, (char *)o, outlen);

	CHECK(rc == 0 || rc == -1);
	check_guard(o, outlen);
	if (rc == 0) {
		size_t n = check_field(o, outlen);
		check_strict_b64(in, len);
		if (copy != NULL)
			memcpy(copy, o, n + 1);
	}
	free(o);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	static char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX], lg[SASL_FIELD_MAX];
	size_t small = size ? (size_t)data[0] % 24 + 1 : 1;
	int rc, rc2;

	/* the mechanism name: the input up to the first space */
	{
		const char *sp = memchr(buf, ' ', size);
		size_t ml = sp ? (size_t)(sp - buf) : size;
		enum sasl_mech m = sasl_mech_lookup(buf, ml);
		CHECK(m == SASL_NONE || m == SASL_PLAIN || m == SASL_LOGIN);
		if (m != SASL_NONE)
			CHECK(ml == 5);
	}

	/* PLAIN with the server's buffers */
	rc = plain(buf, size, SASL_FIELD_MAX, SASL_FIELD_MAX, user, pass);
	rc2 = plain(buf, size, SASL_FIELD_MAX, SASL_FIELD_MAX, NULL, NULL);
	CHECK(rc == rc2);
	if (rc == 0) {
		/* "\0user\0pass" or "user\0user\0pass" re-encode to the input,
		 * unless the input had non-zero pad bits (then its length at
		 * least matches) */
		size_t un = strlen(user), pn = strlen(pass), n = 0, elen;
		char *raw = malloc(2 * un + pn + 2), *enc = malloc((2 * un + pn + 2) / 3 * 4 + 8);
		bool match = false;
		if (raw == NULL || enc == NULL)
			abort();
		for (int authz = 0; authz < 2 && !match; authz++) {
			n = 0;
			if (authz) {
				memcpy(raw, user, un);
				n = un;
			}
			raw[n++] = '\0';
			memcpy(raw + n, user, un);
			n += un;
			raw[n++] = '\0';
			memcpy(raw + n, pass, pn);
			n += pn;
			elen = b64_encode(raw, n, enc);
			if (elen == size) {
				/* same length: identical but for the last
				 * quantum's pad bits */
				match = memcmp(enc, buf, size >= 4 ? size - 4 : 0) == 0;
			}
		}
		CHECK(match);
		free(raw);
		free(enc);
	}
	/* small buffers never accept what the server's refuse */
	rc2 = plain(buf, size, small, (size_t)(size ? data[size - 1] % 24 + 1 : 1), NULL, NULL);
	if (rc != 0)
		CHECK(rc2 != 0);

	/* LOGIN */
	rc = login(buf, size, SASL_FIELD_MAX, lg);
	CHECK(rc == login(buf, size, SASL_FIELD_MAX, NULL));
	if (rc == 0)
		CHECK(size == (strlen(lg) + 2) / 3 * 4);
	rc2 = login(buf, size, small, NULL);
	if (rc != 0)
		CHECK(rc2 != 0);
	rc2 = login(buf, size, 1, NULL);	/* room for the NUL only */
	CHECK(rc2 != 0);

	free(buf);
	return 0;
}
