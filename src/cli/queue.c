/*
 * postern queue list|flush|delete|hold|release. Actions go through the
 * running server's control socket (queue/control.h), which owns the
 * queue; when no server runs, hold, release and delete edit the queue
 * files directly and flush has nothing to do (the queue is delivered at
 * the next start).
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "queue/control.h"
#include "queue/spool.h"

static int
queue_list(const struct config *cfg)
{
	size_t n;
	char **ids = spool_list(cfg->data_dir, &n);

	if (n == 0) {
		printf("Queue is empty\n");
		spool_list_free(ids, n);
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
			    rc == 1 ? "(incomplete: never acknowledged, removed at next start)" :
			    strerror(errno));
			continue;
		}
		localtime_r(&msg.env.time, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-16s %10zu %-20s <%s>%s\n", ids[i], msg.datalen, when, msg.env.from,
		    msg.held ? " held" : "");
		for (size_t r = 0; r < msg.env.nrcpts; r++) {
			const struct spool_rcpt *rc_ = &msg.env.rcpts[r];
			printf("%49s<%s> %s%s", "", rc_->addr,
			    strcmp(rc_->mailbox, SPOOL_REMOTE) == 0 ? "remote " : "local ",
			    spool_rcpt_status_name(rc_->status));
			if (rc_->attempts)
				printf(", %u attempt%s", rc_->attempts, rc_->attempts == 1 ? "" : "s");
			if (rc_->reason)
				printf(": %s", rc_->reason);
			printf("\n");
		}
		spool_msg_clear(&msg);
	}
	printf("-- %zu message%s\n", n, n == 1 ? "" : "s");
	spool_list_free(ids, n);
	return 0;
}

/* Without a server: edit the files. */
static int
offline(const struct config *cfg, const char *verb, const char *id)
{
	struct spool_msg msg;

	if (strcmp(verb, "flush") == 0) {
		printf("no server running: the queue is delivered when it starts\n");
		return 0;
	}
	if (strcmp(verb, "delete") == 0) {
		if (spool_remove(cfg->data_dir, id) == -1) {
			fprintf(stderr, "postern: %s: %s\n", id, strerror(errno));
			return 1;
		}
		printf("deleted %s\n", id);
		return 0;
	}
	if (spool_load(cfg->data_dir, id, &msg) != 0) {
		fprintf(stderr, "postern: no message %s in the queue\n", id);
		return 1;
	}
	if (spool_save_state(cfg->data_dir, &msg.env, strcmp(verb, "hold") == 0,
	    msg.warned) == -1) {
		fprintf(stderr, "postern: %s: %s\n", id, strerror(errno));
		spool_msg_clear(&msg);
		return 1;
	}
	spool_msg_clear(&msg);
	printf("%s %s\n", id, strcmp(verb, "hold") == 0 ? "held" : "released");
	return 0;
}

int
cli_queue(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	struct config cfg;
	int rc = 2;
	const char *verb = argc > 1 ? argv[1] : "";
	bool needs_id = strcmp(verb, "delete") == 0 || strcmp(verb, "hold") == 0 ||
	    strcmp(verb, "release") == 0;

	if (!((strcmp(verb, "list") == 0 && argc == 2) || (strcmp(verb, "flush") == 0 && argc == 2) ||
	    (needs_id && argc == 3))) {
		fprintf(stderr, "usage: postern queue -c FILE list|flush|delete ID|hold ID|release ID\n");
		return 2;
	}
	if (cli_load_config(path, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	if (strcmp(verb, "list") == 0)
		rc = queue_list(&cfg);
	else {
		char sock[4096], line[CONTROL_LINE_MAX], reply[CONTROL_LINE_MAX];
		snprintf(sock, sizeof(sock), "%s/control", cfg.data_dir);
		snprintf(line, sizeof(line), "%s%s%s", verb, needs_id ? " " : "", needs_id ? argv[2] : "");
		if (control_request(sock, line, reply, sizeof(reply)) == 0) {
			bool ok = strncmp(reply, "ok", 2) == 0;
			fprintf(ok ? stdout : stderr, "%s\n", reply);
			rc = ok ? 0 : 1;
		} else
			rc = offline(&cfg, verb, needs_id ? argv[2] : NULL);
	}
	config_clear(&cfg);
	return rc;
}
