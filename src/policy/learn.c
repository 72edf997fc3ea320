/*
 * Learned sender opinions. The server keeps them as a sorted array of
 * "ACCOUNT SENDER" keys searched with bsearch; the file is small (one
 * line per sender a user ever moved) and rewritten whole by each
 * `postern learn`, so a reload is a full parse. A reload also compares
 * the new array with the old one (both sorted) and tells a listener what
 * differs: the sharing (learn_share.c) pushes it. Pure of the loop and of
 * the shared state, for the fuzz target.
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
	time_t t;		/* when it was learned */
};

struct learned {
	char *path;
	struct entry *e;
	size_t n;
	bool seen;		/* the file was stat()ed once */
	bool based;		/* a refresh ran: later ones tell changes */
	struct stat st;		/* as it was at the last load */
	learned_change_fn *changed;	/* told what a reload changed */
	void *changed_arg;
	void *ext;			/* the listener's, freed with l */
	void (*ext_free)(void *ext);
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

/* The UNIXTIME of a line parse_line() accepted (its last field). */
static time_t
line_time(const char *line, size_t len)
{
	const char *p = line + len;
	long long t = 0;

	while (p > line && p[-1] == ' ')
		p--;
	while (p > line && p[-1] != ' ')
		p--;
	for (; p < line + len && *p >= '0' && *p <= '9'; p++) {
		if (t > 100000000000LL)
			return 0;
		t = t * 10 + (*p - '0');
	}
	return (time_t)t;
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
			l->e[l->n].t = line_time(p, ll);
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
	if (l->ext_free != NULL)
		l->ext_free(l->ext);
	clear(l);
	free(l->path);
	free(l);
}

/* Both sorted by key: what is new or different in l->e is told. */
static void
tell_changes(struct learned *l, const struct entry *old, size_t oldn)
{
	size_t j = 0;

	for (size_t i = 0; i < l->n; i++) {
		int c = 1;
		while (j < oldn && (c = strcmp(old[j].key, l->e[i].key)) < 0)
			j++;
		if (j < oldn && c == 0 && old[j].o == l->e[i].o && old[j].t == l->e[i].t)
			continue;
		l->changed(l->changed_arg, l->e[i].key, l->e[i].o, l->e[i].t);
	}
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
		l->based = true;	/* an empty set is a base too */
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
	{
		/* the set before, to push what the command changed */
		struct entry *old = l->e;
		size_t oldn = l->n;
		bool was_based = l->based;
		l->e = NULL;
		l->n = 0;
		learned_parse(l, buf, (size_t)st.st_size);
		if (l->changed != NULL && was_based)
			tell_changes(l, old, oldn);
		for (size_t i = 0; i < oldn; i++)
			free(old[i].key);
		free(old);
	}
	free(buf);
	l->st = st;
	l->seen = true;
	l->based = true;
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

/* One opinion to write. */
struct rec {
	char key[2 * ADDR_MAX + 2];	/* "account sender" */
	enum learn_opinion o;
	time_t t;
};

static int
cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct rec *)a)->key, ((const struct rec *)b)->key);
}

struct record_edit {
	struct rec *recs;	/* sorted by key */
	size_t n;
};

/* Is this line one of the keys being written? */
static bool
rewritten(const struct record_edit *e, const char *line, size_t ll)
{
	const char *acc, *snd;
	size_t al, sl;
	enum learn_opinion o;
	struct rec k;

	if (!parse_line(line, ll, &acc, &al, &snd, &sl, &o) || al + sl + 2 > sizeof(k.key))
		return false;
	snprintf(k.key, sizeof(k.key), "%.*s %.*s", (int)al, acc, (int)sl, snd);
	return bsearch(&k, e->recs, e->n, sizeof(*e->recs), cmp_rec) != NULL;
}

/* The lines of old without those of the keys written, the oldest
 * dropped beyond LEARN_MAX - n, then the new lines. */
