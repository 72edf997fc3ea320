/*
 * Symbols, weights and the verdict (SPEC 5.3, 5.4). Each symbol counts
 * once per message whatever the number of items that hit it; the first
 * item is kept as the detail shown in X-Spam-Status.
 */
#ifndef POSTERN_SCAN_SCORE_H
#define POSTERN_SCAN_SCORE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

enum symbol {
	SYM_URL_DBL_SPAM, SYM_URL_DBL_PHISH, SYM_URL_DBL_MALWARE, SYM_URL_DBL_BOTNET,
	SYM_URL_DBL_ABUSED, SYM_URL_IP_SBL, SYM_RCVD_IN_SBL, SYM_RCVD_IN_XBL,
	SYM_RCVD_IN_PBL, SYM_FROM_DBL, SYM_FROM_DBL_ABUSED, SYM_HELO_DBL_ABUSED,
	SYM_RDNS_DBL_ABUSED, SYM_SPF_FAIL, SYM_SPF_SOFTFAIL, SYM_DKIM_INVALID,
	SYM_DMARC_FAIL, SYM_MISSING_DATE, SYM_MISSING_MESSAGE_ID, SYM_MISSING_FROM,
	SYM_MALFORMED_FROM, SYM_MULTIPLE_FROM, SYM_MISSING_SUBJECT, SYM_MIME_MALFORMED,
	SYM_SCAN_TRUNCATED,	/* a scan cap cut something off (SPEC 5.1) */
	/* Spamhaus DQS (SPEC 4.1): a domain first seen 2-4 / 5-24 hours ago
	 * (ZRD); an address, attachment or wallet in the Hash Blocklist */
	SYM_ZRD_VERY_FRESH, SYM_ZRD_FRESH, SYM_HBL_EMAIL, SYM_HBL_FILE_MALWARE,
	SYM_HBL_FILE_SUSPICIOUS, SYM_HBL_CW,
	/* postern's own, beyond SPEC 5.3: what the recipients taught by
	 * moving mail into or out of Junk (policy/learn.h) */
	SYM_LEARNED_SPAM, SYM_LEARNED_HAM,
	/* the content classifier (SPEC 13, scan/bayes.h) */
	SYM_BAYES_SPAM, SYM_BAYES_HAM,
	SYM_COUNT
};

#define SCORE_DETAIL_MAX 200

struct score_hit {
	enum symbol sym;
	double weight;
	char detail[SCORE_DETAIL_MAX];	/* the item that hit, may be "" */
};

struct score {
	double weights[SYM_COUNT];	/* defaults with overrides applied */
	struct score_hit hits[SYM_COUNT];
	size_t nhits;
	double total;
	bool force_reject;		/* DMARC p=reject failure */
	char reject_reason[300];
};

enum verdict { VERDICT_INBOX, VERDICT_JUNK, VERDICT_REJECT };

const char *symbol_name(enum symbol s);
double symbol_default_weight(enum symbol s);
const char *verdict_name(enum verdict v);

/* Weights from the table with cfg's score.SYMBOL overrides (cfg may be NULL). */
void score_init(struct score *sc, const struct config *cfg);
/* Adds a symbol once; later hits of the same symbol are ignored. */
void score_add(struct score *sc, enum symbol s, const char *detail);
/* The same with a weight of its own (BAYES_SPAM's bands scale its weight). */
void score_add_weight(struct score *sc, enum symbol s, double weight, const char *detail);
bool score_has(const struct score *sc, enum symbol s);
enum verdict score_verdict(const struct score *sc, double junk, double reject);

/* "Yes, score=7.0 required=5.0 tests=URL_DBL_SPAM(badspam.example),..."
 * into out (header value without the name). Returns out. */
const char *score_status(const struct score *sc, double junk, char *out, size_t outlen);

/* Checks every score.SYMBOL of cfg names a known symbol (file:line). */
size_t score_validate(const struct config *cfg, struct config_diag *diag);

/* "SYM1,SYM2" of the hits (as many as fit in out), or "-" without any. */
void score_symbols(const struct score *sc, char *out, size_t outlen);

#endif
