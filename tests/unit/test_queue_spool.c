/*
 * Tests of the queue files (src/queue/spool.h): the queue id syntax
 * (table), writing and loading across the block sizes, what spool_load
 * and spool_examine make of each kind of damage (table), the .state
 * parser (table), and recovery and salvage in a temporary data_dir:
 * damaged files quarantined unaltered, partial tmp/ files dropped,
 * complete ones queued, a salvage delivered once.
 */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/spool.h"

static const struct { const char *id; size_t len; bool ok; } id_cases[] = {
	{ "0123456789ABCDEF", 16, true },
	{ "6B15B4560A16D0FB", 16, true },
	{ "FFFFFFFFFFFFFFFF", 16, true },
	{ "0123456789abcdef", 16, false },	/* spool_new_id writes upper case */
	{ "0123456789ABCDE", 15, false },
	{ "0123456789ABCDEF0", 17, false },
	{ "", 0, false },
	{ "../../victim.txt", 16, false },
	{ "/etc/passwd", 11, false },
	{ "a/b", 3, false },
	{ "..", 2, false },
	{ "0123456789ABCDE/", 16, false },
	{ "0123456789ABCDE.", 16, false },
	{ "0123456789ABCDEG", 16, false },
	{ "0123456789ABCD\0F", 16, false },
	{ "0123456789ABCDEF/../x", 21, false },
	{ "0123456789ABCDEF\n", 17, false },
	{ " 0123456789ABCDE", 16, false },
};

static void
test_id_valid(void **state)
{
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(id_cases); i++) {
		char *in = malloc(id_cases[i].len ? id_cases[i].len : 1);
		memcpy(in, id_cases[i].id, id_cases[i].len);
		CASE_CHECK(bad, spool_id_valid(in, id_cases[i].len) == id_cases[i].ok, i, "\"%s\"",
		    unit_show(in, id_cases[i].len));
		free(in);
	}
	assert_false(spool_id_valid(NULL, 0));
	/* what spool_new_id makes is valid */
	for (int i = 0; i < 100; i++) {
		char id[SPOOL_ID_LEN + 1];
		spool_new_id(id);
		assert_true(spool_id_valid(id, strlen(id)));
	}
	assert_int_equal(bad, 0);
}

/* ---- a temporary data_dir and queue files in it ---- */

static char datadir[] = "/tmp/postern-spool-XXXXXX";

static void
rm_rf(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char sub[4096];
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		rm_rf(sub);
	}
	closedir(d);
	rmdir(path);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(datadir, "/tmp/postern-spool-XXXXXX");
	if (mkdtemp(datadir) == NULL || spool_init(datadir) == -1)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rm_rf(datadir);
	return 0;
}

static char *
slurp(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	char *buf;

	if (fd == -1)
		return NULL;
	fstat(fd, &st);
	buf = malloc((size_t)st.st_size + 1);
	*len = (size_t)read(fd, buf, (size_t)st.st_size);
	close(fd);
	return buf;
}

static void
spit(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd != -1);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* A message of len octets: numbered CRLF lines. */
static char *
make_message(size_t len)
{
	char *m = malloc(len + 1);

	for (size_t i = 0; i < len; i++)
		m[i] = (char)('a' + (i / 7) % 26);
	for (size_t i = 60; i < len; i += 62) {
		m[i - 1] = '\r';
		m[i] = '\n';
	}
	if (len >= 2) {
		m[len - 2] = '\r';
		m[len - 1] = '\n';
	}
	m[len] = '\0';
	return m;
}

/* Queues a message (as a session does: create, write, finish, commit)
 * with two recipients; the id goes to id. */
