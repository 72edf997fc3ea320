/*
 * Where the content classifier's counts live (SPEC 13): per token, the
 * number of learned spam and ham messages that had it; per message
 * learned, its identity and kind, so learning it twice counts once and
 * learning it as the other kind moves it. A backend is a small table of
 * functions, as OpenSSL's or OpenSMTPD's queue backends: the local one is
 * SQLite under data_dir (policy/bayes_sqlite.c); with state_backend =
 * redis (SPEC 10) every node learns together in Redis
 * (policy/bayes_redis.c).
 */
#ifndef POSTERN_POLICY_BAYES_STORE_H
#define POSTERN_POLICY_BAYES_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/config.h"
#include "scan/bayes.h"

/* Tokens kept: beyond, the oldest and rarest are expired down to 90%
 * (SpamAssassin keeps 150,000 by default, bayes_expiry_max_db_size; 16
 * octets each in the server's copy: 8 MiB, 16 MiB of table). */
#define BAYES_STORE_TOKENS_MAX 500000
/* Messages remembered for "learned twice counts once"; the oldest go. */
#define BAYES_STORE_MESSAGES_MAX 200000
/* A message identity: "<message-id>" or "sha256:HEX". */
#define BAYES_ID_MAX 256

enum bayes_kind { BAYES_KIND_NONE, BAYES_KIND_SPAM, BAYES_KIND_HAM };

/* What learning one message did. */
enum bayes_learn_result {
	BAYES_LEARN_NEW,	/* first time: counted */
	BAYES_LEARN_SAME,	/* already learned as this kind: nothing */
	BAYES_LEARN_MOVED,	/* was learned as the other kind: moved */
};

struct bayes_backend {
	const char *name;
	/* Opens the store at where (the local backend: the database file;
	 * Redis: redis://HOST:PORT/DB); secret: the Redis password or NULL,
	 * never shown. write: to learn. Returns a handle, or NULL with
	 * *err. A read-only open of a store that does not exist yet is an
	 * empty store. */
	void *(*open)(const char *where, const char *secret, bool write, char **err);
	/* The caps commit expires down to 90% of (BAYES_STORE_TOKENS_MAX,
	 * BAYES_STORE_MESSAGES_MAX unless set). */
	void (*set_caps)(void *h, size_t tokens_max, size_t messages_max);
	/* Learning goes in transactions: begin, learn..., commit (which
	 * also expires what is over the caps). All return 0 or -1 with
	 * *err; after -1 the transaction is rolled back (Redis: each learn
	 * is atomic on its own and stays; learning again counts once). */
	int (*begin)(void *h, char **err);
	int (*learn)(void *h, const char *id, const uint64_t *hash, size_t n,
	    enum bayes_kind kind, time_t now, enum bayes_learn_result *res, char **err);
	int (*commit)(void *h, char **err);
	/* Counts of n tokens (0/0 when unknown) and of learned messages. */
	int (*lookup)(void *h, const uint64_t *hash, size_t n, struct bayes_counts *out,
	    uint32_t *nspam, uint32_t *nham, char **err);
	/* The whole store as a table (the server's copy). */
	struct bayes_table *(*load)(void *h, char **err);
	/* A counter that changes at every learn that changed the store, 0
	 * when nothing was ever learned; NULL for a local file, whose
	 * changes a stat() shows. 0, or -1 with *err. */
	int (*serial)(void *h, uint64_t *out, char **err);
	void (*close)(void *h);
};

extern const struct bayes_backend bayes_sqlite_backend;
extern const struct bayes_backend bayes_redis_backend;

struct bayes_store;

/* Opens the configured backend (data_dir/bayes.db, or Redis when
 * state_backend is redis://). Returns NULL with *err set (say what is
 * wrong and what to do). */
struct bayes_store *bayes_store_open(const struct config *cfg, bool write, char **err);
/* The same for a backend and its place (a thread keeps no config). */
struct bayes_store *bayes_store_open_at(const struct bayes_backend *b, const char *where,
    const char *secret, bool write, char **err);
/* The configured backend and its place: *where a new string, *secret a
 * new string (state_password) or NULL. */
const struct bayes_backend *bayes_store_backend(const struct config *cfg, char **where,
    char **secret);
/* Caps other than BAYES_STORE_TOKENS_MAX / BAYES_STORE_MESSAGES_MAX
 * (tests: expiry without half a million tokens). */
void bayes_store_set_caps(struct bayes_store *st, size_t tokens_max, size_t messages_max);
/* The store's change counter (see serial above); -1 with *err. */
int bayes_store_serial(struct bayes_store *st, uint64_t *out, char **err);
void bayes_store_close(struct bayes_store *st);
int bayes_store_begin(struct bayes_store *st, char **err);
int bayes_store_learn(struct bayes_store *st, const char *id, const struct bayes_tokens *tok,
    enum bayes_kind kind, time_t now, enum bayes_learn_result *res, char **err);
int bayes_store_commit(struct bayes_store *st, char **err);
struct bayes_table *bayes_store_load(struct bayes_store *st, char **err);
/* Messages learned of each kind. */
int bayes_store_totals(struct bayes_store *st, uint32_t *nspam, uint32_t *nham, char **err);

/* The path of the local store under data_dir, for messages. */
char *bayes_store_path(const char *data_dir);

/*
 * A message's identity (SPEC 13): its Message-ID as written ("<...>",
 * white space removed), else "sha256:" of its body and its From, To,
 * Subject and Date fields (the fields a delivery never changes).
 * Pure: reads len bytes of msg (the header block first).
 */
void bayes_message_id(const char *msg, size_t len, char *out, size_t outlen);

#endif
