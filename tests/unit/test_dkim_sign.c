/*
 * Tests for the DKIM signer (src/queue/dkim_sign.h): messages signed with
 * RSA and Ed25519 keys generated here at run time are checked by the
 * verifier (scan/dkim_internal.h), then tampered with; LF-only and
 * bare-CR messages; bodies long enough to be hashed in several chunks;
 * the folding of the field; From over-signed; key loading and records;
 * the From: domain.
 */
#include "unit.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "queue/dkim_sign.h"
#include "scan/dkim.h"
#include "scan/dkim_internal.h"

static char tmpdir[] = "/tmp/test_dkim_sign.XXXXXX";
static EVP_PKEY *rsa_pkey, *ed_pkey, *short_pkey;
static struct dkim_signer *rsa, *ed;
static char *rsa_rec, *ed_rec;

/* ---- helpers ---- */

/* Writes key as PEM into tmpdir/name (encrypted with pass when not
 * NULL); returns the path (static buffer). */
static const char *
write_key(EVP_PKEY *key, const char *name, const char *pass)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	if (pass != NULL)
		assert_int_equal(PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(),
		    (const unsigned char *)pass, (int)strlen(pass), NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	return path;
}

static void
write_text(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	char *err = NULL;

	if (mkdtemp(tmpdir) == NULL)
		return -1;
	rsa_pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ed_pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	short_pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
	if (rsa_pkey == NULL || ed_pkey == NULL || short_pkey == NULL)
		return -1;
	rsa = dkim_signer_load("sel", write_key(rsa_pkey, "rsa.key", NULL), &err);
	ed = dkim_signer_load("sel", write_key(ed_pkey, "ed.key", NULL), &err);
	if (rsa == NULL || ed == NULL)
		return -1;
	rsa_rec = dkim_signer_record(rsa);
	ed_rec = dkim_signer_record(ed);
	return rsa_rec && ed_rec ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[600];

	dkim_signer_free(rsa);
	dkim_signer_free(ed);
	free(rsa_rec);
	free(ed_rec);
	EVP_PKEY_free(rsa_pkey);
	EVP_PKEY_free(ed_pkey);
	EVP_PKEY_free(short_pkey);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* a + b, newly allocated. */
static char *
concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *out = malloc(la + lb + 1);

	assert_non_null(out);
	memcpy(out, a, la);
	memcpy(out + la, b, lb + 1);
	return out;
}

/* s with the first occurrence of from replaced by to. */
static char *
replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t pre, lt = strlen(to);
	char *out;

	assert_non_null(at);
	pre = (size_t)(at - s);
	out = malloc(strlen(s) - strlen(from) + lt + 1);
	assert_non_null(out);
	memcpy(out, s, pre);
	memcpy(out + pre, to, lt);
	strcpy(out + pre + lt, at + strlen(from));
	return out;
}

/* CRLF to LF. */
static char *
to_lf(const char *s)
{
	char *out = strdup(s);
	size_t o = 0;

	assert_non_null(out);
	for (size_t i = 0; s[i]; i++)
		if (!(s[i] == '\r' && s[i + 1] == '\n'))
			out[o++] = s[i];
	out[o] = '\0';
	return out;
}

/* Every line end (CRLF, bare LF, bare CR) as CRLF: the message as it is
 * sent (queue/mta.c). */
