/*
 * Tests for DKIM (src/scan/dkim.h and dkim_internal.h): tag lists,
 * canonicalization with RFC 6376 3.4.5's example, base64, and
 * verification with RSA and Ed25519 keys generated here at run time.
 * Messages are signed by the small signer below, written from RFC 6376
 * 3.7 and RFC 8463 3 independently of the verifier's code.
 */
#include "unit.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <time.h>

#include "scan/dkim.h"
#include "scan/dkim_internal.h"

/* ---- tag lists ---- */

struct tags_seen {
	char buf[512];
	size_t n;
};

static void
collect(void *arg, const char *tag, size_t tlen, const char *val, size_t vlen)
{
	struct tags_seen *s = arg;

	s->n += (size_t)snprintf(s->buf + s->n, sizeof(s->buf) - s->n, "[%.*s=%.*s]", (int)tlen,
	    tag, (int)vlen, val);
}

struct tag_case {
	const char *in;
	const char *want;	/* the tags seen, NULL: refused */
};

static const struct tag_case tag_cases[] = {
	{ "v=1; a=rsa-sha256", "[v=1][a=rsa-sha256]" },
	{ "v=1; a=rsa-sha256;", "[v=1][a=rsa-sha256]" },
	{ "v=1;a=rsa-sha256; ", "[v=1][a=rsa-sha256]" },
	{ " v = 1 ;\r\n\ta =\trsa-sha256 ", "[v=1][a=rsa-sha256]" },
	{ "b=abc\r\n def\r\n ghi; bh=x", "[b=abc\r\n def\r\n ghi][bh=x]" },
	{ "k=rsa; p=", "[k=rsa][p=]" },				/* empty value */
	{ "h=from : to:subject", "[h=from : to:subject]" },
	{ "tag_1=x; T2=y", "[tag_1=x][T2=y]" },
	{ "z=From:foo@eng.example.net|To:joe@example.com", "[z=From:foo@eng.example.net|To:joe@example.com]" },
	{ "", "" },
	{ "   ", "" },
	{ "v=1; v=1", NULL },					/* duplicate */
	{ "v=1;; a=b", NULL },
	{ ";", NULL },
	{ "v", NULL },
	{ "v 1", NULL },
	{ "=1", NULL },
	{ "1v=1", NULL },
	{ "_v=1", NULL },
	{ "v=1 ;a", NULL },
	{ "v=\x01", NULL },
	{ "v=caf\xc3\xa9", NULL },				/* 8-bit */
};

static void
test_tags(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(tag_cases); i++) {
		const struct tag_case *c = &tag_cases[i];
		struct tags_seen s = { "", 0 };
		int rc = dkim_parse_tags(c->in, strlen(c->in), collect, &s);
		if (c->want == NULL)
			CASE_CHECK(bad, rc == -1, i, "%s: accepted as %s",
			    unit_show(c->in, strlen(c->in)), s.buf);
		else
			CASE_CHECK(bad, rc == 0 && strcmp(s.buf, c->want) == 0, i,
			    "%s: rc=%d got %s", unit_show(c->in, strlen(c->in)), rc,
			    unit_show(s.buf, s.n));
	}
	assert_int_equal(bad, 0);
}

/* ---- canonicalization ---- */

/* RFC 6376 3.4.5 */
static const char example_hdr1_name[] = "A";
static const char example_hdr1_value[] = " X\r\n";
static const char example_hdr2_name[] = "B ";
static const char example_hdr2_value[] = " Y\t\r\n\tZ  \r\n";
static const char example_body[] = " C \r\nD \t E\r\n\r\n\r\n";

static void
test_rfc_example(void **state)
{
	char out[128];
	size_t n;

	n = dkim_canon_header_relaxed(S(example_hdr1_name), S(example_hdr1_value), out,
	    sizeof(out));
	assert_int_equal(n, 5);
	assert_memory_equal(out, "a:X\r\n", 5);
	n = dkim_canon_header_relaxed(S(example_hdr2_name), S(example_hdr2_value), out,
	    sizeof(out));
	assert_int_equal(n, 7);
	assert_memory_equal(out, "b:Y Z\r\n", 7);
	n = dkim_canon_body(S(example_body), 1, out, sizeof(out));
	assert_int_equal(n, 9);
	assert_memory_equal(out, " C\r\nD E\r\n", 9);
	n = dkim_canon_body(S(example_body), 0, out, sizeof(out));
	assert_int_equal(n, 12);
	assert_memory_equal(out, " C \r\nD \t E\r\n", 12);
}

struct body_case {
	const char *in;
	size_t len;
	int relaxed;
	const char *want;
};

