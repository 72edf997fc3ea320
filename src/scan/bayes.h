/*
 * The content classifier of SPEC 13: per-token spam and ham counts, each
 * token's probability by Gary Robinson's f(w), combined by Fisher's
 * chi-square method (Robinson's "Handling Redundancy in Email Token
 * Probabilities", as SpamAssassin's Bayes/CombineChi.pm and bogofilter's
 * fisher.c do), and the vote it gives (BAYES_SPAM, BAYES_HAM). Pure: the
 * counts come in a bayes_table, an in-memory copy of the token database
 * that a store (policy/bayes_store.h) fills; the same code votes in the
 * server and in `postern scan`.
 */
#ifndef POSTERN_SCAN_BAYES_H
#define POSTERN_SCAN_BAYES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scan/bayes_token.h"
#include "scan/received.h"
#include "scan/score.h"
#include "scan/urls.h"

/* Tokens shown by `postern scan`: those that weighed most. */
#define BAYES_SHOWN_MAX 10
/* Tokens combined per message (SpamAssassin's N_SIGNIFICANT_TOKENS). */
#define BAYES_SIGNIFICANT_MAX 150

struct bayes_counts {
	uint32_t spam, ham;	/* learned messages of each kind with the token */
};

/* Token counts by hash, and the messages learned. */
struct bayes_table;

/* A new table with one owner, its creator. */
struct bayes_table *bayes_table_new(size_t expected);
/* Drops one owner; the last one frees the table. NULL is a no-op. */
void bayes_table_free(struct bayes_table *t);
/* Another owner (any thread; the table must not change while shared):
 * a scan on a worker keeps the table it started with even when the
 * server loads a new one. Returns t; NULL is a no-op. */
const struct bayes_table *bayes_table_hold(const struct bayes_table *t);
/* bayes_table_free for an owner holding a const pointer. */
void bayes_table_release(const struct bayes_table *t);
/* Sets (replaces) a token's counts; tokens with both counts 0 are not kept. */
void bayes_table_put(struct bayes_table *t, uint64_t hash, struct bayes_counts c);
/* False when the token is unknown. */
bool bayes_table_get(const struct bayes_table *t, uint64_t hash, struct bayes_counts *c);
void bayes_table_set_learned(struct bayes_table *t, uint32_t nspam, uint32_t nham);
void bayes_table_learned(const struct bayes_table *t, uint32_t *nspam, uint32_t *nham);
size_t bayes_table_count(const struct bayes_table *t);

struct bayes_shown {
	char text[BAYES_TOKEN_TEXT_MAX + 1];
	double prob;		/* f(w): above 0.5 spam, below ham */
	struct bayes_counts c;
};

struct bayes_result {
	bool ran;		/* a table was there */
	bool votes;		/* enough messages learned (bayes_min_learned) */
	double prob;		/* the message's spam probability, 0.5: no clue */
	uint32_t nspam, nham;	/* messages learned */
	unsigned ntokens;	/* tokens of the message */
	unsigned used;		/* significant tokens combined */
	struct bayes_shown shown[BAYES_SHOWN_MAX];	/* strongest first */
	size_t nshown;
};

/* Robinson's f(w) for a token seen in c of nspam/nham learned messages. */
double bayes_token_prob(struct bayes_counts c, uint32_t nspam, uint32_t nham);

/*
 * Fisher-Robinson chi-square combination of n token probabilities (all
 * already significant) into the message's probability of being spam,
 * 0.5 when n is 0. nspam and nham weigh the two hypotheses as
 * SpamAssassin does (its bug 3118).
 */
double bayes_combine(const double *prob, size_t n, uint32_t nspam, uint32_t nham);

/* Classifies the tokens against table t into r. */
void bayes_classify(const struct bayes_table *t, const struct bayes_tokens *tok,
    unsigned min_learned, struct bayes_result *r);

/*
 * The vote of SPEC 13 on sc: BAYES_SPAM at p >= 0.999 with its weight,
 * >= 0.99 with 0.8 of it, >= 0.95 with 0.4; BAYES_HAM at p <= 0.01; none
 * before min_learned messages of each kind are learned.
 */
void bayes_vote(const struct bayes_result *r, struct score *sc);

/*
 * What the scanner found besides the text, as tokens: URL and e-mail
 * hosts, the last external hop's address and network (/24, or the first
 * three groups of IPv6), and the words of the two oldest Received fields
 * below that hop (as bayes_tokens_header kept them), which were written
 * by the sender's side, never by us or our mailbox. Call while the
 * message is still there.
 */
void bayes_tokens_scan(struct bayes_tokens *tok, const struct url_set *urls,
    const struct received_chain *chain);

#endif
