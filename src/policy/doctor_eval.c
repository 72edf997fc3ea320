/*
 * The doctor's verdicts (SPEC 9): from the answers the run collected
 * (doctor.c), each check's status, what was found and what to do. Texts
 * name the record to publish or the provider's part, so that `fix` can
 * be followed as written.
 */
#include "doctor_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dns/answer.h"
#include "dns/dnsbl.h"
#include "lib/xmalloc.h"
#include "scan/dkim.h"
#include "scan/dmarc.h"

/* Spamhaus's link for a listed IP or domain: what it is listed for and
 * the removal form. */
#define CHECK_URL "https://check.spamhaus.org/results/?query="

/* Appends a finding; takes detail and fix (newly allocated). Returns it
 * (valid until the next add), for its flags. */
static struct doctor_finding *
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
	f->flags = 0;
	f->detail = detail;
	f->fix = fix ? fix : xstrdup("");
	return f;
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
	    xasprintf("set public_ip = ADDRESS... in the configuration, or give --ip"))->flags |=
	    DOCTOR_F_UNSURE;	/* nothing was looked up */
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
		    s->ip, rev, host))->flags |= DOCTOR_F_UNSURE;
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
		    s->ip, s->ip))->flags |= DOCTOR_F_UNSURE;
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
		    s->ip, s->ip))->flags |= DOCTOR_F_UNSURE;
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
		    domain, domain))->flags |= DOCTOR_F_UNSURE;
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
		    domain, domain))->flags |= DOCTOR_F_UNSURE;
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
	fprintf(f, "%s answers", zone);
	for (size_t i = 0; i < l->n; i++)
		fprintf(f, " %s", l->items[i]);
	fprintf(f, " for the test point %s", point);
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

void
doctor_evaluate(struct doctor *d)
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
		/* made at start (doctor_start): its strings move to the report */
		add(&d->checks, "certificate", NULL, NULL, d->cert.status, d->cert.detail,
		    d->cert.fix)->flags = d->cert.flags;
		d->cert.detail = d->cert.fix = NULL;
	}
	for (size_t k = 0; k < d->ndoms; k++)
		eval_notes(d, &d->doms[k]);
	eval_ip_notes(d);
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
