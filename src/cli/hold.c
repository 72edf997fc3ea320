/*
 * postern user hold|release|held (SPEC 10): held accounts by hand. The
 * change goes to <data_dir>/holds and its event to log_file; a running
 * server reads the file within seconds and, on a release, lets the
 * account's kept messages go. With no server running, release frees
 * them in the queue files itself.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/userdb.h"
#include "monitor/log.h"
#include "policy/hold.h"
#include "queue/control.h"
#include "queue/spool.h"

/* Is a server running on this data_dir? Its control socket answers any
 * line, an unknown one with an error: connecting is the proof. */
static bool
server_running(const struct config *cfg)
{
	char sock[4096], reply[CONTROL_LINE_MAX];

	snprintf(sock, sizeof(sock), "%s/control", cfg->data_dir);
	return control_request(sock, "ping", reply, sizeof(reply)) == 0;
}

/* No server: the account's held messages are released in their files. */
static unsigned
release_offline(const struct config *cfg, const char *account)
{
	size_t n;
	char **ids = spool_list(cfg->data_dir, &n);
	unsigned released = 0;

	for (size_t i = 0; i < n; i++) {
		struct spool_msg msg;
		if (spool_load(cfg->data_dir, ids[i], &msg) != 0)
			continue;
		if (msg.held && msg.env.user != NULL && strcasecmp(msg.env.user, account) == 0) {
			if (spool_save_state(cfg->data_dir, &msg.env, false, msg.warned) == 0) {
				log_event("released", "id=%s user=%s", ids[i], account);
				released++;
			} else
				fprintf(stderr, "postern: %s: %s\n", ids[i], strerror(errno));
		}
		spool_msg_clear(&msg);
	}
	spool_list_free(ids, n);
	return released;
}

static int
list_held(struct holds *h)
{
	struct hold_entry *e;
	size_t n = holds_list(h, &e);

	for (size_t i = 0; i < n; i++) {
		char when[32];
		struct tm tm;
		localtime_r(&e[i].since, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%s held since %s: %s\n", e[i].account, when, e[i].reason);
	}
	if (n == 0)
		printf("no account is held\n");
	holds_list_free(e, n);
	return 0;
}

int
cli_user_holds(const struct config *cfg, const char *verb, const char *account,
    const char *reason)
{
	struct holds *h;
	char *err = NULL, *why = NULL;
	int rc = 1, r;

	/* the events belong in the server's log, not on the terminal */
	log_set_stderr(false);
	if (strcmp(verb, "held") != 0 && log_open(cfg->log_file) == -1) {
		fprintf(stderr, "postern: cannot open log %s: %s\n", cfg->log_file, strerror(errno));
		return 1;
	}
	h = holds_open(cfg->data_dir, NULL, NULL);
	if (holds_refresh(h) == -1) {
		fprintf(stderr, "postern: cannot read the holds under %s\n", cfg->data_dir);
		goto out;
	}
	if (strcmp(verb, "held") == 0) {
		rc = list_held(h);
		goto out;
	}
	if (strcmp(verb, "hold") == 0) {
		struct userdb *db = userdb_open(cfg->data_dir, &err);
		bool known = db != NULL && userdb_hash(db, account) != NULL;
		userdb_free(db);
		if (!known) {
			fprintf(stderr, "postern: %s: no such account\n", account);
			goto out;
		}
		why = reason ? strdup(reason) : strdup("held by hand (postern user hold)");
		r = holds_set(h, account, why, &err);
	} else
		r = holds_release(h, account, &err);
	if (r == -1) {
		fprintf(stderr, "postern: %s\n", err);
		goto out;
	}
	rc = 0;
	if (strcmp(verb, "hold") == 0) {
		printf(r == 1 ? "%s was already held\n" : "%s held: its new mail stays in the queue until released\n",
		    account);
	} else if (r == 1)
		printf("%s was not held\n", account);
	else if (server_running(cfg))
		printf("%s released: the running server sends its kept messages within 10 s\n",
		    account);
	else
		printf("%s released, and %u kept message(s) with it\n", account,
		    release_offline(cfg, account));
out:
	free(why);
	free(err);
	holds_free(h);
	return rc;
}
