/*
 * Decoders. Output never exceeds input for QP, base64 and entities; the
 * charset converters may grow text (Latin-1 to UTF-8 doubles at most,
 * windows-1252 and other one-octet charsets triple, UTF-16 grows by
 * half, UTF-32 shrinks), and stop when outlen is reached.
 */
#include "decode.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
qp_decode(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len && o < outlen) {
		unsigned char c = (unsigned char)buf[i];
		if (c != '=') {
			out[o++] = (char)c;
			i++;
			continue;
		}
		/* soft line break: '=' then optional white space then EOL */
		{
			size_t j = i + 1;
			while (j < len && (buf[j] == ' ' || buf[j] == '\t'))
				j++;
			if (j < len && buf[j] == '\r' && j + 1 < len && buf[j + 1] == '\n') {
				i = j + 2;
				continue;
			}
			if (j < len && buf[j] == '\n') {
				i = j + 1;
				continue;
			}
			if (j >= len) {
				i = len;
				continue;
			}
		}
		if (i + 2 < len && hexval((unsigned char)buf[i + 1]) >= 0 &&
		    hexval((unsigned char)buf[i + 2]) >= 0) {
			out[o++] = (char)(hexval((unsigned char)buf[i + 1]) * 16 +
			    hexval((unsigned char)buf[i + 2]));
			i += 3;
			continue;
		}
		out[o++] = '=';
		i++;
	}
	return o;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

size_t
base64_decode(const char *buf, size_t len, char *out, size_t outlen)
{
	unsigned long acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < len && o < outlen; i++) {
		int v;
		if (buf[i] == '=')
			break;
		if ((v = b64val((unsigned char)buf[i])) < 0)
			continue;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return o;
}

static const struct { const char *n; enum charset cs; } charset_names[] = {
	{ "iso-8859-1", CHARSET_LATIN1 }, { "iso8859-1", CHARSET_LATIN1 },
	{ "latin1", CHARSET_LATIN1 }, { "latin-1", CHARSET_LATIN1 },
	{ "us-ascii", CHARSET_UTF8 }, { "utf-8", CHARSET_UTF8 }, { "utf8", CHARSET_UTF8 },
	{ "ascii", CHARSET_UTF8 },
	{ "windows-1252", CHARSET_CP1252 }, { "cp1252", CHARSET_CP1252 },
	{ "iso-8859-15", CHARSET_LATIN1 },
	{ "utf-16le", CHARSET_UTF16LE }, { "utf-16be", CHARSET_UTF16BE },
	{ "utf-16", CHARSET_UTF16 }, { "ucs-2", CHARSET_UTF16 }, { "unicode", CHARSET_UTF16 },
	{ "utf-32le", CHARSET_UTF32LE }, { "utf-32be", CHARSET_UTF32BE },
	{ "utf-32", CHARSET_UTF32 }, { "ucs-4", CHARSET_UTF32 },
};

/* Index in charset_names, -1 when the name is not there. */
static int
charset_find(const char **name, size_t *len)
{
	while (*len > 0 && (**name == '"' || **name == ' '))
		(*name)++, (*len)--;
	while (*len > 0 && ((*name)[*len - 1] == '"' || (*name)[*len - 1] == ' '))
		(*len)--;
	for (size_t i = 0; i < sizeof(charset_names) / sizeof(charset_names[0]); i++)
		if (strlen(charset_names[i].n) == *len && strncasecmp(charset_names[i].n, *name, *len) == 0)
			return (int)i;
	return -1;
}

enum charset
charset_lookup(const char *name, size_t len)
{
	int i = charset_find(&name, &len);

	return i >= 0 ? charset_names[i].cs : len > 0 ? CHARSET_OTHER : CHARSET_UTF8;
}

