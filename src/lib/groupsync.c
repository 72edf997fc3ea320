/*
 * Group commit thread. Tickets: a request made while sync N runs gets
 * ticket N+1 and completes when sync N+1 is done, because sync N may
 * have started before the caller's data was written. Syncs start at
 * least GROUPSYNC_GAP_NS apart, so that under load one covers the
 * requests of a few milliseconds instead of one or two.
 */
#include "groupsync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "xmalloc.h"

/*
 * Why GROUPSYNC_GAP_NS (groupsync.h): a syncfs() costs about the same
 * whatever it covers (waking the flusher, walking the block device's
 * dirty pages, writing the inode table and directory blocks the files
 * share, a cache flush), and run back to back under load each covered
 * fewer than two requests. bench/pipeline.sh, 15 alternating pairs of
 * runs (issue 18): 4 ms cut the syncs from about one to about 0.3 per
 * message, the sync thread's CPU by more than half, the block writes by
 * ~45% and postern's CPU per message by ~6% (msg/s +7%), with no change
 * in the time to the 250 that the noise would show. Measured and not
 * kept: fdatasync() of exactly the files written plus their directories
 * (one or two threads: more CPU, longer waits), sync_file_range() after
 * each write (no gain).
 */

struct gs_request {
	struct gs_request *next;
	unsigned long ticket;
	groupsync_cb *cb;
	void *arg;
	int fd;			/* to cut and close before the sync, or -1 */
	long long cut;		/* length to cut fd to, or -1 */
	int status;		/* errno of that, 0 when fine */
};

/* The files one sync closes first, taken from the requests it covers. */
struct gs_file {
	struct gs_request *r;
	int fd;
	long long cut;
};

struct groupsync {
	int fd;			/* any fd on the file system: syncfs target */
	int pipe[2];		/* sync thread -> event loop wakeups */
	struct event *ev;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;	/* wakes the sync thread and waiting workers */
	unsigned long started;	/* ticket of the sync running or last run */
	unsigned long done;	/* ticket of the last completed sync */
	unsigned long wanted;	/* highest ticket requested */
	int last_status;	/* errno of the last sync, 0 when fine */
	struct timespec last_start;	/* CLOCK_MONOTONIC, of the last sync */
	bool stop;
	struct gs_request *pending, **pending_tail;
	unsigned long count;
};

/*
 * Under the lock: the files of the requests this sync covers (their
 * ticket is at most the one starting), not yet closed. The requests stay
 * in the list until their sync is done, so r stays valid after the lock
 * is let go; only this thread writes r->status, before the sync it
 * reports, and the loop reads it after.
 */
static struct gs_file *
take_files(struct groupsync *gs, size_t *n, size_t *cap, struct gs_file *files)
{
	*n = 0;
	for (struct gs_request *r = gs->pending; r != NULL; r = r->next) {
		if (r->fd == -1 || r->ticket > gs->started)
			continue;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 64;
			files = xrealloc(files, *cap * sizeof(*files));
		}
		files[(*n)++] = (struct gs_file){ r, r->fd, r->cut };
		r->fd = -1;
	}
	return files;
}

/* The cut can free blocks (and wait for a discard), the close can flush:
 * both here, off the event loop, before the sync that covers them. */
static void
close_files(struct gs_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int status = 0;
		if (files[i].cut >= 0 && ftruncate(files[i].fd, (off_t)files[i].cut) == -1)
			status = errno;
		if (close(files[i].fd) == -1 && status == 0)
			status = errno;
		files[i].r->status = status;
	}
}

/* Sleeps until GROUPSYNC_GAP_NS after the last sync's start, when that
 * is still ahead. Called unlocked. */
static void
wait_gap(const struct timespec *last)
{
	struct timespec now, until = clock_add_ns(*last, GROUPSYNC_GAP_NS);

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!clock_before(&now, &until))
		return;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

static void *
sync_thread(void *arg)
{
	struct groupsync *gs = arg;
	struct gs_file *files = NULL;
	size_t nfiles = 0, capfiles = 0;
	char byte = 1;

	pthread_mutex_lock(&gs->lock);
	for (;;) {
		int rc, status;
		while (gs->wanted <= gs->done && !gs->stop)
			pthread_cond_wait(&gs->cond, &gs->lock);
		if (gs->wanted <= gs->done && gs->stop)
			break;
		if (!gs->stop) {
			/* started is not moved yet: whoever asks while this
			 * sleeps gets the ticket of the sync after it */
			pthread_mutex_unlock(&gs->lock);
			wait_gap(&gs->last_start);
			pthread_mutex_lock(&gs->lock);
		}
		gs->started = gs->done + 1;
		files = take_files(gs, &nfiles, &capfiles, files);
		pthread_mutex_unlock(&gs->lock);
		close_files(files, nfiles);
		clock_gettime(CLOCK_MONOTONIC, &gs->last_start);
		rc = syncfs(gs->fd);
		status = rc == -1 ? errno : 0;
		pthread_mutex_lock(&gs->lock);
		gs->done = gs->started;
		gs->last_status = status;
		gs->count++;
		pthread_cond_broadcast(&gs->cond);
		if (gs->pending != NULL)
			(void)!write(gs->pipe[1], &byte, 1);
	}
	pthread_mutex_unlock(&gs->lock);
	free(files);
	return NULL;
}

