/*
 * Table tests for the configuration parser (src/lib/config.h) on buffers:
 * the defaults of SPEC section 2, every value type, listeners switched off,
 * lists, score overrides, and diagnostics with their "file:LINE:" prefix.
 */
#include "unit.h"

#include <arpa/inet.h>

#include "lib/config.h"
#include "scan/score.h"

#define FILE_NAME "test.conf"
#define BASEDIR "/etc/postern"

/* Parses text (an exactly-sized copy) into cfg and diag; returns problems. */
static size_t
parse(const char *text, struct config *cfg, struct config_diag *diag)
{
	size_t len = strlen(text);
	char *p = malloc(len ? len : 1);
	size_t n;

	memcpy(p, text, len);
	memset(cfg, 0, sizeof(*cfg));
	memset(diag, 0, sizeof(*diag));
	n = config_parse(p, len, FILE_NAME, BASEDIR, cfg, diag);
	free(p);
	return n;
}

static void
print_diag(const struct config_diag *diag)
{
	for (size_t i = 0; i < diag->n; i++)
		print_error("  diag: %s\n", diag->msgs[i]);
}

static void
test_config_defaults(void **state)
{
	struct config cfg;
	struct config_diag diag;
	size_t n;

	(void)state;
	n = parse("domains = example.org\n", &cfg, &diag);
	print_diag(&diag);
	assert_int_equal(n, 0);
	assert_int_equal(diag.n, 0);

	assert_string_equal(cfg.path, FILE_NAME);
	assert_string_equal(cfg.dir, BASEDIR);
	assert_non_null(cfg.hostname);
	assert_true(cfg.hostname[0] != '\0');
	assert_int_equal(cfg.ndomains, 1);
	assert_string_equal(cfg.domains[0], "example.org");
	assert_string_equal(cfg.data_dir, BASEDIR "/var");
	assert_string_equal(cfg.log_file, BASEDIR "/var/postern.log");

	/* SPEC 9: [::]:25, [::]:587, [::]:465, dual stack */
	assert_int_equal(cfg.nlisten_smtp, 1);
	assert_string_equal(cfg.listen_smtp->host, "::");
	assert_int_equal(cfg.listen_smtp->port, 25);
	assert_int_equal(cfg.nlisten_submission, 1);
	assert_string_equal(cfg.listen_submission->host, "::");
	assert_int_equal(cfg.listen_submission->port, 587);
	assert_int_equal(cfg.nlisten_submissions, 1);
	assert_string_equal(cfg.listen_submissions->host, "::");
	assert_int_equal(cfg.listen_submissions->port, 465);
	assert_null(cfg.metrics_listen);

	assert_null(cfg.tls_cert);
	assert_null(cfg.tls_key);
	assert_null(cfg.user);
	assert_int_equal(cfg.ndns_servers, 0);
	assert_string_equal(cfg.dnsbl_ip_zone, "zen.spamhaus.org");
	assert_string_equal(cfg.dnsbl_domain_zone, "dbl.spamhaus.org");
	assert_null(cfg.spamhaus_dqs_key);
	assert_int_equal(cfg.dnsbl_timeout, 5);
	assert_int_equal(cfg.nallow_networks, 0);
	assert_int_equal(cfg.ntrusted_networks, 0);

	assert_true(cfg.score_junk == 5.0);
	assert_true(cfg.score_reject == 12.0);
	assert_int_equal(cfg.nscores, 0);

	assert_int_equal(cfg.max_message_size, 50ULL * 1024 * 1024);
	assert_int_equal(cfg.max_connections, 500);
	assert_int_equal(cfg.max_connections_per_ip, 20);
	assert_int_equal(cfg.max_recipients, 1000);
	assert_int_equal(cfg.smtp_timeout, 300);
	assert_int_equal(cfg.user_max_messages.count, 200);
	assert_int_equal(cfg.user_max_messages.seconds, 3600);
	assert_int_equal(cfg.user_max_recipients.count, 1000);
	assert_int_equal(cfg.user_max_recipients.seconds, 3600);
	assert_int_equal(cfg.auth_max_failures.count, 5);
	assert_int_equal(cfg.auth_max_failures.seconds, 600);
	assert_int_equal(cfg.auth_lockout, 900);
	assert_int_equal(cfg.outbound_port, 25);
	assert_null(cfg.relayhost);
	assert_int_equal(cfg.queue_lifetime, 5 * 86400);
	assert_int_equal(cfg.delay_warning, 4 * 3600);
	assert_null(cfg.dkim_selector);
	assert_null(cfg.dkim_key);
	assert_string_equal(cfg.alert_address, "postmaster@example.org");
	assert_int_equal(cfg.min_free_space, 75ULL * 1024 * 1024);	/* 1.5 x 50M */
	assert_true(cfg.alert_bounce_ratio == 0.2);
	assert_int_equal(cfg.alert_min_messages, 20);
	assert_int_equal(cfg.alert_window, 3600);

	config_clear(&cfg);
	config_diag_clear(&diag);
	/* clearing twice, or a zeroed struct, is safe */
	config_clear(&cfg);
	config_diag_clear(&diag);
}

/* ---- every value type ---------------------------------------------------- */

enum vtype { T_UINT, T_U64, T_NUM, T_STR, T_HP, T_HP_NULL, T_RATE };

struct value_case {
	const char *text;	/* after "domains = example.org\n" */
	enum vtype type;
	size_t off;		/* field in struct config */
	unsigned long long u;	/* T_UINT, T_U64; T_RATE count */
	double d;		/* T_NUM */
	const char *s;		/* T_STR; T_HP host */
	unsigned port;		/* T_HP; T_RATE seconds */
};

#define F(f) offsetof(struct config, f)

