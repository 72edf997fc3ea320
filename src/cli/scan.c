/*
 * postern scan: the content analysis of SPEC section 5 on message files,
 * with the same scanner the server runs. Lookups go to the configured
 * resolver; several messages are scanned at once, results are printed in
 * input order. Exit 0 whatever the verdicts; 1 when a file cannot be read.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns/resolver.h"
#include "lib/json.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/bayes_store.h"
#include "policy/spamhaus.h"
#include "scan/dqs.h"
#include "scan/scan.h"

#define IN_FLIGHT 64
#define SCAN_FILE_MAX (64 * 1024 * 1024)

struct job {
	char *path;
	char *buf;
	size_t len;
	struct scan *scan;
	bool done;
	bool failed;
};

struct runner {
	struct event_base *base;
	struct scan_input in;
	bool json;
	struct job *jobs;
	size_t njobs, next_start, next_print;
	int rc;
};

static void
add_path(struct runner *r, const char *path)
{
	struct stat st;

	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		struct dirent **list;
		int n = scandir(path, &list, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			if (list[i]->d_name[0] != '.') {
				char *p = xasprintf("%s/%s", path, list[i]->d_name);
				struct stat st2;
				if (stat(p, &st2) == 0 && S_ISREG(st2.st_mode))
					add_path(r, p);
				free(p);
			}
			free(list[i]);
		}
		free(list);
		return;
	}
	r->jobs = xrealloc(r->jobs, (r->njobs + 1) * sizeof(*r->jobs));
	memset(&r->jobs[r->njobs], 0, sizeof(r->jobs[0]));
	r->jobs[r->njobs++].path = xstrdup(path);
}

static int
read_message(struct job *j)
{
	int fd = strcmp(j->path, "-") == 0 ? STDIN_FILENO : open(j->path, O_RDONLY | O_CLOEXEC);
	size_t cap = 65536;
	ssize_t n;

	if (fd == -1)
		return -1;
	j->buf = xmalloc(cap);
	while ((n = read(fd, j->buf + j->len, cap - j->len)) > 0) {
		j->len += (size_t)n;
		if (j->len == cap) {
			if (cap >= SCAN_FILE_MAX)
				break;
			cap *= 2;
			j->buf = xrealloc(j->buf, cap);
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return n < 0 ? -1 : 0;
}

static const char *
state_name(const struct scan_lookup *l)
{
	switch (l->state) {
	case LOOKUP_PENDING: return "pending";
	case LOOKUP_TIMEOUT: return "timeout";
	case LOOKUP_FAILED: return "servfail";
	case LOOKUP_SKIPPED: return "not_looked_up";
	case LOOKUP_OVER_BUDGET: return "over_budget";
	case LOOKUP_DONE:
		if (l->v.code == DNSBL_ERROR)
			return "error";
		return l->v.code == DNSBL_NONE ? "not_listed" : "listed";
	}
	return "?";
}

static const char *
role_name(enum scan_role r)
{
	switch (r) {
	case ROLE_URL_HOST: return "url";
	case ROLE_EMAIL: return "email";
	case ROLE_URL_IP: return "url_ip";
	case ROLE_FROM: return "from";
	case ROLE_RCVD_LAST: return "received_last_external";
	case ROLE_RCVD_DEEP: return "received_deeper";
	}
	return "?";
}

static const char *
kind_name(enum url_item_kind k)
{
	return k == URL_ITEM_IP ? "ip" : k == URL_ITEM_EMAIL ? "email" : "host";
}

/* ZRD and HBL (SPEC 4.1): the item by what it is, the hash beside it */
static void
print_dqs_text(const struct dqs *d)
{
	const struct dqs_lookup *lk;
	size_t n;

	lk = dqs_lookups(d, &n);
	for (size_t i = 0; i < n; i++) {
		printf("lookup: %s %s in %s: %s%s%s", dqs_item_name(lk[i].item), lk[i].what,
		    lk[i].item == DQS_ZRD ? "zrd" : "hbl", dqs_state_name(&lk[i]),
		    lk[i].v.text[0] ? " " : "", lk[i].v.text);
		if (lk[i].v.code == DNSBL_ZRD)
			printf(" (first seen %u hours ago)", lk[i].v.hours);
		if (lk[i].hash[0])
			printf(" [%s]", lk[i].hash);
		printf("\n");
	}
}

