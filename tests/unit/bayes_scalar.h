/*
 * The classifier's tokenizer built a second time without its SSE2 word
 * splitter (BAYES_TOKEN_SCALAR), its functions renamed ref_*: the
 * reference the SSE2 splitter must agree with token for token (a unit
 * table and a fuzz target compare the two). Include once, after
 * scan/bayes_token.h.
 */
#ifndef POSTERN_TESTS_BAYES_SCALAR_H
#define POSTERN_TESTS_BAYES_SCALAR_H

#include "scan/bayes_token.h"

#define BAYES_TOKEN_SCALAR
#define bayes_tokens_init ref_bayes_tokens_init
#define bayes_tokens_clear ref_bayes_tokens_clear
#define bayes_hash ref_bayes_hash
#define bayes_tokens_add ref_bayes_tokens_add
#define bayes_tokens_text ref_bayes_tokens_text
#define bayes_tokens_words ref_bayes_tokens_words
#define bayes_tokens_html ref_bayes_tokens_html
#define bayes_tokens_header ref_bayes_tokens_header
#define bayes_tokens_host ref_bayes_tokens_host
#define bayes_token_text ref_bayes_token_text
#include "../../src/scan/bayes_token.c"
#undef bayes_tokens_init
#undef bayes_tokens_clear
#undef bayes_hash
#undef bayes_tokens_add
#undef bayes_tokens_text
#undef bayes_tokens_words
#undef bayes_tokens_html
#undef bayes_tokens_header
#undef bayes_tokens_host
#undef bayes_token_text

/* Do a and b hold the same tokens in the same order? */
static inline int
bayes_same_tokens(const struct bayes_tokens *a, const struct bayes_tokens *b)
{
	if (a->n != b->n || a->cut != b->cut)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (a->t[i].hash != b->t[i].hash || a->t[i].len != b->t[i].len ||
		    memcmp(a->text + a->t[i].off, b->text + b->t[i].off, a->t[i].len) != 0)
			return 0;
	return 1;
}

#endif