static const struct value_case value_cases[] = {
	/* sizes */
	{ "max_message_size = 10M", T_U64, F(max_message_size), 10485760, 0, NULL, 0 },
	{ "max_message_size = 2048", T_U64, F(max_message_size), 2048, 0, NULL, 0 },
	{ "max_message_size = 1G", T_U64, F(max_message_size), 1ULL << 30, 0, NULL, 0 },
	/* the bounds of each range are inside it (SPEC 2) */
	{ "max_message_size = 1K", T_U64, F(max_message_size), 1024, 0, NULL, 0 },
	{ "max_message_size = 1T", T_U64, F(max_message_size), 1ULL << 40, 0, NULL, 0 },
	{ "max_message_size = 1T", T_U64, F(min_free_space), 3ULL << 39, 0, NULL, 0 },
	{ "min_free_space = 1T", T_U64, F(min_free_space), 1ULL << 40, 0, NULL, 0 },
	{ "min_free_space = 1K", T_U64, F(min_free_space), 1024, 0, NULL, 0 },
	{ "min_free_space = 0", T_U64, F(min_free_space), 0, 0, NULL, 0 },
	/* min_free_space follows max_message_size unless set */
	{ "max_message_size = 10M", T_U64, F(min_free_space), 15728640, 0, NULL, 0 },
	{ "min_free_space = 3M\nmax_message_size = 10M", T_U64, F(min_free_space),
	    3145728, 0, NULL, 0 },
	/* durations */
	{ "dnsbl_timeout = 2s", T_UINT, F(dnsbl_timeout), 2, 0, NULL, 0 },
	{ "dnsbl_timeout = 1m", T_UINT, F(dnsbl_timeout), 60, 0, NULL, 0 },
	{ "dnsbl_timeout = 3", T_UINT, F(dnsbl_timeout), 3, 0, NULL, 0 },
	{ "smtp_timeout = 10m", T_UINT, F(smtp_timeout), 600, 0, NULL, 0 },
	{ "auth_lockout = 1h", T_UINT, F(auth_lockout), 3600, 0, NULL, 0 },
	{ "delay_warning = 0", T_UINT, F(delay_warning), 0, 0, NULL, 0 },
	{ "delay_warning = 1d", T_UINT, F(delay_warning), 86400, 0, NULL, 0 },
	{ "queue_lifetime = 3d", T_UINT, F(queue_lifetime), 259200, 0, NULL, 0 },
	{ "alert_window = 30m", T_UINT, F(alert_window), 1800, 0, NULL, 0 },
	{ "queue_lifetime = 1s", T_UINT, F(queue_lifetime), 1, 0, NULL, 0 },
	{ "queue_lifetime = 365d", T_UINT, F(queue_lifetime), 365 * 86400, 0, NULL, 0 },
	{ "smtp_timeout = 1d", T_UINT, F(smtp_timeout), 86400, 0, NULL, 0 },
	{ "dnsbl_timeout = 1h", T_UINT, F(dnsbl_timeout), 3600, 0, NULL, 0 },
	{ "dnsbl_health_interval = 0", T_UINT, F(dnsbl_health_interval), 0, 0, NULL, 0 },
	/* integers */
	{ "max_connections = 10", T_UINT, F(max_connections), 10, 0, NULL, 0 },
	{ "max_connections_per_ip = 3", T_UINT, F(max_connections_per_ip), 3, 0, NULL, 0 },
	{ "max_recipients = 50", T_UINT, F(max_recipients), 50, 0, NULL, 0 },
	{ "alert_min_messages = 7", T_UINT, F(alert_min_messages), 7, 0, NULL, 0 },
	{ "alert_min_messages = 0", T_UINT, F(alert_min_messages), 0, 0, NULL, 0 },
	{ "outbound_port = 2525", T_UINT, F(outbound_port), 2525, 0, NULL, 0 },
	{ "outbound_port = 1", T_UINT, F(outbound_port), 1, 0, NULL, 0 },
	{ "outbound_port = 65535", T_UINT, F(outbound_port), 65535, 0, NULL, 0 },
	{ "max_connections = 1", T_UINT, F(max_connections), 1, 0, NULL, 0 },
	{ "scan_max_lookups = 0", T_UINT, F(scan_max_lookups), 0, 0, NULL, 0 },
	/* numbers */
	{ "score_junk = 4.5", T_NUM, F(score_junk), 0, 4.5, NULL, 0 },
	{ "score_reject = 15", T_NUM, F(score_reject), 0, 15.0, NULL, 0 },
	{ "alert_bounce_ratio = 0.05", T_NUM, F(alert_bounce_ratio), 0, 0.05, NULL, 0 },
	{ "alert_bounce_ratio = 0", T_NUM, F(alert_bounce_ratio), 0, 0.0, NULL, 0 },
	{ "alert_bounce_ratio = 1", T_NUM, F(alert_bounce_ratio), 0, 1.0, NULL, 0 },
	{ "alert_bounce_ratio = 1.0", T_NUM, F(alert_bounce_ratio), 0, 1.0, NULL, 0 },
	/* thresholds are floats and may be below zero */
	{ "score_junk = -2.5", T_NUM, F(score_junk), 0, -2.5, NULL, 0 },
	{ "score_reject = 9999.5", T_NUM, F(score_reject), 0, 9999.5, NULL, 0 },
	/* rates */
	{ "user_max_messages = 10/1m", T_RATE, F(user_max_messages), 10, 0, NULL, 60 },
	{ "user_max_recipients = 500/1d", T_RATE, F(user_max_recipients), 500, 0, NULL, 86400 },
	{ "auth_max_failures = 3/5m", T_RATE, F(auth_max_failures), 3, 0, NULL, 300 },
	{ "user_max_messages = 1/1s", T_RATE, F(user_max_messages), 1, 0, NULL, 1 },
	{ "user_max_messages = 1000000000/365d", T_RATE, F(user_max_messages), 1000000000,
	    0, NULL, 365 * 86400 },
	/* listeners and HOST:PORT */
	{ "listen_smtp = 127.0.0.1:2525", T_HP, F(listen_smtp), 0, 0, "127.0.0.1", 2525 },
	{ "listen_submission = [::1]:2587", T_HP, F(listen_submission), 0, 0, "::1", 2587 },
	{ "listen_submissions = 127.0.0.1:2465", T_HP, F(listen_submissions), 0, 0,
	    "127.0.0.1", 2465 },
	{ "metrics_listen = 127.0.0.1:9100", T_HP, F(metrics_listen), 0, 0, "127.0.0.1", 9100 },
	{ "relayhost = smtp.example.net:587", T_HP, F(relayhost), 0, 0, "smtp.example.net", 587 },
	{ "listen_smtp = off", T_HP_NULL, F(listen_smtp), 0, 0, NULL, 0 },
	{ "listen_smtp = OFF", T_HP_NULL, F(listen_smtp), 0, 0, NULL, 0 },
	{ "listen_smtp =", T_HP_NULL, F(listen_smtp), 0, 0, NULL, 0 },
	{ "listen_submission = off", T_HP_NULL, F(listen_submission), 0, 0, NULL, 0 },
	{ "listen_submissions = off", T_HP_NULL, F(listen_submissions), 0, 0, NULL, 0 },
	{ "metrics_listen = off", T_HP_NULL, F(metrics_listen), 0, 0, NULL, 0 },
	{ "relayhost = off", T_HP_NULL, F(relayhost), 0, 0, NULL, 0 },
	/* strings and DNS names */
	{ "hostname = mx.example.org", T_STR, F(hostname), 0, 0, "mx.example.org", 0 },
	{ "hostname = mx.example.org.", T_STR, F(hostname), 0, 0, "mx.example.org", 0 },
	{ "user = postern", T_STR, F(user), 0, 0, "postern", 0 },
	/* dkim_selector and dkim_key go together */
	{ "dkim_key = k.key\ndkim_selector = s2024", T_STR, F(dkim_selector), 0, 0, "s2024", 0 },
	{ "alert_address = ops@example.org", T_STR, F(alert_address), 0, 0,
	    "ops@example.org", 0 },
	{ "spamhaus_dqs_key = abc123def", T_STR, F(spamhaus_dqs_key), 0, 0, "abc123def", 0 },
	{ "dnsbl_ip_zone = zen.example.net", T_STR, F(dnsbl_ip_zone), 0, 0,
	    "zen.example.net", 0 },
	{ "dnsbl_domain_zone = dbl.example.net.", T_STR, F(dnsbl_domain_zone), 0, 0,
	    "dbl.example.net", 0 },
	/* paths: relative to the config file's directory */
	{ "data_dir = spool", T_STR, F(data_dir), 0, 0, BASEDIR "/spool", 0 },
	{ "data_dir = /var/lib/postern", T_STR, F(data_dir), 0, 0, "/var/lib/postern", 0 },
	{ "data_dir = /srv/p", T_STR, F(log_file), 0, 0, "/srv/p/postern.log", 0 },
	{ "log_file = logs/p.log", T_STR, F(log_file), 0, 0, BASEDIR "/logs/p.log", 0 },
	{ "log_file = /var/log/postern.log", T_STR, F(log_file), 0, 0,
	    "/var/log/postern.log", 0 },
	{ "tls_cert = cert.pem\ntls_key = /k/key.pem", T_STR, F(tls_cert), 0, 0,
	    BASEDIR "/cert.pem", 0 },
	{ "tls_cert = cert.pem\ntls_key = /k/key.pem", T_STR, F(tls_key), 0, 0,
	    "/k/key.pem", 0 },
	{ "dkim_selector = s\ndkim_key = dkim/private.key", T_STR, F(dkim_key), 0, 0,
	    BASEDIR "/dkim/private.key", 0 },
	/* syntax variants */
	{ "max_connections=7", T_UINT, F(max_connections), 7, 0, NULL, 0 },
	{ "   max_connections   =   7   ", T_UINT, F(max_connections), 7, 0, NULL, 0 },
	{ "\tmax_connections\t=\t7\t", T_UINT, F(max_connections), 7, 0, NULL, 0 },
	{ "max_connections = 7 # seven", T_UINT, F(max_connections), 7, 0, NULL, 0 },
	{ "max_connections = 7\r\n", T_UINT, F(max_connections), 7, 0, NULL, 0 },
	{ "# max_connections = 7", T_UINT, F(max_connections), 500, 0, NULL, 0 },
	{ "\n\n# comment\n   \n\t\nmax_connections = 9\n\n", T_UINT, F(max_connections),
	    9, 0, NULL, 0 },
	{ "max_connections = 9", T_UINT, F(max_connections), 9, 0, NULL, 0 },	/* no final LF */
};

