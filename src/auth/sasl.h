/*
 * SASL for SMTP AUTH (RFC 4954): PLAIN (RFC 4616) and LOGIN. Pure
 * decoding of the client's base64 responses; the password check itself
 * is auth/verify.h's, off the event loop. A mechanism table leaves room
 * for SCRAM later.
 */
#ifndef POSTERN_AUTH_SASL_H
#define POSTERN_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#define SASL_FIELD_MAX 512	/* authzid, authcid, password: each */

enum sasl_mech { SASL_NONE = 0, SASL_PLAIN, SASL_LOGIN };

/* "PLAIN" / "LOGIN" (any case) or SASL_NONE. */
enum sasl_mech sasl_mech_lookup(const char *name, size_t len);

/*
 * Decodes a PLAIN response "authzid NUL authcid NUL passwd" (base64).
 * An authzid other than empty or the authcid itself is refused: nobody
 * may act as someone else. Returns 0 or -1 (malformed).
 */
int sasl_plain_decode(const char *b64, size_t len, char *user, size_t userlen,
    char *pass, size_t passlen);

/* Decodes one base64 LOGIN response (user name or password). */
int sasl_login_decode(const char *b64, size_t len, char *out, size_t outlen);

#endif
