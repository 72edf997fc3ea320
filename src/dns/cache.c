/*
 * The answer cache. An entry is one allocation: the header, the key, the
 * rdata lengths and the rdata, so that a copy for a caller is one memcpy
 * and a fix-up of the pointers.
 */
#include "cache.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer.h"
#include "lib/xmalloc.h"

#define KEY_MAX 300
#define RDATA_MAX 64		/* records per answer kept */

struct dns_cached {
	size_t size;		/* of this allocation */
	time_t expires;
	int type;
	char key[KEY_MAX];	/* lower case, no trailing dot */
	struct dns_answer ans;	/* data and len point below */
	const char *ptrs[RDATA_MAX];
	int lens[RDATA_MAX];
	char rdata[];		/* the records, back to back */
};

struct dns_cache {
	struct dns_cached **slots;
	size_t nslots;
};

/* FNV-1a over the key and the type. */
static size_t
slot_of(const struct dns_cache *c, const char *key, int type)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ (unsigned)type) * 1099511628211ULL;
	return (size_t)(h % c->nslots);
}

/* Points the answer of e (at its own address) into its rdata. */
static void
fix_pointers(struct dns_cached *e)
{
	size_t off = 0;

	for (size_t i = 0; i < e->ans.count; i++) {
		e->ptrs[i] = e->rdata + off;
		off += (size_t)e->lens[i];
	}
	e->ans.data = e->ans.count ? e->ptrs : NULL;
	e->ans.len = e->ans.count ? e->lens : NULL;
}

struct dns_cache *
dns_cache_new(size_t slots)
{
	struct dns_cache *c = xcalloc(1, sizeof(*c));

	c->nslots = slots ? slots : 1;
	c->slots = xcalloc(c->nslots, sizeof(*c->slots));
	return c;
}

void
dns_cache_free(struct dns_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nslots; i++)
		free(c->slots[i]);
	free(c->slots);
	free(c);
}

void
dns_cache_put(struct dns_cache *c, const char *name, int type,
    const struct dns_answer *ans, unsigned ttl, time_t now)
{
	char key[KEY_MAX];
	size_t total = 0, slot;
	struct dns_cached *e;

	if (ttl == 0 || ans->count > RDATA_MAX || !dns_name_key(name, key, sizeof(key)) ||
	    (ans->status != DNS_OK && ans->status != DNS_NXDOMAIN && ans->status != DNS_NODATA))
		return;
	for (size_t i = 0; i < ans->count; i++) {
		if (ans->len[i] < 0)
			return;
		total += (size_t)ans->len[i];
	}
	e = xmalloc(sizeof(*e) + total);
	memset(e, 0, sizeof(*e));
	e->size = sizeof(*e) + total;
	e->expires = now + (time_t)(ttl > DNS_CACHE_TTL_MAX ? DNS_CACHE_TTL_MAX : ttl);
	e->type = type;
	memcpy(e->key, key, sizeof(key));
	e->ans = *ans;
	total = 0;
	for (size_t i = 0; i < ans->count; i++) {
		e->lens[i] = ans->len[i];
		memcpy(e->rdata + total, ans->data[i], (size_t)ans->len[i]);
		total += (size_t)ans->len[i];
	}
	fix_pointers(e);
	slot = slot_of(c, key, type);
	free(c->slots[slot]);
	c->slots[slot] = e;
}

struct dns_cached *
dns_cache_get(struct dns_cache *c, const char *name, int type, time_t now)
{
	char key[KEY_MAX];
	struct dns_cached *e, *copy;
	size_t slot;

	if (!dns_name_key(name, key, sizeof(key)))
		return NULL;
	slot = slot_of(c, key, type);
	e = c->slots[slot];
	if (e == NULL || e->type != type || strcmp(e->key, key) != 0)
		return NULL;
	if (now >= e->expires) {
		free(e);
		c->slots[slot] = NULL;
		return NULL;
	}
	copy = xmalloc(e->size);
	memcpy(copy, e, e->size);
	fix_pointers(copy);
	return copy;
}

const struct dns_answer *
dns_cached_answer(const struct dns_cached *a)
{
	return &a->ans;
}

void
dns_cached_free(struct dns_cached *a)
{
	free(a);
}