static void
test_config_values(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(value_cases); i++) {
		const struct value_case *c = &value_cases[i];
		struct config cfg;
		struct config_diag diag;
		char *text;
		size_t n;
		const char *f;

		text = malloc(strlen(c->text) + 32);
		sprintf(text, "domains = example.org\n%s", c->text);
		n = parse(text, &cfg, &diag);
		free(text);
		f = (const char *)&cfg + c->off;
		CASE_CHECK(bad, n == 0, i, "\"%s\": %zu problems, first: %s",
		    unit_show(c->text, strlen(c->text)), n, diag.n ? diag.msgs[0] : "");
		switch (c->type) {
		case T_UINT:
			CASE_CHECK(bad, *(const unsigned *)f == c->u, i, "\"%s\": %u, want %llu",
			    c->text, *(const unsigned *)f, c->u);
			break;
		case T_U64:
			CASE_CHECK(bad, *(const uint64_t *)f == c->u, i,
			    "\"%s\": %llu, want %llu", c->text,
			    (unsigned long long)*(const uint64_t *)f, c->u);
			break;
		case T_NUM:
			CASE_CHECK(bad, *(const double *)f > c->d - 1e-9 &&
			    *(const double *)f < c->d + 1e-9, i, "\"%s\": %g, want %g",
			    c->text, *(const double *)f, c->d);
			break;
		case T_STR: {
			const char *s = *(char *const *)f;
			CASE_CHECK(bad, s != NULL && strcmp(s, c->s) == 0, i,
			    "\"%s\": \"%s\", want \"%s\"", c->text, s ? s : "(null)", c->s);
			break;
		}
		case T_HP: {
			const struct hostport *hp = *(struct hostport *const *)f;
			CASE_CHECK(bad, hp != NULL && strcmp(hp->host, c->s) == 0 &&
			    hp->port == c->port, i, "\"%s\": %s:%u, want %s:%u", c->text,
			    hp ? hp->host : "(null)", hp ? hp->port : 0, c->s, c->port);
			break;
		}
		case T_HP_NULL:
			CASE_CHECK(bad, *(struct hostport *const *)f == NULL, i,
			    "\"%s\": listener not switched off", c->text);
			break;
		case T_RATE: {
			const struct rate *r = (const struct rate *)f;
			CASE_CHECK(bad, r->count == c->u && r->seconds == c->port, i,
			    "\"%s\": %u/%u, want %llu/%u", c->text, r->count, r->seconds,
			    c->u, c->port);
			break;
		}
		}
		config_clear(&cfg);
		config_diag_clear(&diag);
	}
	assert_int_equal(bad, 0);
}

/* ---- lists ----------------------------------------------------------------- */

