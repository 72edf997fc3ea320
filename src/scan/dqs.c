/*
 * ZRD and HBL for one message (dqs.h). Items are deduplicated by what is
 * asked (the registered domain, the hash) and kept in the order found,
 * which is the order of priority: the envelope and headers come first.
 * An error answer is never a listing (SPEC 4): it goes to the zone's
 * health (event=dnsbl_error, the alert) and is otherwise ignored.
 */
#include "dqs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/health.h"
#include "lib/pslist.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "scan/bodyaddr.h"
#include "scan/decode.h"
#include "scan/hdraddr.h"
#include "scan/wallet.h"

#define DQS_CAP_DEFAULT 64

struct dqs {
	const struct spamhaus *sh;
	bool zrd, hbl;			/* which zones this message asks */
	unsigned cap;
	struct dqs_lookup *lk;
	size_t n, alloc;
	unsigned count[DQS_ITEM_COUNT];	/* items kept, per kind */
	unsigned dropped[DQS_ITEM_COUNT];	/* over the cap */
	unsigned files;			/* attachments seen, for unnamed ones */
	void (*done)(void *);
	void *arg;
};

struct dqs *
dqs_new(const struct spamhaus *sh, unsigned cap)
{
	struct dqs *d;

	/* SPEC 4.1: without a key the three zones are not asked at all */
	if (sh == NULL || !spamhaus_dqs(sh))
		return NULL;
	d = xcalloc(1, sizeof(*d));
	d->sh = sh;
	d->zrd = true;
	d->hbl = spamhaus_hbl_on(sh);
	d->cap = cap ? cap : DQS_CAP_DEFAULT;
	return d;
}

void
dqs_free(struct dqs *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		dns_cancel(d->lk[i].q);
	free(d->lk);
	free(d);
}

/* A new item unless one of its kind asks the same; NULL when it is a
 * duplicate or over the cap (counted). */
static struct dqs_lookup *
add(struct dqs *d, enum dqs_item item, const char *key)
{
	struct dqs_lookup *l;

	for (size_t i = 0; i < d->n; i++)
		if (d->lk[i].item == item &&
		    strcmp(item == DQS_ZRD ? d->lk[i].name : d->lk[i].hash, key) == 0)
			return NULL;
	if (d->count[item] >= d->cap) {
		d->dropped[item]++;
		return NULL;
	}
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 16;
		d->lk = xrealloc(d->lk, d->alloc * sizeof(*d->lk));
	}
	l = &d->lk[d->n++];
	memset(l, 0, sizeof(*l));
	l->d = d;
	l->item = item;
	l->state = DQS_SKIPPED;
	d->count[item]++;
	return l;
}

/* ---- ZRD ---- */

static void
zrd_registered(struct dqs *d, const char *reg)
{
	char qname[DNSBL_NAME_MAX * 2];
	struct dqs_lookup *l;

	/* only what the zone can be asked: no IP, a host name */
	if (dnsbl_domain_name(reg, strlen(reg), "z", qname, sizeof(qname)) == -1)
		return;
	if ((l = add(d, DQS_ZRD, reg)) == NULL)
		return;
	snprintf(l->name, sizeof(l->name), "%s", reg);
	snprintf(l->what, sizeof(l->what), "%s", reg);
}

void
dqs_domain(struct dqs *d, const char *name)
{
	char lower[URL_HOST_MAX];
	const char *reg;
	size_t len;

	if (d == NULL || !d->zrd || name == NULL || name[0] == '\0' || name[0] == '[')
		return;
	len = strlen(name);
	if (len >= sizeof(lower))
		return;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if (len > 0 && lower[len - 1] == '.')
		lower[--len] = '\0';
	reg = pslist_registrable(lower);
	zrd_registered(d, reg != NULL ? reg : lower);
}

struct rr {
	size_t idx;
	unsigned rank, group;
};

