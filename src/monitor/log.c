/*
 * logfmt event log. Lines are assembled in a stack buffer and written with a
 * single write() under a mutex, so lines from the delivery and sync threads
 * never interleave with the event loop's.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;
static char *log_path;
static bool log_to_stderr = true;
static char stderr_quiet[64];	/* " client=IP " kept out of stderr, or "" */
static char node_field[80];	/* " node=NAME" (SPEC 10), or "" */

#define OBSERVERS_MAX 4
struct observer {
	log_observer *fn;
	void *arg;
};
static struct observer observers[OBSERVERS_MAX];
static size_t nobservers;

void
log_add_observer(log_observer *fn, void *arg)
{
	pthread_mutex_lock(&log_lock);
	if (nobservers < OBSERVERS_MAX) {
		observers[nobservers].fn = fn;
		observers[nobservers].arg = arg;
		nobservers++;
	}
	pthread_mutex_unlock(&log_lock);
}

void
log_clear_observers(void)
{
	pthread_mutex_lock(&log_lock);
	nobservers = 0;
	pthread_mutex_unlock(&log_lock);
}

bool
logfmt_get(const char *f, size_t len, const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key), i = 0;

	if (outlen == 0)
		return false;
	while (i < len) {
		size_t ks = i, o = 0;
		bool match;
		while (i < len && f[i] != '=' && f[i] != ' ')
			i++;
		match = i - ks == kl && memcmp(f + ks, key, kl) == 0 && i < len && f[i] == '=';
		if (i < len && f[i] == '=')
			i++;
		if (i < len && f[i] == '"') {
			for (i++; i < len && f[i] != '"'; i++) {
				if (f[i] == '\\' && i + 1 < len)
					i++;
				if (match && o + 1 < outlen)
					out[o++] = f[i];
			}
			i++;
		} else
			for (; i < len && f[i] != ' '; i++)
				if (match && o + 1 < outlen)
					out[o++] = f[i];
		if (match) {
			out[o] = '\0';
			return true;
		}
		while (i < len && f[i] == ' ')
			i++;
	}
	return false;
}

int
log_open(const char *path)
{
	int fd = -1;

	if (path != NULL) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd == -1)
			return -1;
	}
	pthread_mutex_lock(&log_lock);
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	free(log_path);
	log_path = path ? strdup(path) : NULL;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

int
log_reopen(void)
{
	int fd, rc = 0;

	pthread_mutex_lock(&log_lock);
	if (log_path != NULL) {
		fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd == -1)
			rc = -1;
		else {
			if (log_fd != -1)
				close(log_fd);
			log_fd = fd;
		}
	}
	pthread_mutex_unlock(&log_lock);
	return rc;
}

void
log_close(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd != -1)
		close(log_fd);
	log_fd = -1;
	free(log_path);
	log_path = NULL;
	pthread_mutex_unlock(&log_lock);
}

void
log_set_stderr(bool on)
{
	log_to_stderr = on;
}

void
log_set_node(const char *name)
{
	pthread_mutex_lock(&log_lock);
	if (name == NULL || *name == '\0')
		node_field[0] = '\0';
	else
		snprintf(node_field, sizeof(node_field), " node=%s", name);
	pthread_mutex_unlock(&log_lock);
}

void
log_set_stderr_quiet_client(const char *ip)
{
	pthread_mutex_lock(&log_lock);
	if (ip == NULL || *ip == '\0')
		stderr_quiet[0] = '\0';
	else
		snprintf(stderr_quiet, sizeof(stderr_quiet), " client=%s ", ip);
	pthread_mutex_unlock(&log_lock);
}

/* The line names the quiet client (as " client=IP " or at its end). */
static bool
line_has_client(const char *line, size_t n)
{
	size_t ql = strlen(stderr_quiet);

	if (memmem(line, n, stderr_quiet, ql) != NULL)
		return true;
	/* the last field: " client=IP\n" */
	return n >= ql && memcmp(line + n - ql, stderr_quiet, ql - 1) == 0 && line[n - 1] == '\n';
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void
log_event(const char *event, const char *fmt, ...)
{
	static __thread time_t ts_sec = -1;
	static __thread char ts_text[32];
	static __thread size_t ts_len;
	char line[LOG_LINE_MAX];
	struct timeval tv;
	size_t n;
	int r;
	va_list ap;

	gettimeofday(&tv, NULL);
	/* a busy server logs many lines a second: the date and time are
	 * formatted once per second and thread (gmtime and strftime cost
	 * more than the rest of a line) */
	if (tv.tv_sec != ts_sec) {
		struct tm tm;
		gmtime_r(&tv.tv_sec, &tm);
		ts_len = strftime(ts_text, sizeof(ts_text), "ts=%Y-%m-%dT%H:%M:%S", &tm);
		ts_sec = tv.tv_sec;
	}
	memcpy(line, ts_text, ts_len);
	n = ts_len;
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ event=%s%s",
	    (long)(tv.tv_usec / 1000), event, node_field);
	n += (size_t)r;
	if (fmt != NULL && *fmt != '\0' && n + 1 < sizeof(line)) {
		line[n++] = ' ';
		va_start(ap, fmt);
		r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (r > 0)
			n += (size_t)r;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	pthread_mutex_lock(&log_lock);
	if (log_fd != -1)
		write_all(log_fd, line, n);
	if (log_to_stderr && (stderr_quiet[0] == '\0' || !line_has_client(line, n)))
		write_all(STDERR_FILENO, line, n);
	{
		size_t nobs = nobservers;
		struct observer obs[OBSERVERS_MAX];
		memcpy(obs, observers, sizeof(obs));
		pthread_mutex_unlock(&log_lock);
		if (nobs > 0) {
			/* the fields part, without the final newline */
			char *fields = strstr(line, " event=");
			line[n - 1] = '\0';
			fields = fields ? strchr(fields + 1, ' ') : NULL;
			for (size_t k = 0; k < nobs; k++)
				obs[k].fn(obs[k].arg, event, fields ? fields + 1 : "");
		}
	}
}

const char *
log_quote(char *dst, size_t dstlen, const char *val, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	int quote = len == 0;

	if (dstlen < 8) {
		if (dstlen > 0)
			dst[0] = '\0';
		return dst;
	}
	for (i = 0; i < len && !quote; i++) {
		unsigned char c = (unsigned char)val[i];
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			quote = 1;
	}
	if (quote)
		dst[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)val[i];
		/* room for an escape, the closing quote, "..." and NUL */
		if (o + 4 + 1 + 3 + 1 > dstlen) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < ' ' || c == 0x7f) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else
			dst[o++] = (char)c;
	}
	if (quote)
		dst[o++] = '"';
	dst[o] = '\0';
	return dst;
}
