/*
 * c-ares glue. c-ares says which sockets to watch (sock_state_cb); each
 * gets a persistent libevent event that hands readiness to
 * ares_process_fd. c-ares's own retransmissions need a timer: one, armed
 * while questions are out, at the deadline ares_timeout gives (which
 * walks every question, so it is asked only when the timer is set, not
 * after every packet).
 */
#include "stub.h"

#include <arpa/inet.h>
#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/clock.h"
#include "lib/xmalloc.h"

#define EDNS_SIZE 1232		/* the DNS flag day 2020 size: no fragments */
#define FIRST_TRY_MS 250	/* doubled at each round over the servers */
#define TRIES 7		/* 250 ms doubled six times: 32 s, past every deadline of
			 * ours (each query's own timer decides) */
/* One socket takes every answer: a burst of hundreds while the loop is
 * busy must wait in its buffer, not be dropped and asked again after
 * FIRST_TRY_MS (the kernel caps this at net.core.rmem_max). */
#define RCVBUF (1 << 20)
#define CLASS_IN 1

struct watched {
	struct watched *next;
	ares_socket_t fd;
	struct event *ev;
};

struct dns_stub {
	struct event_base *base;
	ares_channel channel;
	struct watched *watched;
	struct event *timer;
	struct timespec timer_at;	/* when the armed timer fires */
	size_t out;		/* questions sent, not yet called back */
};

/* One question on its way. */
struct stub_req {
	struct dns_stub *s;
	dns_stub_cb *cb;
	void *arg;
	bool sending;		/* inside ares_send */
	bool done_early;	/* c-ares failed it inside ares_send */
};

static bool
loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return false;		/* a name: not known to be here */
}

bool
dns_stub_suits(const struct hostport *servers, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!loopback(servers[i].host))
			return false;
	return true;
}

static void
set_timer(struct dns_stub *s, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	s->timer_at = clock_mono_after_ms(ms);
	evtimer_add(s->timer, &tv);
}

/*
 * After a question went out or packets were read: any retransmission
 * c-ares has just scheduled is at least FIRST_TRY_MS away, so the timer
 * must fire by then (it may be armed later, for an older question's
 * later try). It fires early at worst, and then asks c-ares.
 */
static void
arm_timer(struct dns_stub *s)
{
	struct timespec limit;

	if (s->out == 0)
		return;
	limit = clock_mono_after_ms(FIRST_TRY_MS);
	if (evtimer_pending(s->timer, NULL) && !clock_before(&limit, &s->timer_at))
		return;
	set_timer(s, FIRST_TRY_MS);
}

static void
on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct dns_stub *s = arg;

	ares_process_fd(s->channel, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	arm_timer(s);
}

/* c-ares's earliest deadline (ares_timeout walks every question: only
 * here, at most every FIRST_TRY_MS) */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_stub *s = arg;
	struct timeval tv, *next;

	ares_process_fd(s->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	if (s->out == 0 || (next = ares_timeout(s->channel, NULL, &tv)) == NULL)
		return;
	set_timer(s, next->tv_sec * 1000 + next->tv_usec / 1000 + 1);
}

/* c-ares opens, changes or closes a socket: watch it as it says. */
static void
on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_stub *s = data;
	struct watched **pp, *w;

	for (pp = &s->watched; (w = *pp) != NULL; pp = &w->next)
		if (w->fd == fd)
			break;
	if (w != NULL) {
		event_free(w->ev);
		if (!readable && !writable) {
			*pp = w->next;
			free(w);
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		w = xcalloc(1, sizeof(*w));
		w->fd = fd;
		w->next = s->watched;
		s->watched = w;
	}
	w->ev = event_new(s->base, fd, EV_PERSIST | (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0), on_socket, s);
	event_add(w->ev, NULL);
}

static void
on_ares(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct stub_req *req = arg;
	struct dns_stub *s = req->s;
	enum dns_stub_result result;

	s->out--;
	if (req->sending) {
		/* failed before it left: dns_stub_send says so itself */
		req->done_early = true;
		return;
	}
	switch (status) {
	case ARES_SUCCESS:
		result = abuf != NULL && alen > 0 ? DNS_STUB_REPLY : DNS_STUB_FAILED;
		break;
	case ARES_ETIMEOUT:
		result = DNS_STUB_TIMEOUT;
		break;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		result = DNS_STUB_GONE;
		break;
	default:
		result = DNS_STUB_FAILED;
		break;
	}
	req->cb(req->arg, result, result == DNS_STUB_REPLY ? (const char *)abuf : NULL,
	    result == DNS_STUB_REPLY ? (size_t)alen : 0);
	free(req);
}

