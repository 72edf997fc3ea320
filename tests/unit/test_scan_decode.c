/*
 * Table tests for the scanner's decoders (src/scan/decode.h):
 * quoted-printable, base64, charsets to UTF-8 (Latin-1, windows-1252,
 * UTF-16 and UTF-32 with and without a BOM, the others through iconv),
 * RFC 2047 encoded words and HTML
 * character references. Each case names the decoder, its input and the
 * exact UTF-8 it must produce.
 */
#include "unit.h"

#include "scan/decode.h"

enum dec_fn {
	D_QP, D_B64, D_2047, D_HTML, D_LATIN1, D_CP1252, D_U16LE, D_U16BE, D_U16, D_U32LE,
	D_U32BE, D_U32, D_KOI8R, D_UTF7, D_SJIS, D_2022JP, D_UNKNOWN,
};

static const char *const fn_names[] = {
	"qp", "base64", "rfc2047", "html", "latin1", "cp1252", "utf16le", "utf16be", "utf16",
	"utf32le", "utf32be", "utf32", "koi8-r", "utf-7", "shift_jis", "iso-2022-jp",
	"x-unknown",
};

struct dec_case {
	enum dec_fn fn;
	const char *in;
	size_t inlen;
	const char *want;
	size_t wantlen;
};

