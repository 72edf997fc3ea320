/*
 * SPF check_host() (RFC 7208) as a state machine on the resolver: a stack
 * of frames, one per record being evaluated (include pushes, redirect
 * replaces), one DNS query in flight, or up to SPF_NAMES_MAX in parallel
 * for the addresses of MX and PTR names. Records are parsed whole before
 * any term is evaluated, so a syntax error anywhere is a permerror (4.6).
 * The caller owns the check: spf_check_free() always, the callback may.
 */
#include "spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns/answer.h"
#include "lib/xmalloc.h"

#define SPF_LOOKUPS_MAX 10	/* RFC 7208 4.6.4: DNS-querying terms */
#define SPF_VOID_MAX 2		/* RFC 7208 4.6.4: void lookups */
#define SPF_NAMES_MAX 10	/* RFC 7208 4.6.4: MX and PTR names */
/* The top record and one frame per include: each include costs a lookup. */
#define SPF_DEPTH_MAX (SPF_LOOKUPS_MAX + 1)
#define SPF_EXPAND_MAX 2048	/* macro expansion before left-truncation */
#define SPF_MACRO_VALUE_MAX 1024

enum term_kind {
	T_ALL, T_INCLUDE, T_A, T_MX, T_PTR, T_IP4, T_IP6, T_EXISTS,
	T_REDIRECT, T_EXP, T_UNKNOWN,
};

struct spf_term {
	enum term_kind kind;
	char qual;			/* '+', '-', '~' or '?' */
	const char *spec;		/* domain-spec, NULL: the current domain */
	size_t speclen;
	unsigned cidr4, cidr6;		/* a, mx; the prefix of ip4/ip6 in cidr4/6 */
	unsigned char addr[16];		/* ip4 (4 bytes) or ip6 network */
};

struct spf_frame {
	char domain[DNS_NAME_TEXT_MAX];
	char *record;			/* owned; terms point into it */
	struct spf_term *terms;		/* owned */
	size_t nterms, next;		/* next: the term to evaluate */
	const struct spf_term *redirect;
	bool redirected;		/* reached by redirect=: "none" is permerror */
};

struct spf_sub {
	struct spf_check *c;
	struct dns_query *q;
	char name[DNS_NAME_TEXT_MAX];
	bool valid;			/* SUB_P: resolves to the client */
};

/* What a round of parallel address lookups is for. */
enum sub_mode {
	SUB_MX,		/* mx: any address within the term's CIDR matches */
	SUB_PTR,	/* ptr: a validated name inside the target matches */
	SUB_P,		/* %{p}: which PTR names are validated (5.5, 7.3) */
};

struct spf_check {
	struct resolver *res;		/* borrowed */
	spf_cb *cb;
	void *arg;
	int family;			/* AF_INET or AF_INET6 of the client */
	unsigned char ip[16];
	char ipstr[INET6_ADDRSTRLEN];
	char *sender;			/* postmaster@helo for the null sender */
	char *helo;
	char domain[DNS_NAME_TEXT_MAX];	/* the identity's domain */
	uint64_t deadline;		/* monotonic ms, 0: none */
	unsigned lookups, voids;
	struct spf_frame frames[SPF_DEPTH_MAX];
	size_t depth;
	struct dns_query *q;		/* the one query in flight, if any */
	enum spf_result deferred;	/* result of a check ended at start */
	const struct spf_term *cur;	/* the term waiting for DNS */
	char target[DNS_NAME_TEXT_MAX];	/* its expanded target-name */
	struct spf_sub subs[SPF_NAMES_MAX];
	unsigned pending;		/* sub-queries in flight */
	bool sub_match, sub_error;
	enum sub_mode sub_mode;
	bool p_done;			/* pnames known (looked up once) */
	size_t np;
	char pnames[SPF_NAMES_MAX][DNS_NAME_TEXT_MAX];	/* validated */
};

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE: return "none";
	case SPF_NEUTRAL: return "neutral";
	case SPF_PASS: return "pass";
	case SPF_FAIL: return "fail";
	case SPF_SOFTFAIL: return "softfail";
	case SPF_TEMPERROR: return "temperror";
	case SPF_PERMERROR: return "permerror";
	}
	return "permerror";
}

/* ---- record syntax (RFC 7208 section 12) ---- */

static bool
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_delim(int c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

/*
 * Length of the macro-expand at s (s[0] == '%'), 0 when malformed.
 * Letters c, r and t belong to exp= text only (7.2).
 */
static size_t
macro_expand_len(const char *s, size_t len, bool explain)
{
	size_t i = 2;
	int letter;

	if (len < 2)
		return 0;
	if (s[1] == '%' || s[1] == '_' || s[1] == '-')
		return 2;
	if (s[1] != '{' || len < 4)
		return 0;
	letter = tolower((unsigned char)s[i++]);
	if (strchr(explain ? "slodiphcrtv" : "slodiphv", letter) == NULL || letter == '\0')
		return 0;
	if (i < len && is_digit(s[i])) {
		if (s[i] == '0')
			return 0;	/* 7.3: the DIGIT transformer is nonzero */
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'r' || s[i] == 'R'))
		i++;
	while (i < len && is_delim(s[i]))
		i++;
	if (i >= len || s[i] != '}')
		return 0;
	return i + 1;
}

/* macro-string: literals %x21-24 / %x26-7E and macro-expands. */
static bool
macro_string_valid(const char *s, size_t len, bool explain, bool *ends_in_macro)
{
	bool last_macro = false;

	for (size_t i = 0; i < len;) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '%') {
			size_t n = macro_expand_len(s + i, len - i, explain);
			if (n == 0)
				return false;
			i += n;
			last_macro = true;
			continue;
		}
		if (ch < 0x21 || ch > 0x7e)
			return false;
		last_macro = false;
		i++;
	}
	if (ends_in_macro)
		*ends_in_macro = last_macro;
	return true;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool
