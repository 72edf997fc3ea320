/*
 * Scan orchestration in three phases: scan_new copies what it needs of
 * the configuration and the caller; scan_parse (extraction, bounded) may
 * run on a worker thread; scan_launch starts the lookups all at once on
 * the loop, each bounded by dnsbl_timeout, and the score is computed when
 * the last one completes. An error answer is never a hit (SPEC 4): it is
 * reported to the zone's health and ignored.
 */
#include "scan.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "dns/health.h"
#include "lib/pslist.h"
#include "lib/workq.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "scan/decode.h"
#include "scan/dqs.h"
#include "scan/hdraddr.h"
#include "scan/mime.h"

#define FROM_DOMAINS_MAX 4
#define SUBJECT_MAX (64 * 1024)	/* octets of one Subject: read */

struct scan {
	struct scan_input in;		/* cfg NULL, bayes held (scan_new) */
	const char *msg;
	size_t len;
	size_t slen;			/* of it scanned: at most SCAN_TEXT_MAX */
	char client_ip[64];		/* in.client_ip points here */
	struct cidr *trusted;		/* the configuration's, copied */
	size_t ntrusted;
	struct workq_job *job;		/* scan_parse queued or running on a worker */
	bool async;			/* scan_start_async: cb even when no lookup */
	scan_cb *cb;
	void *arg;
	struct url_set urls;
	struct received_chain chain;
	char from_domains[FROM_DOMAINS_MAX][URL_HOST_MAX];
	const char *from_ptrs[FROM_DOMAINS_MAX];
	size_t nfrom;
	struct scan_lookup *lk;
	size_t nlk, caplk;
	unsigned pending;
	bool started;		/* scan_start returned */
	bool finished;
	struct mime_stats mime;
	struct dqs *dqs;		/* ZRD and HBL (SPEC 4.1), NULL without a DQS key */
	unsigned parts;		/* text parts scanned (url_set groups) */
	unsigned cut;		/* enum scan_cut bits */
	double junk, reject;	/* thresholds, copied: a reload may free cfg */
	char authserv[URL_HOST_MAX];
	struct spf_check *spf;
	struct dkim_verify *dkim;
	struct dmarc_check *dmarc;
	bool spf_pending, dkim_pending;
	struct scan_auth auth;
	char from_addr[SCAN_ADDR_MAX];	/* first From: address, "" if none */
	struct score score;
	enum verdict verdict;
	struct bayes_tokens *tok;	/* the classifier's, NULL when off */
	/* A text/plain part of a multipart/alternative, decoded, held back
	 * from the classifier until the walk shows whether an HTML twin
	 * follows it (see classify_part) */
	char *twin;
	size_t twin_len;
	unsigned twin_alt, twin_branch;
	struct bayes_result bayes;
};

/* ---- extraction ---- */

/* Group numbers of the URL items: where a lookup budget round-robins. */
#define GROUP_RCVD 0		/* deeper Received hops */
#define GROUP_HEADER 1		/* Subject */
#define GROUP_PART0 2		/* first text part */

/*
 * The classifier's share of a decoded text part: of a multipart/
 * alternative's plain and HTML twins only the HTML one is tokenized
 * (both say the same words, and the HTML one also has its tags: spam
 * caught and ham misfiled as with both on the corpus, 378/411 and 2/521,
 * with the plain one alone 375 and 1) -- the plain part waits in s->twin
 * until the next text part or the walk's end shows whether its twin
 * came. Returns true when it kept text (then s->twin owns it).
 */
static bool
classify_part(struct scan *s, const struct mime_part *p, bool html, char *text, size_t n)
{
	if (s->twin != NULL) {
		if (!(html && p->alt == s->twin_alt && p->alt_branch != s->twin_branch))
			bayes_tokens_text(s->tok, s->twin, s->twin_len);
		free(s->twin);
		s->twin = NULL;
	}
	if (!html && p->alt != 0 && strcmp(p->subtype, "plain") == 0) {
		s->twin = text;
		s->twin_len = n;
		s->twin_alt = p->alt;
		s->twin_branch = p->alt_branch;
		return true;
	}
	(html ? bayes_tokens_html : bayes_tokens_text)(s->tok, text, n);
	return false;
}

/*
 * A text part, attachment or not, decoded whole: the message is bounded (SCAN_TEXT_MAX), so
 * the text is too; a budget shared first-come would let a padding part
 * starve the next one (issue 19).
 */
