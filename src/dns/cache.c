/*
 * The answer cache. An entry is one allocation sized to its answer: the
 * header, the rdata pointers and lengths, the key and the rdata, so that
 * a copy for a caller is one memcpy and a fix-up of the pointers, and a
 * typical entry (one short record) stays in malloc's small-size caches.
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

/* Followed in the same allocation by: const char *ptrs[ans.count],
 * int lens[ans.count], the key (keylen octets and a NUL), the rdata. */
struct dns_cached {
	size_t size;		/* of this allocation */
	time_t expires;
	int type;
	size_t keylen;
	struct dns_answer ans;	/* data and len point below */
};

struct dns_cache {
	struct dns_cached **slots;
	size_t nslots;
};

static const char **
ptrs_of(struct dns_cached *e)
{
	return (const char **)(e + 1);
}

static int *
lens_of(struct dns_cached *e)
{
	return (int *)(ptrs_of(e) + e->ans.count);
}

static char *
key_of(struct dns_cached *e)
{
	return (char *)(lens_of(e) + e->ans.count);
}

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

/* Points the answer of e (at its own address) into its arrays. */
static void
fix_pointers(struct dns_cached *e)
{
	const char **ptrs = ptrs_of(e);
	int *lens = lens_of(e);
	const char *rdata = key_of(e) + e->keylen + 1;
	size_t off = 0;

	for (size_t i = 0; i < e->ans.count; i++) {
		ptrs[i] = rdata + off;
		off += (size_t)lens[i];
	}
	e->ans.data = e->ans.count ? ptrs : NULL;
	e->ans.len = e->ans.count ? lens : NULL;
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
	size_t total = 0, slot, keylen, size;
	struct dns_cached *e;
	int *lens;
	char *rdata;

	if (ttl == 0 || ans->count > RDATA_MAX || !dns_name_key(name, key, sizeof(key)) ||
	    (ans->status != DNS_OK && ans->status != DNS_NXDOMAIN && ans->status != DNS_NODATA))
		return;
	for (size_t i = 0; i < ans->count; i++) {
		if (ans->len[i] < 0)
			return;
		total += (size_t)ans->len[i];
	}
	keylen = strlen(key);
	size = sizeof(*e) + ans->count * (sizeof(char *) + sizeof(int)) + keylen + 1 + total;
	e = xmalloc(size);
	memset(e, 0, sizeof(*e));
	e->size = size;
	e->expires = now + (time_t)(ttl > DNS_CACHE_TTL_MAX ? DNS_CACHE_TTL_MAX : ttl);
	e->type = type;
	e->keylen = keylen;
	e->ans = *ans;
	lens = lens_of(e);
	memcpy(key_of(e), key, keylen + 1);
	rdata = key_of(e) + keylen + 1;
	total = 0;
	for (size_t i = 0; i < ans->count; i++) {
		lens[i] = ans->len[i];
		memcpy(rdata + total, ans->data[i], (size_t)ans->len[i]);
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
	if (e == NULL || e->type != type || strcmp(key_of(e), key) != 0)
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
