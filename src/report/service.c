/*
 * A run ("job") of one kind goes through phases on the loop: claim the
 * day files and count their lines; look up each domain's record; (DMARC)
 * verify external destinations (RFC 7489 7.1); build, compress, queue.
 * One job of each kind at a time; lookups are cancelled when the service
 * stops. The importer thread touches only files and reports.db.
 */
#include "service.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/answer.h"
#include "lib/pslist.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/inject.h"
#include "queue/spool.h"
#include "report/daylog.h"
#include "report/dmarc_build.h"
#include "report/import.h"
#include "report/mail.h"
#include "report/rua.h"
#include "report/tlsrpt_json.h"
#include "report/tlsrpt_note.h"
#include "report/unpack.h"
#include "scan/dmarc.h"

#define TICK_S 2			/* trigger files and the inbox */
#define DAILY_CHECK_S 60		/* closed days to report */
#define INBOX_BATCH 100			/* reports one importer run reads */
#define LOOKUP_TIMEOUT_MS 10000

enum job_kind { JOB_DMARC, JOB_TLSRPT };

struct job;

struct lookup {
	struct job *j;
	size_t idx;			/* domain, or policy * RUA_MAX + address */
	struct dns_query *q;
};

/* A domain of the day: a header_from (DMARC) or a recipient domain
 * (TLS-RPT), and the record that applies to it. */
struct dom {
	char name[256], org[256];
	bool at_org;			/* the lookup in flight is the org domain's */
	char *record;			/* DMARC or TLSRPT record, NULL: none */
	char where[256];		/* the domain the record was found at */
	size_t policy;			/* DMARC: its policy in job->p */
};

/* DMARC: one policy domain and where its reports go. */
struct policy {
	char domain[256];
	const char *record;		/* borrowed from a dom */
	struct rua_list rua;
	bool ok[RUA_MAX];		/* verified or not external */
};

struct job {
	struct report_service *rs;
	enum job_kind kind;
	struct tally t;
	char **paths;
	size_t npaths;
	struct dom *d;
	size_t nd;
	struct policy *p;
	size_t np;
	struct lookup *lk;
	size_t nlk;
	size_t pending;
	time_t now;
};

struct report_service {
	struct event_base *base;
	struct resolver *res;
	const struct config *const *cfgp;
	struct scheduler *sc;
	struct groupsync *gs;
	char *data_dir;			/* stable across reloads (server_reload keeps it) */
	struct event *tick;
	time_t last_daily;
	struct job *job[2];		/* by kind */
	long sent_day;			/* UTC day of sent_today */
	unsigned sent_today;
	/* the importer thread */
	pthread_t importer;
	bool importing;
	atomic_bool import_done;
	struct config import_cfg;	/* what it reads: data_dir, domains */
};

static const char *
kind_name(enum job_kind k)
{
	return k == JOB_DMARC ? "dmarc" : "tlsrpt";
}

/* ---- organizational domains (RFC 7489 3.2) ---- */

static void
org_domain(const char *name, char *out, size_t outlen)
{
	const char *reg;

	reg = pslist() != NULL ? psl_registrable_domain(pslist(), name) : NULL;
	snprintf(out, outlen, "%s", reg != NULL ? reg : name);
}

/* ---- the end of a job ---- */

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->nlk; i++)
		dns_cancel(j->lk[i].q);
	free(j->lk);
	for (size_t i = 0; i < j->nd; i++)
		free(j->d[i].record);
	free(j->d);
	free(j->p);
	tally_clear(&j->t);
	daylog_free_paths(j->paths, j->npaths);
	free(j);
}

/* The claimed evidence is gone once reported (or found unreportable):
 * a report is never sent twice for the same day. */
static void
job_done(struct job *j)
{
	for (size_t i = 0; i < j->npaths; i++)
		if (unlink(j->paths[i]) == -1 && errno != ENOENT)
			log_event("warning", "reason=\"cannot remove %s: %s\"", j->paths[i], strerror(errno));
	j->rs->job[j->kind] = NULL;
	job_free(j);
}

/* ---- lookups ---- */

/* The one record of the answer that match accepts (RFC 7489 6.6.3, RFC
 * 8460 3: several are as good as none). */
