/*
 * Decoding record data handed back by the resolver. The data came from
 * the network: every function is bounded by len and refuses malformed
 * input rather than guessing.
 */
#ifndef POSTERN_DNS_ANSWER_H
#define POSTERN_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#define DNS_NAME_TEXT_MAX 254	/* 253 characters and NUL */

/*
 * Decodes an uncompressed wire-format name (PTR, MX, CNAME rdata) into
 * dotted text without the final dot, lower-cased. Labels with characters
 * outside letters, digits, '-' and '_' are refused: such a name is no
 * host name and must not reach a log or a header. Returns 0 or -1.
 */
int dns_name_from_wire(const char *buf, size_t len, char *out, size_t outlen);

/*
 * Joins the character-strings of one TXT rdata (<len><bytes>...) into a
 * new NUL-terminated string (length in *outlen). NULL when a string runs
 * past len. The caller frees it.
 */
char *dns_txt_join(const char *buf, size_t len, size_t *outlen);

/* A name as a key: lower-cased into out without a final dot; false when
 * it is empty or does not fit in outlen. */
bool dns_name_key(const char *name, char *out, size_t outlen);

/*
 * Does the wire-format DNS message in buf carry an SOA record in its
 * authority section? A negative answer is cached for its SOA's minimum,
 * and one without an SOA not at all (RFC 2308 5). False for a malformed
 * message.
 */
bool dns_packet_has_soa(const char *buf, size_t len);

/* The reverse-lookup name of an IP text ("4.3.2.1.in-addr.arpa"). */
int dns_reverse_name(const char *ip, char *out, size_t outlen);

#endif
