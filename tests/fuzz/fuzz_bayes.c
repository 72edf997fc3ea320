/*
 * Fuzz target for the classifier's tokenizer (scan/bayes_token.h) and
 * its combination (scan/bayes.h). The first octet picks the input's
 * kind (text, HTML, or a header field "Name: value"). Invariants: at
 * most BAYES_TOKENS_MAX tokens, each at most BAYES_TOKEN_TEXT_MAX octets
 * and hashed as its text; the same input gives the same tokens; fields
 * postern adds itself give none; the probability is within [0, 1]; the
 * SSE2 word splitter gives the tokens its octet-by-octet reference gives
 * (text and HTML).
 */
#include "fuzz.h"

#include <math.h>
#include <strings.h>

#include "scan/bayes.h"
#include "../unit/bayes_scalar.h"

static void
feed(struct bayes_tokens *t, unsigned kind, const char *buf, size_t len)
{
	const char *colon;

	switch (kind % 3) {
	case 0:
		bayes_tokens_text(t, buf, len);
		break;
	case 1:
		bayes_tokens_html(t, buf, len);
		break;
	default:
		colon = memchr(buf, ':', len);
		if (colon != NULL)
			bayes_tokens_header(t, buf, (size_t)(colon - buf), colon + 1,
			    len - (size_t)(colon - buf) - 1);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bayes_tokens a, b;
	struct bayes_table *tab;
	struct bayes_result r;
	unsigned kind;
	char *buf;

	if (size == 0)
		return 0;
	kind = data[0];
	buf = fuzz_copy(data + 1, size - 1);
	bayes_tokens_init(&a);
	bayes_tokens_init(&b);
	feed(&a, kind, buf, size - 1);
	feed(&b, kind, buf, size - 1);
	CHECK(a.n <= BAYES_TOKENS_MAX && a.n == b.n);
	for (size_t i = 0; i < a.n; i++) {
		size_t l;
		const char *x = bayes_token_text(&a, i, &l);
		CHECK(l <= BAYES_TOKEN_TEXT_MAX);
		CHECK(a.t[i].hash == bayes_hash(x, l));
		CHECK(a.t[i].hash == b.t[i].hash);
	}
	if (kind % 3 == 2 && size > 9 && strncasecmp(buf, "Received:", 9) == 0)
		CHECK(a.n == 0);
	if (kind % 3 != 2) {
		struct bayes_tokens ref;
		ref_bayes_tokens_init(&ref);
		(kind % 3 == 0 ? ref_bayes_tokens_text : ref_bayes_tokens_html)(&ref, buf, size - 1);
		CHECK(bayes_same_tokens(&a, &ref));
		ref_bayes_tokens_clear(&ref);
	}
	/* every other token known, some spammy, some not */
	tab = bayes_table_new(a.n);
	bayes_table_set_learned(tab, 200, 100 + kind);
	for (size_t i = 0; i < a.n; i += 2)
		bayes_table_put(tab, a.t[i].hash, (struct bayes_counts){ (uint32_t)(i * 7 % 250),
		    (uint32_t)(i * 13 % 120) });
	bayes_classify(tab, &a, 50, &r);
	CHECK(r.ran && r.prob >= 0.0 && r.prob <= 1.0);
	CHECK(r.used <= BAYES_SIGNIFICANT_MAX && r.nshown <= BAYES_SHOWN_MAX);
	for (size_t i = 0; i + 1 < r.nshown; i++)
		CHECK(fabs(r.shown[i].prob - 0.5) >= fabs(r.shown[i + 1].prob - 0.5));
	bayes_table_free(tab);
	bayes_tokens_clear(&a);
	bayes_tokens_clear(&b);
	free(buf);
	return 0;
}
