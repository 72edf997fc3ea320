/*
 * Queries live in a list owned by the resolver; a query
 * completes once (answer, timeout or failure) and is freed right after
 * its callback. Cancelling marks the query so a late answer is dropped.
 * Queries for the same name and type while one is on its way share it (a
 * lookup, libunbound's callback argument): a message asks for the same
 * domain several times within milliseconds (its URLs, HELO, sender), and
 * each trip through libunbound's worker thread and pipes costs some
 * twenty system calls. A lookup lives while a query waits for it, or,
 * on the stub (which cannot cancel one question), until its answer
 * comes and finds it orphaned.
 *
 * Two ways out: libunbound (recursion, remote forwarders, DNSSEC) or,
 * with forwarders on this host only and no DNSSEC to validate, the c-ares
 * stub (dns/stub.h). libunbound costs some 37 us of its worker thread a
 * question plus the hand-off (pipes, wake-ups); on the pipeline bench
 * that thread took a third of postern's CPU, for answers a local
 * forwarder has already worked out.
 */
#include "resolver.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#include "dns/answer.h"
#include "dns/cache.h"
#include "dns/reply.h"
#include "dns/stub.h"
#include "lib/clock.h"
#include "lib/xmalloc.h"

#define CACHE_SLOTS 8192
#define LOOKUP_BUCKETS 1024
#define KEY_MAX (DNS_NAME_TEXT_MAX + 2)

/* One question given to libunbound, and the queries waiting for it. */
struct lookup {
	struct lookup *hnext;	/* in the resolver's table, when keyed */
	struct resolver *r;
	int async_id;		/* libunbound's */
	struct dns_query *waiters, *last;	/* in the order they came */
	bool keyed;		/* in the table (a name dns_name_key takes) */
	bool answering;		/* its waiters' callbacks are running */
	bool orphaned;		/* on the stub, no waiter left: freed when answered */
	int type;
	size_t bucket;
	char key[KEY_MAX];	/* lower case, no final dot */
	char name[];		/* as the first query asked */
};

struct dns_query {
	struct dns_query *next, *prev;
	struct resolver *r;
	struct lookup *lk;	/* waited for, or NULL */
	struct dns_query *lnext, *lprev;	/* lk's waiters */
	struct event *timer;	/* deadline, or immediate failure */
	dns_cb *cb;
	void *arg;
	bool failed;		/* submission refused: fail from the timer */
	bool no_such_name;	/* a name kept out of the DNS: NXDOMAIN from the timer */
	struct dns_cached *hit;	/* answered from the cache: from the timer */
};

struct resolver {
	struct event_base *base;
	struct ub_ctx *ctx;	/* NULL when the stub asks */
	struct event *ev;	/* readable ub_fd */
	struct dns_stub *stub;
	struct dns_query *queries;
	unsigned long count, lookups_made;
	struct dns_cache *cache;
	struct lookup *lookups[LOOKUP_BUCKETS];	/* keyed ones, by name and type */
};

static size_t
bucket_of(const char *key, int type)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ (unsigned)type) * 1099511628211ULL;
	return (size_t)(h % LOOKUP_BUCKETS);
}

/* The lookup on its way for key/type, or NULL. */
static struct lookup *
lookup_find(struct resolver *r, const char *key, int type, size_t bucket)
{
	for (struct lookup *lk = r->lookups[bucket]; lk; lk = lk->hnext)
		if (lk->type == type && strcmp(lk->key, key) == 0)
			return lk;
	return NULL;
}

/* Out of the table: a later query for the name starts its own. */
static void
lookup_unkey(struct lookup *lk)
{
	struct lookup **pp;

	if (!lk->keyed)
		return;
	for (pp = &lk->r->lookups[lk->bucket]; *pp; pp = &(*pp)->hnext)
		if (*pp == lk) {
			*pp = lk->hnext;
			break;
		}
	lk->keyed = false;
}

/* q stops waiting for its lookup; the last one to stop cancels it. */
static void
lookup_leave(struct dns_query *q)
{
	struct lookup *lk = q->lk;

	if (lk == NULL)
		return;
	if (q->lprev)
		q->lprev->lnext = q->lnext;
	else
		lk->waiters = q->lnext;
	if (q->lnext)
		q->lnext->lprev = q->lprev;
	else
		lk->last = q->lprev;
	q->lk = NULL;
	q->lnext = q->lprev = NULL;
	if (lk->waiters == NULL && !lk->answering) {
		lookup_unkey(lk);
		if (lk->r->stub != NULL) {
			lk->orphaned = true;
			return;
		}
		ub_cancel(lk->r->ctx, lk->async_id);
		free(lk);
	}
}

