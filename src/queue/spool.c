/*
 * Queue files. Layout:
 *   "POSTERN-QUEUE 1\n" then "key value\n" lines (id, time, from, client,
 *   helo, user, one "rcpt ADDR\tMAILBOX" per recipient, and last "sum
 *   HASH", the FNV-1a 64 hash of the envelope before it), "\n", message,
 *   the meta section ("POSTERN-META\n", "folder NAME\n", "header LINE\n":
 *   what the scan decided, and "sums 1 H H ...\n": an FNV-1a 32 hash per
 *   block of the message, SPOOL_BLOCK_SMALL octets for the first
 *   SPOOL_BLOCK_SPLIT, SPOOL_BLOCK_LARGE after), and the trailer
 *   "\nPOSTERN-END SIZE HASH META\n" of exactly SPOOL_TRAILER_LEN bytes,
 *   where SIZE is the number of bytes before the trailer, HASH their
 *   FNV-1a 64 hash and META the length of the meta section.
 * The trailer decides whether a file loads; the envelope's and the
 * blocks' own hashes only serve spool_examine, to tell what of a damaged
 * file can be trusted. Readers ignore keys they do not know, so older
 * files (no sum, no sums) load the same.
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

#include "lib/clock.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "queue/spool_internal.h"

#define SPOOL_META_MAX (64 * 1024)
/* The write buffer starts small and doubles up to SPOOL_BUF, then is
 * written out whenever full: a typical message (a few KB) is written in
 * one go at the end without each session in DATA holding 64 KB. */
#define SPOOL_BUF 65536
#define SPOOL_BUF_START 8192
/* Block checksums: sector-sized blocks at the start, where small messages
 * live and a damaged byte should cost little, larger ones after, so that
 * the sums of a 50 MB message stay near 60 KB. */
#define SPOOL_BLOCK_SMALL 512
#define SPOOL_BLOCK_SPLIT 65536
#define SPOOL_BLOCK_LARGE 8192

struct spool_writer {
	int fd;
	char tmp[PATH_MAX];
	uint64_t hash;		/* FNV-1a 64 of every byte written */
	uint64_t total;		/* bytes written, envelope included */
	uint64_t msgsize;	/* message octets */
	uint64_t env_len;	/* octets of envelope before the message */
	uint32_t bhash;		/* FNV-1a 32 of the current block */
	uint32_t *sums;		/* of the finished blocks */
	size_t nsums, capsums;
	char *buf;		/* write buffer */
	size_t used, cap;
	bool recycled;		/* a delivered file's inode, cut to size at the end */
};

/*
 * Queue files kept under queue-free/ for the next messages
 * (spool_pool_init), instead of an unlink and a create per message: each
 * costs the file system an inode freed and one allocated (on ext4 without
 * a journal the allocator then skips every inode freed in the last
 * minutes, reading the inode table for each), and the blocks freed (a
 * discard each on "discard" mounts): at a thousand messages a second,
 * most of the server's time. A delivered message's file goes there whole
 * and the next message is written over its blocks; one not taken within
 * SPOOL_POOL_LINGER seconds is emptied by spool_pool_sweep, and a
 * deleted message's file is emptied at once: no message stays on disk
 * through the pool. Names are a counter's (never a queue id); queue-free/ is
 * emptied at start.
 */
#define POOL_KEEP_MAX (256 * 1024)	/* larger files are emptied at once */
struct pooled {
	unsigned long name;	/* queue-free/fNAME */
	time_t since;		/* when it came, while it still holds a message */
	bool full;
};
static struct {
	pthread_mutex_t lock;
	char *data_dir;		/* NULL: no pool (the command-line tools) */
	unsigned long next;	/* the next file's name */
	struct pooled *files;	/* a stack: the last given is taken first */
	int failed;		/* why the pool stopped, until spool_pool_failed says it */
	size_t n, max;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER };

static const uint64_t FNV_PRIME = 1099511628211ULL;
static const uint32_t FNV32_PRIME = 16777619U;

