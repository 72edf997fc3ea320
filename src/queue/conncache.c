/*
 * The idle sessions: a list, newest first, each with its own timer. An
 * idle session belongs to the cache until conncache_take hands its
 * bufferevent back; anything the server sends meanwhile (a 421 before it
 * closes) or its closing ends it.
 */
#include "conncache.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

#define QUIT_WAIT_MS 1000

struct idle {
	struct idle *next, *prev;
	struct conncache *c;
	char key[CONNCACHE_KEY_MAX];
	struct bufferevent *bev;
	struct event *timer;
	struct conn_state st;
	bool quitting;		/* QUIT sent: its reply or the close ends it */
};

struct conncache {
	struct event_base *base;
	unsigned idle_ms;
	size_t max, n;
	struct idle *head, *tail;
};

static void
unlink_idle(struct idle *e)
{
	struct conncache *c = e->c;

	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	c->n--;
	event_free(e->timer);
}

static void
drop(struct idle *e)
{
	unlink_idle(e);
	bufferevent_free(e->bev);
	free(e);
}

static void
on_idle_read(struct bufferevent *bev, void *arg)
{
	struct idle *e = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* nothing is due while idle but the reply to our QUIT: either way
	 * the session is over */
	evbuffer_drain(in, evbuffer_get_length(in));
	drop(e);
}

static void
on_idle_event(struct bufferevent *bev, short what, void *arg)
{
	drop(arg);
}

static void
on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
	struct idle *e = arg;
	struct timeval tv = { QUIT_WAIT_MS / 1000, (QUIT_WAIT_MS % 1000) * 1000 };

	if (e->quitting) {
		drop(e);
		return;
	}
	/* a polite end: the server logs a QUIT, not a lost connection */
	e->quitting = true;
	evbuffer_add(bufferevent_get_output(e->bev), "QUIT\r\n", 6);
	evtimer_add(e->timer, &tv);
}

struct conncache *
conncache_new(struct event_base *base, unsigned idle_ms, size_t max)
{
	struct conncache *c = xcalloc(1, sizeof(*c));

	c->base = base;
	c->idle_ms = idle_ms;
	c->max = max;
	return c;
}

void
conncache_free(struct conncache *c)
{
	if (c == NULL)
		return;
	while (c->head != NULL)
		drop(c->head);
	free(c);
}

void
conncache_put(struct conncache *c, const char *key, struct bufferevent *bev,
    const struct conn_state *st)
{
	struct idle *e;
	struct timeval tv = { c->idle_ms / 1000, (c->idle_ms % 1000) * 1000 };

	if (c->max == 0) {
		bufferevent_free(bev);
		return;
	}
	if (c->n >= c->max)
		drop(c->tail);
	e = xcalloc(1, sizeof(*e));
	e->c = c;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->bev = bev;
	e->st = *st;
	e->timer = evtimer_new(c->base, on_idle_timer, e);
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
	c->n++;
	bufferevent_setcb(bev, on_idle_read, NULL, on_idle_event, e);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	evtimer_add(e->timer, &tv);
}

struct bufferevent *
conncache_take(struct conncache *c, const char *key, struct conn_state *st)
{
	for (struct idle *e = c->head; e != NULL; e = e->next) {
		struct bufferevent *bev = e->bev;
		if (e->quitting || strcmp(e->key, key) != 0)
			continue;
		/* input waiting is a server that already spoke (a 421):
		 * not reusable; its read callback ends it */
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			continue;
		*st = e->st;
		unlink_idle(e);
		free(e);
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		return bev;
	}
	return NULL;
}

size_t
conncache_idle(const struct conncache *c)
{
	return c->n;
}
