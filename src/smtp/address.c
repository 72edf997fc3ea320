/*
 * RFC 5321 path grammar, implemented directly from section 4.1.2. The
 * parser walks the buffer once with explicit bounds; nothing is copied
 * until a component is known to be valid and within its length cap.
 */
#include "address.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* atext of RFC 5322 3.2.3 */
static int
is_atext(unsigned char c, bool utf8)
{
	if (c >= 0x80)
		return utf8;
	/* c != 0: strchr would find the terminator */
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_letdig(unsigned char c, bool utf8)
{
	return isalnum(c) || (utf8 && c >= 0x80);
}

/* Dot-string = Atom *("." Atom). Returns 1 when [p, p+len) is one. */
static int
is_dot_string(const char *p, size_t len, bool utf8)
{
	int atom = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.') {
			if (!atom)
				return 0;
			atom = 0;
		} else if (is_atext(c, utf8))
			atom = 1;
		else
			return 0;
	}
	return atom;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str]. */
static int
is_domain(const char *p, size_t len, bool utf8)
{
	size_t lab = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '.') {
			if (lab == 0 || p[i - 1] == '-')
				return 0;
			lab = 0;
		} else if (is_letdig(c, utf8)) {
			lab++;
		} else if (c == '-') {
			if (lab == 0)
				return 0;
			lab++;
		} else
			return 0;
		if (lab > 63)
			return 0;
	}
	return lab > 0 && p[len - 1] != '-';
}

/* address-literal of RFC 5321 4.1.3: [IPv4], [IPv6:...]. */
static enum addr_result
check_literal(const char *p, size_t len)
{
	char tmp[64];
	unsigned char bin[16];

	if (len < 3 || p[0] != '[' || p[len - 1] != ']' || len - 2 >= sizeof(tmp) ||
	    memchr(p, '\0', len) != NULL)
		return ADDR_BAD_LITERAL;
	memcpy(tmp, p + 1, len - 2);
	tmp[len - 2] = '\0';
	if (strncasecmp(tmp, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, tmp + 5, bin) == 1 ? ADDR_OK : ADDR_BAD_LITERAL;
	/* inet_pton refuses the octal and short forms inet_aton would take. */
	return inet_pton(AF_INET, tmp, bin) == 1 ? ADDR_OK : ADDR_BAD_LITERAL;
}

/* Scans a quoted-string starting at p[0] == '"'; returns its length
 * including both quotes, or 0 when malformed. */
static size_t
scan_quoted(const char *p, size_t len, bool utf8)
{
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\\') {
			/* quoted-pairSMTP = %d92 %d32-126 */
			if (i + 1 >= len || (unsigned char)p[i + 1] < 32 ||
			    (unsigned char)p[i + 1] > 126)
				return 0;
			i++;
		} else if (c == '"')
			return i + 1;
		else if (c >= 0x80) {
			if (!utf8)
				return 0;
		} else if (c < 32 || c > 126)
			return 0;
	}
	return 0;
}