static const struct dec_case dec_cases[] = {
	/* ---- quoted-printable (RFC 2045 6.7) ---- */
	{ D_QP, S("plain text"), S("plain text") },
	{ D_QP, S("a=3Db"), S("a=b") },
	{ D_QP, S("caf=E9"), S("caf\xe9") },
	{ D_QP, S("lower=e9case"), S("lower\xe9" "case") },
	{ D_QP, S("soft=\r\nbreak"), S("softbreak") },
	{ D_QP, S("soft=\nbreak"), S("softbreak") },
	/* white space between '=' and the line end is transport padding */
	{ D_QP, S("soft=  \r\nbreak"), S("softbreak") },
	{ D_QP, S("soft=\t\nbreak"), S("softbreak") },
	{ D_QP, S("hard\r\nbreak"), S("hard\r\nbreak") },
	{ D_QP, S("http://exa=\r\nmple.com/"), S("http://example.com/") },
	{ D_QP, S("href=3D\"http://a.example/\""), S("href=\"http://a.example/\"") },
	/* invalid sequences are kept literally */
	{ D_QP, S("bad=ZZ"), S("bad=ZZ") },
	{ D_QP, S("bad=Z9x"), S("bad=Z9x") },
	{ D_QP, S("half=4"), S("half=4") },
	{ D_QP, S("=G0"), S("=G0") },
	/* a trailing '=' is a soft break of the last line */
	{ D_QP, S("trail="), S("trail") },
	{ D_QP, S("trail=  "), S("trail") },
	{ D_QP, S("=41=42=43"), S("ABC") },
	{ D_QP, S("=00nul"), "\0nul", 4 },
	{ D_QP, S(""), S("") },

	/* ---- base64 (RFC 2045 6.8) ---- */
	{ D_B64, S("aGVsbG8="), S("hello") },
	{ D_B64, S("aGVsbG8"), S("hello") },
	{ D_B64, S("SGk="), S("Hi") },
	{ D_B64, S("SA=="), S("H") },
	{ D_B64, S("SGk"), S("Hi") },
	{ D_B64, S("aGVs\r\nbG8=\r\n"), S("hello") },
	{ D_B64, S("aGVs\nbG8=\n"), S("hello") },
	{ D_B64, S("  aG Vs\tbG8= "), S("hello") },
	/* characters outside the alphabet are skipped */
	{ D_B64, S("aG!V*s#bG~8"), S("hello") },
	/* decoding stops at the padding */
	{ D_B64, S("SGk=SGk="), S("Hi") },
	{ D_B64, S("=aGVsbG8"), S("") },
	{ D_B64, S("VmlzaXQgaHR0cDovL2V2aWwuZXhhbXBsZS8gbm93"),
	    S("Visit http://evil.example/ now") },
	{ D_B64, S("Y2Fmw6k="), S("caf\xc3\xa9") },
	{ D_B64, S("////"), S("\xff\xff\xff") },
	{ D_B64, S("S"), S("") },
	{ D_B64, S(""), S("") },

	/* ---- Latin-1 and windows-1252 ---- */
	{ D_LATIN1, S("caf\xe9"), S("caf\xc3\xa9") },
	{ D_LATIN1, S("Gr\xfc\xdf" "e"), S("Gr\xc3\xbc\xc3\x9f" "e") },
	{ D_LATIN1, S("\x80\xff"), S("\xc2\x80\xc3\xbf") },
	{ D_LATIN1, S("ascii"), S("ascii") },
	{ D_CP1252, S("\x80 5"), S("\xe2\x82\xac 5") },
	{ D_CP1252, S("\x93quoted\x94"), S("\xe2\x80\x9cquoted\xe2\x80\x9d") },
	{ D_CP1252, S("it\x92s"), S("it\xe2\x80\x99s") },
	{ D_CP1252, S("\x85"), S("\xe2\x80\xa6") },
	/* 0x81 is undefined in windows-1252 */
	{ D_CP1252, S("a\x81" "b"), S("a?b") },
	{ D_CP1252, S("caf\xe9"), S("caf\xc3\xa9") },

	/* ---- UTF-16 ---- */
	{ D_U16LE, S("h\0i\0"), S("hi") },
	{ D_U16LE, S("\xe9\0"), S("\xc3\xa9") },
	{ D_U16LE, S("\xac\x20"), S("\xe2\x82\xac") },
	{ D_U16BE, S("\0h\0i"), S("hi") },
	{ D_U16BE, S("\x20\xac"), S("\xe2\x82\xac") },
	/* surrogate pair: U+1F600 */
	{ D_U16BE, S("\xd8\x3d\xde\x00"), S("\xf0\x9f\x98\x80") },
	{ D_U16LE, S("\x3d\xd8\x00\xde"), S("\xf0\x9f\x98\x80") },
	/* lone surrogates are invalid */
	{ D_U16BE, S("\xdc\x00\0a"), S("?a") },
	{ D_U16BE, S("\xd8\x3d\0a"), S("?a") },
	/* an odd final octet is dropped */
	{ D_U16BE, S("\0a\0"), S("a") },
	/* "UTF-16": byte order from the BOM, which is not copied */
	{ D_U16, S("\xff\xfeh\0i\0"), S("hi") },
	{ D_U16, S("\xfe\xff\0h\0i"), S("hi") },
	{ D_U16, S("\0h\0i"), S("hi") },
	{ D_U16,
	    S("\xff\xfeh\x00\xe9\x00l\x00l\x00o\x00 \x00h\x00t\x00t\x00p\x00:\x00/\x00/\x00"
	      "b\x00\xfc\x00" "c\x00h\x00" "e\x00r\x00.\x00" "e\x00x\x00" "a\x00m\x00p\x00l\x00"
	      "e\x00/\x00"),
	    S("h\xc3\xa9llo http://b\xc3\xbc" "cher.example/") },

	/* without a BOM, "UTF-16" takes the order whose high octets are
	 * zero: mail sent as UTF-16LE but labelled "UTF-16" (SPEC 5.1) */
	{ D_U16, S("h\0t\0t\0p\0:\0/\0/\0x\0.\0t\0e\0s\0t\0"), S("http://x.test") },
	{ D_U16, S("\0h\0t\0t\0p"), S("http") },
	/* a BOM decides whatever the label, and is not copied */
	{ D_U16LE, S("\xff\xfeh\0i\0"), S("hi") },
	{ D_U16BE, S("\xfe\xff\0h\0i"), S("hi") },
	{ D_U16LE, S("\xfe\xff\0h\0i"), S("hi") },
	/* a lone surrogate or a cut unit */
	{ D_U16BE, S("\xd8\x3d\0a"), S("?a") },
	{ D_U16BE, S("\0a\0"), S("a") },
	/* UTF-32 */
	{ D_U32LE, S("h\0\0\0i\0\0\0"), S("hi") },
	{ D_U32BE, S("\0\0\0h\0\0\0i"), S("hi") },
	{ D_U32BE, S("\0\x01\xf6\0"), S("\xf0\x9f\x98\x80") },
	{ D_U32, S("\xff\xfe\0\0h\0\0\0i\0\0\0"), S("hi") },
	{ D_U32, S("\0\0\xfe\xff\0\0\0h\0\0\0i"), S("hi") },
	{ D_U32, S("w\0\0\0w\0\0\0w\0\0\0.\0\0\0x\0\0\0"), S("www.x") },
	{ D_U32, S("\0\0\0w\0\0\0w"), S("ww") },
	/* beyond U+10FFFF, surrogates: invalid */
	{ D_U32BE, S("\0\x11\0\0\0\0\xd8\0\0\0\0a"), S("??a") },
	{ D_U32LE, S("a\0\0\0b\0"), S("a") },
	/* ---- other charsets, through iconv ---- */
	{ D_KOI8R, S("\xd0\xd2\xc9\xcd\xc5\xd2.\xd2\xc6"),
	    S("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84") },
	{ D_UTF7, S("see +AGgAdAB0AHAAOgAvAC8-x.test"), S("see http://x.test") },
	{ D_SJIS, S("\x82\xa0 http://x.test/"), S("\xe3\x81\x82 http://x.test/") },
	{ D_2022JP, S("\x1b$B$\"\x1b(B http://x.test/"), S("\xe3\x81\x82 http://x.test/") },
	/* an invalid octet becomes '?', the rest is converted */
	{ D_SJIS, S("a\x80" "b"), S("a?b") },
	/* a charset nobody knows: copied, ASCII structure intact */
	{ D_UNKNOWN, S("http://x.test/ \xff"), S("http://x.test/ \xff") },

	/* ---- RFC 2047 encoded words ---- */
	{ D_2047, S("plain subject"), S("plain subject") },
	{ D_2047, S("=?ISO-8859-1?Q?caf=E9?="), S("caf\xc3\xa9") },
	{ D_2047, S("=?iso-8859-1?q?caf=E9?="), S("caf\xc3\xa9") },
	{ D_2047, S("=?UTF-8?Q?caf=C3=A9?="), S("caf\xc3\xa9") },
	{ D_2047, S("=?UTF-8?B?Y2Fmw6k=?="), S("caf\xc3\xa9") },
	{ D_2047, S("=?utf-8?b?Y2Fmw6k=?="), S("caf\xc3\xa9") },
	{ D_2047, S("=?ISO-8859-1?B?R3L832U=?="), S("Gr\xc3\xbc\xc3\x9f" "e") },
	{ D_2047, S("=?windows-1252?Q?=93hi=94?="), S("\xe2\x80\x9chi\xe2\x80\x9d") },
	/* '_' is a space in Q words (RFC 2047 4.2) */
	{ D_2047, S("=?UTF-8?Q?hello_world?="), S("hello world") },
	{ D_2047, S("=?UTF-8?Q?a=5Fb?="), S("a_b") },
	/* white space between adjacent encoded words is dropped (6.2) */
	{ D_2047, S("=?UTF-8?Q?a?= =?UTF-8?Q?b?="), S("ab") },
	{ D_2047, S("=?UTF-8?Q?a?=   =?UTF-8?Q?b?="), S("ab") },
	{ D_2047, S("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?="), S("ab") },
	{ D_2047, S("=?UTF-8?Q?a?=\n\t=?ISO-8859-1?Q?=E9?="), S("a\xc3\xa9") },
	{ D_2047, S("=?UTF-8?B?aHR0cDovL2V2?= =?UTF-8?B?aWwuZXhhbXBsZS8=?="),
	    S("http://evil.example/") },
	/* any charset iconv knows */
	{ D_2047, S("=?KOI8-R?B?0NLJzcXS?="), S("\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80") },
	{ D_2047, S("=?UTF-16?B?AGgAdAB0AHAAOgAvAC8AeAAuAHQAZQBzAHQ=?="), S("http://x.test") },
	/* a name iconv might take for options is no charset */
	{ D_2047, S("=?UTF-8//TRANSLIT?Q?a?="), S("a") },
	/* but kept around ordinary text */
	{ D_2047, S("Re: =?UTF-8?Q?caf=C3=A9?= ok"), S("Re: caf\xc3\xa9 ok") },
	{ D_2047, S("=?UTF-8?Q?a?= b =?UTF-8?Q?c?="), S("a b c") },
	/* RFC 2231 language suffix */
	{ D_2047, S("=?ISO-8859-1*fr?Q?caf=E9?="), S("caf\xc3\xa9") },
	{ D_2047, S("=?UTF-8?B?VmlzaXQgaHR0cDovL2V2aWwuZXhhbXBsZS8gbm93?="),
	    S("Visit http://evil.example/ now") },
	/* not encoded words: kept as they are */
	{ D_2047, S("=?UTF-8?X?abc?="), S("=?UTF-8?X?abc?=") },
	{ D_2047, S("=?UTF-8?Q?unterminated"), S("=?UTF-8?Q?unterminated") },
	{ D_2047, S("a =? b"), S("a =? b") },
	{ D_2047, S("=?UTF-8?Q?" "?="), S("") },
	{ D_2047, S(""), S("") },

	/* ---- HTML character references ---- */
	{ D_HTML, S("no refs"), S("no refs") },
	{ D_HTML, S("&amp;"), S("&") },
	{ D_HTML, S("&lt;a&gt;"), S("<a>") },
	{ D_HTML, S("&quot;x&quot; &apos;y&apos;"), S("\"x\" 'y'") },
	{ D_HTML, S("a&nbsp;b"), S("a b") },
	{ D_HTML, S("&#46;"), S(".") },
	{ D_HTML, S("&#x2F;"), S("/") },
	{ D_HTML, S("&#x2f;"), S("/") },
	{ D_HTML, S("&#X2F;"), S("/") },
	{ D_HTML, S("&#x2e"), S(".") },
	{ D_HTML, S("&#46x"), S(".x") },
	{ D_HTML, S("&#0046;"), S(".") },
	{ D_HTML, S("http&#58;&#47;&#47;evil&#46;example&#x2F;"), S("http://evil.example/") },
	{ D_HTML, S("&#104;&#116;&#116;&#112;://x&period;example&sol;"), S("http://x.example/") },
	{ D_HTML, S("a&#x0A;b&#x09;c&#13;d"), S("a\nb\tc\rd") },
	{ D_HTML, S("&#233;"), S("\xc3\xa9") },
	{ D_HTML, S("&#x20AC;"), S("\xe2\x82\xac") },
	{ D_HTML, S("&#x1F600;"), S("\xf0\x9f\x98\x80") },
	{ D_HTML, S("&commat;&colon;&quest;&equals;"), S("@:?=") },
	/* NUL and out-of-range references are invalid, not terminators */
	{ D_HTML, S("a&#0;b"), S("a?b") },
	{ D_HTML, S("a&#x110000;b"), S("a?b") },
	/* a surrogate code point is invalid too; the rest must still be
	 * decoded (HTML5 replaces it, the decoder writes '?') */
	{ D_HTML, S("a&#xD800;b"), S("a?b") },
	{ D_HTML, S("&#xDFFF;http&#58;//x.example/"), S("?http://x.example/") },
	/* unknown or incomplete references are kept literally */
	{ D_HTML, S("&bogus;"), S("&bogus;") },
	{ D_HTML, S("&#;"), S("&#;") },
	{ D_HTML, S("&#x;"), S("&#x;") },
	{ D_HTML, S("a&"), S("a&") },
	{ D_HTML, S("&a"), S("&a") },
	{ D_HTML, S("AT&T"), S("AT&T") },
	{ D_HTML, S(""), S("") },
};

