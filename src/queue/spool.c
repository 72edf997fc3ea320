/*
 * Queue files. Layout:
 *   "POSTERN-QUEUE 1\n" then "key value\n" lines (id, time, from, client,
 *   helo, user, one "rcpt ADDR\tMAILBOX" per recipient), "\n", message,
 *   the meta section ("folder NAME\n", "header LINE\n": what the scan
 *   decided, written after the message is complete), and the trailer
 *   "\nPOSTERN-END SIZE HASH META\n" of exactly SPOOL_TRAILER_LEN bytes,
 *   where SIZE is the number of bytes before the trailer, HASH their
 *   FNV-1a 64 hash and META the length of the meta section.
 * Values never hold '\n' or '\t': addresses are parsed strictly and the
 * HELO name is sanitised by the session.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/durable.h"
#include "lib/xmalloc.h"

#define SPOOL_MAGIC "POSTERN-QUEUE 1\n"
#define SPOOL_TRAILER_FMT "\nPOSTERN-END %020" PRIu64 " %016" PRIx64 " %010u\n"
#define SPOOL_TRAILER_LEN (1 + 11 + 1 + 20 + 1 + 16 + 1 + 10 + 1)
#define SPOOL_META_MAX (64 * 1024)
#define SPOOL_BUF 65536

struct spool_writer {
	int fd;
	char tmp[PATH_MAX];
	char final[PATH_MAX];
	uint64_t hash;		/* FNV-1a of every byte written */
	uint64_t total;		/* bytes written, envelope included */
	uint64_t msgsize;	/* message octets */
	uint64_t env_len;	/* octets of envelope before the message */
	char *buf;		/* write buffer */
	size_t used;
};

static const uint64_t FNV_OFFSET = 14695981039346656037ULL;
static const uint64_t FNV_PRIME = 1099511628211ULL;

static uint64_t
fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= FNV_PRIME;
	}
	return h;
}

int
spool_init(const char *data_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/queue/tmp", data_dir);
	return durable_mkdirs(path, 0700);
}

void
spool_new_id(char *id)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static unsigned counter;
	static struct timeval last;
	struct timeval tv;

	/* seconds, microseconds, and a counter for ids in the same
	 * microsecond: sortable by arrival, unique within a process, and
	 * spool_create's O_EXCL catches a clash across restarts. */
	gettimeofday(&tv, NULL);
	pthread_mutex_lock(&lock);
	if (tv.tv_sec == last.tv_sec && tv.tv_usec == last.tv_usec)
		counter++;
	else
		counter = (unsigned)(tv.tv_usec * 7) & 0xff;
	last = tv;
	snprintf(id, SPOOL_ID_LEN + 1, "%08lX%05lX%03X",
	    (unsigned long)tv.tv_sec & 0xffffffffUL,
	    (unsigned long)tv.tv_usec & 0xfffffUL, counter & 0xfffu);
	pthread_mutex_unlock(&lock);
}

static int
flush_buf(struct spool_writer *w)
{
	if (w->used == 0)
		return 0;
	if (durable_write_all(w->fd, w->buf, w->used) == -1)
		return -1;
	w->used = 0;
	return 0;
}

static int
put(struct spool_writer *w, const char *p, size_t n)
{
	w->hash = fnv1a(w->hash, p, n);
	w->total += n;
	while (n > 0) {
		size_t room = SPOOL_BUF - w->used, k = n < room ? n : room;
		memcpy(w->buf + w->used, p, k);
		w->used += k;
		p += k;
		n -= k;
		if (w->used == SPOOL_BUF && flush_buf(w) == -1)
			return -1;
	}
	return 0;
}

static int
put_kv(struct spool_writer *w, const char *k, const char *v)
{
	char line[1200];
	int n = snprintf(line, sizeof(line), "%s %s\n", k, v ? v : "");

	if (n < 0 || (size_t)n >= sizeof(line)) {
		errno = EINVAL;
		return -1;
	}
	return put(w, line, (size_t)n);
}

