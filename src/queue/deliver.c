/*
 * Local delivery thread. Order for each batch, so that a crash at any
 * point loses nothing and duplicates at worst:
 *   write Maildir tmp/ files -> sync -> rename into new/ -> sync ->
 *   report to the scheduler, which records the result and removes the
 *   queue file.
 */
#include "deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "queue/maildir.h"
#include "queue/spool.h"

#define BATCH_MAX 256

struct job {
	struct job *next;
	char id[SPOOL_ID_LEN + 1];
	size_t *rcpts;
	size_t n;
	struct local_result *res;	/* filled by the thread */
	size_t nres;
};

struct deliver {
	char *data_dir;
	struct groupsync *gs;
	deliver_done_cb *cb;
	void *arg;
	struct event *ev;		/* wakeup pipe: results ready */
	int pipe[2];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *todo, **todo_tail;
	struct job *done, **done_tail;
	bool stop;
};

/* One Maildir file being written for a job's recipient. */
struct pending {
	struct maildir_file file;
	struct local_result *res;
};

static void
set_fail(struct local_result *r, const char *what, int err)
{
	if (!r->ok)
		return;		/* keep the first reason */
	r->ok = false;
	/* a missing or unwritable mailbox directory is a local problem an
	 * administrator fixes: always retried, never a bounce */
	r->permanent = false;
	snprintf(r->reason, sizeof(r->reason), "%s: %s", what, strerror(err));
}

static void
run_batch(struct deliver *d, struct job *list)
{
	struct pending *pend = NULL;
	size_t npend = 0, cap = 0;
	char mdir[PATH_MAX];
	int st;

	for (struct job *j = list; j != NULL; j = j->next) {
		struct spool_msg msg;
		int rc = spool_load(d->data_dir, j->id, &msg);

		j->res = xcalloc(j->n, sizeof(*j->res));
		j->nres = j->n;
		for (size_t i = 0; i < j->n; i++) {
			j->res[i].rcpt = j->rcpts[i];
			j->res[i].ok = true;
		}
		if (rc != 0) {
			for (size_t i = 0; i < j->n; i++)
				set_fail(&j->res[i], "queue file", rc == 1 ? EINVAL : errno);
			continue;
		}
		for (size_t i = 0; i < j->n; i++) {
			struct spool_rcpt *r;
			char *mbs, *save = NULL, *mb, *head;
			size_t hlen;

			if (j->rcpts[i] >= msg.env.nrcpts) {
				set_fail(&j->res[i], "recipient", EINVAL);
				continue;
			}
			r = &msg.env.rcpts[j->rcpts[i]];
			/* Return-Path and Delivered-To as a local delivery
			 * agent adds them, then the scan's headers. */
			head = xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n%s",
			    msg.env.from, r->addr, msg.headers ? msg.headers : "");
			hlen = strlen(head);
			mbs = xstrdup(r->mailbox);
			for (mb = strtok_r(mbs, ",", &save); mb; mb = strtok_r(NULL, ",", &save)) {
				if (npend == cap) {
					cap = cap ? cap * 2 : 64;
					pend = xrealloc(pend, cap * sizeof(*pend));
				}
				/* Junk is the Maildir++ folder .Junk/ (SPEC 6.7) */
				snprintf(mdir, sizeof(mdir), "%s/mail/%s%s%s", d->data_dir, mb,
				    msg.folder ? "/." : "", msg.folder ? msg.folder : "");
				if (maildir_write(mdir, head, hlen, msg.data, msg.datalen,
				    &pend[npend].file) == -1) {
					set_fail(&j->res[i], mb, errno);
					continue;
				}
				pend[npend++].res = &j->res[i];
			}
			free(mbs);
			free(head);
		}
		spool_msg_clear(&msg);
	}

	/* The data of every tmp/ file on disk before any shows in new/. */
	if (npend > 0 && (st = groupsync_wait(d->gs)) != 0) {
		for (size_t i = 0; i < npend; i++) {
			maildir_discard(&pend[i].file);
			set_fail(pend[i].res, "sync", st);
		}
		npend = 0;
	}
	for (size_t i = 0; i < npend; i++)
		if (maildir_publish(&pend[i].file) == -1) {
			set_fail(pend[i].res, "rename", errno);
			maildir_discard(&pend[i].file);
		}
	/* The renames durable before anyone removes the queue file. If this
	 * sync fails we cannot tell which renames made it: report failure,
	 * a retry may duplicate but never loses. */
	if (npend > 0 && (st = groupsync_wait(d->gs)) != 0)
		for (size_t i = 0; i < npend; i++)
			set_fail(pend[i].res, "sync", st);
	free(pend);
}