static char *
wire(const char *s)
{
	char *out = malloc(2 * strlen(s) + 1);
	size_t o = 0;

	assert_non_null(out);
	for (size_t i = 0; s[i]; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n')
			i++;
		if (s[i] == '\r' || s[i] == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

/* Verifies the topmost signature of msg with record rec. */
static struct dkim_sig_result
verify(const char *msg, const char *rec)
{
	struct dkim_sig_result r;
	size_t n = dkim_verify_with_key(msg, strlen(msg), 0, rec, strlen(rec), time(NULL), &r);

	assert_true(n >= 1);
	return r;
}

/* The signature field's value unfolded (CR, LF removed). */
static char *
unfold_value(const char *sig)
{
	const char *colon = strchr(sig, ':');
	char *out = strdup(colon + 1);
	size_t o = 0;

	for (size_t i = 0; out[i]; i++)
		if (out[i] != '\r' && out[i] != '\n')
			out[o++] = out[i];
	out[o] = '\0';
	return out;
}

struct tags {
	char v[16], a[32], c[32], d[300], s[100], t[32], h[512], bh[128], b[1024];
	char order[64];		/* the tag names in order, ',' separated */
};

static void
tag_cb(void *arg, const char *tag, size_t tlen, const char *val, size_t vlen)
{
	struct tags *t = arg;
	char *dst = NULL;
	size_t cap = 0, o = 0;

	snprintf(t->order + strlen(t->order), sizeof(t->order) - strlen(t->order), "%s%.*s",
	    t->order[0] ? "," : "", (int)tlen, tag);
#define TAG(name)                                                             \
	if (tlen == strlen(#name) && memcmp(tag, #name, tlen) == 0) {         \
		dst = t->name;                                                \
		cap = sizeof(t->name);                                        \
	}
	TAG(v) TAG(a) TAG(c) TAG(d) TAG(s) TAG(t) TAG(h) TAG(bh) TAG(b)
#undef TAG
	if (dst == NULL)
		return;
	/* FWS inside values (h=, bh=, b=) removed */
	for (size_t i = 0; i < vlen && o + 1 < cap; i++)
		if (val[i] != ' ' && val[i] != '\t')
			dst[o++] = val[i];
	dst[o] = '\0';
}

static void
parse_sig(const char *sig, struct tags *t)
{
	char *v = unfold_value(sig);

	memset(t, 0, sizeof(*t));
	assert_int_equal(dkim_parse_tags(v, strlen(v), tag_cb, t), 0);
	free(v);
}

/* ---- sign and verify ---- */

static const char MSG[] =
    "Received: from a.example.net by b.example.org\r\n"
    "From: Joe SixPack <joe@example.com>\r\n"
    "To: Suzie Q <suzie@example.net>\r\n"
    "Subject: Is dinner ready?\r\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
    "Message-ID: <20030712040037.46341.5F8J@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "X-Tag: first\r\n"
    "\r\n"
    "Hi.\r\n"
    "\r\n"
    "We lost the game. Are you hungry yet?\r\n"
    "\r\n"
    "Joe.\r\n";

#define MSG_H "from:from:to:subject:date:message-id:mime-version:content-type"

enum tamper {
	T_NONE,
	T_BODY,			/* one letter of the body changed */
	T_BODY_LINE,		/* an inner empty line removed */
	T_SUBJECT,
	T_FROM_TOP,		/* a second From added above the first */
	T_FROM_BOTTOM,		/* ... or at the end of the header */
	T_DATE_DROP,		/* a signed field removed */
	T_UNSIGNED,		/* an unsigned field added: still passes */
	T_RELAX_HDR,		/* case, spaces and folding: still passes */
	T_RELAX_BODY,		/* trailing spaces and empty lines: still passes */
	T_CRLF,			/* an LF message sent with CRLF: still passes */
};

struct sign_case {
	const char *what;
	bool ed25519;
	int form;		/* 0 CRLF, 1 LF, 2 mixed with bare CRs */
	enum tamper tamper;
	enum dkim_result want;
};

static const struct sign_case sign_cases[] = {
	{ "rsa", false, 0, T_NONE, DKIM_PASS },
	{ "ed25519", true, 0, T_NONE, DKIM_PASS },
	{ "rsa body", false, 0, T_BODY, DKIM_FAIL },
	{ "ed25519 body", true, 0, T_BODY, DKIM_FAIL },
	{ "rsa body line", false, 0, T_BODY_LINE, DKIM_FAIL },
	{ "rsa subject", false, 0, T_SUBJECT, DKIM_FAIL },
	{ "ed25519 subject", true, 0, T_SUBJECT, DKIM_FAIL },
	{ "rsa From added on top", false, 0, T_FROM_TOP, DKIM_FAIL },
	{ "rsa From added below", false, 0, T_FROM_BOTTOM, DKIM_FAIL },
	{ "ed25519 From added on top", true, 0, T_FROM_TOP, DKIM_FAIL },
	{ "rsa Date removed", false, 0, T_DATE_DROP, DKIM_FAIL },
	{ "rsa unsigned field added", false, 0, T_UNSIGNED, DKIM_PASS },
	{ "rsa relaxed header", false, 0, T_RELAX_HDR, DKIM_PASS },
	{ "rsa relaxed body", false, 0, T_RELAX_BODY, DKIM_PASS },
	{ "rsa LF", false, 1, T_NONE, DKIM_PASS },
	{ "ed25519 LF", true, 1, T_NONE, DKIM_PASS },
	{ "rsa LF sent as CRLF", false, 1, T_CRLF, DKIM_PASS },
	{ "rsa LF body", false, 1, T_BODY, DKIM_FAIL },
	{ "rsa LF subject", false, 1, T_SUBJECT, DKIM_FAIL },
	{ "rsa bare CR", false, 2, T_NONE, DKIM_PASS },
	{ "ed25519 bare CR", true, 2, T_NONE, DKIM_PASS },
};

/* The message after tampering; nl is its line end. */
static char *
tamper(const char *m, enum tamper t, const char *nl)
{
	char a[256], b[256];

	switch (t) {
	case T_NONE:
		return strdup(m);
	case T_BODY:
		return replace(m, "hungry", "Hungry");
	case T_BODY_LINE:
		snprintf(a, sizeof(a), "Hi.%s%s", nl, nl);
		snprintf(b, sizeof(b), "Hi.%s", nl);
		return replace(m, a, b);
	case T_SUBJECT:
		return replace(m, "dinner", "lunch");
	case T_FROM_TOP:
		snprintf(a, sizeof(a), "From: Mallory <ceo@example.com>%s", nl);
		return concat(a, m);
	case T_FROM_BOTTOM:
		snprintf(a, sizeof(a), "X-Tag: first%s", nl);
		snprintf(b, sizeof(b), "X-Tag: first%sFrom: Mallory <ceo@example.com>%s", nl, nl);
		return replace(m, a, b);
	case T_DATE_DROP:
		snprintf(a, sizeof(a), "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)%s", nl);
		return replace(m, a, "");
	case T_UNSIGNED:
		snprintf(a, sizeof(a), "X-Tag: first%s", nl);
		snprintf(b, sizeof(b), "X-Tag: first%sX-Added: by a relay%s", nl, nl);
		return replace(m, a, b);
	case T_RELAX_HDR:
		snprintf(b, sizeof(b), "SUBJECT :  Is \t dinner%s\tready?  ", nl);
		return replace(m, "Subject: Is dinner ready?", b);
	case T_RELAX_BODY:
		snprintf(a, sizeof(a), "Joe.%s", nl);
		snprintf(b, sizeof(b), "Joe. \t%s%s  %s", nl, nl, nl);
		return replace(m, a, b);
	case T_CRLF:
		return wire(m);
	}
	return NULL;
}

static void
test_sign_verify(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(sign_cases); i++) {
		const struct sign_case *c = &sign_cases[i];
		char *m, *sig, *t, *signed_msg, *sent;
		struct dkim_sig_result r;

		if (c->form == 0)
			m = strdup(MSG);
		else if (c->form == 1)
			m = to_lf(MSG);
		else {
			/* bare CRs in a header and the body: each is a line end
			 * once sent, so "X-CR" becomes a field of its own */
			char *m1 = replace(MSG, "X-Tag: first\r\n", "X-Tag: first\rX-CR: yes\r\n");
			m = replace(m1, "Joe.\r\n", "Joe.\rP.S.\r\r\n");
			free(m1);
		}
		sig = dkim_sign(c->ed25519 ? ed : rsa, "example.com", m, strlen(m));
		CASE_CHECK(bad, sig != NULL, i, "%s: not signed", c->what);
		if (sig == NULL) {
			free(m);
			continue;
		}
		t = tamper(m, c->tamper, c->form == 1 ? "\n" : "\r\n");
		signed_msg = concat(sig, t);
		sent = wire(signed_msg);
		r = verify(sent, c->ed25519 ? ed_rec : rsa_rec);
		CASE_CHECK(bad, r.result == c->want, i, "%s: %s (%s), want %s", c->what,
		    dkim_result_name(r.result), r.reason, dkim_result_name(c->want));
		CASE_CHECK(bad, strcmp(r.domain, "example.com") == 0 && strcmp(r.selector, "sel") == 0,
		    i, "%s: d=%s s=%s", c->what, r.domain, r.selector);
		if (c->form < 2) {
			/* without bare CRs the verifier reads the message as given too */
			r = verify(signed_msg, c->ed25519 ? ed_rec : rsa_rec);
			CASE_CHECK(bad, r.result == c->want, i, "%s (as given): %s (%s)", c->what,
			    dkim_result_name(r.result), r.reason);
		}
		free(m);
		free(sig);
		free(t);
		free(signed_msg);
		free(sent);
	}
	assert_int_equal(bad, 0);
}

/* The wrong key, or the other algorithm's key, never passes. */
static void
test_wrong_key(void **state)
{
	char *sig = dkim_sign(rsa, "example.com", MSG, strlen(MSG));
	char *m = concat(sig, MSG);
	struct dkim_signer *other;
	char *err = NULL, *rec;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);

	assert_non_null(k);
	other = dkim_signer_load("sel", write_key(k, "other.key", NULL), &err);
	assert_non_null(other);
	rec = dkim_signer_record(other);
	assert_int_equal(verify(m, rec).result, DKIM_FAIL);
	assert_int_equal(verify(m, ed_rec).result, DKIM_PERMERROR);	/* k= mismatch */
	assert_int_equal(verify(m, rsa_rec).result, DKIM_PASS);
	free(rec);
	free(m);
	free(sig);
	dkim_signer_free(other);
	EVP_PKEY_free(k);
}

/*
 * Bodies hashed in several chunks: runs of empty and white-space lines
 * at and across the chunk size, and at the end.
 */
static void
test_long_body(void **state)
{
	size_t cap = 1 << 20, n = 0;
	char *m = malloc(cap), *sig, *signed_msg, *cut, *cut_msg;
	const char *hdr = "From: joe@example.com\r\nSubject: long\r\n\r\n";

	assert_non_null(m);
	n += (size_t)snprintf(m + n, cap - n, "%s", hdr);
	for (int block = 0; block < 6; block++) {
		/* 655 lines of 100 octets: the chunk size is crossed in the
		 * white-space run that follows */
		for (int l = 0; l < 655 + block; l++) {
			memset(m + n, 'a' + block, 98);
			n += 98;
			n += (size_t)snprintf(m + n, cap - n, "\r\n");
		}
		for (int l = 0; l < 20; l++)
			n += (size_t)snprintf(m + n, cap - n, l % 3 ? "\r\n" : " \t \r\n");
		n += (size_t)snprintf(m + n, cap - n, "  word   and\tmore  \r\n");
	}
	n += (size_t)snprintf(m + n, cap - n, "end\r\n\r\n \r\n\r\n");
	assert_true(n < cap);

	sig = dkim_sign(rsa, "example.com", m, n);
	assert_non_null(sig);
	signed_msg = concat(sig, m);
	assert_int_equal(verify(signed_msg, rsa_rec).result, DKIM_PASS);
	/* one of the empty lines inside the body removed: fails */
	cut = strdup(m);
	{
		char *at = strstr(cut + 70000, "\r\n\r\n");
		assert_non_null(at);
		memmove(at, at + 2, strlen(at + 2) + 1);
	}
	cut_msg = concat(sig, cut);
	assert_int_equal(verify(cut_msg, rsa_rec).result, DKIM_FAIL);
	/* LF form of the same: the same signature verifies */
	{
		char *lf = to_lf(signed_msg);
		assert_int_equal(verify(lf, rsa_rec).result, DKIM_PASS);
		free(lf);
	}
	free(m);
	free(sig);
	free(signed_msg);
	free(cut);
	free(cut_msg);
}

struct edge_case {
	const char *msg;
	bool signs;
};

static const struct edge_case edge_cases[] = {
	{ "From: a@example.com\r\n\r\n", true },			/* empty body */
	{ "From: a@example.com\r\n", true },			/* no body at all */
	{ "From: a@example.com", true },				/* no line end */
	{ "From: a@example.com\r\n\r\nno final line end", true },
	{ "From: a@example.com\n\n\n\n", true },
	{ "Subject: no sender\r\n\r\nbody\r\n", false },
	{ "\r\nFrom: a@example.com\r\n", false },			/* all body */
	{ "", false },
};

static void
test_edges(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(edge_cases); i++) {
		const struct edge_case *c = &edge_cases[i];
		char *sig = dkim_sign(ed, "example.com", c->msg, strlen(c->msg));
		CASE_CHECK(bad, (sig != NULL) == c->signs, i, "%s: %s",
		    unit_show(c->msg, strlen(c->msg)), sig ? "signed" : "not signed");
		if (sig != NULL && c->signs) {
			char *m = concat(sig, c->msg), *w = wire(m);
			struct dkim_sig_result r = verify(w, ed_rec);
			CASE_CHECK(bad, r.result == DKIM_PASS, i, "%s: %s (%s)",
			    unit_show(c->msg, strlen(c->msg)), dkim_result_name(r.result), r.reason);
			free(m);
			free(w);
		}
		free(sig);
	}
	/* d= must be a domain name */
	assert_null(dkim_sign(rsa, "exa mple.com", MSG, strlen(MSG)));
	assert_null(dkim_sign(rsa, "", MSG, strlen(MSG)));
	assert_null(dkim_sign(rsa, "a..b", MSG, strlen(MSG)));
	/* d= is written lower case */
	{
		char *sig = dkim_sign(rsa, "Example.COM", MSG, strlen(MSG));
		struct tags t;
		assert_non_null(sig);
		parse_sig(sig, &t);
		assert_string_equal(t.d, "example.com");
		free(sig);
	}
	assert_int_equal(bad, 0);
}

/* ---- the field ---- */

/* Lines under 78 characters, CRLF only, continuations start with a tab. */
static void
check_folding(const char *sig, size_t *bad, size_t idx)
{
	const char *p = sig;
	size_t line = 0;

	CASE_CHECK(*bad, strncmp(sig, "DKIM-Signature: v=1; a=", 23) == 0, idx, "start: %s",
	    unit_show(sig, 40));
	while (*p) {
		const char *e = strstr(p, "\r\n");
		CASE_CHECK(*bad, e != NULL, idx, "no final CRLF: %s", unit_show(p, strlen(p)));
		if (e == NULL)
			return;
		CASE_CHECK(*bad, e - p < 78, idx, "line %zu is %ld long", line, (long)(e - p));
		CASE_CHECK(*bad, memchr(p, '\n', (size_t)(e - p)) == NULL &&
		    memchr(p, '\r', (size_t)(e - p)) == NULL, idx, "bare line end on line %zu", line);
		CASE_CHECK(*bad, line == 0 || *p == '\t', idx, "line %zu: %s", line,
		    unit_show(p, (size_t)(e - p)));
		CASE_CHECK(*bad, e > p && e[-1] != ' ' && e[-1] != '\t', idx,
		    "line %zu ends in white space", line);
		line++;
		p = e + 2;
	}
	CASE_CHECK(*bad, line > 1, idx, "not folded: %zu line", line);
}

struct field_case {
	bool ed25519;
	const char *selector;
	const char *domain;
};

static const struct field_case field_cases[] = {
	{ false, "sel", "example.com" },
	{ true, "sel", "example.com" },
	{ false, "postern202406", "mail.example.co.uk" },
	{ false, "a-selector-of-sixty-three-characters-to-push-the-folding-hard",
	    "a-rather-long-subdomain-name-for-folding-tests.example.com" },
	{ true, "s.with.dots", "xn--bcher-kva.example" },
};

static void
test_field(void **state)
{
	size_t bad = 0;
	time_t before = time(NULL);

	for (size_t i = 0; i < NELEM(field_cases); i++) {
		const struct field_case *c = &field_cases[i];
		EVP_PKEY *k = c->ed25519 ? ed_pkey : rsa_pkey;
		char *err = NULL, *sig, *rec, *m;
		struct dkim_signer *s = dkim_signer_load(c->selector, write_key(k, "f.key", NULL),
		    &err);
		struct tags t;
		struct dkim_sig_result r;

		assert_non_null(s);
		sig = dkim_sign(s, c->domain, MSG, strlen(MSG));
		assert_non_null(sig);
		check_folding(sig, &bad, i);
		parse_sig(sig, &t);
		CASE_CHECK(bad, strcmp(t.order, "v,a,c,d,s,t,h,bh,b") == 0, i, "tags %s", t.order);
		CASE_CHECK(bad, strcmp(t.v, "1") == 0, i, "v=%s", t.v);
		CASE_CHECK(bad, strcmp(t.a, c->ed25519 ? "ed25519-sha256" : "rsa-sha256") == 0, i,
		    "a=%s", t.a);
		CASE_CHECK(bad, strcmp(t.c, "relaxed/relaxed") == 0, i, "c=%s", t.c);
		CASE_CHECK(bad, strcmp(t.d, c->domain) == 0, i, "d=%s", t.d);
		CASE_CHECK(bad, strcmp(t.s, c->selector) == 0, i, "s=%s", t.s);
		CASE_CHECK(bad, atoll(t.t) >= (long long)before &&
		    atoll(t.t) <= (long long)time(NULL), i, "t=%s", t.t);
		CASE_CHECK(bad, strcmp(t.h, MSG_H) == 0, i, "h=%s", t.h);
		CASE_CHECK(bad, strlen(t.bh) == 44, i, "bh=%s", t.bh);
		CASE_CHECK(bad, strlen(t.b) == (c->ed25519 ? 88 : 344), i, "b=%s", t.b);
		/* and it verifies, folded as it is */
		rec = dkim_signer_record(s);
		m = concat(sig, MSG);
		r = verify(m, rec);
		CASE_CHECK(bad, r.result == DKIM_PASS, i, "%s (%s)", dkim_result_name(r.result),
		    r.reason);
		free(m);
		free(rec);
		free(sig);
		dkim_signer_free(s);
	}
	assert_int_equal(bad, 0);
}

struct h_case {
	const char *headers;	/* CRLF lines, before the empty line */
	const char *want;	/* h= */
};

static const struct h_case h_cases[] = {
	{ "From: a@example.com\r\n", "from:from" },
	{ "from: a@example.com\r\nTO: b@example.net\r\n", "from:from:to" },
	/* two From: both signed, and one more */
	{ "From: a@example.com\r\nFrom: b@example.com\r\n", "from:from:from" },
	/* every listed field, in the signer's order whatever the message's */
	{ "References: <r@x>\r\nIn-Reply-To: <r@x>\r\nContent-Transfer-Encoding: 7bit\r\n"
	  "Content-Type: text/plain\r\nMIME-Version: 1.0\r\nReply-To: r@example.com\r\n"
	  "Message-ID: <m@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: s\r\n"
	  "Cc: c@example.net\r\nTo: t@example.net\r\nFrom: f@example.com\r\n",
	  "from:from:to:cc:subject:date:message-id:reply-to:mime-version:content-type:"
	  "content-transfer-encoding:in-reply-to:references" },
	/* repeated fields: each instance */
	{ "From: a@example.com\r\nTo: x@example.net\r\nTo: y@example.net\r\n",
	  "from:from:to:to" },
	/* not signed: trace and list fields, unknown ones, DKIM-Signature */
	{ "Received: x\r\nReturn-Path: <a@example.com>\r\nList-Id: l\r\nX-Mailer: m\r\n"
	  "DKIM-Signature: v=1\r\nSender: s@example.com\r\nFrom: a@example.com\r\n",
	  "from:from" },
	/* a field name is matched whole */
	{ "From: a@example.com\r\nTo-Do: x\r\nSubjects: y\r\n", "from:from" },
};

static void
test_h(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(h_cases); i++) {
		const struct h_case *c = &h_cases[i];
		char *m = concat(c->headers, "\r\nbody\r\n"), *sig, *sm;
		struct tags t;
		struct dkim_sig_result r;

		sig = dkim_sign(rsa, "example.com", m, strlen(m));
		assert_non_null(sig);
		parse_sig(sig, &t);
		CASE_CHECK(bad, strcmp(t.h, c->want) == 0, i, "h=%s, want %s", t.h, c->want);
		sm = concat(sig, m);
		r = verify(sm, rsa_rec);
		CASE_CHECK(bad, r.result == DKIM_PASS, i, "%s (%s)", dkim_result_name(r.result),
		    r.reason);
		free(sm);
		free(sig);
		free(m);
	}
	assert_int_equal(bad, 0);
}

