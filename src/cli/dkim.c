/*
 * postern dkim keygen|record: makes the DKIM key the server signs with
 * (SPEC 6.7) and prints the DNS TXT records to publish for every domain
 * in `domains`. A key file is never overwritten without --force: the
 * record published for it would stop matching.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "queue/dkim_sign.h"

#define DKIM_TXT_STRING_MAX 255		/* RFC 1035 3.3: one character-string */
#define DKIM_KEYGEN_BITS 2048		/* RFC 8301 3.2 wants 2048 from signers */
#define DKIM_KEYGEN_BITS_MAX 4096	/* larger keys outgrow many DNS set-ups */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: postern dkim keygen -c FILE [--selector S] [--algorithm rsa|ed25519] "
	    "[--bits 2048] [--force]\n"
	    "       postern dkim record -c FILE [--selector S]\n");
}

/*
 * Removes "NAME VALUE" or "NAME=VALUE" from argv and returns VALUE (NULL
 * when absent). *bad is set when NAME comes without a value.
 */
static const char *
take_opt(int *argc, char **argv, const char *name, bool *bad)
{
	size_t nlen = strlen(name);

	for (int i = 1; i < *argc; i++) {
		const char *val;
		int n;
		if (strcmp(argv[i], name) == 0) {
			if (i + 1 >= *argc) {
				*bad = true;
				return NULL;
			}
			val = argv[i + 1];
			n = 2;
		} else if (strncmp(argv[i], name, nlen) == 0 && argv[i][nlen] == '=') {
			val = argv[i] + nlen + 1;
			n = 1;
		} else
			continue;
		for (int k = i; k + n <= *argc; k++)
			argv[k] = argv[k + n];
		*argc -= n;
		return val;
	}
	return NULL;
}

/* The key file: dkim_key, else <data_dir>/dkim/<selector>.key. */
static char *
key_path(const struct config *cfg, const char *selector)
{
	if (cfg->dkim_key != NULL)
		return xstrdup(cfg->dkim_key);
	return xasprintf("%s/dkim/%s.key", cfg->data_dir, selector);
}

/* Prints the record of s for every domain, zone-file syntax, the text
 * cut into character-strings of at most 255 octets. */
static int
print_records(const struct config *cfg, const struct dkim_signer *s, const char *selector)
{
	char *rec = dkim_signer_record(s);
	size_t len;

	if (rec == NULL) {
		fprintf(stderr, "postern: cannot encode the public key\n");
		return -1;
	}
	len = strlen(rec);
	for (size_t d = 0; d < cfg->ndomains; d++) {
		printf("%s._domainkey.%s. IN TXT (", selector, cfg->domains[d]);
		for (size_t off = 0; off < len; off += DKIM_TXT_STRING_MAX) {
			size_t k = len - off < DKIM_TXT_STRING_MAX ? len - off : DKIM_TXT_STRING_MAX;
			printf(" \"%.*s\"", (int)k, rec + off);
		}
		printf(" )\n");
	}
	free(rec);
	return 0;
}

/* The selector, newly allocated: --selector, dkim_selector, else
 * "postern" + YYYYMM (a new one each month a key is made, so that old
 * and new keys can overlap in DNS during a rollover). */
static char *
pick_selector(const struct config *cfg, const char *opt)
{
	time_t now = time(NULL);
	struct tm tm;

	if (opt != NULL)
		return xstrdup(opt);
	if (cfg->dkim_selector != NULL)
		return xstrdup(cfg->dkim_selector);
	gmtime_r(&now, &tm);
	return xasprintf("postern%04d%02d", tm.tm_year + 1900, tm.tm_mon + 1);
}

/*
 * With `user =`, a key made by root goes to that user: the server reads
 * it again on SIGHUP, after dropping privileges. A user that does not
 * exist yet (quickstart runs before the package creates it) is said once.
 */
static void
give_to_user(const char *user, const char *path)
{
	struct passwd *pw;

	if (user == NULL || geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "postern: warning: user %s does not exist; %s stays root's\n",
		    user, path);
		return;
	}
	if (chown(path, pw->pw_uid, pw->pw_gid) == -1)
		fprintf(stderr, "postern: warning: cannot give %s to %s: %s\n", path, user,
		    strerror(errno));
}

/* Creates the directory of k->path: 0700 for the default
 * <data_dir>/dkim, which holds nothing but private keys. */
static int
make_dir(const struct cli_keygen *k)
{
	char *dir = xstrdup(k->path), *slash = strrchr(dir, '/');
	int rc = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (k->data_dir != NULL) {
			rc = durable_mkdirs(k->data_dir, 0750);
			if (rc == 0 && mkdir(dir, 0700) == 0)
				give_to_user(k->user, dir);
			else if (rc == 0 && errno != EEXIST)
				rc = -1;
		} else
			rc = durable_mkdirs(dir, 0750);
		if (rc == -1)
			fprintf(stderr, "postern: cannot create %s: %s\n", dir, strerror(errno));
	}
	free(dir);
	return rc;
}

