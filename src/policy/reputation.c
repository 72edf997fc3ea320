/*
 * The reputation watch: runs the doctor (policy/doctor.h) on the server's
 * loop and turns the findings that matter for delivery into alerts, once
 * per finding while it stays the same. The alert line carries what was
 * found (reason) and what to do (fix); monitor/alert.c mails it.
 */
#include "reputation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/doctor.h"

#define KEY_MAX 320		/* check/address-or-domain */
#define SIG_MAX 512		/* what was found, for "unchanged" */
#define QUOTED_MAX 1200		/* a detail or fix, logfmt-quoted */

/* A finding raised and not cleared since. */
struct seen {
	char key[KEY_MAX];
	char sig[SIG_MAX];
	bool hit;		/* found again by the current run */
};

struct reputation {
	struct event_base *base;
	struct resolver *res;		/* borrowed */
	const struct config *cfg;	/* borrowed */
	struct ssl_ctx_st *const *tls;	/* the server's, read at each run */
	unsigned interval;
	struct event *timer;		/* the next run */
	struct doctor *run;		/* in flight, or NULL */
	bool said_no_address;		/* the warning below, once */
	struct seen seen[REPUTATION_FINDINGS_MAX];
	size_t nseen;
};

static struct seen *
find(struct reputation *r, const char *key)
{
	for (size_t i = 0; i < r->nseen; i++)
		if (strcmp(r->seen[i].key, key) == 0)
			return &r->seen[i];
	return NULL;
}

/* The alert kind a finding deserves, or NULL: SPEC 9 names a listed
 * address, a listed domain, a broken PTR and a certificate near expiry.
 * What could not be checked is the resolver's business (kind=dnsbl). */
static const char *
alert_kind(const struct doctor_finding *f)
{
	if (f->status == DOCTOR_OK || (f->flags & DOCTOR_F_UNSURE))
		return NULL;
	if (strcmp(f->name, "certificate") == 0)
		return (f->flags & DOCTOR_F_EXPIRY) ? "certificate" : NULL;
	if (strcmp(f->name, "zen") == 0 || strcmp(f->name, "dbl") == 0 ||
	    strcmp(f->name, "ptr") == 0)
		return "reputation";
	return NULL;
}

static void
raise_alert(struct reputation *r, const char *kind, const struct doctor_finding *f)
{
	char reason[QUOTED_MAX], fix[QUOTED_MAX];

	log_quote(reason, sizeof(reason), f->detail, strlen(f->detail));
	log_quote(fix, sizeof(fix), f->fix, strlen(f->fix));
	if (strcmp(kind, "certificate") == 0)
		log_event("alert", "kind=certificate name=%s status=%s reason=%s fix=%s",
		    r->cfg->hostname, doctor_status_name(f->status), reason, fix);
	else if (f->ip != NULL)
		log_event("alert", "kind=reputation check=%s ip=%s status=%s reason=%s fix=%s",
		    f->name, f->ip, doctor_status_name(f->status), reason, fix);
	else
		log_event("alert", "kind=reputation check=%s domain=%s status=%s reason=%s fix=%s",
		    f->name, f->domain ? f->domain : "-", doctor_status_name(f->status), reason,
		    fix);
}

/* One finding of a run: raised when new or changed. */
static void
consider(struct reputation *r, const struct doctor_finding *f)
{
	const char *kind = alert_kind(f);
	char key[KEY_MAX], sig[SIG_MAX];
	struct seen *s;

	snprintf(key, sizeof(key), "%s/%s", f->name, f->ip ? f->ip : f->domain ? f->domain : "");
	s = find(r, key);
	if (kind == NULL) {
		/* a lookup that failed says nothing: what was raised stays */
		if (s != NULL && (f->flags & DOCTOR_F_UNSURE))
			s->hit = true;
		return;
	}
	/* a certificate's days left change daily: only its status counts */
	if (strcmp(kind, "certificate") == 0)
		snprintf(sig, sizeof(sig), "%s", doctor_status_name(f->status));
	else
		snprintf(sig, sizeof(sig), "%s %s", doctor_status_name(f->status), f->detail);
	if (s != NULL && strcmp(s->sig, sig) == 0) {
		s->hit = true;
		return;
	}
	raise_alert(r, kind, f);
	if (s == NULL && r->nseen < REPUTATION_FINDINGS_MAX)
		s = &r->seen[r->nseen++];
	if (s != NULL) {
		snprintf(s->key, sizeof(s->key), "%s", key);
		snprintf(s->sig, sizeof(s->sig), "%s", sig);
		s->hit = true;
	}
}

static void
schedule(struct reputation *r, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };

	evtimer_add(r->timer, &tv);
}

static void
on_report(void *arg, const struct doctor_report *rep)
{
	struct reputation *r = arg;
	size_t keep = 0;
	unsigned problems = 0;

	for (size_t i = 0; i < r->nseen; i++)
		r->seen[i].hit = false;
	for (size_t i = 0; i < rep->nchecks; i++) {
		consider(r, &rep->checks[i]);
		problems += alert_kind(&rep->checks[i]) != NULL;
	}
	log_event("reputation_check", "ips=%zu problems=%u", rep->nips, problems);
	/* cleared findings are forgotten: their return is news */
	for (size_t i = 0; i < r->nseen; i++)
		if (r->seen[i].hit)
			r->seen[keep++] = r->seen[i];
	r->nseen = keep;
	if (rep->nips == 0 && !r->said_no_address) {
		log_event("warning", "reason=\"reputation watch: no server address known "
		    "(public_ip is not set and %s has no A/AAAA record): zen and PTR not watched\"",
		    r->cfg->hostname);
		r->said_no_address = true;
	}
	doctor_free(r->run);
	r->run = NULL;
	if (r->interval > 0)
		schedule(r, r->interval);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct reputation *r = arg;
	struct doctor_options opt = {
		.cfg = r->cfg,
		.checks = DOCTOR_BIT(DOCTOR_ZEN) | DOCTOR_BIT(DOCTOR_DBL) | DOCTOR_BIT(DOCTOR_PTR) |
		    DOCTOR_BIT(DOCTOR_CERTIFICATE),
		.timeout_ms = r->cfg->dnsbl_timeout * 1000,
		.tls = r->tls != NULL ? *r->tls : NULL,
	};

	if (r->run == NULL)
		r->run = doctor_start(r->base, r->res, &opt, on_report, r);
}

struct reputation *
reputation_new(struct event_base *base, struct resolver *res, const struct config *cfg,
    struct ssl_ctx_st *const *tls, unsigned interval)
{
	struct reputation *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->res = res;
	r->cfg = cfg;
	r->tls = tls;
	r->interval = interval;
	r->timer = evtimer_new(base, on_timer, r);
	schedule(r, 0);
	return r;
}

void
reputation_set_config(struct reputation *r, const struct config *cfg, unsigned interval)
{
	if (r == NULL)
		return;		/* a reload before the watch started */
	/* the run in flight borrows the old configuration */
	doctor_free(r->run);
	r->run = NULL;
	r->cfg = cfg;
	r->interval = interval;
	event_del(r->timer);
	schedule(r, 0);
}

void
reputation_free(struct reputation *r)
{
	if (r == NULL)
		return;
	doctor_free(r->run);
	event_free(r->timer);
	free(r);
}