static void
test_config_lists(void **state)
{
	struct config cfg;
	struct config_diag diag;
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	size_t n;

	(void)state;
	n = parse("domains = Example.ORG other.NET. third.example\n"
	    "dns_servers = 127.0.0.1 [::1]:5353 9.9.9.9:53 ::1\n"
	    "trusted_networks = 10.0.0.0/8 192.168.1.0/24 2001:db8::/32\n"
	    "allow_networks = 203.0.113.7\n", &cfg, &diag);
	print_diag(&diag);
	assert_int_equal(n, 0);

	/* domains: lower-cased, trailing dot dropped */
	assert_int_equal(cfg.ndomains, 3);
	assert_string_equal(cfg.domains[0], "example.org");
	assert_string_equal(cfg.domains[1], "other.net");
	assert_string_equal(cfg.domains[2], "third.example");
	assert_string_equal(cfg.alert_address, "postmaster@example.org");

	/* forwarders: the port is optional */
	assert_int_equal(cfg.ndns_servers, 4);
	assert_string_equal(cfg.dns_servers[0].host, "127.0.0.1");
	assert_int_equal(cfg.dns_servers[0].port, 53);
	assert_string_equal(cfg.dns_servers[1].host, "::1");
	assert_int_equal(cfg.dns_servers[1].port, 5353);
	assert_string_equal(cfg.dns_servers[2].host, "9.9.9.9");
	assert_int_equal(cfg.dns_servers[2].port, 53);
	assert_string_equal(cfg.dns_servers[3].host, "::1");
	assert_int_equal(cfg.dns_servers[3].port, 53);

	assert_int_equal(cfg.ntrusted_networks, 3);
	assert_int_equal(cfg.trusted_networks[0].family, AF_INET);
	assert_int_equal(cfg.trusted_networks[0].prefix, 8);
	assert_int_equal(cfg.trusted_networks[2].family, AF_INET6);
	assert_int_equal(cfg.trusted_networks[2].prefix, 32);
	assert_int_equal(cfg.nallow_networks, 1);
	assert_int_equal(cfg.allow_networks[0].prefix, 32);

	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.168.1.20", &s4.sin_addr);
	assert_true(cidr_list_match(cfg.trusted_networks, cfg.ntrusted_networks,
	    (struct sockaddr *)&s4));
	assert_false(cidr_list_match(cfg.allow_networks, cfg.nallow_networks,
	    (struct sockaddr *)&s4));
	inet_pton(AF_INET, "203.0.113.7", &s4.sin_addr);
	assert_true(cidr_list_match(cfg.allow_networks, cfg.nallow_networks,
	    (struct sockaddr *)&s4));
	memset(&s6, 0, sizeof(s6));
	s6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:1::1", &s6.sin6_addr);
	assert_true(cidr_list_match(cfg.trusted_networks, cfg.ntrusted_networks,
	    (struct sockaddr *)&s6));

	/* config_is_local_domain: any case, no trailing dot, whole names only */
	{
		static const struct {
			const char *d;
			bool local;
		} cases[] = {
			{ "example.org", true }, { "EXAMPLE.org", true }, { "example.org.", true },
			{ "Other.Net", true }, { "third.example", true },
			{ "xample.org", false }, { "example.org.evil", false },
			{ "sub.example.org", false }, { "example", false }, { "", false },
			{ "example.or", false },
		};
		int bad = 0;

		for (size_t i = 0; i < NELEM(cases); i++) {
			bool got = config_is_local_domain(&cfg, cases[i].d, strlen(cases[i].d));
			CASE_CHECK(bad, got == cases[i].local, i, "\"%s\": %d, want %d",
			    cases[i].d, got, cases[i].local);
		}
		assert_int_equal(bad, 0);
	}
	config_clear(&cfg);
	config_diag_clear(&diag);

	/* commas are separators too */
	n = parse("domains = a.example,b.example, c.example\n", &cfg, &diag);
	assert_int_equal(n, 0);
	assert_int_equal(cfg.ndomains, 3);
	assert_string_equal(cfg.domains[2], "c.example");
	config_clear(&cfg);
	config_diag_clear(&diag);

	/* a list given twice is a key given twice: the first line stays */
	n = parse("domains = a.example b.example\ndomains = c.example\n"
	    "trusted_networks = 10.0.0.0/8 10.1.0.0/16\ntrusted_networks = 10.2.0.0/16\n",
	    &cfg, &diag);
	print_diag(&diag);
	assert_int_equal(n, 2);
	assert_string_equal(diag.msgs[0], "test.conf:2: domains given twice (lines 1 and 2)");
	assert_string_equal(diag.msgs[1],
	    "test.conf:4: trusted_networks given twice (lines 3 and 4)");
	assert_int_equal(cfg.ndomains, 2);
	assert_string_equal(cfg.domains[0], "a.example");
	assert_int_equal(cfg.ntrusted_networks, 2);
	config_clear(&cfg);
	config_diag_clear(&diag);
}

/* ---- listeners: lists of HOST:PORT (SPEC 2, 9) ------------------------------ */

static void
test_config_listen_lists(void **state)
{
	static const struct {
		const char *value;
		size_t n;		/* addresses, 0: switched off */
		const char *hosts[3];
		unsigned ports[3];
	} cases[] = {
		{ "127.0.0.1:2525", 1, { "127.0.0.1" }, { 2525 } },
		{ "[::]:25", 1, { "::" }, { 25 } },
		{ "127.0.0.1:25 [::1]:25", 2, { "127.0.0.1", "::1" }, { 25, 25 } },
		{ "  192.0.2.1:25\t[2001:db8::1]:25  mx.example.org:2525 ", 3,
		    { "192.0.2.1", "2001:db8::1", "mx.example.org" }, { 25, 25, 2525 } },
		{ "127.0.0.1:25,127.0.0.2:25", 2, { "127.0.0.1", "127.0.0.2" }, { 25, 25 } },
		{ "off", 0, { NULL }, { 0 } },
		{ "", 0, { NULL }, { 0 } },
	};
	static const char *const keys[] = {
		"listen_smtp", "listen_submission", "listen_submissions",
	};
	int bad = 0;

	(void)state;
	for (size_t k = 0; k < NELEM(keys); k++)
		for (size_t i = 0; i < NELEM(cases); i++) {
			struct config cfg;
			struct config_diag diag;
			char text[256];
			const struct hostport *hp;
			size_t n, got;

			/* the other two keys off, so nothing clashes with a default */
			snprintf(text, sizeof(text), "domains = example.org\n%s = off\n%s = off\n"
			    "%s = %s\n", keys[(k + 1) % 3], keys[(k + 2) % 3], keys[k],
			    cases[i].value);
			n = parse(text, &cfg, &diag);
			hp = k == 0 ? cfg.listen_smtp : k == 1 ? cfg.listen_submission :
			    cfg.listen_submissions;
			got = k == 0 ? cfg.nlisten_smtp : k == 1 ? cfg.nlisten_submission :
			    cfg.nlisten_submissions;
			CASE_CHECK(bad, n == 0 && got == cases[i].n, i, "%s = \"%s\": %zu problems "
			    "(%s), %zu addresses, want %zu", keys[k], cases[i].value, n,
			    diag.n ? diag.msgs[0] : "", got, cases[i].n);
			CASE_CHECK(bad, (hp == NULL) == (cases[i].n == 0), i,
			    "%s = \"%s\": list pointer", keys[k], cases[i].value);
			for (size_t j = 0; j < got && j < cases[i].n; j++)
				CASE_CHECK(bad, strcmp(hp[j].host, cases[i].hosts[j]) == 0 &&
				    hp[j].port == cases[i].ports[j], i, "%s = \"%s\": [%zu] %s:%u",
				    keys[k], cases[i].value, j, hp[j].host, hp[j].port);
			config_clear(&cfg);
			config_diag_clear(&diag);
		}
	assert_int_equal(bad, 0);

	/* at most CONFIG_LISTEN_MAX addresses in one key */
	{
		struct config cfg;
		struct config_diag diag;
		char text[2048];
		size_t off = (size_t)snprintf(text, sizeof(text), "domains = example.org\n"
		    "listen_smtp =");

		for (int i = 0; i <= CONFIG_LISTEN_MAX; i++)
			off += (size_t)snprintf(text + off, sizeof(text) - off, " 127.0.0.%d:2525",
			    i + 1);
		snprintf(text + off, sizeof(text) - off, "\n");
		assert_int_equal(parse(text, &cfg, &diag), 1);
		assert_non_null(strstr(diag.msgs[0], "test.conf:2: listen_smtp: more than"));
		config_clear(&cfg);
		config_diag_clear(&diag);
	}
}

