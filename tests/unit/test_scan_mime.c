/*
 * Table tests for the MIME walker (src/scan/mime.h): header iteration,
 * unfolding and parameters, then whole messages: each case lists the
 * leaf parts expected ("type/subtype enc charset [A]" and the decoded
 * body) and the stats flags. Messages are written with CRLF; every case
 * is also run with bare LF line ends, which must give the same parts.
 */
#include "unit.h"

#include "scan/mime.h"

/* ---- header helpers ---- */

static void
test_header_next(void **state)
{
	static const char hdrs[] = "Subject: hello\r\n"
	    "To: a@example.test,\r\n b@example.test\r\n"
	    "not a header line\r\n"
	    "X-Empty:\r\n"
	    "Content-Type : text/plain\r\n"
	    ": no name\r\n"
	    "\r\n"
	    "Body: not a header\r\n";
	static const struct { const char *name, *value; } want[] = {
		{ "Subject", " hello\r\n" },
		{ "To", " a@example.test,\r\n b@example.test\r\n" },
		{ "X-Empty", "\r\n" },
		{ "Content-Type", " text/plain\r\n" },
	};
	char *buf = malloc(sizeof(hdrs) - 1);
	size_t pos = 0, nl, vl, k = 0;
	const char *name, *value;

	memcpy(buf, hdrs, sizeof(hdrs) - 1);
	while (mime_header_next(buf, sizeof(hdrs) - 1, &pos, &name, &nl, &value, &vl)) {
		assert_true(k < NELEM(want));
		assert_int_equal(nl, strlen(want[k].name));
		assert_memory_equal(name, want[k].name, nl);
		assert_int_equal(vl, strlen(want[k].value));
		assert_memory_equal(value, want[k].value, vl);
		assert_true(value >= buf && value + vl <= buf + sizeof(hdrs) - 1);
		k++;
	}
	assert_int_equal(k, NELEM(want));
	free(buf);

	/* no final line end, no empty line */
	{
		static const char h2[] = "A: 1\nB: 2";
		buf = malloc(sizeof(h2) - 1);
		memcpy(buf, h2, sizeof(h2) - 1);
		pos = k = 0;
		while (mime_header_next(buf, sizeof(h2) - 1, &pos, &name, &nl, &value, &vl))
			k++;
		assert_int_equal(k, 2);
		assert_int_equal(vl, 2);
		assert_memory_equal(value, " 2", 2);
		free(buf);
	}
	/* an empty block */
	pos = 0;
	assert_false(mime_header_next("", 0, &pos, &name, &nl, &value, &vl));
	pos = 0;
	assert_false(mime_header_next("\r\nA: 1\r\n", 8, &pos, &name, &nl, &value, &vl));
}

struct hend_case {
	const char *msg;
	size_t want;
};

static const struct hend_case hend_cases[] = {
	{ "A: 1\r\n\r\nbody", 8 },
	{ "A: 1\n\nbody", 6 },
	{ "A: 1\r\nB: 2\r\n continued\r\n\r\nbody\r\n\r\nmore", 26 },
	{ "\r\nbody", 2 },
	{ "\nbody", 1 },
	{ "A: 1\r\nB: 2\r\n", 12 },
	{ "A: 1", 4 },
	{ "", 0 },
};

static void
test_header_end(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(hend_cases); i++) {
		size_t len = strlen(hend_cases[i].msg);
		char *buf = malloc(len ? len : 1);
		size_t got;

		memcpy(buf, hend_cases[i].msg, len);
		got = mime_header_end(buf, len);
		CASE_CHECK(bad, got == hend_cases[i].want, i, "\"%s\": got %zu",
		    unit_show(hend_cases[i].msg, len), got);
		free(buf);
	}
	assert_int_equal(bad, 0);
}

