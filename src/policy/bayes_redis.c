/*
 * The classifier store in Redis (state_backend = redis, SPEC 10 and 13):
 * every node learns into, and loads from, the same counts. Synchronous
 * hiredis, so only for `postern learn`, `postern scan` and the server's
 * loader thread (policy/bayes_live.c), never on the event loop.
 *
 * Keys, under the state backend's prefix (state/state_redis.c):
 *  postern:bayes:tokens    hash; field: the token's bayes_hash() as 8
 *                          octets big-endian; value: 12 octets, three
 *                          big-endian uint32: spam count, ham count, day
 *                          (unix time / 86400) it was last learned
 *  postern:bayes:messages  sorted set; member: bayes_message_id(); score:
 *                          time learned * 4 + kind (1 spam, 2 ham), so
 *                          one key says both and the oldest go first
 *  postern:bayes:meta      hash; nspam, nham: messages learned of each
 *                          kind; serial: +1 at every learn that changed
 *                          something and every expiry (what the server
 *                          polls to know it must reload)
 * Invariants: learning a message is one Lua script (LEARN_LUA), atomic in
 * Redis, so learners on every node lose no update, a message counts once
 * and moves when learned as the other kind; the message cap is kept in
 * that script. The token cap at commit: over it, the tokens are read
 * (HSCAN, bounded), the oldest and rarest picked here, and DELETE_LUA
 * deletes each only if unchanged since it was read and only while the
 * hash is over 90% of the cap: a token learned meanwhile stays, and two
 * learners expiring at once never go below 90%.
 */
#include "bayes_store.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "lib/state_url.h"
#include "lib/xmalloc.h"

#define PREFIX "postern:"	/* as state/state_redis.c */
#define K_TOKENS PREFIX "bayes:tokens"
#define K_MESSAGES PREFIX "bayes:messages"
#define K_META PREFIX "bayes:meta"
#define CONNECT_TIMEOUT_MS 2000
/* A learn script of BAYES_TOKENS_MAX tokens takes milliseconds: longer
 * than this, Redis is hung (and the server's shutdown waits this long). */
#define COMMAND_TIMEOUT_MS 3000
#define FIELD_LEN 8
#define VALUE_LEN 12
#define SCAN_COUNT 1000		/* HSCAN COUNT: about as many tokens a reply */
#define BATCH 1000		/* tokens per HMGET or DELETE_LUA */

/*
 * KEYS tokens, messages, meta. ARGV id, kind (1 spam, 2 ham), now, day,
 * the token hashes (8 octets each, one string), the message cap. Returns
 * 0 (already learned as this kind), 1 (new) or 2 (moved).
 */
static const char LEARN_LUA[] =
    "local id, kind, now, day = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), "
    "tonumber(ARGV[4])\n"
    "local hs, mmax = ARGV[5], tonumber(ARGV[6])\n"
    "local sc = redis.call('ZSCORE', KEYS[2], id)\n"
    "local old = 0\n"
    "if sc then old = tonumber(sc) % 4 end\n"
    "if old == kind then return 0 end\n"
    "local ds, dh = 0, 0\n"
    "if kind == 1 then ds = 1 else dh = 1 end\n"
    "if old ~= 0 then if kind == 1 then dh = -1 else ds = -1 end end\n"
    "for i = 1, #hs - 7, 8 do\n"
    "  local f = string.sub(hs, i, i + 7)\n"
    "  local v = redis.call('HGET', KEYS[1], f)\n"
    "  local s, h = 0, 0\n"
    "  if v and #v == 12 then s, h = struct.unpack('>I4I4', v) end\n"
    "  s = math.max(s + ds, 0)\n"
    "  h = math.max(h + dh, 0)\n"
    "  if s == 0 and h == 0 then\n"
    "    if v then redis.call('HDEL', KEYS[1], f) end\n"
    "  else\n"
    "    redis.call('HSET', KEYS[1], f, struct.pack('>I4I4I4', s, h, day))\n"
    "  end\n"
    "end\n"
    "redis.call('ZADD', KEYS[2], now * 4 + kind, id)\n"
    "for k, d in pairs({nspam = ds, nham = dh}) do\n"
    "  if redis.call('HINCRBY', KEYS[3], k, d) < 0 then redis.call('HSET', KEYS[3], k, 0) end\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[3], 'serial', 1)\n"
    "local c = redis.call('ZCARD', KEYS[2])\n"
    "if c > mmax then\n"
    "  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, c - math.floor(mmax * 9 / 10) - 1)\n"
    "end\n"
    "if old == 0 then return 1 end\n"
    "return 2\n";

