/*
 * What users teach by moving mail into or out of their Junk folder:
 * per account, an opinion about a sender address (the From: of the moved
 * message), the last move winning. The file <data_dir>/learned is written
 * by `postern learn` (run by Dovecot's IMAPSieve on a move, see
 * contrib/dovecot/learn.conf) and read by the server, which re-reads it
 * when it changes. Lines: "ACCOUNT SENDER spam|ham UNIXTIME", oldest
 * first; at most LEARN_MAX lines, the oldest dropped.
 */
#ifndef POSTERN_POLICY_LEARN_H
#define POSTERN_POLICY_LEARN_H

#include <stddef.h>
#include <time.h>

#define LEARN_MAX 100000

enum learn_opinion { LEARN_NONE, LEARN_SPAM, LEARN_HAM };

struct learned;

/* An empty set bound to <data_dir>/learned (data_dir copied). */
struct learned *learned_new(const char *data_dir);
void learned_free(struct learned *l);

/* Re-reads the file if it changed since the last call (a stat() when it
 * did not). Returns 0, or -1 with *err set (the previous set is kept). */
int learned_refresh(struct learned *l, char **err);

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

#endif