toplabel_valid(const char *s, size_t len)
{
	bool alpha = false, hyphen = false;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (is_alpha(s[i]))
			alpha = true;
		else if (s[i] == '-')
			hyphen = true;
		else if (!is_digit(s[i]))
			return false;
	}
	return alpha || hyphen;
}

/* domain-spec = macro-string domain-end;
 * domain-end = ( "." toplabel [ "." ] ) / macro-expand */
static bool
domain_spec_valid(const char *s, size_t len)
{
	bool macro_end = false;
	size_t end, dot;

	if (len == 0 || !macro_string_valid(s, len, false, &macro_end))
		return false;
	if (macro_end)
		return true;
	end = len;
	if (s[end - 1] == '.')
		end--;
	for (dot = end; dot > 0 && s[dot - 1] != '.'; dot--)
		;
	if (dot == 0)
		return false;	/* no "." toplabel */
	return toplabel_valid(s + dot, end - dot);
}

/* "0" / %x31-39 *DIGIT, at most maxdigits digits and at most max. */
static bool
parse_prefix(const char *s, size_t len, size_t maxdigits, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (len == 0 || len > maxdigits || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* dual-cidr-length = [ "/" ip4-cidr ] [ "//" ip6-cidr ] */
static bool
parse_dual_cidr(const char *s, size_t len, unsigned *c4, unsigned *c6)
{
	const char *v6 = NULL;
	size_t i;

	*c4 = 32;
	*c6 = 128;
	if (len == 0)
		return true;
	for (i = 0; i + 1 < len; i++)
		if (s[i] == '/' && s[i + 1] == '/') {
			v6 = s + i + 2;
			break;
		}
	if (v6 != NULL && !parse_prefix(v6, len - (size_t)(v6 - s), 3, 128, c6))
		return false;
	if (v6 != NULL)
		len = i;
	if (len == 0)
		return true;
	if (s[0] != '/')
		return false;
	return parse_prefix(s + 1, len - 1, 2, 32, c4);
}

/* Start of a trailing "/" 1*DIGIT at s[0..len), or len when none. */
static size_t
trailing_prefix(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && is_digit(s[i - 1]))
		i--;
	if (i == len || i == 0 || s[i - 1] != '/')
		return len;
	return i - 1;
}

/*
 * Where the dual-cidr-length of "a:" / "mx:" ends a domain-spec: only a
 * trailing [ "/" 1*DIGIT ] [ "//" 1*DIGIT ]. A domain-spec may itself hold
 * any visible character but "%" outside macros (7.1), "/" included:
 * "a:foo:bar/baz.example.com" names the host "foo:bar/baz.example.com".
 * Returns the offset of the CIDR part, len when there is none.
 */
static size_t
find_cidr(const char *s, size_t len)
{
	size_t v6 = trailing_prefix(s, len);

	if (v6 < len && v6 > 0 && s[v6 - 1] == '/')
		v6--;				/* "//" ip6-cidr-length */
	else
		v6 = len;
	return trailing_prefix(s, v6);
}

static bool
parse_ip_term(const char *s, size_t len, int family, struct spf_term *t)
{
	char buf[INET6_ADDRSTRLEN + 1];
	size_t slash = len;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '/') {
			slash = i;
			break;
		}
	if (slash == 0 || slash >= sizeof(buf))
		return false;
	memcpy(buf, s, slash);
	buf[slash] = '\0';
	if (inet_pton(family, buf, t->addr) != 1)
		return false;
	if (family == AF_INET) {
		t->cidr4 = 32;
		return slash == len || parse_prefix(s + slash + 1, len - slash - 1, 2, 32, &t->cidr4);
	}
	t->cidr6 = 128;
	return slash == len || parse_prefix(s + slash + 1, len - slash - 1, 3, 128, &t->cidr6);
}

static const struct {
	const char *name;
	enum term_kind kind;
} mechanisms[] = {
	{ "all", T_ALL }, { "include", T_INCLUDE }, { "a", T_A }, { "mx", T_MX },
	{ "ptr", T_PTR }, { "ip4", T_IP4 }, { "ip6", T_IP6 }, { "exists", T_EXISTS },
};

