/*
 * The open-relay test battery (SPEC 6.3): the nmap smtp-open-relay set
 * and more (percent hack, bang paths, source routes, quoted local parts,
 * double @, IP literals, trailing dots, case variants), each tried as an
 * unauthenticated client. An attempt "relays" when the server accepts a
 * recipient outside its own domain; the battery never sends DATA.
 * Blocking I/O with timeouts: it runs in the CLI or in a thread of its
 * own, never on the server's event loop.
 */
#ifndef POSTERN_POLICY_RELAYTEST_H
#define POSTERN_POLICY_RELAYTEST_H

#include <stdbool.h>
#include <stdio.h>

struct relaytest_options {
	const char *host;		/* server address */
	unsigned port;
	const char *to;			/* outside recipient, "relaytest@example.com" */
	bool implicit_tls;		/* port 465 style */
	const char *helo;		/* our EHLO name */
	const char *source;		/* local address to bind, or NULL */
	unsigned timeout;		/* seconds per reply */
	FILE *out;			/* one line per attempt, NULL: silent */
};

struct relaytest_result {
	unsigned attempts;
	unsigned relayed;
	bool could_not_run;		/* no connection or no greeting */
	char error[256];
};

/* Runs the battery. Returns 0 when nothing relayed, 1 when something
 * did, 2 when it could not run (as `postern relaytest` exits). */
int relaytest_run(const struct relaytest_options *opt, struct relaytest_result *res);

#endif