struct spool_writer *
spool_create(const char *data_dir, const struct spool_envelope *env)
{
	struct spool_writer *w = xcalloc(1, sizeof(*w));
	char num[32];
	int rc = 0;

	snprintf(w->tmp, sizeof(w->tmp), "%s/queue/tmp/%s", data_dir, env->id);
	snprintf(w->final, sizeof(w->final), "%s/queue/%s", data_dir, env->id);
	w->fd = open(w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd == -1) {
		free(w);
		return NULL;
	}
	w->buf = xmalloc(SPOOL_BUF);
	w->hash = FNV_OFFSET;
	snprintf(num, sizeof(num), "%lld", (long long)env->time);
	rc |= put(w, SPOOL_MAGIC, strlen(SPOOL_MAGIC));
	rc |= put_kv(w, "id", env->id);
	rc |= put_kv(w, "time", num);
	rc |= put_kv(w, "from", env->from);
	rc |= put_kv(w, "client", env->client);
	rc |= put_kv(w, "helo", env->helo);
	if (env->user)
		rc |= put_kv(w, "user", env->user);
	for (size_t i = 0; i < env->nrcpts && rc == 0; i++) {
		char line[1200];
		int n = snprintf(line, sizeof(line), "rcpt %s\t%s\n",
		    env->rcpts[i].addr, env->rcpts[i].mailbox);
		if (n < 0 || (size_t)n >= sizeof(line))
			rc = -1;
		else
			rc |= put(w, line, (size_t)n);
	}
	rc |= put(w, "\n", 1);
	w->env_len = w->total;
	if (rc != 0) {
		int saved = errno;
		spool_abort(w);
		errno = saved;
		return NULL;
	}
	return w;
}

int
spool_write(struct spool_writer *w, const char *buf, size_t len)
{
	w->msgsize += len;
	return put(w, buf, len);
}

uint64_t
spool_size(const struct spool_writer *w)
{
	return w->msgsize;
}

ssize_t
spool_read_back(struct spool_writer *w, char **out, size_t max)
{
	size_t want = w->msgsize < max ? (size_t)w->msgsize : max, got = 0;
	char *buf;

	if (flush_buf(w) == -1)
		return -1;
	buf = xmalloc(want + 1);
	while (got < want) {
		ssize_t r = pread(w->fd, buf + got, want - got, (off_t)(w->env_len + got));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			int saved = r == 0 ? EIO : errno;
			free(buf);
			errno = saved;
			return -1;
		}
		got += (size_t)r;
	}
	buf[got] = '\0';
	*out = buf;
	return (ssize_t)got;
}

/* Header lines travel CRLF-less in the meta section, one per line. */
static int
put_meta(struct spool_writer *w, const struct spool_meta *meta, unsigned *metalen)
{
	uint64_t before = w->total;
	int rc = 0;

	if (meta != NULL && meta->folder != NULL)
		rc |= put_kv(w, "folder", meta->folder);
	if (meta != NULL && meta->headers != NULL) {
		const char *p = meta->headers;
		while (*p && rc == 0) {
			const char *e = strstr(p, "\r\n");
			size_t n = e ? (size_t)(e - p) : strlen(p);
			rc |= put(w, "header ", 7);
			rc |= put(w, p, n);
			rc |= put(w, "\n", 1);
			p += n + (e ? 2 : 0);
		}
	}
	if (w->total - before > SPOOL_META_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	*metalen = (unsigned)(w->total - before);
	return rc;
}

int
spool_finish(struct spool_writer *w, const struct spool_meta *meta)
{
	char trailer[SPOOL_TRAILER_LEN + 1];
	unsigned metalen = 0;
	int saved;

	if (put_meta(w, meta, &metalen) == -1) {
		saved = errno;
		spool_abort(w);
		errno = saved;
		return -1;
	}
	snprintf(trailer, sizeof(trailer), SPOOL_TRAILER_FMT, w->total, w->hash, metalen);
	if (durable_write_all(w->fd, w->buf, w->used) == -1 ||
	    durable_write_all(w->fd, trailer, SPOOL_TRAILER_LEN) == -1 ||
	    close(w->fd) == -1) {
		saved = errno;
		w->fd = -1;
		spool_abort(w);
		errno = saved;
		return -1;
	}
	w->fd = -1;
	if (rename(w->tmp, w->final) == -1) {
		saved = errno;
		spool_abort(w);
		errno = saved;
		return -1;
	}
	free(w->buf);
	free(w);
	return 0;
}

void
spool_abort(struct spool_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd != -1)
		close(w->fd);
	unlink(w->tmp);
	free(w->buf);
	free(w);
}

