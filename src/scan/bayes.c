/*
 * Classification. Each token's probability is Gary Robinson's f(w)
 * ("A Statistical Approach to the Spam Problem", Linux Journal 107,
 * 2003), the significant ones (|f(w) - 0.5| >= 0.346, the strongest 150)
 * are combined by Fisher's method with the inverse chi-square function
 * (Robinson, "Handling Redundancy in Email Token Probabilities", 2002).
 * This is what SpamAssassin (Plugin/Bayes.pm, Bayes/CombineChi.pm) and
 * bogofilter (robinson.c, fisher.c) do; the constants are SpamAssassin's,
 * tuned on its corpora, so the two classifiers can be compared on equal
 * terms (bench/bayes.sh). Its output clusters at 0 and 1, uncertain
 * messages near 0.5, which is what the thresholds of SPEC 13 expect.
 */
#include "bayes.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/mman.h>
#include <sys/random.h>

#include "lib/xmalloc.h"
#include "scan/mime.h"

/* Robinson's x, the probability of a token never seen, and s, how much
 * that prior weighs against the counts (CombineChi.pm FW_X_CONSTANT,
 * FW_S_CONSTANT). */
#define FW_X 0.538
#define FW_S 0.030
/* Tokens nearer 0.5 than this say nothing (CombineChi.pm MIN_PROB_STRENGTH). */
#define MIN_PROB_STRENGTH 0.346
#define HUGE_PAGE (2u * 1024 * 1024)

/* What a scan reads of a token, 16 octets, four to a cache line: its
 * probability is kept ready (a scan would divide three times for each
 * of its tokens), the counts are apart, read for the few tokens shown. */
struct entry {
	uint64_t hash;		/* 0: empty slot (a hash of 0 is kept as 1) */
	/* bayes_token_prob of the counts and the learned totals, kept
	 * current by put and set_learned; FW_X (no clue) for 0/0 */
	double prob;
};

struct bayes_table {
	struct entry *e;
	struct bayes_counts *c;	/* the counts of e[i] in c[i] */
	size_t mask;		/* slots - 1, a power of two minus one */
	/* a token's home slot is a keyed mix of its hash: the hashes are
	 * the stores' (fixed, and the tokens come from mail anyone can
	 * send and have learned), so by their own bits a sender could make
	 * thousands share one probe chain and every load and scan crawl */
	uint64_t key[2];
	size_t n;
	uint32_t nspam, nham;
	/* owners (bayes_table_hold): the server's live copy and the scans
	 * classifying with it on a worker, which may outlast its
	 * replacement (policy/bayes_live.c) */
	atomic_uint refs;
};

/* Zeroed memory; a table of megabytes in huge pages where the system
 * has them (madvise): a scan's few hundred probes land far apart, and
 * with 4 KiB pages each would miss the TLB too. */
static void *
slots_new(size_t n, size_t size)
{
	size_t bytes = n * size;
	void *p;

	if (bytes < HUGE_PAGE)
		return xcalloc(n, size);
	if (posix_memalign(&p, HUGE_PAGE, bytes) != 0)
		abort();
#ifdef MADV_HUGEPAGE
	madvise(p, bytes, MADV_HUGEPAGE);
#endif
	memset(p, 0, bytes);
	return p;
}

struct bayes_table *
bayes_table_new(size_t expected)
{
	struct bayes_table *t = xcalloc(1, sizeof(*t));
	size_t slots = 1024;

	/* load factor at most 1/2: probes stay short */
	while (slots < expected * 2)
		slots *= 2;
	t->e = slots_new(slots, sizeof(*t->e));
	t->c = slots_new(slots, sizeof(*t->c));
	t->mask = slots - 1;
	if (getrandom(t->key, sizeof(t->key), 0) != (ssize_t)sizeof(t->key)) {
		/* no kernel randomness (seccomp, very old kernel): still
		 * mixed, only guessable */
		t->key[0] = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
		t->key[1] = (uint64_t)(uintptr_t)t->e * 0xbf58476d1ce4e5b9ull;
	}
	t->key[1] |= 1;
	atomic_init(&t->refs, 1);
	return t;
}

const struct bayes_table *
bayes_table_hold(const struct bayes_table *t)
{
	/* the count is not the table's content: a reader holding a const
	 * pointer may share ownership */
	if (t != NULL)
		atomic_fetch_add_explicit(&((struct bayes_table *)t)->refs, 1, memory_order_relaxed);
	return t;
}

void
bayes_table_release(const struct bayes_table *t)
{
	bayes_table_free((struct bayes_table *)t);
}