/* Unquotes a quoted-string into dst when its content is a dot-string. */
static int
unquote_simple(const char *q, size_t qlen, char *dst, size_t dstlen, bool utf8)
{
	size_t o = 0;

	for (size_t i = 1; i + 1 < qlen; i++) {
		char c = q[i];
		if (c == '\\')
			c = q[++i];
		if (o + 1 >= dstlen)
			return 0;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return is_dot_string(dst, o, utf8);
}

enum addr_result
addr_parse_path(const char *buf, size_t len, bool allow_null, bool utf8,
    struct mailaddr *out)
{
	const char *p, *at, *local, *domain;
	size_t plen, llen, dlen, i;
	bool has8 = false;

	memset(out, 0, sizeof(*out));
	if (len < 2 || buf[0] != '<' || buf[len - 1] != '>')
		return ADDR_NO_BRACKETS;
	/* RFC 5321 4.5.3.1.3: 256 octets including the brackets; the
	 * component limits below give the more precise reason when one
	 * of them is what is too long. */
	if (len > ADDR_PATH_MAX + 2 + ADDR_DOMAIN_MAX)
		return ADDR_PATH_TOO_LONG;
	p = buf + 1;
	plen = len - 2;
	if (plen == 0) {
		if (!allow_null)
			return ADDR_NULL_NOT_ALLOWED;
		out->null = true;
		return ADDR_OK;
	}
	for (i = 0; i < plen; i++)
		if ((unsigned char)p[i] >= 0x80)
			has8 = true;
	if (has8 && !utf8)
		return ADDR_8BIT;

	/* A-d-l ":" : "@dom,@dom:" before the mailbox. */
	if (p[0] == '@') {
		size_t s = 0;
		for (;;) {
			size_t e;
			if (s >= plen || p[s] != '@')
				return ADDR_SYNTAX;
			for (e = s + 1; e < plen && p[e] != ',' && p[e] != ':'; e++)
				;
			if (e >= plen)
				return ADDR_SYNTAX;
			if (!is_domain(p + s + 1, e - s - 1, utf8) &&
			    check_literal(p + s + 1, e - s - 1) != ADDR_OK)
				return ADDR_SYNTAX;
			s = e + 1;
			if (p[e] == ':')
				break;
		}
		out->source_route = true;
		p += s;
		plen -= s;
	}

	/* Local-part = Dot-string / Quoted-string */
	local = p;
	if (plen > 0 && p[0] == '"') {
		llen = scan_quoted(p, plen, utf8);
		if (llen == 0)
			return ADDR_SYNTAX;
	} else {
		for (llen = 0; llen < plen && p[llen] != '@'; llen++)
			;
		if (!is_dot_string(p, llen, utf8))
			return ADDR_SYNTAX;
	}
	if (llen >= plen || p[llen] != '@')
		return llen >= plen ? ADDR_NO_DOMAIN : ADDR_SYNTAX;
	at = p + llen;
	domain = at + 1;
	dlen = plen - llen - 1;
	if (llen > ADDR_LOCAL_MAX)
		return ADDR_LOCAL_TOO_LONG;
	if (dlen > ADDR_DOMAIN_MAX)
		return ADDR_DOMAIN_TOO_LONG;
	if (dlen > 0 && domain[0] == '[') {
		if (check_literal(domain, dlen) != ADDR_OK)
			return ADDR_BAD_LITERAL;
		out->literal = true;
	} else if (!is_domain(domain, dlen, utf8))
		return ADDR_SYNTAX;

	if (len > ADDR_PATH_MAX)
		return ADDR_PATH_TOO_LONG;
	if (local[0] == '"') {
		if (!unquote_simple(local, llen, out->local, sizeof(out->local), utf8)) {
			memcpy(out->local, local, llen);
			out->local[llen] = '\0';
			out->quoted = true;
		}
	} else {
		memcpy(out->local, local, llen);
		out->local[llen] = '\0';
	}
	for (i = 0; i < dlen; i++)
		out->domain[i] = (char)tolower((unsigned char)domain[i]);
	out->domain[dlen] = '\0';
	out->utf8 = has8;
	return ADDR_OK;
}

const char *
addr_result_reason(enum addr_result r)
{
	switch (r) {
	case ADDR_OK: return "ok";
	case ADDR_NO_BRACKETS: return "address must be enclosed in <>";
	case ADDR_SYNTAX: return "bad address syntax";
	case ADDR_LOCAL_TOO_LONG: return "local part longer than 64 octets";
	case ADDR_DOMAIN_TOO_LONG: return "domain longer than 255 octets";
	case ADDR_PATH_TOO_LONG: return "path longer than 256 octets";
	case ADDR_NO_DOMAIN: return "address has no domain";
	case ADDR_BAD_LITERAL: return "bad address literal";
	case ADDR_8BIT: return "non-ASCII address without SMTPUTF8";
	case ADDR_NULL_NOT_ALLOWED: return "null address not allowed here";
	}
	return "bad address";
}

void
addr_format(const struct mailaddr *a, char *dst, size_t dstlen)
{
	if (a->null)
		snprintf(dst, dstlen, "%s", "");
	else
		snprintf(dst, dstlen, "%s@%s", a->local, a->domain);
}
