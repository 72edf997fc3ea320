/*
 * Fuzz target for DKIM's and DMARC's pure parts (dkim.h and dmarc.h
 * promise them to fuzzing): the tag-list parser (tags and values must lie
 * inside the input), header and body canonicalization (output bounded by
 * its buffer), and the DMARC record parser.
 */
#include "fuzz.h"

#include "scan/dkim.h"
#include "scan/dmarc.h"

struct span {
	const char *base;
	size_t len;
	size_t ntags;
};

static void
on_tag(void *arg, const char *tag, size_t tlen, const char *val, size_t vlen)
{
	struct span *s = arg;

	CHECK(tlen > 0);
	CHECK(tag >= s->base && tag + tlen <= s->base + s->len);
	CHECK(vlen == 0 || (val >= s->base && val + vlen <= s->base + s->len));
	s->ntags++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_copy(data, size);
	struct span s = { in, size, 0 };
	enum dmarc_policy p, sp;
	int adkim, aspf, pct;
	size_t cap = size * 2 + 16, n;
	char *out = malloc(cap);
	const char *colon = memchr(in, ':', size);

	CHECK(out != NULL);
	(void)dkim_parse_tags(in, size, on_tag, &s);
	CHECK(s.ntags <= size);
	n = dkim_canon_body(in, size, 0, out, cap);
	CHECK(n <= cap);
	n = dkim_canon_body(in, size, 1, out, cap);
	CHECK(n <= cap);
	if (colon != NULL) {
		size_t nl = (size_t)(colon - in);
		n = dkim_canon_header_relaxed(in, nl, colon + 1, size - nl - 1, out, cap);
		CHECK(n <= cap);
	}
	(void)dmarc_parse_record(in, size, &p, &sp, &adkim, &aspf, &pct);
	free(out);
	free(in);
	return 0;
}