static void
queue_message(const char *msg, size_t len, char *id)
{
	struct spool_rcpt rcpts[2] = {
		{ .addr = "bob@example.test", .mailbox = "example.test/bob" },
		{ .addr = "carol@remote.test", .mailbox = SPOOL_REMOTE },
	};
	struct spool_envelope env = { .time = 1700000000, .from = "alice@sender.test",
	    .client = "192.0.2.1", .helo = "client.test", .rcpts = rcpts, .nrcpts = 2 };
	struct spool_meta meta = { "Junk", "X-Spam-Score: 6.0\r\nX-Spam-Flag: YES\r\n" };
	struct spool_writer *w;

	spool_new_id(env.id);
	w = spool_create(datadir, &env);
	assert_non_null(w);
	/* in pieces, across block boundaries */
	for (size_t off = 0; off < len;) {
		size_t n = len - off < 700 ? len - off : 700;
		assert_int_equal(spool_write(w, msg + off, n), 0);
		off += n;
	}
	assert_int_equal(spool_finish(w, &meta), 0);
	assert_int_equal(spool_commit(datadir, env.id), 0);
	strcpy(id, env.id);
}

static void
queue_path(const char *id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/queue/%s", datadir, id);
}

static void
test_write_load_roundtrip(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 511, 512, 513, 4000, 65535, 65536, 65537, 200000 };

	(void)state;
	for (size_t i = 0; i < NELEM(sizes); i++) {
		char id[SPOOL_ID_LEN + 1], path[4096];
		char *msg = make_message(sizes[i]);
		struct spool_msg m;
		struct stat st;

		queue_message(msg, sizes[i], id);
		/* spool_commit moved it out of tmp/ */
		snprintf(path, sizeof(path), "%s/queue/tmp/%s", datadir, id);
		assert_int_equal(stat(path, &st), -1);
		assert_int_equal(spool_load(datadir, id, &m), 0);
		assert_int_equal(m.datalen, sizes[i]);
		if (sizes[i] > 0)
			assert_memory_equal(m.data, msg, sizes[i]);
		assert_string_equal(m.folder, "Junk");
		assert_string_equal(m.headers, "X-Spam-Score: 6.0\r\nX-Spam-Flag: YES\r\n");
		assert_int_equal(m.env.nrcpts, 2);
		assert_string_equal(m.env.rcpts[1].addr, "carol@remote.test");
		assert_false(m.state_damaged);
		spool_msg_clear(&m);
		assert_int_equal(spool_remove(datadir, id), 0);
		assert_int_equal(spool_remove(datadir, id), -1);
		free(msg);
	}
}

static size_t
count_dir(const char *sub)
{
	return unit_count_entries(datadir, sub);
}

/* Octets of the files under queue-free/; fails on a name that holds
 * the queue id */
static size_t
free_bytes(const char *id)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/queue-free", datadir);
	assert_non_null(d = opendir(path));
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		assert_null(strstr(de->d_name, id));
		snprintf(path, sizeof(path), "%s/queue-free/%s", datadir, de->d_name);
		assert_int_equal(stat(path, &st), 0);
		n += (size_t)st.st_size;
	}
	closedir(d);
	return n;
}

/*
 * The server's pool: a removed message's file is emptied and goes to
 * queue-free/ (no message left on disk there, under a name that is no
 * queue id), the next message is written into it, cut to its own length
 * (a shorter message after a longer one loads exactly), the pool never
 * holds more than its size, an id already under tmp/ is refused as O_EXCL
 * would, and a new start empties queue-free/.
 */
