/*
 * Account and alias files. Small organisations have tens to thousands of
 * entries: sorted arrays with binary search are enough and keep the
 * memory layout obvious.
 */
#include "userdb.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"

#define HASH_PREFIX "{ARGON2ID}"

struct account {
	char *addr;
	char *hash;
	char *rest;		/* fields after the password, kept verbatim */
};

struct alias {
	char *alias;
	char *target;
};

struct userdb {
	char *users_path, *aliases_path;
	struct timespec users_mtime, aliases_mtime;
	ino_t users_ino, aliases_ino;
	struct account *accounts;
	size_t naccounts;
	struct alias *aliases;	/* sorted by alias; duplicates adjacent */
	size_t naliases;
};

static int
cmp_account(const void *a, const void *b)
{
	return strcmp(((const struct account *)a)->addr, ((const struct account *)b)->addr);
}

static int
cmp_alias(const void *a, const void *b)
{
	int c = strcmp(((const struct alias *)a)->alias, ((const struct alias *)b)->alias);
	return c ? c : strcmp(((const struct alias *)a)->target, ((const struct alias *)b)->target);
}

static void
free_lists(struct account *acc, size_t nacc, struct alias *al, size_t nal)
{
	for (size_t i = 0; i < nacc; i++) {
		free(acc[i].addr);
		free(acc[i].hash);
		free(acc[i].rest);
	}
	free(acc);
	for (size_t i = 0; i < nal; i++) {
		free(al[i].alias);
		free(al[i].target);
	}
	free(al);
}

static int
parse_users(const char *path, char *buf, struct account **out, size_t *n, char **err)
{
	unsigned line = 0;
	char *p = buf, *nl;

	*out = NULL;
	*n = 0;
	for (; p && *p; p = nl) {
		char *colon, *colon2;
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		line++;
		if (*p == '#' || *p == '\0')
			continue;
		colon = strchr(p, ':');
		if (colon == NULL) {
			*err = xasprintf("%s:%u: expected ADDRESS:HASH:...", path, line);
			return -1;
		}
		*colon = '\0';
		colon2 = strchr(colon + 1, ':');
		if (colon2)
			*colon2 = '\0';
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n].addr = xstrdup(p);
		for (char *c = (*out)[*n].addr; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		(*out)[*n].hash = xstrdup(colon + 1);
		(*out)[*n].rest = xstrdup(colon2 ? colon2 + 1 : "::::::");
		(*n)++;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_account);
	return 0;
}

static int
parse_aliases(const char *path, char *buf, struct alias **out, size_t *n, char **err)
{
	unsigned line = 0;
	char *p = buf, *nl;

	*out = NULL;
	*n = 0;
	for (; p && *p; p = nl) {
		char a[512], t[512];
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		line++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		if (sscanf(p, "%511s %511s", a, t) != 2) {
			*err = xasprintf("%s:%u: expected \"ALIAS TARGET\"", path, line);
			return -1;
		}
		for (char *c = a; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		for (char *c = t; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[*n].alias = xstrdup(a);
		(*out)[*n].target = xstrdup(t);
		(*n)++;
	}
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), cmp_alias);
	return 0;
}

static int
load(struct userdb *db, char **err)
{
	struct stat ust = { 0 }, ast = { 0 };
	char *ubuf = durable_slurp(db->users_path, &ust);
	char *abuf = durable_slurp(db->aliases_path, &ast);
	struct account *acc = NULL;
	struct alias *al = NULL;
	size_t nacc = 0, nal = 0;
	int rc = -1;

	if ((ubuf == NULL && errno != ENOENT && errno != 0) ||
	    (abuf == NULL && errno != ENOENT && errno != 0)) {
		*err = xasprintf("cannot read accounts: %s", strerror(errno));
		goto out;
	}
	if (ubuf && parse_users(db->users_path, ubuf, &acc, &nacc, err) == -1)
		goto out;
	if (abuf && parse_aliases(db->aliases_path, abuf, &al, &nal, err) == -1)
		goto out;
	free_lists(db->accounts, db->naccounts, db->aliases, db->naliases);
	db->accounts = acc;
	db->naccounts = nacc;
	db->aliases = al;
	db->naliases = nal;
	acc = NULL;
	al = NULL;
	nacc = nal = 0;
	db->users_mtime = ust.st_mtim;
	db->users_ino = ust.st_ino;
	db->aliases_mtime = ast.st_mtim;
	db->aliases_ino = ast.st_ino;
	rc = 0;
out:
	free_lists(acc, nacc, al, nal);
	free(ubuf);
	free(abuf);
	return rc;
}

struct userdb *
userdb_open(const char *data_dir, char **err)
{
	struct userdb *db = xcalloc(1, sizeof(*db));

	db->users_path = xasprintf("%s/users", data_dir);
	db->aliases_path = xasprintf("%s/aliases", data_dir);
	if (load(db, err) == -1) {
		userdb_free(db);
		return NULL;
	}
	return db;
}