static void
test_unfold_find(void **state)
{
	static const char hdrs[] = "Subject: first\r\n"
	    "content-TYPE: multipart/mixed;\r\n\tboundary=\"b1\"\r\n"
	    "Subject: second\r\n\r\n";
	char out[128];
	const char *v;
	size_t vl, n;

	n = mime_unfold(S("  value\r\n\tcontinued  \r\n"), out, sizeof(out));
	assert_int_equal(n, strlen("value\tcontinued"));
	assert_memory_equal(out, "value\tcontinued", n);
	n = mime_unfold(S(" a\r\n b"), out, 3);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "a b", 3);
	assert_int_equal(mime_unfold(S("   \r\n  "), out, sizeof(out)), 0);

	assert_true(mime_header_find(hdrs, sizeof(hdrs) - 1, "subject", &v, &vl));
	n = mime_unfold(v, vl, out, sizeof(out));
	assert_memory_equal(out, "first", n);
	assert_true(mime_header_find(hdrs, sizeof(hdrs) - 1, "Content-Type", &v, &vl));
	assert_true(mime_param(v, vl, "boundary", out, sizeof(out)));
	assert_string_equal(out, "b1");
	assert_false(mime_header_find(hdrs, sizeof(hdrs) - 1, "Content", &v, &vl));
	assert_false(mime_header_find(hdrs, sizeof(hdrs) - 1, "From", &v, &vl));
}

struct param_case {
	const char *value;
	const char *param;
	const char *want;	/* NULL: absent */
};

static const struct param_case param_cases[] = {
	{ "text/html; charset=\"UTF-8\"", "charset", "UTF-8" },
	{ "text/html; charset=utf-8", "charset", "utf-8" },
	{ "text/html;charset=utf-8", "charset", "utf-8" },
	{ "text/html; CHARSET = iso-8859-1 ; format=flowed", "charset", "iso-8859-1" },
	{ "text/plain; format=flowed; charset=us-ascii", "charset", "us-ascii" },
	{ "multipart/mixed; boundary=\"----=_Part_0_12345.67890\"", "boundary",
	    "----=_Part_0_12345.67890" },
	{ "multipart/mixed; boundary=\"a b\"", "boundary", "a b" },
	{ "multipart/mixed; boundary=\"q\\\"uote\"", "boundary", "q\"uote" },
	{ "multipart/mixed;\r\n\tboundary=\"folded\"", "boundary", "folded" },
	{ "multipart/mixed; boundary=abc; charset=x", "boundary", "abc" },
	/* a parameter whose name only starts like ours is another one */
	{ "text/plain; charsetx=bad; charset=good", "charset", "good" },
	{ "text/plain; xcharset=bad", "charset", NULL },
	{ "text/plain", "charset", NULL },
	{ "text/plain; charset", "charset", NULL },
	{ "text/plain; charset=", "charset", NULL },
	{ "text/plain; charset=\"\"", "charset", NULL },
	{ "", "charset", NULL },
};

static void
test_param(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(param_cases); i++) {
		const struct param_case *c = &param_cases[i];
		size_t len = strlen(c->value);
		char *buf = malloc(len ? len : 1), out[80];
		bool ok;

		memcpy(buf, c->value, len);
		strcpy(out, "(untouched)");
		ok = mime_param(buf, len, c->param, out, sizeof(out));
		if (c->want == NULL)
			CASE_CHECK(bad, !ok, i, "\"%s\" %s: found \"%s\"", unit_show(c->value, len),
			    c->param, out);
		else
			CASE_CHECK(bad, ok && strcmp(out, c->want) == 0, i, "\"%s\" %s: got %s \"%s\"",
			    unit_show(c->value, len), c->param, ok ? "ok" : "none", out);
		free(buf);
	}
	/* a small buffer is filled and terminated */
	{
		char out[4];
		assert_true(mime_param(S("a/b; boundary=abcdef"), "boundary", out, sizeof(out)));
		assert_int_equal(strlen(out), 3);
	}
	assert_int_equal(bad, 0);
}

/* ---- whole messages ---- */

#define MAX_PARTS 16

