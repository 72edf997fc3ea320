/*
 * postern queue list|delete: what is waiting in <data_dir>/queue.
 * flush, hold and release act on remote delivery's scheduler, which does
 * not exist yet: they say so and exit 2 instead of pretending.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "queue/spool.h"

static int
queue_list(const struct config *cfg)
{
	size_t n;
	char **ids = spool_list(cfg->data_dir, &n);

	if (ids == NULL && n == 0) {
		printf("Queue is empty\n");
		return 0;
	}
	printf("%-16s %10s %-20s %s\n", "ID", "SIZE", "ARRIVED", "SENDER / RECIPIENTS");
	for (size_t i = 0; i < n; i++) {
		struct spool_msg msg;
		char when[32];
		struct tm tm;
		int rc = spool_load(cfg->data_dir, ids[i], &msg);

		if (rc != 0) {
			printf("%-16s %10s %-20s %s\n", ids[i], "-", "-",
			    rc == 1 ? "(incomplete: not acknowledged, removed at next start)" : strerror(errno));
			continue;
		}
		localtime_r(&msg.env.time, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-16s %10zu %-20s <%s>\n", ids[i], msg.datalen, when, msg.env.from);
		for (size_t r = 0; r < msg.env.nrcpts; r++)
			printf("%49s<%s>%s\n", "", msg.env.rcpts[r].addr,
			    msg.env.rcpts[r].done ? " (delivered)" : " (local)");
		spool_msg_clear(&msg);
	}
	printf("-- %zu message%s\n", n, n == 1 ? "" : "s");
	spool_list_free(ids, n);
	return 0;
}

int
cli_queue(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	struct config cfg;
	int rc = 2;

	if (argc < 2) {
		fprintf(stderr, "usage: postern queue -c FILE list|flush|delete ID|hold ID|release ID\n");
		return 2;
	}
	if (cli_load_config(path, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	if (strcmp(argv[1], "list") == 0 && argc == 2)
		rc = queue_list(&cfg);
	else if (strcmp(argv[1], "delete") == 0 && argc == 3) {
		if (spool_remove(cfg.data_dir, argv[2]) == -1) {
			fprintf(stderr, "postern: %s: %s\n", argv[2], strerror(errno));
			rc = 1;
		} else {
			printf("deleted %s\n", argv[2]);
			rc = 0;
		}
	} else if ((strcmp(argv[1], "flush") == 0 && argc == 2) ||
	    ((strcmp(argv[1], "hold") == 0 || strcmp(argv[1], "release") == 0) && argc == 3)) {
		fprintf(stderr, "postern: queue %s: not available yet (arrives with remote delivery); "
		    "local deliveries are retried automatically\n", argv[1]);
		rc = 2;
	} else
		fprintf(stderr, "usage: postern queue -c FILE list|flush|delete ID|hold ID|release ID\n");
	config_clear(&cfg);
	return rc;
}
