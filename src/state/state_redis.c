/*
 * The Redis backend (SPEC 10): every node that names the same Redis shares
 * what the table holds. Asked asynchronously over hiredis on the server's
 * libevent loop, never blocking it. Invariants:
 *  - limits are one Lua script each (EVAL runs atomically in Redis), so
 *    two nodes can never both pass the last allowed event; Redis's own
 *    clock (TIME) dates the events, so nodes with skewed clocks agree;
 *  - every request is answered exactly once: by Redis, or by the local
 *    table when Redis is down, does not answer within STATE_TIMEOUT_MS, or
 *    the connection breaks with the request in flight (a session waits at
 *    most that long, and never for nothing);
 *  - "up" means both connections (commands, and the subscription that
 *    carries messages between nodes) are established, authenticated and
 *    the shared store's identity (its epoch) is known; a failure of either
 *    takes both down and logs event=state_backend status=down with the
 *    state_backend alert once; a retry every RETRY_SECONDS brings them back
 *    and logs status=up;
 *  - hiredis contexts are freed from a loop event, never inside one of
 *    their own callbacks.
 * The password (state_password) is sent with AUTH and never logged.
 * HOST is best an address: hiredis resolves a name with getaddrinfo(),
 * which would block the loop at each (re)connection.
 */
#include "state.h"

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/state_url.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"

#define STATE_TIMEOUT_MS 1000	/* a request unanswered this long: Redis is down */
#define CONNECT_TIMEOUT_MS 2000	/* connect, AUTH, SELECT, SUBSCRIBE and epoch */
#define RETRY_SECONDS 1		/* between attempts while down */
#define TICK_MS 100		/* how often deadlines are looked at */
#define PREFIX "postern:"

/*
 * KEYS[1] the window (a sorted set of event ids scored by the time in
 * microseconds), KEYS[2] its id counter; ARGV limit (0: none), window in
 * seconds, n. Returns {passed, count}. Windows without a limit (failure
 * and bounce counts) keep their newest 100000 events at most.
 */
static const char WINDOW_LUA[] =
    "local limit, window, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window * 1000000)\n"
    "local c = redis.call('ZCARD', KEYS[1])\n"
    "if limit > 0 and c + n > limit then return {0, c} end\n"
    "for i = 1, n do\n"
    "  redis.call('ZADD', KEYS[1], now, redis.call('INCR', KEYS[2]))\n"
    "end\n"
    "if n > 0 then\n"
    "  redis.call('PEXPIRE', KEYS[1], window * 1000 + 1000)\n"
    "  redis.call('PEXPIRE', KEYS[2], window * 1000 + 1000)\n"
    "end\n"
    "c = c + n\n"
    "if limit == 0 and c > 100000 then\n"
    "  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, c - 100001)\n"
    "  c = 100000\n"
    "end\n"
    "return {1, c}\n";

enum status { R_DOWN, R_CONNECTING, R_UP };

enum op { OP_WINDOW, OP_CLAIM, OP_EXPIRY, OP_PUT, OP_DEL, OP_ALL };

struct state_req {
	struct state_req *next, *prev;	/* r->head: oldest first */
	struct state_redis *r;
	enum op op;
	bool answered;			/* the local table answered already */
	bool cancelled;			/* the asker went away */
	struct timeval sent;
	union {
		state_window_fn *window;
		state_bool_fn *yes;
		state_time_fn *time;
		state_pairs_fn *pairs;
	} done;
	void *arg;
	/* what the local table needs to answer instead */
	char *key;
	unsigned limit, window, n, ttl;
	time_t now;
};

/* What a setup reply belongs to (privdata of the internal commands). */
enum setup { SET_AUTH, SET_SELECT, SET_EPOCH_SET, SET_EPOCH_GET, SUB_AUTH, SUB_SUBSCRIBE };
static const enum setup setup_tags[] = { SET_AUTH, SET_SELECT, SET_EPOCH_SET, SET_EPOCH_GET,
	SUB_AUTH, SUB_SUBSCRIBE };

