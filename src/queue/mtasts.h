/*
 * Outbound MTA-STS (RFC 8461 5): the policy that applies to a recipient
 * domain, for the SMTP client. The _mta-sts TXT record says whether one
 * exists and its id; the policy comes over HTTPS from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt (libcurl on a worker
 * thread, never on the loop), is cached per domain for its max_age, in
 * memory and under <data_dir>/mta-sts/ so that a restart keeps it, and is
 * fetched again when the TXT id changes. A policy that cannot be fetched
 * or read leaves a cached one in force until it expires (3.3, 5.1).
 */
#ifndef POSTERN_QUEUE_MTASTS_H
#define POSTERN_QUEUE_MTASTS_H

#include <event2/event.h>

#include "dns/resolver.h"
#include "queue/mtasts_policy.h"

#define MTASTS_CACHE_MAX 1024	/* domains remembered in memory */
#define MTASTS_FETCHES_MAX 8	/* HTTPS fetches at once; more wait their turn */

struct mtasts;
struct mtasts_req;

/* The policy in force for the domain, or NULL for none (no record, none
 * fetched, or mode none). p is valid during the call only. */
typedef void mtasts_cb(void *arg, const struct mtasts_policy *p);

/*
 * data_dir: where the cache directory lives (NULL: memory only);
 * timeout: seconds for the TXT lookup and, capped at a minute, for the
 * whole HTTPS fetch. NULL when the cache directory cannot be made.
 */
struct mtasts *mtasts_new(struct event_base *base, struct resolver *res, const char *data_dir,
    unsigned timeout);
/* Cancels pending lookups (their callbacks never run) and waits for the
 * fetches in flight to stop. NULL is a no-op. */
void mtasts_free(struct mtasts *s);

/*
 * Looks up domain's policy; cb runs once, from the loop, never before
 * this returns, unless the request is cancelled first. The returned
 * handle is valid until the callback runs.
 */
struct mtasts_req *mtasts_get(struct mtasts *s, const char *domain, mtasts_cb *cb, void *arg);
void mtasts_cancel(struct mtasts_req *r);

#endif
