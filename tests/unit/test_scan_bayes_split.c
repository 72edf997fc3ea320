/*
 * The classifier's SSE2 word splitter against its octet-by-octet
 * reference (tests/unit/bayes_scalar.h): the same tokens, in the same
 * order, for text, prefixed words and HTML. The splitter only works on
 * 64-octet chunks, so every case is longer than that and puts words,
 * signs and separators across chunk ends; a seeded run of generated
 * texts adds thousands more.
 */
#include "unit.h"

#include "scan/bayes_token.h"
#include "bayes_scalar.h"

enum mode { TEXT, WORDS, HTML };

/* The three ways in, real and reference. */
static void
feed(enum mode m, bool ref, struct bayes_tokens *t, const char *buf, size_t len)
{
	switch (m) {
	case TEXT:
		(ref ? ref_bayes_tokens_text : bayes_tokens_text)(t, buf, len);
		break;
	case WORDS:
		(ref ? ref_bayes_tokens_words : bayes_tokens_words)(t, "subject:", buf, len);
		break;
	case HTML:
		(ref ? ref_bayes_tokens_html : bayes_tokens_html)(t, buf, len);
		break;
	}
}

static bool
agree(enum mode m, const char *buf, size_t len)
{
	struct bayes_tokens a, b;
	bool same;

	bayes_tokens_init(&a);
	ref_bayes_tokens_init(&b);
	feed(m, false, &a, buf, len);
	feed(m, true, &b, buf, len);
	same = bayes_same_tokens(&a, &b);
	bayes_tokens_clear(&a);
	ref_bayes_tokens_clear(&b);
	return same;
}

/* Each longer than a chunk (64 octets), so that words, signs and
 * separators fall on its ends. */
static const char *const split_cases[] = {
	/* a word across the chunk end (octets 60 to 68) */
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx straddles the end",
	/* a sign as the chunk's last octet (63) */
	"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy word. next words here",
	"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz word, and then more",
	/* "..." across the end, and "--" */
	"wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww wait...what well--done",
	"..leading dots and --dashes-- 'quoted' \"double\" word, word. word; word: WORD! "
	"$100 free!!! e-mail it's U.S.A. 1,000,000 end...",
	/* 64 octets and more without a separator */
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx "
	"and after",
	"x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x "
	"tail",
	/* trailing signs of every kind, the kept ones too */
	"alpha, beta. gamma- delta' epsilon$ zeta! eta@ theta* iota_ kappa,, lambda.. mu-- "
	"nu'' xi$$ omicron!! pi@@ rho** sigma__ tau",
	/* addresses and shouting across chunk ends */
	"write to someone@example.com or SOMEONE@EXAMPLE.ORG now: FREE MONEY for EVERYONE "
	"who@writes.test today and Tomorrow AND the day after TOMORROW",
	/* UTF-8 and long words */
	"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad\xe3\x82\xb9"
	"\xe3\x83\x88 caf\xc3\xa9 na\xc3\xafve supercalifragilisticexpialidocious "
	"antidisestablishmentarianism \xc3\xa9t\xc3\xa9 d\xc3\xa9j\xc3\xa0 vu",
	/* only separators, then one word at the very end */
	"                                                                        "
	"                                                                   last",
	/* NUL and control octets are separators */
	"one\001two\002three\tfour\nfive\rsix seven eight nine ten eleven twelve thirteen "
	"fourteen fifteen",
};

static void
test_split_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(split_cases); i++)
		for (enum mode m = TEXT; m <= HTML; m++)
			CASE_CHECK(bad, agree(m, split_cases[i], strlen(split_cases[i])), i,
			    "mode %d: tokens differ for \"%s\"", (int)m, split_cases[i]);
	assert_int_equal(bad, 0);
}

/* A text of words, signs, separators and UTF-8 as mail has them, but
 * packed with the cases a splitter gets wrong. */
static size_t
generate(uint64_t *seed, char *out, size_t cap)
{
	static const char *const pieces[] = {
		" ", " ", " ", "\n", "\t", "  ", ". ", ", ", "...", "--", "-", "'", ".", ",", "$",
		"!", "@", "*", "_", "\"", "(", ")", ":", ";", "<b>", "</b>", "&amp;", "&nbsp;",
		"\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "\x80", "\xff", "\0",
	};
	size_t n = 0, want;

	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	want = 64 + (size_t)(*seed >> 33) % 400;
	while (n + 32 < cap && n < want) {
		uint64_t r;
		*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
		r = *seed >> 24;
		if (r % 3 != 0) {
			/* a word of 1 to 20 letters and digits, some capitals */
			size_t len = 1 + (size_t)(r >> 4) % 20;
			for (size_t i = 0; i < len; i++) {
				unsigned k = (unsigned)((r >> (i % 32)) + i * 7) % 40;
				out[n++] = k < 26 ? (char)((r >> 30) % 5 == 0 ? 'A' + k : 'a' + k) :
				    k < 36 ? (char)('0' + k - 26) : (char)('a' + k % 3);
			}
		} else {
			const char *p = pieces[(r >> 8) % NELEM(pieces)];
			size_t len = *p ? strlen(p) : 1;
			memcpy(out + n, p, len);
			n += len;
		}
	}
	return n;
}

static void
test_split_generated(void **state)
{
	uint64_t seed = 17;
	char buf[1024];
	int bad = 0;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		size_t len = generate(&seed, buf, sizeof(buf));
		for (enum mode m = TEXT; m <= HTML; m++)
			CASE_CHECK(bad, agree(m, buf, len), i, "mode %d: tokens differ (%zu octets)",
			    (int)m, len);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_split_generated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
