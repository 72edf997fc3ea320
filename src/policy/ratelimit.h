/*
 * Per-account sending limits (SPEC 6.4): user_max_messages,
 * user_max_recipients and failed recipients in sliding windows, kept in
 * the shared state (state/state.h): with Redis, every node counts in the
 * same windows and the check-and-count is one atomic step, so two nodes
 * never both pass the last allowed message. The holds they trigger are
 * policy/hold.h's.
 */
#ifndef POSTERN_POLICY_RATELIMIT_H
#define POSTERN_POLICY_RATELIMIT_H

#include <stdbool.h>
#include <time.h>

#include "lib/value.h"
#include "state/state.h"

struct ratelimit;

/* Limits kept in st (borrowed: it outlives the ratelimit). */
struct ratelimit *ratelimit_new(struct state *st);
void ratelimit_free(struct ratelimit *rl);

/*
 * For an SMTP command: would n more events ("messages", "recipients") of
 * account fit in the window of r? When they do they are counted.
 * STATE_YES / STATE_NO, or STATE_WAIT when the shared state was asked:
 * q wakes the session, which runs the command again and gets the answer
 * from q (see state_ask in state/state.h). No limit configured: YES.
 */
enum state_answer ratelimit_ask(struct ratelimit *rl, struct state_ask *q, const char *account,
    const char *what, const struct rate *r, unsigned n, time_t now);

/*
 * The same in the background, for a count whose answer changes no reply
 * (failed recipients): done(arg, passed) once, maybe before returning.
 */
void ratelimit_take(struct ratelimit *rl, const char *account, const char *what,
    const struct rate *r, unsigned n, time_t now, void (*done)(void *arg, bool passed),
    void *arg);

#endif