/* One term (directive or modifier) of len bytes. 0 or -1. */
static int
parse_term(const char *s, size_t len, struct spf_term *t)
{
	size_t i = 0, n;
	bool explicit_qual = false;
	const char *rest;
	size_t rlen;

	memset(t, 0, sizeof(*t));
	t->qual = '+';
	if (len > 0 && s[0] != '\0' && strchr("+-~?", s[0]) != NULL) {
		t->qual = s[0];
		explicit_qual = true;
		i = 1;
	}
	n = i;
	while (n < len && (is_alpha(s[n]) || is_digit(s[n]) || s[n] == '-' || s[n] == '_' ||
	    s[n] == '.'))
		n++;
	if (n == i)
		return -1;
	rest = s + n;
	rlen = len - n;
	if (rlen > 0 && rest[0] == '=') {
		/* modifier = name "=" macro-string */
		if (explicit_qual || !is_alpha(s[i]))
			return -1;
		t->spec = rest + 1;
		t->speclen = rlen - 1;
		if (n - i == 8 && strncasecmp(s + i, "redirect", 8) == 0) {
			t->kind = T_REDIRECT;
			return domain_spec_valid(t->spec, t->speclen) ? 0 : -1;
		}
		if (n - i == 3 && strncasecmp(s + i, "exp", 3) == 0) {
			t->kind = T_EXP;
			return domain_spec_valid(t->spec, t->speclen) ? 0 : -1;
		}
		t->kind = T_UNKNOWN;
		return macro_string_valid(t->spec, t->speclen, true, NULL) ? 0 : -1;
	}
	for (size_t k = 0;; k++) {
		if (k == sizeof(mechanisms) / sizeof(mechanisms[0]))
			return -1;	/* unknown mechanism: permerror (5) */
		if (strlen(mechanisms[k].name) == n - i &&
		    strncasecmp(mechanisms[k].name, s + i, n - i) == 0) {
			t->kind = mechanisms[k].kind;
			break;
		}
	}
	switch (t->kind) {
	case T_ALL:
		return rlen == 0 ? 0 : -1;
	case T_INCLUDE:
	case T_EXISTS:
		if (rlen < 2 || rest[0] != ':')
			return -1;
		t->spec = rest + 1;
		t->speclen = rlen - 1;
		return domain_spec_valid(t->spec, t->speclen) ? 0 : -1;
	case T_PTR:
		if (rlen == 0)
			return 0;
		if (rest[0] != ':')
			return -1;
		t->spec = rest + 1;
		t->speclen = rlen - 1;
		return domain_spec_valid(t->spec, t->speclen) ? 0 : -1;
	case T_A:
	case T_MX: {
		size_t slash;
		if (rlen > 0 && rest[0] == ':') {
			slash = 1 + find_cidr(rest + 1, rlen - 1);
			t->spec = rest + 1;
			t->speclen = slash - 1;
			if (!domain_spec_valid(t->spec, t->speclen))
				return -1;
		} else
			slash = 0;
		return parse_dual_cidr(rest + slash, rlen - slash, &t->cidr4, &t->cidr6) ? 0 : -1;
	}
	case T_IP4:
	case T_IP6:
		if (rlen < 2 || rest[0] != ':')
			return -1;
		return parse_ip_term(rest + 1, rlen - 1, t->kind == T_IP4 ? AF_INET : AF_INET6,
		    t) ? 0 : -1;
	default:
		return -1;
	}
}

/* True when buf starts with the version "v=spf1" followed by SP or end (4.5). */
static bool
is_spf_record(const char *buf, size_t len)
{
	return len >= 6 && strncasecmp(buf, "v=spf1", 6) == 0 && (len == 6 || buf[6] == ' ');
}

/*
 * Parses a whole record into terms (pointing into buf). Returns 0, or -1
 * on any syntax error, a second redirect= or exp= (6).
 */
static int
parse_record(const char *buf, size_t len, struct spf_term **out, size_t *nout,
    const struct spf_term **redirect)
{
	struct spf_term *terms;
	size_t n = 0, cap = 1, i = 6;
	bool exp = false;

	*out = NULL;
	*nout = 0;
	*redirect = NULL;
	if (!is_spf_record(buf, len))
		return -1;
	for (size_t k = 6; k < len; k++)
		if (buf[k] == ' ')
			cap++;
	terms = xcalloc(cap, sizeof(*terms));
	while (i < len) {
		size_t start;
		if (buf[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		while (i < len && buf[i] != ' ')
			i++;
		if (parse_term(buf + start, i - start, &terms[n]) == -1)
			goto bad;
		if (terms[n].kind == T_REDIRECT) {
			if (*redirect != NULL)
				goto bad;
			*redirect = &terms[n];
		} else if (terms[n].kind == T_EXP) {
			if (exp)
				goto bad;
			exp = true;
		}
		n++;
	}
	*out = terms;
	*nout = n;
	return 0;
bad:
	free(terms);
	*redirect = NULL;
	return -1;
}

bool
spf_record_valid(const char *buf, size_t len)
{
	struct spf_term *terms;
	const struct spf_term *redirect;
	size_t n;

	if (parse_record(buf, len, &terms, &n, &redirect) == -1)
		return false;
	free(terms);
	return true;
}

/* ---- macros (RFC 7208 section 7) ---- */

struct ipaddr {
	int family;
	unsigned char a[16];
};

/* IPv4-mapped IPv6 addresses are IPv4 clients (5.6). */
static int
parse_client_ip(const char *ip, struct ipaddr *out)
{
	if (ip == NULL)
		return -1;
	if (inet_pton(AF_INET, ip, out->a) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, ip, out->a) != 1)
		return -1;
	out->family = AF_INET6;
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)out->a)) {
		memmove(out->a, out->a + 12, 4);
		out->family = AF_INET;
	}
	return 0;
}

/* Splits sender into local-part (postmaster when none) and domain (4.3). */
static void
split_sender(const char *sender, const char **local, size_t *llen, const char **domain)
{
	const char *at = strrchr(sender, '@');

	if (at == NULL) {
		*local = "postmaster";
		*llen = 10;
		*domain = sender;
		return;
	}
	*domain = at + 1;
	if (at == sender) {
		*local = "postmaster";
		*llen = 10;
	} else {
		*local = sender;
		*llen = (size_t)(at - sender);
	}
}

struct outbuf {
	char *p;
	size_t cap, n;
	bool over;
};

static void
out_put(struct outbuf *o, const char *s, size_t len)
{
	if (o->over || len >= o->cap - o->n) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->n, s, len);
	o->n += len;
	o->p[o->n] = '\0';
}

