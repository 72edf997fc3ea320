/*
 * TLS server context for STARTTLS and implicit TLS (OpenSSL 3).
 */
#ifndef POSTERN_SMTP_TLS_H
#define POSTERN_SMTP_TLS_H

#include <openssl/ssl.h>

/* Loads certificate chain and key; NULL with *err (caller frees). */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char **err);

/* "TLSv1.3" etc. of an established connection. */
const char *tls_version(const SSL *ssl);

#endif