struct want_part {
	const char *desc;	/* "type/subtype ENC CHARSET" plus " A" if attachment */
	const char *body;	/* decoded (NULL: not checked) */
	int depth;		/* -1: not checked */
};

struct msg_case {
	const char *what;
	const char *msg;
	unsigned nparts;
	struct want_part parts[MAX_PARTS];
	bool malformed, depth_exceeded, parts_exceeded;
};

/* a 100-character boundary */
#define LONG_B "0123456789012345678901234567890123456789" \
	"012345678901234567890123456789012345678901234567890123456789"
#define HDR "From: a@example.org\r\nTo: b@example.test\r\nSubject: t\r\nMIME-Version: 1.0\r\n"

static const struct msg_case msg_cases[] = {
	{ "single text", HDR "\r\nHello\r\nworld\r\n", 1,
	    { { "text/plain 7bit utf8", "Hello\r\nworld\r\n", 0 } }, false, false, false },
	{ "no content-type, no body", HDR "\r\n", 1,
	    { { "text/plain 7bit utf8", "", 0 } }, false, false, false },
	{ "html latin1 qp", HDR "Content-Type: text/html; charset=\"ISO-8859-1\"\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	  "<a href=3D\"http://exa=\r\nmple.com/\">caf=E9</a>\r\n", 1,
	    { { "text/html qp latin1", "<a href=\"http://example.com/\">caf\xc3\xa9</a>\r\n", 0 } },
	    false, false, false },
	{ "alternative", HDR "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
	  "This is a preamble.\r\n"
	  "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplain http://a.example.com/\r\n"
	  "--b1\r\nContent-Type: text/html; charset=utf-8\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n"
	  "PGEgaHJlZj0iaHR0cDovL2IuZXhhbXBsZS5jb20vIj5ncmVhdDwvYT4=\r\n"
	  "--b1--\r\nThis is the epilogue.\r\n", 2,
	    { { "text/plain 7bit utf8", "plain http://a.example.com/", 1 },
	      { "text/html base64 utf8", "<a href=\"http://b.example.com/\">great</a>", 1 } },
	    false, false, false },
	{ "nested with attachment", HDR "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
	  "--outer\r\nContent-Type: multipart/alternative; boundary=\"inner\"\r\n\r\n"
	  "--inner\r\nContent-Type: text/plain\r\n\r\ntext part\r\n"
	  "--inner\r\nContent-Type: text/html\r\n\r\n<p>html part</p>\r\n"
	  "--inner--\r\n"
	  "--outer\r\nContent-Type: application/pdf; name=\"x.pdf\"\r\n"
	  "Content-Disposition: attachment; filename=\"x.pdf\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
	  "--outer\r\nContent-Type: text/plain; name=\"notes.txt\"\r\n"
	  "Content-Disposition: ATTACHMENT; filename=\"notes.txt\"\r\n\r\nattached text\r\n"
	  "--outer--\r\n", 4,
	    { { "text/plain 7bit utf8", "text part", 2 }, { "text/html 7bit utf8", "<p>html part</p>", 2 },
	      { "application/pdf base64 utf8 A", "%PDF-1.4\n", 1 },
	      { "text/plain 7bit utf8 A", "attached text", 1 } },
	    false, false, false },
	{ "message/rfc822", HDR "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
	  "--m\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
	  "--m\r\nContent-Type: message/rfc822\r\n\r\n"
	  "From: x@example.net\r\nSubject: inner\r\n"
	  "Content-Type: text/plain; charset=iso-8859-1\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\ninner caf=E9\r\n"
	  "--m--\r\n", 2,
	    { { "text/plain 7bit utf8", "see attached", 1 },
	      { "text/plain qp latin1", "inner caf\xc3\xa9", 2 } },
	    false, false, false },
	{ "utf-16 base64", HDR "Content-Type: text/plain; charset=\"utf-16\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n"
	  "//5oAOkAbABsAG8AIABoAHQAdABwADoALwAvAGIA/ABjAGgAZQByAC4AZQB4AGEAbQBwAGwAZQAv\r\n"
	  "AA==\r\n", 1,
	    { { "text/plain base64 utf16", "h\xc3\xa9llo http://b\xc3\xbc" "cher.example/", 0 } },
	    false, false, false },
	/* SPEC 5.1: UTF-16/32, with or without BOM */
	{ "utf-16le labelled utf-16, no BOM", HDR "Content-Type: text/plain; charset=\"utf-16\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\ncwBlAGUAIABoAHQAdABwADoALwAvAHcAdwB3AC4AYgBhAGQAcwBwAGEAbQAuAHQAZQBzAHQALwA=\r\n", 1,
	    { { "text/plain base64 utf16", "see http://www.badspam.test/", 0 } }, false, false, false },
	/* SPEC 5.1: UTF-16/32, with or without BOM */
	{ "utf-16be, no BOM", HDR "Content-Type: text/plain; charset=\"UTF-16BE\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\nAHMAZQBlACAAaAB0AHQAcAA6AC8ALwB3AHcAdwAuAGIAYQBkAHMAcABhAG0ALgB0AGUAcwB0AC8=\r\n", 1,
	    { { "text/plain base64 utf16be", "see http://www.badspam.test/", 0 } }, false, false, false },
	/* SPEC 5.1: UTF-16/32, with or without BOM */
	{ "utf-16le with BOM", HDR "Content-Type: text/plain; charset=\"utf-16le\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n//5zAGUAZQAgAGgAdAB0AHAAOgAvAC8AdwB3AHcALgBiAGEAZABzAHAAYQBtAC4AdABlAHMAdAAvAA==\r\n", 1,
	    { { "text/plain base64 utf16le", "see http://www.badspam.test/", 0 } }, false, false, false },
	/* SPEC 5.1: UTF-16/32, with or without BOM */
	{ "utf-32 with BOM", HDR "Content-Type: text/plain; charset=\"utf-32\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n//4AAHMAAABlAAAAZQAAACAAAABoAAAAdAAAAHQAAABwAAAAOgAAAC8AAAAvAAAAdwAAAHcAAAB3AAAALgAAAGIAAABhAAAAZAAAAHMAAABwAAAAYQAAAG0AAAAuAAAAdAAAAGUAAABzAAAAdAAAAC8AAAA=\r\n", 1,
	    { { "text/plain base64 utf32", "see http://www.badspam.test/", 0 } }, false, false, false },
	/* SPEC 5.1: UTF-16/32, with or without BOM */
	{ "utf-32le labelled utf-32, no BOM", HDR "Content-Type: text/plain; charset=\"utf-32\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\ncwAAAGUAAABlAAAAIAAAAGgAAAB0AAAAdAAAAHAAAAA6AAAALwAAAC8AAAB3AAAAdwAAAHcAAAAuAAAAYgAAAGEAAABkAAAAcwAAAHAAAABhAAAAbQAAAC4AAAB0AAAAZQAAAHMAAAB0AAAALwAAAA==\r\n", 1,
	    { { "text/plain base64 utf32", "see http://www.badspam.test/", 0 } }, false, false, false },
	/* SPEC 5.1: UTF-16/32, with or without BOM */
	{ "utf-32be, no BOM", HDR "Content-Type: text/plain; charset=\"UTF-32BE\"\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\nAAAAcwAAAGUAAABlAAAAIAAAAGgAAAB0AAAAdAAAAHAAAAA6AAAALwAAAC8AAAB3AAAAdwAAAHcAAAAuAAAAYgAAAGEAAABkAAAAcwAAAHAAAABhAAAAbQAAAC4AAAB0AAAAZQAAAHMAAAB0AAAALw==\r\n", 1,
	    { { "text/plain base64 utf32be", "see http://www.badspam.test/", 0 } }, false, false, false },
	/* any other charset by name, through iconv */
	{ "koi8-r base64", HDR "Content-Type: text/plain; charset=koi8-r\r\n"
	  "Content-Transfer-Encoding: base64\r\n\r\n0NLJzcXSIGh0dHA6Ly/Q0snNxdIu0sYv\r\n", 1,
	    { { "text/plain base64 other", "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80 http://\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84/", 0 } },
	    false, false, false },
	{ "cp1252 8bit", HDR "Content-Type: text/plain; charset=windows-1252\r\n"
	  "Content-Transfer-Encoding: 8bit\r\n\r\n\x93hi\x94\r\n", 1,
	    { { "text/plain 7bit cp1252", "\xe2\x80\x9chi\xe2\x80\x9d\r\n", 0 } },
	    false, false, false },
	{ "case and spaces", HDR "Content-Type: Text/HTML; Charset=\"UTF-8\"\r\n"
	  "Content-Transfer-Encoding:  Base64 \r\n\r\nPGI+eDwvYj4=\r\n", 1,
	    { { "text/html base64 utf8", "<b>x</b>", 0 } }, false, false, false },
	{ "unknown encoding", HDR "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n", 1,
	    { { "text/plain other utf8", NULL, 0 } }, false, false, false },
	{ "missing closing boundary", HDR "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	  "--b\r\nContent-Type: text/plain\r\n\r\none\r\n"
	  "--b\r\nContent-Type: text/html\r\n\r\n<p>two http://x.example.com/</p>\r\n", 2,
	    { { "text/plain 7bit utf8", "one", 1 },
	      { "text/html 7bit utf8", "<p>two http://x.example.com/</p>\r\n", 1 } },
	    true, false, false },
	{ "multipart without boundary",
	  HDR "Content-Type: multipart/mixed\r\n\r\nhttp://y.example.com/\r\n", 1,
	    { { "text/plain 7bit utf8", "http://y.example.com/\r\n", 0 } }, true, false, false },
	/* a multipart whose delimiter never appears: the body is still
	 * text a reader shows, and must be scanned like the no-boundary
	 * case above (spam in the corpus does this: sa-spam-00467,
	 * sa-tdata-spam-015/016, badmime2, badmime3) */
	{ "boundary never seen", HDR "Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n"
	  "--notit\r\n\r\nhttp://z.example.com/\r\n", 1,
	    { { "text/plain 7bit utf8", NULL, -1 } }, true, false, false },
	{ "close delimiter only", HDR "Content-Type: multipart/alternative; boundary=\"c\"\r\n\r\n"
	  "Content-Type: text/html\r\n\r\n<a href=\"http://c.example.com/\">x</a>\r\n--c--\r\n", 1,
	    { { NULL, NULL, -1 } }, true, false, false },
	/* "--b" followed by more than white space is not a boundary line */
	{ "boundary prefix", HDR "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
	  "--b\r\n\r\nline\r\n--bx not a boundary\r\n--b \t\r\n\r\nsecond\r\n--b--\r\n", 2,
	    { { "text/plain 7bit utf8", "line\r\n--bx not a boundary", 1 },
	      { "text/plain 7bit utf8", "second", 1 } },
	    false, false, false },
	{ "typical boundary", HDR "Content-Type: multipart/alternative;\r\n"
	  "\tboundary=\"----=_Part_123_456.789\"\r\n\r\n"
	  "------=_Part_123_456.789\r\nContent-Type: text/plain; charset=UTF-8\r\n"
	  "Content-Transfer-Encoding: quoted-printable\r\n\r\nsoft=\r\nbreak\r\n"
	  "------=_Part_123_456.789--\r\n", 1,
	    { { "text/plain qp utf8", "softbreak", 1 } }, false, false, false },
	/* RFC 2046 limits boundaries to 70 characters, but readers accept
	 * longer ones: a long boundary must not hide the parts */
	{ "long boundary", HDR "Content-Type: multipart/mixed; boundary=\""
	  LONG_B
	  "\"\r\n\r\n--"
	  LONG_B
	  "\r\nContent-Type: text/html\r\n\r\n<a href=\"http://hidden.example.com/\">x</a>\r\n--"
	  LONG_B
	  "--\r\n", 1,
	    { { "text/html 7bit utf8", "<a href=\"http://hidden.example.com/\">x</a>", 1 } },
	    false, false, false },
};

