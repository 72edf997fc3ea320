/*
 * DKIM signing of outgoing mail (RFC 6376; ed25519-sha256 from RFC 8463;
 * no rsa-sha1, RFC 8301). c=relaxed/relaxed only, canonicalized by the
 * verifier's own functions (scan/dkim.h), so what we sign is what we would
 * verify. The message is signed as queue/mta.c sends it: CRLF, bare LF and
 * bare CR each become one CRLF line end.
 */
#ifndef POSTERN_QUEUE_DKIM_SIGN_H
#define POSTERN_QUEUE_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"

#define DKIM_SIGN_SELECTOR_MAX 63		/* the verifier's s= limit */
#define DKIM_SIGN_DOMAIN_MAX 254		/* a domain name and its NUL */
#define DKIM_SIGN_RSA_BITS_MIN 1024		/* RFC 8301 3.2: verifiers refuse less */
#define DKIM_SIGN_RSA_BITS_MAX 8192		/* the largest signature verifiers take */

struct dkim_signer;

/*
 * Loads the PEM private key at key_path (RSA of DKIM_SIGN_RSA_BITS_MIN bits
 * or more, or Ed25519; an encrypted key is refused, never prompted for) for
 * selector. Returns a new signer, or NULL with *err set to a newly
 * allocated message naming the file and the reason (the caller frees it).
 */
struct dkim_signer *dkim_signer_load(const char *selector, const char *key_path, char **err);
/*
 * A new signer with a freshly generated key: type "rsa" (bits within
 * DKIM_SIGN_RSA_BITS_MIN..MAX) or "ed25519" (bits ignored). NULL with
 * *err (newly allocated) on a bad selector, type or size.
 */
struct dkim_signer *dkim_signer_generate(const char *selector, const char *type, unsigned bits,
    char **err);
/* NULL is a no-op. */
void dkim_signer_free(struct dkim_signer *s);

/* The private key in PEM (PKCS#8, unencrypted), newly allocated, or NULL. */
char *dkim_signer_pem(const struct dkim_signer *s);

/* "rsa" or "ed25519": the k= of the key record. */
const char *dkim_signer_key_type(const struct dkim_signer *s);

/*
 * The TXT record text to publish at SELECTOR._domainkey.DOMAIN:
 * "v=DKIM1; k=rsa; p=BASE64" (p= the DER SubjectPublicKeyInfo; for
 * Ed25519 the raw 32-byte key, RFC 8463 4.2), newly allocated, one string
 * (the caller splits it into 255-octet character-strings).
 */
char *dkim_signer_record(const struct dkim_signer *s);

/*
 * Signs msg (len bytes, CRLF or LF line ends) with d=domain. Returns a
 * newly allocated "DKIM-Signature: ...\r\n" field (folded, lines under 78
 * characters) to put on top of the message, or NULL when the message has
 * no From: field, domain is not a domain name, or the cryptography failed.
 * Signs From (once more than present, so that no From can be added),
 * To, Cc, Subject, Date, Message-ID, Reply-To, MIME-Version,
 * Content-Type, Content-Transfer-Encoding, In-Reply-To and References,
 * every instance present.
 */
char *dkim_sign(const struct dkim_signer *s, const char *domain, const char *msg, size_t len);

/*
 * The domain of the first address of the first From: field, lower case,
 * into out (DKIM_SIGN_DOMAIN_MAX is enough). False when there is none.
 */
bool dkim_from_domain(const char *msg, size_t len, char *out, size_t outlen);

/*
 * SPEC 6.7, the mta_options.sign hook's work: signs msg with d= its From:
 * domain when that domain is one of cfg->domains. NULL when s is NULL,
 * the domain is not ours, or signing failed (logged: event=dkim_error).
 */
char *dkim_sign_local(const struct dkim_signer *s, const struct config *cfg, const char *msg,
    size_t len);

#endif
