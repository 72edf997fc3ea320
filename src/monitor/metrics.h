/*
 * /metrics on metrics_listen (libmicrohttpd, its own thread): the
 * statistics' counters in the Prometheus text format, names prefixed
 * postern_ (contrib/grafana/postern.json is a ready dashboard).
 */
#ifndef POSTERN_MONITOR_METRICS_H
#define POSTERN_MONITOR_METRICS_H

#include "lib/value.h"
#include "monitor/stats.h"

struct metrics;

/* NULL with *err when the address cannot be bound. */
struct metrics *metrics_start(const struct hostport *listen, struct stats *st, char **err);
void metrics_stop(struct metrics *m);

/* The exposition text (also used by tests); caller frees. */
char *metrics_render(struct stats *st);

#endif