static void
on_part(void *arg, const struct mime_part *p)
{
	struct scan *s = arg;
	bool html = strcmp(p->subtype, "html") == 0;
	char *text;
	size_t cap, n;

	/* HBL hashes attachments, text or not; one cut by the size cap is
	 * another file, not looked up (SPEC 4.1) */
	dqs_part(s->dqs, p, (s->cut & SCAN_CUT_SIZE) &&
	    p->body + p->body_len + 2 >= s->msg + SCAN_TEXT_MAX);
	/* text parts marked as attachments too: most readers show them
	 * inline (SPEC 5.1, issue 20) */
	if (strcmp(p->type, "text") != 0)
		return;
	/* charset conversion grows text: at most 3 octets of UTF-8 per
	 * input octet (windows-1252's 0x80 is U+20AC) */
	cap = p->body_len * 3 + 16;
	text = xmalloc(cap);
	n = mime_decode_body(p, text, cap);
	if (n == cap)
		s->cut |= SCAN_CUT_TEXT;
	s->urls.group = GROUP_PART0 + s->parts++;
	if (html)
		urls_from_html(&s->urls, text, n);
	else
		urls_from_text(&s->urls, text, n, URL_SRC_BODY);
	dqs_text(s->dqs, text, n);
	if (s->tok != NULL && classify_part(s, p, html, text, n))
		return;
	free(text);
}

static void
add_from_domain(struct scan *s, const char *d)
{
	for (size_t i = 0; i < s->nfrom; i++)
		if (strcmp(s->from_domains[i], d) == 0)
			return;
	if (s->nfrom < FROM_DOMAINS_MAX) {
		snprintf(s->from_domains[s->nfrom], URL_HOST_MAX, "%s", d);
		s->from_ptrs[s->nfrom] = s->from_domains[s->nfrom];
		s->nfrom++;
	} else
		s->cut |= SCAN_CUT_ITEMS;	/* a fifth sender domain */
}

/* Headers: structure checks, From-like domains, Subject URLs. */
static void
scan_header_block(struct scan *s, const char *hdrs, size_t hlen)
{
	size_t pos = 0, nl, vl, nfrom = 0;
	const char *name, *value;
	bool date = false, msgid = false, subject = false, from_ok = false;
	char dom[URL_HOST_MAX];

	while (mime_header_next(hdrs, hlen, &pos, &name, &nl, &value, &vl)) {
		if (s->tok != NULL)
			bayes_tokens_header(s->tok, name, nl, value, vl);
		if (nl == 4 && strncasecmp(name, "Date", 4) == 0)
			date = true;
		else if (nl == 10 && strncasecmp(name, "Message-ID", 10) == 0)
			msgid = true;
		else if (nl == 4 && strncasecmp(name, "From", 4) == 0) {
			nfrom++;
			if (nfrom == 1)
				scan_address_spec(value, vl, s->from_addr, sizeof(s->from_addr));
			if (scan_address_domain(value, vl, dom, sizeof(dom))) {
				from_ok = true;
				add_from_domain(s, dom);
				if (s->auth.header_from[0] == '\0')
					snprintf(s->auth.header_from, sizeof(s->auth.header_from), "%s", dom);
			}
		} else if ((nl == 8 && strncasecmp(name, "Reply-To", 8) == 0) ||
		    (nl == 11 && strncasecmp(name, "Return-Path", 11) == 0)) {
			if (scan_address_domain(value, vl, dom, sizeof(dom)))
				add_from_domain(s, dom);
		} else if (nl == 7 && strncasecmp(name, "Subject", 7) == 0) {
			/* read whole up to SUBJECT_MAX: a padded Subject must
			 * not hide its URL (SPEC 5.1); decoding may triple it */
			size_t cap = vl < SUBJECT_MAX ? vl : SUBJECT_MAX, rn, dn;
			char *raw = xmalloc(cap + 1), *dec = xmalloc(cap * 3 + 16);
			if (vl > SUBJECT_MAX)
				s->cut |= SCAN_CUT_TEXT;
			rn = mime_unfold(value, vl, raw, cap);
			dn = rfc2047_decode(raw, rn, dec, cap * 3 + 16);
			subject = true;
			s->urls.group = GROUP_HEADER;
			urls_from_text(&s->urls, dec, dn, URL_SRC_SUBJECT);
			free(raw);
			free(dec);
		}
	}
	if (!date)
		score_add(&s->score, SYM_MISSING_DATE, NULL);
	if (!msgid)
		score_add(&s->score, SYM_MISSING_MESSAGE_ID, NULL);
	if (!subject)
		score_add(&s->score, SYM_MISSING_SUBJECT, NULL);
	if (nfrom == 0)
		score_add(&s->score, SYM_MISSING_FROM, NULL);
	else if (nfrom > 1)
		score_add(&s->score, SYM_MULTIPLE_FROM, NULL);
	else if (!from_ok)
		score_add(&s->score, SYM_MALFORMED_FROM, NULL);
}

/* ---- lookups ---- */

static void finish(struct scan *s);
static void done_one(struct scan *s);

