/*
 * Addresses in header fields (From:, Reply-To:, Return-Path:,
 * Delivered-To:): the first address of a value, as the scanner, DKIM
 * signing and `postern learn` need it. Pure; fuzzed by fuzz_learn.
 */
#ifndef POSTERN_SCAN_HDRADDR_H
#define POSTERN_SCAN_HDRADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Extracts the domain of the first address in a header value (From:,
 * Reply-To:) into out, normalized like a URL host (lower case, IDNA);
 * returns false when none parses. */
bool scan_address_domain(const char *value, size_t len, char *out, size_t outlen);
/* The same address whole, "local@domain" lower-cased with the domain
 * normalized as scan_address_domain does; false when none parses. */
bool scan_address_spec(const char *value, size_t len, char *out, size_t outlen);

#endif
