/*
 * The classifier's tokenizer. Words are what SpamAssassin's Bayes.pm
 * (_tokenize_line) found worth keeping, simplified to one pass: letters,
 * digits, UTF-8 and a few inner signs ($31,000,000, Hits!, f*ck), trimmed,
 * lower-cased, 3 to 15 octets; longer ones become "sk:" + 7 octets, long
 * runs of 3- and 4-octet UTF-8 characters (Chinese, Japanese) one token
 * per character. Invariant: the same bytes always give the same tokens.
 */
#include "bayes_token.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "lib/xmalloc.h"
#include "scan/decode.h"
#include "scan/mime.h"

#define HEADER_RAW_MAX 2048	/* an unfolded header value looked at */
#define HEADER_DEC_MAX 4096	/* the same, RFC 2047 decoded */
#define HEADER_NAME_MAX 40	/* longer names are cut in "hdr:NAME" */

/* Distinct tokens a message has room for at first: most have a few
 * hundred, so the set is seldom rebuilt. */
#define TOKENS_START 256
/* Character classes of the word splitter. */
enum { C_SEP = 0, C_WORD = 1, C_TRIM = 2, C_INNER = 3 };
static unsigned char cls[256];
static unsigned char lower[256];	/* ASCII letters lower-cased */
/* The same classes as bits, 0 for a separator: a word's octets are
 * or-ed together in one pass. F_DD: '.' and '-', which doubled split a
 * word. */
enum { F_WORD = 1, F_UPPER = 2, F_TRIM = 4, F_INNER = 8, F_DD = 16 };
static unsigned char flags[256];

static void names_init(void);

/* The tables above, filled once per process (cls_init): scans run on
 * worker threads too, and a check of cls['a'] raced with the filling. */
static pthread_once_t cls_once = PTHREAD_ONCE_INIT;

static void
cls_fill(void)
{
	names_init();
	for (int c = 0; c < 256; c++) {
		unsigned char k = C_SEP;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c >= 0x80)
			k = C_WORD;
		else if (c == '-' || c == '\'' || c == '.' || c == ',')
			k = C_TRIM;	/* kept inside a word, trimmed at its ends */
		else if (c == '$' || c == '!' || c == '@' || c == '*' || c == '_')
			k = C_INNER;	/* kept anywhere ("$100", "free!") */
		cls[c] = k;
		lower[c] = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		flags[c] = (unsigned char)(k == C_WORD ? F_WORD | (c >= 'A' && c <= 'Z' ? F_UPPER : 0) :
		    k == C_TRIM ? F_TRIM | (c == '.' || c == '-' ? F_DD : 0) :
		    k == C_INNER ? F_INNER : 0);
	}
}

static void
cls_init(void)
{
	pthread_once(&cls_once, cls_fill);
}

void
bayes_tokens_init(struct bayes_tokens *t)
{
	memset(t, 0, sizeof(*t));
	cls_init();
}

void
bayes_tokens_clear(struct bayes_tokens *t)
{
	free(t->t);
	free(t->slot);
	free(t->text);
	memset(t, 0, sizeof(*t));
}

/* Final mix: MurmurHash3's fmix64, so that every bit of the state
 * reaches the low bits the tables use. */
static inline uint64_t
fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Eight octets as a little-endian number, whatever the host. */
static inline uint64_t
load64le(const unsigned char *p)
{
	uint64_t k;

	memcpy(&k, p, sizeof(k));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	k = __builtin_bswap64(k);
#endif
	return k;
}

static inline uint64_t
hash_step(uint64_t h, uint64_t k)
{
	h = (h ^ k) * 0x9fb21c651e98df25ULL;
	return h ^ (h >> 29);
}

static inline uint64_t
hash_seed(size_t len)
{
	return 0x9e3779b97f4a7c15ULL ^ ((uint64_t)len * 0xc2b2ae3d27d4eb4fULL);
}

uint64_t
bayes_hash(const char *s, size_t len)
{
	/* eight octets per multiplication, little-endian whatever the host
	 * (the database keeps the hashes): a token costs two or three
	 * multiplications where FNV would take one per octet */
	const unsigned char *p = (const unsigned char *)s;
	uint64_t h = hash_seed(len);

	for (; len >= 8; p += 8, len -= 8)
		h = hash_step(h, load64le(p));
	if (len > 0) {
		uint64_t k = 0;
		for (size_t i = 0; i < len; i++)
			k |= (uint64_t)p[i] << (8 * i);
		h = hash_step(h, k);
	}
	return fmix64(h);
}

/* Octets as little-endian 8-octet words, zero after the last: a token
 * is hashed and kept from these, never written octet by octet and read
 * back as words (a store-forwarding stall each time). */
