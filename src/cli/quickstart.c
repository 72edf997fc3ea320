/*
 * postern quickstart ADDRESS (SPEC 9): a production configuration for
 * ADDRESS's domain, its first account with a generated password printed
 * once, a DKIM key, and every DNS record to publish, in zone-file syntax.
 * All or nothing: everything is checked before anything is written, the
 * configuration is written last and never over another one, and a
 * failure on the way removes what this run created.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "auth/userdb.h"
#include "dns/answer.h"
#include "lib/durable.h"
#include "lib/xmalloc.h"
#include "queue/dkim_sign.h"

#define DEFAULT_DATA_DIR "/var/lib/postern"
#define DEFAULT_LOG_FILE "/var/log/postern/postern.log"	/* the package's */
#define QS_SELECTOR "s1"		/* the first key; `dkim keygen` makes the next */
#define QS_IPS_MAX 16
#define TXT_STRING_MAX 255		/* RFC 1035 3.3: one character-string */
#define PASSWORD_CHARS 20		/* from 56 symbols: 116 bits */
#define PASSWORD_LEN 23			/* in 4 groups of 5, between dashes */
#define DIRS_MAX 24			/* directories this run may create */

/* No characters that look alike (0/O, 1/l/I): the password is read off
 * a terminal and typed into a mail client. */
static const char pw_alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

struct qs {
	char address[320], domain[256], hostname[256];
	char ips[QS_IPS_MAX][INET6_ADDRSTRLEN];
	size_t nips;
	char *conf;			/* configuration path, absolute */
	char *data_dir;			/* absolute */
	bool data_dir_default;
	char *key_path;
	/* what this run created, undone on failure */
	char *dirs[DIRS_MAX];
	size_t ndirs;
	bool key_written, users_existed, aliases_existed, account_added;
	char aliases[2][330];
	size_t naliases;
	char *template;			/* the pristine template, when the config is it */
};

static void
usage(void)
{
	fprintf(stderr, "usage: postern quickstart ADDRESS [--hostname NAME] [--ip IP]... "
	    "[-c FILE] [--data-dir DIR]\n"
	    "  (defaults: -c %s, --data-dir %s)\n", DEFAULT_CONFIG, DEFAULT_DATA_DIR);
}

/* A host name as DNS wants it: letters, digits and '-' in dot-separated
 * labels of 1-63 octets, at least two labels, 253 octets in all (RFC
 * 1035 2.3.1, RFC 1123 2.1). Lower-cased in place. */
static bool
valid_name(char *s)
{
	size_t len = strlen(s), lab = 0, labels = 1;

	if (len > 0 && s[len - 1] == '.')
		s[--len] = '\0';
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (lab == 0 || s[i - 1] == '-')
				return false;
			lab = 0;
			labels++;
			continue;
		}
		if (!(isalnum(c) || c == '-') || (c == '-' && lab == 0) || ++lab > 63)
			return false;
		s[i] = (char)tolower(c);
	}
	return lab > 0 && s[len - 1] != '-' && labels >= 2;
}

/* The host name: --hostname, else the system's when it is in the
 * domain (the administrator named the machine for mail already), else
 * mx.DOMAIN. */
static int
pick_hostname(struct qs *q, const char *opt)
{
	char sys[256];
	size_t sl, dl = strlen(q->domain);

	if (opt != NULL) {
		snprintf(q->hostname, sizeof(q->hostname), "%s", opt);
		if (strlen(opt) >= sizeof(q->hostname) || !valid_name(q->hostname)) {
			fprintf(stderr, "postern: --hostname %s: not a host name\n", opt);
			return -1;
		}
		return 0;
	}
	if (gethostname(sys, sizeof(sys)) == 0) {
		sys[sizeof(sys) - 1] = '\0';
		sl = strlen(sys);
		if (valid_name(sys) && sl > dl + 1 && sys[sl - dl - 1] == '.' &&
		    strcmp(sys + sl - dl, q->domain) == 0) {
			snprintf(q->hostname, sizeof(q->hostname), "%s", sys);
			return 0;
		}
	}
	if (snprintf(q->hostname, sizeof(q->hostname), "mx.%s", q->domain) >=
	    (int)sizeof(q->hostname) || !valid_name(q->hostname)) {
		fprintf(stderr, "postern: mx.%s is too long for a host name; give --hostname\n",
		    q->domain);
		return -1;
	}
	return 0;
}

