/*
 * Maildir writer. Names follow maildir(5), "time.unique.host,S=size":
 * the caller's key is "time.unique" and is unique per copy (deliver.c
 * derives it from the queue id, the recipient and the mailbox), the S=
 * size lets Dovecot skip a stat. The same key gives the same name, so a
 * copy written again replaces itself instead of adding a second one.
 */
#include "maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/durable.h"

static char host[64];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void
host_init(void)
{
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	/* '/' and ':' are not allowed in maildir names. */
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
}

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

int
maildir_write(const char *maildir, const char *key, const char *head, size_t headlen,
    const char *body, size_t bodylen, struct maildir_file *out)
{
	char name[MAILDIR_KEY_MAX + sizeof(host) + 32];
	struct iovec iov[2];
	size_t total = headlen + bodylen, done = 0;
	int fd, saved;

	pthread_once(&host_once, host_init);
	if (key[0] == '\0' || strlen(key) > MAILDIR_KEY_MAX || strpbrk(key, "/:") != NULL) {
		errno = EINVAL;
		return -1;
	}
	snprintf(name, sizeof(name), "%s.%s,S=%zu", key, host, total);
	if (snprintf(out->tmp, sizeof(out->tmp), "%s/tmp/%s", maildir, name) >=
	    (int)sizeof(out->tmp) ||
	    snprintf(out->final, sizeof(out->final), "%s/new/%s", maildir, name) >=
	    (int)sizeof(out->final)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* not O_EXCL: a file of this name in tmp/ is this very copy, left
	 * by a delivery that was interrupted before its rename. The
	 * directories are made when missing, not looked at every time. */
	fd = open(out->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 && errno == ENOENT) {
		if (ensure_dirs(maildir) == -1)
			return -1;
		fd = open(out->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
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
	char mdir[PATH_MAX], *slash;
	int saved;

	if (rename(f->tmp, f->final) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* new/ went away after tmp/ was written to (maildir_write only
	 * makes the directories when tmp/ is missing): made, tried again */
	saved = errno;
	snprintf(mdir, sizeof(mdir), "%s", f->final);
	for (int i = 0; i < 2; i++) {
		if ((slash = strrchr(mdir, '/')) == NULL) {
			errno = saved;
			return -1;
		}
		*slash = '\0';		/* drop the name, then new */
	}
	if (ensure_dirs(mdir) == -1)
		return -1;
	return rename(f->tmp, f->final);
}

void
maildir_discard(const struct maildir_file *f)
{
	unlink(f->tmp);
}

/* name is "PREFIX" REST "." HOST, then ',' (S=, W=...), ':' (flags) or
 * the end: returns the length of REST, or 0 when name is not ours. */
static size_t
match(const char *name, const char *prefix, size_t plen, size_t hlen)
{
	const char *rest, *dot;

	if (strncmp(name, prefix, plen) != 0)
		return 0;
	rest = name + plen;
	if ((dot = strchr(rest, '.')) == NULL || dot == rest)
		return 0;
	if (strncmp(dot + 1, host, hlen) != 0 || strchr(",:", dot[1 + hlen]) == NULL)
		return 0;	/* strchr finds the terminating NUL too */
	return (size_t)(dot - rest);
}

int
maildir_scan(const char *maildir, const char *prefix,
    void (*fn)(void *arg, const char *rest, size_t len), void *arg)
{
	/* new/ first: a reader moves new/ -> cur/, never back, so a copy
	 * moved while we look is seen in one of the two */
	static const char *const sub[] = { "new", "cur" };
	size_t plen = strlen(prefix), hlen;
	char path[PATH_MAX];

	pthread_once(&host_once, host_init);
	hlen = strlen(host);
	for (size_t i = 0; i < 2; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/%s", maildir, sub[i]);
		if ((d = opendir(path)) == NULL) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		errno = 0;
		while ((de = readdir(d)) != NULL) {
			size_t len = match(de->d_name, prefix, plen, hlen);
			if (len > 0)
				fn(arg, de->d_name + plen, len);
			errno = 0;
		}
		if (errno != 0) {
			int saved = errno;
			closedir(d);
			errno = saved;
			return -1;
		}
		closedir(d);
	}
	return 0;
}
