/*
 * The doctor's lookups and verdicts (SPEC 9). Every DNS question is asked
 * at once (the server addresses first when they come from the hostname's
 * A/AAAA records), answers are copied into lookups, and the verdicts are
 * made in one place when the last answer is in or the run's deadline
 * passes. Nothing here blocks: the server runs the same code on its loop.
 */
#include "doctor.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/answer.h"
#include "dns/dnsbl.h"
#include "lib/xmalloc.h"
#include "policy/spamhaus.h"
#include "queue/dkim_sign.h"
#include "scan/dkim.h"
#include "scan/dmarc.h"
#include "scan/spf.h"

#define LOOKUP_ITEMS_MAX 32	/* records kept from one answer */
#define PTR_FOLLOW_MAX 4	/* PTR names whose addresses are looked up */
#define DOCTOR_DOMAINS_MAX 64	/* domains checked (each costs ~8 lookups) */
/* Spamhaus's link for a listed IP or domain: what it is listed for and
 * the removal form. */
#define CHECK_URL "https://check.spamhaus.org/results/?query="

static const char *const check_names[DOCTOR_NCHECKS] = {
	"mx", "address", "ptr", "spf", "dkim", "dmarc", "zen", "dbl", "resolver",
	"certificate",
};

struct doctor;

/* One DNS question and the records of its answer, as text. */
struct lookup {
	struct doctor *d;
	struct dns_query *q;		/* while in flight */
	char *name;
	int type;
	bool done;
	enum dns_status status;
	size_t n;
	char **items;			/* A/AAAA: address; MX, PTR: name ("" for
					 * a null MX); TXT: strings joined */
	unsigned *prefs;		/* MX preferences */
	void (*then)(struct lookup *);	/* runs when answered, before the count */
	size_t idx;			/* server address it belongs to */
};

struct srvip {
	char ip[INET6_ADDRSTRLEN];
	int family;
	struct lookup *ptr, *zen;
	struct lookup *fwd[PTR_FOLLOW_MAX];	/* addresses of the PTR names */
	size_t nfwd;
};

struct dom {
	const char *name;		/* borrowed from the configuration */
	struct lookup *mx, *txt, *dkim, *dmarc, *dbl, *sts, *tlsrpt;
};

struct spfrun {
	struct doctor *d;
	struct spf_check *c;
	bool done;
	enum spf_result r;
};

struct flist {
	struct doctor_finding *v;
	size_t n;
};