static int
rr_cmp(const void *a, const void *b)
{
	const struct rr *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void
dqs_urls(struct dqs *d, const struct url_set *u)
{
	struct rr *order;
	unsigned *per = NULL, maxg = 0;
	size_t n = 0;

	if (d == NULL || !d->zrd || u->n == 0)
		return;
	for (size_t i = 0; i < u->n; i++)
		if (u->items[i].group > maxg)
			maxg = u->items[i].group;
	per = xcalloc((size_t)maxg + 1, sizeof(*per));
	order = xmalloc(u->n * sizeof(*order));
	/* one item per registered domain (its first), ranked within its part */
	for (size_t i = 0; i < u->n; i++) {
		const struct url_item *it = &u->items[i];
		if (it->kind == URL_ITEM_IP || !it->new_reg)
			continue;
		order[n++] = (struct rr){ i, per[it->group]++, it->group };
	}
	qsort(order, n, sizeof(*order), rr_cmp);
	for (size_t k = 0; k < n; k++) {
		const struct url_item *it = &u->items[order[k].idx];
		zrd_registered(d, it->host + it->reg);
	}
	free(order);
	free(per);
}

/* ---- HBL ---- */

void
dqs_address(struct dqs *d, const char *addr)
{
	char hash[HBL_HASH_MAX], what[URL_DETAIL_MAX];
	struct dqs_lookup *l;
	size_t len;

	if (d == NULL || !d->hbl || addr == NULL || (len = strlen(addr)) == 0)
		return;
	if (!hbl_email_hash(addr, len, hash))
		return;
	if ((l = add(d, DQS_EMAIL, hash)) == NULL)
		return;
	/* the address as found (lower-cased), not as hashed: people
	 * recognise what they were sent */
	for (size_t i = 0; i <= len && i < sizeof(what); i++)
		what[i] = (char)tolower((unsigned char)addr[i]);
	what[sizeof(what) - 1] = '\0';
	snprintf(l->what, sizeof(l->what), "%s", what);
	snprintf(l->hash, sizeof(l->hash), "%s", hash);
}

void
dqs_headers(struct dqs *d, const char *hdrs, size_t len)
{
	size_t pos = 0, nl, vl;
	const char *name, *value;
	char addr[HBL_ADDR_MAX + 64];

	if (d == NULL || !d->hbl)
		return;
	while (mime_header_next(hdrs, len, &pos, &name, &nl, &value, &vl))
		if ((nl == 4 && strncasecmp(name, "From", 4) == 0) ||
		    (nl == 8 && strncasecmp(name, "Reply-To", 8) == 0))
			if (scan_address_spec(value, vl, addr, sizeof(addr)))
				dqs_address(d, addr);
}

void
dqs_text(struct dqs *d, const char *text, size_t len)
{
	char addr[BODYADDR_MAX], hash[HBL_HASH_MAX];
	struct wallet w;
	size_t pos = 0;

	if (d == NULL || !d->hbl)
		return;
	while (bodyaddr_next(text, len, &pos, addr))
		dqs_address(d, addr);
	pos = 0;
	while (wallet_next(text, len, &pos, &w)) {
		struct dqs_lookup *l;
		hbl_cw_hash(text + w.off, w.len, w.lower, hash);
		if ((l = add(d, DQS_CW, hash)) == NULL)
			continue;
		snprintf(l->hash, sizeof(l->hash), "%s", hash);
		snprintf(l->what, sizeof(l->what), "%.*s", (int)w.len, text + w.off);
	}
}

/* The part's file name (RFC 2183 filename, else the RFC 2045 name
 * parameter), RFC 2047-decoded, into out; false when it has none. */
static bool
file_name(const struct mime_part *p, char *out, size_t outlen)
{
	const char *v;
	size_t vl;
	char raw[URL_DETAIL_MAX], flat[URL_DETAIL_MAX * 2];
	size_t n;

	if (mime_header_find(p->headers, p->headers_len, "Content-Disposition", &v, &vl) &&
	    mime_param(v, vl, "filename", raw, sizeof(raw)))
		goto found;
	if (mime_header_find(p->headers, p->headers_len, "Content-Type", &v, &vl) &&
	    mime_param(v, vl, "name", raw, sizeof(raw)))
		goto found;
	return false;
found:
	n = rfc2047_decode(raw, strlen(raw), flat, sizeof(flat) - 1);
	if (n >= outlen) {
		n = outlen - 1;	/* a name is shown, never parsed: cut is fine, */
		while (n > 0 && ((unsigned char)flat[n] & 0xc0) == 0x80)
			n--;	/* between UTF-8 characters */
	}
	memcpy(out, flat, n);
	out[n] = '\0';
	return n > 0;
}

void
dqs_part(struct dqs *d, const struct mime_part *p, bool incomplete)
{
	char name[URL_DETAIL_MAX], hash[HBL_HASH_MAX];
	bool named;
	struct hbl_file *f;
	struct dqs_lookup *l;
	enum hbl_encoding enc;

	if (d == NULL || !d->hbl)
		return;
	named = file_name(p, name, sizeof(name));
	/* the message's own text is no attachment; a named or attached
	 * text part is (SPEC 4.1: each decoded attachment) */
	if (!p->attachment && !named && strcmp(p->type, "text") == 0)
		return;
	d->files++;
	if (p->body_len == 0 || incomplete)
		return;
	if (d->count[DQS_FILE] >= d->cap) {
		d->dropped[DQS_FILE]++;	/* past the cap: not even hashed */
		return;
	}
	if (!named)
		snprintf(name, sizeof(name), "attachment %u (%s/%s)", d->files, p->type, p->subtype);
	enc = p->encoding == ENC_BASE64 ? HBL_ENC_BASE64 : p->encoding == ENC_QP ? HBL_ENC_QP :
	    HBL_ENC_RAW;
	f = hbl_file_begin();
	hbl_file_body(f, p->body, p->body_len, enc);
	hbl_file_end(f, hash);
	if ((l = add(d, DQS_FILE, hash)) == NULL)
		return;
	snprintf(l->hash, sizeof(l->hash), "%s", hash);
	snprintf(l->what, sizeof(l->what), "%s", name);
}

/* ---- lookups ---- */

bool
dqs_capped(const struct dqs *d)
{
	if (d == NULL)
		return false;
	for (int i = 0; i < DQS_ITEM_COUNT; i++)
		if (d->dropped[i] > 0)
			return true;
	return false;
}

static enum dnsbl_kind
item_kind(enum dqs_item item)
{
	return item == DQS_ZRD ? DNSBL_KIND_ZRD : DNSBL_KIND_HBL;
}

static void
on_answer(void *arg, const struct dns_answer *ans)
{
	struct dqs_lookup *l = arg;
	struct dqs *d = l->d;
	struct dnsbl_health *h = d->sh->health;
	enum dnsbl_kind kind = item_kind(l->item);

	l->q = NULL;
	switch (ans->status) {
	case DNS_OK:
		l->state = DQS_DONE;
		dnsbl_verdict_of(kind, ans->data, ans->len, ans->count, &l->v);
		if (l->v.code == DNSBL_ERROR && h != NULL)
			health_error(h, kind, l->what, l->v.text);
		else if (h != NULL)
			health_answer_ok(h, kind);
		else if (l->v.code == DNSBL_ERROR)
			/* postern scan: no health watch, said here once */
			log_event("dnsbl_error", "zone=%s code=%s", dnsbl_kind_display(kind),
			    l->v.text);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		l->state = DQS_DONE;
		if (h != NULL)
			health_answer_ok(h, kind);
		break;
	case DNS_TIMEOUT:
		l->state = DQS_TIMEOUT;
		break;
	case DNS_SERVFAIL:
		l->state = DQS_FAILED;
		break;
	}
	d->done(d->arg);
}

static const char *const sub[DQS_ITEM_COUNT] = {
	[DQS_EMAIL] = "_email", [DQS_FILE] = "_file", [DQS_CW] = "_cw",
};

unsigned
dqs_start(struct dqs *d, void (*done)(void *arg), void *arg)
{
	const struct spamhaus *sh;
	char qname[DNSBL_NAME_MAX * 2];
	unsigned started = 0;

	if (d == NULL)
		return 0;
	sh = d->sh;
	d->done = done;
	d->arg = arg;
	for (int i = 0; i < DQS_ITEM_COUNT; i++)
		if (d->dropped[i] > 0)
			log_event("dqs_cap", "zone=%s item=%s looked_up=%u dropped=%u",
			    i == DQS_ZRD ? "zrd" : "hbl", dqs_item_name((enum dqs_item)i), d->count[i],
			    d->dropped[i]);
	for (size_t i = 0; i < d->n; i++) {
		struct dqs_lookup *l = &d->lk[i];
		int rc;
		if (l->item == DQS_ZRD)
			rc = dnsbl_domain_name(l->name, strlen(l->name), sh->zrd_zone, qname,
			    sizeof(qname));
		else
			rc = snprintf(qname, sizeof(qname), "%s.%s.%s", l->hash, sub[l->item],
			    sh->hbl_zone) < (int)sizeof(qname) ? 0 : -1;
		if (rc == -1)
			continue;
		l->state = DQS_PENDING;
		started++;
		l->q = dns_query(sh->res, qname, DNS_TYPE_A, sh->timeout_ms, on_answer, l);
	}
	return started;
}

void
dqs_apply(const struct dqs *d, struct score *sc)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++) {
		const struct dqs_lookup *l = &d->lk[i];
		unsigned lists = l->v.lists;

		if (l->state != DQS_DONE || l->v.code == DNSBL_NONE || l->v.code == DNSBL_ERROR)
			continue;
		switch (l->item) {
		case DQS_ZRD:
			/* SPEC 4.1: 2-4 hours very fresh, 5-24 fresh */
			if (l->v.hours >= 2 && l->v.hours <= 4)
				score_add(sc, SYM_ZRD_VERY_FRESH, l->what);
			else if (l->v.hours >= 5 && l->v.hours <= 24)
				score_add(sc, SYM_ZRD_FRESH, l->what);
			break;
		case DQS_EMAIL:
			if (lists & (1u << DNSBL_HBL_EMAIL))
				score_add(sc, SYM_HBL_EMAIL, l->what);
			break;
		case DQS_FILE:
			if (lists & (1u << DNSBL_HBL_FILE_MALWARE))
				score_add(sc, SYM_HBL_FILE_MALWARE, l->what);
			if (lists & (1u << DNSBL_HBL_FILE_SUSPICIOUS))
				score_add(sc, SYM_HBL_FILE_SUSPICIOUS, l->what);
			break;
		case DQS_CW:
			if (lists & (1u << DNSBL_HBL_CW))
				score_add(sc, SYM_HBL_CW, l->what);
			break;
		default:
			break;
		}
	}
}

const struct dqs_lookup *
dqs_lookups(const struct dqs *d, size_t *n)
{
	*n = d ? d->n : 0;
	return d ? d->lk : NULL;
}

const char *
dqs_item_name(enum dqs_item item)
{
	switch (item) {
	case DQS_ZRD: return "zrd";
	case DQS_EMAIL: return "hbl_email";
	case DQS_FILE: return "hbl_file";
	case DQS_CW: return "hbl_cw";
	default: return "?";
	}
}

const char *
dqs_state_name(const struct dqs_lookup *l)
{
	switch (l->state) {
	case DQS_PENDING: return "pending";
	case DQS_TIMEOUT: return "timeout";
	case DQS_FAILED: return "servfail";
	case DQS_SKIPPED: return "not_looked_up";
	case DQS_DONE:
		if (l->v.code == DNSBL_ERROR)
			return "error";
		return l->v.code == DNSBL_NONE ? "not_listed" : "listed";
	}
	return "?";
}
