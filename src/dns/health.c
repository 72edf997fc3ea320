/*
 * Test-point checks. The log lines here are what an administrator greps
 * for when blocklists seem to do nothing: event=dnsbl_health with the
 * state of each zone, event=dnsbl_error with the code, and event=alert
 * when a zone turns bad.
 */
#include "health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

struct zone_check {
	struct dnsbl_health *h;
	enum dnsbl_kind kind;
	bool active;			/* watched (zen and DBL always) */
	char query_zone[DNSBL_NAME_MAX];
	char display[DNSBL_NAME_MAX];
	char test_name[DNSBL_NAME_MAX];	/* under query_zone; "" for none */
	bool quiet_missing;		/* a missing test point is no alert */
	struct zone_health state;
	struct dns_query *q;
	enum zone_status pending;	/* a no-answer status waiting for the root probe */
};

struct dnsbl_health {
	struct resolver *res;
	unsigned timeout_ms;
	unsigned interval;
	struct event *timer;
	struct zone_check zones[DNSBL_KIND_COUNT];	/* indexed by enum dnsbl_kind */
	bool recursive;			/* resolving ourselves: the root can be probed */
	bool offline;			/* not even the root answers */
	struct dns_query *probe;	/* ". NS", asked when a test point is unanswered */
};

const char *
health_status_name(enum zone_status s)
{
	switch (s) {
	case ZONE_UNKNOWN: return "unknown";
	case ZONE_OK: return "ok";
	case ZONE_ERROR: return "error";
	case ZONE_TIMEOUT: return "timeout";
	case ZONE_MISSING: return "test_point_missing";
	case ZONE_FAILURE: return "servfail";
	}
	return "?";
}

static void
set_status(struct zone_check *z, enum zone_status s, const char *code)
{
	enum zone_status old = z->state.status;

	z->state.status = s;
	snprintf(z->state.code, sizeof(z->state.code), "%s", code ? code : "");
	/* One alert per transition into a bad state, not one per lookup; an
	 * offline machine is said once by the root probe, not as a zone alert. */
	if (s == ZONE_MISSING && z->quiet_missing)
		return;
	if (s != ZONE_OK && s != ZONE_UNKNOWN && s != old && !z->h->offline)
		log_event("alert", "kind=dnsbl zone=%s status=%s code=%s reason=\"blocklist %s is not working: mail is not being checked against it\"",
		    z->display, health_status_name(s), code && *code ? code : "-", z->display);
}

static void
log_zone(struct zone_check *z)
{
	log_event("dnsbl_health", "zone=%s status=%s%s%s", z->display,
	    health_status_name(z->state.status), z->state.code[0] ? " code=" : "",
	    z->state.code);
}

/*
 * The root zone's answer decides what an unanswered test point means.
 * Root answers: the blocklist (or the way to it) is broken, the dnsbl
 * alert. No answer: the machine has no working DNS at all, which is not
 * a blocklist fault; said once, clearly, and said again when it changes.
 */
static void
on_root_answer(void *arg, const struct dns_answer *ans)
{
	struct dnsbl_health *h = arg;
	bool offline = ans->status == DNS_TIMEOUT || ans->status == DNS_SERVFAIL;

	h->probe = NULL;
	if (offline && !h->offline)
		log_event("warning", "reason=\"no DNS answer at all, not even from the root servers: this machine looks offline. Blocklist checks are skipped until DNS answers; no dnsbl alert is raised for this\"");
	else if (!offline && h->offline)
		log_event("dns", "status=online reason=\"the root servers answer again\"");
	h->offline = offline;
	for (int k = 0; k < DNSBL_KIND_COUNT; k++) {
		struct zone_check *z = &h->zones[k];
		if (z->pending == ZONE_UNKNOWN)
			continue;
		set_status(z, z->pending, NULL);
		z->pending = ZONE_UNKNOWN;
		log_zone(z);
	}
}

/* A test point got no answer: with our own recursion, ask the root first. */
static bool
defer_to_root_probe(struct zone_check *z, enum zone_status s)
{
	struct dnsbl_health *h = z->h;

	if (!h->recursive)
		return false;
	z->pending = s;
	if (h->probe == NULL)
		h->probe = dns_query(h->res, ".", DNS_TYPE_NS, h->timeout_ms, on_root_answer, h);
	return true;
}

/* What each zone's test point must answer. */
static enum dnsbl_code
test_code(enum dnsbl_kind kind)
{
	switch (kind) {
	case DNSBL_KIND_IP: return DNSBL_SBL;
	case DNSBL_KIND_DOMAIN: return DNSBL_DBL_SPAM;
	case DNSBL_KIND_AUTHBL: return DNSBL_AUTHBL;
	case DNSBL_KIND_ZRD: return DNSBL_ZRD;
	case DNSBL_KIND_HBL: return DNSBL_HBL_CW;	/* the key-check record */
	default: return DNSBL_NONE;
	}
}