/* SPEC 13: the probability and the tokens that weighed most. */
static void
print_bayes_text(const struct bayes_result *b)
{
	if (!b->ran)
		return;
	printf("bayes: probability %.4f from %u of %u tokens%s\n", b->prob, b->used, b->ntokens,
	    b->votes ? "" : " (not voting: fewer messages learned than bayes_min_learned)");
	printf("bayes: learned %u spam, %u ham\n", b->nspam, b->nham);
	for (size_t i = 0; i < b->nshown; i++)
		printf("bayes token: %s %.3f (spam %u, ham %u)\n", b->shown[i].text, b->shown[i].prob,
		    b->shown[i].c.spam, b->shown[i].c.ham);
}

static void
print_bayes_json(const struct bayes_result *b)
{
	if (!b->ran) {
		printf(",\"bayes\":null");
		return;
	}
	printf(",\"bayes\":{\"probability\":%.6f,\"votes\":%s,\"learned_spam\":%u,"
	    "\"learned_ham\":%u,\"tokens_used\":%u,\"tokens_total\":%u,\"tokens\":[",
	    b->prob, b->votes ? "true" : "false", b->nspam, b->nham, b->used, b->ntokens);
	/* no printf for a separator: ten tokens a message */
	for (size_t i = 0; i < b->nshown; i++) {
		if (i > 0)
			putchar(',');
		json_string(stdout, b->shown[i].text);
	}
	fputs("]}", stdout);
}

static void
print_text(const struct runner *r, const struct job *j)
{
	const struct scan *s = j->scan;
	const struct received_chain *c = scan_chain(s);
	const struct url_set *u = scan_urls(s);
	const struct score *sc = scan_score(s);
	const struct scan_lookup *lk;
	const char *const *from;
	size_t n, nf;

	printf("== %s\n", j->path);
	for (size_t i = 0; i < c->n; i++)
		printf("received: %s%s%s%s\n", c->hops[i].ip,
		    c->hops[i].internal ? " (internal)" : "",
		    c->hops[i].last_external ? " (last external hop)" : "",
		    c->hops[i].deeper && !c->hops[i].internal ? " (deeper)" : "");
	from = scan_from_domains(s, &nf);
	for (size_t i = 0; i < nf; i++)
		printf("sender domain: %s\n", from[i]);
	for (size_t i = 0; i < u->n; i++)
		printf("%s: %s  (%s)%s\n", kind_name(u->items[i].kind), u->items[i].host,
		    u->items[i].detail, u->items[i].source == URL_SRC_SUBJECT ? " [subject]" : "");
	lk = scan_lookups(s, &n);
	for (size_t i = 0; i < n; i++) {
		char lists[128] = "";
		if (lk[i].state == LOOKUP_DONE && lk[i].v.code != DNSBL_NONE)
			dnsbl_lists_text(&lk[i].v, lists, sizeof(lists));
		printf("lookup: %s %s in %s: %s%s%s%s%s\n", role_name(lk[i].role), lk[i].item,
		    lk[i].kind == DNSBL_KIND_IP ? "zen" : "dbl", state_name(&lk[i]),
		    lk[i].v.text[0] ? " " : "", lk[i].v.text, lists[0] ? " " : "", lists);
	}
	print_dqs_text(scan_dqs(s));
	{
		const struct scan_auth *a = scan_auth(s);
		if (a->spf_ran)
			printf("spf: %s (%s)\n", spf_result_name(a->spf), a->spf_domain);
		for (size_t i = 0; i < a->ndkim; i++)
			printf("dkim: %s d=%s s=%s%s%s\n", dkim_result_name(a->dkim[i].result),
			    a->dkim[i].domain, a->dkim[i].selector, a->dkim[i].reason[0] ? " " : "",
			    a->dkim[i].reason);
		if (a->dkim_ran && a->ndkim == 0)
			printf("dkim: none\n");
		if (a->dmarc_ran)
			printf("dmarc: %s (p=%s) %s\n", dmarc_result_name(a->dmarc),
			    dmarc_policy_name(a->dmarc_policy), a->header_from);
	}
	for (size_t i = 0; i < sc->nhits; i++)
		printf("hit: %s %.1f%s%s%s\n", symbol_name(sc->hits[i].sym), sc->hits[i].weight,
		    sc->hits[i].detail[0] ? " (" : "", sc->hits[i].detail,
		    sc->hits[i].detail[0] ? ")" : "");
	for (unsigned i = 0; i < SCAN_CUT_COUNT; i++) {
		char what[160];
		if (scan_cuts(s) & (1u << i))
			printf("truncated: %s\n", scan_cut_text((enum scan_cut)(1u << i), what,
			    sizeof(what)));
	}
	print_bayes_text(scan_bayes(s));
	printf("score: %.1f (junk at %.1f, reject at %.1f)\n", sc->total, r->in.cfg->score_junk,
	    r->in.cfg->score_reject);
	printf("verdict: %s\n", verdict_name(scan_verdict(s)));
}

