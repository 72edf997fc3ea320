/*
 * Tests of what users teach by Junk moves (src/policy/learn.h) and of the
 * header addresses it keys on (src/scan/hdraddr.h): address extraction
 * table, the file's parse (last line wins, bad lines skipped), lookups,
 * and learned_record's rewrite in a temporary data_dir (replacement of a
 * sender's line, the LEARN_MAX cap dropping the oldest).
 */
#include "unit.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/durable.h"
#include "policy/learn.h"
#include "scan/hdraddr.h"

static const struct { const char *value, *want; } spec_cases[] = {
	{ " Alice <Alice.Smith@Example.ORG>", "alice.smith@example.org" },
	{ " alice@example.org", "alice@example.org" },
	{ " alice@example.org (Alice), bob@example.net", "alice@example.org" },
	{ " \"Doe, John\" <j@example.com>", "j@example.com" },
	{ " =?utf-8?q?J=C3=B6rg?= <jorg@b\xc3\xbc" "cher.example>", "jorg@xn--bcher-kva.example" },
	{ " <a+tag@sub.example.com>", "a+tag@sub.example.com" },
	{ " Alice\r\n <alice@example.org>", "alice@example.org" },
	{ " <al ice@example.org>", NULL },
	{ " <@example.org>", NULL },
	{ " <alice@localhost>", NULL },
	{ " undisclosed-recipients:;", NULL },
	{ " <alice@example.org", NULL },
	{ "", NULL },
};

static void
test_address_spec(void **state)
{
	size_t bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(spec_cases); i++) {
		size_t len = strlen(spec_cases[i].value);
		char *in = malloc(len ? len : 1), out[320];
		bool ok;

		memcpy(in, spec_cases[i].value, len);
		ok = scan_address_spec(in, len, out, sizeof(out));
		if (spec_cases[i].want == NULL)
			CASE_CHECK(bad, !ok, i, "\"%s\": found %s", unit_show(in, len), out);
		else
			CASE_CHECK(bad, ok && strcmp(out, spec_cases[i].want) == 0, i, "\"%s\": got %s",
			    unit_show(in, len), ok ? out : "none");
		free(in);
	}
	assert_int_equal(bad, 0);
}

static void
test_parse_and_get(void **state)
{
	static const char text[] =
	    "bob@example.test news@promo.test spam 100\n"
	    "bob@example.test friend@ham.test ham 101\n"
	    "carol@example.test news@promo.test ham 102\n"
	    "bob@example.test news@promo.test ham 103\n"	/* moved back out */
	    "garbage\n"
	    "Bob@example.test x@y.test spam 104\n"		/* not lower-case */
	    "bob@example.test x@y.test maybe 105\n"
	    "bob@example.test x@y.test spam 10x\n"
	    "bob@example.test x@y.test spam 106 extra\n"
	    "bob@example.test @y.test spam 107\n"
	    "\n"
	    "bob@example.test last@y.test spam 108";	/* no final newline */
	struct learned *l = learned_new("/nonexistent");
	char *buf = malloc(sizeof(text) - 1);

	(void)state;
	memcpy(buf, text, sizeof(text) - 1);
	assert_int_equal(learned_parse(l, buf, sizeof(text) - 1), 6);
	assert_int_equal(learned_count(l), 4);
	assert_int_equal(learned_get(l, "bob@example.test", "news@promo.test"), LEARN_HAM);
	assert_int_equal(learned_get(l, "carol@example.test", "news@promo.test"), LEARN_HAM);
	assert_int_equal(learned_get(l, "bob@example.test", "friend@ham.test"), LEARN_HAM);
	assert_int_equal(learned_get(l, "bob@example.test", "last@y.test"), LEARN_SPAM);
	assert_int_equal(learned_get(l, "bob@example.test", "x@y.test"), LEARN_NONE);
	assert_int_equal(learned_get(l, "dave@example.test", "news@promo.test"), LEARN_NONE);
	/* a parse replaces what was there */
	assert_int_equal(learned_parse(l, "", 0), 0);
	assert_int_equal(learned_count(l), 0);
	assert_int_equal(learned_get(l, "bob@example.test", "last@y.test"), LEARN_NONE);
	learned_free(l);
	free(buf);
}

