/*
 * DKIM signer (RFC 6376 5, RFC 8463). Headers are copied once with their
 * line ends normalized (small); the body is canonicalized and hashed in
 * chunks cut after non-empty lines, so memory stays bounded whatever the
 * message size while the result equals canonicalizing the whole body
 * (relaxed body canonicalization only looks across lines at trailing
 * empty ones). The signature field is built folded; what is signed is the
 * very text returned, canonicalized up to the empty b=.
 */
#include "dkim_sign.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "scan/dkim.h"
#include "scan/dkim_internal.h"
#include "scan/mime.h"
#include "scan/scan.h"

#define DKIM_SIGN_LINE_MAX 76		/* RFC 5322 2.1.1: under 78 per line */
#define DKIM_SIGN_CHUNK 65536		/* body bytes canonicalized at a time */
#define DKIM_SIGN_B_MIN 16		/* b= starts a line unless this much fits */

enum sign_alg { SIGN_RSA_SHA256, SIGN_ED25519_SHA256 };

struct dkim_signer {
	EVP_PKEY *pkey;				/* owned: the private key */
	enum sign_alg alg;			/* a=, from the key's type */
	char selector[DKIM_SIGN_SELECTOR_MAX + 1];	/* s=, lower case */
};

/* Signed when present, in this order (RFC 6376 5.4.1's list, trimmed to
 * what a sender controls and a forwarder should not change). */
static const char *const signed_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to", "mime-version",
	"content-type", "content-transfer-encoding", "in-reply-to", "references",
};

/* ---- small helpers ---- */

struct dbuf {
	char *p;		/* owned, NUL-terminated once written to */
	size_t n, cap;		/* bytes used, bytes allocated */
};

static void
dbuf_put(struct dbuf *d, const char *b, size_t len)
{
	if (d->cap - d->n < len + 1) {
		size_t cap = d->cap ? d->cap : 256;
		while (cap - d->n < len + 1)
			cap *= 2;
		d->p = xrealloc(d->p, cap);
		d->cap = cap;
	}
	memcpy(d->p + d->n, b, len);
	d->n += len;
	d->p[d->n] = '\0';
}

static void
dbuf_puts(struct dbuf *d, const char *s)
{
	dbuf_put(d, s, strlen(s));
}

