/*
 * Held accounts in <data_dir>/holds. Every change goes through
 * durable_edit_file (lock, rewrite, sync, rename), so the server and the
 * command line never lose each other's changes; the server notices the
 * command's by the file's identity (inode, size, mtime) changing.
 *
 * Shared (holds_share): the file is this node's copy of Redis's "holds"
 * and "released" maps, and Redis is the reference: a change is written
 * to Redis as one state per account (held: in "holds", out of
 * "released"; released: the reverse, with its time), so Redis holds the
 * last change any node made. Changes of ours (and the command's, seen in
 * the file) are pushed as they happen, or queued while Redis is away and
 * pushed first when it returns. A merge (after every refresh, message
 * and return of Redis) copies Redis's holds into the file, except for
 * accounts changed here after the merge asked (their push is on its
 * way); a hold of the file that Redis does not know is either released
 * elsewhere (a release at or after its start: the release wins a tie) or
 * one Redis never heard of (an outage, a restart, a Redis that lost its
 * data): then it is pushed.
 */
#include "hold.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"

#define HOLD_ACCOUNT_MAX 320	/* an address: 64 + @ + 255 */
#define HOLDS_MAX 100000	/* lines kept; a file beyond it is refused */
#define CHANGES_MAX 10000	/* changes of ours remembered for merges */

/* A change made on this node: pushed (or queued), and shielded from the
 * merges that asked Redis before it. */
struct change {
	struct change *next;
	unsigned long gen;		/* h->gen when it was made */
	bool pending;			/* not yet pushed (Redis was away) */
	bool hold;			/* else a release */
	time_t at;			/* hold: since; release: when */
	char reason[HOLD_REASON_MAX];
	char account[HOLD_ACCOUNT_MAX];
};

struct holds {
	char *path;
	struct hold_entry *e;
	size_t n;
	struct stat seen;	/* the file as last read or written */
	bool have_seen;
	void (*released)(void *arg, const char *account);
	void *arg;
	struct state *st;	/* shared state, or NULL */
	struct change *changes;	/* oldest first */
	size_t nchanges;
	unsigned long gen;	/* counts our changes */
	unsigned long merge_gen;	/* gen when the merge in flight asked */
	bool merging, merge_again;
	struct hold_entry *remote;	/* Redis's holds, during a merge */
	size_t nremote;
};

bool
holds_parse_line(const char *buf, size_t len, char *account, size_t acclen, time_t *since,
    char *reason, size_t reasonlen)
{
	size_t i = 0, a = 0, r = 0;
	uintmax_t t = 0;
	bool digits = false;

	if (acclen == 0 || reasonlen == 0)
		return false;
	while (i < len && buf[i] != ' ') {
		unsigned char c = (unsigned char)buf[i++];
		if (c <= ' ' || c >= 127 || a + 1 >= acclen)
			return false;
		account[a++] = (char)tolower(c);
	}
	account[a] = '\0';
	if (a == 0 || i >= len || buf[i++] != ' ')
		return false;
	while (i < len && isdigit((unsigned char)buf[i])) {
		if (t > (UINTMAX_MAX - 9) / 10)
			return false;
		t = t * 10 + (uintmax_t)(buf[i++] - '0');
		digits = true;
	}
	if (!digits || t > (uintmax_t)INT64_MAX)
		return false;
	*since = (time_t)t;
	if (i < len && buf[i] == ' ')
		i++;
	for (; i < len && r + 1 < reasonlen; i++) {
		unsigned char c = (unsigned char)buf[i];
		reason[r++] = c < ' ' || c == 127 ? ' ' : (char)c;
	}
	reason[r] = '\0';
	return true;
}

static void
entries_free(struct hold_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].account);
		free(e[i].reason);
	}
	free(e);
}