size_t
utf8_put(unsigned long cp, char *out, size_t outlen)
{
	if (cp < 0x80 && outlen >= 1) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800 && outlen >= 2) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	if (cp < 0x10000 && cp >= 0x800 && outlen >= 3) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp >= 0x10000 && cp <= 0x10ffff && outlen >= 4) {
		out[0] = (char)(0xf0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[3] = (char)(0x80 | (cp & 0x3f));
		return 4;
	}
	return 0;
}

/* windows-1252 0x80-0x9f; 0 where undefined. */
static const unsigned short cp1252_high[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

/* Code unit of w octets (2 or 4) at p in the given byte order. */
static unsigned long
unit_at(const unsigned char *p, size_t w, int be)
{
	unsigned long u = 0;

	for (size_t k = 0; k < w; k++)
		u |= (unsigned long)p[be ? k : w - 1 - k] << (8 * (w - 1 - k));
	return u;
}

/*
 * Byte order of UTF-16 (w 2) or UTF-32 (w 4) text: a BOM decides (and is
 * skipped: *skip); otherwise the label, or for a bare "UTF-16"/"UTF-32"
 * the order in which the first units' high octets are zero.
 */
static int
unicode_order(const unsigned char *b, size_t len, size_t w, int label_be, bool label_has_order,
    size_t *skip)
{
	size_t lo_zero = 0, hi_zero = 0;

	*skip = 0;
	if (w == 2 && len >= 2 && b[0] == 0xfe && b[1] == 0xff)
		return *skip = 2, 1;
	if (w == 2 && len >= 2 && b[0] == 0xff && b[1] == 0xfe)
		return *skip = 2, 0;
	if (w == 4 && len >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0xfe && b[3] == 0xff)
		return *skip = 4, 1;
	if (w == 4 && len >= 4 && b[0] == 0xff && b[1] == 0xfe && b[2] == 0 && b[3] == 0)
		return *skip = 4, 0;
	if (label_has_order)
		return label_be;
	for (size_t i = 0; i + w <= len && i < 1024; i += w) {
		hi_zero += b[i] == 0;		/* big endian ASCII: 00 41 */
		lo_zero += b[i + w - 1] == 0;	/* little endian: 41 00 */
	}
	return lo_zero > hi_zero ? 0 : 1;
}

static size_t
unicode_to_utf8(const unsigned char *b, size_t len, size_t w, int be, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i + w <= len) {
		unsigned long u = unit_at(b + i, w, be);
		size_t n;
		i += w;
		if (w == 2 && u >= 0xd800 && u <= 0xdbff && i + 2 <= len) {
			unsigned long lo = unit_at(b + i, 2, be);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				i += 2;
			} else
				u = '?';
		} else if ((u >= 0xd800 && u <= 0xdfff) || u > 0x10ffff)
			u = '?';
		if ((n = utf8_put(u, out + o, outlen - o)) == 0)
			break;
		o += n;
	}
	return o;
}

size_t
charset_to_utf8(enum charset cs, const char *buf, size_t len, char *out, size_t outlen)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t o = 0, skip, w = 2;
	int be;

	switch (cs) {
	case CHARSET_UTF8:
	case CHARSET_OTHER:
		/* Copied as is: the extractors only look for ASCII structure
		 * and pass host names to libidn2, which validates UTF-8. */
		if (len > outlen)
			len = outlen;
		memcpy(out, buf, len);
		return len;
	case CHARSET_LATIN1:
	case CHARSET_CP1252:
		for (size_t i = 0; i < len; i++) {
			unsigned long cp = b[i];
			size_t n;
			if (cs == CHARSET_CP1252 && b[i] >= 0x80 && b[i] < 0xa0)
				cp = cp1252_high[b[i] - 0x80] ? cp1252_high[b[i] - 0x80] : '?';
			if ((n = utf8_put(cp, out + o, outlen - o)) == 0)
				break;
			o += n;
		}
		return o;
	case CHARSET_UTF16LE:
	case CHARSET_UTF16BE:
	case CHARSET_UTF16:
		break;
	case CHARSET_UTF32LE:
	case CHARSET_UTF32BE:
	case CHARSET_UTF32:
		w = 4;
		break;
	}
	be = unicode_order(b, len, w, cs == CHARSET_UTF16BE || cs == CHARSET_UTF32BE,
	    cs != CHARSET_UTF16 && cs != CHARSET_UTF32, &skip);
	return unicode_to_utf8(b + skip, len - skip, w, be, out, outlen);
}

