/*
 * The symbol table: names and default weights are a contract (SPEC 5.3).
 * Structural checks weigh at most 1.0 each, so a well-formed message with
 * nothing listed stays far below score_junk.
 */
#include "score.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *name; double weight; } table[SYM_COUNT] = {
	[SYM_URL_DBL_SPAM] = { "URL_DBL_SPAM", 6.0 },
	[SYM_URL_DBL_PHISH] = { "URL_DBL_PHISH", 8.0 },
	[SYM_URL_DBL_MALWARE] = { "URL_DBL_MALWARE", 8.0 },
	[SYM_URL_DBL_BOTNET] = { "URL_DBL_BOTNET", 8.0 },
	[SYM_URL_DBL_ABUSED] = { "URL_DBL_ABUSED", 3.0 },
	[SYM_URL_IP_SBL] = { "URL_IP_SBL", 6.0 },
	[SYM_RCVD_IN_SBL] = { "RCVD_IN_SBL", 4.0 },
	[SYM_RCVD_IN_XBL] = { "RCVD_IN_XBL", 3.0 },
	[SYM_RCVD_IN_PBL] = { "RCVD_IN_PBL", 1.0 },
	[SYM_FROM_DBL] = { "FROM_DBL", 6.0 },
	[SYM_FROM_DBL_ABUSED] = { "FROM_DBL_ABUSED", 2.0 },
	[SYM_HELO_DBL_ABUSED] = { "HELO_DBL_ABUSED", 2.0 },
	[SYM_RDNS_DBL_ABUSED] = { "RDNS_DBL_ABUSED", 2.0 },
	[SYM_SPF_FAIL] = { "SPF_FAIL", 2.0 },
	[SYM_SPF_SOFTFAIL] = { "SPF_SOFTFAIL", 0.5 },
	[SYM_DKIM_INVALID] = { "DKIM_INVALID", 1.0 },
	[SYM_DMARC_FAIL] = { "DMARC_FAIL", 3.0 },
	[SYM_MISSING_DATE] = { "MISSING_DATE", 1.0 },
	[SYM_MISSING_MESSAGE_ID] = { "MISSING_MESSAGE_ID", 0.5 },
	[SYM_MISSING_FROM] = { "MISSING_FROM", 1.0 },
	[SYM_MALFORMED_FROM] = { "MALFORMED_FROM", 1.0 },
	[SYM_MULTIPLE_FROM] = { "MULTIPLE_FROM", 1.0 },
	[SYM_MISSING_SUBJECT] = { "MISSING_SUBJECT", 0.5 },
	[SYM_MIME_MALFORMED] = { "MIME_MALFORMED", 0.5 },
	/* SPEC 5.3: what a cap cut off may hide a listed name, so padding
	 * past the caps costs what a hit on it would partly cost */
	[SYM_SCAN_TRUNCATED] = { "SCAN_TRUNCATED", 3.0 },
	/* SPEC 5.3: a known malware file rejects on its own (20 > 12), a
	 * listed address or wallet is Junk on its own (6 > 5) */
	[SYM_ZRD_VERY_FRESH] = { "ZRD_VERY_FRESH", 3.0 },
	[SYM_ZRD_FRESH] = { "ZRD_FRESH", 1.5 },
	[SYM_HBL_EMAIL] = { "HBL_EMAIL", 6.0 },
	[SYM_HBL_FILE_MALWARE] = { "HBL_FILE_MALWARE", 20.0 },
	[SYM_HBL_FILE_SUSPICIOUS] = { "HBL_FILE_SUSPICIOUS", 5.0 },
	[SYM_HBL_CW] = { "HBL_CW", 6.0 },
	/* A sender the recipient moved to Junk goes there again on its own
	 * (6.0 > score_junk); one moved out of Junk, when the From: domain
	 * is authenticated, gets back under score_junk from up to 8.9. */
	[SYM_LEARNED_SPAM] = { "LEARNED_SPAM", 6.0 },
	[SYM_LEARNED_HAM] = { "LEARNED_HAM", -4.0 },
	/* SPEC 13: the top band (p >= 0.999) is Junk on its own; the lower
	 * bands weigh 0.8 and 0.4 of it (scan/bayes.c bayes_vote) */
	[SYM_BAYES_SPAM] = { "BAYES_SPAM", 5.0 },
	[SYM_BAYES_HAM] = { "BAYES_HAM", -2.0 },
};

