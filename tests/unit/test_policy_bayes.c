/*
 * Tests of the classifier store (src/policy/bayes_store.h) on its local
 * backend in a temporary data_dir: learning twice counts once, learning
 * as the other kind moves the message, lookups and the server's table
 * agree, a damaged or foreign file is refused with a message saying so,
 * concurrent learners lose no update, and message identities (table).
 */
#include "unit.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "policy/bayes_store.h"

static char dir[64];
static struct config cfg;

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/postern-test-bayes-XXXXXX");
	assert_non_null(mkdtemp(dir));
	memset(&cfg, 0, sizeof(cfg));
	cfg.data_dir = dir;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void
tokens_of(struct bayes_tokens *t, const char *text)
{
	bayes_tokens_init(t);
	bayes_tokens_text(t, text, strlen(text));
}

static enum bayes_learn_result
learn1(struct bayes_store *st, const char *id, const char *text, enum bayes_kind k)
{
	struct bayes_tokens t;
	enum bayes_learn_result res;
	char *err = NULL;

	tokens_of(&t, text);
	assert_int_equal(bayes_store_begin(st, &err), 0);
	assert_int_equal(bayes_store_learn(st, id, &t, k, 1700000000, &res, &err), 0);
	assert_int_equal(bayes_store_commit(st, &err), 0);
	bayes_tokens_clear(&t);
	return res;
}

static struct bayes_counts
counts(struct bayes_table *t, const char *tok)
{
	struct bayes_counts c = { 0, 0 };

	bayes_table_get(t, bayes_hash(tok, strlen(tok)), &c);
	return c;
}

static void
test_learn_once_and_move(void **state)
{
	struct bayes_store *st, *ro;
	struct bayes_table *t;
	char *err = NULL;
	uint32_t ns, nh;

	(void)state;
	/* nothing learned yet: an empty store, not an error */
	ro = bayes_store_open(&cfg, false, &err);
	assert_non_null(ro);
	t = bayes_store_load(ro, &err);
	assert_non_null(t);
	assert_int_equal(bayes_table_count(t), 0);
	bayes_table_free(t);
	bayes_store_close(ro);

	st = bayes_store_open(&cfg, true, &err);
	assert_non_null(st);
	assert_int_equal(learn1(st, "<a@x>", "cheap pills now", BAYES_KIND_SPAM), BAYES_LEARN_NEW);
	assert_int_equal(learn1(st, "<a@x>", "cheap pills now", BAYES_KIND_SPAM), BAYES_LEARN_SAME);
	assert_int_equal(learn1(st, "<b@x>", "cheap meeting", BAYES_KIND_HAM), BAYES_LEARN_NEW);
	assert_int_equal(bayes_store_totals(st, &ns, &nh, &err), 0);
	assert_int_equal(ns, 1);
	assert_int_equal(nh, 1);

	ro = bayes_store_open(&cfg, false, &err);
	t = bayes_store_load(ro, &err);
	assert_int_equal(counts(t, "cheap").spam, 1);
	assert_int_equal(counts(t, "cheap").ham, 1);
	assert_int_equal(counts(t, "pills").spam, 1);
	bayes_table_free(t);

	/* retrained: out of spam, into ham */
	assert_int_equal(learn1(st, "<a@x>", "cheap pills now", BAYES_KIND_HAM), BAYES_LEARN_MOVED);
	assert_int_equal(bayes_store_totals(st, &ns, &nh, &err), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(nh, 2);
	t = bayes_store_load(ro, &err);
	assert_non_null(t);
	bayes_table_learned(t, &ns, &nh);
	assert_int_equal(ns, 0);
	assert_int_equal(nh, 2);
	assert_int_equal(counts(t, "cheap").spam, 0);
	assert_int_equal(counts(t, "cheap").ham, 2);
	assert_int_equal(counts(t, "pills").ham, 1);
	assert_int_equal(counts(t, "pills").spam, 0);
	bayes_table_free(t);
	{
		uint64_t h[2] = { bayes_hash("cheap", 5), bayes_hash("nothere", 7) };
		struct bayes_counts c[2];
		const struct bayes_backend *b = &bayes_sqlite_backend;
		char *path = bayes_store_path(dir);
		void *q = b->open(path, NULL, false, &err);
		assert_non_null(q);
		assert_int_equal(b->lookup(q, h, 2, c, &ns, &nh, &err), 0);
		assert_int_equal(c[0].ham, 2);
		assert_int_equal(c[1].spam + c[1].ham, 0);
		b->close(q);
		free(path);
	}
	bayes_store_close(ro);
	bayes_store_close(st);
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

/* A damaged or foreign database is refused, with what to do. */
static void
test_refused(void **state)
{
	char *path = bayes_store_path(dir), *err = NULL, garbage[4096 * 3];
	struct bayes_store *st;

	(void)state;
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)(i * 7 + 3);
	write_file(path, garbage, 8192);
	assert_null(bayes_store_open(&cfg, true, &err));
	assert_non_null(strstr(err, "damaged"));
	free(err);
	err = NULL;
	st = bayes_store_open(&cfg, false, &err);
	if (st != NULL) {
		/* a read-only open may only find out at the first read */
		assert_null(bayes_store_load(st, &err));
		bayes_store_close(st);
	}
	assert_non_null(strstr(err, "damaged"));
	free(err);
	err = NULL;

	/* a valid database that is someone else's */
	unlink(path);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "sqlite3 %s 'CREATE TABLE t(x)' 2>/dev/null || "
		    "python3 -c \"import sqlite3; "
		    "sqlite3.connect('%s').execute('CREATE TABLE t(x)')\"",
		    path, path);
		assert_int_equal(system(cmd), 0);
	}
	assert_null(bayes_store_open(&cfg, true, &err));
	assert_non_null(strstr(err, "not postern's"));
	free(err);
	err = NULL;

	/* a good one damaged in its token pages: the full read finds it */
	unlink(path);
	st = bayes_store_open(&cfg, true, &err);
	assert_non_null(st);
	{
		char text[64 * 1024];
		size_t o = 0;
		for (int i = 0; i < 6000 && o + 16 < sizeof(text); i++)
			o += (size_t)snprintf(text + o, sizeof(text) - o, "tok%05d ", i);
		assert_int_equal(learn1(st, "<big@x>", text, BAYES_KIND_SPAM), BAYES_LEARN_NEW);
	}
	bayes_store_close(st);
	{
		struct stat sb;
		int fd = open(path, O_WRONLY);
		assert_int_equal(stat(path, &sb), 0);
		assert_true(sb.st_size > 8 * 4096);
		assert_true(fd >= 0);
		/* pages 3..: token b-tree pages (page 1 is the schema) */
		assert_true(pwrite(fd, garbage, 4096 * 3, 4096 * 3) > 0);
		close(fd);
	}
	st = bayes_store_open(&cfg, false, &err);
	if (st != NULL) {
		assert_null(bayes_store_load(st, &err));
		bayes_store_close(st);
	}
	assert_non_null(err);
	assert_non_null(strstr(err, "damaged"));
	free(err);
	free(path);
}

