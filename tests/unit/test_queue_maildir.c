/*
 * Tests for the Maildir writer (src/queue/maildir.h): names derived from
 * the caller's key ("KEY.HOST,S=SIZE"), a copy written again replacing
 * itself, and maildir_scan finding a copy in new/ or, renamed by a
 * reader, in cur/NAME:2,FLAGS, but nothing of another key or host.
 */
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/maildir.h"

static char root[512];		/* the Maildir under test */
static char host[64];

static int
setup(void **state)
{
	char tmpl[] = "/tmp/postern-maildir-XXXXXX";

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(root, sizeof(root), "%s/mail/example.test/bob", tmpl);
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ':')
			*p = '_';
	return 0;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16], *mail = strstr(root, "/mail/");

	(void)state;
	*mail = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static size_t
count(const char *sub)
{
	return unit_count_entries(root, sub);
}

/* What maildir_scan reported, joined by spaces. */
static char seen[1024];

static void
collect(void *arg, const char *rest, size_t len)
{
	(void)arg;
	snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%.*s", seen[0] ? " " : "",
	    (int)len, rest);
}

static void
deliver(const char *key, const char *body)
{
	struct maildir_file f;

	assert_int_equal(maildir_write(root, key, S("Delivered-To: bob@example.test\r\n"), body,
	    strlen(body), &f), 0);
	assert_int_equal(maildir_publish(&f), 0);
}

static void
test_name_and_rewrite(void **state)
{
	char path[PATH_MAX];
	struct stat st;

	(void)state;
	deliver("1700000000.Q0123456789ABCDEFR0M0", "hello\r\n");
	snprintf(path, sizeof(path), "%s/new/1700000000.Q0123456789ABCDEFR0M0.%s,S=39", root,
	    host);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 39);
	/* the same copy again (a retry after a crash): still one file */
	deliver("1700000000.Q0123456789ABCDEFR0M0", "hello\r\n");
	assert_int_equal(count("new"), 1);
	assert_int_equal(count("tmp"), 0);
}

/* Removes root/sub and the files in it. */
static void
remove_dir(const char *sub)
{
	char path[PATH_MAX], file[PATH_MAX + 300];
	DIR *d;
	struct dirent *de;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	d = opendir(path);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
		assert_int_equal(unlink(file), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(path), 0);
}

/* maildir_write makes the directories only when tmp/ is missing: a new/
 * removed between the write and the rename is made by maildir_publish,
 * and a Maildir removed entirely is made again by the next write. */
static void
test_directories_made_again(void **state)
{
	char path[PATH_MAX];
	struct maildir_file f;

	(void)state;
	deliver("1700000001.Q0123456789ABCDEFR0M0", "one\r\n");
	assert_int_equal(maildir_write(root, "1700000001.Q0123456789ABCDEFR1M0",
	    S("Delivered-To: x@example.test\r\n"), "two\r\n", 5, &f), 0);
	/* new/ goes away under the delivery (its files with it) */
	remove_dir("new");
	assert_int_equal(maildir_publish(&f), 0);
	assert_int_equal(count("new"), 1);
	assert_int_equal(count("tmp"), 0);
	/* all of it goes away: the next write makes tmp/, new/ and cur/ */
	remove_dir("new");
	remove_dir("cur");
	remove_dir("tmp");
	deliver("1700000001.Q0123456789ABCDEFR2M0", "three\r\n");
	assert_int_equal(count("new"), 1);
	snprintf(path, sizeof(path), "%s/cur", root);
	assert_int_equal(access(path, F_OK), 0);
}

static void
test_bad_key(void **state)
{
	struct maildir_file f;
	static const char *const keys[] = { "a/b", "a:b", "" };
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(keys); i++) {
		int rc = maildir_write(root, keys[i], S("x"), "", 0, &f);
		CASE_CHECK(bad, rc == -1 && errno == EINVAL, i, "key \"%s\": rc %d", keys[i], rc);
		if (rc == 0)
			maildir_discard(&f);
	}
	assert_int_equal(bad, 0);
}

static void
test_scan_new_and_cur(void **state)
{
	char from[PATH_MAX], to[PATH_MAX];
	/* files put in cur/ by hand, HOST standing for this host */
	static const char *const others[] = {
		/* Dovecot's cur/ forms of a copy: ":2,FLAGS", ",W=" added */
		"1700000000.Q1111111111111111R7M0.HOST:2,",
		"1700000000.Q1111111111111111R8M1.HOST,S=10,W=12:2,RS",
		/* not copies of this message from this host */
		"1700000000.Q2222222222222222R9M0.HOST,S=10:2,S",
		"1700000000.Q1111111111111111R9M0.other.host,S=10:2,S",
		"1700000000.Q1111111111111111R9M0.HOST.evil,S=10",
		"1699999999.Q1111111111111111R9M0.HOST,S=10",
		"1700000000.Q1111111111111111R.HOST,S=10",
	};

	(void)state;
	deliver("1700000000.Q1111111111111111R1M0", "one\r\n");
	deliver("1700000000.Q1111111111111111R12M0", "twelve\r\n");
	deliver("1700000000.Q1111111111111111R3M2", "three\r\n");
	/* a reader saw R3M2: new/NAME -> cur/NAME:2,S */
	snprintf(from, sizeof(from), "%s/new/1700000000.Q1111111111111111R3M2.%s,S=39", root, host);
	snprintf(to, sizeof(to), "%s/cur/1700000000.Q1111111111111111R3M2.%s,S=39:2,S", root, host);
	assert_int_equal(rename(from, to), 0);
	for (size_t i = 0; i < NELEM(others); i++) {
		const char *h = strstr(others[i], "HOST");
		FILE *f;
		if (h != NULL)
			snprintf(to, sizeof(to), "%s/cur/%.*s%s%s", root, (int)(h - others[i]),
			    others[i], host, h + 4);
		else
			snprintf(to, sizeof(to), "%s/cur/%s", root, others[i]);
		assert_non_null(f = fopen(to, "w"));
		fclose(f);
	}
	seen[0] = '\0';
	assert_int_equal(maildir_scan(root, "1700000000.Q1111111111111111R", collect, NULL), 0);
	/* readdir order is the file system's: check each, then the count */
	{
		static const char *const want[] = { "1M0", "12M0", "3M2", "7M0", "8M1" };
		char padded[sizeof(seen) + 2];
		int bad = 0, words = 0;
		snprintf(padded, sizeof(padded), " %s ", seen);
		for (size_t i = 0; i < NELEM(want); i++) {
			char w[16];
			snprintf(w, sizeof(w), " %s ", want[i]);
			CASE_CHECK(bad, strstr(padded, w) != NULL, i, "%s not found in \"%s\"", want[i],
			    seen);
		}
		for (const char *p = seen; *p; p++)
			words += *p == ' ';
		CASE_CHECK(bad, seen[0] && words + 1 == (int)NELEM(want), 0, "found \"%s\"", seen);
		assert_int_equal(bad, 0);
	}
}

static void
test_scan_missing(void **state)
{
	char path[PATH_MAX];

	(void)state;
	seen[0] = '\0';
	snprintf(path, sizeof(path), "%s/.Junk", root);
	assert_int_equal(maildir_scan(path, "1700000000.Q1111111111111111R", collect, NULL), 0);
	assert_string_equal(seen, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_and_rewrite),
		cmocka_unit_test(test_directories_made_again),
		cmocka_unit_test(test_bad_key),
		cmocka_unit_test(test_scan_new_and_cur),
		cmocka_unit_test(test_scan_missing),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
