/*
 * Shared state (SPEC 10) behind a backend table (STYLE 16, as OpenSMTPD's
 * queue_fs and queue_ram). What several nodes must agree on -- rate
 * windows, AUTH failures and lockouts, bounce ratios, alert de-duplication,
 * held accounts, remembered bounces, learned opinions, statistics -- is
 * asked of a struct state through a few primitives; a backend answers:
 *
 *   local  this process's memory; every answer comes before the call
 *          returns (state_local.c);
 *   redis  a Redis server every node names (state_redis.c), asked
 *          asynchronously like DNS; while it cannot answer, the local
 *          table answers instead (limits then apply per node), and the
 *          server logs event=state_backend status=down / status=up.
 *
 * Why a folder of its own: policy/ (limits, holds) and monitor/ (alerts,
 * statistics) both keep state here, and monitor/ must not depend on
 * policy/; state/ sits below both and above lib/ (it logs through
 * monitor/log.h only).
 *
 * Two kinds of primitives. Windows, claims and expiries hold the whole
 * state of what they count: the local table implements them in memory.
 * Maps and messages carry what the modules also keep in files of their
 * own (holds, suppressed, learned, stats.db): those files stay each
 * node's local copy whatever the backend, and the local table answers
 * "not shared" for maps (there is nothing to share).
 *
 * Callbacks are called exactly once, on the loop thread, maybe before the
 * call returns; a call answered at once returns NULL, otherwise a request
 * that state_cancel() detaches (the callback is then never called).
 * Not thread-safe: call from the loop thread only.
 */
#ifndef POSTERN_STATE_STATE_H
#define POSTERN_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/config.h"

struct event_base;
struct state;
struct state_req;

/* passed: the events fitted (and were counted); count: events in the
 * window after the call */
typedef void state_window_fn(void *arg, bool passed, unsigned long count);
typedef void state_bool_fn(void *arg, bool yes);
/* t: a point in time (unix), 0 for none */
typedef void state_time_fn(void *arg, time_t t);

struct state_pair {
	const char *field, *value;
};
/* ok false: not shared (local) or not answered (Redis went away) */
typedef void state_pairs_fn(void *arg, bool ok, const struct state_pair *p, size_t n);

/* The backend table: two of them, state_local_backend and
 * state_redis_backend, with the same functions. */
struct state_backend {
	const char *name;
	/*
	 * Sliding window of key over window seconds: do n more events fit
	 * under limit? They are counted when they do, atomically across
	 * nodes (two nodes never both pass the last one). limit 0: no
	 * limit, always counted (n 0 only counts what is there).
	 */
	struct state_req *(*window_take)(struct state *st, const char *key, unsigned limit,
	    unsigned window, unsigned n, time_t now, state_window_fn *done, void *arg);
	/* true for the first claim of key in ttl seconds (SET NX EX) */
	struct state_req *(*claim)(struct state *st, const char *key, unsigned ttl, time_t now,
	    state_bool_fn *done, void *arg);
	/* when the claim on key ends (0: not claimed) */
	struct state_req *(*expiry)(struct state *st, const char *key, time_t now,
	    state_time_fn *done, void *arg);
	/* map field set (ttl seconds for the whole map, 0: none) / removed */
	struct state_req *(*map_put)(struct state *st, const char *map, const char *field,
	    const char *value, unsigned ttl, state_bool_fn *done, void *arg);
	struct state_req *(*map_del)(struct state *st, const char *map, const char *field,
	    state_bool_fn *done, void *arg);
	struct state_req *(*map_all)(struct state *st, const char *map, state_pairs_fn *done,
	    void *arg);
	/* tells every node (this one too) "kind payload"; best effort */
	void (*publish)(struct state *st, const char *kind, const char *payload);
};

extern const struct state_backend state_local_backend;
extern const struct state_backend state_redis_backend;

/*
 * The state of cfg's state_backend (cfg is read now, not kept). base may
 * be NULL for the local backend (unit tests, command line). Redis is
 * reached in the background: until it answers, the local table does.
 */
struct state *state_new(struct event_base *base, const struct config *cfg);
/* Pending requests are answered from local state first, so nothing that
 * waits is left hanging. NULL is a no-op. */
