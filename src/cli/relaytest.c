/*
 * postern relaytest HOST:PORT [--to ADDRESS] [--tls]: the open-relay
 * battery of SPEC 6.3 against any SMTP server. Exit 0 when nothing was
 * relayed, 1 when something was, 2 when the test could not run.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "lib/value.h"
#include "policy/relaytest.h"

int
cli_relaytest(int argc, char **argv)
{
	struct relaytest_options opt = { 0 };
	struct relaytest_result res;
	struct hostport hp;
	const char *target = NULL;
	int rc;

	opt.to = "relaytest@example.com";
	opt.helo = "relaytest.invalid";
	opt.timeout = 20;
	opt.out = stdout;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			opt.to = argv[++i];
		else if (strcmp(argv[i], "--tls") == 0)
			opt.implicit_tls = true;
		else if (target == NULL && argv[i][0] != '-')
			target = argv[i];
		else {
			fprintf(stderr, "usage: postern relaytest HOST:PORT [--to ADDRESS] [--tls]\n");
			return 2;
		}
	}
	if (target == NULL || value_hostport(target, strlen(target), &hp) == -1) {
		fprintf(stderr, "usage: postern relaytest HOST:PORT [--to ADDRESS] [--tls]\n");
		return 2;
	}
	if (strchr(opt.to, '@') == NULL) {
		fprintf(stderr, "postern: --to needs an address\n");
		return 2;
	}
	opt.host = hp.host;
	opt.port = hp.port;
	if (hp.port == 465)
		opt.implicit_tls = true;
	rc = relaytest_run(&opt, &res);
	if (rc == 2)
		fprintf(stderr, "postern: relay test could not run: %s\n", res.error);
	else if (rc == 1)
		printf("OPEN RELAY: %u of %u attempts were accepted\n", res.relayed, res.attempts);
	else
		printf("no relay: all %u attempts refused\n", res.attempts);
	return rc;
}
