/*
 * postern: one binary, subcommands (SPEC section 1). Also runs as the
 * sendmail wrapper when invoked through a link named "sendmail", and as
 * `queue list` through one named "mailq".
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "postern %s - a mail server that keeps spam out and never sends any\n"
	    "\n"
	    "usage: postern COMMAND [ARGS] [-c FILE]   (default FILE: %s)\n"
	    "\n"
	    "  serve -c FILE                     run the server in the foreground\n"
	    "  check-config -c FILE              validate the configuration\n"
	    "  user add|passwd ADDRESS [--password-stdin]\n"
	    "  user del ADDRESS | user list      manage accounts\n"
	    "  user hold ACCOUNT [--reason TEXT] | user release ACCOUNT | user held\n"
	    "                                    stop / allow an account's outbound mail\n"
	    "  alias add ALIAS TARGET | alias del ALIAS | alias list\n"
	    "  queue list|flush|delete ID|hold ID|release ID|salvage ID\n"
	    "  scan [--json] MESSAGE.eml|DIR|-   content analysis: items, hits, score, verdict\n"
	    "  relaytest HOST:PORT [--to ADDR]   open-relay test battery against any server\n"
	    "  sendmail [-t] [-i] [-f FROM] RCPT...  submit from scripts (POSTERN_SENDMAIL_CONF)\n"
	    "  firewall -c FILE                  nftables rules: only postern may send to port 25\n"
	    "  dkim keygen [--selector S] [--algorithm rsa|ed25519] [--bits N] [--force]\n"
	    "  dkim record [--selector S]        DNS TXT records of the DKIM key\n"
	    "  stats [--since DURATION] [--json] counters: accepted, rejected, delivered, ...\n"
	    "  learn spam|ham [--user ACCOUNT] [FILE...|-|--dir DIR]\n"
	    "                                    messages moved into / out of Junk, or a folder\n"
	    "  learn list [--user ACCOUNT]       what was learned\n"
	    "  quickstart ADDRESS [--hostname NAME] [--ip IP]... [--data-dir DIR] [-c FILE]\n"
	    "                                    production configuration, first account, DKIM key,\n"
	    "                                    the DNS records to publish\n"
	    "  doctor [--ip IP]... [--json]      check DNS, blocklists and certificate for delivery\n"
	    "  dmarc|tlsrpt import FILE|DIR...   store DMARC / TLS reports received for our domains\n"
	    "  dmarc|tlsrpt report --now         send the reports of what was recorded so far\n"
	    "  --version                         print the version\n"
	    "  help                              this text\n",
	    POSTERN_VERSION, DEFAULT_CONFIG);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "serve", cli_serve },
		{ "check-config", cli_check_config },
		{ "user", cli_user },
		{ "alias", cli_alias },
		{ "queue", cli_queue },
		{ "scan", cli_scan },
		{ "relaytest", cli_relaytest },
		{ "sendmail", cli_sendmail },
		{ "firewall", cli_firewall },
		{ "dkim", cli_dkim },
		{ "stats", cli_stats },
		{ "learn", cli_learn },
		{ "quickstart", cli_quickstart },
		{ "doctor", cli_doctor },
		{ "dmarc", cli_dmarc },
		{ "tlsrpt", cli_tlsrpt },
	};

	{
		/* invoked through a link named "sendmail" (SPEC 1) */
		const char *base = strrchr(argv[0], '/');
		base = base ? base + 1 : argv[0];
		if (strcmp(base, "sendmail") == 0)
			return cli_sendmail(argc, argv);
		/* the mailq link the package registers: postern queue list */
		if (strcmp(base, "mailq") == 0 && argc <= 3) {
			char *qargv[] = { "queue", "list", argc > 1 ? argv[1] : NULL,
				argc > 2 ? argv[2] : NULL, NULL };
			return cli_queue(argc + 1, qargv);
		}
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("postern %s\n", POSTERN_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "postern: unknown command \"%s\" (try: postern help)\n", argv[1]);
	return 2;
}