static void
test_pool_reuse(void **state)
{
	static const struct {
		size_t size;
		size_t free_after;	/* files in queue-free/ after its removal */
	} cases[] = {
		{ 200000, 1 },
		{ 100, 1 },		/* took it (free 0), given back (1) */
		{ 300000, 1 },
		{ 5, 1 },
		{ 65537, 1 },
		{ 0, 1 },
		{ 4000, 1 },
	};
	char ids[NELEM(cases)][SPOOL_ID_LEN + 1];

	(void)state;
	assert_int_equal(spool_pool_init(datadir, 2), 0);
	for (size_t i = 0; i < NELEM(cases); i++) {
		char *msg = make_message(cases[i].size);
		struct spool_msg m;

		queue_message(msg, cases[i].size, ids[i]);
		assert_int_equal(spool_load(datadir, ids[i], &m), 0);
		assert_int_equal(m.datalen, cases[i].size);
		if (cases[i].size > 0)
			assert_memory_equal(m.data, msg, cases[i].size);
		spool_msg_clear(&m);
		assert_int_equal(spool_remove(datadir, ids[i]), 0);
		assert_int_equal(count_dir("queue-free"), cases[i].free_after);
		assert_int_equal(free_bytes(ids[i]), 0);
		/* gone from queue/: no second delivery */
		assert_int_equal(spool_load(datadir, ids[i], &m), -1);
		free(msg);
	}
	/* two in flight: the pool gives one, the other is created; both
	 * back, and the pool stops at its size */
	{
		char a[SPOOL_ID_LEN + 1], b[SPOOL_ID_LEN + 1], c[SPOOL_ID_LEN + 1];
		char *msg = make_message(3000);
		queue_message(msg, 3000, a);
		queue_message(msg, 3000, b);
		queue_message(msg, 3000, c);
		assert_int_equal(count_dir("queue-free"), 0);
		assert_int_equal(spool_remove(datadir, a), 0);
		assert_int_equal(spool_remove(datadir, b), 0);
		assert_int_equal(spool_remove(datadir, c), 0);
		assert_int_equal(count_dir("queue-free"), 2);
		free(msg);
	}
	/* an id already under tmp/: refused, the pooled file stays */
	{
		struct spool_rcpt r = { .addr = "bob@example.test", .mailbox = "example.test/bob" };
		struct spool_envelope env = { .time = 1, .from = "", .client = "192.0.2.1",
		    .helo = "h", .rcpts = &r, .nrcpts = 1 };
		char path[4096];
		spool_new_id(env.id);
		snprintf(path, sizeof(path), "%s/queue/tmp/%s", datadir, env.id);
		spit(path, "x", 1);
		errno = 0;
		assert_null(spool_create(datadir, &env));
		assert_int_equal(errno, EEXIST);
		assert_int_equal(count_dir("queue-free"), 2);
		unlink(path);
	}
	/* a delivered message's file waits whole, for the next one to
	 * write over, until the sweep empties it */
	{
		char d[SPOOL_ID_LEN + 1];
		char *msg = make_message(5000);
		queue_message(msg, 5000, d);
		assert_int_equal(spool_remove_delivered(datadir, d), 0);
		assert_true(free_bytes(d) > 5000);
		spool_pool_sweep(SPOOL_POOL_LINGER);	/* not yet */
		assert_true(free_bytes(d) > 5000);
		spool_pool_sweep(0);
		assert_int_equal(free_bytes(d), 0);
		assert_int_equal(count_dir("queue-free"), 2);
		free(msg);
		/* a large one is emptied at once all the same */
		msg = make_message(300000);
		queue_message(msg, 300000, d);
		assert_int_equal(spool_remove_delivered(datadir, d), 0);
		assert_int_equal(free_bytes(d), 0);
		assert_int_equal(count_dir("queue-free"), 2);
		free(msg);
	}
	/* a new start: what the pool held was delivered mail, removed */
	assert_int_equal(spool_pool_init(datadir, 2), 0);
	assert_int_equal(count_dir("queue-free"), 0);
	assert_int_equal(count_dir("queue/tmp"), 0);
}

/* What the scan reads back before the end is the message written so far
 * (capped), whether it still sits in the write buffer (small messages:
 * nothing written yet) or was flushed (large ones), and the file it ends
 * in is the same either way. */
