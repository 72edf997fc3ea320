/*
 * JSON string escaping with UTF-8 validation (RFC 8259 section 7).
 */
#include "json.h"

#include <string.h>

/* Length of a valid UTF-8 sequence at p (at most n bytes), or 0. */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned long cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void
json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : ""), *run;
	size_t n = strlen((const char *)p);

	/* octets that need nothing go out in runs, one call each: `postern
	 * scan --json` prints thousands of strings, and a call per octet,
	 * each taking the stream's lock, cost more than the scan itself */
	fputc('"', f);
	run = p;
	while (n > 0) {
		size_t l;
		if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
			p++, n--;
			continue;
		}
		if (*p >= 0x80 && (l = utf8_len(p, n)) != 0) {
			p += l, n -= l;
			continue;
		}
		if (p > run)
			fwrite(run, 1, (size_t)(p - run), f);
		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p, f);
		} else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputs("\\ufffd", f);
		p++, n--;
		run = p;
	}
	if (p > run)
		fwrite(run, 1, (size_t)(p - run), f);
	fputc('"', f);
}
