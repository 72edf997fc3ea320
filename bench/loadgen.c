/* SMTP load generator of bench/pipeline.sh: sends prepared messages from
 * many loopback source addresses, one message per connection, SESSIONS
 * connections at a time, and times every end of DATA until its reply.
 * Bounded in count (--count) and time (--time, then --grace); loopback only.
 *
 * --plan FILE: one line per prepared item, "OFFSET LEN SRCIP HELO FROM RCPT"
 * (tab-separated); OFFSET/LEN locate the item's DATA (dot-stuffed, CRLF,
 * ending with ".\r\n") in --data FILE.  Message j uses item j % items.
 * Prints key=value lines; --outcomes FILE gets "j item code stage" per message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

struct item {
	size_t off, len;
	struct in_addr src;
	char *helo, *from, *rcpt;
};

enum st { S_CONNECT, S_BANNER, S_EHLO, S_MAIL, S_RCPT, S_DATA, S_BODY, S_DOT, S_QUIT };
static const char *st_name[] = { "connect", "banner", "ehlo", "mail", "rcpt", "data", "body", "dot", "quit" };

struct conn {
	int fd;
	enum st st;
	long j;
	size_t item;
	char rbuf[8192];
	size_t rlen;
	char cmd[1200];
	const char *wp; /* pending write */
	size_t wlen, woff;
	double t_dot, deadline;
	double t_stage;	/* when the current stage began */
	int code; /* final reply to the message */
};

static struct item *items;
static size_t nitems;
static const char *data;
static size_t data_len;
static struct sockaddr_in dst;
static double stage_sum[9];
static long stage_n[9];
static double *lat;
static long nlat;
static long n_started, n_ok, n_5xx, n_4xx, n_err, n_done;
static long stage_5xx[9], stage_4xx[9], stage_err[9];
static FILE *outcomes;

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
die(const char *m)
{
	perror(m);
	exit(2);
}

static void
load_plan(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die(path);
	size_t cap = 1024;
	items = calloc(cap, sizeof *items);
	char line[4096];
	while (fgets(line, sizeof line, f) && nitems < 10000000) {
		char ip[64], helo[512], from[512], rcpt[512];
		unsigned long long off, len;
		if (sscanf(line, "%llu\t%llu\t%63s\t%511s\t%511s\t%511s", &off, &len, ip, helo, from, rcpt) != 6)
			continue;
		if (nitems == cap) {
			cap *= 2;
			items = realloc(items, cap * sizeof *items);
			if (!items)
				die("realloc");
		}
		struct item *it = &items[nitems];
		if (inet_pton(AF_INET, ip, &it->src) != 1 || (ntohl(it->src.s_addr) >> 24) != 127) {
			fprintf(stderr, "loadgen: source %s is not in 127.0.0.0/8\n", ip);
			exit(2);
		}
		if (off + len > data_len || len < 3) {
			fprintf(stderr, "loadgen: item %zu outside the data file\n", nitems);
			exit(2);
		}
		it->off = off;
		it->len = len;
		it->helo = strdup(helo);
		it->from = strcmp(from, "-") ? strdup(from) : strdup("");
		it->rcpt = strdup(rcpt);
		nitems++;
	}
	fclose(f);
	if (nitems == 0) {
		fprintf(stderr, "loadgen: no items in %s\n", path);
		exit(2);
	}
}

static void
finish(struct conn *c, int epfd, int code)
{
	/* code: reply to the message (250 accepted, 4xx/5xx refused), or 0 */
	if (c->st != S_QUIT) {
		c->code = code;
		if (code >= 200 && code < 300 && c->st == S_DOT) {
			n_ok++;
			lat[nlat++] = (now() - c->t_dot) * 1000.0;
		} else if (code >= 500) {
			n_5xx++;
			stage_5xx[c->st]++;
		} else if (code >= 400) {
			n_4xx++;
			stage_4xx[c->st]++;
		} else {
			n_err++;
			stage_err[c->st]++;
		}
		if (outcomes)
			fprintf(outcomes, "%ld\t%zu\t%d\t%s\n", c->j, c->item, code, st_name[c->st]);
	}
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	n_done++;
}

static void
want(struct conn *c, int epfd, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

static void
send_cmd(struct conn *c, int epfd, enum st next, const char *fmt, const char *arg)
{
	int n = snprintf(c->cmd, sizeof c->cmd, fmt, arg);
	c->wp = c->cmd;
	c->wlen = (size_t)n;
	c->woff = 0;
	c->st = next;
	want(c, epfd, EPOLLOUT);
}

static int
start(struct conn *c, int epfd, long j, double conn_timeout)
{
	struct item *it = &items[j % (long)nitems];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr = it->src };
	if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
		close(fd);
		return -1;
	}
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->j = j;
	c->item = (size_t)(j % (long)nitems);
	c->st = S_CONNECT;
	c->deadline = now() + conn_timeout;
	c->t_stage = now();
	n_started++;
	if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
		struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
		finish(c, epfd, 0);
		return 0;
	}
	struct epoll_event e = { .events = EPOLLOUT, .data.ptr = c };
	epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
	return 0;
}