void
bayes_table_free(struct bayes_table *t)
{
	if (t == NULL)
		return;
	/* acq_rel: the last owner sees every other owner's reads done */
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(t->e);
	free(t->c);
	free(t);
}

/* Where hash's probe chain starts: the 128-bit product of the hash and
 * the table's secret key, folded (the mixing of wyhash's "mum"). */
static inline size_t
home_of(const struct bayes_table *t, uint64_t hash)
{
	unsigned __int128 m = (unsigned __int128)(hash ^ t->key[0]) * t->key[1];

	return (size_t)((uint64_t)m ^ (uint64_t)(m >> 64)) & t->mask;
}

/* The slot of hash: its own, or the empty one where it would go. */
static inline size_t
slot_of(const struct bayes_table *t, uint64_t hash)
{
	size_t j;

	if (hash == 0)
		hash = 1;
	for (j = home_of(t, hash); t->e[j].hash != 0 && t->e[j].hash != hash;
	    j = (j + 1) & t->mask)
		;
	return j;
}

void
bayes_table_put(struct bayes_table *t, uint64_t hash, struct bayes_counts c)
{
	size_t j;

	if (hash == 0)
		hash = 1;
	if ((t->n + 1) * 2 > t->mask + 1) {
		struct entry *old = t->e;
		struct bayes_counts *oldc = t->c;
		size_t oldn = t->mask + 1;
		t->mask = oldn * 2 - 1;
		t->e = slots_new(oldn * 2, sizeof(*t->e));
		t->c = slots_new(oldn * 2, sizeof(*t->c));
		for (size_t i = 0; i < oldn; i++)
			if (old[i].hash != 0) {
				j = slot_of(t, old[i].hash);
				t->e[j] = old[i];
				t->c[j] = oldc[i];
			}
		free(old);
		free(oldc);
	}
	j = slot_of(t, hash);
	if (t->e[j].hash == 0) {
		if ((c.spam | c.ham) == 0)
			return;
		t->n++;
	}
	/* a token set to 0/0 keeps its slot (the probe chains stay
	 * whole) and reads as unknown */
	t->e[j].hash = hash;
	t->e[j].prob = bayes_token_prob(c, t->nspam, t->nham);
	t->c[j] = c;
}

bool
bayes_table_get(const struct bayes_table *t, uint64_t hash, struct bayes_counts *c)
{
	size_t j = slot_of(t, hash);

	if ((t->c[j].spam | t->c[j].ham) == 0)
		return false;
	*c = t->c[j];
	return true;
}

void
bayes_table_set_learned(struct bayes_table *t, uint32_t nspam, uint32_t nham)
{
	if (t->nspam == nspam && t->nham == nham)
		return;
	t->nspam = nspam;
	t->nham = nham;
	/* a store sets the totals before the counts: this loop is for
	 * the other order */
	for (size_t i = 0; i <= t->mask; i++)
		if (t->e[i].hash != 0)
			t->e[i].prob = bayes_token_prob(t->c[i], nspam, nham);
}

void
bayes_table_learned(const struct bayes_table *t, uint32_t *nspam, uint32_t *nham)
{
	*nspam = t->nspam;
	*nham = t->nham;
}

size_t
bayes_table_count(const struct bayes_table *t)
{
	return t->n;
}

double
bayes_token_prob(struct bayes_counts c, uint32_t nspam, uint32_t nham)
{
	double rs, rh, p, n = (double)c.spam + c.ham;

	if (n == 0 || nspam == 0 || nham == 0)
		return FW_X;
	/* Graham's p(w) on ratios, so that unequal numbers of learned spam
	 * and ham do not bias it; a count above its total (the database
	 * was trimmed) is capped */
	rs = c.spam > nspam ? 1.0 : (double)c.spam / nspam;
	rh = c.ham > nham ? 1.0 : (double)c.ham / nham;
	p = rs / (rs + rh);
	/* Robinson's f(w) = (s*x + n*p(w)) / (s + n): a token seen in few
	 * messages stays near x */
	return (FW_S * FW_X + n * p) / (FW_S + n);
}

/* The upper tail of the chi-square distribution with 2*halfv degrees of
 * freedom at x2 (the series for even degrees of freedom; Robinson's
 * chi2P, CombineChi.pm chi2q). */
static double
chi2q(double x2, size_t halfv)
{
	double m = x2 / 2.0, sum, term;

	sum = term = exp(-m);
	for (size_t i = 1; i < halfv; i++) {
		term *= m / (double)i;
		sum += term;
	}
	return sum < 1.0 ? sum : 1.0;
}

