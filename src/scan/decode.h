/*
 * Content transfer decodings and text conversions the scanner needs to see
 * what a reader sees: quoted-printable, base64, RFC 2047 encoded words,
 * charsets to UTF-8, HTML character references. Pure and bounded: every
 * function reads at most len bytes and writes at most outlen bytes,
 * returning how many it wrote; malformed input is decoded leniently, as
 * mail readers do, never by reading past its end.
 */
#ifndef POSTERN_SCAN_DECODE_H
#define POSTERN_SCAN_DECODE_H

#include <stddef.h>

/* Quoted-printable (RFC 2045 6.7): "=XX", soft line breaks "=\r\n" and
 * "=\n" removed; an invalid "=" sequence is kept literally. */
size_t qp_decode(const char *buf, size_t len, char *out, size_t outlen);

/* Base64 (RFC 2045 6.8): characters outside the alphabet are skipped,
 * decoding stops at the first '=' padding. */
size_t base64_decode(const char *buf, size_t len, char *out, size_t outlen);

enum charset {
	CHARSET_UTF8 = 0,	/* also US-ASCII, and no charset at all */
	CHARSET_LATIN1,		/* ISO-8859-1 */
	CHARSET_CP1252,		/* windows-1252 */
	CHARSET_UTF16LE,
	CHARSET_UTF16BE,
	CHARSET_UTF16,		/* byte order from a BOM, else guessed */
	CHARSET_UTF32LE,
	CHARSET_UTF32BE,
	CHARSET_UTF32,		/* byte order from a BOM, else guessed */
	CHARSET_OTHER,		/* a name not above: charset_name_to_utf8 */
};

/* Maps a MIME charset name (any case, maybe quoted) to what we decode. */
enum charset charset_lookup(const char *name, size_t len);

/*
 * Converts text in charset cs to UTF-8 (CHARSET_OTHER: copied as is).
 * Invalid sequences become '?'.
 * UTF-16 and UTF-32 follow a byte order mark whatever the label says
 * (and drop it); without one, "UTF-16"/"UTF-32" take the order in which
 * the text's high octets are zero (ASCII-heavy mail), else big endian
 * (RFC 2781 4.3). Grows text at most threefold.
 */
size_t charset_to_utf8(enum charset cs, const char *buf, size_t len, char *out, size_t outlen);

/*
 * The same for a charset given by name (nlen octets): those of enum
 * charset here, any other iconv(3) knows through it (KOI8-R, Shift_JIS,
 * ISO-2022-JP, UTF-7...); one nobody knows is copied as is, since URLs
 * are ASCII in every ASCII-compatible charset.
 */
size_t charset_name_to_utf8(const char *name, size_t nlen, const char *buf, size_t len,
    char *out, size_t outlen);

/* Decodes RFC 2047 encoded words in a header value, into UTF-8; white
 * space between adjacent encoded words is dropped (RFC 2047 6.2). */
size_t rfc2047_decode(const char *buf, size_t len, char *out, size_t outlen);

/* Decodes HTML character references (&amp; &#46; &#x2e; and the named
 * ones that matter for URLs) into UTF-8. */
size_t html_entities_decode(const char *buf, size_t len, char *out, size_t outlen);

/* Appends the UTF-8 form of code point cp; returns octets written (0 when
 * it does not fit or cp is invalid). */
size_t utf8_put(unsigned long cp, char *out, size_t outlen);

#endif
