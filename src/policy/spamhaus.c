/*
 * Per-client Spamhaus checks. Each target (IP, HELO, sender, rDNS) has
 * two lookup slots: the full host name and, when it differs, its
 * registered domain (libpsl), as the DBL lists domains and, through DQS,
 * host names. A new HELO or sender replaces the previous one's lookups.
 */
#include "spamhaus.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer.h"
#include "lib/pslist.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/replies.h"

#define PTR_NAMES_MAX 2

struct lookup {
	struct client_checks *c;
	enum check_target target;
	char item[DNSBL_NAME_MAX];	/* IP or name, without the zone */
	struct dns_query *q;
	struct dnsbl_verdict v;
	bool active;
};

struct fwd_lookup {
	struct client_checks *c;
	char name[DNS_NAME_TEXT_MAX];
	struct dns_query *q;
};

struct client_checks {
	const struct spamhaus *sh;
	char ip[INET6_ADDRSTRLEN];
	unsigned char ipbin[16];
	int family;
	checks_ready_cb *cb;
	void *arg;
	struct lookup lk[CHECK_COUNT][2];
	struct dns_query *ptr_q;
	struct fwd_lookup fwd[PTR_NAMES_MAX];
	char rdns[DNS_NAME_TEXT_MAX];
	unsigned pending;
};

void
spamhaus_init(struct spamhaus *sh, struct resolver *res, struct dnsbl_health *health,
    const char *ip_zone, const char *domain_zone, const char *dqs_key, unsigned timeout_s)
{
	memset(sh, 0, sizeof(*sh));
	sh->res = res;
	sh->health = health;
	sh->timeout_ms = timeout_s * 1000;
	dnsbl_zones(ip_zone, domain_zone, dqs_key, sh->ip_zone, sh->domain_zone);
	if (dqs_key != NULL && *dqs_key != '\0') {
		/* SPEC 4.1: replies, headers, alerts and metrics name the
		 * public zone, never the keyed DQS name */
		snprintf(sh->ip_display, sizeof(sh->ip_display), "zen.spamhaus.org");
		snprintf(sh->domain_display, sizeof(sh->domain_display), "dbl.spamhaus.org");
	} else {
		snprintf(sh->ip_display, sizeof(sh->ip_display), "%s", ip_zone);
		snprintf(sh->domain_display, sizeof(sh->domain_display), "%s", domain_zone);
	}
	/* SPEC 4.1: AuthBL, ZRD and HBL exist only through DQS; without a
	 * key their zones stay empty and nothing asks them */
	dnsbl_dqs_zone(dqs_key, DNSBL_KIND_AUTHBL, sh->authbl_zone);
	dnsbl_dqs_zone(dqs_key, DNSBL_KIND_ZRD, sh->zrd_zone);
	dnsbl_dqs_zone(dqs_key, DNSBL_KIND_HBL, sh->hbl_zone);
	sh->hbl = HBL_AUTO;
}

void
spamhaus_set_hbl(struct spamhaus *sh, const char *mode)
{
	if (mode != NULL && strcmp(mode, "yes") == 0)
		sh->hbl = HBL_YES;
	else if (mode != NULL && strcmp(mode, "no") == 0)
		sh->hbl = HBL_NO;
	else
		sh->hbl = HBL_AUTO;
}

void
spamhaus_attach_health(struct spamhaus *sh, struct dnsbl_health *health)
{
	sh->health = health;
	if (health == NULL || !spamhaus_dqs(sh))
		return;
	/* Spamhaus documents no test point for AuthBL and ZRD: their error
	 * answers still mark them broken, and the next good answer mends. */
	health_add_zone(health, DNSBL_KIND_AUTHBL, sh->authbl_zone,
	    dnsbl_kind_display(DNSBL_KIND_AUTHBL), NULL, false);
	health_add_zone(health, DNSBL_KIND_ZRD, sh->zrd_zone, dnsbl_kind_display(DNSBL_KIND_ZRD),
	    NULL, false);
	if (sh->hbl != HBL_NO)
		health_add_zone(health, DNSBL_KIND_HBL, sh->hbl_zone,
		    dnsbl_kind_display(DNSBL_KIND_HBL), HBL_TEST_POINT, sh->hbl == HBL_AUTO);
}

bool
spamhaus_dqs(const struct spamhaus *sh)
{
	return sh->authbl_zone[0] != '\0';
}