static void
on_test_answer(void *arg, const struct dns_answer *ans)
{
	struct zone_check *z = arg;
	struct dnsbl_verdict v;
	enum dnsbl_code want = test_code(z->kind);

	z->q = NULL;
	z->state.checked = time(NULL);
	z->state.test_ok = false;
	switch (ans->status) {
	case DNS_OK:
		dnsbl_verdict_of(z->kind, ans->data, ans->len, ans->count, &v);
		if (v.code == DNSBL_ERROR) {
			log_event("dnsbl_error", "zone=%s code=%s query=test_point", z->display, v.text);
			z->state.errors++;
			set_status(z, ZONE_ERROR, v.text);
		} else if (v.lists & (1u << want)) {
			z->state.test_ok = true;
			set_status(z, ZONE_OK, NULL);
		} else
			set_status(z, ZONE_MISSING, v.text);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		set_status(z, ZONE_MISSING, NULL);
		break;
	case DNS_TIMEOUT:
	case DNS_SERVFAIL: {
		enum zone_status st = ans->status == DNS_TIMEOUT ? ZONE_TIMEOUT : ZONE_FAILURE;
		if (defer_to_root_probe(z, st))
			return;
		set_status(z, st, NULL);
		break;
	}
	}
	if (ans->status == DNS_OK && z->h->offline) {
		z->h->offline = false;
		log_event("dns", "status=online reason=\"blocklist test points answer again\"");
	}
	log_zone(z);
}

static void
run_checks(evutil_socket_t fd, short what, void *arg)
{
	struct dnsbl_health *h = arg;
	char name[DNSBL_NAME_MAX + 32];

	for (int k = 0; k < DNSBL_KIND_COUNT; k++) {
		struct zone_check *z = &h->zones[k];
		if (!z->active || z->test_name[0] == '\0' || z->q != NULL)
			continue;
		snprintf(name, sizeof(name), "%s.%s", z->test_name, z->query_zone);
		z->q = dns_query(h->res, name, DNS_TYPE_A, h->timeout_ms, on_test_answer, z);
	}
	if (h->interval > 0) {
		struct timeval tv = { h->interval, 0 };
		evtimer_add(h->timer, &tv);
	}
}

struct dnsbl_health *
health_new(struct event_base *base, struct resolver *res, const char *ip_zone,
    const char *ip_display, const char *domain_zone, const char *domain_display,
    unsigned timeout_ms, unsigned interval, bool recursive)
{
	struct dnsbl_health *h = xcalloc(1, sizeof(*h));
	struct timeval now = { 0, 0 };

	h->res = res;
	h->recursive = recursive;
	h->timeout_ms = timeout_ms;
	h->interval = interval;
	for (int k = 0; k < DNSBL_KIND_COUNT; k++) {
		h->zones[k].h = h;
		h->zones[k].kind = (enum dnsbl_kind)k;
	}
	/* SPEC 4: 127.0.0.2 must be listed in zen, dbltest.com in the DBL */
	health_add_zone(h, DNSBL_KIND_IP, ip_zone, ip_display, "2.0.0.127", false);
	health_add_zone(h, DNSBL_KIND_DOMAIN, domain_zone, domain_display, "dbltest.com", false);
	h->timer = evtimer_new(base, run_checks, h);
	evtimer_add(h->timer, &now);
	return h;
}

void
health_free(struct dnsbl_health *h)
{
	if (h == NULL)
		return;
	for (int k = 0; k < DNSBL_KIND_COUNT; k++)
		dns_cancel(h->zones[k].q);
	dns_cancel(h->probe);
	event_free(h->timer);
	free(h);
}

void
health_add_zone(struct dnsbl_health *h, enum dnsbl_kind kind, const char *query_zone,
    const char *display, const char *test_name, bool quiet_missing)
{
	struct zone_check *z = &h->zones[kind];

	z->active = true;
	z->quiet_missing = quiet_missing;
	snprintf(z->query_zone, sizeof(z->query_zone), "%s", query_zone);
	snprintf(z->display, sizeof(z->display), "%s", display);
	snprintf(z->test_name, sizeof(z->test_name), "%s", test_name ? test_name : "");
	z->state.zone = z->display;
}

bool
health_has_zone(const struct dnsbl_health *h, enum dnsbl_kind kind)
{
	return (unsigned)kind < DNSBL_KIND_COUNT && h->zones[kind].active;
}

void
health_answer_ok(struct dnsbl_health *h, enum dnsbl_kind kind)
{
	struct zone_check *z = &h->zones[kind];

	/* zones with a test point are judged by it alone */
	if (!z->active || z->test_name[0] != '\0' || z->state.status == ZONE_OK)
		return;
	set_status(z, ZONE_OK, NULL);
	log_zone(z);
}

void
health_error(struct dnsbl_health *h, enum dnsbl_kind kind, const char *query,
    const char *code)
{
	struct zone_check *z = &h->zones[kind];
	char q[LOG_VALUE_MAX];

	z->state.errors++;
	log_event("dnsbl_error", "zone=%s code=%s query=%s", z->display, code,
	    log_quote(q, sizeof(q), query, strlen(query)));
	set_status(z, ZONE_ERROR, code);
}

bool
health_dns_down(const struct dnsbl_health *h)
{
	/* zen and the DBL: the test points that always exist */
	for (int k = 0; k < 2; k++) {
		enum zone_status s = h->zones[k].state.status;
		if (s != ZONE_TIMEOUT && s != ZONE_FAILURE)
			return false;
	}
	return true;
}

const struct zone_health *
health_zone(const struct dnsbl_health *h, enum dnsbl_kind kind)
{
	return health_has_zone(h, kind) ? &h->zones[kind].state : NULL;
}