/* Parses a whole file; malformed lines are skipped (and counted). */
static size_t
parse_file(const char *text, struct hold_entry **out, unsigned *bad)
{
	struct hold_entry *e = NULL;
	size_t n = 0, cap = 0;
	const char *p = text;

	*bad = 0;
	while (*p && n < HOLDS_MAX) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char account[HOLD_ACCOUNT_MAX], reason[HOLD_REASON_MAX];
		time_t since;

		if (len > 0 && holds_parse_line(p, len, account, sizeof(account), &since, reason,
		    sizeof(reason))) {
			if (n == cap) {
				cap = cap ? cap * 2 : 8;
				e = xrealloc(e, cap * sizeof(*e));
			}
			e[n].account = xstrdup(account);
			e[n].since = since;
			e[n].reason = xstrdup(reason);
			n++;
		} else if (len > 0)
			(*bad)++;
		p = eol ? eol + 1 : p + len;
	}
	*out = e;
	return n;
}

static ssize_t
find(const struct hold_entry *e, size_t n, const char *account)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(e[i].account, account) == 0)
			return (ssize_t)i;
	return -1;
}

struct holds *
holds_open(const char *data_dir, void (*released)(void *arg, const char *account), void *arg)
{
	struct holds *h = xcalloc(1, sizeof(*h));

	h->path = xasprintf("%s/holds", data_dir);
	h->released = released;
	h->arg = arg;
	return h;
}

void
holds_free(struct holds *h)
{
	if (h == NULL)
		return;
	entries_free(h->remote, h->nremote);
	while (h->changes) {
		struct change *n = h->changes->next;
		free(h->changes);
		h->changes = n;
	}
	entries_free(h->e, h->n);
	free(h->path);
	free(h);
}

static bool
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* ---- sharing: pushes ---- */

static void
send_change(struct holds *h, const struct change *c)
{
	char v[HOLD_REASON_MAX + 32];

	if (c->hold) {
		snprintf(v, sizeof(v), "%lld %s", (long long)c->at, c->reason);
		state_map_put(h->st, "holds", c->account, v, 0, NULL, NULL);
		state_map_del(h->st, "released", c->account, NULL, NULL);
	} else {
		snprintf(v, sizeof(v), "%lld", (long long)c->at);
		state_map_del(h->st, "holds", c->account, NULL, NULL);
		state_map_put(h->st, "released", c->account, v, 0, NULL, NULL);
	}
	state_publish(h->st, "holds", c->account);
}

/* A change of ours: to Redis now, or when it returns. */
static void
push(struct holds *h, const char *account, bool hold, time_t at, const char *reason)
{
	struct change *c = xcalloc(1, sizeof(*c)), **end = &h->changes;

	c->gen = ++h->gen;
	c->hold = hold;
	c->at = at;
	snprintf(c->account, sizeof(c->account), "%s", account);
	snprintf(c->reason, sizeof(c->reason), "%s", reason ? reason : "");
	c->pending = !state_up(h->st);
	if (!c->pending)
		send_change(h, c);
	while (*end)
		end = &(*end)->next;
	*end = c;
	if (++h->nchanges > CHANGES_MAX) {
		/* the oldest pushed one is surely seen by now */
		struct change *old = h->changes;
		h->changes = old->next;
		free(old);
		h->nchanges--;
	}
}

static void
push_hold(struct holds *h, const struct hold_entry *e)
{
	push(h, e->account, true, e->since, e->reason);
}

static void
push_release(struct holds *h, const char *account, time_t at)
{
	push(h, account, false, at, NULL);
}

/* Redis is back: what was queued goes first, in order. */
static void
flush_pending(struct holds *h)
{
	for (struct change *c = h->changes; c; c = c->next)
		if (c->pending) {
			c->pending = false;
			send_change(h, c);
		}
}

/* Changed here after the merge in flight asked Redis (or still queued). */
static bool
changed_since_merge(const struct holds *h, const char *account)
{
	for (const struct change *c = h->changes; c; c = c->next)
		if ((c->gen > h->merge_gen || c->pending) && strcasecmp(c->account, account) == 0)
			return true;
	return false;
}

