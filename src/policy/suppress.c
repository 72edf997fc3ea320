/*
 * Remembered bounces: a hash table of addresses with their expiry, and
 * the file that makes them survive a restart (rewritten through
 * durable_edit_file on each addition: bounces are rare next to
 * deliveries, and each one must not be forgotten). Shared: each addition
 * goes to Redis and to the other nodes ("suppressed ADDRESS UNTIL"), and
 * what arrives is added here the same way, without being sent back.
 */
#include "suppress.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"

#define NBUCKETS 4096
#define ADDR_MAX 320

struct entry {
	struct entry *next;
	time_t until;
	char addr[];		/* lower case */
};

struct suppress {
	char *path;
	struct entry *b[NBUCKETS];
	size_t n;
	struct state *st;	/* shared state, or NULL */
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)tolower((unsigned char)*s)) * 16777619u;
	return h % NBUCKETS;
}

static struct entry *
find(struct suppress *s, const char *addr)
{
	for (struct entry *e = s->b[hash(addr)]; e; e = e->next)
		if (strcasecmp(e->addr, addr) == 0)
			return e;
	return NULL;
}

static void
put(struct suppress *s, const char *addr, time_t until)
{
	struct entry *e = find(s, addr);
	size_t len = strlen(addr);

	if (e != NULL) {
		if (until > e->until)
			e->until = until;
		return;
	}
	e = xmalloc(sizeof(*e) + len + 1);
	for (size_t i = 0; i <= len; i++)
		e->addr[i] = (char)tolower((unsigned char)addr[i]);
	e->until = until;
	e->next = s->b[hash(addr)];
	s->b[hash(addr)] = e;
	s->n++;
}

/* Drops what expired; past SUPPRESS_MAX also what expires soonest. */
static void
prune(struct suppress *s, time_t now)
{
	time_t cut = now;

	for (int pass = 0; pass < 64; pass++) {
		for (size_t i = 0; i < NBUCKETS; i++)
			for (struct entry **p = &s->b[i]; *p;) {
				if ((*p)->until <= cut) {
					struct entry *dead = *p;
					*p = dead->next;
					free(dead);
					s->n--;
				} else
					p = &(*p)->next;
			}
		if (s->n <= SUPPRESS_MAX)
			return;
		cut += 3600;	/* an hour more at a time */
	}
}

/* "ADDRESS UNTIL" */
static bool
parse_line(const char *p, size_t len, char *addr, time_t *until)
{
	const char *sp = memchr(p, ' ', len);
	size_t al = sp ? (size_t)(sp - p) : 0;
	long long t = 0;

	if (sp == NULL || al == 0 || al >= ADDR_MAX || memchr(p, '@', al) == NULL)
		return false;
	for (size_t i = 0; i < al; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] == 127)
			return false;
	for (const char *q = sp + 1; q < p + len; q++) {
		if (!isdigit((unsigned char)*q) || t > 100000000000LL)
			return false;
		t = t * 10 + (*q - '0');
	}
	memcpy(addr, p, al);
	addr[al] = '\0';
	*until = (time_t)t;
	return true;
}

static void
load_text(struct suppress *s, const char *text, time_t now)
{
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char addr[ADDR_MAX];
		time_t until;

		if (parse_line(p, len, addr, &until) && until > now)
			put(s, addr, until);
		p = eol ? eol + 1 : p + len;
	}
}

struct suppress *
suppress_open(const char *data_dir)
{
	struct suppress *s = xcalloc(1, sizeof(*s));
	struct stat st;
	char *text;

	s->path = xasprintf("%s/suppressed", data_dir);
	if ((text = durable_slurp(s->path, &st)) != NULL) {
		load_text(s, text, time(NULL));
		free(text);
	} else if (errno != ENOENT)
		log_event("error", "reason=\"cannot read %s: %s\"", s->path, strerror(errno));
	prune(s, time(NULL));
	return s;
}

void
suppress_free(struct suppress *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < NBUCKETS; i++)
		while (s->b[i]) {
			struct entry *n = s->b[i]->next;
			free(s->b[i]);
			s->b[i] = n;
		}
	free(s->path);
	free(s);
}

bool
suppress_is_unknown_user(const char *reply, size_t len)
{
	static const char *const phrases[] = {
		"no such user", "user unknown", "unknown user", "no such mailbox",
		"mailbox unavailable", "does not exist", "recipient not found",
		"invalid recipient", "unknown recipient", "no mailbox",
	};
	char low[512];
	size_t n = len < sizeof(low) - 1 ? len : sizeof(low) - 1;
	size_t i = 4;

	if (len < 4 || reply[0] != '5' || !isdigit((unsigned char)reply[1]) ||
	    !isdigit((unsigned char)reply[2]))
		return false;
	/* an enhanced code decides when there is one */
	if (len > 6 && reply[i] == '5' && reply[i + 1] == '.') {
		const char *c = reply + i;
		size_t rest = len - i;
		if (rest >= 6 && strncmp(c, "5.1.10", 6) == 0 && (rest == 6 || c[6] == ' '))
			return true;
		return rest >= 5 && strncmp(c, "5.1.1", 5) == 0 && (rest == 5 || c[5] == ' ');
	}
	if (strncmp(reply, "550", 3) != 0 && strncmp(reply, "551", 3) != 0 &&
	    strncmp(reply, "553", 3) != 0)
		return false;
	for (size_t k = 0; k < n; k++)
		low[k] = (char)tolower((unsigned char)reply[k]);
	low[n] = '\0';
	for (size_t k = 0; k < sizeof(phrases) / sizeof(phrases[0]); k++)
		if (strstr(low, phrases[k]) != NULL)
			return true;
	return false;
}