/*
 * KEYS tokens, meta. ARGV the target size, then field, value pairs as
 * read: each is deleted if still the same, while the hash is over the
 * target. Returns the hash's size after.
 */
static const char DELETE_LUA[] =
    "local target, d = tonumber(ARGV[1]), 0\n"
    "for i = 2, #ARGV - 1, 2 do\n"
    "  if redis.call('HLEN', KEYS[1]) <= target then break end\n"
    "  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then\n"
    "    redis.call('HDEL', KEYS[1], ARGV[i])\n"
    "    d = d + 1\n"
    "  end\n"
    "end\n"
    "if d > 0 then redis.call('HINCRBY', KEYS[2], 'serial', 1) end\n"
    "return redis.call('HLEN', KEYS[1])\n";

struct script {
	const char *text;
	char sha[41];		/* SHA-1 in hex, for EVALSHA */
};

struct rd {
	redisContext *c;
	char *where;		/* redis://HOST:PORT/DB, for messages */
	size_t tokens_max, messages_max;
	struct script learn, del;
};

/* One token read by HSCAN, for expiry. */
struct tok {
	uint32_t day, total;	/* the order of expiry: oldest, then rarest */
	uint64_t h;
	unsigned char v[VALUE_LEN];	/* as read: deleted only if unchanged */
};

static void
script_init(struct script *s, const char *text)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned dl = 0;

	s->text = text;
	if (!EVP_Digest(text, strlen(text), d, &dl, EVP_sha1(), NULL) || dl != 20)
		abort();
	for (unsigned i = 0; i < dl; i++)
		snprintf(s->sha + 2 * i, 3, "%02x", d[i]);
}

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Sets *err about the store, the reply's error or the connection's. */
static void
fail(struct rd *q, const char *what, const redisReply *r, char **err)
{
	free(*err);
	if (r != NULL)
		*err = xasprintf("classifier store %s: %s: %s", q->where, what, r->str);
	else
		*err = xasprintf("classifier store %s: %s: %s (is Redis running? with "
		    "state_backend = redis the classifier learns there)", q->where, what,
		    q->c->errstr[0] ? q->c->errstr : "no answer");
}

/* The reply of a command, or NULL with *err (an error reply included). */
/* A reply checked: none (the connection broke) or an error reply fails
 * with what was asked. */
