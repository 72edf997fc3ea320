/*
 * A TLS SMTP sink for bench/outbound.sh's verified-TLS round: implicit TLS
 * from the first octet (as on port 465), accepts every message and
 * throws it away, and prints "sess=N quit=N mesg=N\r" after each message
 * as Postfix's `smtp-sink -c` does (which has no TLS), so benchlib.py
 * counts it the same way. One thread, libevent and OpenSSL; loopback only.
 *
 * usage: tlssink ADDR PORT CERT KEY
 */
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_LEN 4096

struct conn {
	bool in_data;
};

static SSL_CTX *ctx;
static unsigned long sessions, quits, messages;

static void
counters(void)
{
	printf("sess=%lu quit=%lu mesg=%lu\r", sessions, quits, messages);
	fflush(stdout);
}

static void
reply(struct bufferevent *bev, const char *text)
{
	bufferevent_write(bev, text, strlen(text));
}

static void
close_conn(struct bufferevent *bev, struct conn *c)
{
	bufferevent_free(bev);
	free(c);
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		if (c->in_data) {
			if (len == 1 && line[0] == '.') {
				c->in_data = false;
				messages++;
				counters();
				reply(bev, "250 2.0.0 Ok: queued\r\n");
			}
		} else if (strncasecmp(line, "EHLO", 4) == 0) {
			reply(bev, "250-tlssink\r\n250-PIPELINING\r\n250-SIZE 104857600\r\n"
			    "250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n");
		} else if (strncasecmp(line, "HELO", 4) == 0) {
			reply(bev, "250 tlssink\r\n");
		} else if (strncasecmp(line, "MAIL", 4) == 0 || strncasecmp(line, "RCPT", 4) == 0 ||
		    strncasecmp(line, "RSET", 4) == 0 || strncasecmp(line, "NOOP", 4) == 0) {
			reply(bev, "250 2.0.0 Ok\r\n");
		} else if (strncasecmp(line, "DATA", 4) == 0) {
			c->in_data = true;
			reply(bev, "354 End data with <CR><LF>.<CR><LF>\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			quits++;
			counters();
			reply(bev, "221 2.0.0 Bye\r\n");
			free(line);
			bufferevent_disable(bev, EV_READ);
			return;
		} else {
			reply(bev, "502 5.5.2 Error: command not recognized\r\n");
		}
		free(line);
	}
	if (evbuffer_get_length(in) > LINE_MAX_LEN && !c->in_data)
		close_conn(bev, c);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	/* after the 221: closed once it is written */
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		close_conn(bev, arg);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		close_conn(bev, arg);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
    void *arg)
{
	struct event_base *base = arg;
	SSL *ssl = SSL_new(ctx);
	struct conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev;
	struct timeval tv = { 60, 0 };

	(void)l;
	(void)sa;
	(void)salen;
	if (ssl == NULL || c == NULL) {
		evutil_closesocket(fd);
		SSL_free(ssl);
		free(c);
		return;
	}
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	/* replies go out whole, as from a real server's buffered writes */
	{
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	sessions++;
	bufferevent_setcb(bev, on_read, on_write, on_event, c);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	reply(bev, "220 tlssink ESMTP\r\n");
}

int
main(int argc, char **argv)
{
	struct event_base *base;
	struct evconnlistener *l;
	struct sockaddr_in sin = { .sin_family = AF_INET };

	if (argc != 5) {
		fprintf(stderr, "usage: tlssink ADDR PORT CERT KEY\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "tlssink: bad address %s\n", argv[1]);
		return 2;
	}
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "tlssink: cannot load %s / %s\n", argv[3], argv[4]);
		ERR_print_errors_fp(stderr);
		return 1;
	}
	base = event_base_new();
	l = evconnlistener_new_bind(base, on_accept, base, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
	    512, (struct sockaddr *)&sin, sizeof(sin));
	if (l == NULL) {
		perror("tlssink: listen");
		return 1;
	}
	counters();
	event_base_dispatch(base);
	return 0;
}
