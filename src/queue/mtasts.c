/*
 * MTA-STS policy store and lookup (RFC 8461 5.1). Invariants: an entry
 * has at most one fetch in flight and is never evicted while it does;
 * every request is answered exactly once, from the loop, or cancelled;
 * the file of a domain under <data_dir>/mta-sts/ is the last policy
 * fetched and parsed, with its id and expiry, so a restart answers as
 * before (the file is read back through the same parser).
 */
#include "mtasts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dns/answer.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/mtasts_fetch.h"

#define BUCKETS 256
#define LOG_AGAIN 3600		/* seconds before the same domain's failure is logged again */
#define RETRY_FETCH 300		/* seconds before a policy id that failed is fetched again */
#define FILE_MAGIC "postern-mta-sts 1\n"

struct fetchctx;

struct entry {
	struct entry *next;		/* bucket chain */
	char domain[DNS_NAME_TEXT_MAX];	/* lower case, no final dot */
	char id[MTASTS_ID_MAX + 1];	/* of the cached policy */
	char *text;			/* the cached policy (parses), NULL: none */
	size_t len;
	time_t expires;			/* text is in force before this */
	time_t used;			/* last lookup, for eviction */
	time_t logged;			/* last failure logged */
	char failed_id[MTASTS_ID_MAX + 1];	/* the id whose fetch failed last */
	time_t failed_until;		/* not fetched again before this */
	struct fetchctx *fetch;		/* in flight, or NULL */
};

struct fetchctx {
	struct mtasts *s;
	struct entry *e;
	char id[MTASTS_ID_MAX + 1];	/* the TXT id that asked for it */
	struct dns_query *q4, *q6;	/* the policy host's addresses */
	char addrs[MTASTS_FETCH_ADDRS_MAX][INET6_ADDRSTRLEN];
	size_t naddrs;
	bool started;			/* its lookups were sent */
	struct mtasts_req *waiters;	/* answered when it ends */
};

struct mtasts_req {
	struct mtasts_req *next, *prev;	/* every request of s */
	struct mtasts_req *wnext;	/* the next waiter of the same fetch */
	struct mtasts *s;
	struct fetchctx *waiting;	/* the fetch it waits for, or NULL */
	struct dns_query *q;		/* the TXT lookup, or NULL */
	char domain[DNS_NAME_TEXT_MAX];
	bool bad_name;			/* not a name we can look up or file */
	mtasts_cb *cb;
	void *arg;
};

struct mtasts {
	struct event_base *base;
	struct resolver *res;
	char *dir;			/* <data_dir>/mta-sts, or NULL */
	unsigned timeout;
	struct mtasts_fetch *fetcher;
	struct entry *buckets[BUCKETS];
	size_t nentries;
	struct mtasts_req *reqs;
};

static void fetch_end(struct fetchctx *f, const char *body, size_t len, const char *err);

/* ---- the cache ---- */

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

/* A name we may use as a file name: letters, digits, '-', '_' and
 * inner dots (no "..", nothing to climb out of the directory). */
static bool
name_ok(const char *d)
{
	if (d[0] == '\0' || d[0] == '.')
		return false;
	for (const char *p = d; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		    *p == '_' || (*p == '.' && p[1] != '.' && p[1] != '\0')))
			return false;
	return true;
}

static void
entry_drop_policy(struct mtasts *s, struct entry *e, bool unlink_file)
{
	free(e->text);
	e->text = NULL;
	e->len = 0;
	e->id[0] = '\0';
	if (unlink_file && s->dir != NULL) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/%s", s->dir, e->domain);
		unlink(path);
	}
}

/* Reads the domain's file: "postern-mta-sts 1", "id ID", "expires T",
 * an empty line, the policy. Anything else, expired or not parsing: no
 * policy (and the file goes). */
