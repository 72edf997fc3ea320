/*
 * Delivery thread. Order for each batch, so that a crash at any point
 * loses nothing and duplicates at worst:
 *   write Maildir tmp/ files -> sync -> rename into new/ -> sync ->
 *   remove queue files.
 * Failed recipients are retried with a growing delay; recipients already
 * delivered are recorded in the queue's .done sidecar first.
 */
#include "deliver.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "queue/maildir.h"
#include "queue/spool.h"

#define BATCH_MAX 256
#define RETRY_FIRST 60
#define RETRY_MAX 3600

struct work {
	struct work *next;
	char id[SPOOL_ID_LEN + 1];
	time_t not_before;	/* retry time, 0 for new work */
	unsigned attempts;
};

struct deliver {
	char *data_dir;
	struct groupsync *gs;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work *ready, **ready_tail;	/* FIFO of new work */
	struct work *retry;			/* unsorted, small */
	bool stop;
};

/* One file being delivered: which message and recipient it serves. */
struct pending {
	struct maildir_file file;
	size_t msg;		/* index in the batch */
	size_t rcpt;
	bool ok;
};

struct batch_msg {
	struct work *w;
	struct spool_msg msg;
	bool loaded;
	bool *failed;		/* per recipient */
	char **reason;		/* per recipient, first failure */
};

static void
fail_rcpt(struct batch_msg *bm, size_t r, const char *what, int err)
{
	bm->failed[r] = true;
	if (bm->reason[r] == NULL)
		bm->reason[r] = xasprintf("%s: %s", what, strerror(err));
}

static char *
delivery_head(const struct spool_msg *m, const struct spool_rcpt *r, size_t *len)
{
	/* Return-Path and Delivered-To as a local delivery agent adds them,
	 * then the scan's X-Spam-* headers. */
	char *h = xasprintf("Return-Path: <%s>\r\nDelivered-To: %s\r\n%s",
	    m->env.from, r->addr, m->headers ? m->headers : "");

	*len = strlen(h);
	return h;
}

static void
schedule_retry(struct deliver *d, struct work *w)
{
	unsigned delay = RETRY_FIRST;

	for (unsigned i = 1; i < w->attempts && delay < RETRY_MAX; i++)
		delay *= 2;
	if (delay > RETRY_MAX)
		delay = RETRY_MAX;
	w->not_before = time(NULL) + delay;
	pthread_mutex_lock(&d->lock);
	w->next = d->retry;
	d->retry = w;
	pthread_mutex_unlock(&d->lock);
}

static void
run_batch(struct deliver *d, struct work *list)
{
	struct batch_msg bms[BATCH_MAX];
	struct pending *pend = NULL;
	size_t nbm = 0, npend = 0, cap = 0;
	char mdir[PATH_MAX], q[LOG_VALUE_MAX], q2[LOG_VALUE_MAX];
	int st;

	for (struct work *w = list; w != NULL && nbm < BATCH_MAX; w = w->next) {
		struct batch_msg *bm = &bms[nbm++];
		int rc;

		memset(bm, 0, sizeof(*bm));
		bm->w = w;
		rc = spool_load(d->data_dir, w->id, &bm->msg);
		if (rc == 1) {
			log_event("error", "id=%s reason=\"queue file corrupt; removed\"", w->id);
			spool_remove(d->data_dir, w->id);
			continue;
		}
		if (rc == -1) {
			if (errno != ENOENT)
				log_event("error", "id=%s reason=%s", w->id,
				    log_quote(q, sizeof(q), strerror(errno), strlen(strerror(errno))));
			continue;
		}
		bm->loaded = true;
		bm->failed = xcalloc(bm->msg.env.nrcpts, sizeof(bool));
		bm->reason = xcalloc(bm->msg.env.nrcpts, sizeof(char *));
		for (size_t r = 0; r < bm->msg.env.nrcpts; r++) {
			struct spool_rcpt *rc_ = &bm->msg.env.rcpts[r];
			char *mbs, *save = NULL, *mb;
			size_t hlen;
			char *head;

			if (rc_->done)
				continue;
			head = delivery_head(&bm->msg, rc_, &hlen);
			mbs = xstrdup(rc_->mailbox);
			for (mb = strtok_r(mbs, ",", &save); mb; mb = strtok_r(NULL, ",", &save)) {
				if (npend == cap) {
					cap = cap ? cap * 2 : 64;
					pend = xrealloc(pend, cap * sizeof(*pend));
				}
				/* Junk is the Maildir++ folder .Junk/ (SPEC 6.7) */
				snprintf(mdir, sizeof(mdir), "%s/mail/%s%s%s", d->data_dir, mb,
				    bm->msg.folder ? "/." : "", bm->msg.folder ? bm->msg.folder : "");
				if (maildir_write(mdir, head, hlen, bm->msg.data,
				    bm->msg.datalen, &pend[npend].file) == -1) {
					fail_rcpt(bm, r, mb, errno);
					continue;
				}
				pend[npend].msg = nbm - 1;
				pend[npend].rcpt = r;
				pend[npend].ok = true;
				npend++;
			}
			free(mbs);
			free(head);
		}
	}

	/* Data of every tmp/ file on disk before any of them shows in new/. */
	if (npend > 0 && (st = groupsync_wait(d->gs)) != 0) {
		for (size_t i = 0; i < npend; i++) {
			maildir_discard(&pend[i].file);
			fail_rcpt(&bms[pend[i].msg], pend[i].rcpt, "sync", st);
		}
		npend = 0;
	}
	for (size_t i = 0; i < npend; i++)
		if (maildir_publish(&pend[i].file) == -1) {
			fail_rcpt(&bms[pend[i].msg], pend[i].rcpt, "rename", errno);
			maildir_discard(&pend[i].file);
			pend[i].ok = false;
		}
	/* The renames durable before any queue file goes. */
	if (npend > 0 && (st = groupsync_wait(d->gs)) != 0) {
		/* We cannot tell which renames reached the disk: keep the
		 * queue files; a retry may duplicate, never lose. */
		for (size_t i = 0; i < npend; i++)
			fail_rcpt(&bms[pend[i].msg], pend[i].rcpt, "sync", st);
	}

	for (size_t i = 0; i < nbm; i++) {
		struct batch_msg *bm = &bms[i];
		struct spool_envelope *env = &bm->msg.env;
		bool all = true, any_new = false;

		if (!bm->loaded) {
			free(bm->w);
			continue;
		}
		for (size_t r = 0; r < env->nrcpts; r++) {
			if (env->rcpts[r].done)
				continue;
			if (bm->failed[r]) {
				all = false;
				continue;
			}
			env->rcpts[r].done = true;
			any_new = true;
			log_event("delivered", "id=%s rcpt=%s mailbox=%s folder=%s relay=local from=%s",
			    env->id,
			    log_quote(q, sizeof(q), env->rcpts[r].addr, strlen(env->rcpts[r].addr)),
			    env->rcpts[r].mailbox, bm->msg.folder ? bm->msg.folder : "INBOX",
			    log_quote(q2, sizeof(q2), env->from, strlen(env->from)));
		}
		if (all) {
			spool_remove(d->data_dir, env->id);
			free(bm->w);
		} else {
			if (any_new && spool_mark_done(d->data_dir, &bm->msg) == -1)
				log_event("error", "id=%s reason=\"cannot record delivered recipients: %s\"",
				    env->id, strerror(errno));
			bm->w->attempts++;
			for (size_t r = 0; r < env->nrcpts; r++)
				if (bm->failed[r])
					log_event("deferred", "id=%s rcpt=%s reason=%s attempt=%u",
					    env->id,
					    log_quote(q, sizeof(q), env->rcpts[r].addr, strlen(env->rcpts[r].addr)),
					    log_quote(q2, sizeof(q2), bm->reason[r], strlen(bm->reason[r])),
					    bm->w->attempts);
			schedule_retry(d, bm->w);
		}
		for (size_t r = 0; r < env->nrcpts; r++)
			free(bm->reason[r]);
		free(bm->reason);
		free(bm->failed);
		spool_msg_clear(&bm->msg);
	}
	free(pend);
}