/* Runs the callbacks whose sync has completed, on the loop thread. */
static void
deliver_results(struct groupsync *gs, bool all)
{
	struct gs_request *ready = NULL, **tail = &ready, *r;
	int status;

	pthread_mutex_lock(&gs->lock);
	status = gs->last_status;
	while (gs->pending != NULL && (all || gs->pending->ticket <= gs->done)) {
		r = gs->pending;
		gs->pending = r->next;
		r->next = NULL;
		*tail = r;
		tail = &r->next;
	}
	if (gs->pending == NULL)
		gs->pending_tail = &gs->pending;
	pthread_mutex_unlock(&gs->lock);
	while ((r = ready) != NULL) {
		ready = r->next;
		if (r->fd != -1) {
			/* never reached by a sync (groupsync_free): closed,
			 * and not durable */
			close(r->fd);
			r->status = r->status ? r->status : EIO;
		}
		r->cb(r->arg, r->status ? r->status : status);
		free(r);
	}
}

static void
on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];

	(void)what;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	deliver_results(arg, false);
}

struct groupsync *
groupsync_new(struct event_base *base, const char *path)
{
	struct groupsync *gs = xcalloc(1, sizeof(*gs));

	gs->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (gs->fd == -1) {
		free(gs);
		return NULL;
	}
	if (pipe2(gs->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		close(gs->fd);
		free(gs);
		return NULL;
	}
	pthread_mutex_init(&gs->lock, NULL);
	pthread_cond_init(&gs->cond, NULL);
	gs->pending_tail = &gs->pending;
	if (base != NULL) {
		gs->ev = event_new(base, gs->pipe[0], EV_READ | EV_PERSIST, on_wakeup, gs);
		event_add(gs->ev, NULL);
	}
	if (pthread_create(&gs->thread, NULL, sync_thread, gs) != 0) {
		int saved = errno;
		if (gs->ev)
			event_free(gs->ev);
		close(gs->pipe[0]);
		close(gs->pipe[1]);
		close(gs->fd);
		free(gs);
		errno = saved;
		return NULL;
	}
	/* so that top -H and perf show what the thread costs */
	pthread_setname_np(gs->thread, "groupsync");
	return gs;
}

void
groupsync_free(struct groupsync *gs)
{
	if (gs == NULL)
		return;
	pthread_mutex_lock(&gs->lock);
	gs->stop = true;
	pthread_cond_broadcast(&gs->cond);
	pthread_mutex_unlock(&gs->lock);
	pthread_join(gs->thread, NULL);
	/* Every ticket handed out is now done: run what is left. */
	deliver_results(gs, true);
	if (gs->ev)
		event_free(gs->ev);
	close(gs->pipe[0]);
	close(gs->pipe[1]);
	close(gs->fd);
	pthread_mutex_destroy(&gs->lock);
	pthread_cond_destroy(&gs->cond);
	free(gs);
}

void
groupsync_request(struct groupsync *gs, groupsync_cb *cb, void *arg)
{
	groupsync_request_close(gs, -1, -1, cb, arg);
}

void
groupsync_request_close(struct groupsync *gs, int fd, long long cut, groupsync_cb *cb, void *arg)
{
	struct gs_request *r = xcalloc(1, sizeof(*r));

	r->cb = cb;
	r->arg = arg;
	r->fd = fd;
	r->cut = cut;
	pthread_mutex_lock(&gs->lock);
	r->ticket = gs->started + 1;
	if (gs->wanted < r->ticket)
		gs->wanted = r->ticket;
	*gs->pending_tail = r;
	gs->pending_tail = &r->next;
	pthread_cond_broadcast(&gs->cond);
	pthread_mutex_unlock(&gs->lock);
}

int
groupsync_wait(struct groupsync *gs)
{
	unsigned long ticket;
	int status;

	pthread_mutex_lock(&gs->lock);
	ticket = gs->started + 1;
	if (gs->wanted < ticket)
		gs->wanted = ticket;
	pthread_cond_broadcast(&gs->cond);
	while (gs->done < ticket)
		pthread_cond_wait(&gs->cond, &gs->lock);
	status = gs->last_status;
	pthread_mutex_unlock(&gs->lock);
	return status;
}

unsigned long
groupsync_count(struct groupsync *gs)
{
	unsigned long n;

	pthread_mutex_lock(&gs->lock);
	n = gs->count;
	pthread_mutex_unlock(&gs->lock);
	return n;
}