#define TOKWORDS (BAYES_TOKEN_TEXT_MAX / 8 + 1)

static inline void
store64le(unsigned char *p, uint64_t k)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	k = __builtin_bswap64(k);
#endif
	memcpy(p, &k, sizeof(k));
}

#define ONES64 0x0101010101010101ULL
#define HIGH64 0x8080808080808080ULL

/* 0x80 in each octet of x that is an ASCII letter or digit or 0x80 and
 * above (UTF-8): the octets flags[] calls F_WORD. */
static inline uint64_t
alnum64(uint64_t x)
{
	uint64_t h = x & ~HIGH64;	/* each octet's low 7 bits: no carry out below */
	uint64_t l = h | ONES64 * 0x20;	/* 'A'..'Z' as 'a'..'z'; nothing else lands there */
	uint64_t alpha = (l + ONES64 * (0x80 - 'a')) & ~(l + ONES64 * (0x80 - 'z' - 1));
	uint64_t digit = (h + ONES64 * (0x80 - '0')) & ~(h + ONES64 * (0x80 - '9' - 1));

	return (x | alpha | digit) & HIGH64;
}

/* 0x80 in each octet of x that is an ASCII capital letter. */
static inline uint64_t
upper64(uint64_t x)
{
	uint64_t h = x & ~HIGH64;

	return (h + ONES64 * (0x80 - 'A')) & ~(h + ONES64 * (0x80 - 'Z' - 1)) & ~x & HIGH64;
}

/* ASCII letters of eight octets lower-cased at once (lower[] on each):
 * an octet below 0x80 between 'A' and 'Z' gains 0x20. */
static inline uint64_t
lower64(uint64_t x)
{
	return x | (upper64(x) >> 2);
}

static void
grow(struct bayes_tokens *t)
{
	size_t cap = t->cap ? t->cap * 2 : TOKENS_START;

	t->t = xrealloc(t->t, cap * sizeof(*t->t));
	t->cap = cap;
	free(t->slot);
	t->nslot = cap * 2;
	t->slot = xcalloc(t->nslot, sizeof(*t->slot));
	for (size_t i = 0; i < t->n; i++) {
		uint64_t key = t->t[i].hash ? t->t[i].hash : 1;
		size_t j = key & (t->nslot - 1);
		while (t->slot[j] != 0)
			j = (j + 1) & (t->nslot - 1);
		t->slot[j] = key;
	}
	if (t->text == NULL) {
		/* most tokens are words of a few octets */
		t->text_cap = cap * 8 + BAYES_TOKEN_TEXT_MAX;
		t->text = xmalloc(t->text_cap);
	}
}

/* Keeps the token of len octets in words w (nw of them), hash h, unless
 * it is there already. Whether it is new decides nothing but two counts:
 * no branch on it to mispredict (a message's words repeat at random),
 * the slot, the entry and the text are written either way. */
static inline bool
keep(struct bayes_tokens *t, uint64_t h, const uint64_t *w, size_t nw, size_t len)
{
	uint64_t key = h ? h : 1;
	size_t j, mask;
	bool fresh;

	/* n stays <= BAYES_TOKENS_MAX < the last cap: full only below it */
	if (t->n == t->cap)
		grow(t);
	mask = t->nslot - 1;
	/* equal hashes are the same token: 64 bits, and the database knows
	 * tokens by hash alone anyway (and keeps 0 as 1 too) */
	for (j = key & mask; t->slot[j] != 0 && t->slot[j] != key; j = (j + 1) & mask)
		;
	fresh = t->slot[j] == 0;
	if (__builtin_expect(fresh && t->n >= BAYES_TOKENS_MAX, 0)) {
		t->cut = true;
		return false;
	}
	if (t->text_len + BAYES_TOKEN_TEXT_MAX > t->text_cap) {
		t->text_cap *= 2;
		t->text = xrealloc(t->text, t->text_cap);
	}
	/* the fields in locals: the text is written as octets, which may
	 * alias anything, and the compiler would read each field again */
	{
		unsigned char *text = (unsigned char *)t->text;
		size_t at = t->text_len, n = t->n;
		t->t[n] = (struct bayes_token){ h, (uint32_t)at, (uint8_t)len };
		t->slot[j] = key;
		t->n = n + fresh;
		t->text_len = at + (fresh ? len : 0);
		for (size_t i = 0; i < nw; i++)
			store64le(text + at + 8 * i, w[i]);
	}
	return true;
}

/* Adds the token of len octets (<= BAYES_TOKEN_TEXT_MAX) in words w
 * (zero after the text). */