/* Learners at the same time: each change waits for the other's, none is
 * lost (BEGIN IMMEDIATE). */
static void
test_concurrent_learners(void **state)
{
	enum { KIDS = 4, EACH = 40 };
	pid_t pid[KIDS];
	struct bayes_store *st;
	struct bayes_table *t;
	char *err = NULL;
	uint32_t ns, nh;

	(void)state;
	for (int k = 0; k < KIDS; k++) {
		pid[k] = fork();
		assert_true(pid[k] >= 0);
		if (pid[k] == 0) {
			struct bayes_store *mine = bayes_store_open(&cfg, true, &err);
			if (mine == NULL) {
				fprintf(stderr, "learner %d: %s\n", k, err);
				_exit(1);
			}
			for (int i = 0; i < EACH; i++) {
				struct bayes_tokens tk;
				enum bayes_learn_result res;
				char id[32], text[64];
				snprintf(id, sizeof(id), "<%d.%d@x>", k, i);
				snprintf(text, sizeof(text), "shared kid%d msg%d.%d", k, k, i);
				tokens_of(&tk, text);
				if (bayes_store_begin(mine, &err) == -1 ||
				    bayes_store_learn(mine, id, &tk, BAYES_KIND_SPAM, 1700000000,
				    &res, &err) == -1 || bayes_store_commit(mine, &err) == -1) {
					fprintf(stderr, "learner %d, message %d: %s\n", k, i, err);
					_exit(2);
				}
				bayes_tokens_clear(&tk);
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
	st = bayes_store_open(&cfg, false, &err);
	assert_non_null(st);
	t = bayes_store_load(st, &err);
	assert_non_null(t);
	bayes_table_learned(t, &ns, &nh);
	assert_int_equal(ns, KIDS * EACH);
	assert_int_equal(counts(t, "shared").spam, KIDS * EACH);
	assert_int_equal(counts(t, "kid2").spam, EACH);
	bayes_table_free(t);
	bayes_store_close(st);
}

static const struct {
	const char *msg;
	const char *want;	/* exact, or a prefix ending in ':' */
} id_cases[] = {
	{ "Message-ID: <abc@example.org>\r\nSubject: x\r\n\r\nbody\r\n", "<abc@example.org>" },
	{ "message-id:\r\n <abc@example.org>\r\n\r\nbody\r\n", "<abc@example.org>" },
	{ "Subject: x\r\n\r\nbody\r\n", "sha256:" },
	{ "Message-ID: \r\nSubject: x\r\n\r\nbody\r\n", "sha256:" },
	{ "", "sha256:" },
};

static void
test_message_id(void **state)
{
	size_t bad = 0;
	char a[BAYES_ID_MAX], b[BAYES_ID_MAX];
	static const char crlf[] = "Subject: x\r\nFrom: a@b\r\n\r\nline one\r\nline two\r\n";
	static const char lf[] = "Subject: x\nFrom: a@b\n\nline one\nline two\n";
	static const char other[] = "Subject: x\nFrom: a@b\n\nline one\nline 2\n";

	(void)state;
	for (size_t i = 0; i < NELEM(id_cases); i++) {
		const char *w = id_cases[i].want;
		size_t wl = strlen(w);
		bayes_message_id(id_cases[i].msg, strlen(id_cases[i].msg), a, sizeof(a));
		if (w[wl - 1] == ':')
			CASE_CHECK(bad, strncmp(a, w, wl) == 0 && strlen(a) == wl + 64, i,
			    "id %s", a);
		else
			CASE_CHECK(bad, strcmp(a, w) == 0, i, "id %s", a);
	}
	/* a copy stored with LF line ends is the same message */
	bayes_message_id(crlf, sizeof(crlf) - 1, a, sizeof(a));
	bayes_message_id(lf, sizeof(lf) - 1, b, sizeof(b));
	CASE_CHECK(bad, strcmp(a, b) == 0, (size_t)99, "%s != %s", a, b);
	bayes_message_id(other, sizeof(other) - 1, b, sizeof(b));
	CASE_CHECK(bad, strcmp(a, b) != 0, (size_t)100, "%s", b);
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_learn_once_and_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_learners, setup, teardown),
		cmocka_unit_test(test_message_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
