/*
 * DMARC (RFC 7489): looks up _dmarc.FROM, then _dmarc.ORGDOMAIN (the
 * registrable domain from the built-in public suffix list), and judges
 * alignment of the SPF and DKIM results already computed. One query in
 * flight at a time. The caller owns the check: dmarc_check_free()
 * always, from the callback if it likes.
 */
#include "dmarc.h"

#include <ctype.h>
#include <stdint.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "dns/answer.h"
#include "lib/pslist.h"
#include "lib/xmalloc.h"

const char *
dmarc_result_name(enum dmarc_result r)
{
	switch (r) {
	case DMARC_NONE: return "none";
	case DMARC_PASS: return "pass";
	case DMARC_FAIL: return "fail";
	case DMARC_TEMPERROR: return "temperror";
	case DMARC_PERMERROR: return "permerror";
	}
	return "permerror";
}

const char *
dmarc_policy_name(enum dmarc_policy p)
{
	switch (p) {
	case DMARC_POLICY_NONE: return "none";
	case DMARC_POLICY_QUARANTINE: return "quarantine";
	case DMARC_POLICY_REJECT: return "reject";
	}
	return "none";
}

/* ---- the record (RFC 7489 6.3) ---- */

struct rec_parse {
	size_t ntags;
	bool bad;		/* v= missing, wrong or not first */
	bool has_p, p_ok, has_sp, sp_ok, has_rua;
	enum dmarc_policy p, sp;
	int adkim_strict, aspf_strict, pct;
};

static bool
word_is(const char *v, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(v, word, len) == 0;
}

static bool
policy_of(const char *v, size_t len, enum dmarc_policy *out)
{
	if (word_is(v, len, "none"))
		*out = DMARC_POLICY_NONE;
	else if (word_is(v, len, "quarantine"))
		*out = DMARC_POLICY_QUARANTINE;
	else if (word_is(v, len, "reject"))
		*out = DMARC_POLICY_REJECT;
	else
		return false;
	return true;
}

static void
rec_tag(void *arg, const char *tag, size_t tlen, const char *val, size_t vlen)
{
	struct rec_parse *r = arg;

	r->ntags++;
	if (tlen == 1 && tag[0] == 'v') {
		/* 6.4: "v=DMARC1", the first tag */
		if (r->ntags != 1 || !(vlen == 6 && memcmp(val, "DMARC1", 6) == 0))
			r->bad = true;
		return;
	}
	if (r->ntags == 1) {
		r->bad = true;
		return;
	}
	if (tlen == 1 && tag[0] == 'p') {
		r->has_p = true;
		r->p_ok = policy_of(val, vlen, &r->p);
	} else if (tlen == 2 && memcmp(tag, "sp", 2) == 0) {
		r->has_sp = true;
		r->sp_ok = policy_of(val, vlen, &r->sp);
	} else if (tlen == 5 && memcmp(tag, "adkim", 5) == 0) {
		/* an unknown value leaves the default, relaxed */
		r->adkim_strict = word_is(val, vlen, "s");
	} else if (tlen == 4 && memcmp(tag, "aspf", 4) == 0) {
		r->aspf_strict = word_is(val, vlen, "s");
	} else if (tlen == 3 && memcmp(tag, "pct", 3) == 0) {
		int n = 0;
		bool ok = vlen > 0 && vlen <= 3;
		for (size_t i = 0; ok && i < vlen; i++) {
			if (!isdigit((unsigned char)val[i]))
				ok = false;
			else
				n = n * 10 + (val[i] - '0');
		}
		if (ok && n <= 100)
			r->pct = n;
	} else if (tlen == 3 && memcmp(tag, "rua", 3) == 0) {
		r->has_rua = true;
	}
	/* ruf, fo, rf, ri and unknown tags: not needed to judge */
}

int
dmarc_parse_record(const char *buf, size_t len, enum dmarc_policy *p, enum dmarc_policy *sp,
    int *adkim_strict, int *aspf_strict, int *pct)
{
	struct rec_parse r = { .pct = 100 };

	if (dkim_parse_tags(buf, len, rec_tag, &r) == -1 || r.bad || r.ntags == 0)
		return -1;
	if (!r.has_p || !r.p_ok) {
		/* 6.6.3: a bad or missing p= with rua= is read as p=none;
		 * without rua= the record is unusable */
		if (!r.has_rua)
			return -1;
		r.p = DMARC_POLICY_NONE;
	}
	*p = r.p;
	*sp = r.has_sp && r.sp_ok ? r.sp : r.p;
	*adkim_strict = r.adkim_strict;
	*aspf_strict = r.aspf_strict;
	*pct = r.pct;
	return 0;
}

/* True when the TXT text starts with the v=DMARC1 tag (6.6.3: others are
 * discarded). */
static bool
is_dmarc_record(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= len || s[i++] != 'v')
		return false;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= len || s[i++] != '=')
		return false;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (len - i < 6 || memcmp(s + i, "DMARC1", 6) != 0)
		return false;
	i += 6;
	return i == len || s[i] == ';' || s[i] == ' ' || s[i] == '\t';
}