double
bayes_combine(const double *prob, size_t n, uint32_t nspam, uint32_t nham)
{
	double s, h, tot = (double)nspam + nham;
	int se = 0, he = 0, e;

	if (n == 0 || tot == 0)
		return 0.5;
	/* products kept as mantissa and exponent: 150 factors of 0.01
	 * underflow a double */
	s = nspam / tot;
	h = nham / tot;
	for (size_t i = 0; i < n; i++) {
		s *= 1.0 - prob[i];
		h *= prob[i];
		if (s < 1e-200) {
			s = frexp(s, &e);
			se += e;
		}
		if (h < 1e-200) {
			h = frexp(h, &e);
			he += e;
		}
	}
	s = log(s) + se * M_LN2;
	h = log(h) + he * M_LN2;
	/* S near 1: the token probabilities are not what chance among ham
	 * gives; H likewise for spam; the result is their balance */
	s = 1.0 - chi2q(-2.0 * s, n);
	h = 1.0 - chi2q(-2.0 * h, n);
	return (s - h + 1.0) / 2.0;
}

struct sig {
	double strength;	/* |f - 0.5| */
	double prob;
	uint32_t tok;		/* index in the message's tokens */
	size_t slot;		/* in the table: its counts */
};

/* Moves the k strongest of a[0..n) to the front, k < n (quickselect with
 * a three-way partition: many tokens share a strength, seen once). */
static void
select_strongest(struct sig *a, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pv = a[lo + (hi - lo) / 2].strength;
		size_t lt = lo, i = lo, gt = hi;
		while (i <= gt) {
			struct sig tmp = a[i];
			if (tmp.strength > pv) {
				a[i++] = a[lt];
				a[lt++] = tmp;
			} else if (tmp.strength < pv) {
				a[i] = a[gt];
				a[gt] = tmp;
				if (gt == 0)
					break;
				gt--;
			} else
				i++;
		}
		/* a[lo..lt) > pv, a[lt..gt] == pv, a(gt..hi] < pv */
		if (k < lt)
			hi = lt - 1;
		else if (k > gt)
			lo = gt + 1;
		else
			return;
	}
}

/* Is a a stronger clue than b (ties: the token seen first)? */
static bool
stronger(const struct sig *a, const struct sig *b)
{
	return a->strength > b->strength || (a->strength == b->strength && a->tok < b->tok);
}

void
bayes_classify(const struct bayes_table *t, const struct bayes_tokens *tok,
    unsigned min_learned, struct bayes_result *r)
{
	struct sig stack[512], *sig = stack;
	double probs[BAYES_SIGNIFICANT_MAX] = { 0 };
	size_t nsig = 0, used;

	memset(r, 0, sizeof(*r));
	r->prob = 0.5;
	if (t == NULL)
		return;
	r->ran = true;
	r->nspam = t->nspam;
	r->nham = t->nham;
	r->votes = t->nspam >= min_learned && t->nham >= min_learned;
	r->ntokens = (unsigned)tok->n;
	if (tok->n > sizeof(stack) / sizeof(stack[0]))
		sig = xmalloc(tok->n * sizeof(*sig));
	/* the table is megabytes, the tokens' slots are far apart: ask for
	 * them all first, so the misses overlap instead of adding up (an
	 * entry may straddle two cache lines) */
	for (size_t i = 0; i < tok->n; i++) {
		uint64_t h = tok->t[i].hash ? tok->t[i].hash : 1;
		size_t j = home_of(t, h);
		__builtin_prefetch(&t->e[j]);
		/* the home slot, kept for the probe below */
		sig[i].slot = j;
	}
	for (size_t i = 0; i < tok->n; i++) {
		uint64_t h = tok->t[i].hash ? tok->t[i].hash : 1;
		size_t j = sig[i].slot;
		double p, st;
		while (t->e[j].hash != 0 && t->e[j].hash != h)
			j = (j + 1) & t->mask;
		/* an unknown token (no slot, or forgotten: 0/0) has FW_X:
		 * no clue either way, like any other below the strength */
		p = t->e[j].hash != 0 ? t->e[j].prob : FW_X;
		st = fabs(p - 0.5);
		/* written whether it counts or not (nsig <= i: the slot read
		 * above is not needed again): a token's significance is a coin
		 * toss to the branch predictor */
		sig[nsig] = (struct sig){ st, p, (uint32_t)i, j };
		nsig += st >= MIN_PROB_STRENGTH;
	}
	used = nsig;
	if (used > BAYES_SIGNIFICANT_MAX) {
		select_strongest(sig, nsig, BAYES_SIGNIFICANT_MAX);
		used = BAYES_SIGNIFICANT_MAX;
	}
	for (size_t i = 0; i < used; i++)
		probs[i] = sig[i].prob;
	r->used = (unsigned)used;
	r->prob = bayes_combine(probs, used, t->nspam, t->nham);
	/* the strongest few, for people: one pass keeping the best ten in
	 * order (ties: the token seen first) */
	{
		size_t top[BAYES_SHOWN_MAX], nt = 0;
		for (size_t i = 0; i < used; i++) {
			size_t k = nt;
			if (nt == BAYES_SHOWN_MAX && !stronger(&sig[i], &sig[top[nt - 1]]))
				continue;
			if (nt < BAYES_SHOWN_MAX)
				nt++;
			else
				k = nt - 1;
			while (k > 0 && stronger(&sig[i], &sig[top[k - 1]])) {
				top[k] = top[k - 1];
				k--;
			}
			top[k] = i;
		}
		for (size_t k = 0; k < nt; k++) {
			const struct sig *g = &sig[top[k]];
			size_t len;
			const char *txt = bayes_token_text(tok, g->tok, &len);
			memcpy(r->shown[k].text, txt, len);
			r->shown[k].text[len] = '\0';
			r->shown[k].prob = g->prob;
			r->shown[k].c = t->c[g->slot];
		}
		r->nshown = nt;
	}
	if (sig != stack)
		free(sig);
}

