/*
 * DKIM verification (RFC 6376, RFC 8463 ed25519, RFC 8301 algorithm
 * rules). The message is copied once with bare LF turned into CRLF;
 * header fields are offsets into that copy. Each signature's key query
 * runs in parallel; once all have answered, every signature is verified
 * and the callback gets all results. The caller owns the verification:
 * dkim_verify_free() always, from the callback if it likes.
 */
#include "dkim.h"
#include "dkim_internal.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/answer.h"
#include "lib/xmalloc.h"

#define DKIM_TAGS_MAX 64		/* distinct tags in one tag-list */
#define DKIM_SIG_BYTES_MAX 1024		/* b=: an RSA-8192 signature */
#define DKIM_KEY_BYTES_MAX 2048		/* p=: an RSA-8192 SubjectPublicKeyInfo */
#define DKIM_RSA_BITS_MIN 1024		/* RFC 8301 3.2 */
#define DKIM_KEYS_MAX 4			/* TXT records tried per key name */
#define DKIM_L_DIGITS_MAX 76		/* RFC 6376 3.5 */
#define KEY_CACHE_SLOTS 256		/* parsed keys kept (key_get) */

enum dkim_alg { ALG_RSA_SHA256 = 1, ALG_ED25519_SHA256 };

const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_NONE: return "none";
	case DKIM_PASS: return "pass";
	case DKIM_FAIL: return "fail";
	case DKIM_NEUTRAL: return "neutral";
	case DKIM_TEMPERROR: return "temperror";
	case DKIM_PERMERROR: return "permerror";
	}
	return "permerror";
}

/* ---- small buffers ---- */

struct sink {
	char *p;
	size_t cap, n;		/* n counts everything, written or not */
};

static void
sink_put(struct sink *s, const char *b, size_t len)
{
	if (s->n < s->cap) {
		size_t k = s->cap - s->n < len ? s->cap - s->n : len;
		memcpy(s->p + s->n, b, k);
	}
	s->n += len;
}

static void
sink_putc(struct sink *s, char ch)
{
	sink_put(s, &ch, 1);
}

struct dbuf {
	char *p;
	size_t n, cap;
};

static void
dbuf_put(struct dbuf *d, const char *b, size_t len)
{
	if (d->cap - d->n < len) {
		size_t cap = d->cap ? d->cap : 1024;
		while (cap - d->n < len)
			cap *= 2;
		d->p = xrealloc(d->p, cap);
		d->cap = cap;
	}
	memcpy(d->p + d->n, b, len);
	d->n += len;
}

static bool
is_wsp(int ch)
{
	return ch == ' ' || ch == '\t';
}

static bool
is_fws(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* ---- canonicalization (RFC 6376 3.4) ---- */

size_t
dkim_canon_header_relaxed(const char *name, size_t nlen, const char *value, size_t vlen,
    char *out, size_t outlen)
{
	struct sink s = { out, out != NULL ? outlen : 0, 0 };
	bool space = false, any = false;

	/* 3.4.2: lower-case name, no WSP around the colon, unfolded value,
	 * WSP runs as one SP, none at either end */
	while (nlen > 0 && is_fws((unsigned char)name[nlen - 1]))
		nlen--;
	for (size_t i = 0; i < nlen; i++)
		sink_putc(&s, (char)tolower((unsigned char)name[i]));
	sink_putc(&s, ':');
	for (size_t i = 0; i < vlen; i++) {
		unsigned char ch = (unsigned char)value[i];
		if (ch == '\r' || ch == '\n')
			continue;
		if (is_wsp(ch)) {
			space = true;
			continue;
		}
		if (space && any)
			sink_putc(&s, ' ');
		space = false;
		any = true;
		sink_putc(&s, (char)ch);
	}
	sink_put(&s, "\r\n", 2);
	return s.n;
}

size_t
dkim_canon_body(const char *body, size_t len, int relaxed, char *out, size_t outlen)
{
	struct sink s = { out, out != NULL ? outlen : 0, 0 };
	size_t empty = 0, i = 0;

	/* Lines end in CRLF or a bare LF; trailing empty lines go (3.4.3,
	 * 3.4.4), so they are only counted until a non-empty line comes. */
	while (i < len) {
		size_t start = i, end, next;
		const char *nl = memchr(body + i, '\n', len - i);
		bool terminated = nl != NULL;

		if (nl != NULL) {
			end = (size_t)(nl - body);
			next = end + 1;
			if (end > start && body[end - 1] == '\r')
				end--;
		} else {
			end = len;
			next = len;
		}
		i = next;
		if (relaxed) {
			/* 3.4.4: no WSP at line end, WSP runs as one SP */
			size_t e = end;
			while (e > start && is_wsp((unsigned char)body[e - 1]))
				e--;
			if (e == start) {
				if (terminated)
					empty++;
				continue;
			}
			for (; empty > 0; empty--)
				sink_put(&s, "\r\n", 2);
			for (size_t k = start; k < e; k++) {
				if (is_wsp((unsigned char)body[k])) {
					if (k == start || !is_wsp((unsigned char)body[k - 1]))
						sink_putc(&s, ' ');
					continue;
				}
				sink_putc(&s, body[k]);
			}
			sink_put(&s, "\r\n", 2);
			continue;
		}
		if (end == start) {
			if (terminated)
				empty++;
			continue;
		}
		for (; empty > 0; empty--)
			sink_put(&s, "\r\n", 2);
		sink_put(&s, body + start, end - start);
		sink_put(&s, "\r\n", 2);
	}
	/* 3.4.3: an empty body is one CRLF in simple; relaxed leaves it
	 * empty (RFC 6376 erratum 3192 confirms) */
	if (s.n == 0 && !relaxed)
		sink_put(&s, "\r\n", 2);
	return s.n;
}

/* ---- tag lists (RFC 6376 3.2) ---- */

int
dkim_parse_tags(const char *buf, size_t len, void (*fn)(void *arg, const char *tag,
    size_t tlen, const char *val, size_t vlen), void *arg)
{
	const char *names[DKIM_TAGS_MAX];
	size_t nlens[DKIM_TAGS_MAX], ntags = 0, i = 0;

	for (;;) {
		size_t ns, nl, vs, ve;

		while (i < len && is_fws((unsigned char)buf[i]))
			i++;
		if (i == len)
			return 0;	/* the list may end with ";" */
		/* tag-name = ALPHA *ALNUMPUNC */
		if (!isalpha((unsigned char)buf[i]))
			return -1;
		ns = i;
		while (i < len && (isalnum((unsigned char)buf[i]) || buf[i] == '_'))
			i++;
		nl = i - ns;
		while (i < len && is_fws((unsigned char)buf[i]))
			i++;
		if (i == len || buf[i] != '=')
			return -1;
		i++;
		while (i < len && is_fws((unsigned char)buf[i]))
			i++;
		vs = i;
		while (i < len && buf[i] != ';') {
			unsigned char ch = (unsigned char)buf[i];
			/* VALCHAR = %x21-3A / %x3C-7E, and FWS between */
			if (!(is_fws(ch) || (ch >= 0x21 && ch <= 0x7e)))
				return -1;
			i++;
		}
		ve = i;
		while (ve > vs && is_fws((unsigned char)buf[ve - 1]))
			ve--;
		/* duplicate tags make the whole list invalid */
		for (size_t k = 0; k < ntags; k++)
			if (nlens[k] == nl && memcmp(names[k], buf + ns, nl) == 0)
				return -1;
		if (ntags == DKIM_TAGS_MAX)
			return -1;
		names[ntags] = buf + ns;
		nlens[ntags++] = nl;
		if (fn != NULL)
			fn(arg, buf + ns, nl, buf + vs, ve - vs);
		if (i < len)
			i++;	/* the ';' */
	}
}

/* ---- base64 ---- */

long
dkim_base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	uint32_t acc = 0;
	size_t bits = 0, o = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];
		int v;
		if (is_fws(ch))
			continue;
		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad > 0)
			return -1;	/* data after padding */
		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '+')
			v = 62;
		else if (ch == '/')
			v = 63;
		else
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* leftover bits must be the zero fill of a padded group */
	if (pad > 2 || bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return -1;
	if (pad > 0 && (bits / 2) != pad)
		return -1;
	return (long)o;
}