static void
apply(struct scan *s, const struct scan_lookup *l)
{
	unsigned lists = l->v.lists;
	const char *d = l->item;

	if (l->state != LOOKUP_DONE || l->v.code == DNSBL_NONE || l->v.code == DNSBL_ERROR)
		return;
	switch (l->role) {
	case ROLE_URL_HOST:
	case ROLE_EMAIL:
		if (lists & ((1u << DNSBL_DBL_SPAM) | (1u << DNSBL_DBL_OTHER)))
			score_add(&s->score, SYM_URL_DBL_SPAM, d);
		if (lists & (1u << DNSBL_DBL_PHISH))
			score_add(&s->score, SYM_URL_DBL_PHISH, d);
		if (lists & (1u << DNSBL_DBL_MALWARE))
			score_add(&s->score, SYM_URL_DBL_MALWARE, d);
		if (lists & (1u << DNSBL_DBL_BOTNET))
			score_add(&s->score, SYM_URL_DBL_BOTNET, d);
		if (lists & (1u << DNSBL_DBL_ABUSED))
			score_add(&s->score, SYM_URL_DBL_ABUSED, d);
		break;
	case ROLE_FROM:
		if (lists & ~(1u << DNSBL_DBL_ABUSED))
			score_add(&s->score, SYM_FROM_DBL, d);
		if (lists & (1u << DNSBL_DBL_ABUSED))
			score_add(&s->score, SYM_FROM_DBL_ABUSED, d);
		break;
	case ROLE_URL_IP:
		/* SPEC 5.2: IP-literal URL hosts count for the SBL only */
		if (lists & ((1u << DNSBL_SBL) | (1u << DNSBL_SBL_CSS) | (1u << DNSBL_SBL_DROP)))
			score_add(&s->score, SYM_URL_IP_SBL, d);
		break;
	case ROLE_RCVD_LAST:
		if (lists & ((1u << DNSBL_SBL) | (1u << DNSBL_SBL_CSS) | (1u << DNSBL_SBL_DROP)))
			score_add(&s->score, SYM_RCVD_IN_SBL, d);
		if (lists & (1u << DNSBL_XBL))
			score_add(&s->score, SYM_RCVD_IN_XBL, d);
		if (lists & (1u << DNSBL_PBL))
			score_add(&s->score, SYM_RCVD_IN_PBL, d);
		break;
	case ROLE_RCVD_DEEP:
		/* deeper hops: never PBL or XBL (Spamhaus) */
		if (lists & ((1u << DNSBL_SBL) | (1u << DNSBL_SBL_CSS) | (1u << DNSBL_SBL_DROP)))
			score_add(&s->score, SYM_RCVD_IN_SBL, d);
		break;
	}
}

static void
on_lookup(void *arg, const struct dns_answer *ans)
{
	struct scan_lookup *l = arg;
	struct scan *s = l->scan;

	l->q = NULL;
	switch (ans->status) {
	case DNS_OK:
		l->state = LOOKUP_DONE;
		dnsbl_verdict_of(l->kind, ans->data, ans->len, ans->count, &l->v);
		if (l->v.code == DNSBL_ERROR && s->in.sh->health)
			health_error(s->in.sh->health, l->kind, l->item, l->v.text);
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		l->state = LOOKUP_DONE;
		break;
	case DNS_TIMEOUT:
		l->state = LOOKUP_TIMEOUT;
		break;
	case DNS_SERVFAIL:
		l->state = LOOKUP_FAILED;
		break;
	}
	done_one(s);
}

static void
add_lookup(struct scan *s, enum scan_role role, const char *item, const char *detail)
{
	enum dnsbl_kind kind = role == ROLE_URL_IP || role == ROLE_RCVD_LAST ||
	    role == ROLE_RCVD_DEEP ? DNSBL_KIND_IP : DNSBL_KIND_DOMAIN;
	struct scan_lookup *l;

	if (s->nlk == s->caplk) {
		s->caplk = s->caplk ? s->caplk * 2 : 16;
		s->lk = xrealloc(s->lk, s->caplk * sizeof(*s->lk));
	}
	l = &s->lk[s->nlk++];
	memset(l, 0, sizeof(*l));
	l->role = role;
	l->kind = kind;
	snprintf(l->item, sizeof(l->item), "%s", item);
	snprintf(l->detail, sizeof(l->detail), "%s", detail ? detail : item);
	l->state = LOOKUP_SKIPPED;
}

/*
 * Lookup priority (SPEC 5.1: padding cannot push a listed name out).
 * Tier 0: the last external hop and the sender domains. Tier 1: one name
 * per registered domain, IP-literal hosts and deeper hops. Tier 2: host
 * names beyond their registered domain. Within a tier the parts take
 * turns (rank, then group): a part padded with a thousand names gets no
 * more of the budget per round than a part with one.
 */
struct cand {
	enum scan_role role;
	const char *item, *detail;
	unsigned tier, rank, group;
	size_t seq;
};

struct plan {
	struct cand *c;
	size_t n, cap;
	unsigned tier, group, rank;	/* of the last one added */
};

/* Candidates of one tier and group come in a row (items are stored in
 * the order of their parts), so a counter gives their rank. */
