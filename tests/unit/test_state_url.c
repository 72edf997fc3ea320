/*
 * state_backend, state_password and node_name (SPEC 10): the URL parser
 * (src/lib/state_url.h) on a table of values, and the three keys as the
 * configuration parser takes them, with their diagnostics.
 */
#include "unit.h"

#include "lib/config.h"
#include "lib/state_url.h"

static const struct {
	const char *in;
	int rc;
	bool redis;
	const char *host;
	unsigned port, db;
	const char *formatted;
} url_cases[] = {
	{ "", 0, false, "", 0, 0, "local" },
	{ "local", 0, false, "", 0, 0, "local" },
	{ "redis://127.0.0.1:6379", 0, true, "127.0.0.1", 6379, 0, "redis://127.0.0.1:6379/0" },
	{ "redis://127.0.0.1:6379/0", 0, true, "127.0.0.1", 6379, 0, "redis://127.0.0.1:6379/0" },
	{ "redis://127.0.0.1:6379/15", 0, true, "127.0.0.1", 6379, 15, "redis://127.0.0.1:6379/15" },
	{ "REDIS://state.example.org:7000/3", 0, true, "state.example.org", 7000, 3,
	    "redis://state.example.org:7000/3" },
	{ "redis://[::1]:6379/1", 0, true, "::1", 6379, 1, "redis://[::1]:6379/1" },
	{ "redis://[2001:db8::7]:6380", 0, true, "2001:db8::7", 6380, 0, "redis://[2001:db8::7]:6380/0" },
	{ "redis://127.0.0.1:6379/65535", 0, true, "127.0.0.1", 6379, 65535, NULL },
	/* refused */
	{ "Local", -1, false, "", 0, 0, NULL },
	{ "localhost", -1, false, "", 0, 0, NULL },
	{ "redis://", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1", -1, false, "", 0, 0, NULL },	/* no port: no guess */
	{ "redis://127.0.0.1:", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1:0", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1:65536", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1:6379/", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1:6379/x", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1:6379/-1", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1:6379/65536", -1, false, "", 0, 0, NULL },
	{ "redis://127.0.0.1:6379/1/2", -1, false, "", 0, 0, NULL },
	{ "redis://:secret@127.0.0.1:6379", -1, false, "", 0, 0, NULL },	/* state_password */
	{ "redis://127.0.0.1:6379?db=1", -1, false, "", 0, 0, NULL },
	{ "redis://[::1:6379", -1, false, "", 0, 0, NULL },
	{ "redis://::1:6379", -1, false, "", 0, 0, NULL },
	{ "rediss://127.0.0.1:6379", -1, false, "", 0, 0, NULL },
	{ "http://127.0.0.1:6379", -1, false, "", 0, 0, NULL },
	{ "redis://bad host:6379", -1, false, "", 0, 0, NULL },
	{ "/var/run/redis.sock", -1, false, "", 0, 0, NULL },
};

static void
test_state_url_table(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(url_cases); i++) {
		struct state_url u;
		size_t len = strlen(url_cases[i].in);
		char *p = malloc(len ? len : 1), out[STATE_URL_MAX + 32];
		int rc;

		memcpy(p, url_cases[i].in, len);
		rc = state_url_parse(p, len, &u);
		free(p);
		CASE_CHECK(bad, rc == url_cases[i].rc, i, "%s: rc %d", url_cases[i].in, rc);
		if (rc != 0 || url_cases[i].rc != 0)
			continue;
		CASE_CHECK(bad, u.redis == url_cases[i].redis, i, "%s: redis %d", url_cases[i].in, u.redis);
		CASE_CHECK(bad, strcmp(u.addr.host, url_cases[i].host) == 0 &&
		    u.addr.port == url_cases[i].port && u.db == url_cases[i].db, i, "%s: %s %u %u",
		    url_cases[i].in, u.addr.host, u.addr.port, u.db);
		if (url_cases[i].formatted != NULL) {
			state_url_format(&u, out, sizeof(out));
			CASE_CHECK(bad, strcmp(out, url_cases[i].formatted) == 0, i, "%s: formatted %s",
			    url_cases[i].in, out);
		}
	}
	assert_int_equal(bad, 0);
}

static size_t
parse(const char *text, struct config *cfg, struct config_diag *diag)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(diag, 0, sizeof(*diag));
	return config_parse(text, strlen(text), "t.conf", "/etc/postern", cfg, diag);
}

static void
test_state_keys(void **state)
{
	struct config cfg;
	struct config_diag diag;

	/* defaults: local, no password, node_name is the hostname */
	assert_int_equal(parse("domains = example.org\nhostname = mx1.example.org\n", &cfg, &diag), 0);
	assert_false(cfg.state_url.redis);
	assert_null(cfg.state_password);
	assert_string_equal(cfg.node_name, "mx1.example.org");
	config_clear(&cfg);
	config_diag_clear(&diag);

	assert_int_equal(parse("domains = example.org\nstate_backend = redis://10.0.0.5:6390/2\n"
	    "state_password = s3cret with spaces\nnode_name = mx-2_a\n", &cfg, &diag), 0);
	assert_true(cfg.state_url.redis);
	assert_string_equal(cfg.state_url.addr.host, "10.0.0.5");
	assert_int_equal(cfg.state_url.addr.port, 6390);
	assert_int_equal(cfg.state_url.db, 2);
	assert_string_equal(cfg.state_password, "s3cret with spaces");
	assert_string_equal(cfg.node_name, "mx-2_a");
	config_clear(&cfg);
	config_diag_clear(&diag);

	assert_int_equal(parse("domains = example.org\nstate_backend = local\n", &cfg, &diag), 0);
	assert_false(cfg.state_url.redis);
	config_clear(&cfg);
	config_diag_clear(&diag);

	/* errors name the line */
	assert_int_equal(parse("domains = example.org\nstate_backend = redis://host\n", &cfg, &diag), 1);
	assert_non_null(strstr(diag.msgs[0], "t.conf:2:"));
	assert_non_null(strstr(diag.msgs[0], "redis://HOST:PORT[/DB]"));
	config_clear(&cfg);
	config_diag_clear(&diag);
	assert_int_equal(parse("domains = example.org\n\nnode_name = mx 1\n", &cfg, &diag), 1);
	assert_non_null(strstr(diag.msgs[0], "t.conf:3:"));
	assert_non_null(strstr(diag.msgs[0], "node_name"));
	config_clear(&cfg);
	config_diag_clear(&diag);
	assert_int_equal(parse("domains = example.org\nnode_name = "
	    "a123456789b123456789c123456789d123456789e123456789f123456789g12345\n", &cfg, &diag), 1);
	config_clear(&cfg);
	config_diag_clear(&diag);
	/* given twice: both lines named */
	assert_int_equal(parse("domains = example.org\nnode_name = a\nnode_name = b\n", &cfg, &diag), 1);
	config_clear(&cfg);
	config_diag_clear(&diag);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_url_table),
		cmocka_unit_test(test_state_keys),
	};
	return cmocka_run_group_tests_name("state_url", tests, NULL, NULL);
}