static const struct body_case body_cases[] = {
	/* RFC 6376 3.4.5 */
	{ S(" C \r\nD \t E\r\n\r\n\r\n"), 1, " C\r\nD E\r\n" },
	{ S(" C \r\nD \t E\r\n\r\n\r\n"), 0, " C \r\nD \t E\r\n" },
	/* the same with bare LF line ends */
	{ S(" C \nD \t E\n\n\n"), 1, " C\r\nD E\r\n" },
	{ S(" C \nD \t E\n\n\n"), 0, " C \r\nD \t E\r\n" },
	/* empty bodies: one CRLF in simple, nothing in relaxed */
	{ S(""), 0, "\r\n" },
	{ S(""), 1, "" },
	{ S("\r\n\r\n"), 0, "\r\n" },
	{ S("\r\n\r\n"), 1, "" },
	{ S(" \t \r\n"), 1, "" },
	{ S(" \t \r\n"), 0, " \t \r\n" },
	/* a missing final CRLF is added */
	{ S("abc"), 0, "abc\r\n" },
	{ S("abc"), 1, "abc\r\n" },
	{ S("abc \t"), 1, "abc\r\n" },
	/* inner empty lines stay */
	{ S("a\r\n\r\nb\r\n\r\n"), 0, "a\r\n\r\nb\r\n" },
	{ S("a\r\n \r\nb\r\n"), 1, "a\r\n\r\nb\r\n" },
	{ S("  a  b  \r\n"), 1, " a b\r\n" },
	{ S("a\tb\r\n"), 1, "a b\r\n" },
	/* a bare CR is content */
	{ S("a\rb\r\n"), 0, "a\rb\r\n" },
	{ S("a\r\n\r\n\r"), 0, "a\r\n\r\n\r\r\n" },
};

static void
test_body(void **state)
{
	char out[128];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(body_cases); i++) {
		const struct body_case *c = &body_cases[i];
		size_t n = dkim_canon_body(c->in, c->len, c->relaxed, out, sizeof(out));
		size_t need = dkim_canon_body(c->in, c->len, c->relaxed, NULL, 0);
		CASE_CHECK(bad, n == strlen(c->want) && memcmp(out, c->want, n) == 0 && need == n,
		    i, "%s (%s): got %s", unit_show(c->in, c->len), c->relaxed ? "relaxed" :
		    "simple", unit_show(out, n < sizeof(out) ? n : sizeof(out)));
	}
	/* a short output buffer: the length needed, nothing past outlen */
	memset(out, 'Z', sizeof(out));
	assert_int_equal(dkim_canon_body(S("hello world\r\n"), 0, out, 4), 13);
	assert_memory_equal(out, "hellZ", 5);
	assert_int_equal(bad, 0);
}

struct hdr_case {
	const char *name, *value;
	const char *want;
};

static const struct hdr_case hdr_cases[] = {
	{ "Subject", " Hello  world ", "subject:Hello world\r\n" },
	{ "SUBJECT \t", "Hello", "subject:Hello\r\n" },
	{ "To", " a@example.com,\r\n\tb@example.com\r\n", "to:a@example.com, b@example.com\r\n" },
	{ "X-Empty", "", "x-empty:\r\n" },
	{ "X-Empty", "  \t ", "x-empty:\r\n" },
	{ "X-Fold", "\r\n continued", "x-fold:continued\r\n" },
	{ "X-Fold", "a\r\n\r\n b", "x-fold:a b\r\n" },
	{ "X-8bit", " caf\xc3\xa9 ", "x-8bit:caf\xc3\xa9\r\n" },
};

static void
test_header(void **state)
{
	char out[128];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(hdr_cases); i++) {
		const struct hdr_case *c = &hdr_cases[i];
		size_t n = dkim_canon_header_relaxed(c->name, strlen(c->name), c->value,
		    strlen(c->value), out, sizeof(out));
		CASE_CHECK(bad, n == strlen(c->want) && memcmp(out, c->want, n) == 0, i,
		    "%s: got %s", c->name, unit_show(out, n));
	}
	assert_int_equal(dkim_canon_header_relaxed(S("Subject"), S(" Hi"), NULL, 0), 12);
	assert_int_equal(bad, 0);
}

struct b64_case {
	const char *in;
	const char *want;	/* NULL: refused */
};

static const struct b64_case b64_cases[] = {
	{ "", "" },
	{ "Zg==", "f" },
	{ "Zm8=", "fo" },
	{ "Zm9v", "foo" },
	{ "Zm9vYg==", "foob" },
	{ "Zm9v\r\n\tYmFy", "foobar" },
	{ "Z m 9 v", "foo" },
	{ "Zm8", "fo" },
	{ "Zm9", NULL },		/* non-zero fill bits */		/* unpadded */
	{ "Zg", "f" },
	{ "Z", NULL },
	{ "Zh==", NULL },		/* non-zero fill bits */
	{ "Zg=", NULL },
	{ "Zg===", NULL },
	{ "Zg==Zg==", NULL },
	{ "Zm9v!", NULL },
	{ "Zm9v-_", NULL },		/* the URL alphabet is not base64 here */
};

