/*
 * Finding the report: a buffer that starts with a gzip or zip magic, '<'
 * or '{' is the report; anything else is read as a message, and its
 * leaf parts that may hold one (application types, text/xml, attachments)
 * are tried in order. The first part that parses is the report.
 */
#include "import.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "report/unpack.h"
#include "scan/decode.h"
#include "scan/mime.h"

#define IMPORT_FILE_MAX (REPORT_PACKED_MAX / 3 * 4 + 65536)	/* a message around it */
#define IMPORT_DIR_MAX 10000					/* files in one run */

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Ours: one of cfg->domains or a subdomain of one. */
static bool
ours(void *arg, const char *domain)
{
	const struct config *cfg = arg;
	size_t n = strlen(domain);

	if (n > 0 && domain[n - 1] == '.')
		n--;
	for (size_t i = 0; i < cfg->ndomains; i++) {
		size_t dl = strlen(cfg->domains[i]);
		if (n == dl && strncasecmp(domain, cfg->domains[i], n) == 0)
			return true;
		if (n > dl && domain[n - dl - 1] == '.' &&
		    strncasecmp(domain + n - dl, cfg->domains[i], dl) == 0)
			return true;
	}
	return false;
}

static const char *
skip_ws(const char *s, size_t len, size_t *left)
{
	size_t i = 0;

	if (len >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
		i++;
	*left = len - i;
	return s + i;
}

/* A report file: unpacked, then XML or JSON by its first character. */
static int
blob(const struct config *cfg, struct report_db *db, const char *buf, size_t len,
    struct import_result *res, char *why, size_t whylen)
{
	char *text, *err = NULL, uwhy[UNPACK_WHY_MAX];
	size_t tlen, left;
	const char *t;
	int rc;
	time_t now = time(NULL);

	if (unpack_report(buf, len, REPORT_UNPACKED_MAX, &text, &tlen, NULL, uwhy,
	    sizeof(uwhy)) == -1)
		return fail(why, whylen, "%s", uwhy);
	t = skip_ws(text, tlen, &left);
	if (left > 0 && t[0] == '<') {
		struct dmarc_xml_report r;
		char xwhy[DMARC_XML_WHY_MAX];
		if (dmarc_xml_parse(text, tlen, &r, xwhy, sizeof(xwhy)) == -1) {
			free(text);
			return fail(why, whylen, "DMARC report refused: %s", xwhy);
		}
		free(text);
		if (!ours((void *)cfg, r.domain)) {
			fail(why, whylen, "DMARC report from %.100s is about %.100s, not one of our domains",
			    r.org_name, r.domain);
			dmarc_xml_clear(&r);
			return -1;
		}
		res->kind = IMPORT_DMARC;
		snprintf(res->org, sizeof(res->org), "%s", r.org_name);
		snprintf(res->report_id, sizeof(res->report_id), "%s", r.report_id);
		snprintf(res->domain, sizeof(res->domain), "%s", r.domain);
		res->rows = r.nrows;
		rc = report_db_add_dmarc(db, &r, now, &err);
		dmarc_xml_clear(&r);
	} else if (left > 0 && t[0] == '{') {
		struct tlsrpt_report r;
		char jwhy[TLSRPT_WHY_MAX];
		if (tlsrpt_parse(text, tlen, &r, jwhy, sizeof(jwhy)) == -1) {
			free(text);
			return fail(why, whylen, "TLS report refused: %s", jwhy);
		}
		free(text);
		res->kind = IMPORT_TLSRPT;
		snprintf(res->org, sizeof(res->org), "%s", r.org);
		snprintf(res->report_id, sizeof(res->report_id), "%s", r.report_id);
		for (size_t i = 0; i < r.npolicies; i++)
			if (ours((void *)cfg, r.policies[i].domain)) {
				if (res->rows++ == 0)
					snprintf(res->domain, sizeof(res->domain), "%s", r.policies[i].domain);
			}
		if (res->rows == 0) {
			fail(why, whylen, "TLS report from %.100s names none of our domains", r.org);
			tlsrpt_clear(&r);
			return -1;
		}
		rc = report_db_add_tlsrpt(db, &r, now, ours, (void *)cfg, &err);
		tlsrpt_clear(&r);
	} else {
		free(text);
		return fail(why, whylen, "neither an XML nor a JSON report");
	}
	if (rc == -1) {
		fail(why, whylen, "%s", err);
		free(err);
		return -1;
	}
	res->duplicate = rc == 0;
	return 0;
}

struct walk {
	const struct config *cfg;
	struct report_db *db;
	struct import_result *res;
	bool done;
	char why[IMPORT_WHY_MAX];	/* the last part's refusal */
};

static bool
candidate(const struct mime_part *p)
{
	if (strcmp(p->type, "application") == 0)
		return true;
	if (strcmp(p->type, "text") == 0 && strcmp(p->subtype, "xml") == 0)
		return true;
	return p->attachment && strcmp(p->type, "multipart") != 0;
}

static void
on_part(void *arg, const struct mime_part *p)
{
	struct walk *w = arg;
	char *body;
	size_t n;

	if (w->done || !candidate(p))
		return;
	if (p->body_len > IMPORT_FILE_MAX) {
		snprintf(w->why, sizeof(w->why), "attachment of %zu octets is too large", p->body_len);
		return;
	}
	body = xmalloc(p->body_len + 1);
	if (p->encoding == ENC_BASE64)
		n = base64_decode(p->body, p->body_len, body, p->body_len + 1);
	else if (p->encoding == ENC_QP)
		n = qp_decode(p->body, p->body_len, body, p->body_len + 1);
	else {
		memcpy(body, p->body, p->body_len);
		n = p->body_len;
	}
	memset(w->res, 0, sizeof(*w->res));
	if (blob(w->cfg, w->db, body, n, w->res, w->why, sizeof(w->why)) == 0)
		w->done = true;
	free(body);
}

int
report_import(const struct config *cfg, struct report_db *db, const char *buf, size_t len,
    struct import_result *res, char *why, size_t whylen)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t left;
	const char *t = skip_ws(buf, len, &left);
	struct walk w;
	struct mime_stats st;

	memset(res, 0, sizeof(*res));
	if (len > IMPORT_FILE_MAX)
		return fail(why, whylen, "%zu octets: more than a report may be", len);
	if ((len >= 2 && b[0] == 0x1f && b[1] == 0x8b) || (len >= 4 && memcmp(buf, "PK\3\4", 4) == 0) ||
	    (left > 0 && (t[0] == '<' || t[0] == '{')))
		return blob(cfg, db, buf, len, res, why, whylen);
	memset(&w, 0, sizeof(w));
	w.cfg = cfg;
	w.db = db;
	w.res = res;
	snprintf(w.why, sizeof(w.why), "no report attachment in the message");
	memset(&st, 0, sizeof(st));
	mime_walk(buf, len, on_part, &w, &st);
	if (!w.done)
		return fail(why, whylen, "%s", w.why);
	return 0;
}

