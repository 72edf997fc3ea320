/*
 * Counters. Mapping from events (the line that decides is the line that
 * logs, and so the line that counts):
 *   disconnect (not the self-test)   connections
 *   accepted                          accepted; sent{user} when authenticated
 *   reject                            rejected{reason,stage}
 *   delivered / deferred / bounced    same names, {relay=local|remote};
 *                                     delivered_by / bounced_by {user}
 *   ratelimit                         ratelimited{user}
 *   dnsbl_error                       dnsbl_error{zone}
 *   dnsbl_health                      dnsbl_health{zone,status}
 *   alert                             alert{kind}
 * Table: counters(hour, name, label, value), one row per hour and key.
 *
 * Shared: after each write the writer thread reads back the new values of
 * what it wrote (and, after a return of Redis, every row since the last
 * confirmed push) into `topush`, one entry per key; a one-second loop
 * timer sends them while Redis is up. Disk on the writer, Redis on the
 * loop: neither waits for the other.
 */
#include "stats.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "state/state_sync.h"

#define PUSH_BUCKETS 1024
#define PUSH_SECONDS 1		/* between pushes to Redis */
#define STATS_TTL (400 * 86400)	/* an hour's values kept in Redis */

/* A value to publish: the key's absolute value for that hour. */
struct pushv {
	struct pushv *next;
	time_t hour;
	char name[32];
	char label[160];
	uint64_t value;
};

struct delta {
	struct delta *next;
	struct delta *same;		/* collect(): the next of its hash bucket */
	time_t hour;
	char name[32];
	char label[160];
	uint64_t n;
};

struct stats {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct delta *pending;
	bool stop;
	struct stats_counter *totals;
	size_t ntotals, captotals;
	/* sharing (NULL state: local) */
	struct state *state;
	struct event *push_ev;
	struct pushv *topush[PUSH_BUCKETS];	/* under lock */
	time_t resync_since;		/* under lock: rows from this hour again, -1 none */
	time_t last_ok;			/* loop: the last push Redis confirmed */
	unsigned long passes;		/* under lock: the writer's passes */
	pthread_cond_t passed;		/* signalled after each */
};