static void
test_base64(void **state)
{
	unsigned char out[32];
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(b64_cases); i++) {
		const struct b64_case *c = &b64_cases[i];
		long n = dkim_base64_decode(c->in, strlen(c->in), out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, n == -1, i, "%s: accepted (%ld)", c->in, n);
		else
			CASE_CHECK(bad, n == (long)strlen(c->want) &&
			    memcmp(out, c->want, (size_t)n) == 0, i, "%s: got %ld", c->in, n);
	}
	assert_int_equal(dkim_base64_decode(S("Zm9vYmFy"), out, 5), -1);
	assert_int_equal(bad, 0);
}

/* ---- a test signer ---- */

static char *
b64(const unsigned char *in, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Appends printf output to a growing string. */
static void
cat(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cat(char **s, const char *fmt, ...)
{
	va_list ap;
	char *add = NULL, *old = *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&add, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	if (old == NULL) {
		*s = add;
		return;
	}
	*s = malloc(strlen(old) + strlen(add) + 1);
	assert_non_null(*s);
	strcpy(*s, old);
	strcat(*s, add);
	free(old);
	free(add);
}

/* Relaxed form of one "Name: value" line (no folding in test messages). */
static void
relax_line(const char *line, size_t len, char **out)
{
	const char *colon = memchr(line, ':', len);
	size_t nlen = (size_t)(colon - line), i;
	bool space = false, any = false;

	while (nlen > 0 && line[nlen - 1] == ' ')
		nlen--;
	for (i = 0; i < nlen; i++)
		cat(out, "%c", tolower((unsigned char)line[i]));
	cat(out, ":");
	for (i = (size_t)(colon - line) + 1; i < len; i++) {
		if (line[i] == ' ' || line[i] == '\t') {
			space = true;
			continue;
		}
		if (space && any)
			cat(out, " ");
		any = true;
		space = false;
		cat(out, "%c", line[i]);
	}
	cat(out, "\r\n");
}

struct signing {
	EVP_PKEY *key;
	bool ed25519;
	bool relaxed;		/* c=relaxed/relaxed, else simple/simple */
	const char *h;		/* h= */
	const char *extra;	/* more tags, e.g. "l=5; " */
	const char *alg;	/* a= override */
};

/*
 * Signs msg (CRLF, "Name: value" header lines without folding) and
 * returns the message with a DKIM-Signature field on top. Header fields
 * are picked from the bottom up per name (RFC 6376 5.4.2).
 */
static char *
sign(const struct signing *sg, const char *msg)
{
	const char *sep = strstr(msg, "\r\n\r\n");
	const char *lines[64];
	size_t lens[64], nl = 0, hlen;
	bool used[64] = { false };
	char *body, *bh, *value = NULL, *data = NULL, *b, *out = NULL, *h;
	unsigned char md[32], sig[1024];
	size_t blen, siglen = sizeof(sig);
	unsigned mdlen;
	EVP_MD_CTX *ctx;

	assert_non_null(sep);
	hlen = (size_t)(sep - msg) + 2;
	for (const char *p = msg; p < msg + hlen;) {
		const char *e = strstr(p, "\r\n");
		lines[nl] = p;
		lens[nl++] = (size_t)(e - p);
		p = e + 2;
	}
	blen = dkim_canon_body(sep + 4, strlen(sep + 4), sg->relaxed, NULL, 0);
	body = malloc(blen + 1);
	dkim_canon_body(sep + 4, strlen(sep + 4), sg->relaxed, body, blen);
	EVP_Digest(body, blen, md, &mdlen, EVP_sha256(), NULL);
	bh = b64(md, 32);
	cat(&value, " v=1; a=%s; c=%s; d=example.com; s=sel;\r\n\t%sh=%s;\r\n\tbh=%s;\r\n\tb=",
	    sg->alg ? sg->alg : sg->ed25519 ? "ed25519-sha256" : "rsa-sha256",
	    sg->relaxed ? "relaxed/relaxed" : "simple/simple", sg->extra ? sg->extra : "", sg->h,
	    bh);
	/* the h= fields, bottom-up per name */
	h = strdup(sg->h);
	for (char *save = NULL, *name = strtok_r(h, ":", &save); name != NULL;
	    name = strtok_r(NULL, ":", &save)) {
		for (size_t k = nl; k-- > 0;) {
			if (used[k] || strncasecmp(lines[k], name, strlen(name)) != 0 ||
			    lines[k][strlen(name)] != ':')
				continue;
			used[k] = true;
			if (sg->relaxed)
				relax_line(lines[k], lens[k], &data);
			else
				cat(&data, "%.*s\r\n", (int)lens[k], lines[k]);
			break;
		}
	}
	free(h);
	/* the signature field itself, b= empty, no final CRLF */
	if (sg->relaxed) {
		char *self = NULL, *r = NULL;
		size_t o = 0;
		/* unfold first: relax_line works on one line */
		cat(&self, "DKIM-Signature:%s", value);
		for (size_t i = 0; self[i]; i++)
			if (self[i] != '\r' && self[i] != '\n')
				self[o++] = self[i];
		self[o] = '\0';
		relax_line(self, o, &r);
		r[strlen(r) - 2] = '\0';
		cat(&data, "%s", r);
		free(self);
		free(r);
	} else
		cat(&data, "DKIM-Signature:%s", value);
	ctx = EVP_MD_CTX_new();
	if (sg->ed25519) {
		EVP_Digest(data, strlen(data), md, &mdlen, EVP_sha256(), NULL);
		assert_int_equal(EVP_DigestSignInit(ctx, NULL, NULL, NULL, sg->key), 1);
		assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, md, 32), 1);
	} else {
		assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, sg->key), 1);
		assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)data,
		    strlen(data)), 1);
	}
	EVP_MD_CTX_free(ctx);
	b = b64(sig, siglen);
	cat(&out, "DKIM-Signature:%s%s\r\n%s", value, b, msg);
	free(body);
	free(bh);
	free(value);
	free(data);
	free(b);
	return out;
}

