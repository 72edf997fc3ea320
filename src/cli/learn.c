/*
 * postern learn: a user moved a message into Junk (spam) or out of it
 * (ham). Dovecot runs it on those moves through IMAPSieve
 * (contrib/dovecot/learn.conf) with the message on stdin; an
 * administrator runs it by hand, on files or on a folder. Each message
 * trains the content classifier (SPEC 13, policy/bayes_store.h) and, when
 * it names a local account, records that account's opinion of its From:
 * address (policy/learn.h: LEARNED_SPAM / LEARNED_HAM).
 *
 *   postern learn spam|ham [--user ACCOUNT] [--dir DIR | FILE... | -] -c CONF
 *   postern learn list [--user ACCOUNT] -c CONF
 *
 * Without --user the account is the message's first Delivered-To: (added
 * at delivery by postern and by Dovecot's LMTP). The tokens come from the
 * scanner itself, so what is learned is what the server later weighs.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/bayes_store.h"
#include "policy/learn.h"
#include "scan/mime.h"
#include "scan/scan.h"

/* What the scanner looks at is kept; the rest is read and dropped:
 * Dovecot's pipe fails a move whose program stops reading early. */
#define MESSAGE_KEEP SCAN_TEXT_MAX
/* Messages per transaction with --dir: one sync per batch, and a crash
 * loses at most a batch that a new run learns again (once). */
#define LEARN_BATCH 200

static int
usage(void)
{
	fprintf(stderr, "usage: postern learn spam|ham [--user ACCOUNT] [--dir DIR | FILE... | -] "
	    "-c FILE\n"
	    "       postern learn list [--user ACCOUNT] -c FILE\n");
	return 2;
}

/* Removes "NAME VALUE" / "NAME=VALUE" from argv; NULL when absent. */
static const char *
take_opt(int *argc, char **argv, const char *name)
{
	const char *v = NULL;
	size_t nl = strlen(name);

	for (int i = 1; i < *argc; i++) {
		int n = 0;
		if (strcmp(argv[i], name) == 0 && i + 1 < *argc) {
			v = argv[i + 1];
			n = 2;
		} else if (strncmp(argv[i], name, nl) == 0 && argv[i][nl] == '=') {
			v = argv[i] + nl + 1;
			n = 1;
		}
		if (n) {
			memmove(&argv[i], &argv[i + n],
			    (size_t)(*argc - i - n + 1) * sizeof(char *));
			*argc -= n;
			i--;
		}
	}
	return v;
}

