/*
 * Configuration parser. A key table drives type checking and gives every
 * numeric key its range (SPEC 2); defaults are applied before the file and
 * derived values (log_file, min_free_space, alert_address) after it, so an
 * explicit setting always wins. Each key may be given once.
 */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state_url.h"
#include "xmalloc.h"

#define CONFIG_FILE_MAX (1024 * 1024)

/* Range bounds (SPEC 2: ratios 0-1, durations and rate counts > 0, sizes
 * up to 1T). Timeouts stop at a day: serve.c turns some into milliseconds
 * in an unsigned, and a longer wait is a typo, not a policy. */
#define MINUTE 60.0
#define DAY 86400.0
#define YEAR (365 * DAY)
#define TERA 1099511627776.0		/* 1T = 1024^4 octets */
#define COUNT_MAX 1e9
#define SCORE_MAX 10000.0		/* any threshold or weight beyond is a typo */
#define RATE_SECONDS_MAX YEAR		/* the DURATION of COUNT/DURATION */

enum key_type {
	K_STRING, K_PATH, K_DOMAINS, K_HOSTPORT_OPT, K_HOSTPORT_LIST, K_LISTEN,
	K_CIDR_LIST, K_DURATION, K_SIZE, K_UINT, K_RATE, K_NUMBER,
	K_ZONE, K_BOOL, K_DELIVERY, K_IP_LIST,
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;		/* offset in struct config */
	size_t count_off;	/* for lists: offset of the count */
	double min, max;	/* numeric types: accepted range, both included
				 * (for rates, of the COUNT); unset (0, 0) is
				 * "only 0", so a new key cannot forget one */
};

#define OFF(f) offsetof(struct config, f)
/* Durations that may be 0 mean "off" there (delay_warning: no warnings;
 * dnsbl_health_interval: test points checked at start only). */