struct collected {
	unsigned n;
	char desc[MAX_PARTS][160];
	char body[MAX_PARTS][512];
	size_t bodylen[MAX_PARTS];
	int depth[MAX_PARTS];
	const char *base;
	size_t len;
	bool outside;
};

static const char *
enc_name(enum mime_encoding e)
{
	return e == ENC_QP ? "qp" : e == ENC_BASE64 ? "base64" : e == ENC_OTHER ? "other" : "7bit";
}

static const char *
cs_name(enum charset c)
{
	static const char *const names[] = { "utf8", "latin1", "cp1252", "utf16le", "utf16be",
		"utf16", "utf32le", "utf32be", "utf32", "other" };
	return (unsigned)c < NELEM(names) ? names[c] : "?";
}

static void
collect(void *arg, const struct mime_part *p)
{
	struct collected *c = arg;
	char *out;
	size_t n;

	/* every pointer lies inside the message */
	if (p->headers < c->base || p->headers + p->headers_len > c->base + c->len ||
	    p->body < c->base || p->body + p->body_len > c->base + c->len)
		c->outside = true;
	if (c->n >= MAX_PARTS)
		return;
	snprintf(c->desc[c->n], sizeof(c->desc[0]), "%s/%s %s %s%s", p->type, p->subtype,
	    enc_name(p->encoding), cs_name(p->charset), p->attachment ? " A" : "");
	out = malloc(p->body_len * 2 + 16);
	n = mime_decode_body(p, out, p->body_len * 2 + 16);
	if (n > sizeof(c->body[0]))
		n = sizeof(c->body[0]);
	memcpy(c->body[c->n], out, n);
	c->bodylen[c->n] = n;
	c->depth[c->n] = p->depth;
	free(out);
	c->n++;
}

