/*
 * URL and domain extraction. Text is scanned once for three anchors:
 * a scheme ("http://", defanged "hxxp://"), "www.", and '@' (email
 * addresses); bare domains are found by the public-suffix test on words
 * with dots. Redirectors are followed by scanning a URL's decoded query
 * again, one level deep.
 */
#include "urls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/pslist.h"
#include "lib/xmalloc.h"
#include "scan/decode.h"

/* One URL's length examined. Longer ones are cut there and say so
 * (text_cut): a redirect target may not hide behind a padded path. */
#define URL_MAX (16 * 1024)
#define NEST_MAX 2			/* redirector depth */

void
url_set_init(struct url_set *s, bool defanged)
{
	memset(s, 0, sizeof(*s));
	s->defanged = defanged;
}

void
url_set_clear(struct url_set *s)
{
	free(s->items);
	free(s->slots);
	free(s->regs);
	memset(s, 0, sizeof(*s));
}

/*
 * Deduplication in O(1): two open-addressing tables of item index + 1,
 * by host and by registered domain, grown (never above twice
 * URL_ITEMS_MAX) to stay at most half full so probing always ends.
 * Most messages hold a handful of items: the tables start small.
 */
#define URL_SLOTS_MIN 32

static size_t
slot_hash(const char *str, unsigned salt, size_t nslots)
{
	uint32_t h = 2166136261u ^ salt;	/* FNV-1a */

	for (; *str; str++)
		h = (h ^ (unsigned char)*str) * 16777619u;
	return h & (nslots - 1);
}

static const char *
item_reg(const struct url_item *it)
{
	return it->host + it->reg;
}

static void
rehash(struct url_set *s, size_t nslots)
{
	free(s->slots);
	free(s->regs);
	s->nslots = nslots;
	s->slots = xcalloc(nslots, sizeof(*s->slots));
	s->regs = xcalloc(nslots, sizeof(*s->regs));
	for (size_t i = 0; i < s->n; i++) {
		const struct url_item *it = &s->items[i];
		size_t h = slot_hash(it->host, it->kind, nslots);
		while (s->slots[h])
			h = (h + 1) & (nslots - 1);
		s->slots[h] = (unsigned)i + 1;
		if (it->new_reg) {
			h = slot_hash(item_reg(it), 0, nslots);
			while (s->regs[h])
				h = (h + 1) & (nslots - 1);
			s->regs[h] = (unsigned)i + 1;
		}
	}
}