/* ---- scores ---------------------------------------------------------------- */

static void
test_config_scores(void **state)
{
	struct config cfg;
	struct config_diag diag;
	double w = 0;
	size_t n;

	(void)state;
	n = parse("domains = example.org\nscore.URL_DBL_SPAM = 7.5\n"
	    "score.RCVD_IN_PBL = -1\n", &cfg, &diag);
	print_diag(&diag);
	assert_int_equal(n, 0);
	assert_true(config_score_override(&cfg, "URL_DBL_SPAM", &w));
	assert_true(w == 7.5);
	assert_true(config_score_override(&cfg, "RCVD_IN_PBL", &w));
	assert_true(w == -1.0);
	assert_false(config_score_override(&cfg, "RCVD_IN_SBL", &w));
	assert_false(config_score_override(&cfg, "NOT_A_SYMBOL", &w));
	assert_int_equal(cfg.nscores, 2);
	config_clear(&cfg);
	config_diag_clear(&diag);
}

/* ---- diagnostics --------------------------------------------------------- */

struct error_case {
	const char *text;
	size_t problems;
	unsigned line;		/* of the first problem; 0: a whole-file problem */
	const char *substr;	/* in the first problem */
};

#define DOM "domains = example.org\n"

static const struct error_case error_cases[] = {
	/* unknown keys, with the right line number */
	{ DOM "bogus = 1\n", 1, 2, "bogus" },
	{ "# c\n\n  \n" DOM "\n# another\nfoo_bar = 2\n", 1, 7, "foo_bar" },
	{ "bogus = 1\n" DOM, 1, 1, "bogus" },
	{ DOM "Hostname = x.example\n", 1, 2, "Hostname" },
	{ DOM "score. = 1\n", 1, 2, "score." },
	{ "a = 1\nb = 2\n" DOM "c = 3", 3, 1, "\"a\"" },
	/* bad durations */
	{ DOM "dnsbl_timeout = 5x\n", 1, 2, "dnsbl_timeout" },
	{ DOM "dnsbl_timeout =\n", 1, 2, "dnsbl_timeout" },
	{ DOM "auth_lockout = 1.5h\n", 1, 2, "auth_lockout" },
	{ DOM "queue_lifetime = -1d\n", 1, 2, "queue_lifetime" },
	{ DOM "alert_window = 99999999999d\n", 1, 2, "alert_window" },
	/* bad sizes */
	{ DOM "max_message_size = 50MB\n", 1, 2, "max_message_size" },
	{ DOM "max_message_size = -1\n", 1, 2, "max_message_size" },
	{ DOM "max_message_size = 1.5M\n", 1, 2, "max_message_size" },
	{ DOM "min_free_space = lots\n", 1, 2, "min_free_space" },
	/* bad rates */
	{ DOM "user_max_messages = 100\n", 1, 2, "user_max_messages" },
	{ DOM "user_max_messages = 100/0s\n", 1, 2, "user_max_messages" },
	{ DOM "user_max_recipients = x/1h\n", 1, 2, "user_max_recipients" },
	{ DOM "auth_max_failures = 5 per 10m\n", 1, 2, "auth_max_failures" },
	/* bad HOST:PORT */
	{ DOM "listen_smtp = 127.0.0.1\n", 1, 2, "listen_smtp" },
	{ DOM "listen_smtp = 127.0.0.1:0\n", 1, 2, "listen_smtp" },
	{ DOM "listen_smtp = 127.0.0.1:70000\n", 1, 2, "listen_smtp" },
	{ DOM "listen_submission = ::1:587\n", 1, 2, "listen_submission" },
	{ DOM "metrics_listen = :9100\n", 1, 2, "metrics_listen" },
	{ DOM "relayhost = smtp.example.net\n", 1, 2, "relayhost" },
	{ DOM "dns_servers = 127.0.0.1 not/a/server\n", 1, 2, "dns_servers" },
	{ DOM "dns_servers = 1.2.3.4:99999\n", 1, 2, "dns_servers" },
	/* bad CIDR */
	{ DOM "trusted_networks = 10.0.0.0/33\n", 1, 2, "trusted_networks" },
	{ DOM "trusted_networks = 10.0.0.0/8 bogus\n", 1, 2, "bogus" },
	{ DOM "allow_networks = 1.2.3.4/\n", 1, 2, "allow_networks" },
	{ DOM "allow_networks = example.com\n", 1, 2, "allow_networks" },
	/* bad numbers and integers */
	{ DOM "score_junk = abc\n", 1, 2, "score_junk" },
	{ DOM "score_reject = 1e3\n", 1, 2, "score_reject" },
	{ DOM "max_connections = -5\n", 1, 2, "max_connections" },
	{ DOM "max_connections = ten\n", 1, 2, "max_connections" },
	{ DOM "outbound_port = 0\n", 1, 2, "outbound_port" },
	{ DOM "outbound_port = 65536\n", 1, 2, "outbound_port" },
	{ DOM "alert_min_messages = 1.5\n", 1, 2, "alert_min_messages" },
	/* bad strings, names and paths */
	{ DOM "hostname = bad host\n", 1, 2, "hostname" },
	{ DOM "hostname =\n", 1, 2, "hostname" },
	{ DOM "dnsbl_ip_zone = zen..spamhaus.org\n", 1, 2, "dnsbl_ip_zone" },
	{ DOM "user =\n", 1, 2, "user" },
	{ DOM "data_dir =\n", 1, 2, "data_dir" },
	/* score overrides */
	{ DOM "score.not-a-symbol = 1\n", 1, 2, "not-a-symbol" },
	{ DOM "score.URL_DBL_SPAM = x\n", 1, 2, "URL_DBL_SPAM" },
	{ DOM "score.URL_DBL_SPAM =\n", 1, 2, "URL_DBL_SPAM" },
	/* line syntax */
	{ DOM "no equals sign here\n", 1, 2, "key = value" },
	{ DOM "= value\n", 1, 2, "key" },
	{ DOM "hostname = a\x01" "b\n", 1, 2, "control" },
	{ DOM "hostname = a\rb\n", 1, 2, "control" },
	/* domains: required, valid */
	{ "", 1, 0, "domains" },
	{ "hostname = mx.example.org\n", 1, 0, "domains" },
	{ "# only a comment\n", 1, 0, "domains" },
	{ "domains =\n", 2, 1, "domains" },
	{ "domains = bad..domain\n", 2, 1, "bad..domain" },
	{ "domains = good.example bad_domain!\n", 2, 1, "bad_domain!" },
	{ "domains = .\n", 2, 1, "domains" },
	/* one trailing dot is dropped; a second one is no domain at all */
	{ "domains = example.org..\n", 2, 1, "example.org.." },
	{ DOM "hostname = mx.example.org..\n", 1, 2, "hostname" },
	{ DOM "dnsbl_ip_zone = zen.spamhaus.org..\n", 1, 2, "dnsbl_ip_zone" },
	/* whole-file consistency */
	{ DOM "tls_cert = cert.pem\n", 1, 0, "tls_key" },
	{ DOM "tls_key = key.pem\n", 1, 0, "tls_cert" },
	{ DOM "score_junk = 20\n", 1, 0, "score_reject" },
	/* ranges (SPEC 2): the key and its line, the value, the range */
	{ DOM "max_connections = 0\n", 1, 2, "max_connections: \"0\" is out of range (1 to 1000000)" },
	{ DOM "max_connections = 1000001\n", 1, 2, "max_connections" },
	{ DOM "max_connections_per_ip = 0\n", 1, 2, "max_connections_per_ip" },
	{ DOM "max_recipients = 0\n", 1, 2, "max_recipients" },
	{ DOM "smtp_timeout = 0s\n", 1, 2, "smtp_timeout: \"0s\" is out of range (1s to 1d)" },
	{ DOM "smtp_timeout = 2d\n", 1, 2, "smtp_timeout" },
	{ DOM "outbound_timeout = 0\n", 1, 2, "outbound_timeout" },
	{ DOM "dnsbl_timeout = 0s\n", 1, 2, "dnsbl_timeout" },
	{ DOM "dnsbl_timeout = 61m\n", 1, 2, "dnsbl_timeout" },
	{ DOM "queue_lifetime = 0s\n", 1, 2, "queue_lifetime: \"0s\" is out of range (1s to 365d)" },
	{ DOM "queue_lifetime = 0\n", 1, 2, "queue_lifetime" },
	{ DOM "queue_lifetime = 366d\n", 1, 2, "queue_lifetime" },
	{ DOM "retry_initial = 0m\n", 1, 2, "retry_initial" },
	{ DOM "retry_max = 0h\n", 1, 2, "retry_max" },
	{ DOM "auth_lockout = 0s\n", 1, 2, "auth_lockout" },
	{ DOM "alert_window = 0s\n", 1, 2, "alert_window" },
	{ DOM "delay_warning = 366d\n", 1, 2, "delay_warning" },
	{ DOM "max_message_size = 100\n", 1, 2, "max_message_size: \"100\" is out of range (1K to 1T)" },
	{ DOM "max_message_size = 0\n", 1, 2, "max_message_size" },
	{ DOM "max_message_size = 1025G\n", 1, 2, "max_message_size" },
	{ DOM "max_message_size = 2T\n", 1, 2, "max_message_size" },
	{ DOM "min_free_space = 1099511627777\n", 1, 2, "min_free_space" },
	{ DOM "alert_bounce_ratio = 1.5\n", 1, 2,
	    "alert_bounce_ratio: \"1.5\" is out of range (0 to 1)" },
	{ DOM "alert_bounce_ratio = -0.1\n", 1, 2, "alert_bounce_ratio" },
	{ DOM "alert_bounce_ratio = 20\n", 1, 2, "alert_bounce_ratio" },
	{ DOM "user_max_messages = 0/1h\n", 1, 2,
	    "user_max_messages: \"0/1h\" is out of range (1 to 1000000000 per 1s to 365d)" },
	{ DOM "user_max_recipients = 0/1d\n", 1, 2, "user_max_recipients" },
	{ DOM "user_max_failed_recipients = 0/1h\n", 1, 2, "user_max_failed_recipients" },
	{ DOM "auth_max_failures = 0/10m\n", 1, 2, "auth_max_failures" },
	{ DOM "auth_max_failures = 5/366d\n", 1, 2, "auth_max_failures" },
	{ DOM "user_max_messages = 1000000001/1h\n", 1, 2, "user_max_messages" },
	{ DOM "outbound_port = 0\n", 1, 2, "outbound_port: \"0\" is out of range (1 to 65535)" },
	{ DOM "scan_max_lookups = 100001\n", 1, 2, "scan_max_lookups" },
	{ DOM "score_junk = 10001\n", 1, 2, "score_junk" },
	{ DOM "score_reject = -10001\n", 1, 2, "score_reject" },
	{ DOM "score.URL_DBL_SPAM = 10001\n", 1, 2, "score.URL_DBL_SPAM" },
	/* overflow is out of range, with the key and line, never a wrap */
	{ DOM "max_message_size = 9223372036854775807\n", 1, 2,
	    "max_message_size: \"9223372036854775807\" is out of range (1K to 1T)" },
	{ DOM "max_message_size = 18446744073709551616\n", 1, 2, "out of range" },
	{ DOM "max_message_size = 99999999999999999999999999\n", 1, 2, "out of range" },
	{ DOM "max_message_size = 17179869184G\n", 1, 2, "out of range" },
	{ DOM "min_free_space = 18446744073709551615\n", 1, 2, "min_free_space" },
	{ DOM "max_connections = 4294967296\n", 1, 2, "max_connections: \"4294967296\" is out of range" },
	{ DOM "alert_window = 99999999999d\n", 1, 2, "alert_window: \"99999999999d\" is out of range" },
	{ DOM "user_max_messages = 4294967296/1h\n", 1, 2, "user_max_messages: \"4294967296/1h\" is out of range" },
	{ DOM "user_max_messages = 1/4294967296\n", 1, 2, "out of range" },
	/* a key given twice: an error naming both lines */
	{ DOM "max_connections = 7\nmax_connections = 8\n", 1, 3,
	    "max_connections given twice (lines 2 and 3)" },
	{ DOM "hostname = a.example\n\n# x\nhostname = a.example\n", 1, 5,
	    "hostname given twice (lines 2 and 5)" },
	{ DOM "listen_smtp = 127.0.0.1:2525\nlisten_smtp = off\n", 1, 3,
	    "listen_smtp given twice (lines 2 and 3)" },
	{ "domains = a.example\n" DOM, 1, 2, "domains given twice (lines 1 and 2)" },
	{ DOM "score.URL_DBL_SPAM = 1\nscore.URL_DBL_SPAM = 2\n", 1, 3,
	    "score.URL_DBL_SPAM given twice (lines 2 and 3)" },
	{ DOM "alert_window = 1h\nalert_window = bogus\n", 1, 3, "alert_window given twice" },
	/* two listeners on one address (SPEC 2), named with both lines */
	{ DOM "listen_smtp = 127.0.0.1:2525\nlisten_submission = 127.0.0.1:2525\n", 1, 3,
	    "listen_submission: 127.0.0.1:2525 is already bound by listen_smtp 127.0.0.1:2525 (line 2)" },
	{ DOM "listen_submissions = 127.0.0.1:9100\nlisten_smtp = off\n"
	  "metrics_listen = 127.0.0.1:9100\n", 1, 4,
	    "metrics_listen: 127.0.0.1:9100 is already bound by listen_submissions 127.0.0.1:9100 (line 2)" },
	{ DOM "metrics_listen = [::1]:2525\nlisten_smtp = [0:0::1]:2525\n", 1, 3,
	    "listen_smtp: [0:0::1]:2525 is already bound by metrics_listen [::1]:2525 (line 2)" },
	{ DOM "listen_smtp = LocalHost:2525\nlisten_submission = localhost:2525\n", 1, 3,
	    "(line 2)" },
	/* against a default, and wildcards that cover an address */
	{ DOM "listen_smtp = 127.0.0.1:587\n", 1, 2,
	    "listen_smtp: 127.0.0.1:587 is already bound by listen_submission [::]:587 (its default)" },
	{ DOM "metrics_listen = [::1]:465\n", 1, 2,
	    "metrics_listen: [::1]:465 is already bound by listen_submissions [::]:465 (its default)" },
	/* within one list, and across lists */
	{ DOM "listen_smtp = 127.0.0.1:2525 [::1]:2525 127.0.0.1:2525\n", 1, 2,
	    "listen_smtp: 127.0.0.1:2525 is already bound by listen_smtp 127.0.0.1:2525 (this line)" },
	{ DOM "listen_smtp = 127.0.0.1:2525 [::1]:2525\n"
	  "listen_submission = [::2]:2525 [::1]:2525\n", 1, 3,
	    "listen_submission: [::1]:2525 is already bound by listen_smtp [::1]:2525 (line 2)" },
	{ DOM "listen_smtp = [::]:2525 127.0.0.1:2525\n", 1, 2, "(this line)" },
	{ DOM "listen_smtp = 127.0.0.1:2525 off\n", 1, 2, "listen_smtp" },
	{ DOM "listen_smtp = [::1]\n", 1, 2, "listen_smtp" },
	{ DOM "listen_smtp = ::1:25\n", 1, 2, "listen_smtp" },
	{ DOM "listen_smtp = 0.0.0.0:2525\nmetrics_listen = 127.0.0.1:2525\n", 1, 3,
	    "listen_smtp 0.0.0.0:2525 (line 2)" },
	{ DOM "listen_smtp = *:2525\nmetrics_listen = [::1]:2525\n", 1, 3, "(line 2)" },
	{ DOM "listen_smtp = [::]:2525\nmetrics_listen = 127.0.0.1:2525\n", 1, 3, "(line 2)" },
	{ DOM "listen_smtp = [::ffff:127.0.0.1]:2525\nmetrics_listen = 127.0.0.1:2525\n", 1, 3,
	    "(line 2)" },
};