bool
spamhaus_hbl_on(const struct spamhaus *sh)
{
	const struct zone_health *z;

	if (!spamhaus_dqs(sh) || sh->hbl == HBL_NO)
		return false;
	if (sh->hbl == HBL_YES)
		return true;
	if (sh->health == NULL)
		return sh->hbl_probed;
	/* SPEC 4.1: with auto, off until the test point has answered, and
	 * off again while it does not */
	z = health_zone(sh->health, DNSBL_KIND_HBL);
	return z != NULL && z->test_ok;
}

struct hbl_probe {
	struct spamhaus *sh;
	void (*cb)(void *);
	void *arg;
};

static void
on_hbl_probe(void *arg, const struct dns_answer *ans)
{
	struct hbl_probe *p = arg;
	struct dnsbl_verdict v;

	if (ans->status == DNS_OK) {
		dnsbl_verdict_of(DNSBL_KIND_HBL, ans->data, ans->len, ans->count, &v);
		p->sh->hbl_probed = (v.lists & (1u << DNSBL_HBL_CW)) != 0;
		if (v.code == DNSBL_ERROR)
			log_event("dnsbl_error", "zone=hbl code=%s query=test_point", v.text);
	}
	log_event("dnsbl_health", "zone=hbl status=%s", p->sh->hbl_probed ? "ok" :
	    ans->status == DNS_TIMEOUT ? "timeout" : "test_point_missing");
	p->cb(p->arg);
	free(p);
}

struct dns_query *
spamhaus_hbl_probe(struct spamhaus *sh, void (*cb)(void *arg), void *arg)
{
	char name[DNSBL_NAME_MAX * 2];
	struct hbl_probe *p;

	if (!spamhaus_dqs(sh) || sh->hbl != HBL_AUTO)
		return NULL;
	p = xcalloc(1, sizeof(*p));
	p->sh = sh;
	p->cb = cb;
	p->arg = arg;
	snprintf(name, sizeof(name), "%s.%s", HBL_TEST_POINT, sh->hbl_zone);
	return dns_query(sh->res, name, DNS_TYPE_A, sh->timeout_ms, on_hbl_probe, p);
}

static const char *
target_name(enum check_target t)
{
	switch (t) {
	case CHECK_IP: return "ip";
	case CHECK_HELO: return "helo";
	case CHECK_SENDER: return "sender";
	case CHECK_RDNS: return "rdns";
	case CHECK_AUTHBL: return "authbl";
	default: return "?";
	}
}

static void
one_done(struct client_checks *c)
{
	if (--c->pending == 0 && c->cb != NULL)
		c->cb(c->arg);	/* last: the callback may free c */
}

static enum dnsbl_kind
target_kind(enum check_target t)
{
	return t == CHECK_IP ? DNSBL_KIND_IP : t == CHECK_AUTHBL ? DNSBL_KIND_AUTHBL :
	    DNSBL_KIND_DOMAIN;
}

static const char *
target_zone(const struct spamhaus *sh, enum check_target t)
{
	return t == CHECK_IP ? sh->ip_display : t == CHECK_AUTHBL ?
	    dnsbl_kind_display(DNSBL_KIND_AUTHBL) : sh->domain_display;
}

static void
on_list_answer(void *arg, const struct dns_answer *ans)
{
	struct lookup *l = arg;
	struct client_checks *c = l->c;
	const struct spamhaus *sh = c->sh;
	enum dnsbl_kind kind = target_kind(l->target);
	const char *zone = target_zone(sh, l->target);
	char q[LOG_VALUE_MAX];

	l->q = NULL;
	switch (ans->status) {
	case DNS_OK:
		dnsbl_verdict_of(kind, ans->data, ans->len, ans->count, &l->v);
		if (l->v.code == DNSBL_ERROR && sh->health)
			health_error(sh->health, kind, l->item, l->v.text);
		else if (sh->health)
			health_answer_ok(sh->health, kind);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		if (sh->health)
			health_answer_ok(sh->health, kind);
		break;
	case DNS_TIMEOUT:
		/* SPEC 2: a lookup that does not answer in time passes. */
		log_event("dnsbl_timeout", "zone=%s check=%s item=%s client=%s", zone,
		    target_name(l->target), log_quote(q, sizeof(q), l->item, strlen(l->item)), c->ip);
		break;
	case DNS_SERVFAIL:
		log_event("dnsbl_error", "zone=%s code=SERVFAIL check=%s item=%s client=%s", zone,
		    target_name(l->target), log_quote(q, sizeof(q), l->item, strlen(l->item)), c->ip);
		break;
	default:
		break;
	}
	one_done(c);
}

