/*
 * What an inbound message gives the reports (SPEC 12): its DMARC
 * evaluation, recorded for the daily aggregate report when
 * dmarc_reports = yes, and, when it is itself a DMARC or TLS report
 * (RFC 7489 7.2.1.1 Subject "Report Domain:", RFC 8460 5.3
 * TLS-Report-Domain), a copy in <data_dir>/reports/inbox/ for the
 * importer (report/service.h). Called on the loop once the content
 * decision is final; cheap: a header look and at most two appends.
 */
#ifndef POSTERN_REPORT_INBOUND_H
#define POSTERN_REPORT_INBOUND_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

struct scan;

/* msg: the message as scanned (len octets, may be NULL); refused: the
 * message was rejected at the end of DATA. */
void report_inbound(const struct config *cfg, const struct scan *sc, const char *client_ip,
    bool authenticated, bool refused, const char *msg, size_t len);

/* True when the message's header says it carries a DMARC aggregate or
 * TLS report (pure, for tests). */
bool report_inbound_is_report(const char *msg, size_t len);

#endif