static void
add_item(struct url_set *s, enum url_item_kind kind, enum url_source src, const char *host,
    const char *detail, size_t dlen)
{
	struct url_item *it;
	size_t h, r, mask;
	const char *reg;
	bool new_reg;

	if (s->nslots < 2 * (s->n + 1) && s->n < URL_ITEMS_MAX)
		rehash(s, s->nslots ? s->nslots * 2 : URL_SLOTS_MIN);
	mask = s->nslots - 1;
	for (h = slot_hash(host, kind, s->nslots); s->slots[h]; h = (h + 1) & mask) {
		const struct url_item *o = &s->items[s->slots[h] - 1];
		if (o->kind == kind && strcmp(o->host, host) == 0)
			return;
	}
	if (s->n >= URL_ITEMS_MAX) {
		s->items_cut = true;
		return;
	}
	/* The blocklists list registrable names: a name that is itself a
	 * public suffix (iki.fi, dyndns.org, co.uk) has nothing registered
	 * under it to list, so it is no item (issue 20). Unknown TLDs fall
	 * under libpsl's "*" rule: badspam.test is registrable. */
	reg = kind == URL_ITEM_IP ? host : pslist_registrable(host);
	if (reg == NULL)
		return;
	for (r = slot_hash(reg, 0, s->nslots); s->regs[r]; r = (r + 1) & mask)
		if (strcmp(item_reg(&s->items[s->regs[r] - 1]), reg) == 0)
			break;
	new_reg = s->regs[r] == 0;
	if (s->n >= URL_ITEMS_SOFT && !new_reg) {
		s->items_cut = true;
		return;
	}
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->items = xrealloc(s->items, s->cap * sizeof(*s->items));
	}
	it = &s->items[s->n++];
	it->kind = kind;
	it->source = src;
	it->group = s->group;
	snprintf(it->host, sizeof(it->host), "%s", host);
	it->reg = (unsigned char)(reg - host);
	it->new_reg = new_reg;
	s->slots[h] = (unsigned)s->n;
	if (new_reg)
		s->regs[r] = (unsigned)s->n;
	if (dlen >= sizeof(it->detail))
		dlen = sizeof(it->detail) - 1;
	for (size_t i = 0; i < dlen; i++) {
		unsigned char c = (unsigned char)detail[i];
		it->detail[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	it->detail[dlen] = '\0';
}

bool
url_has_public_suffix(const char *name)
{
	const char *dot = strrchr(name, '.');
	const char *reg;

	if (dot == NULL || dot[1] == '\0')
		return false;
	/* The TLD must be a real one: PSL_TYPE_NO_STAR_RULE keeps the "*"
	 * default rule from making "file.txt" look like a domain. */
	if (!psl_is_public_suffix2(pslist(), dot + 1, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
		return false;
	reg = pslist_registrable(name);
	return reg != NULL;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * IPv4 hosts as browsers read them (WHATWG URL Standard, "IPv4 parser"):
 * a host whose last label is a number is an IPv4 address or invalid,
 * never a name. Each of 1-4 parts is decimal, 0x hex or 0-prefixed octal
 * ("0x" alone is 0); all but the last fit an octet, the last fills the
 * rest: 3232235777, 0300.0250.0.1, 0xC0.0xA8.1.1 and 192.168.257 are
 * addresses; 1.2.3.4.5, example.123 and 09.1.1.1 are nothing.
 */
static bool
ipv4_number(const char *p, size_t len, uint64_t *v)
{
	int radix = 10;

	if (len == 0)
		return false;
	if (len >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		radix = 16, p += 2, len -= 2;
	else if (len >= 2 && p[0] == '0')
		radix = 8, p++, len--;
	*v = 0;
	for (size_t i = 0; i < len; i++) {
		int d = hexval((unsigned char)p[i]);
		if (d < 0 || d >= radix)
			return false;
		/* past 2^32 it only has to stay too big */
		if (*v <= 0xffffffffu)
			*v = *v * (uint64_t)radix + (uint64_t)d;
	}
	return true;
}

static bool
ends_in_number(const char *h)
{
	const char *last = strrchr(h, '.');
	size_t l;
	uint64_t v;
	bool digits = true;

	last = last ? last + 1 : h;
	l = strlen(last);
	for (size_t i = 0; i < l; i++)
		digits = digits && isdigit((unsigned char)last[i]);
	return (l > 0 && digits) || ipv4_number(last, l, &v);
}

/* Returns 1 for an address (dotted quad in out), 0 when h is a name, -1
 * when it ends in a number but is no address (an invalid host). */
static int
whatwg_ipv4(const char *h, char *out, size_t outlen)
{
	uint64_t num[4], addr = 0;
	size_t n = 0;
	const char *p = h;
	struct in_addr a;

	if (!ends_in_number(h))
		return 0;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (n == 4 || !ipv4_number(p, l, &num[n]))
			return -1;
		n++;
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	for (size_t i = 0; i + 1 < n; i++) {
		if (num[i] > 255)
			return -1;
		addr |= num[i] << (8 * (3 - i));
	}
	if (num[n - 1] >= (uint64_t)1 << (8 * (5 - n)))
		return -1;
	addr |= num[n - 1];
	a.s_addr = htonl((uint32_t)addr);
	return inet_ntop(AF_INET, &a, out, (socklen_t)outlen) != NULL ? 1 : -1;
}

/* Labels as DNS has them (RFC 1035 2.3.1, RFC 5890 2.3.1): none empty,
 * none longer than 63, none starting or ending with '-' ("www.dcc-" is
 * half a name broken across a line, issue 20). */
static bool
labels_ok(const char *h)
{
	const char *p = h;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || p[0] == '-' || p[l - 1] == '-')
			return false;
		if (dot == NULL)
			return true;
		p = dot + 1;
	}
}

int
url_normalize_host(const char *host, size_t len, char *out, size_t outlen)
{
	char buf[URL_HOST_MAX * 3 + 1], dec[URL_HOST_MAX * 3 + 1];
	size_t n = 0, i;
	const char *at;
	bool ascii = true;
	unsigned char a6[16];

	/* user:password@host: the host is after the last '@' */
	for (at = NULL, i = 0; i < len; i++)
		if (host[i] == '@')
			at = host + i;
	if (at != NULL) {
		len -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	/* percent-decoding */
	for (i = 0; i < len; i++) {
		if (host[i] == '%' && i + 2 < len && hexval(host[i + 1]) >= 0 &&
		    hexval(host[i + 2]) >= 0) {
			dec[n++] = (char)(hexval(host[i + 1]) * 16 + hexval(host[i + 2]));
			i += 2;
		} else
			dec[n++] = host[i];
	}
	dec[n] = '\0';
	/* A percent-encoded '@' ("spoof.com%40www%2Eterra%2Ees") splits the
	 * userinfo off as well: older browsers and redirectors go to the
	 * host after it, so after decoding the last '@' is taken again
	 * (RFC 3986 3.2.1); only then is the host judged. */
	{
		const char *at2 = memrchr(dec, '@', n);
		if (at2 != NULL) {
			n -= (size_t)(at2 + 1 - dec);
			memmove(dec, at2 + 1, n + 1);
		}
	}
	/* port */
	if (dec[0] == '[') {
		char *close = strchr(dec, ']');
		if (close == NULL)
			return -1;
		*close = '\0';
		if (inet_pton(AF_INET6, dec + 1, a6) != 1 ||
		    inet_ntop(AF_INET6, a6, out, (socklen_t)outlen) == NULL)
			return -1;
		return URL_ITEM_IP;
	}
	{
		char *colon = strchr(dec, ':');
		if (colon)
			*colon = '\0';
	}
	n = strlen(dec);
	while (n > 0 && dec[n - 1] == '.')
		dec[--n] = '\0';
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)dec[i];
		if (c >= 0x80)
			ascii = false;
		else if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
			return -1;
		/* fullwidth and ideographic dots are dots (UTS 46) */
		buf[i] = (char)tolower(c);
	}
	buf[n] = '\0';
	if (ascii) {
		int ip = whatwg_ipv4(buf, out, outlen);
		if (ip != 0)
			return ip == 1 ? URL_ITEM_IP : -1;
		if (n >= outlen || !labels_ok(buf))
			return -1;
		memcpy(out, buf, n + 1);
		return URL_ITEM_HOST;
	}
	{
		char *ace = NULL;
		if (idn2_to_ascii_8z(dec, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) != IDN2_OK) {
			/* some spam uses mixed scripts libidn2 refuses: try the
			 * transitional rules before giving up */
			if (idn2_to_ascii_8z(dec, &ace, IDN2_NFC_INPUT | IDN2_TRANSITIONAL) != IDN2_OK)
				return -1;
		}
		if (strlen(ace) >= outlen) {
			idn2_free(ace);
			return -1;
		}
		for (char *p = ace; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		/* UTS 46 maps ideographic and fullwidth dots to '.': the
		 * result gets the checks an ASCII host gets. */
		n = strlen(ace);
		while (n > 0 && ace[n - 1] == '.')
			ace[--n] = '\0';
		if (n == 0 || !labels_ok(ace)) {
			idn2_free(ace);
			return -1;
		}
		/* without STD3 rules libidn2 lets other ASCII through */
		for (char *p = ace; *p; p++)
			if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || *p == '_')) {
				idn2_free(ace);
				return -1;
			}
		/* UTS 46 maps fullwidth digits to ASCII: an address again */
		{
			int ip = whatwg_ipv4(ace, out, outlen);
			if (ip != 0) {
				idn2_free(ace);
				return ip == 1 ? URL_ITEM_IP : -1;
			}
		}
		strcpy(out, ace);
		idn2_free(ace);
		return URL_ITEM_HOST;
	}
}

static bool
host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c >= 0x80;
}

