/*
 * Answers kept in the loop's own memory for their TTL, in front of
 * libunbound. libunbound caches too, but every query it answers, cached
 * or not, goes through its worker thread and back through a pipe: two
 * context switches per lookup, and a message makes a dozen lookups for
 * the same few names. A hit here costs a hash lookup and a copy.
 * Direct-mapped (one entry per slot, a collision replaces), so memory is
 * bounded by the slot count. Only definite answers are kept (data,
 * NXDOMAIN, NODATA), never a failure or a timeout.
 */
#ifndef POSTERN_DNS_CACHE_H
#define POSTERN_DNS_CACHE_H

#include <stddef.h>
#include <time.h>

#include "dns/resolver.h"

#define DNS_CACHE_TTL_MAX 3600	/* seconds: a longer TTL is cut to this */

struct dns_cache;
/* A copy of a cached answer, owned by the caller. */
struct dns_cached;

struct dns_cache *dns_cache_new(size_t slots);
void dns_cache_free(struct dns_cache *c);

/* Keeps a copy of ans for name/type until now + ttl (ttl 0: not kept). */
void dns_cache_put(struct dns_cache *c, const char *name, int type,
    const struct dns_answer *ans, unsigned ttl, time_t now);
/* A fresh answer for name/type (any case, trailing dot or not), or NULL. */
struct dns_cached *dns_cache_get(struct dns_cache *c, const char *name, int type, time_t now);
/* The answer of a copy (valid until dns_cached_free). */
const struct dns_answer *dns_cached_answer(const struct dns_cached *a);
void dns_cached_free(struct dns_cached *a);

#endif