static void
test_config_errors(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(error_cases); i++) {
		const struct error_case *c = &error_cases[i];
		struct config cfg;
		struct config_diag diag;
		size_t n = parse(c->text, &cfg, &diag);
		char prefix[64];

		if (c->line)
			snprintf(prefix, sizeof(prefix), "%s:%u: ", FILE_NAME, c->line);
		else
			snprintf(prefix, sizeof(prefix), "%s: ", FILE_NAME);
		CASE_CHECK(bad, n == c->problems && diag.n == c->problems, i,
		    "\"%s\": %zu problems (diag %zu), want %zu",
		    unit_show(c->text, strlen(c->text)), n, diag.n, c->problems);
		if (diag.n > 0) {
			CASE_CHECK(bad, strncmp(diag.msgs[0], prefix, strlen(prefix)) == 0, i,
			    "\"%s\": \"%s\" does not start with \"%s\"",
			    unit_show(c->text, strlen(c->text)), diag.msgs[0], prefix);
			CASE_CHECK(bad, strstr(diag.msgs[0], c->substr) != NULL, i,
			    "\"%s\": \"%s\" does not mention \"%s\"",
			    unit_show(c->text, strlen(c->text)), diag.msgs[0], c->substr);
		}
		if (n != c->problems)
			print_diag(&diag);
		config_clear(&cfg);
		config_diag_clear(&diag);
	}
	assert_int_equal(bad, 0);
}