/* Moves due retries to the ready list; returns the next due time or 0. */
static time_t
promote_retries(struct deliver *d, time_t now)
{
	struct work **pp = &d->retry, *w;
	time_t next = 0;

	while ((w = *pp) != NULL) {
		if (w->not_before <= now) {
			*pp = w->next;
			w->next = NULL;
			*d->ready_tail = w;
			d->ready_tail = &w->next;
		} else {
			if (next == 0 || w->not_before < next)
				next = w->not_before;
			pp = &w->next;
		}
	}
	return next;
}

static void *
deliver_thread(void *arg)
{
	struct deliver *d = arg;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		struct work *batch, **tail, *w;
		size_t n = 0;
		time_t next = promote_retries(d, time(NULL));

		if (d->stop)
			break;
		if (d->ready == NULL) {
			if (next) {
				struct timespec ts = { .tv_sec = next, .tv_nsec = 0 };
				pthread_cond_timedwait(&d->cond, &d->lock, &ts);
			} else
				pthread_cond_wait(&d->cond, &d->lock);
			continue;
		}
		/* Take up to BATCH_MAX ids. */
		batch = d->ready;
		tail = &batch;
		for (w = batch; w != NULL && n < BATCH_MAX; w = w->next, n++)
			tail = &w->next;
		d->ready = *tail;
		*tail = NULL;
		if (d->ready == NULL)
			d->ready_tail = &d->ready;
		pthread_mutex_unlock(&d->lock);
		run_batch(d, batch);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

struct deliver *
deliver_start(const char *data_dir, struct groupsync *gs)
{
	struct deliver *d = xcalloc(1, sizeof(*d));
	pthread_condattr_t ca;

	d->data_dir = xstrdup(data_dir);
	d->gs = gs;
	d->ready_tail = &d->ready;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&d->cond, &ca);	/* CLOCK_REALTIME: time(NULL) deadlines */
	pthread_condattr_destroy(&ca);
	if (pthread_create(&d->thread, NULL, deliver_thread, d) != 0) {
		free(d->data_dir);
		free(d);
		return NULL;
	}
	return d;
}

void
deliver_enqueue(struct deliver *d, const char *id)
{
	struct work *w = xcalloc(1, sizeof(*w));

	snprintf(w->id, sizeof(w->id), "%s", id);
	pthread_mutex_lock(&d->lock);
	*d->ready_tail = w;
	d->ready_tail = &w->next;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static void
free_list(struct work *w)
{
	while (w != NULL) {
		struct work *next = w->next;
		free(w);
		w = next;
	}
}

void
deliver_stop(struct deliver *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	free_list(d->ready);
	free_list(d->retry);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d->data_dir);
	free(d);
}