static char *
txt_one(const struct dns_answer *ans, bool (*match)(const char *, size_t))
{
	char *found = NULL;
	size_t n = 0;

	for (size_t i = 0; ans->status == DNS_OK && i < ans->count; i++) {
		size_t len = 0;
		char *txt = dns_txt_join(ans->data[i], (size_t)ans->len[i], &len);
		if (txt != NULL && match(txt, len)) {
			n++;
			free(found);
			found = txt;
		} else
			free(txt);
	}
	if (n > 1) {
		free(found);
		return NULL;
	}
	return found;
}

static bool
is_dmarc(const char *txt, size_t len)
{
	return rua_verify_record(txt, len);
}

static bool
is_tlsrpt(const char *txt, size_t len)
{
	struct rua_list r;
	return rua_from_tlsrpt(txt, len, &r) == 0;
}

static void lookup_done(struct job *j);

static void
query(struct lookup *l, const char *name, dns_cb *cb)
{
	l->q = dns_query(l->j->rs->res, name, DNS_TYPE_TXT, LOOKUP_TIMEOUT_MS, cb, l);
}

/* ---- sending ---- */

static bool
may_send(struct report_service *rs, time_t now)
{
	if (rs->sent_day != (long)(now / 86400)) {
		rs->sent_day = (long)(now / 86400);
		rs->sent_today = 0;
	}
	return rs->sent_today < REPORT_MAILS_PER_DAY;
}

static void
report_id(const char *hostname, time_t now, char *out, size_t outlen)
{
	unsigned char r[6];

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0, sizeof(r));
	snprintf(out, outlen, "%lld.%02x%02x%02x%02x%02x%02x@%s", (long long)now, r[0], r[1], r[2],
	    r[3], r[4], r[5], hostname);
}

/* Queues one report mail to addr. Returns 0 or -1 (logged). */
static int
send_mail(struct job *j, const char *domain, const char *addr, unsigned long long limit,
    const struct report_mail *m, size_t rows, unsigned long messages)
{
	struct report_service *rs = j->rs;
	const struct config *cfg = *rs->cfgp;
	char *text;
	int rc;

	if (!may_send(rs, j->now)) {
		log_event("report_skipped", "kind=%s domain=%s to=%s reason=\"%u report mails today: the daily cap\"",
		    kind_name(j->kind), domain, addr, REPORT_MAILS_PER_DAY);
		return -1;
	}
	/* RFC 7489 6.2: a size limit the destination asked for */
	if (limit > 0 && m->att_len > limit) {
		log_event("report_skipped", "kind=%s domain=%s to=%s reason=\"report of %zu octets, over the limit of %llu it asks for\"",
		    kind_name(j->kind), domain, addr, m->att_len, limit);
		return -1;
	}
	text = report_mail_compose(m, j->now);
	rc = inject_message(rs->sc, rs->gs, cfg->data_dir, cfg->hostname, addr, SPOOL_REMOTE, text);
	free(text);
	if (rc == -1) {
		log_event("error", "reason=\"cannot queue the %s report for %s to %s: %s\"",
		    kind_name(j->kind), domain, addr, strerror(errno));
		return -1;
	}
	rs->sent_today++;
	log_event("report_sent", "kind=%s domain=%s to=%s rows=%zu %s=%lu size=%zu",
	    kind_name(j->kind), domain, addr, rows, j->kind == JOB_DMARC ? "messages" : "sessions",
	    messages, m->att_len);
	return 0;
}

struct belongs_ctx {
	const struct job *j;
	size_t policy;
};

static bool
belongs(void *arg, const char *from)
{
	const struct belongs_ctx *c = arg;

	for (size_t i = 0; i < c->j->nd; i++)
		if (strcmp(c->j->d[i].name, from) == 0)
			return c->j->d[i].record != NULL && c->j->d[i].policy == c->policy;
	return false;
}

