/*
 * SMTP TLS reports (RFC 8460 4): the JSON we send about our outbound
 * sessions, and the reader of those other senders send about our
 * domains (jansson, with caps on what one report may hold). Pure.
 */
#ifndef POSTERN_REPORT_TLSRPT_JSON_H
#define POSTERN_REPORT_TLSRPT_JSON_H

#include <stddef.h>

#define TLSRPT_POLICIES_MAX 1000	/* policies in one report */
#define TLSRPT_DETAILS_MAX 1000		/* failure-details of one policy */
#define TLSRPT_WHY_MAX 160

struct tlsrpt_detail {
	char result_type[64];		/* "certificate-expired", ... */
	char sending_ip[64], receiving_ip[64];
	char receiving_mx[256];
	unsigned long long count;	/* failed-session-count */
};

struct tlsrpt_policy {
	char type[24];			/* "sts", "tlsa", "no-policy-found" */
	char domain[256];		/* policy-domain */
	unsigned long long success, failure;
	struct tlsrpt_detail *details;	/* owned */
	size_t ndetails;
};

struct tlsrpt_report {
	char org[256], report_id[256], contact[256];
	long long begin, end;		/* date-range, unix seconds */
	struct tlsrpt_policy *policies;	/* owned */
	size_t npolicies;
};

/*
 * Parses a report. Returns 0 with out filled (tlsrpt_clear), or -1 with
 * why: not JSON, not a report (organization-name, date-range, report-id,
 * policies required), a count that is not a non-negative integer, or
 * over a cap.
 */
int tlsrpt_parse(const char *buf, size_t len, struct tlsrpt_report *out, char *why,
    size_t whylen);
void tlsrpt_clear(struct tlsrpt_report *r);

/* One counted outcome of our sessions to a policy domain. */
struct tlsrpt_row {
	char policy[24];		/* policy-type */
	char result[48];		/* "" for success, else a result-type */
	char mx[256], ip[64];		/* receiving-mx-hostname, receiving-ip */
	unsigned long count;
};

struct tlsrpt_meta {
	const char *org;		/* organization-name: us */
	const char *contact;		/* contact-info */
	const char *report_id;
	long long begin, end;
	const char *sending_ip;		/* our address, or NULL */
};

/* The report on domain's rows: one policy object per policy-type seen.
 * Returns a new string (jansson's dump, caller frees). */
char *tlsrpt_build(const struct tlsrpt_meta *m, const char *domain, const struct tlsrpt_row *rows,
    size_t n);

#endif
