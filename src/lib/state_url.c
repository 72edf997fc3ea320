/*
 * state_backend values. Only the "redis" scheme exists; user:password@ in
 * the URL is refused, since the password has a key of its own
 * (state_password) and must never sit in a value that gets logged.
 */
#include "state_url.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define SCHEME "redis://"

int
state_url_parse(const char *buf, size_t len, struct state_url *out)
{
	const char *hp, *slash;
	size_t hplen;

	memset(out, 0, sizeof(*out));
	if (len == 0 || (len == 5 && memcmp(buf, "local", 5) == 0))
		return 0;
	if (len > STATE_URL_MAX || len <= strlen(SCHEME) ||
	    strncasecmp(buf, SCHEME, strlen(SCHEME)) != 0)
		return -1;
	hp = buf + strlen(SCHEME);
	hplen = len - strlen(SCHEME);
	if (memchr(hp, '@', hplen) != NULL || memchr(hp, '?', hplen) != NULL ||
	    memchr(hp, '#', hplen) != NULL)
		return -1;
	/* the DB is after the last '/'; an IPv6 host has none inside */
	slash = memchr(hp, '/', hplen);
	if (slash != NULL) {
		const char *d = slash + 1, *end = hp + hplen;
		unsigned long db = 0;
		if (d == end)
			return -1;
		for (; d < end; d++) {
			if (*d < '0' || *d > '9')
				return -1;
			db = db * 10 + (unsigned long)(*d - '0');
			if (db > STATE_DB_MAX)
				return -1;
		}
		out->db = (unsigned)db;
		hplen = (size_t)(slash - hp);
	}
	if (hplen == 0 || value_hostport(hp, hplen, &out->addr) != 0 || out->addr.port == 0 ||
	    out->addr.host[0] == '\0') {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	out->redis = true;
	return 0;
}

void
state_url_format(const struct state_url *u, char *out, size_t outlen)
{
	if (!u->redis)
		snprintf(out, outlen, "local");
	else if (strchr(u->addr.host, ':') != NULL)
		snprintf(out, outlen, SCHEME "[%s]:%u/%u", u->addr.host, u->addr.port, u->db);
	else
		snprintf(out, outlen, SCHEME "%s:%u/%u", u->addr.host, u->addr.port, u->db);
}