/* ---- alignment (RFC 7489 3.1) ---- */

/* The organizational domain of a lower-case name: its registrable domain,
 * or the name itself when it is a public suffix. */
static void
org_domain(const char *name, char *out, size_t outlen)
{
	const char *reg = pslist_registrable(name);

	snprintf(out, outlen, "%s", reg != NULL ? reg : name);
}

static bool
aligned(const char *from, const char *from_org, const char *domain, bool strict)
{
	char d[DNS_NAME_TEXT_MAX], org[DNS_NAME_TEXT_MAX];

	if (!dns_name_key(domain, d, sizeof(d)))
		return false;
	if (strict)
		return strcmp(d, from) == 0;
	org_domain(d, org, sizeof(org));
	return strcmp(org, from_org) == 0;
}

bool
dmarc_identifier_aligned(const char *from_domain, enum spf_result spf,
    const char *spf_domain, const struct dkim_sig_result *sigs, size_t nsigs)
{
	char from[DNS_NAME_TEXT_MAX], org[DNS_NAME_TEXT_MAX];

	if (!dns_name_key(from_domain, from, sizeof(from)))
		return false;
	org_domain(from, org, sizeof(org));
	if (spf == SPF_PASS && aligned(from, org, spf_domain, false))
		return true;
	for (size_t i = 0; i < nsigs; i++)
		if (sigs[i].result == DKIM_PASS && aligned(from, org, sigs[i].domain, false))
			return true;
	return false;
}

/* ---- the check ---- */

struct dmarc_check {
	struct resolver *res;		/* borrowed */
	dmarc_cb *cb;
	void *arg;
	unsigned timeout_ms;		/* 0: no deadline */
	uint64_t deadline;		/* monotonic ms: both lookups share it */
	char from[DNS_NAME_TEXT_MAX];	/* lower case */
	char org[DNS_NAME_TEXT_MAX];
	bool at_org;			/* the query in flight is for the org domain */
	enum spf_result spf;
	char spf_domain[DNS_NAME_TEXT_MAX];
	struct dkim_sig_result *sigs;	/* owned copy */
	size_t nsigs;
	struct dns_query *q;
	/* The record is looked up from dmarc_check_begin on; the verdict
	 * waits for both it and the inputs of dmarc_check_evaluate. */
	bool have_inputs;
	bool have_record;		/* the lookups are over: record or outcome */
	enum dmarc_result outcome;	/* when no record is to be judged */
	char *record;			/* the one DMARC record found, or NULL */
	size_t record_len;
};

static void
finish(struct dmarc_check *c, enum dmarc_result r, enum dmarc_policy p)
{
	c->cb(c->arg, r, p, c->from);	/* last: it may free c */
}

static void judge(struct dmarc_check *c, const char *txt, size_t len);

/* Both halves in: the verdict. */
static void
decide(struct dmarc_check *c)
{
	if (!c->have_inputs || !c->have_record)
		return;
	if (c->record != NULL)
		judge(c, c->record, c->record_len);
	else
		finish(c, c->outcome, DMARC_POLICY_NONE);
}

/* The lookups ended: with record (owned, may be NULL) or outcome. */
static void
record_done(struct dmarc_check *c, char *record, size_t len, enum dmarc_result outcome)
{
	c->have_record = true;
	c->record = record;
	c->record_len = len;
	c->outcome = outcome;
	decide(c);
}

static void on_record(void *arg, const struct dns_answer *ans);

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
lookup(struct dmarc_check *c, const char *domain)
{
	char name[DNS_NAME_TEXT_MAX + 8];
	unsigned left = 0;

	if (c->timeout_ms > 0) {
		uint64_t now = now_ms();
		left = now >= c->deadline ? 1 : (unsigned)(c->deadline - now);
	}
	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	c->q = dns_query(c->res, name, DNS_TYPE_TXT, left, on_record, c);
}

/* 6.6.4 pct=: when a message is not sampled, the next lower policy. */
static enum dmarc_policy
sample(enum dmarc_policy p, int pct)
{
	unsigned char b[2];
	unsigned draw;

	if (pct >= 100 || p == DMARC_POLICY_NONE)
		return p;
	if (RAND_bytes(b, sizeof(b)) != 1)
		return p;
	draw = ((unsigned)b[0] << 8 | b[1]) % 100;
	if ((int)draw < pct)
		return p;
	return p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
}

