/*
 * The server watches its own reputation (SPEC 9): the doctor's zen, dbl,
 * ptr and certificate checks at start and every doctor_interval. A
 * server address in zen, a domain of ours in the DBL, a broken PTR or a
 * certificate that expires within 14 days is logged as `event=alert
 * kind=reputation` (or `kind=certificate`), one alert per address, domain
 * or certificate, when it is new or has changed; it is not raised again
 * while it stays the same, and is forgotten when it clears, so that its
 * return is raised. Spamhaus lists an address within hours of spam
 * leaving it: this is how the administrator hears of it.
 */
#ifndef POSTERN_POLICY_REPUTATION_H
#define POSTERN_POLICY_REPUTATION_H

#include <event2/event.h>

#include "dns/resolver.h"
#include "lib/config.h"

#define REPUTATION_FINDINGS_MAX 64	/* findings remembered between runs */

struct reputation;
struct ssl_ctx_st;

/*
 * Starts the watch: a first run at once, then one every interval
 * seconds (0: at start only). cfg is borrowed until replaced with
 * reputation_set_config; tls points at the server's certificate context
 * (NULL while it has none), read at the start of each run, so a
 * certificate renewed or issued meanwhile is the one checked.
 */
struct reputation *reputation_new(struct event_base *base, struct resolver *res,
    const struct config *cfg, struct ssl_ctx_st *const *tls, unsigned interval);
/* A new configuration (reload): a run in flight is dropped and one
 * starts at once with it; interval as for reputation_new. NULL: no-op. */
void reputation_set_config(struct reputation *r, const struct config *cfg, unsigned interval);
/* Stops the watch. NULL is a no-op. */
void reputation_free(struct reputation *r);

#endif