/* The key record for key: "v=DKIM1; k=...; p=..." plus extra tags. */
static char *
key_record(EVP_PKEY *key, bool ed25519, const char *extra)
{
	unsigned char raw[4096], *p = raw;
	size_t rawlen = sizeof(raw);
	char *pub, *out = NULL;

	if (ed25519)
		assert_int_equal(EVP_PKEY_get_raw_public_key(key, raw, &rawlen), 1);
	else {
		int n = i2d_PUBKEY(key, &p);
		assert_true(n > 0);
		rawlen = (size_t)n;
	}
	pub = b64(raw, rawlen);
	cat(&out, "v=DKIM1; k=%s; %sp=%s", ed25519 ? "ed25519" : "rsa", extra ? extra : "", pub);
	free(pub);
	return out;
}

static const char MSG[] =
    "Received: from a.example.net by b.example.org\r\n"
    "From: Joe SixPack <joe@example.com>\r\n"
    "To: Suzie Q <suzie@example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@example.com>\r\n"
    "X-Tag: first\r\n"
    "X-Tag: second\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game. Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

static EVP_PKEY *rsa_key, *rsa_other, *rsa_short, *ed_key;

static int
setup_keys(void **state)
{
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	rsa_short = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	ed_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	return rsa_key && rsa_other && rsa_short && ed_key ? 0 : -1;
}

static int
teardown_keys(void **state)
{
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(rsa_short);
	EVP_PKEY_free(ed_key);
	return 0;
}

