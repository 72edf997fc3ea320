/*
 * The key reader process (keyreader.h). Least privilege: it reads only
 * the files named by the configuration file it re-reads itself, never a
 * path the server sends, and refuses a configuration the server's own
 * user could rewrite; it holds CAP_DAC_READ_SEARCH alone (or, when that
 * capability is not in the bounding set, root's ownership of root's files
 * and no capability at all), no_new_privs, no other descriptor than its
 * socket. The server asks with one byte; the answer is a list of records
 * (type octet, 32-bit length, data) closed by an end record.
 */
#include "keyreader.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "durable.h"
#include "xmalloc.h"

#define KEYREADER_WAIT_MS 10000		/* for an answer: local file reads */
#define KEYREADER_ERROR_MAX 512

enum { REC_CERT_PATH = 'c', REC_CERT = 'C', REC_KEY_PATH = 'k', REC_KEY = 'K',
	REC_ERROR = 'E', REC_END = '.' };

struct keyreader {
	int fd;			/* our end of the socketpair */
	pid_t pid;
};

/* ---- the reader (child) side ---------------------------------------- */

static int
send_record(int fd, char type, const void *data, size_t len)
{
	unsigned char hdr[5];

	hdr[0] = (unsigned char)type;
	hdr[1] = (unsigned char)(len >> 24);
	hdr[2] = (unsigned char)(len >> 16);
	hdr[3] = (unsigned char)(len >> 8);
	hdr[4] = (unsigned char)len;
	if (durable_write_all(fd, hdr, sizeof(hdr)) == -1)
		return -1;
	return len ? durable_write_all(fd, data, len) : 0;
}

