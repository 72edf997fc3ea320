/*
 * The ACME protocol client (RFC 8555): account, order, http-01
 * authorizations, finalize, certificate download. Blocking (libcurl's
 * easy interface): it runs on the renewal worker thread, never on the
 * event loop; every request has a timeout and every poll a bound.
 */
#ifndef POSTERN_ACME_ACME_H
#define POSTERN_ACME_ACME_H

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct acme_params {
	const char *directory;		/* the CA's directory URL */
	const char *email;		/* account contact */
	const char *ca_file;		/* trust for the CA; NULL: the system store,
					 * or SSL_CERT_FILE when set (SPEC 12) */
	const char *const *names;	/* DNS names of the certificate */
	size_t nnames;
	EVP_PKEY *account_key;		/* borrowed */
	/* http-01 (RFC 8555 8.3): make /.well-known/acme-challenge/TOKEN
	 * answer keyauth, and forget it afterwards */
	void (*publish)(void *arg, const char *token, const char *keyauth);
	void (*withdraw)(void *arg, const char *token);
	void *arg;
	atomic_bool *cancel;		/* set at shutdown: give up soon */
};

struct acme_result {
	char *cert_pem;			/* the chain, leaf first */
	char *key_pem;			/* its private key */
};

/*
 * Obtains a certificate for p->names. Returns 0 with out filled (caller
 * frees both strings), or -1 with *err saying which step failed and the
 * CA's problem type and detail when it sent one.
 */
int acme_issue(const struct acme_params *p, struct acme_result *out, char **err);

/* Once per process, before any thread uses acme_issue. */
void acme_global_init(void);

#endif