/* Replaces the first occurrence of from in s by to (new string). */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	char *out = NULL;

	assert_non_null(at);
	cat(&out, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

/* CRLF to LF. */
static char *
to_lf(const char *s)
{
	char *out = strdup(s);
	size_t o = 0;

	for (size_t i = 0; s[i]; i++)
		if (!(s[i] == '\r' && s[i + 1] == '\n'))
			out[o++] = s[i];
	out[o] = '\0';
	return out;
}

enum key_choice { K_RSA, K_ED, K_RSA_OTHER, K_RSA_SHORT };

enum tamper { T_NONE, T_BODY, T_SUBJECT, T_ADD_UNSIGNED, T_LF, T_WSP_HEADER, T_WSP_BODY,
	T_APPEND_BODY, T_PREPEND_XTAG, T_APPEND_XTAG, T_ADD_SUBJECT, T_FROM_CASE };

struct verify_case {
	const char *what;
	enum key_choice signer;		/* the key that signs */
	enum key_choice published;	/* the key in the record */
	bool relaxed;
	const char *h;
	const char *extra;		/* signature tags */
	const char *alg;
	const char *key_extra;		/* key record tags; "REVOKED": p= empty */
	enum tamper tamper;
	enum dkim_result want;
	const char *reason;		/* expected reason prefix, NULL: any */
};

#define HDRS "from:to:subject:date:message-id"

static const struct verify_case verify_cases[] = {
	{ "rsa relaxed", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_NONE, DKIM_PASS, "" },
	{ "rsa simple", K_RSA, K_RSA, false, HDRS, NULL, NULL, NULL, T_NONE, DKIM_PASS, "" },
	{ "ed25519 relaxed", K_ED, K_ED, true, HDRS, NULL, NULL, NULL, T_NONE, DKIM_PASS, "" },
	{ "ed25519 simple", K_ED, K_ED, false, HDRS, NULL, NULL, NULL, T_NONE, DKIM_PASS, "" },
	{ "rsa 1024", K_RSA_OTHER, K_RSA_OTHER, true, HDRS, NULL, NULL, NULL, T_NONE, DKIM_PASS,
	    "" },
	{ "rsa body byte", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_BODY, DKIM_FAIL,
	    "body hash mismatch" },
	{ "ed25519 body byte", K_ED, K_ED, true, HDRS, NULL, NULL, NULL, T_BODY, DKIM_FAIL,
	    "body hash mismatch" },
	{ "rsa simple body byte", K_RSA, K_RSA, false, HDRS, NULL, NULL, NULL, T_BODY, DKIM_FAIL,
	    "body hash mismatch" },
	{ "rsa subject", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_SUBJECT, DKIM_FAIL,
	    "signature did not verify" },
	{ "ed25519 subject", K_ED, K_ED, true, HDRS, NULL, NULL, NULL, T_SUBJECT, DKIM_FAIL,
	    "signature did not verify" },
	{ "rsa simple subject", K_RSA, K_RSA, false, HDRS, NULL, NULL, NULL, T_SUBJECT,
	    DKIM_FAIL, "signature did not verify" },
	{ "unsigned header added", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_ADD_UNSIGNED,
	    DKIM_PASS, "" },
	{ "bare LF, relaxed", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_LF, DKIM_PASS, "" },
	{ "bare LF, simple", K_ED, K_ED, false, HDRS, NULL, NULL, NULL, T_LF, DKIM_PASS, "" },
	{ "header WSP, relaxed", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_WSP_HEADER,
	    DKIM_PASS, "" },
	{ "header WSP, simple", K_RSA, K_RSA, false, HDRS, NULL, NULL, NULL, T_WSP_HEADER,
	    DKIM_FAIL, "signature did not verify" },
	{ "header name case, relaxed", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_FROM_CASE,
	    DKIM_PASS, "" },
	{ "header name case, simple", K_RSA, K_RSA, false, HDRS, NULL, NULL, NULL, T_FROM_CASE,
	    DKIM_FAIL, "signature did not verify" },
	{ "body WSP, relaxed", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_WSP_BODY, DKIM_PASS,
	    "" },
	{ "body WSP, simple", K_RSA, K_RSA, false, HDRS, NULL, NULL, NULL, T_WSP_BODY, DKIM_FAIL,
	    "body hash mismatch" },
	{ "appended body without l=", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL, T_APPEND_BODY,
	    DKIM_FAIL, "body hash mismatch" },
	/* l= covers the canonical body, 54 octets for MSG */
	{ "appended body with l=", K_RSA, K_RSA, true, HDRS, "l=54; ", NULL, NULL,
	    T_APPEND_BODY, DKIM_PASS, "" },
	{ "l= past the body", K_RSA, K_RSA, true, HDRS, "l=55; ", NULL, NULL, T_NONE,
	    DKIM_PERMERROR, "l= longer" },
	/* bottom-up: h=x-tag signs "second"; one more on top is unsigned */
	{ "x-tag prepended", K_RSA, K_RSA, true, HDRS ":x-tag", NULL, NULL, NULL,
	    T_PREPEND_XTAG, DKIM_PASS, "" },
	{ "x-tag appended", K_RSA, K_RSA, true, HDRS ":x-tag", NULL, NULL, NULL, T_APPEND_XTAG,
	    DKIM_FAIL, "signature did not verify" },
	{ "both x-tags signed, one prepended", K_RSA, K_RSA, true, HDRS ":x-tag:x-tag", NULL,
	    NULL, NULL, T_PREPEND_XTAG, DKIM_PASS, "" },
	{ "x-tag over-signed, one prepended", K_RSA, K_RSA, true, HDRS ":x-tag:x-tag:x-tag",
	    NULL, NULL, NULL, T_PREPEND_XTAG, DKIM_FAIL, "signature did not verify" },
	/* over-signing: a second Subject is signed as absent */
	{ "over-signed subject", K_RSA, K_RSA, true, HDRS ":subject", NULL, NULL, NULL, T_NONE,
	    DKIM_PASS, "" },
	{ "over-signed subject added", K_RSA, K_RSA, true, HDRS ":subject", NULL, NULL, NULL,
	    T_ADD_SUBJECT, DKIM_FAIL, "signature did not verify" },
	/* without over-signing a Subject added on top is not covered: the
	 * signed one is the bottom-most (5.4.2) */
	{ "subject not over-signed, added", K_RSA, K_RSA, true, HDRS, NULL, NULL, NULL,
	    T_ADD_SUBJECT, DKIM_PASS, "" },
	{ "wrong key", K_RSA, K_RSA_OTHER, true, HDRS, NULL, NULL, NULL, T_NONE, DKIM_FAIL,
	    "signature did not verify" },
	{ "key type mismatch", K_RSA, K_ED, true, HDRS, NULL, NULL, NULL, T_NONE,
	    DKIM_PERMERROR, "key type" },
	{ "short rsa key", K_RSA_SHORT, K_RSA_SHORT, true, HDRS, NULL, NULL, NULL, T_NONE,
	    DKIM_PERMERROR, "rsa key shorter" },
	{ "rsa-sha1", K_RSA, K_RSA, true, HDRS, NULL, "rsa-sha1", NULL, T_NONE, DKIM_PERMERROR,
	    "rsa-sha1" },
	{ "unknown algorithm", K_RSA, K_RSA, true, HDRS, NULL, "rsa-sha512", NULL, T_NONE,
	    DKIM_PERMERROR, "unknown algorithm" },
	{ "revoked key", K_RSA, K_RSA, true, HDRS, NULL, NULL, "REVOKED", T_NONE, DKIM_PERMERROR,
	    "key revoked" },
	{ "no key", K_RSA, K_RSA, true, HDRS, NULL, NULL, "MISSING", T_NONE, DKIM_PERMERROR,
	    "no key" },
	{ "key h=sha1 only", K_RSA, K_RSA, true, HDRS, NULL, NULL, "h=sha1; ", T_NONE,
	    DKIM_PERMERROR, "key refuses" },
	{ "key h=sha256", K_RSA, K_RSA, true, HDRS, NULL, NULL, "h=sha1:sha256; ", T_NONE,
	    DKIM_PASS, "" },
	{ "key s=email", K_RSA, K_RSA, true, HDRS, NULL, NULL, "s=email; ", T_NONE, DKIM_PASS,
	    "" },
	{ "key s=other", K_RSA, K_RSA, true, HDRS, NULL, NULL, "s=other; ", T_NONE,
	    DKIM_PERMERROR, "key not for email" },
	{ "testing key, tampered", K_RSA, K_RSA, true, HDRS, NULL, NULL, "t=y; ", T_BODY,
	    DKIM_NEUTRAL, "body hash" },
	{ "testing key, intact", K_RSA, K_RSA, true, HDRS, NULL, NULL, "t=y; ", T_NONE,
	    DKIM_PASS, "" },
	{ "From unsigned", K_RSA, K_RSA, true, "to:subject", NULL, NULL, NULL, T_NONE,
	    DKIM_PERMERROR, "From not signed" },
	{ "expired", K_RSA, K_RSA, true, HDRS, "t=1000000000; x=1000000100; ", NULL, NULL,
	    T_NONE, DKIM_PERMERROR, "signature expired" },
	{ "not yet expired", K_RSA, K_RSA, true, HDRS, "t=1000000000; x=4000000000; ", NULL,
	    NULL, T_NONE, DKIM_PASS, "" },
	{ "x= before t=", K_RSA, K_RSA, true, HDRS, "t=4000000100; x=4000000000; ", NULL, NULL,
	    T_NONE, DKIM_PERMERROR, "x= before t=" },
	{ "i= in d=", K_RSA, K_RSA, true, HDRS, "i=joe@mail.example.com; ", NULL, NULL, T_NONE,
	    DKIM_PASS, "" },
	{ "i= outside d=", K_RSA, K_RSA, true, HDRS, "i=joe@example.org; ", NULL, NULL, T_NONE,
	    DKIM_PERMERROR, "i= not within" },
	{ "i= subdomain, strict key", K_RSA, K_RSA, true, HDRS, "i=joe@mail.example.com; ",
	    NULL, "t=s; ", T_NONE, DKIM_PERMERROR, "i= differs" },
	{ "q=dns/txt", K_ED, K_ED, true, HDRS, "q=dns/txt; ", NULL, NULL, T_NONE, DKIM_PASS,
	    "" },
	{ "q=other", K_ED, K_ED, true, HDRS, "q=http/well-known; ", NULL, NULL, T_NONE,
	    DKIM_PERMERROR, "unsupported q=" },
	{ "duplicate tag", K_ED, K_ED, true, HDRS, "d=example.com; ", NULL, NULL, T_NONE,
	    DKIM_PERMERROR, "signature tag syntax" },
};

static EVP_PKEY *
key_of(enum key_choice k)
{
	switch (k) {
	case K_RSA: return rsa_key;
	case K_ED: return ed_key;
	case K_RSA_OTHER: return rsa_other;
	default: return rsa_short;
	}
}

static char *
tampered(const char *m, enum tamper t)
{
	switch (t) {
	case T_BODY: return replace(m, "the game", "the gamE");
	case T_SUBJECT: return replace(m, "Subject: Is dinner ready?", "Subject: Is dinner ready!");
	case T_ADD_UNSIGNED: return replace(m, "Received:", "X-Spam: no\r\nReceived:");
	case T_LF: return to_lf(m);
	case T_WSP_HEADER: return replace(m, "Subject: Is dinner ready?",
	    "Subject:   Is \t dinner   ready? \t");
	case T_WSP_BODY: return replace(m, "We lost the game.", "We  lost\tthe game. \t");
	case T_APPEND_BODY: return replace(m, "Joe.\r\n", "Joe.\r\nBuy now!\r\n");
	case T_PREPEND_XTAG: return replace(m, "Received:", "X-Tag: evil\r\nReceived:");
	case T_APPEND_XTAG: return replace(m, "X-Tag: second\r\n", "X-Tag: second\r\nX-Tag: evil\r\n");
	case T_ADD_SUBJECT: return replace(m, "Received:", "Subject: Buy now\r\nReceived:");
	case T_FROM_CASE: return replace(m, "From: Joe", "FROM: Joe");
	default: return strdup(m);
	}
}

static void
test_verify(void **state)
{
	time_t now = time(NULL);
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(verify_cases); i++) {
		const struct verify_case *c = &verify_cases[i];
		struct signing sg = { key_of(c->signer), c->signer == K_ED, c->relaxed, c->h,
		    c->extra, c->alg };
		char *signed_msg = sign(&sg, MSG);
		char *m = tampered(signed_msg, c->tamper);
		bool missing = c->key_extra && strcmp(c->key_extra, "MISSING") == 0;
		bool revoked = c->key_extra && strcmp(c->key_extra, "REVOKED") == 0;
		char *rec = missing || revoked ? NULL :
		    key_record(key_of(c->published), c->published == K_ED, c->key_extra);
		const char *keyrec = revoked ? "v=DKIM1; k=rsa; p=" : rec;
		struct dkim_sig_result r;
		size_t n;

		n = dkim_verify_with_key(m, strlen(m), 0, keyrec, keyrec ? strlen(keyrec) : 0,
		    now, &r);
		CASE_CHECK(bad, n == 1 && r.result == c->want &&
		    (c->reason == NULL || strncmp(r.reason, c->reason, strlen(c->reason)) == 0) &&
		    strcmp(r.domain, "example.com") == 0 && strcmp(r.selector, "sel") == 0, i,
		    "%s: n=%zu got %s (%s) want %s (%s)", c->what, n, dkim_result_name(r.result),
		    r.reason, dkim_result_name(c->want), c->reason ? c->reason : "");
		free(signed_msg);
		free(m);
		free(rec);
	}
	assert_int_equal(bad, 0);
}