static int
open_db(const char *data_dir, int flags, sqlite3 **db, char **err)
{
	char *path = xasprintf("%s/stats.db", data_dir);
	int rc = sqlite3_open_v2(path, db, flags, NULL);

	free(path);
	if (rc != SQLITE_OK) {
		*err = xasprintf("cannot open statistics: %s", *db ? sqlite3_errmsg(*db) : "out of memory");
		sqlite3_close(*db);
		*db = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

static void
total_add(struct stats *st, const char *name, const char *label, uint64_t n)
{
	for (size_t i = 0; i < st->ntotals; i++)
		if (strcmp(st->totals[i].name, name) == 0 && strcmp(st->totals[i].label, label) == 0) {
			st->totals[i].value += n;
			return;
		}
	if (st->ntotals == st->captotals) {
		st->captotals = st->captotals ? st->captotals * 2 : 64;
		st->totals = xrealloc(st->totals, st->captotals * sizeof(*st->totals));
	}
	memset(&st->totals[st->ntotals], 0, sizeof(st->totals[0]));
	snprintf(st->totals[st->ntotals].name, sizeof(st->totals[0].name), "%s", name);
	snprintf(st->totals[st->ntotals].label, sizeof(st->totals[0].label), "%s", label);
	st->totals[st->ntotals].value = n;
	st->ntotals++;
}

static unsigned
push_hash(time_t hour, const char *name, const char *label)
{
	unsigned h = 2166136261u ^ (unsigned)hour;	/* FNV-1a */

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = label; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % PUSH_BUCKETS;
}

/* Under st->lock: the key's latest value replaces what waits. */
static void
topush_put(struct stats *st, time_t hour, const char *name, const char *label, uint64_t value)
{
	unsigned h = push_hash(hour, name, label);
	struct pushv *p;

	for (p = st->topush[h]; p; p = p->next)
		if (p->hour == hour && strcmp(p->name, name) == 0 && strcmp(p->label, label) == 0) {
			p->value = value;
			return;
		}
	p = xcalloc(1, sizeof(*p));
	p->hour = hour;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->value = value;
	p->next = st->topush[h];
	st->topush[h] = p;
}

/* Writer thread: the new values of what was written, and a resync when
 * one was asked for. */
static void
collect(struct stats *st, struct delta *list)
{
	sqlite3_stmt *q = NULL;
	time_t since;

	pthread_mutex_lock(&st->lock);
	since = st->resync_since;
	st->resync_since = -1;
	pthread_mutex_unlock(&st->lock);
	if (since >= 0 && sqlite3_prepare_v2(st->db, "SELECT hour, name, label, value FROM counters "
	    "WHERE hour >= ?", -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)since);
		pthread_mutex_lock(&st->lock);
		while (sqlite3_step(q) == SQLITE_ROW)
			topush_put(st, (time_t)sqlite3_column_int64(q, 0),
			    (const char *)sqlite3_column_text(q, 1), (const char *)sqlite3_column_text(q, 2),
			    (uint64_t)sqlite3_column_int64(q, 3));
		pthread_mutex_unlock(&st->lock);
		sqlite3_finalize(q);
		q = NULL;
	}
	if (list == NULL || sqlite3_prepare_v2(st->db, "SELECT value FROM counters WHERE hour = ? "
	    "AND name = ? AND label = ?", -1, &q, NULL) != SQLITE_OK)
		return;
	/* one read per key, however many events it counted this second */
	{
		struct delta *seen[PUSH_BUCKETS] = { NULL }, **uniq = NULL;
		size_t nuniq = 0, cap = 0;
		for (struct delta *d = list; d; d = d->next) {
			unsigned h = push_hash(d->hour, d->name, d->label);
			struct delta *e;
			for (e = seen[h]; e; e = e->same)
				if (e->hour == d->hour && strcmp(e->name, d->name) == 0 &&
				    strcmp(e->label, d->label) == 0)
					break;
			if (e != NULL)
				continue;
			d->same = seen[h];
			seen[h] = d;
			if (nuniq == cap) {
				cap = cap ? cap * 2 : 32;
				uniq = xrealloc(uniq, cap * sizeof(*uniq));
			}
			uniq[nuniq++] = d;
		}
		for (size_t i = 0; i < nuniq; i++) {
			struct delta *d = uniq[i];
			sqlite3_bind_int64(q, 1, (sqlite3_int64)d->hour);
			sqlite3_bind_text(q, 2, d->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 3, d->label, -1, SQLITE_STATIC);
			if (sqlite3_step(q) == SQLITE_ROW) {
				pthread_mutex_lock(&st->lock);
				topush_put(st, d->hour, d->name, d->label, (uint64_t)sqlite3_column_int64(q, 0));
				pthread_mutex_unlock(&st->lock);
			}
			sqlite3_reset(q);
		}
		free(uniq);
	}
	sqlite3_finalize(q);
}

static void
flush(struct stats *st, struct delta *list)
{
	sqlite3_stmt *ins = NULL;
	bool sharing;

	pthread_mutex_lock(&st->lock);
	sharing = st->state != NULL;
	pthread_mutex_unlock(&st->lock);
	if (list == NULL) {
		if (sharing)
			collect(st, NULL);	/* a resync may wait */
		return;
	}
	sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
	sqlite3_prepare_v2(st->db,
	    "INSERT INTO counters(hour, name, label, value) VALUES(?, ?, ?, ?) "
	    "ON CONFLICT(hour, name, label) DO UPDATE SET value = value + excluded.value",
	    -1, &ins, NULL);
	for (struct delta *d = list; d; d = d->next) {
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)d->hour);
		sqlite3_bind_text(ins, 2, d->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, d->label, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 4, (sqlite3_int64)d->n);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		fprintf(stderr, "postern: statistics not written: %s\n", sqlite3_errmsg(st->db));
	if (sharing)
		collect(st, list);
	while (list) {
		struct delta *next = list->next;
		free(list);
		list = next;
	}
}