/* The first MESSAGE_KEEP bytes of fd, everything else read and dropped. */
static char *
read_message(int fd, size_t *len)
{
	size_t cap = 65536, got = 0;
	char *buf = xmalloc(cap + 1), sink[65536];

	for (;;) {
		ssize_t r;
		if (got == cap && cap < MESSAGE_KEEP) {
			cap = cap * 2 < MESSAGE_KEEP ? cap * 2 : MESSAGE_KEEP;
			buf = xrealloc(buf, cap + 1);
		}
		r = got < cap ? read(fd, buf + got, cap - got) : read(fd, sink, sizeof(sink));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(buf);
			return NULL;
		}
		if (r == 0)
			break;
		if (got < cap)
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

struct run {
	struct config cfg;
	enum learn_opinion o;
	const char *user;		/* --user, normalised; NULL: Delivered-To */
	struct userdb *db;		/* opened at the first account */
	struct bayes_store *store;	/* NULL: the classifier is refused */
	char *store_err;
	size_t in_batch;
	unsigned nnew, nsame, nmoved, nfailed, nopinions;
	bool several;			/* more than one message: summary only */
	int rc;
};

/* The account a message names, normalised into account; false if none. */
static bool
message_account(struct run *r, const char *msg, size_t hend, char *account, size_t alen)
{
	const char *v, *why;
	size_t vl;
	char *err = NULL;

	if (r->user != NULL) {
		snprintf(account, alen, "%s", r->user);
		return true;
	}
	if (!mime_header_find(msg, hend, "Delivered-To", &v, &vl) ||
	    !scan_address_spec(v, vl, account, alen) ||
	    userdb_normalize(account, account, alen, &why) == -1)
		return false;
	if (r->db == NULL && (r->db = userdb_open(r->cfg.data_dir, &err)) == NULL) {
		fprintf(stderr, "postern: %s\n", err);
		free(err);
		return false;
	}
	if (!userdb_has_account(r->db, account)) {
		/* Delivered-To: local+Junk@domain (an LMTP delivery into Junk)
		 * is local@domain's mail */
		char *plus = strchr(account, '+'), *at = strrchr(account, '@');
		if (plus != NULL && at != NULL && plus < at)
			memmove(plus, at, strlen(at) + 1);
		if (!userdb_has_account(r->db, account))
			return false;
	}
	return true;
}

/* The account's opinion of the message's sender (policy/learn.h). */
static void
learn_opinion(struct run *r, const char *name, const char *msg, size_t len)
{
	char account[SCAN_ADDR_MAX], sender[SCAN_ADDR_MAX], *err = NULL;
	size_t hend = mime_header_end(msg, len), vl;
	const char *v;

	if (!message_account(r, msg, hend, account, sizeof(account))) {
		if (!r->several)
			fprintf(stderr, "postern: %s: no --user and no Delivered-To: naming an "
			    "account here: only the classifier learned it\n", name);
		return;
	}
	if (!mime_header_find(msg, hend, "From", &v, &vl) ||
	    !scan_address_spec(v, vl, sender, sizeof(sender))) {
		fprintf(stderr, "postern: %s: no usable From: address: no sender opinion for %s\n",
		    name, account);
		return;
	}
	if (learned_record(r->cfg.data_dir, account, sender, r->o, time(NULL), &err) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		free(err);
		r->rc = 1;
		return;
	}
	r->nopinions++;
	printf("learned for %s: mail from %s is %s\n", account, sender,
	    r->o == LEARN_SPAM ? "spam" : "ham");
}

static void
store_failed(struct run *r, char *err)
{
	/* said once, on the terminal and in the log, as an alert: a
	 * damaged database means the classifier stopped learning */
	fprintf(stderr, "postern: %s\n", err);
	if (r->cfg.log_file != NULL && log_open(r->cfg.log_file) == 0) {
		char q[LOG_VALUE_MAX];
		log_set_stderr(false);
		log_event("alert", "kind=bayes reason=%s",
		    log_quote(q, sizeof(q), err, strlen(err)));
	}
	free(r->store_err);
	r->store_err = err;
	bayes_store_close(r->store);
	r->store = NULL;
	r->rc = 1;
}

/* Trains the classifier on one message. */
static void
learn_tokens(struct run *r, const char *msg, size_t len)
{
	struct scan_input in = { 0 };
	struct scan *s;
	enum bayes_learn_result res;
	char id[BAYES_ID_MAX], *err = NULL;
	const struct bayes_tokens *tok;

	if (r->store == NULL)
		return;
	in.cfg = &r->cfg;
	in.defanged = r->cfg.scan_defanged;
	in.bayes_tokens = true;
	/* no resolver: finished on return, nothing looked up */
	s = scan_start(&in, msg, len, NULL, NULL);
	tok = scan_bayes_tokens(s);
	bayes_message_id(msg, len, id, sizeof(id));
	if (r->in_batch == 0 && bayes_store_begin(r->store, &err) == -1) {
		scan_free(s);
		store_failed(r, err);
		return;
	}
	if (bayes_store_learn(r->store, id, tok, r->o == LEARN_SPAM ? BAYES_KIND_SPAM :
	    BAYES_KIND_HAM, time(NULL), &res, &err) == -1) {
		scan_free(s);
		r->in_batch = 0;
		store_failed(r, err);
		return;
	}
	scan_free(s);
	switch (res) {
	case BAYES_LEARN_NEW: r->nnew++; break;
	case BAYES_LEARN_SAME: r->nsame++; break;
	case BAYES_LEARN_MOVED: r->nmoved++; break;
	}
	if (!r->several)
		printf("classifier: %s %s\n", res == BAYES_LEARN_NEW ? "learned as" :
		    res == BAYES_LEARN_SAME ? "already learned as" : "moved to",
		    r->o == LEARN_SPAM ? "spam" : "ham");
	if (++r->in_batch >= LEARN_BATCH) {
		r->in_batch = 0;
		if (bayes_store_commit(r->store, &err) == -1)
			store_failed(r, err);
	}
}

static void
learn_fd(struct run *r, const char *name, int fd)
{
	size_t len;
	char *buf = read_message(fd, &len);
	const char *msg = buf;

	if (buf == NULL) {
		fprintf(stderr, "postern: cannot read %s: %s\n", name, strerror(errno));
		r->nfailed++;
		r->rc = 1;
		return;
	}
	/* an mbox "From " separator line is not part of the message */
	if (len > 5 && memcmp(msg, "From ", 5) == 0) {
		const char *nl = memchr(msg, '\n', len);
		if (nl != NULL) {
			len -= (size_t)(nl + 1 - msg);
			msg = nl + 1;
		}
	}
	if (len == 0) {
		/* nothing to count: it would only move the totals */
		fprintf(stderr, "postern: %s: empty message: nothing learned\n", name);
		r->nfailed++;
		r->rc = 1;
		free(buf);
		return;
	}
	learn_tokens(r, msg, len);
	learn_opinion(r, name, msg, len);
	free(buf);
}

static void
learn_path(struct run *r, const char *path)
{
	int fd;

	if (strcmp(path, "-") == 0) {
		learn_fd(r, "stdin", STDIN_FILENO);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd == -1) {
		fprintf(stderr, "postern: cannot read %s: %s\n", path, strerror(errno));
		r->nfailed++;
		r->rc = 1;
		return;
	}
	learn_fd(r, path, fd);
	close(fd);
}

/* SPEC 13: each regular file directly in dir is one message (a Maildir's
 * cur/ and new/ are each such a folder); sub-folders are not entered. */
static void
learn_dir(struct run *r, const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	if (n == -1) {
		fprintf(stderr, "postern: cannot read folder %s: %s\n", dir, strerror(errno));
		r->rc = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			learn_path(r, p);
		free(p);
		free(names[i]);
	}
	free(names);
}

static int
learn_list(int argc, char **argv, const char *path, const char *user)
{
	struct config cfg = { 0 };
	char account[SCAN_ADDR_MAX];
	const char *why;
	int rc;

	if (argc != 2)
		return usage();
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
}

int
cli_learn(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv), *user = take_opt(&argc, argv, "--user");
	const char *dir = take_opt(&argc, argv, "--dir"), *why;
	struct run r = { .rc = 0 };
	char account[SCAN_ADDR_MAX], *err = NULL;
	uint32_t ns = 0, nh = 0;

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "list") == 0)
		return dir ? usage() : learn_list(argc, argv, path, user);
	if (strcmp(argv[1], "spam") == 0)
		r.o = LEARN_SPAM;
	else if (strcmp(argv[1], "ham") == 0)
		r.o = LEARN_HAM;
	else
		return usage();
	if (dir != NULL && argc > 2)
		return usage();
	if (cli_load_config(path, &r.cfg) == -1)
		return 1;
	/* an account given by hand must exist: checked before anything is
	 * learned */
	if (user != NULL) {
		if (userdb_normalize(user, account, sizeof(account), &why) == -1) {
			fprintf(stderr, "postern: %s: %s\n", user, why);
			goto out;
		}
		if ((r.db = userdb_open(r.cfg.data_dir, &err)) == NULL) {
			fprintf(stderr, "postern: %s\n", err);
			goto out;
		}
		if (!userdb_has_account(r.db, account)) {
			fprintf(stderr, "postern: %s is not an account here\n", account);
			goto out;
		}
		r.user = account;
	}
	if ((r.store = bayes_store_open(&r.cfg, true, &err)) == NULL) {
		store_failed(&r, err);
		err = NULL;
	}
	r.several = dir != NULL || argc > 3;
	if (dir != NULL)
		learn_dir(&r, dir);
	else if (argc == 2)
		learn_path(&r, "-");
	else
		for (int i = 2; i < argc; i++)
			learn_path(&r, argv[i]);
	if (r.store != NULL && r.in_batch > 0 && bayes_store_commit(r.store, &err) == -1) {
		store_failed(&r, err);
		err = NULL;
		r.nnew = r.nmoved = 0;
	}
	/* the totals as the classifier now sees them */
	if (r.store != NULL && bayes_store_totals(r.store, &ns, &nh, &err) == -1) {
		store_failed(&r, err);
		err = NULL;
	}
	if (r.several || r.store != NULL)
		printf("classifier: %u learned, %u already known, %u moved, "
		    "%u unreadable or empty; now %u spam and %u ham learned (votes from %u of "
		    "each)\n", r.nnew, r.nsame, r.nmoved, r.nfailed, ns, nh,
		    r.cfg.bayes_min_learned);
	goto done;
out:
	r.rc = 1;
done:
	free(err);
	free(r.store_err);
	bayes_store_close(r.store);
	userdb_free(r.db);
	config_clear(&r.cfg);
	return r.rc;
}