static size_t
run_dec(enum dec_fn fn, const char *in, size_t inlen, char *out, size_t outlen)
{
	switch (fn) {
	case D_QP: return qp_decode(in, inlen, out, outlen);
	case D_B64: return base64_decode(in, inlen, out, outlen);
	case D_2047: return rfc2047_decode(in, inlen, out, outlen);
	case D_HTML: return html_entities_decode(in, inlen, out, outlen);
	case D_LATIN1: return charset_to_utf8(CHARSET_LATIN1, in, inlen, out, outlen);
	case D_CP1252: return charset_to_utf8(CHARSET_CP1252, in, inlen, out, outlen);
	case D_U16LE: return charset_to_utf8(CHARSET_UTF16LE, in, inlen, out, outlen);
	case D_U16BE: return charset_to_utf8(CHARSET_UTF16BE, in, inlen, out, outlen);
	case D_U16: return charset_to_utf8(CHARSET_UTF16, in, inlen, out, outlen);
	case D_U32LE: return charset_to_utf8(CHARSET_UTF32LE, in, inlen, out, outlen);
	case D_U32BE: return charset_to_utf8(CHARSET_UTF32BE, in, inlen, out, outlen);
	case D_U32: return charset_to_utf8(CHARSET_UTF32, in, inlen, out, outlen);
	case D_KOI8R:
	case D_UTF7:
	case D_SJIS:
	case D_2022JP:
	case D_UNKNOWN:
		return charset_name_to_utf8(fn_names[fn], strlen(fn_names[fn]), in, inlen, out,
		    outlen);
	}
	return 0;
}

