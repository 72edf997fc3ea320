/*
 * Failure counting with a sliding window: each address keeps the times of
 * its recent failures (at most the rate's count). The table is bounded;
 * when full, the entry idle the longest is reused.
 */
#include "lockout.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define TIMES_MAX 1024	/* failures remembered per address at most */

struct entry {
	char ip[46];
	time_t *times;			/* ring of failure times */
	unsigned cap, n, head;
	time_t until;			/* locked out until */
	time_t last;
};

struct lockout {
	struct entry *e;
	size_t n;
};

struct lockout *
lockout_new(void)
{
	struct lockout *l = xcalloc(1, sizeof(*l));

	l->e = xcalloc(LOCKOUT_TRACKED_MAX, sizeof(*l->e));
	return l;
}

void
lockout_free(struct lockout *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].times);
	free(l->e);
	free(l);
}

static struct entry *
find(struct lockout *l, const char *ip, bool create, time_t now)
{
	struct entry *oldest = NULL;

	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->e[i].ip, ip) == 0)
			return &l->e[i];
	if (!create)
		return NULL;
	if (l->n < LOCKOUT_TRACKED_MAX)
		oldest = &l->e[l->n++];
	else
		for (size_t i = 0; i < l->n; i++)
			if (oldest == NULL || l->e[i].last < oldest->last)
				oldest = &l->e[i];
	free(oldest->times);
	memset(oldest, 0, sizeof(*oldest));
	strncpy(oldest->ip, ip, sizeof(oldest->ip) - 1);
	oldest->last = now;
	return oldest;
}

bool
lockout_locked(struct lockout *l, const char *ip, time_t now, time_t *until)
{
	struct entry *e = find(l, ip, false, now);

	if (e == NULL || e->until <= now)
		return false;
	*until = e->until;
	return true;
}

bool
lockout_fail(struct lockout *l, const char *ip, const struct rate *max, unsigned lockout_secs,
    time_t now, time_t *until)
{
	struct entry *e = find(l, ip, true, now);
	unsigned cap = max->count < TIMES_MAX ? max->count : TIMES_MAX, recent = 0;

	if (cap == 0)
		return false;
	if (e->cap != cap) {
		/* the limit changed (reload): start the window afresh */
		free(e->times);
		e->times = xcalloc(cap, sizeof(time_t));
		e->cap = cap;
		e->n = e->head = 0;
	}
	e->last = now;
	e->times[e->head] = now;
	e->head = (e->head + 1) % e->cap;
	if (e->n < e->cap)
		e->n++;
	for (unsigned i = 0; i < e->n; i++)
		if (e->times[i] > now - (time_t)max->seconds)
			recent++;
	if (recent >= cap && e->until <= now) {
		e->until = now + lockout_secs;
		*until = e->until;
		return true;
	}
	return false;
}
