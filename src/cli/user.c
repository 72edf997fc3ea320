/*
 * postern user add|passwd|del|list and postern alias add|del|list.
 * Accounts and aliases are files under data_dir (auth/userdb.h); a
 * running server picks changes up at the next recipient it checks.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"

#define PASSWORD_MAX 1024
#define USER_USAGE "usage: postern user add|passwd|del ADDRESS -c FILE [--password-stdin]\n" \
    "       postern user list -c FILE\n" \
    "       postern user hold ADDRESS [--reason TEXT] -c FILE\n" \
    "       postern user release ADDRESS -c FILE | postern user held -c FILE\n"

/* Reads one line without its line end; -1 at EOF or when too long. */
static int
read_line(FILE *f, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, f) == NULL)
		return -1;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f))
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

static int
prompt(FILE *tty, const char *what, char *buf, size_t len)
{
	struct termios old, quiet;
	int fd = fileno(tty), rc;

	fprintf(stderr, "%s", what);
	fflush(stderr);
	if (tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	rc = read_line(tty, buf, len);
	tcsetattr(fd, TCSAFLUSH, &old);
	fprintf(stderr, "\n");
	return rc;
}

static int
get_password(bool from_stdin, char *buf, size_t len)
{
	char again[PASSWORD_MAX];
	FILE *tty;

	if (from_stdin) {
		if (read_line(stdin, buf, len) == -1) {
			fprintf(stderr, "postern: no password on standard input\n");
			return -1;
		}
		return 0;
	}
	if ((tty = fopen("/dev/tty", "r+")) == NULL) {
		fprintf(stderr, "postern: no terminal to ask for the password; use --password-stdin\n");
		return -1;
	}
	if (prompt(tty, "Password: ", buf, len) == -1 ||
	    prompt(tty, "Password again: ", again, sizeof(again)) == -1) {
		fclose(tty);
		fprintf(stderr, "postern: no password given\n");
		return -1;
	}
	fclose(tty);
	if (strcmp(buf, again) != 0) {
		fprintf(stderr, "postern: the two passwords differ\n");
		return -1;
	}
	return 0;
}

static int
prepare(const char *path, struct config *cfg)
{
	if (cli_load_config(path, cfg) == -1)
		return -1;
	if (durable_mkdirs(cfg->data_dir, 0750) == -1) {
		fprintf(stderr, "postern: cannot create %s: %s\n", cfg->data_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int
domain_is_ours(const struct config *cfg, const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at != NULL && config_is_local_domain(cfg, at + 1, strlen(at + 1));
}

int
cli_user(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	bool from_stdin = cli_take_flag(&argc, argv, "--password-stdin");
	struct config cfg;
	char pw[PASSWORD_MAX], *err = NULL;
	const char *verb = argc > 1 ? argv[1] : "";
	const char *reason = NULL;
	int rc = 1;

	/* --reason TEXT (user hold) */
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--reason") == 0) {
			reason = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 1) * sizeof(*argv));
			argc -= 2;
			break;
		}
	if (argc < 2) {
		fprintf(stderr, USER_USAGE);
		return 2;
	}
	if (prepare(path, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	if (strcmp(verb, "list") == 0 && argc == 2) {
		struct userdb *db = userdb_open(cfg.data_dir, &err);
		if (db == NULL) {
			fprintf(stderr, "postern: %s\n", err);
		} else {
			for (size_t i = 0; i < userdb_count_accounts(db); i++)
				printf("%s\n", userdb_account_at(db, i));
			userdb_free(db);
			rc = 0;
		}
	} else if ((strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0) && argc == 3) {
		if (strcmp(verb, "add") == 0 && !domain_is_ours(&cfg, argv[2])) {
			fprintf(stderr, "postern: %s: domain is not in \"domains\" of %s\n", argv[2], path);
		} else if (get_password(from_stdin, pw, sizeof(pw)) == 0) {
			rc = strcmp(verb, "add") == 0 ?
			    userdb_add_account(cfg.data_dir, argv[2], pw, &err) :
			    userdb_set_password(cfg.data_dir, argv[2], pw, &err);
			if (rc == -1) {
				fprintf(stderr, "postern: %s\n", err);
				rc = 1;
			} else
				printf("%s %s\n", strcmp(verb, "add") == 0 ? "added" : "password changed for", argv[2]);
		}
		explicit_bzero(pw, sizeof(pw));
	} else if (strcmp(verb, "del") == 0 && argc == 3) {
		if (userdb_del_account(cfg.data_dir, argv[2], &err) == -1)
			fprintf(stderr, "postern: %s\n", err);
		else {
			printf("deleted %s (its mailbox is kept)\n", argv[2]);
			rc = 0;
		}
	} else if ((strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0) && argc == 3) {
		for (char *p = argv[2]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		rc = cli_user_holds(&cfg, verb, argv[2], reason);
	} else if (strcmp(verb, "held") == 0 && argc == 2) {
		rc = cli_user_holds(&cfg, verb, NULL, NULL);
	} else {
		fprintf(stderr, USER_USAGE);
		rc = 2;
	}
	free(err);
	config_clear(&cfg);
	return rc;
}

int
cli_alias(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	struct config cfg;
	char *err = NULL;
	const char *verb = argc > 1 ? argv[1] : "";
	int rc = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: postern alias add ALIAS TARGET | del ALIAS | list  -c FILE\n");
		return 2;
	}
	if (prepare(path, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	if (strcmp(verb, "list") == 0 && argc == 2) {
		struct userdb *db = userdb_open(cfg.data_dir, &err);
		if (db == NULL)
			fprintf(stderr, "postern: %s\n", err);
		else {
			for (size_t i = 0; i < userdb_count_aliases(db); i++) {
				const char *a, *t;
				userdb_alias_at(db, i, &a, &t);
				printf("%s %s\n", a, t);
			}
			userdb_free(db);
			rc = 0;
		}
	} else if (strcmp(verb, "add") == 0 && argc == 4) {
		if (!domain_is_ours(&cfg, argv[2]) || !domain_is_ours(&cfg, argv[3]))
			fprintf(stderr, "postern: alias and target must both be in \"domains\" of %s\n", path);
		else if (userdb_add_alias(cfg.data_dir, argv[2], argv[3], &err) == -1)
			fprintf(stderr, "postern: %s\n", err);
		else {
			printf("added alias %s -> %s\n", argv[2], argv[3]);
			rc = 0;
		}
	} else if (strcmp(verb, "del") == 0 && argc == 3) {
		if (userdb_del_alias(cfg.data_dir, argv[2], &err) == -1)
			fprintf(stderr, "postern: %s\n", err);
		else {
			printf("deleted alias %s\n", argv[2]);
			rc = 0;
		}
	} else {
		fprintf(stderr, "usage: postern alias add ALIAS TARGET | del ALIAS | list  -c FILE\n");
		rc = 2;
	}
	free(err);
	config_clear(&cfg);
	return rc;
}