static bool
add_words(struct bayes_tokens *t, const uint64_t *w, size_t len)
{
	size_t nw = (len + 7) / 8;
	uint64_t h = hash_seed(len);

	/* bayes_hash, the partial last word included */
	for (size_t i = 0; i < nw; i++)
		h = hash_step(h, w[i]);
	return keep(t, fmix64(h), w, nw, len);
}

/* add_words for a token of 16 octets or fewer, the common word: both
 * steps of the hash taken, the one that counts picked, so that the
 * length decides no branch. */
static inline __attribute__((always_inline)) void
add_short(struct bayes_tokens *t, uint64_t w0, uint64_t w1, size_t len)
{
	uint64_t w[2] = { w0, w1 };
	uint64_t h1 = hash_step(hash_seed(len), w0), h2 = hash_step(h1, w1);

	keep(t, fmix64(len > 8 ? h2 : h1), w, 2, len);
}

/* Adds prefix[0..pl) + word[0..wl), cut at BAYES_TOKEN_TEXT_MAX: both
 * copied into a zeroed buffer, read back as words (two copies where
 * building the words octet by octet took ten instructions an octet:
 * every header field's "hdr:" token and every HTML tag come here). */
static bool
add2(struct bayes_tokens *t, const char *prefix, size_t pl, const char *word, size_t wl)
{
	unsigned char b[TOKWORDS * 8] = { 0 };
	uint64_t w[TOKWORDS];

	if (pl > BAYES_TOKEN_TEXT_MAX)
		pl = BAYES_TOKEN_TEXT_MAX;
	if (wl > BAYES_TOKEN_TEXT_MAX - pl)
		wl = BAYES_TOKEN_TEXT_MAX - pl;
	memcpy(b, prefix, pl);
	if (wl > 0)
		memcpy(b + pl, word, wl);
	for (size_t i = 0; i < (pl + wl + 7) / 8; i++)
		w[i] = load64le(b + 8 * i);
	return add_words(t, w, pl + wl);
}

bool
bayes_tokens_add(struct bayes_tokens *t, const char *prefix, const char *word, size_t len)
{
	return add2(t, prefix ? prefix : "", prefix ? strlen(prefix) : 0, word, len);
}

const char *
bayes_token_text(const struct bayes_tokens *t, size_t i, size_t *len)
{
	*len = t->t[i].len;
	return t->text + t->t[i].off;
}

