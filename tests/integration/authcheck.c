/*
 * Test driver for SPF, DKIM and DMARC on the real resolver, built and
 * run by test_spf_dkim_dmarc.py:
 *
 *   authcheck [-c] [-t MS] FORWARDER IP HELO SENDER MESSAGE-FILE
 *
 * Runs SPF and DKIM in parallel, then DMARC for the From: domain, and
 * prints "spf=RESULT domain=D", one "dkim=RESULT d=D s=S reason=R" per
 * signature (or "dkim=none"), "dmarc=RESULT policy=P from=F". With -c
 * the three are started and cancelled at once: no callback may run.
 * A callback running before its start function returned is an error.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dns/resolver.h"
#include "lib/value.h"
#include "scan/dkim.h"
#include "scan/dmarc.h"
#include "scan/spf.h"

struct run {
	struct event_base *base;
	struct resolver *res;
	unsigned timeout_ms;
	bool starting;			/* inside a start function */
	struct spf_check *spf;
	struct dkim_verify *dkim;
	struct dmarc_check *dmarc;
	bool spf_done, dkim_done;
	enum spf_result spf_result;
	char spf_domain[256];
	struct dkim_sig_result sigs[DKIM_SIGS_MAX];
	size_t nsigs;
	char from[256];
	int status;
};

static void
check_async(struct run *r, const char *who)
{
	if (r->starting) {
		printf("error=synchronous-callback who=%s\n", who);
		fflush(stdout);
		_exit(3);
	}
}

static void
on_dmarc(void *arg, enum dmarc_result result, enum dmarc_policy policy, const char *from)
{
	struct run *r = arg;

	check_async(r, "dmarc");
	printf("dmarc=%s policy=%s from=%s\n", dmarc_result_name(result),
	    dmarc_policy_name(policy), from);
	/* freed inside its own callback: allowed */
	dmarc_check_free(r->dmarc);
	r->dmarc = NULL;
	event_base_loopbreak(r->base);
}

static void
maybe_dmarc(struct run *r)
{
	if (!r->spf_done || !r->dkim_done)
		return;
	r->starting = true;
	r->dmarc = dmarc_check_start(r->res, r->from, r->spf_result, r->spf_domain, r->sigs,
	    r->nsigs, r->timeout_ms, on_dmarc, r);
	r->starting = false;
}

static void
on_spf(void *arg, enum spf_result result, const char *domain)
{
	struct run *r = arg;

	check_async(r, "spf");
	printf("spf=%s domain=%s\n", spf_result_name(result), domain);
	r->spf_result = result;
	snprintf(r->spf_domain, sizeof(r->spf_domain), "%s", domain);
	spf_check_free(r->spf);
	r->spf = NULL;
	r->spf_done = true;
	maybe_dmarc(r);
}

static void
on_dkim(void *arg, const struct dkim_sig_result *sigs, size_t n)
{
	struct run *r = arg;

	check_async(r, "dkim");
	if (n == 0)
		printf("dkim=none\n");
	for (size_t i = 0; i < n; i++) {
		printf("dkim=%s d=%s s=%s reason=%s\n", dkim_result_name(sigs[i].result),
		    sigs[i].domain, sigs[i].selector, sigs[i].reason);
		r->sigs[i] = sigs[i];
	}
	r->nsigs = n;
	dkim_verify_free(r->dkim);
	r->dkim = NULL;
	r->dkim_done = true;
	maybe_dmarc(r);
}

static void
never(void *arg)
{
	printf("error=callback-after-cancel\n");
	fflush(stdout);
	_exit(4);
}

static void
never_spf(void *arg, enum spf_result result, const char *domain)
{
	never(arg);
}

static void
never_dkim(void *arg, const struct dkim_sig_result *sigs, size_t n)
{
	never(arg);
}

static void
never_dmarc(void *arg, enum dmarc_result result, enum dmarc_policy policy, const char *from)
{
	never(arg);
}

static void
on_stuck(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	printf("error=stuck\n");
	r->status = 2;
	event_base_loopbreak(r->base);
}