/* a complete reply in rbuf: return its code and drop it, or 0 */
static int
take_reply(struct conn *c)
{
	size_t p = 0;
	while (p < c->rlen) {
		char *nl = memchr(c->rbuf + p, '\n', c->rlen - p);
		if (!nl)
			return 0;
		size_t ll = (size_t)(nl - (c->rbuf + p)) + 1;
		const char *l = c->rbuf + p;
		if (ll < 4 || l[3] != '-') {
			int code = (ll >= 3) ? (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0') : 999;
			p += ll;
			memmove(c->rbuf, c->rbuf + p, c->rlen - p);
			c->rlen -= p;
			return code;
		}
		p += ll;
	}
	return 0;
}

/* the stage c was in ends: its time counts for the stage's mean */
static void
stage_end(struct conn *c)
{
	double t = now();

	stage_sum[c->st] += t - c->t_stage;
	stage_n[c->st]++;
	c->t_stage = t;
}

static void
on_reply(struct conn *c, int epfd, int code)
{
	struct item *it = &items[c->item];

	stage_end(c);
	switch (c->st) {
	case S_BANNER:
		if (code != 220)
			return finish(c, epfd, code);
		return send_cmd(c, epfd, S_EHLO, "EHLO %s\r\n", it->helo);
	case S_EHLO:
		if (code != 250)
			return finish(c, epfd, code);
		return send_cmd(c, epfd, S_MAIL, "MAIL FROM:<%s>\r\n", it->from);
	case S_MAIL:
		if (code != 250)
			return finish(c, epfd, code);
		return send_cmd(c, epfd, S_RCPT, "RCPT TO:<%s>\r\n", it->rcpt);
	case S_RCPT:
		if (code != 250 && code != 251)
			return finish(c, epfd, code);
		return send_cmd(c, epfd, S_DATA, "DATA\r\n%s", "");
	case S_DATA:
		if (code != 354)
			return finish(c, epfd, code);
		c->wp = data + it->off;
		c->wlen = it->len;
		c->woff = 0;
		c->st = S_BODY;
		return want(c, epfd, EPOLLOUT);
	case S_DOT: {
		/* record the answer to the message, then QUIT politely */
		enum st was = c->st;
		c->code = code;
		if (code >= 200 && code < 300) {
			n_ok++;
			lat[nlat++] = (now() - c->t_dot) * 1000.0;
		} else if (code >= 500) {
			n_5xx++;
			stage_5xx[was]++;
		} else {
			n_4xx++;
			stage_4xx[was]++;
		}
		if (outcomes)
			fprintf(outcomes, "%ld\t%zu\t%d\t%s\n", c->j, c->item, code, st_name[was]);
		return send_cmd(c, epfd, S_QUIT, "QUIT\r\n%s", "");
	}
	case S_QUIT:
		return finish(c, epfd, code);
	default:
		return finish(c, epfd, 0);
	}
}

static void
on_event(struct conn *c, int epfd, uint32_t ev)
{
	if (c->st == S_CONNECT) {
		int err = 0;
		socklen_t l = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err)
			return finish(c, epfd, 0);
		stage_end(c);
		c->st = S_BANNER;
		return want(c, epfd, EPOLLIN);
	}
	if ((ev & EPOLLOUT) && c->wp) {
		while (c->woff < c->wlen) {
			ssize_t n = send(c->fd, c->wp + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN)
					return;
				return finish(c, epfd, 0);
			}
			c->woff += (size_t)n;
		}
		c->wp = NULL;
		if (c->st == S_BODY) {
			stage_end(c);
			c->st = S_DOT;
			c->t_dot = now();
		}
		return want(c, epfd, EPOLLIN);
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (c->rlen >= sizeof c->rbuf - 1)
			return finish(c, epfd, 0);
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - 1 - c->rlen, 0);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			if (c->st == S_QUIT)
				return finish(c, epfd, 221);
			return finish(c, epfd, 0);
		}
		c->rlen += (size_t)n;
		int code;
		while (c->fd >= 0 && c->wp == NULL && (code = take_reply(c)) != 0)
			on_reply(c, epfd, code);
	}
}

static int
cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(double p)
{
	if (nlat == 0)
		return 0;
	long i = (long)(p * (double)(nlat - 1) + 0.5);
	return lat[i];
}