/* Changes every later merge will see: forgotten. */
static void
forget_seen(struct holds *h)
{
	while (h->changes && !h->changes->pending && h->changes->gen <= h->merge_gen) {
		struct change *n = h->changes->next;
		free(h->changes);
		h->changes = n;
		h->nchanges--;
	}
}

static int
reload(struct holds *h, bool notify)
{
	struct stat st;
	struct hold_entry *e;
	size_t n;
	unsigned bad;
	char *text;

	if (stat(h->path, &st) == -1) {
		if (errno != ENOENT) {
			log_event("error", "reason=\"cannot read %s: %s\"", h->path, strerror(errno));
			return -1;
		}
		memset(&st, 0, sizeof(st));
		text = xstrdup("");
	} else {
		if (h->have_seen && same_file(&st, &h->seen))
			return 0;
		if ((text = durable_slurp(h->path, &st)) == NULL) {
			log_event("error", "reason=\"cannot read %s: %s\"", h->path, strerror(errno));
			return -1;
		}
	}
	if (h->have_seen && st.st_ino == 0 && h->seen.st_ino == 0) {
		free(text);
		return 0;
	}
	n = parse_file(text, &e, &bad);
	free(text);
	if (bad > 0)
		log_event("warning", "reason=\"%s: %u malformed lines ignored\"", h->path, bad);
	if (notify && h->released != NULL)
		for (size_t i = 0; i < h->n; i++)
			if (find(e, n, h->e[i].account) < 0)
				h->released(h->arg, h->e[i].account);
	/* the command's changes (not the first read: that is a merge's) go
	 * to the other nodes */
	if (notify && h->st != NULL && h->have_seen) {
		for (size_t i = 0; i < h->n; i++)
			if (find(e, n, h->e[i].account) < 0)
				push_release(h, h->e[i].account, time(NULL));
		for (size_t i = 0; i < n; i++)
			if (find(h->e, h->n, e[i].account) < 0)
				push_hold(h, &e[i]);
	}
	entries_free(h->e, h->n);
	h->e = e;
	h->n = n;
	h->seen = st;
	h->have_seen = true;
	return 0;
}

static void merge_start(struct holds *h);

int
holds_refresh(struct holds *h)
{
	int rc = reload(h, true);

	if (h->st != NULL)
		merge_start(h);
	return rc;
}

bool
holds_held(const struct holds *h, const char *account)
{
	return account != NULL && find(h->e, h->n, account) >= 0;
}

struct edit {
	const char *account;
	const char *reason;	/* NULL: release */
	time_t now;		/* since, for a hold */
	int result;		/* 1: nothing to change */
};

/* durable_edit_file's callback: the file with account added or removed. */
static int
edit_file(char *old, FILE *out, void *arg, char **err)
{
	struct edit *ed = arg;
	struct hold_entry *e;
	unsigned bad;
	size_t n = parse_file(old, &e, &bad);
	ssize_t at = find(e, n, ed->account);

	ed->result = (ed->reason != NULL) == (at >= 0) ? 1 : 0;
	for (size_t i = 0; i < n; i++)
		if ((ssize_t)i != at || ed->reason != NULL)
			fprintf(out, "%s %lld %s\n", e[i].account, (long long)e[i].since, e[i].reason);
	if (ed->reason != NULL && at < 0)
		fprintf(out, "%s %lld %s\n", ed->account, (long long)ed->now, ed->reason);
	entries_free(e, n);
	return 0;
}

/*
 * Holds (reason) or releases (NULL) account in the file. since: when the
 * hold began (a merge keeps the other node's); quiet: the change came
 * from another node, which logged it.
 */