static void
cand_add(struct plan *p, enum scan_role role, const char *item, const char *detail,
    unsigned tier, unsigned group)
{
	/* O(n^2) over at most URL_ITEMS_MAX * 2 + a few names */
	for (size_t i = 0; i < p->n; i++)
		if (p->c[i].role == role && strcmp(p->c[i].item, item) == 0)
			return;
	if (p->n == 0 || tier != p->tier || group != p->group) {
		p->tier = tier;
		p->group = group;
		p->rank = 0;
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 32;
		p->c = xrealloc(p->c, p->cap * sizeof(*p->c));
	}
	p->c[p->n] = (struct cand){ role, item, detail, tier, p->rank++, group, p->n };
	p->n++;
}

static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->tier != y->tier)
		return x->tier < y->tier ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static enum scan_role
item_role(const struct url_item *it)
{
	return it->kind == URL_ITEM_EMAIL ? ROLE_EMAIL : ROLE_URL_HOST;
}

static void
plan_lookups(struct scan *s)
{
	const struct received_chain *c = &s->chain;
	struct plan p = { 0 };
	unsigned budget = s->in.max_lookups ? s->in.max_lookups : 64;

	/* tier 0 */
	for (size_t i = 0; i < c->n; i++) {
		const struct received_hop *h = &c->hops[i];
		/* SPEC 5.2: an authenticated client's own hop is never
		 * looked up: a user's home IP is in the PBL by design. */
		if (h->internal || !h->last_external || (s->in.authenticated && s->in.client_ip &&
		    strcmp(h->ip, s->in.client_ip) == 0))
			continue;
		cand_add(&p, ROLE_RCVD_LAST, h->ip, h->ip, 0, GROUP_RCVD);
	}
	for (size_t i = 0; i < s->nfrom; i++) {
		const char *reg = pslist_registrable(s->from_domains[i]);
		if (reg != NULL)
			cand_add(&p, ROLE_FROM, reg, s->from_domains[i], 0, GROUP_HEADER);
		/* DBL gets the full name and, when it differs, the
		 * registered domain (SPEC 4) */
		cand_add(&p, ROLE_FROM, s->from_domains[i], s->from_domains[i], 0, GROUP_HEADER);
	}
	/* tier 1 */
	for (size_t i = 0; i < c->n; i++)
		if (!c->hops[i].internal && !c->hops[i].last_external)
			cand_add(&p, ROLE_RCVD_DEEP, c->hops[i].ip, c->hops[i].ip, 1, GROUP_RCVD);
	for (size_t i = 0; i < s->urls.n; i++) {
		const struct url_item *it = &s->urls.items[i];
		if (it->kind == URL_ITEM_IP) {
			if (!received_ip_internal(it->host))
				cand_add(&p, ROLE_URL_IP, it->host, it->detail, 1, it->group);
		} else
			cand_add(&p, item_role(it), it->host + it->reg, it->detail, 1, it->group);
	}
	/* tier 2 */
	for (size_t i = 0; i < s->urls.n; i++) {
		const struct url_item *it = &s->urls.items[i];
		if (it->kind != URL_ITEM_IP && it->reg > 0)
			cand_add(&p, item_role(it), it->host, it->detail, 2, it->group);
	}
	if (p.n > 0)
		qsort(p.c, p.n, sizeof(*p.c), cand_cmp);
	for (size_t i = 0; i < p.n; i++) {
		struct scan_lookup *l;
		bool dup = false;
		add_lookup(s, p.c[i].role, p.c[i].item, p.c[i].detail);
		l = &s->lk[s->nlk - 1];
		/* the same name for another role costs no second lookup:
		 * the resolver's cache answers it */
		for (size_t k = 0; k + 1 < s->nlk && !dup; k++)
			dup = s->lk[k].state == LOOKUP_SKIPPED && s->lk[k].kind == l->kind &&
			    strcmp(s->lk[k].item, l->item) == 0;
		if (dup)
			continue;
		if (budget > 0)
			budget--;
		else
			l->state = LOOKUP_OVER_BUDGET;
	}
	free(p.c);
}

static void
start_lookups(struct scan *s)
{
	const struct spamhaus *sh = s->in.sh;
	char qname[DNSBL_NAME_MAX * 2];

	for (size_t i = 0; i < s->nlk; i++) {
		struct scan_lookup *l = &s->lk[i];
		int rc;
		if (l->state == LOOKUP_OVER_BUDGET) {
			s->cut |= SCAN_CUT_LOOKUPS;
			continue;
		}
		rc = l->kind == DNSBL_KIND_IP ?
		    dnsbl_ip_name_str(l->item, sh->ip_zone, qname, sizeof(qname)) :
		    dnsbl_domain_name(l->item, strlen(l->item), sh->domain_zone, qname, sizeof(qname));
		if (rc == -1)
			continue;
		l->scan = s;
		l->state = LOOKUP_PENDING;
		s->pending++;
		l->q = dns_query(sh->res, qname, DNS_TYPE_A, sh->timeout_ms, on_lookup, l);
	}
}