static void __attribute__((format(printf, 2, 3)))
send_error(int fd, const char *fmt, ...)
{
	char msg[KEYREADER_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_record(fd, REC_ERROR, msg, strlen(msg));
}

/* A regular file of at most KEYREADER_FILE_MAX (O_NONBLOCK: a FIFO in its
 * place must not hang the reader). Symbolic links are followed: certbot's
 * live/ names are links into archive/. */
static char *
read_file(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > KEYREADER_FILE_MAX) {
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (r = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

static void
send_file(int fd, char path_type, char data_type, const char *what, const char *path)
{
	char *data;
	size_t len = 0;

	send_record(fd, path_type, path, strlen(path));
	if ((data = read_file(path, &len)) == NULL) {
		send_error(fd, "cannot load %s %s: %s", what, path, errno == EINVAL ?
		    "not a regular file of at most 1 MiB" : strerror(errno));
		return;
	}
	send_record(fd, data_type, data, len);
	explicit_bzero(data, len);
	free(data);
}

static void
answer(int fd, const char *config_path, uid_t server_uid, gid_t server_gid)
{
	struct config cfg;
	struct config_diag diag = { 0 };
	struct stat st;

	/* the server's user must not be able to choose what is read */
	if (stat(config_path, &st) == -1) {
		send_error(fd, "cannot read the configuration %s: %s", config_path, strerror(errno));
	} else if (st.st_uid == server_uid || (st.st_mode & S_IWOTH) ||
	    ((st.st_mode & S_IWGRP) && st.st_gid == server_gid)) {
		send_error(fd, "%s is writable by the user the server runs as: keys are not re-read "
		    "through it (make it root's, mode 0644 or 0640)", config_path);
	} else if (config_load(config_path, &cfg, &diag) > 0) {
		send_error(fd, "%s", diag.n ? diag.msgs[0] : "configuration error");
		config_clear(&cfg);
	} else {
		if (cfg.tls_cert != NULL)
			send_file(fd, REC_CERT_PATH, REC_CERT, "certificate", cfg.tls_cert);
		if (cfg.tls_key != NULL)
			send_file(fd, REC_KEY_PATH, REC_KEY, "key", cfg.tls_key);
		config_clear(&cfg);
	}
	config_diag_clear(&diag);
	send_record(fd, REC_END, NULL, 0);
}

static int
cap_syscall(long nr, uint32_t permitted, uint32_t effective, uint32_t *got)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].permitted = permitted;
	d[0].effective = effective;
	if (syscall(nr, &h, d) == -1)
		return -1;
	if (got != NULL)
		*got = d[0].permitted;
	return 0;
}

/*
 * From root to the least that still reads a root-only key: the server's
 * user plus CAP_DAC_READ_SEARCH (it can then read any file but write none
 * of root's), or, when that capability is not ours to keep (a systemd
 * unit's CapabilityBoundingSet), root without any capability, which still
 * reads root's own 0600 files as their owner.
 */
static int
lower_privileges(const struct passwd *pw)
{
	const uint32_t read_cap = 1u << CAP_DAC_READ_SEARCH;
	uint32_t permitted = 0;

	if (geteuid() != 0 || pw == NULL)
		return 0;
	if (cap_syscall(SYS_capget, 0, 0, &permitted) == -1)
		return -1;
	for (int c = 0; c <= 63; c++)
		if (c != CAP_DAC_READ_SEARCH && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1 &&
		    errno != EINVAL)
			break;	/* without CAP_SETPCAP: the capset below still holds */
	if (permitted & read_cap) {
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1 || setgroups(0, NULL) == -1 ||
		    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1)
			return -1;
		if (cap_syscall(SYS_capset, read_cap, read_cap, NULL) == -1)
			return -1;
	} else if (cap_syscall(SYS_capset, 0, 0, NULL) == -1)
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

static void __attribute__((noreturn))
reader_main(int fd, pid_t parent, const char *config_path, const struct passwd *pw)
{
	uid_t uid = pw ? pw->pw_uid : (uid_t)-1;
	gid_t gid = pw ? pw->pw_gid : (gid_t)-1;
	char c;

	/* never outlive the server; a terminal's hangup or ^C is for it */
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (getppid() != parent)
		_exit(0);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (dup2(fd, 3) == -1)
		_exit(1);
	close_range(4, ~0U, 0);
	fd = 3;
	if (lower_privileges(pw) == -1) {
		int e = errno;
		/* answer every request with the reason, read nothing */
		while (read(fd, &c, 1) == 1) {
			send_error(fd, "the key reader cannot lower its privileges: %s", strerror(e));
			send_record(fd, REC_END, NULL, 0);
		}
		_exit(1);
	}
	for (;;) {
		ssize_t r = read(fd, &c, 1);
		if (r == 0)
			_exit(0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		answer(fd, config_path, uid, gid);
	}
}

/* ---- the server side ------------------------------------------------- */

struct keyreader *
keyreader_start(const char *config_path, const char *user, char **err)
{
	struct keyreader *kr;
	struct passwd *pw = NULL, pwcopy;
	int sv[2];
	pid_t pid, parent = getpid();
	char *path;

	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		*err = xasprintf("key reader: user %s does not exist", user);
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		*err = xasprintf("key reader: socketpair: %s", strerror(errno));
		return NULL;
	}
	if (pw != NULL)
		pwcopy = *pw;
	path = xstrdup(config_path);
	if ((pid = fork()) == -1) {
		*err = xasprintf("key reader: fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(path);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		reader_main(sv[1], parent, path, pw ? &pwcopy : NULL);
	}
	free(path);
	close(sv[1]);
	kr = xcalloc(1, sizeof(*kr));
	kr->fd = sv[0];
	kr->pid = pid;
	return kr;
}

static int
read_exact(int fd, void *buf, size_t len, const struct timespec *deadline)
{
	size_t got = 0;

	while (got < len) {
		struct timespec now;
		struct pollfd p = { fd, POLLIN, 0 };
		long ms;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (deadline->tv_sec - now.tv_sec) * 1000 +
		    (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&p, 1, (int)ms) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p.revents == 0)
			continue;
		r = read(fd, (char *)buf + got, len - got);
		if (r == 0) {
			errno = EPIPE;
			return -1;
		}
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
keyreader_fetch(struct keyreader *kr, struct keyfiles *out, char **err)
{
	struct timespec deadline;
	char *error = NULL;
	char req = 'R';

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += KEYREADER_WAIT_MS / 1000;
	if (durable_write_all(kr->fd, &req, 1) == -1) {
		*err = xasprintf("the key reader is gone (%s): restart postern to re-read keys",
		    strerror(errno));
		return -1;
	}
	for (int n = 0; n < 16; n++) {
		unsigned char hdr[5];
		size_t len;
		char *data, **slot = NULL;
		size_t *lenslot = NULL;

		if (read_exact(kr->fd, hdr, sizeof(hdr), &deadline) == -1)
			break;
		if (hdr[0] == REC_END) {
			if (error != NULL) {
				*err = error;
				keyfiles_clear(out);
				return -1;
			}
			return 0;
		}
		len = (size_t)hdr[1] << 24 | (size_t)hdr[2] << 16 | (size_t)hdr[3] << 8 | hdr[4];
		if (len > KEYREADER_FILE_MAX) {
			errno = EPROTO;
			break;
		}
		data = xmalloc(len + 1);
		if (read_exact(kr->fd, data, len, &deadline) == -1) {
			free(data);
			break;
		}
		data[len] = '\0';
		switch (hdr[0]) {
		case REC_CERT_PATH: slot = &out->cert_path; break;
		case REC_KEY_PATH: slot = &out->key_path; break;
		case REC_CERT: slot = &out->cert; lenslot = &out->cert_len; break;
		case REC_KEY: slot = &out->key; lenslot = &out->key_len; break;
		case REC_ERROR: slot = &error; break;
		}
		if (hdr[0] == REC_ERROR && error != NULL) {
			free(data);	/* the first reason is enough */
			continue;
		}
		if (slot == NULL || *slot != NULL) {
			free(data);
			errno = EPROTO;
			break;
		}
		*slot = data;
		if (lenslot != NULL)
			*lenslot = len;
	}
	*err = xasprintf("no answer from the key reader: %s", strerror(errno));
	free(error);
	keyfiles_clear(out);
	return -1;
}

void
keyfiles_clear(struct keyfiles *f)
{
	free(f->cert_path);
	free(f->key_path);
	free(f->cert);
	if (f->key != NULL) {
		explicit_bzero(f->key, f->key_len);
		free(f->key);
	}
	memset(f, 0, sizeof(*f));
}

void
keyreader_free(struct keyreader *kr)
{
	if (kr == NULL)
		return;
	close(kr->fd);
	/* it exits on the end of its socket; bounded anyway */
	for (int i = 0; i < 100; i++) {
		if (waitpid(kr->pid, NULL, WNOHANG) != 0)
			goto done;
		usleep(20000);
	}
	kill(kr->pid, SIGKILL);
	waitpid(kr->pid, NULL, 0);
done:
	free(kr);
}