static redisReply *
checked(struct rd *q, redisReply *r, const char *what, char **err)
{
	if (r == NULL) {
		fail(q, what, NULL, err);
		return NULL;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		fail(q, what, r, err);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static redisReply *
run(struct rd *q, int argc, const char **argv, const size_t *lens, const char *what,
    char **err)
{
	if (q->c->err) {
		fail(q, what, NULL, err);
		return NULL;
	}
	return checked(q, redisCommandArgv(q->c, argc, argv, lens), what, err);
}

/* The same for NUL-terminated arguments. */
static redisReply *
run_str(struct rd *q, int argc, const char **argv, const char *what, char **err)
{
	size_t lens[8];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return run(q, argc, argv, lens, what, err);
}

/* EVALSHA argv (argv[0], argv[1] filled here), EVAL when Redis does not
 * know the script (restarted, SCRIPT FLUSH). */
static redisReply *
run_script(struct rd *q, struct script *s, int argc, const char **argv, size_t *lens,
    const char *what, char **err)
{
	redisReply *r;

	argv[0] = "EVALSHA";
	argv[1] = s->sha;
	lens[0] = 7;
	lens[1] = 40;
	if (q->c->err) {
		fail(q, what, NULL, err);
		return NULL;
	}
	r = redisCommandArgv(q->c, argc, argv, lens);
	if (r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(r);
		argv[0] = "EVAL";
		argv[1] = s->text;
		lens[0] = 4;
		lens[1] = strlen(s->text);
		r = redisCommandArgv(q->c, argc, argv, lens);
	}
	return checked(q, r, what, err);
}

static void
rd_close(void *h)
{
	struct rd *q = h;

	if (q == NULL)
		return;
	if (q->c != NULL)
		redisFree(q->c);
	free(q->where);
	free(q);
}

static void *
rd_open(const char *where, const char *secret, bool write, char **err)
{
	struct rd *q = xcalloc(1, sizeof(*q));
	struct timeval ctv = { CONNECT_TIMEOUT_MS / 1000, CONNECT_TIMEOUT_MS % 1000 * 1000 };
	struct timeval tv = { COMMAND_TIMEOUT_MS / 1000, COMMAND_TIMEOUT_MS % 1000 * 1000 };
	struct state_url u;
	redisReply *r;
	char db[16];

	q->where = xstrdup(where);
	q->tokens_max = BAYES_STORE_TOKENS_MAX;
	q->messages_max = BAYES_STORE_MESSAGES_MAX;
	script_init(&q->learn, LEARN_LUA);
	script_init(&q->del, DELETE_LUA);
	if (state_url_parse(where, strlen(where), &u) == -1 || !u.redis) {
		*err = xasprintf("classifier store %s: not a redis:// address", where);
		goto bad;
	}
	q->c = redisConnectWithTimeout(u.addr.host, (int)u.addr.port, ctv);
	if (q->c == NULL) {
		*err = xasprintf("classifier store %s: cannot connect: out of memory", where);
		goto bad;
	}
	if (q->c->err) {
		fail(q, "cannot connect", NULL, err);
		goto bad;
	}
	redisSetTimeout(q->c, tv);
	if (secret != NULL) {
		const char *argv[2] = { "AUTH", secret };
		if ((r = run_str(q, 2, argv, "AUTH (state_password)", err)) == NULL)
			goto bad;
		freeReplyObject(r);
	}
	snprintf(db, sizeof(db), "%u", u.db);
	{
		const char *argv[2] = { "SELECT", db };
		if ((r = run_str(q, 2, argv, "SELECT", err)) == NULL)
			goto bad;
		freeReplyObject(r);
	}
	return q;
bad:
	rd_close(q);
	return NULL;
}

static void
rd_set_caps(void *h, size_t tokens_max, size_t messages_max)
{
	struct rd *q = h;

	q->tokens_max = tokens_max;
	q->messages_max = messages_max;
}

static int
rd_begin(void *h, char **err)
{
	/* nothing to open: each learn is a transaction of its own */
	return 0;
}

static int
rd_learn(void *h, const char *id, const uint64_t *hash, size_t n, enum bayes_kind kind,
    time_t now, enum bayes_learn_result *res, char **err)
{
	struct rd *q = h;
	unsigned char *blob = xmalloc(n * FIELD_LEN + 1);
	char k[4], t[24], d[24], mmax[24];
	const char *argv[12] = { NULL, NULL, "3", K_TOKENS, K_MESSAGES, K_META, id, k, t, d,
		(const char *)blob, mmax };
	size_t lens[12];
	redisReply *r;
	int rc = -1;

	for (size_t i = 0; i < n; i++)
		put_be64(blob + i * FIELD_LEN, hash[i]);
	snprintf(k, sizeof(k), "%d", kind == BAYES_KIND_SPAM ? 1 : 2);
	snprintf(t, sizeof(t), "%lld", (long long)now);
	snprintf(d, sizeof(d), "%lld", (long long)(now / 86400));
	snprintf(mmax, sizeof(mmax), "%zu", q->messages_max);
	for (int i = 2; i < 12; i++)
		lens[i] = i == 10 ? n * FIELD_LEN : strlen(argv[i]);
	r = run_script(q, &q->learn, 12, argv, lens, "learning a message", err);
	free(blob);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= 2) {
		*res = r->integer == 0 ? BAYES_LEARN_SAME : r->integer == 1 ? BAYES_LEARN_NEW :
		    BAYES_LEARN_MOVED;
		rc = 0;
	} else {
		free(*err);
		*err = xasprintf("classifier store %s: learning a message: unexpected reply",
		    q->where);
	}
	freeReplyObject(r);
	return rc;
}

/* A non-negative integer reply, or -1. */
static long long
int_reply(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return r->integer < 0 ? -1 : r->integer;
	if (r->type == REDIS_REPLY_STRING) {
		char *end;
		unsigned long long v = strtoull(r->str, &end, 10);
		return end == r->str || *end != '\0' || v > (unsigned long long)INT64_MAX ? -1 :
		    (long long)v;
	}
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	return -1;
}

static long long
hlen(struct rd *q, char **err)
{
	const char *argv[2] = { "HLEN", K_TOKENS };
	redisReply *r = run_str(q, 2, argv, "counting tokens", err);
	long long n;

	if (r == NULL)
		return -1;
	n = int_reply(r);
	freeReplyObject(r);
	return n;
}

/* The most tokens a read takes in, from what the hash holds (n) and the
 * cap: more means the hash is not the classifier's (or was never
 * trimmed), and is refused rather than loaded without end. */
static size_t
scan_limit(const struct rd *q, long long n)
{
	return 2 * ((size_t)n > q->tokens_max ? (size_t)n : q->tokens_max) + SCAN_COUNT;
}

/*
 * fn(arg, hash, value) for each token (HSCAN: a token may come twice).
 * Bounded: at most limit tokens and the rounds they need (a rehash in
 * Redis can cost a few empty ones). 0, or -1 with *err.
 */
static int
scan_tokens(struct rd *q, size_t limit, void (*fn)(void *, uint64_t, const unsigned char *),
    void *arg, char **err)
{
	char cursor[32] = "0", count[16];
	size_t seen = 0, rounds = 0, max_rounds = 4 * (limit / SCAN_COUNT) + 100;

	snprintf(count, sizeof(count), "%d", SCAN_COUNT);
	do {
		const char *argv[5] = { "HSCAN", K_TOKENS, cursor, "COUNT", count };
		redisReply *r = run_str(q, 5, argv, "reading tokens", err), *items;

		if (r == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			*err = xasprintf("classifier store %s: reading tokens: unexpected reply",
			    q->where);
			return -1;
		}
		memcpy(cursor, r->element[0]->str, r->element[0]->len + 1);
		items = r->element[1];
		for (size_t i = 0; i + 1 < items->elements; i += 2) {
			const redisReply *f = items->element[i], *v = items->element[i + 1];
			if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
			    f->len != FIELD_LEN || v->len != VALUE_LEN) {
				freeReplyObject(r);
				*err = xasprintf("classifier store %s: a token of the wrong size in "
				    K_TOKENS ": damaged or not postern's: refused (delete the "
				    "postern:bayes:* keys and learn again)", q->where);
				return -1;
			}
			fn(arg, get_be64((const unsigned char *)f->str),
			    (const unsigned char *)v->str);
		}
		seen += items->elements / 2;
		freeReplyObject(r);
		if (seen > limit || ++rounds > max_rounds) {
			*err = xasprintf("classifier store %s: " K_TOKENS " holds more than %zu "
			    "tokens: refused (not trimmed to the cap of %zu)", q->where, limit,
			    q->tokens_max);
			return -1;
		}
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

struct toks {
	struct tok *t;
	size_t n, cap;
};

static void
collect(void *arg, uint64_t h, const unsigned char *v)
{
	struct toks *ts = arg;
	struct tok *t;

	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 1024;
		ts->t = xrealloc(ts->t, ts->cap * sizeof(*ts->t));
	}
	t = &ts->t[ts->n++];
	t->h = h;
	t->day = get_be32(v + 8);
	t->total = get_be32(v) + get_be32(v + 4);
	memcpy(t->v, v, VALUE_LEN);
}

static int
by_age_then_rarity(const void *a, const void *b)
{
	const struct tok *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if (x->total != y->total)
		return x->total < y->total ? -1 : 1;
	return x->h < y->h ? -1 : x->h > y->h;
}

/* Over the cap: the tokens learned longest ago go, the rarest first among
 * those of a day, down to 90% (as the local store; SpamAssassin's expiry
 * keeps the recent ones too). */
static int
expire_tokens(struct rd *q, char **err)
{
	long long n = hlen(q, err), target = (long long)(q->tokens_max * 9 / 10);
	struct toks ts = { 0 };
	size_t i = 0;
	int rc = -1;

	if (n == -1)
		return -1;
	if ((size_t)n <= q->tokens_max)
		return 0;
	if (scan_tokens(q, scan_limit(q, n), collect, &ts, err) == -1)
		goto out;
	qsort(ts.t, ts.n, sizeof(*ts.t), by_age_then_rarity);
	while (i < ts.n && n > target) {
		unsigned char fields[BATCH][FIELD_LEN];
		const char *argv[6 + 2 * BATCH];
		size_t lens[6 + 2 * BATCH], k = 0;
		char tgt[24];
		redisReply *r;

		snprintf(tgt, sizeof(tgt), "%lld", target);
		argv[2] = "2";
		argv[3] = K_TOKENS;
		argv[4] = K_META;
		argv[5] = tgt;
		for (int j = 2; j < 6; j++)
			lens[j] = strlen(argv[j]);
		for (; i < ts.n && k < BATCH; i++, k++) {
			put_be64(fields[k], ts.t[i].h);
			argv[6 + 2 * k] = (const char *)fields[k];
			lens[6 + 2 * k] = FIELD_LEN;
			argv[7 + 2 * k] = (const char *)ts.t[i].v;
			lens[7 + 2 * k] = VALUE_LEN;
		}
		r = run_script(q, &q->del, (int)(6 + 2 * k), argv, lens, "expiring tokens", err);
		if (r == NULL)
			goto out;
		n = int_reply(r);
		freeReplyObject(r);
		if (n == -1) {
			*err = xasprintf("classifier store %s: expiring tokens: unexpected reply",
			    q->where);
			goto out;
		}
	}
	rc = 0;
out:
	free(ts.t);
	return rc;
}

static int
rd_commit(void *h, char **err)
{
	/* the messages' cap is kept by each learn; the tokens' here */
	return expire_tokens(h, err);
}

/* nspam, nham and serial of meta. */
static int
read_meta(struct rd *q, uint32_t *nspam, uint32_t *nham, uint64_t *serial, char **err)
{
	const char *argv[5] = { "HMGET", K_META, "nspam", "nham", "serial" };
	redisReply *r = run_str(q, 5, argv, "reading the message counts", err);
	long long v[3];

	if (r == NULL)
		return -1;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    (v[0] = int_reply(r->element[0])) == -1 || (v[1] = int_reply(r->element[1])) == -1 ||
	    (v[2] = int_reply(r->element[2])) == -1) {
		freeReplyObject(r);
		*err = xasprintf("classifier store %s: " K_META " is damaged or not postern's: "
		    "refused", q->where);
		return -1;
	}
	freeReplyObject(r);
	*nspam = v[0] > UINT32_MAX ? UINT32_MAX : (uint32_t)v[0];
	*nham = v[1] > UINT32_MAX ? UINT32_MAX : (uint32_t)v[1];
	if (serial != NULL)
		*serial = (uint64_t)v[2];
	return 0;
}