static void
test_read_back(void **state)
{
	static const size_t sizes[] = { 0, 1, 4000, 65000, 65535, 65536, 70000, 200000 };
	static const size_t caps[] = { 100, 65536, 1 << 20 };

	(void)state;
	for (size_t i = 0; i < NELEM(sizes); i++)
		for (size_t k = 0; k < NELEM(caps); k++) {
			struct spool_rcpt r = { .addr = "bob@example.test", .mailbox = "example.test/bob" };
			struct spool_envelope env = { .time = 1700000000, .from = "a@sender.test",
			    .client = "192.0.2.1", .helo = "c.test", .rcpts = &r, .nrcpts = 1 };
			char *msg = make_message(sizes[i]), *back = NULL;
			size_t want = sizes[i] < caps[k] ? sizes[i] : caps[k];
			struct spool_writer *w;
			struct spool_msg m;
			ssize_t n;

			spool_new_id(env.id);
			w = spool_create(datadir, &env);
			assert_non_null(w);
			for (size_t off = 0; off < sizes[i];) {
				size_t c = sizes[i] - off < 1000 ? sizes[i] - off : 1000;
				assert_int_equal(spool_write(w, msg + off, c), 0);
				off += c;
			}
			n = spool_read_back(w, &back, caps[k]);
			assert_int_equal(n, (ssize_t)want);
			assert_memory_equal(back, msg, want);
			assert_int_equal(back[want], '\0');
			free(back);
			assert_int_equal(spool_finish(w, NULL), 0);
			assert_int_equal(spool_commit(datadir, env.id), 0);
			assert_int_equal(spool_load(datadir, env.id, &m), 0);
			assert_int_equal(m.datalen, sizes[i]);
			if (sizes[i] > 0)
				assert_memory_equal(m.data, msg, sizes[i]);
			spool_msg_clear(&m);
			assert_int_equal(spool_remove(datadir, env.id), 0);
			free(msg);
		}
}

/* ---- damage ---- */

enum damage { TRUNC_MSG, TRUNC_ENV, TRUNC_TRAILER, ZERO, ZERO_TAIL, RANDOM, ONE_BYTE, EMPTY,
	FLIP_ENV, FLIP_MSG_EARLY, FLIP_MSG_LATE, FLIP_SUMS, FLIP_TRAILER_HASH, FLIP_TRAILER_SIZE };

static const struct {
	enum damage d;
	const char *name;
	int want;		/* spool_examine: 0 something saved, 1 nothing */
	const char *why;	/* part of d.why when nothing */
	bool whole;		/* the whole message is kept */
} damage_cases[] = {
	{ TRUNC_MSG, "cut in the message", 0, NULL, false },
	{ TRUNC_ENV, "cut in the envelope", 1, "envelope", false },
	{ TRUNC_TRAILER, "cut in the trailer", 0, NULL, true },
	{ ZERO, "all zero", 1, "no queue envelope", false },
	{ ZERO_TAIL, "zeroed from the middle of the message", 0, NULL, false },
	{ RANDOM, "random bytes", 1, "no queue envelope", false },
	{ ONE_BYTE, "one byte", 1, "no queue envelope", false },
	{ EMPTY, "empty", 1, "empty", false },
	{ FLIP_ENV, "a byte of a recipient flipped", 1, "envelope is damaged", false },
	{ FLIP_MSG_EARLY, "a byte of the first line flipped", 1, "no complete line", false },
	{ FLIP_MSG_LATE, "a byte at 150000 flipped", 0, NULL, false },
	{ FLIP_SUMS, "a byte of the block sums flipped", 0, NULL, false },
	{ FLIP_TRAILER_HASH, "a byte of the trailer's hash flipped", 0, NULL, true },
	{ FLIP_TRAILER_SIZE, "a byte of the trailer's size flipped", 0, NULL, true },
};

#define DMG_MSG_LEN 200000

static size_t
env_end(const char *buf, size_t len)
{
	const char *p = memmem(buf, len, "\n\n", 2);
	return p ? (size_t)(p - buf) + 2 : 0;
}