/* Octets of the UTF-8 sequence starting with lead byte c (1 if invalid). */
static size_t
u8len(unsigned char c)
{
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	if (c >= 0xe0)
		return c <= 0xef ? 3 : 1;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/* prefix[0..pl) + suffix into out (BAYES_TOKEN_TEXT_MAX octets, cut);
 * returns the length. */
static size_t
join(char *out, const char *prefix, size_t pl, const char *suffix)
{
	size_t sl = strlen(suffix);

	if (pl > BAYES_TOKEN_TEXT_MAX - sl)
		pl = BAYES_TOKEN_TEXT_MAX - sl;
	memcpy(out, prefix, pl);
	memcpy(out + pl, suffix, sl);
	return pl + sl;
}

/* A long word: runs of CJK-like characters one token each ("u8:"), else
 * "sk:" and its first 7 characters (SpamAssassin bugs 7135, 7141). */
static void
long_word(struct bayes_tokens *t, const char *prefix, size_t pl, const char *w, size_t len)
{
	char p2[BAYES_TOKEN_TEXT_MAX];
	size_t i = 0, n = 0, hi = 0, l2;

	for (size_t k = 0; k < len; k++)
		hi += (unsigned char)w[k] >= 0x80;
	if (hi >= 6) {
		bool any = false;
		l2 = join(p2, prefix, pl, "u8:");
		while (i < len) {
			size_t l = u8len((unsigned char)w[i]);
			if (i + l > len)
				break;
			if (l >= 3) {
				if (!add2(t, p2, l2, w + i, l))
					return;
				any = true;
			}
			i += l;
		}
		if (any)
			return;
		i = 0;
	}
	while (i < len && n < 7) {
		size_t l = u8len((unsigned char)w[i]);
		if (i + l > len)
			break;
		i += l;
		n++;
	}
	l2 = join(p2, prefix, pl, "sk:");
	add2(t, p2, l2, w, i);
}

/* Adds prefix (words pre, pl octets) + the word in w0, w1 (n <= 15
 * octets, zero after them). Inlined: where pl is 0 (body text, most
 * tokens) only add_short is left of it. */
static inline __attribute__((always_inline)) void
add_prefixed(struct bayes_tokens *t, const uint64_t *pre, size_t pl, uint64_t w0, uint64_t w1,
    size_t n)
{
	uint64_t w[TOKWORDS + 2];
	size_t q = pl / 8, sh = (pl % 8) * 8;

	if (pl == 0) {
		add_short(t, w0, w1, n);
		return;
	}
	for (size_t i = 0; i < q; i++)
		w[i] = pre[i];
	if (sh == 0) {
		w[q] = w0;
		w[q + 1] = w1;
	} else {
		w[q] = pre[q] | w0 << sh;
		w[q + 1] = w0 >> (64 - sh) | w1 << sh;
		w[q + 2] = w1 >> (64 - sh);
	}
	add_words(t, w, pl + n);
}

/* The n octets at w (1 <= n <= 15, end the end of their buffer) as two
 * little-endian words, zero after them: two loads where 16 octets are
 * there to read, masks without a branch on n. */
static inline void
load_word(const unsigned char *w, size_t n, const unsigned char *end, uint64_t *w0, uint64_t *w1)
{
	uint64_t a = 0, b = 0;

	if (end - w >= 16) {
		a = load64le(w);
		b = load64le(w + 8);
	} else
		for (size_t i = 0; i < n; i++) {
			if (i < 8)
				a |= (uint64_t)w[i] << (8 * i);
			else
				b |= (uint64_t)w[i] << (8 * (i - 8));
		}
	*w0 = a & ~0ULL >> (64 - 8 * (n < 8 ? n : 8));
	*w1 = b & (~0ULL >> 1) >> (63 - 8 * (n > 8 ? n - 8 : 0));
}

/* One word of [w, w+len) (already split, case as in the text), the
 * prefix also as words in pre, end the end of the text. */
static void
word(struct bayes_tokens *t, const char *prefix, size_t pl, const uint64_t *pre, const char *w,
    size_t len, const unsigned char *end)
{
	char low[BAYES_WORD_MAX + 1];
	uint64_t w0, w1, l0, l1, c0 = 0, c1 = 0;
	size_t cl = 0;
	const char *at;

	while (len > 0 && cls[(unsigned char)w[0]] == C_TRIM) {
		w++;
		len--;
	}
	while (len > 0 && cls[(unsigned char)w[len - 1]] == C_TRIM)
		len--;
	if (len < 3)
		return;
	/* an address: its domain and its local part, each its own clue */
	if ((at = memchr(w, '@', len)) != NULL && at > w && at < w + len - 1) {
		char p2[BAYES_TOKEN_TEXT_MAX], dom[BAYES_TOKEN_TEXT_MAX];
		size_t dl = (size_t)(w + len - at - 1), ll = (size_t)(at - w);
		if (dl > sizeof(dom))
			dl = sizeof(dom);
		for (size_t i = 0; i < dl; i++)
			dom[i] = (char)lower[(unsigned char)at[1 + i]];
		add2(t, p2, join(p2, prefix, pl, "@"), dom, dl);
		if (ll <= BAYES_WORD_MAX) {
			for (size_t i = 0; i < ll; i++)
				low[i] = (char)(w[i] >= 'A' && w[i] <= 'Z' ? w[i] + 32 : w[i]);
			low[ll] = '@';
			add2(t, prefix, pl, low, ll + 1);
		}
		return;
	}
	if (len > BAYES_WORD_MAX) {
		long_word(t, prefix, pl, w, len);
		return;
	}
	load_word((const unsigned char *)w, len, end, &w0, &w1);
	l0 = lower64(w0);
	l1 = lower64(w1);
	add_prefixed(t, pre, pl, l0, l1, len);
	/* "free!" also counts as "free" (Bayes.pm DECOMPOSE_BODY_TOKENS) */
	for (size_t i = 0; i < len; i++) {
		uint64_t c = (i < 8 ? l0 >> (8 * i) : l1 >> (8 * (i - 8))) & 0xff;
		if (cls[c] == C_WORD) {
			if (cl < 8)
				c0 |= c << (8 * cl);
			else
				c1 |= c << (8 * (cl - 8));
			cl++;
		}
	}
	if (cl != len && cl >= 3)
		add_prefixed(t, pre, pl, c0, c1, cl);
	/* and "FREE" as itself too: shouting is a clue of its own; a
	 * capital first letter only is not (Bayes.pm IGNORE_TITLE_CASE) */
	if ((upper64(w0) & ~0xffULL) | upper64(w1))
		add_prefixed(t, pre, pl, w0, w1, len);
}

/* The common word at w, n octets (3 to 15: letters, digits, UTF-8),
 * lower-cased, and as itself too when it shouts. */
static inline __attribute__((always_inline)) void
common_word(struct bayes_tokens *t, const uint64_t *pre, size_t pl, const unsigned char *w,
    size_t n, const unsigned char *end)
{
	uint64_t w0, w1;

	load_word(w, n, end, &w0, &w1);
	add_prefixed(t, pre, pl, lower64(w0), lower64(w1), n);
	/* "FREE" as itself too: shouting is a clue of its own; a capital
	 * first letter only is not (Bayes.pm IGNORE_TITLE_CASE) */
	if ((upper64(w0) & ~0xffULL) | upper64(w1))
		add_prefixed(t, pre, pl, w0, w1, n);
}

/* The word starting at start (not a separator), octet by octet: made,
 * and the position after it returned (and after the run of '.' and '-'
 * that cut it, if one did). */
static inline __attribute__((always_inline)) const unsigned char *
one_word(struct bayes_tokens *t, const char *prefix, size_t pl, const uint64_t *pre,
    const unsigned char *start, const unsigned char *end)
{
	const unsigned char *p = start + 1, *last = NULL;
	unsigned acc = flags[*start], f;
	size_t n;
	bool dd = false;

	/* the word's case is looked at when it is made (words of letters
	 * and digits below, the others in word()) */
	for (;;) {
		/* letters, digits, UTF-8: most of a word, eight octets at a
		 * time where there are eight */
		if (end - p >= 8) {
			uint64_t stop = ~alnum64(load64le(p)) & HIGH64;
			size_t k = stop ? (size_t)__builtin_ctzll(stop) / 8 : 8;
			p += k;
			if (k == 8)
				continue;
		} else
			while (p < end && (flags[*p] & F_WORD))
				p++;
		if (p == end || (f = flags[*p]) == 0)
			break;
		/* "..." and "--" split words */
		if ((f & F_DD) && p + 1 < end && p[1] == *p) {
			dd = true;
			break;
		}
		acc |= f;
		/* a second sign inside the word: word() sorts it out */
		last = last == NULL ? p : start;
		p++;
	}
	n = (size_t)(p - start);
	/* "word," and "word.": one trailing sign after a word that starts
	 * with a letter or digit is what word() would trim, the rest is the
	 * common word (a quarter of the body's words end a clause or a
	 * sentence) */
	if (last == p - 1 && last != start && !(acc & F_INNER) && (acc & F_WORD)) {
		n--;
		acc &= ~(unsigned)(F_TRIM | F_DD);
	}
	if ((acc & (F_TRIM | F_INNER)) || n > BAYES_WORD_MAX)
		word(t, prefix, pl, pre, (const char *)start, n, end);
	else if (n >= 3)
		common_word(t, pre, pl, start, n, end);
	/* past the run of '.' and '-' that cut the word (otherwise the word
	 * ended on a separator or at the end) */
	if (dd)
		while (p < end && (flags[*p] & F_DD))
			p++;
	return p;
}

#if defined(__SSE2__) && !defined(BAYES_TOKEN_SCALAR)
#define SPLIT_CHUNK 64

/* Of the 64 octets at p, the bits of those that are not separators
 * (flags[] not 0), and in *sign those of the signs among them (F_TRIM,
 * F_INNER): sixteen octets compared at a time. */
static inline uint64_t
chunk_masks(const unsigned char *p, uint64_t *sign)
{
	uint64_t any = 0, sg = 0;

	for (int k = 0; k < 4; k++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
		/* signed compares: octets from 0x80 are negative, below
		 * every bound, and counted by the sign bit instead */
		__m128i lo = _mm_or_si128(v, _mm_set1_epi8(0x20));
		__m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lo, _mm_set1_epi8('a' - 1)),
		    _mm_cmplt_epi8(lo, _mm_set1_epi8('z' + 1)));
		__m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
		    _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
		/* the signs of cls_init(): "-'.," trimmed, "$!@*_" kept */
		__m128i s = _mm_or_si128(
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('\''))),
		    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8(',')))),
		    _mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('$')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('!'))),
		    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('@')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('*'))),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('_')))));
		uint64_t w, q;
		w = (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), v));
		q = (uint64_t)(unsigned)_mm_movemask_epi8(s);
		any |= (w | q) << (16 * k);
		sg |= q << (16 * k);
	}
	*sign = sg;
	return any;
}
#endif

