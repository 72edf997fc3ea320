/*
 * Relay test battery. Each attempt opens its own session (a refused
 * attempt must not influence the next through error counters), says
 * EHLO, upgrades with STARTTLS when the server asks for it, and tries
 * one MAIL/RCPT pair; RCPT 2xx for an outside address is a relay.
 */
#include "relaytest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "smtp/syncclient.h"

static int
conn_open(struct sync_conn *c, const struct relaytest_options *opt, char *err, size_t errlen)
{
	if (sync_open(c, opt->host, opt->port, opt->source, opt->timeout ? opt->timeout : 20,
	    err, errlen) == -1)
		return -1;
	if (opt->implicit_tls && sync_tls(c, err, errlen) == -1) {
		sync_close(c);
		return -1;
	}
	return 0;
}

/* "220 mx.example.org ESMTP ..." -> "mx.example.org" */
static void
first_word(const char *reply, char *out, size_t outlen)
{
	const char *p = strlen(reply) > 4 ? reply + 4 : "";
	size_t n = strcspn(p, " \r\n");

	snprintf(out, outlen, "%.*s", (int)n, p);
}

struct attempt {
	char mail[1024];
	char rcpt[1024];
};

/* One attempt in a fresh session; returns 1 relayed, 0 refused, -1 error. */
static int
try_one(const struct relaytest_options *opt, const struct attempt *a, struct sync_conn *c,
    char *why, size_t whylen)
{
	char r[600], line[1100];
	int code;

	if (conn_open(c, opt, why, whylen) == -1)
		return -1;
	if (sync_reply(c, r, sizeof(r)) / 100 != 2) {
		snprintf(why, whylen, "no greeting (%s)", r);
		sync_close(c);
		return -1;
	}
	snprintf(line, sizeof(line), "EHLO %s", opt->helo);
	if (sync_cmd(c, line, r, sizeof(r)) / 100 != 2) {
		snprintf(why, whylen, "EHLO refused: %s", r);
		sync_close(c);
		return -1;
	}
	snprintf(line, sizeof(line), "MAIL FROM:%s", a->mail);
	code = sync_cmd(c, line, r, sizeof(r));
	if (code == 530 && c->ssl == NULL) {
		/* the server wants TLS first: an unauthenticated client can
		 * do that too, so test after STARTTLS as well */
		if (sync_cmd(c, "STARTTLS", r, sizeof(r)) == 220 && sync_tls(c, why, whylen) == 0) {
			snprintf(line, sizeof(line), "EHLO %s", opt->helo);
			sync_cmd(c, line, r, sizeof(r));
			snprintf(line, sizeof(line), "MAIL FROM:%s", a->mail);
			code = sync_cmd(c, line, r, sizeof(r));
		}
	}
	if (code / 100 != 2) {
		snprintf(why, whylen, "MAIL: %s", r);
		sync_cmd(c, "QUIT", r, sizeof(r));
		sync_close(c);
		return 0;
	}
	snprintf(line, sizeof(line), "RCPT TO:%s", a->rcpt);
	code = sync_cmd(c, line, r, sizeof(r));
	snprintf(why, whylen, "%s", r[0] ? r : "(no reply)");
	sync_cmd(c, "RSET", r, sizeof(r));
	sync_cmd(c, "QUIT", r, sizeof(r));
	sync_close(c);
	if (code == 0)
		return -1;
	return code / 100 == 2 ? 1 : 0;
}

int
relaytest_run(const struct relaytest_options *opt, struct relaytest_result *res)
{
	struct sync_conn c = { .fd = -1 };
	char r[600], name[256] = "", user[128], rdom[256], ip[64] = "127.0.0.1", why[700];
	const char *at = strrchr(opt->to, '@');
	struct attempt *list = xcalloc(64, sizeof(*list));
	size_t n = 0;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(res, 0, sizeof(*res));
	if (at == NULL) {
		snprintf(res->error, sizeof(res->error), "--to must be an address");
		res->could_not_run = true;
		free(list);
		return 2;
	}
	snprintf(user, sizeof(user), "%.*s", (int)(at - opt->to), opt->to);
	snprintf(rdom, sizeof(rdom), "%s", at + 1);

	/* the server's names: banner, then EHLO */
	if (conn_open(&c, opt, res->error, sizeof(res->error)) == -1 ||
	    sync_reply(&c, r, sizeof(r)) / 100 != 2) {
		if (res->error[0] == '\0')
			snprintf(res->error, sizeof(res->error), "no SMTP greeting from %s:%u", opt->host, opt->port);
		res->could_not_run = true;
		sync_free(&c);
		free(list);
		return 2;
	}
	first_word(r, name, sizeof(name));
	if (getpeername(c.fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof(ip));
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof(ip));
	}
	{
		/* the EHLO reply names the server too; and the self-test's
		 * EHLO marks even this probe as its own */
		char ehlo[300], er[600];
		snprintf(ehlo, sizeof(ehlo), "EHLO %s", opt->helo);
		if (sync_cmd(&c, ehlo, er, sizeof(er)) / 100 == 2 && (name[0] == '\0' ||
		    strchr(name, '.') == NULL))
			first_word(er, name, sizeof(name));
	}
	sync_cmd(&c, "QUIT", r, sizeof(r));
	sync_close(&c);
	if (name[0] == '\0' || strchr(name, '.') == NULL)
		snprintf(name, sizeof(name), "%s", opt->host);

