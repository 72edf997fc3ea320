/*
 * What mail clients ask to find their settings from an address alone
 * (SPEC 9): Thunderbird's autoconfig (config-v1.1.xml) and Outlook's
 * autodiscover (POX, 2006 schema). Pure: text in, text out; every value
 * put into XML is escaped, the request body is read with a cap.
 */
#ifndef POSTERN_WEB_AUTOCONFIG_H
#define POSTERN_WEB_AUTOCONFIG_H

#include <stddef.h>

#define AUTODISCOVER_BODY_MAX 16384	/* an Outlook request is a few hundred octets */
#define AUTOCONFIG_ADDRESS_MAX 320	/* RFC 5321 4.5.3.1: 64 + 1 + 255 */

/* The IMAP 993, submissions 465 and submission 587 servers at hostname
 * for domain, as Thunderbird reads them; caller frees. */
char *autoconfig_thunderbird(const char *hostname, const char *domain);

/*
 * The address of an autodiscover request (<EMailAddress> inside
 * <Request>), copied into out (AUTOCONFIG_ADDRESS_MAX). Returns 0, or -1
 * with *why when the body is not such a request or the address is not
 * local@domain.
 */
int autodiscover_request_address(const char *buf, size_t len, char *out, const char **why);

/* The answer for address (its own login name); caller frees. */
char *autodiscover_response(const char *hostname, const char *address);

/* True when s is a plausible local@domain (printable, no XML or header
 * specials); the domain part is returned through *domain. */
int autoconfig_address_ok(const char *s, const char **domain);

#endif
