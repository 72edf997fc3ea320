/*
 * reports.db: one table per report kind and one for its rows. The
 * command line imports and the server's importer thread both write it:
 * a busy timeout lets them take turns.
 */
#include "received.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/json.h"
#include "lib/xmalloc.h"

struct report_db {
	sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS dmarc_reports(id INTEGER PRIMARY KEY, org TEXT NOT NULL,"
    " report_id TEXT NOT NULL, domain TEXT, begin INTEGER, end INTEGER, received INTEGER,"
    " UNIQUE(org, report_id));"
    "CREATE TABLE IF NOT EXISTS dmarc_rows(report INTEGER NOT NULL, source_ip TEXT,"
    " count INTEGER, disposition TEXT, dkim TEXT, spf TEXT, header_from TEXT,"
    " dkim_domain TEXT, dkim_result TEXT, spf_domain TEXT, spf_result TEXT);"
    "CREATE INDEX IF NOT EXISTS dmarc_rows_report ON dmarc_rows(report);"
    "CREATE TABLE IF NOT EXISTS tls_reports(id INTEGER PRIMARY KEY, org TEXT NOT NULL,"
    " report_id TEXT NOT NULL, begin INTEGER, end INTEGER, received INTEGER,"
    " UNIQUE(org, report_id));"
    "CREATE TABLE IF NOT EXISTS tls_policies(report INTEGER NOT NULL, domain TEXT,"
    " policy_type TEXT, success INTEGER, failure INTEGER);"
    "CREATE TABLE IF NOT EXISTS tls_failures(report INTEGER NOT NULL, domain TEXT,"
    " result_type TEXT, sending_ip TEXT, receiving_mx TEXT, receiving_ip TEXT, count INTEGER);";

struct report_db *
report_db_open(const char *data_dir, bool create, char **err)
{
	char *path = xasprintf("%s/reports.db", data_dir);
	struct report_db *d = xcalloc(1, sizeof(*d));
	int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
	    SQLITE_OPEN_FULLMUTEX;
	char *msg = NULL;
	struct stat st;

	if (sqlite3_open_v2(path, &d->db, flags, NULL) != SQLITE_OK) {
		*err = xasprintf("cannot open %s: %s", path, d->db ? sqlite3_errmsg(d->db) :
		    "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(d->db, 5000);
	if (sqlite3_exec(d->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
		*err = xasprintf("cannot set up %s: %s", path, msg ? msg : "error");
		sqlite3_free(msg);
		goto fail;
	}
	chmod(path, 0640);
	/* made by root (the command line): it belongs to the server's user,
	 * the owner of data_dir, like every file there (SPEC 6.7) */
	if (geteuid() == 0 && stat(data_dir, &st) == 0)
		if (chown(path, st.st_uid, st.st_gid) == -1)
			(void)0;
	free(path);
	return d;
fail:
	free(path);
	sqlite3_close(d->db);
	free(d);
	return NULL;
}

void
report_db_close(struct report_db *d)
{
	if (d == NULL)
		return;
	sqlite3_close(d->db);
	free(d);
}

static int
exec(struct report_db *d, const char *sql, char **err)
{
	char *msg = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*err = xasprintf("reports.db: %s", msg ? msg : sqlite3_errmsg(d->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
prepare(struct report_db *d, const char *sql, sqlite3_stmt **st, char **err)
{
	if (sqlite3_prepare_v2(d->db, sql, -1, st, NULL) != SQLITE_OK) {
		*err = xasprintf("reports.db: %s", sqlite3_errmsg(d->db));
		return -1;
	}
	return 0;
}

/* Drops what was received more than REPORT_DB_KEEP_DAYS ago. */
static void
prune(struct report_db *d, time_t now)
{
	char sql[1024];
	long long old = (long long)now - (long long)REPORT_DB_KEEP_DAYS * 86400;

	snprintf(sql, sizeof(sql),
	    "DELETE FROM dmarc_rows WHERE report IN (SELECT id FROM dmarc_reports WHERE received < %lld);"
	    "DELETE FROM dmarc_reports WHERE received < %lld;"
	    "DELETE FROM tls_policies WHERE report IN (SELECT id FROM tls_reports WHERE received < %lld);"
	    "DELETE FROM tls_failures WHERE report IN (SELECT id FROM tls_reports WHERE received < %lld);"
	    "DELETE FROM tls_reports WHERE received < %lld;", old, old, old, old, old);
	sqlite3_exec(d->db, sql, NULL, NULL, NULL);
}

/* Inserts the report line; 1 stored (*id), 0 duplicate, -1 error. */
static int
head(struct report_db *d, const char *table, const char *org, const char *report_id,
    const char *domain, long long begin, long long end, time_t received, sqlite3_int64 *id,
    char **err)
{
	sqlite3_stmt *st;
	char *sql = domain ?
	    xasprintf("INSERT OR IGNORE INTO %s(org, report_id, domain, begin, end, received)"
		" VALUES(?, ?, ?, ?, ?, ?)", table) :
	    xasprintf("INSERT OR IGNORE INTO %s(org, report_id, begin, end, received)"
		" VALUES(?, ?, ?, ?, ?)", table);
	int rc, k = 1;

	rc = prepare(d, sql, &st, err);
	free(sql);
	if (rc == -1)
		return -1;
	sqlite3_bind_text(st, k++, org, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, k++, report_id, -1, SQLITE_TRANSIENT);
	if (domain)
		sqlite3_bind_text(st, k++, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, k++, begin);
	sqlite3_bind_int64(st, k++, end);
	sqlite3_bind_int64(st, k++, (sqlite3_int64)received);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*err = xasprintf("reports.db: %s", sqlite3_errmsg(d->db));
		return -1;
	}
	if (sqlite3_changes(d->db) == 0)
		return 0;
	*id = sqlite3_last_insert_rowid(d->db);
	return 1;
}

int
report_db_add_dmarc(struct report_db *d, const struct dmarc_xml_report *r, time_t received,
    char **err)
{
	sqlite3_stmt *st = NULL;
	sqlite3_int64 id;
	int rc;

	if (exec(d, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	prune(d, received);
	rc = head(d, "dmarc_reports", r->org_name, r->report_id, r->domain, r->begin, r->end,
	    received, &id, err);
	if (rc != 1)
		goto out;
	if (prepare(d, "INSERT INTO dmarc_rows VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &st,
	    err) == -1) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < r->nrows; i++) {
		const struct dmarc_xml_row *w = &r->rows[i];
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, w->source_ip, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)w->count);
		sqlite3_bind_text(st, 4, w->disposition, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, w->dkim, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, w->spf, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, w->header_from, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, w->dkim_domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 9, w->dkim_result, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 10, w->spf_domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 11, w->spf_result, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) {
			*err = xasprintf("reports.db: %s", sqlite3_errmsg(d->db));
			rc = -1;
			goto out;
		}
		sqlite3_reset(st);
	}
out:
	sqlite3_finalize(st);
	if (rc == -1) {
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (exec(d, "COMMIT", err) == -1) {
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return rc;
}

int
report_db_add_tlsrpt(struct report_db *d, const struct tlsrpt_report *r, time_t received,
    bool (*ours)(void *arg, const char *domain), void *arg, char **err)
{
	sqlite3_stmt *sp = NULL, *sf = NULL;
	sqlite3_int64 id;
	int rc;

	if (exec(d, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	prune(d, received);
	rc = head(d, "tls_reports", r->org, r->report_id, NULL, r->begin, r->end, received, &id,
	    err);
	if (rc != 1)
		goto out;
	if (prepare(d, "INSERT INTO tls_policies VALUES(?, ?, ?, ?, ?)", &sp, err) == -1 ||
	    prepare(d, "INSERT INTO tls_failures VALUES(?, ?, ?, ?, ?, ?, ?)", &sf, err) == -1) {
		rc = -1;
		goto out;
	}
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct tlsrpt_policy *p = &r->policies[i];
		if (!ours(arg, p->domain))
			continue;
		sqlite3_bind_int64(sp, 1, id);
		sqlite3_bind_text(sp, 2, p->domain, -1, SQLITE_STATIC);
		sqlite3_bind_text(sp, 3, p->type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(sp, 4, (sqlite3_int64)(p->success > INT64_MAX ? INT64_MAX : p->success));
		sqlite3_bind_int64(sp, 5, (sqlite3_int64)(p->failure > INT64_MAX ? INT64_MAX : p->failure));
		if (sqlite3_step(sp) != SQLITE_DONE)
			goto dberr;
		sqlite3_reset(sp);
		for (size_t k = 0; k < p->ndetails; k++) {
			const struct tlsrpt_detail *f = &p->details[k];
			sqlite3_bind_int64(sf, 1, id);
			sqlite3_bind_text(sf, 2, p->domain, -1, SQLITE_STATIC);
			sqlite3_bind_text(sf, 3, f->result_type, -1, SQLITE_STATIC);
			sqlite3_bind_text(sf, 4, f->sending_ip, -1, SQLITE_STATIC);
			sqlite3_bind_text(sf, 5, f->receiving_mx, -1, SQLITE_STATIC);
			sqlite3_bind_text(sf, 6, f->receiving_ip, -1, SQLITE_STATIC);
			sqlite3_bind_int64(sf, 7, (sqlite3_int64)(f->count > INT64_MAX ? INT64_MAX : f->count));
			if (sqlite3_step(sf) != SQLITE_DONE)
				goto dberr;
			sqlite3_reset(sf);
		}
	}
	goto out;
dberr:
	*err = xasprintf("reports.db: %s", sqlite3_errmsg(d->db));
	rc = -1;
out:
	sqlite3_finalize(sp);
	sqlite3_finalize(sf);
	if (rc == -1) {
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (exec(d, "COMMIT", err) == -1) {
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return rc;
}

/* ---- the summary ---- */

static long long
scalar(struct report_db *d, const char *sql, time_t since)
{
	sqlite3_stmt *st;
	long long v = 0;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? (const char *)s : "";
}

#define PASS_SQL "(r.dkim = 'pass' OR r.spf = 'pass')"
#define SUMMARY_ROWS 50

/* Sources of mail as our domains: ordered by messages, or by failures. */
static void
senders(struct report_db *d, time_t since, bool failing, bool json, FILE *out)
{
	sqlite3_stmt *st;
	bool first = true;
	char *sql = xasprintf("SELECT r.source_ip, r.header_from, SUM(r.count),"
	    " SUM(CASE WHEN " PASS_SQL " THEN r.count ELSE 0 END),"
	    " SUM(CASE WHEN " PASS_SQL " THEN 0 ELSE r.count END), COUNT(DISTINCT h.org)"
	    " FROM dmarc_rows r JOIN dmarc_reports h ON r.report = h.id WHERE h.received >= ?"
	    " GROUP BY r.source_ip, r.header_from %s ORDER BY %s DESC, r.source_ip LIMIT %d",
	    failing ? "HAVING SUM(CASE WHEN " PASS_SQL " THEN 0 ELSE r.count END) > 0" : "",
	    failing ? "5" : "3", SUMMARY_ROWS);

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
		free(sql);
		if (json)
			fprintf(out, "[]");
		return;
	}
	free(sql);
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	if (json)
		fprintf(out, "[");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (json) {
			fprintf(out, "%s{\"source_ip\":", first ? "" : ",");
			json_string(out, col(st, 0));
			fprintf(out, ",\"header_from\":");
			json_string(out, col(st, 1));
			fprintf(out, ",\"messages\":%lld,\"pass\":%lld,\"fail\":%lld,\"reporters\":%lld}",
			    (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
			    (long long)sqlite3_column_int64(st, 4), (long long)sqlite3_column_int64(st, 5));
		} else
			fprintf(out, "  %-39.39s %-30.30s %8lld %8lld %8lld\n", col(st, 0), col(st, 1),
			    (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
			    (long long)sqlite3_column_int64(st, 4));
		first = false;
	}
	sqlite3_finalize(st);
	if (json)
		fprintf(out, "]");
}

static void
tls_failures(struct report_db *d, time_t since, bool json, FILE *out)
{
	sqlite3_stmt *st;
	bool first = true;

	if (sqlite3_prepare_v2(d->db, "SELECT f.domain, f.result_type, f.receiving_mx, SUM(f.count),"
	    " COUNT(DISTINCT h.org) FROM tls_failures f JOIN tls_reports h ON f.report = h.id"
	    " WHERE h.received >= ? GROUP BY f.domain, f.result_type, f.receiving_mx"
	    " ORDER BY 4 DESC LIMIT 50", -1, &st, NULL) != SQLITE_OK) {
		if (json)
			fprintf(out, "[]");
		return;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
	if (json)
		fprintf(out, "[");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (json) {
			fprintf(out, "%s{\"domain\":", first ? "" : ",");
			json_string(out, col(st, 0));
			fprintf(out, ",\"result_type\":");
			json_string(out, col(st, 1));
			fprintf(out, ",\"receiving_mx\":");
			json_string(out, col(st, 2));
			fprintf(out, ",\"sessions\":%lld,\"reporters\":%lld}",
			    (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4));
		} else
			fprintf(out, "  %-30.30s %-28.28s %-24.24s %8lld\n", col(st, 0), col(st, 1),
			    col(st, 2), (long long)sqlite3_column_int64(st, 3));
		first = false;
	}
	sqlite3_finalize(st);
	if (json)
		fprintf(out, "]");
}

void
report_db_summary(struct report_db *d, time_t since, bool json, FILE *out)
{
	long long dr, msgs, pass, tr, ok, bad;

	if (d == NULL) {
		/* nothing received yet: the same keys, all zero */
		if (json)
			fprintf(out, ",\"dmarc_reports\":{\"reports\":0,\"messages\":0,\"pass\":0,"
			    "\"fail\":0,\"senders\":[],\"failing\":[]},\"tls_reports\":{\"reports\":0,"
			    "\"success\":0,\"failure\":0,\"failures\":[]}");
		else
			fprintf(out, "\nDMARC reports received: 0\n\nTLS reports received: 0\n");
		return;
	}
	dr = scalar(d, "SELECT COUNT(*) FROM dmarc_reports WHERE received >= ?", since);
	msgs = scalar(d, "SELECT COALESCE(SUM(r.count), 0) FROM dmarc_rows r JOIN"
	    " dmarc_reports h ON r.report = h.id WHERE h.received >= ?", since);
	pass = scalar(d, "SELECT COALESCE(SUM(r.count), 0) FROM dmarc_rows r JOIN"
	    " dmarc_reports h ON r.report = h.id WHERE h.received >= ? AND " PASS_SQL, since);
	tr = scalar(d, "SELECT COUNT(*) FROM tls_reports WHERE received >= ?", since);
	ok = scalar(d, "SELECT COALESCE(SUM(p.success), 0) FROM tls_policies p JOIN"
	    " tls_reports h ON p.report = h.id WHERE h.received >= ?", since);
	bad = scalar(d, "SELECT COALESCE(SUM(p.failure), 0) FROM tls_policies p JOIN"
	    " tls_reports h ON p.report = h.id WHERE h.received >= ?", since);

	if (json) {
		fprintf(out, ",\"dmarc_reports\":{\"reports\":%lld,\"messages\":%lld,\"pass\":%lld,"
		    "\"fail\":%lld,\"senders\":", dr, msgs, pass, msgs - pass);
		senders(d, since, false, true, out);
		fprintf(out, ",\"failing\":");
		senders(d, since, true, true, out);
		fprintf(out, "},\"tls_reports\":{\"reports\":%lld,\"success\":%lld,\"failure\":%lld,"
		    "\"failures\":", tr, ok, bad);
		tls_failures(d, since, true, out);
		fprintf(out, "}");
		return;
	}
	fprintf(out, "\nDMARC reports received: %lld, on %lld messages as our domains"
	    " (%lld pass, %lld fail)\n", dr, msgs, pass, msgs - pass);
	if (msgs > 0) {
		fprintf(out, "  %-39s %-30s %8s %8s %8s\n", "who sends as us", "header from",
		    "messages", "pass", "fail");
		senders(d, since, false, false, out);
		if (msgs - pass > 0) {
			fprintf(out, "  who fails:\n");
			senders(d, since, true, false, out);
		}
	}
	fprintf(out, "\nTLS reports received: %lld, %lld sessions to our domains succeeded,"
	    " %lld failed\n", tr, ok, bad);
	if (bad > 0)
		tls_failures(d, since, false, out);
}
