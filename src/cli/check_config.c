/*
 * postern check-config: every problem of the file with file:line, then
 * what would stop the server from starting (certificate, directories).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtp/tls.h"
#include "queue/dkim_sign.h"
#include "queue/smarthost.h"

int
cli_check_config(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	struct config cfg;
	char *err = NULL;
	int rc = 0;

	if (argc > 1) {
		fprintf(stderr, "usage: postern check-config -c FILE\n");
		return 2;
	}
	if (cli_load_config(path, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	if (cfg.tls_cert != NULL) {
		SSL_CTX *ctx = tls_server_ctx(cfg.tls_cert, cfg.tls_key, &err);
		if (ctx == NULL) {
			fprintf(stderr, "%s: %s\n", path, err);
			free(err);
			rc = 1;
		}
		SSL_CTX_free(ctx);
	}
	if (cfg.dkim_key != NULL) {
		struct dkim_signer *s = dkim_signer_load(cfg.dkim_selector, cfg.dkim_key, &err);
		if (s == NULL) {
			fprintf(stderr, "%s: %s\n", path, err);
			free(err);
			err = NULL;
			rc = 1;
		}
		dkim_signer_free(s);
	}
	if (cfg.relayhost_password_file != NULL) {
		/* SPEC 12: serve reads it at start; a file it cannot read
		 * would leave every remote message queued */
		char *pass = smarthost_password_read(cfg.relayhost_password_file, &err);
		if (pass == NULL) {
			fprintf(stderr, "%s: %s\n", path, err);
			free(err);
			err = NULL;
			rc = 1;
		} else {
			explicit_bzero(pass, strlen(pass));
			free(pass);
		}
	}
	if (cfg.dnssec) {
		/* RFC 7672 DANE and every validation start from this key */
		const char *ta = cfg.dnssec_trust_anchor ? cfg.dnssec_trust_anchor :
		    "/usr/share/dns/root.key";
		if (access(ta, R_OK) != 0) {
			fprintf(stderr, "%s: dnssec_trust_anchor %s: %s\n", path, ta, strerror(errno));
			rc = 1;
		}
	}
	if (rc == 0)
		printf("%s: ok\n", path);
	config_clear(&cfg);
	return rc;
}
