/*
 * Test driver for the RFC 7208 conformance suite, built and run by
 * test_spf_rfc7208.py:
 *
 *   spfsuite FORWARDER TIMEOUT_MS < cases
 *
 * Each input line is "ID<TAB>IP<TAB>HELO<TAB>MAIL-FROM" (MAIL-FROM empty
 * for the null sender); the cases run one after another on one resolver
 * (the suite's zone is the same for all of them) and each prints
 * "ID RESULT". Exits 0 when every case got a result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/resolver.h"
#include "lib/value.h"
#include "scan/spf.h"

#define CASE_LINE_MAX 4096

struct run {
	struct event_base *base;
	const char *id;
	bool done;
};

static void
on_stuck(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	event_base_loopbreak(r->base);
}

static void
on_spf(void *arg, enum spf_result result, const char *domain)
{
	struct run *r = arg;

	printf("%s %s\n", r->id, spf_result_name(result));
	fflush(stdout);
	r->done = true;
	event_base_loopbreak(r->base);
}

int
main(int argc, char **argv)
{
	struct run r = { 0 };
	struct hostport fwd;
	struct resolver_options opt = { 0 };
	struct resolver *res;
	struct event *stuck;
	char line[CASE_LINE_MAX], *err = NULL;
	unsigned timeout_ms;
	int status = 0;

	if (argc != 3 || value_hostport(argv[1], strlen(argv[1]), &fwd) == -1) {
		fprintf(stderr, "usage: spfsuite FORWARDER TIMEOUT_MS < cases\n");
		return 1;
	}
	timeout_ms = (unsigned)atoi(argv[2]);
	r.base = event_base_new();
	opt.forwarders = &fwd;
	opt.nforwarders = 1;
	if ((res = resolver_new(r.base, &opt, &err)) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	stuck = evtimer_new(r.base, on_stuck, &r);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *f[4], *p = line;
		struct spf_check *c;
		struct timeval limit = { timeout_ms / 1000 + 10, 0 };

		line[strcspn(line, "\n")] = '\0';
		for (int i = 0; i < 4; i++) {
			f[i] = p;
			if (i < 3 && (p = strchr(p, '\t')) == NULL) {
				fprintf(stderr, "bad case line: %s\n", line);
				return 1;
			}
			if (i < 3)
				*p++ = '\0';
		}
		r.id = f[0];
		r.done = false;
		c = spf_check_start(res, f[1], f[2], f[3], timeout_ms, on_spf, &r);
		/* the check has its own deadline; this only catches a hang */
		evtimer_add(stuck, &limit);
		event_base_dispatch(r.base);
		evtimer_del(stuck);
		if (!r.done) {
			printf("%s stuck\n", r.id);
			status = 2;
		}
		spf_check_free(c);
	}
	event_free(stuck);
	resolver_free(res);
	event_base_free(r.base);
	return status;
}
