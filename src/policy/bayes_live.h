/*
 * The server's copy of the classifier's counts (SPEC 13). A scan reads a
 * table in memory: on the corpus (210 tokens a message) 9 us a message,
 * where asking SQLite for each token took 160 us, longer than the whole
 * rest of the scan. The copy (52,000 tokens: 15 ms to load) is
 * loaded from the store on a thread of its own whenever the store changed
 * (checked at most once a second: a stat() of the local files, or, with
 * Redis, its change counter asked on that thread), and replaces the old one
 * on the loop, so `postern learn` (a Junk move) counts for the next
 * messages within a few seconds and the loop never waits for the disk. A
 * store that does not load (damaged, or Redis unreachable) leaves no
 * table: the server scans without the classifier, logs why and raises the
 * `bayes` alert, and tries again (Redis: at the next look).
 */
#ifndef POSTERN_POLICY_BAYES_LIVE_H
#define POSTERN_POLICY_BAYES_LIVE_H

#include "lib/config.h"
#include "scan/bayes.h"

struct bayes_live;

/* Bound to cfg's store (what it needs is copied); nothing loaded yet. */
struct bayes_live *bayes_live_new(const struct config *cfg);
/* Waits for a load in progress, then frees. NULL is a no-op. */
void bayes_live_free(struct bayes_live *l);

/*
 * The table to classify with now, NULL when there is none (not loaded
 * yet, or the store is refused). Takes a finished load, and starts a new
 * one when the store changed. Call on the loop only; the table stays
 * valid until the next call, longer for an owner that holds it
 * (bayes_table_hold: a scan on a worker thread).
 */
const struct bayes_table *bayes_live_table(struct bayes_live *l);

/* Waits (at most ms milliseconds) for a load in progress: tests, start. */
void bayes_live_settle(struct bayes_live *l, unsigned ms);

#endif
