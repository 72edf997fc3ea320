/*
 * DMARC (RFC 7489): the policy record of the From: domain (or its
 * organizational domain, libpsl), and alignment of SPF and DKIM results
 * with it (relaxed or strict per adkim=/aspf=).
 */
#ifndef POSTERN_SCAN_DMARC_H
#define POSTERN_SCAN_DMARC_H

#include "dns/resolver.h"
#include "scan/dkim.h"
#include "scan/spf.h"

enum dmarc_result { DMARC_NONE = 0, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };
enum dmarc_policy { DMARC_POLICY_NONE = 0, DMARC_POLICY_QUARANTINE, DMARC_POLICY_REJECT };

const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_policy_name(enum dmarc_policy p);

struct dmarc_check;

typedef void dmarc_cb(void *arg, enum dmarc_result result, enum dmarc_policy policy,
    const char *from_domain);

/*
 * Starts the DMARC evaluation for from_domain given the SPF result and
 * the domain SPF checked, and the DKIM signatures' results. Never calls
 * cb before returning.
 */
struct dmarc_check *dmarc_check_start(struct resolver *res, const char *from_domain,
    enum spf_result spf, const char *spf_domain, const struct dkim_sig_result *sigs,
    size_t nsigs, unsigned timeout_ms, dmarc_cb *cb, void *arg);
void dmarc_check_free(struct dmarc_check *c);

/*
 * The same in two halves, so that the record lookups run while SPF and
 * DKIM are still being checked: begin starts them (never calling back
 * before it returns); evaluate gives the SPF and DKIM results once known.
 * cb runs once both are in, from evaluate itself when the record is
 * already there.
 */
struct dmarc_check *dmarc_check_begin(struct resolver *res, const char *from_domain,
    unsigned timeout_ms, dmarc_cb *cb, void *arg);
void dmarc_check_evaluate(struct dmarc_check *c, enum spf_result spf, const char *spf_domain,
    const struct dkim_sig_result *sigs, size_t nsigs);

/* Pure: true when SPF passed for, or a DKIM signature passed with d=, a
 * domain of from_domain's organization (DMARC's relaxed alignment, RFC
 * 7489 3.1), whether or not the domain publishes a DMARC record. */
bool dmarc_identifier_aligned(const char *from_domain, enum spf_result spf,
    const char *spf_domain, const struct dkim_sig_result *sigs, size_t nsigs);

/* Pure: parses a DMARC record; returns 0 with policy, adkim/aspf strict
 * flags and pct, or -1 when it is not a valid "v=DMARC1" record. */
int dmarc_parse_record(const char *buf, size_t len, enum dmarc_policy *p,
    enum dmarc_policy *sp, int *adkim_strict, int *aspf_strict, int *pct);

#endif
