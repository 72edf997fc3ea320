/*
 * Configuration parser. A key table drives type checking and gives every
 * numeric key its range (SPEC 2); defaults are applied before the file and
 * derived values (log_file, min_free_space, alert_address) after it, so an
 * explicit setting always wins. Each key may be given once.
 */
#include "config.h"

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
	K_STRING, K_PATH, K_DOMAINS, K_HOSTPORT_OPT, K_HOSTPORT_LIST,
	K_CIDR_LIST, K_DURATION, K_SIZE, K_UINT, K_RATE, K_NUMBER, K_PORT,
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
	{ "listen_smtp", K_HOSTPORT_OPT, OFF(listen_smtp), 0, 0, 0 },
	{ "listen_submission", K_HOSTPORT_OPT, OFF(listen_submission), 0, 0, 0 },
	{ "listen_submissions", K_HOSTPORT_OPT, OFF(listen_submissions), 0, 0, 0 },
	{ "metrics_listen", K_HOSTPORT_OPT, OFF(metrics_listen), 0, 0, 0 },
	{ "tls_cert", K_PATH, OFF(tls_cert), 0, 0, 0 },
	{ "tls_key", K_PATH, OFF(tls_key), 0, 0, 0 },
	{ "user", K_STRING, OFF(user), 0, 0, 0 },
	{ "dns_servers", K_HOSTPORT_LIST, OFF(dns_servers), OFF(ndns_servers), 0, 0 },
	{ "dnsbl_ip_zone", K_ZONE, OFF(dnsbl_ip_zone), 0, 0, 0 },
	{ "dnsbl_domain_zone", K_ZONE, OFF(dnsbl_domain_zone), 0, 0, 0 },
	{ "spamhaus_dqs_key", K_STRING, OFF(spamhaus_dqs_key), 0, 0, 0 },
	{ "dnsbl_timeout", K_DURATION, OFF(dnsbl_timeout), 0, 1, 60 * MINUTE },
	{ "dnsbl", K_BOOL, OFF(dnsbl), 0, 0, 0 },
	{ "dnsbl_health_interval", K_DURATION, OFF(dnsbl_health_interval), 0, 0, YEAR },
	{ "dnssec", K_BOOL, OFF(dnssec), 0, 0, 0 },
	{ "allow_networks", K_CIDR_LIST, OFF(allow_networks), OFF(nallow_networks), 0, 0 },
	{ "trusted_networks", K_CIDR_LIST, OFF(trusted_networks), OFF(ntrusted_networks), 0, 0 },
	{ "score_junk", K_NUMBER, OFF(score_junk), 0, -SCORE_MAX, SCORE_MAX },
	{ "score_reject", K_NUMBER, OFF(score_reject), 0, -SCORE_MAX, SCORE_MAX },
	{ "scan_max_lookups", K_UINT, OFF(scan_max_lookups), 0, 0, 100000 },
	{ "scan_defanged", K_BOOL, OFF(scan_defanged), 0, 0, 0 },
	{ "max_message_size", K_SIZE, OFF(max_message_size), 0, 1024, TERA },
	{ "max_connections", K_UINT, OFF(max_connections), 0, 1, 1000000 },
	{ "max_connections_per_ip", K_UINT, OFF(max_connections_per_ip), 0, 1, 1000000 },
	{ "max_recipients", K_UINT, OFF(max_recipients), 0, 1, 1000000 },
	{ "smtp_timeout", K_DURATION, OFF(smtp_timeout), 0, 1, DAY },
	{ "user_max_messages", K_RATE, OFF(user_max_messages), 0, 1, COUNT_MAX },
	{ "user_max_recipients", K_RATE, OFF(user_max_recipients), 0, 1, COUNT_MAX },
	{ "user_max_failed_recipients", K_RATE, OFF(user_max_failed_recipients), 0, 1, COUNT_MAX },
	{ "auth_max_failures", K_RATE, OFF(auth_max_failures), 0, 1, COUNT_MAX },
	{ "auth_lockout", K_DURATION, OFF(auth_lockout), 0, 1, YEAR },
	{ "outbound_port", K_UINT, OFF(outbound_port), 0, 1, 65535 },
	{ "relayhost", K_HOSTPORT_OPT, OFF(relayhost), 0, 0, 0 },
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
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static size_t
key_index(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
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
	cfg->listen_smtp = xcalloc(1, sizeof(struct hostport));
	value_hostport("0.0.0.0:25", 10, cfg->listen_smtp);
	cfg->listen_submission = xcalloc(1, sizeof(struct hostport));
	value_hostport("0.0.0.0:587", 11, cfg->listen_submission);
	cfg->listen_submissions = xcalloc(1, sizeof(struct hostport));
	value_hostport("0.0.0.0:465", 11, cfg->listen_submissions);
	cfg->dnsbl_ip_zone = xstrdup("zen.spamhaus.org");
	cfg->dnsbl_domain_zone = xstrdup("dbl.spamhaus.org");
	cfg->dnsbl_timeout = 5;
	cfg->dnsbl = true;
	cfg->dnsbl_health_interval = 300;
	cfg->score_junk = 5.0;
	cfg->score_reject = 12.0;
	cfg->scan_max_lookups = 64;
	cfg->scan_defanged = true;
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
		if (value_duration(v, vlen, field) == -1)
			return "bad duration (expected e.g. 30s, 10m, 1h, 5d)";
		return NULL;
	case K_SIZE:
		if (value_size(v, vlen, field) == -1)
			return "bad size (expected octets with optional K, M or G)";
		return NULL;
	case K_UINT:
		if (value_uint(v, vlen, field) == -1)
			return "expected a non-negative integer";
		return NULL;
	case K_PORT:
		if (value_uint(v, vlen, field) == -1 || *(unsigned *)field == 0 ||
		    *(unsigned *)field > 65535)
			return "expected a port number (1-65535)";
		return NULL;
	case K_RATE:
		if (value_rate(v, vlen, field) == -1)
			return "bad rate (expected COUNT/DURATION, e.g. 100/1h)";
		return NULL;
	case K_NUMBER:
		if (value_number(v, vlen, field) == -1)
			return "expected a number";
		return NULL;
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
	if (value_number(v, vlen, &w) == -1) {
		config_diag_add(diag, file, line, "score.%.*s: expected a number",
		    (int)(slen > 64 ? 64 : slen), sym);
		return;
	}
	for (i = 0; i < cfg->nscores; i++)
		if (strlen(cfg->scores[i].symbol) == slen &&
		    memcmp(cfg->scores[i].symbol, sym, slen) == 0) {
			cfg->scores[i].weight = w;
			cfg->scores[i].line = line;
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
    unsigned char *seen)
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
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].name) == klen && memcmp(keys[i].name, key, klen) == 0)
			break;
	if (i == sizeof(keys) / sizeof(keys[0])) {
		config_diag_add(diag, file, line, "unknown key \"%.*s\"",
		    (int)(klen > 64 ? 64 : klen), key);
		return;
	}
	seen[i] = 1;
	if ((err = apply_key(&keys[i], val, vlen, basedir, cfg)) != NULL)
		config_diag_add(diag, file, line, "%s: %s", keys[i].name, err);
}