/* The domain of the first address in the From: field. */
static void
from_domain(const char *msg, size_t len, char *out, size_t outlen)
{
	size_t i = 0;

	out[0] = '\0';
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - msg) : len;
		if (end == i || (end == i + 1 && msg[i] == '\r'))
			return;	/* end of the header */
		if (end - i > 5 && strncasecmp(msg + i, "From:", 5) == 0) {
			const char *at = memchr(msg + i, '@', end - i);
			size_t o = 0;
			if (at == NULL)
				return;
			for (at++; at < msg + end && o + 1 < outlen; at++) {
				if (*at == '>' || isspace((unsigned char)*at) || *at == ';')
					break;
				out[o++] = *at;
			}
			out[o] = '\0';
			return;
		}
		i = end + 1;
	}
}

int
main(int argc, char **argv)
{
	struct run r = { .timeout_ms = 5000 };
	struct hostport fwd;
	struct resolver_options opt = { 0 };
	struct event *stuck;
	struct timeval tv = { 30, 0 };
	bool cancel = false;
	char *err = NULL, *msg;
	size_t len = 0, cap = 65536, got;
	FILE *f;
	int ch;

	while ((ch = getopt(argc, argv, "ct:")) != -1) {
		if (ch == 'c')
			cancel = true;
		else if (ch == 't')
			r.timeout_ms = (unsigned)atoi(optarg);
		else
			return 1;
	}
	argc -= optind;
	argv += optind;
	if (argc != 5) {
		fprintf(stderr, "usage: authcheck [-c] [-t MS] FORWARDER IP HELO SENDER FILE\n");
		return 1;
	}
	if (value_hostport(argv[0], strlen(argv[0]), &fwd) == -1) {
		fprintf(stderr, "bad forwarder %s\n", argv[0]);
		return 1;
	}
	if ((f = fopen(argv[4], "rb")) == NULL) {
		perror(argv[4]);
		return 1;
	}
	msg = malloc(cap);
	while ((got = fread(msg + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len == cap)
			msg = realloc(msg, cap *= 2);
	}
	fclose(f);
	from_domain(msg, len, r.from, sizeof(r.from));

	r.base = event_base_new();
	opt.forwarders = &fwd;
	opt.nforwarders = 1;
	if ((r.res = resolver_new(r.base, &opt, &err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (cancel) {
		struct timeval brief = { 0, 300000 };
		struct dkim_sig_result none[1];
		memset(none, 0, sizeof(none));
		r.spf = spf_check_start(r.res, argv[1], argv[2], argv[3], r.timeout_ms, never_spf, &r);
		r.dkim = dkim_verify_start(r.res, msg, len, r.timeout_ms, never_dkim, &r);
		r.dmarc = dmarc_check_start(r.res, r.from, SPF_NONE, "", none, 0, r.timeout_ms,
		    never_dmarc, &r);
		spf_check_free(r.spf);
		dkim_verify_free(r.dkim);
		dmarc_check_free(r.dmarc);
		/* NULL is a no-op */
		spf_check_free(NULL);
		dkim_verify_free(NULL);
		dmarc_check_free(NULL);
		event_base_loopexit(r.base, &brief);
		event_base_dispatch(r.base);
		printf("cancelled\n");
	} else {
		stuck = evtimer_new(r.base, on_stuck, &r);
		evtimer_add(stuck, &tv);
		r.starting = true;
		r.spf = spf_check_start(r.res, argv[1], argv[2], argv[3], r.timeout_ms, on_spf, &r);
		r.dkim = dkim_verify_start(r.res, msg, len, r.timeout_ms, on_dkim, &r);
		r.starting = false;
		event_base_dispatch(r.base);
		event_free(stuck);
		spf_check_free(r.spf);
		dkim_verify_free(r.dkim);
		dmarc_check_free(r.dmarc);
	}
	resolver_free(r.res);
	event_base_free(r.base);
	free(msg);
	fflush(stdout);
	return r.status;
}