void
spool_envelope_clear(struct spool_envelope *env)
{
	free(env->from);
	free(env->client);
	free(env->helo);
	free(env->user);
	for (size_t i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].mailbox);
		free(env->rcpts[i].reason);
	}
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

/* Validates the trailer; returns the length of what it covers or -1,
 * with the meta section's length in *metalen. */
static ssize_t
check_trailer(const char *buf, size_t len, size_t *metalen)
{
	char want[SPOOL_TRAILER_LEN + 1];
	size_t body;
	unsigned ml = 0;
	const char *t;

	if (len < SPOOL_TRAILER_LEN + strlen(SPOOL_MAGIC))
		return -1;
	body = len - SPOOL_TRAILER_LEN;
	t = buf + body + SPOOL_TRAILER_LEN - 11;	/* " %010u\n" */
	for (int i = 0; i < 10; i++) {
		if (t[i] < '0' || t[i] > '9')
			return -1;
		ml = ml * 10 + (unsigned)(t[i] - '0');
	}
	snprintf(want, sizeof(want), SPOOL_TRAILER_FMT, (uint64_t)body,
	    fnv1a(FNV_OFFSET, buf, body), ml);
	if (memcmp(want, buf + body, SPOOL_TRAILER_LEN) != 0 || ml > body)
		return -1;
	*metalen = ml;
	return (ssize_t)body;
}

static void
parse_meta(const char *p, size_t len, struct spool_msg *msg)
{
	size_t hl = 0;

	while (len > 0) {
		const char *nl = memchr(p, '\n', len);
		size_t l = nl ? (size_t)(nl - p) : len;
		if (l > 7 && memcmp(p, "folder ", 7) == 0) {
			free(msg->folder);
			msg->folder = xstrndup(p + 7, l - 7);
		} else if (l > 7 && memcmp(p, "header ", 7) == 0) {
			msg->headers = xrealloc(msg->headers, hl + (l - 7) + 3);
			memcpy(msg->headers + hl, p + 7, l - 7);
			hl += l - 7;
			memcpy(msg->headers + hl, "\r\n", 3);
			hl += 2;
		}
		p += l + (nl ? 1 : 0);
		len -= l + (nl ? 1 : 0);
	}
}