/* A newly allocated base64 text of in (no line breaks). */
static char *
b64_encode(const unsigned char *in, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* The reason of the last OpenSSL error, and the per-thread queue emptied
 * so that a stale error cannot confuse the TLS code later. */
static const char *
ssl_reason(void)
{
	static _Thread_local char buf[160];
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, sizeof(buf), "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* A domain or selector, an absolute name ("x.example.") allowed. */
static bool
dns_name(const char *v, char *out, size_t outlen)
{
	size_t len = strlen(v);

	if (len > 0 && v[len - 1] == '.')
		len--;
	return dkim_copy_name(v, len, out, outlen);
}

/* ---- the key ---- */

/* Encrypted keys are refused rather than prompted for on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	return -1;
}

struct dkim_signer *
dkim_signer_load(const char *selector, const char *key_path, char **err)
{
	struct dkim_signer *s;
	EVP_PKEY *pkey;
	FILE *fp;
	char sel[DKIM_SIGN_SELECTOR_MAX + 1];

	*err = NULL;
	if (selector == NULL || !dns_name(selector, sel, sizeof(sel))) {
		*err = xasprintf("dkim_selector \"%s\" is not a valid selector (letters, digits, "
		    "'-', '_', dots; at most %d characters)", selector ? selector : "",
		    DKIM_SIGN_SELECTOR_MAX);
		return NULL;
	}
	if ((fp = fopen(key_path, "re")) == NULL) {
		*err = xasprintf("cannot open DKIM key %s: %s", key_path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL);
	fclose(fp);
	if (pkey == NULL) {
		*err = xasprintf("cannot read DKIM key %s (a PEM private key without "
		    "passphrase is needed): %s", key_path, ssl_reason());
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->pkey = pkey;
	memcpy(s->selector, sel, sizeof(sel));
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA: {
		int bits = EVP_PKEY_get_bits(pkey);
		s->alg = SIGN_RSA_SHA256;
		if (bits < DKIM_SIGN_RSA_BITS_MIN || bits > DKIM_SIGN_RSA_BITS_MAX) {
			*err = xasprintf("DKIM key %s: RSA key of %d bits; verifiers take %d to %d "
			    "(2048 recommended)", key_path, bits, DKIM_SIGN_RSA_BITS_MIN,
			    DKIM_SIGN_RSA_BITS_MAX);
			dkim_signer_free(s);
			return NULL;
		}
		break;
	}
	case EVP_PKEY_ED25519:
		s->alg = SIGN_ED25519_SHA256;
		break;
	default:
		*err = xasprintf("DKIM key %s: neither RSA nor Ed25519", key_path);
		dkim_signer_free(s);
		return NULL;
	}
	return s;
}

struct dkim_signer *
dkim_signer_generate(const char *selector, const char *type, unsigned bits, char **err)
{
	struct dkim_signer *s;
	EVP_PKEY *pkey;
	enum sign_alg alg;
	char sel[DKIM_SIGN_SELECTOR_MAX + 1];

	*err = NULL;
	if (selector == NULL || !dns_name(selector, sel, sizeof(sel))) {
		*err = xasprintf("\"%s\" is not a valid selector (letters, digits, '-', '_', "
		    "dots; at most %d characters)", selector ? selector : "",
		    DKIM_SIGN_SELECTOR_MAX);
		return NULL;
	}
	if (strcasecmp(type, "rsa") == 0) {
		if (bits < DKIM_SIGN_RSA_BITS_MIN || bits > DKIM_SIGN_RSA_BITS_MAX) {
			*err = xasprintf("RSA keys of %u bits are not usable: %d to %d "
			    "(2048 recommended)", bits, DKIM_SIGN_RSA_BITS_MIN,
			    DKIM_SIGN_RSA_BITS_MAX);
			return NULL;
		}
		alg = SIGN_RSA_SHA256;
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
	} else if (strcasecmp(type, "ed25519") == 0) {
		alg = SIGN_ED25519_SHA256;
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	} else {
		*err = xasprintf("unknown key type \"%s\" (rsa or ed25519)", type);
		return NULL;
	}
	if (pkey == NULL) {
		*err = xasprintf("key generation failed: %s", ssl_reason());
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->pkey = pkey;
	s->alg = alg;
	memcpy(s->selector, sel, sizeof(sel));
	return s;
}

char *
dkim_signer_pem(const struct dkim_signer *s)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio == NULL)
		abort();
	if (PEM_write_bio_PrivateKey(bio, s->pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0)
		out = xstrndup(data, (size_t)n);
	else
		ERR_clear_error();
	BIO_free(bio);
	return out;
}

void
dkim_signer_free(struct dkim_signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->pkey);
	free(s);
}

const char *
dkim_signer_key_type(const struct dkim_signer *s)
{
	return s->alg == SIGN_ED25519_SHA256 ? "ed25519" : "rsa";
}

char *
dkim_signer_record(const struct dkim_signer *s)
{
	unsigned char *der = NULL;
	char *p, *rec;
	size_t len;

	if (s->alg == SIGN_ED25519_SHA256) {
		/* RFC 8463 4.2: the bare public key, not a SubjectPublicKeyInfo */
		len = 32;
		der = xmalloc(len);
		if (EVP_PKEY_get_raw_public_key(s->pkey, der, &len) != 1 || len != 32) {
			ERR_clear_error();
			free(der);
			return NULL;
		}
	} else {
		/* RFC 6376 3.6.1: p= is the DER SubjectPublicKeyInfo */
		unsigned char *w;
		int n = i2d_PUBKEY(s->pkey, NULL);
		if (n <= 0) {
			ERR_clear_error();
			return NULL;
		}
		der = w = xmalloc((size_t)n);
		if (i2d_PUBKEY(s->pkey, &w) != n) {
			ERR_clear_error();
			free(der);
			return NULL;
		}
		len = (size_t)n;
	}
	p = b64_encode(der, len);
	rec = xasprintf("v=DKIM1; k=%s; p=%s", dkim_signer_key_type(s), p);
	free(der);
	free(p);
	return rec;
}

/* ---- the message ---- */

/*
 * The next line of buf from *pos as queue/mta.c sends it: a line ends at
 * CRLF, at a bare LF or at a bare CR. The line end is not part of it.
 */