static void
entry_load(struct mtasts *s, struct entry *e, time_t now)
{
	char path[PATH_MAX], *buf, *p, id[MTASTS_ID_MAX + 1];
	struct stat st;
	long long expires;
	int n = 0;
	struct mtasts_policy pol;
	const char *why;

	if (s->dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", s->dir, e->domain);
	if ((buf = durable_slurp(path, &st)) == NULL)
		return;
	if ((size_t)st.st_size > MTASTS_POLICY_MAX + 256 ||
	    strncmp(buf, FILE_MAGIC, strlen(FILE_MAGIC)) != 0 ||
	    sscanf(buf + strlen(FILE_MAGIC), "id %32[A-Za-z0-9]\nexpires %lld\n\n%n", id, &expires,
	    &n) != 2 || n == 0 || expires <= now) {
		free(buf);
		unlink(path);
		return;
	}
	p = buf + strlen(FILE_MAGIC) + n;
	if (mtasts_policy_parse(p, (size_t)st.st_size - (size_t)(p - buf), &pol, &why) != 0) {
		free(buf);
		unlink(path);
		return;
	}
	e->len = (size_t)st.st_size - (size_t)(p - buf);
	e->text = xmalloc(e->len + 1);
	memcpy(e->text, p, e->len);
	e->text[e->len] = '\0';
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->expires = (time_t)expires;
	free(buf);
}

static void
entry_save(struct mtasts *s, struct entry *e)
{
	char path[PATH_MAX], *buf;
	int n;

	if (s->dir == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", s->dir, e->domain);
	n = asprintf(&buf, FILE_MAGIC "id %s\nexpires %lld\n\n%.*s", e->id,
	    (long long)e->expires, (int)e->len, e->text);
	if (n < 0)
		abort();
	/* one small file per fetched policy (once per max_age at most) */
	if (durable_write_file(path, buf, (size_t)n, 0640) == -1)
		log_event("warning", "reason=\"cannot keep the MTA-STS policy of %s in %s: %s\"",
		    e->domain, path, strerror(errno));
	free(buf);
}

/* The least recently used entry without a fetch goes. */
static void
evict_one(struct mtasts *s)
{
	struct entry **victim = NULL;

	for (size_t b = 0; b < BUCKETS; b++)
		for (struct entry **pp = &s->buckets[b]; *pp; pp = &(*pp)->next)
			if ((*pp)->fetch == NULL && (victim == NULL || (*pp)->used < (*victim)->used))
				victim = pp;
	if (victim != NULL) {
		struct entry *e = *victim;
		*victim = e->next;
		free(e->text);
		free(e);
		s->nentries--;
	}
}

static struct entry *
entry_get(struct mtasts *s, const char *domain, time_t now)
{
	unsigned h = hash(domain);
	struct entry *e;

	for (e = s->buckets[h]; e; e = e->next)
		if (strcmp(e->domain, domain) == 0)
			return e;
	if (s->nentries >= MTASTS_CACHE_MAX)
		evict_one(s);
	e = xcalloc(1, sizeof(*e));
	snprintf(e->domain, sizeof(e->domain), "%s", domain);
	entry_load(s, e, now);
	e->next = s->buckets[h];
	s->buckets[h] = e;
	s->nentries++;
	return e;
}

static bool
in_force(const struct entry *e, time_t now)
{
	return e != NULL && e->text != NULL && e->expires > now;
}

/* ---- answers ---- */

static void
req_unlink(struct mtasts_req *r)
{
	struct mtasts *s = r->s;

	if (r->prev)
		r->prev->next = r->next;
	else
		s->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

/* Answers r with e's policy (NULL: none) and frees it. */
static void
answer(struct mtasts_req *r, const struct entry *e)
{
	struct mtasts_policy *p = NULL;
	const char *why;

	if (e != NULL && e->text != NULL) {
		p = xmalloc(sizeof(*p));
		if (mtasts_policy_parse(e->text, e->len, p, &why) != 0 || p->mode == MTASTS_NONE) {
			free(p);
			p = NULL;
		}
	}
	req_unlink(r);
	r->cb(r->arg, p);
	free(p);
	free(r);
}

/* A failure worth telling the administrator, at most once an hour per
 * domain (every delivery to a domain with a broken record would repeat
 * it). */
static void __attribute__((format(printf, 3, 4)))
log_ignored(struct entry *e, time_t now, const char *fmt, ...)
{
	char why[512], q[LOG_VALUE_MAX * 2];
	va_list ap;

	if (e->logged != 0 && now - e->logged < LOG_AGAIN)
		return;
	e->logged = now;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_quote(q, sizeof(q), why, strlen(why));
	if (in_force(e, now))
		log_event("mta_sts", "domain=%s result=ignored reason=%s kept=%s", e->domain, q, e->id);
	else
		log_event("mta_sts", "domain=%s result=ignored reason=%s", e->domain, q);
}

/* ---- fetching ---- */

static void
on_fetched(void *arg, const char *body, size_t len, const char *err)
{
	fetch_end(arg, body, len, err);
}

static void
addr_done(struct fetchctx *f)
{
	char host[DNS_NAME_TEXT_MAX + 16];
	const char *addrs[MTASTS_FETCH_ADDRS_MAX];

	if (f->q4 != NULL || f->q6 != NULL)
		return;
	snprintf(host, sizeof(host), "mta-sts.%s", f->e->domain);
	if (f->naddrs == 0) {
		char why[sizeof(host) + 32];
		snprintf(why, sizeof(why), "no address for %s", host);
		fetch_end(f, NULL, 0, why);
		return;
	}
	for (size_t i = 0; i < f->naddrs; i++)
		addrs[i] = f->addrs[i];
	mtasts_fetch_get(f->s->fetcher, host, addrs, f->naddrs, on_fetched, f);
}

static void
add_addrs(struct fetchctx *f, const struct dns_answer *ans)
{
	if (ans->status != DNS_OK)
		return;
	for (size_t i = 0; i < ans->count && f->naddrs < MTASTS_FETCH_ADDRS_MAX; i++)
		if (ans->len[i] == 4 || ans->len[i] == 16)
			inet_ntop(ans->len[i] == 4 ? AF_INET : AF_INET6, ans->data[i],
			    f->addrs[f->naddrs++], INET6_ADDRSTRLEN);
}

static void
on_addr4(void *arg, const struct dns_answer *ans)
{
	struct fetchctx *f = arg;

	f->q4 = NULL;
	add_addrs(f, ans);
	addr_done(f);
}

static void
on_addr6(void *arg, const struct dns_answer *ans)
{
	struct fetchctx *f = arg;

	f->q6 = NULL;
	add_addrs(f, ans);
	addr_done(f);
}

/* r waits for e's policy with this id, fetching it unless already. */
static void
wait_fetch(struct mtasts *s, struct mtasts_req *r, struct entry *e, const char *id)
{
	struct fetchctx *f = e->fetch;
	char host[DNS_NAME_TEXT_MAX + 16];
	unsigned ms = s->timeout * 1000;

	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		f->s = s;
		f->e = e;
		snprintf(f->id, sizeof(f->id), "%s", id);
		e->fetch = f;
	}
	r->waiting = f;
	r->wnext = f->waiters;
	f->waiters = r;
	if (f->started)
		return;		/* already on its way: r waits with the others */
	f->started = true;
	snprintf(host, sizeof(host), "mta-sts.%s", e->domain);
	f->q4 = dns_query(s->res, host, DNS_TYPE_A, ms, on_addr4, f);
	f->q6 = dns_query(s->res, host, DNS_TYPE_AAAA, ms, on_addr6, f);
}

static void
fetch_end(struct fetchctx *f, const char *body, size_t len, const char *err)
{
	struct mtasts *s = f->s;
	struct entry *e = f->e;
	time_t now = time(NULL);
	struct mtasts_policy pol;
	const char *why = err;
	struct mtasts_req *r;
	bool fresh = false;

	if (body != NULL && mtasts_policy_parse(body, len, &pol, &why) == 0) {
		char mx[512] = "", q[LOG_VALUE_MAX];
		size_t o = 0;

		free(e->text);
		e->text = xmalloc(len + 1);
		memcpy(e->text, body, len);
		e->text[len] = '\0';
		e->len = len;
		snprintf(e->id, sizeof(e->id), "%s", f->id);
		e->expires = now + (time_t)pol.max_age;
		e->logged = 0;
		e->failed_id[0] = '\0';
		entry_save(s, e);
		for (size_t i = 0; i < pol.nmx && o + 1 < sizeof(mx); i++)
			o += (size_t)snprintf(mx + o, sizeof(mx) - o, "%s%s", i ? " " : "", pol.mx[i]);
		log_event("mta_sts", "domain=%s result=fetched id=%s mode=%s max_age=%u mx=%s",
		    e->domain, e->id, mtasts_mode_name(pol.mode), pol.max_age,
		    log_quote(q, sizeof(q), mx, strlen(mx)));
		fresh = true;
	} else {
		log_ignored(e, now, "policy id %s: %s", f->id, why ? why : "unreadable");
		/* every delivery to the domain would fetch it again */
		snprintf(e->failed_id, sizeof(e->failed_id), "%s", f->id);
		e->failed_until = now + RETRY_FETCH;
	}
	e->fetch = NULL;
	/* one at a time, so that a callback cancelling another waiter
	 * finds it still on the list */
	while ((r = f->waiters) != NULL) {
		f->waiters = r->wnext;
		r->waiting = NULL;
		answer(r, fresh || in_force(e, now) ? e : NULL);
	}
	free(f);
}

/* ---- lookups ---- */

static void
on_txt(void *arg, const struct dns_answer *ans)
{
	struct mtasts_req *r = arg;
	struct mtasts *s = r->s;
	time_t now = time(NULL);
	char id[MTASTS_ID_MAX + 1] = "";
	const char *why = NULL;
	size_t nsts = 0;
	struct entry *e;

	r->q = NULL;
	if (r->bad_name) {
		answer(r, NULL);
		return;
	}
	e = entry_get(s, r->domain, now);
	e->used = now;
	if (e->text != NULL && e->expires <= now)
		entry_drop_policy(s, e, true);	/* 5.1: an expired policy is no policy */
	if (ans->status == DNS_OK) {
		/* 3.1: records not starting with v=STSv1 do not count; the
		 * rest must be exactly one valid record */
		for (size_t i = 0; i < ans->count; i++) {
			size_t tl;
			char *t = dns_txt_join(ans->data[i], (size_t)ans->len[i], &tl);
			if (t != NULL && mtasts_txt_is_sts(t, tl) && nsts++ == 0 &&
			    mtasts_txt_parse(t, tl, id, &why) != 0)
				id[0] = '\0';
			free(t);
		}
		if (nsts > 1) {
			id[0] = '\0';
			why = "several v=STSv1 records";
		}
	}
	if (id[0] != '\0') {
		if (in_force(e, now) && strcmp(e->id, id) == 0)
			answer(r, e);
		else if (strcmp(e->failed_id, id) == 0 && now < e->failed_until)
			answer(r, in_force(e, now) ? e : NULL);	/* failed a moment ago */
		else
			wait_fetch(s, r, e, id);	/* new, changed, or none cached */
		return;
	}
	if (nsts > 0)
		log_ignored(e, now, "_mta-sts.%s: %s", e->domain, why ? why : "invalid record");
	/* 5.1: no usable record does not remove a cached policy */
	answer(r, in_force(e, now) ? e : NULL);
}

struct mtasts_req *
mtasts_get(struct mtasts *s, const char *domain, mtasts_cb *cb, void *arg)
{
	struct mtasts_req *r = xcalloc(1, sizeof(*r));
	char qname[DNS_NAME_TEXT_MAX + 16];

	r->s = s;
	r->cb = cb;
	r->arg = arg;
	r->next = s->reqs;
	if (r->next)
		r->next->prev = r;
	s->reqs = r;
	if (!dns_name_key(domain, r->domain, sizeof(r->domain)) || !name_ok(r->domain))
		r->bad_name = true;
	snprintf(qname, sizeof(qname), "_mta-sts.%s", r->bad_name ? "invalid" : r->domain);
	r->q = dns_query(s->res, qname, DNS_TYPE_TXT, s->timeout * 1000, on_txt, r);
	return r;
}

void
mtasts_cancel(struct mtasts_req *r)
{
	if (r == NULL)
		return;
	dns_cancel(r->q);
	if (r->waiting != NULL)
		for (struct mtasts_req **pp = &r->waiting->waiters; *pp; pp = &(*pp)->wnext)
			if (*pp == r) {
				*pp = r->wnext;
				break;
			}
	req_unlink(r);
	free(r);
}

struct mtasts *
mtasts_new(struct event_base *base, struct resolver *res, const char *data_dir, unsigned timeout)
{
	struct mtasts *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->res = res;
	s->timeout = timeout ? timeout : 30;
	if (data_dir != NULL) {
		s->dir = xasprintf("%s/mta-sts", data_dir);
		if (durable_mkdirs(s->dir, 0750) == -1) {
			log_event("error", "reason=\"cannot create %s: %s\"", s->dir, strerror(errno));
			free(s->dir);
			free(s);
			return NULL;
		}
	}
	if ((s->fetcher = mtasts_fetch_new(base, MTASTS_FETCHES_MAX, s->timeout)) == NULL) {
		log_event("error", "reason=\"MTA-STS: cannot create a pipe: %s\"", strerror(errno));
		free(s->dir);
		free(s);
		return NULL;
	}
	return s;
}

void
mtasts_free(struct mtasts *s)
{
	if (s == NULL)
		return;
	/* first: no fetch callback may come after this */
	mtasts_fetch_free(s->fetcher);
	for (size_t b = 0; b < BUCKETS; b++)
		while (s->buckets[b] != NULL) {
			struct entry *e = s->buckets[b];
			s->buckets[b] = e->next;
			if (e->fetch != NULL) {
				dns_cancel(e->fetch->q4);
				dns_cancel(e->fetch->q6);
				free(e->fetch);
			}
			free(e->text);
			free(e);
		}
	while (s->reqs != NULL) {
		struct mtasts_req *r = s->reqs;
		s->reqs = r->next;
		dns_cancel(r->q);
		free(r);
	}
	free(s->dir);
	free(s);
}
