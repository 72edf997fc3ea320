/*
 * The bounce ratio of remote deliveries (SPEC 2, 7.2): bounced divided by
 * delivered plus bounced over alert_window, per account and globally,
 * checked as each result arrives once alert_min_messages were sent. The
 * counts are shared state (state/state.h): with Redis, the ratio is the
 * one of every node's deliveries. Over the threshold: event=alert
 * kind=bounce_ratio, and an account is held (policy/hold.h).
 */
#ifndef POSTERN_POLICY_BOUNCERATIO_H
#define POSTERN_POLICY_BOUNCERATIO_H

#include <stdbool.h>
#include <time.h>

#include "lib/config.h"
#include "policy/hold.h"
#include "state/state.h"

struct bounceratio;

/* Counts kept in st; holds set in holds (both borrowed). */
struct bounceratio *bounceratio_new(struct state *st, struct holds *holds);
void bounceratio_free(struct bounceratio *b);

/*
 * One remote result: user's (NULL: mail relayed for trusted_networks,
 * counted globally only) message delivered or bounced. Decides, logs
 * and holds, perhaps after the call returns (cfg is read now).
 */
void bounceratio_outcome(struct bounceratio *b, const struct config *cfg, const char *user,
    bool delivered);

/*
 * The counting underneath: records one result for key ("" for the global
 * count) at now; done(arg, tripped, measured) once, maybe before
 * returning: tripped when at least min results are in the window and the
 * share of bounces (measured) is above ratio.
 */
void bounceratio_record(struct bounceratio *b, const char *key, bool bounced, time_t now,
    unsigned window, unsigned min, double ratio,
    void (*done)(void *arg, bool tripped, double measured), void *arg);

#endif