static void
judge(struct dmarc_check *c, const char *txt, size_t len)
{
	enum dmarc_policy p, sp, policy;
	int adkim_strict, aspf_strict, pct;
	bool pass = false;

	if (dmarc_parse_record(txt, len, &p, &sp, &adkim_strict, &aspf_strict, &pct) == -1) {
		/* RFC 7489 6.6.3: no valid p= and no rua= to report to:
		 * "the Mail Receiver applies no DMARC processing" */
		finish(c, DMARC_NONE, DMARC_POLICY_NONE);
		return;
	}
	/* 6.3 sp=: for subdomains, when the record is the org domain's */
	policy = c->at_org && strcmp(c->from, c->org) != 0 ? sp : p;
	/* 4.2: pass when SPF or DKIM passes for an aligned identifier */
	if (c->spf == SPF_PASS && aligned(c->from, c->org, c->spf_domain, aspf_strict))
		pass = true;
	for (size_t i = 0; i < c->nsigs && !pass; i++)
		if (c->sigs[i].result == DKIM_PASS &&
		    aligned(c->from, c->org, c->sigs[i].domain, adkim_strict))
			pass = true;
	if (pass) {
		finish(c, DMARC_PASS, policy);
		return;
	}
	finish(c, DMARC_FAIL, sample(policy, pct));
}

static void
on_record(void *arg, const struct dns_answer *ans)
{
	struct dmarc_check *c = arg;
	char *found = NULL;
	size_t nfound = 0, flen = 0;

	c->q = NULL;
	if (ans->status == DNS_TIMEOUT || ans->status == DNS_SERVFAIL) {
		record_done(c, NULL, 0, DMARC_TEMPERROR);
		return;
	}
	for (size_t i = 0; ans->status == DNS_OK && i < ans->count; i++) {
		size_t o = 0;
		char *txt = dns_txt_join(ans->data[i], (size_t)ans->len[i], &o);
		bool ok = txt != NULL;

		if (ok && is_dmarc_record(txt, o)) {
			nfound++;
			free(found);
			found = txt;
			flen = o;
		} else
			free(txt);
	}
	if (nfound > 1) {
		/* 6.6.3: "If the remaining set contains multiple records or no
		 * records, policy discovery terminates and DMARC processing is
		 * not applied to this message." */
		free(found);
		record_done(c, NULL, 0, DMARC_NONE);
		return;
	}
	if (nfound == 1) {
		record_done(c, found, flen, DMARC_NONE);
		return;
	}
	/* 6.6.3: no record for the From domain: try the org domain */
	if (!c->at_org && strcmp(c->from, c->org) != 0) {
		c->at_org = true;
		lookup(c, c->org);
		return;
	}
	record_done(c, NULL, 0, DMARC_NONE);
}

static void
on_defer(void *arg, const struct dns_answer *ans)
{
	struct dmarc_check *c = arg;

	c->q = NULL;
	record_done(c, NULL, 0, DMARC_NONE);
}

struct dmarc_check *
dmarc_check_begin(struct resolver *res, const char *from_domain, unsigned timeout_ms,
    dmarc_cb *cb, void *arg)
{
	struct dmarc_check *c = xcalloc(1, sizeof(*c));

	c->res = res;
	c->cb = cb;
	c->arg = arg;
	c->timeout_ms = timeout_ms;
	c->deadline = now_ms() + timeout_ms;
	if (!dns_name_key(from_domain, c->from, sizeof(c->from)) ||
	    strspn(c->from, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(c->from)) {
		/*
		 * No usable From domain: nothing to look up, yet the result
		 * must come from the loop. "invalid." (RFC 6761) is answered
		 * by libunbound's built-in local zone without the network.
		 */
		c->from[0] = '\0';
		c->q = dns_query(res, "invalid.", DNS_TYPE_A, timeout_ms, on_defer, c);
		return c;
	}
	org_domain(c->from, c->org, sizeof(c->org));
	lookup(c, c->from);
	return c;
}

void
dmarc_check_evaluate(struct dmarc_check *c, enum spf_result spf, const char *spf_domain,
    const struct dkim_sig_result *sigs, size_t nsigs)
{
	if (c->have_inputs)
		return;
	c->have_inputs = true;
	c->spf = spf;
	snprintf(c->spf_domain, sizeof(c->spf_domain), "%s", spf_domain ? spf_domain : "");
	if (nsigs > 0) {
		c->sigs = xcalloc(nsigs, sizeof(*c->sigs));
		memcpy(c->sigs, sigs, nsigs * sizeof(*sigs));
		c->nsigs = nsigs;
	}
	decide(c);
}

struct dmarc_check *
dmarc_check_start(struct resolver *res, const char *from_domain, enum spf_result spf,
    const char *spf_domain, const struct dkim_sig_result *sigs, size_t nsigs,
    unsigned timeout_ms, dmarc_cb *cb, void *arg)
{
	/* the record is never in before begin returns: no callback here */
	struct dmarc_check *c = dmarc_check_begin(res, from_domain, timeout_ms, cb, arg);

	dmarc_check_evaluate(c, spf, spf_domain, sigs, nsigs);
	return c;
}

void
dmarc_check_free(struct dmarc_check *c)
{
	if (c == NULL)
		return;
	dns_cancel(c->q);
	free(c->sigs);
	free(c->record);
	free(c);
}