struct state_redis {
	struct state *st;
	struct state_url url;
	char *password;			/* state_password, or NULL */
	redisAsyncContext *ac;		/* commands */
	redisAsyncContext *sub;		/* SUBSCRIBE channel */
	redisAsyncContext *dead[8];	/* detached, freed by the reaper */
	struct event *reaper;
	enum status status;
	bool main_ready, sub_ready;
	bool reported_down;		/* status=down logged since the last up */
	char epoch[40];			/* the shared store's identity when last up */
	char new_epoch[40];		/* ours, offered with SET NX */
	struct timeval connecting_since;
	time_t next_try;
	struct event *tick;
	struct state_req *head, *tail;	/* requests in flight */
	char channel[64];
	time_t error_logged;		/* the last status=error line */
};

static void go_down(struct state_redis *r, const char *why);

static long
ms_since(const struct timeval *t)
{
	struct timeval now;

	gettimeofday(&now, NULL);
	return (now.tv_sec - t->tv_sec) * 1000L + (now.tv_usec - t->tv_usec) / 1000L;
}

bool
state_redis_up(const struct state_redis *r)
{
	return r != NULL && r->status == R_UP;
}

/* A usable command connection: up and not on its way out. */
static bool
usable(const struct state_redis *r)
{
	return r != NULL && r->status == R_UP && r->ac != NULL &&
	    !(r->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

/* ---- contexts: detached at once, freed from the loop ---- */

static void
reap(evutil_socket_t fd, short what, void *arg)
{
	struct state_redis *r = arg;

	for (size_t i = 0; i < sizeof(r->dead) / sizeof(r->dead[0]); i++)
		if (r->dead[i] != NULL) {
			redisAsyncContext *c = r->dead[i];
			r->dead[i] = NULL;
			redisAsyncFree(c);
		}
}

/* hiredis frees c itself (it broke, or failed to connect): never reap it */
static void
forget(struct state_redis *r, redisAsyncContext *c)
{
	for (size_t i = 0; i < sizeof(r->dead) / sizeof(r->dead[0]); i++)
		if (r->dead[i] == c)
			r->dead[i] = NULL;
	if (r->ac == c)
		r->ac = NULL;
	if (r->sub == c)
		r->sub = NULL;
}

/* c is no longer r->ac or r->sub: its callbacks see that and do nothing */
static void
detach(struct state_redis *r, redisAsyncContext **slot)
{
	redisAsyncContext *c = *slot;

	*slot = NULL;
	if (c == NULL)
		return;
	for (size_t i = 0; i < sizeof(r->dead) / sizeof(r->dead[0]); i++)
		if (r->dead[i] == NULL) {
			r->dead[i] = c;
			event_active(r->reaper, EV_TIMEOUT, 0);
			return;
		}
	/* cannot happen (two contexts at most, reaped each turn) */
	abort();
}

/* ---- requests ---- */

static void
unlink_req(struct state_redis *r, struct state_req *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else if (r->head == q)
		r->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else if (r->tail == q)
		r->tail = q->prev;
	q->next = q->prev = NULL;
}

static void
req_free(struct state_req *q)
{
	free(q->key);
	free(q);
}

static void ignore_window(void *arg, bool passed, unsigned long count) {}
static void ignore_bool(void *arg, bool yes) {}

/* The local table answers a request Redis did not. */
static void
fallback(struct state_req *q)
{
	struct state *st = q->r->st;

	q->answered = true;
	if (q->cancelled)
		return;
	switch (q->op) {
	case OP_WINDOW:
		state_local_backend.window_take(st, q->key, q->limit, q->window, q->n, q->now,
		    q->done.window, q->arg);
		break;
	case OP_CLAIM:
		state_local_backend.claim(st, q->key, q->ttl, q->now, q->done.yes, q->arg);
		break;
	case OP_EXPIRY:
		state_local_backend.expiry(st, q->key, q->now, q->done.time, q->arg);
		break;
	case OP_PUT:
	case OP_DEL:
		if (q->done.yes)
			q->done.yes(q->arg, false);
		break;
	case OP_ALL:
		q->done.pairs(q->arg, false, NULL, 0);
		break;
	}
}

/* Everything in flight answered locally (down, or shutting down). */
static void
fallback_all(struct state_redis *r)
{
	/* a callback may cancel others or ask again (then locally: the
	 * status is no longer up), never free these */
	for (struct state_req *q = r->head; q; q = q->next)
		if (!q->answered)
			fallback(q);
}

static void
on_reply(redisAsyncContext *c, void *reply, void *privdata)
{
	struct state_req *q = privdata;
	struct state_redis *r = q->r;
	redisReply *rep = reply;

	unlink_req(r, q);
	if (q->answered || q->cancelled) {
		req_free(q);
		return;
	}
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		/* an error reply (out of memory, a script refused): answered
		 * locally; said once a minute, not once a request */
		if (rep != NULL && time(NULL) - r->error_logged >= 60) {
			char e[LOG_VALUE_MAX];
			r->error_logged = time(NULL);
			log_event("state_backend", "status=error backend=%s reason=%s", r->st->url,
			    log_quote(e, sizeof(e), rep->str, rep->len));
		}
		fallback(q);
		req_free(q);
		return;
	}
	q->answered = true;
	switch (q->op) {
	case OP_WINDOW: {
		bool passed = false;
		unsigned long count = 0;
		if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
		    rep->element[0]->type == REDIS_REPLY_INTEGER &&
		    rep->element[1]->type == REDIS_REPLY_INTEGER) {
			passed = rep->element[0]->integer == 1;
			count = rep->element[1]->integer > 0 ? (unsigned long)rep->element[1]->integer : 0;
		}
		/* the node's own copy keeps counting what passed, so a later
		 * outage starts from this node's share, not from nothing */
		if (passed && q->n > 0)
			state_local_backend.window_take(r->st, q->key, 0, q->window, q->n, q->now,
			    ignore_window, NULL);
		q->done.window(q->arg, passed, count);
		break;
	}
	case OP_CLAIM: {
		bool first = rep->type == REDIS_REPLY_STATUS;	/* OK; nil when taken */
		if (first)
			state_local_backend.claim(r->st, q->key, q->ttl, q->now, ignore_bool, NULL);
		q->done.yes(q->arg, first);
		break;
	}
	case OP_EXPIRY: {
		time_t until = 0;
		if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
			until = time(NULL) + (time_t)((rep->integer + 999) / 1000);
		q->done.time(q->arg, until);
		break;
	}
	case OP_PUT:
	case OP_DEL:
		if (q->done.yes)
			q->done.yes(q->arg, rep->type == REDIS_REPLY_INTEGER);
		break;
	case OP_ALL: {
		size_t n = rep->type == REDIS_REPLY_ARRAY ? rep->elements / 2 : 0;
		struct state_pair *p = xcalloc(n ? n : 1, sizeof(*p));
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			redisReply *f = rep->element[2 * i], *v = rep->element[2 * i + 1];
			if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
				continue;
			p[k].field = f->str;
			p[k++].value = v->str;
		}
		q->done.pairs(q->arg, true, p, k);
		free(p);
		break;
	}
	}
	req_free(q);
}