static void
test_record_and_refresh(void **state)
{
	char dir[] = "/tmp/postern-learn-XXXXXX", *err = NULL, *path, *text;
	struct learned *l;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	l = learned_new(dir);
	assert_int_equal(learned_refresh(l, &err), 0);	/* no file yet */
	assert_int_equal(learned_count(l), 0);

	assert_int_equal(learned_record(dir, "bob@example.test", "a@x.test", LEARN_SPAM, 1, &err), 0);
	assert_int_equal(learned_record(dir, "bob@example.test", "b@x.test", LEARN_SPAM, 2, &err), 0);
	assert_int_equal(learned_record(dir, "bob@example.test", "a@x.test", LEARN_HAM, 3, &err), 0);
	path = malloc(strlen(dir) + 16);
	sprintf(path, "%s/learned", dir);
	text = durable_slurp(path, &st);
	assert_string_equal(text, "bob@example.test b@x.test spam 2\n"
	    "bob@example.test a@x.test ham 3\n");
	free(text);
	assert_int_equal(learned_refresh(l, &err), 0);
	assert_int_equal(learned_get(l, "bob@example.test", "a@x.test"), LEARN_HAM);
	assert_int_equal(learned_get(l, "bob@example.test", "b@x.test"), LEARN_SPAM);

	/* refused: not lower-case, not an address, no opinion */
	assert_int_equal(learned_record(dir, "Bob@example.test", "a@x.test", LEARN_SPAM, 4, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(learned_record(dir, "bob@example.test", "a x@x.test", LEARN_SPAM, 4, &err), -1);
	free(err);
	err = NULL;
	assert_int_equal(learned_record(dir, "bob@example.test", "a@x.test", LEARN_NONE, 4, &err), -1);
	free(err);
	err = NULL;

	/* removed: nothing learned any more */
	unlink(path);
	assert_int_equal(learned_refresh(l, &err), 0);
	assert_int_equal(learned_count(l), 0);
	sprintf(path, "%s/learned.lock", dir);
	unlink(path);
	rmdir(dir);
	free(path);
	learned_free(l);
}

static void
test_record_cap(void **state)
{
	char dir[] = "/tmp/postern-learn-XXXXXX", *err = NULL, *path, *text;
	size_t lines = 0;
	FILE *f;
	struct stat st;
	struct learned *l;

	(void)state;
	assert_non_null(mkdtemp(dir));
	path = malloc(strlen(dir) + 16);
	sprintf(path, "%s/learned", dir);
	f = fopen(path, "w");
	for (unsigned i = 0; i < LEARN_MAX; i++)
		fprintf(f, "bob@example.test s%u@x.test spam %u\n", i, i);
	fclose(f);
	assert_int_equal(learned_record(dir, "bob@example.test", "new@x.test", LEARN_HAM, 1, &err), 0);
	text = durable_slurp(path, &st);
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, LEARN_MAX);
	/* the oldest went, the newest is last */
	assert_null(strstr(text, " s0@x.test "));
	assert_non_null(strstr(text, " s1@x.test "));
	assert_non_null(strstr(text, "bob@example.test new@x.test ham 1\n"));
	l = learned_new(dir);
	assert_int_equal(learned_refresh(l, &err), 0);
	assert_int_equal(learned_count(l), LEARN_MAX);
	learned_free(l);
	free(text);
	unlink(path);
	sprintf(path, "%s/learned.lock", dir);
	unlink(path);
	rmdir(dir);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_spec),
		cmocka_unit_test(test_parse_and_get),
		cmocka_unit_test(test_record_and_refresh),
		cmocka_unit_test(test_record_cap),
	};

	return cmocka_run_group_tests_name("policy_learn", tests, NULL, NULL);
}
