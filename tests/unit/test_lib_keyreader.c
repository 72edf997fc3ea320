/*
 * The key reader answers with the files its own reading of the
 * configuration names, and says which file failed and why.
 */
#include "unit.h"


#include "lib/keyreader.h"
#include "lib/xmalloc.h"

static char dir[] = "/tmp/postern-keyreader-XXXXXX";

static void
write_text(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

static void
test_reads_named_files(void **state)
{
	struct keyreader *kr;
	struct keyfiles f;
	char *err = NULL, *conf;

	assert_non_null(mkdtemp(dir));
	write_text("cert.pem", "CERT TEXT\n");
	write_text("key.pem", "KEY TEXT\n");
	write_text("p.conf", "domains = example.test\ntls_cert = cert.pem\ntls_key = key.pem\n");
	conf = xasprintf("%s/p.conf", dir);
	kr = keyreader_start(conf, NULL, &err);
	assert_non_null(kr);
	assert_int_equal(keyreader_fetch(kr, &f, &err), 0);
	assert_string_equal(f.cert, "CERT TEXT\n");
	assert_int_equal(f.cert_len, 10);
	assert_string_equal(f.key, "KEY TEXT\n");
	assert_non_null(strstr(f.cert_path, "/cert.pem"));
	keyfiles_clear(&f);

	/* the configuration is re-read at each request */
	write_text("p.conf", "domains = example.test\ntls_cert = cert.pem\ntls_key = gone.pem\n");
	assert_int_equal(keyreader_fetch(kr, &f, &err), -1);
	assert_non_null(strstr(err, "cannot load key"));
	assert_non_null(strstr(err, "gone.pem"));
	assert_non_null(strstr(err, "No such file"));
	free(err);
	err = NULL;

	/* a broken configuration is said as such */
	write_text("p.conf", "domains = example.test\nbogus = 1\n");
	assert_int_equal(keyreader_fetch(kr, &f, &err), -1);
	assert_non_null(strstr(err, "unknown key"));
	free(err);
	keyreader_free(kr);
	free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_named_files),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char *cmd = xasprintf("rm -rf %s", dir);

	if (system(cmd) != 0)
		rc = rc ? rc : 1;
	free(cmd);
	return rc;
}