/* Sends argv for q; false when it could not be sent (then answered
 * locally at once and freed). */
static struct state_req *
send_req(struct state_redis *r, struct state_req *q, int argc, const char **argv,
    const size_t *lens)
{
	q->r = r;
	if (!usable(r) ||
	    redisAsyncCommandArgv(r->ac, on_reply, q, argc, argv, lens) != REDIS_OK) {
		fallback(q);
		req_free(q);
		return NULL;
	}
	gettimeofday(&q->sent, NULL);
	q->prev = r->tail;
	if (r->tail)
		r->tail->next = q;
	else
		r->head = q;
	r->tail = q;
	return q;
}

void
state_cancel(struct state_req *q)
{
	if (q != NULL)
		q->cancelled = true;
}

/* ---- the table ---- */

static struct state_req *
req_new(enum op op, const char *key, time_t now, void *arg)
{
	struct state_req *q = xcalloc(1, sizeof(*q));

	q->op = op;
	q->key = xstrdup(key);
	q->now = now;
	q->arg = arg;
	return q;
}

static struct state_req *
redis_window_take(struct state *st, const char *key, unsigned limit, unsigned window,
    unsigned n, time_t now, state_window_fn *done, void *arg)
{
	struct state_redis *r = st->redis;
	struct state_req *q;
	char k1[512], k2[520], a1[16], a2[16], a3[16];
	const char *argv[8];
	size_t lens[8];

	if (!usable(r))
		return state_local_backend.window_take(st, key, limit, window, n, now, done, arg);
	q = req_new(OP_WINDOW, key, now, arg);
	q->limit = limit;
	q->window = window;
	q->n = n;
	q->done.window = done;
	snprintf(k1, sizeof(k1), PREFIX "w:%s", key);
	snprintf(k2, sizeof(k2), PREFIX "w:%s:id", key);
	snprintf(a1, sizeof(a1), "%u", limit);
	snprintf(a2, sizeof(a2), "%u", window);
	snprintf(a3, sizeof(a3), "%u", n);
	argv[0] = "EVAL";
	argv[1] = WINDOW_LUA;
	argv[2] = "2";
	argv[3] = k1;
	argv[4] = k2;
	argv[5] = a1;
	argv[6] = a2;
	argv[7] = a3;
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	return send_req(r, q, 8, argv, lens);
}