static bool
next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *llen)
{
	size_t i = *pos, start = i;

	if (i >= len)
		return false;
	while (i < len && buf[i] != '\r' && buf[i] != '\n')
		i++;
	*line = buf + start;
	*llen = i - start;
	if (i < len)
		i += buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n' ? 2 : 1;
	*pos = i;
	return true;
}

/* The header block, CRLF line ends, without the empty line; *body is
 * set to the offset of the body in msg. */
static void
header_block(const char *msg, size_t len, struct dbuf *hdr, size_t *body)
{
	const char *line;
	size_t llen, pos = 0;

	*body = len;
	dbuf_put(hdr, "", 0);
	while (next_line(msg, len, &pos, &line, &llen)) {
		if (llen == 0) {
			*body = pos;
			return;
		}
		dbuf_put(hdr, line, llen);
		dbuf_put(hdr, "\r\n", 2);
	}
}

struct field {
	const char *name, *value;	/* into the header block copy */
	size_t nlen, vlen;		/* name without WSP; value with its CRLFs */
};

/* The fields of a header block (no empty line in it). */
static struct field *
fields_of(const struct dbuf *hdr, size_t *n)
{
	struct field *f = NULL, cur;
	size_t cap = 0, pos = 0;

	*n = 0;
	while (mime_header_next(hdr->p, hdr->n, &pos, &cur.name, &cur.nlen, &cur.value,
	    &cur.vlen)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			f = xrealloc(f, cap * sizeof(*f));
		}
		f[(*n)++] = cur;
	}
	return f;
}

static bool
field_is(const struct field *f, const char *name)
{
	return f->nlen == strlen(name) && strncasecmp(f->name, name, f->nlen) == 0;
}

/* Appends the relaxed form of a field (RFC 6376 3.4.2) to d. */
static void
canon_field(const char *name, size_t nlen, const char *value, size_t vlen, struct dbuf *d)
{
	size_t n = dkim_canon_header_relaxed(name, nlen, value, vlen, NULL, 0);
	char *tmp = xmalloc(n);

	dkim_canon_header_relaxed(name, nlen, value, vlen, tmp, n);
	dbuf_put(d, tmp, n);
	free(tmp);
}

/* Canonicalizes the normalized body text in chunk into the hash; chunk
 * must end after a non-empty line or be the end of the body. */
static int
body_flush(EVP_MD_CTX *md, struct dbuf *chunk, struct dbuf *canon)
{
	size_t n = dkim_canon_body(chunk->p, chunk->n, 1, NULL, 0);

	canon->n = 0;
	if (canon->cap < n + 1) {
		canon->p = xrealloc(canon->p, n + 1);
		canon->cap = n + 1;
	}
	dkim_canon_body(chunk->p, chunk->n, 1, canon->p, n);
	chunk->n = 0;
	return n == 0 || EVP_DigestUpdate(md, canon->p, n) == 1 ? 0 : -1;
}

/* The body hash (RFC 6376 3.7), relaxed, SHA-256, base64. NULL on an
 * OpenSSL failure. */
static char *
body_hash(const char *msg, size_t len, size_t body)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct dbuf chunk = { 0 }, canon = { 0 };
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;
	const char *line;
	size_t llen, pos = body;
	int rc;

	if (md == NULL)
		abort();
	rc = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
	while (rc == 0 && next_line(msg, len, &pos, &line, &llen)) {
		bool blank = true;
		dbuf_put(&chunk, line, llen);
		dbuf_put(&chunk, "\r\n", 2);
		for (size_t i = 0; i < llen && blank; i++)
			blank = line[i] == ' ' || line[i] == '\t';
		/* a cut after a blank line would drop it as trailing */
		if (chunk.n >= DKIM_SIGN_CHUNK && !blank)
			rc = body_flush(md, &chunk, &canon);
	}
	if (rc == 0)
		rc = body_flush(md, &chunk, &canon);
	if (rc == 0 && (EVP_DigestFinal_ex(md, h, &hlen) != 1 || hlen != 32))
		rc = -1;
	EVP_MD_CTX_free(md);
	free(chunk.p);
	free(canon.p);
	if (rc == -1) {
		ERR_clear_error();
		return NULL;
	}
	return b64_encode(h, 32);
}

/* ---- the folded signature field ---- */

struct fold {
	struct dbuf b;		/* the field so far */
	size_t col;		/* characters on the current line */
};

