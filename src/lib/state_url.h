/*
 * The state_backend value of SPEC 10: "local" or redis://HOST:PORT[/DB].
 * Pure and bounded, so the configuration check and the server read it the
 * same way and a fuzz target can run it alone.
 */
#ifndef POSTERN_LIB_STATE_URL_H
#define POSTERN_LIB_STATE_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "value.h"

#define STATE_URL_MAX 300	/* longer than any HOST:PORT/DB */
#define STATE_DB_MAX 65535	/* Redis's own limit is its `databases` setting */

struct state_url {
	bool redis;			/* false: local files (the default) */
	struct hostport addr;		/* redis: where it listens */
	unsigned db;			/* redis: SELECT db (0 by default) */
};

/*
 * Parses len bytes: "local" (or nothing) and redis://HOST:PORT[/DB], HOST a
 * name, an IPv4 address or [IPv6]; the port is required (no guess that
 * could reach the wrong server). Returns 0, or -1 on anything else.
 */
int state_url_parse(const char *buf, size_t len, struct state_url *out);

/* "redis://HOST:PORT/DB" (IPv6 in brackets) or "local" into out. */
void state_url_format(const struct state_url *u, char *out, size_t outlen);

#endif
