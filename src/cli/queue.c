/*
 * postern queue list|flush|delete|hold|release|salvage. Actions go
 * through the running server's control socket (queue/control.h), which
 * owns the queue; when no server runs, hold, release, delete and salvage
 * edit the queue files directly and flush has nothing to do (the queue
 * is delivered at the next start). An id is checked with the spool's own
 * syntax before anything else, online or not: it names a file.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue/control.h"
#include "queue/spool.h"

#define QUEUE_USAGE "usage: postern queue -c FILE list|flush|delete ID|hold ID|release ID|salvage ID\n"

/* Arrival time from a queue id: its first 8 hex digits are the seconds. */
static void
id_time(const char *id, char *out, size_t outlen)
{
	unsigned long secs = 0;
	time_t t;
	struct tm tm;

	for (int i = 0; i < 8; i++)
		secs = secs << 4 | (unsigned long)(id[i] <= '9' ? id[i] - '0' : id[i] - 'A' + 10);
	t = (time_t)secs;
	localtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The quarantined files (queue/corrupt/), each marked "corrupt". */
static size_t
list_corrupt(const struct config *cfg)
{
	size_t n;
	struct spool_corrupt *c = spool_list_corrupt(cfg->data_dir, &n);

	for (size_t i = 0; i < n; i++) {
		char when[32];
		id_time(c[i].id, when, sizeof(when));
		printf("%-16s %10lld %-20s corrupt: %s (queue/corrupt/%s)\n", c[i].id, c[i].size, when,
		    c[i].damage.reason, c[i].name);
		if (c[i].salvaged[0])
			printf("%49ssalvaged as %s\n", "", c[i].salvaged);
		else if (c[i].salvageable)
			printf("%49s%s: postern queue salvage %s\n", "",
			    c[i].damage.good_len == c[i].damage.msg_len ?
			    "envelope and whole message can be re-queued" :
			    "envelope and the message up to the damage can be re-queued", c[i].id);
		else
			printf("%49snothing can be recovered: %s\n", "", c[i].damage.why);
	}
	free(c);
	return n;
}

static int
queue_list(const struct config *cfg)
{
	size_t n, ncorrupt;
	char **ids = spool_list(cfg->data_dir, &n);

	printf("%-16s %10s %-20s %s\n", "ID", "SIZE", "ARRIVED", "SENDER / RECIPIENTS");
	for (size_t i = 0; i < n; i++) {
		struct spool_msg msg;
		char when[32];
		struct tm tm;
		int rc = spool_load(cfg->data_dir, ids[i], &msg);

		if (rc != 0) {
			/* damaged since the server started: quarantined at
			 * the next start */
			id_time(ids[i], when, sizeof(when));
			printf("%-16s %10s %-20s %s\n", ids[i], "-", when,
			    rc == 1 ? "corrupt: does not load (moved to queue/corrupt/ at the next start)" :
			    strerror(errno));
			continue;
		}
		localtime_r(&msg.env.time, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-16s %10zu %-20s <%s>%s%s\n", ids[i], msg.datalen, when, msg.env.from,
		    msg.held ? " held" : "",
		    msg.state_damaged ? " (state file damaged: every recipient pending)" : "");
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
	ncorrupt = list_corrupt(cfg);
	if (n == 0 && ncorrupt == 0)
		printf("Queue is empty\n");
	else if (ncorrupt == 0)
		printf("-- %zu message%s\n", n, n == 1 ? "" : "s");
	else
		printf("-- %zu message%s, %zu corrupt (queue/corrupt/)\n", n, n == 1 ? "" : "s",
		    ncorrupt);
	spool_list_free(ids, n);
	return 0;
}

static int
offline_salvage(const struct config *cfg, const char *id)
{
	struct spool_salvage_result res;
	int rc = spool_salvage(cfg->data_dir, id, &res);

	if (rc != 0) {
		fprintf(stderr, "postern: %s\n", res.why);
		return 1;
	}
	if (res.already)
		printf("%s was salvaged before, as %s: nothing done\n", id, res.new_id);
	else {
		printf("%s salvaged as %s: %zu of %zu octets of the message, %zu recipient%s; delivered when the server starts\n",
		    id, res.new_id, res.kept, res.total, res.env.nrcpts, res.env.nrcpts == 1 ? "" : "s");
		if (res.why[0])
			fprintf(stderr, "postern: warning: %s\n", res.why);
	}
	spool_envelope_clear(&res.env);
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
	if (strcmp(verb, "salvage") == 0)
		return offline_salvage(cfg, id);
	if (strcmp(verb, "delete") == 0) {
		if (spool_remove(cfg->data_dir, id) == -1) {
			if (errno == ENOENT)
				fprintf(stderr, "postern: no message %s in the queue\n", id);
			else
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

/* The id as given, printable and cut (it may be anything), for the
 * message; outlen at least 8. */
static void
show_id(const char *id, char *out, size_t outlen)
{
	size_t o = 0;

	for (const char *p = id; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (o + 8 > outlen) {
			memcpy(out + o, "...", 4);
			return;
		}
		if (ch >= 0x20 && ch < 0x7f)
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
	}
	out[o] = '\0';
}

int
cli_queue(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	struct config cfg;
	int rc = 2;
	const char *verb = argc > 1 ? argv[1] : "";
	bool needs_id = strcmp(verb, "delete") == 0 || strcmp(verb, "hold") == 0 ||
	    strcmp(verb, "release") == 0 || strcmp(verb, "salvage") == 0;

	if (!((strcmp(verb, "list") == 0 && argc == 2) || (strcmp(verb, "flush") == 0 && argc == 2) ||
	    (needs_id && argc == 3))) {
		fprintf(stderr, QUEUE_USAGE);
		return 2;
	}
	/* before the configuration, the socket or any file: an id names a
	 * file, so "../../x" must never get that far */
	if (needs_id && !spool_id_valid(argv[2], strlen(argv[2]))) {
		char shown[80];
		show_id(argv[2], shown, sizeof(shown));
		fprintf(stderr, "postern: \"%s\" is not a queue ID (%d characters 0-9 A-F, as postern queue list shows)\n",
		    shown, SPOOL_ID_LEN);
		return 1;
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