struct add_arg {
	struct suppress *s;
	time_t now;
};

/* The whole table, as the file holds it. */
static int
write_table(char *old, FILE *out, void *arg, char **err)
{
	struct add_arg *a = arg;

	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct entry *e = a->s->b[i]; e; e = e->next)
			if (e->until > a->now)
				fprintf(out, "%s %lld\n", e->addr, (long long)e->until);
	return 0;
}

/* The table to the file. */
static int
persist(struct suppress *s, time_t now)
{
	struct add_arg a = { s, now };
	char *err = NULL;

	if (durable_edit_file(s->path, 0640, write_table, &a, &err) == -1) {
		log_event("error", "reason=\"cannot write %s: %s\"", s->path, err);
		free(err);
		return -1;
	}
	return 0;
}

static bool
addr_ok(const char *addr)
{
	return strlen(addr) < ADDR_MAX && strchr(addr, '@') != NULL &&
	    strpbrk(addr, " \t\r\n") == NULL;
}

/* To Redis and the other nodes (best effort: a merge repairs). */
static void
share_one(struct suppress *s, const char *addr, time_t until)
{
	char v[24], *msg;

	if (!state_up(s->st))
		return;
	snprintf(v, sizeof(v), "%lld", (long long)until);
	state_map_put(s->st, "suppressed", addr, v, 0, NULL, NULL);
	msg = xasprintf("%s %s", addr, v);
	state_publish(s->st, "suppressed", msg);
	free(msg);
}

int
suppress_add(struct suppress *s, const char *addr, time_t now, unsigned lifetime)
{
	struct entry *e;

	if (!addr_ok(addr))
		return -1;
	put(s, addr, now + (time_t)lifetime);
	prune(s, now);
	if (persist(s, now) == -1)
		return -1;
	if (s->st != NULL && (e = find(s, addr)) != NULL)
		share_one(s, e->addr, e->until);
	return 0;
}

/* Another node's: kept here, not sent back. true when it changed us. */
static bool
take(struct suppress *s, const char *addr, time_t until, time_t now)
{
	struct entry *e;

	if (!addr_ok(addr) || until <= now)
		return false;
	if ((e = find(s, addr)) != NULL && e->until >= until)
		return false;
	put(s, addr, until);
	return true;
}

static void
on_message(void *arg, const char *payload)
{
	struct suppress *s = arg;
	char addr[ADDR_MAX];
	const char *sp = strchr(payload, ' ');
	time_t now = time(NULL);

	if (sp == NULL || (size_t)(sp - payload) >= sizeof(addr))
		return;
	memcpy(addr, payload, (size_t)(sp - payload));
	addr[sp - payload] = '\0';
	if (take(s, addr, (time_t)strtoll(sp + 1, NULL, 10), now)) {
		prune(s, now);
		persist(s, now);
	}
}

/* Redis's map against ours: each side gets the later end of each address;
 * what ended is dropped from Redis. */
static void
merged(void *arg, bool ok, const struct state_pair *p, size_t n)
{
	struct suppress *s = arg, *remote;
	time_t now = time(NULL);
	bool changed = false;

	if (!ok)
		return;
	remote = xcalloc(1, sizeof(*remote));
	for (size_t i = 0; i < n; i++) {
		time_t until = (time_t)strtoll(p[i].value, NULL, 10);
		if (until <= now || !addr_ok(p[i].field)) {
			state_map_del(s->st, "suppressed", p[i].field, NULL, NULL);
			continue;
		}
		if (remote->n < SUPPRESS_MAX)
			put(remote, p[i].field, until);
		changed |= take(s, p[i].field, until, now);
	}
	for (size_t i = 0; i < NBUCKETS; i++)
		for (struct entry *e = s->b[i]; e; e = e->next) {
			struct entry *r = find(remote, e->addr);
			/* published too: a node that merged before ours came
			 * back (Redis restarted empty) learns it now */
			if (e->until > now && (r == NULL || r->until < e->until))
				share_one(s, e->addr, e->until);
		}
	suppress_free(remote);
	if (changed) {
		prune(s, now);
		persist(s, now);
	}
}

static void
on_up(void *arg, bool fresh)
{
	struct suppress *s = arg;

	state_map_all(s->st, "suppressed", merged, s);
}

void
suppress_share(struct suppress *s, struct state *st)
{
	if (!state_shared(st))
		return;
	s->st = st;
	state_on_up(st, on_up, s);
	state_subscribe(st, "suppressed", on_message, s);
	if (state_up(st))
		on_up(s, false);
}

bool
suppress_check(struct suppress *s, const char *addr, time_t now, time_t *until)
{
	struct entry *e = find(s, addr);

	if (e == NULL || e->until <= now)
		return false;
	*until = e->until;
	return true;
}