static void
test_decode_table(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(dec_cases); i++) {
		const struct dec_case *c = &dec_cases[i];
		/* an exactly-sized input copy, so an over-read is seen by ASan */
		char *in = malloc(c->inlen ? c->inlen : 1);
		char out[1024];
		size_t n;

		memcpy(in, c->in, c->inlen);
		n = run_dec(c->fn, in, c->inlen, out, sizeof(out));
		CASE_CHECK(bad, n == c->wantlen && memcmp(out, c->want, n) == 0, i,
		    "%s(\"%s\"): got \"%s\"", fn_names[c->fn], unit_show(c->in, c->inlen),
		    unit_show(out, n));
		free(in);
	}
	assert_int_equal(bad, 0);
}

/* Output caps: never more than outlen octets, never a split UTF-8
 * sequence from the converters. */
static void
test_decode_caps(void **state)
{
	char out[16];
	size_t n;

	memset(out, 'X', sizeof(out));
	n = qp_decode(S("=41=42=43=44"), out, 2);
	assert_int_equal(n, 2);
	assert_memory_equal(out, "AB", 2);
	assert_int_equal(out[2], 'X');

	memset(out, 'X', sizeof(out));
	n = base64_decode(S("aGVsbG8="), out, 3);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "hel", 3);
	assert_int_equal(out[3], 'X');

	/* "éé" is 4 octets in UTF-8: 3 octets hold only one */
	memset(out, 'X', sizeof(out));
	n = charset_to_utf8(CHARSET_LATIN1, S("\xe9\xe9"), out, 3);
	assert_int_equal(n, 2);
	assert_int_equal(out[2], 'X');

	memset(out, 'X', sizeof(out));
	n = charset_to_utf8(CHARSET_UTF16BE, S("\x20\xac\x20\xac"), out, 4);
	assert_int_equal(n, 3);
	assert_int_equal(out[3], 'X');

	memset(out, 'X', sizeof(out));
	n = charset_to_utf8(CHARSET_UTF8, S("abcdef"), out, 4);
	assert_int_equal(n, 4);
	assert_int_equal(out[4], 'X');

	memset(out, 'X', sizeof(out));
	n = html_entities_decode(S("&#x20AC;&#x20AC;"), out, 4);
	assert_int_equal(n, 3);
	assert_int_equal(out[3], 'X');

	memset(out, 'X', sizeof(out));
	n = rfc2047_decode(S("=?UTF-8?Q?abcdef?="), out, 4);
	assert_true(n <= 4);
	assert_int_equal(out[4], 'X');

	n = qp_decode(S("abc"), out, 0);
	assert_int_equal(n, 0);
}

