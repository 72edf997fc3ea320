/*
 * Remembered bounces (SPEC 10; mox keeps the same kind of suppression
 * list): a remote address that refused mail permanently as "no such
 * user" is remembered for queue_lifetime, and a new message to it from
 * an account is refused at RCPT at once (550 5.1.1), counting as a
 * failed recipient of that account: a stolen account mailing a harvested
 * list shows up before the bounces do.
 *
 * Kept in <data_dir>/suppressed ("ADDRESS UNTIL" lines), so a restart
 * remembers; bounded (SUPPRESS_MAX, the oldest dropped).
 *
 * Shared state (SPEC 10, suppress_share): a bounce remembered on one node
 * is remembered on every node, through Redis's "suppressed" map (ADDRESS
 * -> UNTIL) and a message to the others; each node's file stays its copy
 * and, when Redis returns or starts empty, both sides take the later end
 * of each address.
 */
#ifndef POSTERN_POLICY_SUPPRESS_H
#define POSTERN_POLICY_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "state/state.h"

#define SUPPRESS_MAX 100000

struct suppress;

struct suppress *suppress_open(const char *data_dir);
/* NULL is a no-op. */
void suppress_free(struct suppress *s);
/* Shares through st (borrowed, outlives s); a no-op with local state. */
void suppress_share(struct suppress *s, struct state *st);

/*
 * Is this final remote reply a "no such user"? A 5xx with RFC 3463's
 * X.1.1 (bad destination mailbox address) or RFC 7505's X.1.10 (the
 * recipient's domain has a null MX); without an enhanced code, a
 * 550/551/553 whose text says the user is unknown. Pure: reply is the
 * whole reply line as the remote server sent it.
 */
bool suppress_is_unknown_user(const char *reply, size_t len);

/* Remembers addr (case-insensitive) until now + lifetime; durable.
 * Returns 0 or -1 (logged). */
int suppress_add(struct suppress *s, const char *addr, time_t now, unsigned lifetime);

/* When addr is remembered at now: true and *until. */
bool suppress_check(struct suppress *s, const char *addr, time_t now, time_t *until);

#endif
