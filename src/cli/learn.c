/*
 * postern learn: records that an account's user moved a message into
 * Junk (spam) or out of it (ham). Dovecot runs it on those moves through
 * IMAPSieve (contrib/dovecot/learn.conf) with the message on stdin; an
 * administrator can run it by hand. The opinion is about the message's
 * From: address, for this account only (policy/learn.h); the server
 * applies it to the next messages as LEARNED_SPAM / LEARNED_HAM.
 *
 *   postern learn spam|ham [--user ACCOUNT] [FILE|-] -c CONF
 *   postern learn list [--user ACCOUNT] -c CONF
 *
 * Without --user the account is the message's first Delivered-To: (added
 * at delivery by postern and by Dovecot's LMTP).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "policy/learn.h"
#include "scan/mime.h"
#include "scan/scan.h"

/* Only the header is needed, but the whole input is read: Dovecot's pipe
 * fails a move whose program stops reading early. */
#define HEADER_KEEP (1024 * 1024)

static int
usage(void)
{
	fprintf(stderr, "usage: postern learn spam|ham [--user ACCOUNT] [FILE|-] -c FILE\n"
	    "       postern learn list [--user ACCOUNT] -c FILE\n");
	return 2;
}

/* Removes "--user VALUE" / "--user=VALUE" from argv; NULL when absent. */
static const char *
take_user(int *argc, char **argv)
{
	const char *v = NULL;

	for (int i = 1; i < *argc; i++) {
		int n = 0;
		if (strcmp(argv[i], "--user") == 0 && i + 1 < *argc) {
			v = argv[i + 1];
			n = 2;
		} else if (strncmp(argv[i], "--user=", 7) == 0) {
			v = argv[i] + 7;
			n = 1;
		}
		if (n) {
			memmove(&argv[i], &argv[i + n], (size_t)(*argc - i - n + 1) * sizeof(char *));
			*argc -= n;
			i--;
		}
	}
	return v;
}

/* The first HEADER_KEEP bytes of fd, everything else read and dropped. */
static char *
read_head(int fd, size_t *len)
{
	char *buf = xmalloc(HEADER_KEEP + 1), sink[65536];
	size_t got = 0;

	for (;;) {
		ssize_t r = got < HEADER_KEEP ? read(fd, buf + got, HEADER_KEEP - got) :
		    read(fd, sink, sizeof(sink));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		if (got < HEADER_KEEP)
			got += (size_t)r;
	}
	buf[got] = '\0';
	*len = got;
	return buf;
}

static int
list(const struct config *cfg, const char *user)
{
	char *path = xasprintf("%s/learned", cfg->data_dir), *buf;
	struct stat st;

	buf = durable_slurp(path, &st);
	if (buf == NULL && errno != ENOENT) {
		fprintf(stderr, "postern: cannot read %s: %s\n", path, strerror(errno));
		free(path);
		return 1;
	}
	for (char *line = buf, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = line + strlen(line);
		if (user == NULL || (strncmp(line, user, strlen(user)) == 0 &&
		    line[strlen(user)] == ' '))
			printf("%s\n", line);
	}
	free(buf);
	free(path);
	return 0;
}

int
cli_learn(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv), *user = take_user(&argc, argv);
	const char *file = argc > 2 ? argv[2] : "-", *why;
	struct config cfg = { 0 };
	struct userdb *db = NULL;
	enum learn_opinion o;
	char account[SCAN_ADDR_MAX], sender[SCAN_ADDR_MAX], *msg = NULL, *err = NULL;
	const char *v;
	size_t len = 0, vl, hend;
	int fd, rc = 1;

	if (argc < 2 || argc > 3)
		return usage();
	if (strcmp(argv[1], "spam") == 0)
		o = LEARN_SPAM;
	else if (strcmp(argv[1], "ham") == 0)
		o = LEARN_HAM;
	else if (strcmp(argv[1], "list") == 0 && argc == 2) {
		if (cli_load_config(path, &cfg) == -1)
			return 1;
		if (user != NULL && userdb_normalize(user, account, sizeof(account), &why) == -1) {
			fprintf(stderr, "postern: %s: %s\n", user, why);
			config_clear(&cfg);
			return 1;
		}
		rc = list(&cfg, user ? account : NULL);
		config_clear(&cfg);
		return rc;
	} else
		return usage();
	if (cli_load_config(path, &cfg) == -1)
		return 1;

	fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || (msg = read_head(fd, &len)) == NULL) {
		fprintf(stderr, "postern: cannot read %s: %s\n", file, strerror(errno));
		goto out;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	hend = mime_header_end(msg, len);

	if (user == NULL) {
		if (!mime_header_find(msg, hend, "Delivered-To", &v, &vl) ||
		    !scan_address_spec(v, vl, account, sizeof(account))) {
			fprintf(stderr, "postern: no --user and no Delivered-To: in the message\n");
			goto out;
		}
		user = account;
	}
	if (userdb_normalize(user, account, sizeof(account), &why) == -1) {
		fprintf(stderr, "postern: %s: %s\n", user, why);
		goto out;
	}
	if ((db = userdb_open(cfg.data_dir, &err)) == NULL) {
		fprintf(stderr, "postern: %s\n", err);
		goto out;
	}
	if (!userdb_has_account(db, account)) {
		/* Delivered-To: local+Junk@domain (an LMTP delivery into Junk) is
		 * local@domain's mail */
		char *plus = strchr(account, '+'), *at = strrchr(account, '@');
		if (plus != NULL && at != NULL && plus < at)
			memmove(plus, at, strlen(at) + 1);
		if (!userdb_has_account(db, account)) {
			fprintf(stderr, "postern: %s is not an account here\n", account);
			goto out;
		}
	}
	if (!mime_header_find(msg, hend, "From", &v, &vl) ||
	    !scan_address_spec(v, vl, sender, sizeof(sender))) {
		fprintf(stderr, "postern: no usable From: address in the message: nothing to learn\n");
		goto out;
	}
	if (learned_record(cfg.data_dir, account, sender, o, time(NULL), &err) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		goto out;
	}
	printf("learned for %s: mail from %s is %s\n", account, sender,
	    o == LEARN_SPAM ? "spam" : "ham");
	rc = 0;
out:
	free(err);
	free(msg);
	userdb_free(db);
	config_clear(&cfg);
	return rc;
}