struct cs_case {
	const char *name;
	size_t len;
	enum charset want;
};

static const struct cs_case cs_cases[] = {
	{ S("utf-8"), CHARSET_UTF8 },
	{ S("UTF-8"), CHARSET_UTF8 },
	{ S("utf8"), CHARSET_UTF8 },
	{ S("us-ascii"), CHARSET_UTF8 },
	{ S("\"UTF-8\""), CHARSET_UTF8 },
	{ S("ISO-8859-1"), CHARSET_LATIN1 },
	{ S("iso-8859-1"), CHARSET_LATIN1 },
	{ S("\"iso-8859-1\""), CHARSET_LATIN1 },
	{ S("latin1"), CHARSET_LATIN1 },
	{ S("Latin-1"), CHARSET_LATIN1 },
	{ S("iso-8859-15"), CHARSET_LATIN1 },
	{ S("windows-1252"), CHARSET_CP1252 },
	{ S("Windows-1252"), CHARSET_CP1252 },
	{ S("cp1252"), CHARSET_CP1252 },
	{ S("UTF-16LE"), CHARSET_UTF16LE },
	{ S("utf-16be"), CHARSET_UTF16BE },
	{ S("UTF-16"), CHARSET_UTF16 },
	{ S("ucs-2"), CHARSET_UTF16 },
	{ S("UTF-32"), CHARSET_UTF32 },
	{ S("utf-32le"), CHARSET_UTF32LE },
	{ S("UTF-32BE"), CHARSET_UTF32BE },
	/* the others go by name (charset_name_to_utf8, iconv) */
	{ S("koi8-r"), CHARSET_OTHER },
	{ S("x-unknown"), CHARSET_OTHER },
	/* none at all is US-ASCII (RFC 2045 5.2) */
	{ S(""), CHARSET_UTF8 },
	{ S("\"\""), CHARSET_UTF8 },
	/* prefixes are no match */
	{ S("utf-16l"), CHARSET_OTHER },
	{ S("iso-8859-1x"), CHARSET_OTHER },
};

