/*
 * The relay self-test of SPEC 6.3: after every start and reload, the
 * server runs the open-relay battery against its own listeners, as an
 * unauthenticated client that is never treated as trusted (the battery's
 * EHLO name is a secret the sessions recognise). It runs in a thread, so
 * the event loop keeps serving the battery's own sessions.
 */
#ifndef POSTERN_POLICY_SELFTEST_H
#define POSTERN_POLICY_SELFTEST_H

#include <event2/event.h>
#include <stdbool.h>

#include "lib/value.h"

#define SELFTEST_TARGETS_MAX 3
/* The loopback address the battery connects from (to loopback listeners). */
#define SELFTEST_SOURCE "127.0.0.253"

struct selftest_target {
	struct hostport addr;	/* a listener; 0.0.0.0, * and :: are tried on 127.0.0.1 */
	bool implicit_tls;
};

/* relayed: attempts the server accepted (0 is the only good answer);
 * error: the battery could not run against some listener. */
typedef void selftest_cb(void *arg, unsigned attempts, unsigned relayed, const char *error);

struct selftest;

struct selftest *selftest_start(struct event_base *base, const struct selftest_target *targets,
    size_t n, const char *helo, selftest_cb *cb, void *arg);
/* Waits for the thread (the callback does not run after this). */
void selftest_free(struct selftest *st);

/* A new secret EHLO name for the battery ("relaytest-HEX.invalid"). */
void selftest_make_helo(char *out, size_t outlen);

#endif