/* Splits buf into words; separators are the C_SEP characters, and "..."
 * or "--" inside a word (a common formatting slip that would make
 * one-off tokens). The common word, letters and digits only, 3 to 15
 * octets, is made here; the others go to word(). Inlined in words()
 * twice, once with pl a constant 0: the body text's words are hashed and
 * kept in this loop, no call per word. Where SSE2 is there, 64 octets at
 * a time are sorted into separators, signs and the rest first: a word of
 * letters and digits, with or without one trailing comma or full stop,
 * is then found by two bit scans, no branch per octet; a word with other
 * signs is made by one_word() as without SSE2, so both give the same
 * tokens. */
static inline __attribute__((always_inline)) void
split(struct bayes_tokens *t, const char *prefix, size_t pl, const uint64_t *pre,
    const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf, *end = p + len;

	while (p < end && !t->cut) {
#if defined(__SSE2__) && !defined(BAYES_TOKEN_SCALAR)
		if (end - p >= SPLIT_CHUNK) {
			uint64_t sg, any = chunk_masks(p, &sg), bits = any, run;
			const unsigned char *next = p + SPLIT_CHUNK;
			size_t s, n;
			/* each word of the chunk; bits: those not yet made */
			while (bits != 0 && !t->cut) {
				uint64_t sw;
				s = (size_t)__builtin_ctzll(bits);
				run = ~any >> s;
				if (run == 0) {
					/* the word may go on past the chunk: the
					 * next chunk starts with it (or, 64 octets
					 * long, it is made octet by octet) */
					next = s > 0 ? p + s : one_word(t, prefix, pl, pre, p, end);
					break;
				}
				n = (size_t)__builtin_ctzll(run);
				sw = (sg >> s) & ((1ULL << n) - 1);
				if (sw == 0 || (n >= 2 && sw == 1ULL << (n - 1) &&
				    !(flags[p[s + n - 1]] & F_INNER))) {
					/* letters and digits, or those and one
					 * trailing '.' ',' '-' or '\'' to trim */
					size_t wl = sw == 0 ? n : n - 1;
					if (wl > BAYES_WORD_MAX)
						word(t, prefix, pl, pre, (const char *)p + s, wl, end);
					else if (wl >= 3)
						common_word(t, pre, pl, p + s, wl, end);
				} else {
					/* other signs: octet by octet; the chunk
					 * goes on after the word if it ends in it
					 * ("..." may cut it short of the run) */
					const unsigned char *q = one_word(t, prefix, pl, pre, p + s, end);
					if (q >= p + SPLIT_CHUNK) {
						next = q;
						break;
					}
					n = (size_t)(q - p) - s;
				}
				bits &= s + n < 64 ? ~0ULL << (s + n) : 0;
			}
			p = next;
			continue;
		}
#endif
		while (p < end && flags[*p] == 0)
			p++;
		if (p == end)
			break;
		p = one_word(t, prefix, pl, pre, p, end);
	}
}