/* ---- keys ---- */

static void
test_load(void **state)
{
	char *err = NULL;
	struct dkim_signer *s;

	/* missing file */
	s = dkim_signer_load("sel", "/nonexistent/dkim.key", &err);
	assert_null(s);
	assert_non_null(strstr(err, "/nonexistent/dkim.key"));
	free(err);
	/* not a key */
	write_text("junk.key", "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
	s = dkim_signer_load("sel", "/dev/null", &err);
	assert_null(s);
	free(err);
	{
		char path[512];
		snprintf(path, sizeof(path), "%s/junk.key", tmpdir);
		s = dkim_signer_load("sel", path, &err);
		assert_null(s);
		assert_non_null(strstr(err, "junk.key"));
		free(err);
	}
	/* RSA under 1024 bits (RFC 8301) */
	s = dkim_signer_load("sel", write_key(short_pkey, "short.key", NULL), &err);
	assert_null(s);
	assert_non_null(strstr(err, "768"));
	free(err);
	/* encrypted: refused, never prompted for */
	s = dkim_signer_load("sel", write_key(rsa_pkey, "enc.key", "secret"), &err);
	assert_null(s);
	assert_non_null(err);
	free(err);
	/* bad selectors */
	s = dkim_signer_load("bad selector", write_key(ed_pkey, "ok.key", NULL), &err);
	assert_null(s);
	free(err);
	s = dkim_signer_load("../x", write_key(ed_pkey, "ok.key", NULL), &err);
	assert_null(s);
	free(err);
	s = dkim_signer_load("", write_key(ed_pkey, "ok.key", NULL), &err);
	assert_null(s);
	free(err);
	/* a good one, selector lower-cased */
	s = dkim_signer_load("Sel2024", write_key(ed_pkey, "ok.key", NULL), &err);
	assert_non_null(s);
	assert_null(err);
	{
		char *sig = dkim_sign(s, "example.com", MSG, strlen(MSG));
		struct tags t;
		parse_sig(sig, &t);
		assert_string_equal(t.s, "sel2024");
		free(sig);
	}
	dkim_signer_free(s);
	dkim_signer_free(NULL);
}

static void
test_generate(void **state)
{
	struct { const char *type; unsigned bits; bool ok; } cases[] = {
		{ "rsa", 2048, true }, { "ed25519", 0, true }, { "RSA", 1024, true },
		{ "rsa", 512, false }, { "rsa", 1023, false }, { "dsa", 2048, false },
		{ "rsa", 16384, false },
	};
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		char *err = NULL, *pem, *sig, *m, *rec;
		struct dkim_signer *s = dkim_signer_generate("gen", cases[i].type, cases[i].bits,
		    &err), *back;
		CASE_CHECK(bad, (s != NULL) == cases[i].ok, i, "%s %u: %s", cases[i].type,
		    cases[i].bits, err ? err : "made");
		if (s == NULL) {
			free(err);
			continue;
		}
		/* PEM round trip, then sign with the reloaded key */
		pem = dkim_signer_pem(s);
		assert_non_null(pem);
		assert_non_null(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
		write_text("gen.key", pem);
		{
			char path[512];
			snprintf(path, sizeof(path), "%s/gen.key", tmpdir);
			back = dkim_signer_load("gen", path, &err);
		}
		assert_non_null(back);
		assert_string_equal(dkim_signer_key_type(back), dkim_signer_key_type(s));
		sig = dkim_sign(back, "example.com", MSG, strlen(MSG));
		m = concat(sig, MSG);
		rec = dkim_signer_record(s);
		CASE_CHECK(bad, verify(m, rec).result == DKIM_PASS, i, "%s: reloaded key",
		    cases[i].type);
		free(rec);
		free(m);
		free(sig);
		free(pem);
		dkim_signer_free(back);
		dkim_signer_free(s);
	}
	{
		char *err = NULL;
		assert_null(dkim_signer_generate("no/slash", "ed25519", 0, &err));
		assert_non_null(err);
		free(err);
	}
	assert_int_equal(bad, 0);
}

static void
test_record(void **state)
{
	unsigned char raw[64];
	long n;

	assert_string_equal(dkim_signer_key_type(rsa), "rsa");
	assert_string_equal(dkim_signer_key_type(ed), "ed25519");
	assert_int_equal(strncmp(rsa_rec, "v=DKIM1; k=rsa; p=MIIB", 22), 0);
	assert_int_equal(strncmp(ed_rec, "v=DKIM1; k=ed25519; p=", 22), 0);
	/* RFC 8463 4.2: the raw key, 32 octets */
	n = dkim_base64_decode(ed_rec + 22, strlen(ed_rec + 22), raw, sizeof(raw));
	assert_int_equal(n, 32);
	{
		unsigned char want[32];
		size_t wl = sizeof(want);
		assert_int_equal(EVP_PKEY_get_raw_public_key(ed_pkey, want, &wl), 1);
		assert_memory_equal(raw, want, 32);
	}
}

/* ---- the From: domain and the local-domain rule ---- */

struct from_case {
	const char *msg;
	const char *want;	/* NULL: none */
};

static const struct from_case from_cases[] = {
	{ "From: Joe <Joe@Example.COM>\r\n\r\nbody\r\n", "example.com" },
	{ "From: joe@example.com\n\nbody\n", "example.com" },
	{ "Subject: x\r\nFrom:\r\n\t\"Doe, Joe\" <joe@Sub.Example.org>\r\n\r\n", "sub.example.org" },
	{ "From: a@one.example, b@two.example\r\n\r\n", "one.example" },
	{ "From: a@first.example\r\nFrom: b@second.example\r\n\r\n", "first.example" },
	{ "fRoM : a@case.example\r\n\r\n", "case.example" },
	{ "From: joe@example.com (Joe)\r\n\r\n", "example.com" },
	{ "To: x@y.example\r\n\r\nFrom: a@body.example\r\n", NULL },
	{ "From: undisclosed\r\n\r\n", NULL },
	{ "From: <>\r\n\r\n", NULL },
	{ "X-From: a@x.example\r\nFromage: b@y.example\r\n\r\n", NULL },
	{ "", NULL },
};

static void
test_from_domain(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(from_cases); i++) {
		const struct from_case *c = &from_cases[i];
		char out[DKIM_SIGN_DOMAIN_MAX] = "";
		bool ok = dkim_from_domain(c->msg, strlen(c->msg), out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, !ok, i, "%s: got %s", unit_show(c->msg, strlen(c->msg)), out);
		else
			CASE_CHECK(bad, ok && strcmp(out, c->want) == 0, i, "%s: got %s",
			    unit_show(c->msg, strlen(c->msg)), ok ? out : "(none)");
	}
	assert_int_equal(bad, 0);
}

