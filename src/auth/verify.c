/*
 * Verification pool. Requests carry copies of the hash and password; the
 * password copy is wiped after use. A cancelled request is still
 * computed (a thread cannot be interrupted) but its result is dropped.
 */
#include "verify.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "lib/xmalloc.h"

struct verify_req {
	struct verify_req *next;
	char *hash, *password;
	bool ok, cancelled;
	verify_cb *cb;
	void *arg;
};

struct verifier {
	pthread_t threads[AUTH_VERIFY_THREADS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct verify_req *todo, **todo_tail, *done;
	unsigned backlog;
	bool stop;
	int pipe[2];
	struct event *ev;
};

static void *
worker(void *arg)
{
	struct verifier *v = arg;
	char byte = 1;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		struct verify_req *r;
		while (v->todo == NULL && !v->stop)
			pthread_cond_wait(&v->cond, &v->lock);
		if (v->stop)
			break;
		r = v->todo;
		v->todo = r->next;
		if (v->todo == NULL)
			v->todo_tail = &v->todo;
		pthread_mutex_unlock(&v->lock);
		r->ok = userdb_verify(r->hash, r->password);
		sodium_memzero(r->password, strlen(r->password));
		pthread_mutex_lock(&v->lock);
		r->next = v->done;
		v->done = r;
		(void)!write(v->pipe[1], &byte, 1);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}

static void
req_free(struct verify_req *r)
{
	free(r->hash);
	free(r->password);
	free(r);
}

static void
on_wakeup(evutil_socket_t fd, short what, void *arg)
{
	struct verifier *v = arg;
	struct verify_req *list;
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&v->lock);
	list = v->done;
	v->done = NULL;
	pthread_mutex_unlock(&v->lock);
	while (list != NULL) {
		struct verify_req *next = list->next;
		v->backlog--;
		if (!list->cancelled)
			list->cb(list->arg, list->ok);
		req_free(list);
		list = next;
	}
}

struct verifier *
verifier_new(struct event_base *base)
{
	struct verifier *v = xcalloc(1, sizeof(*v));

	if (sodium_init() < 0 || pipe2(v->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(v);
		return NULL;
	}
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	v->todo_tail = &v->todo;
	v->ev = event_new(base, v->pipe[0], EV_READ | EV_PERSIST, on_wakeup, v);
	event_add(v->ev, NULL);
	for (int i = 0; i < AUTH_VERIFY_THREADS; i++)
		pthread_create(&v->threads[i], NULL, worker, v);
	return v;
}

void
verifier_free(struct verifier *v)
{
	if (v == NULL)
		return;
	pthread_mutex_lock(&v->lock);
	v->stop = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
	for (int i = 0; i < AUTH_VERIFY_THREADS; i++)
		pthread_join(v->threads[i], NULL);
	while (v->todo) {
		struct verify_req *r = v->todo;
		v->todo = r->next;
		req_free(r);
	}
	while (v->done) {
		struct verify_req *r = v->done;
		v->done = r->next;
		req_free(r);
	}
	event_free(v->ev);
	close(v->pipe[0]);
	close(v->pipe[1]);
	free(v);
}

struct verify_req *
verifier_check(struct verifier *v, const char *hash, const char *password, verify_cb *cb,
    void *arg)
{
	struct verify_req *r;

	if (v->backlog >= AUTH_VERIFY_BACKLOG)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	/* an unknown account is checked against a dummy hash, so a failed
	 * login costs the same time whether the account exists or not */
	r->hash = xstrdup(hash ? hash :
	    "{ARGON2ID}$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$"
	    "2ZHJ3Gs0bDmw4e5eBiu2Zb0J3o0pO5WOrI5gZb7oW4o");
	r->password = xstrdup(password);
	r->cb = cb;
	r->arg = arg;
	v->backlog++;
	pthread_mutex_lock(&v->lock);
	*v->todo_tail = r;
	v->todo_tail = &r->next;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
	return r;
}

void
verifier_cancel(struct verify_req *r)
{
	if (r != NULL)
		r->cancelled = true;
}
