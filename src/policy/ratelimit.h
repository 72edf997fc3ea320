/*
 * Per-account sending limits (SPEC 6.4): user_max_messages and
 * user_max_recipients in sliding windows, and the accounts put on hold
 * because one of them (or another compromised-account signal) tripped.
 */
#ifndef POSTERN_POLICY_RATELIMIT_H
#define POSTERN_POLICY_RATELIMIT_H

#include <stdbool.h>
#include <time.h>

#include "lib/value.h"

struct ratelimit;

struct ratelimit *ratelimit_new(void);
void ratelimit_free(struct ratelimit *rl);

/*
 * Would n more events of account fit in the window of r? When they do
 * they are counted (true); when not, nothing is counted (false).
 */
bool ratelimit_take(struct ratelimit *rl, const char *account, const char *what,
    const struct rate *r, unsigned n, time_t now);

/* Accounts on hold: their new mail is queued held until released. */
void ratelimit_hold(struct ratelimit *rl, const char *account);
void ratelimit_unhold(struct ratelimit *rl, const char *account);
bool ratelimit_held(const struct ratelimit *rl, const char *account);

#endif
