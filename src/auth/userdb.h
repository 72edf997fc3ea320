/*
 * Accounts and aliases as files under data_dir:
 *   users    Dovecot passwd-file lines "ADDRESS:{ARGON2ID}$argon2id$...::::::"
 *            so Dovecot can authenticate the same accounts (SPEC 6.2);
 *   aliases  "ALIAS TARGET" lines.
 * Addresses are stored lower-case. Edits go through durable_write_file
 * under an exclusive lock, so `postern user add` while the server runs is
 * safe; the server notices a changed file by its mtime (userdb_refresh).
 */
#ifndef POSTERN_USERDB_H
#define POSTERN_USERDB_H

#include <stdbool.h>
#include <stddef.h>

struct userdb;

/* Loads both files (missing files are empty). NULL with *err on a
 * malformed line; the caller frees *err. */
struct userdb *userdb_open(const char *data_dir, char **err);
void userdb_free(struct userdb *db);
/* Reloads when a file changed since the last load. Returns 0, or -1 with
 * *err (the old contents stay in use). */
int userdb_refresh(struct userdb *db, char **err);

/* True when addr (lower-case) is an account. */
bool userdb_has_account(const struct userdb *db, const char *addr);
/* The stored hash ("{ARGON2ID}$argon2id$..."), or NULL. */
const char *userdb_hash(const struct userdb *db, const char *addr);
/* Fills targets with up to max targets of alias addr (borrowed until the
 * next refresh); returns how many, 0 when addr is no alias. */
size_t userdb_alias(const struct userdb *db, const char *addr,
    const char **targets, size_t max);

/* Account and alias lists for `user list` / `alias list` (borrowed). */
size_t userdb_count_accounts(const struct userdb *db);
const char *userdb_account_at(const struct userdb *db, size_t i);
size_t userdb_count_aliases(const struct userdb *db);
void userdb_alias_at(const struct userdb *db, size_t i, const char **alias,
    const char **target);

/* Edits: each returns 0, or -1 with *err set (caller frees). */
int userdb_add_account(const char *data_dir, const char *addr, const char *password, char **err);
int userdb_set_password(const char *data_dir, const char *addr, const char *password, char **err);
int userdb_del_account(const char *data_dir, const char *addr, char **err);
int userdb_add_alias(const char *data_dir, const char *alias, const char *target, char **err);
int userdb_del_alias(const char *data_dir, const char *alias, char **err);

/* Checks a password against a stored hash. Costs tens of ms and 64 MiB:
 * never on the event loop. */
bool userdb_verify(const char *hash, const char *password);

/*
 * Validates an account or alias address: local@domain, a dot-string
 * local part without '/', lower-cased into out (size >= 320). Returns 0
 * or -1 with a reason in *why (static string).
 */
int userdb_normalize(const char *addr, char *out, size_t outlen, const char **why);

#endif
