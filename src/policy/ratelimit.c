/*
 * Sliding windows as lists of (time, count) buckets per account and
 * kind, one bucket per second: memory grows with the rate, not with
 * the traffic, and old buckets are dropped as the window slides.
 */
#include "ratelimit.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

struct bucket {
	time_t t;
	unsigned n;
};

struct window {
	struct window *next;
	char *account;
	char what[32];		/* "messages", "recipients", "failed_recipients" */
	struct bucket *b;
	size_t nb, cap;
};

struct ratelimit {
	struct window *w;
};

struct ratelimit *
ratelimit_new(void)
{
	return xcalloc(1, sizeof(struct ratelimit));
}

void
ratelimit_free(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	while (rl->w) {
		struct window *n = rl->w->next;
		free(rl->w->account);
		free(rl->w->b);
		free(rl->w);
		rl->w = n;
	}
	free(rl);
}

static struct window *
window_of(struct ratelimit *rl, const char *account, const char *what)
{
	struct window *w;

	for (w = rl->w; w; w = w->next)
		if (strcmp(w->account, account) == 0 && strcmp(w->what, what) == 0)
			return w;
	w = xcalloc(1, sizeof(*w));
	w->account = xstrdup(account);
	strncpy(w->what, what, sizeof(w->what) - 1);
	w->next = rl->w;
	rl->w = w;
	return w;
}

bool
ratelimit_take(struct ratelimit *rl, const char *account, const char *what,
    const struct rate *r, unsigned n, time_t now)
{
	struct window *w;
	unsigned long total = 0;
	size_t keep = 0;

	if (r->count == 0 || r->seconds == 0)
		return true;	/* no limit configured */
	w = window_of(rl, account, what);
	/* drop buckets that left the window */
	for (size_t i = 0; i < w->nb; i++)
		if (w->b[i].t > now - (time_t)r->seconds) {
			w->b[keep++] = w->b[i];
			total += w->b[i].n;
		}
	w->nb = keep;
	if (total + n > r->count)
		return false;
	if (w->nb > 0 && w->b[w->nb - 1].t == now)
		w->b[w->nb - 1].n += n;
	else {
		if (w->nb == w->cap) {
			w->cap = w->cap ? w->cap * 2 : 16;
			w->b = xrealloc(w->b, w->cap * sizeof(*w->b));
		}
		w->b[w->nb].t = now;
		w->b[w->nb++].n = n;
	}
	return true;
}
