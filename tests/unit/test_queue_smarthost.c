/*
 * Table tests for src/queue/smarthost.h: the AUTH mechanisms of an EHLO
 * line (RFC 4954 3, and the old AUTH= form), the PLAIN and LOGIN
 * responses (RFC 4616, base64), and the password file's first line.
 */
#include "unit.h"

#include <unistd.h>

#include "queue/smarthost.h"

struct ehlo_case {
	const char *line;
	int want;
};

static const struct ehlo_case ehlo_cases[] = {
	{ "AUTH PLAIN LOGIN", SMARTHOST_MECH_PLAIN | SMARTHOST_MECH_LOGIN },
	{ "AUTH LOGIN", SMARTHOST_MECH_LOGIN },
	{ "auth plain", SMARTHOST_MECH_PLAIN },
	{ "AUTH=LOGIN PLAIN", SMARTHOST_MECH_PLAIN | SMARTHOST_MECH_LOGIN },
	{ "AUTH  CRAM-MD5   PLAIN ", SMARTHOST_MECH_PLAIN },
	{ "AUTH SCRAM-SHA-256 XOAUTH2", 0 },
	{ "AUTH", 0 },
	{ "AUTH PLAINX LOGINS", 0 },		/* whole words only */
	{ "AUTHX PLAIN", -1 },
	{ "AUTO PLAIN", -1 },
	{ "8BITMIME", -1 },
	{ "", -1 },
	{ "AUT", -1 },
};

static void
test_ehlo_auth(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < NELEM(ehlo_cases); i++) {
		const struct ehlo_case *c = &ehlo_cases[i];
		int got = smarthost_ehlo_auth(c->line, strlen(c->line));
		CASE_CHECK(bad, got == c->want, i, "\"%s\": got %d, want %d", c->line, got, c->want);
	}
	assert_int_equal(bad, 0);
}

static void
test_responses(void **state)
{
	char *p = smarthost_plain("user@example.test", "pass word");
	/* printf '\0user@example.test\0pass word' | base64 */
	assert_string_equal(p, "AHVzZXJAZXhhbXBsZS50ZXN0AHBhc3Mgd29yZA==");
	free(p);
	p = smarthost_plain("u", "");
	assert_string_equal(p, "AHUA");
	free(p);
	p = smarthost_b64("user", 4);
	assert_string_equal(p, "dXNlcg==");
	free(p);
	p = smarthost_b64("", 0);
	assert_string_equal(p, "");
	free(p);
}

struct pw_case {
	const char *content;
	size_t len;
	const char *want;		/* NULL: refused */
	const char *why;		/* in the error */
};

static const struct pw_case pw_cases[] = {
	{ S("secret\n"), "secret", NULL },
	{ S("secret\r\nsecond line\n"), "secret", NULL },
	{ S("no line end"), "no line end", NULL },
	{ S("  spaces kept \t\n"), "  spaces kept \t", NULL },
	{ S("\nsecret\n"), NULL, "empty" },
	{ S("\r\n"), NULL, "empty" },
	{ S(""), NULL, "empty" },
	{ S("sec\0ret\n"), NULL, "NUL" },
};

static void
test_password_file(void **state)
{
	char dir[] = "/tmp/unit-smarthost-XXXXXX", path[64];
	int bad = 0;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/pw", dir);
	for (size_t i = 0; i < NELEM(pw_cases); i++) {
		const struct pw_case *c = &pw_cases[i];
		FILE *f = fopen(path, "wb");
		char *err = NULL, *got;

		assert_non_null(f);
		fwrite(c->content, 1, c->len, f);
		fclose(f);
		got = smarthost_password_read(path, &err);
		if (c->want != NULL)
			CASE_CHECK(bad, got != NULL && strcmp(got, c->want) == 0, i, "%s: got %s (%s)",
			    unit_show(c->content, c->len), got ? got : "NULL", err ? err : "");
		else
			CASE_CHECK(bad, got == NULL && err != NULL && strstr(err, c->why) != NULL, i,
			    "%s: got %s, error %s", unit_show(c->content, c->len), got ? got : "NULL",
			    err ? err : "none");
		free(got);
		free(err);
	}
	/* a line longer than the cap, and a file that is not there */
	{
		FILE *f = fopen(path, "wb");
		char *err = NULL;
		assert_non_null(f);
		for (int i = 0; i < SMARTHOST_PASSWORD_MAX + 1; i++)
			fputc('x', f);
		fputc('\n', f);
		fclose(f);
		assert_null(smarthost_password_read(path, &err));
		assert_non_null(strstr(err, "longer"));
		free(err);
		unlink(path);
		err = NULL;
		assert_null(smarthost_password_read(path, &err));
		assert_non_null(strstr(err, path));
		free(err);
	}
	/* a directory is no password file */
	{
		char *err = NULL;
		assert_null(smarthost_password_read(dir, &err));
		assert_non_null(strstr(err, "regular"));
		free(err);
	}
	rmdir(dir);
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo_auth),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_password_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