static void
dmarc_send(struct job *j, size_t pi)
{
	const struct config *cfg = *j->rs->cfgp;
	struct policy *p = &j->p[pi];
	struct dmarc_published pub;
	struct dmarc_report_meta meta;
	struct belongs_ctx ctx = { j, pi };
	enum dmarc_policy pp, sp;
	int adkim, aspf, pct;
	char id[128], email[320], subject[512], filename[512];
	char *xml, *gz;
	size_t xlen, gzlen, rows;
	unsigned long messages;
	bool any = false;

	for (size_t k = 0; k < p->rua.n; k++)
		any |= p->ok[k];
	if (!any)
		return;
	memset(&pub, 0, sizeof(pub));
	snprintf(pub.domain, sizeof(pub.domain), "%s", p->domain);
	if (dmarc_parse_record(p->record, strlen(p->record), &pp, &sp, &adkim, &aspf, &pct) == -1) {
		pp = sp = DMARC_POLICY_NONE;
		adkim = aspf = 0;
		pct = 100;
	}
	pub.adkim_strict = adkim;
	pub.aspf_strict = aspf;
	snprintf(pub.p, sizeof(pub.p), "%s", dmarc_policy_name(pp));
	snprintf(pub.sp, sizeof(pub.sp), "%s", dmarc_policy_name(sp));
	pub.pct = pct;
	report_id(cfg->hostname, j->now, id, sizeof(id));
	snprintf(email, sizeof(email), "postmaster@%s", cfg->domains[0]);
	meta.org_name = cfg->hostname;
	meta.email = email;
	meta.report_id = id;
	meta.begin = j->t.begin;
	meta.end = j->t.end > j->t.begin ? j->t.end : j->t.begin + 1;
	if ((xml = dmarc_build_xml(&j->t, &meta, &pub, belongs, &ctx, &xlen, &rows,
	    &messages)) == NULL)
		return;
	if (unpack_gzip_pack(xml, xlen, &gz, &gzlen) == -1) {
		free(xml);
		log_event("error", "reason=\"cannot compress the DMARC report for %s\"", p->domain);
		return;
	}
	free(xml);
	/* RFC 7489 7.2.1.1: the subject and the file name say what it is */
	snprintf(subject, sizeof(subject), "Report Domain: %s Submitter: %s Report-ID: <%s>",
	    p->domain, cfg->hostname, id);
	snprintf(filename, sizeof(filename), "%s!%s!%lld!%lld.xml.gz", cfg->hostname, p->domain,
	    meta.begin, meta.end);
	for (size_t k = 0; k < p->rua.n; k++) {
		struct report_mail m = {
			.hostname = cfg->hostname, .from = email, .to = p->rua.addr[k],
			.subject = subject, .multipart = "mixed",
			.text = "This is a DMARC aggregate report (RFC 7489 section 7.2).",
			.att_type = "application/gzip", .filename = filename, .att = gz, .att_len = gzlen,
		};
		if (p->ok[k])
			send_mail(j, p->domain, p->rua.addr[k], p->rua.limit[k], &m, rows, messages);
	}
	free(gz);
}