static void
done_one(struct scan *s)
{
	if (--s->pending == 0 && s->started)
		finish(s);
}

static void
dqs_done(void *arg)
{
	done_one(arg);
}

static void
on_dmarc(void *arg, enum dmarc_result result, enum dmarc_policy policy, const char *from)
{
	struct scan *s = arg;

	s->auth.dmarc_ran = true;
	s->auth.dmarc = result;
	s->auth.dmarc_policy = policy;
	done_one(s);
}

/*
 * DMARC is judged on both SPF's and DKIM's results. on_dmarc may run
 * from here (the record was in first): safe, because the caller, on_spf
 * or on_dkim, still holds its own pending count until after this call.
 */
static void
maybe_dmarc(struct scan *s)
{
	if (s->spf_pending || s->dkim_pending || s->dmarc == NULL)
		return;
	dmarc_check_evaluate(s->dmarc, s->auth.spf_ran ? s->auth.spf : SPF_NONE,
	    s->auth.spf_domain, s->auth.dkim, s->auth.ndkim);
}

static void
on_spf(void *arg, enum spf_result result, const char *domain)
{
	struct scan *s = arg;

	s->auth.spf_ran = true;
	s->auth.spf = result;
	snprintf(s->auth.spf_domain, sizeof(s->auth.spf_domain), "%s", domain ? domain : "");
	s->spf_pending = false;
	maybe_dmarc(s);
	done_one(s);
}

static void
on_dkim(void *arg, const struct dkim_sig_result *sigs, size_t n)
{
	struct scan *s = arg;

	s->auth.dkim_ran = true;
	s->auth.ndkim = n < DKIM_SIGS_MAX ? n : DKIM_SIGS_MAX;
	memcpy(s->auth.dkim, sigs, s->auth.ndkim * sizeof(*sigs));
	s->dkim_pending = false;
	maybe_dmarc(s);
	done_one(s);
}

/*
 * SPF for the session's client (never for authenticated mail: the user
 * is ours), DKIM for every message, and the DMARC record lookups at the
 * same time: the three cost one round of lookups. DMARC is judged once
 * SPF and DKIM are in (maybe_dmarc).
 */
static void
start_auth(struct scan *s)
{
	struct resolver *res = s->in.sh->res;

	if (s->auth.header_from[0] != '\0') {
		s->pending++;
		s->dmarc = dmarc_check_begin(res, s->auth.header_from, s->in.sh->timeout_ms,
		    on_dmarc, s);
	}
	if (s->in.client_ip != NULL && !s->in.authenticated) {
		s->spf_pending = true;
		s->pending++;
		s->spf = spf_check_start(res, s->in.client_ip, s->in.helo ? s->in.helo : "",
		    s->in.mail_from ? s->in.mail_from : "", s->in.sh->timeout_ms, on_spf, s);
	}
	s->dkim_pending = true;
	s->pending++;
	dkim_verify_launch(s->dkim, res, s->in.sh->timeout_ms, on_dkim, s);
}

static void
finish(struct scan *s)
{
	for (size_t i = 0; i < s->nlk; i++)
		apply(s, &s->lk[i]);
	dqs_apply(s->dqs, &s->score);
	if (s->auth.spf_ran && s->auth.spf == SPF_FAIL)
		score_add(&s->score, SYM_SPF_FAIL, s->auth.spf_domain);
	if (s->auth.spf_ran && s->auth.spf == SPF_SOFTFAIL)
		score_add(&s->score, SYM_SPF_SOFTFAIL, s->auth.spf_domain);
	for (size_t i = 0; i < s->auth.ndkim; i++)
		if (s->auth.dkim[i].result == DKIM_FAIL || s->auth.dkim[i].result == DKIM_PERMERROR)
			score_add(&s->score, SYM_DKIM_INVALID, s->auth.dkim[i].domain);
	if (s->auth.dmarc_ran && s->auth.dmarc == DMARC_FAIL) {
		score_add(&s->score, SYM_DMARC_FAIL, s->auth.header_from);
		/* SPEC 5.3: a failing domain that publishes p=reject asked
		 * for exactly this. */
		if (s->auth.dmarc_policy == DMARC_POLICY_REJECT) {
			s->score.force_reject = true;
			snprintf(s->score.reject_reason, sizeof(s->score.reject_reason),
			    "DMARC policy of %s is reject", s->auth.header_from);
		}
	}
	if (s->in.helo_abused)
		score_add(&s->score, SYM_HELO_DBL_ABUSED, NULL);
	if (s->in.rdns_abused)
		score_add(&s->score, SYM_RDNS_DBL_ABUSED, NULL);
	if (s->in.learned != NULL && s->from_addr[0] != '\0') {
		/* A spam opinion needs no proof (forging a spammer's From:
		 * only files one's own mail as junk); a ham opinion counts only
		 * when the From: domain is authenticated, or every spammer
		 * would write From: a trusted correspondent. */
		enum learn_opinion o = s->in.learned(s->in.learned_arg, s->from_addr);
		if (o == LEARN_SPAM)
			score_add(&s->score, SYM_LEARNED_SPAM, s->from_addr);
		else if (o == LEARN_HAM && dmarc_identifier_aligned(s->auth.header_from, s->auth.spf,
		    s->auth.spf_domain, s->auth.dkim, s->auth.ndkim))
			score_add(&s->score, SYM_LEARNED_HAM, s->from_addr);
	}
	s->verdict = score_verdict(&s->score, s->junk, s->reject);
	s->finished = true;
	if ((s->started || s->async) && s->cb)
		s->cb(s->arg, s);
}