static void *
writer(void *arg)
{
	struct stats *st = arg;

	pthread_mutex_lock(&st->lock);
	for (;;) {
		struct delta *list;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!st->stop)
			pthread_cond_timedwait(&st->cond, &st->lock, &ts);
		list = st->pending;
		st->pending = NULL;
		pthread_mutex_unlock(&st->lock);
		flush(st, list);
		pthread_mutex_lock(&st->lock);
		st->passes++;
		pthread_cond_broadcast(&st->passed);
		if (st->stop && st->pending == NULL)
			break;
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

struct stats *
stats_open(const char *data_dir, char **err)
{
	struct stats *st = xcalloc(1, sizeof(*st));
	sqlite3_stmt *q;

	if (open_db(data_dir, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	    &st->db, err) == -1) {
		free(st);
		return NULL;
	}
	/* WAL: `postern stats` reads while the server writes */
	sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "CREATE TABLE IF NOT EXISTS counters(hour INTEGER NOT NULL, name TEXT NOT NULL,"
	    " label TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY(hour, name, label))",
	    NULL, NULL, NULL);
	if (sqlite3_prepare_v2(st->db, "SELECT name, label, SUM(value) FROM counters GROUP BY name, label",
	    -1, &q, NULL) == SQLITE_OK) {
		while (sqlite3_step(q) == SQLITE_ROW)
			total_add(st, (const char *)sqlite3_column_text(q, 0),
			    (const char *)sqlite3_column_text(q, 1), (uint64_t)sqlite3_column_int64(q, 2));
		sqlite3_finalize(q);
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	pthread_cond_init(&st->passed, NULL);
	st->resync_since = -1;
	pthread_create(&st->thread, NULL, writer, st);
	return st;
}

void
stats_close(struct stats *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->lock);
	st->stop = true;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
	pthread_join(st->thread, NULL);
	if (st->push_ev)
		event_free(st->push_ev);
	for (size_t i = 0; i < PUSH_BUCKETS; i++)
		while (st->topush[i]) {
			struct pushv *n = st->topush[i]->next;
			free(st->topush[i]);
			st->topush[i] = n;
		}
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	pthread_cond_destroy(&st->passed);
	free(st->totals);
	free(st);
}

static void
count(struct stats *st, const char *name, const char *label, uint64_t n)
{
	struct delta *d = xcalloc(1, sizeof(*d));
	time_t now = time(NULL);

	d->hour = now - now % 3600;
	snprintf(d->name, sizeof(d->name), "%s", name);
	snprintf(d->label, sizeof(d->label), "%s", label);
	d->n = n;
	pthread_mutex_lock(&st->lock);
	d->next = st->pending;
	st->pending = d;
	total_add(st, name, label, n);
	pthread_mutex_unlock(&st->lock);
}

void
stats_observe(void *arg, const char *event, const char *fields)
{
	struct stats *st = arg;
	size_t len = strlen(fields);
	char a[64], b[64], label[160];

	if (strcmp(event, "disconnect") == 0) {
		if (!logfmt_get(fields, len, "selftest", a, sizeof(a)))
			count(st, "connections", "", 1);
	} else if (strcmp(event, "accepted") == 0) {
		count(st, "accepted", "", 1);
		if (logfmt_get(fields, len, "user", a, sizeof(a))) {
			snprintf(label, sizeof(label), "user=%s", a);
			count(st, "sent", label, 1);
		}
	} else if (strcmp(event, "reject") == 0) {
		if (!logfmt_get(fields, len, "reason", a, sizeof(a)))
			strcpy(a, "other");
		if (!logfmt_get(fields, len, "stage", b, sizeof(b)))
			strcpy(b, "other");
		snprintf(label, sizeof(label), "reason=%s,stage=%s", a, b);
		count(st, "rejected", label, 1);
	} else if (strcmp(event, "delivered") == 0 || strcmp(event, "deferred") == 0 ||
	    strcmp(event, "bounced") == 0) {
		bool local = logfmt_get(fields, len, "relay", a, sizeof(a)) && strcmp(a, "local") == 0;
		count(st, event, local ? "relay=local" : "relay=remote", 1);
		/* per account: the remote results behind the bounce ratio */
		if (!local && strcmp(event, "deferred") != 0 &&
		    logfmt_get(fields, len, "user", b, sizeof(b))) {
			snprintf(label, sizeof(label), "user=%s", b);
			count(st, strcmp(event, "delivered") == 0 ? "delivered_by" : "bounced_by", label, 1);
		}
	} else if (strcmp(event, "ratelimit") == 0) {
		if (logfmt_get(fields, len, "user", a, sizeof(a))) {
			snprintf(label, sizeof(label), "user=%s", a);
			count(st, "ratelimited", label, 1);
		}
	} else if (strcmp(event, "dnsbl_error") == 0) {
		if (logfmt_get(fields, len, "zone", a, sizeof(a))) {
			snprintf(label, sizeof(label), "zone=%s", a);
			count(st, "dnsbl_error", label, 1);
		}
	} else if (strcmp(event, "dnsbl_health") == 0) {
		/* every zone's checks, the DQS ones (authbl, zrd, hbl) too */
		if (logfmt_get(fields, len, "zone", a, sizeof(a)) &&
		    logfmt_get(fields, len, "status", b, sizeof(b))) {
			snprintf(label, sizeof(label), "zone=%s,status=%s", a, b);
			count(st, "dnsbl_health", label, 1);
		}
	} else if (strcmp(event, "alert") == 0) {
		if (logfmt_get(fields, len, "kind", a, sizeof(a))) {
			snprintf(label, sizeof(label), "kind=%s", a);
			count(st, "alert", label, 1);
		}
	}
}

