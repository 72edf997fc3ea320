/*
 * Local delivery thread. Order for each batch, so that a crash at any
 * point loses nothing:
 *   write Maildir tmp/ files -> sync -> rename into new/ -> sync ->
 *   report to the scheduler, which records the result and removes the
 *   queue file.
 * A crash after a rename and before the record would deliver again what
 * arrived; the names make that visible: KEY = "ARRIVAL.QidRrcptMk" (k the
 * mailbox's place in the recipient's list), so a check job skips every
 * copy already in new/ or cur/ and duplicates nothing.
 */
#include "deliver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/maildir.h"
#include "queue/spool.h"

#define BATCH_MAX 256

struct job {
	struct job *next;
	char id[SPOOL_ID_LEN + 1];
	size_t *rcpts;
	size_t n;
	bool check;			/* look for copies of an earlier try */
	struct local_result *res;	/* filled by the thread */
	size_t nres;
	size_t found;			/* copies found by the check */
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

/* A copy by recipient and mailbox place: what a check found. */
struct copy {
	size_t rcpt, k;
};

/* A Maildir the check could not read: its recipients wait for a retry
 * (the deferral says why) rather than risk a second copy. */
struct unreadable {
	char *dir;
	int err;
};

/* The copies of one message already delivered. */
struct check {
	struct copy *found;
	size_t nfound, cap;
	struct unreadable *bad;
	size_t nbad;
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

/* The Maildir of mailbox mb ("DOMAIN/LOCAL") for msg: Junk is the
 * Maildir++ folder .Junk/ (SPEC 6.7). */
static void
maildir_path(char *buf, size_t len, const struct deliver *d, const struct spool_msg *msg,
    const char *mb)
{
	snprintf(buf, len, "%s/mail/%s%s%s", d->data_dir, mb, msg->folder ? "/." : "",
	    msg->folder ? msg->folder : "");
}

static int
cmp_copy(const void *a, const void *b)
{
	const struct copy *x = a, *y = b;

	if (x->rcpt != y->rcpt)
		return x->rcpt < y->rcpt ? -1 : 1;
	return x->k < y->k ? -1 : x->k > y->k;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* maildir_scan callback: rest is "RCPTMK" of a key of this message. */
static void
on_copy(void *arg, const char *rest, size_t len)
{
	struct check *c = arg;
	char buf[64], *end, *m;
	uintmax_t rcpt, k;

	if (len >= sizeof(buf))
		return;
	memcpy(buf, rest, len);
	buf[len] = '\0';
	if ((m = strchr(buf, 'M')) == NULL || m == buf || m[1] == '\0')
		return;
	*m = '\0';
	errno = 0;
	rcpt = strtoumax(buf, &end, 10);
	if (*end != '\0' || errno != 0)
		return;
	k = strtoumax(m + 1, &end, 10);
	if (*end != '\0' || errno != 0)
		return;
	if (c->nfound == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->found = xrealloc(c->found, c->cap * sizeof(*c->found));
	}
	c->found[c->nfound].rcpt = (size_t)rcpt;
	c->found[c->nfound++].k = (size_t)k;
}

/*
 * Looks once in each Maildir of job j's recipients for the copies an
 * earlier try of this message put there.
 */
static void
check_copies(const struct deliver *d, const struct job *j, const struct spool_msg *msg,
    const char *prefix, struct check *c)
{
	char **dirs = NULL, mdir[PATH_MAX];
	size_t ndirs = 0, cap = 0;

	for (size_t i = 0; i < j->n; i++) {
		char *mbs, *save = NULL, *mb;
		if (j->rcpts[i] >= msg->env.nrcpts)
			continue;
		mbs = xstrdup(msg->env.rcpts[j->rcpts[i]].mailbox);
		for (mb = strtok_r(mbs, ",", &save); mb; mb = strtok_r(NULL, ",", &save)) {
			if (ndirs == cap) {
				cap = cap ? cap * 2 : 16;
				dirs = xrealloc(dirs, cap * sizeof(*dirs));
			}
			maildir_path(mdir, sizeof(mdir), d, msg, mb);
			dirs[ndirs++] = xstrdup(mdir);
		}
		free(mbs);
	}
	if (ndirs > 1)
		qsort(dirs, ndirs, sizeof(*dirs), cmp_str);
	for (size_t i = 0; i < ndirs; i++) {
		if (i > 0 && strcmp(dirs[i], dirs[i - 1]) == 0)
			continue;
		if (maildir_scan(dirs[i], prefix, on_copy, c) == -1) {
			c->bad = xrealloc(c->bad, (c->nbad + 1) * sizeof(*c->bad));
			c->bad[c->nbad].err = errno;
			c->bad[c->nbad++].dir = xstrdup(dirs[i]);
		}
	}
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	if (c->nfound > 1)
		qsort(c->found, c->nfound, sizeof(*c->found), cmp_copy);
}

/* The errno of a Maildir the check could not read, else 0. */
static int
unreadable(const struct check *c, const char *mdir)
{
	for (size_t i = 0; i < c->nbad; i++)
		if (strcmp(c->bad[i].dir, mdir) == 0)
			return c->bad[i].err;
	return 0;
}

static void
check_clear(struct check *c)
{
	for (size_t i = 0; i < c->nbad; i++)
		free(c->bad[i].dir);
	free(c->bad);
	free(c->found);
	memset(c, 0, sizeof(*c));
}

static void
run_batch(struct deliver *d, struct job *list)
{
	struct pending *pend = NULL;
	size_t npend = 0, cap = 0, found = 0;
	char mdir[PATH_MAX];
	int st;

	for (struct job *j = list; j != NULL; j = j->next) {
		struct spool_msg msg;
		struct check chk;
		char key[MAILDIR_KEY_MAX + 1];
		int rc = spool_load(d->data_dir, j->id, &msg), klen;

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
		/* the part of the key common to the whole message */
		klen = snprintf(key, sizeof(key), "%lld.Q%sR", (long long)msg.env.time, j->id);
		memset(&chk, 0, sizeof(chk));
		if (j->check)
			check_copies(d, j, &msg, key, &chk);
		for (size_t i = 0; i < j->n; i++) {
			struct spool_rcpt *r;
			char *mbs, *save = NULL, *mb, *head;
			size_t hlen, k = 0;
			int bad;

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
			for (mb = strtok_r(mbs, ",", &save); mb;
			    mb = strtok_r(NULL, ",", &save), k++) {
				struct copy want = { j->rcpts[i], k };
				maildir_path(mdir, sizeof(mdir), d, &msg, mb);
				if (chk.nfound > 0 && bsearch(&want, chk.found, chk.nfound,
				    sizeof(want), cmp_copy) != NULL) {
					j->found++;
					found++;
					continue;	/* arrived before the crash */
				}
				if (chk.nbad > 0 && (bad = unreadable(&chk, mdir)) != 0) {
					set_fail(&j->res[i], mb, bad);
					continue;
				}
				if (npend == cap) {
					cap = cap ? cap * 2 : 64;
					pend = xrealloc(pend, cap * sizeof(*pend));
				}
				snprintf(key + klen, sizeof(key) - (size_t)klen, "%zuM%zu", j->rcpts[i], k);
				if (maildir_write(mdir, key, head, hlen, msg.data, msg.datalen,
				    &pend[npend].file) == -1) {
					set_fail(&j->res[i], mb, errno);
					continue;
				}
				pend[npend++].res = &j->res[i];
			}
			key[klen] = '\0';
			free(mbs);
			free(head);
		}
		check_clear(&chk);
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
	/* The renames durable before anyone removes the queue file, and so
	 * are the copies a check found (renamed just before a crash, maybe
	 * not synced yet). If this sync fails we cannot tell which renames
	 * made it: report failure; the retry checks for them (the scheduler
	 * asks for a check once a recipient was tried), so it duplicates
	 * nothing and loses nothing. */
	if ((npend > 0 || found > 0) && (st = groupsync_wait(d->gs)) != 0) {
		for (size_t i = 0; i < npend; i++)
			set_fail(pend[i].res, "sync", st);
		for (struct job *j = list; j != NULL; j = j->next)
			for (size_t i = 0; j->found > 0 && i < j->nres; i++)
				set_fail(&j->res[i], "sync", st);
	}
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
		if (list->check)
			log_event("delivery_check", "id=%s rcpts=%zu found=%zu", list->id, list->n,
			    list->found);
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
deliver_enqueue(struct deliver *d, const char *id, const size_t *rcpts, size_t n, bool check)
{
	struct job *j = xcalloc(1, sizeof(*j));

	snprintf(j->id, sizeof(j->id), "%s", id);
	j->check = check;
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