static void
start_lookup(struct client_checks *c, enum check_target t, int slot, const char *item,
    const char *qname)
{
	struct lookup *l = &c->lk[t][slot];

	memset(l, 0, sizeof(*l));
	l->c = c;
	l->target = t;
	l->active = true;
	snprintf(l->item, sizeof(l->item), "%s", item);
	c->pending++;
	l->q = dns_query(c->sh->res, qname, DNS_TYPE_A, c->sh->timeout_ms, on_list_answer, l);
}

static void
cancel_target(struct client_checks *c, enum check_target t)
{
	for (int s = 0; s < 2; s++) {
		struct lookup *l = &c->lk[t][s];
		if (l->q != NULL) {
			dns_cancel(l->q);
			l->q = NULL;
			c->pending--;
		}
		l->active = false;
	}
}

/* DBL lookups of a name and its registered domain. */
static void
check_domain(struct client_checks *c, enum check_target t, const char *name)
{
	char qname[DNSBL_NAME_MAX + 8], lower[DNSBL_NAME_MAX];
	const char *reg;
	size_t len = strlen(name);

	cancel_target(c, t);
	if (len == 0 || len >= sizeof(lower) || (c->sh->health && health_dns_down(c->sh->health)))
		return;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
	if (len > 0 && lower[len - 1] == '.')
		lower[--len] = '\0';
	if (dnsbl_domain_name(lower, len, c->sh->domain_zone, qname, sizeof(qname)) == -1)
		return;	/* an IP literal or no host name: nothing to ask */
	start_lookup(c, t, 0, lower, qname);
	reg = pslist_registrable(lower);
	if (reg != NULL && strcmp(reg, lower) != 0 &&
	    dnsbl_domain_name(reg, strlen(reg), c->sh->domain_zone, qname, sizeof(qname)) == 0)
		start_lookup(c, t, 1, reg, qname);
}

static void
on_forward_answer(void *arg, const struct dns_answer *ans)
{
	struct fwd_lookup *f = arg;
	struct client_checks *c = f->c;
	size_t want = c->family == AF_INET ? 4 : 16;

	f->q = NULL;
	if (ans->status == DNS_OK && c->rdns[0] == '\0')
		for (size_t i = 0; i < ans->count; i++)
			if ((size_t)ans->len[i] == want && memcmp(ans->data[i], c->ipbin, want) == 0) {
				/* Forward-confirmed: the name is the client's. */
				snprintf(c->rdns, sizeof(c->rdns), "%s", f->name);
				for (size_t k = 0; k < PTR_NAMES_MAX; k++)
					if (&c->fwd[k] != f && c->fwd[k].q != NULL) {
						dns_cancel(c->fwd[k].q);
						c->fwd[k].q = NULL;
						c->pending--;
					}
				check_domain(c, CHECK_RDNS, c->rdns);
				break;
			}
	one_done(c);
}

static void
on_ptr_answer(void *arg, const struct dns_answer *ans)
{
	struct client_checks *c = arg;
	size_t n = 0;

	c->ptr_q = NULL;
	if (ans->status == DNS_OK)
		for (size_t i = 0; i < ans->count && n < PTR_NAMES_MAX; i++) {
			struct fwd_lookup *f = &c->fwd[n];
			if (dns_name_from_wire(ans->data[i], (size_t)ans->len[i], f->name,
			    sizeof(f->name)) == -1)
				continue;
			f->c = c;
			c->pending++;
			n++;
			f->q = dns_query(c->sh->res, f->name,
			    c->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA,
			    c->sh->timeout_ms, on_forward_answer, f);
		}
	one_done(c);
}

struct client_checks *
checks_new(const struct spamhaus *sh, const char *ip, bool check_ip, checks_ready_cb *cb,
    void *arg)
{
	struct client_checks *c = xcalloc(1, sizeof(*c));
	char qname[DNSBL_NAME_MAX + 80];

	c->sh = sh;
	/* answers arrive through the event loop only: arming the callback
	 * first is safe, and later lookups (HELO, sender) need it */
	c->cb = cb;
	c->arg = arg;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	if (inet_pton(AF_INET, ip, c->ipbin) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, c->ipbin) == 1)
		c->family = AF_INET6;
	if (c->family == 0 || (sh->health && health_dns_down(sh->health)))
		return c;
	if (check_ip && dnsbl_ip_name_str(ip, sh->ip_zone, qname, sizeof(qname)) == 0)
		start_lookup(c, CHECK_IP, 0, ip, qname);
	if (dns_reverse_name(ip, qname, sizeof(qname)) == 0) {
		c->pending++;
		c->ptr_q = dns_query(sh->res, qname, DNS_TYPE_PTR, sh->timeout_ms, on_ptr_answer, c);
	}
	return c;
}