int
main(int argc, char **argv)
{
	const char *plan = NULL, *datafile = NULL, *host = "127.0.0.1", *outf = NULL;
	int port = 25, sessions = 20;
	long count = 1000;
	double tlimit = 600, grace = 120, conn_timeout = 300;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--plan")) plan = v;
		else if (!strcmp(k, "--data")) datafile = v;
		else if (!strcmp(k, "--host")) host = v;
		else if (!strcmp(k, "--port")) port = atoi(v);
		else if (!strcmp(k, "--count")) count = atol(v);
		else if (!strcmp(k, "--sessions")) sessions = atoi(v);
		else if (!strcmp(k, "--time")) tlimit = atof(v);
		else if (!strcmp(k, "--grace")) grace = atof(v);
		else if (!strcmp(k, "--conn-timeout")) conn_timeout = atof(v);
		else if (!strcmp(k, "--outcomes")) outf = v;
		else {
			fprintf(stderr, "loadgen: unknown option %s\n", k);
			return 2;
		}
	}
	if (!plan || !datafile || count < 1 || count > 10000000 || sessions < 1 || sessions > 4096) {
		fprintf(stderr, "usage: loadgen --plan F --data F --port P [--host 127.x.y.z] [--count N]"
				" [--sessions S] [--time S] [--grace S] [--conn-timeout S] [--outcomes F]\n");
		return 2;
	}
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1 || (ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "loadgen: --host must be a 127.0.0.0/8 address\n");
		return 2;
	}
	int dfd = open(datafile, O_RDONLY);
	struct stat sb;
	if (dfd < 0 || fstat(dfd, &sb) < 0)
		die(datafile);
	data_len = (size_t)sb.st_size;
	data = mmap(NULL, data_len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, dfd, 0);
	if (data == MAP_FAILED)
		die("mmap");
	load_plan(plan);
	if (outf && !(outcomes = fopen(outf, "w")))
		die(outf);
	lat = calloc((size_t)count, sizeof *lat);
	struct conn *conns = calloc((size_t)sessions, sizeof *conns);
	if (!lat || !conns)
		die("calloc");
	for (int i = 0; i < sessions; i++)
		conns[i].fd = -1;
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event evs[256];
	double t0 = now(), stop_start = t0 + tlimit, hard = stop_start + grace;
	long next = 0;
	int timed_out = 0, bind_fail = 0;
	for (;;) {
		double t = now();
		for (int i = 0; i < sessions; i++) {
			if (conns[i].fd >= 0 && t > conns[i].deadline)
				finish(&conns[i], epfd, 0);
			if (conns[i].fd < 0 && next < count && t < stop_start) {
				if (start(&conns[i], epfd, next, conn_timeout) < 0) {
					bind_fail++;
					if (bind_fail > 1000)
						die("socket/bind");
					continue;
				}
				next++;
			}
		}
		int active = 0;
		for (int i = 0; i < sessions; i++)
			active += conns[i].fd >= 0;
		if (active == 0 && (next >= count || t >= stop_start))
			break;
		if (t > hard) {
			timed_out = 1;
			for (int i = 0; i < sessions; i++)
				if (conns[i].fd >= 0)
					finish(&conns[i], epfd, 0);
			break;
		}
		int n = epoll_wait(epfd, evs, 256, 100);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c->fd >= 0)
				on_event(c, epfd, evs[i].events);
		}
	}
	double secs = now() - t0;
	if (outcomes)
		fclose(outcomes);
	qsort(lat, (size_t)nlat, sizeof *lat, cmpd);
	double sum = 0;
	for (long i = 0; i < nlat; i++)
		sum += lat[i];
	printf("requested=%ld\n", count);
	printf("started=%ld\n", n_started);
	printf("accepted=%ld\n", n_ok);
	printf("refused=%ld\n", n_5xx);
	printf("tempfailed=%ld\n", n_4xx);
	printf("errors=%ld\n", n_err);
	printf("time_capped=%d\n", next < count);
	printf("timed_out=%d\n", timed_out);
	printf("seconds=%.3f\n", secs);
	printf("lat_p50_ms=%.2f\n", pct(0.50));
	printf("lat_p99_ms=%.2f\n", pct(0.99));
	printf("lat_mean_ms=%.2f\n", nlat ? sum / (double)nlat : 0.0);
	for (int s = 0; s < 9; s++)
		if (stage_n[s])
			printf("mean_ms_%s=%.2f\n", st_name[s], stage_sum[s] * 1000.0 / (double)stage_n[s]);
	for (int s = 0; s < 9; s++) {
		if (stage_5xx[s])
			printf("refused_%s=%ld\n", st_name[s], stage_5xx[s]);
		if (stage_4xx[s])
			printf("tempfailed_%s=%ld\n", st_name[s], stage_4xx[s]);
		if (stage_err[s])
			printf("errors_%s=%ld\n", st_name[s], stage_err[s]);
	}
	return 0;
}
