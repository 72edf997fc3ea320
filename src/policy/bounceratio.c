/*
 * Two windows of the shared state per key: every result ("br:all:KEY")
 * and the bounces ("br:bad:KEY"); a delivery only reads the second. Not
 * atomic between the two (a ratio needs no exactness, a limit would).
 */
#include "bounceratio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

struct bounceratio {
	struct state *st;
	struct holds *holds;
};

struct bounceratio *
bounceratio_new(struct state *st, struct holds *holds)
{
	struct bounceratio *b = xcalloc(1, sizeof(*b));

	b->st = st;
	b->holds = holds;
	return b;
}

void
bounceratio_free(struct bounceratio *b)
{
	free(b);
}

struct record {
	struct bounceratio *b;
	char key[400];
	bool bounced;
	time_t now;
	unsigned window, min;
	double ratio;
	unsigned long total;
	void (*done)(void *arg, bool tripped, double measured);
	void *arg;
};

static void
bad_counted(void *arg, bool passed, unsigned long bad)
{
	struct record *r = arg;
	double measured = r->total ? (double)bad / (double)r->total : 0;

	r->done(r->arg, r->total >= r->min && r->total > 0 && measured > r->ratio, measured);
	free(r);
}

static void
all_counted(void *arg, bool passed, unsigned long total)
{
	struct record *r = arg;
	char key[420];

	r->total = total;
	snprintf(key, sizeof(key), "br:bad:%s", r->key);
	state_window_take(r->b->st, key, 0, r->window, r->bounced ? 1 : 0, r->now, bad_counted, r);
}

void
bounceratio_record(struct bounceratio *b, const char *key, bool bounced, time_t now,
    unsigned window, unsigned min, double ratio,
    void (*done)(void *arg, bool tripped, double measured), void *arg)
{
	struct record *r = xcalloc(1, sizeof(*r));
	char k[420];

	r->b = b;
	snprintf(r->key, sizeof(r->key), "%s", key);
	r->bounced = bounced;
	r->now = now;
	r->window = window;
	r->min = min;
	r->ratio = ratio;
	r->done = done;
	r->arg = arg;
	snprintf(k, sizeof(k), "br:all:%s", key);
	state_window_take(b->st, k, 0, window, 1, now, all_counted, r);
}

struct outcome {
	struct bounceratio *b;
	char user[400];		/* "" for the global count */
	bool delivered;
	double limit;
	unsigned window;
};

static void
judged(void *arg, bool tripped, double r)
{
	struct outcome *o = arg;

	/* checked as each result arrives, but only a bounce trips it: the
	 * delivery of mail an administrator just released must not hold
	 * the account again */
	if (tripped && !o->delivered) {
		if (o->user[0] == '\0')
			log_event("alert", "kind=bounce_ratio account=global ratio=%.2f limit=%.2f window=%us",
			    r, o->limit, o->window);
		else {
			char *err = NULL;
			log_event("alert", "kind=bounce_ratio user=%s ratio=%.2f limit=%.2f window=%us",
			    o->user, r, o->limit, o->window);
			if (holds_set(o->b->holds, o->user, "bounce_ratio", &err) == -1) {
				log_event("error", "reason=\"cannot hold %s: %s\"", o->user, err);
				free(err);
			}
		}
	}
	free(o);
}

static void
judge(struct bounceratio *b, const struct config *cfg, const char *user, bool delivered,
    time_t now)
{
	struct outcome *o = xcalloc(1, sizeof(*o));

	o->b = b;
	snprintf(o->user, sizeof(o->user), "%s", user ? user : "");
	o->delivered = delivered;
	o->limit = cfg->alert_bounce_ratio;
	o->window = cfg->alert_window;
	bounceratio_record(b, o->user, !delivered, now, cfg->alert_window, cfg->alert_min_messages,
	    cfg->alert_bounce_ratio, judged, o);
}

void
bounceratio_outcome(struct bounceratio *b, const struct config *cfg, const char *user,
    bool delivered)
{
	time_t now = time(NULL);

	judge(b, cfg, NULL, delivered, now);
	if (user != NULL)
		judge(b, cfg, user, delivered, now);
}
