/*
 * Learned opinions shared between nodes (SPEC 10) through the state
 * backend: what a reload of this node's file finds changed (the command's
 * moves) is pushed to Redis's "learned" map and told to the others; what
 * they tell is written into this node's file; when Redis answers again
 * (or starts empty) the later opinion of each account and sender wins
 * both ways, spam on a tie. An echo stops at the first node that already
 * has the same opinion and time.
 */
#include "learn.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "state/state.h"

#define LEARN_REFRESH 5		/* seconds between looks at the file */
#define KEY_MAX 660		/* "ACCOUNT SENDER" */

struct share {
	struct learned *l;
	struct state *st;
	struct event *timer;
};

static void
push(void *arg, const char *key, enum learn_opinion o, time_t t)
{
	struct share *sh = arg;
	char v[40], *line;

	if (!state_up(sh->st))
		return;		/* the merge at Redis's return pushes it */
	snprintf(v, sizeof(v), "%s %lld", o == LEARN_SPAM ? "spam" : "ham", (long long)t);
	state_map_put(sh->st, "learned", key, v, 0, NULL, NULL);
	line = xasprintf("%s %s", key, v);
	state_publish(sh->st, "learned", line);
	free(line);
}

/* (o, t) from elsewhere beats what we have for key. */
static bool
newer(const struct learned *l, const char *key, enum learn_opinion o, time_t t)
{
	enum learn_opinion lo;
	time_t lt;

	if (!learned_find(l, key, &lo, &lt))
		return true;
	return t > lt || (t == lt && o != lo && o == LEARN_SPAM);
}

/* Writes what came from elsewhere, then reads the file back (telling
 * push() of it once: the echo). */
static void
take(struct share *sh, const struct learned_rec *recs, size_t n)
{
	char *err = NULL;

	if (n == 0)
		return;
	if (learned_record_many(sh->l, recs, n, &err) == -1 || learned_refresh(sh->l, &err) == -1) {
		log_event("error", "reason=\"learned opinions from other nodes not kept: %s\"", err);
		free(err);
	}
}

static void
on_message(void *arg, const char *payload)
{
	struct share *sh = arg;
	char key[KEY_MAX];
	struct learned_rec r;

	if (!learned_parse_line(payload, strlen(payload), key, sizeof(key), &r.o, &r.t))
		return;
	r.key = key;
	if (newer(sh->l, key, r.o, r.t))
		take(sh, &r, 1);
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct learned_rec *)a)->key, ((const struct learned_rec *)b)->key);
}

/* Redis's opinions against ours: the later of each goes both ways. */
static void
merged(void *arg, bool ok, const struct state_pair *p, size_t n)
{
	struct share *sh = arg;
	struct learned_rec *in, *remote;
	char (*keys)[KEY_MAX];
	size_t nin = 0, nremote = 0;

	if (!ok)
		return;
	if (n > LEARN_MAX)
		n = LEARN_MAX;
	in = xcalloc(n ? n : 1, sizeof(*in));
	remote = xcalloc(n ? n : 1, sizeof(*remote));
	keys = xcalloc(n ? n : 1, sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		struct learned_rec r;
		char line[2 * KEY_MAX];
		int len = snprintf(line, sizeof(line), "%s %s", p[i].field, p[i].value);
		if (len < 0 || (size_t)len >= sizeof(line) ||
		    !learned_parse_line(line, (size_t)len, keys[nremote], KEY_MAX, &r.o, &r.t))
			continue;
		r.key = keys[nremote];
		remote[nremote++] = r;
		if (newer(sh->l, r.key, r.o, r.t))
			in[nin++] = r;
	}
	if (nremote > 1)
		qsort(remote, nremote, sizeof(*remote), cmp_key);
	for (size_t i = 0; i < learned_count(sh->l); i++) {
		struct learned_rec k, *hit;
		learned_entry(sh->l, i, &k.key, &k.o, &k.t);
		hit = nremote ? bsearch(&k, remote, nremote, sizeof(*remote), cmp_key) : NULL;
		if (hit == NULL || k.t > hit->t || (k.t == hit->t && k.o != hit->o && k.o == LEARN_SPAM))
			push(sh, k.key, k.o, k.t);
	}
	take(sh, in, nin);
	free(in);
	free(remote);
	free(keys);
}

static void
refresh(struct share *sh)
{
	char *err = NULL;

	if (learned_refresh(sh->l, &err) == -1) {
		log_event("error", "reason=\"%s\"", err);
		free(err);
	}
}

static void
on_up(void *arg, bool fresh)
{
	struct share *sh = arg;

	refresh(sh);
	state_map_all(sh->st, "learned", merged, sh);
}

/* The command's moves reach the others within LEARN_REFRESH seconds,
 * whether or not mail arrives to make the server look. */
static void
tick(evutil_socket_t fd, short what, void *arg)
{
	refresh(arg);
}

static void
share_free(void *arg)
{
	struct share *sh = arg;

	if (sh->timer)
		event_free(sh->timer);
	free(sh);
}

void
learned_share(struct learned *l, struct state *st)
{
	struct timeval tv = { LEARN_REFRESH, 0 };
	struct share *sh;

	if (!state_shared(st))
		return;
	sh = xcalloc(1, sizeof(*sh));
	sh->l = l;
	sh->st = st;
	/* the file as it is now is the base the next changes are told from */
	refresh(sh);
	learned_listen(l, push, sh, sh, share_free);
	state_on_up(st, on_up, sh);
	state_subscribe(st, "learned", on_message, sh);
	sh->timer = event_new(state_base(st), -1, EV_PERSIST, tick, sh);
	event_add(sh->timer, &tv);
}