/* Several problems are all reported, each with its own line, and the
 * parse goes on past them. */
static void
test_config_many_errors(void **state)
{
	struct config cfg;
	struct config_diag diag;
	size_t n;

	(void)state;
	n = parse("a = 1\n"
	    "domains = example.org\n"
	    "max_connections = 7\n"
	    "dnsbl_timeout = soon\n"
	    "\n"
	    "listen_smtp = nowhere\n"
	    "max_recipients = 9\n", &cfg, &diag);
	assert_int_equal(n, 3);
	assert_int_equal(diag.n, 3);
	assert_true(strncmp(diag.msgs[0], FILE_NAME ":1: ", 12) == 0);
	assert_true(strncmp(diag.msgs[1], FILE_NAME ":4: ", 12) == 0);
	assert_true(strncmp(diag.msgs[2], FILE_NAME ":6: ", 12) == 0);
	assert_int_equal(cfg.max_connections, 7);
	assert_int_equal(cfg.max_recipients, 9);
	/* a bad value leaves the default in place */
	assert_int_equal(cfg.dnsbl_timeout, 5);
	config_clear(&cfg);

	/* problems accumulate across calls; the count is this call's */
	n = config_parse("bogus = 1\n", 10, "second.conf", NULL, &cfg, &diag);
	assert_int_equal(n, 2);		/* bogus, missing domains */
	assert_int_equal(diag.n, 5);
	assert_true(strncmp(diag.msgs[3], "second.conf:1: ", 15) == 0);
	config_clear(&cfg);
	config_diag_clear(&diag);
	assert_int_equal(diag.n, 0);
	assert_null(diag.msgs);
}

