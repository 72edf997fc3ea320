/*
 * Health of the blocklist zones (SPEC 4): at start and periodically the
 * Spamhaus test points are queried (127.0.0.2 must be listed in zen,
 * dbltest.com in the DBL), and every error answer from a real lookup
 * marks its zone bad. A broken resolver setup turns protection off
 * without a sound; this is where it becomes loud.
 */
#ifndef POSTERN_DNS_HEALTH_H
#define POSTERN_DNS_HEALTH_H

#include <event2/event.h>
#include <stdbool.h>
#include <time.h>

#include "dns/dnsbl.h"
#include "dns/resolver.h"

enum zone_status {
	ZONE_UNKNOWN = 0,	/* not checked yet */
	ZONE_OK,		/* test point answered as documented */
	ZONE_ERROR,		/* an error code (127.255.255.x, ...) */
	ZONE_TIMEOUT,		/* no answer in time */
	ZONE_MISSING,		/* test point not listed: wrong zone or resolver */
	ZONE_FAILURE,		/* SERVFAIL or similar */
};

struct zone_health {
	const char *zone;	/* display name (a DQS key is never shown) */
	enum zone_status status;
	char code[16];		/* the error answer, when status is ERROR */
	time_t checked;		/* last test-point check */
	unsigned long errors;	/* error answers seen since start */
	bool test_ok;		/* the last test-point check answered as documented */
};

struct dnsbl_health;

/*
 * Starts periodic checks of the two zones (query names with keys, display
 * names without). interval 0 checks only once, at start. recursive: we
 * resolve ourselves (no forwarders), so an unanswered test point is
 * checked against the root zone: a machine without any DNS (offline) gets
 * one warning instead of blocklist alerts.
 */
struct dnsbl_health *health_new(struct event_base *base, struct resolver *res,
    const char *ip_zone, const char *ip_display, const char *domain_zone,
    const char *domain_display, unsigned timeout_ms, unsigned interval, bool recursive);
void health_free(struct dnsbl_health *h);

/*
 * Watches one of the DQS-only zones too (SPEC 4.1), checked with the
 * others. test_name: the test point queried under the zone (the HBL's
 * key-check record), NULL for a zone watched only through the errors of
 * real lookups. quiet_missing: a test point that does not answer is
 * logged but raises no alert (HBL with `auto`: a free key has no HBL,
 * and that is no fault). Call before the loop runs or any time after.
 */
void health_add_zone(struct dnsbl_health *h, enum dnsbl_kind kind, const char *query_zone,
    const char *display, const char *test_name, bool quiet_missing);
/* True when kind is watched (health_add_zone, or zen and the DBL). */
bool health_has_zone(const struct dnsbl_health *h, enum dnsbl_kind kind);
/* A real lookup in a zone without a test point got a valid answer (a
 * listing or NXDOMAIN): the zone works again after errors. */
void health_answer_ok(struct dnsbl_health *h, enum dnsbl_kind kind);

/* A real lookup got an error answer in a zone: log it, mark the zone. */
void health_error(struct dnsbl_health *h, enum dnsbl_kind kind, const char *query,
    const char *code);

/* NULL when kind is not watched. */
const struct zone_health *health_zone(const struct dnsbl_health *h, enum dnsbl_kind kind);

/*
 * True while the last test-point check of both zones got no answer at
 * all (timeout or SERVFAIL): the resolver is unreachable. Lookups are
 * then skipped instead of each message waiting dnsbl_timeout for
 * nothing; the dnsbl alert has already said that protection is off,
 * and the next successful check turns them back on.
 */
bool health_dns_down(const struct dnsbl_health *h);
const char *health_status_name(enum zone_status s);

#endif
