/*
 * HBL hashing (hbl.h). SHA-1 and SHA-256 through OpenSSL's EVP; base32
 * per RFC 4648 section 6. Attachments are decoded into the hash through
 * a fixed buffer: a 50 MB file costs the same memory as a 5 kB one, and
 * time linear in its size.
 */
#include "hbl.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "scan/decode.h"

#define FILE_CHUNK 16384	/* decoded octets per hash update */

bool
hbl_email_normalize(const char *addr, size_t len, char *out, size_t outlen)
{
	char buf[HBL_ADDR_MAX + 1];
	const char *at, *plus;
	char *dom;
	size_t ll, o = 0;
	bool gmail;

	if (len == 0 || len > HBL_ADDR_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
		buf[i] = (char)tolower(c);
	}
	buf[len] = '\0';
	/* the last '@': a quoted local part may hold one */
	at = strrchr(buf, '@');
	if (at == NULL || at == buf || at[1] == '\0')
		return false;
	dom = (char *)at + 1;
	if (strcmp(dom, "googlemail.com") == 0)
		dom = "gmail.com";
	gmail = strcmp(dom, "gmail.com") == 0;
	/* "+tag" to the '@' is dropped (SH.pm: s/(\+.*\@)/@/) */
	ll = (size_t)(at - buf);
	plus = memchr(buf, '+', ll);
	if (plus != NULL)
		ll = (size_t)(plus - buf);
	for (size_t i = 0; i < ll; i++) {
		if (gmail && buf[i] == '.')
			continue;	/* Gmail ignores the dots of a local part */
		if (o + 1 >= outlen)
			return false;
		out[o++] = buf[i];
	}
	if (o == 0 || o + 1 + strlen(dom) + 1 > outlen)
		return false;
	snprintf(out + o, outlen - o, "@%s", dom);
	return true;
}

static void
digest(const EVP_MD *md, const void *data, size_t len, unsigned char *out, unsigned *outlen)
{
	if (EVP_Digest(data, len, out, outlen, md, NULL) != 1)
		abort();	/* no memory in OpenSSL: as xmalloc does */
}

bool
hbl_email_hash(const char *addr, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char norm[HBL_ADDR_MAX + 16];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (!hbl_email_normalize(addr, len, norm, sizeof(norm)))
		return false;
	digest(EVP_sha1(), norm, strlen(norm), md, &mdlen);
	for (unsigned i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	return true;
}

size_t
hbl_base32(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t n = (len * 8 + 4) / 5, o = 0;
	unsigned buf = 0, bits = 0;

	if (outlen < n + 1)
		return 0;
	for (size_t i = 0; i < len; i++) {
		buf = (buf << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alpha[(buf >> (bits - 5)) & 31];
			bits -= 5;
		}
		buf &= (1u << bits) - 1;
	}
	if (bits > 0)
		out[o++] = alpha[(buf << (5 - bits)) & 31];
	out[o] = '\0';
	return o;
}

static void
sha256_b32(const unsigned char *md, char *out)
{
	hbl_base32(md, 32, out, HBL_HASH_MAX);
}

void
hbl_cw_hash(const char *wallet, size_t len, bool lower, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	char low[256];

	if (lower && len <= sizeof(low)) {
		for (size_t i = 0; i < len; i++)
			low[i] = (char)tolower((unsigned char)wallet[i]);
		wallet = low;
	}
	digest(EVP_sha256(), wallet, len, md, &mdlen);
	sha256_b32(md, out);
}

struct hbl_file {
	EVP_MD_CTX *ctx;
};

struct hbl_file *
hbl_file_begin(void)
{
	struct hbl_file *f = xcalloc(1, sizeof(*f));

	f->ctx = EVP_MD_CTX_new();
	if (f->ctx == NULL || EVP_DigestInit_ex(f->ctx, EVP_sha256(), NULL) != 1)
		abort();
	return f;
}

void
hbl_file_update(struct hbl_file *f, const void *data, size_t len)
{
	if (len > 0 && EVP_DigestUpdate(f->ctx, data, len) != 1)
		abort();
}

void
hbl_file_end(struct hbl_file *f, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (EVP_DigestFinal_ex(f->ctx, md, &mdlen) != 1)
		abort();
	sha256_b32(md, out);
	hbl_file_free(f);
}

void
hbl_file_free(struct hbl_file *f)
{
	if (f == NULL)
		return;
	EVP_MD_CTX_free(f->ctx);
	free(f);
}

/* The value of each base64 octet, -1 outside the alphabet; filled once
 * per process (scans run on worker threads too). */
static signed char val[256];
static pthread_once_t val_once = PTHREAD_ONCE_INIT;

static void
val_fill(void)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	memset(val, -1, sizeof(val));
	for (int i = 0; a[i]; i++)
		val[(unsigned char)a[i]] = (signed char)i;
}

/* Base64 (RFC 2045 6.8) as decode.c reads it: characters outside the
 * alphabet skipped, the first '=' ends the data. */
static uint64_t
body_base64(struct hbl_file *f, const char *b, size_t len)
{
	unsigned char out[FILE_CHUNK];
	size_t o = 0;
	uint64_t total = 0;
	unsigned acc = 0, n = 0;

	pthread_once(&val_once, val_fill);
	for (size_t i = 0; i < len && b[i] != '='; i++) {
		int v = val[(unsigned char)b[i]];
		if (v < 0)
			continue;
		acc = (acc << 6) | (unsigned)v;
		if (++n == 4) {
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
			n = 0;
			if (o + 3 > sizeof(out)) {
				hbl_file_update(f, out, o);
				total += o;
				o = 0;
			}
		}
	}
	/* a last partial quantum: 2 or 3 characters give 1 or 2 octets */
	if (n >= 2) {
		acc <<= 6 * (4 - n);
		out[o++] = (unsigned char)(acc >> 16);
		if (n == 3)
			out[o++] = (unsigned char)(acc >> 8);
	}
	hbl_file_update(f, out, o);
	return total + o;
}

/* Quoted-printable in pieces cut after a line end (or, for an endless
 * line, where no "=XX" is split), each decoded by qp_decode. */
static uint64_t
body_qp(struct hbl_file *f, const char *b, size_t len)
{
	char out[FILE_CHUNK];
	uint64_t total = 0;
	size_t pos = 0;

	while (pos < len) {
		size_t end = len - pos <= sizeof(out) ? len : pos + sizeof(out);
		if (end < len) {
			size_t cut = end;
			while (cut > pos && b[cut - 1] != '\n')
				cut--;
			if (cut == pos) {
				cut = end;
				/* never between '=' and its two digits */
				while (cut > pos + 2 && (b[cut - 1] == '=' || b[cut - 2] == '='))
					cut--;
			}
			end = cut;
		}
		size_t n = qp_decode(b + pos, end - pos, out, sizeof(out));
		hbl_file_update(f, out, n);
		total += n;
		pos = end;
	}
	return total;
}

uint64_t
hbl_file_body(struct hbl_file *f, const char *body, size_t len, enum hbl_encoding enc)
{
	switch (enc) {
	case HBL_ENC_BASE64:
		return body_base64(f, body, len);
	case HBL_ENC_QP:
		return body_qp(f, body, len);
	case HBL_ENC_RAW:
	default:
		hbl_file_update(f, body, len);
		return len;
	}
}
