/*
 * The bounce ratio of remote deliveries (SPEC 2, 7.2): bounced divided by
 * delivered plus bounced over alert_window, per account and globally,
 * checked as each result arrives once alert_min_messages were sent.
 */
#ifndef POSTERN_POLICY_BOUNCERATIO_H
#define POSTERN_POLICY_BOUNCERATIO_H

#include <stdbool.h>
#include <time.h>

struct bounceratio;

struct bounceratio *bounceratio_new(void);
void bounceratio_free(struct bounceratio *b);

/*
 * Records one result for key ("" for the global count). Returns true
 * when, after it, at least min results are in the window and the share
 * of bounces is above ratio (*measured receives the share).
 */
bool bounceratio_record(struct bounceratio *b, const char *key, bool bounced, time_t now,
    unsigned window, unsigned min, double ratio, double *measured);

#endif
