/*
 * DKIM verification without DNS, for unit tests and fuzzing: the key
 * record text is given instead of being looked up. Other code uses
 * src/scan/dkim.h only.
 */
#ifndef POSTERN_SCAN_DKIM_INTERNAL_H
#define POSTERN_SCAN_DKIM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "scan/dkim.h"

/*
 * Verifies DKIM-Signature number idx (0 = topmost) of msg (CRLF or LF
 * line ends) with keyrec, the TXT text of SELECTOR._domainkey.DOMAIN
 * (character-strings already concatenated; NULL: no key published), at
 * time now (for x=). Fills *out. Returns the number of DKIM-Signature
 * fields the message has; when idx is past them *out is DKIM_NONE.
 */
size_t dkim_verify_with_key(const char *msg, size_t len, size_t idx, const char *keyrec,
    size_t keylen, time_t now, struct dkim_sig_result *out);

/* Decodes base64, skipping white space (FWS inside b=, bh=, p=).
 * Returns the decoded length, or -1 when malformed or over outlen. */
long dkim_base64_decode(const char *in, size_t len, unsigned char *out, size_t outlen);

/*
 * A domain or selector as DKIM takes them: dot-separated labels of
 * letters, digits, '-' and '_', 1..63 each; copied lower-cased into out.
 * Shared by the verifier and the signer (queue/dkim_sign.c).
 */
bool dkim_copy_name(const char *v, size_t len, char *out, size_t outlen);

#endif