/* Two signatures (RSA then Ed25519 on top), each checked with its key. */
static void
test_two_signatures(void **state)
{
	struct signing rs = { rsa_key, false, true, HDRS, NULL, NULL };
	struct signing es = { ed_key, true, false, HDRS, NULL, NULL };
	char *once = sign(&rs, MSG), *twice = sign(&es, once);
	char *rrec = key_record(rsa_key, false, NULL), *erec = key_record(ed_key, true, NULL);
	struct dkim_sig_result r;

	assert_int_equal(dkim_verify_with_key(twice, strlen(twice), 0, erec, strlen(erec),
	    time(NULL), &r), 2);
	assert_int_equal(r.result, DKIM_PASS);
	assert_int_equal(dkim_verify_with_key(twice, strlen(twice), 1, rrec, strlen(rrec),
	    time(NULL), &r), 2);
	assert_int_equal(r.result, DKIM_PASS);
	/* the wrong key for each */
	dkim_verify_with_key(twice, strlen(twice), 0, rrec, strlen(rrec), time(NULL), &r);
	assert_int_equal(r.result, DKIM_PERMERROR);
	/* past the signatures: none */
	assert_int_equal(dkim_verify_with_key(twice, strlen(twice), 2, rrec, strlen(rrec),
	    time(NULL), &r), 2);
	assert_int_equal(r.result, DKIM_NONE);
	assert_int_equal(dkim_verify_with_key(MSG, strlen(MSG), 0, rrec, strlen(rrec),
	    time(NULL), &r), 0);
	assert_int_equal(r.result, DKIM_NONE);
	free(once);
	free(twice);
	free(rrec);
	free(erec);
}

