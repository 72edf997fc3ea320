/*
 * TLS server context for STARTTLS and implicit TLS (OpenSSL 3), loaded
 * from files at start, from the key reader's copies on reload (keys that
 * only root may read), or from memory (ACME); and the client side's
 * certificate checks (SPEC 12): trust store, expected name, the reason a
 * check failed.
 */
#ifndef POSTERN_SMTP_TLS_H
#define POSTERN_SMTP_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>
#include <time.h>

struct keyreader;

/* Loads certificate chain and key; NULL with *err (caller frees). */
SSL_CTX *tls_server_ctx(const char *cert, const char *key, char **err);

/* The same from PEM text; cert_name and key_name only name them in *err. */
SSL_CTX *tls_server_ctx_pem(const char *cert, size_t cert_len, const char *key,
    size_t key_len, const char *cert_name, const char *key_name, char **err);

/*
 * The context for cert and key at reload: through the key reader when
 * there is one (privileges were dropped), else from the files. NULL with
 * *err; the caller keeps serving with its old context then.
 */
SSL_CTX *tls_reload_ctx(struct keyreader *kr, const char *cert, const char *key, char **err);

/* The serial number (hex) and expiry of ctx's certificate, for the log
 * and the ACME renewal; serial may be NULL. Returns 0 or -1. */
int tls_ctx_cert_info(SSL_CTX *ctx, char *serial, size_t serial_len, time_t *not_before,
    time_t *not_after);

/* Logs event=certificate with ctx's serial, subject and expiry; source
 * says where it came from ("file", "acme"). */
void tls_log_cert(SSL_CTX *ctx, const char *source);

/* "TLSv1.3" etc. of an established connection. */
const char *tls_version(const SSL *ssl);

/*
 * Client side. The trust store of ctx: the file SSL_CERT_FILE names,
 * alone, when it is set (SPEC 12), else the system's (OpenSSL's default
 * file and directory). Returns 0, or -1 with *err (caller frees).
 */
int tls_client_trust(SSL_CTX *ctx, char **err);

/*
 * Makes ssl send host as SNI (unless it is an address) and check the
 * peer's certificate for it: DNS names with a wildcard only as the whole
 * left-most label (RFC 6125 6.4.3), or an IP address against the IP
 * SANs. The verification runs in every handshake; tls_client_verified
 * reads its outcome, so the caller decides what a failure means.
 */
void tls_client_expect(SSL *ssl, const char *host);

/*
 * After the handshake: 0 when the peer's certificate chains to the trust
 * store (or its DANE records, queue/dane.h) and holds the expected name;
 * else -1 with why set to "certificate verify failed: REASON" (OpenSSL's
 * words, e.g. "self-signed certificate"), the form SPEC 7.1 logs.
 */
int tls_client_verified(const SSL *ssl, char *why, size_t len);

#endif
