/*
 * Group commit thread. Tickets: a request made while sync N runs gets
 * ticket N+1 and completes when sync N+1 is done, because sync N may
 * have started before the caller's data was written.
 */
#include "groupsync.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "xmalloc.h"

struct gs_request {
	struct gs_request *next;
	unsigned long ticket;
	groupsync_cb *cb;
	void *arg;
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
	bool stop;
	struct gs_request *pending, **pending_tail;
	unsigned long count;
};

static void *
sync_thread(void *arg)
{
	struct groupsync *gs = arg;
	char byte = 1;

	pthread_mutex_lock(&gs->lock);
	for (;;) {
		int rc, status;
		while (gs->wanted <= gs->done && !gs->stop)
			pthread_cond_wait(&gs->cond, &gs->lock);
		if (gs->wanted <= gs->done && gs->stop)
			break;
		gs->started = gs->done + 1;
		pthread_mutex_unlock(&gs->lock);
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
		r->cb(r->arg, status);
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
	struct gs_request *r = xcalloc(1, sizeof(*r));

	r->cb = cb;
	r->arg = arg;
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
