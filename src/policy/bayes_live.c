/*
 * Keeping the server's classifier table fresh without blocking the loop:
 * one loader thread at a time reads the whole store (policy/bayes_store.h
 * load) into a new table; the loop swaps it in at its next scan. The
 * thread touches nothing but its own table, the store, the fields marked
 * "loader's" (one thread at a time, joined before the next starts) and
 * those under the mutex; logging happens on the loop. A local store's
 * change shows in a stat() of its files, done on the loop; Redis's in its
 * change counter, which only a thread asks (once a second).
 */
#include "bayes_live.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/bayes_store.h"

/* Seconds between two looks at the store's files or change counter. */
#define CHECK_INTERVAL 1
#define SERIAL_UNKNOWN UINT64_MAX

/* What a loader thread found. */
enum outcome {
	OUT_TABLE,		/* a new table */
	OUT_SAME,		/* unchanged since the last table: keep it */
	OUT_EMPTY,		/* nothing learned yet: no table */
	OUT_FAILED,		/* refused or unreachable: no table, err says why */
};

struct stamp {
	struct timespec mtime;
	off_t size;
	ino_t ino;
	bool exists;
};

struct bayes_live {
	const struct bayes_backend *b;
	char *where;			/* the store's file, or its redis:// URL */
	char *secret;			/* Redis's password, or NULL */
	char *wal;			/* a local store's write-ahead log */
	struct bayes_table *table;	/* the loop's, NULL when none */
	struct stamp seen[2];		/* db and wal at the last load started */
	time_t checked;			/* last stat() */
	bool failed;			/* the last load failed (alert raised) */
	/* loader */
	pthread_mutex_t mu;
	pthread_t thread;
	bool running;			/* a thread to join */
	bool done;			/* under mu: its result is below */
	enum outcome outcome;		/* under mu */
	struct bayes_table *loaded;	/* under mu */
	char *err;			/* under mu */
	/* loader's, with a change counter (Redis) */
	struct bayes_store *conn;	/* kept open between looks */
	uint64_t serial;		/* of the loop's table, SERIAL_UNKNOWN */
};

struct bayes_live *
bayes_live_new(const struct config *cfg)
{
	struct bayes_live *l = xcalloc(1, sizeof(*l));

	l->b = bayes_store_backend(cfg, &l->where, &l->secret);
	l->wal = xasprintf("%s-wal", l->where);
	l->serial = SERIAL_UNKNOWN;
	pthread_mutex_init(&l->mu, NULL);
	return l;
}

static void
join(struct bayes_live *l)
{
	if (l->running) {
		pthread_join(l->thread, NULL);
		l->running = false;
	}
}

void
bayes_live_free(struct bayes_live *l)
{
	if (l == NULL)
		return;
	join(l);
	bayes_table_free(l->loaded);
	bayes_table_free(l->table);
	free(l->err);
	bayes_store_close(l->conn);
	free(l->where);
	free(l->secret);
	free(l->wal);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* Hands the result to the loop (err: why OUT_FAILED, taken). */
static void
publish(struct bayes_live *l, enum outcome o, struct bayes_table *t, char *err)
{
	if (o == OUT_FAILED && err == NULL)
		err = xstrdup("cannot load");
	if (o != OUT_FAILED) {
		free(err);
		err = NULL;
	}
	pthread_mutex_lock(&l->mu);
	l->outcome = o;
	l->loaded = t;
	l->err = err;
	l->done = true;
	pthread_mutex_unlock(&l->mu);
}

/* A local store: loaded whenever its files changed. */
static void *
loader(void *arg)
{
	struct bayes_live *l = arg;
	char *err = NULL;
	struct bayes_store *st = bayes_store_open_at(l->b, l->where, l->secret, false, &err);
	struct bayes_table *t = st ? bayes_store_load(st, &err) : NULL;

	bayes_store_close(st);
	publish(l, t ? OUT_TABLE : OUT_FAILED, t, err);
	return NULL;
}

/* A store with a change counter (Redis): asked each look, loaded when it
 * moved. A failure drops the connection and what it knew, so the next
 * look connects again and loads whatever is there. */
static void *
poller(void *arg)
{
	struct bayes_live *l = arg;
	struct bayes_table *t = NULL;
	enum outcome o = OUT_FAILED;
	char *err = NULL;
	uint64_t s;

	if (l->conn == NULL)
		l->conn = bayes_store_open_at(l->b, l->where, l->secret, false, &err);
	if (l->conn != NULL && bayes_store_serial(l->conn, &s, &err) == 0) {
		if (s == l->serial)
			o = OUT_SAME;
		else if (s == 0)
			o = OUT_EMPTY;
		else if ((t = bayes_store_load(l->conn, &err)) != NULL)
			o = OUT_TABLE;
		if (o != OUT_FAILED)
			l->serial = s;
	}
	if (o == OUT_FAILED) {
		bayes_store_close(l->conn);
		l->conn = NULL;
		l->serial = SERIAL_UNKNOWN;
	}
	publish(l, o, t, err);
	return NULL;
}

static void
stamp_of(const char *path, struct stamp *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) == 0) {
		s->exists = true;
		s->mtime = st.st_mtim;
		s->size = st.st_size;
		s->ino = st.st_ino;
	}
}