static bool
url_char(unsigned char c)
{
	return c > 0x20 && c != '<' && c != '>' && c != '"' && c != '\'' && c != '`' &&
	    c != 0x7f && c != '{' && c != '}' && c != '|' && c != '\\' && c != '^';
}

static void scan_text(struct url_set *s, const char *t, size_t len, enum url_source src, int depth);

/* Percent-decodes a URL's path and query and scans them again for URLs
 * handed to redirectors ("?url=http%3A%2F%2F..."). */
static void
follow_redirect(struct url_set *s, const char *rest, size_t len, enum url_source src, int depth)
{
	char *dec;
	size_t n = 0;

	if (depth >= NEST_MAX || len == 0)
		return;
	dec = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		if (rest[i] == '%' && i + 2 < len && hexval(rest[i + 1]) >= 0 &&
		    hexval(rest[i + 2]) >= 0) {
			dec[n++] = (char)(hexval(rest[i + 1]) * 16 + hexval(rest[i + 2]));
			i += 2;
		} else
			dec[n++] = rest[i] == '&' || rest[i] == '=' ? ' ' : rest[i];
	}
	scan_text(s, dec, n, src, depth + 1);
	free(dec);
}

/* Handles the URL starting at the host (after "scheme://"). Returns the
 * number of bytes consumed after host_start. */
