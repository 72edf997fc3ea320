/*
 * Held accounts in <data_dir>/holds. Every change goes through
 * durable_edit_file (lock, rewrite, sync, rename), so the server and the
 * command line never lose each other's changes; the server notices the
 * command's by the file's identity (inode, size, mtime) changing.
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

struct holds {
	char *path;
	struct hold_entry *e;
	size_t n;
	struct stat seen;	/* the file as last read or written */
	bool have_seen;
	void (*released)(void *arg, const char *account);
	void *arg;
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
	entries_free(h->e, h->n);
	h->e = e;
	h->n = n;
	h->seen = st;
	h->have_seen = true;
	return 0;
}

int
holds_refresh(struct holds *h)
{
	return reload(h, true);
}

bool
holds_held(const struct holds *h, const char *account)
{
	return account != NULL && find(h->e, h->n, account) >= 0;
}

struct edit {
	const char *account;
	const char *reason;	/* NULL: release */
	time_t now;
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

static int
change(struct holds *h, const char *account, const char *reason, char **err)
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
	ed.now = time(NULL);
	ed.result = 0;
	if (durable_edit_file(h->path, 0640, edit_file, &ed, err) == -1)
		return -1;
	/* our own change: take it in without telling anyone it was a release */
	h->have_seen = false;
	reload(h, false);
	if (ed.result == 0) {
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
	reload(h, true);
	if (holds_held(h, account))
		return 1;	/* the common case of a second signal: no write */
	return change(h, account, reason && *reason ? reason : "held", err);
}

int
holds_release(struct holds *h, const char *account, char **err)
{
	return change(h, account, NULL, err);
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