/* ---- the message ---- */

struct hdr {
	size_t off, len;	/* the whole field, final CRLF included */
	size_t nlen;		/* name length (WSP before ':' excluded), 0: no ':' */
	size_t colon;		/* offset of ':' from off */
};

struct msg {
	char *buf;		/* owned, CRLF line ends */
	size_t len;
	struct hdr *h;		/* owned */
	size_t nh;
	size_t body;		/* offset of the body */
};

static void
msg_load(struct msg *m, const char *in, size_t len)
{
	size_t extra = 0, o = 0, cap = 0, pos = 0;

	/* a bare LF (a file given to postern scan) is taken as CRLF; mail
	 * from a session has none, and is copied at once */
	for (const char *p = in, *end = in + len; p < end &&
	    (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		if (p == in || p[-1] != '\r')
			extra++;
	m->buf = xmalloc(len + extra + 1);
	if (extra == 0) {
		if (len > 0)
			memcpy(m->buf, in, len);
		o = len;
	} else
		for (size_t i = 0; i < len; i++) {
			if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
				m->buf[o++] = '\r';
			m->buf[o++] = in[i];
		}
	m->buf[o] = '\0';
	m->len = o;
	m->h = NULL;
	m->nh = 0;
	m->body = m->len;
	while (pos < m->len) {
		struct hdr h = { pos, 0, 0, 0 };
		size_t end = pos;
		const char *colon;

		if (m->len - pos >= 2 && m->buf[pos] == '\r' && m->buf[pos + 1] == '\n') {
			m->body = pos + 2;
			break;
		}
		/* a field runs until a line that does not start with WSP */
		for (;;) {
			const char *nl = memchr(m->buf + end, '\n', m->len - end);
			end = nl != NULL ? (size_t)(nl - m->buf) + 1 : m->len;
			if (end >= m->len || !is_wsp((unsigned char)m->buf[end]))
				break;
		}
		h.len = end - pos;
		colon = memchr(m->buf + pos, ':', h.len);
		if (colon != NULL) {
			h.colon = (size_t)(colon - (m->buf + pos));
			h.nlen = h.colon;
			while (h.nlen > 0 && is_wsp((unsigned char)m->buf[pos + h.nlen - 1]))
				h.nlen--;
		}
		if (m->nh == cap) {
			cap = cap ? cap * 2 : 32;
			m->h = xrealloc(m->h, cap * sizeof(*m->h));
		}
		m->h[m->nh++] = h;
		pos = end;
	}
}

static void
msg_free(struct msg *m)
{
	free(m->buf);
	free(m->h);
	memset(m, 0, sizeof(*m));
}

static bool
hdr_is(const struct msg *m, const struct hdr *h, const char *name, size_t len)
{
	return h->nlen == len && h->nlen > 0 && strncasecmp(m->buf + h->off, name, len) == 0;
}

/* The field's value: after ':' up to the final CRLF. */
static void
hdr_value(const struct msg *m, const struct hdr *h, const char **v, size_t *vlen)
{
	size_t len = h->len;

	if (len >= 2 && m->buf[h->off + len - 2] == '\r' && m->buf[h->off + len - 1] == '\n')
		len -= 2;
	*v = m->buf + h->off + h->colon + 1;
	*vlen = len - h->colon - 1;
}

/* ---- signatures ---- */

struct sig {
	size_t hdr;			/* index of its DKIM-Signature field */
	enum dkim_result early;		/* set when it fails before any key */
	char reason[96];
	enum dkim_alg alg;
	bool hrelaxed, brelaxed;
	unsigned char b[DKIM_SIG_BYTES_MAX];
	size_t blen;
	unsigned char bh[32];
	char d[254], s[64];
	char idomain[254];		/* domain of i=, "" when absent */
	const char *h;			/* h= value, in the message copy */
	size_t hlen;
	bool has_l, has_t, has_x;
	uint64_t l, t, x;
	/* the body hash checked ahead (dkim_verify_new, maybe on a worker
	 * thread): it needs no key */
	bool body_done;
	enum dkim_result body_r;
	const char *body_reason;	/* NULL when it passed */
};

struct sig_parse {
	struct sig *s;
	unsigned seen;			/* bits of the required tags */
	const char *err;		/* first error */
};

enum { SEEN_V = 1, SEEN_A = 2, SEEN_B = 4, SEEN_BH = 8, SEEN_D = 16, SEEN_H = 32, SEEN_S = 64 };

static bool
tag_is(const char *tag, size_t tlen, const char *name)
{
	return strlen(name) == tlen && memcmp(tag, name, tlen) == 0;
}

static bool
val_is(const char *val, size_t vlen, const char *word)
{
	return strlen(word) == vlen && strncasecmp(val, word, vlen) == 0;
}

/* Decimal digits only, at most maxdigits; saturates at UINT64_MAX. */
static bool
parse_u64(const char *v, size_t len, size_t maxdigits, uint64_t *out)
{
	uint64_t n = 0;

	if (len == 0 || len > maxdigits)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return false;
		n = n > (UINT64_MAX - 9) / 10 ? UINT64_MAX : n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return true;
}

/* A domain name or selector: dot-separated labels of letters, digits,
 * '-' and '_', 1..63 each. Copied lower-cased into out. */
bool
dkim_copy_name(const char *v, size_t len, char *out, size_t outlen)
{
	size_t lab = 0;

	if (len == 0 || len >= outlen)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];
		if (ch == '.') {
			if (lab == 0)
				return false;
			lab = 0;
		} else if (isalnum(ch) || ch == '-' || ch == '_') {
			if (++lab > 63)
				return false;
		} else
			return false;
		out[i] = (char)tolower(ch);
	}
	out[len] = '\0';
	return lab > 0;
}