/* buf (len) damaged in place as d says; the new length. */
static size_t
damage(enum damage d, char *buf, size_t len)
{
	size_t e = env_end(buf, len);
	char *p;

	switch (d) {
	case TRUNC_MSG: return e + 100000;
	case TRUNC_ENV: return e - 20;
	case TRUNC_TRAILER: return len - 30;
	case ZERO: memset(buf, 0, len); return len;
	case ZERO_TAIL: memset(buf + e + 70000, 0, len - e - 70000); return len;
	case RANDOM:
		srand(19);
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)rand();
		return len;
	case ONE_BYTE: return 1;
	case EMPTY: return 0;
	case FLIP_ENV: p = memmem(buf, len, "rcpt carol", 10); p[6] ^= 0x20; return len;
	case FLIP_MSG_EARLY: buf[e + 10] ^= 0x01; return len;
	case FLIP_MSG_LATE: buf[e + 150000] ^= 0x01; return len;
	case FLIP_SUMS:
		/* a hex digit of the 141st sum, still a hex digit */
		p = memmem(buf, len, "sums 1 ", 7) + 6 + 9 * 140 + 4;
		*p = *p == '0' ? '1' : '0';
		return len;
	case FLIP_TRAILER_HASH: buf[len - 20] ^= 0x01; return len;
	case FLIP_TRAILER_SIZE: buf[len - 40] ^= 0x01; return len;
	}
	return len;
}

static void
test_damage_table(void **state)
{
	char id[SPOOL_ID_LEN + 1], path[4096];
	char *msg = make_message(DMG_MSG_LEN), *orig;
	size_t olen, bad = 0;

	(void)state;
	queue_message(msg, DMG_MSG_LEN, id);
	queue_path(id, path, sizeof(path));
	orig = slurp(path, &olen);
	for (size_t i = 0; i < NELEM(damage_cases); i++) {
		char *buf = malloc(olen);
		size_t len, e = env_end(orig, olen);
		struct spool_damage d;
		struct spool_envelope env;
		struct spool_msg m;
		int rc;

		memcpy(buf, orig, olen);
		len = damage(damage_cases[i].d, buf, olen);
		/* it does not load, from the file or from memory */
		spit(path, buf, len);
		CASE_CHECK(bad, spool_load(datadir, id, &m) == 1, i, "%s: loads", damage_cases[i].name);
		CASE_CHECK(bad, spool_parse(buf, len, &m) == 1, i, "%s: parses", damage_cases[i].name);
		rc = spool_examine(buf, len, &d, &env);
		CASE_CHECK(bad, rc == damage_cases[i].want, i, "%s: examine %d (%s)",
		    damage_cases[i].name, rc, d.why ? d.why : "-");
		CASE_CHECK(bad, d.reason != NULL, i, "%s: no reason", damage_cases[i].name);
		if (rc == 1) {
			CASE_CHECK(bad, d.why && strstr(d.why, damage_cases[i].why), i, "%s: why %s",
			    damage_cases[i].name, d.why ? d.why : "-");
			CASE_CHECK(bad, env.nrcpts == 0 && env.from == NULL, i, "%s: envelope kept",
			    damage_cases[i].name);
		} else {
			/* the envelope as written, and the message up to the
			 * damage: a prefix, whole lines */
			CASE_CHECK(bad, env.nrcpts == 2 && strcmp(env.rcpts[1].addr, "carol@remote.test") == 0,
			    i, "%s: envelope", damage_cases[i].name);
			CASE_CHECK(bad, d.env_len == e, i, "%s: env_len %zu", damage_cases[i].name, d.env_len);
			CASE_CHECK(bad, d.good_len > 0 && d.good_len <= DMG_MSG_LEN &&
			    memcmp(buf + d.env_len, msg, d.good_len) == 0 && msg[d.good_len - 1] == '\n',
			    i, "%s: good_len %zu not a prefix of whole lines", damage_cases[i].name, d.good_len);
			CASE_CHECK(bad, damage_cases[i].whole == (d.good_len == DMG_MSG_LEN), i,
			    "%s: good_len %zu of %d", damage_cases[i].name, d.good_len, DMG_MSG_LEN);
			spool_envelope_clear(&env);
		}
		switch (damage_cases[i].d) {
		case TRUNC_MSG:
			CASE_CHECK(bad, d.good_len > 100000 - 70 && d.good_len <= 100000, i, "%zu", d.good_len);
			break;
		case ZERO_TAIL:
			CASE_CHECK(bad, d.good_len > 70000 - 70 && d.good_len <= 70000, i, "%zu", d.good_len);
			break;
		case FLIP_MSG_LATE:
			/* blocks of 8192 past 64 KiB: cut at the damaged block */
			CASE_CHECK(bad, d.verified && d.good_len <= 150000 && d.good_len > 150000 - 8192 - 70,
			    i, "%zu", d.good_len);
			break;
		case FLIP_SUMS:
			/* the 141st sum is wrong: its block is given up */
			CASE_CHECK(bad, d.verified && d.good_len <= 65536 + 12 * 8192 &&
			    d.good_len > 65536 + 12 * 8192 - 70, i, "%zu", d.good_len);
			break;
		default:
			break;
		}
		free(buf);
	}
	spit(path, orig, olen);
	{
		struct spool_msg m;
		assert_int_equal(spool_load(datadir, id, &m), 0);
		spool_msg_clear(&m);
	}
	free(orig);
	free(msg);
	assert_int_equal(bad, 0);
}