static const char *const cut_names[SCAN_CUT_COUNT] = {
	"message_size", "depth", "parts", "text_size", "items", "lookups",
};

const char *
scan_cut_names(unsigned cuts, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return out;
	out[0] = '\0';
	for (unsigned i = 0; i < SCAN_CUT_COUNT; i++) {
		int n;
		if (!(cuts & (1u << i)))
			continue;
		n = snprintf(out + o, outlen - o, "%s%s", o ? "+" : "", cut_names[i]);
		if (n < 0 || (size_t)n >= outlen - o) {
			out[o] = '\0';	/* whole names only */
			break;
		}
		o += (size_t)n;
	}
	return out;
}

const char *
scan_cut_text(enum scan_cut cut, char *out, size_t outlen)
{
	switch (cut) {
	case SCAN_CUT_SIZE:
		snprintf(out, outlen, "message longer than %d octets, the rest not scanned",
		    SCAN_TEXT_MAX);
		break;
	case SCAN_CUT_DEPTH:
		snprintf(out, outlen, "MIME parts nested deeper than %d levels not scanned",
		    MIME_DEPTH_MAX);
		break;
	case SCAN_CUT_PARTS:
		snprintf(out, outlen, "MIME parts past the first %d not scanned", MIME_PARTS_MAX);
		break;
	case SCAN_CUT_TEXT:
		snprintf(out, outlen, "decoded text past %d octets not scanned", URL_TEXT_MAX);
		break;
	case SCAN_CUT_ITEMS:
		snprintf(out, outlen, "URL hosts past %d (%d of new registered domains) dropped",
		    URL_ITEMS_SOFT, URL_ITEMS_MAX);
		break;
	case SCAN_CUT_LOOKUPS:
		snprintf(out, outlen, "names past the lookup budget (scan_max_lookups) not looked up");
		break;
	default:
		snprintf(out, outlen, "?");
	}
	return out;
}

/*
 * A cap cut something off: scored, never silent (SPEC 5.3
 * SCAN_TRUNCATED), so padding costs the sender more than it hides.
 * Logged here, where it is decided, with the caps by name.
 */
static void
truncated(struct scan *s)
{
	char names[128], from[LOG_VALUE_MAX];
	const char *mf = s->in.mail_from ? s->in.mail_from : "";

	scan_cut_names(s->cut, names, sizeof(names));
	score_add(&s->score, SYM_SCAN_TRUNCATED, names);
	log_event("scan_truncated", "caps=%s client=%s from=%s size=%zu", names,
	    s->in.client_ip ? s->in.client_ip : "-", log_quote(from, sizeof(from), mf, strlen(mf)),
	    s->len);
}

/*
 * The first phase, on the caller's thread (the loop in the server):
 * everything read from the configuration and from the caller's strings
 * is copied or used here, so the second phase reads only the scan, the
 * message and the classifier's table it holds.
 */