static const struct key keys[] = {
	{ "hostname", K_ZONE, OFF(hostname), 0, 0, 0 },
	{ "domains", K_DOMAINS, OFF(domains), OFF(ndomains), 0, 0 },
	{ "data_dir", K_PATH, OFF(data_dir), 0, 0, 0 },
	{ "log_file", K_PATH, OFF(log_file), 0, 0, 0 },
	{ "listen_smtp", K_LISTEN, OFF(listen_smtp), OFF(nlisten_smtp), 0, 0 },
	{ "listen_submission", K_LISTEN, OFF(listen_submission), OFF(nlisten_submission), 0, 0 },
	{ "listen_submissions", K_LISTEN, OFF(listen_submissions), OFF(nlisten_submissions), 0, 0 },
	{ "metrics_listen", K_HOSTPORT_OPT, OFF(metrics_listen), 0, 0, 0 },
	{ "tls_cert", K_PATH, OFF(tls_cert), 0, 0, 0 },
	{ "tls_key", K_PATH, OFF(tls_key), 0, 0, 0 },
	{ "user", K_STRING, OFF(user), 0, 0, 0 },
	{ "dns_servers", K_HOSTPORT_LIST, OFF(dns_servers), OFF(ndns_servers), 0, 0 },
	{ "dnsbl_ip_zone", K_ZONE, OFF(dnsbl_ip_zone), 0, 0, 0 },
	{ "dnsbl_domain_zone", K_ZONE, OFF(dnsbl_domain_zone), 0, 0, 0 },
	{ "spamhaus_dqs_key", K_STRING, OFF(spamhaus_dqs_key), 0, 0, 0 },
	{ "spamhaus_hbl", K_STRING, OFF(spamhaus_hbl), 0, 0, 0 },
	{ "dnsbl_timeout", K_DURATION, OFF(dnsbl_timeout), 0, 1, 60 * MINUTE },
	{ "dnsbl", K_BOOL, OFF(dnsbl), 0, 0, 0 },
	{ "dnsbl_health_interval", K_DURATION, OFF(dnsbl_health_interval), 0, 0, YEAR },
	{ "dnssec", K_BOOL, OFF(dnssec), 0, 0, 0 },
	{ "dnssec_trust_anchor", K_PATH, OFF(dnssec_trust_anchor), 0, 0, 0 },
	{ "dns_root_hints", K_PATH, OFF(dns_root_hints), 0, 0, 0 },
	{ "allow_networks", K_CIDR_LIST, OFF(allow_networks), OFF(nallow_networks), 0, 0 },
	{ "trusted_networks", K_CIDR_LIST, OFF(trusted_networks), OFF(ntrusted_networks), 0, 0 },
	{ "score_junk", K_NUMBER, OFF(score_junk), 0, -SCORE_MAX, SCORE_MAX },
	{ "score_reject", K_NUMBER, OFF(score_reject), 0, -SCORE_MAX, SCORE_MAX },
	{ "scan_max_lookups", K_UINT, OFF(scan_max_lookups), 0, 0, 100000 },
	{ "scan_defanged", K_BOOL, OFF(scan_defanged), 0, 0, 0 },
	{ "bayes", K_BOOL, OFF(bayes), 0, 0, 0 },
	/* 0: votes from the first message learned (nothing learned of a
	 * kind gives no clue, so no vote either) */
	{ "bayes_min_learned", K_UINT, OFF(bayes_min_learned), 0, 0, COUNT_MAX },
	{ "max_message_size", K_SIZE, OFF(max_message_size), 0, 1024, TERA },
	{ "max_connections", K_UINT, OFF(max_connections), 0, 1, 1000000 },
	{ "max_connections_per_ip", K_UINT, OFF(max_connections_per_ip), 0, 1, 1000000 },
	{ "max_recipients", K_UINT, OFF(max_recipients), 0, 1, 1000000 },
	{ "smtp_timeout", K_DURATION, OFF(smtp_timeout), 0, 1, DAY },
	{ "smtp_min_data_rate", K_UINT, OFF(smtp_min_data_rate), 0, 1, 1e9 },
	{ "user_max_messages", K_RATE, OFF(user_max_messages), 0, 1, COUNT_MAX },
	{ "user_max_recipients", K_RATE, OFF(user_max_recipients), 0, 1, COUNT_MAX },
	{ "user_max_failed_recipients", K_RATE, OFF(user_max_failed_recipients), 0, 1, COUNT_MAX },
	{ "auth_max_failures", K_RATE, OFF(auth_max_failures), 0, 1, COUNT_MAX },
	{ "auth_lockout", K_DURATION, OFF(auth_lockout), 0, 1, YEAR },
	{ "outbound_port", K_UINT, OFF(outbound_port), 0, 1, 65535 },
	{ "relayhost", K_HOSTPORT_OPT, OFF(relayhost), 0, 0, 0 },
	{ "relayhost_user", K_STRING, OFF(relayhost_user), 0, 0, 0 },
	{ "relayhost_password_file", K_PATH, OFF(relayhost_password_file), 0, 0, 0 },
	{ "local_delivery", K_DELIVERY, 0, 0, 0, 0 },
	{ "queue_lifetime", K_DURATION, OFF(queue_lifetime), 0, 1, YEAR },
	{ "delay_warning", K_DURATION, OFF(delay_warning), 0, 0, YEAR },
	{ "retry_initial", K_DURATION, OFF(retry_initial), 0, 1, YEAR },
	{ "retry_max", K_DURATION, OFF(retry_max), 0, 1, YEAR },
	{ "outbound_timeout", K_DURATION, OFF(outbound_timeout), 0, 1, DAY },
	{ "tls_required_domains", K_DOMAINS, OFF(tls_required_domains), OFF(ntls_required_domains), 0, 0 },
	{ "dkim_selector", K_STRING, OFF(dkim_selector), 0, 0, 0 },
	{ "dkim_key", K_PATH, OFF(dkim_key), 0, 0, 0 },
	{ "alert_address", K_STRING, OFF(alert_address), 0, 0, 0 },
	{ "min_free_space", K_SIZE, OFF(min_free_space), 0, 0, TERA },
	{ "alert_bounce_ratio", K_NUMBER, OFF(alert_bounce_ratio), 0, 0, 1 },
	{ "alert_min_messages", K_UINT, OFF(alert_min_messages), 0, 0, COUNT_MAX },
	{ "alert_window", K_DURATION, OFF(alert_window), 0, 1, YEAR },
	{ "public_ip", K_IP_LIST, OFF(public_ip), OFF(npublic_ip), 0, 0 },
	{ "doctor_interval", K_DURATION, OFF(doctor_interval), 0, 1, YEAR },
	{ "acme_email", K_STRING, OFF(acme_email), 0, 0, 0 },
	{ "acme_directory", K_STRING, OFF(acme_directory), 0, 0, 0 },
	{ "acme_http_listen", K_HOSTPORT_OPT, OFF(acme_http_listen), 0, 0, 0 },
	{ "acme_ca_file", K_PATH, OFF(acme_ca_file), 0, 0, 0 },
	{ "https_listen", K_HOSTPORT_OPT, OFF(https_listen), 0, 0, 0 },
	{ "mta_sts_mode", K_STRING, OFF(mta_sts_mode), 0, 0, 0 },
	{ "dmarc_reports", K_BOOL, OFF(dmarc_reports), 0, 0, 0 },
	{ "outbound_family", K_STRING, OFF(outbound_family), 0, 0, 0 },
	{ "outbound_source_ip4", K_STRING, OFF(outbound_source_ip4), 0, 0, 0 },
	{ "outbound_source_ip6", K_STRING, OFF(outbound_source_ip6), 0, 0, 0 },
	{ "state_backend", K_STRING, OFF(state_backend), 0, 0, 0 },
	{ "state_password", K_STRING, OFF(state_password), 0, 0, 0 },
	{ "node_name", K_STRING, OFF(node_name), 0, 0, 0 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static size_t
key_index(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			break;
	return i;
}

void
config_diag_add(struct config_diag *diag, const char *file, unsigned line,
    const char *fmt, ...)
{
	va_list ap;
	char *msg, *full;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (line)
		full = xasprintf("%s:%u: %s", file, line, msg);
	else
		full = xasprintf("%s: %s", file, msg);
	free(msg);
	diag->msgs = xrealloc(diag->msgs, (diag->n + 1) * sizeof(char *));
	diag->msgs[diag->n++] = full;
}

static char *
resolve_path(const char *basedir, const char *p, size_t len)
{
	if ((len > 0 && p[0] == '/') || basedir == NULL || *basedir == '\0')
		return xstrndup(p, len);
	return xasprintf("%s/%.*s", basedir, (int)len, p);
}

static void
set_defaults(struct config *cfg)
{
	char host[256];

	memset(cfg, 0, sizeof(*cfg));
	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	cfg->hostname = xstrdup(host);
	/* [::] with IPV6_V6ONLY off: IPv4 and IPv6 on one socket (SPEC 9) */
	cfg->listen_smtp = xcalloc(1, sizeof(struct hostport));
	value_hostport("[::]:25", 7, cfg->listen_smtp);
	cfg->nlisten_smtp = 1;
	cfg->listen_submission = xcalloc(1, sizeof(struct hostport));
	value_hostport("[::]:587", 8, cfg->listen_submission);
	cfg->nlisten_submission = 1;
	cfg->listen_submissions = xcalloc(1, sizeof(struct hostport));
	value_hostport("[::]:465", 8, cfg->listen_submissions);
	cfg->nlisten_submissions = 1;
	cfg->dnsbl_ip_zone = xstrdup("zen.spamhaus.org");
	cfg->dnsbl_domain_zone = xstrdup("dbl.spamhaus.org");
	cfg->dnsbl_timeout = 5;
	cfg->dnsbl = true;
	cfg->dnsbl_health_interval = 300;
	cfg->spamhaus_hbl = xstrdup("auto");	/* SPEC 4.1: HBL while its test point answers */
	cfg->score_junk = 5.0;
	cfg->score_reject = 12.0;
	cfg->scan_max_lookups = 64;
	cfg->scan_defanged = true;
	cfg->bayes = true;
	cfg->bayes_min_learned = 200;	/* SPEC 13, SpamAssassin's bayes_min_*_num */
	cfg->max_message_size = 50ULL * 1024 * 1024;
	cfg->max_connections = 500;
	cfg->max_connections_per_ip = 20;
	cfg->max_recipients = 1000;
	cfg->smtp_timeout = 300;
	cfg->smtp_min_data_rate = 500;
	cfg->user_max_messages = (struct rate){ 200, 3600 };
	cfg->user_max_recipients = (struct rate){ 1000, 3600 };
	cfg->user_max_failed_recipients = (struct rate){ 50, 3600 };
	cfg->auth_max_failures = (struct rate){ 5, 600 };
	cfg->auth_lockout = 900;
	cfg->outbound_port = 25;
	cfg->queue_lifetime = 5 * 86400;
	cfg->retry_initial = 300;
	cfg->retry_max = 3600;
	cfg->outbound_timeout = 300;
	/* OpenSMTPD's 4 hours: the sender learns early that it is not
	 * through, and still only once */
	cfg->delay_warning = 4 * 3600;
	cfg->alert_bounce_ratio = 0.2;
	cfg->alert_min_messages = 20;
	cfg->alert_window = 3600;
	cfg->doctor_interval = 3600;	/* SPEC 9 */
	cfg->acme_directory = xstrdup("https://acme-v02.api.letsencrypt.org/directory");
	/* RFC 8461 5: "testing" reports failures without refusing mail, the
	 * safe start while certificates and DNS settle; enforce when sure */
	cfg->mta_sts_mode = xstrdup("testing");
	cfg->outbound_family = xstrdup("any");
}

/* Splits a space-separated list; calls fn on each word. */
static int
for_each_word(const char *v, size_t len,
    int (*fn)(const char *w, size_t wl, void *arg), void *arg)
{
	size_t i = 0;

	while (i < len) {
		size_t start;
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < len && v[i] != ' ' && v[i] != '\t' && v[i] != ',')
			i++;
		if (i > start && fn(v + start, i - start, arg) == -1)
			return -1;
	}
	return 0;
}

static int
domain_ok(const char *d, size_t len)
{
	if (len == 0 || len > 253 || d[0] == '.' || d[0] == '-' || d[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
			return 0;
		if (c == '.' && i + 1 < len && d[i + 1] == '.')
			return 0;
	}
	return 1;
}

struct list_acc {
	void *items;
	size_t n, size;
	int (*parse)(const char *, size_t, void *);
	const char *bad;	/* the word that failed */
	size_t badlen;
};

static int
list_add(const char *w, size_t wl, void *arg)
{
	struct list_acc *acc = arg;
	char *slot;

	acc->items = xrealloc(acc->items, (acc->n + 1) * acc->size);
	slot = (char *)acc->items + acc->n * acc->size;
	memset(slot, 0, acc->size);
	if (acc->parse(w, wl, slot) == -1) {
		acc->bad = w;
		acc->badlen = wl;
		return -1;
	}
	acc->n++;
	return 0;
}

static int
parse_domain_word(const char *w, size_t wl, void *slot)
{
	char *d;

	if (wl > 0 && w[wl - 1] == '.')
		wl--;
	if (!domain_ok(w, wl))
		return -1;
	d = xstrndup(w, wl);
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	*(char **)slot = d;
	return 0;
}

/* An address alone (public_ip), stored as inet_ntop() writes it so that
 * equal addresses compare equal as text. */
static int
parse_ip_word(const char *w, size_t wl, void *slot)
{
	unsigned char a[16];
	char tmp[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
	int af;

	if (wl >= sizeof(tmp))
		return -1;
	memcpy(tmp, w, wl);
	tmp[wl] = '\0';
	af = memchr(w, ':', wl) != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(af, tmp, a) != 1 || inet_ntop(af, a, out, sizeof(out)) == NULL)
		return -1;
	*(char **)slot = xstrdup(out);
	return 0;
}

static int
parse_cidr_word(const char *w, size_t wl, void *slot)
{
	return value_cidr(w, wl, slot);
}

static int
parse_dns_server_word(const char *w, size_t wl, void *slot)
{
	struct hostport *hp = slot;
	char tmp[HOSTPORT_HOST_MAX + 8];

	/* HOST[:PORT]: the port is optional for forwarders. */
	if (value_hostport(w, wl, hp) == 0)
		return 0;
	if (wl + 4 >= sizeof(tmp))
		return -1;
	if (memchr(w, ':', wl) != NULL && w[0] != '[') {
		/* a bare IPv6 address */
		struct cidr c;
		if (value_cidr(w, wl, &c) == -1 || memchr(w, '/', wl))
			return -1;
		memcpy(hp->host, w, wl);
		hp->host[wl] = '\0';
		hp->port = 53;
		return 0;
	}
	memcpy(tmp, w, wl);
	memcpy(tmp + wl, ":53", 3);
	return value_hostport(tmp, wl + 3, hp);
}

static int
parse_listen_word(const char *w, size_t wl, void *slot)
{
	return value_hostport(w, wl, slot);
}

static void
free_domains(char **d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i]);
	free(d);
}