static void
lookup_join(struct lookup *lk, struct dns_query *q)
{
	q->lk = lk;
	q->lnext = NULL;
	q->lprev = lk->last;
	if (lk->last)
		lk->last->lnext = q;
	else
		lk->waiters = q;
	lk->last = q;
}

static void
unlink_query(struct dns_query *q)
{
	struct resolver *r = q->r;

	lookup_leave(q);
	if (q->prev)
		q->prev->next = q->next;
	else
		r->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
	if (q->timer)
		event_free(q->timer);
	dns_cached_free(q->hit);
	free(q);
}

static void
complete(struct dns_query *q, const struct dns_answer *ans)
{
	dns_cb *cb = q->cb;
	void *arg = q->arg;

	unlink_query(q);
	cb(arg, ans);
}

/* The same for a cached answer, which lives in q until the callback
 * returned. */
static void
complete_cached(struct dns_query *q, const struct dns_answer *ans)
{
	struct dns_cached *hit = q->hit;

	q->hit = NULL;
	complete(q, ans);
	dns_cached_free(hit);
}

/*
 * RFC 2308 5: a negative answer is cached for its SOA's minimum, and one
 * without an SOA in its authority section must not be cached. libunbound
 * then reports as the result's TTL the smallest TTL field of the records
 * it has, its OPT record's included (the DO bit: 32768 s).
 */
static bool
negative_has_soa(const struct ub_result *res)
{
	return res->answer_len > 0 && dns_packet_has_soa(res->answer_packet, (size_t)res->answer_len);
}

/* Every waiter gets the answer. A callback may cancel another waiter or
 * ask again (a new lookup, or the cache): the list is read afresh each
 * time and the lookup stays until the end. */
static void
answer_waiters(struct lookup *lk, const struct dns_answer *ans)
{
	struct dns_query *q;

	lookup_unkey(lk);
	lk->answering = true;
	while ((q = lk->waiters) != NULL) {
		lookup_leave(q);
		complete(q, ans);
	}
	free(lk);
}

static void
on_answer(void *mydata, int err, struct ub_result *res)
{
	struct lookup *lk = mydata;
	struct dns_answer ans = { .status = DNS_SERVFAIL };

	if (err == 0 && res != NULL) {
		ans.rcode = res->rcode;
		ans.secure = res->secure != 0;
		if (res->bogus)
			ans.status = DNS_SERVFAIL;
		else if (res->havedata) {
			size_t n = 0;
			while (res->data[n] != NULL)
				n++;
			ans.status = DNS_OK;
			ans.count = n;
			ans.data = (const char *const *)res->data;
			ans.len = res->len;
		} else if (res->nxdomain)
			ans.status = DNS_NXDOMAIN;
		else if (res->rcode == 0)
			ans.status = DNS_NODATA;
		/* a bogus answer's TTL cannot be trusted either, nor a
		 * negative one's without an SOA */
		if (!res->bogus && res->ttl > 0 && (res->havedata || negative_has_soa(res)))
			dns_cache_put(lk->r->cache, lk->name, lk->type, &ans, (unsigned)res->ttl,
			    clock_mono_sec());
	}
	answer_waiters(lk, &ans);
	if (res != NULL)
		ub_resolve_free(res);
}

