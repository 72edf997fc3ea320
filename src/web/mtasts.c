/*
 * MTA-STS policy text. RFC 8461 3.2: "key: value" lines ending in CRLF,
 * version first; the one MX is `hostname`, which our certificate names.
 */
#include "mtasts.h"

#include "lib/xmalloc.h"

char *
mtasts_policy(const char *mode, const char *mx)
{
	return xasprintf("version: STSv1\r\nmode: %s\r\nmx: %s\r\nmax_age: %d\r\n", mode, mx,
	    MTASTS_MAX_AGE);
}
