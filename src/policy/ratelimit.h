/*
 * Per-account sending limits (SPEC 6.4): user_max_messages and
 * user_max_recipients in sliding windows (the holds they trigger are
 * policy/hold.h's).
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

#endif
