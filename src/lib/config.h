/*
 * The configuration file of SPEC section 2: `key = value` lines. Parsing is
 * pure (config_parse works on a buffer) so it can be fuzzed; config_load
 * reads the file. Every problem is reported as "file:line: reason" and the
 * parse goes on, so check-config can list them all at once.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state_url.h"
#include "value.h"

#define NODE_NAME_MAX 64		/* node_name */
#define CONFIG_LISTEN_MAX 16	/* addresses in one listen_* key */

struct score_override {
	char *symbol;
	double weight;
	unsigned line;		/* where it was set, for score_validate() */
};

struct config {
	char *path;			/* the file as given */
	char *dir;			/* its directory: base of relative paths */

	char *hostname;
	char **domains;			/* lower-case */
	size_t ndomains;
	char *data_dir;			/* absolute or relative to dir, resolved */
	char *log_file;

	/* Listeners (SPEC 2, 9): each listen_* key is a list of addresses,
	 * NULL and 0 when switched off ("off" or empty); "::" is dual stack.
	 * metrics_listen is one address, NULL when off. */
	struct hostport *listen_smtp;
	size_t nlisten_smtp;
	struct hostport *listen_submission;
	size_t nlisten_submission;
	struct hostport *listen_submissions;
	size_t nlisten_submissions;
	struct hostport *metrics_listen;

	char *tls_cert, *tls_key;
	char *user;

	struct hostport *dns_servers;
	size_t ndns_servers;
	char *dnsbl_ip_zone, *dnsbl_domain_zone, *spamhaus_dqs_key;
	char *spamhaus_hbl;		/* "auto", "yes" or "no" (SPEC 4.1) */
	unsigned dnsbl_timeout;
	bool dnsbl;			/* blocklist checks on (default) */
	unsigned dnsbl_health_interval;	/* test-point checks, 0: at start only */
	bool dnssec;			/* validate answers with the root key */
	char *dnssec_trust_anchor;	/* its file; NULL: Debian's root.key */
	char *dns_root_hints;		/* root hints file for our own recursion */
	struct cidr *allow_networks;
	size_t nallow_networks;
	struct cidr *trusted_networks;
	size_t ntrusted_networks;

	double score_junk, score_reject;
	unsigned scan_max_lookups;	/* blocklist lookups per message */
	bool scan_defanged;		/* read hxxp:// and [.] forms */
	bool bayes;			/* the content classifier votes (SPEC 13) */
	unsigned bayes_min_learned;	/* messages of each kind before it does */
	struct score_override *scores;
	size_t nscores;

	uint64_t max_message_size;
	unsigned max_connections, max_connections_per_ip;
	unsigned max_recipients;	/* per message */
	unsigned smtp_timeout;		/* idle timeout of a session */
	unsigned smtp_min_data_rate;	/* octets/s a DATA/BDAT transfer must keep */
	struct rate user_max_messages, user_max_recipients, auth_max_failures;
	struct rate user_max_failed_recipients;	/* unknown users, remote 5xx */
	unsigned auth_lockout;
	unsigned outbound_port;
	char *outbound_family;		/* any, ipv4 or ipv6 (remote delivery) */
	char *outbound_source_ip4;	/* source address to connect from, or NULL */
	char *outbound_source_ip6;
	struct hostport *relayhost;
	char *relayhost_user;		/* AUTH to the relayhost (SPEC 12), or NULL */
	char *relayhost_password_file;	/* its first line is the password */
	/* local_delivery: both NULL for Maildir delivery, else LMTP to the
	 * socket (absolute path) or to the host. */
	char *lmtp_socket;
	struct hostport *lmtp_host;
	unsigned queue_lifetime;
	unsigned delay_warning;			/* 0: no delay warnings */
	unsigned retry_initial, retry_max;	/* remote retry backoff */
	unsigned outbound_timeout;		/* per SMTP client step */
	char **tls_required_domains;		/* STARTTLS required for these */
	size_t ntls_required_domains;
	char *dkim_selector, *dkim_key;
	char *alert_address;
	uint64_t min_free_space;
	double alert_bounce_ratio;
	unsigned alert_min_messages, alert_window;
	char **public_ip;		/* the server's addresses (doctor), normalized */
	size_t npublic_ip;
	unsigned doctor_interval;	/* period of the reputation watch (SPEC 9) */
	/* ACME (SPEC 9): on when acme_email is set and tls_cert is not */
	char *acme_email;		/* the account's contact; NULL: no ACME */
	char *acme_directory;		/* the CA's directory URL */
	struct hostport *acme_http_listen;	/* http-01 answers (0.0.0.0:80 with ACME) */
	char *acme_ca_file;		/* trust for a private CA; NULL: system store */
	struct hostport *https_listen;	/* autoconfig, autodiscover, MTA-STS; NULL: off */
	char *mta_sts_mode;		/* "none", "testing" or "enforce" (RFC 8461 5) */
	bool dmarc_reports;		/* daily DMARC aggregate reports (RFC 7489 7.2) */

	/* Shared state (SPEC 10) */
	char *state_backend;		/* as written; NULL: local */
	struct state_url state_url;	/* parsed: .redis false for local */
	char *state_password;		/* Redis AUTH; never logged */
	char *node_name;		/* default: hostname */
};

struct config_diag {
	char **msgs;			/* "file:line: reason" */
	size_t n;
};

/*
 * Parses len bytes of configuration text named file, resolving relative
 * paths against basedir. Fills cfg (defaults first) and appends every
 * problem to diag. Returns the number of problems: 0 means cfg is usable.
 */
size_t config_parse(const char *buf, size_t len, const char *file,
    const char *basedir, struct config *cfg, struct config_diag *diag);

/* Appends "file:line: message" (line 0: "file: message") to diag. */
void config_diag_add(struct config_diag *diag, const char *file, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reads and parses path. Returns the number of problems (I/O included). */
size_t config_load(const char *path, struct config *cfg, struct config_diag *diag);

/* True when domain (any case, no trailing dot) is one of cfg->domains. */
bool config_is_local_domain(const struct config *cfg, const char *domain, size_t len);

/* Weight of a score symbol when overridden; returns false when not. */
bool config_score_override(const struct config *cfg, const char *symbol, double *weight);

/* Frees what the config owns (not cfg itself); safe on a zeroed struct. */
void config_clear(struct config *cfg);
void config_diag_clear(struct config_diag *diag);

#endif