static struct state_req *
redis_claim(struct state *st, const char *key, unsigned ttl, time_t now, state_bool_fn *done,
    void *arg)
{
	struct state_redis *r = st->redis;
	struct state_req *q;
	char k[512], t[16];
	const char *argv[6];
	size_t lens[6];

	if (!usable(r))
		return state_local_backend.claim(st, key, ttl, now, done, arg);
	q = req_new(OP_CLAIM, key, now, arg);
	q->ttl = ttl;
	q->done.yes = done;
	snprintf(k, sizeof(k), PREFIX "c:%s", key);
	snprintf(t, sizeof(t), "%u", ttl ? ttl : 1);
	argv[0] = "SET";
	argv[1] = k;
	argv[2] = "1";
	argv[3] = "NX";
	argv[4] = "EX";
	argv[5] = t;
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	return send_req(r, q, 6, argv, lens);
}

static struct state_req *
redis_expiry(struct state *st, const char *key, time_t now, state_time_fn *done, void *arg)
{
	struct state_redis *r = st->redis;
	struct state_req *q;
	char k[512];
	const char *argv[2];
	size_t lens[2];

	if (!usable(r))
		return state_local_backend.expiry(st, key, now, done, arg);
	q = req_new(OP_EXPIRY, key, now, arg);
	q->done.time = done;
	snprintf(k, sizeof(k), PREFIX "c:%s", key);
	argv[0] = "PTTL";
	argv[1] = k;
	lens[0] = 4;
	lens[1] = strlen(k);
	return send_req(r, q, 2, argv, lens);
}

static struct state_req *
redis_map_put(struct state *st, const char *map, const char *field, const char *value,
    unsigned ttl, state_bool_fn *done, void *arg)
{
	struct state_redis *r = st->redis;
	struct state_req *q;
	char k[512], t[16];
	const char *argv[4];
	size_t lens[4];

	if (!usable(r))
		return state_local_backend.map_put(st, map, field, value, ttl, done, arg);
	q = req_new(OP_PUT, map, 0, arg);
	q->done.yes = done;
	snprintf(k, sizeof(k), PREFIX "%s", map);
	argv[0] = "HSET";
	argv[1] = k;
	argv[2] = field;
	argv[3] = value;
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	q = send_req(r, q, 4, argv, lens);
	if (q != NULL && ttl > 0) {
		snprintf(t, sizeof(t), "%u", ttl);
		argv[0] = "EXPIRE";
		argv[2] = t;
		lens[0] = 6;
		lens[2] = strlen(t);
		redisAsyncCommandArgv(r->ac, NULL, NULL, 3, argv, lens);
	}
	return q;
}

