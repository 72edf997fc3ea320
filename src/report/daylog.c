/*
 * Day files: <data_dir>/reports/KIND/YYYYMMDD (UTC), one line per event,
 * opened, appended and closed for each line so that a claim (a rename)
 * takes effect at the next line, whoever writes it.
 */
#include "daylog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"

static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;
static long warned_day[2];		/* dmarc, tlsrpt: the day last warned about */

static long
day_of(time_t t)
{
	return (long)(t / 86400);
}

static void
day_name(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y%m%d", &tm);
}

/* Once a day per kind: the operator hears of it, the log is not flooded. */
static void
warn_once(const char *kind, time_t now, const char *what)
{
	int k = strcmp(kind, "dmarc") == 0 ? 0 : 1;
	bool say;

	pthread_mutex_lock(&warn_lock);
	say = warned_day[k] != day_of(now);
	warned_day[k] = day_of(now);
	pthread_mutex_unlock(&warn_lock);
	if (say)
		log_event("warning", "reason=\"%s report data: %s\"", kind, what);
}

int
daylog_append(const char *data_dir, const char *kind, time_t now, const char *line,
    size_t len)
{
	char dir[4096], path[4200], day[16], buf[DAYLOG_LINE_MAX + 1];
	struct stat st;
	int fd, rc;

	if (len > DAYLOG_LINE_MAX)
		return -1;
	snprintf(dir, sizeof(dir), "%s/reports/%s", data_dir, kind);
	day_name(now, day, sizeof(day));
	snprintf(path, sizeof(path), "%s/%s", dir, day);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1 && errno == ENOENT && durable_mkdirs(dir, 0750) == 0)
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		warn_once(kind, now, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size + len + 1 > DAYLOG_FILE_MAX) {
		close(fd);
		warn_once(kind, now, "today's file reached its cap: later events are not reported");
		return -1;
	}
	memcpy(buf, line, len);
	buf[len] = '\n';
	rc = durable_write_all(fd, buf, len + 1);
	close(fd);
	return rc;
}

/* "YYYYMMDD" */
static bool
is_day_prefix(const char *name, size_t len)
{
	if (len < 8)
		return false;
	for (int i = 0; i < 8; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

static bool
is_day(const char *name)
{
	return strlen(name) == 8 && is_day_prefix(name, 8);
}

/* "YYYYMMDD.TS.SEQ.claimed" */
static bool
is_claimed(const char *name)
{
	size_t n = strlen(name);
	return n > 16 && is_day_prefix(name, n) && name[8] == '.' &&
	    strcmp(name + n - 8, ".claimed") == 0;
}

size_t
daylog_claim(const char *data_dir, const char *kind, time_t now, bool all, char ***paths)
{
	char dir[4096], today[16];
	DIR *d;
	struct dirent *e;
	size_t n = 0;
	static unsigned seq;

	*paths = NULL;
	snprintf(dir, sizeof(dir), "%s/reports/%s", data_dir, kind);
	day_name(now, today, sizeof(today));
	if ((d = opendir(dir)) == NULL)
		return 0;
	*paths = xcalloc(DAYLOG_CLAIM_MAX, sizeof(char *));
	while ((e = readdir(d)) != NULL && n < DAYLOG_CLAIM_MAX) {
		if (is_claimed(e->d_name)) {
			(*paths)[n++] = xasprintf("%s/%s", dir, e->d_name);
			continue;
		}
		if (!is_day(e->d_name) || (!all && strcmp(e->d_name, today) >= 0))
			continue;
		{
			char *from = xasprintf("%s/%s", dir, e->d_name);
			char *to = xasprintf("%s/%s.%lld.%u.claimed", dir, e->d_name, (long long)now,
			    seq++);
			if (rename(from, to) == 0) {
				(*paths)[n++] = to;
				to = NULL;
			} else
				log_event("warning", "reason=\"cannot claim %s: %s\"", from, strerror(errno));
			free(from);
			free(to);
		}
	}
	closedir(d);
	return n;
}

void
daylog_free_paths(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

void
daylog_prune(const char *data_dir, const char *kind, time_t now)
{
	char dir[4096], oldest[16];
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "%s/reports/%s", data_dir, kind);
	day_name(now - (time_t)DAYLOG_KEEP_DAYS * 86400, oldest, sizeof(oldest));
	if ((d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[4400];
		if (strlen(e->d_name) < 8 || !(is_day(e->d_name) || is_claimed(e->d_name)) ||
		    strncmp(e->d_name, oldest, 8) >= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			log_event("warning", "reason=\"%s report data of %.8s was never reported: removed\"",
			    kind, e->d_name);
	}
	closedir(d);
}