/*
 * Parsed keys are kept by their record's text (dkim.c key_get): a record
 * seen again passes as before, one that differs only in a tag is its own
 * key, hundreds of distinct records evict each other without harm, the
 * same record used for another algorithm is refused, and threads share
 * a kept key.
 */
struct key_job {
	const char *msg, *rec;
	int passed;
};

static void *
key_job_run(void *arg)
{
	struct key_job *j = arg;
	struct dkim_sig_result r;

	for (int i = 0; i < 100; i++)
		if (dkim_verify_with_key(j->msg, strlen(j->msg), 0, j->rec, strlen(j->rec),
		    time(NULL), &r) == 1 && r.result == DKIM_PASS)
			j->passed++;
	return NULL;
}

static void
test_key_cache(void **state)
{
	struct signing rs = { rsa_key, false, true, HDRS, NULL, NULL };
	char *m = sign(&rs, MSG), *rrec = key_record(rsa_key, false, NULL);
	char *srec = key_record(rsa_key, false, "t=s; ");
	char *erec = key_record(ed_key, true, NULL);
	struct dkim_sig_result r;
	struct key_job jobs[4];
	pthread_t th[4];

	(void)state;
	for (int i = 0; i < 600; i++) {
		char extra[32], *rec;
		snprintf(extra, sizeof(extra), "n=%d; ", i);
		rec = key_record(rsa_key, false, i % 2 ? extra : NULL);
		assert_int_equal(dkim_verify_with_key(m, strlen(m), 0, rec, strlen(rec), time(NULL),
		    &r), 1);
		assert_int_equal(r.result, DKIM_PASS);
		free(rec);
	}
	/* the same key, t=s: a record of its own, still passing (no i=) */
	dkim_verify_with_key(m, strlen(m), 0, srec, strlen(srec), time(NULL), &r);
	assert_int_equal(r.result, DKIM_PASS);
	/* an RSA signature and an Ed25519 key: refused, kept or not */
	for (int i = 0; i < 2; i++) {
		dkim_verify_with_key(m, strlen(m), 0, erec, strlen(erec), time(NULL), &r);
		assert_int_equal(r.result, DKIM_PERMERROR);
	}
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct key_job){ m, rrec, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, key_job_run, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(jobs[i].passed, 100);
	}
	free(m);
	free(rrec);
	free(srec);
	free(erec);
}