/* ---- state files ---- */

/*
 * Cases of state files: "<N>" is line N as spool_save_state writes it
 * (0: recipient 0 delivered, 1: recipient 1 pending after a try, 2:
 * recipient 1 delivered, 3: held), "<Nx>" that line with a byte changed,
 * "<N" that line without its newline.
 */
static const struct {
	const char *text;
	size_t len;		/* 0: strlen */
	int want;
	const char *status;	/* of recipients 0 and 1: 'p', 'd' or 'b' */
	bool held;
} state_cases[] = {
	{ "", 0, 0, "pp", false },
	{ "<3>\n", 0, 0, "pp", true },
	{ "<0>\n<1>\n", 0, 0, "dp", false },
	{ "<0>\n<1>\n<2>\n", 0, 0, "dd", false },	/* a later line wins */
	{ "<0>\n<1>\n<2", 0, 0, "dp", false },		/* a torn last line */
	{ "<0>\n<1x>\n", 0, 1, "pp", false },		/* a changed byte */
	{ "<0x>\n<1>\n", 0, 1, "pp", false },
	{ "<0>\n0000000\n", 0, 1, "pp", false },
	/* older files: no hashes, only the form is checked */
	{ "held\nwarned\n0 delivered 1 0 -\n", 0, 0, "dp", true },
	{ "1 bounced 3 0 550 5.1.1 no such user\n", 0, 0, "pb", false },
	{ "0 delivered 1 0 -\n2 delivered 1 0 -\n", 0, 1, "pp", false },	/* no recipient 2 */
	{ "0 sent 1 0 -\n", 0, 1, "pp", false },
	{ "0 delivered x 0 -\n", 0, 1, "pp", false },
	{ "0 delivered 1\n", 0, 1, "pp", false },
	{ "\0\0\0\0\0\0\0\0\n", 9, 1, "pp", false },
	{ "garbage\n", 0, 1, "pp", false },
	{ "\n", 0, 1, "pp", false },
};

/* The lines spool_save_state writes for these recipients. */
static char *
saved_state(enum rcpt_status s0, enum rcpt_status s1, bool held, size_t *len)
{
	struct spool_rcpt r[2] = {
		{ .addr = "bob@example.test", .mailbox = "example.test/bob", .status = s0,
		    .attempts = s0 == RCPT_PENDING ? 0 : 1 },
		{ .addr = "carol@remote.test", .mailbox = SPOOL_REMOTE, .status = s1, .attempts = 1,
		    .next_attempt = 1800000000, .reason = "451 4.3.0 try later" },
	};
	struct spool_envelope env = { .id = "0123456789ABCDEF", .rcpts = r, .nrcpts = 2 };
	char path[4096];

	assert_int_equal(spool_save_state(datadir, &env, held, false), 0);
	snprintf(path, sizeof(path), "%s/queue/%s.state", datadir, env.id);
	return slurp(path, len);
}