void state_free(struct state *st);

/* A backend other than local is configured. */
bool state_shared(const struct state *st);
/* It is configured and answering now. */
bool state_up(const struct state *st);
const char *state_node(const struct state *st);
struct event_base *state_base(const struct state *st);

/* The primitives, through st's table. */
struct state_req *state_window_take(struct state *st, const char *key, unsigned limit,
    unsigned window, unsigned n, time_t now, state_window_fn *done, void *arg);
struct state_req *state_claim(struct state *st, const char *key, unsigned ttl, time_t now,
    state_bool_fn *done, void *arg);
struct state_req *state_expiry(struct state *st, const char *key, time_t now,
    state_time_fn *done, void *arg);
struct state_req *state_map_put(struct state *st, const char *map, const char *field,
    const char *value, unsigned ttl, state_bool_fn *done, void *arg);
struct state_req *state_map_del(struct state *st, const char *map, const char *field,
    state_bool_fn *done, void *arg);
struct state_req *state_map_all(struct state *st, const char *map, state_pairs_fn *done,
    void *arg);
void state_publish(struct state *st, const char *kind, const char *payload);
/* Detaches a pending request: its callback will not be called. */
void state_cancel(struct state_req *r);

/* fn(arg, payload) for every message of kind (from any node). */
void state_subscribe(struct state *st, const char *kind,
    void (*fn)(void *arg, const char *payload), void *arg);
/*
 * fn(arg, fresh) each time the shared backend starts answering (first
 * connection, return after an outage): the time to merge local copies.
 * fresh: the shared store is new to this process or lost its data (a
 * Redis restarted without persistence), so everything is pushed again.
 */
void state_on_up(struct state *st, void (*fn)(void *arg, bool fresh), void *arg);

/*
 * The replay memo of one SMTP command. A command that needs the shared
 * state (a limit at MAIL or RCPT, the lockout at AUTH) asks; when the
 * answer is not there at once the session puts the command line back,
 * waits (S_STATE), and runs the command again from the start when the
 * answer comes: the questions it asked are answered from this memo, in
 * order, so nothing is asked (or counted) twice. Deterministic replay
 * keeps the policy code straight-line: no continuation per check.
 */
#define STATE_ASK_MAX 4
struct state_ask {
	unsigned next;			/* answers replayed in this run */
	unsigned n;			/* answers in */
	long long answer[STATE_ASK_MAX];
	struct state_req *req;		/* the question in flight, or NULL */
	bool in_call;			/* inside the call that asked */
	void (*wake)(void *arg);	/* the answer is in: run the command again */
	void *wake_arg;
};

enum state_answer { STATE_NO, STATE_YES, STATE_WAIT };

/* A command (re)starts: answers are replayed from the first. */
void state_ask_rewind(struct state_ask *q);
/* The command is over: its answers are forgotten (and a question still
 * in flight is cancelled). */
void state_ask_clear(struct state_ask *q);
/* The next answer of this run when it is in (true, *v). */
bool state_ask_next(struct state_ask *q, long long *v);
/* Records the answer to the question in flight (from the callback of the
 * primitive); wakes the session unless it is still inside the call. */
void state_ask_put(struct state_ask *q, long long v);

/* ---- between state.c and the backends ---- */

struct state_local;
struct state_redis;

struct state {
	const struct state_backend *be;	/* local or redis */
	struct event_base *base;
	char *node;			/* node_name */
	char *url;			/* state_backend, for the log (no password) */
	struct state_local *local;	/* always there: the fallback */
	struct state_redis *redis;	/* redis only */
	struct state_sub *subs;
	struct state_hook *hooks;
};

struct state_local *state_local_new(void);
void state_local_free(struct state_local *l);
/* redis: connects in the background; NULL only on a bad URL */
struct state_redis *state_redis_new(struct state *st, const struct config *cfg);
void state_redis_free(struct state_redis *r);
bool state_redis_up(const struct state_redis *r);
/* The backend tells the subscribers and the hooks. */
void state_deliver(struct state *st, const char *kind, const char *payload);
void state_run_hooks(struct state *st, bool fresh);

#endif
