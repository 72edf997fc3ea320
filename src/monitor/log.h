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
/* Lines about this client (a field client=IP) go to the log file only:
 * the relay self-test's own sessions would otherwise fill the terminal
 * at every start. NULL or "" turns it off. */
void log_set_stderr_quiet_client(const char *ip);

/* SPEC 10: with a state_backend other than local every line carries
 * node=NAME (after event=), so the logs of several nodes can be merged.
 * NULL or "" turns it off. Call before other threads log. */
void log_set_node(const char *name);

/*
 * Observers see every event after it is written: statistics and alerts
 * count where the log records (STYLE 10). fields is the "key=value ..."
 * part. Observers run on the thread that logged and must not log events
 * they observe themselves.
 */
typedef void log_observer(void *arg, const char *event, const char *fields);
void log_add_observer(log_observer *fn, void *arg);
void log_clear_observers(void);

/*
 * Finds key in a logfmt fields string and copies its (unquoted) value
 * into out. Returns false when absent. Pure and bounded.
 */
bool logfmt_get(const char *fields, size_t len, const char *key, char *out, size_t outlen);

/*
 * Logs one event: fmt is "key=value" pairs separated by spaces, e.g.
 * log_event("connect", "client=%s port=%d", ip, port). Values that come
 * from peers must go through log_quote() first.
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