static void
fold_break(struct fold *f)
{
	dbuf_put(&f->b, "\r\n\t", 3);
	f->col = 1;
}

/*
 * Appends an unbreakable atom, after a space when sp. It goes to a new
 * line when it (and keep more characters after it) would not fit; an
 * atom longer than a line (a 253-character d=) has nowhere to break.
 */
static void
fold_atom(struct fold *f, const char *s, bool sp, size_t keep)
{
	size_t len = strlen(s);

	if (f->col + (sp ? 1 : 0) + len + keep > DKIM_SIGN_LINE_MAX && f->col > 1)
		fold_break(f);
	else if (sp) {
		dbuf_put(&f->b, " ", 1);
		f->col++;
	}
	dbuf_put(&f->b, s, len);
	f->col += len;
}

/* Appends base64 text, broken anywhere (FWS is allowed inside b= and
 * bh=, RFC 6376 3.5), then suffix, never alone on its line. */
static void
fold_b64(struct fold *f, const char *text, const char *suffix)
{
	size_t vlen = strlen(text), slen = strlen(suffix), pos = 0;

	while (pos < vlen) {
		size_t room = f->col < DKIM_SIGN_LINE_MAX ? DKIM_SIGN_LINE_MAX - f->col : 0;
		size_t k = vlen - pos < room ? vlen - pos : room;
		if (pos + k == vlen && room - k < slen)
			k = k > 0 ? k - 1 : 0;
		if (k == 0) {
			fold_break(f);
			continue;
		}
		dbuf_put(&f->b, text + pos, k);
		f->col += k;
		pos += k;
		if (pos < vlen)
			fold_break(f);
	}
	dbuf_puts(&f->b, suffix);
	f->col += slen;
}

/* Signs data (the canonical header data) with the key; base64 or NULL. */
static char *
sign_data(const struct dkim_signer *s, const char *data, size_t len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *sig = NULL;
	size_t siglen = 0;
	int ok;
	char *out = NULL;

	if (ctx == NULL)
		abort();
	if (s->alg == SIGN_RSA_SHA256) {
		/* RSASSA-PKCS1-v1_5 over SHA-256 (RFC 6376 3.3.1) */
		ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, s->pkey) == 1 &&
		    EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, len) == 1;
		if (ok) {
			sig = xmalloc(siglen);
			ok = EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data,
			    len) == 1;
		}
	} else {
		/* RFC 8463 3: PureEdDSA over the SHA-256 hash of the data */
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		ok = EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->pkey) == 1 &&
		    EVP_DigestSign(ctx, NULL, &siglen, md, mdlen) == 1;
		if (ok) {
			sig = xmalloc(siglen);
			ok = EVP_DigestSign(ctx, sig, &siglen, md, mdlen) == 1;
		}
	}
	EVP_MD_CTX_free(ctx);
	if (ok)
		out = b64_encode(sig, siglen);
	else
		ERR_clear_error();
	free(sig);
	return out;
}

