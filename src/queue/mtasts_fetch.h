/*
 * The HTTPS side of MTA-STS (RFC 8461 3.3): one GET of
 * https://HOST/.well-known/mta-sts.txt per call, run by libcurl on a
 * worker thread so the loop never waits on it. It connects to the
 * addresses the caller resolved (postern's resolver, not the system's),
 * verifies the certificate for HOST against the trust store (SSL_CERT_FILE
 * alone when set, handed to libcurl as CAINFO: SPEC 12), follows no
 * redirect, takes only a 200 with a text/plain body, and stops at
 * MTASTS_POLICY_MAX octets. Callbacks run on the loop.
 */
#ifndef POSTERN_QUEUE_MTASTS_FETCH_H
#define POSTERN_QUEUE_MTASTS_FETCH_H

#include <event2/event.h>
#include <stddef.h>

#define MTASTS_FETCH_ADDRS_MAX 8	/* addresses of the policy host tried */

struct mtasts_fetch;

/* body (len octets, valid during the call) on success; NULL and err, a
 * sentence for the log, on failure. */
typedef void mtasts_fetch_cb(void *arg, const char *body, size_t len, const char *err);

/*
 * A pool running at most `parallel` fetches at once (the rest wait),
 * each bounded by timeout seconds. NULL when the thread pipe cannot be
 * made.
 */
struct mtasts_fetch *mtasts_fetch_new(struct event_base *base, unsigned parallel,
    unsigned timeout);

/*
 * Stops the fetches in flight (libcurl's progress callback aborts them),
 * waits for their threads and drops every callback. NULL is a no-op.
 */
void mtasts_fetch_free(struct mtasts_fetch *f);

/* Fetches the policy of host ("mta-sts.DOMAIN") from addrs (IPv4 or IPv6
 * text, port 443); cb runs once, later, on the loop. */
void mtasts_fetch_get(struct mtasts_fetch *f, const char *host, const char *const *addrs,
    size_t naddrs, mtasts_fetch_cb *cb, void *arg);

#endif
