/*
 * Email addresses in body text (SPEC 4.1, HBL _email): every
 * local@domain, where urls.c keeps only one item per domain. The local
 * part is RFC 5322 atext and dots, without '/', '=' and '?' (URL
 * punctuation: "?to=drop@box.example" yields drop@box.example), at most
 * 64 octets (RFC 5321 4.5.3.1.1); the domain is host labels with a dot
 * and a TLD of letters or an A-label, whatever the public-suffix list
 * says (SPEC 5.1). Pure, linear, never reads past len; fuzzed by
 * fuzz_bodyaddr.
 */
#ifndef POSTERN_SCAN_BODYADDR_H
#define POSTERN_SCAN_BODYADDR_H

#include <stdbool.h>
#include <stddef.h>

#define BODYADDR_LOCAL_MAX 64
#define BODYADDR_MAX 320	/* local@domain as written, with its NUL */

/*
 * Finds the next address in text[*pos..len) and copies it, lower-cased,
 * into out (BODYADDR_MAX). Returns true and moves *pos past it; false
 * when there is none left.
 */
bool bodyaddr_next(const char *text, size_t len, size_t *pos, char *out);

#endif