/* The stub's reply, read as libunbound's result would give it. */
static void
on_stub_answer(void *arg, enum dns_stub_result result, const char *msg, size_t len)
{
	struct lookup *lk = arg;
	struct dns_answer ans = { .status = DNS_SERVFAIL, .rcode = 2 };
	struct dns_reply rep = { 0 };

	if (lk->orphaned || result == DNS_STUB_GONE) {
		/* gone: every waiter left (resolver_free cancels them all first) */
		free(lk);
		return;
	}
	if (result == DNS_STUB_TIMEOUT) {
		ans.status = DNS_TIMEOUT;
		ans.rcode = 0;	/* as from the query's own deadline */
	}
	else if (result == DNS_STUB_REPLY && dns_reply_parse(msg, len, lk->type, &rep) == 0) {
		ans.rcode = rep.rcode;
		if (rep.rcode == 0 && rep.count > 0) {
			ans.status = DNS_OK;
			ans.count = rep.count;
			ans.data = (const char *const *)rep.data;
			ans.len = rep.len;
		} else if (rep.rcode == 3)
			ans.status = DNS_NXDOMAIN;
		else if (rep.rcode == 0)
			ans.status = DNS_NODATA;
		/* RFC 2308 5 as for libunbound's answers */
		if (ans.status != DNS_SERVFAIL && rep.ttl > 0 &&
		    (ans.status == DNS_OK || rep.soa))
			dns_cache_put(lk->r->cache, lk->name, lk->type, &ans, rep.ttl,
			    clock_mono_sec());
	}
	answer_waiters(lk, &ans);
	dns_reply_clear(&rep);
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;

	ub_process(r->ctx);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;
	struct dns_answer ans = { .status = q->failed ? DNS_SERVFAIL : DNS_TIMEOUT };

	if (q->no_such_name) {
		ans.status = DNS_NXDOMAIN;
		ans.rcode = 3;
	}

	if (q->hit != NULL) {
		/* complete() frees q and with it the copy: answer from a copy
		 * of the struct, whose pointers stay valid until then */
		ans = *dns_cached_answer(q->hit);
		complete_cached(q, &ans);
		return;
	}
	lookup_leave(q);
	complete(q, &ans);
}

struct resolver *
resolver_new(struct event_base *base, const struct resolver_options *opt, char **err)
{
	struct resolver *r = xcalloc(1, sizeof(*r));
	int rc;

	r->base = base;
	r->cache = dns_cache_new(CACHE_SLOTS);
	if (!opt->dnssec && !opt->libunbound_only &&
	    dns_stub_suits(opt->forwarders, opt->nforwarders)) {
		if ((r->stub = dns_stub_new(base, opt->forwarders, opt->nforwarders, err)) == NULL) {
			dns_cache_free(r->cache);
			free(r);
			return NULL;
		}
		return r;
	}
	if ((r->ctx = ub_ctx_create()) == NULL) {
		dns_cache_free(r->cache);
		*err = xstrdup("libunbound: cannot create context");
		free(r);
		return NULL;
	}
	/* Threads, not a forked process: the answers come back through
	 * ub_fd() either way. */
	if ((rc = ub_ctx_async(r->ctx, 1)) != 0)
		goto fail;
	/* A local forwarder on 127.0.0.1 is the recommended setup. */
	if ((rc = ub_ctx_set_option(r->ctx, "do-not-query-localhost:", "no")) != 0)
		goto fail;
	/* libunbound answers 127.in-addr.arpa itself ("localhost"); ask the
	 * real DNS instead, so loopback clients get the PTR the resolver
	 * publishes (test set-ups use 127.0.0.x clients, SPEC 8). */
	if ((rc = ub_ctx_set_option(r->ctx, "local-zone:", "127.in-addr.arpa. transparent")) != 0)
		goto fail;
	/* Same for the RFC 6761 "test." names libunbound blocks by default:
	 * test networks name their hosts there and must be resolvable. */
	if ((rc = ub_ctx_set_option(r->ctx, "local-zone:", "test. transparent")) != 0)
		goto fail;
	/* libunbound also answers the reverse zones of private and
	 * documentation networks itself (NXDOMAIN, RFC 6303). Behind a
	 * forwarder that is the forwarder's call: it may publish them (a
	 * LAN's PTRs; test set-ups use 192.0.2/24 and 2001:db8::/32, SPF's
	 * ptr and %{p} ask there), and it filters them when it does not. */
	if (opt->nforwarders > 0 &&
	    (rc = ub_ctx_set_option(r->ctx, "unblock-lan-zones:", "yes")) != 0)
		goto fail;
	for (size_t i = 0; i < opt->nforwarders; i++) {
		char addr[HOSTPORT_HOST_MAX + 8];
		snprintf(addr, sizeof(addr), "%s@%u", opt->forwarders[i].host,
		    opt->forwarders[i].port);
		if ((rc = ub_ctx_set_fwd(r->ctx, addr)) != 0)
			goto fail;
	}
	/* An isolated network's own root (and the tests', which never
	 * send a packet past loopback). */
	if (opt->root_hints_file != NULL &&
	    (rc = ub_ctx_set_option(r->ctx, "root-hints:", opt->root_hints_file)) != 0)
		goto fail;
	/* Without trust anchors libunbound's validator (the default
	 * "validator iterator") can prove nothing and only costs: every
	 * answer would pass through it. */
	if (!opt->dnssec && (rc = ub_ctx_set_option(r->ctx, "module-config:", "iterator")) != 0)
		goto fail;
	if (opt->dnssec) {
		const char *ta = opt->trust_anchor_file ? opt->trust_anchor_file :
		    "/usr/share/dns/root.key";
		if ((rc = ub_ctx_add_ta_file(r->ctx, ta)) != 0)
			goto fail;
	}
	r->ev = event_new(base, ub_fd(r->ctx), EV_READ | EV_PERSIST, on_readable, r);
	event_add(r->ev, NULL);
	return r;
fail:
	*err = xasprintf("libunbound: %s", ub_strerror(rc));
	ub_ctx_delete(r->ctx);
	dns_cache_free(r->cache);
	free(r);
	return NULL;
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	while (r->queries != NULL)
		dns_cancel(r->queries);
	if (r->stub != NULL)
		dns_stub_free(r->stub);	/* frees the orphaned lookups */
	else {
		event_free(r->ev);
		ub_ctx_delete(r->ctx);
	}
	dns_cache_free(r->cache);
	free(r);
}

