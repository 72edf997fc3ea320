/*
 * Local recipient resolution. Alias expansion is bounded in depth and in
 * fan-out so a loop in the aliases file cannot stall the event loop.
 */
#include "local.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define ALIAS_DEPTH_MAX 8
#define MAILBOXES_MAX 64

struct expansion {
	char *list[MAILBOXES_MAX];
	size_t n;
	bool overflow;
};

static void
add_mailbox(struct expansion *x, const char *addr)
{
	const char *at = strrchr(addr, '@');
	char *mb;

	if (at == NULL)
		return;
	mb = xasprintf("%s/%.*s", at + 1, (int)(at - addr), addr);
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->list[i], mb) == 0) {
			free(mb);
			return;
		}
	if (x->n == MAILBOXES_MAX) {
		x->overflow = true;
		free(mb);
		return;
	}
	x->list[x->n++] = mb;
}

/* Strips "+tag" from the local part; returns false when there is none. */
static bool
strip_extension(const char *addr, char *out, size_t outlen)
{
	const char *plus = strchr(addr, '+'), *at = strrchr(addr, '@');

	if (plus == NULL || at == NULL || plus > at || plus == addr)
		return false;
	snprintf(out, outlen, "%.*s%s", (int)(plus - addr), addr, at);
	return true;
}

static int
is_role(const char *addr)
{
	return strncmp(addr, "postmaster@", 11) == 0 || strncmp(addr, "abuse@", 6) == 0;
}

static enum local_result
expand(const struct config *cfg, const struct userdb *db, const char *addr,
    int depth, struct expansion *x)
{
	const char *targets[MAILBOXES_MAX];
	size_t n;
	char stripped[400];
	const char *tries[2] = { addr, NULL };

	if (depth > ALIAS_DEPTH_MAX)
		return LOCAL_LOOP;
	if (strip_extension(addr, stripped, sizeof(stripped)))
		tries[1] = stripped;
	for (int t = 0; t < 2 && tries[t] != NULL; t++) {
		if (userdb_has_account(db, tries[t])) {
			add_mailbox(x, tries[t]);
			return x->overflow ? LOCAL_LOOP : LOCAL_OK;
		}
		n = userdb_alias(db, tries[t], targets, MAILBOXES_MAX);
		if (n > 0) {
			for (size_t i = 0; i < n; i++) {
				enum local_result r = expand(cfg, db, targets[i], depth + 1, x);
				if (r != LOCAL_OK)
					return r;
			}
			return LOCAL_OK;
		}
	}
	/* RFC 5321 4.5.1 and RFC 2142: these always exist. */
	for (int t = 0; t < 2 && tries[t] != NULL; t++)
		if (is_role(tries[t])) {
			const char *at = strrchr(tries[t], '@');
			char pm[400];
			snprintf(pm, sizeof(pm), "postmaster%s", at);
			add_mailbox(x, pm);
			return LOCAL_OK;
		}
	return LOCAL_UNKNOWN;
}

bool
local_is_local(const struct config *cfg, const struct mailaddr *rcpt)
{
	return !rcpt->literal && !rcpt->null &&
	    config_is_local_domain(cfg, rcpt->domain, strlen(rcpt->domain));
}

enum local_result
local_resolve(const struct config *cfg, const struct userdb *db,
    const struct mailaddr *rcpt, char **mailboxes)
{
	struct expansion x = { .n = 0 };
	enum local_result r;
	char addr[400];
	size_t len = 0;

	*mailboxes = NULL;
	if (!local_is_local(cfg, rcpt))
		return LOCAL_NOT_LOCAL;
	/* A quoted local part that is not a plain dot-string ("a@b"@here)
	 * can never name one of our accounts. */
	if (rcpt->quoted)
		return LOCAL_UNKNOWN;
	snprintf(addr, sizeof(addr), "%s@%s", rcpt->local, rcpt->domain);
	for (char *p = addr; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	r = expand(cfg, db, addr, 0, &x);
	if (r == LOCAL_OK) {
		for (size_t i = 0; i < x.n; i++)
			len += strlen(x.list[i]) + 1;
		*mailboxes = xmalloc(len + 1);
		(*mailboxes)[0] = '\0';
		for (size_t i = 0; i < x.n; i++) {
			if (i)
				strcat(*mailboxes, ",");
			strcat(*mailboxes, x.list[i]);
		}
	}
	for (size_t i = 0; i < x.n; i++)
		free(x.list[i]);
	return r;
}
