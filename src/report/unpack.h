/*
 * The containers reports arrive in (RFC 7489 7.2.1.1: gzip or zip;
 * RFC 8460 5.3: gzip) and the gzip reports we send. Pure and bounded:
 * decompression stops at a cap, so a compression bomb is refused after
 * cap octets of work, never inflated in memory.
 */
#ifndef POSTERN_REPORT_UNPACK_H
#define POSTERN_REPORT_UNPACK_H

#include <stddef.h>

/* A report as received (compressed or not), and what it may inflate to.
 * Real aggregate reports are kilobytes; a large provider's busiest day
 * is a few megabytes of XML. */
#define REPORT_PACKED_MAX (10u * 1024 * 1024)
#define REPORT_UNPACKED_MAX (32u * 1024 * 1024)
#define UNPACK_WHY_MAX 160

enum unpack_kind { UNPACK_PLAIN = 0, UNPACK_GZIP, UNPACK_ZIP };

/*
 * Recognises buf by its magic (gzip 1f 8b, zip "PK\3\4", else plain) and
 * returns its content: 0 with *out (allocated, NUL-terminated, the caller
 * frees) and *outlen, or -1 with why (over cap, damaged, encrypted,
 * zip64, a method other than store/deflate). A zip gives its first file.
 */
int unpack_report(const char *buf, size_t len, size_t cap, char **out, size_t *outlen,
    enum unpack_kind *kind, char *why, size_t whylen);

/* gzip (RFC 1952) of len octets: 0 with *out allocated, or -1. */
int unpack_gzip_pack(const char *buf, size_t len, char **out, size_t *outlen);

#endif