static int
rd_lookup(void *h, const uint64_t *hash, size_t n, struct bayes_counts *out, uint32_t *nspam,
    uint32_t *nham, char **err)
{
	struct rd *q = h;

	if (n > 0)
		memset(out, 0, n * sizeof(*out));
	if (read_meta(q, nspam, nham, NULL, err) == -1)
		return -1;
	for (size_t i = 0; i < n;) {
		unsigned char fields[BATCH][FIELD_LEN];
		const char *argv[2 + BATCH];
		size_t lens[2 + BATCH], k, first = i;
		redisReply *r;

		argv[0] = "HMGET";
		argv[1] = K_TOKENS;
		lens[0] = 5;
		lens[1] = strlen(K_TOKENS);
		for (k = 0; i < n && k < BATCH; i++, k++) {
			put_be64(fields[k], hash[i]);
			argv[2 + k] = (const char *)fields[k];
			lens[2 + k] = FIELD_LEN;
		}
		if ((r = run(q, (int)(2 + k), argv, lens, "reading tokens", err)) == NULL)
			return -1;
		if (r->type != REDIS_REPLY_ARRAY || r->elements != k) {
			freeReplyObject(r);
			*err = xasprintf("classifier store %s: reading tokens: unexpected reply",
			    q->where);
			return -1;
		}
		for (size_t j = 0; j < k; j++) {
			const redisReply *v = r->element[j];
			if (v->type == REDIS_REPLY_STRING && v->len == VALUE_LEN) {
				out[first + j].spam = get_be32((const unsigned char *)v->str);
				out[first + j].ham = get_be32((const unsigned char *)v->str + 4);
			}
		}
		freeReplyObject(r);
	}
	return 0;
}