static void
words(struct bayes_tokens *t, const char *prefix, const char *buf, size_t len)
{
	size_t pl = strlen(prefix);
	uint64_t pre[TOKWORDS] = { 0 };

	if (pl == 0) {
		split(t, "", 0, pre, buf, len);
		return;
	}
	/* the prefix as words once: every token of buf starts with it */
	if (pl > BAYES_TOKEN_TEXT_MAX - BAYES_WORD_MAX)
		pl = BAYES_TOKEN_TEXT_MAX - BAYES_WORD_MAX;
	for (size_t i = 0; i < pl; i++)
		pre[i / 8] |= (uint64_t)(unsigned char)prefix[i] << (8 * (i % 8));
	split(t, prefix, pl, pre, buf, len);
}

void
bayes_tokens_text(struct bayes_tokens *t, const char *buf, size_t len)
{
	words(t, "", buf, len);
}

void
bayes_tokens_words(struct bayes_tokens *t, const char *prefix, const char *buf, size_t len)
{
	words(t, prefix, buf, len);
}

/* Case-insensitive: does [p, end) start with the NUL-terminated s? */
static bool
starts(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(end - p) >= n && strncasecmp(p, s, n) == 0;
}

/* Position after the first case-insensitive s in [p, end), or end. */
static const char *
skip_past(const char *p, const char *end, const char *s)
{
	size_t n = strlen(s);

	for (; (size_t)(end - p) >= n; p++)
		if (strncasecmp(p, s, n) == 0)
			return p + n;
	return end;
}

/* Tags that end a line or a block: a word never runs across them, while
 * "V<b>i</b>agra" reads as one word, as a browser shows it. low is the
 * name lower-cased, l its length (a name longer than 10 is none). */
static bool
block_tag(const char *low, size_t l)
{
#define T(lit) { lit, sizeof(lit) - 1 }
	static const struct {
		const char *s;
		size_t len;
	} b[] = {
		T("br"), T("p"), T("div"), T("td"), T("th"), T("tr"), T("li"), T("table"), T("hr"),
		T("h1"), T("h2"), T("h3"), T("h4"), T("h5"), T("h6"), T("ul"), T("ol"), T("title"),
		T("blockquote"), T("pre"), T("img"), T("center"),
	};
#undef T
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++)
		if (b[i].len == l && b[i].s[0] == low[0] && memcmp(b[i].s, low, l) == 0)
			return true;
	return false;
}

