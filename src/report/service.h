/*
 * The server's reporting (SPEC 12) on the event loop: once a day, the
 * DMARC aggregate reports (dmarc_reports = yes; RFC 7489 7.2) and the
 * TLS reports (RFC 8460) of the previous UTC day(s) are built from the
 * day files and queued by mail to each domain's rua; reports received
 * for our domains (copied by report/inbound.h) are imported by a thread
 * into reports.db. `postern dmarc|tlsrpt report --now` asks for a run
 * at once through a trigger file (report_service_trigger).
 */
#ifndef POSTERN_REPORT_SERVICE_H
#define POSTERN_REPORT_SERVICE_H

#include <event2/event.h>
#include <stdbool.h>

#include "dns/resolver.h"
#include "lib/config.h"
#include "lib/groupsync.h"
#include "queue/scheduler.h"

/* Mails one server sends per UTC day in all (RFC 7489 7.2 leaves the
 * limit to the receiver: forged mail naming a million domains must not
 * make us a mail cannon). */
#define REPORT_MAILS_PER_DAY 200
/* Domains one run reports on, each kind. */
#define REPORT_DOMAINS_PER_RUN 500

struct report_service;

/*
 * Starts the service: *cfgp is read afresh at each step (a reload swaps
 * it); res, sc and gs are borrowed. Registers the TLS-RPT log observer.
 */
struct report_service *report_service_new(struct event_base *base, struct resolver *res,
    const struct config *const *cfgp, struct scheduler *sc, struct groupsync *gs);
/* Cancels lookups, waits for the importer. NULL is a no-op. Call after
 * log_clear_observers (the observer reads the service's data_dir). */
void report_service_free(struct report_service *rs);

/*
 * Command-line side: asks the server of data_dir for a run of kind
 * ("dmarc" or "tlsrpt") covering everything recorded so far, and waits
 * up to wait_s seconds for it to take the request. Returns 0 when taken,
 * -1 (errno) when no server did.
 */
int report_service_trigger(const char *data_dir, const char *kind, unsigned wait_s);

#endif