/* The value of one macro letter into val. */
static int
macro_value(int letter, const struct ipaddr *ip, const char *sender, const char *domain,
    const char *helo, const char *pname, struct outbuf *val)
{
	static const char hex[] = "0123456789abcdef";
	const char *local, *sdomain;
	size_t llen;
	char tmp[80];

	split_sender(sender, &local, &llen, &sdomain);
	switch (letter) {
	case 's':
		out_put(val, sender, strlen(sender));
		break;
	case 'l':
		out_put(val, local, llen);
		break;
	case 'o':
		out_put(val, sdomain, strlen(sdomain));
		break;
	case 'd':
		out_put(val, domain, strlen(domain));
		break;
	case 'h':
		out_put(val, helo, strlen(helo));
		break;
	case 'i':
	case 'c':
		if (ip->family == AF_INET) {
			snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", ip->a[0], ip->a[1], ip->a[2],
			    ip->a[3]);
		} else if (letter == 'c') {
			inet_ntop(AF_INET6, ip->a, tmp, sizeof(tmp));
		} else {
			/* 7.3: IPv6 is dot-format nibbles */
			size_t o = 0;
			for (int k = 0; k < 16; k++) {
				tmp[o++] = hex[ip->a[k] >> 4];
				tmp[o++] = '.';
				tmp[o++] = hex[ip->a[k] & 15];
				tmp[o++] = k == 15 ? '\0' : '.';
			}
		}
		out_put(val, tmp, strlen(tmp));
		break;
	case 'v':
		out_put(val, ip->family == AF_INET ? "in-addr" : "ip6",
		    ip->family == AF_INET ? 7 : 3);
		break;
	case 'p':
		/* the validated name of the client (5.5), "unknown" when
		 * there is none or its lookup failed */
		if (pname == NULL)
			pname = "unknown";
		out_put(val, pname, strlen(pname));
		break;
	case 'r':
		out_put(val, "unknown", 7);
		break;
	case 't':
		snprintf(tmp, sizeof(tmp), "%lld", (long long)time(NULL));
		out_put(val, tmp, strlen(tmp));
		break;
	default:
		return -1;
	}
	return val->over ? -1 : 0;
}

/* Applies the transformers (digits, r) and delimiters to val, appending
 * the result, URL-escaped when upper, to out (7.3). */
static void
macro_transform(const char *val, size_t vlen, unsigned keep, bool reverse, const char *delims,
    size_t ndelims, bool upper, struct outbuf *out)
{
	size_t nparts = 1, k = 0, first;
	const char **ps;
	size_t *pl;
	const char *start = val;

	for (size_t i = 0; i < vlen; i++)
		if (memchr(ndelims ? delims : ".", val[i], ndelims ? ndelims : 1) != NULL)
			nparts++;
	ps = xcalloc(nparts, sizeof(*ps));
	pl = xcalloc(nparts, sizeof(*pl));
	for (size_t i = 0; i <= vlen; i++) {
		if (i == vlen || memchr(ndelims ? delims : ".", val[i], ndelims ? ndelims : 1)) {
			ps[k] = start;
			pl[k] = (size_t)(val + i - start);
			k++;
			start = val + i + 1;
		}
	}
	if (reverse)
		for (size_t i = 0; i < nparts / 2; i++) {
			const char *tp = ps[i];
			size_t tl = pl[i];
			ps[i] = ps[nparts - 1 - i];
			pl[i] = pl[nparts - 1 - i];
			ps[nparts - 1 - i] = tp;
			pl[nparts - 1 - i] = tl;
		}
	first = keep != 0 && keep < nparts ? nparts - keep : 0;
	for (size_t i = first; i < nparts; i++) {
		if (i > first)
			out_put(out, ".", 1);
		if (!upper) {
			out_put(out, ps[i], pl[i]);
			continue;
		}
		for (size_t j = 0; j < pl[i]; j++) {
			unsigned char ch = (unsigned char)ps[i][j];
			char esc[4];
			if (is_alpha(ch) || is_digit(ch) || strchr("-._~", ch) != NULL) {
				out_put(out, (const char *)&ps[i][j], 1);
				continue;
			}
			snprintf(esc, sizeof(esc), "%%%02X", ch);
			out_put(out, esc, 3);
		}
	}
	free(ps);
	free(pl);
}

static int
expand(const char *spec, size_t len, bool explain, const char *ip, const char *sender,
    const char *domain, const char *helo, const char *pname, char *out, size_t outlen)
{
	struct outbuf o = { out, outlen, 0, false };
	struct ipaddr addr;

	if (outlen == 0 || parse_client_ip(ip, &addr) == -1 || sender == NULL ||
	    domain == NULL || helo == NULL)
		return -1;
	out[0] = '\0';
	for (size_t i = 0; i < len;) {
		size_t n;
		char valbuf[SPF_MACRO_VALUE_MAX];
		struct outbuf val = { valbuf, sizeof(valbuf), 0, false };
		unsigned keep = 0;
		bool reverse = false;
		int letter;
		size_t j, dstart;

		if (spec[i] != '%') {
			unsigned char ch = (unsigned char)spec[i];
			if (ch < 0x21 || ch > 0x7e)
				return -1;
			out_put(&o, spec + i, 1);
			i++;
			continue;
		}
		if ((n = macro_expand_len(spec + i, len - i, explain)) == 0)
			return -1;
		if (spec[i + 1] != '{') {
			out_put(&o, spec[i + 1] == '%' ? "%" : spec[i + 1] == '_' ? " " : "%20",
			    spec[i + 1] == '-' ? 3 : 1);
			i += n;
			continue;
		}
		letter = (unsigned char)spec[i + 2];
		j = i + 3;
		while (is_digit(spec[j])) {
			if (keep < 1000)
				keep = keep * 10 + (unsigned)(spec[j] - '0');
			j++;
		}
		if (spec[j] == 'r' || spec[j] == 'R') {
			reverse = true;
			j++;
		}
		dstart = j;
		while (spec[j] != '}')
			j++;
		if (macro_value(tolower(letter), &addr, sender, domain, helo, pname, &val) == -1)
			return -1;
		macro_transform(valbuf, val.n, keep, reverse, spec + dstart, j - dstart,
		    !(letter >= 'a' && letter <= 'z'), &o);
		i += n;
	}
	return o.over ? -1 : 0;
}

int
spf_expand_macros(const char *spec, size_t len, const char *ip, const char *sender,
    const char *domain, const char *helo, char *out, size_t outlen)
{
	return expand(spec, len, false, ip, sender, domain, helo, NULL, out, outlen);
}

/* ---- evaluation ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Milliseconds left for a query; 0 only when there is no deadline. */
static unsigned
remaining(const struct spf_check *c)
{
	uint64_t now;

	if (c->deadline == 0)
		return 0;
	now = now_ms();
	return now >= c->deadline ? 1 : (unsigned)(c->deadline - now);
}