void
userdb_free(struct userdb *db)
{
	if (db == NULL)
		return;
	free_lists(db->accounts, db->naccounts, db->aliases, db->naliases);
	free(db->users_path);
	free(db->aliases_path);
	free(db);
}

static int
changed(const char *path, struct timespec mt, ino_t ino)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return mt.tv_sec != 0 || mt.tv_nsec != 0;
	return st.st_ino != ino || st.st_mtim.tv_sec != mt.tv_sec ||
	    st.st_mtim.tv_nsec != mt.tv_nsec;
}

int
userdb_refresh(struct userdb *db, char **err)
{
	if (!changed(db->users_path, db->users_mtime, db->users_ino) &&
	    !changed(db->aliases_path, db->aliases_mtime, db->aliases_ino))
		return 0;
	return load(db, err);
}

static const struct account *
find_account(const struct userdb *db, const char *addr)
{
	struct account key = { .addr = (char *)addr };

	if (db->naccounts == 0)
		return NULL;
	return bsearch(&key, db->accounts, db->naccounts, sizeof(key), cmp_account);
}

bool
userdb_has_account(const struct userdb *db, const char *addr)
{
	return find_account(db, addr) != NULL;
}

const char *
userdb_hash(const struct userdb *db, const char *addr)
{
	const struct account *a = find_account(db, addr);
	return a ? a->hash : NULL;
}

size_t
userdb_alias(const struct userdb *db, const char *addr, const char **targets, size_t max)
{
	size_t lo = 0, hi = db->naliases, k = 0;

	/* lower bound of addr: an alias's targets are adjacent */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (strcmp(db->aliases[mid].alias, addr) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < db->naliases && k < max &&
	    strcmp(db->aliases[i].alias, addr) == 0; i++)
		targets[k++] = db->aliases[i].target;
	return k;
}

size_t
userdb_count_accounts(const struct userdb *db)
{
	return db->naccounts;
}

const char *
userdb_account_at(const struct userdb *db, size_t i)
{
	return i < db->naccounts ? db->accounts[i].addr : NULL;
}

size_t
userdb_count_aliases(const struct userdb *db)
{
	return db->naliases;
}

void
userdb_alias_at(const struct userdb *db, size_t i, const char **alias, const char **target)
{
	*alias = db->aliases[i].alias;
	*target = db->aliases[i].target;
}

int
userdb_normalize(const char *addr, char *out, size_t outlen, const char **why)
{
	const char *at = strrchr(addr, '@');
	size_t llen, dlen, len = strlen(addr);

	if (at == NULL || at == addr || at[1] == '\0') {
		*why = "expected local@domain";
		return -1;
	}
	llen = (size_t)(at - addr);
	dlen = len - llen - 1;
	if (llen > 64 || dlen > 253 || len + 1 > outlen) {
		*why = "address too long";
		return -1;
	}
	if (addr[0] == '.' || at[-1] == '.' || strstr(addr, "..") != NULL) {
		*why = "local part may not start or end with a dot, or hold two in a row";
		return -1;
	}
	for (size_t i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)addr[i];
		if (!(isalnum(c) || strchr("!#$%&'*+-=?^_`{|}~.", c)) || c == '/') {
			*why = "local part must be letters, digits and . _ - + and the like";
			return -1;
		}
	}
	for (size_t i = 0; i < dlen; i++) {
		unsigned char c = (unsigned char)at[1 + i];
		if (!(isalnum(c) || c == '.' || c == '-')) {
			*why = "bad domain";
			return -1;
		}
	}
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)addr[i]);
	out[len] = '\0';
	if (strchr(out, ':') != NULL) {
		*why = "':' not allowed";
		return -1;
	}
	return 0;
}

struct user_edit {
	const char *addr;
	const char *hash;	/* NULL: delete */
	int mode;		/* 0 add, 1 set password, 2 delete */
};

static int
users_editor(char *old, FILE *out, void *arg, char **err)
{
	struct user_edit *e = arg;
	size_t alen = strlen(e->addr);
	int found = 0;
	char *p = old, *nl;

	for (; *p; p = nl) {
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		if (strncasecmp(p, e->addr, alen) == 0 && p[alen] == ':') {
			const char *rest = strchr(p + alen + 1, ':');
			found = 1;
			if (e->mode == 0)
				break;
			if (e->mode == 1)
				fprintf(out, "%s:%s:%s\n", e->addr, e->hash, rest ? rest + 1 : "::::::");
			continue;
		}
		if (*p)
			fprintf(out, "%s\n", p);
	}
	if (e->mode == 0 && found) {
		*err = xasprintf("account %s already exists", e->addr);
		return -1;
	}
	if (e->mode != 0 && !found) {
		*err = xasprintf("no account %s", e->addr);
		return -1;
	}
	if (e->mode == 0)
		fprintf(out, "%s:%s::::::\n", e->addr, e->hash);
	return 0;
}