static size_t
take_url(struct url_set *s, const char *start, const char *host_start, const char *end,
    enum url_source src, int depth)
{
	const char *p = host_start, *hend, *uend;
	char host[URL_HOST_MAX];
	int kind;

	/* the authority ends at '/', '?', '#' or anything not URL-ish */
	while (p < end && url_char((unsigned char)*p) && *p != '/' && *p != '?' && *p != '#')
		p++;
	hend = p;
	while (p < end && url_char((unsigned char)*p) && (size_t)(p - start) < URL_MAX)
		p++;
	if (p < end && url_char((unsigned char)*p))
		s->text_cut = true;
	uend = p;
	/* trailing punctuation belongs to the sentence, not the URL */
	while (uend > hend && strchr(".,;:!?)]", uend[-1]) != NULL)
		uend--;
	/* "see http://example.com." : the final dot is the sentence's */
	while (hend > host_start && hend == uend && strchr(".,;:!?)", hend[-1]) != NULL)
		hend--, uend--;
	kind = url_normalize_host(host_start, (size_t)(hend - host_start), host, sizeof(host));
	if (kind == URL_ITEM_IP)
		add_item(s, URL_ITEM_IP, src, host, start, (size_t)(uend - start));
	else if (kind == URL_ITEM_HOST && strchr(host, '.') != NULL)
		add_item(s, URL_ITEM_HOST, src, host, start, (size_t)(uend - start));
	if (uend > hend)
		follow_redirect(s, hend, (size_t)(uend - hend), src, depth);
	return (size_t)(p - host_start);
}

/*
 * SPEC 5.1: a www. name and an address's domain are domains whatever
 * their TLD (new TLDs appear faster than the public-suffix list ships;
 * test TLDs exist). What is asked of the TLD is only that it looks like
 * one: letters (RFC 1123 2.1: never all-numeric) or an A-label, so that
 * "image001.png@01D3A1B2.C3D4E5F0" (an HTML cid:) is no address.
 */
static bool
tld_plausible(const char *host)
{
	const char *tld = strrchr(host, '.');
	size_t l;

	if (tld == NULL)
		return false;
	tld++;
	l = strlen(tld);
	if (l > 4 && strncmp(tld, "xn--", 4) == 0)
		return true;
	if (l < 2)
		return false;
	for (size_t i = 0; i < l; i++)
		if (!isalpha((unsigned char)tld[i]))
			return false;
	return true;
}