uint64_t
spool_fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Each step of FNV-1a is a bijection of the state, so a block that
 * differs from what was written in one octet always hashes differently. */
uint32_t
spool_fnv1a32(uint32_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= FNV32_PRIME;
	}
	return h;
}

/* Both hashes in one pass: two independent chains cost about one. */
static void
fnv1a_both(uint64_t *h, uint32_t *b, const char *p, size_t n)
{
	uint64_t x = *h;
	uint32_t y = *b;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		x = (x ^ c) * FNV_PRIME;
		y = (y ^ c) * FNV32_PRIME;
	}
	*h = x;
	*b = y;
}

/* End (message offset) of the block holding offset off. */
static uint64_t
block_end(uint64_t off)
{
	if (off < SPOOL_BLOCK_SPLIT)
		return (off / SPOOL_BLOCK_SMALL + 1) * SPOOL_BLOCK_SMALL;
	return (off / SPOOL_BLOCK_LARGE + 1) * SPOOL_BLOCK_LARGE;
}

/* Start of block k. */
uint64_t
spool_block_start(size_t k)
{
	if (k < SPOOL_BLOCK_SPLIT / SPOOL_BLOCK_SMALL)
		return (uint64_t)k * SPOOL_BLOCK_SMALL;
	return SPOOL_BLOCK_SPLIT + (uint64_t)(k - SPOOL_BLOCK_SPLIT / SPOOL_BLOCK_SMALL) *
	    SPOOL_BLOCK_LARGE;
}

/* Number of blocks of a message of len octets. */
size_t
spool_block_count(uint64_t len)
{
	if (len <= SPOOL_BLOCK_SPLIT)
		return (size_t)((len + SPOOL_BLOCK_SMALL - 1) / SPOOL_BLOCK_SMALL);
	return SPOOL_BLOCK_SPLIT / SPOOL_BLOCK_SMALL +
	    (size_t)((len - SPOOL_BLOCK_SPLIT + SPOOL_BLOCK_LARGE - 1) / SPOOL_BLOCK_LARGE);
}

bool
spool_id_valid(const char *buf, size_t len)
{
	if (buf == NULL || len != SPOOL_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'A' && buf[i] <= 'F')))
			return false;
	return true;
}

int
spool_init(const char *data_dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/queue/tmp", data_dir);
	return durable_mkdirs(path, 0700);
}

