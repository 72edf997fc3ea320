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
#include "queue/spool.h"

struct control {
	struct evconnlistener *l;
	struct scheduler *sc;
	char *path;
	char *data_dir;		/* the socket's directory (control.h) */
};

/*
 * Re-queues what can be saved of a quarantined message and hands it to
 * the scheduler. It runs on the loop, one fsync included: a rare repair
 * an administrator starts, not traffic.
 */
static void
salvage(struct control *c, const char *id, char *out, size_t outlen)
{
	struct spool_salvage_result res;
	int rc = spool_salvage(c->data_dir, id, &res);

	if (rc != 0) {
		snprintf(out, outlen, "error: %s", res.why);
		return;
	}
	if (res.already) {
		snprintf(out, outlen, "ok %s was salvaged before, as %s: nothing done", id, res.new_id);
		return;
	}
	log_event("salvaged", "id=%s new_id=%s kept=%zu of=%zu rcpts=%zu", id, res.new_id, res.kept,
	    res.total, res.env.nrcpts);
	if (res.why[0])
		log_event("warning", "id=%s reason=\"%s\"", id, res.why);
	snprintf(out, outlen, "ok %s salvaged as %s: %zu of %zu octets of the message, %zu recipient%s",
	    id, res.new_id, res.kept, res.total, res.env.nrcpts, res.env.nrcpts == 1 ? "" : "s");
	scheduler_add(c->sc, &res.env, false);
	spool_envelope_clear(&res.env);
}

/* A request is "VERB" or "VERB ID", nothing else. The id is checked
 * with the spool's own syntax before anything looks it up, so that no
 * request can name a file outside the queue. */
static void
answer(struct control *c, const char *line, char *out, size_t outlen)
{
	const char *sp = strchr(line, ' ');
	size_t vl = sp ? (size_t)(sp - line) : strlen(line);
	const char *id = sp ? sp + 1 : "";
	bool takes_id;
	char verb[16];

	if (vl == 0 || vl >= sizeof(verb)) {
		snprintf(out, outlen, "error: unknown request");
		return;
	}
	memcpy(verb, line, vl);
	verb[vl] = '\0';
	takes_id = strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0 ||
	    strcmp(verb, "delete") == 0 || strcmp(verb, "salvage") == 0;
	if (takes_id && !spool_id_valid(id, strlen(id))) {
		snprintf(out, outlen, "error: not a queue ID (%d characters 0-9 A-F)", SPOOL_ID_LEN);
		return;
	}
	if (strcmp(verb, "flush") == 0 && sp == NULL) {
		scheduler_flush(c->sc);
		snprintf(out, outlen, "ok %u messages in the queue", scheduler_count(c->sc));
	} else if (strcmp(verb, "hold") == 0 || strcmp(verb, "release") == 0) {
		if (scheduler_hold(c->sc, id, verb[0] == 'h') == -1)
			snprintf(out, outlen, "error: no message %s in the queue", id);
		else
			snprintf(out, outlen, "ok %s %s", id, verb[0] == 'h' ? "held" : "released");
	} else if (strcmp(verb, "delete") == 0) {
		if (scheduler_delete(c->sc, id) == -1)
			snprintf(out, outlen, "error: no message %s in the queue", id);
		else
			snprintf(out, outlen, "ok %s deleted", id);
	} else if (strcmp(verb, "salvage") == 0)
		salvage(c, id, out, outlen);
	else
		snprintf(out, outlen, "error: unknown request");
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct control *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line, out[CONTROL_LINE_MAX], q[LOG_VALUE_MAX];
	size_t len;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (line == NULL) {
		if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
			bufferevent_free(bev);
		return;
	}
	answer(c, line, out, sizeof(out));
	/* the request is whatever a local user typed: quoted for logfmt */
	log_event("control", "request=%s reply=\"%.200s\"", log_quote(q, sizeof(q), line, len), out);
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
	if (strrchr(path, '/') != NULL)
		c->data_dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
	else
		c->data_dir = xstrdup(".");
	old = umask(077);
	c->l = evconnlistener_new_bind(base, on_accept, c, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC, 16, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (c->l == NULL) {
		free(c->path);
		free(c->data_dir);
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
	free(c->data_dir);
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
