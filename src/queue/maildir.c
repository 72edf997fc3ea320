/*
 * Maildir writer. Unique names follow the maildir(5) convention
 * "time.MusecPpidQcounter.host,S=size": the S= size lets Dovecot skip a
 * stat, and the counter keeps names unique inside one microsecond.
 */
#include "maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/durable.h"

static int
ensure_dirs(const char *maildir)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	char path[PATH_MAX];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", maildir, sub[i]);
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			if (errno != ENOENT || durable_mkdirs(path, 0700) == -1)
				return -1;
		}
	}
	return 0;
}

static void
unique_name(char *buf, size_t len, size_t size)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static unsigned long counter;
	static char host[64];
	struct timeval tv;
	unsigned long q;

	pthread_mutex_lock(&lock);
	if (host[0] == '\0') {
		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		/* '/' and ':' are not allowed in maildir names. */
		for (char *p = host; *p; p++)
			if (*p == '/' || *p == ':')
				*p = '_';
	}
	q = ++counter;
	pthread_mutex_unlock(&lock);
	gettimeofday(&tv, NULL);
	snprintf(buf, len, "%ld.M%06ldP%ldQ%lu.%s,S=%zu", (long)tv.tv_sec,
	    (long)tv.tv_usec, (long)getpid(), q, host, size);
}

int
maildir_write(const char *maildir, const char *head, size_t headlen,
    const char *body, size_t bodylen, struct maildir_file *out)
{
	char name[256];
	struct iovec iov[2];
	size_t total = headlen + bodylen, done = 0;
	int fd, saved;

	if (ensure_dirs(maildir) == -1)
		return -1;
	unique_name(name, sizeof(name), total);
	snprintf(out->tmp, sizeof(out->tmp), "%s/tmp/%s", maildir, name);
	snprintf(out->final, sizeof(out->final), "%s/new/%s", maildir, name);
	fd = open(out->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	while (done < total) {
		ssize_t w;
		int k = 0;
		if (done < headlen) {
			iov[k].iov_base = (char *)head + done;
			iov[k++].iov_len = headlen - done;
			iov[k].iov_base = (char *)body;
			iov[k++].iov_len = bodylen;
		} else {
			iov[k].iov_base = (char *)body + (done - headlen);
			iov[k++].iov_len = total - done;
		}
		w = writev(fd, iov, k);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			saved = w == 0 ? EIO : errno;
			close(fd);
			unlink(out->tmp);
			errno = saved;
			return -1;
		}
		done += (size_t)w;
	}
	if (close(fd) == -1) {
		saved = errno;
		unlink(out->tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

int
maildir_publish(const struct maildir_file *f)
{
	return rename(f->tmp, f->final);
}

void
maildir_discard(const struct maildir_file *f)
{
	unlink(f->tmp);
}
