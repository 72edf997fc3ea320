/*
 * The local classifier store: SQLite in <data_dir>/bayes.db. Tokens are
 * keyed by their 64-bit hash (the rowid: 8 octets of key, no index of its
 * own). Write-ahead log with synchronous=FULL: a Junk move acknowledged by
 * Dovecot is a user's decision, and FULL syncs the log at each commit (the
 * cost is one fsync per `postern learn`, or per batch of --dir). Every
 * change is one BEGIN IMMEDIATE transaction, so concurrent learners wait
 * for each other (busy timeout) and no count update is lost.
 */
#include "bayes_store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xmalloc.h"

/* "PstB": a file with another application id is not ours, and is refused
 * rather than written into. */
#define APPLICATION_ID 0x50737442
#define SCHEMA_VERSION 1
/* How long a learner waits for another one's transaction. */
#define BUSY_TIMEOUT_MS 30000

struct sq {
	sqlite3 *db;		/* NULL: read-only and no file yet (empty) */
	char *path;
	bool write;
	bool in_tx;
	bool moved;		/* this transaction unlearned: 0/0 tokens to drop */
	int64_t tokens_max;	/* caps expired at commit (bayes_store.h) */
	int64_t messages_max;
	sqlite3_stmt *get_msg, *put_msg, *upsert, *meta_add, *get_tok, *get_meta;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS tokens ("
    " h INTEGER PRIMARY KEY,"		/* bayes_hash(), as signed 64 bits */
    " spam INTEGER NOT NULL,"		/* learned spam messages with it */
    " ham INTEGER NOT NULL,"
    " atime INTEGER NOT NULL);"		/* day it was last learned (expiry) */
    "CREATE TABLE IF NOT EXISTS messages ("
    " id TEXT PRIMARY KEY,"		/* bayes_message_id() */
    " kind INTEGER NOT NULL,"		/* enum bayes_kind */
    " t INTEGER NOT NULL);"		/* when learned (expiry) */
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES ('nspam', 0), ('nham', 0);";

/* An error about the database, with what to do when it is damaged. */
static int
fail(struct sq *q, int rc, const char *what, char **err)
{
	const char *msg = q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc);

	free(*err);
	if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
		*err = xasprintf("classifier database %s is damaged (%s: %s): refused; move it "
		    "away and learn again (postern learn spam|ham --dir DIR)", q->path, what, msg);
	else if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		*err = xasprintf("classifier database %s: %s: still locked by another learner "
		    "after %d s", q->path, what, BUSY_TIMEOUT_MS / 1000);
	else
		*err = xasprintf("classifier database %s: %s: %s", q->path, what, msg);
	return -1;
}

static int
exec(struct sq *q, const char *sql, char **err)
{
	int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : fail(q, rc, sql, err);
}

/*
 * Switching a new database to WAL needs it to itself, and SQLite answers
 * SQLITE_BUSY at once, without its busy handler, when another learner is
 * opening the same new file (two `postern learn` at the first Junk moves):
 * retried here within the busy timeout. The mode is kept in the file, so
 * only the very first opens race.
 */
static int
set_wal(struct sq *q, char **err)
{
	int rc = SQLITE_BUSY;

	for (int waited = 0; waited <= BUSY_TIMEOUT_MS; waited += 10) {
		rc = sqlite3_exec(q->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		usleep(10 * 1000);
	}
	return rc == SQLITE_OK ? 0 : fail(q, rc, "PRAGMA journal_mode = WAL", err);
}

/* The single integer answer of a statement, -1 with *err on failure. */
static int64_t
one_int(struct sq *q, const char *sql, char **err)
{
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc = sqlite3_prepare_v2(q->db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		fail(q, rc, sql, err);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE) {
		fail(q, rc, sql, err);
		v = -1;
	}
	sqlite3_finalize(st);
	return v;
}

static int
prepare(struct sq *q, sqlite3_stmt **st, const char *sql, char **err)
{
	int rc = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);

	return rc == SQLITE_OK ? 0 : fail(q, rc, sql, err);
}

static void
sq_close(void *h)
{
	struct sq *q = h;

	if (q == NULL)
		return;
	if (q->db != NULL && q->in_tx)
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_finalize(q->get_msg);
	sqlite3_finalize(q->put_msg);
	sqlite3_finalize(q->upsert);
	sqlite3_finalize(q->meta_add);
	sqlite3_finalize(q->get_tok);
	sqlite3_finalize(q->get_meta);
	sqlite3_close(q->db);
	free(q->path);
	free(q);
}

/* A database created by root (an administrator's `postern learn`) goes
 * to the owner of data_dir, the server's user, or the server and
 * Dovecot's learner could no longer use it. SQLite gives its -wal and
 * -shm files the database's owner itself. */
static void
give_to_dir_owner(const char *path)
{
	char *dir, *slash;
	struct stat st;

	if (geteuid() != 0)
		return;
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash != NULL)
		*slash = '\0';
	if (stat(slash ? dir : ".", &st) == 0 && st.st_uid != 0 &&
	    chown(path, st.st_uid, st.st_gid) == -1) {
		/* left root's: the learner that follows says what fails */
	}
	free(dir);
}