static int
add_ip(struct qs *q, const char *ip)
{
	unsigned char a[16];
	int af = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	char norm[INET6_ADDRSTRLEN];

	if (inet_pton(af, ip, a) != 1 || inet_ntop(af, a, norm, sizeof(norm)) == NULL) {
		fprintf(stderr, "postern: --ip %s: not an IPv4 or IPv6 address\n", ip);
		return -1;
	}
	for (size_t i = 0; i < q->nips; i++)
		if (strcmp(q->ips[i], norm) == 0)
			return 0;
	if (q->nips == QS_IPS_MAX) {
		fprintf(stderr, "postern: at most %d --ip\n", QS_IPS_MAX);
		return -1;
	}
	snprintf(q->ips[q->nips++], INET6_ADDRSTRLEN, "%s", norm);
	return 0;
}

static bool
is_v6(const char *ip)
{
	return strchr(ip, ':') != NULL;
}

/* A password of PASSWORD_LEN characters from the kernel's random source,
 * checked with the same rules as any other (auth/password.h). */
static int
make_password(const char *address, char *out, size_t outlen)
{
	const size_t n = sizeof(pw_alphabet) - 1;

	for (int attempt = 0; attempt < 8; attempt++) {
		unsigned char r[64];
		size_t o = 0, k = 0, chars = 0;
		if (outlen < PASSWORD_LEN + 1 || getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return -1;
		while (chars < PASSWORD_CHARS && k < sizeof(r)) {
			/* rejection sampling: no bias towards the first letters */
			unsigned char c = r[k++];
			if (c >= 256 - 256 % n)
				continue;
			if (chars > 0 && chars % 5 == 0)
				out[o++] = '-';
			out[o++] = pw_alphabet[c % n];
			chars++;
		}
		explicit_bzero(r, sizeof(r));
		out[o] = '\0';
		if (chars == PASSWORD_CHARS && password_weakness(address, out) == NULL)
			return 0;
	}
	return -1;
}

/* path made absolute (against the working directory) without "." or
 * empty components: it is written into the configuration. NULL when the
 * working directory is unknown. */
static char *
absolute(const char *path)
{
	char cwd[PATH_MAX], *full, *out;
	size_t o = 0;

	if (path[0] == '/')
		full = xstrdup(path);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		full = xasprintf("%s/%s", cwd, path);
	else
		return NULL;
	out = xmalloc(strlen(full) + 2);
	for (const char *p = full; *p != '\0';) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n + (end ? 1 : 0);
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(full);
	return out;
}

/* ---- what is created, and undone on failure ---- */

/* Remembers the directories that do not exist yet on the way to dir, so
 * that a failure can remove them (deepest first). */
static void
note_new_dirs(struct qs *q, const char *dir)
{
	char *p = xstrdup(dir);
	struct stat st;

	while (strlen(p) > 1 && stat(p, &st) == -1 && errno == ENOENT && q->ndirs < DIRS_MAX) {
		char *slash = strrchr(p, '/');
		bool seen = false;
		for (size_t i = 0; i < q->ndirs; i++)
			seen |= strcmp(q->dirs[i], p) == 0;
		if (!seen)
			q->dirs[q->ndirs++] = xstrdup(p);
		if (slash == NULL || slash == p)
			break;
		*slash = '\0';
	}
	free(p);
}

static int
cmp_depth(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

static void
undo(struct qs *q)
{
	char *err = NULL, *p;

	for (size_t i = 0; i < q->naliases; i++)
		if (userdb_del_alias(q->data_dir, q->aliases[i], &err) == -1) {
			free(err);
			err = NULL;
		}
	if (q->account_added && userdb_del_account(q->data_dir, q->address, &err) == -1)
		free(err);
	const char *files[2] = { "users", "aliases" };
	bool existed[2] = { q->users_existed, q->aliases_existed };
	for (size_t i = 0; i < 2; i++)
		if (!existed[i]) {
			p = xasprintf("%s/%s", q->data_dir, files[i]);
			unlink(p);
			free(p);
			p = xasprintf("%s/%s.lock", q->data_dir, files[i]);
			unlink(p);
			free(p);
		}
	if (q->key_written)
		unlink(q->key_path);
	qsort(q->dirs, q->ndirs, sizeof(char *), cmp_depth);
	for (size_t i = 0; i < q->ndirs; i++)
		rmdir(q->dirs[i]);	/* only when empty: never what was there */
}

/* ---- the configuration ---- */

/* The directory part of path ("." when none). */
static char *
dir_of(const char *path)
{
	char *d = xstrdup(path), *slash = strrchr(d, '/');

	if (slash == NULL) {
		free(d);
		return xstrdup(".");
	}
	if (slash == d)
		slash[1] = '\0';
	else
		*slash = '\0';
	return d;
}

/*
 * The pristine template the package installs as the configuration
 * (<prefix>/share/postern/postern.conf next to <prefix>/sbin/postern):
 * a configuration file still equal to it is no configuration yet, and
 * quickstart may replace it. NULL when there is none.
 */
static char *
pristine_template(void)
{
	char exe[PATH_MAX], *dir, *pdir, *path, *buf;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	dir = dir_of(exe);
	pdir = dir_of(dir);
	path = xasprintf("%s/share/postern/postern.conf", pdir);
	buf = durable_slurp(path, &st);
	free(path);
	free(pdir);
	free(dir);
	return buf;
}

/* May the configuration be written? Not over another one. */
static int
check_conf_free(struct qs *q)
{
	struct stat st;
	char *cur;

	if (lstat(q->conf, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "postern: %s: %s\n", q->conf, strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode) && (q->template = pristine_template()) != NULL &&
	    (cur = durable_slurp(q->conf, &st)) != NULL) {
		bool same = strcmp(cur, q->template) == 0;
		free(cur);
		if (same)
			return 0;	/* the package's untouched template */
	}
	fprintf(stderr, "postern: %s already exists; not overwriting a configuration "
	    "(nothing was changed). Edit it, or give another path with -c.\n", q->conf);
	return -1;
}

static void
write_config_text(const struct qs *q, FILE *f)
{
	time_t now = time(NULL);
	struct tm tm;
	char date[32];

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	fprintf(f,
	    "# postern configuration for %s, written by `postern quickstart` on %s.\n"
	    "# Every key: postern.conf(5), or \"Configuration\" in the README.\n"
	    "# Check it with: postern check-config -c %s\n\n",
	    q->domain, date, q->conf);
	fprintf(f,
	    "# The server's name: the banner, EHLO, Received headers. Its A/AAAA records\n"
	    "# must be the server's addresses, and the PTR of each address this name.\n"
	    "hostname = %s\n"
	    "domains = %s\n\n", q->hostname, q->domain);
	fprintf(f, "# Queue, mailboxes, accounts (users), DKIM key, statistics.\n"
	    "data_dir = %s\n", q->data_dir);
	if (q->data_dir_default)
		fprintf(f, "log_file = %s\n", DEFAULT_LOG_FILE);
	fprintf(f, "\n# postern binds its ports as root, then runs as this user (the package\n"
	    "# creates it).\nuser = postern\n\n");
	fprintf(f, "# The server's public addresses: `postern doctor` checks their PTR, SPF\n"
	    "# and blocklist listings.\n");
	if (q->nips == 0)
		fprintf(f, "#public_ip = 192.0.2.25 2001:db8::25\n\n");
	else {
		fprintf(f, "public_ip =");
		for (size_t i = 0; i < q->nips; i++)
			fprintf(f, " %s", q->ips[i]);
		fprintf(f, "\n\n");
	}
	fprintf(f,
	    "# Sign outgoing mail (the TXT record: postern dkim record -c %s).\n"
	    "dkim_selector = %s\n"
	    "dkim_key = %s\n\n", q->conf, QS_SELECTOR, q->key_path);
	/* No certificate yet (SPEC 9): postern asks Let's Encrypt for one
	 * at start; port 25 serves without STARTTLS until it comes, the
	 * submission ports open with it. */
	fprintf(f,
	    "# TLS certificate for %s: postern gets and renews it itself from Let's\n"
	    "# Encrypt (ACME, RFC 8555) once the A/AAAA records of %s point here;\n"
	    "# port 80 must be free for the http-01 challenge (acme_http_listen).\n"
	    "acme_email = %s\n"
	    "# Or with certbot (certbot certonly --standalone -d %s): comment out\n"
	    "# acme_email, set these, and `systemctl reload postern` after renewals:\n"
	    "#tls_cert = /etc/letsencrypt/live/%s/fullchain.pem\n"
	    "#tls_key = /etc/letsencrypt/live/%s/privkey.pem\n\n", q->hostname, q->hostname,
	    q->address, q->hostname, q->hostname, q->hostname);
	fprintf(f,
	    "# Alerts (a blocklisted address, bounces, a compromised account) go to\n"
	    "# postmaster@%s, an alias of %s.\n", q->domain, q->address);
}

/*
 * Writes the configuration without ever replacing another one: the text
 * goes to a temporary file through the one commit path (durable.h), then
 * link() gives it its name only if that name is free. The pristine
 * template is replaced by rename(), after checking it is still unchanged.
 */
static int
write_config(struct qs *q)
{
	char *text = NULL, *tmp, *dir = dir_of(q->conf), *cur;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct stat st;
	int rc = -1;

	if (f == NULL)
		abort();
	write_config_text(q, f);
	fclose(f);
	tmp = xasprintf("%s.quickstart-%ld", q->conf, (long)getpid());
	if (durable_write_file(tmp, text, len, 0644) == -1) {
		fprintf(stderr, "postern: cannot write %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	if (q->template != NULL) {
		cur = durable_slurp(q->conf, &st);
		if (cur == NULL || strcmp(cur, q->template) != 0) {
			fprintf(stderr, "postern: %s changed meanwhile; not overwriting it\n", q->conf);
			free(cur);
			unlink(tmp);
			goto out;
		}
		free(cur);
		if (rename(tmp, q->conf) == -1) {
			fprintf(stderr, "postern: cannot write %s: %s\n", q->conf, strerror(errno));
			unlink(tmp);
			goto out;
		}
	} else {
		if (link(tmp, q->conf) == -1) {
			if (errno == EEXIST)
				fprintf(stderr, "postern: %s appeared meanwhile; not overwriting it\n",
				    q->conf);
			else
				fprintf(stderr, "postern: cannot write %s: %s\n", q->conf,
				    strerror(errno));
			unlink(tmp);
			goto out;
		}
		unlink(tmp);
	}
	/* written: a failed directory sync is worth a word, not an undo */
	if (durable_sync_dir(dir) == -1)
		fprintf(stderr, "postern: warning: cannot sync %s: %s\n", dir, strerror(errno));
	rc = 0;
out:
	free(tmp);
	free(dir);
	free(text);
	return rc;
}

/* ---- the DNS records ---- */

/* NAME. IN TXT "..." "..." on one line: the text cut into
 * character-strings of at most 255 octets (RFC 1035 3.3.14). */
static void
txt_record(const char *name, const char *text)
{
	size_t len = strlen(text);

	printf("%s. IN TXT", name);
	for (size_t off = 0; off < len || off == 0; off += TXT_STRING_MAX) {
		size_t k = len - off < TXT_STRING_MAX ? len - off : TXT_STRING_MAX;
		printf(" \"%.*s\"", (int)k, text + off);
		if (len == 0)
			break;
	}
	printf("\n");
}

static void
print_records(const struct qs *q, const struct dkim_signer *key)
{
	const char *d = q->domain, *h = q->hostname;
	char *dkim = dkim_signer_record(key), *name, *spf;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t len = 0;
	FILE *f;
	bool host_is_domain = strcmp(h, d) == 0;

	printf("\n; ---- DNS records to publish (zone-file syntax, absolute names) ----\n");
	printf("; mail for %s goes to %s\n", d, h);
	printf("%s. IN MX 10 %s.\n", d, h);
	if (q->nips == 0)
		printf("; %s. IN A <this server's IPv4 address>   (and AAAA for IPv6: run "
		    "quickstart with --ip to get these lines)\n", h);
	for (size_t i = 0; i < q->nips; i++)
		printf("%s. IN %s %s\n", h, is_v6(q->ips[i]) ? "AAAA" : "A", q->ips[i]);

	/* SPF (RFC 7208): the server's addresses, else its MX; -all since
	 * this server alone sends for the domain */
	f = open_memstream(&spf, &len);
	if (f == NULL)
		abort();
	fprintf(f, "v=spf1");
	for (size_t i = 0; i < q->nips; i++)
		fprintf(f, " %s:%s", is_v6(q->ips[i]) ? "ip6" : "ip4", q->ips[i]);
	if (q->nips == 0)
		fprintf(f, " mx");
	fprintf(f, " -all");
	fclose(f);
	printf("; SPF: who may send mail from %s\n", d);
	txt_record(d, spf);
	if (!host_is_domain) {
		/* RFC 7208 2.3: receivers check the HELO name too */
		printf("; SPF of the HELO name %s\n", h);
		txt_record(h, q->nips ? spf : "v=spf1 a -all");
	}
	free(spf);

	printf("; DKIM: the public half of %s\n", q->key_path);
	name = xasprintf("%s._domainkey.%s", QS_SELECTOR, d);
	if (dkim != NULL)
		txt_record(name, dkim);
	free(name);
	free(dkim);

	printf("; DMARC (RFC 7489): what receivers do with mail that fails SPF and DKIM; "
	    "reports to postmaster\n");
	name = xasprintf("_dmarc.%s", d);
	spf = xasprintf("v=DMARC1; p=quarantine; rua=mailto:postmaster@%s", d);
	txt_record(name, spf);
	free(name);
	free(spf);

	/* MTA-STS (RFC 8461): the id changes whenever the policy does */
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
	printf("; MTA-STS (RFC 8461): senders must use TLS to reach %s; the policy is "
	    "served at https://mta-sts.%s/.well-known/mta-sts.txt\n", h, d);
	name = xasprintf("_mta-sts.%s", d);
	spf = xasprintf("v=STSv1; id=%s", stamp);
	txt_record(name, spf);
	free(name);
	free(spf);
	printf("mta-sts.%s. IN CNAME %s.\n", d, h);
	printf(";   policy (mta-sts.txt): version: STSv1 / mode: testing / mx: %s / "
	    "max_age: 86400\n", h);

	printf("; TLS-RPT (RFC 8460): reports of failed TLS deliveries to you\n");
	name = xasprintf("_smtp._tls.%s", d);
	spf = xasprintf("v=TLSRPTv1; rua=mailto:postmaster@%s", d);
	txt_record(name, spf);
	free(name);
	free(spf);

	printf("; mail clients find their settings (Thunderbird autoconfig, Outlook "
	    "autodiscover, RFC 6186 and RFC 8314 SRV records)\n");
	printf("autoconfig.%s. IN CNAME %s.\n", d, h);
	printf("autodiscover.%s. IN CNAME %s.\n", d, h);
	printf("_autodiscover._tcp.%s. IN SRV 0 1 443 %s.\n", d, h);
	printf("_submissions._tcp.%s. IN SRV 0 1 465 %s.\n", d, h);
	printf("_submission._tcp.%s. IN SRV 0 1 587 %s.\n", d, h);
	printf("_imaps._tcp.%s. IN SRV 0 1 993 %s.\n", d, h);

	printf("\n; ---- reverse DNS: ask the provider of each address to set this PTR ----\n");
	if (q->nips == 0)
		printf("; <reverse name of each server address> IN PTR %s.   (run quickstart "
		    "with --ip to get these lines)\n", h);
	for (size_t i = 0; i < q->nips; i++) {
		char rev[128];
		if (dns_reverse_name(q->ips[i], rev, sizeof(rev)) == 0)
			printf("%s. IN PTR %s.\n", rev, h);
	}
}

static void
print_next_steps(const struct qs *q)
{
	printf("\nnext steps:\n");
	printf("  1. publish the records above in the zone of %s (and ask for the PTR);\n"
	    "     DNS changes take up to an hour (their TTL) to be seen.\n", q->domain);
	printf("  2. the certificate for %s: postern gets it from Let's Encrypt at start\n"
	    "     (acme_email), once the records are seen and port 80 reaches this host; or\n"
	    "     use certbot and set tls_cert and tls_key in %s instead.\n",
	    q->hostname, q->conf);
	printf("  3. postern check-config -c %s\n", q->conf);
	printf("  4. systemctl enable --now postern   (the package's unit; it runs as the "
	    "postern user,\n     which must own %s: chown -R postern: %s when you made it "
	    "by hand)\n", q->data_dir, q->data_dir);
	printf("  5. postern doctor -c %s   until every check says ok\n", q->conf);
	printf("  6. IMAP: point Dovecot's passdb at %s/users (passwd-file, {ARGON2ID} hashes);\n"
	    "     more accounts: postern user add NAME@%s -c %s\n", q->data_dir, q->domain,
	    q->conf);
}

/* ---- the command ---- */

static const char *
take(int *argc, char **argv, int i)
{
	const char *v = argv[i + 1];

	for (int k = i; k + 2 <= *argc; k++)
		argv[k] = argv[k + 2];
	*argc -= 2;
	return v;
}

/* Everything written by this run, in order; the configuration last. */
static int
create_all(struct qs *q, const char *password, struct dkim_signer **key)
{
	char *err = NULL, *conf_dir = dir_of(q->conf), *p;
	struct stat st;
	int rc;
	struct cli_keygen k = {
		.path = q->key_path, .data_dir = q->data_dir, .user = "postern",
		.selector = QS_SELECTOR, .alg = "rsa", .bits = 2048, .force = false,
	};

	note_new_dirs(q, conf_dir);
	note_new_dirs(q, q->data_dir);
	p = dir_of(q->key_path);
	note_new_dirs(q, p);
	free(p);
	p = xasprintf("%s/users", q->data_dir);
	q->users_existed = stat(p, &st) == 0;
	free(p);
	p = xasprintf("%s/aliases", q->data_dir);
	q->aliases_existed = stat(p, &st) == 0;
	free(p);

	if (durable_mkdirs(conf_dir, 0755) == -1) {
		fprintf(stderr, "postern: cannot create %s: %s\n", conf_dir, strerror(errno));
		free(conf_dir);
		return -1;
	}
	free(conf_dir);
	if ((*key = cli_dkim_keygen_file(&k, &rc)) == NULL)
		return -1;
	q->key_written = true;
	if (userdb_add_account(q->data_dir, q->address, password, &err) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		free(err);
		return -1;
	}
	q->account_added = true;
	/* RFC 5321 4.5.1 (postmaster) and RFC 2142 (abuse): both must reach
	 * a person, and Spamhaus writes to abuse@ */
	for (size_t i = 0; i < 2; i++) {
		char alias[330];
		snprintf(alias, sizeof(alias), "%s@%s", i == 0 ? "postmaster" : "abuse", q->domain);
		if (strcmp(alias, q->address) == 0)
			continue;
		if (userdb_add_alias(q->data_dir, alias, q->address, &err) == -1) {
			fprintf(stderr, "postern: %s\n", err);
			free(err);
			return -1;
		}
		snprintf(q->aliases[q->naliases++], sizeof(q->aliases[0]), "%s", alias);
	}
	return write_config(q);
}

/* The checks that need no writing: an account or key already there. */
static int
check_free(struct qs *q)
{
	struct stat st;
	char *err = NULL;
	struct userdb *db;

	if (check_conf_free(q) == -1)
		return -1;
	if (lstat(q->key_path, &st) == 0) {
		fprintf(stderr, "postern: %s already exists; not overwriting a DKIM key whose "
		    "record may be published (nothing was changed)\n", q->key_path);
		return -1;
	}
	if ((db = userdb_open(q->data_dir, &err)) == NULL) {
		fprintf(stderr, "postern: %s\n", err);
		free(err);
		return -1;
	}
	if (userdb_has_account(db, q->address)) {
		fprintf(stderr, "postern: %s is already an account in %s (nothing was changed)\n",
		    q->address, q->data_dir);
		userdb_free(db);
		return -1;
	}
	userdb_free(db);
	return 0;
}

int
cli_quickstart(int argc, char **argv)
{
	struct qs q = { 0 };
	const char *hostname = NULL, *data_dir = DEFAULT_DATA_DIR, *why, *addr = NULL;
	struct dkim_signer *key = NULL;
	char password[PASSWORD_LEN + 1];
	const char *conf = cli_config_path(&argc, argv);
	int rc = 1;

	q.data_dir_default = true;
	for (int i = 1; i < argc;) {
		if ((strcmp(argv[i], "--hostname") == 0 || strcmp(argv[i], "--ip") == 0 ||
		    strcmp(argv[i], "--data-dir") == 0) && i + 1 < argc) {
			const char *opt = argv[i], *v = take(&argc, argv, i);
			if (strcmp(opt, "--hostname") == 0)
				hostname = v;
			else if (strcmp(opt, "--data-dir") == 0) {
				data_dir = v;
				q.data_dir_default = false;
			} else if (add_ip(&q, v) == -1)
				return 1;
		} else if (argv[i][0] == '-' || addr != NULL) {
			usage();
			return 2;
		} else
			addr = argv[i++];
	}
	if (addr == NULL || *data_dir == '\0') {
		usage();
		return 2;
	}
	if (userdb_normalize(addr, q.address, sizeof(q.address), &why) == -1) {
		fprintf(stderr, "postern: %s: %s\n", addr, why);
		return 1;
	}
	snprintf(q.domain, sizeof(q.domain), "%s", strrchr(q.address, '@') + 1);
	if (!valid_name(q.domain)) {
		fprintf(stderr, "postern: %s: the domain must be a DNS name with a dot "
		    "(IDN in its xn-- form)\n", addr);
		return 1;
	}
	if (pick_hostname(&q, hostname) == -1)
		return 1;
	if ((q.data_dir = absolute(data_dir)) == NULL || (q.conf = absolute(conf)) == NULL) {
		fprintf(stderr, "postern: cannot find the working directory: %s\n",
		    strerror(errno));
		goto out;
	}
	q.key_path = xasprintf("%s/dkim/%s.key", q.data_dir, QS_SELECTOR);
	if (check_free(&q) == -1)
		goto out;
	if (make_password(q.address, password, sizeof(password)) == -1) {
		fprintf(stderr, "postern: cannot generate a password (random source)\n");
		goto out;
	}
	if (create_all(&q, password, &key) == -1) {
		undo(&q);
		fprintf(stderr, "postern: quickstart failed; what it had created is removed\n");
		goto out;
	}
	printf("postern quickstart for %s\n\n", q.domain);
	printf("wrote %s (hostname %s, domain %s)\n", q.conf, q.hostname, q.domain);
	printf("wrote the DKIM key %s (rsa, 2048 bits, selector %s)\n", q.key_path, QS_SELECTOR);
	printf("created the account %s", q.address);
	for (size_t i = 0; i < q.naliases; i++)
		printf("%s%s", i ? " and " : "; aliases of it: ", q.aliases[i]);
	printf("\n");
	print_records(&q, key);
	printf("\n; ---- the account (the password is shown this once) ----\n");
	printf("account: %s\n", q.address);
	printf("password: %s\n", password);
	print_next_steps(&q);
	rc = 0;
out:
	explicit_bzero(password, sizeof(password));
	dkim_signer_free(key);
	for (size_t i = 0; i < q.ndirs; i++)
		free(q.dirs[i]);
	free(q.template);
	free(q.key_path);
	free(q.data_dir);
	free(q.conf);
	return rc;
}