static struct state_req *
redis_map_del(struct state *st, const char *map, const char *field, state_bool_fn *done,
    void *arg)
{
	struct state_redis *r = st->redis;
	struct state_req *q;
	char k[512];
	const char *argv[3];
	size_t lens[3];

	if (!usable(r))
		return state_local_backend.map_del(st, map, field, done, arg);
	q = req_new(OP_DEL, map, 0, arg);
	q->done.yes = done;
	snprintf(k, sizeof(k), PREFIX "%s", map);
	argv[0] = "HDEL";
	argv[1] = k;
	argv[2] = field;
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(argv[i]);
	return send_req(r, q, 3, argv, lens);
}

static struct state_req *
redis_map_all(struct state *st, const char *map, state_pairs_fn *done, void *arg)
{
	struct state_redis *r = st->redis;
	struct state_req *q;
	char k[512];
	const char *argv[2];
	size_t lens[2];

	if (!usable(r))
		return state_local_backend.map_all(st, map, done, arg);
	q = req_new(OP_ALL, map, 0, arg);
	q->done.pairs = done;
	snprintf(k, sizeof(k), PREFIX "%s", map);
	argv[0] = "HGETALL";
	argv[1] = k;
	lens[0] = 7;
	lens[1] = strlen(k);
	return send_req(r, q, 2, argv, lens);
}

static void
redis_publish(struct state *st, const char *kind, const char *payload)
{
	struct state_redis *r = st->redis;
	char *msg;
	const char *argv[3];
	size_t lens[3];

	if (!usable(r))
		return;
	msg = xasprintf("%s %s", kind, payload);
	argv[0] = "PUBLISH";
	argv[1] = r->channel;
	argv[2] = msg;
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(argv[i]);
	redisAsyncCommandArgv(r->ac, NULL, NULL, 3, argv, lens);
	free(msg);
}

const struct state_backend state_redis_backend = {
	.name = "redis",
	.window_take = redis_window_take,
	.claim = redis_claim,
	.expiry = redis_expiry,
	.map_put = redis_map_put,
	.map_del = redis_map_del,
	.map_all = redis_map_all,
	.publish = redis_publish,
};

/* ---- connection life ---- */

static void
go_up(struct state_redis *r)
{
	bool fresh = strcmp(r->epoch, r->new_epoch) != 0;
	char now[24];
	const char *argv[4];
	size_t lens[4];
	char k[128];

	r->status = R_UP;
	snprintf(r->epoch, sizeof(r->epoch), "%s", r->new_epoch);
	log_event("state_backend", "status=up backend=%s", r->st->url);
	r->reported_down = false;
	/* the nodes that ever shared this store, for `postern stats` */
	snprintf(k, sizeof(k), PREFIX "nodes");
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	argv[0] = "HSET";
	argv[1] = k;
	argv[2] = r->st->node;
	argv[3] = now;
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	redisAsyncCommandArgv(r->ac, NULL, NULL, 4, argv, lens);
	state_run_hooks(r->st, fresh);
}

static void
maybe_up(struct state_redis *r)
{
	if (r->status == R_CONNECTING && r->main_ready && r->sub_ready)
		go_up(r);
}

static void
on_message(redisAsyncContext *c, void *reply, void *privdata)
{
	struct state_redis *r = c->data;
	redisReply *rep = reply;
	const char *sp;
	char kind[32];

	if (r == NULL || c != r->sub || rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(rep->element[0]->str, "subscribe") == 0) {
		r->sub_ready = true;
		maybe_up(r);
		return;
	}
	if (strcmp(rep->element[0]->str, "message") != 0 ||
	    rep->element[2]->type != REDIS_REPLY_STRING)
		return;
	sp = strchr(rep->element[2]->str, ' ');
	if (sp == NULL || (size_t)(sp - rep->element[2]->str) >= sizeof(kind))
		return;
	memcpy(kind, rep->element[2]->str, (size_t)(sp - rep->element[2]->str));
	kind[sp - rep->element[2]->str] = '\0';
	if (r->status == R_UP)
		state_deliver(r->st, kind, sp + 1);
}

