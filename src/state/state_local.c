/*
 * The local backend: state in this process's memory, answered before the
 * call returns. Windows are lists of (second, count) buckets per key, so
 * memory grows with the rate, not the traffic; claims are keys with an
 * end. Both tables are bounded (STATE_LOCAL_KEYS_MAX each): when one is
 * full, what expired goes first, then the quarter used the longest ago,
 * so a flood of new keys (an attacker cycling addresses) costs a sort
 * now and then, never unbounded memory.
 *
 * Maps and messages are not kept here: with local state each module's own
 * file is the whole truth (see state.h), so they answer "not shared".
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define STATE_LOCAL_KEYS_MAX 65536
#define NBUCKETS 4096

struct bucket {
	time_t t;
	unsigned long n;
};

struct entry {
	struct entry *next;
	time_t last;			/* last use */
	time_t end;			/* claims: when the claim ends;
					 * windows: when its last event leaves */
	struct bucket *b;		/* windows */
	size_t nb, cap;
	char key[];
};

struct table {
	struct entry *h[NBUCKETS];
	size_t n;
};

struct state_local {
	struct table windows, claims;
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKETS;
}

static void
entry_free(struct entry *e)
{
	free(e->b);
	free(e);
}

static void
table_clear(struct table *t)
{
	for (size_t i = 0; i < NBUCKETS; i++)
		while (t->h[i]) {
			struct entry *n = t->h[i]->next;
			entry_free(t->h[i]);
			t->h[i] = n;
		}
	t->n = 0;
}

static int
cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return x < y ? -1 : x > y;
}

/* Room for one more: what ended goes, then the least recently used quarter. */
static void
make_room(struct table *t, time_t now)
{
	time_t *lasts, cut;
	size_t k = 0;

	for (int pass = 0; pass < 2 && t->n >= STATE_LOCAL_KEYS_MAX; pass++) {
		if (pass == 0)
			cut = now;	/* ended */
		else {
			lasts = xmalloc(t->n * sizeof(*lasts));
			k = 0;
			for (size_t i = 0; i < NBUCKETS; i++)
				for (struct entry *e = t->h[i]; e; e = e->next)
					lasts[k++] = e->last;
			qsort(lasts, k, sizeof(*lasts), cmp_time);
			cut = lasts[k / 4];
			free(lasts);
		}
		for (size_t i = 0; i < NBUCKETS; i++)
			for (struct entry **p = &t->h[i]; *p;) {
				bool drop = pass == 0 ? (*p)->end <= cut : (*p)->last <= cut;
				if (drop) {
					struct entry *dead = *p;
					*p = dead->next;
					entry_free(dead);
					t->n--;
				} else
					p = &(*p)->next;
			}
	}
}

static struct entry *
lookup(struct table *t, const char *key, bool create, time_t now)
{
	unsigned h = hash(key);
	struct entry *e;
	size_t len;

	for (e = t->h[h]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	if (t->n >= STATE_LOCAL_KEYS_MAX)
		make_room(t, now);
	len = strlen(key);
	e = xcalloc(1, sizeof(*e) + len + 1);
	memcpy(e->key, key, len + 1);
	e->last = now;
	e->next = t->h[h];
	t->h[h] = e;
	t->n++;
	return e;
}

struct state_local *
state_local_new(void)
{
	return xcalloc(1, sizeof(struct state_local));
}

void
state_local_free(struct state_local *l)
{
	if (l == NULL)
		return;
	table_clear(&l->windows);
	table_clear(&l->claims);
	free(l);
}

static struct state_req *
local_window_take(struct state *st, const char *key, unsigned limit, unsigned window,
    unsigned n, time_t now, state_window_fn *done, void *arg)
{
	struct entry *e = lookup(&st->local->windows, key, true, now);
	unsigned long total = 0;
	size_t keep = 0;
	bool passed = true;

	/* drop the buckets that left the window */
	for (size_t i = 0; i < e->nb; i++)
		if (e->b[i].t > now - (time_t)window) {
			e->b[keep++] = e->b[i];
			total += e->b[i].n;
		}
	e->nb = keep;
	e->last = now;
	if (limit > 0 && total + n > limit)
		passed = false;
	else if (n > 0) {
		if (e->nb > 0 && e->b[e->nb - 1].t == now)
			e->b[e->nb - 1].n += n;
		else {
			if (e->nb == e->cap) {
				e->cap = e->cap ? e->cap * 2 : 8;
				e->b = xrealloc(e->b, e->cap * sizeof(*e->b));
			}
			e->b[e->nb].t = now;
			e->b[e->nb++].n = n;
		}
		total += n;
		e->end = now + (time_t)window;
	}
	done(arg, passed, total);
	return NULL;
}

static struct state_req *
local_claim(struct state *st, const char *key, unsigned ttl, time_t now, state_bool_fn *done,
    void *arg)
{
	struct entry *e = lookup(&st->local->claims, key, true, now);
	bool first = e->end <= now;

	e->last = now;
	if (first)
		e->end = now + (time_t)ttl;
	done(arg, first);
	return NULL;
}

static struct state_req *
local_expiry(struct state *st, const char *key, time_t now, state_time_fn *done, void *arg)
{
	struct entry *e = lookup(&st->local->claims, key, false, now);

	done(arg, e != NULL && e->end > now ? e->end : 0);
	return NULL;
}

static struct state_req *
local_map_put(struct state *st, const char *map, const char *field, const char *value,
    unsigned ttl, state_bool_fn *done, void *arg)
{
	if (done)
		done(arg, false);
	return NULL;
}

static struct state_req *
local_map_del(struct state *st, const char *map, const char *field, state_bool_fn *done,
    void *arg)
{
	if (done)
		done(arg, false);
	return NULL;
}

static struct state_req *
local_map_all(struct state *st, const char *map, state_pairs_fn *done, void *arg)
{
	done(arg, false, NULL, 0);
	return NULL;
}

static void
local_publish(struct state *st, const char *kind, const char *payload)
{
}

const struct state_backend state_local_backend = {
	.name = "local",
	.window_take = local_window_take,
	.claim = local_claim,
	.expiry = local_expiry,
	.map_put = local_map_put,
	.map_del = local_map_del,
	.map_all = local_map_all,
	.publish = local_publish,
};