static void
tlsrpt_send(struct job *j, const struct dom *d)
{
	const struct config *cfg = *j->rs->cfgp;
	struct tlsrpt_row *rows = NULL;
	struct tlsrpt_meta meta;
	struct rua_list rua;
	char id[128], email[320], subject[512], filename[512], headers[1024];
	size_t n = 0, cap = 0, gzlen;
	unsigned long sessions = 0;
	char *json, *gz;

	if (rua_from_tlsrpt(d->record, strlen(d->record), &rua) == -1)
		return;
	if (rua.https > 0)
		log_event("report_skipped", "kind=tlsrpt domain=%s reason=\"%zu https: destination(s): postern reports by mail only\"",
		    d->name, rua.https);
	if (rua.n == 0)
		return;
	for (size_t i = 0; i < j->t.n; i++) {
		struct tlsrpt_row *r;
		char pol[24], res[48], mx[256], ip[64];
		if (strcmp(j->t.rows[i].group, d->name) != 0)
			continue;
		if (sscanf(j->t.rows[i].key, "%23s %47s %255s %63s", pol, res, mx, ip) != 4)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			rows = xrealloc(rows, cap * sizeof(*rows));
		}
		r = &rows[n++];
		memset(r, 0, sizeof(*r));
		snprintf(r->policy, sizeof(r->policy), "%s", pol);
		snprintf(r->result, sizeof(r->result), "%s", strcmp(res, "success") == 0 ? "" : res);
		snprintf(r->mx, sizeof(r->mx), "%s", mx);
		snprintf(r->ip, sizeof(r->ip), "%s", ip);
		r->count = j->t.rows[i].count;
		sessions += r->count;
	}
	if (n == 0) {
		free(rows);
		return;
	}
	report_id(cfg->hostname, j->now, id, sizeof(id));
	snprintf(email, sizeof(email), "mailto:postmaster@%s", cfg->domains[0]);
	meta.org = cfg->hostname;
	meta.contact = email;
	meta.report_id = id;
	meta.begin = j->t.begin;
	meta.end = j->t.end > j->t.begin ? j->t.end : j->t.begin + 1;
	meta.sending_ip = cfg->npublic_ip > 0 ? cfg->public_ip[0] : NULL;
	json = tlsrpt_build(&meta, d->name, rows, n);
	free(rows);
	if (json == NULL || unpack_gzip_pack(json, strlen(json), &gz, &gzlen) == -1) {
		free(json);
		log_event("error", "reason=\"cannot build the TLS report for %s\"", d->name);
		return;
	}
	free(json);
	/* RFC 8460 5.1 (file name) and 5.3 (subject, headers, media type) */
	snprintf(subject, sizeof(subject), "Report Domain: %s Submitter: %s Report-ID: <%s>",
	    d->name, cfg->hostname, id);
	snprintf(filename, sizeof(filename), "%s!%s!%lld!%lld.json.gz", cfg->hostname, d->name,
	    meta.begin, meta.end);
	snprintf(headers, sizeof(headers), "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n",
	    d->name, cfg->hostname);
	for (size_t k = 0; k < rua.n; k++) {
		struct report_mail m = {
			.hostname = cfg->hostname, .from = email + 7, .to = rua.addr[k],
			.subject = subject, .extra_headers = headers,
			.multipart = "report; report-type=\"tlsrpt\"",
			.text = "This is an SMTP TLS report (RFC 8460).",
			.att_type = "application/tlsrpt+gzip", .filename = filename, .att = gz,
			.att_len = gzlen,
		};
		send_mail(j, d->name, rua.addr[k], rua.limit[k], &m, n, sessions);
	}
	free(gz);
}

/* ---- DMARC phases ---- */

static void on_verify(void *arg, const struct dns_answer *ans);

/* Every record is in: group the domains by the policy domain their
 * record was found at, and check external destinations (RFC 7489 7.1). */
static void
dmarc_policies(struct job *j)
{
	const struct config *cfg = *j->rs->cfgp;

	j->p = xcalloc(j->nd + 1, sizeof(*j->p));
	for (size_t i = 0; i < j->nd; i++) {
		struct dom *d = &j->d[i];
		size_t k;
		if (d->record == NULL)
			continue;
		for (k = 0; k < j->np; k++)
			if (strcmp(j->p[k].domain, d->where) == 0)
				break;
		if (k == j->np) {
			struct policy *p = &j->p[j->np++];
			snprintf(p->domain, sizeof(p->domain), "%s", d->where);
			p->record = d->record;
			rua_from_dmarc(d->record, strlen(d->record), &p->rua);
			if (p->rua.https > 0)
				log_event("report_skipped", "kind=dmarc domain=%s reason=\"%zu non-mailto destination(s): postern reports by mail only\"",
				    p->domain, p->rua.https);
		}
		d->policy = k;
	}
	free(j->lk);
	j->nlk = 0;
	j->lk = xcalloc(j->np * RUA_MAX + 1, sizeof(*j->lk));
	for (size_t k = 0; k < j->np; k++) {
		struct policy *p = &j->p[k];
		char porg[256], rorg[256];
		org_domain(p->domain, porg, sizeof(porg));
		for (size_t a = 0; a < p->rua.n; a++) {
			const char *rd = rua_domain(p->rua.addr[a]);
			char name[600];
			struct lookup *l;
			if (config_is_local_domain(cfg, rd, strlen(rd))) {
				/* the evaluations are here already: no mail to ourselves */
				log_event("report_skipped", "kind=dmarc domain=%s to=%s reason=\"the destination is one of our domains\"",
				    p->domain, p->rua.addr[a]);
				continue;
			}
			org_domain(rd, rorg, sizeof(rorg));
			if (strcmp(porg, rorg) == 0) {
				p->ok[a] = true;
				continue;
			}
			l = &j->lk[j->nlk++];
			l->j = j;
			l->idx = k * RUA_MAX + a;
			snprintf(name, sizeof(name), "%s._report._dmarc.%s", p->domain, rd);
			j->pending++;
			query(l, name, on_verify);
		}
	}
	if (j->pending == 0)
		lookup_done(j);
}