static void
on_setup(redisAsyncContext *c, void *reply, void *privdata)
{
	struct state_redis *r = c->data;
	redisReply *rep = reply;
	enum setup what = *(const enum setup *)privdata;
	char why[LOG_VALUE_MAX];

	if (r == NULL || (c != r->ac && c != r->sub) || rep == NULL)
		return;		/* detached, or going away: already handled */
	if (rep->type == REDIS_REPLY_ERROR) {
		/* Redis's words (never the password): NOAUTH, WRONGPASS,
		 * "DB index is out of range", ... */
		snprintf(why, sizeof(why), "%s: %s",
		    what == SET_AUTH || what == SUB_AUTH ? "AUTH refused" :
		    what == SET_SELECT ? "SELECT refused" : "refused", rep->str);
		go_down(r, why);
		return;
	}
	if (what == SET_EPOCH_GET) {
		if (rep->type != REDIS_REPLY_STRING) {
			go_down(r, "no epoch");
			return;
		}
		snprintf(r->new_epoch, sizeof(r->new_epoch), "%s", rep->str);
		r->main_ready = true;
		maybe_up(r);
	}
}

static void
on_connect(const redisAsyncContext *cc, int status)
{
	redisAsyncContext *c = (redisAsyncContext *)cc;
	struct state_redis *r = c->data;
	char epoch_key[64], db[16];

	if (r == NULL)
		return;
	if (status != REDIS_OK) {
		char why[LOG_VALUE_MAX];
		bool ours = c == r->ac || c == r->sub;
		snprintf(why, sizeof(why), "cannot connect: %s", c->errstr);
		/* hiredis frees the context itself after this callback */
		forget(r, c);
		if (ours)
			go_down(r, why);
		return;
	}
	if (c != r->ac && c != r->sub)
		return;		/* detached while connecting: the reaper frees it */
	if (c == r->sub) {
		if (r->password)
			redisAsyncCommand(c, on_setup, (void *)&setup_tags[SUB_AUTH], "AUTH %s",
			    r->password);
		redisAsyncCommand(c, on_message, NULL, "SUBSCRIBE %s", r->channel);
		return;
	}
	if (r->password)
		redisAsyncCommand(c, on_setup, (void *)&setup_tags[SET_AUTH], "AUTH %s", r->password);
	if (r->url.db != 0) {
		snprintf(db, sizeof(db), "%u", r->url.db);
		redisAsyncCommand(c, on_setup, (void *)&setup_tags[SET_SELECT], "SELECT %s", db);
	}
	/* the store's identity: a Redis that restarted empty has none, and
	 * every node then pushes its local copies again (state_on_up) */
	snprintf(epoch_key, sizeof(epoch_key), PREFIX "epoch");
	redisAsyncCommand(c, on_setup, (void *)&setup_tags[SET_EPOCH_SET], "SET %s %s NX",
	    epoch_key, r->new_epoch);
	redisAsyncCommand(c, on_setup, (void *)&setup_tags[SET_EPOCH_GET], "GET %s", epoch_key);
}

static void
on_disconnect(const redisAsyncContext *cc, int status)
{
	redisAsyncContext *c = (redisAsyncContext *)cc;
	struct state_redis *r = c->data;
	char why[LOG_VALUE_MAX];

	bool ours;

	if (r == NULL)
		return;
	/* hiredis frees this context after the callback (also when the
	 * reaper's redisAsyncFree brought us here: forgetting it is then
	 * harmless, the reaper already took it off its list) */
	ours = c == r->ac || c == r->sub;
	forget(r, c);
	if (!ours)
		return;
	snprintf(why, sizeof(why), "connection lost: %s", c->err ? c->errstr : "closed by the server");
	go_down(r, why);
}