struct doctor {
	struct event_base *base;
	struct resolver *res;
	const struct config *cfg;
	unsigned want, timeout_ms;	/* DOCTOR_BIT()s to run; per lookup */
	doctor_cb *cb;
	void *arg;
	struct spamhaus sh;		/* zone names (a DQS key applied) */
	struct lookup **all;		/* every lookup, for cancel and free */
	size_t nall;
	unsigned pending;		/* lookups and SPF runs in flight */
	bool ips_known;
	struct srvip ips[DOCTOR_IPS_MAX];
	size_t nips;
	const char *ips_from;
	struct lookup *host_a, *host_aaaa, *host_dbl;
	struct dom *doms;
	size_t ndoms;
	struct spfrun *spf;		/* [domain * nips + ip] */
	struct lookup *rz, *rd;		/* the test points of the two zones */
	char *dkim_ours;		/* our key record, NULL without a key */
	char *dkim_err;			/* why the key did not load */
	struct event *timer;		/* the run's deadline */
	struct flist checks, notes;
	struct doctor_report rep;
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

/* Appends a finding; takes detail and fix (newly allocated). */
static void
add(struct flist *l, const char *name, const char *domain, const char *ip,
    enum doctor_status st, char *detail, char *fix)
{
	struct doctor_finding *f;

	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	f = &l->v[l->n++];
	f->name = name;
	f->domain = domain ? xstrdup(domain) : NULL;
	f->ip = ip ? xstrdup(ip) : NULL;
	f->status = st;
	f->detail = detail;
	f->fix = fix ? fix : xstrdup("");
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

static bool
has_item(const struct lookup *l, const char *s)
{
	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (strcasecmp(l->items[i], s) == 0)
			return true;
	return false;
}

/* The first TXT string of l starting with prefix (any case), or NULL;
 * *count gets how many do. */
static const char *
txt_with(const struct lookup *l, const char *prefix, size_t *count)
{
	const char *first = NULL;
	size_t plen = strlen(prefix), n = 0;

	for (size_t i = 0; l != NULL && i < l->n; i++)
		if (strncasecmp(l->items[i], prefix, plen) == 0 &&
		    (l->items[i][plen] == '\0' || l->items[i][plen] == ' ' ||
		    l->items[i][plen] == ';')) {
			if (first == NULL)
				first = l->items[i];
			n++;
		}
	if (count != NULL)
		*count = n;
	return first;
}

static const char *
dns_status_text(enum dns_status s)
{
	switch (s) {
	case DNS_OK: return "answer";
	case DNS_NXDOMAIN: return "no such name (NXDOMAIN)";
	case DNS_NODATA: return "no record";
	case DNS_SERVFAIL: return "lookup failed (SERVFAIL)";
	case DNS_TIMEOUT: return "no answer in time";
	}
	return "?";
}

static bool
lookup_error(const struct lookup *l)
{
	return l->status == DNS_SERVFAIL || l->status == DNS_TIMEOUT;
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

/* ---- verdicts ---- */

/* A growing text for details that list several things. */
struct text {
	char *s;
	size_t len;
	FILE *f;
};

static void
text_open(struct text *t)
{
	t->s = NULL;
	t->len = 0;
	if ((t->f = open_memstream(&t->s, &t->len)) == NULL)
		abort();
}

static char *
text_close(struct text *t)
{
	fclose(t->f);
	return t->s;
}

static void
eval_mx(struct doctor *d, const struct dom *m)
{
	const char *host = d->cfg->hostname;
	const struct lookup *l = m->mx;
	unsigned best = ~0u, ours = ~0u;
	struct text t;

	if (lookup_error(l)) {
		add(&d->checks, "mx", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("MX of %s: %s", m->name, dns_status_text(l->status)),
		    xasprintf("check that the name servers of %s answer (dig MX %s)", m->name,
		    m->name));
		return;
	}
	if (l->n == 0) {
		add(&d->checks, "mx", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("%s has no MX record (%s)", m->name, dns_status_text(l->status)),
		    xasprintf("publish: %s. IN MX 10 %s.", m->name, host));
		return;
	}
	if (l->n == 1 && l->items[0][0] == '\0') {
		add(&d->checks, "mx", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("%s publishes a null MX (RFC 7505): it says it accepts no mail",
		    m->name),
		    xasprintf("replace it with: %s. IN MX 10 %s.", m->name, host));
		return;
	}
	text_open(&t);
	fprintf(t.f, "MX of %s:", m->name);
	for (size_t i = 0; i < l->n; i++) {
		fprintf(t.f, "%s %u %s", i ? "," : "", l->prefs[i],
		    l->items[i][0] ? l->items[i] : ".");
		if (l->prefs[i] < best)
			best = l->prefs[i];
		if (strcasecmp(l->items[i], host) == 0 && l->prefs[i] < ours)
			ours = l->prefs[i];
	}
	if (ours == ~0u) {
		fprintf(t.f, "; none is %s (hostname)", host);
		add(&d->checks, "mx", m->name, NULL, DOCTOR_FAIL, text_close(&t),
		    xasprintf("publish %s. IN MX 10 %s. (and remove the MX records of servers "
		    "that no longer receive for %s), or set hostname to the MX name", m->name,
		    host, m->name));
		return;
	}
	if (ours > best)
		fprintf(t.f, " (%s is not the preferred MX: senders try the others first)", host);
	add(&d->checks, "mx", m->name, NULL, DOCTOR_OK, text_close(&t), NULL);
}

static bool
is_server_ip(const struct doctor *d, const char *ip)
{
	char norm[INET6_ADDRSTRLEN];

	if (doctor_ip_normalize(ip, norm, sizeof(norm)) == -1)
		return false;
	for (size_t i = 0; i < d->nips; i++)
		if (strcmp(d->ips[i].ip, norm) == 0)
			return true;
	return false;
}

/* "H. IN A 192.0.2.1" lines for the server's addresses, "; "-joined. */
static void
print_address_records(const struct doctor *d, FILE *f)
{
	if (d->nips == 0)
		fprintf(f, "%s. IN A <the server's IPv4 address>", d->cfg->hostname);
	for (size_t i = 0; i < d->nips; i++)
		fprintf(f, "%s%s. IN %s %s", i ? "; " : "", d->cfg->hostname,
		    d->ips[i].family == AF_INET ? "A" : "AAAA", d->ips[i].ip);
}

static void
eval_address(struct doctor *d)
{
	const char *host = d->cfg->hostname;
	const struct lookup *a = d->host_a, *aaaa = d->host_aaaa;
	const struct lookup *both[2] = { a, aaaa };
	struct text t, fix;
	size_t extra = 0, missing = 0;

	if (lookup_error(a) || lookup_error(aaaa)) {
		add(&d->checks, "address", NULL, NULL, DOCTOR_FAIL,
		    xasprintf("A/AAAA of %s: %s", host,
		    dns_status_text(lookup_error(a) ? a->status : aaaa->status)),
		    xasprintf("check that the name servers of %s answer (dig A %s)", host, host));
		return;
	}
	text_open(&fix);
	print_address_records(d, fix.f);
	if (a->n + aaaa->n == 0) {
		add(&d->checks, "address", NULL, NULL, DOCTOR_FAIL,
		    xasprintf("%s (hostname) has no A or AAAA record", host),
		    xasprintf("publish: %s", text_close(&fix)));
		free(fix.s);
		return;
	}
	text_open(&t);
	fprintf(t.f, "%s has", host);
	for (size_t k = 0; k < 2; k++)
		for (size_t i = 0; i < both[k]->n; i++) {
			bool ours = is_server_ip(d, both[k]->items[i]);
			fprintf(t.f, " %s %s%s", k == 0 ? "A" : "AAAA", both[k]->items[i],
			    ours ? "" : " (not an address of this server)");
			extra += !ours;
		}
	for (size_t i = 0; i < d->nips; i++)
		if (!has_item(d->ips[i].family == AF_INET ? a : aaaa, d->ips[i].ip)) {
			fprintf(t.f, "; server address %s has no %s record", d->ips[i].ip,
			    d->ips[i].family == AF_INET ? "A" : "AAAA");
			missing++;
		}
	if (strcmp(d->ips_from, "hostname") == 0)
		fprintf(t.f, " (taken as the server's addresses: no --ip, no public_ip)");
	if (extra > 0) {
		add(&d->checks, "address", NULL, NULL, DOCTOR_FAIL, text_close(&t),
		    xasprintf("make the A/AAAA records of %s exactly the server's addresses: %s "
		    "(or correct --ip / public_ip)", host, text_close(&fix)));
	} else if (missing > 0) {
		add(&d->checks, "address", NULL, NULL, DOCTOR_WARN, text_close(&t),
		    xasprintf("publish: %s (or remove the address from --ip / public_ip)",
		    text_close(&fix)));
	} else {
		add(&d->checks, "address", NULL, NULL, DOCTOR_OK, text_close(&t), NULL);
		text_close(&fix);
	}
	free(fix.s);
}

static void
no_ips(struct doctor *d, const char *name, const char *domain)
{
	add(&d->checks, name, domain, NULL, DOCTOR_FAIL,
	    xasprintf("no server address known (%s has no A/AAAA record, no --ip, no "
	    "public_ip)", d->cfg->hostname),
	    xasprintf("set public_ip = ADDRESS... in the configuration, or give --ip"));
}

static void
eval_ptr(struct doctor *d, const struct srvip *s)
{
	const char *host = d->cfg->hostname;
	const struct lookup *l = s->ptr;
	char rev[DNSBL_NAME_MAX];
	bool named = false, back = false;
	size_t other = PTR_FOLLOW_MAX;	/* a name that leads back, not hostname */

	if (dns_reverse_name(s->ip, rev, sizeof(rev)) == -1 || l == NULL)
		return;
	if (lookup_error(l)) {
		add(&d->checks, "ptr", NULL, s->ip, DOCTOR_FAIL,
		    xasprintf("PTR of %s (%s): %s", s->ip, rev, dns_status_text(l->status)),
		    xasprintf("ask the provider of %s to set its reverse DNS: %s. IN PTR %s.",
		    s->ip, rev, host));
		return;
	}
	if (l->n == 0) {
		add(&d->checks, "ptr", NULL, s->ip, DOCTOR_FAIL,
		    xasprintf("%s has no PTR record (%s: %s); large providers refuse its mail",
		    s->ip, rev, dns_status_text(l->status)),
		    xasprintf("ask the provider of %s to set its reverse DNS: %s. IN PTR %s.",
		    s->ip, rev, host));
		return;
	}
	/* fwd[i] holds the addresses of the PTR name items[i] */
	for (size_t i = 0; i < s->nfwd; i++) {
		bool leads_back = has_item(s->fwd[i], s->ip);
		if (strcasecmp(l->items[i], host) == 0) {
			named = true;
			back |= leads_back;
		} else if (leads_back && other == PTR_FOLLOW_MAX)
			other = i;
	}
	if (named && back) {
		add(&d->checks, "ptr", NULL, s->ip, DOCTOR_OK,
		    xasprintf("PTR of %s is %s, which resolves back to %s", s->ip, host, s->ip),
		    NULL);
	} else if (named) {
		add(&d->checks, "ptr", NULL, s->ip, DOCTOR_FAIL,
		    xasprintf("PTR of %s is %s, but %s does not resolve to %s", s->ip, host,
		    host, s->ip),
		    xasprintf("publish: %s. IN %s %s", host, s->family == AF_INET ? "A" : "AAAA",
		    s->ip));
	} else if (other < PTR_FOLLOW_MAX) {
		add(&d->checks, "ptr", NULL, s->ip, DOCTOR_WARN,
		    xasprintf("PTR of %s is %s (which resolves back), not %s (hostname)", s->ip,
		    l->items[other], host),
		    xasprintf("ask the provider of %s to set its reverse DNS to %s (%s. IN PTR "
		    "%s.), or set hostname = %s", s->ip, host, rev, host, l->items[other]));
	} else {
		add(&d->checks, "ptr", NULL, s->ip, DOCTOR_FAIL,
		    xasprintf("PTR of %s is %s, which does not resolve back to %s", s->ip,
		    l->items[0], s->ip),
		    xasprintf("ask the provider of %s to set its reverse DNS: %s. IN PTR %s. "
		    "(and publish %s. IN %s %s)", s->ip, rev, host, host,
		    s->family == AF_INET ? "A" : "AAAA", s->ip));
	}
}

/* "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all" for the server's addresses. */
static char *
spf_suggestion(const struct doctor *d)
{
	struct text t;

	text_open(&t);
	fprintf(t.f, "v=spf1");
	for (size_t i = 0; i < d->nips; i++)
		fprintf(t.f, " %s:%s", d->ips[i].family == AF_INET ? "ip4" : "ip6", d->ips[i].ip);
	fprintf(t.f, "%s -all", d->nips ? "" : " mx");
	return text_close(&t);
}

static void
eval_spf(struct doctor *d, size_t k)
{
	const struct dom *m = &d->doms[k];
	const char *rec = txt_with(m->txt, "v=spf1", NULL);
	char *sugg = spf_suggestion(d);
	enum doctor_status st = DOCTOR_OK;
	bool none = false;
	struct text t;

	text_open(&t);
	fprintf(t.f, "SPF of %s:", m->name);
	for (size_t i = 0; i < d->nips; i++) {
		const struct spfrun *r = &d->spf[k * d->nips + i];
		enum spf_result res = r->done ? r->r : SPF_TEMPERROR;
		fprintf(t.f, "%s %s for %s", i ? "," : "", spf_result_name(res), d->ips[i].ip);
		if (res != SPF_PASS)
			st = DOCTOR_FAIL;
		none |= res == SPF_NONE;
	}
	if (rec != NULL)
		fprintf(t.f, " (record: \"%s\")", rec);
	else
		fprintf(t.f, " (no SPF record)");
	text_close(&t);
	if (st == DOCTOR_OK)
		add(&d->checks, "spf", m->name, NULL, DOCTOR_OK, t.s, NULL);
	else if (none || rec == NULL)
		add(&d->checks, "spf", m->name, NULL, DOCTOR_FAIL, t.s,
		    xasprintf("publish: %s. IN TXT \"%s\"", m->name, sugg));
	else
		add(&d->checks, "spf", m->name, NULL, DOCTOR_FAIL, t.s,
		    xasprintf("make the SPF record of %s pass for every server address (one "
		    "record, at most 10 DNS lookups), e.g.: %s. IN TXT \"%s\"", m->name, m->name,
		    sugg));
	free(sugg);
}

static void
eval_dkim(struct doctor *d, const struct dom *m)
{
	const char *sel = d->cfg->dkim_selector;
	const struct lookup *l = m->dkim;
	const char *why = "no record";

	if (d->cfg->dkim_key == NULL) {
		add(&d->checks, "dkim", m->name, NULL, DOCTOR_WARN,
		    xasprintf("no dkim_key in the configuration: mail from %s leaves unsigned "
		    "(large providers want DKIM, DMARC needs SPF or DKIM)", m->name),
		    xasprintf("postern dkim keygen -c %s, publish the record it prints, set "
		    "dkim_selector and dkim_key, reload", d->cfg->path));
		return;
	}
	if (d->dkim_ours == NULL) {
		add(&d->checks, "dkim", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("dkim_key cannot be used: %s", d->dkim_err),
		    xasprintf("postern dkim keygen -c %s --force, then publish its record",
		    d->cfg->path));
		return;
	}
	if (lookup_error(l)) {
		add(&d->checks, "dkim", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("TXT of %s: %s", l->name, dns_status_text(l->status)),
		    xasprintf("check that the name servers of %s answer (dig TXT %s)", m->name,
		    l->name));
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		if (doctor_dkim_match(l->items[i], strlen(l->items[i]), d->dkim_ours, &why) ==
		    DOCTOR_OK) {
			add(&d->checks, "dkim", m->name, NULL, DOCTOR_OK,
			    xasprintf("%s publishes the key of dkim_key (selector %s)", l->name, sel),
			    NULL);
			return;
		}
	add(&d->checks, "dkim", m->name, NULL, DOCTOR_FAIL,
	    l->n == 0 ? xasprintf("no DKIM key at %s (%s)", l->name, dns_status_text(l->status)) :
	    xasprintf("%s: %s", l->name, why),
	    xasprintf("publish the record printed by: postern dkim record -c %s", d->cfg->path));
}

static void
eval_dmarc(struct doctor *d, const struct dom *m)
{
	const struct lookup *l = m->dmarc;
	enum dmarc_policy p, sp;
	int adkim, aspf, pct;
	size_t n;
	const char *rec = txt_with(l, "v=DMARC1", &n);

	if (lookup_error(l)) {
		add(&d->checks, "dmarc", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("TXT of %s: %s", l->name, dns_status_text(l->status)),
		    xasprintf("check that the name servers of %s answer (dig TXT %s)", m->name,
		    l->name));
		return;
	}
	if (rec == NULL) {
		add(&d->checks, "dmarc", m->name, NULL, DOCTOR_WARN,
		    xasprintf("%s has no DMARC record (%s)", m->name, l->name),
		    xasprintf("publish: %s. IN TXT \"v=DMARC1; p=quarantine; "
		    "rua=mailto:postmaster@%s\"", l->name, m->name));
		return;
	}
	if (n > 1) {
		add(&d->checks, "dmarc", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("%s has %zu DMARC records: receivers then apply none "
		    "(RFC 7489 6.6.3)", l->name, n),
		    xasprintf("keep one record at %s", l->name));
		return;
	}
	if (dmarc_parse_record(rec, strlen(rec), &p, &sp, &adkim, &aspf, &pct) == -1) {
		add(&d->checks, "dmarc", m->name, NULL, DOCTOR_FAIL,
		    xasprintf("%s: invalid record \"%s\"", l->name, rec),
		    xasprintf("publish: %s. IN TXT \"v=DMARC1; p=quarantine; "
		    "rua=mailto:postmaster@%s\"", l->name, m->name));
		return;
	}
	add(&d->checks, "dmarc", m->name, NULL, DOCTOR_OK,
	    xasprintf("%s: \"%s\"%s", l->name, rec,
	    p == DMARC_POLICY_NONE ? " (p=none: reports only, no protection yet)" : ""), NULL);
}

/* What to do about each zen list (Spamhaus's removal procedures). */
static void
zen_fix(FILE *f, unsigned lists, const char *ip)
{
	if (lists & ((1u << DNSBL_SBL) | (1u << DNSBL_SBL_CSS) | (1u << DNSBL_SBL_DROP)))
		fprintf(f, "SBL: spam was seen from %s or its network; stop its source (a "
		    "compromised account, a web form), then follow the SBL record's removal "
		    "steps. ", ip);
	if (lists & (1u << DNSBL_XBL))
		fprintf(f, "XBL: a machine behind %s is infected or an open proxy; clean it, "
		    "then delist. ", ip);
	if (lists & (1u << DNSBL_PBL))
		fprintf(f, "PBL: %s is in a range its provider says must not send mail directly; "
		    "for a static mail server address, remove it from the PBL (or send through "
		    "the provider's relayhost). ", ip);
	fprintf(f, "Lookup and removal: " CHECK_URL "%s", ip);
}

static void
eval_zen(struct doctor *d, const struct srvip *s)
{
	const struct lookup *l = s->zen;
	const char *zone = d->sh.ip_display;
	const char *data[LOOKUP_ITEMS_MAX];
	unsigned char raw[LOOKUP_ITEMS_MAX][4];
	int len[LOOKUP_ITEMS_MAX];
	struct dnsbl_verdict v;
	struct text t;
	static const struct {
		enum dnsbl_code code;
		const char *name;
		unsigned mask;
	} lists[] = {
		{ DNSBL_SBL, "SBL", (1u << DNSBL_SBL) | (1u << DNSBL_SBL_CSS) | (1u << DNSBL_SBL_DROP) },
		{ DNSBL_XBL, "XBL", 1u << DNSBL_XBL },
		{ DNSBL_PBL, "PBL", 1u << DNSBL_PBL },
	};

	if (l == NULL)
		return;
	if (lookup_error(l)) {
		add(&d->checks, "zen", NULL, s->ip, DOCTOR_WARN,
		    xasprintf("%s in %s (SBL, XBL, PBL): %s; not checked", s->ip, zone,
		    dns_status_text(l->status)),
		    xasprintf("see the resolver check; look %s up by hand at " CHECK_URL "%s",
		    s->ip, s->ip));
		return;
	}
	if (l->n == 0) {
		add(&d->checks, "zen", NULL, s->ip, DOCTOR_OK,
		    xasprintf("%s is not listed in %s: not in SBL, XBL or PBL", s->ip, zone), NULL);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		len[i] = inet_pton(AF_INET, l->items[i], raw[i]) == 1 ? 4 : 0;
		data[i] = (const char *)raw[i];
	}
	dnsbl_verdict_of(DNSBL_KIND_IP, data, len, l->n, &v);
	if (v.code == DNSBL_ERROR || v.code == DNSBL_NONE) {
		add(&d->checks, "zen", NULL, s->ip, DOCTOR_WARN,
		    xasprintf("%s answered %s for %s: an error code, not a listing; SBL, XBL and "
		    "PBL not checked", zone, v.text[0] ? v.text : l->items[0], s->ip),
		    xasprintf("see the resolver check; look %s up by hand at " CHECK_URL "%s",
		    s->ip, s->ip));
		return;
	}
	text_open(&t);
	fprintf(t.f, "%s is listed in %s:", s->ip, zone);
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		fprintf(t.f, "%s %s %s", i ? "," : "", lists[i].name,
		    (v.lists & lists[i].mask) ? "listed" : "not listed");
	fprintf(t.f, " (answers");
	for (size_t i = 0; i < l->n; i++)
		fprintf(t.f, " %s", l->items[i]);
	fprintf(t.f, "); receivers that use zen refuse its mail");
	{
		struct text fix;
		text_open(&fix);
		zen_fix(fix.f, v.lists, s->ip);
		add(&d->checks, "zen", NULL, s->ip, DOCTOR_FAIL, text_close(&t), text_close(&fix));
	}
}

static void
eval_dbl(struct doctor *d, const char *domain, const struct lookup *l)
{
	const char *zone = d->sh.domain_display;
	const char *data[LOOKUP_ITEMS_MAX];
	unsigned char raw[LOOKUP_ITEMS_MAX][4];
	int len[LOOKUP_ITEMS_MAX];
	struct dnsbl_verdict v;
	char lists[64];

	if (l == NULL)
		return;
	if (lookup_error(l)) {
		add(&d->checks, "dbl", domain, NULL, DOCTOR_WARN,
		    xasprintf("%s in %s: %s; not checked", domain, zone, dns_status_text(l->status)),
		    xasprintf("see the resolver check; look %s up by hand at " CHECK_URL "%s",
		    domain, domain));
		return;
	}
	if (l->n == 0) {
		add(&d->checks, "dbl", domain, NULL, DOCTOR_OK,
		    xasprintf("%s is not listed in %s", domain, zone), NULL);
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		len[i] = inet_pton(AF_INET, l->items[i], raw[i]) == 1 ? 4 : 0;
		data[i] = (const char *)raw[i];
	}
	dnsbl_verdict_of(DNSBL_KIND_DOMAIN, data, len, l->n, &v);
	if (v.code == DNSBL_ERROR || v.code == DNSBL_NONE) {
		add(&d->checks, "dbl", domain, NULL, DOCTOR_WARN,
		    xasprintf("%s answered %s for %s: an error code, not a listing; not checked",
		    zone, v.text[0] ? v.text : l->items[0], domain),
		    xasprintf("see the resolver check; look %s up by hand at " CHECK_URL "%s",
		    domain, domain));
		return;
	}
	dnsbl_lists_text(&v, lists, sizeof(lists));
	add(&d->checks, "dbl", domain, NULL,
	    v.code == DNSBL_DBL_ABUSED ? DOCTOR_WARN : DOCTOR_FAIL,
	    xasprintf("%s is listed in %s: %s (%s)%s", domain, zone, lists, v.text,
	    v.code == DNSBL_DBL_ABUSED ? ": a compromised legitimate site" :
	    "; receivers refuse mail that names it"),
	    xasprintf("find out why (a compromised web site, links in mail sent), clean it, "
	    "then ask for removal at " CHECK_URL "%s", domain));
}

/* Meaning of Spamhaus's error answers (127.255.255.x). */
static const char *
error_meaning(const char *code)
{
	if (strcmp(code, "127.255.255.252") == 0)
		return "a typing error in the zone name";
	if (strcmp(code, "127.255.255.254") == 0)
		return "queries through a public or open resolver are refused";
	if (strcmp(code, "127.255.255.255") == 0)
		return "too many queries from this resolver";
	return "not a Spamhaus return code: the resolver rewrites answers";
}

/* One test point; returns its status and writes what was found to f. */
static enum doctor_status
test_point(const struct doctor *d, const struct lookup *l, enum dnsbl_kind kind,
    const char *point, const char *zone, FILE *f, FILE *fix)
{
	const char *data[LOOKUP_ITEMS_MAX];
	unsigned char raw[LOOKUP_ITEMS_MAX][4];
	int len[LOOKUP_ITEMS_MAX];
	struct dnsbl_verdict v;

	if (l == NULL || l->n == 0) {
		if (l == NULL)
			fprintf(f, "%s: no test point query", zone);
		else if (lookup_error(l))
			fprintf(f, "%s: %s for the test point %s", zone, dns_status_text(l->status),
			    point);
		else
			fprintf(f, "%s: test point %s not listed (%s)", zone, point,
			    dns_status_text(l->status));
		fprintf(fix, "%s", d->cfg->ndns_servers ?
		    "check that the servers of dns_servers answer and reach Spamhaus; " :
		    "check that this host reaches the Internet's name servers (UDP and TCP "
		    "port 53); ");
		return DOCTOR_FAIL;
	}
	for (size_t i = 0; i < l->n; i++) {
		len[i] = inet_pton(AF_INET, l->items[i], raw[i]) == 1 ? 4 : 0;
		data[i] = (const char *)raw[i];
	}
	dnsbl_verdict_of(kind, data, len, l->n, &v);
	if (v.code == DNSBL_ERROR || v.code == DNSBL_NONE) {
		const char *code = v.text[0] ? v.text : l->items[0];
		fprintf(f, "%s answered %s for the test point %s: %s", zone, code, point,
		    error_meaning(code));
		if (strncmp(code, "127.255.255.", 12) == 0)
			fprintf(fix, "use a resolver of your own for Spamhaus (leave dns_servers "
			    "empty: postern then resolves by itself, or point it at a local "
			    "unbound), or a Data Query Service key (spamhaus_dqs_key, free for "
			    "small organisations); ");
		else
			fprintf(fix, "use a resolver that does not rewrite answers; ");
		return DOCTOR_FAIL;
	}
	fprintf(f, "%s answers %s for the test point %s", zone, l->items[0], point);
	return DOCTOR_OK;
}

static void
eval_resolver(struct doctor *d)
{
	struct text t, fix;
	enum doctor_status a, b;

	text_open(&t);
	text_open(&fix);
	a = test_point(d, d->rz, DNSBL_KIND_IP, "127.0.0.2", d->sh.ip_display, t.f, fix.f);
	fprintf(t.f, "; ");
	b = test_point(d, d->rd, DNSBL_KIND_DOMAIN, "dbltest.com", d->sh.domain_display, t.f,
	    fix.f);
	if (d->cfg->ndns_servers > 0)
		fprintf(t.f, " (through dns_servers)");
	add(&d->checks, "resolver", NULL, NULL, a > b ? a : b, text_close(&t), text_close(&fix));
}

/* MTA-STS and TLS-RPT records (RFC 8461, RFC 8460): not among the ten
 * checks, reported as notes. */
static void
eval_notes(struct doctor *d, const struct dom *m)
{
	if (m->sts != NULL && !lookup_error(m->sts)) {
		const char *rec = txt_with(m->sts, "v=STSv1", NULL);
		add(&d->notes, "mta-sts", m->name, NULL, rec ? DOCTOR_OK : DOCTOR_WARN,
		    rec ? xasprintf("%s: \"%s\"", m->sts->name, rec) :
		    xasprintf("%s has no MTA-STS record: senders may deliver without TLS",
		    m->name),
		    rec ? NULL : xasprintf("postern quickstart prints the record and the "
		    "policy host (RFC 8461)"));
	}
	if (m->tlsrpt != NULL && !lookup_error(m->tlsrpt)) {
		const char *rec = txt_with(m->tlsrpt, "v=TLSRPTv1", NULL);
		add(&d->notes, "tls-rpt", m->name, NULL, rec ? DOCTOR_OK : DOCTOR_WARN,
		    rec ? xasprintf("%s: \"%s\"", m->tlsrpt->name, rec) :
		    xasprintf("%s has no TLS-RPT record: no reports of failed TLS", m->name),
		    rec ? NULL : xasprintf("publish: _smtp._tls.%s. IN TXT \"v=TLSRPTv1; "
		    "rua=mailto:postmaster@%s\"", m->name, m->name));
	}
}

static void
eval_ip_notes(struct doctor *d)
{
	for (size_t i = 0; i < d->nips; i++) {
		unsigned char a[16];
		bool local = false;
		if (d->ips[i].family == AF_INET) {
			inet_pton(AF_INET, d->ips[i].ip, a);
			local = a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
			    (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254);
		} else {
			inet_pton(AF_INET6, d->ips[i].ip, a);
			local = (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) ||
			    memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
		}
		if (local)
			add(&d->notes, "public-ip", NULL, d->ips[i].ip, DOCTOR_WARN,
			    xasprintf("%s is a private or loopback address: the Internet sees "
			    "another one", d->ips[i].ip),
			    xasprintf("give the public address: --ip or public_ip"));
	}
}

static void
evaluate(struct doctor *d)
{
	bool want[DOCTOR_NCHECKS];

	for (int c = 0; c < DOCTOR_NCHECKS; c++)
		want[c] = (d->want & DOCTOR_BIT(c)) != 0;
	/* the spec's order: mx, address, ptr, spf, dkim, dmarc, zen, dbl,
	 * resolver, certificate */
	for (size_t k = 0; want[DOCTOR_MX] && k < d->ndoms; k++)
		eval_mx(d, &d->doms[k]);
	if (want[DOCTOR_ADDRESS])
		eval_address(d);
	if (want[DOCTOR_PTR] && d->nips == 0)
		no_ips(d, "ptr", NULL);
	for (size_t i = 0; want[DOCTOR_PTR] && i < d->nips; i++)
		eval_ptr(d, &d->ips[i]);
	for (size_t k = 0; want[DOCTOR_SPF] && k < d->ndoms; k++) {
		if (d->nips == 0)
			no_ips(d, "spf", d->doms[k].name);
		else
			eval_spf(d, k);
	}
	for (size_t k = 0; want[DOCTOR_DKIM] && k < d->ndoms; k++)
		eval_dkim(d, &d->doms[k]);
	for (size_t k = 0; want[DOCTOR_DMARC] && k < d->ndoms; k++)
		eval_dmarc(d, &d->doms[k]);
	if (want[DOCTOR_ZEN] && d->nips == 0)
		no_ips(d, "zen", NULL);
	for (size_t i = 0; want[DOCTOR_ZEN] && i < d->nips; i++)
		eval_zen(d, &d->ips[i]);
	for (size_t k = 0; want[DOCTOR_DBL] && k < d->ndoms; k++)
		eval_dbl(d, d->doms[k].name, d->doms[k].dbl);
	if (want[DOCTOR_DBL] && d->host_dbl != NULL)
		eval_dbl(d, d->cfg->hostname, d->host_dbl);
	if (want[DOCTOR_RESOLVER])
		eval_resolver(d);
	if (want[DOCTOR_CERTIFICATE]) {
		struct doctor_finding f = { 0 };
		doctor_certificate(d->cfg->tls_cert, d->cfg->hostname, time(NULL), &f);
		add(&d->checks, f.name, NULL, NULL, f.status, f.detail, f.fix);
		f.detail = f.fix = NULL;
		doctor_finding_clear(&f);
	}
	for (size_t k = 0; k < d->ndoms; k++)
		eval_notes(d, &d->doms[k]);
	eval_ip_notes(d);
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
	evaluate(d);
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
	free(d);
}

/* ---- the DKIM key record ---- */

struct dkim_tags {
	const char *p, *k, *v;
	size_t plen, klen, vlen;
};

static void
on_tag(void *arg, const char *tag, size_t tlen, const char *val, size_t vlen)
{
	struct dkim_tags *t = arg;

	if (tlen == 1 && tag[0] == 'p')
		t->p = val, t->plen = vlen;
	else if (tlen == 1 && tag[0] == 'k')
		t->k = val, t->klen = vlen;
	else if (tlen == 1 && tag[0] == 'v')
		t->v = val, t->vlen = vlen;
}

/* base64 text without its white space (FWS is allowed inside p=,
 * RFC 6376 3.6.1), compared octet by octet. */
static bool
same_b64(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < alen && (a[i] == ' ' || a[i] == '\t' || a[i] == '\r' || a[i] == '\n'))
			i++;
		while (j < blen && (b[j] == ' ' || b[j] == '\t' || b[j] == '\r' || b[j] == '\n'))
			j++;
		if (i == alen || j == blen)
			return i == alen && j == blen;
		if (a[i++] != b[j++])
			return false;
	}
}

enum doctor_status
doctor_dkim_match(const char *published, size_t len, const char *ours, const char **why)
{
	struct dkim_tags pub = { 0 }, our = { 0 };

	if (dkim_parse_tags(published, len, on_tag, &pub) == -1) {
		*why = "the record is not a DKIM tag list (RFC 6376 3.6.1)";
		return DOCTOR_FAIL;
	}
	dkim_parse_tags(ours, strlen(ours), on_tag, &our);
	if (pub.v != NULL && !(pub.vlen == 5 && memcmp(pub.v, "DKIM1", 5) == 0)) {
		*why = "v= is not DKIM1";
		return DOCTOR_FAIL;
	}
	if (pub.p == NULL) {
		*why = "the record has no p= (public key)";
		return DOCTOR_FAIL;
	}
	if (same_b64(pub.p, pub.plen, "", 0)) {
		*why = "the key is revoked (empty p=)";
		return DOCTOR_FAIL;
	}
	/* k= defaults to rsa (RFC 6376 3.6.1) */
	if (!same_b64(pub.k ? pub.k : "rsa", pub.k ? pub.klen : 3, our.k ? our.k : "rsa",
	    our.k ? our.klen : 3)) {
		*why = "the published key type (k=) differs from dkim_key's";
		return DOCTOR_FAIL;
	}
	if (our.p == NULL || !same_b64(pub.p, pub.plen, our.p, our.plen)) {
		*why = "the published key (p=) is not the public half of dkim_key";
		return DOCTOR_FAIL;
	}
	*why = NULL;
	return DOCTOR_OK;
}