static bool
expired(const struct spf_check *c)
{
	return c->deadline != 0 && now_ms() >= c->deadline;
}

/*
 * A host name fit for a query: RFC 7208 4.3 for <domain> (multi-label,
 * labels 1..63 octets, 253 at most) and for expanded targets. A trailing
 * dot is removed in place. Targets may hold any printable ASCII a macro
 * brought in (a local-part's '+'); with ldh the name must be letters,
 * digits, '-' and '_' (the identity: an address literal is no domain).
 */
static bool
name_usable(char *name, bool ldh)
{
	size_t len = strlen(name), lab = 0, labels = 0;

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (ch == '.' || ch == '\0') {
			if (lab == 0 || lab > 63)
				return false;
			labels++;
			lab = 0;
			continue;
		}
		/* a space is fine in a label (%_ brings it in, 7.3); a
		 * control byte is not, nor '\\' and '"': libunbound reads
		 * names in presentation form, where they quote */
		if (ch < 0x20 || ch >= 0x7f || ch == '\\' || ch == '"')
			return false;
		if (ldh && !(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '_'))
			return false;
		lab++;
	}
	return labels >= 2;
}

static void
cancel_all(struct spf_check *c)
{
	dns_cancel(c->q);
	c->q = NULL;
	for (size_t i = 0; i < SPF_NAMES_MAX; i++) {
		dns_cancel(c->subs[i].q);
		c->subs[i].q = NULL;
	}
	c->pending = 0;
}

static void
frame_clear(struct spf_frame *f)
{
	free(f->record);
	free(f->terms);
	memset(f, 0, sizeof(*f));
}

/* Delivers the result. The callback may free c: nothing touches c after. */
static void
finish(struct spf_check *c, enum spf_result r)
{
	cancel_all(c);
	while (c->depth > 0)
		frame_clear(&c->frames[--c->depth]);
	c->cb(c->arg, r, c->domain);
}

static void step(struct spf_check *c);
static void on_txt(void *arg, const struct dns_answer *ans);

/* Fetches the record of a frame whose domain is set. */
static void
frame_fetch(struct spf_check *c)
{
	c->q = dns_query(c->res, c->frames[c->depth - 1].domain, DNS_TYPE_TXT, remaining(c),
	    on_txt, c);
}

static enum spf_result
qual_result(char q)
{
	switch (q) {
	case '-': return SPF_FAIL;
	case '~': return SPF_SOFTFAIL;
	case '?': return SPF_NEUTRAL;
	default: return SPF_PASS;
	}
}

/*
 * The current frame ends with r. Returns true when evaluation goes on in
 * the parent frame, false when the whole check finished (c may be gone).
 */
static bool
frame_done(struct spf_check *c, enum spf_result r)
{
	for (;;) {
		const struct spf_term *inc;
		struct spf_frame *parent;

		if (r == SPF_NONE && c->frames[c->depth - 1].redirected)
			r = SPF_PERMERROR;	/* 6.1: redirect to no record */
		frame_clear(&c->frames[--c->depth]);
		if (c->depth == 0) {
			finish(c, r);
			return false;
		}
		/* The parent waited on an include (5.2). */
		parent = &c->frames[c->depth - 1];
		inc = &parent->terms[parent->next - 1];
		switch (r) {
		case SPF_PASS:
			r = qual_result(inc->qual);
			continue;
		case SPF_FAIL:
		case SPF_SOFTFAIL:
		case SPF_NEUTRAL:
			return true;	/* no match: next term */
		case SPF_TEMPERROR:
			continue;
		default:
			r = SPF_PERMERROR;	/* permerror or none */
			continue;
		}
	}
}


static void
on_txt(void *arg, const struct dns_answer *ans)
{
	struct spf_check *c = arg;
	struct spf_frame *f = &c->frames[c->depth - 1];
	char *record = NULL;
	size_t found = 0, reclen = 0;

	c->q = NULL;
	switch (ans->status) {
	case DNS_OK:
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		if (frame_done(c, SPF_NONE))
			step(c);
		return;
	default:
		if (frame_done(c, SPF_TEMPERROR))
			step(c);
		return;
	}
	for (size_t i = 0; i < ans->count; i++) {
		/* the character-strings glued together (3.3); the length is
		 * kept, so that a NUL inside an SPF record is a syntax error
		 * (permerror) rather than the record's end */
		size_t len;
		char *txt = dns_txt_join(ans->data[i], (size_t)ans->len[i], &len);
		if (txt == NULL)
			continue;
		if (is_spf_record(txt, len)) {
			found++;
			free(record);
			record = txt;
			reclen = len;
		} else
			free(txt);
	}
	if (found != 1) {
		free(record);
		/* 4.5: none, or more than one record: permerror */
		if (frame_done(c, found == 0 ? SPF_NONE : SPF_PERMERROR))
			step(c);
		return;
	}
	f->record = record;
	if (parse_record(record, reclen, &f->terms, &f->nterms, &f->redirect) == -1) {
		if (frame_done(c, SPF_PERMERROR))
			step(c);
		return;
	}
	step(c);
}

/* True when addr (of the client's family) is inside net/prefix. */
static bool
prefix_match(const unsigned char *a, const unsigned char *net, unsigned prefix)
{
	unsigned bytes = prefix / 8, bits = prefix % 8;

	if (memcmp(a, net, bytes) != 0)
		return false;
	if (bits == 0)
		return true;
	return ((a[bytes] ^ net[bytes]) & (0xff00 >> bits) & 0xff) == 0;
}

/* True when one of the A/AAAA rdata matches the client within the term's
 * CIDR lengths. */