/* Checks the file is ours and of a schema we know; creates it (write). */
static int
check_schema(struct sq *q, char **err)
{
	int64_t app = one_int(q, "PRAGMA application_id", err), ver;

	if (app == -1)
		return -1;
	ver = one_int(q, "PRAGMA user_version", err);
	if (ver == -1)
		return -1;
	if (app == 0 && ver == 0) {
		int64_t tables = one_int(q, "SELECT count(*) FROM sqlite_master", err);
		if (tables == -1)
			return -1;
		if (tables != 0) {
			*err = xasprintf("%s is an SQLite database but not postern's classifier "
			    "database: refused (move it away)", q->path);
			return -1;
		}
		if (!q->write)
			return 0;	/* created by the first learner */
		if (exec(q, "BEGIN IMMEDIATE", err) == -1)
			return -1;
		char pragmas[96];
		snprintf(pragmas, sizeof(pragmas),
		    "PRAGMA application_id = %d; PRAGMA user_version = %d", APPLICATION_ID,
		    SCHEMA_VERSION);
		if (exec(q, schema, err) == -1 || exec(q, pragmas, err) == -1 ||
		    exec(q, "COMMIT", err) == -1) {
			sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		give_to_dir_owner(q->path);
		return 0;
	}
	if (app != APPLICATION_ID) {
		*err = xasprintf("%s is not postern's classifier database (application id "
		    "%#llx): refused (move it away)", q->path, (unsigned long long)app);
		return -1;
	}
	if (ver != SCHEMA_VERSION) {
		*err = xasprintf("%s has classifier schema %lld, this postern knows %d: refused",
		    q->path, (long long)ver, SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

static void *
sq_open(const char *where, const char *secret, bool write, char **err)
{
	struct sq *q = xcalloc(1, sizeof(*q));
	struct stat st;
	int rc;

	q->path = xstrdup(where);
	q->write = write;
	q->tokens_max = BAYES_STORE_TOKENS_MAX;
	q->messages_max = BAYES_STORE_MESSAGES_MAX;
	if (!write && stat(where, &st) == -1 && errno == ENOENT)
		return q;	/* nothing learned yet */
	rc = sqlite3_open_v2(where, &q->db, write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE :
	    SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		fail(q, rc, "open", err);
		sq_close(q);
		return NULL;
	}
	sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
	/* WAL: the server's reads never wait for a learner, nor the
	 * learner for them; FULL: each commit is on disk when it returns */
	if ((write && set_wal(q, err) == -1) ||
	    exec(q, "PRAGMA synchronous = FULL", err) == -1 || check_schema(q, err) == -1) {
		sq_close(q);
		return NULL;
	}
	return q;
}

static void
sq_set_caps(void *h, size_t tokens_max, size_t messages_max)
{
	struct sq *q = h;

	q->tokens_max = (int64_t)tokens_max;
	q->messages_max = (int64_t)messages_max;
}

static int
sq_begin(void *h, char **err)
{
	struct sq *q = h;

	if (q->upsert == NULL && (
	    prepare(q, &q->get_msg, "SELECT kind FROM messages WHERE id = ?1", err) == -1 ||
	    prepare(q, &q->put_msg,
	    "INSERT OR REPLACE INTO messages (id, kind, t) VALUES (?1, ?2, ?3)", err) == -1 ||
	    prepare(q, &q->upsert,
	    "INSERT INTO tokens (h, spam, ham, atime) VALUES (?1, max(?2, 0), max(?3, 0), ?4) "
	    "ON CONFLICT (h) DO UPDATE SET spam = max(spam + ?2, 0), ham = max(ham + ?3, 0), "
	    "atime = ?4", err) == -1 ||
	    prepare(q, &q->meta_add, "UPDATE meta SET v = max(v + ?2, 0) WHERE k = ?1", err) == -1))
		return -1;
	/* IMMEDIATE: take the write lock now, not at the first write, so
	 * two learners never both read a count and write it back */
	if (exec(q, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	q->in_tx = true;
	q->moved = false;
	return 0;
}

static int
step_done(struct sq *q, sqlite3_stmt *st, const char *what, char **err)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(q, rc, what, err);
}

static void
rollback(struct sq *q)
{
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	q->in_tx = false;
}

static int
sq_learn(void *h, const char *id, const uint64_t *hash, size_t n, enum bayes_kind kind,
    time_t now, enum bayes_learn_result *res, char **err)
{
	struct sq *q = h;
	int old = BAYES_KIND_NONE, rc, ds, dh;

	sqlite3_bind_text(q->get_msg, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(q->get_msg);
	if (rc == SQLITE_ROW)
		old = sqlite3_column_int(q->get_msg, 0);
	sqlite3_reset(q->get_msg);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		fail(q, rc, "reading the learned messages", err);
		rollback(q);
		return -1;
	}
	if (old == (int)kind) {
		*res = BAYES_LEARN_SAME;
		return 0;
	}
	ds = kind == BAYES_KIND_SPAM ? 1 : 0;
	dh = kind == BAYES_KIND_HAM ? 1 : 0;
	if (old != BAYES_KIND_NONE) {
		/* moved: out of the old kind's counts, into the new one's */
		ds = kind == BAYES_KIND_SPAM ? 1 : -1;
		dh = -ds;
		q->moved = true;
	}
	*res = old == BAYES_KIND_NONE ? BAYES_LEARN_NEW : BAYES_LEARN_MOVED;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(q->upsert, 1, (sqlite3_int64)hash[i]);
		sqlite3_bind_int(q->upsert, 2, ds);
		sqlite3_bind_int(q->upsert, 3, dh);
		sqlite3_bind_int64(q->upsert, 4, (sqlite3_int64)(now / 86400));
		if (step_done(q, q->upsert, "counting tokens", err) == -1)
			goto bad;
	}
	sqlite3_bind_text(q->put_msg, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q->put_msg, 2, (int)kind);
	sqlite3_bind_int64(q->put_msg, 3, (sqlite3_int64)now);
	if (step_done(q, q->put_msg, "recording the message", err) == -1)
		goto bad;
	sqlite3_bind_text(q->meta_add, 1, "nspam", -1, SQLITE_STATIC);
	sqlite3_bind_int(q->meta_add, 2, ds);
	if (step_done(q, q->meta_add, "counting messages", err) == -1)
		goto bad;
	sqlite3_bind_text(q->meta_add, 1, "nham", -1, SQLITE_STATIC);
	sqlite3_bind_int(q->meta_add, 2, dh);
	if (step_done(q, q->meta_add, "counting messages", err) == -1)
		goto bad;
	return 0;
bad:
	rollback(q);
	return -1;
}

/* Deletes the n rows of table that sort first by order. */
static int
trim(struct sq *q, const char *table, const char *key, const char *order, int64_t n,
    char **err)
{
	char *sql = xasprintf("DELETE FROM %s WHERE %s IN "
	    "(SELECT %s FROM %s ORDER BY %s LIMIT %lld)", table, key, key, table, order,
	    (long long)n);
	int rc = exec(q, sql, err);

	free(sql);
	return rc;
}

static int
sq_commit(void *h, char **err)
{
	struct sq *q = h;
	int64_t n;

	if (q->moved && exec(q, "DELETE FROM tokens WHERE spam = 0 AND ham = 0", err) == -1)
		goto bad;
	/* Bounded: past the cap, the tokens learned longest ago go, the
	 * rarest first among those of a day, down to 90% so that expiry
	 * runs once in a while, not at each message */
	if ((n = one_int(q, "SELECT count(*) FROM tokens", err)) == -1)
		goto bad;
	if (n > q->tokens_max &&
	    trim(q, "tokens", "h", "atime, spam + ham", n - q->tokens_max * 9 / 10, err) == -1)
		goto bad;
	if ((n = one_int(q, "SELECT count(*) FROM messages", err)) == -1)
		goto bad;
	if (n > q->messages_max &&
	    trim(q, "messages", "id", "t", n - q->messages_max * 9 / 10, err) == -1)
		goto bad;
	if (exec(q, "COMMIT", err) == -1)
		goto bad;
	q->in_tx = false;
	return 0;
bad:
	rollback(q);
	return -1;
}

static int
read_meta(struct sq *q, uint32_t *nspam, uint32_t *nham, char **err)
{
	int rc;

	*nspam = *nham = 0;
	if (q->get_meta == NULL &&
	    prepare(q, &q->get_meta, "SELECT k, v FROM meta", err) == -1)
		return -1;
	while ((rc = sqlite3_step(q->get_meta)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(q->get_meta, 0);
		int64_t v = sqlite3_column_int64(q->get_meta, 1);
		uint32_t u = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
		if (k != NULL && strcmp(k, "nspam") == 0)
			*nspam = u;
		else if (k != NULL && strcmp(k, "nham") == 0)
			*nham = u;
	}
	sqlite3_reset(q->get_meta);
	return rc == SQLITE_DONE ? 0 : fail(q, rc, "reading the message counts", err);
}

static uint32_t
clamp32(int64_t v)
{
	return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static int
sq_lookup(void *h, const uint64_t *hash, size_t n, struct bayes_counts *out, uint32_t *nspam,
    uint32_t *nham, char **err)
{
	struct sq *q = h;
	int rc = 0;

	if (n > 0)
		memset(out, 0, n * sizeof(*out));
	*nspam = *nham = 0;
	if (q->db == NULL)
		return 0;
	if (exec(q, "BEGIN", err) == -1)
		return -1;
	if (read_meta(q, nspam, nham, err) == -1 || (q->get_tok == NULL &&
	    prepare(q, &q->get_tok, "SELECT spam, ham FROM tokens WHERE h = ?1", err) == -1))
		goto bad;
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(q->get_tok, 1, (sqlite3_int64)hash[i]);
		rc = sqlite3_step(q->get_tok);
		if (rc == SQLITE_ROW) {
			out[i].spam = clamp32(sqlite3_column_int64(q->get_tok, 0));
			out[i].ham = clamp32(sqlite3_column_int64(q->get_tok, 1));
		}
		sqlite3_reset(q->get_tok);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			fail(q, rc, "reading tokens", err);
			goto bad;
		}
	}
	sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	return 0;
bad:
	sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static struct bayes_table *
sq_load(void *h, char **err)
{
	struct sq *q = h;
	struct bayes_table *t = NULL;
	sqlite3_stmt *st = NULL;
	uint32_t nspam, nham;
	int64_t n;
	int rc;

	if (q->db == NULL) {
		t = bayes_table_new(0);
		return t;
	}
	/* one read transaction: the counts and the tokens of one moment */
	if (exec(q, "BEGIN", err) == -1)
		return NULL;
	if (read_meta(q, &nspam, &nham, err) == -1 ||
	    (n = one_int(q, "SELECT count(*) FROM tokens", err)) == -1)
		goto out;
	rc = sqlite3_prepare_v2(q->db, "SELECT h, spam, ham FROM tokens", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		fail(q, rc, "reading tokens", err);
		goto out;
	}
	t = bayes_table_new((size_t)n);
	bayes_table_set_learned(t, nspam, nham);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		bayes_table_put(t, (uint64_t)sqlite3_column_int64(st, 0), (struct bayes_counts){
		    clamp32(sqlite3_column_int64(st, 1)), clamp32(sqlite3_column_int64(st, 2)) });
	if (rc != SQLITE_DONE) {
		/* a damaged page shows up here, where every row is read */
		fail(q, rc, "reading tokens", err);
		bayes_table_free(t);
		t = NULL;
	}
out:
	sqlite3_finalize(st);
	sqlite3_exec(q->db, "COMMIT", NULL, NULL, NULL);
	return t;
}

const struct bayes_backend bayes_sqlite_backend = {
	.name = "local",
	.open = sq_open,
	.set_caps = sq_set_caps,
	.begin = sq_begin,
	.learn = sq_learn,
	.commit = sq_commit,
	.lookup = sq_lookup,
	.load = sq_load,
	.close = sq_close,
};
