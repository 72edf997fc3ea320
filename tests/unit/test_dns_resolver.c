/*
 * Tests of the resolver (src/dns/resolver.h) forwarding to a tiny DNS
 * responder on 127.0.0.1 (a thread here), run twice: through the c-ares
 * stub (what a forwarder on this host gets) and through libunbound (what
 * remote forwarders and DNSSEC get). Every
 * A question gets 192.0.2.N (N: how many questions it has seen) with TTL
 * 0, so nothing is cached, after DELAY_MS, so queries overlap. Queries
 * for the same name while one is on its way share it: each still gets
 * its answer, its own deadline and its own cancel. Bounded: the loop
 * runs at most LOOP_S seconds, the responder stops with the test.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/resolver.h"
#include "dns/stub.h"

#define DELAY_MS 200
#define LOOP_S 10

static int dns_fd = -1;
static unsigned short dns_port;
static volatile int stop;
static volatile int questions;
static pthread_t thread;
static bool via_libunbound;	/* the second run */
/* What the responder saw: the ids of the last questions, and whether
 * it has dropped the first "drop1" question yet. */
#define IDS_KEPT 64
static volatile unsigned ids[IDS_KEPT];
static volatile int nids;
static volatile int dropped;

/*
 * NXDOMAIN for the question in b (q octets), with an OPT record (an EDNS
 * answer's) and, when the name starts "nxsoa", the SOA of RFC 2308 (TTL
 * and minimum 300) in the authority section, or when it starts "nxns"
 * an NS record there instead.
 */
static void
nx_answer(unsigned char *b, size_t q, const struct sockaddr *to, socklen_t tl)
{
	bool soa = b[12] >= 5 && memcmp(b + 13, "nxsoa", 5) == 0;
	bool ns = b[12] >= 4 && memcmp(b + 13, "nxns", 4) == 0;
	static const unsigned char soa_rr[] = {
		0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 1, 44, 0, 22, 0, 0,
		0, 0, 0, 1, 0, 0, 14, 16, 0, 0, 7, 8, 0, 9, 58, 128, 0, 0, 1, 44,
	};
	static const unsigned char ns_rr[] = {
		0xc0, 0x0c, 0, 2, 0, 1, 0, 0, 1, 44, 0, 5, 2, 'n', 's', 0xc0, 0x0c,
	};
	static const unsigned char opt_rr[] = { 0, 0, 41, 4, 208, 0, 0, 128, 0, 0, 0 };

	b[2] = 0x81;
	b[3] = 0x83;
	b[6] = b[7] = b[8] = b[10] = 0;
	b[9] = soa || ns ? 1 : 0;
	b[11] = 1;
	if (soa) {
		memcpy(b + q, soa_rr, sizeof(soa_rr));
		q += sizeof(soa_rr);
	} else if (ns) {
		memcpy(b + q, ns_rr, sizeof(ns_rr));
		q += sizeof(ns_rr);
	}
	memcpy(b + q, opt_rr, sizeof(opt_rr));
	sendto(dns_fd, b, q + sizeof(opt_rr), 0, to, tl);
}

/* Answers every question after DELAY_MS: copies the question, QR RA,
 * one A record 192.0.2.<count> TTL 0 (pointer to the question's name);
 * names starting "nx" do not exist (nx_answer). */
