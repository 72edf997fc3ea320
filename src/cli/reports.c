/*
 * postern dmarc|tlsrpt (SPEC 12): `import FILE|DIR...` stores reports
 * other receivers sent about our domains (a saved message, or the
 * .xml/.gz/.zip/.json file; either kind, whichever command), `report
 * --now` asks the running server to send the reports of everything
 * recorded so far instead of waiting for the next UTC day.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/log.h"
#include "report/import.h"
#include "report/received.h"
#include "report/service.h"

#define TRIGGER_WAIT_S 30	/* the server looks every 2 s */

static int
usage(const char *cmd)
{
	fprintf(stderr, "usage: postern %s import FILE|DIR... [-c FILE]\n"
	    "       postern %s report --now [-c FILE]\n", cmd, cmd);
	return 2;
}

static int
reports(const char *cmd, const char *kind, int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	bool now = cli_take_flag(&argc, argv, "--now");
	struct config cfg;
	int rc = 0;

	if (argc < 2)
		return usage(cmd);
	if (strcmp(argv[1], "report") == 0 && (!now || argc != 2))
		return usage(cmd);
	if (strcmp(argv[1], "import") == 0 && (now || argc < 3))
		return usage(cmd);
	if (strcmp(argv[1], "report") != 0 && strcmp(argv[1], "import") != 0)
		return usage(cmd);
	if (cli_load_config(path, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	if (strcmp(argv[1], "report") == 0) {
		if (strcmp(kind, "dmarc") == 0 && !cfg.dmarc_reports)
			fprintf(stderr, "postern: dmarc_reports = no: nothing is recorded, nothing will be sent\n");
		if (report_service_trigger(cfg.data_dir, kind, TRIGGER_WAIT_S) == -1) {
			fprintf(stderr, "postern: no server took the request within %u s (is postern serve running with data_dir %s?)\n",
			    TRIGGER_WAIT_S, cfg.data_dir);
			rc = 1;
		} else
			printf("the server is sending the %s reports (see event=report_sent in the log)\n",
			    kind);
	} else {
		char *err = NULL;
		struct report_db *db = report_db_open(cfg.data_dir, true, &err);
		if (db == NULL) {
			fprintf(stderr, "postern: %s\n", err);
			free(err);
			config_clear(&cfg);
			return 1;
		}
		/* the import lines go to the server's log as well */
		if (log_open(cfg.log_file) == 0)
			log_set_stderr(false);
		for (int i = 2; i < argc; i++) {
			int refused = report_import_path(&cfg, db, argv[i], true);
			if (refused == -1) {
				fprintf(stderr, "postern: %s: %s\n", argv[i], strerror(errno));
				rc = 1;
			} else if (refused > 0)
				rc = 1;
		}
		report_db_close(db);
		log_close();
	}
	config_clear(&cfg);
	return rc;
}

int
cli_dmarc(int argc, char **argv)
{
	return reports("dmarc", "dmarc", argc, argv);
}

int
cli_tlsrpt(int argc, char **argv)
{
	return reports("tlsrpt", "tlsrpt", argc, argv);
}
