/*
 * MTA-STS (RFC 8461) as text: the _mta-sts TXT record (3.1), the policy
 * file (3.2) and the match of an MX host name against its mx patterns
 * (4.1). Pure parsers over (buf, len) with caps; what they read comes
 * from the DNS and from an HTTPS server of the recipient's domain.
 */
#ifndef POSTERN_QUEUE_MTASTS_POLICY_H
#define POSTERN_QUEUE_MTASTS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#define MTASTS_POLICY_MAX (64 * 1024)	/* RFC 8461 3.3: larger bodies are refused */
#define MTASTS_ID_MAX 32		/* 3.1: 1*32(ALPHA / DIGIT) */
#define MTASTS_MX_MAX 32		/* mx patterns kept; more is refused */
#define MTASTS_MX_LEN 254		/* a pattern: a domain, "*." and NUL */
#define MTASTS_MAX_AGE_MAX 31557600u	/* 3.2: a year; larger values are capped */

enum mtasts_mode {
	MTASTS_NONE = 0,	/* the domain withdrew its policy */
	MTASTS_TESTING,		/* report failures, deliver anyway */
	MTASTS_ENFORCE,		/* a listed MX, TLS, a valid certificate, or nothing */
};

struct mtasts_policy {
	enum mtasts_mode mode;
	unsigned max_age;			/* seconds, capped at MTASTS_MAX_AGE_MAX */
	size_t nmx;
	char mx[MTASTS_MX_MAX][MTASTS_MX_LEN];	/* lower case, "*.example.net" or a name */
};

/*
 * Reads one TXT record (its strings already joined): "v=STSv1; id=ID"
 * plus extension fields. Returns 0 with the id in id[MTASTS_ID_MAX + 1],
 * or -1 with *why a static reason.
 */
int mtasts_txt_parse(const char *buf, size_t len, char *id, const char **why);

/* True when a TXT record claims to be one of ours (3.1: "v=STSv1" then
 * ';' or blanks): the records that count when a name has several. */
bool mtasts_txt_is_sts(const char *buf, size_t len);

/*
 * Reads a policy file (LF or CRLF lines of "key: value"). version,
 * mode and max_age are required, once each; mx at least once unless the
 * mode is none; unknown keys are ignored (3.2). Returns 0 with *out
 * filled, or -1 with *why a static reason (malformed, larger than
 * MTASTS_POLICY_MAX, too many mx patterns).
 */
int mtasts_policy_parse(const char *buf, size_t len, struct mtasts_policy *out,
    const char **why);

/* RFC 8461 4.1: host (an MX name, any case, a final dot ignored) matches
 * a pattern exactly or, for "*.suffix", by one more left-most label. */
bool mtasts_policy_mx_match(const struct mtasts_policy *p, const char *host);

/* "none", "testing", "enforce". */
const char *mtasts_mode_name(enum mtasts_mode mode);

#endif
