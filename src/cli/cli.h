/*
 * Subcommands of the postern binary (SPEC section 1), one file each.
 * Each returns the process exit status.
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include "dns/resolver.h"
#include "lib/config.h"

#define POSTERN_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/postern/postern.conf"

int cli_serve(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_alias(int argc, char **argv);
int cli_queue(int argc, char **argv);
int cli_scan(int argc, char **argv);
int cli_relaytest(int argc, char **argv);
int cli_sendmail(int argc, char **argv);
int cli_firewall(int argc, char **argv);
int cli_dkim(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_learn(int argc, char **argv);
int cli_quickstart(int argc, char **argv);
int cli_doctor(int argc, char **argv);
int cli_dmarc(int argc, char **argv);
int cli_tlsrpt(int argc, char **argv);

/*
 * Shared option handling: removes "-c FILE" / "--config FILE" /
 * "-c=FILE" from argv (anywhere on the line) and returns the path, or the
 * default. argc is updated.
 */
const char *cli_config_path(int *argc, char **argv);
/* Removes a flag (e.g. "--json") from argv; true when it was present. */
bool cli_take_flag(int *argc, char **argv, const char *flag);
/* Loads the config or prints every problem to stderr; 0 or -1. */
int cli_load_config(const char *path, struct config *cfg);
/* The resolver every command builds from the configuration (forwarders,
 * DNSSEC and its trust anchor, a private root), so `scan` and `doctor`
 * ask the DNS as `serve` does. Points into cfg. */
struct resolver_options cli_resolver_options(const struct config *cfg);

/* postern user hold|release ACCOUNT and user held (hold.c); reason may
 * be NULL. Returns the exit status. */
int cli_user_holds(const struct config *cfg, const char *verb, const char *account,
    const char *reason);

/* A DKIM key to make (dkim.c), for `dkim keygen` and `quickstart`. */
struct cli_keygen {
	const char *path;	/* where the PEM private key goes (0600) */
	const char *data_dir;	/* set when path is <data_dir>/dkim/...: that
				 * directory is made 0700 */
	const char *user;	/* run as root: the key goes to this user */
	const char *selector, *alg;	/* alg "rsa" (bits) or "ed25519" */
	unsigned bits;
	bool force;		/* replace an existing file */
};
struct dkim_signer;
/*
 * Generates the key, writes it and reads it back as the server will.
 * Returns the key read back, or NULL after printing why with *rc set
 * (2: bad selector, algorithm or size; 1: the file exists or cannot be
 * written).
 */
struct dkim_signer *cli_dkim_keygen_file(const struct cli_keygen *k, int *rc);

#endif
