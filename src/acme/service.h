/*
 * Certificates from an ACME CA, kept current (SPEC 9): the loop side of
 * the client. At start it uses <data_dir>/acme/cert.pem and key.pem when
 * they are there and not due; otherwise, and when less than a third of
 * the certificate's lifetime is left, a worker thread runs acme_issue()
 * and the loop installs the result without a restart. Failures are
 * logged with the CA's words and retried with doubling delays; the
 * `certificate` alert is raised when there is no certificate to serve
 * or when renewal keeps failing.
 */
#ifndef POSTERN_ACME_SERVICE_H
#define POSTERN_ACME_SERVICE_H

#include <event2/event.h>
#include <stdbool.h>

#include "lib/config.h"

struct acme_service;
struct acme_challenge;

/*
 * Called on the loop with a certificate chain and its key (PEM text) to
 * put in service: at start from the files, then after each issuance.
 * Returns 0 when it was taken, -1 when it cannot be used (the service
 * then gets a new one).
 */
typedef int acme_install_fn(void *arg, const char *cert_pem, size_t cert_len,
    const char *key_pem, size_t key_len);

/*
 * Starts the service for cfg (copied: acme_* and hostname changes apply
 * at restart). ch answers the http-01 challenges (borrowed). Returns NULL
 * with *err when the account key or the folder cannot be made.
 */
struct acme_service *acme_service_new(struct event_base *base, const struct config *cfg,
    struct acme_challenge *ch, acme_install_fn *install, void *arg, char **err);

/* Stops a running issuance (bounded wait) and frees; NULL is a no-op. */
void acme_service_free(struct acme_service *s);

#endif
