/*
 * postern sendmail: the sendmail(8)-compatible wrapper for web
 * applications and scripts (SPEC 6.5). It never writes to a queue of its
 * own: it submits over SMTP with AUTH, so every message is tied to an
 * account, and it adds X-Postern-Origin naming the uid, user, directory
 * and script that sent it. Exit codes are sendmail's (sysexits.h).
 */
#include "cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/value.h"
#include "lib/xmalloc.h"
#include "scan/mime.h"
#include "smtp/syncclient.h"

#define EX_OK_ 0
#define EX_USAGE_ 64
#define EX_DATAERR_ 65
#define EX_NOUSER_ 67
#define EX_UNAVAILABLE_ 69
#define EX_SOFTWARE_ 70
#define EX_IOERR_ 74
#define EX_TEMPFAIL_ 75
#define EX_PROTOCOL_ 76
#define EX_NOPERM_ 77
#define EX_CONFIG_ 78

#define MESSAGE_MAX (64u * 1024 * 1024)
#define RCPTS_MAX 1000

struct sm_conf {
	struct hostport server;
	char user[256];
	char password[512];
	int tls;		/* 1 yes (default), 0 no */
};

static int
fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sendmail: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return code;
}

static int
read_conf(const char *path, struct sm_conf *c)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned n = 0;
	bool have_server = false;

	memset(c, 0, sizeof(*c));
	c->tls = 1;
	if (f == NULL)
		return fail(EX_CONFIG_, "cannot read %s: %s (set POSTERN_SENDMAIL_CONF)", path,
		    strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *k = line, *v, *e;
		n++;
		while (*k == ' ' || *k == '\t')
			k++;
		/* comments are whole lines: a password may contain '#' */
		if (*k == '#')
			continue;
		e = k + strlen(k);
		while (e > k && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*k == '\0')
			continue;
		if ((v = strchr(k, '=')) == NULL) {
			fclose(f);
			return fail(EX_CONFIG_, "%s:%u: expected key = value", path, n);
		}
		*v++ = '\0';
		for (e = v - 2; e >= k && (*e == ' ' || *e == '\t'); e--)
			*e = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		if (strcmp(k, "server") == 0) {
			if (value_hostport(v, strlen(v), &c->server) == -1) {
				fclose(f);
				return fail(EX_CONFIG_, "%s:%u: server: expected HOST:PORT", path, n);
			}
			have_server = true;
		} else if (strcmp(k, "user") == 0)
			snprintf(c->user, sizeof(c->user), "%s", v);
		else if (strcmp(k, "password") == 0)
			snprintf(c->password, sizeof(c->password), "%s", v);
		else if (strcmp(k, "tls") == 0) {
			bool b;
			if (value_bool(v, strlen(v), &b) == -1) {
				fclose(f);
				return fail(EX_CONFIG_, "%s:%u: tls: expected yes or no", path, n);
			}
			c->tls = b;
		} else {
			fclose(f);
			return fail(EX_CONFIG_, "%s:%u: unknown key \"%s\"", path, n, k);
		}
	}
	fclose(f);
	if (!have_server || c->user[0] == '\0' || c->password[0] == '\0')
		return fail(EX_CONFIG_, "%s: server, user and password are required", path);
	return 0;
}

static bool
is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	    strcmp(host, "::1") == 0;
}

/* Addresses of a To/Cc/Bcc value, appended to rcpts. */
static void
header_addresses(const char *v, size_t len, char **rcpts, size_t *n)
{
	char *s = xstrndup(v, len), *save = NULL;
	bool inq = false;

	/* commas inside quoted display names are not separators */
	for (char *p = s; *p; p++) {
		if (*p == '"')
			inq = !inq;
		else if (*p == ',' && inq)
			*p = '\x01';
	}
	for (char *a = strtok_r(s, ",", &save); a && *n < RCPTS_MAX; a = strtok_r(NULL, ",", &save)) {
		char *lt = strchr(a, '<'), *gt, *start, *end;
		if (lt && (gt = strchr(lt, '>')) != NULL) {
			start = lt + 1;
			end = gt;
		} else {
			start = a;
			while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
				start++;
			end = start + strcspn(start, " \t\r\n(");
		}
		if (end > start && memchr(start, '@', (size_t)(end - start)))
			rcpts[(*n)++] = xstrndup(start, (size_t)(end - start));
	}
	free(s);
}

