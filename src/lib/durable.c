/*
 * Atomic single-file replacement and directory helpers.
 */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xmalloc.h"

int
durable_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int
durable_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc, saved;

	if (fd == -1)
		return -1;
	rc = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
durable_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	char *slash;
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	if (durable_write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return durable_sync_dir(dir);
}

int
durable_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

char *
durable_slurp(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	size_t got = 0;

	if (fd == -1)
		return NULL;
	if (fstat(fd, st) == -1) {
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st->st_size + 1);
	while (got < (size_t)st->st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st->st_size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	close(fd);
	return buf;
}

/* Run as root against a server that dropped privileges (`user =`), the
 * files must stay usable by that user: they take the owner of their
 * directory. */
static void
give_to_dir_owner(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	struct stat st;

	if (slash)
		*slash = '\0';
	if (geteuid() == 0 && stat(slash ? dir : ".", &st) == 0 && st.st_uid != 0)
		(void)!chown(path, st.st_uid, st.st_gid);
	free(dir);
}

int
durable_edit_file(const char *path, mode_t mode,
    int (*fn)(char *old, FILE *out, void *arg, char **err), void *arg, char **err)
{
	char *lockpath = xasprintf("%s.lock", path), *old, *newbuf = NULL;
	size_t newlen = 0;
	struct stat st;
	FILE *out;
	int lfd, rc = -1;

	lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd != -1)
		give_to_dir_owner(lockpath);
	free(lockpath);
	if (lfd == -1 || flock(lfd, LOCK_EX) == -1) {
		*err = xasprintf("cannot lock %s: %s", path, strerror(errno));
		if (lfd != -1)
			close(lfd);
		return -1;
	}
	errno = 0;
	old = durable_slurp(path, &st);
	if (old == NULL && errno != ENOENT) {
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		goto out;
	}
	out = open_memstream(&newbuf, &newlen);
	if (out == NULL) {
		*err = xasprintf("cannot edit %s: %s", path, strerror(errno));
		goto out;
	}
	if (fn(old ? old : (char *)"", out, arg, err) == -1) {
		fclose(out);
		goto out;
	}
	fclose(out);
	if (durable_write_file(path, newbuf, newlen, mode) == -1) {
		*err = xasprintf("cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	give_to_dir_owner(path);
	rc = 0;
out:
	free(old);
	free(newbuf);
	close(lfd);
	return rc;
}