size_t
config_parse(const char *buf, size_t len, const char *file, const char *basedir,
    struct config *cfg, struct config_diag *diag)
{
	unsigned char seen[sizeof(keys) / sizeof(keys[0])] = { 0 };
	size_t before = diag->n, pos = 0;
	unsigned line = 0;

	set_defaults(cfg);
	cfg->path = xstrdup(file);
	cfg->dir = xstrdup(basedir ? basedir : ".");
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		line++;
		parse_line(buf + pos, l, file, line, basedir, cfg, diag, seen);
		pos += l + (nl ? 1 : 0);
	}
	if (cfg->ndomains == 0)
		config_diag_add(diag, file, 0, "\"domains\" is required");
	if (cfg->data_dir == NULL)
		cfg->data_dir = resolve_path(basedir, "var", 3);
	if (cfg->log_file == NULL)
		cfg->log_file = xasprintf("%s/postern.log", cfg->data_dir);
	if (!seen[key_index("min_free_space")])
		cfg->min_free_space = cfg->max_message_size + cfg->max_message_size / 2;
	if (cfg->alert_address == NULL && cfg->ndomains > 0)
		cfg->alert_address = xasprintf("postmaster@%s", cfg->domains[0]);
	if ((cfg->dkim_selector == NULL) != (cfg->dkim_key == NULL))
		config_diag_add(diag, file, 0, "dkim_selector and dkim_key go together");
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		config_diag_add(diag, file, 0, "tls_cert and tls_key go together");
	if (cfg->score_reject < cfg->score_junk)
		config_diag_add(diag, file, 0, "score_reject (%.1f) is below score_junk (%.1f)",
		    cfg->score_reject, cfg->score_junk);
	if (cfg->max_connections == 0 || cfg->max_connections_per_ip == 0)
		config_diag_add(diag, file, 0, "max_connections and max_connections_per_ip must be at least 1");
	if (cfg->max_recipients == 0)
		config_diag_add(diag, file, 0, "max_recipients must be at least 1");
	if (cfg->dnsbl_timeout == 0)
		config_diag_add(diag, file, 0, "dnsbl_timeout must be at least 1s");
	if (cfg->smtp_timeout == 0)
		config_diag_add(diag, file, 0, "smtp_timeout must be at least 1s");
	if (cfg->smtp_min_data_rate == 0)
		config_diag_add(diag, file, 0, "smtp_min_data_rate must be at least 1 (octets per second)");
	if (cfg->max_message_size < 1024)
		config_diag_add(diag, file, 0, "max_message_size below 1K cannot carry mail");
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

	fd = open(path, O_RDONLY | O_CLOEXEC);
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
	free(cfg->dnsbl_ip_zone);
	free(cfg->dnsbl_domain_zone);
	free(cfg->spamhaus_dqs_key);
	free(cfg->allow_networks);
	free(cfg->trusted_networks);
	for (size_t i = 0; i < cfg->nscores; i++)
		free(cfg->scores[i].symbol);
	free(cfg->scores);
	free(cfg->relayhost);
	free(cfg->lmtp_socket);
	free(cfg->lmtp_host);
	free_domains(cfg->tls_required_domains, cfg->ntls_required_domains);
	free(cfg->dkim_selector);
	free(cfg->dkim_key);
	free(cfg->alert_address);
	free_domains(cfg->public_ip, cfg->npublic_ip);
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
