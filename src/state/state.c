/*
 * The state handle: picks the backend table from state_backend, holds the
 * node name, the subscribers of shared messages and the hooks run when the
 * shared backend (re)starts answering, and the replay memo of the SMTP
 * commands that wait for it.
 */
#include "state.h"

#include <stdlib.h>
#include <string.h>

#include "lib/state_url.h"
#include "lib/xmalloc.h"

struct state_sub {
	struct state_sub *next;
	char *kind;
	void (*fn)(void *arg, const char *payload);
	void *arg;
};

struct state_hook {
	struct state_hook *next;
	void (*fn)(void *arg, bool fresh);
	void *arg;
};

struct state *
state_new(struct event_base *base, const struct config *cfg)
{
	struct state *st = xcalloc(1, sizeof(*st));
	char url[STATE_URL_MAX + 32];

	st->base = base;
	st->node = xstrdup(cfg->node_name ? cfg->node_name : cfg->hostname);
	st->local = state_local_new();
	st->be = &state_local_backend;
	state_url_format(&cfg->state_url, url, sizeof(url));
	st->url = xstrdup(url);
	if (cfg->state_url.redis && base != NULL) {
		st->be = &state_redis_backend;
		st->redis = state_redis_new(st, cfg);
	}
	return st;
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	state_redis_free(st->redis);	/* answers what waits, from local */
	st->redis = NULL;
	state_local_free(st->local);
	while (st->subs) {
		struct state_sub *n = st->subs->next;
		free(st->subs->kind);
		free(st->subs);
		st->subs = n;
	}
	while (st->hooks) {
		struct state_hook *n = st->hooks->next;
		free(st->hooks);
		st->hooks = n;
	}
	free(st->node);
	free(st->url);
	free(st);
}

bool
state_shared(const struct state *st)
{
	return st != NULL && st->redis != NULL;
}

bool
state_up(const struct state *st)
{
	return state_shared(st) && state_redis_up(st->redis);
}

const char *
state_node(const struct state *st)
{
	return st->node;
}

struct event_base *
state_base(const struct state *st)
{
	return st->base;
}

struct state_req *
state_window_take(struct state *st, const char *key, unsigned limit, unsigned window, unsigned n,
    time_t now, state_window_fn *done, void *arg)
{
	return st->be->window_take(st, key, limit, window, n, now, done, arg);
}

struct state_req *
state_claim(struct state *st, const char *key, unsigned ttl, time_t now, state_bool_fn *done,
    void *arg)
{
	return st->be->claim(st, key, ttl, now, done, arg);
}

struct state_req *
state_expiry(struct state *st, const char *key, time_t now, state_time_fn *done, void *arg)
{
	return st->be->expiry(st, key, now, done, arg);
}

struct state_req *
state_map_put(struct state *st, const char *map, const char *field, const char *value,
    unsigned ttl, state_bool_fn *done, void *arg)
{
	return st->be->map_put(st, map, field, value, ttl, done, arg);
}

struct state_req *
state_map_del(struct state *st, const char *map, const char *field, state_bool_fn *done,
    void *arg)
{
	return st->be->map_del(st, map, field, done, arg);
}

struct state_req *
state_map_all(struct state *st, const char *map, state_pairs_fn *done, void *arg)
{
	return st->be->map_all(st, map, done, arg);
}

void
state_publish(struct state *st, const char *kind, const char *payload)
{
	st->be->publish(st, kind, payload);
}

void
state_subscribe(struct state *st, const char *kind, void (*fn)(void *arg, const char *payload),
    void *arg)
{
	struct state_sub *s = xcalloc(1, sizeof(*s));

	s->kind = xstrdup(kind);
	s->fn = fn;
	s->arg = arg;
	s->next = st->subs;
	st->subs = s;
}

void
state_on_up(struct state *st, void (*fn)(void *arg, bool fresh), void *arg)
{
	struct state_hook *h = xcalloc(1, sizeof(*h));

	h->fn = fn;
	h->arg = arg;
	h->next = st->hooks;
	st->hooks = h;
}

void
state_deliver(struct state *st, const char *kind, const char *payload)
{
	for (struct state_sub *s = st->subs; s; s = s->next)
		if (strcmp(s->kind, kind) == 0)
			s->fn(s->arg, payload);
}

void
state_run_hooks(struct state *st, bool fresh)
{
	for (struct state_hook *h = st->hooks; h; h = h->next)
		h->fn(h->arg, fresh);
}

/* ---- the replay memo ---- */

void
state_ask_rewind(struct state_ask *q)
{
	q->next = 0;
}

void
state_ask_clear(struct state_ask *q)
{
	if (q->req != NULL)
		state_cancel(q->req);
	q->req = NULL;
	q->next = q->n = 0;
}

bool
state_ask_next(struct state_ask *q, long long *v)
{
	if (q->next >= q->n)
		return false;
	*v = q->answer[q->next++];
	return true;
}

void
state_ask_put(struct state_ask *q, long long v)
{
	/* a command asks at most STATE_ASK_MAX questions; past it the last
	 * answer is overwritten (a bug, but never a write out of bounds) */
	if (q->n < STATE_ASK_MAX)
		q->answer[q->n++] = v;
	else
		q->answer[STATE_ASK_MAX - 1] = v;
	q->req = NULL;
	if (!q->in_call && q->wake != NULL)
		q->wake(q->wake_arg);
}