static redisAsyncContext *
open_one(struct state_redis *r, char *why, size_t whylen)
{
	redisAsyncContext *c = redisAsyncConnect(r->url.addr.host, (int)r->url.addr.port);

	if (c == NULL) {
		snprintf(why, whylen, "cannot connect: out of memory");
		return NULL;
	}
	if (c->err) {
		snprintf(why, whylen, "cannot connect: %s", c->errstr);
		redisAsyncFree(c);
		return NULL;
	}
	c->data = r;
	redisLibeventAttach(c, r->st->base);
	redisAsyncSetConnectCallback(c, on_connect);
	redisAsyncSetDisconnectCallback(c, on_disconnect);
	return c;
}

static void
try_connect(struct state_redis *r)
{
	char why[LOG_VALUE_MAX];

	r->status = R_CONNECTING;
	r->main_ready = r->sub_ready = false;
	gettimeofday(&r->connecting_since, NULL);
	snprintf(r->new_epoch, sizeof(r->new_epoch), "%08lx%08lx", (unsigned long)random(),
	    (unsigned long)random());
	if ((r->ac = open_one(r, why, sizeof(why))) == NULL ||
	    (r->sub = open_one(r, why, sizeof(why))) == NULL)
		go_down(r, why);
}

/*
 * Down: requests in flight are answered locally, the connections are
 * dropped, a retry is scheduled; logged (with the alert) once per outage.
 */
static void
go_down(struct state_redis *r, const char *why)
{
	bool was_up = r->status == R_UP;
	char q[LOG_VALUE_MAX];

	r->status = R_DOWN;
	r->main_ready = r->sub_ready = false;
	r->next_try = time(NULL) + RETRY_SECONDS;
	detach(r, &r->ac);
	detach(r, &r->sub);
	if (!r->reported_down) {
		r->reported_down = true;
		log_quote(q, sizeof(q), why, strlen(why));
		log_event("state_backend", "status=down backend=%s reason=%s%s", r->st->url, q,
		    was_up ? " was=up" : "");
		log_event("alert", "kind=state_backend backend=%s reason=%s", r->st->url, q);
	}
	fallback_all(r);
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	struct state_redis *r = arg;

	switch (r->status) {
	case R_DOWN:
		if (time(NULL) >= r->next_try)
			try_connect(r);
		break;
	case R_CONNECTING:
		if (ms_since(&r->connecting_since) > CONNECT_TIMEOUT_MS)
			go_down(r, "no answer while connecting");
		break;
	case R_UP:
		/* the oldest request not answered in time: Redis hangs */
		for (struct state_req *q = r->head; q; q = q->next)
			if (!q->answered) {
				if (ms_since(&q->sent) > STATE_TIMEOUT_MS)
					go_down(r, "no answer in time");
				break;
			}
		break;
	}
}

struct state_redis *
state_redis_new(struct state *st, const struct config *cfg)
{
	struct state_redis *r = xcalloc(1, sizeof(*r));
	struct timeval tv = { 0, TICK_MS * 1000 };

	r->st = st;
	r->url = cfg->state_url;
	r->password = cfg->state_password && *cfg->state_password ? xstrdup(cfg->state_password) :
	    NULL;
	snprintf(r->channel, sizeof(r->channel), PREFIX "%u:events", r->url.db);
	srandom((unsigned)(time(NULL) ^ getpid()));
	r->reaper = event_new(st->base, -1, 0, reap, r);
	r->tick = event_new(st->base, -1, EV_PERSIST, tick, r);
	event_add(r->tick, &tv);
	r->status = R_DOWN;
	r->next_try = 0;
	try_connect(r);
	return r;
}

void
state_redis_free(struct state_redis *r)
{
	if (r == NULL)
		return;
	r->status = R_DOWN;
	r->reported_down = true;	/* stopping is no outage */
	fallback_all(r);
	detach(r, &r->ac);
	detach(r, &r->sub);
	reap(-1, 0, r);
	/* what is still listed was answered; hiredis called back with NULL
	 * and on_reply freed it, but be sure */
	while (r->head) {
		struct state_req *q = r->head;
		unlink_req(r, q);
		req_free(q);
	}
	event_free(r->tick);
	event_free(r->reaper);
	if (r->password)
		explicit_bzero(r->password, strlen(r->password));
	free(r->password);
	free(r);
}