int
spool_pool_init(const char *data_dir, size_t max)
{
	char path[PATH_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/queue-free", data_dir);
	if (durable_mkdirs(path, 0700) == -1 || (d = opendir(path)) == NULL)
		return -1;
	/* what a previous run kept is delivered mail: gone before anything
	 * else could take it */
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/queue-free/%s", data_dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	pthread_mutex_lock(&pool.lock);
	free(pool.data_dir);
	free(pool.files);
	pool.data_dir = xstrdup(data_dir);
	pool.files = xcalloc(max ? max : 1, sizeof(*pool.files));
	pool.n = 0;
	pool.next = 0;
	pool.max = max;
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/* The path of pooled file name under data_dir. */
static void
pooled_path(char *out, size_t outlen, const char *data_dir, unsigned long name)
{
	snprintf(out, outlen, "%s/queue-free/f%lu", data_dir, name);
}

/* A pooled file leaves the pool and the disk, emptied first: an unlink
 * that fails must not leave a message behind. */
static void
discard_file(const char *path)
{
	if (truncate(path, 0) == -1 && errno == ENOENT)
		return;
	unlink(path);
}

/* The pool stops for good (the file system cannot rename the way it
 * needs): what it holds is emptied and removed. Called locked. */
static void
pool_off(int err)
{
	for (size_t i = 0; i < pool.n; i++) {
		char path[PATH_MAX];
		pooled_path(path, sizeof(path), pool.data_dir, pool.files[i].name);
		discard_file(path);
	}
	pool.failed = err;
	free(pool.data_dir);
	pool.data_dir = NULL;
	pool.n = 0;
}

static bool
pool_unsupported(int err)
{
	return err == EXDEV || err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

/*
 * A pooled file moved to path (queue/tmp/ID) and opened, or -1: errno
 * EEXIST when path exists (as O_EXCL would say), else no file to reuse.
 */
static int
pool_take(const char *data_dir, const char *path)
{
	int fd = -1;
	bool exists = false;

	pthread_mutex_lock(&pool.lock);
	while (pool.data_dir != NULL && strcmp(pool.data_dir, data_dir) == 0 && pool.n > 0) {
		char from[PATH_MAX];
		pooled_path(from, sizeof(from), data_dir, pool.files[pool.n - 1].name);
		if (renameat2(AT_FDCWD, from, AT_FDCWD, path, RENAME_NOREPLACE) == -1) {
			int err = errno;
			if (err == EEXIST) {
				exists = true;	/* the file stays in the pool */
				break;
			}
			if (pool_unsupported(err)) {
				pool_off(err);
				break;
			}
			/* never a file left behind with a message in it */
			discard_file(from);
			pool.n--;
			continue;
		}
		pool.n--;
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1)
			unlink(path);
		break;
	}
	pthread_mutex_unlock(&pool.lock);
	if (fd == -1)
		errno = exists ? EEXIST : ENOENT;
	return fd;
}

/*
 * Moves a removed message's file (path, queue/ID) into the pool first
 * (a crash after it leaves nothing under queue/: queue-free/ is emptied at
 * start), then empties it there unless keep and small. Returns 0, or -1
 * when it was not taken (the caller unlinks it).
 */
static int
pool_give(const char *data_dir, const char *path, bool keep)
{
	char to[PATH_MAX];
	struct stat st;
	int rc = -1;

	pthread_mutex_lock(&pool.lock);
	if (pool.data_dir == NULL || strcmp(pool.data_dir, data_dir) != 0 || pool.n >= pool.max) {
		pthread_mutex_unlock(&pool.lock);
		return -1;
	}
	pooled_path(to, sizeof(to), data_dir, pool.next);
	if (renameat2(AT_FDCWD, path, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
		struct pooled *f = &pool.files[pool.n];
		/* a large file is not kept whole: the pool would hold
		 * SPOOL_POOL_FILES times the largest message of disk */
		keep = keep && stat(to, &st) == 0 && st.st_size <= POOL_KEEP_MAX;
		if (keep || truncate(to, 0) == 0) {
			f->name = pool.next++;
			f->full = keep;
			f->since = clock_mono_sec();
			pool.n++;
			rc = 0;
		} else {
			unlink(to);
			pool.next++;
			rc = 0;	/* removed all the same */
		}
	} else if (pool_unsupported(errno)) {
		pool_off(errno);
	}
	pthread_mutex_unlock(&pool.lock);
	return rc;
}

int
spool_pool_failed(void)
{
	int err;

	pthread_mutex_lock(&pool.lock);
	err = pool.failed;
	pool.failed = 0;
	pthread_mutex_unlock(&pool.lock);
	return err;
}

void
spool_pool_sweep(unsigned linger)
{
	time_t now = clock_mono_sec();
	size_t i = 0;

	pthread_mutex_lock(&pool.lock);
	while (pool.data_dir != NULL && i < pool.n) {
		struct pooled *f = &pool.files[i];
		char path[PATH_MAX];
		if (!f->full || now - f->since < (time_t)linger) {
			i++;
			continue;
		}
		pooled_path(path, sizeof(path), pool.data_dir, f->name);
		if (truncate(path, 0) == 0) {
			f->full = false;
			i++;
			continue;
		}
		/* cannot be emptied: out of the pool and off the disk */
		unlink(path);
		*f = pool.files[--pool.n];
	}
	pthread_mutex_unlock(&pool.lock);
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

/* Copies into the write buffer; the caller has hashed. */
static int
put_raw(struct spool_writer *w, const char *p, size_t n)
{
	w->total += n;
	while (n > 0) {
		size_t room, k;
		if (w->used == w->cap) {
			if (w->cap < SPOOL_BUF) {
				w->cap *= 2;
				w->buf = xrealloc(w->buf, w->cap);
			} else if (flush_buf(w) == -1)
				return -1;
		}
		room = w->cap - w->used;
		k = n < room ? n : room;
		memcpy(w->buf + w->used, p, k);
		w->used += k;
		p += k;
		n -= k;
	}
	return 0;
}

static int
put(struct spool_writer *w, const char *p, size_t n)
{
	w->hash = spool_fnv1a(w->hash, p, n);
	return put_raw(w, p, n);
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
	char num[32], sum[24];
	int rc = 0;

	snprintf(w->tmp, sizeof(w->tmp), "%s/queue/tmp/%s", data_dir, env->id);
	if ((w->fd = pool_take(data_dir, w->tmp)) != -1)
		w->recycled = true;
	else if (errno != EEXIST)
		w->fd = open(w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (w->fd == -1) {
		int saved = errno;
		free(w);
		errno = saved;
		return NULL;
	}
	w->cap = SPOOL_BUF_START;
	w->buf = xmalloc(w->cap);
	w->hash = SPOOL_FNV_OFFSET;
	w->bhash = SPOOL_FNV32_OFFSET;
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
	/* the envelope's own hash: whom a salvaged message goes to must
	 * not come from damaged bytes */
	snprintf(sum, sizeof(sum), "%016" PRIx64, w->hash);
	rc |= put_kv(w, "sum", sum);
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
	while (len > 0) {
		uint64_t end = block_end(w->msgsize);
		size_t n = end - w->msgsize < len ? (size_t)(end - w->msgsize) : len;

		fnv1a_both(&w->hash, &w->bhash, buf, n);
		w->msgsize += n;
		if (w->msgsize == end) {
			if (w->nsums == w->capsums) {
				w->capsums = w->capsums ? w->capsums * 2 : 16;
				w->sums = xrealloc(w->sums, w->capsums * sizeof(*w->sums));
			}
			w->sums[w->nsums++] = w->bhash;
			w->bhash = SPOOL_FNV32_OFFSET;
		}
		if (put_raw(w, buf, n) == -1)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
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

	if (w->total == w->used) {
		/* nothing written yet: the whole file is still in the write
		 * buffer, so a small message costs no write and no read here
		 * (spool_finish writes it in one go) */
		buf = xmalloc(want + 1);
		memcpy(buf, w->buf + w->env_len, want);
		buf[want] = '\0';
		*out = buf;
		return (ssize_t)want;
	}
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

/* Header lines travel CRLF-less in the meta section, one per line; the
 * block sums come last, in one line. */
static int
put_meta(struct spool_writer *w, const struct spool_meta *meta, unsigned *metalen)
{
	uint64_t before = w->total;
	int rc = put(w, SPOOL_META_MARK, strlen(SPOOL_META_MARK));

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
	if (spool_block_count(w->msgsize) > w->nsums) {
		/* the last, partial block */
		if (w->nsums == w->capsums) {
			w->capsums = w->capsums ? w->capsums * 2 : 16;
			w->sums = xrealloc(w->sums, w->capsums * sizeof(*w->sums));
		}
		w->sums[w->nsums++] = w->bhash;
	}
	rc |= put(w, "sums 1", 6);
	for (size_t i = 0; i < w->nsums && rc == 0; i++) {
		char h[10];
		snprintf(h, sizeof(h), " %08" PRIx32, w->sums[i]);
		rc |= put(w, h, 9);
	}
	rc |= put(w, "\n", 1);
	if (w->total - before > UINT32_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	*metalen = (unsigned)(w->total - before);
	return rc;
}

/* Meta and trailer, then close; with sync, fsync first; with open_fd,
 * the file's cut and close are the caller's (spool_finish_open). */
static int
finish_file(struct spool_writer *w, const struct spool_meta *meta, bool sync, int *open_fd,
    long long *cut)
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
	/* the trailer joins the buffer: a small message is one write(2); a
	 * reused file may be longer, and what follows the trailer goes
	 * before any sync can cover the file */
	if (open_fd != NULL) {
		if (put_raw(w, trailer, SPOOL_TRAILER_LEN) == -1 || flush_buf(w) == -1) {
			saved = errno;
			spool_abort(w);
			errno = saved;
			return -1;
		}
		*open_fd = w->fd;
		*cut = w->recycled ? (long long)w->total : -1;
	} else if (put_raw(w, trailer, SPOOL_TRAILER_LEN) == -1 || flush_buf(w) == -1 ||
	    (w->recycled && ftruncate(w->fd, (off_t)w->total) == -1) ||
	    (sync && fsync(w->fd) == -1) || close(w->fd) == -1) {
		saved = errno;
		w->fd = -1;
		spool_abort(w);
		errno = saved;
		return -1;
	}
	w->fd = -1;
	free(w->sums);
	free(w->buf);
	free(w);
	return 0;
}

int
spool_finish(struct spool_writer *w, const struct spool_meta *meta)
{
	return finish_file(w, meta, false, NULL, NULL);
}

int
spool_finish_open(struct spool_writer *w, const struct spool_meta *meta, int *fd,
    long long *cut)
{
	return finish_file(w, meta, false, fd, cut);
}

int
spool_finish_synced(struct spool_writer *w, const struct spool_meta *meta)
{
	return finish_file(w, meta, true, NULL, NULL);
}

int
spool_commit(const char *data_dir, const char *id)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct stat st;

	snprintf(from, sizeof(from), "%s/queue/tmp/%s", data_dir, id);
	snprintf(to, sizeof(to), "%s/queue/%s", data_dir, id);
	if (rename(from, to) == 0)
		return 0;
	if (errno == ENOENT && stat(to, &st) == 0)
		return 0;
	return -1;
}

void
spool_abort(struct spool_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd != -1)
		close(w->fd);
	unlink(w->tmp);
	free(w->sums);
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
ssize_t
spool_check_trailer(const char *buf, size_t len, size_t *metalen)
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
	    spool_fnv1a(SPOOL_FNV_OFFSET, buf, body), ml);
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

/*
 * The envelope lines of buf[0..len) after the magic, into env. Returns
 * the offset just past the blank line that ends them, or 0 when they are
 * malformed (env cleared). *sum_at gets the offset of the "sum" line, or
 * 0 when there is none.
 */
size_t
spool_parse_envelope(const char *buf, size_t len, struct spool_envelope *env, size_t *sum_at)
{
	size_t pos = strlen(SPOOL_MAGIC);

	*sum_at = 0;
	for (;;) {
		const char *line = buf + pos, *nl, *sp;
		size_t llen, klen;
		char *val;

		if (pos >= len || (nl = memchr(line, '\n', len - pos)) == NULL)
			goto bad;
		llen = (size_t)(nl - line);
		if (llen == 0) {
			pos++;
			break;
		}
		if ((sp = memchr(line, ' ', llen)) == NULL)
			goto bad;
		klen = (size_t)(sp - line);
		if (klen == 3 && memcmp(line, "sum", 3) == 0)
			*sum_at = pos;
		pos += llen + 1;
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
	if (env->nrcpts == 0 || env->from == NULL)
		goto bad;
	return pos;
bad:
	spool_envelope_clear(env);
	return 0;
}

int
spool_parse(const char *buf, size_t len, struct spool_msg *msg)
{
	size_t metalen = 0, pos, sum_at;
	ssize_t body = spool_check_trailer(buf, len, &metalen);
	struct spool_envelope *env = &msg->env;

	memset(msg, 0, sizeof(*msg));
	if (body < 0 || memcmp(buf, SPOOL_MAGIC, strlen(SPOOL_MAGIC)) != 0)
		return 1;
	if ((pos = spool_parse_envelope(buf, (size_t)body, env, &sum_at)) == 0)
		return 1;
	if ((size_t)body - pos < metalen)
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
	free(msg->folder);
	free(msg->headers);
	memset(msg, 0, sizeof(*msg));
	return 1;
}

char *
spool_read_file(const char *path, size_t *len)
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

/*
 * The state file: one line per recipient that left PENDING or was
 * tried, "INDEX STATUS ATTEMPTS NEXT REASON", "held" when on hold and
 * "warned" once the delay warning was queued; later lines win (lines are
 * appended as deliveries happen). Each line starts with the FNV-1a 32
 * hash of the rest, "HHHHHHHH ", so that a damaged byte cannot turn into
 * another recipient's or another status; lines without it come from an
 * older postern and are only checked for form.
 */

/* A decimal number of at most 18 digits (an optional '-' when neg). */
static bool
parse_num(const char **p, const char *end, bool neg, long long *out)
{
	const char *s = *p;
	bool minus = false;
	long long v = 0;
	int digits = 0;

	if (neg && s < end && *s == '-') {
		minus = true;
		s++;
	}
	while (s < end && *s >= '0' && *s <= '9' && digits < 18) {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (digits == 0 || (s < end && *s != ' '))
		return false;
	*p = s;
	*out = minus ? -v : v;
	return true;
}

struct state_rec {
	enum { REC_HELD, REC_WARNED, REC_RCPT } kind;
	size_t idx;
	enum rcpt_status status;
	unsigned attempts;
	long long next;
	const char *reason;	/* NULL for "-" */
	size_t reasonlen;
};

/* One line's content (checksum removed). Returns false when malformed. */
static bool
state_rec_parse(const char *p, size_t l, size_t nrcpts, struct state_rec *rec)
{
	const char *end = p + l, *st;
	long long v;
	size_t sl;

	if (memchr(p, '\0', l) != NULL)
		return false;
	if (l == 4 && memcmp(p, "held", 4) == 0) {
		rec->kind = REC_HELD;
		return true;
	}
	if (l == 6 && memcmp(p, "warned", 6) == 0) {
		rec->kind = REC_WARNED;
		return true;
	}
	rec->kind = REC_RCPT;
	if (!parse_num(&p, end, false, &v) || (unsigned long long)v >= nrcpts || p >= end)
		return false;
	rec->idx = (size_t)v;
	st = ++p;
	while (p < end && *p != ' ')
		p++;
	sl = (size_t)(p - st);
	if (sl == 7 && memcmp(st, "pending", 7) == 0)
		rec->status = RCPT_PENDING;
	else if (sl == 9 && memcmp(st, "delivered", 9) == 0)
		rec->status = RCPT_DELIVERED;
	else if (sl == 7 && memcmp(st, "bounced", 7) == 0)
		rec->status = RCPT_BOUNCED;
	else
		return false;
	if (p >= end)
		return false;
	p++;
	if (!parse_num(&p, end, false, &v) || v > UINT32_MAX || p >= end)
		return false;
	rec->attempts = (unsigned)v;
	p++;
	if (!parse_num(&p, end, true, &rec->next))
		return false;
	if (p < end)
		p++;	/* the space before the reason */
	rec->reason = p;
	rec->reasonlen = (size_t)(end - p);
	if (rec->reasonlen == 0 || (rec->reasonlen == 1 && *p == '-'))
		rec->reason = NULL;
	return true;
}

/* Next line of a state file: content and its length; false at the end.
 * *bad is set for a line whose checksum does not match or whose form is
 * wrong. A last line without its newline is a write cut short by a
 * crash: it is ignored (the record it carried is simply not there). */
static bool
state_next(const char *buf, size_t len, size_t *pos, size_t nrcpts, struct state_rec *rec,
    bool *bad)
{
	const char *line = buf + *pos, *nl;
	size_t l;
	uint32_t want = 0;

	*bad = false;
	if (*pos >= len || (nl = memchr(line, '\n', len - *pos)) == NULL)
		return false;
	l = (size_t)(nl - line);
	*pos += l + 1;
	if (l > 9 && line[8] == ' ') {
		int i;
		for (i = 0; i < 8; i++) {
			char c = line[i];
			unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') :
			    c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 16;
			if (d == 16)
				break;
			want = want << 4 | d;
		}
		if (i == 8) {
			if (spool_fnv1a32(SPOOL_FNV32_OFFSET, line + 9, l - 9) != want) {
				*bad = true;
				return true;
			}
			line += 9;
			l -= 9;
		}
	}
	*bad = !state_rec_parse(line, l, nrcpts, rec);
	return true;
}

int
spool_state_parse(const char *buf, size_t len, struct spool_envelope *env, bool *held,
    bool *warned)
{
	struct state_rec rec;
	size_t pos = 0;
	bool bad;

	*held = *warned = false;
	/* all or nothing: a damaged file is not half applied */
	while (state_next(buf, len, &pos, env->nrcpts, &rec, &bad))
		if (bad)
			return 1;
	pos = 0;
	while (state_next(buf, len, &pos, env->nrcpts, &rec, &bad)) {
		struct spool_rcpt *r;
		if (rec.kind == REC_HELD) {
			*held = true;
			continue;
		}
		if (rec.kind == REC_WARNED) {
			*warned = true;
			continue;
		}
		r = &env->rcpts[rec.idx];
		r->status = rec.status;
		r->done = r->status != RCPT_PENDING;
		r->attempts = rec.attempts;
		r->next_attempt = (time_t)rec.next;
		free(r->reason);
		r->reason = rec.reason ? xstrndup(rec.reason, rec.reasonlen) : NULL;
	}
	return 0;
}

static void
load_state(const char *path, struct spool_msg *msg)
{
	size_t len;
	char *buf;

	if ((buf = spool_read_file(path, &len)) == NULL)
		return;
	if (spool_state_parse(buf, len, &msg->env, &msg->held, &msg->warned) != 0)
		msg->state_damaged = true;
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
	if ((raw = spool_read_file(path, &len)) == NULL)
		return -1;
	/* a file under another name is not this message */
	if (spool_parse(raw, len, msg) != 0 || strcmp(msg->env.id, id) != 0) {
		spool_msg_clear(msg);
		free(raw);
		return 1;
	}
	msg->raw = raw;
	snprintf(path, sizeof(path), "%s/queue/%s.state", data_dir, id);
	load_state(path, msg);
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

/* One line of the state file, behind the hash of its content. */
static void
state_put(FILE *f, const char *content)
{
	fprintf(f, "%08" PRIx32 " %s\n", spool_fnv1a32(SPOOL_FNV32_OFFSET, content, strlen(content)), content);
}

/* One recipient's line of the state file. */
static void
state_line(FILE *f, size_t i, const struct spool_rcpt *r)
{
	char reason[512], line[600];

	snprintf(reason, sizeof(reason), "%s", r->reason ? r->reason : "-");
	for (char *p = reason; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	snprintf(line, sizeof(line), "%zu %s %u %lld %s", i, spool_rcpt_status_name(r->status),
	    r->attempts, (long long)r->next_attempt, reason);
	state_put(f, line);
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
		state_put(f, "held");
	if (warned)
		state_put(f, "warned");
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

static int
remove_message(const char *data_dir, const char *id, bool delivered)
{
	char path[PATH_MAX], state[PATH_MAX];
	int saved;

	/* the message first, its state after: a crash in between must not
	 * bring a delivered message back with every recipient pending (a
	 * state file left alone is never read) */
	snprintf(state, sizeof(state), "%s/queue/%s.state", data_dir, id);
	snprintf(path, sizeof(path), "%s/queue/%s", data_dir, id);
	if (pool_give(data_dir, path, delivered) == 0 || unlink(path) == 0) {
		unlink(state);
		return 0;
	}
	saved = errno;
	unlink(state);
	/* still under tmp/ when its sync failed or its client left */
	snprintf(path, sizeof(path), "%s/queue/tmp/%s", data_dir, id);
	if (saved == ENOENT && unlink(path) == 0)
		return 0;
	errno = saved;
	return -1;
}

int
spool_remove(const char *data_dir, const char *id)
{
	return remove_message(data_dir, id, false);
}

int
spool_remove_delivered(const char *data_dir, const char *id)
{
	return remove_message(data_dir, id, true);
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
		if (!spool_id_valid(de->d_name, strlen(de->d_name)))
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