static bool
addr_answer_match(const struct spf_check *c, const struct dns_answer *ans, unsigned c4,
    unsigned c6)
{
	size_t want = c->family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < ans->count; i++)
		if ((size_t)ans->len[i] == want &&
		    prefix_match(c->ip, (const unsigned char *)ans->data[i],
		    c->family == AF_INET ? c4 : c6))
			return true;
	return false;
}

/* A void lookup (4.6.4): true when the limit is now exceeded. */
static bool
void_lookup(struct spf_check *c)
{
	return ++c->voids > SPF_VOID_MAX;
}

/*
 * Ends the evaluation of the term waiting for DNS: matched 1 (the frame
 * ends with the term's qualifier), 0 (next term), or -1 (the frame ends
 * with err).
 */
static void
mech_outcome(struct spf_check *c, int matched, enum spf_result err)
{
	const struct spf_term *t = c->cur;

	c->cur = NULL;
	if (matched < 0) {
		if (frame_done(c, err))
			step(c);
		return;
	}
	if (matched > 0) {
		if (frame_done(c, qual_result(t->qual)))
			step(c);
		return;
	}
	step(c);
}

/* A mechanism's lookup without data: a void lookup (4.6.4: the third is a
 * permerror) or, when the DNS failed, a temperror. */
static void
no_answer(struct spf_check *c, enum dns_status st)
{
	if (st != DNS_NXDOMAIN && st != DNS_NODATA)
		mech_outcome(c, -1, SPF_TEMPERROR);
	else if (void_lookup(c))
		mech_outcome(c, -1, SPF_PERMERROR);
	else
		mech_outcome(c, 0, 0);
}

static void
on_a(void *arg, const struct dns_answer *ans)
{
	struct spf_check *c = arg;

	c->q = NULL;
	switch (ans->status) {
	case DNS_OK:
		mech_outcome(c, addr_answer_match(c, ans, c->cur->cidr4, c->cur->cidr6), 0);
		return;
	default:
		no_answer(c, ans->status);
		return;
	}
}

static void
on_exists(void *arg, const struct dns_answer *ans)
{
	struct spf_check *c = arg;

	c->q = NULL;
	switch (ans->status) {
	case DNS_OK: {
		bool any = false;
		/* 5.7: any A record matches, whatever its address */
		for (size_t i = 0; i < ans->count; i++)
			if (ans->len[i] == 4)
				any = true;
		mech_outcome(c, any, 0);
		return;
	}
	default:
		no_answer(c, ans->status);
		return;
	}
}

static void
subs_finished(struct spf_check *c)
{
	bool match = c->sub_match, error = c->sub_error && c->sub_mode == SUB_MX;

	cancel_all(c);
	if (c->sub_mode == SUB_P) {
		/* the term that asked for %{p} is evaluated again */
		for (size_t i = 0; i < SPF_NAMES_MAX; i++)
			if (c->subs[i].valid)
				memcpy(c->pnames[c->np++], c->subs[i].name, DNS_NAME_TEXT_MAX);
		c->p_done = true;
		step(c);
		return;
	}
	if (match)
		mech_outcome(c, 1, 0);
	else if (error)
		mech_outcome(c, -1, SPF_TEMPERROR);
	else
		mech_outcome(c, 0, 0);
}

static void
on_sub(void *arg, const struct dns_answer *ans)
{
	struct spf_sub *s = arg;
	struct spf_check *c = s->c;

	s->q = NULL;
	c->pending--;
	if (ans->status == DNS_OK) {
		/* a PTR name validates only with the client's own address */
		bool mx = c->sub_mode == SUB_MX;
		if (addr_answer_match(c, ans, mx ? c->cur->cidr4 : 32, mx ? c->cur->cidr6 : 128))
			s->valid = c->sub_match = true;
	} else if (ans->status == DNS_SERVFAIL || ans->status == DNS_TIMEOUT)
		c->sub_error = true;
	/* %{p} waits for every name: a subdomain of <domain> is preferred */
	if ((c->sub_match && c->sub_mode != SUB_P) || c->pending == 0)
		subs_finished(c);
}

/*
 * Looks up the addresses of n names (MX targets, or PTR names to
 * validate: then the client must match exactly, 5.5) in parallel.
 */
static void
start_subs(struct spf_check *c, char names[][DNS_NAME_TEXT_MAX], size_t n)
{
	int type = c->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;

	c->sub_match = false;
	c->sub_error = false;
	if (n == 0) {
		subs_finished(c);
		return;
	}
	c->pending = (unsigned)n;
	for (size_t i = 0; i < SPF_NAMES_MAX; i++)
		c->subs[i].valid = false;
	for (size_t i = 0; i < n; i++) {
		struct spf_sub *s = &c->subs[i];
		s->c = c;
		snprintf(s->name, sizeof(s->name), "%s", names[i]);
	}
	for (size_t i = 0; i < n; i++)
		c->subs[i].q = dns_query(c->res, c->subs[i].name, type, remaining(c), on_sub,
		    &c->subs[i]);
}

/*
 * The exchange name of MX rdata as text (the root is no name). Wider than
 * dns_name_from_wire: an SPF target may be any printable name (7.1, the
 * suite's "foo:bar/baz.example.com"), and only its addresses are asked,
 * under the same rule as other targets (name_usable). 0 or -1.
 */
static int
mx_target(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	for (;;) {
		size_t lab;
		if (i >= len)
			return -1;
		if ((lab = (unsigned char)buf[i++]) == 0)
			break;
		if (lab > 63 || lab > len - i || o + lab + 1 >= outlen)
			return -1;	/* a pointer, an overrun, too long */
		if (o > 0)
			out[o++] = '.';
		for (size_t k = 0; k < lab; k++) {
			if (buf[i + k] == '.')
				return -1;	/* would read as two labels */
			out[o++] = buf[i + k];
		}
		i += lab;
	}
	out[o] = '\0';
	return o > 0 && name_usable(out, false) ? 0 : -1;
}

