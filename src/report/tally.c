/*
 * An array of rows and a power-of-two open-addressing index over it
 * (FNV-1a), grown at half load.
 */
#include "tally.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

void
tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
}

static size_t
hash(const char *s)
{
	size_t h = (size_t)14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * (size_t)1099511628211ULL;
	return h;
}

static void
reindex(struct tally *t)
{
	free(t->index);
	t->index_size = t->index_size ? t->index_size * 2 : 1024;
	t->index = xcalloc(t->index_size, sizeof(size_t));
	for (size_t r = 0; r < t->n; r++) {
		size_t i = hash(t->rows[r].key) & (t->index_size - 1);
		while (t->index[i] != 0)
			i = (i + 1) & (t->index_size - 1);
		t->index[i] = r + 1;
	}
}

void
tally_add(struct tally *t, const char *key, const char *group, long long ts)
{
	size_t i;

	if (t->begin == 0 || ts < t->begin)
		t->begin = ts;
	if (ts > t->end)
		t->end = ts;
	if (t->index_size == 0 || (t->n + 1) * 2 > t->index_size)
		reindex(t);
	for (i = hash(key) & (t->index_size - 1); t->index[i] != 0; i = (i + 1) & (t->index_size - 1))
		if (strcmp(t->rows[t->index[i] - 1].key, key) == 0) {
			t->rows[t->index[i] - 1].count++;
			return;
		}
	if (t->n >= TALLY_ROWS_MAX) {
		t->dropped++;
		return;
	}
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->rows = xrealloc(t->rows, t->cap * sizeof(*t->rows));
	}
	t->rows[t->n].key = xstrdup(key);
	snprintf(t->rows[t->n].group, sizeof(t->rows[0].group), "%s", group);
	t->rows[t->n].count = 1;
	t->index[i] = ++t->n;
}

void
tally_clear(struct tally *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->rows[i].key);
	free(t->rows);
	free(t->index);
	memset(t, 0, sizeof(*t));
}