/* Email address around the '@' at text[at]: its domain, any TLD. */
static void
take_email(struct url_set *s, const char *t, size_t len, size_t at, enum url_source src)
{
	size_t l = at, r = at + 1;
	char dom[URL_HOST_MAX], addr[URL_DETAIL_MAX];
	int kind;

	while (l > 0 && (isalnum((unsigned char)t[l - 1]) || strchr(".!#$%&'*+-/=?^_`{|}~", t[l - 1])))
		l--;
	while (r < len && host_char((unsigned char)t[r]))
		r++;
	while (r > at + 1 && (t[r - 1] == '.' || t[r - 1] == '-'))
		r--;
	if (l == at || r <= at + 1)
		return;
	kind = url_normalize_host(t + at + 1, r - at - 1, dom, sizeof(dom));
	if (kind != URL_ITEM_HOST || !tld_plausible(dom))
		return;
	snprintf(addr, sizeof(addr), "%.*s", (int)(r - l), t + l);
	add_item(s, URL_ITEM_EMAIL, src, dom, addr, strlen(addr));
}

/* RFC 5322 3.2.3 atext and '.', without '/': what a local part is made of */
static bool
local_char(unsigned char c)
{
	if (isalnum(c))
		return true;
	switch (c) {
	case '.': case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '=': case '?': case '^': case '_': case '`': case '{':
	case '|': case '}': case '~':
		return true;
	}
	return false;
}

/*
 * A bare domain or www. name in a word starting at t[i]. Returns the
 * length of the word consumed. SPEC 5.1: a www. name is a domain
 * whatever its TLD; another bare word only when the public-suffix list
 * says so, and never inside a URL's path or query
 * (depth > 0: "article.pl?sid=" is a file), in a file path
 * ("/etc/mail/sendmail.cf"), with a '_' or as an address's local part:
 * there only a www. name is a URL itself (issue 20).
 */
static size_t
take_bare(struct url_set *s, const char *t, size_t len, size_t i, enum url_source src, int depth)
{
	size_t j = i, k, e;
	char host[URL_HOST_MAX];
	bool www;

	while (j < len && host_char((unsigned char)t[j]))
		j++;
	/* the local part of an address: the '@' is taken on its own */
	for (k = j; k < len && local_char((unsigned char)t[k]); k++)
		;
	if (k < len && t[k] == '@')
		return k - i;
	/* "www.dcc-" at the end of a line is a name broken in two: neither
	 * half is the host */
	if (j > i && t[j - 1] == '-' && (j == len || t[j] == '\r' || t[j] == '\n'))
		return j - i;
	while (j > i && (t[j - 1] == '.' || t[j - 1] == '-'))
		j--;
	if (j - i < 4 || memchr(t + i, '.', j - i) == NULL)
		return j > i ? j - i : 1;
	www = j - i > 4 && strncasecmp(t + i, "www.", 4) == 0;
	/* host names have no '_' (RFC 952, RFC 1123 2.1): "local_scan.py" */
	if (!www && (depth > 0 || (i > 0 && (t[i - 1] == '/' || t[i - 1] == '\\')) ||
	    memchr(t + i, '_', j - i) != NULL))
		return j - i;
	/* SPEC 5.1: a www. name whatever its TLD; the public-suffix list
	 * decides only for other bare words */
	if (url_normalize_host(t + i, j - i, host, sizeof(host)) != URL_ITEM_HOST ||
	    !(www ? tld_plausible(host) : url_has_public_suffix(host)))
		return j - i;
	e = j;
	/* a path after the domain is part of the URL */
	if (e < len && t[e] == '/') {
		while (e < len && url_char((unsigned char)t[e]) && e - i < URL_MAX)
			e++;
		if (e < len && url_char((unsigned char)t[e]))
			s->text_cut = true;
	}
	add_item(s, URL_ITEM_HOST, src, host, t + i, e - i);
	if (e > j)
		follow_redirect(s, t + j, e - j, src, depth);
	return e - i;
}

static bool
is_word_start(const char *t, size_t i)
{
	return i == 0 || !host_char((unsigned char)t[i - 1]);
}

/* Rewrites defanged forms: "hxxp" -> "http", "[.]" "(.)" "{.}" "[dot]"
 * "(dot)" -> ".", "[:]" -> ":", "[at]" "(at)" -> "@". */
