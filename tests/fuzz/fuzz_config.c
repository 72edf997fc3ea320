/*
 * Fuzz target for the configuration parser: config_parse on the input,
 * then the lookups, then config_clear and config_diag_clear; LeakSanitizer
 * reports anything left behind. Invariants: the count returned is the
 * number of messages added, each message starts with "file:", and a clean
 * parse has at least one lower-case domain and the derived values set.
 */
#include "fuzz.h"

#include <ctype.h>

#include "lib/config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	struct config cfg;
	struct config_diag diag = { 0 };
	size_t n;
	double w;

	n = config_parse(buf, size, "fuzz.conf", "/base", &cfg, &diag);
	CHECK(n == diag.n);
	for (size_t i = 0; i < diag.n; i++)
		CHECK(strncmp(diag.msgs[i], "fuzz.conf:", 10) == 0);
	CHECK(cfg.path != NULL && cfg.dir != NULL && cfg.hostname != NULL);
	CHECK(cfg.data_dir != NULL && cfg.log_file != NULL);
	if (n == 0) {
		CHECK(cfg.ndomains > 0 && cfg.alert_address != NULL);
		for (size_t i = 0; i < cfg.ndomains; i++) {
			CHECK(cfg.domains[i][0] != '\0');
			for (const char *p = cfg.domains[i]; *p; p++)
				CHECK(!isupper((unsigned char)*p));
			CHECK(config_is_local_domain(&cfg, cfg.domains[i],
			    strlen(cfg.domains[i])));
		}
		CHECK(cfg.score_reject >= cfg.score_junk);
		CHECK(cfg.max_connections > 0 && cfg.max_connections_per_ip > 0);
		CHECK((cfg.tls_cert == NULL) == (cfg.tls_key == NULL));
	}
	for (size_t i = 0; i < cfg.nscores; i++)
		CHECK(config_score_override(&cfg, cfg.scores[i].symbol, &w));
	(void)config_is_local_domain(&cfg, buf, size > 300 ? 300 : size);

	config_clear(&cfg);
	config_diag_clear(&diag);
	CHECK(diag.n == 0 && diag.msgs == NULL);
	free(buf);
	return 0;
}