static struct scan *
scan_new(const struct scan_input *in, const char *msg, size_t len, scan_cb *cb, void *arg)
{
	struct scan *s = xcalloc(1, sizeof(*s));
	char dom[URL_HOST_MAX];
	const struct config *cfg = in->cfg;

	s->in = *in;
	s->junk = cfg ? cfg->score_junk : 5.0;
	s->reject = cfg ? cfg->score_reject : 12.0;
	s->msg = msg;
	s->len = len;
	snprintf(s->authserv, sizeof(s->authserv), "%s",
	    in->authserv_id ? in->authserv_id : (cfg ? cfg->hostname : "localhost"));
	s->cb = cb;
	s->arg = arg;
	score_init(&s->score, cfg);
	if (cfg != NULL && cfg->ntrusted_networks > 0) {
		s->ntrusted = cfg->ntrusted_networks;
		s->trusted = xmalloc(s->ntrusted * sizeof(*s->trusted));
		memcpy(s->trusted, cfg->trusted_networks, s->ntrusted * sizeof(*s->trusted));
	}
	/* Nothing after this may use the configuration: a reload (SIGHUP)
	 * frees it while the scan runs on a worker or waits for lookups. */
	s->in.cfg = NULL;
	if (in->client_ip != NULL) {
		snprintf(s->client_ip, sizeof(s->client_ip), "%s", in->client_ip);
		s->in.client_ip = s->client_ip;
	}
	/* shared with the server's live copy, which a load may replace
	 * before a worker is done with this one */
	s->in.bayes = bayes_table_hold(in->bayes);
	url_set_init(&s->urls, in->defanged);
	/* DKIM gets the message as given; the content scan its first
	 * SCAN_TEXT_MAX bytes (scan.h) */
	s->slen = len;
	if (s->slen >= SCAN_TEXT_MAX) {
		s->slen = SCAN_TEXT_MAX;
		s->cut |= SCAN_CUT_SIZE;
	}
	/* SPEC 4.1: ZRD for the HELO and client names, HBL for the sender
	 * and header addresses; the rest as the walk finds it */
	s->dqs = dqs_new(in->sh, in->max_lookups);
	dqs_domain(s->dqs, in->helo);
	dqs_domain(s->dqs, in->rdns);
	dqs_address(s->dqs, in->mail_from);
	if (in->mail_from && *in->mail_from &&
	    scan_address_domain(in->mail_from, strlen(in->mail_from), dom, sizeof(dom)))
		add_from_domain(s, dom);
	if (s->in.bayes != NULL || in->bayes_tokens) {
		s->tok = xmalloc(sizeof(*s->tok));
		bayes_tokens_init(s->tok);
	}
	return s;
}

/*
 * The second phase: pure computation on the message (header block, MIME
 * walk, URLs, the classifier, the lookup plan). It may run on a worker
 * thread (scan_start_async): it touches no resolver, event loop,
 * configuration or log, and only the scan's own memory, the message and
 * the held table; pslist and the tokenizer's tables are safe to share.
 */
static void
scan_parse(struct scan *s)
{
	const char *msg = s->msg;
	size_t hend = mime_header_end(msg, s->slen);

	dqs_headers(s->dqs, msg, hend);
	received_chain(msg, hend, s->trusted, s->ntrusted, s->in.own, s->in.nown, &s->chain);
	scan_header_block(s, msg, hend);
	mime_walk(msg, s->slen, on_part, s, &s->mime);
	if (s->twin != NULL) {
		/* a plain alternative without an HTML twin after it */
		bayes_tokens_text(s->tok, s->twin, s->twin_len);
		free(s->twin);
		s->twin = NULL;
	}
	if (s->tok != NULL) {
		/* SPEC 13: the vote is the same here and in postern scan */
		bayes_tokens_scan(s->tok, &s->urls, &s->chain);
		bayes_classify(s->in.bayes, s->tok, s->in.bayes_min_learned, &s->bayes);
		bayes_vote(&s->bayes, &s->score);
		bayes_table_release(s->in.bayes);
		s->in.bayes = NULL;
		if (!s->in.bayes_tokens) {
			bayes_tokens_clear(s->tok);
			free(s->tok);
			s->tok = NULL;
		}
	}
	/* a message cut at SCAN_TEXT_MAX has lost its closing boundaries:
	 * that is the cap's doing, scored as such below */
	if (s->mime.malformed && !(s->cut & SCAN_CUT_SIZE))
		score_add(&s->score, SYM_MIME_MALFORMED, NULL);
	if (s->mime.depth_exceeded)
		s->cut |= SCAN_CUT_DEPTH;
	if (s->mime.parts_exceeded)
		s->cut |= SCAN_CUT_PARTS;
	if (s->urls.text_cut)
		s->cut |= SCAN_CUT_TEXT;
	if (s->urls.items_cut)
		s->cut |= SCAN_CUT_ITEMS;
	for (size_t i = 0; i < s->nfrom; i++)
		dqs_domain(s->dqs, s->from_domains[i]);
	dqs_urls(s->dqs, &s->urls);
	if (dqs_capped(s->dqs))
		s->cut |= SCAN_CUT_LOOKUPS;
	plan_lookups(s);
	s->in.own = NULL;
	s->in.nown = 0;
	/* DKIM's share that needs no key: the signatures read and the body
	 * hashes checked (the whole message, as given) */
	if (s->in.sh != NULL)
		s->dkim = dkim_verify_new(s->msg, s->len);
}

/* The third phase, on the loop: the lookups go out, and the scan is
 * finished here when none is needed. */
static void
scan_launch(struct scan *s)
{
	const struct spamhaus *sh = s->in.sh;

	if (sh != NULL && !(sh->health && health_dns_down(sh->health))) {
		start_lookups(s);
		start_auth(s);
		s->pending += dqs_start(s->dqs, dqs_done, s);
	}
	if (s->cut)
		truncated(s);
	/* Finished here: scan_start's caller gets no callback (scan.h).
	 * Otherwise the last answer finishes it from the loop, and only
	 * then is cb called. */
	if (s->pending == 0)
		finish(s);
	else
		s->started = true;
}