static void
put(void *arg, uint64_t h, const unsigned char *v)
{
	bayes_table_put(arg, h, (struct bayes_counts){ get_be32(v), get_be32(v + 4) });
}

static struct bayes_table *
rd_load(void *h, char **err)
{
	struct rd *q = h;
	struct bayes_table *t;
	uint32_t nspam, nham;
	long long n;

	/* not one snapshot: a learn during the read leaves a table between
	 * two states, and a new serial, so the server loads again */
	if (read_meta(q, &nspam, &nham, NULL, err) == -1 || (n = hlen(q, err)) == -1)
		return NULL;
	t = bayes_table_new((size_t)n);
	bayes_table_set_learned(t, nspam, nham);
	if (scan_tokens(q, scan_limit(q, n), put, t, err) == -1) {
		bayes_table_free(t);
		return NULL;
	}
	return t;
}

static int
rd_serial(void *h, uint64_t *out, char **err)
{
	const char *argv[3] = { "HGET", K_META, "serial" };
	struct rd *q = h;
	redisReply *r = run_str(q, 3, argv, "reading the change counter", err);
	long long v;

	if (r == NULL)
		return -1;
	v = int_reply(r);
	freeReplyObject(r);
	if (v == -1) {
		*err = xasprintf("classifier store %s: " K_META " is damaged or not postern's: "
		    "refused", q->where);
		return -1;
	}
	*out = (uint64_t)v;
	return 0;
}

const struct bayes_backend bayes_redis_backend = {
	.name = "redis",
	.open = rd_open,
	.set_caps = rd_set_caps,
	.begin = rd_begin,
	.learn = rd_learn,
	.commit = rd_commit,
	.lookup = rd_lookup,
	.load = rd_load,
	.serial = rd_serial,
	.close = rd_close,
};