static int
is_off(const char *v, size_t len)
{
	return len == 0 || (len == 3 && strncasecmp(v, "off", 3) == 0) ||
	    (len == 4 && strncasecmp(v, "none", 4) == 0) ||
	    (len == 2 && strncasecmp(v, "no", 2) == 0);
}

/* local_delivery = maildir | lmtp:unix:PATH | lmtp:HOST:PORT */
static const char *
apply_delivery(const char *v, size_t vlen, const char *basedir, struct config *cfg)
{
	struct hostport hp;
	char *path;

	if (vlen == 7 && strncasecmp(v, "maildir", 7) == 0) {
		free(cfg->lmtp_socket);
		free(cfg->lmtp_host);
		cfg->lmtp_socket = NULL;
		cfg->lmtp_host = NULL;
		return NULL;
	}
	if (vlen < 5 || strncasecmp(v, "lmtp:", 5) != 0)
		return "expected maildir, lmtp:unix:PATH or lmtp:HOST:PORT";
	v += 5;
	vlen -= 5;
	if (vlen >= 5 && strncasecmp(v, "unix:", 5) == 0) {
		if (vlen == 5)
			return "empty LMTP socket path";
		path = resolve_path(basedir, v + 5, vlen - 5);
		/* sockaddr_un.sun_path is 108 bytes with its NUL */
		if (strlen(path) >= 108) {
			free(path);
			return "LMTP socket path longer than 107 bytes";
		}
		free(cfg->lmtp_socket);
		free(cfg->lmtp_host);
		cfg->lmtp_socket = path;
		cfg->lmtp_host = NULL;
		return NULL;
	}
	if (value_hostport(v, vlen, &hp) == -1)
		return "expected lmtp:unix:PATH or lmtp:HOST:PORT";
	free(cfg->lmtp_socket);
	cfg->lmtp_socket = NULL;
	if (cfg->lmtp_host == NULL)
		cfg->lmtp_host = xmalloc(sizeof(hp));
	*cfg->lmtp_host = hp;
	return NULL;
}

