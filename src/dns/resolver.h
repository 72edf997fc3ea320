/*
 * Asynchronous DNS on libunbound, driven by the libevent loop through
 * ub_fd(). Full recursion by default (Spamhaus refuses queries arriving
 * through public resolvers), forwarders when configured; forwarders on
 * this host alone, without DNSSEC, are asked through a stub (dns/stub.h).
 * Answers are cached for their TTL. Every query has a deadline: a lookup that does
 * not answer in time completes with DNS_TIMEOUT and the caller goes on.
 */
#ifndef POSTERN_DNS_RESOLVER_H
#define POSTERN_DNS_RESOLVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/value.h"

#define DNS_TYPE_A 1
#define DNS_TYPE_NS 2
#define DNS_TYPE_PTR 12
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_MX 15

enum dns_status {
	DNS_OK = 0,		/* answer with data */
	DNS_NXDOMAIN,		/* name does not exist */
	DNS_NODATA,		/* name exists, no record of the type */
	DNS_SERVFAIL,		/* resolution failed (rcode, bogus DNSSEC, ...) */
	DNS_TIMEOUT,		/* deadline passed */
};

/* One answer: rdata of each record of the asked type (borrowed: valid
 * during the callback only). */
struct dns_answer {
	enum dns_status status;
	int rcode;
	size_t count;
	const char *const *data;
	const int *len;
	bool secure;		/* DNSSEC-validated */
};

typedef void dns_cb(void *arg, const struct dns_answer *ans);

struct resolver;
struct dns_query;

struct resolver_options {
	const struct hostport *forwarders;	/* none: full recursion */
	size_t nforwarders;
	bool dnssec;				/* validate with the root key */
	const char *trust_anchor_file;		/* default Debian's root.key */
	const char *root_hints_file;		/* a private root (NULL: the built-in one) */
	bool libunbound_only;			/* tests: never the stub (dns/stub.h) */
};

/* NULL with *err (caller frees) when libunbound refuses the setup. */
struct resolver *resolver_new(struct event_base *base, const struct resolver_options *opt,
    char **err);
/* Cancels pending queries (their callbacks never run). NULL is a no-op.
 * Never from inside a query's callback: the answer being handed out
 * would be freed under it. */
void resolver_free(struct resolver *r);

/*
 * Starts a lookup; cb runs exactly once on the loop thread, unless the
 * query is cancelled first. timeout_ms 0 means no deadline of ours.
 * Returns a handle for dns_cancel, never NULL: a query libunbound refuses
 * completes with DNS_SERVFAIL from the loop.
 */
struct dns_query *dns_query(struct resolver *r, const char *name, int type,
    unsigned timeout_ms, dns_cb *cb, void *arg);
/* Cancels a query whose callback has not run yet. */
void dns_cancel(struct dns_query *q);

/* Queries started and answered so far (tests, stats). */
unsigned long resolver_queries(const struct resolver *r);
/* Questions handed to libunbound so far: the other queries were answered
 * by the cache or shared a lookup of the same name on its way. */
unsigned long resolver_lookups(const struct resolver *r);

#endif
