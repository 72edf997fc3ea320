/*
 * Relay self-test thread: runs the battery listener by listener, then
 * reports once through a pipe to the loop.
 */
#include "selftest.h"

#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xmalloc.h"
#include "policy/relaytest.h"

struct selftest {
	struct selftest_target targets[SELFTEST_TARGETS_MAX];
	size_t n;
	char helo[128];
	pthread_t thread;
	int pipe[2];
	struct event *ev;
	selftest_cb *cb;
	void *arg;
	unsigned attempts, relayed;
	char error[600];
	bool reported;
};

void
selftest_make_helo(char *out, size_t outlen)
{
	unsigned char r[8];

	randombytes_buf(r, sizeof(r));
	snprintf(out, outlen, "relaytest-%02x%02x%02x%02x%02x%02x%02x%02x.invalid",
	    r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

static void *
run(void *arg)
{
	struct selftest *st = arg;
	char byte = 1;

	for (size_t i = 0; i < st->n; i++) {
		struct relaytest_options opt = { 0 };
		struct relaytest_result res;
		const char *host = st->targets[i].addr.host;

		/* [::] and * are dual stack (smtp/server.c): IPv4 loopback
		 * reaches them too, from the source below that takes no
		 * client's slot, and works on a host without IPv6 */
		if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0 ||
		    strcmp(host, "::") == 0)
			host = "127.0.0.1";
		opt.host = host;
		opt.port = st->targets[i].addr.port;
		opt.to = "relaytest@example.com";
		opt.implicit_tls = st->targets[i].implicit_tls;
		opt.helo = st->helo;
		/* from a loopback address of its own, so the self-test does not
		 * take a slot of 127.0.0.1's max_connections_per_ip */
		if (strncmp(host, "127.", 4) == 0)
			opt.source = SELFTEST_SOURCE;
		opt.timeout = 20;
		if (relaytest_run(&opt, &res) == 2 && st->error[0] == '\0')
			snprintf(st->error, sizeof(st->error), "%s:%u: %s", host, opt.port, res.error);
		st->attempts += res.attempts;
		st->relayed += res.relayed;
	}
	(void)!write(st->pipe[1], &byte, 1);
	return NULL;
}

static void
on_done(evutil_socket_t fd, short what, void *arg)
{
	struct selftest *st = arg;
	char buf[8];

	(void)!read(fd, buf, sizeof(buf));
	if (st->reported)
		return;
	st->reported = true;
	st->cb(st->arg, st->attempts, st->relayed, st->error[0] ? st->error : NULL);
}

struct selftest *
selftest_start(struct event_base *base, const struct selftest_target *targets, size_t n,
    const char *helo, selftest_cb *cb, void *arg)
{
	struct selftest *st = xcalloc(1, sizeof(*st));

	st->n = n < SELFTEST_TARGETS_MAX ? n : SELFTEST_TARGETS_MAX;
	memcpy(st->targets, targets, st->n * sizeof(*targets));
	snprintf(st->helo, sizeof(st->helo), "%s", helo);
	st->cb = cb;
	st->arg = arg;
	if (pipe2(st->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		free(st);
		return NULL;
	}
	st->ev = event_new(base, st->pipe[0], EV_READ, on_done, st);
	event_add(st->ev, NULL);
	if (pthread_create(&st->thread, NULL, run, st) != 0) {
		event_free(st->ev);
		close(st->pipe[0]);
		close(st->pipe[1]);
		free(st);
		return NULL;
	}
	return st;
}

void
selftest_free(struct selftest *st)
{
	if (st == NULL)
		return;
	st->reported = true;
	pthread_join(st->thread, NULL);
	event_free(st->ev);
	close(st->pipe[0]);
	close(st->pipe[1]);
	free(st);
}