size_t
stats_totals(struct stats *st, struct stats_counter **out)
{
	size_t n;

	pthread_mutex_lock(&st->lock);
	n = st->ntotals;
	*out = xmalloc((n ? n : 1) * sizeof(**out));
	if (n > 0)	/* totals is NULL before the first event */
		memcpy(*out, st->totals, n * sizeof(**out));
	pthread_mutex_unlock(&st->lock);
	return n;
}

int
stats_read(const char *data_dir, time_t since, struct stats_counter **out, size_t *n, char **err)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (open_db(data_dir, SQLITE_OPEN_READONLY, &db, err) == -1)
		return -1;
	if (sqlite3_prepare_v2(db, "SELECT name, label, SUM(value) FROM counters WHERE hour >= ? "
	    "GROUP BY name, label ORDER BY name, label", -1, &q, NULL) != SQLITE_OK) {
		*err = xasprintf("cannot read statistics: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	/* the hour that contains `since` counts whole */
	sqlite3_bind_int64(q, 1, (sqlite3_int64)(since - since % 3600));
	while (sqlite3_step(q) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		memset(&(*out)[*n], 0, sizeof(**out));
		snprintf((*out)[*n].name, sizeof((*out)[0].name), "%s", (const char *)sqlite3_column_text(q, 0));
		snprintf((*out)[*n].label, sizeof((*out)[0].label), "%s", (const char *)sqlite3_column_text(q, 1));
		(*out)[*n].value = (uint64_t)sqlite3_column_int64(q, 2);
		(*n)++;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	return 0;
}

/* ---- sharing ---- */

static void
pushed(void *arg, bool ok)
{
	struct stats *st = arg;

	if (ok)
		st->last_ok = time(NULL);
}

/* Loop timer: what changed goes to Redis while it is up. */
static void
push_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stats *st = arg;
	struct pushv *batch[PUSH_BUCKETS];
	char map[NODE_NAME_MAX + 64], field[200], value[24];

	if (!state_up(st->state))
		return;		/* kept (one per key) until it returns */
	pthread_mutex_lock(&st->lock);
	memcpy(batch, st->topush, sizeof(batch));
	memset(st->topush, 0, sizeof(st->topush));
	pthread_mutex_unlock(&st->lock);
	for (size_t i = 0; i < PUSH_BUCKETS; i++)
		while (batch[i]) {
			struct pushv *p = batch[i];
			batch[i] = p->next;
			snprintf(map, sizeof(map), "stats:%s:%lld", state_node(st->state), (long long)p->hour);
			snprintf(field, sizeof(field), "%s\t%s", p->name, p->label);
			snprintf(value, sizeof(value), "%llu", (unsigned long long)p->value);
			state_map_put(st->state, map, field, value, STATS_TTL, pushed, st);
			free(p);
		}
}

/* Redis answers again: what it may have missed goes again (everything
 * when it is new or lost its data). */
static void
stats_on_up(void *arg, bool fresh)
{
	struct stats *st = arg;
	time_t since = 0;

	if (!fresh && st->last_ok > 0)
		since = st->last_ok - st->last_ok % 3600 - 3600;
	pthread_mutex_lock(&st->lock);
	if (st->resync_since < 0 || since < st->resync_since)
		st->resync_since = since;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

void
stats_share(struct stats *st, struct state *state)
{
	struct timeval tv = { PUSH_SECONDS, 0 };

	if (!state_shared(state))
		return;
	pthread_mutex_lock(&st->lock);
	st->state = state;
	pthread_mutex_unlock(&st->lock);
	st->push_ev = event_new(state_base(state), -1, EV_PERSIST, push_tick, st);
	event_add(st->push_ev, &tv);
	state_on_up(state, stats_on_up, st);
}

void
stats_final_push(struct stats *st, const struct config *cfg)
{
	struct timespec ts;
	unsigned long target;
	struct state_sync *c;
	char *err = NULL, map[NODE_NAME_MAX + 64], field[200], value[24];

	if (st == NULL || st->state == NULL || !state_up(st->state))
		return;		/* Redis away: the next start pushes it */
	/* two passes of the writer: the last events are in the database and
	 * their values in topush */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 3;
	pthread_mutex_lock(&st->lock);
	target = st->passes + 2;
	while (st->passes < target) {
		pthread_cond_signal(&st->cond);
		if (pthread_cond_timedwait(&st->passed, &st->lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&st->lock);
	if ((c = state_sync_open(cfg, 1000, &err)) == NULL) {
		log_event("warning", "reason=\"statistics of the last second not shared: %s\"", err);
		free(err);
		return;
	}
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < PUSH_BUCKETS; i++)
		while (st->topush[i]) {
			struct pushv *p = st->topush[i];
			st->topush[i] = p->next;
			snprintf(map, sizeof(map), "stats:%s:%lld", state_node(st->state), (long long)p->hour);
			snprintf(field, sizeof(field), "%s\t%s", p->name, p->label);
			snprintf(value, sizeof(value), "%llu", (unsigned long long)p->value);
			if (err == NULL)
				state_sync_map_put(c, map, field, value, STATS_TTL, &err);
			free(p);
		}
	pthread_mutex_unlock(&st->lock);
	if (err != NULL) {
		log_event("warning", "reason=\"statistics of the last second not shared: %s\"", err);
		free(err);
	}
	state_sync_close(c);
}

/* ---- reading every node's ---- */

struct node_read {
	struct stats_node *node;
	size_t cap;
};

static void
node_field(void *arg, const char *field, const char *value)
{
	struct node_read *r = arg;
	struct stats_node *nd = r->node;
	const char *tab = strchr(field, '\t');
	char name[32];
	size_t nl;
	uint64_t v = strtoull(value, NULL, 10);

	if (tab == NULL || (nl = (size_t)(tab - field)) >= sizeof(name))
		return;
	memcpy(name, field, nl);
	name[nl] = '\0';
	for (size_t i = 0; i < nd->n; i++)
		if (strcmp(nd->c[i].name, name) == 0 && strcmp(nd->c[i].label, tab + 1) == 0) {
			nd->c[i].value += v;
			return;
		}
	if (nd->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		nd->c = xrealloc(nd->c, r->cap * sizeof(*nd->c));
	}
	memset(&nd->c[nd->n], 0, sizeof(nd->c[0]));
	snprintf(nd->c[nd->n].name, sizeof(nd->c[0].name), "%s", name);
	snprintf(nd->c[nd->n].label, sizeof(nd->c[0].label), "%s", tab + 1);
	nd->c[nd->n++].value = v;
}

struct names {
	char (*v)[NODE_NAME_MAX + 1];
	size_t n;
};

static void
node_name(void *arg, const char *field, const char *value)
{
	struct names *nm = arg;

	if (strlen(field) > NODE_NAME_MAX || nm->n >= 1000)
		return;
	nm->v = xrealloc(nm->v, (nm->n + 1) * sizeof(*nm->v));
	snprintf(nm->v[nm->n++], NODE_NAME_MAX + 1, "%s", field);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
stats_read_nodes(const struct config *cfg, time_t since, unsigned timeout_ms,
    struct stats_node **nodes, char **err)
{
	struct state_sync *c = state_sync_open(cfg, timeout_ms, err);
	struct names nm = { NULL, 0 };
	time_t now = time(NULL);
	int rc = 0;

	*nodes = NULL;
	if (c == NULL)
		return -1;
	if (state_sync_map_all(c, "nodes", node_name, &nm, err) == -1) {
		state_sync_close(c);
		return -1;
	}
	if (nm.n > 1)
		qsort(nm.v, nm.n, sizeof(*nm.v), cmp_name);
	*nodes = xcalloc(nm.n ? nm.n : 1, sizeof(**nodes));
	for (size_t i = 0; i < nm.n && rc == 0; i++) {
		struct node_read r = { &(*nodes)[i], 0 };
		snprintf((*nodes)[i].name, sizeof((*nodes)[i].name), "%s", nm.v[i]);
		/* the hour that contains `since` counts whole, as stats_read */
		for (time_t h = since - since % 3600; h <= now && rc == 0; h += 3600) {
			char map[NODE_NAME_MAX + 64];
			snprintf(map, sizeof(map), "stats:%s:%lld", nm.v[i], (long long)h);
			rc = state_sync_map_all(c, map, node_field, &r, err);
		}
	}
	free(nm.v);
	state_sync_close(c);
	if (rc == -1) {
		stats_nodes_free(*nodes, (int)nm.n);
		*nodes = NULL;
		return -1;
	}
	return (int)nm.n;
}

void
stats_nodes_free(struct stats_node *nodes, int n)
{
	for (int i = 0; i < n; i++)
		free(nodes[i].c);
	free(nodes);
}
