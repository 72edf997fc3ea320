/*
 * Statistics (SPEC 7.2): hourly counters in SQLite (<data_dir>/stats.db),
 * kept across restarts, fed by observing the event log, written by a
 * thread of their own so the event loop never waits for the disk.
 * Events reach the database within a second (SPEC: visible to
 * `postern stats` within 5 s).
 *
 * With shared state (SPEC 10, stats_share) each node also publishes its
 * own hourly values to Redis ("stats:NODE:HOUR", field "NAME\tLABEL"),
 * absolute values, so a repeat is harmless and an outage or a Redis that
 * lost its data is repaired by pushing again; `postern stats` on any node
 * reads every node's (stats_read_nodes) and shows the sums.
 */
#ifndef POSTERN_MONITOR_STATS_H
#define POSTERN_MONITOR_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/config.h"
#include "state/state.h"

struct stats;

/* Opens (creates) the database; NULL with *err (caller frees). */
struct stats *stats_open(const char *data_dir, char **err);
/* Flushes what is pending and closes. NULL is a no-op. */
void stats_close(struct stats *st);
/* The log observer (log_add_observer(stats_observe, st)). */
void stats_observe(void *arg, const char *event, const char *fields);
/* Publishes this node's counters through state (borrowed, outlives
 * stt), from its loop; a no-op with local state. */
void stats_share(struct stats *stt, struct state *state);
/* At shutdown, before the state is freed: what the last second counted
 * goes to Redis now (blocking, a second at most), so a node that stops
 * for good leaves its whole count in the sums. */
void stats_final_push(struct stats *stt, const struct config *cfg);

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

/* One node's sums, from the shared state. */
struct stats_node {
	char name[NODE_NAME_MAX + 1];
	struct stats_counter *c;
	size_t n;
};
/* Every node's sums since `since` from cfg's Redis (timeout_ms a reply).
 * Returns the number of nodes, or -1 with *err (Redis unreachable). */
int stats_read_nodes(const struct config *cfg, time_t since, unsigned timeout_ms,
    struct stats_node **nodes, char **err);
void stats_nodes_free(struct stats_node *nodes, int n);

#endif