/* Malformed signature fields and messages never crash and never pass. */
static const char *const broken_msgs[] = {
	"DKIM-Signature: v=1\r\nFrom: a@example.com\r\n\r\nbody\r\n",
	"DKIM-Signature:\r\nFrom: a@example.com\r\n\r\n",
	"DKIM-Signature: v=1; a=rsa-sha256; b=; bh=; d=example.com; h=from; s=sel\r\n\r\n",
	"DKIM-Signature: v=2; a=rsa-sha256; b=AAAA; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
	    " d=example.com; h=from; s=sel\r\nFrom: a@example.com\r\n\r\n",
	"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
	    " d=exa mple.com; h=from; s=sel\r\nFrom: a@example.com\r\n\r\n",
	"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
	    " d=example.com; h=from::to; s=sel\r\nFrom: a@example.com\r\n\r\n",
	"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
	    " d=example.com; h=from; s=sel; c=fancy\r\nFrom: a@example.com\r\n\r\n",
	"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
	    " d=example.com; h=from; s=sel; l=x\r\nFrom: a@example.com\r\n\r\n",
	"DKIM-Signature: v=1; a=rsa-sha256; b=AAAA; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
	    " d=example.com; h=from; s=sel",
	"dkim-signature:v=1;a=rsa-sha256;b=AAAA;bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;"
	    "d=example.com;h=from;s=sel\n\n",
};

static void
test_broken(void **state)
{
	char *rec = key_record(rsa_key, false, NULL);
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(broken_msgs); i++) {
		struct dkim_sig_result r;
		size_t n = dkim_verify_with_key(broken_msgs[i], strlen(broken_msgs[i]), 0, rec,
		    strlen(rec), time(NULL), &r);
		CASE_CHECK(bad, n == 1 && (r.result == DKIM_PERMERROR || r.result == DKIM_FAIL), i,
		    "%s: n=%zu %s (%s)", unit_show(broken_msgs[i], strlen(broken_msgs[i])), n,
		    dkim_result_name(r.result), r.reason);
	}
	/* key records that are no usable key */
	{
		static const char *const recs[] = {
			"v=DKIM1; k=rsa", "v=DKIM2; p=AAAA", "k=rsa; v=DKIM1; p=AAAA",
			"v=DKIM1; k=dsa; p=AAAA", "v=DKIM1; p=!!!", "v=DKIM1; p=AAAA",
			"garbage", "v=DKIM1; k=ed25519; p=AAAA",
		};
		struct signing rs = { rsa_key, false, true, HDRS, NULL, NULL };
		char *m = sign(&rs, MSG);
		for (size_t i = 0; i < NELEM(recs); i++) {
			struct dkim_sig_result r;
			dkim_verify_with_key(m, strlen(m), 0, recs[i], strlen(recs[i]), time(NULL),
			    &r);
			CASE_CHECK(bad, r.result == DKIM_PERMERROR, i, "key %s: %s (%s)", recs[i],
			    dkim_result_name(r.result), r.reason);
		}
		free(m);
	}
	free(rec);
	assert_int_equal(bad, 0);
}

static void
test_names(void **state)
{
	assert_string_equal(dkim_result_name(DKIM_NONE), "none");
	assert_string_equal(dkim_result_name(DKIM_PASS), "pass");
	assert_string_equal(dkim_result_name(DKIM_FAIL), "fail");
	assert_string_equal(dkim_result_name(DKIM_NEUTRAL), "neutral");
	assert_string_equal(dkim_result_name(DKIM_TEMPERROR), "temperror");
	assert_string_equal(dkim_result_name(DKIM_PERMERROR), "permerror");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_two_signatures),
		cmocka_unit_test(test_key_cache),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
