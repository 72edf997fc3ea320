/*
 * The http-01 responder (RFC 8555 8.3) on acme_http_listen: answers
 * GET /.well-known/acme-challenge/TOKEN with the key authorization while
 * the ACME worker has it published, 404 otherwise. Runs on the event
 * loop (libevent's evhttp); publish and withdraw may be called from the
 * worker thread.
 */
#ifndef POSTERN_ACME_CHALLENGE_H
#define POSTERN_ACME_CHALLENGE_H

#include <event2/event.h>

#include "lib/value.h"

struct acme_challenge;

/* Binds hp (before dropping privileges: port 80). NULL with *err. */
struct acme_challenge *acme_challenge_new(struct event_base *base, const struct hostport *hp,
    char **err);
void acme_challenge_free(struct acme_challenge *c);

/* Thread-safe. The strings are copied. */
void acme_challenge_publish(struct acme_challenge *c, const char *token, const char *keyauth);
void acme_challenge_withdraw(struct acme_challenge *c, const char *token);

#endif