/* Line n (from 0) of text, without its newline, in a new string. */
static char *
line_of(const char *text, size_t len, int n)
{
	const char *p = text, *end = text + len, *nl;

	for (; n > 0; n--)
		p = memchr(p, '\n', (size_t)(end - p)) + 1;
	nl = memchr(p, '\n', (size_t)(end - p));
	return strndup(p, (size_t)(nl - p));
}

static void
test_state_parse(void **state)
{
	char *lines[4], *f;
	size_t bad = 0, l;

	(void)state;
	f = saved_state(RCPT_DELIVERED, RCPT_PENDING, false, &l);
	lines[0] = line_of(f, l, 0);
	lines[1] = line_of(f, l, 1);
	free(f);
	f = saved_state(RCPT_PENDING, RCPT_DELIVERED, true, &l);
	lines[3] = line_of(f, l, 0);
	lines[2] = line_of(f, l, 1);
	free(f);
	assert_non_null(strstr(lines[0], " 0 delivered 1 "));
	assert_non_null(strstr(lines[3], " held"));
	for (size_t i = 0; i < NELEM(state_cases); i++) {
		char text[1024];
		const char *t = state_cases[i].text;
		size_t tl = 0, tlen = state_cases[i].len ? state_cases[i].len : strlen(t);
		struct spool_rcpt r[2] = {
			{ .addr = "bob@example.test", .mailbox = "x/bob" },
			{ .addr = "carol@remote.test", .mailbox = SPOOL_REMOTE },
		};
		struct spool_envelope env = { .rcpts = r, .nrcpts = 2 };
		bool held, warned;
		int rc;

		for (const char *p = t; p < t + tlen;) {
			if (*p == '<') {
				const char *ln = lines[p[1] - '0'];
				size_t ll = strlen(ln);
				memcpy(text + tl, ln, ll);
				if (p[2] == 'x')
					text[tl + ll - 3] ^= 0x01;
				tl += ll;
				p += p[2] == 'x' ? 4 : p[2] == '>' ? 3 : 2;
			} else
				text[tl++] = *p++;
		}
		rc = spool_state_parse(text, tl, &env, &held, &warned);
		CASE_CHECK(bad, rc == state_cases[i].want, i, "\"%s\": %d", unit_show(text, tl), rc);
		for (int k = 0; k < 2; k++) {
			char want = state_cases[i].status[k];
			enum rcpt_status ws = want == 'd' ? RCPT_DELIVERED : want == 'b' ? RCPT_BOUNCED :
			    RCPT_PENDING;
			CASE_CHECK(bad, r[k].status == ws, i, "\"%s\": recipient %d %s", unit_show(text, tl),
			    k, spool_rcpt_status_name(r[k].status));
			free(r[k].reason);
		}
		CASE_CHECK(bad, held == state_cases[i].held, i, "\"%s\": held", unit_show(text, tl));
	}
	for (int k = 0; k < 4; k++)
		free(lines[k]);
	assert_int_equal(bad, 0);
}

/* ---- recovery and salvage ---- */

/* Whether data_dir/rel/name exists. */
static bool
exists(const char *rel, const char *name)
{
	char path[8192];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/%s", datadir, rel, name);
	return stat(path, &st) == 0;
}

static void
count_cb(const char *id, void *arg)
{
	(void)id;
	(*(int *)arg)++;
}

