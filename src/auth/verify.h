/*
 * Password verification off the event loop (SPEC 6.2): argon2id at
 * libsodium's INTERACTIVE limits costs tens of milliseconds and 64 MiB,
 * so a small pool of threads does it, at most AUTH_VERIFY_THREADS at a
 * time, with a bounded backlog.
 */
#ifndef POSTERN_AUTH_VERIFY_H
#define POSTERN_AUTH_VERIFY_H

#include <event2/event.h>
#include <stdbool.h>

#define AUTH_VERIFY_THREADS 2
#define AUTH_VERIFY_BACKLOG 64

struct verifier;
struct verify_req;

/* ok: the password matches. Runs on the loop. */
typedef void verify_cb(void *arg, bool ok);

struct verifier *verifier_new(struct event_base *base);
void verifier_free(struct verifier *v);

/*
 * Checks password against hash (both copied). Returns a handle, or NULL
 * when the backlog is full (answer 454 and let the client retry).
 */
struct verify_req *verifier_check(struct verifier *v, const char *hash, const char *password,
    verify_cb *cb, void *arg);
/* The callback will not run (the session went away). */
void verifier_cancel(struct verify_req *r);

#endif