static bool
stamp_eq(const struct stamp *a, const struct stamp *b)
{
	return a->exists == b->exists && a->size == b->size && a->ino == b->ino &&
	    a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Takes a finished load's result: the new table, or the refusal. */
static void
take(struct bayes_live *l)
{
	struct bayes_table *t;
	enum outcome o;
	char *err;
	bool done;

	pthread_mutex_lock(&l->mu);
	done = l->done;
	o = l->outcome;
	t = l->loaded;
	err = l->err;
	if (done) {
		l->done = false;
		l->loaded = NULL;
		l->err = NULL;
	}
	pthread_mutex_unlock(&l->mu);
	if (!done)
		return;
	join(l);
	if (o == OUT_SAME)
		return;
	if (o == OUT_EMPTY) {
		bayes_table_free(l->table);
		l->table = NULL;
		l->failed = false;
		return;
	}
	if (o == OUT_TABLE) {
		uint32_t ns, nh;
		bayes_table_learned(t, &ns, &nh);
		/* at most once a second, and only after a change (a Junk
		 * move): what the votes now rest on */
		log_event("bayes", "status=loaded tokens=%zu spam=%u ham=%u", bayes_table_count(t),
		    ns, nh);
		l->failed = false;
		bayes_table_free(l->table);
		l->table = t;
		return;
	}
	/* refused (or Redis unreachable): no vote at all rather than one
	 * from a damaged store, said once per failure, with what to do */
	bayes_table_free(l->table);
	l->table = NULL;
	if (!l->failed) {
		char q[LOG_VALUE_MAX];
		log_quote(q, sizeof(q), err, strlen(err));
		log_event("error", "reason=%s", q);
		log_event("alert", "kind=bayes reason=%s", q);
	}
	l->failed = true;
	free(err);
}

const struct bayes_table *
bayes_live_table(struct bayes_live *l)
{
	time_t now = time(NULL);
	struct stamp s[2];

	if (l->running)
		take(l);
	if (l->running || now - l->checked < CHECK_INTERVAL)
		return l->table;
	l->checked = now;
	if (l->b->serial != NULL) {
		if (pthread_create(&l->thread, NULL, poller, l) == 0)
			l->running = true;
		return l->table;
	}
	stamp_of(l->where, &s[0]);
	stamp_of(l->wal, &s[1]);
	if (stamp_eq(&s[0], &l->seen[0]) && stamp_eq(&s[1], &l->seen[1]) &&
	    (l->table != NULL || l->failed || !s[0].exists))
		return l->table;
	l->seen[0] = s[0];
	l->seen[1] = s[1];
	if (!s[0].exists) {
		/* nothing learned yet (or the store was removed) */
		bayes_table_free(l->table);
		l->table = NULL;
		l->failed = false;
		return NULL;
	}
	if (pthread_create(&l->thread, NULL, loader, l) == 0)
		l->running = true;
	else
		l->seen[0].exists = false;	/* try again at the next look */
	return l->table;
}

void
bayes_live_settle(struct bayes_live *l, unsigned ms)
{
	for (unsigned waited = 0; l->running && waited < ms; waited += 10) {
		bool done;
		pthread_mutex_lock(&l->mu);
		done = l->done;
		pthread_mutex_unlock(&l->mu);
		if (done)
			break;
		usleep(10000);
	}
	if (l->running)
		take(l);
}
