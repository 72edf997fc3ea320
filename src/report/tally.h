/*
 * Counting distinct lines: the rows of a report are the distinct events
 * of the day files (key) with how often each was seen, grouped by the
 * domain the report goes to (group). Bounded by TALLY_ROWS_MAX: what a
 * flood of forged mail can make us hold and send.
 */
#ifndef POSTERN_REPORT_TALLY_H
#define POSTERN_REPORT_TALLY_H

#include <stddef.h>

#define TALLY_ROWS_MAX 20000
#define TALLY_GROUP_MAX 256

struct tally_row {
	char *key;
	char group[TALLY_GROUP_MAX];
	unsigned long count;
};

struct tally {
	struct tally_row *rows;
	size_t n, cap;
	size_t *index;			/* open addressing over rows, 0: empty */
	size_t index_size;
	long long begin, end;		/* first and last time stamp seen */
	unsigned long dropped;		/* past TALLY_ROWS_MAX, or damaged */
};

void tally_init(struct tally *t);
/* Counts key in group at time ts. */
void tally_add(struct tally *t, const char *key, const char *group, long long ts);
void tally_clear(struct tally *t);

#endif
