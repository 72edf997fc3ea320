/*
 * Two things of the shared state per address: a window of failures
 * ("auth:fail:IP", counted without a limit) and a claim that is the
 * lockout itself ("auth:lock:IP", ending when it ends). Claiming is
 * first-come: failures during a lockout never extend or restart it, and
 * two nodes seeing the last failure at once start one lockout.
 */
#include "lockout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

struct lockout {
	struct state *st;
};

struct lockout *
lockout_new(struct state *st)
{
	struct lockout *l = xcalloc(1, sizeof(*l));

	l->st = st;
	return l;
}

void
lockout_free(struct lockout *l)
{
	free(l);
}

static void
ask_done(void *arg, time_t until)
{
	state_ask_put(arg, (long long)until);
}

enum state_answer
lockout_ask(struct lockout *l, struct state_ask *q, const char *ip, time_t now, time_t *until)
{
	char key[128];
	long long v;
	struct state_req *req;

	if (!state_ask_next(q, &v)) {
		snprintf(key, sizeof(key), "auth:lock:%s", ip);
		q->in_call = true;
		req = state_expiry(l->st, key, now, ask_done, q);
		q->in_call = false;
		if (!state_ask_next(q, &v)) {
			q->req = req;
			return STATE_WAIT;
		}
	}
	if (v <= (long long)now)
		return STATE_NO;
	*until = (time_t)v;
	return STATE_YES;
}

struct fail {
	struct lockout *l;
	char ip[64];
	unsigned count, lock;
	time_t now;
	void (*done)(void *arg, time_t until);
	void *arg;
};

static void
lock_claimed(void *arg, bool first)
{
	struct fail *f = arg;

	f->done(f->arg, first ? f->now + (time_t)f->lock : 0);
	free(f);
}

static void
counted(void *arg, bool passed, unsigned long count)
{
	struct fail *f = arg;
	char key[128];

	if (count < f->count) {
		f->done(f->arg, 0);
		free(f);
		return;
	}
	snprintf(key, sizeof(key), "auth:lock:%s", f->ip);
	state_claim(f->l->st, key, f->lock, f->now, lock_claimed, f);
}

void
lockout_fail(struct lockout *l, const char *ip, const struct rate *max, unsigned lockout_secs,
    time_t now, void (*done)(void *arg, time_t until), void *arg)
{
	struct fail *f;
	char key[128];

	if (max->count == 0 || max->seconds == 0 || lockout_secs == 0) {
		done(arg, 0);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->l = l;
	snprintf(f->ip, sizeof(f->ip), "%s", ip);
	f->count = max->count;
	f->lock = lockout_secs;
	f->now = now;
	f->done = done;
	f->arg = arg;
	snprintf(key, sizeof(key), "auth:fail:%s", ip);
	state_window_take(l->st, key, 0, max->seconds, 1, now, counted, f);
}
