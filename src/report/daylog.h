/*
 * The evidence reports are made of: one line per event, appended to a
 * file per UTC day under <data_dir>/reports/KIND/ (KIND "dmarc" or
 * "tlsrpt"). Bounded: a day file stops growing at DAYLOG_FILE_MAX, and
 * what the daily run does not claim is removed after DAYLOG_KEEP_DAYS.
 * Appends need no sync: losing the last lines in a crash costs a report
 * a few counts, never mail.
 */
#ifndef POSTERN_REPORT_DAYLOG_H
#define POSTERN_REPORT_DAYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define DAYLOG_FILE_MAX (16u * 1024 * 1024)
#define DAYLOG_LINE_MAX 2048
#define DAYLOG_KEEP_DAYS 7
#define DAYLOG_CLAIM_MAX 32		/* files one run reads */

/*
 * Appends one line (without its LF; at most DAYLOG_LINE_MAX) to today's
 * file of kind. Thread-safe (O_APPEND, one write). Returns 0, or -1 when
 * it could not (logged once a day) or the day is full.
 */
int daylog_append(const char *data_dir, const char *kind, time_t now, const char *line,
    size_t len);

/*
 * The files of kind to report: every day before today's (every one, today
 * included, when all is true), renamed to "DAY.claimed" so that new
 * lines go to a new file, plus claimed files a stopped run left. Returns
 * how many paths are in *paths (allocated; daylog_free_paths).
 */
size_t daylog_claim(const char *data_dir, const char *kind, time_t now, bool all,
    char ***paths);
void daylog_free_paths(char **paths, size_t n);

/* Removes files of kind older than DAYLOG_KEEP_DAYS (a run that never
 * happened must not let the directory grow). */
void daylog_prune(const char *data_dir, const char *kind, time_t now);

#endif
