/*
 * Blocking hiredis for the command line: a command waits at most the
 * timeout given at open for each reply, then fails with a reason.
 */
#include "state_sync.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lib/xmalloc.h"

#define PREFIX "postern:"	/* as state_redis.c */

struct state_sync {
	redisContext *c;
};

/* The reply of argv, or NULL with *err. */
static redisReply *
run(struct state_sync *s, int argc, const char **argv, char **err)
{
	size_t lens[4];
	redisReply *r;

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	r = redisCommandArgv(s->c, argc, argv, lens);
	if (r == NULL) {
		*err = xasprintf("Redis: %s", s->c->errstr[0] ? s->c->errstr : "no answer");
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		*err = xasprintf("Redis %s: %s", argv[0], r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

struct state_sync *
state_sync_open(const struct config *cfg, unsigned timeout_ms, char **err)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct state_sync *s;
	redisReply *r;
	char db[16];

	if (!cfg->state_url.redis) {
		*err = xstrdup("state_backend is local");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	s->c = redisConnectWithTimeout(cfg->state_url.addr.host, (int)cfg->state_url.addr.port, tv);
	if (s->c == NULL || s->c->err) {
		*err = xasprintf("cannot connect to redis://%s:%u: %s", cfg->state_url.addr.host,
		    cfg->state_url.addr.port, s->c ? s->c->errstr : "out of memory");
		state_sync_close(s);
		return NULL;
	}
	redisSetTimeout(s->c, tv);
	if (cfg->state_password && *cfg->state_password) {
		const char *argv[2] = { "AUTH", cfg->state_password };
		if ((r = run(s, 2, argv, err)) == NULL) {
			state_sync_close(s);
			return NULL;
		}
		freeReplyObject(r);
	}
	snprintf(db, sizeof(db), "%u", cfg->state_url.db);
	{
		const char *argv[2] = { "SELECT", db };
		if ((r = run(s, 2, argv, err)) == NULL) {
			state_sync_close(s);
			return NULL;
		}
		freeReplyObject(r);
	}
	return s;
}

void
state_sync_close(struct state_sync *s)
{
	if (s == NULL)
		return;
	if (s->c)
		redisFree(s->c);
	free(s);
}

int
state_sync_map_put(struct state_sync *s, const char *map, const char *field, const char *value,
    unsigned ttl, char **err)
{
	char key[512], t[16];
	const char *argv[4] = { "HSET", key, field, value };
	redisReply *r;

	snprintf(key, sizeof(key), PREFIX "%s", map);
	if ((r = run(s, 4, argv, err)) == NULL)
		return -1;
	freeReplyObject(r);
	if (ttl > 0) {
		const char *ex[3] = { "EXPIRE", key, t };
		snprintf(t, sizeof(t), "%u", ttl);
		if ((r = run(s, 3, ex, err)) == NULL)
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

int
state_sync_map_all(struct state_sync *s, const char *map,
    void (*fn)(void *arg, const char *field, const char *value), void *arg, char **err)
{
	char key[512];
	const char *argv[2] = { "HGETALL", key };
	redisReply *r;

	snprintf(key, sizeof(key), PREFIX "%s", map);
	if ((r = run(s, 2, argv, err)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; i + 1 < r->elements; i += 2)
			if (r->element[i]->type == REDIS_REPLY_STRING &&
			    r->element[i + 1]->type == REDIS_REPLY_STRING)
				fn(arg, r->element[i]->str, r->element[i + 1]->str);
	freeReplyObject(r);
	return 0;
}