int
spool_parse(const char *buf, size_t len, struct spool_msg *msg)
{
	size_t metalen = 0;
	ssize_t body = check_trailer(buf, len, &metalen);
	size_t pos, mlen = strlen(SPOOL_MAGIC);
	struct spool_envelope *env = &msg->env;

	memset(msg, 0, sizeof(*msg));
	if (body < 0 || memcmp(buf, SPOOL_MAGIC, mlen) != 0)
		return 1;
	pos = mlen;
	for (;;) {
		const char *line = buf + pos, *nl, *sp;
		size_t llen, klen;
		char *val;

		nl = memchr(line, '\n', (size_t)body - pos);
		if (nl == NULL)
			goto bad;
		llen = (size_t)(nl - line);
		pos += llen + 1;
		if (llen == 0)
			break;
		sp = memchr(line, ' ', llen);
		if (sp == NULL)
			goto bad;
		klen = (size_t)(sp - line);
		val = xstrndup(sp + 1, llen - klen - 1);
		if (klen == 2 && memcmp(line, "id", 2) == 0) {
			snprintf(env->id, sizeof(env->id), "%s", val);
			free(val);
		} else if (klen == 4 && memcmp(line, "time", 4) == 0) {
			env->time = (time_t)strtoll(val, NULL, 10);
			free(val);
		} else if (klen == 4 && memcmp(line, "from", 4) == 0) {
			free(env->from);
			env->from = val;
		} else if (klen == 6 && memcmp(line, "client", 6) == 0) {
			free(env->client);
			env->client = val;
		} else if (klen == 4 && memcmp(line, "helo", 4) == 0) {
			free(env->helo);
			env->helo = val;
		} else if (klen == 4 && memcmp(line, "user", 4) == 0) {
			free(env->user);
			env->user = val;
		} else if (klen == 4 && memcmp(line, "rcpt", 4) == 0) {
			char *tab = strchr(val, '\t');
			struct spool_rcpt *r;
			if (tab == NULL) {
				free(val);
				goto bad;
			}
			env->rcpts = xrealloc(env->rcpts, (env->nrcpts + 1) * sizeof(*r));
			r = &env->rcpts[env->nrcpts++];
			r->addr = xstrndup(val, (size_t)(tab - val));
			r->mailbox = xstrdup(tab + 1);
			r->done = false;
			r->status = RCPT_PENDING;
			r->attempts = 0;
			r->next_attempt = 0;
			r->reason = NULL;
			free(val);
		} else
			free(val);	/* written by a later version: ignored */
	}
	if (env->nrcpts == 0 || env->from == NULL || (size_t)body - pos < metalen)
		goto bad;
	msg->data = buf + pos;
	msg->datalen = (size_t)body - pos - metalen;
	parse_meta(buf + body - metalen, metalen, msg);
	/* a folder name becomes a path: only plain names */
	if (msg->folder && (strchr(msg->folder, '/') || msg->folder[0] == '.' ||
	    msg->folder[0] == '\0')) {
		free(msg->folder);
		msg->folder = NULL;
	}
	return 0;
bad:
	spool_envelope_clear(env);
	return 1;
}

static char *
read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

/* The state file: one line per recipient that left PENDING or was
 * tried, "INDEX STATUS ATTEMPTS NEXT REASON", "held" when on hold and
 * "warned" once the delay warning was queued. */
static void
load_state(const char *data_dir, struct spool_msg *msg)
{
	char path[PATH_MAX];
	size_t len;
	char *buf, *line, *save = NULL;

	snprintf(path, sizeof(path), "%s/queue/%s.state", data_dir, msg->env.id);
	if ((buf = read_file(path, &len)) == NULL)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long idx, attempts;
		long long next;
		char status[16];
		int off = 0;
		struct spool_rcpt *r;

		if (strcmp(line, "held") == 0) {
			msg->held = true;
			continue;
		}
		if (strcmp(line, "warned") == 0) {
			msg->warned = true;
			continue;
		}
		if (sscanf(line, "%lu %15s %lu %lld %n", &idx, status, &attempts, &next, &off) < 4 ||
		    idx >= msg->env.nrcpts)
			continue;
		r = &msg->env.rcpts[idx];
		if (strcmp(status, "delivered") == 0)
			r->status = RCPT_DELIVERED;
		else if (strcmp(status, "bounced") == 0)
			r->status = RCPT_BOUNCED;
		else
			r->status = RCPT_PENDING;
		r->done = r->status != RCPT_PENDING;
		r->attempts = (unsigned)attempts;
		r->next_attempt = (time_t)next;
		free(r->reason);
		r->reason = off > 0 && line[off] && strcmp(line + off, "-") != 0 ?
		    xstrdup(line + off) : NULL;
	}
	free(buf);
}

int
spool_load(const char *data_dir, const char *id, struct spool_msg *msg)
{
	char path[PATH_MAX];
	size_t len;
	char *raw;

	memset(msg, 0, sizeof(*msg));
	snprintf(path, sizeof(path), "%s/queue/%s", data_dir, id);
	if ((raw = read_file(path, &len)) == NULL)
		return -1;
	if (spool_parse(raw, len, msg) != 0) {
		free(raw);
		return 1;
	}
	msg->raw = raw;
	load_state(data_dir, msg);
	return 0;
}

