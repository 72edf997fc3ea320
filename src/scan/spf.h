/*
 * SPF (RFC 7208) evaluation on the asynchronous resolver: check_host()
 * for the MAIL FROM identity (or postmaster@HELO for the null sender),
 * with the RFC's limits (10 DNS-querying terms, 2 void lookups), macros,
 * include/redirect/a/mx/ptr/exists/ip4/ip6/all, and exp= ignored.
 * The evaluation never blocks: each DNS query goes through resolver.h.
 */
#ifndef POSTERN_SCAN_SPF_H
#define POSTERN_SCAN_SPF_H

#include "dns/resolver.h"

enum spf_result {
	SPF_NONE = 0, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL,
	SPF_TEMPERROR, SPF_PERMERROR,
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" */
const char *spf_result_name(enum spf_result r);

struct spf_check;

/* Called once on the loop with the result; domain is the identity's
 * domain that was checked (borrowed, valid during the call). */
typedef void spf_cb(void *arg, enum spf_result result, const char *domain);

/*
 * Starts check_host(ip, domain of sender, sender). sender is the MAIL FROM
 * address ("" for the null sender: then postmaster@helo is used). The
 * whole evaluation is bounded by timeout_ms (then SPF_TEMPERROR).
 * Never calls cb before returning.
 */
struct spf_check *spf_check_start(struct resolver *res, const char *ip, const char *helo,
    const char *sender, unsigned timeout_ms, spf_cb *cb, void *arg);
/* Cancels an evaluation in progress (cb will not run). NULL is a no-op. */
void spf_check_free(struct spf_check *c);

/*
 * Pure parts, exposed for tests and fuzzing.
 * spf_record_valid: true when buf is an SPF record ("v=spf1" then terms)
 * whose terms all parse.
 */
bool spf_record_valid(const char *buf, size_t len);
/*
 * Expands the macros of RFC 7208 section 7 in a domain-spec. Returns 0
 * or -1 when malformed. Without DNS, %{p} is "unknown" here; the check
 * itself looks up the client's validated name (5.5) when a term uses it.
 */
int spf_expand_macros(const char *spec, size_t len, const char *ip, const char *sender,
    const char *domain, const char *helo, char *out, size_t outlen);

#endif
