/*
 * Control socket. Requests are tiny and come from the administrator's
 * own commands; each connection is read with a cap and a timeout, and
 * answered once.
 */
#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "monitor/log.h"

struct control {
	struct evconnlistener *l;
	struct scheduler *sc;
	char *path;
};

static void
answer(struct control *c, const char *line, char *out, size_t outlen)
{
	char verb[16], id[64];
	int n = sscanf(line, "%15s %63s", verb, id);

	if (n >= 1 && strcmp(verb, "flush") == 0) {
		scheduler_flush(c->sc);
		snprintf(out, outlen, "ok %u messages in the queue", scheduler_count(c->sc));
	} else if (n == 2 && (strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0)) {
		if (scheduler_hold(c->sc, id, verb[0] == 'h') == -1)
			snprintf(out, outlen, "error: no message %s in the queue", id);
		else
			snprintf(out, outlen, "ok %s %s", id, verb[0] == 'h' ? "held" : "released");
	} else if (n == 2 && strcmp(verb, "delete") == 0) {
		if (scheduler_delete(c->sc, id) == -1)
			snprintf(out, outlen, "error: no message %s in the queue", id);
		else
			snprintf(out, outlen, "ok %s deleted", id);
	} else
		snprintf(out, outlen, "error: unknown request");
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct control *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line, out[CONTROL_LINE_MAX];
	size_t len;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
			bufferevent_free(bev);
		return;
	}
	answer(c, line, out, sizeof(out));
	log_event("control", "request=\"%.64s\" reply=\"%.64s\"", line, out);
	free(line);
	evbuffer_add_printf(bufferevent_get_output(bev), "%s\n", out);
	bufferevent_disable(bev, EV_READ);
}

static void
on_write(struct bufferevent *bev, void *arg)
{
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		bufferevent_free(bev);
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	bufferevent_free(bev);
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	struct timeval tv = { 5, 0 };

	bufferevent_setcb(bev, on_read, on_write, on_event, arg);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct control *
control_start(struct event_base *base, const char *path, struct scheduler *sc)
{
	struct control *c;
	struct sockaddr_un sun;
	mode_t old;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sun.sun_path, path);
	unlink(path);
	c = xcalloc(1, sizeof(*c));
	c->sc = sc;
	c->path = xstrdup(path);
	old = umask(077);
	c->l = evconnlistener_new_bind(base, on_accept, c, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, 16, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (c->l == NULL) {
		free(c->path);
		free(c);
		return NULL;
	}
	return c;
}

void
control_free(struct control *c)
{
	if (c == NULL)
		return;
	evconnlistener_free(c->l);
	unlink(c->path);
	free(c->path);
	free(c);
}

int
control_request(const char *path, const char *line, char *reply, size_t replylen)
{
	struct sockaddr_un sun;
	struct timeval tv = { 10, 0 };
	size_t got = 0;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	dprintf(fd, "%s\n", line);
	while (got + 1 < replylen) {
		ssize_t r = read(fd, reply + got, replylen - got - 1);
		if (r <= 0)
			break;
		got += (size_t)r;
		if (memchr(reply, '\n', got))
			break;
	}
	close(fd);
	reply[got] = '\0';
	if (got > 0 && reply[got - 1] == '\n')
		reply[got - 1] = '\0';
	return 0;
}