/* Does the colon-separated list hold word (FWS around items allowed)? */
static bool
list_has(const char *v, size_t len, const char *word)
{
	size_t i = 0;

	while (i <= len) {
		size_t s = i, e;
		while (i < len && v[i] != ':')
			i++;
		e = i;
		while (s < e && is_fws((unsigned char)v[s]))
			s++;
		while (e > s && is_fws((unsigned char)v[e - 1]))
			e--;
		if (val_is(v + s, e - s, word))
			return true;
		i++;
	}
	return false;
}

static void
sig_tag(void *arg, const char *tag, size_t tlen, const char *val, size_t vlen)
{
	struct sig_parse *p = arg;
	struct sig *s = p->s;
	const char *err = NULL;
	long n;

	/* every tag is read even after an error, so that the result
	 * still names d= and s= */
	if (tag_is(tag, tlen, "v")) {
		p->seen |= SEEN_V;
		if (!(vlen == 1 && val[0] == '1'))
			err = "unsupported version";
	} else if (tag_is(tag, tlen, "a")) {
		p->seen |= SEEN_A;
		if (val_is(val, vlen, "rsa-sha256"))
			s->alg = ALG_RSA_SHA256;
		else if (val_is(val, vlen, "ed25519-sha256"))
			s->alg = ALG_ED25519_SHA256;
		else if (val_is(val, vlen, "rsa-sha1"))
			err = "rsa-sha1 not accepted (RFC 8301)";
		else
			err = "unknown algorithm";
	} else if (tag_is(tag, tlen, "b")) {
		p->seen |= SEEN_B;
		n = dkim_base64_decode(val, vlen, s->b, sizeof(s->b));
		if (n <= 0)
			err = "bad b= value";
		else
			s->blen = (size_t)n;
	} else if (tag_is(tag, tlen, "bh")) {
		unsigned char tmp[64];
		p->seen |= SEEN_BH;
		n = dkim_base64_decode(val, vlen, tmp, sizeof(tmp));
		if (n != 32)
			err = "bad bh= value";
		else
			memcpy(s->bh, tmp, 32);
	} else if (tag_is(tag, tlen, "c")) {
		const char *slash = memchr(val, '/', vlen);
		size_t hl = slash ? (size_t)(slash - val) : vlen;
		if (val_is(val, hl, "relaxed"))
			s->hrelaxed = true;
		else if (!val_is(val, hl, "simple"))
			err = "bad c= value";
		if (slash != NULL) {
			size_t bl = vlen - hl - 1;
			if (val_is(slash + 1, bl, "relaxed"))
				s->brelaxed = true;
			else if (!val_is(slash + 1, bl, "simple"))
				err = "bad c= value";
		}
	} else if (tag_is(tag, tlen, "d")) {
		p->seen |= SEEN_D;
		if (!dkim_copy_name(val, vlen, s->d, sizeof(s->d)))
			err = "bad d= value";
	} else if (tag_is(tag, tlen, "s")) {
		p->seen |= SEEN_S;
		if (!dkim_copy_name(val, vlen, s->s, sizeof(s->s)))
			err = "bad s= value";
	} else if (tag_is(tag, tlen, "h")) {
		p->seen |= SEEN_H;
		s->h = val;
		s->hlen = vlen;
	} else if (tag_is(tag, tlen, "i")) {
		const char *at = memchr(val, '@', vlen);
		if (at == NULL || !dkim_copy_name(at + 1, vlen - (size_t)(at + 1 - val), s->idomain,
		    sizeof(s->idomain)))
			err = "bad i= value";
	} else if (tag_is(tag, tlen, "l")) {
		s->has_l = true;
		if (!parse_u64(val, vlen, DKIM_L_DIGITS_MAX, &s->l))
			err = "bad l= value";
	} else if (tag_is(tag, tlen, "q")) {
		if (!list_has(val, vlen, "dns/txt"))
			err = "unsupported q= method";
	} else if (tag_is(tag, tlen, "t")) {
		s->has_t = true;
		if (!parse_u64(val, vlen, 19, &s->t))
			err = "bad t= value";
	} else if (tag_is(tag, tlen, "x")) {
		s->has_x = true;
		if (!parse_u64(val, vlen, 19, &s->x))
			err = "bad x= value";
	}
	/* z= and unknown tags are ignored (3.2) */
	if (p->err == NULL)
		p->err = err;
}