static size_t
refang(const char *t, size_t len, char *out)
{
	static const struct { const char *from; const char *to; } subs[] = {
		{ "[.]", "." }, { "(.)", "." }, { "{.}", "." }, { "[dot]", "." },
		{ "(dot)", "." }, { "[:]", ":" }, { "[://]", "://" }, { "[at]", "@" },
		{ "(at)", "@" }, { "hxxps", "https" }, { "hxxp", "http" },
		{ "hXXps", "https" }, { "hXXp", "http" }, { "h**p", "http" },
	};
	size_t o = 0;

	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)t[i];
		size_t k;
		/* every form starts with one of these: most characters are
		 * copied without trying the table (it was a tenth of the
		 * server's CPU time) */
		if (c != '[' && c != '(' && c != '{' && c != 'h' && c != 'H') {
			out[o++] = t[i++];
			continue;
		}
		/* an 'h' starts a form only before x, X or '*' ("hxxp",
		 * "h**p"): the 'h' of ordinary words skips the table too */
		if ((c == 'h' || c == 'H') && (i + 1 >= len ||
		    (t[i + 1] != 'x' && t[i + 1] != 'X' && t[i + 1] != '*'))) {
			out[o++] = t[i++];
			continue;
		}
		for (k = 0; k < sizeof(subs) / sizeof(subs[0]); k++) {
			size_t fl = strlen(subs[k].from);
			if (i + fl <= len && strncasecmp(t + i, subs[k].from, fl) == 0) {
				size_t tl = strlen(subs[k].to);
				memcpy(out + o, subs[k].to, tl);
				o += tl;
				i += fl;
				break;
			}
		}
		if (k == sizeof(subs) / sizeof(subs[0]))
			out[o++] = t[i++];
	}
	return o;
}

static void
scan_text(struct url_set *s, const char *t, size_t len, enum url_source src, int depth)
{
	size_t i = 0;

	if (len > URL_TEXT_MAX) {
		len = URL_TEXT_MAX;
		s->text_cut = true;
	}
	while (i < len) {
		unsigned char c = (unsigned char)t[i];

		/* scheme://host */
		if (c == ':' && i + 2 < len && t[i + 1] == '/' && t[i + 2] == '/') {
			size_t k = i;
			while (k > 0 && isalpha((unsigned char)t[k - 1]) && i - k < 10)
				k--;
			if (i - k >= 3) {
				i += 3 + take_url(s, t + k, t + i + 3, t + len, src, depth);
				continue;
			}
			i += 3;
			continue;
		}
		/* "//host" in a query ("?next=//evil.example/"): protocol-
		 * relative, a URL for the browser the redirector sends it to
		 * (SPEC 5.1); '=' and '&' are blanks here (follow_redirect) */
		if (c == '/' && depth > 0 && i > 0 && t[i - 1] == ' ' && i + 2 < len &&
		    t[i + 1] == '/' && t[i + 2] != '/') {
			i += 2 + take_url(s, t + i, t + i + 2, t + len, src, depth);
			continue;
		}
		if (c == '@') {
			take_email(s, t, len, i, src);
			i++;
			continue;
		}
		if (isalnum(c) && is_word_start(t, i) && !(i > 0 && t[i - 1] == '@')) {
			/* a word that is a scheme is taken at its ':' */
			i += take_bare(s, t, len, i, src, depth);
			continue;
		}
		i++;
	}
}

void
urls_from_text(struct url_set *s, const char *text, size_t len, enum url_source src)
{
	if (s->defanged) {
		char *r;
		size_t n;
		if (len > URL_TEXT_MAX) {
			len = URL_TEXT_MAX;
			s->text_cut = true;
		}
		r = xmalloc(len + 1);
		n = refang(text, len, r);
		scan_text(s, r, n, src, 0);
		free(r);
	} else
		scan_text(s, text, len, src, 0);
}

static void html_attr_take(struct url_set *s, const char *url, size_t n);

/* Reads an attribute value as a browser does: entities decoded, tab, CR
 * and LF removed anywhere, surrounding white space trimmed. */
