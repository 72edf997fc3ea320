/*
 * Tests of groupsync_request_close (src/lib/groupsync.h): the sync
 * thread cuts and closes the file handed over before the sync that
 * answers the request; a file it cannot close fails that request alone;
 * files still waiting at groupsync_free are closed and their requests
 * answered. Real files in a temporary directory, a real thread.
 */
#include "unit.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/groupsync.h"

struct answer {
	bool done;
	int status;
	int *left;
	struct event_base *base;
};

static void
on_done(void *arg, int status)
{
	struct answer *a = arg;

	a->done = true;
	a->status = status;
	if (a->left != NULL && --*a->left == 0 && a->base != NULL)
		event_base_loopbreak(a->base);
}

/* A file of len octets under dir; its fd. */
static int
make_file(const char *dir, const char *name, size_t len)
{
	char path[512], buf[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	memset(buf, 'x', sizeof(buf));
	for (size_t done = 0; done < len;) {
		size_t n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		done += n;
	}
	return fd;
}

static long long
size_of(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(stat(path, &st), 0);
	return (long long)st.st_size;
}

static void
run(struct event_base *base)
{
	struct timeval tv = { 10, 0 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
test_cut_and_close(void **state)
{
	char dir[] = "/tmp/postern-gs-XXXXXX";
	struct event_base *base = event_base_new();
	struct groupsync *gs;
	int left = 4, cut_fd, whole_fd, gone_fd;
	struct answer cut = { .left = &left, .base = base }, whole = cut, gone = cut, plain = cut;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_non_null(gs = groupsync_new(base, dir));
	/* a reused queue file longer than its new message: cut to it */
	cut_fd = make_file(dir, "cut", 20000);
	whole_fd = make_file(dir, "whole", 3000);
	/* a descriptor already closed: that request fails, alone */
	gone_fd = make_file(dir, "gone", 10);
	close(gone_fd);
	groupsync_request_close(gs, cut_fd, 1234, on_done, &cut);
	groupsync_request_close(gs, whole_fd, -1, on_done, &whole);
	groupsync_request_close(gs, gone_fd, -1, on_done, &gone);
	groupsync_request(gs, on_done, &plain);
	run(base);
	assert_true(cut.done && whole.done && gone.done && plain.done);
	assert_int_equal(cut.status, 0);
	assert_int_equal(whole.status, 0);
	assert_int_equal(gone.status, EBADF);
	assert_int_equal(plain.status, 0);
	assert_int_equal(size_of(dir, "cut"), 1234);
	assert_int_equal(size_of(dir, "whole"), 3000);
	/* both closed by the sync thread */
	assert_int_equal(fcntl(cut_fd, F_GETFD), -1);
	assert_int_equal(fcntl(whole_fd, F_GETFD), -1);
	assert_true(groupsync_count(gs) >= 1);
	groupsync_free(gs);
	event_base_free(base);
	{
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

/* Stopped with requests waiting: each answered once, its file closed. */
static void
test_free_closes_waiting_files(void **state)
{
	char dir[] = "/tmp/postern-gs-XXXXXX", cmd[600];
	struct groupsync *gs;
	struct answer a[8];
	int fds[8];

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* no loop: the answers come at groupsync_free */
	assert_non_null(gs = groupsync_new(NULL, dir));
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		fds[i] = make_file(dir, name, 5000);
		a[i] = (struct answer){ 0 };
		groupsync_request_close(gs, fds[i], 100, on_done, &a[i]);
	}
	groupsync_free(gs);
	for (int i = 0; i < 8; i++) {
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		assert_true(a[i].done);
		assert_int_equal(fcntl(fds[i], F_GETFD), -1);
		/* cut before a sync (status 0), or closed unsynced (EIO) */
		if (a[i].status == 0)
			assert_int_equal(size_of(dir, name), 100);
		else
			assert_int_equal(a[i].status, EIO);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_and_close),
		cmocka_unit_test(test_free_closes_waiting_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