static void
test_charset_lookup(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cs_cases); i++) {
		const struct cs_case *c = &cs_cases[i];
		enum charset got = charset_lookup(c->name, c->len);
		CASE_CHECK(bad, got == c->want, i, "\"%s\": got %d want %d", c->name, (int)got,
		    (int)c->want);
	}
	/* only len octets are read */
	assert_int_equal(charset_lookup("latin1-garbage", 6), CHARSET_LATIN1);
	assert_int_equal(bad, 0);
}

struct u8_case {
	unsigned long cp;
	size_t outlen;
	const char *want;
	size_t wantlen;
};

static const struct u8_case u8_cases[] = {
	{ 0x41, 4, S("A") },
	{ 0xe9, 4, S("\xc3\xa9") },
	{ 0x7ff, 4, S("\xdf\xbf") },
	{ 0x800, 4, S("\xe0\xa0\x80") },
	{ 0x20ac, 4, S("\xe2\x82\xac") },
	{ 0xffff, 4, S("\xef\xbf\xbf") },
	{ 0x10000, 4, S("\xf0\x90\x80\x80") },
	{ 0x1f600, 4, S("\xf0\x9f\x98\x80") },
	{ 0x10ffff, 4, S("\xf4\x8f\xbf\xbf") },
	/* invalid code points */
	{ 0xd800, 4, S("") },
	{ 0xdfff, 4, S("") },
	{ 0x110000, 4, S("") },
	/* no room */
	{ 0x41, 0, S("") },
	{ 0xe9, 1, S("") },
	{ 0x20ac, 2, S("") },
	{ 0x1f600, 3, S("") },
};

static void
test_utf8_put(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(u8_cases); i++) {
		const struct u8_case *c = &u8_cases[i];
		char out[8];
		size_t n;

		memset(out, 'X', sizeof(out));
		n = utf8_put(c->cp, out, c->outlen);
		CASE_CHECK(bad, n == c->wantlen && memcmp(out, c->want, n) == 0 &&
		    out[c->outlen] == 'X', i, "U+%04lX in %zu: got \"%s\"", c->cp, c->outlen,
		    unit_show(out, n));
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_decode_caps),
		cmocka_unit_test(test_charset_lookup),
		cmocka_unit_test(test_utf8_put),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
