/*
 * DKIM signature verification (RFC 6376) on the asynchronous resolver:
 * every DKIM-Signature header of a message is checked (rsa-sha256 and
 * ed25519-sha256 (RFC 8463); rsa-sha1 refused as RFC 8301 says), simple
 * and relaxed canonicalization, l= honoured, key from
 * SELECTOR._domainkey.DOMAIN TXT. OpenSSL 3 does the cryptography.
 */
#ifndef POSTERN_SCAN_DKIM_H
#define POSTERN_SCAN_DKIM_H

#include <stddef.h>

#include "dns/resolver.h"

enum dkim_result {
	DKIM_NONE = 0,		/* no signature */
	DKIM_PASS, DKIM_FAIL, DKIM_NEUTRAL, DKIM_TEMPERROR, DKIM_PERMERROR,
};

const char *dkim_result_name(enum dkim_result r);

#define DKIM_SIGS_MAX 8

struct dkim_sig_result {
	enum dkim_result result;
	char domain[254];	/* d= */
	char selector[64];	/* s= */
	char reason[96];	/* for failures: "body hash mismatch", ... */
};

struct dkim_verify;

/* Called once with every signature's result (n may be 0: DKIM_NONE). */
typedef void dkim_cb(void *arg, const struct dkim_sig_result *sigs, size_t n);

/*
 * Starts verifying the message (headers and body, CRLF or LF line ends).
 * msg is borrowed until cb runs or dkim_verify_free. Never calls cb before
 * returning.
 */
struct dkim_verify *dkim_verify_start(struct resolver *res, const char *msg, size_t len,
    unsigned timeout_ms, dkim_cb *cb, void *arg);
/*
 * The same in two steps: dkim_verify_new copies the message, reads the
 * signatures and checks each body hash (no key needed: pure, any
 * thread); dkim_verify_launch asks for the keys on the loop, once.
 * dkim_verify_free frees one never launched too.
 */
struct dkim_verify *dkim_verify_new(const char *msg, size_t len);
void dkim_verify_launch(struct dkim_verify *v, struct resolver *res, unsigned timeout_ms,
    dkim_cb *cb, void *arg);
void dkim_verify_free(struct dkim_verify *v);

/*
 * Pure parts for tests and fuzzing: relaxed/simple canonicalization of a
 * header field and of a body, into out (returns the length), and the
 * parse of a DKIM-Signature tag list.
 */
size_t dkim_canon_header_relaxed(const char *name, size_t nlen, const char *value,
    size_t vlen, char *out, size_t outlen);
size_t dkim_canon_body(const char *body, size_t len, int relaxed, char *out, size_t outlen);
int dkim_parse_tags(const char *buf, size_t len, void (*fn)(void *arg, const char *tag,
    size_t tlen, const char *val, size_t vlen), void *arg);

#endif