static void
print_json(const struct job *j)
{
	const struct scan *s = j->scan;
	const struct received_chain *c = scan_chain(s);
	const struct url_set *u = scan_urls(s);
	const struct score *sc = scan_score(s);
	const struct scan_lookup *lk;
	const char *const *from;
	size_t n, nf;

	printf("{\"file\":");
	json_string(stdout, j->path);
	printf(",\"score\":%.1f,\"verdict\":\"%s\",\"hits\":[", sc->total,
	    verdict_name(scan_verdict(s)));
	for (size_t i = 0; i < sc->nhits; i++) {
		printf("%s{\"symbol\":\"%s\",\"score\":%.1f,\"detail\":", i ? "," : "",
		    symbol_name(sc->hits[i].sym), sc->hits[i].weight);
		json_string(stdout, sc->hits[i].detail);
		printf("}");
	}
	printf("]");
	print_bayes_json(scan_bayes(s));
	printf(",\"truncated\":[");
	for (unsigned i = 0, k = 0; i < SCAN_CUT_COUNT; i++) {
		char name[32];
		if (scan_cuts(s) & (1u << i))
			printf("%s\"%s\"", k++ ? "," : "", scan_cut_names(1u << i, name, sizeof(name)));
	}
	printf("],\"received\":[");
	for (size_t i = 0; i < c->n; i++)
		printf("%s{\"ip\":\"%s\",\"internal\":%s,\"last_external\":%s}", i ? "," : "",
		    c->hops[i].ip, c->hops[i].internal ? "true" : "false",
		    c->hops[i].last_external ? "true" : "false");
	printf("],\"sender_domains\":[");
	from = scan_from_domains(s, &nf);
	for (size_t i = 0; i < nf; i++) {
		printf("%s", i ? "," : "");
		json_string(stdout, from[i]);
	}
	printf("],\"items\":[");
	for (size_t i = 0; i < u->n; i++) {
		printf("%s{\"kind\":\"%s\",\"host\":", i ? "," : "", kind_name(u->items[i].kind));
		json_string(stdout, u->items[i].host);
		printf(",\"found\":");
		json_string(stdout, u->items[i].detail);
		printf(",\"in_subject\":%s}", u->items[i].source == URL_SRC_SUBJECT ? "true" : "false");
	}
	{
		const struct scan_auth *a = scan_auth(s);
		printf("],\"auth\":{\"spf\":\"%s\",\"dkim\":[", a->spf_ran ? spf_result_name(a->spf) : "none");
		for (size_t i = 0; i < a->ndkim; i++) {
			printf("%s{\"result\":\"%s\",\"domain\":", i ? "," : "",
			    dkim_result_name(a->dkim[i].result));
			json_string(stdout, a->dkim[i].domain);
			printf("}");
		}
		printf("],\"dmarc\":\"%s\"", a->dmarc_ran ? dmarc_result_name(a->dmarc) : "none");
	}
	printf("},\"lookups\":[");
	lk = scan_lookups(s, &n);
	for (size_t i = 0; i < n; i++) {
		printf("%s{\"role\":\"%s\",\"item\":", i ? "," : "", role_name(lk[i].role));
		json_string(stdout, lk[i].item);
		printf(",\"list\":\"%s\",\"result\":\"%s\",\"code\":\"%s\"}",
		    lk[i].kind == DNSBL_KIND_IP ? "zen" : "dbl", state_name(&lk[i]), lk[i].v.text);
	}
	{
		const struct dqs_lookup *dl;
		size_t dn;
		dl = dqs_lookups(scan_dqs(s), &dn);
		for (size_t i = 0; i < dn; i++) {
			printf("%s{\"role\":\"%s\",\"item\":", n + i ? "," : "",
			    dqs_item_name(dl[i].item));
			json_string(stdout, dl[i].what);
			printf(",\"list\":\"%s\",\"result\":\"%s\",\"code\":\"%s\"",
			    dl[i].item == DQS_ZRD ? "zrd" : "hbl", dqs_state_name(&dl[i]), dl[i].v.text);
			if (dl[i].hash[0])
				printf(",\"hash\":\"%s\"", dl[i].hash);
			printf("}");
		}
	}
	printf("]}\n");
}

static void pump(struct runner *r);

static void
on_done(void *arg, struct scan *s)
{
	struct runner *r = arg;

	/* only the jobs started and not yet printed can be running */
	for (size_t i = r->next_print; i < r->next_start; i++)
		if (r->jobs[i].scan == s) {
			r->jobs[i].done = true;
			break;
		}
	pump(r);
}