static void *
responder(void *arg)
{
	(void)arg;
	while (!stop) {
		unsigned char b[512];
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		struct pollfd pfd = { dns_fd, POLLIN, 0 };
		ssize_t n;
		size_t q;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = recvfrom(dns_fd, b, sizeof(b) - 64, 0, (struct sockaddr *)&from, &fl);
		if (n < 17)
			continue;
		/* the question: name, type, class; drop any OPT record */
		for (q = 12; q < (size_t)n && b[q] != 0; q += 1 + b[q])
			;
		q += 5;
		if (q > (size_t)n)
			continue;
		questions++;
		ids[nids++ % IDS_KEPT] = ((unsigned)b[0] << 8) | b[1];
		if (b[12] >= 4 && memcmp(b + 13, "hole", 4) == 0)
			continue;	/* a forwarder that never answers */
		if (b[12] >= 5 && memcmp(b + 13, "drop1", 5) == 0 && !dropped) {
			dropped = 1;	/* the first packet is lost */
			continue;
		}
		usleep(DELAY_MS * 1000);
		if (b[12] >= 2 && b[13] == 's' && b[14] == 'f') {
			b[2] = 0x81;
			b[3] = 0x82;	/* SERVFAIL, no record */
			b[6] = b[7] = b[8] = b[9] = b[10] = b[11] = 0;
			sendto(dns_fd, b, q, 0, (struct sockaddr *)&from, fl);
			continue;
		}
		if (b[12] >= 2 && b[13] == 'n' && b[14] == 'x') {
			nx_answer(b, q, (struct sockaddr *)&from, fl);
			continue;
		}
		b[2] = 0x81;
		b[3] = 0x80;
		b[6] = 0;
		b[7] = 1;	/* one answer */
		b[8] = b[9] = b[10] = b[11] = 0;
		memcpy(b + q, "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\xc0\x00\x02", 15);
		b[q + 15] = (unsigned char)questions;
		sendto(dns_fd, b, q + 16, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static int
setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (dns_fd == -1 || bind(dns_fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    getsockname(dns_fd, (struct sockaddr *)&a, &al) == -1)
		return -1;
	dns_port = ntohs(a.sin_port);
	stop = 0;
	nids = 0;
	dropped = 0;
	return pthread_create(&thread, NULL, responder, NULL) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	stop = 1;
	pthread_join(thread, NULL);
	close(dns_fd);
	return 0;
}

/* What one query got. */
struct got {
	bool done;
	enum dns_status status;
	int last_octet;		/* of the first A record, or -1 */
	struct dns_query **cancel;	/* a query this callback cancels */
	int *pending;
	struct event_base *base;
};

static void
on_done(void *arg, const struct dns_answer *ans)
{
	struct got *g = arg;

	g->done = true;
	g->status = ans->status;
	g->last_octet = ans->status == DNS_OK && ans->count > 0 && ans->len[0] == 4 ?
	    (unsigned char)ans->data[0][3] : -1;
	if (g->cancel != NULL && *g->cancel != NULL) {
		dns_cancel(*g->cancel);
		*g->cancel = NULL;
		(*g->pending)--;
	}
	if (--*g->pending == 0)
		event_base_loopbreak(g->base);
}

static struct resolver *
new_resolver(struct event_base *base)
{
	struct hostport fwd;
	struct resolver_options opt = { .forwarders = &fwd, .nforwarders = 1,
	    .libunbound_only = via_libunbound };
	struct resolver *r;
	char *err = NULL;

	memset(&fwd, 0, sizeof(fwd));
	snprintf(fwd.host, sizeof(fwd.host), "127.0.0.1");
	fwd.port = dns_port;
	r = resolver_new(base, &opt, &err);
	if (r == NULL)
		print_error("resolver_new: %s\n", err);
	assert_non_null(r);
	return r;
}

static void
run(struct event_base *base)
{
	struct timeval tv = { LOOP_S, 0 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Two queries for one name at once: one question, both answered, with
 * the same record; a third after them asks again. Names in any case. */
static void
test_shared_lookup(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	int pending = 2;
	struct got a = { .pending = &pending, .base = base }, b = a, c = a;

	(void)state;
	dns_query(r, "one.example.test", DNS_TYPE_A, 5000, on_done, &a);
	dns_query(r, "ONE.example.test.", DNS_TYPE_A, 5000, on_done, &b);
	assert_int_equal(resolver_lookups(r), 1);
	run(base);
	assert_true(a.done && b.done);
	assert_int_equal(a.status, DNS_OK);
	assert_int_equal(b.status, DNS_OK);
	assert_int_equal(a.last_octet, b.last_octet);
	/* answered (TTL 0: not kept): the next query is a new question */
	pending = 1;
	dns_query(r, "one.example.test", DNS_TYPE_A, 5000, on_done, &c);
	assert_int_equal(resolver_lookups(r), 2);
	run(base);
	assert_true(c.done);
	assert_int_equal(c.status, DNS_OK);
	assert_int_not_equal(c.last_octet, a.last_octet);
	assert_int_equal(resolver_queries(r), 3);
	resolver_free(r);
	event_base_free(base);
}

/* One query for name, run to its answer; its status. */
static enum dns_status
ask(struct event_base *base, struct resolver *r, const char *name)
{
	int pending = 1;
	struct got g = { .pending = &pending, .base = base };

	dns_query(r, name, DNS_TYPE_A, 5000, on_done, &g);
	run(base);
	assert_true(g.done);
	return g.status;
}

/* RFC 2308 5: a name that does not exist is remembered for its SOA's
 * minimum; an answer without an SOA is not remembered at all (before,
 * libunbound's TTL for it, the DO bit of an OPT record: 32768 s, was cut
 * to an hour, and a listing published meanwhile went unseen that long). */
static void
test_negative_answers_kept_by_their_soa(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	unsigned long before;

	(void)state;
	assert_int_equal(ask(base, r, "nxnosoa.example.test"), DNS_NXDOMAIN);
	before = resolver_lookups(r);
	assert_int_equal(ask(base, r, "nxnosoa.example.test"), DNS_NXDOMAIN);
	assert_int_equal(resolver_lookups(r), before + 1);
	/* an authority section without an SOA is none */
	assert_int_equal(ask(base, r, "nxns.example.test"), DNS_NXDOMAIN);
	before = resolver_lookups(r);
	assert_int_equal(ask(base, r, "nxns.example.test"), DNS_NXDOMAIN);
	assert_int_equal(resolver_lookups(r), before + 1);
	assert_int_equal(ask(base, r, "nxsoa.example.test"), DNS_NXDOMAIN);
	before = resolver_lookups(r);
	assert_int_equal(ask(base, r, "nxsoa.example.test"), DNS_NXDOMAIN);
	assert_int_equal(resolver_lookups(r), before);
	resolver_free(r);
	event_base_free(base);
}

/* Each query keeps its own deadline and its own cancel. */
static void
test_shared_deadline_and_cancel(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	int pending = 3;
	struct got shortq = { .pending = &pending, .base = base }, longq = shortq, gone = shortq,
	    other = shortq;
	struct dns_query *g;

	(void)state;
	/* the first to ask gives up before the answer, the second waits */
	dns_query(r, "two.example.test", DNS_TYPE_A, 10, on_done, &shortq);
	dns_query(r, "two.example.test", DNS_TYPE_A, 5000, on_done, &longq);
	/* cancelled: never called back; the others still answered */
	g = dns_query(r, "two.example.test", DNS_TYPE_A, 5000, on_done, &gone);
	dns_query(r, "three.example.test", DNS_TYPE_AAAA, 5000, on_done, &other);
	dns_cancel(g);
	assert_int_equal(resolver_lookups(r), 2);
	run(base);
	assert_true(shortq.done && longq.done && other.done);
	assert_false(gone.done);
	assert_int_equal(shortq.status, DNS_TIMEOUT);
	assert_int_equal(longq.status, DNS_OK);
	resolver_free(r);
	event_base_free(base);
}

/* A callback cancels another query waiting for the same answer; a query
 * left alone and cancelled gives up its lookup (no call back, no crash
 * when the answer comes). */
static void
test_cancel_from_callback(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	int pending = 3;	/* first, second (cancelled by first) and third */
	struct got first = { .pending = &pending, .base = base }, second = first, third = first,
	    alone = first;
	struct dns_query *q2, *q4;

	(void)state;
	dns_query(r, "four.example.test", DNS_TYPE_A, 5000, on_done, &first);
	q2 = dns_query(r, "four.example.test", DNS_TYPE_A, 5000, on_done, &second);
	dns_query(r, "four.example.test", DNS_TYPE_A, 5000, on_done, &third);
	first.cancel = &q2;	/* the first callback cancels the second query */
	q4 = dns_query(r, "five.example.test", DNS_TYPE_A, 5000, on_done, &alone);
	dns_cancel(q4);
	run(base);
	assert_true(first.done && third.done);
	assert_false(second.done);
	assert_false(alone.done);
	assert_int_equal(third.status, DNS_OK);
	/* the loop once more, past the cancelled lookup's answer */
	{
		struct timeval tv = { 0, DELAY_MS * 2 * 1000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	assert_false(alone.done);
	resolver_free(r);
	event_base_free(base);
}

/* Freed with a question on its way: its callback never runs, and what
 * waits for the answer is freed (ASan's leak check). */
static void
test_free_with_question_out(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	struct timeval tv = { 0, 50 * 1000 };
	int pending = 1;
	struct got g = { .pending = &pending, .base = base };

	(void)state;
	dns_query(r, "gone.example.", DNS_TYPE_A, 5000, on_done, &g);
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	resolver_free(r);
	assert_false(g.done);
	event_base_free(base);
}

/* A SERVFAIL is an answer: SERVFAIL at once, asked once; a forwarder
 * that never answers: the query's own deadline. */
static void
test_servfail_and_silence(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	int pending = 2, before = questions;
	struct got sf = { .pending = &pending, .base = base }, hole = sf;

	(void)state;
	dns_query(r, "sf.example.test", DNS_TYPE_A, 3000, on_done, &sf);
	dns_query(r, "hole.example.test", DNS_TYPE_A, 600, on_done, &hole);
	run(base);
	assert_true(sf.done && hole.done);
	assert_int_equal(sf.status, DNS_SERVFAIL);
	assert_int_equal(hole.status, DNS_TIMEOUT);
	/* the stub asks the hole again at 250 and 750 ms (before the
	 * deadline: 2 or 3 packets), the SERVFAIL once */
	if (!via_libunbound)
		assert_in_range(questions - before, 3, 4);
	resolver_free(r);
	event_base_free(base);
}

/* Every question has an id of its own (c-ares 1.18 sends the one it is
 * given: zero for all of them, once). */
static void
test_random_ids(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	int pending = 4, first = nids;
	struct got g[4];
	char name[64];
	int distinct = 0;

	(void)state;
	for (int i = 0; i < 4; i++) {
		g[i] = (struct got){ .pending = &pending, .base = base };
		snprintf(name, sizeof(name), "id%d.example.test", i);
		dns_query(r, name, DNS_TYPE_A, 5000, on_done, &g[i]);
	}
	run(base);
	assert_true(nids - first >= 4);
	for (int i = first + 1; i < nids; i++)
		if (ids[i % IDS_KEPT] != ids[first % IDS_KEPT])
			distinct++;
	assert_true(distinct > 0);
	resolver_free(r);
	event_base_free(base);
}

/* .onion names never reach the DNS (RFC 7686 2): NXDOMAIN. */
static void
test_onion(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	int before = questions;

	(void)state;
	assert_int_equal(ask(base, r, "hidden.onion"), DNS_NXDOMAIN);
	assert_int_equal(questions, before);
	resolver_free(r);
	event_base_free(base);
}

struct later {
	struct resolver *r;
	struct got *g;
};

static void
ask_later(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	dns_query(l->r, "drop1.example.test", DNS_TYPE_A, 1200, on_done, l->g);
}

/* A question whose first packet is lost is asked again after 250 ms,
 * even while the timer waits for an older question's far later try
 * (which once held the retry back for seconds). */
static void
test_lost_packet_asked_again(void **state)
{
	struct event_base *base = event_base_new();
	struct resolver *r = new_resolver(base);
	int pending = 2;
	struct got hole = { .pending = &pending, .base = base }, drop = hole;
	struct later l = { r, &drop };
	struct event *t = evtimer_new(base, ask_later, &l);
	struct timeval at = { 1, 800 * 1000 };

	(void)state;
	if (via_libunbound) {
		/* its own retry timers, not ours */
		event_free(t);
		resolver_free(r);
		event_base_free(base);
		skip();
	}
	/* the hole's tries: 0, 250, 750, 1750, then 3750 ms */
	dns_query(r, "hole.example.test", DNS_TYPE_A, 4000, on_done, &hole);
	evtimer_add(t, &at);
	run(base);
	assert_true(drop.done);
	assert_int_equal(drop.status, DNS_OK);
	assert_int_equal(dropped, 1);
	event_free(t);
	resolver_free(r);
	event_base_free(base);
}

/* Which forwarders the stub takes: only addresses of this host. */
static void
test_stub_only_on_loopback(void **state)
{
	static const struct {
		const char *hosts[3];
		bool suits;
	} cases[] = {
		{ { "127.0.0.1" }, true },
		{ { "127.53.0.9" }, true },
		{ { "::1" }, true },
		{ { "127.0.0.1", "::1" }, true },
		{ { "0:0:0:0:0:0:0:1" }, true },
		{ { "128.0.0.1" }, false },
		{ { "192.0.2.53" }, false },
		{ { "::ffff:127.0.0.1" }, false },	/* a v4 peer: not ::1 */
		{ { "2001:db8::1" }, false },
		{ { "127.0.0.1", "192.0.2.53" }, false },
		{ { "localhost" }, false },	/* a name: not known to be here */
		{ { "" }, false },
		{ { NULL }, false },		/* no forwarder: recursion */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hostport hp[3];
		size_t n = 0;
		memset(hp, 0, sizeof(hp));
		for (; n < 3 && cases[i].hosts[n] != NULL; n++) {
			snprintf(hp[n].host, sizeof(hp[n].host), "%s", cases[i].hosts[n]);
			hp[n].port = 53;
		}
		if (dns_stub_suits(hp, n) != cases[i].suits)
			fail_msg("case %zu (%s): expected %d", i,
			    cases[i].hosts[0] ? cases[i].hosts[0] : "none", cases[i].suits);
	}
}

static int
setup_stub(void **state)
{
	via_libunbound = false;
	return setup(state);
}

static int
setup_libunbound(void **state)
{
	via_libunbound = true;
	return setup(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shared_lookup),
		cmocka_unit_test(test_shared_deadline_and_cancel),
		cmocka_unit_test(test_cancel_from_callback),
		cmocka_unit_test(test_negative_answers_kept_by_their_soa),
		cmocka_unit_test(test_free_with_question_out),
		cmocka_unit_test(test_servfail_and_silence),
		cmocka_unit_test(test_random_ids),
		cmocka_unit_test(test_onion),
		cmocka_unit_test(test_lost_packet_asked_again),
	};
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_stub_only_on_loopback),
	};
	int failed = cmocka_run_group_tests_name("stub", tests, setup_stub, teardown);

	failed += cmocka_run_group_tests_name("libunbound", tests, setup_libunbound, teardown);
	return failed + cmocka_run_group_tests(pure, NULL, NULL);
}
