/*
 * Learned sender opinions. The server keeps them as a sorted array of
 * "ACCOUNT SENDER" keys searched with bsearch; the file is small (one
 * line per sender a user ever moved) and rewritten whole by each
 * `postern learn`, so a reload is a full parse.
 */
#include "learn.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"

#define ADDR_MAX 320

struct entry {
	char *key;		/* "account sender" */
	enum learn_opinion o;
	size_t line;		/* later lines win */
};

struct learned {
	char *path;
	struct entry *e;
	size_t n;
	bool seen;		/* the file was stat()ed once */
	struct stat st;		/* as it was at the last load */
};

static void
clear(struct learned *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].key);
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

/* An address as learn stores it: local@domain, no space or control
 * character, already lower-case. */
static bool
addr_ok(const char *p, size_t len)
{
	const char *at = memchr(p, '@', len);

	if (len == 0 || len >= ADDR_MAX || at == NULL || at == p || at == p + len - 1)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f || isupper((unsigned char)p[i]))
			return false;
	return true;
}

/* The next space-separated field of [*p, end); false when none. */
static bool
field(const char **p, const char *end, const char **f, size_t *flen)
{
	while (*p < end && **p == ' ')
		(*p)++;
	*f = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	*flen = (size_t)(*p - *f);
	return *flen > 0;
}

/* Parses one line into account, sender and opinion; false if malformed. */
static bool
parse_line(const char *line, size_t len, const char **acc, size_t *alen, const char **snd,
    size_t *slen, enum learn_opinion *o)
{
	const char *p = line, *end = line + len, *v, *t;
	size_t vlen, tlen;

	if (!field(&p, end, acc, alen) || !field(&p, end, snd, slen) ||
	    !field(&p, end, &v, &vlen) || !field(&p, end, &t, &tlen))
		return false;
	while (p < end && *p == ' ')
		p++;
	if (p != end || !addr_ok(*acc, *alen) || !addr_ok(*snd, *slen))
		return false;
	for (size_t i = 0; i < tlen; i++)
		if (!isdigit((unsigned char)t[i]))
			return false;
	if (vlen == 4 && memcmp(v, "spam", 4) == 0)
		*o = LEARN_SPAM;
	else if (vlen == 3 && memcmp(v, "ham", 3) == 0)
		*o = LEARN_HAM;
	else
		return false;
	return true;
}

static int
cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

size_t
learned_parse(struct learned *l, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	size_t bad = 0, cap = 0, line = 0, out = 0;

	clear(l);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *acc, *snd;
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p), alen, slen;
		enum learn_opinion o;

		line++;
		if (ll > 0 && !parse_line(p, ll, &acc, &alen, &snd, &slen, &o))
			bad++;
		else if (ll > 0) {
			if (l->n == cap) {
				cap = cap ? cap * 2 : 64;
				l->e = xrealloc(l->e, cap * sizeof(*l->e));
			}
			l->e[l->n].key = xasprintf("%.*s %.*s", (int)alen, acc, (int)slen, snd);
			l->e[l->n].o = o;
			l->e[l->n].line = line;
			l->n++;
		}
		p += ll + (nl ? 1 : 0);
	}
	if (l->n > 1)
		qsort(l->e, l->n, sizeof(*l->e), cmp_entry);
	/* one entry per key: the last line that set it */
	for (size_t i = 0; i < l->n; i++) {
		if (i + 1 < l->n && strcmp(l->e[i].key, l->e[i + 1].key) == 0) {
			free(l->e[i].key);
			continue;
		}
		l->e[out++] = l->e[i];
	}
	l->n = out;
	return bad;
}

struct learned *
learned_new(const char *data_dir)
{
	struct learned *l = xcalloc(1, sizeof(*l));

	l->path = xasprintf("%s/learned", data_dir);
	return l;
}

void
learned_free(struct learned *l)
{
	if (l == NULL)
		return;
	clear(l);
	free(l->path);
	free(l);
}

