/*
 * Outbound TLS results for TLS-RPT (RFC 8460 4.3): the delivery log's
 * `delivered` (relay=, tls=) and `deferred`/`bounced` (reason=) events,
 * read by a log observer and kept one line per session in the tlsrpt day
 * file; the failure reasons mapped to RFC 8460 result types.
 */
#ifndef POSTERN_REPORT_TLSRPT_NOTE_H
#define POSTERN_REPORT_TLSRPT_NOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "report/tally.h"

/*
 * The result-type (RFC 8460 4.3) of a delivery failure reason, or NULL
 * when the reason is not about TLS (a remote's 4xx, a timeout, ...).
 * Pure: it reads what mta.c writes ("the server does not offer
 * STARTTLS", OpenSSL's verify errors, MTA-STS and DANE reasons).
 */
const char *tlsrpt_classify(const char *reason);

/*
 * The day-file line of a log event, or 0 when the event is no TLS result
 * of a remote delivery: "TS DOMAIN POLICY RESULT MX IP" (RESULT
 * "success" or a result-type, POLICY "sts", "tlsa" or
 * "no-policy-found"). Pure.
 */
size_t tlsrpt_note_line(const char *event, const char *fields, long long ts, char *out,
    size_t outlen);

/* Counts one day-file line in t (key "POLICY RESULT MX IP", group the
 * domain). */
void tlsrpt_note_add(struct tally *t, const char *line, size_t len);

/* The log observer: arg is the data_dir (a string that outlives it).
 * Thread-safe; several recipients of one transaction count once. */
void tlsrpt_note_observe(void *arg, const char *event, const char *fields);

#endif