static void
on_mx(void *arg, const struct dns_answer *ans)
{
	struct spf_check *c = arg;
	char names[SPF_NAMES_MAX][DNS_NAME_TEXT_MAX];
	size_t n = 0;

	c->q = NULL;
	switch (ans->status) {
	case DNS_OK:
		break;
	default:
		no_answer(c, ans->status);
		return;
	}
	/* 4.6.4: more than 10 MX names is a permerror */
	if (ans->count > SPF_NAMES_MAX) {
		mech_outcome(c, -1, SPF_PERMERROR);
		return;
	}
	for (size_t i = 0; i < ans->count; i++) {
		if (ans->len[i] < 3)
			continue;
		/* a null MX (RFC 7505, the root) or an odd name: skipped */
		if (mx_target(ans->data[i] + 2, (size_t)ans->len[i] - 2, names[n],
		    sizeof(names[n])) == 0)
			n++;
	}
	c->sub_mode = SUB_MX;
	start_subs(c, names, n);
}

/* True when name is target or a subdomain of it (5.5). */
static bool
is_subdomain(const char *name, const char *target)
{
	size_t nl = strlen(name), tl = strlen(target);

	if (nl == tl)
		return strcasecmp(name, target) == 0;
	return nl > tl && name[nl - tl - 1] == '.' && strcasecmp(name + nl - tl, target) == 0;
}

static void
on_ptr(void *arg, const struct dns_answer *ans)
{
	struct spf_check *c = arg;
	char names[SPF_NAMES_MAX][DNS_NAME_TEXT_MAX];
	size_t n = 0;

	c->q = NULL;
	if (ans->status == DNS_NXDOMAIN || ans->status == DNS_NODATA) {
		if (void_lookup(c)) {
			mech_outcome(c, -1, SPF_PERMERROR);
			return;
		}
	}
	if (ans->status != DNS_OK) {
		/* 5.5: a DNS error on the PTR lookup is no match */
		mech_outcome(c, 0, 0);
		return;
	}
	/* 4.6.4: names past the tenth are ignored; only names inside the
	 * target can validate to a match, so only those are looked up. */
	for (size_t i = 0; i < ans->count && i < SPF_NAMES_MAX; i++) {
		if (dns_name_from_wire(ans->data[i], (size_t)ans->len[i], names[n],
		    sizeof(names[n])) == 0 && is_subdomain(names[n], c->target))
			n++;
	}
	c->sub_mode = SUB_PTR;
	start_subs(c, names, n);
}

/* True when a term's domain-spec uses the p macro (%{p}, %{P...}). */
static bool
term_needs_p(const struct spf_term *t)
{
	for (size_t i = 0; t->spec != NULL && i + 2 < t->speclen; i++) {
		if (t->spec[i] != '%')
			continue;
		if (t->spec[i + 1] == '{' && (t->spec[i + 2] == 'p' || t->spec[i + 2] == 'P'))
			return true;
		i++;	/* "%%", "%_", "%-" or "%{": the next byte is no '%' */
	}
	return false;
}

/* The validated name %{p} stands for while <domain> is domain: one inside
 * domain when there is one, else any (5.5); NULL: "unknown". */
static const char *
p_name(const struct spf_check *c, const char *domain)
{
	for (size_t i = 0; i < c->np; i++)
		if (is_subdomain(c->pnames[i], domain))
			return c->pnames[i];
	return c->np > 0 ? c->pnames[0] : NULL;
}

static void
on_p_ptr(void *arg, const struct dns_answer *ans)
{
	struct spf_check *c = arg;
	char names[SPF_NAMES_MAX][DNS_NAME_TEXT_MAX];
	size_t n = 0;

	c->q = NULL;
	/* 4.6.4: at most 10 PTR names are looked up; a DNS error leaves
	 * %{p} "unknown" (5.5) */
	for (size_t i = 0; ans->status == DNS_OK && i < ans->count && n < SPF_NAMES_MAX; i++)
		if (dns_name_from_wire(ans->data[i], (size_t)ans->len[i], names[n],
		    sizeof(names[n])) == 0)
			n++;
	c->sub_mode = SUB_P;
	start_subs(c, names, n);
}

/* Looks up the client's validated names for %{p}, once per check; the
 * term that needs them is evaluated again afterwards. */
static void
p_start(struct spf_check *c)
{
	char rev[DNS_NAME_TEXT_MAX];

	dns_reverse_name(c->ipstr, rev, sizeof(rev));
	c->q = dns_query(c->res, rev, DNS_TYPE_PTR, remaining(c), on_p_ptr, c);
}

/* Expands a term's domain-spec (or the current domain) into c->target,
 * truncated from the left to 253 octets (4.8). -1 when unusable. */
static int
target_name(struct spf_check *c, const struct spf_term *t)
{
	const struct spf_frame *f = &c->frames[c->depth - 1];
	char buf[SPF_EXPAND_MAX];
	const char *p = buf;

	if (t->spec == NULL) {
		snprintf(c->target, sizeof(c->target), "%s", f->domain);
		return 0;
	}
	if (expand(t->spec, t->speclen, false, c->ipstr, c->sender, f->domain, c->helo,
	    p_name(c, f->domain), buf, sizeof(buf)) == -1)
		return -1;
	{
		size_t len = strlen(buf);
		if (len > 0 && buf[len - 1] == '.')
			buf[--len] = '\0';
		while (strlen(p) > 253) {
			const char *dot = strchr(p, '.');
			if (dot == NULL)
				return -1;
			p = dot + 1;
		}
	}
	snprintf(c->target, sizeof(c->target), "%s", p);
	return name_usable(c->target, false) ? 0 : -1;
}

/* Evaluates terms of the current frame until one needs DNS or the check
 * ends. */
