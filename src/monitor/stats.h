/*
 * Statistics (SPEC 7.2): hourly counters in SQLite (<data_dir>/stats.db),
 * kept across restarts, fed by observing the event log, written by a
 * thread of their own so the event loop never waits for the disk.
 * Events reach the database within a second (SPEC: visible to
 * `postern stats` within 5 s).
 */
#ifndef POSTERN_MONITOR_STATS_H
#define POSTERN_MONITOR_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct stats;

/* Opens (creates) the database; NULL with *err (caller frees). */
struct stats *stats_open(const char *data_dir, char **err);
/* Flushes what is pending and closes. NULL is a no-op. */
void stats_close(struct stats *st);
/* The log observer (log_add_observer(stats_observe, st)). */
void stats_observe(void *arg, const char *event, const char *fields);

/* One counter and its total since the database began (for /metrics). */
struct stats_counter {
	char name[32];
	char label[160];	/* "" or "reason=dnsbl,stage=rcpt", "user=..." */
	uint64_t value;
};
/* Copies the all-time totals; returns how many (caller frees *out). */
size_t stats_totals(struct stats *st, struct stats_counter **out);

/* Read side, for `postern stats`: sums since `since` (unix time) of every
 * counter in the database at data_dir. Returns -1 with *err. */
int stats_read(const char *data_dir, time_t since, struct stats_counter **out, size_t *n,
    char **err);

#endif
