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
 */
#include "stats.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

struct delta {
	struct delta *next;
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

static void
flush(struct stats *st, struct delta *list)
{
	sqlite3_stmt *ins = NULL;

	if (list == NULL)
		return;
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
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
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