static char *
make_hash(const char *password, char **err)
{
	char h[crypto_pwhash_STRBYTES];

	if (sodium_init() < 0) {
		*err = xstrdup("libsodium failed to initialise");
		return NULL;
	}
	/* INTERACTIVE limits: Dovecot verifies these within its default
	 * auth memory limit (SPEC 6.2). */
	if (crypto_pwhash_str_alg(h, password, strlen(password),
	    crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
	    crypto_pwhash_ALG_ARGON2ID13) != 0) {
		*err = xstrdup("password hashing failed (out of memory?)");
		return NULL;
	}
	return xasprintf("%s%s", HASH_PREFIX, h);
}

static int
user_edit(const char *data_dir, const char *addr, const char *password, int mode, char **err)
{
	char norm[320], *path, *hash = NULL;
	const char *why;
	struct user_edit e;
	int rc;

	if (userdb_normalize(addr, norm, sizeof(norm), &why) == -1) {
		*err = xasprintf("%s: %s", addr, why);
		return -1;
	}
	if (mode != 2) {
		const char *weak;
		if (password == NULL || *password == '\0') {
			*err = xstrdup("empty password");
			return -1;
		}
		if ((weak = password_weakness(norm, password)) != NULL) {
			*err = xasprintf("password refused: %s", weak);
			return -1;
		}
		if ((hash = make_hash(password, err)) == NULL)
			return -1;
	}
	e.addr = norm;
	e.hash = hash;
	e.mode = mode;
	path = xasprintf("%s/users", data_dir);
	rc = durable_edit_file(path, 0640, users_editor, &e, err);
	free(path);
	free(hash);
	return rc;
}

int
userdb_add_account(const char *data_dir, const char *addr, const char *password, char **err)
{
	return user_edit(data_dir, addr, password, 0, err);
}

int
userdb_set_password(const char *data_dir, const char *addr, const char *password, char **err)
{
	return user_edit(data_dir, addr, password, 1, err);
}

int
userdb_del_account(const char *data_dir, const char *addr, char **err)
{
	return user_edit(data_dir, addr, NULL, 2, err);
}

struct alias_edit {
	const char *alias, *target;	/* target NULL: delete all */
};

static int
aliases_editor(char *old, FILE *out, void *arg, char **err)
{
	struct alias_edit *e = arg;
	int found = 0;
	char *p = old, *nl;

	for (; *p; p = nl) {
		char a[512], t[512];
		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		else
			nl = p + strlen(p);
		if (sscanf(p, "%511s %511s", a, t) == 2 && strcasecmp(a, e->alias) == 0) {
			if (e->target == NULL) {
				found = 1;
				continue;
			}
			if (strcasecmp(t, e->target) == 0) {
				*err = xasprintf("alias %s -> %s already exists", e->alias, e->target);
				return -1;
			}
		}
		if (*p)
			fprintf(out, "%s\n", p);
	}
	if (e->target == NULL && !found) {
		*err = xasprintf("no alias %s", e->alias);
		return -1;
	}
	if (e->target != NULL)
		fprintf(out, "%s %s\n", e->alias, e->target);
	return 0;
}

int
userdb_add_alias(const char *data_dir, const char *alias, const char *target, char **err)
{
	char a[320], t[320], *path;
	const char *why;
	struct alias_edit e;
	int rc;

	if (userdb_normalize(alias, a, sizeof(a), &why) == -1) {
		*err = xasprintf("%s: %s", alias, why);
		return -1;
	}
	if (userdb_normalize(target, t, sizeof(t), &why) == -1) {
		*err = xasprintf("%s: %s", target, why);
		return -1;
	}
	if (strcmp(a, t) == 0) {
		*err = xstrdup("an alias cannot point to itself");
		return -1;
	}
	e.alias = a;
	e.target = t;
	path = xasprintf("%s/aliases", data_dir);
	rc = durable_edit_file(path, 0640, aliases_editor, &e, err);
	free(path);
	return rc;
}

int
userdb_del_alias(const char *data_dir, const char *alias, char **err)
{
	char a[320], *path;
	const char *why;
	struct alias_edit e;
	int rc;

	if (userdb_normalize(alias, a, sizeof(a), &why) == -1) {
		*err = xasprintf("%s: %s", alias, why);
		return -1;
	}
	e.alias = a;
	e.target = NULL;
	path = xasprintf("%s/aliases", data_dir);
	rc = durable_edit_file(path, 0640, aliases_editor, &e, err);
	free(path);
	return rc;
}

bool
userdb_verify(const char *hash, const char *password)
{
	if (hash == NULL || strncmp(hash, HASH_PREFIX, strlen(HASH_PREFIX)) != 0)
		return false;
	if (sodium_init() < 0)
		return false;
	return crypto_pwhash_str_verify(hash + strlen(HASH_PREFIX), password,
	    strlen(password)) == 0;
}
