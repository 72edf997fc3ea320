/*
 * AUTH failures per client IP (SPEC 6.2): after auth_max_failures in its
 * window, AUTH is refused with 454 for auth_lockout, even with the right
 * password. Per IP only: a per-account lockout would let anyone lock a
 * user out. Failures and lockouts are shared state (state/state.h): with
 * Redis, failures on every node count together and a lockout applies on
 * every node.
 */
#ifndef POSTERN_POLICY_LOCKOUT_H
#define POSTERN_POLICY_LOCKOUT_H

#include <stdbool.h>
#include <time.h>

#include "lib/value.h"
#include "state/state.h"

/* client addresses the local state remembers (state_local.c's bound) */
#define LOCKOUT_TRACKED_MAX 65536

struct lockout;

/* Lockouts kept in st (borrowed: it outlives the lockout). */
struct lockout *lockout_new(struct state *st);
void lockout_free(struct lockout *l);

/*
 * For AUTH: is ip locked out at now? STATE_YES (with *until), STATE_NO,
 * or STATE_WAIT (the session waits and asks again: see state_ask).
 */
enum state_answer lockout_ask(struct lockout *l, struct state_ask *q, const char *ip, time_t now,
    time_t *until);

/*
 * Records a failure of ip at now; done(arg, until) once, maybe before
 * returning, with until != 0 when this failure started a lockout (the
 * max.count-th in max.seconds while not locked out already).
 */
void lockout_fail(struct lockout *l, const char *ip, const struct rate *max,
    unsigned lockout_secs, time_t now, void (*done)(void *arg, time_t until), void *arg);

#endif