static void
on_verify(void *arg, const struct dns_answer *ans)
{
	struct lookup *l = arg;
	struct job *j = l->j;
	struct policy *p = &j->p[l->idx / RUA_MAX];
	size_t a = l->idx % RUA_MAX;
	char *rec;

	l->q = NULL;
	rec = txt_one(ans, is_dmarc);
	p->ok[a] = rec != NULL;
	free(rec);
	if (!p->ok[a])
		log_event("report_skipped", "kind=dmarc domain=%s to=%s reason=\"external destination not verified: no v=DMARC1 record at %s._report._dmarc.%s (RFC 7489 7.1)\"",
		    p->domain, p->rua.addr[a], p->domain, rua_domain(p->rua.addr[a]));
	j->pending--;
	lookup_done(j);
}

static void on_record(void *arg, const struct dns_answer *ans);

static void
record_lookup(struct lookup *l, const char *domain)
{
	char name[300];

	snprintf(name, sizeof(name), "%s%s", l->j->kind == JOB_DMARC ? "_dmarc." : "_smtp._tls.",
	    domain);
	query(l, name, on_record);
}

static void
on_record(void *arg, const struct dns_answer *ans)
{
	struct lookup *l = arg;
	struct job *j = l->j;
	struct dom *d = &j->d[l->idx];

	l->q = NULL;
	if (ans->status == DNS_TIMEOUT || ans->status == DNS_SERVFAIL) {
		log_event("report_skipped", "kind=%s domain=%s reason=\"its record could not be looked up (%s)\"",
		    kind_name(j->kind), d->name, ans->status == DNS_TIMEOUT ? "timeout" : "servfail");
	} else if ((d->record = txt_one(ans, j->kind == JOB_DMARC ? is_dmarc : is_tlsrpt)) != NULL) {
		snprintf(d->where, sizeof(d->where), "%s", d->at_org ? d->org : d->name);
	} else if (j->kind == JOB_DMARC && !d->at_org && strcmp(d->org, d->name) != 0) {
		/* RFC 7489 6.6.3: the organizational domain's record */
		d->at_org = true;
		record_lookup(l, d->org);
		return;
	}
	j->pending--;
	lookup_done(j);
}

/* A phase's last answer came in. */
static void
lookup_done(struct job *j)
{
	if (j->pending > 0)
		return;
	if (j->kind == JOB_DMARC && j->p == NULL) {
		dmarc_policies(j);
		return;
	}
	if (j->kind == JOB_DMARC)
		for (size_t k = 0; k < j->np; k++)
			dmarc_send(j, k);
	else
		for (size_t i = 0; i < j->nd; i++)
			if (j->d[i].record != NULL)
				tlsrpt_send(j, &j->d[i]);
	log_event("report_run", "kind=%s domains=%zu rows=%zu dropped=%lu", kind_name(j->kind),
	    j->nd, j->t.n, j->t.dropped);
	job_done(j);
}

/* ---- starting a run ---- */

static void
read_file(struct job *j, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[DAYLOG_LINE_MAX + 2];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (j->kind == JOB_DMARC)
			dmarc_build_add(&j->t, line, n);
		else
			tlsrpt_note_add(&j->t, line, n);
	}
	fclose(f);
}