static int
change(struct holds *h, const char *account, const char *reason, time_t since, bool quiet,
    char **err)
{
	char lower[HOLD_ACCOUNT_MAX], clean[HOLD_REASON_MAX];
	struct edit ed;
	size_t i;

	for (i = 0; account[i] && i + 1 < sizeof(lower); i++) {
		unsigned char c = (unsigned char)account[i];
		if (c <= ' ' || c >= 127) {
			*err = xasprintf("bad account name \"%s\"", account);
			return -1;
		}
		lower[i] = (char)tolower(c);
	}
	lower[i] = '\0';
	if (i == 0 || account[i] != '\0') {
		*err = xasprintf("bad account name \"%s\"", account);
		return -1;
	}
	if (reason != NULL) {
		for (i = 0; reason[i] && i + 1 < sizeof(clean); i++)
			clean[i] = (unsigned char)reason[i] < ' ' ? ' ' : reason[i];
		clean[i] = '\0';
	}
	/* what others changed first, told as such; then only ours */
	reload(h, true);
	ed.account = lower;
	ed.reason = reason ? clean : NULL;
	ed.now = since;
	ed.result = 0;
	if (durable_edit_file(h->path, 0640, edit_file, &ed, err) == -1)
		return -1;
	/* our own change: take it in without telling anyone it was a release */
	h->have_seen = false;
	reload(h, false);
	if (ed.result == 0 && !quiet) {
		char q[LOG_VALUE_MAX];
		if (reason != NULL)
			log_event("hold", "user=%s reason=%s", lower,
			    log_quote(q, sizeof(q), clean, strlen(clean)));
		else
			log_event("release", "user=%s", lower);
	}
	return ed.result;
}

int
holds_set(struct holds *h, const char *account, const char *reason, char **err)
{
	int rc;

	reload(h, true);
	if (holds_held(h, account))
		return 1;	/* the common case of a second signal: no write */
	rc = change(h, account, reason && *reason ? reason : "held", time(NULL), false, err);
	if (rc == 0 && h->st != NULL) {
		ssize_t at = find(h->e, h->n, account);
		if (at >= 0)
			push_hold(h, &h->e[at]);
	}
	return rc;
}

int
holds_release(struct holds *h, const char *account, char **err)
{
	int rc = change(h, account, NULL, 0, false, err);

	if (rc == 0 && h->st != NULL) {
		char lower[HOLD_ACCOUNT_MAX];
		size_t i;
		for (i = 0; account[i] && i + 1 < sizeof(lower); i++)
			lower[i] = (char)tolower((unsigned char)account[i]);
		lower[i] = '\0';
		push_release(h, lower, time(NULL));
	}
	return rc;
}

size_t
holds_list(const struct holds *h, struct hold_entry **out)
{
	struct hold_entry *e = xcalloc(h->n ? h->n : 1, sizeof(*e));

	for (size_t i = 0; i < h->n; i++) {
		e[i].account = xstrdup(h->e[i].account);
		e[i].since = h->e[i].since;
		e[i].reason = xstrdup(h->e[i].reason);
	}
	*out = e;
	return h->n;
}

void
holds_list_free(struct hold_entry *list, size_t n)
{
	entries_free(list, n);
}

/* ---- sharing: the merge ---- */

/* "SINCE REASON" of Redis's holds map as an entry; false if malformed. */
static bool
remote_entry(const struct state_pair *p, struct hold_entry *out)
{
	char line[HOLD_ACCOUNT_MAX + HOLD_REASON_MAX + 32], account[HOLD_ACCOUNT_MAX];
	char reason[HOLD_REASON_MAX];
	int n = snprintf(line, sizeof(line), "%s %s", p->field, p->value);

	if (n < 0 || (size_t)n >= sizeof(line) || !holds_parse_line(line, (size_t)n, account,
	    sizeof(account), &out->since, reason, sizeof(reason)))
		return false;
	out->account = xstrdup(account);
	out->reason = xstrdup(reason[0] ? reason : "held");
	return true;
}