/* Every exit of cli_sendmail goes through its cleanup. */
#define FAILGOTO(...)                                                     \
	do {                                                              \
		rc = fail(__VA_ARGS__);                                   \
		goto out;                                                 \
	} while (0)

int
cli_sendmail(int argc, char **argv)
{
	const char *conf_path = getenv("POSTERN_SENDMAIL_CONF");
	struct sm_conf conf = { 0 };
	bool opt_t = false, opt_i = false;
	const char *from = NULL, *fullname = NULL;
	char **rcpts = xcalloc(RCPTS_MAX, sizeof(char *));
	size_t nrcpts = 0, len = 0, cap = 65536;
	char *msg = NULL, *out = NULL, r[600], line[1200], err[600];
	size_t outlen = 0;
	FILE *o;
	struct sync_conn c = { .fd = -1 };
	int rc, i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "-t") == 0)
			opt_t = true;
		else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0)
			opt_i = true;
		else if (strncmp(a, "-f", 2) == 0 || strncmp(a, "-r", 2) == 0)
			from = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
		else if (strncmp(a, "-F", 2) == 0)
			fullname = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);
		else if (strncmp(a, "-o", 2) == 0 || strcmp(a, "-bm") == 0 || strcmp(a, "-v") == 0 ||
		    strncmp(a, "-O", 2) == 0 || strncmp(a, "-B", 2) == 0 || strncmp(a, "-N", 2) == 0 ||
		    strncmp(a, "-R", 2) == 0 || strncmp(a, "-V", 2) == 0)
			;	/* accepted for compatibility, nothing to do */
		else
			FAILGOTO(EX_USAGE_, "unsupported option %s (supported: -t -i -oi -f -F)", a);
	}
	for (; i < argc && nrcpts < RCPTS_MAX; i++)
		rcpts[nrcpts++] = xstrdup(argv[i]);
	if ((rc = read_conf(conf_path ? conf_path : "/etc/postern/sendmail.conf", &conf)) != 0)
		goto out;
	if (!conf.tls && !is_loopback(conf.server.host))
		FAILGOTO(EX_CONFIG_, "tls = no is only allowed for a server on loopback");
	if (from == NULL || *from == '\0')
		from = conf.user;

	/* the message: LF or CRLF lines; without -i a lone "." ends it */
	msg = xmalloc(cap);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t l = strlen(line);
		if (!opt_i && (strcmp(line, ".\n") == 0 || strcmp(line, ".\r\n") == 0))
			break;
		if (len + l + 2 > MESSAGE_MAX)
			FAILGOTO(EX_DATAERR_, "message larger than %u octets", MESSAGE_MAX);
		if (len + l + 2 > cap) {
			cap *= 2;
			msg = xrealloc(msg, cap);
		}
		memcpy(msg + len, line, l);
		len += l;
	}
	if (ferror(stdin))
		FAILGOTO(EX_IOERR_, "cannot read the message: %s", strerror(errno));

	/* headers: -t recipients, Bcc removed, missing From/Date/Message-ID added */
	{
		size_t hend = mime_header_end(msg, len), pos = 0, nl, vl;
		const char *name, *value;
		bool has_from = false, has_date = false, has_msgid = false;
		struct passwd *pw = getpwuid(getuid());
		char cwd[1024], host[256], date[64];
		const char *script = getenv("SCRIPT_FILENAME");
		time_t now = time(NULL);
		struct tm tm;

		if (getcwd(cwd, sizeof(cwd)) == NULL)
			strcpy(cwd, "?");
		if (gethostname(host, sizeof(host)) != 0)
			strcpy(host, "localhost");
		host[sizeof(host) - 1] = '\0';
		localtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
		o = open_memstream(&out, &outlen);
		/* SPEC 6.5: who injected this message */
		fprintf(o, "X-Postern-Origin: uid=%u user=%s cwd=%s script=%s\r\n", (unsigned)getuid(),
		    pw ? pw->pw_name : "?", cwd, script && *script ? script : "-");
		while (mime_header_next(msg, hend, &pos, &name, &nl, &value, &vl)) {
			bool bcc = nl == 3 && strncasecmp(name, "Bcc", 3) == 0;
			if (opt_t && ((nl == 2 && strncasecmp(name, "To", 2) == 0) ||
			    (nl == 2 && strncasecmp(name, "Cc", 2) == 0) || bcc))
				header_addresses(value, vl, rcpts, &nrcpts);
			if (nl == 4 && strncasecmp(name, "From", 4) == 0)
				has_from = true;
			if (nl == 4 && strncasecmp(name, "Date", 4) == 0)
				has_date = true;
			if (nl == 10 && strncasecmp(name, "Message-ID", 10) == 0)
				has_msgid = true;
		}
		if (!has_from) {
			if (fullname)
				fprintf(o, "From: \"%s\" <%s>\r\n", fullname, from);
			else
				fprintf(o, "From: %s\r\n", from);
		}
		if (!has_date)
			fprintf(o, "Date: %s\r\n", date);
		if (!has_msgid)
			fprintf(o, "Message-ID: <%lld.%ld@%s>\r\n", (long long)now, (long)getpid(), host);
		/* copy, CRLF lines, Bcc dropped, dots stuffed for DATA */
		{
			size_t p = 0;
			bool in_bcc = false, in_head = true;
			while (p < len) {
				const char *e = memchr(msg + p, '\n', len - p);
				size_t l = e ? (size_t)(e - (msg + p)) : len - p;
				const char *ln = msg + p;
				if (l > 0 && ln[l - 1] == '\r')
					l--;
				if (in_head && l == 0)
					in_head = false;
				if (in_head) {
					if (ln[0] != ' ' && ln[0] != '\t')
						in_bcc = l >= 4 && strncasecmp(ln, "Bcc:", 4) == 0;
					if (in_bcc) {
						p += (e ? (size_t)(e - (msg + p)) + 1 : len - p);
						continue;
					}
				}
				if (l > 0 && ln[0] == '.')
					fputc('.', o);
				fwrite(ln, 1, l, o);
				fputs("\r\n", o);
				p += (e ? (size_t)(e - (msg + p)) + 1 : len - p);
			}
		}
		fclose(o);
	}
	free(msg);
	msg = NULL;
	if (nrcpts == 0)
		FAILGOTO(EX_USAGE_, "no recipients (give them as arguments or use -t)");

	/* submission */
	c.verify = conf.tls;
	snprintf(c.tls_name, sizeof(c.tls_name), "%s", conf.server.host);
	if (sync_open(&c, conf.server.host, conf.server.port, NULL, 60, err, sizeof(err)) == -1)
		FAILGOTO(EX_TEMPFAIL_, "%s", err);
	if (conf.tls && conf.server.port == 465 && sync_tls(&c, err, sizeof(err)) == -1)
		FAILGOTO(EX_TEMPFAIL_, "%s", err);
	if (sync_reply(&c, r, sizeof(r)) / 100 != 2)
		FAILGOTO(EX_TEMPFAIL_, "no greeting from %s:%u: %s", conf.server.host,
		    conf.server.port, r);
	snprintf(line, sizeof(line), "EHLO %s", "localhost");
	if (sync_cmd(&c, line, r, sizeof(r)) / 100 != 2)
		FAILGOTO(EX_PROTOCOL_, "EHLO refused: %s", r);
	if (conf.tls && c.ssl == NULL) {
		if (sync_cmd(&c, "STARTTLS", r, sizeof(r)) != 220)
			FAILGOTO(EX_TEMPFAIL_, "the server does not offer STARTTLS (%s); "
			    "refusing to send the password in clear", r);
		if (sync_tls(&c, err, sizeof(err)) == -1)
			FAILGOTO(EX_TEMPFAIL_, "%s", err);
		sync_cmd(&c, line, r, sizeof(r));
	}
	{
		/* AUTH PLAIN: base64("\0user\0password") */
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		unsigned char raw[800];
		char enc[1100], authline[1200];
		size_t rl = 0, el = 0, ul = strlen(conf.user), pl = strlen(conf.password);
		int code;
		raw[rl++] = 0;
		memcpy(raw + rl, conf.user, ul);
		rl += ul;
		raw[rl++] = 0;
		memcpy(raw + rl, conf.password, pl);
		rl += pl;
		for (size_t k = 0; k < rl; k += 3) {
			unsigned v = (unsigned)raw[k] << 16 | (k + 1 < rl ? (unsigned)raw[k + 1] << 8 : 0) |
			    (k + 2 < rl ? raw[k + 2] : 0);
			enc[el++] = b64[(v >> 18) & 63];
			enc[el++] = b64[(v >> 12) & 63];
			enc[el++] = k + 1 < rl ? b64[(v >> 6) & 63] : '=';
			enc[el++] = k + 2 < rl ? b64[v & 63] : '=';
		}
		enc[el] = '\0';
		snprintf(authline, sizeof(authline), "AUTH PLAIN %s", enc);
		code = sync_cmd(&c, authline, r, sizeof(r));
		explicit_bzero(raw, sizeof(raw));
		explicit_bzero(authline, sizeof(authline));
		if (code != 235)
			FAILGOTO(code / 100 == 4 ? EX_TEMPFAIL_ : EX_NOPERM_,
			    "authentication as %s refused: %s", conf.user, r);
	}
	snprintf(line, sizeof(line), "MAIL FROM:<%s>", from);
	if ((rc = sync_cmd(&c, line, r, sizeof(r))) / 100 != 2)
		FAILGOTO(rc / 100 == 4 ? EX_TEMPFAIL_ : EX_NOPERM_, "sender <%s> refused: %s", from, r);
	{
		size_t ok = 0;
		int worst = EX_OK_;
		for (size_t k = 0; k < nrcpts; k++) {
			snprintf(line, sizeof(line), "RCPT TO:<%s>", rcpts[k]);
			rc = sync_cmd(&c, line, r, sizeof(r));
			if (rc / 100 == 2)
				ok++;
			else {
				fprintf(stderr, "sendmail: <%s>: %s\n", rcpts[k], r);
				worst = rc / 100 == 4 ? EX_TEMPFAIL_ : EX_NOUSER_;
			}
		}
		if (ok == 0) {
			rc = worst;
			goto out;
		}
		if (sync_cmd(&c, "DATA", r, sizeof(r)) != 354)
			FAILGOTO(EX_PROTOCOL_, "DATA refused: %s", r);
		if (sync_write(&c, out, outlen) == -1 || sync_cmd(&c, ".", r, sizeof(r)) / 100 != 2) {
			int code = atoi(r);
			FAILGOTO(code / 100 == 5 ? EX_UNAVAILABLE_ : EX_TEMPFAIL_, "message refused: %s",
			    r[0] ? r : "connection lost");
		}
		sync_cmd(&c, "QUIT", r, sizeof(r));
		rc = worst;
	}
out:
	sync_free(&c);
	free(msg);
	free(out);
	for (size_t k = 0; k < nrcpts; k++)
		free(rcpts[k]);
	free(rcpts);
	explicit_bzero(conf.password, sizeof(conf.password));
	return rc;
}