struct client_checks *
checks_new_auth(const struct spamhaus *sh, const char *ip, checks_ready_cb *cb, void *arg)
{
	struct client_checks *c = xcalloc(1, sizeof(*c));
	char qname[DNSBL_NAME_MAX + 80];

	c->sh = sh;
	c->cb = cb;
	c->arg = arg;
	snprintf(c->ip, sizeof(c->ip), "%s", ip);
	if (!spamhaus_dqs(sh) || (sh->health && health_dns_down(sh->health)))
		return c;
	if (dnsbl_ip_name_str(ip, sh->authbl_zone, qname, sizeof(qname)) == 0)
		start_lookup(c, CHECK_AUTHBL, 0, ip, qname);
	return c;
}

void
checks_auth(const struct client_checks *c, struct decision *v)
{
	const struct lookup *l = &c->lk[CHECK_AUTHBL][0];

	decision_init(v);
	if (!l->active || l->v.code != DNSBL_AUTHBL)
		return;
	/* a failed AUTH: counts toward the session's error limit too */
	decision_refuse(v, "authbl", true, RPL_AUTHBL, l->item);
	decision_log(v, " zone=%s code=%s", dnsbl_kind_display(DNSBL_KIND_AUTHBL), l->v.text);
}

void
checks_free(struct client_checks *c)
{
	if (c == NULL)
		return;
	for (int t = 0; t < CHECK_COUNT; t++)
		for (int s = 0; s < 2; s++)
			dns_cancel(c->lk[t][s].q);
	dns_cancel(c->ptr_q);
	for (size_t k = 0; k < PTR_NAMES_MAX; k++)
		dns_cancel(c->fwd[k].q);
	free(c);
}

void
checks_helo(struct client_checks *c, const char *helo)
{
	if (helo != NULL && helo[0] != '[')
		check_domain(c, CHECK_HELO, helo);
	else
		cancel_target(c, CHECK_HELO);
}

void
checks_sender(struct client_checks *c, const char *domain)
{
	if (domain != NULL && domain[0] != '\0' && domain[0] != '[')
		check_domain(c, CHECK_SENDER, domain);
	else
		cancel_target(c, CHECK_SENDER);
}

bool
checks_pending(const struct client_checks *c)
{
	return c->pending > 0;
}

const char *
checks_rdns(const struct client_checks *c)
{
	return c->rdns[0] ? c->rdns : NULL;
}

bool
checks_abused(const struct client_checks *c, enum check_target t)
{
	for (int s = 0; s < 2; s++)
		if (c->lk[t][s].active && (c->lk[t][s].v.lists & (1u << DNSBL_DBL_ABUSED)))
			return true;
	return false;
}

bool
checks_reject(const struct client_checks *c, char *reply, size_t replylen, char *log,
    size_t loglen)
{
	static const char *const what[CHECK_COUNT] = {
		[CHECK_IP] = "client", [CHECK_HELO] = "helo name",
		[CHECK_SENDER] = "sender domain", [CHECK_RDNS] = "client name",
		[CHECK_AUTHBL] = "client",
	};

	/* AuthBL is judged at AUTH (checks_auth), never at RCPT */
	for (int t = 0; t < CHECK_AUTHBL; t++)
		for (int s = 0; s < 2; s++) {
			const struct lookup *l = &c->lk[t][s];
			const char *zone = t == CHECK_IP ? c->sh->ip_display : c->sh->domain_display;
			char lists[128], item[DNSBL_NAME_MAX + 2];

			if (!l->active || !dnsbl_code_rejects(l->v.code))
				continue;
			dnsbl_lists_text(&l->v, lists, sizeof(lists));
			if (t == CHECK_IP)
				snprintf(item, sizeof(item), "[%s]", l->item);
			else
				snprintf(item, sizeof(item), "%s", l->item);
			snprintf(reply, replylen,
			    "554 5.7.1 Service unavailable; %s %s blocked using %s (%s); see https://check.spamhaus.org/",
			    what[t], item, zone, lists);
			snprintf(log, loglen, "check=%s zone=%s list=\"%s\" code=%s item=%s",
			    target_name((enum check_target)t), zone, lists, l->v.text, l->item);
			return true;
		}
	return false;
}