struct dns_query *
dns_query(struct resolver *r, const char *name, int type, unsigned timeout_ms,
    dns_cb *cb, void *arg)
{
	size_t nlen = strlen(name);
	struct dns_query *q = xcalloc(1, sizeof(*q));
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct lookup *lk;
	char key[KEY_MAX];
	bool keyed = false;
	size_t bucket = 0;
	int rc;

	q->r = r;
	q->cb = cb;
	q->arg = arg;
	q->next = r->queries;
	if (q->next)
		q->next->prev = q;
	r->queries = q;
	r->count++;
	q->timer = evtimer_new(r->base, on_timer, q);
	if ((q->hit = dns_cache_get(r->cache, name, type, clock_mono_sec())) != NULL) {
		/* never call back from inside dns_query */
		struct timeval zero = { 0, 0 };
		evtimer_add(q->timer, &zero);
		return q;
	}
	if (dns_name_key(name, key, sizeof(key))) {
		keyed = true;
		bucket = bucket_of(key, type);
		if ((lk = lookup_find(r, key, type, bucket)) != NULL) {
			/* the same question is on its way: wait for it */
			lookup_join(lk, q);
			if (timeout_ms > 0)
				evtimer_add(q->timer, &tv);
			return q;
		}
	}
	lk = xcalloc(1, sizeof(*lk) + nlen + 1);
	lk->r = r;
	lk->type = type;
	memcpy(lk->name, name, nlen + 1);
	if (r->stub != NULL)
		rc = dns_stub_send(r->stub, name, type, on_stub_answer, lk);
	else
		rc = ub_resolve_async(r->ctx, name, type, 1 /* IN */, lk, on_answer,
		    &lk->async_id);
	if (rc != 0) {
		/* Never call back from inside dns_query: the caller may not
		 * be ready for it. Fail from the loop instead. */
		free(lk);
		if (r->stub != NULL && rc == DNS_STUB_NO_SUCH_NAME)
			q->no_such_name = true;
		else
			q->failed = true;
		tv.tv_sec = 0;
		tv.tv_usec = 0;
		evtimer_add(q->timer, &tv);
		return q;
	}
	r->lookups_made++;
	if (keyed) {
		memcpy(lk->key, key, sizeof(lk->key));
		lk->bucket = bucket;
		lk->keyed = true;
		lk->hnext = r->lookups[bucket];
		r->lookups[bucket] = lk;
	}
	lookup_join(lk, q);
	if (timeout_ms > 0)
		evtimer_add(q->timer, &tv);
	return q;
}

void
dns_cancel(struct dns_query *q)
{
	if (q == NULL)
		return;
	unlink_query(q);
}

unsigned long
resolver_queries(const struct resolver *r)
{
	return r->count;
}

unsigned long
resolver_lookups(const struct resolver *r)
{
	return r->lookups_made;
}
