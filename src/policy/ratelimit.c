/*
 * Limits as windows of the shared state, one per account and kind
 * ("rl:KIND:ACCOUNT"). The window is asked at the moment of decision and
 * counts what passes in the same step, so the answer and the count can
 * never disagree, whichever node asks.
 */
#include "ratelimit.h"

#include <stdio.h>
#include <stdlib.h>

#include "lib/xmalloc.h"

struct ratelimit {
	struct state *st;
};

struct ratelimit *
ratelimit_new(struct state *st)
{
	struct ratelimit *rl = xcalloc(1, sizeof(*rl));

	rl->st = st;
	return rl;
}

void
ratelimit_free(struct ratelimit *rl)
{
	free(rl);
}

static void
ask_done(void *arg, bool passed, unsigned long count)
{
	state_ask_put(arg, passed);
}

enum state_answer
ratelimit_ask(struct ratelimit *rl, struct state_ask *q, const char *account, const char *what,
    const struct rate *r, unsigned n, time_t now)
{
	char key[400];
	long long v;
	struct state_req *req;

	if (r->count == 0 || r->seconds == 0)
		return STATE_YES;	/* no limit configured */
	if (state_ask_next(q, &v))
		return v ? STATE_YES : STATE_NO;
	snprintf(key, sizeof(key), "rl:%s:%s", what, account);
	q->in_call = true;
	req = state_window_take(rl->st, key, r->count, r->seconds, n, now, ask_done, q);
	q->in_call = false;
	if (state_ask_next(q, &v))
		return v ? STATE_YES : STATE_NO;	/* answered at once */
	q->req = req;
	return STATE_WAIT;
}

struct take {
	void (*done)(void *arg, bool passed);
	void *arg;
};

static void
take_done(void *arg, bool passed, unsigned long count)
{
	struct take *t = arg;

	t->done(t->arg, passed);
	free(t);
}

void
ratelimit_take(struct ratelimit *rl, const char *account, const char *what,
    const struct rate *r, unsigned n, time_t now, void (*done)(void *arg, bool passed), void *arg)
{
	struct take *t;
	char key[400];

	if (r->count == 0 || r->seconds == 0) {
		done(arg, true);
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->done = done;
	t->arg = arg;
	snprintf(key, sizeof(key), "rl:%s:%s", what, account);
	state_window_take(rl->st, key, r->count, r->seconds, n, now, take_done, t);
}
