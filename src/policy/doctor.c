/*
 * The doctor's run (SPEC 9): every DNS question is asked at once (the
 * server addresses first when they come from the hostname's A/AAAA
 * records), answers are copied into lookups, and the verdicts
 * (doctor_eval.c) are made in one place when the last answer is in or
 * the run's deadline passes. Nothing here blocks: the server runs the
 * same code on its loop.
 */
#include "doctor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/answer.h"
#include "dns/dnsbl.h"
#include "lib/xmalloc.h"
#include "queue/dkim_sign.h"

static const char *const check_names[DOCTOR_NCHECKS] = {
	"mx", "address", "ptr", "spf", "dkim", "dmarc", "zen", "dbl", "resolver",
	"certificate",
};

const char *
doctor_check_name(enum doctor_check c)
{
	return (unsigned)c < DOCTOR_NCHECKS ? check_names[c] : "?";
}

const char *
doctor_status_name(enum doctor_status s)
{
	switch (s) {
	case DOCTOR_OK: return "ok";
	case DOCTOR_WARN: return "warn";
	case DOCTOR_FAIL: return "fail";
	}
	return "?";
}

enum doctor_status
doctor_worst(const struct doctor_report *rep)
{
	enum doctor_status w = DOCTOR_OK;

	for (size_t i = 0; i < rep->nchecks; i++)
		if (rep->checks[i].status > w)
			w = rep->checks[i].status;
	return w;
}

int
doctor_ip_normalize(const char *ip, char *out, size_t outlen)
{
	unsigned char a[16];
	int af = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;

	if (inet_pton(af, ip, a) != 1 || inet_ntop(af, a, out, (socklen_t)outlen) == NULL)
		return -1;
	return 0;
}

void
doctor_finding_clear(struct doctor_finding *f)
{
	free(f->domain);
	free(f->ip);
	free(f->detail);
	free(f->fix);
	memset(f, 0, sizeof(*f));
}

/* ---- lookups ---- */

static void finish(struct doctor *d);

static void
done_one(struct doctor *d)
{
	if (--d->pending == 0)
		finish(d);	/* last: the callback may free d */
}

/* Copies one record's data as text into l (bounded by len: it came from
 * the network). */
static void
keep_record(struct lookup *l, const char *data, int len)
{
	char text[DNS_NAME_TEXT_MAX + 8], *item = NULL;
	unsigned pref = 0;

	if (len < 0 || l->n >= LOOKUP_ITEMS_MAX)
		return;
	switch (l->type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		if (len != (l->type == DNS_TYPE_A ? 4 : 16) ||
		    inet_ntop(l->type == DNS_TYPE_A ? AF_INET : AF_INET6, data, text,
		    sizeof(text)) == NULL)
			return;
		item = xstrdup(text);
		break;
	case DNS_TYPE_PTR:
		if (dns_name_from_wire(data, (size_t)len, text, sizeof(text)) == -1)
			return;
		item = xstrdup(text);
		break;
	case DNS_TYPE_MX:
		if (len < 3)
			return;
		pref = (unsigned)(unsigned char)data[0] << 8 | (unsigned char)data[1];
		if (len == 3 && data[2] == '\0')
			item = xstrdup("");	/* RFC 7505 null MX */
		else if (dns_name_from_wire(data + 2, (size_t)len - 2, text, sizeof(text)) == 0)
			item = xstrdup(text);
		else
			return;
		break;
	case DNS_TYPE_TXT: {
		size_t tl;
		if ((item = dns_txt_join(data, (size_t)len, &tl)) == NULL)
			return;
		break;
	}
	default:
		return;
	}
	l->items = xrealloc(l->items, (l->n + 1) * sizeof(char *));
	l->prefs = xrealloc(l->prefs, (l->n + 1) * sizeof(unsigned));
	l->items[l->n] = item;
	l->prefs[l->n] = pref;
	l->n++;
}

static void
on_answer(void *arg, const struct dns_answer *ans)
{
	struct lookup *l = arg;

	l->q = NULL;
	l->done = true;
	l->status = ans->status;
	for (size_t i = 0; ans->status == DNS_OK && i < ans->count; i++)
		keep_record(l, ans->data[i], ans->len[i]);
	if (l->status == DNS_OK && l->n == 0)
		l->status = DNS_NODATA;		/* nothing usable in it */
	if (l->then != NULL)
		l->then(l);
	done_one(l->d);
}

