/*
 * Fuzz target for the MIME walker and the decoders under it: the input is
 * a whole message. Every leaf part is decoded into an exactly-sized
 * buffer; every header of every part is iterated, unfolded, searched for
 * parameters and RFC 2047-decoded; the raw input goes through every
 * charset converter. Invariants: pointers handed out lie
 * inside the input, decoders never write past outlen, the caps hold.
 */
#include "fuzz.h"

#include "scan/decode.h"
#include "scan/mime.h"

struct ctx {
	const char *base;
	size_t len;
	unsigned leaves;
};

/* Runs fn-like checks on one header block. */
static void
headers(const char *h, size_t hl)
{
	size_t pos = 0, prev = 0, nl, vl, count = 0;
	const char *name, *value;

	while (mime_header_next(h, hl, &pos, &name, &nl, &value, &vl)) {
		CHECK(pos > prev && pos <= hl);
		prev = pos;
		/* a name of blanks comes back empty (" : x"): harmless */
		CHECK(fuzz_inside(name, nl, h, hl));
		CHECK(fuzz_inside(value, vl, h, hl));
		CHECK(memchr(name, ':', nl) == NULL);
		{
			char *un = malloc(vl + 1), tok[MIME_TOKEN_MAX];
			size_t n = mime_unfold(value, vl, un, vl + 1);
			CHECK(n <= vl);
			CHECK(memchr(un, '\n', n) == NULL && memchr(un, '\r', n) == NULL);
			/* RFC 2047 words may grow (windows-1252 to UTF-8) */
			{
				size_t cap = n * 3 + 1;
				char *dec = malloc(cap);
				size_t dn = rfc2047_decode(un, n, dec, cap);
				CHECK(dn <= cap);
				free(dec);
			}
			free(un);
			/* the value may hold NULs: only termination is promised */
			if (mime_param(value, vl, "boundary", tok, sizeof(tok)))
				CHECK(memchr(tok, '\0', sizeof(tok)) != NULL);
			if (mime_param(value, vl, "charset", tok, sizeof(tok)))
				(void)charset_lookup(tok, strlen(tok));
		}
		if (++count > hl + 1)
			CHECK(0);	/* no progress */
	}
	CHECK(mime_header_end(h, hl) <= hl);
}

static void
on_part(void *arg, const struct mime_part *p)
{
	struct ctx *c = arg;
	size_t cap;
	char *out;
	size_t n;

	c->leaves++;
	CHECK(fuzz_inside(p->headers, p->headers_len, c->base, c->len));
	CHECK(fuzz_inside(p->body, p->body_len, c->base, c->len));
	CHECK(p->headers + p->headers_len == p->body);
	CHECK(p->depth >= 0 && p->depth <= MIME_DEPTH_MAX);
	CHECK(strlen(p->type) < MIME_TOKEN_MAX && strlen(p->subtype) < MIME_TOKEN_MAX);
	CHECK(strcmp(p->type, "multipart") != 0);
	/* the alternative around a part: 0 (none, branch 0 too) or one of
	 * the multiparts walked, each at least a part apart */
	CHECK(p->alt != 0 || p->alt_branch == 0);
	CHECK(p->alt <= MIME_PARTS_MAX && p->alt_branch < MIME_PARTS_MAX);
	headers(p->headers, p->headers_len);

	/* the scanner's own sizing: body_len * 2 + 16 */
	cap = p->body_len * 2 + 16;
	out = malloc(cap);
	n = mime_decode_body(p, out, cap);
	CHECK(n <= cap);
	free(out);
	/* and a tight one */
	cap = p->body_len / 3 + 1;
	out = malloc(cap);
	n = mime_decode_body(p, out, cap);
	CHECK(n <= cap);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *msg = fuzz_copy(data, size);
	struct ctx c = { msg, size, 0 };
	struct mime_stats st;
	unsigned n;

	n = mime_walk(msg, size, on_part, &c, &st);
	CHECK(n == c.leaves);
	CHECK(st.parts <= MIME_PARTS_MAX);
	CHECK(n <= st.parts);
	headers(msg, mime_header_end(msg, size));

	/* the decoders on the raw input, into exactly-sized outputs */
	{
		size_t cap = size ? size : 1;
		char *out = malloc(cap);
		CHECK(qp_decode(msg, size, out, cap) <= size);
		CHECK(base64_decode(msg, size, out, cap) <= size * 3 / 4 + 1);
		CHECK(html_entities_decode(msg, size, out, cap) <= size);
		free(out);
	}
	for (int cs = CHARSET_UTF8; cs <= CHARSET_OTHER; cs++) {
		size_t cap = size * 3 + 1;
		char *out = malloc(cap);
		CHECK(charset_to_utf8((enum charset)cs, msg, size, out, cap) <= cap);
		free(out);
		/* a buffer too small stops the conversion, no overrun */
		cap = size / 2 + 1;
		out = malloc(cap);
		CHECK(charset_to_utf8((enum charset)cs, msg, size, out, cap) <= cap);
		free(out);
	}
	/* through iconv: stateful, multi-octet and unknown charsets; at most
	 * three octets of UTF-8 per input octet, never past outlen */
	{
		static const char *const names[] = { "koi8-r", "utf-7", "shift_jis", "iso-2022-jp",
			"gb18030", "x-unknown", "utf-8//translit" };
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			size_t cap = size * 3 + 1, n;
			char *out = malloc(cap);
			n = charset_name_to_utf8(names[i], strlen(names[i]), msg, size, out, cap);
			CHECK(n <= cap);
			free(out);
			cap = size / 2 + 1;
			out = malloc(cap);
			CHECK(charset_name_to_utf8(names[i], strlen(names[i]), msg, size, out, cap) <= cap);
			free(out);
		}
	}
	free(msg);
	return 0;
}
