/*
 * Tests of the classifier store in Redis (policy/bayes_redis.c) against a
 * private redis-server on loopback (skipped when none is installed), and
 * of the token and message caps on both backends: learning twice counts
 * once and moving works across processes, concurrent learners lose no
 * update, the password is asked, an unreachable Redis is an error, and
 * past BAYES_STORE_TOKENS_MAX the oldest and rarest tokens go, down to 90%.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/state_url.h"
#include "policy/bayes_store.h"

#define REDIS_SERVER "/usr/bin/redis-server"
#define PASSWORD "bayes-test-secret"
#define DAY 86400
#define T0 1700000000

static pid_t redis_pid = -1;
static unsigned redis_port;
static char dir[64];
static struct config cfg;

static unsigned
free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* A command on a connection of our own (AUTH, SELECT 1 first). */
static redisReply *
admin(const char *fmt, ...)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)redis_port, tv);
	redisReply *r = NULL;
	va_list ap;

	if (c == NULL || c->err) {
		redisFree(c);
		return NULL;
	}
	freeReplyObject(redisCommand(c, "AUTH %s", PASSWORD));
	freeReplyObject(redisCommand(c, "SELECT 1"));
	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	redisFree(c);
	return r;
}

static long long
admin_int(const char *fmt, const char *arg)
{
	redisReply *r = admin(fmt, arg);
	long long v;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

static int
group_setup(void **state)
{
	char port[16], url[64];

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/postern-test-bayesr-XXXXXX");
	assert_non_null(mkdtemp(dir));
	if (access(REDIS_SERVER, X_OK) != 0)
		return 0;
	redis_port = free_port();
	snprintf(port, sizeof(port), "%u", redis_port);
	redis_pid = fork();
	assert_true(redis_pid >= 0);
	if (redis_pid == 0) {
		/* private: loopback, no persistence, a password; gone with
		 * the test even if it crashes */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execl(REDIS_SERVER, REDIS_SERVER, "--port", port, "--bind", "127.0.0.1",
		    "--save", "", "--appendonly", "no", "--dir", dir, "--requirepass", PASSWORD,
		    "--logfile", "/dev/null", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		redisReply *r = admin("PING");
		bool up = r != NULL && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (up)
			break;
		usleep(25000);
	}
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u/1", redis_port);
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	assert_int_equal(state_url_parse(url, strlen(url), &cfg.state_url), 0);
	cfg.state_password = PASSWORD;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Each test on an empty store: Redis flushed, the local file removed. */
static int
setup(void **state)
{
	char path[128];

	(void)state;
	if (redis_pid > 0)
		freeReplyObject(admin("FLUSHDB"));
	snprintf(path, sizeof(path), "%s/bayes.db", dir);
	unlink(path);
	strcat(path, "-wal");
	unlink(path);
	return 0;
}

static void
need_redis(void)
{
	if (redis_pid <= 0)
		skip();
}

/* The configured store: Redis, or the local file (cfg without a URL). */
static struct bayes_store *
open_store(bool redis)
{
	struct config c = cfg;
	struct bayes_store *st;
	char *err = NULL;

	if (!redis)
		memset(&c.state_url, 0, sizeof(c.state_url));
	st = bayes_store_open(&c, true, &err);
	if (st == NULL)
		print_error("%s\n", err);
	assert_non_null(st);
	return st;
}

/* Token number i: spread as bayes_hash() spreads texts (splitmix64's
 * finalizer, a bijection), since the server's table finds a token by the
 * low bits of its hash. */
static uint64_t
tok_hash(uint64_t i)
{
	i = (i ^ (i >> 30)) * 0xbf58476d1ce4e5b9ull;
	i = (i ^ (i >> 27)) * 0x94d049bb133111ebull;
	return i ^ (i >> 31);
}

/* Learns n tokens base, base+1, ... as message id, in a transaction. */
static enum bayes_learn_result
learn_range(struct bayes_store *st, const char *id, uint64_t base, size_t n,
    enum bayes_kind k, time_t now)
{
	struct bayes_tokens tok = { 0 };
	enum bayes_learn_result res = BAYES_LEARN_SAME;
	char *err = NULL;

	tok.t = calloc(n ? n : 1, sizeof(*tok.t));
	assert_non_null(tok.t);
	for (size_t i = 0; i < n; i++)
		tok.t[i].hash = tok_hash(base + i);
	tok.n = n;
	if (bayes_store_begin(st, &err) == -1 ||
	    bayes_store_learn(st, id, &tok, k, now, &res, &err) == -1 ||
	    bayes_store_commit(st, &err) == -1)
		fail_msg("%s", err);
	free(tok.t);
	return res;
}

static struct bayes_table *
load(struct bayes_store *st)
{
	char *err = NULL;
	struct bayes_table *t = bayes_store_load(st, &err);

	if (t == NULL)
		fail_msg("%s", err);
	return t;
}

/* How many of n tokens from base the table has with these counts. */
static size_t
kept(const struct bayes_table *t, uint64_t base, size_t n, uint32_t spam, uint32_t ham)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		struct bayes_counts c;
		if (bayes_table_get(t, tok_hash(base + i), &c) && c.spam == spam && c.ham == ham)
			k++;
	}
	return k;
}

static const uint64_t RARE = 0x1000000000000000ull, FREQ = 0x2000000000000000ull,
    RECENT = 0x3000000000000000ull;

/*
 * Old rare tokens (once), old frequent ones (twice), recent ones: one
 * over the cap, and the commit that passes it leaves 90% of the cap, all
 * the frequent and the recent kept, the old rare ones dropped first.
 */
static void
cap_expiry(bool redis, size_t cap, bool set)
{
	struct bayes_store *st = open_store(redis);
	size_t nfreq = cap / 5, nrecent = cap * 32 / 100, nrare = cap + cap / 50 - nfreq - nrecent;
	struct bayes_table *t;

	if (set)
		bayes_store_set_caps(st, cap, BAYES_STORE_MESSAGES_MAX);
	assert_int_equal(learn_range(st, "<rare@x>", RARE, nrare, BAYES_KIND_SPAM, T0),
	    BAYES_LEARN_NEW);
	assert_int_equal(learn_range(st, "<f1@x>", FREQ, nfreq, BAYES_KIND_SPAM, T0),
	    BAYES_LEARN_NEW);
	assert_int_equal(learn_range(st, "<f2@x>", FREQ, nfreq, BAYES_KIND_HAM, T0 + 60),
	    BAYES_LEARN_NEW);
	t = load(st);
	assert_int_equal(bayes_table_count(t), nrare + nfreq);
	bayes_table_free(t);
	/* this commit goes past the cap (by 2%) */
	assert_int_equal(learn_range(st, "<new@x>", RECENT, nrecent, BAYES_KIND_SPAM,
	    T0 + 10 * DAY), BAYES_LEARN_NEW);
	t = load(st);
	assert_int_equal(bayes_table_count(t), cap * 9 / 10);
	assert_int_equal(kept(t, RECENT, nrecent, 1, 0), nrecent);
	assert_int_equal(kept(t, FREQ, nfreq, 1, 1), nfreq);
	assert_int_equal(kept(t, RARE, nrare, 1, 0), cap * 9 / 10 - nfreq - nrecent);
	bayes_table_free(t);
	bayes_store_close(st);
}

/* BAYES_STORE_TOKENS_MAX itself, the default of both stores. */
static void
test_cap_local(void **state)
{
	(void)state;
	cap_expiry(false, BAYES_STORE_TOKENS_MAX, false);
}

static void
test_cap_redis(void **state)
{
	(void)state;
	need_redis();
	cap_expiry(true, BAYES_STORE_TOKENS_MAX, false);
}

/* A cap given: the same rule; and the messages' cap forgets the oldest
 * (learned again, a forgotten message counts again). */
static void
caps_set(bool redis)
{
	struct bayes_store *st;
	char id[32];

	cap_expiry(redis, 1000, true);
	st = open_store(redis);
	bayes_store_set_caps(st, 1000, 50);
	for (int i = 0; i < 60; i++) {
		snprintf(id, sizeof(id), "<m%d@x>", i);
		assert_int_equal(learn_range(st, id, 7, 1, BAYES_KIND_HAM, T0 + 20 * DAY + i),
		    BAYES_LEARN_NEW);
	}
	assert_int_equal(learn_range(st, "<m59@x>", 7, 1, BAYES_KIND_HAM, T0 + 30 * DAY),
	    BAYES_LEARN_SAME);
	assert_int_equal(learn_range(st, "<m20@x>", 7, 1, BAYES_KIND_HAM, T0 + 30 * DAY),
	    BAYES_LEARN_SAME);
	assert_int_equal(learn_range(st, "<m0@x>", 7, 1, BAYES_KIND_HAM, T0 + 30 * DAY),
	    BAYES_LEARN_NEW);
	bayes_store_close(st);
}

static void
test_caps_set_local(void **state)
{
	(void)state;
	caps_set(false);
}

static void
test_caps_set_redis(void **state)
{
	(void)state;
	need_redis();
	caps_set(true);
	/* at most the cap, at least 90% of it */
	long long n = admin_int("ZCARD %s", "postern:bayes:messages");
	assert_true(n >= 45 && n <= 50);
}

/* Learning twice counts once, as the other kind moves; lookups, the
 * table and the change counter agree. */
static void
test_redis_learn_once_and_move(void **state)
{
	struct bayes_store *st, *other;
	struct bayes_table *t;
	struct bayes_counts c[2];
	uint64_t h[2] = { tok_hash(RARE + 1), tok_hash(RARE + 99) }, s0, s1;
	uint32_t ns, nh;
	char *err = NULL;

	(void)state;
	need_redis();
	st = open_store(true);
	assert_int_equal(bayes_store_serial(st, &s0, &err), 0);
	assert_int_equal(s0, 0);
	t = load(st);
	assert_int_equal(bayes_table_count(t), 0);
	bayes_table_free(t);
	assert_int_equal(learn_range(st, "<a@x>", RARE, 3, BAYES_KIND_SPAM, T0), BAYES_LEARN_NEW);
	assert_int_equal(bayes_store_serial(st, &s0, &err), 0);
	assert_true(s0 > 0);
	/* another process's connection: the same message, the same kind */
	other = open_store(true);
	assert_int_equal(learn_range(other, "<a@x>", RARE, 3, BAYES_KIND_SPAM, T0),
	    BAYES_LEARN_SAME);
	assert_int_equal(bayes_store_serial(st, &s1, &err), 0);
	assert_int_equal(s1, s0);
	assert_int_equal(learn_range(other, "<b@x>", RARE + 1, 2, BAYES_KIND_HAM, T0),
	    BAYES_LEARN_NEW);
	assert_int_equal(bayes_store_totals(st, &ns, &nh, &err), 0);
	assert_int_equal(ns, 1);
	assert_int_equal(nh, 1);
	t = load(st);
	assert_int_equal(kept(t, RARE, 1, 1, 0), 1);
	assert_int_equal(kept(t, RARE + 1, 2, 1, 1), 2);
	bayes_table_free(t);

	assert_int_equal(learn_range(other, "<a@x>", RARE, 3, BAYES_KIND_HAM, T0),
	    BAYES_LEARN_MOVED);
	assert_int_equal(bayes_store_totals(st, &ns, &nh, &err), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(nh, 2);
	t = load(st);
	bayes_table_learned(t, &ns, &nh);
	assert_int_equal(nh, 2);
	/* 0/0 tokens are not kept */
	assert_int_equal(bayes_table_count(t), 3);
	assert_int_equal(kept(t, RARE, 1, 0, 1), 1);
	assert_int_equal(kept(t, RARE + 1, 2, 0, 2), 2);
	bayes_table_free(t);
	assert_int_equal(admin_int("HLEN %s", "postern:bayes:tokens"), 3);
	{
		const struct bayes_backend *b = &bayes_redis_backend;
		char url[64];
		void *q;
		snprintf(url, sizeof(url), "redis://127.0.0.1:%u/1", redis_port);
		q = b->open(url, PASSWORD, false, &err);
		assert_non_null(q);
		assert_int_equal(b->lookup(q, h, 2, c, &ns, &nh, &err), 0);
		assert_int_equal(c[0].ham, 2);
		assert_int_equal(c[0].spam, 0);
		assert_int_equal(c[1].spam + c[1].ham, 0);
		b->close(q);
	}
	bayes_store_close(other);
	bayes_store_close(st);
}

/* Learners in several processes at once, some learning the same messages:
 * every count exact (each learn one script). */
static void
test_redis_concurrent_learners(void **state)
{
	enum { KIDS = 4, EACH = 40 };
	pid_t pid[KIDS];
	struct bayes_store *st;
	struct bayes_table *t;
	uint32_t ns, nh;

	(void)state;
	need_redis();
	for (int k = 0; k < KIDS; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			char *err = NULL;
			struct bayes_store *mine = bayes_store_open(&cfg, true, &err);
			if (mine == NULL)
				_exit(1);
			for (int i = 0; i < EACH; i++) {
				struct bayes_tokens tk = { 0 };
				struct bayes_token two[2] = { { .hash = tok_hash(1) },
					{ .hash = tok_hash(1000 + (uint64_t)k) } };
				enum bayes_learn_result res;
				char id[32];
				/* kids 0 and 1 learn the same messages: counted once */
				snprintf(id, sizeof(id), "<%d.%d@x>", k < 2 ? 0 : k, i);
				tk.t = two;
				tk.n = k < 2 ? 1 : 2;
				if (bayes_store_begin(mine, &err) == -1 ||
				    bayes_store_learn(mine, id, &tk, BAYES_KIND_SPAM, T0, &res,
				    &err) == -1 || bayes_store_commit(mine, &err) == -1)
					_exit(2);
			}
			bayes_store_close(mine);
			_exit(0);
		}
	}
	for (int k = 0; k < KIDS; k++) {
		int ws;
		assert_int_equal(waitpid(pid[k], &ws, 0), pid[k]);
		assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
	}
	st = open_store(true);
	t = load(st);
	bayes_table_learned(t, &ns, &nh);
	assert_int_equal(ns, (KIDS - 1) * EACH);
	assert_int_equal(nh, 0);
	assert_int_equal(kept(t, 1, 1, (KIDS - 1) * EACH, 0), 1);
	assert_int_equal(kept(t, 1002, 2, EACH, 0), 2);
	bayes_table_free(t);
	bayes_store_close(st);
}

/* Errors say what is wrong: the password, Redis away, a damaged token. */
static void
test_redis_errors(void **state)
{
	const struct bayes_backend *b = &bayes_redis_backend;
	struct bayes_store *st;
	char url[64], *err = NULL;
	void *q;

	(void)state;
	need_redis();
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u/1", redis_port);
	q = b->open(url, "wrong", true, &err);
	assert_null(q);
	assert_non_null(strstr(err, "AUTH"));
	assert_null(strstr(err, "wrong"));
	free(err);
	err = NULL;
	assert_null(b->open(url, NULL, true, &err));
	assert_non_null(strstr(err, "NOAUTH"));
	free(err);
	err = NULL;
	snprintf(url, sizeof(url), "redis://127.0.0.1:%u/1", free_port());
	assert_null(b->open(url, PASSWORD, true, &err));
	assert_non_null(strstr(err, "cannot connect"));
	assert_non_null(strstr(err, url));
	free(err);
	err = NULL;

	st = open_store(true);
	learn_range(st, "<a@x>", RARE, 3, BAYES_KIND_SPAM, T0);
	freeReplyObject(admin("HSET postern:bayes:tokens short x"));
	assert_null(bayes_store_load(st, &err));
	assert_non_null(strstr(err, "damaged"));
	free(err);
	bayes_store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_cap_local, setup),
		cmocka_unit_test_setup(test_cap_redis, setup),
		cmocka_unit_test_setup(test_caps_set_local, setup),
		cmocka_unit_test_setup(test_caps_set_redis, setup),
		cmocka_unit_test_setup(test_redis_learn_once_and_move, setup),
		cmocka_unit_test_setup(test_redis_concurrent_learners, setup),
		cmocka_unit_test_setup(test_redis_errors, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