static struct lookup *
ask(struct doctor *d, const char *name, int type, void (*then)(struct lookup *), size_t idx)
{
	struct lookup *l = xcalloc(1, sizeof(*l));

	l->d = d;
	l->name = xstrdup(name);
	l->type = type;
	l->then = then;
	l->idx = idx;
	d->all = xrealloc(d->all, (d->nall + 1) * sizeof(*d->all));
	d->all[d->nall++] = l;
	d->pending++;
	l->q = dns_query(d->res, name, type, d->timeout_ms, on_answer, l);
	return l;
}

/* ---- the server addresses ---- */

static void on_spf(void *arg, enum spf_result r, const char *domain);

/* PTR answered: look up the addresses of its names, to see whether they
 * lead back (forward-confirmed reverse DNS). */
static void
on_ptr(struct lookup *l)
{
	struct srvip *s = &l->d->ips[l->idx];

	for (size_t i = 0; i < l->n && s->nfwd < PTR_FOLLOW_MAX; i++)
		s->fwd[s->nfwd++] = ask(l->d, l->items[i],
		    s->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA, NULL, l->idx);
}

static void
start_ip_checks(struct doctor *d)
{
	char name[DNSBL_NAME_MAX];

	d->ips_known = true;
	for (size_t i = 0; i < d->nips; i++) {
		struct srvip *s = &d->ips[i];
		if ((d->want & DOCTOR_BIT(DOCTOR_PTR)) &&
		    dns_reverse_name(s->ip, name, sizeof(name)) == 0)
			s->ptr = ask(d, name, DNS_TYPE_PTR, on_ptr, i);
		if ((d->want & DOCTOR_BIT(DOCTOR_ZEN)) &&
		    dnsbl_ip_name_str(s->ip, d->sh.ip_zone, name, sizeof(name)) == 0)
			s->zen = ask(d, name, DNS_TYPE_A, NULL, i);
	}
	if (!(d->want & DOCTOR_BIT(DOCTOR_SPF)) || d->nips == 0)
		return;
	d->spf = xcalloc(d->ndoms * d->nips, sizeof(*d->spf));
	for (size_t k = 0; k < d->ndoms; k++)
		for (size_t i = 0; i < d->nips; i++) {
			struct spfrun *r = &d->spf[k * d->nips + i];
			char *sender = xasprintf("postmaster@%s", d->doms[k].name);
			r->d = d;
			d->pending++;
			/* the whole evaluation: includes and redirects chain */
			r->c = spf_check_start(d->res, d->ips[i].ip, d->cfg->hostname, sender,
			    2 * d->timeout_ms, on_spf, r);
			free(sender);
		}
}

static void
add_ip(struct doctor *d, const char *ip)
{
	char norm[INET6_ADDRSTRLEN];

	if (d->nips >= DOCTOR_IPS_MAX || doctor_ip_normalize(ip, norm, sizeof(norm)) == -1)
		return;
	for (size_t i = 0; i < d->nips; i++)
		if (strcmp(d->ips[i].ip, norm) == 0)
			return;
	snprintf(d->ips[d->nips].ip, sizeof(d->ips[d->nips].ip), "%s", norm);
	d->ips[d->nips].family = strchr(norm, ':') ? AF_INET6 : AF_INET;
	d->nips++;
}

/* Both address lookups of the hostname answered: without --ip or
 * public_ip, they are the server's addresses. */
static void
on_host(struct lookup *l)
{
	struct doctor *d = l->d;

	if (d->ips_known || (d->host_a && !d->host_a->done) ||
	    (d->host_aaaa && !d->host_aaaa->done))
		return;
	for (size_t i = 0; d->host_a && i < d->host_a->n; i++)
		add_ip(d, d->host_a->items[i]);
	for (size_t i = 0; d->host_aaaa && i < d->host_aaaa->n; i++)
		add_ip(d, d->host_aaaa->items[i]);
	start_ip_checks(d);
}

static void
on_spf(void *arg, enum spf_result r, const char *domain)
{
	struct spfrun *run = arg;

	run->done = true;
	run->r = r;
	done_one(run->d);
}

/* ---- the run ---- */

/* The deadline: whatever has not answered counts as timed out. */
static void
cancel_pending(struct doctor *d)
{
	for (size_t i = 0; i < d->nall; i++) {
		struct lookup *l = d->all[i];
		if (!l->done) {
			dns_cancel(l->q);
			l->q = NULL;
			l->done = true;
			l->status = DNS_TIMEOUT;
		}
	}
	for (size_t i = 0; d->spf != NULL && i < d->ndoms * d->nips; i++)
		if (!d->spf[i].done) {
			spf_check_free(d->spf[i].c);
			d->spf[i].c = NULL;
			d->spf[i].done = true;
			d->spf[i].r = SPF_TEMPERROR;
		}
	d->pending = 0;
}