struct scan *
scan_start(const struct scan_input *in, const char *msg, size_t len, scan_cb *cb, void *arg)
{
	struct scan *s = scan_new(in, msg, len, cb, arg);

	scan_parse(s);
	scan_launch(s);
	return s;
}

static void
parse_job(void *arg)
{
	scan_parse(arg);
}

static void
parsed_job(void *arg)
{
	struct scan *s = arg;

	s->job = NULL;
	scan_launch(s);
}

struct scan *
scan_start_async(struct workq *q, const struct scan_input *in, const char *msg, size_t len,
    scan_cb *cb, void *arg)
{
	struct scan *s = scan_new(in, msg, len, cb, arg);

	s->async = true;
	s->job = workq_submit(q, parse_job, parsed_job, s);
	return s;
}

bool
scan_finished(const struct scan *s)
{
	return s->finished;
}

void
scan_free(struct scan *s)
{
	if (s == NULL)
		return;
	/* first: a worker may be reading the scan (waited for) */
	workq_cancel(s->job);
	bayes_table_release(s->in.bayes);
	free(s->trusted);
	free(s->twin);
	for (size_t i = 0; i < s->nlk; i++)
		dns_cancel(s->lk[i].q);
	spf_check_free(s->spf);
	dkim_verify_free(s->dkim);
	dmarc_check_free(s->dmarc);
	free(s->lk);
	dqs_free(s->dqs);
	url_set_clear(&s->urls);
	if (s->tok != NULL)
		bayes_tokens_clear(s->tok);
	free(s->tok);
	free(s);
}

const struct score *
scan_score(const struct scan *s)
{
	return &s->score;
}

enum verdict
scan_verdict(const struct scan *s)
{
	return s->verdict;
}

const struct url_set *
scan_urls(const struct scan *s)
{
	return &s->urls;
}

const struct received_chain *
scan_chain(const struct scan *s)
{
	return &s->chain;
}

const struct scan_lookup *
scan_lookups(const struct scan *s, size_t *n)
{
	*n = s->nlk;
	return s->lk;
}

unsigned
scan_cuts(const struct scan *s)
{
	return s->cut;
}

const char *const *
scan_from_domains(const struct scan *s, size_t *n)
{
	*n = s->nfrom;
	return s->from_ptrs;
}

/* RFC 8601 Authentication-Results for what ran. */
static char *
auth_results(const struct scan *s)
{
	const struct scan_auth *a = &s->auth;
	char buf[2048];
	size_t o;

	if (!a->spf_ran && !a->dkim_ran && !a->dmarc_ran)
		return NULL;
	o = (size_t)snprintf(buf, sizeof(buf), "Authentication-Results: %s", s->authserv);
	if (a->spf_ran && o < sizeof(buf))
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, ";\r\n\tspf=%s smtp.mailfrom=%s",
		    spf_result_name(a->spf), a->spf_domain[0] ? a->spf_domain : "unknown");
	if (a->dkim_ran && a->ndkim == 0 && o < sizeof(buf))
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, ";\r\n\tdkim=none");
	for (size_t i = 0; i < a->ndkim && o < sizeof(buf); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, ";\r\n\tdkim=%s%s%s%s header.d=%s header.s=%s",
		    dkim_result_name(a->dkim[i].result), a->dkim[i].reason[0] ? " (" : "",
		    a->dkim[i].reason, a->dkim[i].reason[0] ? ")" : "", a->dkim[i].domain,
		    a->dkim[i].selector);
	if (a->dmarc_ran && o < sizeof(buf))
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, ";\r\n\tdmarc=%s (p=%s) header.from=%s",
		    dmarc_result_name(a->dmarc), dmarc_policy_name(a->dmarc_policy), a->header_from);
	if (o >= sizeof(buf))
		o = sizeof(buf) - 1;
	buf[o] = '\0';
	/* peer-controlled parts (reasons, domains) must not break the header */
	for (size_t i = 0; i < o; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\r' && buf[i] != '\n' && buf[i] != '\t')
			buf[i] = '?';
	return xasprintf("%s\r\n", buf);
}

char *
scan_headers(const struct scan *s)
{
	char status[2048], *ar = auth_results(s), *out;

	score_status(&s->score, s->junk, status, sizeof(status));
	out = xasprintf("%sX-Spam-Score: %.1f\r\nX-Spam-Status: %s\r\n", ar ? ar : "",
	    s->score.total, status);
	free(ar);
	return out;
}

const struct scan_auth *
scan_auth(const struct scan *s)
{
	return &s->auth;
}

const struct dqs *
scan_dqs(const struct scan *s)
{
	return s->dqs;
}

const struct bayes_result *
scan_bayes(const struct scan *s)
{
	return &s->bayes;
}

const struct bayes_tokens *
scan_bayes_tokens(const struct scan *s)
{
	return s->tok;
}