static void
sig_fail(struct sig *s, enum dkim_result r, const char *reason)
{
	s->early = r;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

/* True when name is domain or one of its subdomains. */
static bool
in_domain(const char *name, const char *domain)
{
	size_t nl = strlen(name), dl = strlen(domain);

	if (nl == dl)
		return strcasecmp(name, domain) == 0;
	return nl > dl && name[nl - dl - 1] == '.' && strcasecmp(name + nl - dl, domain) == 0;
}

/* Parses the DKIM-Signature field m->h[idx] into s; s->early tells. */
static void
sig_parse(const struct msg *m, size_t idx, struct sig *s)
{
	struct sig_parse p = { s, 0, NULL };
	const char *v;
	size_t vlen;

	memset(s, 0, sizeof(*s));
	s->hdr = idx;
	hdr_value(m, &m->h[idx], &v, &vlen);
	if (dkim_parse_tags(v, vlen, sig_tag, &p) == -1) {
		sig_fail(s, DKIM_PERMERROR, "signature tag syntax");
		return;
	}
	if (p.err != NULL) {
		sig_fail(s, DKIM_PERMERROR, p.err);
		return;
	}
	if ((p.seen & (SEEN_V | SEEN_A | SEEN_B | SEEN_BH | SEEN_D | SEEN_H | SEEN_S)) !=
	    (SEEN_V | SEEN_A | SEEN_B | SEEN_BH | SEEN_D | SEEN_H | SEEN_S)) {
		sig_fail(s, DKIM_PERMERROR, "signature lacks a required tag");
		return;
	}
	/* 3.5: h= must sign From */
	if (!list_has(s->h, s->hlen, "from")) {
		sig_fail(s, DKIM_PERMERROR, "From not signed");
		return;
	}
	if (s->idomain[0] != '\0' && !in_domain(s->idomain, s->d)) {
		sig_fail(s, DKIM_PERMERROR, "i= not within d=");
		return;
	}
	if (s->has_t && s->has_x && s->x < s->t) {
		sig_fail(s, DKIM_PERMERROR, "x= before t=");
		return;
	}
}

/* ---- keys (RFC 6376 3.6.1) ---- */

struct key {
	EVP_PKEY *pkey;
	bool testing;		/* t=y */
	bool strict;		/* t=s: i= must be exactly d= */
};

struct key_parse {
	size_t ntags;
	const char *err;
	bool revoked, has_p, ed25519;
	const char *p;
	size_t plen;
	const char *h;
	size_t hlen;
	bool has_h;
	struct key *k;
};

static void
key_tag(void *arg, const char *tag, size_t tlen, const char *val, size_t vlen)
{
	struct key_parse *p = arg;

	p->ntags++;
	if (p->err != NULL)
		return;
	if (tag_is(tag, tlen, "v")) {
		/* if present, first and "DKIM1" */
		if (p->ntags != 1 || !(vlen == 5 && memcmp(val, "DKIM1", 5) == 0))
			p->err = "bad key v= value";
	} else if (tag_is(tag, tlen, "k")) {
		if (val_is(val, vlen, "ed25519"))
			p->ed25519 = true;
		else if (!val_is(val, vlen, "rsa"))
			p->err = "unknown key type";
	} else if (tag_is(tag, tlen, "h")) {
		p->has_h = true;
		p->h = val;
		p->hlen = vlen;
	} else if (tag_is(tag, tlen, "p")) {
		p->has_p = true;
		p->p = val;
		p->plen = vlen;
	} else if (tag_is(tag, tlen, "s")) {
		if (!list_has(val, vlen, "email") && !list_has(val, vlen, "*"))
			p->err = "key not for email";
	} else if (tag_is(tag, tlen, "t")) {
		p->k->testing = list_has(val, vlen, "y");
		p->k->strict = list_has(val, vlen, "s");
	}
}

/* One DER tag and length (X.690 8.1.2-8.1.3, definite form, at most
 * 4 length octets) at *p before end: the content's start and length. */
static int
der_take(const unsigned char **p, const unsigned char *end, unsigned char tag, size_t *len)
{
	const unsigned char *q = *p;
	size_t l;

	if (end - q < 2 || q[0] != tag)
		return -1;
	l = q[1];
	q += 2;
	if (l & 0x80) {
		size_t nb = l & 0x7f;
		if (nb == 0 || nb > 4 || (size_t)(end - q) < nb)
			return -1;
		for (l = 0; nb > 0; nb--)
			l = (l << 8) | *q++;
	}
	if ((size_t)(end - q) < l)
		return -1;
	*p = q;
	*len = l;
	return 0;
}

/*
 * The RSAPublicKey (RFC 8017 A.1.1) inside an rsaEncryption
 * SubjectPublicKeyInfo (RFC 5280 4.1, RFC 3279 2.3.1), the usual p= of
 * RFC 6376 3.6.1, or NULL. OpenSSL 3's d2i_PUBKEY goes through its
 * decoder framework (about 80 us of CPU a key, more than the signature
 * check itself); d2i_PublicKey of the inner key costs under 1 us.
 */
static const unsigned char *
spki_rsa_key(const unsigned char *der, size_t n, size_t *keylen)
{
	static const unsigned char rsa_oid[] = { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01 };
	const unsigned char *p = der, *end = der + n, *alg_end;
	size_t l;

	if (der_take(&p, end, 0x30, &l) == -1 || p + l != end)
		return NULL;
	if (der_take(&p, end, 0x30, &l) == -1)
		return NULL;
	alg_end = p + l;
	if (der_take(&p, alg_end, 0x06, &l) == -1 || l != sizeof(rsa_oid) ||
	    memcmp(p, rsa_oid, l) != 0)
		return NULL;
	p += l;
	if (p != alg_end && (alg_end - p != 2 || p[0] != 0x05 || p[1] != 0x00))
		return NULL;
	p = alg_end;
	if (der_take(&p, end, 0x03, &l) == -1 || p + l != end || l < 2 || p[0] != 0)
		return NULL;
	*keylen = l - 1;
	return p + 1;
}

/*
 * Parses a key record for a signature of algorithm alg into k (pkey
 * owned by the caller). Returns DKIM_PASS when usable, else the result
 * with reason.
 */
static enum dkim_result
key_parse(const char *rec, size_t len, enum dkim_alg alg, struct key *k, const char **reason)
{
	struct key_parse p = { 0 };
	unsigned char der[DKIM_KEY_BYTES_MAX];
	const unsigned char *dp = der;
	long n;

	memset(k, 0, sizeof(*k));
	p.k = k;
	if (dkim_parse_tags(rec, len, key_tag, &p) == -1) {
		*reason = "key record syntax";
		return DKIM_PERMERROR;
	}
	if (p.err != NULL) {
		*reason = p.err;
		return DKIM_PERMERROR;
	}
	if (!p.has_p) {
		*reason = "key record without p=";
		return DKIM_PERMERROR;
	}
	if (p.plen == 0) {
		*reason = "key revoked";
		return DKIM_PERMERROR;
	}
	if (p.has_h && !list_has(p.h, p.hlen, "sha256")) {
		*reason = "key refuses sha256";
		return DKIM_PERMERROR;
	}
	if (p.ed25519 != (alg == ALG_ED25519_SHA256)) {
		*reason = "key type does not match a=";
		return DKIM_PERMERROR;
	}
	n = dkim_base64_decode(p.p, p.plen, der, sizeof(der));
	if (n <= 0) {
		*reason = "bad key p= value";
		return DKIM_PERMERROR;
	}
	if (p.ed25519) {
		/* RFC 8463 4.2: p= is the raw 32-byte public key */
		if (n != 32 || (k->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der,
		    32)) == NULL) {
			*reason = "bad ed25519 key";
			return DKIM_PERMERROR;
		}
		return DKIM_PASS;
	}
	{
		size_t klen = 0;
		const unsigned char *kp = spki_rsa_key(der, (size_t)n, &klen);
		if (kp != NULL) {
			dp = kp;
			k->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &dp, (long)klen);
			if (k->pkey != NULL && dp != kp + klen) {
				EVP_PKEY_free(k->pkey);	/* trailing octets */
				k->pkey = NULL;
			}
		}
	}
	dp = der;
	if (k->pkey == NULL)
		k->pkey = d2i_PUBKEY(NULL, &dp, n);
	if (k->pkey == NULL) {
		/* some publish a bare RSAPublicKey (PKCS#1) */
		dp = der;
		k->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &dp, n);
	}
	if (k->pkey == NULL || EVP_PKEY_get_base_id(k->pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		*reason = "bad rsa key";
		return DKIM_PERMERROR;
	}
	if (EVP_PKEY_get_bits(k->pkey) < DKIM_RSA_BITS_MIN) {
		EVP_PKEY_free(k->pkey);
		k->pkey = NULL;
		*reason = "rsa key shorter than 1024 bits";
		return DKIM_PERMERROR;
	}
	return DKIM_PASS;
}

