/*
 * Per-key rings of recent results; old ones fall out of the window.
 */
#include "bounceratio.h"

#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define RESULTS_MAX 4096	/* remembered per key */

struct result {
	time_t t;
	bool bounced;
};

struct key {
	struct key *next;
	char *name;
	struct result r[RESULTS_MAX];
	size_t n, head;
};

struct bounceratio {
	struct key *keys;
};

struct bounceratio *
bounceratio_new(void)
{
	return xcalloc(1, sizeof(struct bounceratio));
}

void
bounceratio_free(struct bounceratio *b)
{
	if (b == NULL)
		return;
	while (b->keys) {
		struct key *n = b->keys->next;
		free(b->keys->name);
		free(b->keys);
		b->keys = n;
	}
	free(b);
}

bool
bounceratio_record(struct bounceratio *b, const char *name, bool bounced, time_t now,
    unsigned window, unsigned min, double ratio, double *measured)
{
	struct key *k;
	unsigned total = 0, bad = 0;

	for (k = b->keys; k; k = k->next)
		if (strcmp(k->name, name) == 0)
			break;
	if (k == NULL) {
		k = xcalloc(1, sizeof(*k));
		k->name = xstrdup(name);
		k->next = b->keys;
		b->keys = k;
	}
	k->r[k->head].t = now;
	k->r[k->head].bounced = bounced;
	k->head = (k->head + 1) % RESULTS_MAX;
	if (k->n < RESULTS_MAX)
		k->n++;
	for (size_t i = 0; i < k->n; i++)
		if (k->r[i].t > now - (time_t)window) {
			total++;
			bad += k->r[i].bounced;
		}
	*measured = total ? (double)bad / total : 0;
	return total >= min && total > 0 && *measured > ratio;
}