static void
print_ready(struct runner *r)
{
	while (r->next_print < r->next_start && r->jobs[r->next_print].done) {
		struct job *j = &r->jobs[r->next_print++];
		if (j->failed)
			fprintf(stderr, "postern: %s: cannot read\n", j->path);
		else if (r->json)
			print_json(j);
		else
			print_text(r, j);
		fflush(stdout);
		scan_free(j->scan);
		j->scan = NULL;
		free(j->buf);
		j->buf = NULL;
	}
}

/* Starts scans up to IN_FLIGHT and prints what is finished, in order.
 * IN_FLIGHT bounds the messages read and not yet printed, not only those
 * waiting for lookups: a scan that finishes at once (no lookups) is held
 * until printed too, and a folder of any size is scanned in bounded
 * memory. */
static void
pump(struct runner *r)
{
	for (;;) {
		size_t before = r->next_print + r->next_start;
		print_ready(r);
		while (r->next_start - r->next_print < IN_FLIGHT && r->next_start < r->njobs) {
			struct job *j = &r->jobs[r->next_start++];
			const char *msg;
			size_t len;

			if (read_message(j) == -1) {
				j->failed = j->done = true;
				r->rc = 1;
				continue;
			}
			msg = j->buf;
			len = j->len;
			/* mbox "From " separator line (the corpus keeps it) */
			if (len > 5 && memcmp(msg, "From ", 5) == 0) {
				const char *nl = memchr(msg, '\n', len);
				if (nl) {
					len -= (size_t)(nl + 1 - msg);
					msg = nl + 1;
				}
			}
			j->scan = scan_start(&r->in, msg, len, on_done, r);
			if (scan_finished(j->scan))
				j->done = true;
		}
		if (r->next_print + r->next_start == before)
			break;
	}
	if (r->next_print == r->njobs)
		event_base_loopbreak(r->base);
}

static void
probe_done(void *arg)
{
	event_base_loopbreak(arg);
}

int
cli_scan(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	struct runner r = { 0 };
	struct config cfg;
	struct resolver *res = NULL;
	struct spamhaus sh;
	struct bayes_table *bayes = NULL;
	char *err = NULL;

	r.json = cli_take_flag(&argc, argv, "--json");
	if (argc < 2) {
		fprintf(stderr, "usage: postern scan -c FILE [--json] MESSAGE.eml|DIR|- ...\n");
		return 2;
	}
	if (cli_load_config(path, &cfg) == -1) {
		config_clear(&cfg);
		return 2;
	}
	log_set_stderr(false);
	for (int i = 1; i < argc; i++)
		add_path(&r, argv[i]);
	r.base = event_base_new();
	r.in.cfg = &cfg;
	r.in.max_lookups = cfg.scan_max_lookups;
	r.in.defanged = cfg.scan_defanged;
	if (cfg.bayes) {
		/* the classifier's counts, as the server holds them: a damaged
		 * database is said and the scan goes on without a vote */
		struct bayes_store *st = bayes_store_open(&cfg, false, &err);
		if (st != NULL)
			bayes = bayes_store_load(st, &err);
		if (bayes == NULL) {
			fprintf(stderr, "postern: %s (scanning without the classifier)\n", err);
			free(err);
			err = NULL;
		}
		bayes_store_close(st);
		r.in.bayes = bayes;
		r.in.bayes_min_learned = cfg.bayes_min_learned;
	}
	if (cfg.dnsbl) {
		struct resolver_options opt = cli_resolver_options(&cfg);
		if ((res = resolver_new(r.base, &opt, &err)) == NULL) {
			fprintf(stderr, "postern: %s\n", err);
			free(err);
			config_clear(&cfg);
			return 2;
		}
		spamhaus_init(&sh, res, NULL, cfg.dnsbl_ip_zone, cfg.dnsbl_domain_zone,
		    cfg.spamhaus_dqs_key, cfg.dnsbl_timeout);
		spamhaus_set_hbl(&sh, cfg.spamhaus_hbl);
		r.in.sh = &sh;
		/* spamhaus_hbl = auto: HBL only when its test point answers,
		 * asked once before the first message */
		if (spamhaus_hbl_probe(&sh, probe_done, r.base) != NULL)
			event_base_dispatch(r.base);
	}
	pump(&r);
	if (r.next_print < r.njobs)
		event_base_dispatch(r.base);
	for (size_t i = 0; i < r.njobs; i++) {
		scan_free(r.jobs[i].scan);
		free(r.jobs[i].buf);
		free(r.jobs[i].path);
	}
	free(r.jobs);
	bayes_table_free(bayes);
	resolver_free(res);
	event_base_free(r.base);
	config_clear(&cfg);
	return r.rc;
}