void
spool_msg_clear(struct spool_msg *msg)
{
	spool_envelope_clear(&msg->env);
	free(msg->folder);
	free(msg->headers);
	free(msg->raw);
	memset(msg, 0, sizeof(*msg));
}

const char *
spool_rcpt_status_name(enum rcpt_status st)
{
	switch (st) {
	case RCPT_PENDING: return "pending";
	case RCPT_DELIVERED: return "delivered";
	case RCPT_BOUNCED: return "bounced";
	}
	return "?";
}

/* One recipient's line of the state file. */
static void
state_line(FILE *f, size_t i, const struct spool_rcpt *r)
{
	char reason[512];

	snprintf(reason, sizeof(reason), "%s", r->reason ? r->reason : "-");
	for (char *p = reason; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(f, "%zu %s %u %lld %s\n", i, spool_rcpt_status_name(r->status), r->attempts,
	    (long long)r->next_attempt, reason);
}

int
spool_save_state(const char *data_dir, const struct spool_envelope *env, bool held,
    bool warned)
{
	char path[PATH_MAX], *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int rc;

	if (held)
		fprintf(f, "held\n");
	if (warned)
		fprintf(f, "warned\n");
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct spool_rcpt *r = &env->rcpts[i];
		if (r->status == RCPT_PENDING && r->attempts == 0)
			continue;
		state_line(f, i, r);
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/queue/%s.state", data_dir, env->id);
	rc = durable_write_file(path, buf, n, 0600);
	free(buf);
	return rc;
}

int
spool_append_state(const char *data_dir, const char *id, size_t i, const struct spool_rcpt *r)
{
	char path[PATH_MAX], *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	int fd, rc = -1, saved;

	state_line(f, i, r);
	fclose(f);
	snprintf(path, sizeof(path), "%s/queue/%s.state", data_dir, id);
	/* one write(2) of a whole line with O_APPEND: a crash leaves the
	 * line or nothing, and load_state reads the last line of a
	 * recipient as its state */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd != -1) {
		rc = durable_write_all(fd, buf, n);
		saved = errno;
		close(fd);
		errno = saved;
	}
	free(buf);
	return rc;
}

int
spool_remove(const char *data_dir, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/queue/%s.state", data_dir, id);
	unlink(path);
	snprintf(path, sizeof(path), "%s/queue/%s", data_dir, id);
	return unlink(path);
}

static int
is_id(const char *name)
{
	if (strlen(name) != SPOOL_ID_LEN)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F')))
			return 0;
	return 1;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char **
spool_list(const char *data_dir, size_t *n)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;
	char **ids = NULL;

	*n = 0;
	snprintf(path, sizeof(path), "%s/queue", data_dir);
	if ((d = opendir(path)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (!is_id(de->d_name))
			continue;
		ids = xrealloc(ids, (*n + 1) * sizeof(char *));
		ids[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (*n > 1)
		qsort(ids, *n, sizeof(char *), cmp_str);
	return ids;
}

void
spool_list_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

int
spool_recover(const char *data_dir, void (*fn)(const char *id, void *arg), void *arg)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;
	char **ids;
	size_t n;
	int valid = 0;

	/* Files still under tmp/ never reached spool_finish: their client
	 * got no 250, so they are dropped. */
	snprintf(path, sizeof(path), "%s/queue/tmp", data_dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/queue/tmp/%s", data_dir, de->d_name);
		unlink(path);
	}
	closedir(d);

	ids = spool_list(data_dir, &n);
	for (size_t i = 0; i < n; i++) {
		struct spool_msg msg;
		int rc = spool_load(data_dir, ids[i], &msg);
		if (rc == 1) {
			/* Renamed but not covered by a sync before the crash,
			 * so never acknowledged. */
			spool_remove(data_dir, ids[i]);
			continue;
		}
		if (rc == 0) {
			spool_msg_clear(&msg);
			valid++;
			fn(ids[i], arg);
		}
	}
	spool_list_free(ids, n);
	return valid;
}