static void
free_job(struct job *j)
{
	free(j->rcpts);
	free(j->res);
	free(j);
}

/* Loop side: hands the finished jobs to the scheduler. */
static void
report(struct deliver *d)
{
	struct job *list;

	pthread_mutex_lock(&d->lock);
	list = d->done;
	d->done = NULL;
	d->done_tail = &d->done;
	pthread_mutex_unlock(&d->lock);
	while (list != NULL) {
		struct job *next = list->next;
		d->cb(d->arg, list->id, list->res, list->nres);
		free_job(list);
		list = next;
	}
}

static void
on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	report(arg);
}

static void *
deliver_thread(void *arg)
{
	struct deliver *d = arg;
	char byte = 1;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct job *batch, **tail, *w;
		size_t n = 0;

		while (d->todo == NULL && !d->stop)
			pthread_cond_wait(&d->cond, &d->lock);
		if (d->todo == NULL)
			break;
		batch = d->todo;
		tail = &batch;
		for (w = batch; w != NULL && n < BATCH_MAX; w = w->next, n++)
			tail = &w->next;
		d->todo = *tail;
		*tail = NULL;
		if (d->todo == NULL)
			d->todo_tail = &d->todo;
		pthread_mutex_unlock(&d->lock);
		run_batch(d, batch);
		pthread_mutex_lock(&d->lock);
		*d->done_tail = batch;
		while (*d->done_tail != NULL)
			d->done_tail = &(*d->done_tail)->next;
		(void)!write(d->pipe[1], &byte, 1);
		if (d->stop)
			break;
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

struct deliver *
deliver_start(struct event_base *base, const char *data_dir, struct groupsync *gs,
    deliver_done_cb *cb, void *arg)
{
	struct deliver *d = xcalloc(1, sizeof(*d));

	d->data_dir = xstrdup(data_dir);
	d->gs = gs;
	d->cb = cb;
	d->arg = arg;
	d->todo_tail = &d->todo;
	d->done_tail = &d->done;
	if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(d->data_dir);
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->ev = event_new(base, d->pipe[0], EV_READ | EV_PERSIST, on_wakeup, d);
	event_add(d->ev, NULL);
	if (pthread_create(&d->thread, NULL, deliver_thread, d) != 0) {
		event_free(d->ev);
		close(d->pipe[0]);
		close(d->pipe[1]);
		free(d->data_dir);
		free(d);
		return NULL;
	}
	return d;
}

void
deliver_enqueue(struct deliver *d, const char *id, const size_t *rcpts, size_t n)
{
	struct job *j = xcalloc(1, sizeof(*j));

	snprintf(j->id, sizeof(j->id), "%s", id);
	j->rcpts = xmalloc(n * sizeof(size_t) + 1);
	memcpy(j->rcpts, rcpts, n * sizeof(size_t));
	j->n = n;
	pthread_mutex_lock(&d->lock);
	*d->todo_tail = j;
	d->todo_tail = &j->next;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

void
deliver_stop(struct deliver *d)
{
	struct job *j;

	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	report(d);	/* what the last batch delivered is recorded */
	while ((j = d->todo) != NULL) {
		d->todo = j->next;
		free_job(j);
	}
	event_free(d->ev);
	close(d->pipe[0]);
	close(d->pipe[1]);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d->data_dir);
	free(d);
}