static void
step(struct spf_check *c)
{
	for (;;) {
		struct spf_frame *f = &c->frames[c->depth - 1];
		const struct spf_term *t;

		if (expired(c)) {
			finish(c, SPF_TEMPERROR);
			return;
		}
		if (f->next >= f->nterms) {
			const struct spf_term *r = f->redirect;
			char domain[DNS_NAME_TEXT_MAX];
			if (r == NULL) {
				/* 4.7: no match and no redirect */
				if (!frame_done(c, SPF_NEUTRAL))
					return;
				continue;
			}
			if (term_needs_p(r) && !c->p_done) {
				p_start(c);
				return;
			}
			if (++c->lookups > SPF_LOOKUPS_MAX || target_name(c, r) == -1) {
				if (!frame_done(c, SPF_PERMERROR))
					return;
				continue;
			}
			/* 6.1: the redirect target's result is this frame's */
			snprintf(domain, sizeof(domain), "%s", c->target);
			frame_clear(f);
			snprintf(f->domain, sizeof(f->domain), "%s", domain);
			f->redirected = true;
			frame_fetch(c);
			return;
		}
		t = &f->terms[f->next++];
		switch (t->kind) {
		case T_ALL:
			if (!frame_done(c, qual_result(t->qual)))
				return;
			continue;
		case T_IP4:
		case T_IP6:
			if ((t->kind == T_IP4) == (c->family == AF_INET) &&
			    prefix_match(c->ip, t->addr, t->kind == T_IP4 ? t->cidr4 : t->cidr6)) {
				if (!frame_done(c, qual_result(t->qual)))
					return;
			}
			continue;
		case T_REDIRECT:
		case T_EXP:
		case T_UNKNOWN:
			continue;
		default:
			break;
		}
		if (term_needs_p(t) && !c->p_done) {
			f->next--;	/* evaluated again once %{p} is known */
			p_start(c);
			return;
		}
		/* include, a, mx, ptr, exists: DNS-querying terms (4.6.4) */
		if (++c->lookups > SPF_LOOKUPS_MAX) {
			if (!frame_done(c, SPF_PERMERROR))
				return;
			continue;
		}
		if (target_name(c, t) == -1) {
			/* an include with no usable target cannot be
			 * evaluated; other mechanisms simply do not match */
			if (t->kind == T_INCLUDE) {
				if (!frame_done(c, SPF_PERMERROR))
					return;
			}
			continue;
		}
		c->cur = t;
		switch (t->kind) {
		case T_INCLUDE:
			if (c->depth >= SPF_DEPTH_MAX) {
				if (!frame_done(c, SPF_PERMERROR))
					return;
				continue;
			}
			c->cur = NULL;
			f = &c->frames[c->depth++];
			memset(f, 0, sizeof(*f));
			snprintf(f->domain, sizeof(f->domain), "%s", c->target);
			frame_fetch(c);
			return;
		case T_A:
			c->q = dns_query(c->res, c->target,
			    c->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA, remaining(c), on_a, c);
			return;
		case T_MX:
			c->q = dns_query(c->res, c->target, DNS_TYPE_MX, remaining(c), on_mx, c);
			return;
		case T_EXISTS:
			c->q = dns_query(c->res, c->target, DNS_TYPE_A, remaining(c), on_exists, c);
			return;
		case T_PTR: {
			char rev[DNS_NAME_TEXT_MAX];
			dns_reverse_name(c->ipstr, rev, sizeof(rev));
			c->q = dns_query(c->res, rev, DNS_TYPE_PTR, remaining(c), on_ptr, c);
			return;
		}
		default:
			c->cur = NULL;
			continue;
		}
	}
}

static void
on_defer(void *arg, const struct dns_answer *ans)
{
	struct spf_check *c = arg;

	c->q = NULL;
	finish(c, c->deferred);
}

struct spf_check *
spf_check_start(struct resolver *res, const char *ip, const char *helo, const char *sender,
    unsigned timeout_ms, spf_cb *cb, void *arg)
{
	struct spf_check *c = xcalloc(1, sizeof(*c));
	struct ipaddr addr;
	const char *local, *domain;
	size_t llen;
	bool usable;

	c->res = res;
	c->cb = cb;
	c->arg = arg;
	c->helo = xstrdup(helo != NULL ? helo : "");
	if (sender == NULL || sender[0] == '\0')
		c->sender = xasprintf("postmaster@%s", c->helo);	/* 2.4 */
	else
		c->sender = xstrdup(sender);
	split_sender(c->sender, &local, &llen, &domain);
	usable = strlen(domain) < sizeof(c->domain);
	snprintf(c->domain, sizeof(c->domain), "%s", usable ? domain : "");
	usable = usable && name_usable(c->domain, true);
	if (timeout_ms > 0)
		c->deadline = now_ms() + timeout_ms;
	if (parse_client_ip(ip, &addr) == 0) {
		c->family = addr.family;
		memcpy(c->ip, addr.a, sizeof(c->ip));
		inet_ntop(addr.family, addr.a, c->ipstr, sizeof(c->ipstr));
	} else
		usable = false;
	if (!usable) {
		/*
		 * 4.3: a malformed domain gives "none" at once. The result
		 * still has to arrive from the loop, and the resolver is our
		 * only way onto it: "invalid." (RFC 6761) is answered by
		 * libunbound's built-in local zone, without the network.
		 */
		c->deferred = SPF_NONE;
		c->q = dns_query(res, "invalid.", DNS_TYPE_A, timeout_ms, on_defer, c);
		return c;
	}
	c->depth = 1;
	snprintf(c->frames[0].domain, sizeof(c->frames[0].domain), "%s", c->domain);
	frame_fetch(c);
	return c;
}

void
spf_check_free(struct spf_check *c)
{
	if (c == NULL)
		return;
	cancel_all(c);
	while (c->depth > 0)
		frame_clear(&c->frames[--c->depth]);
	free(c->sender);
	free(c->helo);
	free(c);
}