static void
job_start(struct report_service *rs, enum job_kind kind, bool all)
{
	const struct config *cfg = *rs->cfgp;
	struct job *j;

	if (rs->job[kind] != NULL)
		return;
	j = xcalloc(1, sizeof(*j));
	j->rs = rs;
	j->kind = kind;
	j->now = time(NULL);
	tally_init(&j->t);
	rs->job[kind] = j;
	j->npaths = daylog_claim(rs->data_dir, kind_name(kind), j->now, all, &j->paths);
	if (j->npaths == 0) {
		job_done(j);
		return;
	}
	for (size_t i = 0; i < j->npaths; i++)
		read_file(j, j->paths[i]);
	if (kind == JOB_DMARC && !cfg->dmarc_reports) {
		log_event("report_run", "kind=dmarc reason=\"dmarc_reports = no: recorded evaluations dropped\"");
		job_done(j);
		return;
	}
	if (kind == JOB_TLSRPT && cfg->relayhost != NULL) {
		/* the sessions went to the smart host, not to the domains' MXs */
		log_event("report_run", "kind=tlsrpt reason=\"relayhost is set: no TLS reports\"");
		job_done(j);
		return;
	}
	/* the distinct domains, in the order first seen */
	j->d = xcalloc(REPORT_DOMAINS_PER_RUN, sizeof(*j->d));
	for (size_t i = 0; i < j->t.n; i++) {
		const char *g = j->t.rows[i].group;
		bool seen = false;
		for (size_t k = 0; k < j->nd && !seen; k++)
			seen = strcmp(j->d[k].name, g) == 0;
		if (seen || config_is_local_domain(cfg, g, strlen(g)))
			continue;
		if (j->nd == REPORT_DOMAINS_PER_RUN) {
			log_event("report_skipped", "kind=%s reason=\"more than %d domains in one run: the rest are not reported\"",
			    kind_name(kind), REPORT_DOMAINS_PER_RUN);
			break;
		}
		snprintf(j->d[j->nd].name, sizeof(j->d[0].name), "%s", g);
		org_domain(g, j->d[j->nd].org, sizeof(j->d[0].org));
		j->nd++;
	}
	if (j->nd == 0) {
		job_done(j);
		return;
	}
	j->lk = xcalloc(j->nd, sizeof(*j->lk));
	j->nlk = j->nd;
	j->pending = j->nd;
	for (size_t i = 0; i < j->nd; i++) {
		j->lk[i].j = j;
		j->lk[i].idx = i;
		record_lookup(&j->lk[i], j->d[i].name);
	}
}

/* ---- received reports: the importer thread ---- */

static void *
import_main(void *arg)
{
	struct report_service *rs = arg;
	char dir[4200], *err = NULL;
	struct report_db *db;
	DIR *d;
	struct dirent *e;
	unsigned n = 0;

	snprintf(dir, sizeof(dir), "%s/reports/inbox", rs->import_cfg.data_dir);
	if ((db = report_db_open(rs->import_cfg.data_dir, true, &err)) == NULL) {
		log_event("error", "reason=\"received reports not imported: %s\"", err);
		free(err);
		atomic_store(&rs->import_done, true);
		return NULL;
	}
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL && n < INBOX_BATCH) {
			char *p;
			if (e->d_name[0] == '.')
				continue;
			p = xasprintf("%s/%s", dir, e->d_name);
			report_import_path(&rs->import_cfg, db, p, false);
			unlink(p);
			free(p);
			n++;
		}
		closedir(d);
	}
	report_db_close(db);
	atomic_store(&rs->import_done, true);
	return NULL;
}

static bool
inbox_waiting(const char *data_dir)
{
	char dir[4200];
	DIR *d;
	struct dirent *e;
	bool any = false;

	snprintf(dir, sizeof(dir), "%s/reports/inbox", data_dir);
	if ((d = opendir(dir)) == NULL)
		return false;
	while (!any && (e = readdir(d)) != NULL)
		any = e->d_name[0] != '.';
	closedir(d);
	return any;
}