/* CRLF to LF, into a new exactly-sized buffer. */
static char *
to_lf(const char *msg, size_t len, size_t *outlen)
{
	char *o = malloc(len ? len : 1);
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (!(msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			o[n++] = msg[i];
	*outlen = n;
	return realloc(o, n ? n : 1);
}

/* The expected body with CRLF turned to LF when the message was. */
static bool
body_equal(const char *want, const char *got, size_t gotlen, bool lf)
{
	size_t wl;
	char *w = lf ? to_lf(want, strlen(want), &wl) : NULL;
	bool eq;

	if (!lf)
		wl = strlen(want);
	eq = wl == gotlen && memcmp(lf ? w : want, got, gotlen) == 0;
	free(w);
	return eq;
}

static void
test_messages(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(msg_cases); i++) {
		const struct msg_case *c = &msg_cases[i];

		for (int lf = 0; lf < 2; lf++) {
			size_t len = strlen(c->msg);
			char *msg;
			struct collected col;
			struct mime_stats st;
			unsigned n;

			if (lf)
				msg = to_lf(c->msg, len, &len);
			else {
				msg = malloc(len);
				memcpy(msg, c->msg, len);
			}
			memset(&col, 0, sizeof(col));
			col.base = msg;
			col.len = len;
			n = mime_walk(msg, len, collect, &col, &st);
			CASE_CHECK(bad, n == c->nparts && col.n == c->nparts, i,
			    "%s%s: %u parts, want %u", c->what, lf ? " (LF)" : "", n, c->nparts);
			CASE_CHECK(bad, st.malformed == c->malformed &&
			    st.depth_exceeded == c->depth_exceeded &&
			    st.parts_exceeded == c->parts_exceeded, i,
			    "%s%s: flags malformed=%d depth=%d parts=%d", c->what, lf ? " (LF)" : "",
			    st.malformed, st.depth_exceeded, st.parts_exceeded);
			CASE_CHECK(bad, !col.outside, i, "%s: a part points outside the message",
			    c->what);
			for (unsigned k = 0; k < col.n && k < c->nparts; k++) {
				const struct want_part *w = &c->parts[k];
				CASE_CHECK(bad, w->desc == NULL || strcmp(col.desc[k], w->desc) == 0, i,
				    "%s%s part %u: got %s, want %s", c->what, lf ? " (LF)" : "", k,
				    col.desc[k], w->desc ? w->desc : "");
				if (w->body != NULL)
					CASE_CHECK(bad, body_equal(w->body, col.body[k], col.bodylen[k], lf),
					    i, "%s%s part %u: body \"%s\", want \"%s\"", c->what,
					    lf ? " (LF)" : "", k, unit_show(col.body[k], col.bodylen[k]),
					    unit_show(w->body, strlen(w->body)));
				if (w->depth >= 0)
					CASE_CHECK(bad, col.depth[k] == w->depth, i,
					    "%s part %u: depth %d, want %d", c->what, k, col.depth[k],
					    w->depth);
			}
			free(msg);
		}
	}
	assert_int_equal(bad, 0);
}

static void
noop(void *arg, const struct mime_part *p)
{
	(*(unsigned *)arg)++;
}

/* Nesting deeper than MIME_DEPTH_MAX stops the walk there. */
/* Each leaf's multipart/alternative: its number in walk order and the
 * branch holding the leaf (what the classifier's twin rule reads). */
struct alt_seen {
	unsigned n, alt[8], branch[8];
};

static void
collect_alt(void *arg, const struct mime_part *p)
{
	struct alt_seen *a = arg;

	if (a->n < 8) {
		a->alt[a->n] = p->alt;
		a->branch[a->n] = p->alt_branch;
	}
	a->n++;
}

static void
test_alternative_numbers(void **state)
{
	static const char msg[] = HDR "Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n"
	    "--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n"
	    "--a\r\nContent-Type: text/plain\r\n\r\none\r\n"
	    "--a\r\nContent-Type: multipart/related; boundary=\"r\"\r\n\r\n"
	    "--r\r\nContent-Type: text/html\r\n\r\n<p>two</p>\r\n"
	    "--r\r\nContent-Type: image/png\r\n\r\nxx\r\n--r--\r\n--a--\r\n"
	    "--m\r\nContent-Type: text/plain\r\n\r\nthree\r\n"
	    "--m\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
	    "--b\r\nContent-Type: text/plain\r\n\r\nfour\r\n"
	    "--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: x\r\n\r\nfive\r\n--b--\r\n"
	    "--m--\r\n";
	/* one; two, png (related in branch 1); three (none); four; five
	 * (a message of its own: none) */
	static const unsigned want_alt[] = { 1, 1, 1, 0, 2, 0 };
	static const unsigned want_branch[] = { 0, 1, 1, 0, 0, 0 };
	struct alt_seen a = { 0 };
	struct mime_stats st;

	(void)state;
	assert_int_equal(mime_walk(msg, sizeof(msg) - 1, collect_alt, &a, &st), 6);
	assert_int_equal(a.n, 6);
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(a.alt[i], want_alt[i]);
		assert_int_equal(a.branch[i], want_branch[i]);
	}
}

