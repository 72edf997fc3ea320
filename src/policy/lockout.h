/*
 * AUTH failures per client IP (SPEC 6.2): after auth_max_failures in its
 * window, AUTH is refused with 454 for auth_lockout, even with the right
 * password. Per IP only: a per-account lockout would let anyone lock a
 * user out.
 */
#ifndef POSTERN_POLICY_LOCKOUT_H
#define POSTERN_POLICY_LOCKOUT_H

#include <stdbool.h>
#include <time.h>

#include "lib/value.h"

#define LOCKOUT_TRACKED_MAX 4096	/* client addresses remembered */

struct lockout;

struct lockout *lockout_new(void);
void lockout_free(struct lockout *l);

/* True (with *until) while ip is locked out. */
bool lockout_locked(struct lockout *l, const char *ip, time_t now, time_t *until);
/* Records a failure; true when it starts a lockout (*until set). */
bool lockout_fail(struct lockout *l, const char *ip, const struct rate *max, unsigned lockout_secs,
    time_t now, time_t *until);

#endif