/* A bound as it would be written in the file: 1h, 50M, 0.2. */
static void
format_bound(enum key_type type, double v, char *out, size_t outlen)
{
	static const struct {
		char c;
		double unit;
	} durations[] = { { 'd', DAY }, { 'h', 3600 }, { 'm', MINUTE } },
	  sizes[] = { { 'T', TERA }, { 'G', 1073741824.0 }, { 'M', 1048576.0 }, { 'K', 1024 } };
	size_t i;

	if (type == K_DURATION || type == K_SIZE) {
		bool dur = type == K_DURATION;
		size_t n = dur ? sizeof(durations) / sizeof(durations[0]) :
		    sizeof(sizes) / sizeof(sizes[0]);
		for (i = 0; i < n; i++) {
			double u = dur ? durations[i].unit : sizes[i].unit;
			if (v >= u && v / u == (double)(uint64_t)(v / u)) {
				snprintf(out, outlen, "%.0f%c", v / u,
				    dur ? durations[i].c : sizes[i].c);
				return;
			}
		}
		snprintf(out, outlen, dur ? "%.0fs" : "%.0f", v);
		return;
	}
	snprintf(out, outlen, v == (double)(int64_t)v ? "%.0f" : "%g", v);
}

/*
 * Numeric keys: parsed into a temporary and stored only when well-formed
 * and inside the key's range, so a bad line leaves the default in place.
 * An overflow is an out-of-range value like any other (SPEC 2); a value
 * that fits its C type but not its range never reaches the code that
 * derives from it (min_free_space is 1.5 x max_message_size).
 */
static const char *
apply_numeric(const struct key *k, const char *v, size_t vlen, void *field)
{
	static char msg[200];
	char lo[32], hi[32], rlo[32], rhi[32];
	union {
		unsigned u;
		uint64_t size;
		double d;
		struct rate r;
	} tmp;
	double x = 0;
	int rc = -1;
	const char *bad = NULL;

	switch (k->type) {
	case K_DURATION:
		rc = value_duration(v, vlen, &tmp.u);
		x = tmp.u;
		bad = "bad duration (expected e.g. 30s, 10m, 1h, 5d)";
		break;
	case K_SIZE:
		rc = value_size(v, vlen, &tmp.size);
		x = (double)tmp.size;
		bad = "bad size (expected octets with optional K, M, G or T)";
		break;
	case K_UINT:
		rc = value_uint(v, vlen, &tmp.u);
		x = tmp.u;
		bad = "expected a non-negative integer";
		break;
	case K_RATE:
		rc = value_rate(v, vlen, &tmp.r);
		x = tmp.r.count;
		bad = "bad rate (expected COUNT/DURATION, e.g. 100/1h)";
		break;
	case K_NUMBER:
		rc = value_number(v, vlen, &tmp.d);
		x = tmp.d;
		bad = "expected a number";
		break;
	default:
		return "internal: not a numeric key";
	}
	if (rc == -1)
		return bad;
	if (rc == 0 && x >= k->min && x <= k->max &&
	    (k->type != K_RATE || tmp.r.seconds <= RATE_SECONDS_MAX)) {
		switch (k->type) {
		case K_SIZE: *(uint64_t *)field = tmp.size; break;
		case K_NUMBER: *(double *)field = tmp.d; break;
		case K_RATE: *(struct rate *)field = tmp.r; break;
		default: *(unsigned *)field = tmp.u; break;
		}
		return NULL;
	}
	format_bound(k->type == K_RATE ? K_UINT : k->type, k->min, lo, sizeof(lo));
	format_bound(k->type == K_RATE ? K_UINT : k->type, k->max, hi, sizeof(hi));
	if (k->type == K_RATE) {
		format_bound(K_DURATION, 1, rlo, sizeof(rlo));
		format_bound(K_DURATION, RATE_SECONDS_MAX, rhi, sizeof(rhi));
		snprintf(msg, sizeof(msg), "\"%.*s\" is out of range (%s to %s per %s to %s)",
		    (int)(vlen > 40 ? 40 : vlen), v, lo, hi, rlo, rhi);
	} else
		snprintf(msg, sizeof(msg), "\"%.*s\" is out of range (%s to %s)",
		    (int)(vlen > 40 ? 40 : vlen), v, lo, hi);
	return msg;
}

static const char *
apply_key(const struct key *k, const char *v, size_t vlen, const char *basedir,
    struct config *cfg)
{
	char *base = (char *)cfg;
	void *field = base + k->off;
	struct list_acc acc = { 0 };
	static char msg[160];