static int
record_editor(char *old, FILE *out, void *arg, char **err)
{
	struct record_edit *e = arg;
	size_t keep = 0, skip;
	char *p;

	for (int pass = 0; pass < 2; pass++) {
		size_t n = 0;
		skip = keep + e->n > LEARN_MAX ? keep + e->n - LEARN_MAX : 0;
		for (p = old; *p;) {
			char *nl = strchr(p, '\n');
			size_t ll = nl ? (size_t)(nl - p) : strlen(p);

			if (ll > 0 && !rewritten(e, p, ll)) {
				if (pass == 0)
					keep++;
				else if (n++ >= skip)
					fprintf(out, "%.*s\n", (int)ll, p);
			}
			p += ll + (nl ? 1 : 0);
		}
	}
	for (size_t i = 0; i < e->n && i < LEARN_MAX; i++)
		fprintf(out, "%s %s %lld\n", e->recs[i].key, e->recs[i].o == LEARN_SPAM ? "spam" : "ham",
		    (long long)e->recs[i].t);
	(void)err;
	return 0;
}

/* Writes recs (sorted here) into the file at path, under its lock. */
static int
record_many(const char *path, struct rec *recs, size_t n, char **err)
{
	struct record_edit e = { recs, n };

	if (n > 1)
		qsort(recs, n, sizeof(*recs), cmp_rec);
	return durable_edit_file(path, 0640, record_editor, &e, err);
}

int
learned_record(const char *data_dir, const char *account, const char *sender,
    enum learn_opinion o, time_t now, char **err)
{
	struct rec r;
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
	snprintf(r.key, sizeof(r.key), "%s %s", account, sender);
	r.o = o;
	r.t = now;
	path = xasprintf("%s/learned", data_dir);
	rc = record_many(path, &r, 1, err);
	free(path);
	return rc;
}

/* ---- for the sharing (learn_share.c) ---- */

void
learned_listen(struct learned *l, learned_change_fn *fn, void *arg, void *ext,
    void (*ext_free)(void *ext))
{
	l->changed = fn;
	l->changed_arg = arg;
	l->ext = ext;
	l->ext_free = ext_free;
}

void
learned_entry(const struct learned *l, size_t i, const char **key, enum learn_opinion *o,
    time_t *t)
{
	*key = l->e[i].key;
	*o = l->e[i].o;
	*t = l->e[i].t;
}

bool
learned_find(const struct learned *l, const char *key, enum learn_opinion *o, time_t *t)
{
	struct entry k, *hit;

	if (l->n == 0)
		return false;
	k.key = (char *)key;
	k.line = 0;
	if ((hit = bsearch(&k, l->e, l->n, sizeof(*l->e), cmp_key)) == NULL)
		return false;
	*o = hit->o;
	*t = hit->t;
	return true;
}

bool
learned_parse_line(const char *line, size_t len, char *key, size_t keylen,
    enum learn_opinion *o, time_t *t)
{
	const char *acc, *snd;
	size_t al, sl;

	if (!parse_line(line, len, &acc, &al, &snd, &sl, o) || al + sl + 2 > keylen)
		return false;
	snprintf(key, keylen, "%.*s %.*s", (int)al, acc, (int)sl, snd);
	*t = line_time(line, len);
	return true;
}

int
learned_record_many(struct learned *l, const struct learned_rec *recs, size_t n, char **err)
{
	struct rec *r = xcalloc(n ? n : 1, sizeof(*r));
	size_t k = 0;
	int rc;

	for (size_t i = 0; i < n; i++) {
		const char *sp = strchr(recs[i].key, ' ');
		if (sp == NULL || (recs[i].o != LEARN_SPAM && recs[i].o != LEARN_HAM) ||
		    !addr_ok(recs[i].key, (size_t)(sp - recs[i].key)) || !addr_ok(sp + 1, strlen(sp + 1)) ||
		    strlen(recs[i].key) >= sizeof(r[k].key))
			continue;
		snprintf(r[k].key, sizeof(r[k].key), "%s", recs[i].key);
		r[k].o = recs[i].o;
		r[k++].t = recs[i].t;
	}
	rc = k ? record_many(l->path, r, k, err) : 0;
	free(r);
	return rc;
}