static void
test_sign_local(void **state)
{
	static const char conf[] = "domains = example.com Example.ORG\n";
	struct config cfg;
	struct config_diag diag = { 0 };
	char *sig, *m, *other;
	struct tags t;

	assert_int_equal(config_parse(conf, strlen(conf), "t.conf", tmpdir, &cfg, &diag), 0);
	/* ours: signed with d= the From domain */
	sig = dkim_sign_local(rsa, &cfg, MSG, strlen(MSG));
	assert_non_null(sig);
	parse_sig(sig, &t);
	assert_string_equal(t.d, "example.com");
	m = concat(sig, MSG);
	assert_int_equal(verify(m, rsa_rec).result, DKIM_PASS);
	free(m);
	free(sig);
	other = replace(MSG, "joe@example.com", "joe@EXAMPLE.org");
	sig = dkim_sign_local(ed, &cfg, other, strlen(other));
	assert_non_null(sig);
	parse_sig(sig, &t);
	assert_string_equal(t.d, "example.org");
	free(sig);
	free(other);
	/* not ours, a subdomain, no From, no signer: unsigned */
	other = replace(MSG, "joe@example.com", "joe@example.net");
	assert_null(dkim_sign_local(rsa, &cfg, other, strlen(other)));
	free(other);
	other = replace(MSG, "joe@example.com", "joe@mail.example.com");
	assert_null(dkim_sign_local(rsa, &cfg, other, strlen(other)));
	free(other);
	other = replace(MSG, "From: Joe SixPack <joe@example.com>\r\n", "");
	assert_null(dkim_sign_local(rsa, &cfg, other, strlen(other)));
	free(other);
	assert_null(dkim_sign_local(NULL, &cfg, MSG, strlen(MSG)));
	config_clear(&cfg);
	config_diag_clear(&diag);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_long_body),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_field),
		cmocka_unit_test(test_h),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_sign_local),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