	switch (k->type) {
	case K_STRING:
		if (vlen == 0)
			return "empty value";
		free(*(char **)field);
		*(char **)field = xstrndup(v, vlen);
		return NULL;
	case K_ZONE:
		if (vlen > 0 && v[vlen - 1] == '.')
			vlen--;
		if (!domain_ok(v, vlen))
			return "not a valid DNS name";
		free(*(char **)field);
		*(char **)field = xstrndup(v, vlen);
		return NULL;
	case K_PATH:
		if (vlen == 0)
			return "empty path";
		free(*(char **)field);
		*(char **)field = resolve_path(basedir, v, vlen);
		return NULL;
	case K_DOMAINS:
	case K_IP_LIST:
		acc.size = sizeof(char *);
		acc.parse = k->type == K_IP_LIST ? parse_ip_word : parse_domain_word;
		if (for_each_word(v, vlen, list_add, &acc) == -1) {
			free_domains(acc.items, acc.n);
			snprintf(msg, sizeof(msg), "not a valid %s: \"%.*s\"",
			    k->type == K_IP_LIST ? "IP address" : "domain",
			    (int)(acc.badlen > 80 ? 80 : acc.badlen), acc.bad);
			return msg;
		}
		if (acc.n == 0 && k->off == OFF(domains))
			return "at least one domain is needed";
		free_domains(*(char ***)field, *(size_t *)(base + k->count_off));
		*(char ***)field = acc.items;
		*(size_t *)(base + k->count_off) = acc.n;
		return NULL;
	case K_HOSTPORT_OPT: {
		struct hostport hp, **slot = field;
		if (is_off(v, vlen)) {
			free(*slot);
			*slot = NULL;
			return NULL;
		}
		if (value_hostport(v, vlen, &hp) == -1)
			return "expected HOST:PORT (or \"off\")";
		if (*slot == NULL)
			*slot = xmalloc(sizeof(hp));
		**slot = hp;
		return NULL;
	}
	case K_LISTEN:
		if (is_off(v, vlen)) {
			free(*(void **)field);
			*(void **)field = NULL;
			*(size_t *)(base + k->count_off) = 0;
			return NULL;
		}
		acc.size = sizeof(struct hostport);
		acc.parse = parse_listen_word;
		if (for_each_word(v, vlen, list_add, &acc) == -1) {
			free(acc.items);
			snprintf(msg, sizeof(msg),
			    "expected HOST:PORT ([ADDRESS]:PORT for IPv6) or \"off\": \"%.*s\"",
			    (int)(acc.badlen > 80 ? 80 : acc.badlen), acc.bad);
			return msg;
		}
		if (acc.n > CONFIG_LISTEN_MAX) {
			free(acc.items);
			snprintf(msg, sizeof(msg), "more than %d addresses", CONFIG_LISTEN_MAX);
			return msg;
		}
		free(*(void **)field);
		*(void **)field = acc.items;
		*(size_t *)(base + k->count_off) = acc.n;
		return NULL;
	case K_HOSTPORT_LIST:
	case K_CIDR_LIST:
		if (k->type == K_HOSTPORT_LIST) {
			acc.size = sizeof(struct hostport);
			acc.parse = parse_dns_server_word;
		} else {
			acc.size = sizeof(struct cidr);
			acc.parse = parse_cidr_word;
		}
		if (for_each_word(v, vlen, list_add, &acc) == -1) {
			free(acc.items);
			snprintf(msg, sizeof(msg), "%s: \"%.*s\"",
			    k->type == K_CIDR_LIST ? "not a network (ADDRESS[/PREFIX])" :
			    "not HOST[:PORT]",
			    (int)(acc.badlen > 80 ? 80 : acc.badlen), acc.bad);
			return msg;
		}
		free(*(void **)field);
		*(void **)field = acc.items;
		*(size_t *)(base + k->count_off) = acc.n;
		return NULL;
	case K_DURATION:
	case K_SIZE:
	case K_UINT:
	case K_RATE:
	case K_NUMBER:
		return apply_numeric(k, v, vlen, field);
	case K_BOOL:
		if (value_bool(v, vlen, field) == -1)
			return "expected yes or no";
		return NULL;
	case K_DELIVERY:
		return apply_delivery(v, vlen, basedir, cfg);
	}
	return "internal: unknown key type";
}

/* score.SYMBOL = N: the symbol is checked against the scanner's table by
 * score_validate() (scan/score.h), which knows the symbols; here only the
 * shape and the number, keeping the line for its message. */