/*
 * Parsed keys, kept by the exact text of their record (and the
 * algorithm asked): the next message signed with the same key (a large
 * sender's, a client's next one) neither decodes it again nor has
 * OpenSSL compute its RSA Montgomery constants again (kept in the key:
 * some 80,000 instructions a message). The record is still looked up
 * for every message, so a changed or revoked key is a different text
 * and parsed afresh. Direct-mapped and bounded; any thread.
 */
struct key_slot {
	char *rec;		/* NULL: empty */
	size_t len;
	enum dkim_alg alg;
	struct key k;		/* holds one reference to k.pkey */
};

static struct key_slot key_cache[KEY_CACHE_SLOTS];
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static enum dkim_result
key_get(const char *rec, size_t len, enum dkim_alg alg, struct key *k, const char **reason)
{
	uint64_t h = 14695981039346656037ULL;
	struct key_slot *e;
	enum dkim_result r;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)rec[i]) * 1099511628211ULL;
	e = &key_cache[(h ^ (uint64_t)alg) % KEY_CACHE_SLOTS];
	pthread_mutex_lock(&key_cache_lock);
	if (e->rec != NULL && e->alg == alg && e->len == len && memcmp(e->rec, rec, len) == 0 &&
	    EVP_PKEY_up_ref(e->k.pkey) == 1) {
		*k = e->k;
		pthread_mutex_unlock(&key_cache_lock);
		return DKIM_PASS;
	}
	pthread_mutex_unlock(&key_cache_lock);
	r = key_parse(rec, len, alg, k, reason);
	if (r != DKIM_PASS || EVP_PKEY_up_ref(k->pkey) != 1)
		return r;
	pthread_mutex_lock(&key_cache_lock);
	free(e->rec);
	EVP_PKEY_free(e->k.pkey);
	e->rec = xmalloc(len ? len : 1);
	memcpy(e->rec, rec, len);
	e->len = len;
	e->alg = alg;
	e->k = *k;
	pthread_mutex_unlock(&key_cache_lock);
	return r;
}