#define ADD(m, ...) do { if (n < 64) { snprintf(list[n].mail, sizeof(list[n].mail), "%s", m); \
	snprintf(list[n].rcpt, sizeof(list[n].rcpt), __VA_ARGS__); n++; } } while (0)
	{
		char local_from[600], ext_from[600], lit_from[600];
		snprintf(local_from, sizeof(local_from), "<postmaster@%s>", name);
		snprintf(ext_from, sizeof(ext_from), "<%s@%s>", user, rdom);
		snprintf(lit_from, sizeof(lit_from), "<%s@[%s]>", user, ip);
		/* the nmap smtp-open-relay set */
		ADD("<>", "<%s@%s>", user, rdom);
		ADD(local_from, "<%s@%s>", user, rdom);
		ADD(ext_from, "<%s@%s>", user, rdom);
		ADD(lit_from, "<%s@%s>", user, rdom);
		ADD(local_from, "<%s%%%s@%s>", user, rdom, name);
		ADD(local_from, "<%s%%%s@[%s]>", user, rdom, ip);
		ADD(local_from, "<\"%s@%s\">", user, rdom);
		ADD(local_from, "<\"%s%%%s\">", user, rdom);
		ADD(local_from, "<%s@%s@%s>", user, rdom, name);
		ADD(local_from, "<\"%s@%s\"@%s>", user, rdom, name);
		ADD(local_from, "<%s@%s@[%s]>", user, rdom, ip);
		ADD(local_from, "<@%s:%s@%s>", name, user, rdom);
		ADD(local_from, "<@[%s]:%s@%s>", ip, user, rdom);
		ADD(local_from, "<%s!%s>", rdom, user);
		ADD(local_from, "<%s!%s@%s>", rdom, user, name);
		ADD(local_from, "<%s!%s@[%s]>", rdom, user, ip);
		/* and more */
		ADD(local_from, "<%s@%s.>", user, rdom);
		ADD(local_from, "<%s@%s.>", user, name);
		ADD(local_from, "<%s%%%s@%s.>", user, rdom, name);
		ADD(local_from, "<%s@[192.0.2.1]>", user);
		ADD(local_from, "<%s@[IPv6:2001:db8::1]>", user);
		ADD(local_from, "<@%s,@%s:%s@%s>", name, name, user, rdom);
		ADD(local_from, "<\"%s%%%s\"@%s>", user, rdom, name);
		ADD(local_from, "<%s%%%s%%%s@%s>", user, rdom, name, name);
		ADD(local_from, "<%s@%s>", user, rdom);	/* then in upper case: */
		for (char *p = list[n - 1].rcpt; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		ADD(local_from, "<\"%s\"@%s>", user, rdom);
		ADD(local_from, "<%s@%s>", user, rdom);	/* the plain case */
	}
#undef ADD

	for (size_t i = 0; i < n; i++) {
		int rc = try_one(opt, &list[i], &c, why, sizeof(why));
		res->attempts++;
		if (rc == 1)
			res->relayed++;
		if (opt->out)
			fprintf(opt->out, "%-9s MAIL FROM:%s RCPT TO:%s -> %s\n",
			    rc == 1 ? "RELAYED" : rc == 0 ? "refused" : "error", list[i].mail,
			    list[i].rcpt, why);
	}
	sync_free(&c);
	free(list);
	if (opt->out)
		fprintf(opt->out, "%u attempts against %s:%u (%s), %u relayed\n", res->attempts,
		    opt->host, opt->port, name, res->relayed);
	return res->relayed > 0 ? 1 : 0;
}