/* dkim_sign with a reason on failure and the time given. */
static char *
sign_msg(const struct dkim_signer *s, const char *domain, const char *msg, size_t len,
    time_t now, const char **why)
{
	struct dbuf hdr = { 0 }, data = { 0 };
	struct fold f = { { 0 }, 0 };
	struct field *fields;
	const char **h = NULL;
	bool *used = NULL;
	size_t nf, nh = 0, body, nfrom = 0;
	char d[DKIM_SIGN_DOMAIN_MAX], atom[DKIM_SIGN_DOMAIN_MAX + 16];
	char *bh = NULL, *b = NULL, *out = NULL;

	if (!dns_name(domain, d, sizeof(d))) {
		*why = "d= is not a domain name";
		return NULL;
	}
	header_block(msg, len, &hdr, &body);
	fields = fields_of(&hdr, &nf);
	for (size_t i = 0; i < nf; i++)
		nfrom += field_is(&fields[i], "from");
	if (nfrom == 0) {
		*why = "no From field";	/* RFC 6376 5.4: From must be signed */
		goto out;
	}
	/*
	 * h=: every instance present, picked bottom-up by the verifier
	 * (5.4.2), and From once more: the extra one matches no field, so a
	 * From added in transit breaks the signature (8.15).
	 */
	h = xcalloc(nf + 1, sizeof(*h));
	for (size_t k = 0; k < sizeof(signed_fields) / sizeof(signed_fields[0]); k++) {
		size_t n = k == 0 ? nfrom + 1 : 0;
		if (k > 0)
			for (size_t i = 0; i < nf; i++)
				n += field_is(&fields[i], signed_fields[k]);
		while (n-- > 0)
			h[nh++] = signed_fields[k];
	}
	used = xcalloc(nf ? nf : 1, sizeof(*used));
	for (size_t k = 0; k < nh; k++)
		for (size_t i = nf; i-- > 0;) {
			if (used[i] || !field_is(&fields[i], h[k]))
				continue;
			used[i] = true;
			canon_field(fields[i].name, fields[i].nlen, fields[i].value, fields[i].vlen,
			    &data);
			break;
		}
	if ((bh = body_hash(msg, len, body)) == NULL) {
		*why = "body hash failed";
		goto out;
	}
	/* the field, folded as it will be sent, up to the empty b= (3.7) */
	dbuf_puts(&f.b, "DKIM-Signature:");
	f.col = f.b.n;
	fold_atom(&f, "v=1;", true, 0);
	fold_atom(&f, s->alg == SIGN_RSA_SHA256 ? "a=rsa-sha256;" : "a=ed25519-sha256;", true, 0);
	fold_atom(&f, "c=relaxed/relaxed;", true, 0);
	snprintf(atom, sizeof(atom), "d=%s;", d);
	fold_atom(&f, atom, true, 0);
	snprintf(atom, sizeof(atom), "s=%s;", s->selector);
	fold_atom(&f, atom, true, 0);
	snprintf(atom, sizeof(atom), "t=%lld;", (long long)now);
	fold_atom(&f, atom, true, 0);
	for (size_t k = 0; k < nh; k++) {
		/* FWS may follow each ':' of h= (3.5) */
		snprintf(atom, sizeof(atom), "%s%s%s", k == 0 ? "h=" : "", h[k],
		    k + 1 < nh ? ":" : ";");
		fold_atom(&f, atom, k == 0, 0);
	}
	fold_atom(&f, "bh=", true, strlen(bh) + 1);
	fold_b64(&f, bh, ";");
	fold_atom(&f, "b=", true, DKIM_SIGN_B_MIN);
	canon_field(f.b.p, 14, f.b.p + 15, f.b.n - 15, &data);
	data.n -= 2;		/* the signature field's final CRLF is not signed */
	if ((b = sign_data(s, data.p, data.n)) == NULL) {
		*why = "signing failed";
		goto out;
	}
	fold_b64(&f, b, "");
	dbuf_put(&f.b, "\r\n", 2);
	out = f.b.p;
	f.b.p = NULL;
out:
	free(hdr.p);
	free(data.p);
	free(fields);
	free(h);
	free(used);
	free(bh);
	free(b);
	free(f.b.p);
	return out;
}

char *
dkim_sign(const struct dkim_signer *s, const char *domain, const char *msg, size_t len)
{
	const char *why = NULL;

	return sign_msg(s, domain, msg, len, time(NULL), &why);
}

bool
dkim_from_domain(const char *msg, size_t len, char *out, size_t outlen)
{
	size_t hend = mime_header_end(msg, len), pos = 0, nlen, vlen;
	const char *name, *value;

	while (mime_header_next(msg, hend, &pos, &name, &nlen, &value, &vlen))
		if (nlen == 4 && strncasecmp(name, "from", 4) == 0)
			/* the first From decides: DMARC (RFC 7489 6.6.1) reads
			 * the same one through the same parser */
			return scan_address_domain(value, vlen, out, outlen);
	return false;
}

char *
dkim_sign_local(const struct dkim_signer *s, const struct config *cfg, const char *msg,
    size_t len)
{
	char dom[DKIM_SIGN_DOMAIN_MAX];
	const char *why = NULL;
	char *sig;

	if (s == NULL || !dkim_from_domain(msg, len, dom, sizeof(dom)) ||
	    !config_is_local_domain(cfg, dom, strlen(dom)))
		return NULL;
	sig = sign_msg(s, dom, msg, len, time(NULL), &why);
	if (sig == NULL)
		log_event("dkim_error", "domain=%s selector=%s reason=\"%s\"", dom, s->selector,
		    why);
	return sig;
}