static void
apply_score(const char *sym, size_t slen, const char *v, size_t vlen,
    const char *file, unsigned line, struct config *cfg, struct config_diag *diag)
{
	size_t i;
	double w;

	for (i = 0; i < slen; i++)
		if (!((sym[i] >= 'A' && sym[i] <= 'Z') || (sym[i] >= '0' && sym[i] <= '9') ||
		    sym[i] == '_')) {
			config_diag_add(diag, file, line, "unknown score symbol \"%.*s\"",
			    (int)(slen > 64 ? 64 : slen), sym);
			return;
		}
	for (i = 0; i < cfg->nscores; i++)
		if (strlen(cfg->scores[i].symbol) == slen &&
		    memcmp(cfg->scores[i].symbol, sym, slen) == 0) {
			config_diag_add(diag, file, line,
			    "score.%.*s given twice (lines %u and %u)",
			    (int)(slen > 64 ? 64 : slen), sym, cfg->scores[i].line, line);
			return;
		}
	/* weights may be negative (a sign of ham); the bound catches typos */
	if (value_number(v, vlen, &w) == -1 || w < -SCORE_MAX || w > SCORE_MAX) {
		config_diag_add(diag, file, line,
		    "score.%.*s: expected a number from %g to %g",
		    (int)(slen > 64 ? 64 : slen), sym, -SCORE_MAX, SCORE_MAX);
		return;
	}
	cfg->scores = xrealloc(cfg->scores, (cfg->nscores + 1) * sizeof(*cfg->scores));
	cfg->scores[cfg->nscores].symbol = xstrndup(sym, slen);
	cfg->scores[cfg->nscores].weight = w;
	cfg->scores[cfg->nscores].line = line;
	cfg->nscores++;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void
parse_line(const char *p, size_t len, const char *file, unsigned line,
    const char *basedir, struct config *cfg, struct config_diag *diag,
    unsigned *lines)
{
	const char *eq, *key, *val;
	size_t klen, vlen, i;
	const char *err;

	/* Comments: '#' at the start of a line or after white space. */
	for (i = 0; i < len; i++)
		if (p[i] == '#' && (i == 0 || is_space(p[i - 1]))) {
			len = i;
			break;
		}
	while (len > 0 && is_space(p[len - 1]))
		len--;
	while (len > 0 && is_space(*p))
		p++, len--;
	if (len == 0)
		return;
	for (i = 0; i < len; i++)
		if (p[i] == '\0' || ((unsigned char)p[i] < 0x20 && p[i] != '\t')) {
			config_diag_add(diag, file, line, "control character in line");
			return;
		}
	eq = memchr(p, '=', len);
	if (eq == NULL) {
		config_diag_add(diag, file, line, "expected \"key = value\"");
		return;
	}
	key = p;
	klen = (size_t)(eq - p);
	while (klen > 0 && is_space(key[klen - 1]))
		klen--;
	val = eq + 1;
	vlen = len - (size_t)(val - p);
	while (vlen > 0 && is_space(*val))
		val++, vlen--;
	if (klen == 0) {
		config_diag_add(diag, file, line, "missing key before \"=\"");
		return;
	}
	if (klen > 6 && memcmp(key, "score.", 6) == 0) {
		apply_score(key + 6, klen - 6, val, vlen, file, line, cfg, diag);
		return;
	}
	for (i = 0; i < NKEYS; i++)
		if (strlen(keys[i].name) == klen && memcmp(keys[i].name, key, klen) == 0)
			break;
	if (i == NKEYS) {
		config_diag_add(diag, file, line, "unknown key \"%.*s\"",
		    (int)(klen > 64 ? 64 : klen), key);
		return;
	}
	/* SPEC 2: a key given twice is an error naming both lines; the
	 * first setting stays */
	if (lines[i] != 0) {
		config_diag_add(diag, file, line, "%s given twice (lines %u and %u)",
		    keys[i].name, lines[i], line);
		return;
	}
	lines[i] = line;
	if ((err = apply_key(&keys[i], val, vlen, basedir, cfg)) != NULL)
		config_diag_add(diag, file, line, "%s: %s", keys[i].name, err);
}

/* A listening address reduced to what decides whether two of them can be
 * bound together. */
struct bound {
	const char *key;	/* the key it came from */
	unsigned line;		/* 0: the default */
	const struct hostport *hp;
	enum { B_NAME, B_V4, B_V6, B_ANY4, B_ANY } kind;
	unsigned char addr[16];
};

static void
bound_init(struct bound *b, const char *key, unsigned line, const struct hostport *hp)
{
	struct in6_addr a6;

	memset(b, 0, sizeof(*b));
	b->key = key;
	b->line = line;
	b->hp = hp;
	if (strcmp(hp->host, "*") == 0)
		b->kind = B_ANY;
	else if (inet_pton(AF_INET, hp->host, b->addr) == 1)
		b->kind = memcmp(b->addr, "\0\0\0\0", 4) == 0 ? B_ANY4 : B_V4;
	else if (inet_pton(AF_INET6, hp->host, &a6) == 1) {
		if (IN6_IS_ADDR_UNSPECIFIED(&a6))
			b->kind = B_ANY;	/* [::] is dual stack (server.c) */
		else if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(b->addr, a6.s6_addr + 12, 4);
			b->kind = memcmp(b->addr, "\0\0\0\0", 4) == 0 ? B_ANY4 : B_V4;
		} else {
			memcpy(b->addr, a6.s6_addr, 16);
			b->kind = B_V6;
		}
	} else
		b->kind = B_NAME;
}

/* True when the two cannot both be bound: the same port on the same
 * address, or on an address the other's wildcard already covers. Host
 * names are compared as written (resolving them is the server's job). */
static bool
bound_clash(const struct bound *a, const struct bound *b)
{
	if (a->hp->port != b->hp->port)
		return false;
	if (a->kind == B_ANY || b->kind == B_ANY)
		return true;
	if (a->kind == B_NAME || b->kind == B_NAME)
		return a->kind == b->kind && strcasecmp(a->hp->host, b->hp->host) == 0;
	if (a->kind == B_ANY4 || b->kind == B_ANY4)
		return a->kind != B_V6 && b->kind != B_V6;
	return a->kind == b->kind && memcmp(a->addr, b->addr, 16) == 0;
}

static void
format_hostport(const struct hostport *hp, char *out, size_t outlen)
{
	snprintf(out, outlen, strchr(hp->host, ':') ? "[%s]:%u" : "%s:%u", hp->host, hp->port);
}

/*
 * SPEC 2: two listeners on one address are an error, named at the later
 * of the two lines with the other's line (or "default"). Every listener
 * counts, metrics_listen included, whether or not serve would start it:
 * the file says two things at once either way.
 */
static void
check_listeners(const struct config *cfg, const char *file, const unsigned *lines,
    struct config_diag *diag)
{
	static const struct {
		const char *key;
		size_t off, count_off;	/* count_off 0: a single address */
	} lkeys[] = {
		{ "listen_smtp", OFF(listen_smtp), OFF(nlisten_smtp) },
		{ "listen_submission", OFF(listen_submission), OFF(nlisten_submission) },
		{ "listen_submissions", OFF(listen_submissions), OFF(nlisten_submissions) },
		{ "metrics_listen", OFF(metrics_listen), 0 },
		{ "https_listen", OFF(https_listen), 0 },
		{ "acme_http_listen", OFF(acme_http_listen), 0 },
	};
	struct bound b[3 * CONFIG_LISTEN_MAX + 3];
	size_t n = 0;
	char sa[HOSTPORT_HOST_MAX + 8], sb[HOSTPORT_HOST_MAX + 8];

