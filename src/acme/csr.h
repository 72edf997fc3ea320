/*
 * The certificate's key and signing request for ACME finalize (RFC 8555
 * 7.4): RSA 2048, the most widely accepted key for mail peers and
 * clients; the request names every DNS name in subjectAltName.
 */
#ifndef POSTERN_ACME_CSR_H
#define POSTERN_ACME_CSR_H

#include <openssl/evp.h>
#include <stddef.h>

/* A new RSA 2048 key, or NULL. */
EVP_PKEY *csr_key_new(void);

/* base64url(DER) of a CSR for names[0..n) signed by key; NULL on error. */
char *csr_new(EVP_PKEY *key, const char *const *names, size_t n);

/* PEM text of a private key (caller frees), or NULL. */
char *csr_key_pem(EVP_PKEY *key);

/* The key in PEM text, or NULL. */
EVP_PKEY *csr_key_from_pem(const char *pem, size_t len);

#endif