static void
test_depth_cap(void **state)
{
	char *msg = malloc(64 * 1024);
	size_t o = 0;
	struct mime_stats st;
	unsigned calls = 0, n;
	int levels = MIME_DEPTH_MAX + 4;

	o += (size_t)snprintf(msg + o, 64 * 1024 - o, "Subject: deep\r\n");
	for (int d = 0; d < levels; d++)
		o += (size_t)snprintf(msg + o, 64 * 1024 - o,
		    "Content-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n--d%d\r\n", d, d);
	o += (size_t)snprintf(msg + o, 64 * 1024 - o, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (int d = levels - 1; d >= 0; d--)
		o += (size_t)snprintf(msg + o, 64 * 1024 - o, "--d%d--\r\n", d);
	n = mime_walk(msg, o, noop, &calls, &st);
	assert_true(st.depth_exceeded);
	assert_int_equal(n, 0);
	assert_int_equal(calls, 0);

	/* exactly at the cap is fine */
	o = 0;
	o += (size_t)snprintf(msg + o, 64 * 1024 - o, "Subject: deep\r\n");
	for (int d = 0; d < MIME_DEPTH_MAX; d++)
		o += (size_t)snprintf(msg + o, 64 * 1024 - o,
		    "Content-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n--d%d\r\n", d, d);
	o += (size_t)snprintf(msg + o, 64 * 1024 - o, "Content-Type: text/plain\r\n\r\ndeep\r\n");
	for (int d = MIME_DEPTH_MAX - 1; d >= 0; d--)
		o += (size_t)snprintf(msg + o, 64 * 1024 - o, "--d%d--\r\n", d);
	calls = 0;
	n = mime_walk(msg, o, noop, &calls, &st);
	assert_false(st.depth_exceeded);
	assert_int_equal(n, 1);
	assert_int_equal(calls, 1);

	/* nested message/rfc822 counts too */
	o = 0;
	for (int d = 0; d < levels; d++)
		o += (size_t)snprintf(msg + o, 64 * 1024 - o,
		    "Subject: %d\r\nContent-Type: message/rfc822\r\n\r\n", d);
	o += (size_t)snprintf(msg + o, 64 * 1024 - o, "Subject: last\r\n\r\nbody\r\n");
	calls = 0;
	n = mime_walk(msg, o, noop, &calls, &st);
	assert_true(st.depth_exceeded);
	assert_int_equal(n, 0);
	free(msg);
}

/* More than MIME_PARTS_MAX parts: the walk stops counting there. */
static void
test_part_cap(void **state)
{
	size_t cap = 128 * 1024, o = 0;
	char *msg = malloc(cap);
	struct mime_stats st;
	unsigned calls = 0, n;

	o += (size_t)snprintf(msg + o, cap - o,
	    "Subject: many\r\nContent-Type: multipart/mixed; boundary=\"p\"\r\n\r\n");
	for (int i = 0; i < MIME_PARTS_MAX + 50; i++)
		o += (size_t)snprintf(msg + o, cap - o, "--p\r\nContent-Type: text/plain\r\n\r\n%d\r\n",
		    i);
	o += (size_t)snprintf(msg + o, cap - o, "--p--\r\n");
	n = mime_walk(msg, o, noop, &calls, &st);
	assert_true(st.parts_exceeded);
	assert_int_equal(n, calls);
	assert_true(n < MIME_PARTS_MAX);
	assert_true(n > MIME_PARTS_MAX - 5);
	assert_true(st.parts <= MIME_PARTS_MAX);
	free(msg);
}

/* mime_decode_body never writes past outlen. */
static void
test_decode_body_cap(void **state)
{
	static const char latin[] = "\xe9\xe9\xe9\xe9";
	struct mime_part p;
	char out[8];
	size_t n;

	memset(&p, 0, sizeof(p));
	p.body = latin;
	p.body_len = 4;
	p.charset = CHARSET_LATIN1;
	memset(out, 'X', sizeof(out));
	n = mime_decode_body(&p, out, 5);
	assert_int_equal(n, 4);
	assert_int_equal(out[5], 'X');

	p.charset = CHARSET_UTF8;
	memset(out, 'X', sizeof(out));
	n = mime_decode_body(&p, out, 3);
	assert_int_equal(n, 3);
	assert_int_equal(out[3], 'X');

	p.body = "aGVsbG8gd29ybGQ=";
	p.body_len = 16;
	p.encoding = ENC_BASE64;
	memset(out, 'X', sizeof(out));
	n = mime_decode_body(&p, out, 5);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(out[5], 'X');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_next),
		cmocka_unit_test(test_header_end),
		cmocka_unit_test(test_unfold_find),
		cmocka_unit_test(test_param),
		cmocka_unit_test(test_messages),
		cmocka_unit_test(test_alternative_numbers),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_part_cap),
		cmocka_unit_test(test_decode_body_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