int
learned_refresh(struct learned *l, char **err)
{
	struct stat st;
	char *buf;

	if (stat(l->path, &st) == -1) {
		if (errno != ENOENT) {
			*err = xasprintf("cannot read %s: %s", l->path, strerror(errno));
			return -1;
		}
		clear(l);	/* removed: nothing learned any more */
		l->seen = false;
		return 0;
	}
	/* rewritten by rename: a new inode, or at least a new time or size */
	if (l->seen && st.st_ino == l->st.st_ino && st.st_dev == l->st.st_dev &&
	    st.st_size == l->st.st_size && st.st_mtim.tv_sec == l->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == l->st.st_mtim.tv_nsec)
		return 0;
	if ((buf = durable_slurp(l->path, &st)) == NULL) {
		*err = xasprintf("cannot read %s: %s", l->path, strerror(errno));
		return -1;
	}
	learned_parse(l, buf, (size_t)st.st_size);
	free(buf);
	l->st = st;
	l->seen = true;
	return 0;
}

enum learn_opinion
learned_get(const struct learned *l, const char *account, const char *sender)
{
	char key[2 * ADDR_MAX + 2];
	struct entry k, *hit;

	if (l == NULL || l->n == 0)
		return LEARN_NONE;
	if ((size_t)snprintf(key, sizeof(key), "%s %s", account, sender) >= sizeof(key))
		return LEARN_NONE;
	k.key = key;
	k.line = 0;
	hit = bsearch(&k, l->e, l->n, sizeof(*l->e), cmp_key);
	return hit ? hit->o : LEARN_NONE;
}

size_t
learned_count(const struct learned *l)
{
	return l ? l->n : 0;
}

/* ---- writing ---- */

struct record_edit {
	const char *account, *sender;
	enum learn_opinion o;
	time_t now;
};

/* The lines of old without account's line for sender, the oldest
 * dropped beyond LEARN_MAX - 1, then the new line. */
static int
record_editor(char *old, FILE *out, void *arg, char **err)
{
	struct record_edit *e = arg;
	size_t alen = strlen(e->account), slen = strlen(e->sender), keep = 0, skip;
	char *p;

	for (int pass = 0; pass < 2; pass++) {
		size_t n = 0;
		skip = keep >= LEARN_MAX ? keep - (LEARN_MAX - 1) : 0;
		for (p = old; *p;) {
			char *nl = strchr(p, '\n');
			size_t ll = nl ? (size_t)(nl - p) : strlen(p);
			const char *acc, *snd;
			size_t al, sl;
			enum learn_opinion o;
			bool same = parse_line(p, ll, &acc, &al, &snd, &sl, &o) && al == alen &&
			    sl == slen && memcmp(acc, e->account, alen) == 0 &&
			    memcmp(snd, e->sender, slen) == 0;

			if (ll > 0 && !same) {
				if (pass == 0)
					keep++;
				else if (n++ >= skip)
					fprintf(out, "%.*s\n", (int)ll, p);
			}
			p += ll + (nl ? 1 : 0);
		}
	}
	fprintf(out, "%s %s %s %lld\n", e->account, e->sender, e->o == LEARN_SPAM ? "spam" : "ham",
	    (long long)e->now);
	(void)err;
	return 0;
}

int
learned_record(const char *data_dir, const char *account, const char *sender,
    enum learn_opinion o, time_t now, char **err)
{
	struct record_edit e = { account, sender, o, now };
	char *path;
	int rc;

	if (!addr_ok(account, strlen(account)) || !addr_ok(sender, strlen(sender))) {
		*err = xasprintf("not a lower-case address: %s", addr_ok(account, strlen(account)) ?
		    sender : account);
		return -1;
	}
	if (o != LEARN_SPAM && o != LEARN_HAM) {
		*err = xstrdup("an opinion is spam or ham");
		return -1;
	}
	path = xasprintf("%s/learned", data_dir);
	rc = durable_edit_file(path, 0640, record_editor, &e, err);
	free(path);
	return rc;
}
