/*
 * The log of SPEC section 7.1: one logfmt line per event,
 * "ts=ISO8601 event=NAME key=value ...", written to the log file and to
 * stderr. Thread-safe: each line goes out in one write().
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Opens (appends to) path; NULL logs to stderr only. Returns 0 or -1. */
int log_open(const char *path);
/* Reopens the file given to log_open (SIGUSR1, for logrotate). */
int log_reopen(void);
void log_close(void);
/* Copies of each line also go to stderr when true (the default). */
void log_set_stderr(bool on);

/*
 * Logs one event. fmt is a sequence of "key=%s" style pairs separated by
 * spaces, e.g. log_event("connect", "client=%s port=%d", ip, port): each
 * value is quoted by log_value() rules automatically only when passed via
 * the %V directive... so instead callers pass already-safe values or use
 * log_kv below. Values produced with log_quote() are always safe.
 */
void log_event(const char *event, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Renders a peer-supplied value for logfmt into dst (size dstlen): bare
 * when it has no space, quote, '=' or control character, else quoted with
 * \" \\ and \xNN escapes; truncated with "..." past dstlen. Returns dst.
 */
const char *log_quote(char *dst, size_t dstlen, const char *val, size_t len);
#define LOG_VALUE_MAX 256

#endif