/* ---- verification ---- */

/* The DKIM-Signature field with the value of b= removed (3.7). */
static void
strip_b(const char *f, size_t len, struct dbuf *out)
{
	const char *colon = memchr(f, ':', len);
	size_t i, end = len;

	if (end >= 2 && f[end - 2] == '\r' && f[end - 1] == '\n')
		end -= 2;
	i = colon ? (size_t)(colon - f) + 1 : len;
	while (i < end) {
		size_t ns, ne, vs;
		while (i < end && is_fws((unsigned char)f[i]))
			i++;
		ns = i;
		while (i < end && f[i] != '=' && f[i] != ';' && !is_fws((unsigned char)f[i]))
			i++;
		ne = i;
		while (i < end && f[i] != '=' && f[i] != ';')
			i++;
		if (i >= end || f[i] == ';') {
			i++;
			continue;
		}
		vs = ++i;
		while (i < end && f[i] != ';')
			i++;
		if (ne - ns == 1 && f[ns] == 'b') {
			dbuf_put(out, f, vs);
			dbuf_put(out, f + i, len - i);
			return;
		}
		i++;
	}
	dbuf_put(out, f, len);
}

/* Appends a field, canonicalized, to d. */
static void
canon_field(const char *f, size_t len, size_t colon, bool relaxed, struct dbuf *d)
{
	size_t vlen, n;
	char *tmp;

	if (!relaxed) {
		dbuf_put(d, f, len);
		return;
	}
	vlen = len - colon - 1;
	n = dkim_canon_header_relaxed(f, colon, f + colon + 1, vlen, NULL, 0);
	tmp = xmalloc(n);
	dkim_canon_header_relaxed(f, colon, f + colon + 1, vlen, tmp, n);
	dbuf_put(d, tmp, n);
	free(tmp);
}

/* The data the header signature covers (3.7): h= fields picked from the
 * bottom up, then the signature field itself without b= and final CRLF.
 * -1 when h= is malformed. */
static int
header_data(const struct msg *m, const struct sig *s, struct dbuf *d)
{
	bool *used = xcalloc(m->nh ? m->nh : 1, sizeof(*used));
	const struct hdr *sh = &m->h[s->hdr];
	struct dbuf self = { 0 };
	size_t i = 0;

	while (i <= s->hlen) {
		size_t ns = i, ne;
		while (i < s->hlen && s->h[i] != ':')
			i++;
		ne = i++;
		while (ns < ne && is_fws((unsigned char)s->h[ns]))
			ns++;
		while (ne > ns && is_fws((unsigned char)s->h[ne - 1]))
			ne--;
		if (ne == ns) {
			free(used);
			return -1;
		}
		for (size_t k = m->nh; k-- > 0;) {
			const struct hdr *h = &m->h[k];
			if (used[k] || !hdr_is(m, h, s->h + ns, ne - ns))
				continue;
			used[k] = true;
			canon_field(m->buf + h->off, h->len, h->colon, s->hrelaxed, d);
			break;
		}
	}
	free(used);
	strip_b(m->buf + sh->off, sh->len, &self);
	canon_field(self.p, self.n, sh->colon, s->hrelaxed, d);
	free(self.p);
	if (d->n >= 2 && d->p[d->n - 2] == '\r' && d->p[d->n - 1] == '\n')
		d->n -= 2;
	return 0;
}