const char *
symbol_name(enum symbol s)
{
	return (unsigned)s < SYM_COUNT ? table[s].name : "?";
}

double
symbol_default_weight(enum symbol s)
{
	return (unsigned)s < SYM_COUNT ? table[s].weight : 0;
}

const char *
verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_INBOX: return "inbox";
	case VERDICT_JUNK: return "junk";
	case VERDICT_REJECT: return "reject";
	}
	return "?";
}

void
score_init(struct score *sc, const struct config *cfg)
{
	memset(sc, 0, sizeof(*sc));
	for (int i = 0; i < SYM_COUNT; i++) {
		sc->weights[i] = table[i].weight;
		if (cfg != NULL)
			config_score_override(cfg, table[i].name, &sc->weights[i]);
	}
}

bool
score_has(const struct score *sc, enum symbol s)
{
	for (size_t i = 0; i < sc->nhits; i++)
		if (sc->hits[i].sym == s)
			return true;
	return false;
}

void
score_add(struct score *sc, enum symbol s, const char *detail)
{
	if ((unsigned)s < SYM_COUNT)
		score_add_weight(sc, s, sc->weights[s], detail);
}

void
score_add_weight(struct score *sc, enum symbol s, double weight, const char *detail)
{
	struct score_hit *h;

	if ((unsigned)s >= SYM_COUNT || score_has(sc, s))
		return;
	h = &sc->hits[sc->nhits++];
	h->sym = s;
	h->weight = weight;
	snprintf(h->detail, sizeof(h->detail), "%s", detail ? detail : "");
	/* Details end up in a header: no control characters, no ')' or ','
	 * that would break the tests=SYM(detail),... list. */
	for (char *p = h->detail; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ')' || *p == '(' || *p == ',')
			*p = '_';
	sc->total += h->weight;
}

enum verdict
score_verdict(const struct score *sc, double junk, double reject)
{
	if (sc->force_reject || sc->total >= reject)
		return VERDICT_REJECT;
	if (sc->total >= junk)
		return VERDICT_JUNK;
	return VERDICT_INBOX;
}

const char *
score_status(const struct score *sc, double junk, char *out, size_t outlen)
{
	size_t o;
	int n = snprintf(out, outlen, "%s, score=%.1f required=%.1f tests=",
	    sc->total >= junk ? "Yes" : "No", sc->total, junk);

	if (n < 0 || (size_t)n >= outlen)
		return out;
	o = (size_t)n;
	if (sc->nhits == 0)
		n = snprintf(out + o, outlen - o, "none");
	for (size_t i = 0; i < sc->nhits && o < outlen; i++) {
		const struct score_hit *h = &sc->hits[i];
		n = snprintf(out + o, outlen - o, "%s%s%s%s%s", i ? "," : "", symbol_name(h->sym),
		    h->detail[0] ? "(" : "", h->detail, h->detail[0] ? ")" : "");
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
	}
	return out;
}

size_t
score_validate(const struct config *cfg, struct config_diag *diag)
{
	size_t bad = 0;

	for (size_t i = 0; i < cfg->nscores; i++) {
		int s;
		for (s = 0; s < SYM_COUNT; s++)
			if (strcmp(cfg->scores[i].symbol, table[s].name) == 0)
				break;
		if (s == SYM_COUNT) {
			config_diag_add(diag, cfg->path, cfg->scores[i].line,
			    "unknown score symbol \"%s\"", cfg->scores[i].symbol);
			bad++;
		}
	}
	return bad;
}

void
score_symbols(const struct score *sc, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sc->nhits; i++) {
		int n = snprintf(out + o, outlen - o, "%s%s", i ? "," : "", symbol_name(sc->hits[i].sym));
		if (n < 0 || (size_t)n >= outlen - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(out, outlen, "-");
}