/* What iconv(3) is asked for: a plain charset name, never its
 * "//TRANSLIT"-style suffixes or anything longer than a name. */
#define ICONV_NAME_MAX 40

static size_t
iconv_to_utf8(const char *name, size_t nlen, const char *buf, size_t len, char *out,
    size_t outlen, bool *known)
{
	char cs[ICONV_NAME_MAX + 1];
	char *in = (char *)buf, *o = out;
	size_t inleft = len, oleft = outlen;
	iconv_t cd;

	*known = false;
	if (nlen == 0 || nlen > ICONV_NAME_MAX)
		return 0;
	for (size_t i = 0; i < nlen; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.' && c != ':')
			return 0;
		cs[i] = (char)c;
	}
	cs[nlen] = '\0';
	if ((cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return 0;
	*known = true;
	/* each round consumes at least one octet: at most len rounds */
	while (inleft > 0) {
		if (iconv(cd, &in, &inleft, &o, &oleft) != (size_t)-1)
			break;
		if (errno != EILSEQ || oleft == 0)
			break;	/* E2BIG: out is full; EINVAL: cut sequence */
		*o++ = '?';
		oleft--;
		in++;
		inleft--;
	}
	/* the end of a stateful encoding (ISO-2022-JP) may emit a last
	 * character */
	iconv(cd, NULL, NULL, &o, &oleft);
	iconv_close(cd);
	return outlen - oleft;
}

size_t
charset_name_to_utf8(const char *name, size_t nlen, const char *buf, size_t len, char *out,
    size_t outlen)
{
	int i = charset_find(&name, &nlen);
	bool known;
	size_t n;

	if (i >= 0)
		return charset_to_utf8(charset_names[i].cs, buf, len, out, outlen);
	n = iconv_to_utf8(name, nlen, buf, len, out, outlen, &known);
	return known ? n : charset_to_utf8(CHARSET_UTF8, buf, len, out, outlen);
}

/*
 * One encoded word "=?charset?Q|B?text?=" at buf, decoded whole whatever
 * its length (RFC 2047 says 75, senders write more). Returns its length,
 * or 0 when there is none; *noend is set when no "?=" follows at all, so
 * the caller stops looking (no quadratic search).
 */
static size_t
encoded_word(const char *buf, size_t len, char *out, size_t outlen, size_t *written, int *noend)
{
	const char *cs, *enc, *text, *end;
	char *tmp;
	size_t tl, n;

	*written = 0;
	if (len < 8 || buf[0] != '=' || buf[1] != '?')
		return 0;
	cs = buf + 2;
	enc = memchr(cs, '?', len - 2);
	if (enc == NULL || (size_t)(enc - buf) + 3 >= len || enc[2] != '?')
		return 0;
	text = enc + 3;
	end = NULL;
	for (const char *p = text; p + 1 < buf + len; p++) {
		p = memchr(p, '?', (size_t)(buf + len - p));
		if (p == NULL || p + 1 >= buf + len)
			break;
		if (p[1] == '=') {
			end = p;
			break;
		}
	}
	if (end == NULL) {
		*noend = 1;
		return 0;
	}
	tl = (size_t)(end - text);
	if (enc[1] != 'B' && enc[1] != 'b' && enc[1] != 'Q' && enc[1] != 'q')
		return 0;
	tmp = xmalloc(tl + 1);
	if (enc[1] == 'B' || enc[1] == 'b')
		n = base64_decode(text, tl, tmp, tl + 1);
	else {
		/* RFC 2047 4.2: '_' is a space; decoded in place */
		for (size_t k = 0; k < tl; k++)
			tmp[k] = text[k] == '_' ? ' ' : text[k];
		n = qp_decode(tmp, tl, tmp, tl);
	}
	{
		/* RFC 2231 language suffix "charset*lang" */
		const char *star = memchr(cs, '*', (size_t)(enc - cs));
		size_t cl = (size_t)((star ? star : enc) - cs);
		*written = charset_name_to_utf8(cs, cl, tmp, n, out, outlen);
	}
	free(tmp);
	return (size_t)(end + 2 - buf);
}

size_t
rfc2047_decode(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0, pending_ws = 0;
	int last_was_word = 0, noend = 0;

	while (i < len && o < outlen) {
		size_t w = 0, used = noend ? 0 :
		    encoded_word(buf + i, len - i, out + o, outlen - o, &w, &noend);
		if (used > 0) {
			if (last_was_word && pending_ws) {
				/* drop white space between encoded words: move the
				 * decoded text back over it */
				memmove(out + o - pending_ws, out + o, w);
				o -= pending_ws;
			}
			o += w;
			i += used;
			last_was_word = 1;
			pending_ws = 0;
			continue;
		}
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n') {
			out[o++] = buf[i] == '\r' || buf[i] == '\n' ? ' ' : buf[i];
			pending_ws++;
			i++;
			continue;
		}
		last_was_word = 0;
		pending_ws = 0;
		out[o++] = buf[i++];
	}
	return o;
}

static const struct { const char *name; unsigned long cp; } entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", ' ' }, { "period", '.' }, { "sol", '/' }, { "colon", ':' },
	{ "commat", '@' }, { "quest", '?' }, { "equals", '=' }, { "num", '#' },
	{ "percnt", '%' }, { "Tab", '\t' }, { "NewLine", '\n' }, { "hyphen", '-' },
	{ "lowbar", '_' }, { "plus", '+' }, { "excl", '!' }, { "dollar", '$' },
	{ "lpar", '(' }, { "rpar", ')' }, { "comma", ',' }, { "semi", ';' },
	{ "shy", 0xad }, { "zwj", 0x200d }, { "zwnj", 0x200c },
};