void
bayes_tokens_html(struct bayes_tokens *t, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	char *vis = xmalloc(len + 1), *dec;
	size_t o = 0, dl;

	while (p < end) {
		const char *name, *q;
		char low[16];
		size_t nl, ll;
		bool close;
		if (*p != '<') {
			/* the text up to the next tag in one copy */
			const char *lt = memchr(p, '<', (size_t)(end - p));
			size_t n = (size_t)((lt ? lt : end) - p);
			memcpy(vis + o, p, n);
			o += n;
			p += n;
			continue;
		}
		if (p + 1 < end && p[1] == '!' && starts(p, end, "<!--")) {
			p = skip_past(p + 4, end, "-->");
			continue;
		}
		q = p + 1;
		close = q < end && *q == '/';
		if (close)
			q++;
		name = q;
		while (q < end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9')))
			q++;
		nl = (size_t)(q - name);
		if (nl == 0 && !close && !(q < end && (*q == '!' || *q == '?'))) {
			vis[o++] = *p++;	/* "a < b": text */
			continue;
		}
		p = q < end ? memchr(q, '>', (size_t)(end - q)) : NULL;
		p = p ? p + 1 : end;
		ll = nl < sizeof(low) ? nl : sizeof(low);
		for (size_t i = 0; i < ll; i++)
			low[i] = (char)lower[(unsigned char)name[i]];
		if (nl > 0 && !close) {
			add2(t, "tag:", 4, low, ll);
			if (nl == 5 && memcmp(low, "style", 5) == 0)
				p = skip_past(p, end, "</style");
			else if (nl == 6 && memcmp(low, "script", 6) == 0)
				p = skip_past(p, end, "</script");
		}
		if (nl > 0 && nl <= 10 && block_tag(low, nl))
			vis[o++] = ' ';
	}
	if (memchr(vis, '&', o) == NULL) {
		words(t, "", vis, o);
		free(vis);
		return;
	}
	/* references decoded after the tags are gone: "&lt;b&gt;" is text */
	dec = xmalloc(o * 2 + 16);
	dl = html_entities_decode(vis, o, dec, o * 2 + 16);
	/* &nbsp; (U+00A0) is white space */
	for (char *q = dec; dl >= 2 && q < dec + dl - 1 &&
	    (q = memchr(q, 0xc2, (size_t)(dec + dl - 1 - q))) != NULL; q++)
		if ((unsigned char)q[1] == 0xa0)
			q[0] = q[1] = ' ';
	words(t, "", dec, dl);
	free(dec);
	free(vis);
}

/* A list of lower-case field names; a name ending in '-' is a prefix. */
struct name {
	const char *s;
	size_t len;
};
#define N(lit) { lit, sizeof(lit) - 1 }
struct names {
	const struct name *v;
	size_t n;		/* at most 64, each at least 3 octets */
	uint64_t *first;	/* [256]: bit i for the entries starting with that octet */
	uint64_t *third;	/* [256]: the same for their third octet */
};

/* Is the lower-case name low[0..nl) in the list? Only the entries
 * with its first and third letters are compared ("x-" starts many). */
static bool
listed(const struct names *l, const char *low, size_t nl)
{
	if (nl < 3)
		return false;
	for (uint64_t m = l->first[(unsigned char)low[0]] & l->third[(unsigned char)low[2]]; m != 0;
	    m &= m - 1) {
		const struct name *e = &l->v[__builtin_ctzll(m)];
		if (e->len > nl)
			continue;
		if (e->s[e->len - 1] == '-' ? memcmp(low, e->s, e->len) == 0 :
		    nl == e->len && memcmp(low, e->s, nl) == 0)
			return true;
	}
	return false;
}

/* Header fields added on the way in (by postern, by a delivery agent, by
 * a mailbox): no token, so the message as received and the stored copy
 * give the same ones. */
static const struct name ignored_v[] = {
	N("received"), N("x-spam-"), N("x-postern-"), N("authentication-results"),
	N("arc-authentication-results"), N("arc-seal"), N("arc-message-signature"),
	N("received-spf"), N("delivered-to"), N("return-path"), N("x-original-to"),
	N("envelope-to"), N("x-envelope-to"), N("delivery-date"), N("x-delivery-date"), N("date"),
	N("status"), N("x-status"), N("x-keywords"), N("x-uid"), N("x-uidl"), N("x-imapbase"),
	N("x-flags"), N("content-length"), N("lines"), N("x-sieve"), N("x-sieve-"), N("x-virus-"),
	N("x-bogosity"), N("x-dspam-"), N("x-rspamd-"), N("x-mailscanner"), N("x-mailscanner-"),
	N("x-spamd-"), N("x-amavis-"),
};
static uint64_t ignored_first[256], ignored_third[256];
static const struct names ignored = {
	ignored_v, sizeof(ignored_v) / sizeof(ignored_v[0]), ignored_first, ignored_third
};

_Static_assert(sizeof(ignored_v) / sizeof(ignored_v[0]) <= 64, "listed() takes 64 names");

/* The first-letter bitmaps of the lists (cls_init, once). */
static void
names_init(void)
{
	static const struct names *const all[] = { &ignored };

	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		for (size_t i = 0; i < all[k]->n; i++) {
			all[k]->first[(unsigned char)all[k]->v[i].s[0]] |= 1ULL << i;
			all[k]->third[(unsigned char)all[k]->v[i].s[2]] |= 1ULL << i;
		}
}

static bool
named(const char *low, size_t nl, const char *s)
{
	return nl == strlen(s) && memcmp(low, s, nl) == 0;
}

void
bayes_tokens_header(struct bayes_tokens *t, const char *name, size_t namelen,
    const char *value, size_t valuelen)
{
	char raw[HEADER_RAW_MAX], dec[HEADER_DEC_MAX], low[HEADER_NAME_MAX];
	const char *prefix = NULL, *txt;
	size_t rl, dl, ll = namelen < sizeof(low) ? namelen : sizeof(low);

	if (namelen == 0)
		return;
	if (namelen == 8 && strncasecmp(name, "Received", 8) == 0) {
		if (t->nrcvd < BAYES_RCVD_MAX) {
			t->rcvd[t->nrcvd] = value;
			t->rcvd_len[t->nrcvd] = valuelen;
		}
		t->nrcvd++;
		return;
	}
	for (size_t i = 0; i < ll; i++) {
		char c = name[i];
		low[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	/* a name longer than low is none of the listed ones but may start
	 * with a listed prefix */
	if (listed(&ignored, low, ll))
		return;
	bayes_tokens_add(t, "hdr:", low, ll);
	if (named(low, ll, "subject"))
		prefix = "subject:";
	else if (named(low, ll, "from") || named(low, ll, "sender"))
		prefix = "from:";
	else if (named(low, ll, "reply-to"))
		prefix = "reply-to:";
	else if (named(low, ll, "to") || named(low, ll, "cc"))
		prefix = "to:";
	else if (named(low, ll, "x-mailer") || named(low, ll, "user-agent"))
		prefix = "mailer:";
	else if (named(low, ll, "content-type")) {
		char cs[64];
		size_t i = 0;
		rl = mime_unfold(value, valuelen, raw, sizeof(raw));
		while (i < rl && raw[i] != ';' && raw[i] != ' ')
			i++;
		for (size_t k = 0; k < i; k++)
			raw[k] = (char)(raw[k] >= 'A' && raw[k] <= 'Z' ? raw[k] + 32 : raw[k]);
		bayes_tokens_add(t, "type:", raw, i);
		if (mime_param(raw, rl, "charset", cs, sizeof(cs))) {
			for (char *c = cs; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			bayes_tokens_add(t, "charset:", cs, strlen(cs));
		}
		return;
	} else if (named(low, ll, "message-id")) {
		/* the domain part: spamware makes its own up */
		const char *at, *gt;
		rl = mime_unfold(value, valuelen, raw, sizeof(raw));
		at = memchr(raw, '@', rl);
		if (at != NULL) {
			gt = memchr(at, '>', (size_t)(raw + rl - at));
			dl = (size_t)((gt ? gt : raw + rl) - at - 1);
			for (size_t k = 0; k < dl; k++)
				dec[k] = (char)lower[(unsigned char)at[1 + k]];
			bayes_tokens_add(t, "msgid@", dec, dl);
		}
		return;
	}
	/* other fields: their presence only (Bayes.pm's
	 * MARK_PRESENCE_ONLY_HDRS for all of them): the words of their
	 * values were 4% of the tokens that decided on the corpus, and
	 * without them as many spam are caught, as few ham misfiled
	 * (issue 17) */
	if (prefix == NULL)
		return;
	/* RFC 2047 words only where "=?" says there are some; otherwise
	 * the value as it is: folding is white space to the splitter */
	if (memmem(value, valuelen, "=?", 2) != NULL) {
		rl = mime_unfold(value, valuelen, raw, sizeof(raw));
		dl = rfc2047_decode(raw, rl, dec, sizeof(dec));
		txt = dec;
	} else {
		dl = valuelen < HEADER_RAW_MAX ? valuelen : HEADER_RAW_MAX;
		txt = value;
	}
	/* the Subject's words once, under "subject:", not again as text
	 * as Bayes.pm does: as many spam caught, fewer ham misfiled on the
	 * corpus (issue 17) */
	words(t, prefix, txt, dl);
}

void
bayes_tokens_host(struct bayes_tokens *t, const char *host)
{
	bayes_tokens_add(t, "url:", host, strlen(host));
}
