/*
 * RFC 5321 path parsing (4.1.2): "<>", "<local@domain>", source routes
 * "<@a,@b:local@domain>" (recognised, never honoured: 4.1.1.3 and
 * appendix F.2), quoted local parts, address literals. Strict: anything
 * outside the grammar is refused with a reason, which is what keeps
 * relay tricks such as user@remote@local from being guessed at.
 */
#ifndef POSTERN_SMTP_ADDRESS_H
#define POSTERN_SMTP_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define ADDR_LOCAL_MAX 64	/* RFC 5321 4.5.3.1.1 */
#define ADDR_DOMAIN_MAX 255	/* RFC 5321 4.5.3.1.2 */
#define ADDR_PATH_MAX 256	/* RFC 5321 4.5.3.1.3 */

struct mailaddr {
	/* Local part as it must be matched: a quoted string whose content is
	 * a valid dot-string is unquoted ("bob" -> bob); others keep quotes. */
	char local[ADDR_LOCAL_MAX + 3];
	char domain[ADDR_DOMAIN_MAX + 1];	/* lower-cased; literal with [] */
	bool null;		/* "<>" */
	bool quoted;		/* local part needed quotes */
	bool literal;		/* domain is an address literal */
	bool source_route;	/* an A-d-l was present and dropped */
	bool utf8;		/* non-ASCII octets present (SMTPUTF8) */
};

enum addr_result {
	ADDR_OK = 0,
	ADDR_NO_BRACKETS,	/* not enclosed in < > */
	ADDR_SYNTAX,		/* outside the RFC 5321 grammar */
	ADDR_LOCAL_TOO_LONG,
	ADDR_DOMAIN_TOO_LONG,
	ADDR_PATH_TOO_LONG,
	ADDR_NO_DOMAIN,		/* "<user>" */
	ADDR_BAD_LITERAL,	/* [..] that is not an IPv4/IPv6 literal */
	ADDR_8BIT,		/* non-ASCII without SMTPUTF8 */
	ADDR_NULL_NOT_ALLOWED,	/* "<>" where a mailbox is required */
};

/*
 * Parses a path of len bytes (brackets included). allow_null permits "<>"
 * (MAIL FROM); utf8 permits UTF-8 in local part and domain (RFC 6531).
 */
enum addr_result addr_parse_path(const char *buf, size_t len, bool allow_null,
    bool utf8, struct mailaddr *out);

/* A short human reason for a result, for the 5xx reply. */
const char *addr_result_reason(enum addr_result r);

/* Writes "local@domain" (or "" for the null path) into dst. */
void addr_format(const struct mailaddr *a, char *dst, size_t dstlen);

#endif