	for (size_t k = 0; k < sizeof(lkeys) / sizeof(lkeys[0]); k++) {
		const char *base = (const char *)cfg;
		const struct hostport *hp = *(struct hostport *const *)(base + lkeys[k].off);
		size_t count = lkeys[k].count_off ? *(const size_t *)(base + lkeys[k].count_off) :
		    hp != NULL;

		for (size_t i = 0; hp != NULL && i < count && n < sizeof(b) / sizeof(b[0]); i++)
			bound_init(&b[n++], lkeys[k].key, lines[key_index(lkeys[k].key)], &hp[i]);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			const struct bound *first = &b[i], *second = &b[j];
			char where[32];

			if (!bound_clash(first, second))
				continue;
			if (second->line < first->line) {
				first = &b[j];
				second = &b[i];
			}
			format_hostport(first->hp, sa, sizeof(sa));
			format_hostport(second->hp, sb, sizeof(sb));
			if (first->line == 0)
				snprintf(where, sizeof(where), "its default");
			else if (first->line == second->line && first->key == second->key)
				snprintf(where, sizeof(where), "this line");
			else
				snprintf(where, sizeof(where), "line %u", first->line);
			config_diag_add(diag, file, second->line,
			    "%s: %s is already bound by %s %s (%s)", second->key, sb,
			    first->key, sa, where);
		}
}

/* A node name goes into log lines and Redis keys: a plain token. */
static bool
node_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len > NODE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '.' && n[i] != '-' && n[i] != '_')
			return false;
	return true;
}

size_t
config_parse(const char *buf, size_t len, const char *file, const char *basedir,
    struct config *cfg, struct config_diag *diag)
{
	unsigned lines[NKEYS] = { 0 };	/* where each key was set, 0: not */
	size_t before = diag->n, pos = 0;
	unsigned line = 0;

	set_defaults(cfg);
	cfg->path = xstrdup(file);
	cfg->dir = xstrdup(basedir ? basedir : ".");
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		line++;
		parse_line(buf + pos, l, file, line, basedir, cfg, diag, lines);
		pos += l + (nl ? 1 : 0);
	}
	if (cfg->ndomains == 0)
		config_diag_add(diag, file, 0, "\"domains\" is required");
	if (cfg->data_dir == NULL)
		cfg->data_dir = resolve_path(basedir, "var", 3);
	if (cfg->log_file == NULL)
		cfg->log_file = xasprintf("%s/postern.log", cfg->data_dir);
	if (lines[key_index("min_free_space")] == 0)
		cfg->min_free_space = cfg->max_message_size + cfg->max_message_size / 2;
	if (cfg->alert_address == NULL && cfg->ndomains > 0)
		cfg->alert_address = xasprintf("postmaster@%s", cfg->domains[0]);
	if ((cfg->dkim_selector == NULL) != (cfg->dkim_key == NULL))
		config_diag_add(diag, file, 0, "dkim_selector and dkim_key go together");
	/* SPEC 12: the smart host's login needs its password, and a relayhost */
	if (cfg->relayhost_user != NULL && cfg->relayhost_password_file == NULL)
		config_diag_add(diag, file, lines[key_index("relayhost_user")],
		    "relayhost_user needs relayhost_password_file (its first line is the password)");
	else if (cfg->relayhost_user == NULL && cfg->relayhost_password_file != NULL)
		config_diag_add(diag, file, lines[key_index("relayhost_password_file")],
		    "relayhost_password_file needs relayhost_user");
	else if (cfg->relayhost_user != NULL && cfg->relayhost == NULL)
		config_diag_add(diag, file, lines[key_index("relayhost_user")],
		    "relayhost_user needs relayhost (HOST:PORT of the smart host)");
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		config_diag_add(diag, file, 0, "tls_cert and tls_key go together");
	if (strcmp(cfg->outbound_family, "any") != 0 && strcmp(cfg->outbound_family, "ipv4") != 0 &&
	    strcmp(cfg->outbound_family, "ipv6") != 0)
		config_diag_add(diag, file, lines[key_index("outbound_family")],
		    "outbound_family: expected any, ipv4 or ipv6");
	{
		struct in_addr a4;
		struct in6_addr a6;
		if (cfg->outbound_source_ip4 != NULL && inet_pton(AF_INET, cfg->outbound_source_ip4, &a4) != 1)
			config_diag_add(diag, file, lines[key_index("outbound_source_ip4")],
			    "outbound_source_ip4: \"%s\" is not an IPv4 address", cfg->outbound_source_ip4);
		if (cfg->outbound_source_ip6 != NULL && inet_pton(AF_INET6, cfg->outbound_source_ip6, &a6) != 1)
			config_diag_add(diag, file, lines[key_index("outbound_source_ip6")],
			    "outbound_source_ip6: \"%s\" is not an IPv6 address", cfg->outbound_source_ip6);
	}
	if (strcmp(cfg->mta_sts_mode, "none") != 0 && strcmp(cfg->mta_sts_mode, "testing") != 0 &&
	    strcmp(cfg->mta_sts_mode, "enforce") != 0)
		config_diag_add(diag, file, lines[key_index("mta_sts_mode")],
		    "mta_sts_mode: expected none, testing or enforce");
	if (strcmp(cfg->spamhaus_hbl, "auto") != 0 && strcmp(cfg->spamhaus_hbl, "yes") != 0 &&
	    strcmp(cfg->spamhaus_hbl, "no") != 0)
		config_diag_add(diag, file, lines[key_index("spamhaus_hbl")],
		    "spamhaus_hbl: expected auto, yes or no");
	else if (strcmp(cfg->spamhaus_hbl, "yes") == 0 &&
	    (cfg->spamhaus_dqs_key == NULL || cfg->spamhaus_dqs_key[0] == '\0'))
		/* SPEC 2: HBL exists only through the Data Query Service */
		config_diag_add(diag, file, lines[key_index("spamhaus_hbl")],
		    "spamhaus_hbl = yes needs spamhaus_dqs_key (HBL is served only through DQS)");
	if (cfg->acme_email != NULL && strchr(cfg->acme_email, '@') == NULL)
		config_diag_add(diag, file, lines[key_index("acme_email")],
		    "acme_email: expected an address (the CA writes to it about expiry)");
	if (strncmp(cfg->acme_directory, "https://", 8) != 0)
		config_diag_add(diag, file, lines[key_index("acme_directory")],
		    "acme_directory: expected an https:// URL");
	/* the http-01 port matters only with ACME (SPEC 9 default 0.0.0.0:80) */
	if (cfg->acme_email != NULL && cfg->acme_http_listen == NULL &&
	    lines[key_index("acme_http_listen")] == 0) {
		cfg->acme_http_listen = xcalloc(1, sizeof(struct hostport));
		value_hostport("0.0.0.0:80", 10, cfg->acme_http_listen);
	}
	if (cfg->score_reject < cfg->score_junk)
		config_diag_add(diag, file, 0, "score_reject (%.1f) is below score_junk (%.1f)",
		    cfg->score_reject, cfg->score_junk);
	/* SPEC 10: local, or the Redis every node names; node_name tells
	 * the nodes apart in logs, statistics and keys */
	if (cfg->state_backend != NULL && state_url_parse(cfg->state_backend,
	    strlen(cfg->state_backend), &cfg->state_url) == -1)
		config_diag_add(diag, file, lines[key_index("state_backend")],
		    "state_backend: expected local or redis://HOST:PORT[/DB]");
	if (cfg->node_name == NULL)
		cfg->node_name = xstrdup(cfg->hostname);
	else if (!node_name_ok(cfg->node_name))
		config_diag_add(diag, file, lines[key_index("node_name")],
		    "node_name: letters, digits, '.', '-' and '_' only, at most %d", NODE_NAME_MAX);
	check_listeners(cfg, file, lines, diag);
	return diag->n - before;
}