static void
importer_poll(struct report_service *rs)
{
	const struct config *cfg = *rs->cfgp;

	if (rs->importing) {
		if (!atomic_load(&rs->import_done))
			return;
		pthread_join(rs->importer, NULL);
		rs->importing = false;
	}
	if (!inbox_waiting(rs->data_dir))
		return;
	/* a private copy: a reload may free *cfgp while the thread runs */
	config_clear(&rs->import_cfg);
	memset(&rs->import_cfg, 0, sizeof(rs->import_cfg));
	rs->import_cfg.data_dir = xstrdup(rs->data_dir);
	rs->import_cfg.ndomains = cfg->ndomains;
	rs->import_cfg.domains = xcalloc(cfg->ndomains + 1, sizeof(char *));
	for (size_t i = 0; i < cfg->ndomains; i++)
		rs->import_cfg.domains[i] = xstrdup(cfg->domains[i]);
	atomic_store(&rs->import_done, false);
	if (pthread_create(&rs->importer, NULL, import_main, rs) != 0) {
		log_event("error", "reason=\"cannot start the report importer: %s\"", strerror(errno));
		return;
	}
	rs->importing = true;
}

/* ---- the clock ---- */

static bool
take_trigger(struct report_service *rs, const char *kind)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/reports/%s.now", rs->data_dir, kind);
	return unlink(path) == 0;
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct report_service *rs = arg;
	time_t now = time(NULL);

	for (int k = JOB_DMARC; k <= JOB_TLSRPT; k++)
		if (rs->job[k] == NULL && take_trigger(rs, kind_name((enum job_kind)k))) {
			log_event("report_run", "kind=%s reason=\"asked for by the command line\"",
			    kind_name((enum job_kind)k));
			job_start(rs, (enum job_kind)k, true);
		}
	if (now - rs->last_daily >= DAILY_CHECK_S) {
		rs->last_daily = now;
		/* days before today, once each: the claim renames them */
		job_start(rs, JOB_DMARC, false);
		job_start(rs, JOB_TLSRPT, false);
		daylog_prune(rs->data_dir, "dmarc", now);
		daylog_prune(rs->data_dir, "tlsrpt", now);
	}
	importer_poll(rs);
}

struct report_service *
report_service_new(struct event_base *base, struct resolver *res,
    const struct config *const *cfgp, struct scheduler *sc, struct groupsync *gs)
{
	struct report_service *rs = xcalloc(1, sizeof(*rs));

	rs->base = base;
	rs->res = res;
	rs->cfgp = cfgp;
	rs->sc = sc;
	rs->gs = gs;
	rs->data_dir = xstrdup((*cfgp)->data_dir);
	rs->last_daily = time(NULL);
	atomic_init(&rs->import_done, false);
	log_add_observer(tlsrpt_note_observe, rs->data_dir);
	rs->tick = event_new(base, -1, EV_PERSIST, on_tick, rs);
	event_add(rs->tick, &(struct timeval){ TICK_S, 0 });
	return rs;
}

void
report_service_free(struct report_service *rs)
{
	if (rs == NULL)
		return;
	if (rs->tick)
		event_free(rs->tick);
	job_free(rs->job[JOB_DMARC]);
	job_free(rs->job[JOB_TLSRPT]);
	if (rs->importing)
		pthread_join(rs->importer, NULL);
	config_clear(&rs->import_cfg);
	free(rs->data_dir);
	free(rs);
}

int
report_service_trigger(const char *data_dir, const char *kind, unsigned wait_s)
{
	char dir[4096], path[4200];
	struct stat st;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/reports", data_dir);
	snprintf(path, sizeof(path), "%s/%s.now", dir, kind);
	mkdir(dir, 0750);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fclose(f);
	/* run as root: what we made belongs to the server's user, the owner
	 * of data_dir (SPEC 6.7), or it could not write its day files there */
	if (geteuid() == 0 && stat(data_dir, &st) == 0 &&
	    (chown(dir, st.st_uid, st.st_gid) == -1 || chown(path, st.st_uid, st.st_gid) == -1))
		log_event("warning", "reason=\"cannot give %s to the owner of %s: %s\"", dir, data_dir,
		    strerror(errno));
	for (unsigned i = 0; i < wait_s * 10; i++) {
		if (stat(path, &st) == -1 && errno == ENOENT)
			return 0;
		usleep(100000);
	}
	unlink(path);
	errno = ETIMEDOUT;
	return -1;
}