static int
one_file(const struct config *cfg, struct report_db *db, const char *path, bool verbose)
{
	struct stat st;
	char *buf, why[IMPORT_WHY_MAX], q[LOG_VALUE_MAX], q2[LOG_VALUE_MAX], q3[LOG_VALUE_MAX];
	struct import_result res;

	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if ((size_t)st.st_size > IMPORT_FILE_MAX) {
		log_event("warning", "file=%s reason=\"report refused: %lld octets, more than %u\"",
		    log_quote(q, sizeof(q), path, strlen(path)), (long long)st.st_size,
		    (unsigned)IMPORT_FILE_MAX);
		return 1;
	}
	if ((buf = durable_slurp(path, &st)) == NULL) {
		log_event("warning", "file=%s reason=\"cannot read: %s\"",
		    log_quote(q, sizeof(q), path, strlen(path)), strerror(errno));
		return 1;
	}
	if (report_import(cfg, db, buf, (size_t)st.st_size, &res, why, sizeof(why)) == -1) {
		log_event("warning", "file=%s reason=\"report refused: %s\"",
		    log_quote(q, sizeof(q), path, strlen(path)), why);
		if (verbose)
			fprintf(stderr, "%s: refused: %s\n", path, why);
		free(buf);
		return 1;
	}
	free(buf);
	log_event("report_import", "kind=%s org=%s report_id=%s domain=%s rows=%zu%s",
	    res.kind == IMPORT_DMARC ? "dmarc" : "tlsrpt",
	    log_quote(q, sizeof(q), res.org, strlen(res.org)),
	    log_quote(q2, sizeof(q2), res.report_id, strlen(res.report_id)),
	    log_quote(q3, sizeof(q3), res.domain, strlen(res.domain)), res.rows,
	    res.duplicate ? " duplicate=yes" : "");
	if (verbose)
		printf("%s: %s report from %s about %s, %zu %s%s\n", path,
		    res.kind == IMPORT_DMARC ? "DMARC" : "TLS", res.org, res.domain, res.rows,
		    res.kind == IMPORT_DMARC ? "records" : "policies",
		    res.duplicate ? " (already imported)" : "");
	return 0;
}

int
report_import_path(const struct config *cfg, struct report_db *db, const char *path,
    bool verbose)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	int refused = 0;
	unsigned n = 0;

	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return one_file(cfg, db, path, verbose);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && n < IMPORT_DIR_MAX) {
		char *p;
		if (e->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s", path, e->d_name);
		refused += one_file(cfg, db, p, verbose);
		free(p);
		n++;
	}
	closedir(d);
	return refused;
}