static void
test_recover_and_salvage(void **state)
{
	char good[SPOOL_ID_LEN + 1], cut[SPOOL_ID_LEN + 1], zero[SPOOL_ID_LEN + 1];
	char path[4096], qpath[4096];
	char *msg = make_message(20000), *raw, *back;
	size_t len, blen;
	int seen = 0;
	struct spool_salvage_result res;
	struct spool_writer *w;
	struct spool_rcpt r = { .addr = "x@example.test", .mailbox = "example.test/x" };
	struct spool_envelope env = { .time = 1, .from = "", .client = "", .helo = "",
	    .rcpts = &r, .nrcpts = 1 };
	struct spool_msg m;
	size_t n;
	struct spool_corrupt *c;

	(void)state;
	queue_message(msg, 20000, good);
	queue_message(msg, 20000, cut);
	queue_message(msg, 20000, zero);
	queue_path(cut, qpath, sizeof(qpath));
	raw = slurp(qpath, &len);
	spit(qpath, raw, len / 2);
	queue_path(zero, qpath, sizeof(qpath));
	memset(raw, 0, len);
	spit(qpath, raw, len);
	/* a damaged .state for the good one: loaded, every recipient pending */
	snprintf(path, sizeof(path), "%s/queue/%s.state", datadir, good);
	spit(path, "garbage\n", 8);
	/* under tmp/: a finished one whose rename was lost, a partial one */
	spool_new_id(env.id);
	w = spool_create(datadir, &env);
	spool_write(w, "Subject: x\r\n\r\nhi\r\n", 18);
	assert_int_equal(spool_finish(w, NULL), 0);
	spool_new_id(env.id);
	w = spool_create(datadir, &env);
	spool_write(w, "Subject: x\r\n", 12);
	spool_write(w, msg, 20000);
	spool_write(w, msg, 20000);
	spool_write(w, msg, 20000);
	spool_write(w, msg, 20000);	/* past the write buffer: on disk, not finished */

	assert_int_equal(spool_recover(datadir, count_cb, &seen), 2);
	spool_abort(w);
	assert_int_equal(seen, 2);
	/* damaged ones moved, unaltered, never deleted */
	assert_false(exists("queue", cut));
	assert_true(exists("queue/corrupt", cut));
	assert_true(exists("queue/corrupt", zero));
	snprintf(path, sizeof(path), "%s/queue/corrupt/%s", datadir, zero);
	back = slurp(path, &blen);
	assert_int_equal(blen, len);
	assert_memory_equal(back, raw, len);
	free(back);
	/* the .state set aside, the message kept */
	assert_true(exists("queue", good));
	{
		char sname[32];
		snprintf(sname, sizeof(sname), "%s.state", good);
		assert_false(exists("queue", sname));
	}
	assert_int_equal(spool_load(datadir, good, &m), 0);
	assert_false(m.state_damaged);
	spool_msg_clear(&m);
	/* tmp/: empty now */
	{
		DIR *d;
		struct dirent *de;
		int files = 0;
		snprintf(path, sizeof(path), "%s/queue/tmp", datadir);
		d = opendir(path);
		while ((de = readdir(d)) != NULL)
			files += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(files, 0);
	}

	c = spool_list_corrupt(datadir, &n);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		bool is_cut = strcmp(c[i].id, cut) == 0;
		assert_true(is_cut || strcmp(c[i].id, zero) == 0);
		assert_int_equal(c[i].salvageable, is_cut);
	}
	free(c);

	/* salvage: once, then "already"; nothing from the zeroed one */
	assert_int_equal(spool_salvage(datadir, cut, &res), 0);
	assert_false(res.already);
	assert_true(res.kept > 0 && res.kept < 20000 && res.total >= res.kept);
	assert_int_equal(spool_load(datadir, res.new_id, &m), 0);
	assert_non_null(strstr(m.data, "X-Postern-Salvaged: from damaged queue file"));
	assert_non_null(memmem(m.data, m.datalen, msg, res.kept));
	assert_int_equal(m.env.nrcpts, 2);
	spool_msg_clear(&m);
	spool_envelope_clear(&res.env);
	assert_int_equal(spool_salvage(datadir, cut, &res), 0);
	assert_true(res.already);
	assert_true(exists("queue/corrupt", cut));
	assert_int_equal(spool_salvage(datadir, zero, &res), 1);
	assert_non_null(strstr(res.why, "nothing can be recovered"));
	assert_int_equal(spool_salvage(datadir, good, &res), 1);
	assert_non_null(strstr(res.why, "not quarantined"));
	assert_int_equal(spool_salvage(datadir, "../../etc/passwd", &res), 1);
	free(raw);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test_setup_teardown(test_write_load_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pool_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recover_and_salvage, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