static void
finish(struct doctor *d)
{
	event_del(d->timer);
	doctor_evaluate(d);
	d->rep.checks = d->checks.v;
	d->rep.nchecks = d->checks.n;
	d->rep.notes = d->notes.v;
	d->rep.nnotes = d->notes.n;
	d->rep.nips = d->nips;
	d->rep.ips = xcalloc(d->nips + 1, sizeof(char *));
	for (size_t i = 0; i < d->nips; i++)
		d->rep.ips[i] = d->ips[i].ip;
	d->rep.ips_from = d->ips_from;
	d->cb(d->arg, &d->rep);		/* last: it may free d */
}

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct doctor *d = arg;

	cancel_pending(d);
	finish(d);
}

/* True when name is one of the domains or a name below one. */
static bool
in_domains(const struct config *cfg, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < cfg->ndomains; i++) {
		size_t dl = strlen(cfg->domains[i]);
		if (strcasecmp(name, cfg->domains[i]) == 0 ||
		    (len > dl + 1 && name[len - dl - 1] == '.' &&
		    strcasecmp(name + len - dl, cfg->domains[i]) == 0))
			return true;
	}
	return false;
}

struct doctor *
doctor_start(struct event_base *base, struct resolver *res, const struct doctor_options *opt,
    doctor_cb *cb, void *arg)
{
	struct doctor *d = xcalloc(1, sizeof(*d));
	const struct config *cfg = opt->cfg;
	const unsigned ip_checks = DOCTOR_BIT(DOCTOR_ADDRESS) | DOCTOR_BIT(DOCTOR_PTR) |
	    DOCTOR_BIT(DOCTOR_SPF) | DOCTOR_BIT(DOCTOR_ZEN);
	/* a chain is at most three lookups long (hostname, PTR, its
	 * address), and SPF gets two timeouts after the first */
	struct timeval deadline = { (time_t)(4 * opt->timeout_ms / 1000 + 2), 0 };
	char name[DNSBL_NAME_MAX + 64];

	d->base = base;
	d->res = res;
	d->cfg = cfg;
	d->want = opt->checks;
	d->timeout_ms = opt->timeout_ms ? opt->timeout_ms : 5000;
	d->cb = cb;
	d->arg = arg;
	d->timer = evtimer_new(base, on_deadline, d);
	spamhaus_init(&d->sh, res, NULL, cfg->dnsbl_ip_zone, cfg->dnsbl_domain_zone,
	    cfg->spamhaus_dqs_key, 1);
	if (opt->nips > 0) {
		for (size_t i = 0; i < opt->nips; i++)
			add_ip(d, opt->ips[i]);
		d->ips_from = "--ip";
	} else if (cfg->npublic_ip > 0) {
		for (size_t i = 0; i < cfg->npublic_ip; i++)
			add_ip(d, cfg->public_ip[i]);
		d->ips_from = "public_ip";
	} else
		d->ips_from = "hostname";
	/* now: a server's certificate may be replaced before the end */
	if ((d->want & DOCTOR_BIT(DOCTOR_CERTIFICATE)) && opt->tls != NULL)
		doctor_certificate_ctx(opt->tls, cfg->hostname, time(NULL), &d->cert);
	else if (d->want & DOCTOR_BIT(DOCTOR_CERTIFICATE))
		doctor_certificate_of(cfg, time(NULL), &d->cert);
	if (cfg->dkim_key != NULL && cfg->dkim_selector != NULL) {
		struct dkim_signer *s = dkim_signer_load(cfg->dkim_selector, cfg->dkim_key,
		    &d->dkim_err);
		if (s != NULL)
			d->dkim_ours = dkim_signer_record(s);
		if (s != NULL && d->dkim_ours == NULL)
			d->dkim_err = xstrdup("cannot encode its public key");
		dkim_signer_free(s);
	}

	if ((d->want & DOCTOR_BIT(DOCTOR_ADDRESS)) ||
	    ((d->want & ip_checks) && strcmp(d->ips_from, "hostname") == 0)) {
		d->host_a = ask(d, cfg->hostname, DNS_TYPE_A, on_host, 0);
		d->host_aaaa = ask(d, cfg->hostname, DNS_TYPE_AAAA, on_host, 0);
	}
	d->ndoms = cfg->ndomains < DOCTOR_DOMAINS_MAX ? cfg->ndomains : DOCTOR_DOMAINS_MAX;
	d->doms = xcalloc(d->ndoms + 1, sizeof(*d->doms));
	for (size_t k = 0; k < d->ndoms; k++) {
		struct dom *m = &d->doms[k];
		m->name = cfg->domains[k];
		if (d->want & DOCTOR_BIT(DOCTOR_MX))
			m->mx = ask(d, m->name, DNS_TYPE_MX, NULL, 0);
		if (d->want & DOCTOR_BIT(DOCTOR_SPF))
			m->txt = ask(d, m->name, DNS_TYPE_TXT, NULL, 0);
		if ((d->want & DOCTOR_BIT(DOCTOR_DKIM)) && d->dkim_ours != NULL) {
			snprintf(name, sizeof(name), "%s._domainkey.%s", cfg->dkim_selector, m->name);
			m->dkim = ask(d, name, DNS_TYPE_TXT, NULL, 0);
		}
		if (d->want & DOCTOR_BIT(DOCTOR_DMARC)) {
			snprintf(name, sizeof(name), "_dmarc.%s", m->name);
			m->dmarc = ask(d, name, DNS_TYPE_TXT, NULL, 0);
			/* the notes go with the records around DMARC */
			snprintf(name, sizeof(name), "_mta-sts.%s", m->name);
			m->sts = ask(d, name, DNS_TYPE_TXT, NULL, 0);
			snprintf(name, sizeof(name), "_smtp._tls.%s", m->name);
			m->tlsrpt = ask(d, name, DNS_TYPE_TXT, NULL, 0);
		}
		if ((d->want & DOCTOR_BIT(DOCTOR_DBL)) &&
		    dnsbl_domain_name(m->name, strlen(m->name), d->sh.domain_zone, name,
		    sizeof(name)) == 0)
			m->dbl = ask(d, name, DNS_TYPE_A, NULL, 0);
	}
	/* the hostname too, unless it is in one of the domains (the DBL
	 * lists registered domains, checked above) */
	if ((d->want & DOCTOR_BIT(DOCTOR_DBL)) && !in_domains(cfg, cfg->hostname) &&
	    dnsbl_domain_name(cfg->hostname, strlen(cfg->hostname), d->sh.domain_zone, name,
	    sizeof(name)) == 0)
		d->host_dbl = ask(d, name, DNS_TYPE_A, NULL, 0);
	if (d->want & DOCTOR_BIT(DOCTOR_RESOLVER)) {
		if (dnsbl_ip_name_str("127.0.0.2", d->sh.ip_zone, name, sizeof(name)) == 0)
			d->rz = ask(d, name, DNS_TYPE_A, NULL, 0);
		if (dnsbl_domain_name("dbltest.com", 11, d->sh.domain_zone, name,
		    sizeof(name)) == 0)
			d->rd = ask(d, name, DNS_TYPE_A, NULL, 0);
	}
	if (strcmp(d->ips_from, "hostname") != 0 || d->host_a == NULL)
		start_ip_checks(d);
	if (d->pending == 0)
		deadline = (struct timeval){ 0, 0 };	/* nothing to wait for */
	evtimer_add(d->timer, &deadline);
	return d;
}

void
doctor_free(struct doctor *d)
{
	if (d == NULL)
		return;
	event_free(d->timer);
	for (size_t i = 0; i < d->nall; i++) {
		struct lookup *l = d->all[i];
		if (!l->done)
			dns_cancel(l->q);
		for (size_t k = 0; k < l->n; k++)
			free(l->items[k]);
		free(l->items);
		free(l->prefs);
		free(l->name);
		free(l);
	}
	free(d->all);
	for (size_t i = 0; d->spf != NULL && i < d->ndoms * d->nips; i++)
		spf_check_free(d->spf[i].c);
	free(d->spf);
	free(d->doms);
	for (size_t i = 0; i < d->checks.n; i++)
		doctor_finding_clear(&d->checks.v[i]);
	free(d->checks.v);
	for (size_t i = 0; i < d->notes.n; i++)
		doctor_finding_clear(&d->notes.v[i]);
	free(d->notes.v);
	free(d->rep.ips);
	free(d->dkim_ours);
	free(d->dkim_err);
	doctor_finding_clear(&d->cert);
	free(d);
}
