/*
 * JSON Web Signature for ACME (RFC 8555 6.2, RFC 7515): the account key
 * (ECDSA P-256, ES256), its JWK (RFC 7517) and thumbprint (RFC 7638), and
 * requests in the flattened JSON serialization. OpenSSL only; no I/O.
 */
#ifndef POSTERN_ACME_JWS_H
#define POSTERN_ACME_JWS_H

#include <openssl/evp.h>
#include <stddef.h>

/* base64url without padding (RFC 7515 2) of len octets; caller frees. */
char *jws_b64url(const void *data, size_t len);

/* A new P-256 key, or NULL. */
EVP_PKEY *jws_key_new(void);

/* {"crv":"P-256","kty":"EC","x":"...","y":"..."}: members in the order
 * RFC 7638 3 hashes them. NULL when the key is not P-256. */
char *jws_jwk(EVP_PKEY *key);

/* base64url(SHA-256(JWK)): the thumbprint in key authorizations (RFC
 * 8555 8.1). */
char *jws_thumbprint(EVP_PKEY *key);

/*
 * The JWS body of an ACME POST: protected header {alg, nonce, url} with
 * kid when given (an account exists) else jwk; payload is JSON text, or
 * "" for POST-as-GET (RFC 8555 6.3). NULL when signing fails.
 */
char *jws_sign(EVP_PKEY *key, const char *kid, const char *nonce, const char *url,
    const char *payload);

#endif