size_t
html_entities_decode(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	while (i < len && o < outlen) {
		if (buf[i] != '&') {
			/* the text up to the next '&' in one copy */
			const char *amp = memchr(buf + i, '&', len - i);
			size_t n = (amp ? (size_t)(amp - buf) : len) - i;
			if (n > outlen - o)
				n = outlen - o;
			memcpy(out + o, buf + i, n);
			o += n;
			i += n;
			continue;
		}
		if (i + 2 < len) {
			size_t j = i + 1;
			unsigned long cp = 0;
			int ok = 0;
			if (buf[j] == '#') {
				int hex = j + 1 < len && (buf[j + 1] == 'x' || buf[j + 1] == 'X');
				size_t k = j + 1 + (size_t)hex, digits = 0;
				for (; k < len && digits < 8; k++, digits++) {
					int v = hex ? hexval((unsigned char)buf[k]) :
					    (isdigit((unsigned char)buf[k]) ? buf[k] - '0' : -1);
					if (v < 0)
						break;
					cp = cp * (hex ? 16 : 10) + (unsigned long)v;
				}
				if (digits > 0) {
					ok = 1;
					j = k;
				}
			} else {
				for (size_t e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
					size_t nl = strlen(entities[e].name);
					if (j + nl <= len && memcmp(buf + j, entities[e].name, nl) == 0) {
						cp = entities[e].cp;
						j += nl;
						ok = 1;
						break;
					}
				}
			}
			if (ok) {
				size_t n;
				if (j < len && buf[j] == ';')
					j++;
				if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
					cp = '?';
				if ((n = utf8_put(cp, out + o, outlen - o)) == 0)
					break;
				o += n;
				i = j;
				continue;
			}
		}
		out[o++] = buf[i++];
	}
	return o;
}