static size_t
attr_value(const char *v, size_t vl, char *out, size_t outlen)
{
	char *tmp = xmalloc(vl + 1);
	size_t n = html_entities_decode(v, vl, tmp, vl), o = 0, a = 0;

	while (a < n && isspace((unsigned char)tmp[a]))
		a++;
	while (n > a && isspace((unsigned char)tmp[n - 1]))
		n--;
	for (size_t i = a; i < n && o < outlen; i++)
		if (tmp[i] != '\t' && tmp[i] != '\r' && tmp[i] != '\n')
			out[o++] = tmp[i];
	free(tmp);
	return o;
}

static void
html_attr_url(struct url_set *s, const char *v, size_t vl)
{
	char *url = xmalloc(URL_MAX + 2);
	size_t n, a = 0;
	bool data;

	/* inline content ("data:image/png;base64,...", often large) has no
	 * host: its first URL_MAX octets are read, the rest is no cut */
	while (a < vl && isspace((unsigned char)v[a]))
		a++;
	data = vl - a >= 5 && strncasecmp(v + a, "data:", 5) == 0;
	if (vl > 4 * URL_MAX) {
		s->text_cut = s->text_cut || !data;
		vl = 4 * URL_MAX;
	}
	n = attr_value(v, vl, url, URL_MAX + 1);
	if (n > URL_MAX) {
		s->text_cut = s->text_cut || !data;
		n = URL_MAX;
	}
	url[n] = '\0';
	html_attr_take(s, url, n);
	free(url);
}

/* One attribute value, decoded: a protocol-relative URL, a mailto:, or
 * text with URLs in it. */
static void
html_attr_take(struct url_set *s, const char *url, size_t n)
{
	if (n > 2 && url[0] == '/' && url[1] == '/') {
		/* protocol-relative: "//host/path" */
		take_url(s, url, url + 2, url + n, URL_SRC_HTML_ATTR, 0);
		return;
	}
	if (n > 7 && strncasecmp(url, "mailto:", 7) == 0) {
		const char *at = memchr(url, '@', n);
		if (at)
			take_email(s, url + 7, n - 7, (size_t)(at - url - 7), URL_SRC_HTML_ATTR);
		return;
	}
	urls_from_text(s, url, n, URL_SRC_HTML_ATTR);
}

void
urls_from_html(struct url_set *s, const char *html, size_t len)
{
	static const char *const attrs[] = { "href", "src", "action" };
	char *text;
	size_t n;

	if (len > URL_TEXT_MAX) {
		len = URL_TEXT_MAX;
		s->text_cut = true;
	}
	for (size_t i = 0; i < len; i++) {
		if (html[i] != '<')
			continue;
		/* inside a tag: look for our attributes until '>' */
		for (size_t j = i + 1; j < len && html[j] != '>'; j++) {
			for (size_t a = 0; a < 3; a++) {
				size_t al = strlen(attrs[a]), k;
				/* first octet first: this runs for every octet of
				 * every tag */
				if ((html[j] | 0x20) != attrs[a][0] || j + al >= len ||
				    strncasecmp(html + j, attrs[a], al) != 0 ||
				    isalnum((unsigned char)html[j - 1]))
					continue;
				k = j + al;
				while (k < len && isspace((unsigned char)html[k]))
					k++;
				if (k >= len || html[k] != '=')
					continue;
				k++;
				while (k < len && isspace((unsigned char)html[k]))
					k++;
				if (k < len && (html[k] == '"' || html[k] == '\'')) {
					char q = html[k];
					const char *e = memchr(html + k + 1, q, len - k - 1);
					size_t vl = e ? (size_t)(e - html) - k - 1 : len - k - 1;
					html_attr_url(s, html + k + 1, vl);
					j = k + vl;
				} else {
					size_t e = k;
					while (e < len && !isspace((unsigned char)html[e]) && html[e] != '>')
						e++;
					html_attr_url(s, html + k, e - k);
					j = e > 0 ? e - 1 : e;
				}
				break;
			}
		}
	}
	/* the visible text and any URL written in it */
	text = xmalloc(len + 1);
	n = html_entities_decode(html, len, text, len);
	urls_from_text(s, text, n, URL_SRC_BODY);
	free(text);
}