/* Checks bh= against the canonical body (l= applied). */
static enum dkim_result
body_check(const struct msg *m, const struct sig *s, const char **reason)
{
	size_t blen = m->len - m->body, n;
	char *canon = xmalloc(2 * blen + 2);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	enum dkim_result r = DKIM_PASS;

	n = dkim_canon_body(m->buf + m->body, blen, s->brelaxed, canon, 2 * blen + 2);
	if (s->has_l) {
		if (s->l > n) {
			*reason = "l= longer than the body";
			free(canon);
			return DKIM_PERMERROR;
		}
		n = (size_t)s->l;
	}
	if (EVP_Digest(canon, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32 ||
	    memcmp(md, s->bh, 32) != 0) {
		*reason = "body hash mismatch";
		r = DKIM_FAIL;
	}
	free(canon);
	return r;
}

static enum dkim_result
signature_check(const struct msg *m, const struct sig *s, EVP_PKEY *pkey, const char **reason)
{
	struct dbuf d = { 0 };
	EVP_MD_CTX *ctx;
	int ok = 0;

	if (header_data(m, s, &d) == -1) {
		*reason = "bad h= value";
		return DKIM_PERMERROR;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		abort();
	if (s->alg == ALG_RSA_SHA256) {
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		    EVP_DigestVerify(ctx, s->b, s->blen, (const unsigned char *)d.p, d.n) == 1;
	} else {
		/* RFC 8463 3: Ed25519 signs the SHA-256 hash of the data */
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		ok = EVP_Digest(d.p, d.n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		    EVP_DigestVerify(ctx, s->b, s->blen, md, mdlen) == 1;
	}
	EVP_MD_CTX_free(ctx);
	free(d.p);
	if (!ok) {
		*reason = "signature did not verify";
		return DKIM_FAIL;
	}
	return DKIM_PASS;
}

static void
result_set(struct dkim_sig_result *out, const struct sig *s, enum dkim_result r,
    const char *reason)
{
	memset(out, 0, sizeof(*out));
	out->result = r;
	snprintf(out->domain, sizeof(out->domain), "%s", s->d);
	snprintf(out->selector, sizeof(out->selector), "%s", s->s);
	snprintf(out->reason, sizeof(out->reason), "%s", reason ? reason : "");
}

/*
 * Verifies s with the key records recs (status: how the lookup ended).
 * The first record that makes a usable key is used (3.6.2.2).
 */
static void
sig_verify(const struct msg *m, const struct sig *s, enum dns_status status,
    const char *const *recs, const size_t *lens, size_t nrecs, time_t now,
    struct dkim_sig_result *out)
{
	struct key k = { 0 };
	enum dkim_result r = DKIM_PERMERROR;
	const char *reason = "no key published";

	if (s->early != DKIM_NONE) {
		result_set(out, s, s->early, s->reason);
		return;
	}
	/* 3.5 x=: verifiers may consider expired signatures invalid */
	if (s->has_x && now >= 0 && s->x < (uint64_t)now) {
		result_set(out, s, DKIM_PERMERROR, "signature expired");
		return;
	}
	if (status == DNS_TIMEOUT || status == DNS_SERVFAIL) {
		result_set(out, s, DKIM_TEMPERROR, "key lookup failed");
		return;
	}
	for (size_t i = 0; i < nrecs && i < DKIM_KEYS_MAX; i++) {
		const char *why = NULL;
		enum dkim_result kr = key_get(recs[i], lens[i], s->alg, &k, &why);
		if (kr == DKIM_PASS) {
			r = DKIM_PASS;
			break;
		}
		if (i == 0)
			reason = why;
	}
	if (r != DKIM_PASS) {
		result_set(out, s, DKIM_PERMERROR, reason);
		return;
	}
	if (k.strict && s->idomain[0] != '\0' && strcasecmp(s->idomain, s->d) != 0) {
		EVP_PKEY_free(k.pkey);
		result_set(out, s, DKIM_PERMERROR, "i= differs from d= under a t=s key");
		return;
	}
	if (s->body_done) {
		r = s->body_r;
		if (s->body_reason != NULL)
			reason = s->body_reason;
	} else
		r = body_check(m, s, &reason);
	if (r == DKIM_PASS)
		r = signature_check(m, s, k.pkey, &reason);
	EVP_PKEY_free(k.pkey);
	if (r == DKIM_FAIL && k.testing) {
		/* 3.6.1 t=y: a signer in testing mode is treated as unsigned */
		result_set(out, s, DKIM_NEUTRAL, reason);
		return;
	}
	result_set(out, s, r, r == DKIM_PASS ? "" : reason);
}

/* Indexes of the DKIM-Signature fields, topmost first, at most max. */
static size_t
find_sigs(const struct msg *m, size_t *idx, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nh && n < max; i++)
		if (hdr_is(m, &m->h[i], "dkim-signature", 14))
			idx[n++] = i;
	return n;
}

size_t
dkim_verify_with_key(const char *msg, size_t len, size_t idx, const char *keyrec, size_t keylen,
    time_t now, struct dkim_sig_result *out)
{
	struct msg m;
	struct sig *s;
	size_t sigs[DKIM_SIGS_MAX], n;

	msg_load(&m, msg, len);
	n = find_sigs(&m, sigs, DKIM_SIGS_MAX);
	memset(out, 0, sizeof(*out));
	if (idx >= n) {
		msg_free(&m);
		return n;
	}
	s = xmalloc(sizeof(*s));
	sig_parse(&m, sigs[idx], s);
	sig_verify(&m, s, keyrec != NULL ? DNS_OK : DNS_NXDOMAIN, &keyrec, &keylen,
	    keyrec != NULL ? 1 : 0, now, out);
	free(s);
	msg_free(&m);
	return n;
}

/* ---- the asynchronous part ---- */

struct key_lookup {
	struct dkim_verify *v;
	struct dns_query *q;
	enum dns_status status;
	char *recs[DKIM_KEYS_MAX];	/* owned */
	size_t lens[DKIM_KEYS_MAX];
	size_t nrecs;
};

/* The arrays hold nsigs each (at most DKIM_SIGS_MAX): a message with
 * one signature does not clear room for eight (a signature is ~2 KB). */
struct dkim_verify {
	dkim_cb *cb;
	void *arg;
	struct msg m;
	struct sig *sigs;
	size_t nsigs;
	struct key_lookup *lk;
	unsigned pending;
	struct dns_query *defer;	/* nothing to look up: see start */
	struct dkim_sig_result *results;
};

static void
complete(struct dkim_verify *v)
{
	time_t now = time(NULL);

	for (size_t i = 0; i < v->nsigs; i++) {
		struct key_lookup *l = &v->lk[i];
		sig_verify(&v->m, &v->sigs[i], l->status, (const char *const *)l->recs, l->lens,
		    l->nrecs, now, &v->results[i]);
	}
	v->cb(v->arg, v->results, v->nsigs);	/* last: it may free v */
}

static void
on_key(void *arg, const struct dns_answer *ans)
{
	struct key_lookup *l = arg;
	struct dkim_verify *v = l->v;

	l->q = NULL;
	l->status = ans->status;
	if (ans->status == DNS_OK) {
		for (size_t i = 0; i < ans->count && l->nrecs < DKIM_KEYS_MAX; i++) {
			size_t o;
			char *txt = dns_txt_join(ans->data[i], (size_t)ans->len[i], &o);

			if (txt == NULL)
				continue;
			l->recs[l->nrecs] = txt;
			l->lens[l->nrecs++] = o;
		}
	}
	if (--v->pending == 0)
		complete(v);
}

static void
on_defer(void *arg, const struct dns_answer *ans)
{
	struct dkim_verify *v = arg;

	v->defer = NULL;
	complete(v);
}

struct dkim_verify *
dkim_verify_new(const char *msg, size_t len)
{
	struct dkim_verify *v = xcalloc(1, sizeof(*v));
	size_t idx[DKIM_SIGS_MAX];

	msg_load(&v->m, msg, len);
	v->nsigs = find_sigs(&v->m, idx, DKIM_SIGS_MAX);
	v->sigs = xcalloc(v->nsigs ? v->nsigs : 1, sizeof(*v->sigs));
	v->lk = xcalloc(v->nsigs ? v->nsigs : 1, sizeof(*v->lk));
	v->results = xcalloc(v->nsigs ? v->nsigs : 1, sizeof(*v->results));
	for (size_t i = 0; i < v->nsigs; i++) {
		struct sig *s = &v->sigs[i];
		char name[DNS_NAME_TEXT_MAX + 16];
		const char *why = NULL;
		int nl;

		sig_parse(&v->m, idx[i], s);
		v->lk[i].v = v;
		v->lk[i].status = DNS_NXDOMAIN;
		if (s->early != DKIM_NONE)
			continue;
		nl = snprintf(name, sizeof(name), "%s._domainkey.%s", s->s, s->d);
		if (nl < 0 || nl > 253) {
			sig_fail(s, DKIM_PERMERROR, "key name too long");
			continue;
		}
		s->body_r = body_check(&v->m, s, &why);
		s->body_reason = why;
		s->body_done = true;
	}
	return v;
}

void
dkim_verify_launch(struct dkim_verify *v, struct resolver *res, unsigned timeout_ms,
    dkim_cb *cb, void *arg)
{
	v->cb = cb;
	v->arg = arg;
	for (size_t i = 0; i < v->nsigs; i++)
		if (v->sigs[i].early == DKIM_NONE)
			v->pending++;
	/* Queries go out only now: answers come through the loop, never
	 * before this returns. */
	for (size_t i = 0; i < v->nsigs; i++) {
		struct sig *s = &v->sigs[i];
		char name[DNS_NAME_TEXT_MAX + 16];
		/* the length was checked in dkim_verify_new: no cut */
		if (s->early != DKIM_NONE ||
		    snprintf(name, sizeof(name), "%s._domainkey.%s", s->s, s->d) >= (int)sizeof(name))
			continue;
		v->lk[i].q = dns_query(res, name, DNS_TYPE_TXT, timeout_ms, on_key, &v->lk[i]);
	}
	if (v->pending == 0) {
		/*
		 * No key to look up (no signature, or none usable): the
		 * result must still come from the loop, and the resolver is
		 * the way onto it. "invalid." (RFC 6761) is answered by
		 * libunbound's built-in local zone without the network.
		 */
		v->defer = dns_query(res, "invalid.", DNS_TYPE_A, timeout_ms, on_defer, v);
	}
}

struct dkim_verify *
dkim_verify_start(struct resolver *res, const char *msg, size_t len, unsigned timeout_ms,
    dkim_cb *cb, void *arg)
{
	struct dkim_verify *v = dkim_verify_new(msg, len);

	dkim_verify_launch(v, res, timeout_ms, cb, arg);
	return v;
}

void
dkim_verify_free(struct dkim_verify *v)
{
	if (v == NULL)
		return;
	dns_cancel(v->defer);
	for (size_t i = 0; i < v->nsigs; i++) {
		dns_cancel(v->lk[i].q);
		for (size_t k = 0; k < v->lk[i].nrecs; k++)
			free(v->lk[i].recs[k]);
	}
	msg_free(&v->m);
	free(v->sigs);
	free(v->lk);
	free(v->results);
	free(v);
}
