/*
 * The smart host's credentials for the SMTP client (SPEC 12): the
 * password file (relayhost_password_file, its first line), the AUTH
 * mechanisms a relay's EHLO offers (RFC 4954 3) and the SASL responses
 * the client sends, PLAIN (RFC 4616) and LOGIN. Everything but
 * smarthost_password_read is pure; none of it decides when AUTH may be
 * sent (queue/mta.c: only over TLS whose certificate verified).
 */
#ifndef POSTERN_QUEUE_SMARTHOST_H
#define POSTERN_QUEUE_SMARTHOST_H

#include <stddef.h>

#define SMARTHOST_PASSWORD_MAX 1024	/* octets of the password line */
#define SMARTHOST_USER_MAX 255		/* RFC 4616 allows more; no relay needs it */

/* Mechanisms we can use, as bits of smarthost_ehlo_auth's result. */
#define SMARTHOST_MECH_PLAIN 1u
#define SMARTHOST_MECH_LOGIN 2u

/*
 * One EHLO keyword line without its "250-" or "250 " (e.g. "AUTH PLAIN
 * LOGIN", or the pre-RFC form "AUTH=LOGIN"). Returns -1 when the line is
 * no AUTH line, else the bits of the mechanisms we know (0: an AUTH line
 * with none of them).
 */
int smarthost_ehlo_auth(const char *line, size_t len);

/* The PLAIN initial response, base64 of NUL user NUL pass (no authzid:
 * the relay derives it), newly allocated. */
char *smarthost_plain(const char *user, const char *pass);

/* base64 of the len octets of s (LOGIN's user name and password). */
char *smarthost_b64(const char *s, size_t len);

/*
 * The password: the first line of path without its line ending (LF or
 * CRLF). Refused with *err (caller frees): a file that cannot be read,
 * an empty first line, one longer than SMARTHOST_PASSWORD_MAX, a NUL in
 * it. The caller wipes and frees the result.
 */
char *smarthost_password_read(const char *path, char **err);

#endif
