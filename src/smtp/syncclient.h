/*
 * A small blocking SMTP client for the command-line tools (relaytest,
 * sendmail): one connection, replies read whole, STARTTLS or implicit
 * TLS, socket timeouts on every read and write. Never used on the
 * server's event loop.
 */
#ifndef POSTERN_SMTP_SYNCCLIENT_H
#define POSTERN_SMTP_SYNCCLIENT_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct sync_conn {
	int fd;
	SSL_CTX *ctx;		/* created on first TLS use, freed by sync_free */
	SSL *ssl;
	char buf[8192];
	size_t len;
	bool verify;		/* check the certificate against tls_name */
	char tls_name[256];	/* host name or IP address expected */
};

/* Connects (binding source when not NULL). Returns 0 or -1 with err. */
int sync_open(struct sync_conn *c, const char *host, unsigned port, const char *source,
    unsigned timeout, char *err, size_t errlen);
/* TLS on the connection (after STARTTLS's 220, or at once for 465).
 * With c->verify, the certificate must be valid for c->tls_name. */
int sync_tls(struct sync_conn *c, char *err, size_t errlen);
/* Reads one whole reply; returns its code, 0 on error. out gets the
 * last line (without CRLF). */
int sync_reply(struct sync_conn *c, char *out, size_t outlen);
/* Sends a line (CRLF added) and reads the reply. */
int sync_cmd(struct sync_conn *c, const char *line, char *out, size_t outlen);
/* Sends raw bytes. Returns 0 or -1. */
int sync_write(struct sync_conn *c, const char *buf, size_t len);
/* Closes the connection (keeps the TLS context for another one). */
void sync_close(struct sync_conn *c);
/* Frees the TLS context too. */
void sync_free(struct sync_conn *c);

#endif