void
bayes_vote(const struct bayes_result *r, struct score *sc)
{
	double top = sc->weights[SYM_BAYES_SPAM], w;
	char detail[32];
	unsigned k;

	if (!r->ran || !r->votes)
		return;
	/* SPEC 13: 5.0 at 0.999 is Junk on its own at the default
	 * score_junk; the lower bands weigh 0.8 and 0.4 of it */
	if (r->prob >= 0.999)
		w = top;
	else if (r->prob >= 0.99)
		w = top * 0.8;
	else if (r->prob >= 0.95)
		w = top * 0.4;
	else
		w = 0;
	/* four decimals, cut: 0.99996 shows as 1.0000 only when it is;
	 * integers printed, no floating-point formatting for each message
	 * (prob is within [0, 1]) */
	k = (unsigned)floor(r->prob * 10000.0);
	snprintf(detail, sizeof(detail), "%u.%04u", k / 10000, k % 10000);
	if (w != 0)
		score_add_weight(sc, SYM_BAYES_SPAM, w, detail);
	else if (r->prob <= 0.01)
		score_add(sc, SYM_BAYES_HAM, detail);
}

/* Received fields below the last external hop: the first two of them
 * counting from the bottom (the originating relays: Bayes.pm takes the
 * last two Received lines for the same reason, spamware's HELO names). */
static void
deep_received(struct bayes_tokens *tok, const struct received_chain *chain)
{
	size_t first, n = tok->nrcvd;

	if (chain->last_external < 0 || n > BAYES_RCVD_MAX)
		return;
	first = (size_t)chain->hops[chain->last_external].field + 1;
	if (first >= n)
		return;
	if (n - first > 2)
		first = n - 2;
	/* folding is white space to the splitter: no need to unfold */
	/* up to the date (after the last ';'): weekday, month, year and
	 * zone words were 2% of these tokens' cost and decided nothing on
	 * the corpus (issue 17) */
	for (size_t i = first; i < n; i++) {
		const char *semi = memrchr(tok->rcvd[i], ';', tok->rcvd_len[i]);
		size_t l = semi ? (size_t)(semi - tok->rcvd[i]) : tok->rcvd_len[i];
		bayes_tokens_words(tok, "rcvd:", tok->rcvd[i], l);
	}
}

void
bayes_tokens_scan(struct bayes_tokens *tok, const struct url_set *urls,
    const struct received_chain *chain)
{
	for (size_t i = 0; i < urls->n && !tok->cut; i++) {
		const struct url_item *it = &urls->items[i];
		bayes_tokens_host(tok, it->host);
		if (it->kind != URL_ITEM_IP && it->reg > 0)
			bayes_tokens_host(tok, it->host + it->reg);
	}
	if (chain->last_external >= 0 && (size_t)chain->last_external < chain->n) {
		const char *ip = chain->hops[chain->last_external].ip, *cut;
		size_t l;
		/* the sender's network: its /24 (IPv4) or first three groups */
		bayes_tokens_add(tok, "ip:", ip, strlen(ip));
		if (strchr(ip, ':') != NULL) {
			cut = ip;
			for (int k = 0; k < 3 && cut != NULL; k++)
				cut = strchr(cut + (k ? 1 : 0), ':');
			l = cut ? (size_t)(cut - ip) : strlen(ip);
		} else {
			cut = strrchr(ip, '.');
			l = cut ? (size_t)(cut - ip) : strlen(ip);
		}
		bayes_tokens_add(tok, "net:", ip, l);
	}
	deep_received(tok, chain);
}
