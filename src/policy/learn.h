/*
 * What users teach by moving mail into or out of their Junk folder:
 * per account, an opinion about a sender address (the From: of the moved
 * message), the last move winning. The file <data_dir>/learned is written
 * by `postern learn` (run by Dovecot's IMAPSieve on a move, see
 * contrib/dovecot/learn.conf) and read by the server, which re-reads it
 * when it changes. Lines: "ACCOUNT SENDER spam|ham UNIXTIME", oldest
 * first; at most LEARN_MAX lines, the oldest dropped.
 *
 * Shared state (SPEC 10, learned_share): an opinion learned on one node
 * is every node's. The server pushes what changed in its file (the
 * command's moves) to Redis's "learned" map (ACCOUNT SENDER -> spam|ham
 * TIME) and to the other nodes, which write it into their own file; when
 * Redis returns or starts empty both sides keep, per account and sender,
 * the later opinion (spam on a tie: the safe side). The sharing lives in
 * learn_share.c; this file stays pure (no loop, no Redis) for the fuzzer.
 */
#ifndef POSTERN_POLICY_LEARN_H
#define POSTERN_POLICY_LEARN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct state;

#define LEARN_MAX 100000

enum learn_opinion { LEARN_NONE, LEARN_SPAM, LEARN_HAM };

struct learned;

/* An empty set bound to <data_dir>/learned (data_dir copied). */
struct learned *learned_new(const char *data_dir);
void learned_free(struct learned *l);

/* Re-reads the file if it changed since the last call (a stat() when it
 * did not); shared, pushes what changed. Returns 0, or -1 with *err set
 * (the previous set is kept). */
int learned_refresh(struct learned *l, char **err);

/* Shares the opinions through st (borrowed: it outlives l), refreshing
 * every few seconds from st's loop. A no-op with local state.
 * (learn_share.c) */
void learned_share(struct learned *l, struct state *st);

/* account's opinion of sender (both lower-case "local@domain"). */
enum learn_opinion learned_get(const struct learned *l, const char *account,
    const char *sender);
size_t learned_count(const struct learned *l);

/*
 * Pure: parses the file's text into l (replacing its entries). Malformed
 * lines are skipped; returns how many were.
 */
size_t learned_parse(struct learned *l, const char *buf, size_t len);

/* Records account's opinion of sender in <data_dir>/learned, under the
 * file's lock. Returns 0, or -1 with *err set. */
int learned_record(const char *data_dir, const char *account, const char *sender,
    enum learn_opinion o, time_t now, char **err);

/* ---- for the sharing (learn_share.c) ---- */

/* What a reload found new or different, per "ACCOUNT SENDER" key. */
typedef void learned_change_fn(void *arg, const char *key, enum learn_opinion o, time_t t);
/* fn is told each change a reload finds (not the first load); ext is
 * freed with l by ext_free. */
void learned_listen(struct learned *l, learned_change_fn *fn, void *arg, void *ext,
    void (*ext_free)(void *ext));
/* Entry i (< learned_count) of the sorted set. */
void learned_entry(const struct learned *l, size_t i, const char **key, enum learn_opinion *o,
    time_t *t);
/* The opinion and time of "ACCOUNT SENDER"; false when none. */
bool learned_find(const struct learned *l, const char *key, enum learn_opinion *o, time_t *t);
/* Pure: one file line "ACCOUNT SENDER spam|ham TIME" into its key
 * ("ACCOUNT SENDER"), opinion and time; false if malformed. */
bool learned_parse_line(const char *line, size_t len, char *key, size_t keylen,
    enum learn_opinion *o, time_t *t);

struct learned_rec {
	const char *key;	/* "ACCOUNT SENDER" */
	enum learn_opinion o;
	time_t t;
};
/* Writes these opinions into l's file in one edit (malformed ones
 * skipped), under its lock. Returns 0, or -1 with *err. */
int learned_record_many(struct learned *l, const struct learned_rec *recs, size_t n,
    char **err);

#endif