struct dns_stub *
dns_stub_new(struct event_base *base, const struct hostport *servers, size_t n, char **err)
{
	struct dns_stub *s = xcalloc(1, sizeof(*s));
	struct ares_options o;
	char *csv = NULL;
	size_t used = 0;
	int rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		*err = xasprintf("c-ares: %s", ares_strerror(rc));
		free(s);
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	/* names are asked as given: no search list, no HOSTALIASES, no
	 * /etc/hosts (the forwarder is the only source); the socket stays
	 * open between bursts; a SERVFAIL or REFUSED is an answer, with its
	 * rcode, as libunbound gives it, not a reason to ask TRIES times.
	 * EDNS: c-ares 1.18 takes UDP replies up to ednspsz only with the
	 * flag (without it, any reply over 512 octets is asked again over
	 * TCP); a forwarder answering FORMERR without OPT turns it off for
	 * the channel. */
	o.flags = ARES_FLAG_EDNS | ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
	    ARES_FLAG_STAYOPEN | ARES_FLAG_NOCHECKRESP;
	o.ednspsz = EDNS_SIZE;
	o.timeout = FIRST_TRY_MS;
	o.tries = TRIES;
	o.socket_receive_buffer_size = RCVBUF;
	o.ndomains = 0;
	o.domains = NULL;
	o.lookups = (char *)"b";
	o.sock_state_cb = on_sock_state;
	o.sock_state_cb_data = s;
	s->base = base;
	rc = ares_init_options(&s->channel, &o, ARES_OPT_FLAGS | ARES_OPT_EDNSPSZ |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS | ARES_OPT_LOOKUPS |
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_NOROTATE | ARES_OPT_SOCK_RCVBUF);
	if (rc != ARES_SUCCESS) {
		*err = xasprintf("c-ares: %s", ares_strerror(rc));
		ares_library_cleanup();
		free(s);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		bool v6 = strchr(servers[i].host, ':') != NULL;
		size_t need = strlen(servers[i].host) + 16;
		csv = xrealloc(csv, used + need);
		used += (size_t)snprintf(csv + used, need, "%s%s%s%s:%u", i ? "," : "",
		    v6 ? "[" : "", servers[i].host, v6 ? "]" : "", servers[i].port);
	}
	rc = ares_set_servers_ports_csv(s->channel, csv != NULL ? csv : "");
	free(csv);
	if (rc != ARES_SUCCESS) {
		*err = xasprintf("c-ares: the forwarders: %s", ares_strerror(rc));
		ares_destroy(s->channel);
		ares_library_cleanup();
		free(s);
		return NULL;
	}
	s->timer = evtimer_new(base, on_timer, s);
	return s;
}

void
dns_stub_free(struct dns_stub *s)
{
	if (s == NULL)
		return;
	/* runs the pending callbacks (DNS_STUB_GONE) and closes the
	 * sockets, each through on_sock_state */
	ares_destroy(s->channel);
	while (s->watched != NULL) {
		struct watched *w = s->watched;
		s->watched = w->next;
		event_free(w->ev);
		free(w);
	}
	event_free(s->timer);
	ares_library_cleanup();
	free(s);
}

int
dns_stub_send(struct dns_stub *s, const char *name, int type, dns_stub_cb *cb, void *arg)
{
	unsigned char *qbuf = NULL;
	int qlen = 0, rc;
	struct stub_req *req;

	/* c-ares 1.18 sends the id it is given (later versions pick one):
	 * a random one, or every answer is matched by its question alone */
	rc = ares_create_query(name, CLASS_IN, type, (unsigned short)arc4random_uniform(65536), 1,
	    &qbuf, &qlen, EDNS_SIZE);
	if (rc == ARES_ENOTFOUND)
		return DNS_STUB_NO_SUCH_NAME;	/* .onion (RFC 7686 2) */
	if (rc != ARES_SUCCESS)
		return -1;
	req = xcalloc(1, sizeof(*req));
	req->s = s;
	req->cb = cb;
	req->arg = arg;
	req->sending = true;
	s->out++;
	ares_send(s->channel, qbuf, qlen, on_ares, req);
	ares_free_string(qbuf);
	if (req->done_early) {
		free(req);
		return -1;
	}
	req->sending = false;
	arm_timer(s);
	return 0;
}
