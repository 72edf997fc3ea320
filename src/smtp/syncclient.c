/*
 * Blocking SMTP client. The reply reader caps lines (buf) and the number
 * of continuation lines, so a hostile server cannot make it loop.
 */
#include "syncclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "queue/reply.h"

int
sync_write(struct sync_conn *c, const char *s, size_t n)
{
	if (c->ssl) {
		while (n > 0) {
			int w = SSL_write(c->ssl, s, n > 65536 ? 65536 : (int)n);
			if (w <= 0)
				return -1;
			s += w;
			n -= (size_t)w;
		}
		return 0;
	}
	while (n > 0) {
		ssize_t w = write(c->fd, s, n);
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int
sync_reply(struct sync_conn *c, char *out, size_t outlen)
{
	out[0] = '\0';
	for (int guard = 0; guard < 200; guard++) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl != NULL) {
			size_t l = (size_t)(nl - c->buf) + 1, k = l, textlen;
			const char *text;
			bool more;
			int code;
			while (k > 0 && (c->buf[k - 1] == '\n' || c->buf[k - 1] == '\r'))
				k--;
			/* the one reply parser of the queue's client (RFC 5321 4.2) */
			if (reply_parse_line(c->buf, k, &code, &more, &text, &textlen) == -1)
				return 0;
			snprintf(out, outlen, "%.*s", (int)k, c->buf);
			memmove(c->buf, c->buf + l, c->len - l);
			c->len -= l;
			if (!more)
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

int
sync_cmd(struct sync_conn *c, const char *line, char *out, size_t outlen)
{
	if (sync_write(c, line, strlen(line)) == -1 || sync_write(c, "\r\n", 2) == -1)
		return 0;
	return sync_reply(c, out, outlen);
}

int
sync_tls(struct sync_conn *c, char *err, size_t errlen)
{
	if (c->ctx == NULL) {
		c->ctx = SSL_CTX_new(TLS_client_method());
		if (c->ctx == NULL) {
			snprintf(err, errlen, "cannot create a TLS context");
			return -1;
		}
		SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
		if (c->verify) {
			/* the system trust store; SSL_CERT_FILE overrides it */
			SSL_CTX_set_default_verify_paths(c->ctx);
			SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
		} else
			SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	SSL_set_fd(c->ssl, c->fd);
	if (c->verify && c->tls_name[0]) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
		unsigned char bin[16];
		/* an address is matched against the IP SANs, a name against
		 * the DNS names (SPEC 6.5) */
		if (inet_pton(AF_INET, c->tls_name, bin) == 1 || inet_pton(AF_INET6, c->tls_name, bin) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, c->tls_name);
		else {
			SSL_set_tlsext_host_name(c->ssl, c->tls_name);
			X509_VERIFY_PARAM_set1_host(vp, c->tls_name, 0);
		}
	}
	c->len = 0;
	if (SSL_connect(c->ssl) != 1) {
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK)
			snprintf(err, errlen, "TLS certificate of %s not trusted: %s", c->tls_name,
			    X509_verify_cert_error_string(v));
		else
			snprintf(err, errlen, "TLS handshake failed: %s",
			    ERR_reason_error_string(ERR_get_error()) ? ERR_reason_error_string(ERR_get_error()) : "unknown");
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
	return 0;
}

void
sync_close(struct sync_conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd > 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

void
sync_free(struct sync_conn *c)
{
	sync_close(c);
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}

int
sync_open(struct sync_conn *c, const char *host, unsigned port, const char *source,
    unsigned timeout, char *err, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	char portstr[8];
	struct timeval tv = { timeout ? timeout : 30, 0 };
	int rc;

	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, portstr, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
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
	if (source != NULL && res->ai_family == AF_INET) {
		struct sockaddr_in src = { .sin_family = AF_INET };
		if (inet_pton(AF_INET, source, &src.sin_addr) == 1)
			(void)bind(c->fd, (struct sockaddr *)&src, sizeof(src));
	}
	if (connect(c->fd, res->ai_addr, res->ai_addrlen) == -1) {
		snprintf(err, errlen, "cannot connect to %s:%u: %s", host, port, strerror(errno));
		freeaddrinfo(res);
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	freeaddrinfo(res);
	c->len = 0;
	return 0;
}