/* Without a base directory relative paths stay as written. */
static void
test_config_no_basedir(void **state)
{
	static const char text[] = "domains = example.org\ndata_dir = spool\n";
	struct config cfg;
	struct config_diag diag = { 0 };
	size_t n;

	(void)state;
	n = config_parse(text, sizeof(text) - 1, "x.conf", NULL, &cfg, &diag);
	assert_int_equal(n, 0);
	assert_string_equal(cfg.data_dir, "spool");
	assert_string_equal(cfg.log_file, "spool/postern.log");
	config_clear(&cfg);
	config_diag_clear(&diag);
}

/* score.SYMBOL names are checked against the scanner's table, with the
 * line of the setting (SPEC 2: unknown keys are errors with file:line). */
static void
test_config_score_symbols(void **state)
{
	static const char text[] = "domains = example.org\n# comment\n"
	    "score.URL_DBL_SPAM = 7.5\nscore.NOT_A_SYMBOL = 1\n";
	struct config cfg;
	struct config_diag diag = { 0 };
	double w;

	(void)state;
	assert_int_equal(config_parse(text, strlen(text), "t.conf", "/etc", &cfg, &diag), 0);
	assert_int_equal(score_validate(&cfg, &diag), 1);
	assert_int_equal(diag.n, 1);
	assert_true(strncmp(diag.msgs[0], "t.conf:4: ", 10) == 0);
	assert_non_null(strstr(diag.msgs[0], "NOT_A_SYMBOL"));
	assert_true(config_score_override(&cfg, "URL_DBL_SPAM", &w));
	assert_true(w == 7.5);
	{
		struct score sc;
		score_init(&sc, &cfg);
		score_add(&sc, SYM_URL_DBL_SPAM, "badspam.example");
		score_add(&sc, SYM_URL_DBL_SPAM, "other.example");	/* once */
		assert_true(sc.total == 7.5);
		assert_int_equal(sc.nhits, 1);
		assert_string_equal(sc.hits[0].detail, "badspam.example");
	}
	config_clear(&cfg);
	config_diag_clear(&diag);
}

/* local_delivery: maildir, or LMTP over a unix socket (path resolved
 * against the config's directory) or TCP; the last line wins. */
static void
test_config_local_delivery(void **state)
{
	static const struct {
		const char *value;
		const char *socket;	/* expected lmtp_socket, NULL: none */
		const char *host;	/* expected lmtp_host->host, NULL: none */
		unsigned port;
		bool ok;
	} cases[] = {
		{ "maildir", NULL, NULL, 0, true },
		{ "MAILDIR", NULL, NULL, 0, true },
		{ "lmtp:unix:/run/dovecot/lmtp", "/run/dovecot/lmtp", NULL, 0, true },
		{ "lmtp:unix:run/lmtp", BASEDIR "/run/lmtp", NULL, 0, true },
		{ "lmtp:127.0.0.1:24", NULL, "127.0.0.1", 24, true },
		{ "LMTP:[::1]:2424", NULL, "::1", 2424, true },
		{ "lmtp:", NULL, NULL, 0, false },
		{ "lmtp:unix:", NULL, NULL, 0, false },
		{ "lmtp:127.0.0.1", NULL, NULL, 0, false },
		{ "lmtp:127.0.0.1:0", NULL, NULL, 0, false },
		{ "smtp:127.0.0.1:25", NULL, NULL, 0, false },
		{ "", NULL, NULL, 0, false },
		{ "lmtp:unix:/0123456789012345678901234567890123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789", NULL, NULL, 0, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct config_diag diag;
		char text[512];
		size_t n;

		snprintf(text, sizeof(text), "domains = example.org\nlocal_delivery = %s\n",
		    cases[i].value);
		n = parse(text, &cfg, &diag);
		if (!cases[i].ok) {
			assert_int_equal(n, 1);
			assert_non_null(strstr(diag.msgs[0], "test.conf:2:"));
			assert_non_null(strstr(diag.msgs[0], "local_delivery"));
		} else {
			print_diag(&diag);
			assert_int_equal(n, 0);
			if (cases[i].socket)
				assert_string_equal(cfg.lmtp_socket, cases[i].socket);
			else
				assert_null(cfg.lmtp_socket);
			if (cases[i].host) {
				assert_non_null(cfg.lmtp_host);
				assert_string_equal(cfg.lmtp_host->host, cases[i].host);
				assert_int_equal(cfg.lmtp_host->port, cases[i].port);
			} else
				assert_null(cfg.lmtp_host);
		}
		config_clear(&cfg);
		config_diag_clear(&diag);
	}
	{
		/* given twice: an error naming both lines, the first one stays */
		struct config cfg;
		struct config_diag diag;
		assert_int_equal(parse("domains = example.org\nlocal_delivery = lmtp:unix:/a\n"
		    "local_delivery = maildir\n", &cfg, &diag), 1);
		assert_string_equal(diag.msgs[0],
		    "test.conf:3: local_delivery given twice (lines 2 and 3)");
		assert_string_equal(cfg.lmtp_socket, "/a");
		config_clear(&cfg);
		config_diag_clear(&diag);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_values),
		cmocka_unit_test(test_config_lists),
		cmocka_unit_test(test_config_listen_lists),
		cmocka_unit_test(test_config_scores),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_many_errors),
		cmocka_unit_test(test_config_no_basedir),
		cmocka_unit_test(test_config_score_symbols),
		cmocka_unit_test(test_config_local_delivery),
	};

	return cmocka_run_group_tests_name("lib_config", tests, NULL, NULL);
}
