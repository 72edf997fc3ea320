/*
 * Held accounts (SPEC 6.4, 10): an account that tripped a
 * compromised-account signal (rate limit, unknown recipients, outbound
 * spam, bounce ratio) or that an administrator held keeps its new mail
 * in the queue until released. Holds are state like the rest: kept in
 * <data_dir>/holds (one "ACCOUNT SINCE REASON" line each), so they survive
 * a restart, and shared by the server and `postern user hold|release|held`
 * through the file: the server re-reads it when it changed.
 *
 * The one place a hold is set or lifted, so the one place that logs
 * event=hold and event=release.
 *
 * With shared state (SPEC 10, holds_share) every node's holds are one:
 * Redis keeps "holds" (ACCOUNT -> "SINCE REASON") and "released"
 * (ACCOUNT -> when), and each node's file stays its copy (what a restart
 * or an outage starts from, and what `postern user held` reads). A change
 * made here, by a signal or by the command (seen in the file), is pushed;
 * a change made elsewhere arrives by message or by the refresh and is
 * applied to the file, a release freeing what this node kept. When copies
 * disagree (an outage, a restart), the latest event of each account wins,
 * a release winning a tie: an administrator's release is deliberate.
 */
#ifndef POSTERN_POLICY_HOLD_H
#define POSTERN_POLICY_HOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "state/state.h"

#define HOLD_REASON_MAX 200

struct holds;

struct hold_entry {
	char *account;
	time_t since;
	char *reason;
};

/*
 * The holds of data_dir (the file need not exist yet). released(arg,
 * account), when not NULL, is told of every account found released by
 * someone else (the command, another node), so its kept messages can go.
 */
struct holds *holds_open(const char *data_dir,
    void (*released)(void *arg, const char *account), void *arg);
/* NULL is a no-op. */
void holds_free(struct holds *h);

/* Shares the holds through st (borrowed: it outlives h); merges at once
 * when st is up, then at each refresh, message and return of Redis. */
void holds_share(struct holds *h, struct state *st);

/* Re-reads the file when it changed since the last look (one stat when
 * it did not), and with shared state compares with Redis's holds (the
 * answer comes later). Returns 0, or -1 when the file cannot be read
 * (logged). */
int holds_refresh(struct holds *h);

/* Held right now (as of the last refresh or change of ours). */
bool holds_held(const struct holds *h, const char *account);

/*
 * Holds account (lower case) for reason; logs event=hold. Returns 1 when
 * it was already held (nothing changes, nothing logged), 0 when held now,
 * -1 on error (*err, caller frees).
 */
int holds_set(struct holds *h, const char *account, const char *reason, char **err);

/* Lifts the hold; logs event=release. Returns 1 when it was not held,
 * 0 when released, -1 on error (*err). */
int holds_release(struct holds *h, const char *account, char **err);

/* A copy of the current holds (holds_list_free frees it). */
size_t holds_list(const struct holds *h, struct hold_entry **out);
void holds_list_free(struct hold_entry *list, size_t n);

/* One line of the holds file parsed: "ACCOUNT SINCE REASON". Pure, for
 * the fuzz target; false on a malformed line. */
bool holds_parse_line(const char *buf, size_t len, char *account, size_t acclen,
    time_t *since, char *reason, size_t reasonlen);

#endif
