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

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[8192];
	size_t len;
	unsigned timeout;
};

static int
conn_write(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->ssl)
		return SSL_write(c->ssl, s, (int)n) == (int)n ? 0 : -1;
	while (n > 0) {
		ssize_t w = write(c->fd, s, n);
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one whole reply; returns its code (0 on error), text in out. */
static int
conn_reply(struct conn *c, char *out, size_t outlen)
{
	out[0] = '\0';
	for (int guard = 0; guard < 200; guard++) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t l = (size_t)(nl - c->buf) + 1;
			int code = 0;
			bool last = l >= 4 && c->buf[3] != '-';
			if (l >= 4)
				code = atoi(c->buf);
			if (last || out[0] == '\0') {
				size_t k = l;
				while (k > 0 && (c->buf[k - 1] == '\n' || c->buf[k - 1] == '\r'))
					k--;
				snprintf(out, outlen, "%.*s", (int)k, c->buf);
			}
			memmove(c->buf, c->buf + l, c->len - l);
			c->len -= l;
			if (last)
				return code;
			continue;
		}
		if (c->len == sizeof(c->buf))
			return 0;
		{
			ssize_t r = c->ssl ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len)) :
			    read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
			if (r <= 0)
				return 0;
			c->len += (size_t)r;
		}
	}
	return 0;
}

static int
cmd(struct conn *c, const char *line, char *out, size_t outlen)
{
	char tmp[1200];

	snprintf(tmp, sizeof(tmp), "%s\r\n", line);
	if (conn_write(c, tmp) == -1)
		return 0;
	return conn_reply(c, out, outlen);
}

static int
start_tls(struct conn *c)
{
	if (c->ctx == NULL) {
		c->ctx = SSL_CTX_new(TLS_client_method());
		if (c->ctx == NULL)
			return -1;
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	c->len = 0;
	return SSL_connect(c->ssl) == 1 ? 0 : -1;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static int
conn_open(struct conn *c, const struct relaytest_options *opt, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char port[8];
	struct timeval tv = { opt->timeout ? opt->timeout : 20, 0 };
	int rc;

	snprintf(port, sizeof(port), "%u", opt->port);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(opt->host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", opt->host, gai_strerror(rc));
		return -1;
	}
	c->fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		freeaddrinfo(res);
		return -1;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (opt->source != NULL && res->ai_family == AF_INET) {
		struct sockaddr_in src = { .sin_family = AF_INET };
		if (inet_pton(AF_INET, opt->source, &src.sin_addr) == 1)
			(void)bind(c->fd, (struct sockaddr *)&src, sizeof(src));
	}
	if (connect(c->fd, res->ai_addr, res->ai_addrlen) == -1) {
		snprintf(err, errlen, "cannot connect to %s:%u: %s", opt->host, opt->port, strerror(errno));
		freeaddrinfo(res);
		conn_close(c);
		return -1;
	}
	freeaddrinfo(res);
	if (opt->implicit_tls && start_tls(c) == -1) {
		snprintf(err, errlen, "TLS handshake with %s:%u failed", opt->host, opt->port);
		conn_close(c);
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
try_one(const struct relaytest_options *opt, const struct attempt *a, struct conn *c,
    char *why, size_t whylen)
{
	char r[600], line[1100];
	int code;

	if (conn_open(c, opt, why, whylen) == -1)
		return -1;
	if (conn_reply(c, r, sizeof(r)) / 100 != 2) {
		snprintf(why, whylen, "no greeting (%s)", r);
		conn_close(c);
		return -1;
	}
	snprintf(line, sizeof(line), "EHLO %s", opt->helo);
	if (cmd(c, line, r, sizeof(r)) / 100 != 2) {
		snprintf(why, whylen, "EHLO refused: %s", r);
		conn_close(c);
		return -1;
	}
	snprintf(line, sizeof(line), "MAIL FROM:%s", a->mail);
	code = cmd(c, line, r, sizeof(r));
	if (code == 530 && c->ssl == NULL) {
		/* the server wants TLS first: an unauthenticated client can
		 * do that too, so test after STARTTLS as well */
		if (cmd(c, "STARTTLS", r, sizeof(r)) == 220 && start_tls(c) == 0) {
			snprintf(line, sizeof(line), "EHLO %s", opt->helo);
			cmd(c, line, r, sizeof(r));
			snprintf(line, sizeof(line), "MAIL FROM:%s", a->mail);
			code = cmd(c, line, r, sizeof(r));
		}
	}
	if (code / 100 != 2) {
		snprintf(why, whylen, "MAIL: %s", r);
		cmd(c, "QUIT", r, sizeof(r));
		conn_close(c);
		return 0;
	}
	snprintf(line, sizeof(line), "RCPT TO:%s", a->rcpt);
	code = cmd(c, line, r, sizeof(r));
	snprintf(why, whylen, "%s", r[0] ? r : "(no reply)");
	cmd(c, "RSET", r, sizeof(r));
	cmd(c, "QUIT", r, sizeof(r));
	conn_close(c);
	if (code == 0)
		return -1;
	return code / 100 == 2 ? 1 : 0;
}

int
relaytest_run(const struct relaytest_options *opt, struct relaytest_result *res)
{
	struct conn c = { .fd = -1 };
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
	    conn_reply(&c, r, sizeof(r)) / 100 != 2) {
		if (res->error[0] == '\0')
			snprintf(res->error, sizeof(res->error), "no SMTP greeting from %s:%u", opt->host, opt->port);
		res->could_not_run = true;
		conn_close(&c);
		SSL_CTX_free(c.ctx);
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
	cmd(&c, "QUIT", r, sizeof(r));
	conn_close(&c);
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
	SSL_CTX_free(c.ctx);
	free(list);
	if (opt->out)
		fprintf(opt->out, "%u attempts against %s:%u (%s), %u relayed\n", res->attempts,
		    opt->host, opt->port, name, res->relayed);
	return res->relayed > 0 ? 1 : 0;
}