/*
 * Makes account agree with Redis: local, remote its hold in the file and
 * in Redis (NULL: none), released when Redis last saw it released (-1:
 * never).
 */
static void
settle(struct holds *h, const char *account, const struct hold_entry *local,
    const struct hold_entry *remote, time_t released)
{
	char *err = NULL;

	if (remote != NULL) {
		/* held on some node: here too */
		if (local == NULL && change(h, account, remote->reason, remote->since, true, &err) == -1) {
			log_event("error", "reason=\"cannot hold %s: %s\"", account, err);
			free(err);
		}
		return;
	}
	if (local == NULL)
		return;
	if (released >= local->since) {
		/* released elsewhere since it began: what we kept goes */
		if (change(h, account, NULL, 0, true, &err) == -1) {
			log_event("error", "reason=\"cannot release %s: %s\"", account, err);
			free(err);
		} else if (h->released != NULL)
			h->released(h->arg, account);
		return;
	}
	/* a hold Redis never heard of (outage, restart, Redis lost it) */
	push_hold(h, local);
}

static void
got_released(void *arg, bool ok, const struct state_pair *p, size_t n)
{
	struct holds *h = arg;
	struct hold_entry *local;
	size_t nlocal;

	if (ok) {
		/* a snapshot of the file: settle() rewrites it */
		nlocal = holds_list(h, &local);
		for (size_t i = 0; i < nlocal + h->nremote; i++) {
			const struct hold_entry *l, *r;
			const char *account;
			time_t released = -1;
			ssize_t k;
			if (i < nlocal) {
				account = local[i].account;
				l = &local[i];
				k = find(h->remote, h->nremote, account);
				r = k >= 0 ? &h->remote[k] : NULL;
			} else {
				account = h->remote[i - nlocal].account;
				if (find(local, nlocal, account) >= 0)
					continue;	/* settled with the local ones */
				l = NULL;
				r = &h->remote[i - nlocal];
			}
			if (changed_since_merge(h, account))
				continue;	/* our push is on its way */
			for (size_t j = 0; j < n; j++)
				if (strcasecmp(p[j].field, account) == 0)
					released = (time_t)strtoll(p[j].value, NULL, 10);
			settle(h, account, l, r, released);
		}
		holds_list_free(local, nlocal);
		forget_seen(h);
	}
	entries_free(h->remote, h->nremote);
	h->remote = NULL;
	h->nremote = 0;
	h->merging = false;
	if (h->merge_again) {
		h->merge_again = false;
		merge_start(h);
	}
}

static void
got_holds(void *arg, bool ok, const struct state_pair *p, size_t n)
{
	struct holds *h = arg;

	if (!ok) {
		h->merging = false;
		return;
	}
	h->remote = xcalloc(n ? n : 1, sizeof(*h->remote));
	h->nremote = 0;
	for (size_t i = 0; i < n && i < HOLDS_MAX; i++)
		if (remote_entry(&p[i], &h->remote[h->nremote]))
			h->nremote++;
	state_map_all(h->st, "released", got_released, h);
}

static void
merge_start(struct holds *h)
{
	if (!state_up(h->st))
		return;
	if (h->merging) {
		h->merge_again = true;
		return;
	}
	h->merging = true;
	h->merge_gen = h->gen;
	state_map_all(h->st, "holds", got_holds, h);
}

static void
on_up(void *arg, bool fresh)
{
	struct holds *h = arg;

	/* a merge in flight when Redis went away was answered "not shared" */
	flush_pending(h);
	merge_start(h);
}

static void
on_message(void *arg, const char *payload)
{
	merge_start(arg);
}

void
holds_share(struct holds *h, struct state *st)
{
	if (!state_shared(st))
		return;
	h->st = st;
	state_on_up(st, on_up, h);
	state_subscribe(st, "holds", on_message, h);
	merge_start(h);
}