struct dkim_signer *
cli_dkim_keygen_file(const struct cli_keygen *k, int *rc)
{
	struct dkim_signer *s = NULL, *check = NULL;
	char *pem = NULL, *err = NULL;
	struct stat st;

	*rc = 1;
	/* first: it checks the selector, which becomes part of the path */
	if ((s = dkim_signer_generate(k->selector, k->alg, k->bits, &err)) == NULL) {
		fprintf(stderr, "postern: %s\n", err);
		*rc = 2;
		goto out;
	}
	if (lstat(k->path, &st) == 0 && !k->force) {
		fprintf(stderr, "postern: %s already exists; not overwriting it (--force replaces "
		    "it, and then the published DNS record must change too)\n", k->path);
		goto out;
	}
	if (strcmp(k->alg, "rsa") == 0 && k->bits < DKIM_KEYGEN_BITS)
		fprintf(stderr, "postern: warning: RSA keys under 2048 bits are weak (RFC 8301 3.2)\n");
	if ((pem = dkim_signer_pem(s)) == NULL) {
		fprintf(stderr, "postern: cannot encode the private key\n");
		goto out;
	}
	if (make_dir(k) == -1)
		goto out;
	if (durable_write_file(k->path, pem, strlen(pem), 0600) == -1) {
		fprintf(stderr, "postern: cannot write %s: %s\n", k->path, strerror(errno));
		goto out;
	}
	give_to_user(k->user, k->path);
	/* what the server will do with it: read it back */
	if ((check = dkim_signer_load(k->selector, k->path, &err)) == NULL)
		fprintf(stderr, "postern: %s\n", err);
	else
		*rc = 0;
out:
	dkim_signer_free(s);
	if (pem != NULL)
		explicit_bzero(pem, strlen(pem));
	free(pem);
	free(err);
	return check;
}

static int
keygen(const struct config *cfg, const char *selector, const char *alg, const char *bits_opt,
    bool force)
{
	struct dkim_signer *check = NULL;
	char *path = key_path(cfg, selector), *end = NULL;
	char abspath[PATH_MAX];
	unsigned long bits = DKIM_KEYGEN_BITS;
	struct cli_keygen k;
	int rc = 1;

	if (bits_opt != NULL) {
		errno = 0;
		bits = strtoul(bits_opt, &end, 10);
		if (errno != 0 || end == bits_opt || *end != '\0' || bits < DKIM_SIGN_RSA_BITS_MIN ||
		    bits > DKIM_KEYGEN_BITS_MAX) {
			fprintf(stderr, "postern: --bits must be %d to %d (2048 recommended)\n",
			    DKIM_SIGN_RSA_BITS_MIN, DKIM_KEYGEN_BITS_MAX);
			rc = 2;
			goto out;
		}
		if (strcmp(alg, "rsa") != 0) {
			fprintf(stderr, "postern: --bits is for RSA keys only\n");
			rc = 2;
			goto out;
		}
	}
	k = (struct cli_keygen){
		.path = path, .data_dir = cfg->dkim_key == NULL ? cfg->data_dir : NULL,
		.user = cfg->user, .selector = selector, .alg = alg, .bits = (unsigned)bits,
		.force = force,
	};
	if ((check = cli_dkim_keygen_file(&k, &rc)) == NULL)
		goto out;
	rc = 1;
	if (realpath(path, abspath) == NULL)
		snprintf(abspath, sizeof(abspath), "%s", path);
	if (strcmp(alg, "rsa") == 0)
		printf("; DKIM key written to %s (rsa, %lu bits)\n", abspath, bits);
	else
		printf("; DKIM key written to %s (ed25519)\n", abspath);
	printf("; publish in DNS:\n");
	if (print_records(cfg, check, selector) == -1)
		goto out;
	if (cfg->dkim_selector != NULL && strcmp(cfg->dkim_selector, selector) == 0 &&
	    cfg->dkim_key != NULL)
		printf("; %s already has dkim_selector = %s and dkim_key = %s: once the records "
		    "are published, reload postern (SIGHUP)\n", cfg->path, selector, abspath);
	else
		printf("; then set in %s: dkim_selector = %s and dkim_key = %s, and reload "
		    "postern (SIGHUP)\n", cfg->path, selector, abspath);
	rc = 0;
out:
	dkim_signer_free(check);
	free(path);
	return rc;
}

/* The records of the key already in place. */
static int
record(const struct config *cfg, const char *selector)
{
	char *path = key_path(cfg, selector), *err = NULL;
	struct dkim_signer *s = dkim_signer_load(selector, path, &err);
	int rc = 1;

	if (s == NULL)
		fprintf(stderr, "postern: %s\n", err);
	else if (print_records(cfg, s, selector) == 0)
		rc = 0;
	dkim_signer_free(s);
	free(err);
	free(path);
	return rc;
}

int
cli_dkim(int argc, char **argv)
{
	const char *conf = cli_config_path(&argc, argv);
	bool force = cli_take_flag(&argc, argv, "--force"), bad = false;
	const char *sel_opt = take_opt(&argc, argv, "--selector", &bad);
	const char *alg = take_opt(&argc, argv, "--algorithm", &bad);
	const char *bits = take_opt(&argc, argv, "--bits", &bad);
	struct config cfg = { 0 };
	char *selector;
	int rc;

	if (bad || argc != 2 || (strcmp(argv[1], "keygen") != 0 && strcmp(argv[1], "record") != 0) ||
	    (strcmp(argv[1], "record") == 0 && (force || alg != NULL || bits != NULL))) {
		usage();
		return 2;
	}
	if (alg == NULL)
		alg = "rsa";
	if (strcmp(alg, "rsa") != 0 && strcmp(alg, "ed25519") != 0) {
		fprintf(stderr, "postern: --algorithm is rsa or ed25519\n");
		return 2;
	}
	if (cli_load_config(conf, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	selector = pick_selector(&cfg, sel_opt);
	if (strcmp(argv[1], "keygen") == 0)
		rc = keygen(&cfg, selector, alg, bits, force);
	else
		rc = record(&cfg, selector);
	free(selector);
	config_clear(&cfg);
	return rc;
}
