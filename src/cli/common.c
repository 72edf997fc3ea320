/*
 * Option helpers shared by the subcommands.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#include "monitor/log.h"
#include "scan/score.h"

static void
remove_args(int *argc, char **argv, int at, int n)
{
	for (int i = at; i + n <= *argc; i++)
		argv[i] = argv[i + n];
	*argc -= n;
}

const char *
cli_config_path(int *argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;

	for (int i = 1; i < *argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < *argc) {
			path = argv[i + 1];
			remove_args(argc, argv, i, 2);
			i--;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			path = argv[i] + 9;
			remove_args(argc, argv, i, 1);
			i--;
		}
	}
	return path;
}

bool
cli_take_flag(int *argc, char **argv, const char *flag)
{
	for (int i = 1; i < *argc; i++)
		if (strcmp(argv[i], flag) == 0) {
			remove_args(argc, argv, i, 1);
			return true;
		}
	return false;
}

struct resolver_options
cli_resolver_options(const struct config *cfg)
{
	struct resolver_options opt = {
		.forwarders = cfg->dns_servers,
		.nforwarders = cfg->ndns_servers,
		.dnssec = cfg->dnssec,
		.trust_anchor_file = cfg->dnssec_trust_anchor,
		.root_hints_file = cfg->dns_root_hints,
	};

	return opt;
}

int
cli_load_config(const char *path, struct config *cfg)
{
	struct config_diag diag = { 0 };
	size_t n = config_load(path, cfg, &diag);

	n += score_validate(cfg, &diag);

	for (size_t i = 0; i < diag.n; i++)
		fprintf(stderr, "%s\n", diag.msgs[i]);
	config_diag_clear(&diag);
	/* SPEC 10: with shared state, every line of every command's log
	 * says which node wrote it */
	if (n == 0)
		log_set_node(cfg->state_url.redis ? cfg->node_name : NULL);
	return n ? -1 : 0;
}