size_t
config_load(const char *path, struct config *cfg, struct config_diag *diag)
{
	char *buf, *dir, *slash;
	struct stat st;
	size_t n;
	ssize_t r;
	int fd;
	size_t got = 0;

	/* O_NONBLOCK: opening a FIFO for reading would wait for a writer;
	 * anything but a regular file is refused below (SPEC 2). */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd == -1 || fstat(fd, &st) == -1) {
		set_defaults(cfg);
		config_diag_add(diag, path, 0, "cannot read: %s", strerror(errno));
		if (fd != -1)
			close(fd);
		return 1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		set_defaults(cfg);
		config_diag_add(diag, path, 0, "not a regular file of at most 1 MiB");
		close(fd);
		return 1;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size &&
	    (r = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	dir = xstrdup(path);
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	n = config_parse(buf, got, path, dir, cfg, diag);
	free(buf);
	free(dir);
	return n;
}

bool
config_is_local_domain(const struct config *cfg, const char *domain, size_t len)
{
	if (len > 0 && domain[len - 1] == '.')
		len--;
	for (size_t i = 0; i < cfg->ndomains; i++)
		if (strlen(cfg->domains[i]) == len &&
		    strncasecmp(cfg->domains[i], domain, len) == 0)
			return true;
	return false;
}

bool
config_score_override(const struct config *cfg, const char *symbol, double *weight)
{
	for (size_t i = 0; i < cfg->nscores; i++)
		if (strcmp(cfg->scores[i].symbol, symbol) == 0) {
			*weight = cfg->scores[i].weight;
			return true;
		}
	return false;
}

void
config_clear(struct config *cfg)
{
	free(cfg->path);
	free(cfg->dir);
	free(cfg->hostname);
	free_domains(cfg->domains, cfg->ndomains);
	free(cfg->data_dir);
	free(cfg->log_file);
	free(cfg->listen_smtp);
	free(cfg->listen_submission);
	free(cfg->listen_submissions);
	free(cfg->metrics_listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->user);
	free(cfg->dns_servers);
	free(cfg->dns_root_hints);
	free(cfg->dnssec_trust_anchor);
	free(cfg->dnsbl_ip_zone);
	free(cfg->dnsbl_domain_zone);
	free(cfg->spamhaus_dqs_key);
	free(cfg->spamhaus_hbl);
	free(cfg->allow_networks);
	free(cfg->trusted_networks);
	for (size_t i = 0; i < cfg->nscores; i++)
		free(cfg->scores[i].symbol);
	free(cfg->scores);
	free(cfg->relayhost);
	free(cfg->relayhost_user);
	free(cfg->relayhost_password_file);
	free(cfg->lmtp_socket);
	free(cfg->lmtp_host);
	free_domains(cfg->tls_required_domains, cfg->ntls_required_domains);
	free(cfg->dkim_selector);
	free(cfg->dkim_key);
	free(cfg->alert_address);
	free_domains(cfg->public_ip, cfg->npublic_ip);
	free(cfg->acme_email);
	free(cfg->acme_directory);
	free(cfg->acme_http_listen);
	free(cfg->acme_ca_file);
	free(cfg->https_listen);
	free(cfg->mta_sts_mode);
	free(cfg->outbound_family);
	free(cfg->outbound_source_ip4);
	free(cfg->outbound_source_ip6);
	free(cfg->state_backend);
	if (cfg->state_password != NULL)
		explicit_bzero(cfg->state_password, strlen(cfg->state_password));
	free(cfg->state_password);
	free(cfg->node_name);
	memset(cfg, 0, sizeof(*cfg));
}

void
config_diag_clear(struct config_diag *diag)
{
	for (size_t i = 0; i < diag->n; i++)
		free(diag->msgs[i]);
	free(diag->msgs);
	diag->msgs = NULL;
	diag->n = 0;
}
