/*
 * Tests of the reply reader (src/dns/reply.h): records at the end of a
 * CNAME chain, names in rdata decompressed, case-insensitive owners, the
 * TTL kept for data and for no data, and a table of malformed messages
 * (truncated, looping pointers, over-long names, wrong question) refused.
 */
#include "unit.h"

#include "dns/reply.h"

/* A message under construction. */
struct msg {
	unsigned char b[1024];
	size_t n;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };
	put(m, b, 2);
}

static void
put32(struct msg *m, unsigned long v)
{
	put16(m, (unsigned)(v >> 16) & 0xFFFF);
	put16(m, (unsigned)v & 0xFFFF);
}

/* "a.b" as labels (no compression). */
static void
put_name(struct msg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		unsigned char lb = (unsigned char)l;
		put(m, &lb, 1);
		put(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	put(m, "", 1);
}

static void
put_ptr(struct msg *m, size_t off)
{
	put16(m, 0xC000 | (unsigned)off);
}

/* Header (QR set, rcode), one question name/type IN. */
static void
start(struct msg *m, int rcode, unsigned an, unsigned ns, const char *qname, unsigned qtype)
{
	m->n = 0;
	put16(m, 0x1234);
	put16(m, 0x8180 | (unsigned)rcode);
	put16(m, 1);
	put16(m, an);
	put16(m, ns);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

/* A record header whose owner is a pointer to off. */
static void
rr_hdr(struct msg *m, size_t owner, unsigned type, unsigned long ttl, unsigned rdlen)
{
	put_ptr(m, owner);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, rdlen);
}

static void
test_a_records(void **state)
{
	struct msg m;
	struct dns_reply r;
	unsigned char a1[4] = { 127, 0, 0, 2 }, a2[4] = { 127, 0, 0, 4 };

	(void)state;
	start(&m, 0, 2, 0, "2.0.0.127.zen.example", 1);
	rr_hdr(&m, 12, 1, 300, 4);
	put(&m, a1, 4);
	rr_hdr(&m, 12, 1, 60, 4);
	put(&m, a2, 4);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 1, &r), 0);
	assert_int_equal(r.rcode, 0);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.len[0], 4);
	assert_memory_equal(r.data[0], a1, 4);
	assert_memory_equal(r.data[1], a2, 4);
	assert_int_equal(r.ttl, 60);
	dns_reply_clear(&r);
	assert_null(r.data);
	dns_reply_clear(&r);	/* twice is harmless */
}

static void
test_cname_chain_and_case(void **state)
{
	struct msg m;
	struct dns_reply r;
	size_t rd;
	unsigned char a[4] = { 192, 0, 2, 7 };

	(void)state;
	/* www.Example.test CNAME host.example.test; HOST.example.test A
	 * (another case, compressed); an A of example.test, outside the
	 * chain, is no answer but its TTL counts */
	start(&m, 0, 3, 0, "www.Example.test", 1);
	rr_hdr(&m, 12, 5, 120, 0);
	rd = m.n;
	put(&m, "\4host", 5);
	put_ptr(&m, 16);	/* "Example.test" of the question */
	m.b[rd - 1] = (unsigned char)(m.n - rd);
	put(&m, "\4HOST", 5);
	put_ptr(&m, 16);
	put16(&m, 1);
	put16(&m, 1);
	put32(&m, 30);
	put16(&m, 4);
	put(&m, a, 4);
	rr_hdr(&m, 16, 1, 10, 4);
	put(&m, "\1\2\3\4", 4);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 1, &r), 0);
	assert_int_equal(r.count, 1);
	assert_memory_equal(r.data[0], a, 4);
	assert_int_equal(r.ttl, 10);	/* the smallest in the answer section */
	dns_reply_clear(&r);

	/* the same CNAME without the target's record: no data */
	start(&m, 0, 1, 0, "www.Example.test", 1);
	rr_hdr(&m, 12, 5, 120, 0);
	rd = m.n;
	put(&m, "\4host", 5);
	put_ptr(&m, 16);
	m.b[rd - 1] = (unsigned char)(m.n - rd);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 1, &r), 0);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.ttl, 120);
	dns_reply_clear(&r);
}

static void
test_ptr_and_mx_decompressed(void **state)
{
	struct msg m;
	struct dns_reply r;
	size_t rd;

	(void)state;
	start(&m, 0, 1, 0, "1.0.30.127.in-addr.arpa", 12);
	rr_hdr(&m, 12, 12, 5, 0);
	rd = m.n;
	put(&m, "\3mx0\2c0", 7);
	put_ptr(&m, 12 + 11);	/* "in-addr.arpa": any name will do */
	m.b[rd - 1] = (unsigned char)(m.n - rd);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 12, &r), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.len[0], 7 + 14);
	assert_memory_equal(r.data[0], "\3mx0\2c0\7in-addr\4arpa\0", 21);
	dns_reply_clear(&r);

	start(&m, 0, 1, 0, "example.test", 15);
	rr_hdr(&m, 12, 15, 5, 0);
	rd = m.n;
	put16(&m, 10);
	put(&m, "\2mx", 3);
	put_ptr(&m, 12);
	m.b[rd - 1] = (unsigned char)(m.n - rd);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 15, &r), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.len[0], 2 + 3 + 14);
	assert_memory_equal(r.data[0], "\0\12\2mx\7example\4test\0", 19);
	dns_reply_clear(&r);
}

static void
test_negative_ttl(void **state)
{
	struct msg m;
	struct dns_reply r;
	size_t rd;

	(void)state;
	/* NXDOMAIN with the zone's SOA in the authority section */
	start(&m, 3, 0, 1, "nx.example.test", 1);
	rr_hdr(&m, 12 + 3, 6, 900, 0);
	rd = m.n;
	put(&m, "\2ns", 3);
	put_ptr(&m, 12 + 3);
	put(&m, "\4host", 5);
	put_ptr(&m, 12 + 3);
	for (int i = 0; i < 5; i++)
		put32(&m, 60);
	m.b[rd - 1] = (unsigned char)(m.n - rd);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 1, &r), 0);
	assert_int_equal(r.rcode, 3);
	assert_int_equal(r.count, 0);
	assert_null(r.data);
	assert_int_equal(r.ttl, 60);	/* its MINIMUM is smaller (RFC 2308 5) */
	assert_true(r.soa);
	dns_reply_clear(&r);

	/* the SOA's own TTL when it is the smaller */
	start(&m, 3, 0, 1, "nx.example.test", 1);
	rr_hdr(&m, 12 + 3, 6, 120, 0);
	rd = m.n;
	put(&m, "\2ns", 3);
	put_ptr(&m, 12 + 3);
	put(&m, "\4host", 5);
	put_ptr(&m, 12 + 3);
	for (int i = 0; i < 5; i++)
		put32(&m, 300);
	m.b[rd - 1] = (unsigned char)(m.n - rd);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 1, &r), 0);
	assert_int_equal(r.ttl, 120);
	dns_reply_clear(&r);

	/* nothing to take a TTL from: not kept; a TTL over 2^31-1 counts 0 */
	start(&m, 3, 0, 0, "nx.example.test", 1);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 1, &r), 0);
	assert_int_equal(r.ttl, 0);
	assert_false(r.soa);
	dns_reply_clear(&r);
	start(&m, 0, 1, 0, "example.test", 16);
	rr_hdr(&m, 12, 16, 0x80000000UL, 3);
	put(&m, "\2hi", 3);
	assert_int_equal(dns_reply_parse((char *)m.b, m.n, 16, &r), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.ttl, 0);
	dns_reply_clear(&r);
}

/* Each case: a message built by the function, refused. */
static void
bad_short(struct msg *m)
{
	start(m, 0, 0, 0, "example.test", 1);
	m->n = 11;
}

static void
bad_not_response(struct msg *m)
{
	start(m, 0, 0, 0, "example.test", 1);
	m->b[2] &= 0x7F;
}

static void
bad_other_type(struct msg *m)
{
	start(m, 0, 0, 0, "example.test", 16);
}

static void
bad_two_questions(struct msg *m)
{
	start(m, 0, 0, 0, "example.test", 1);
	m->b[5] = 2;
}

static void
bad_rdata_past_end(struct msg *m)
{
	start(m, 0, 1, 0, "example.test", 1);
	rr_hdr(m, 12, 1, 5, 8);
	put(m, "\1\2\3\4", 4);
}

static void
bad_record_missing(struct msg *m)
{
	start(m, 0, 2, 0, "example.test", 1);
	rr_hdr(m, 12, 1, 5, 4);
	put(m, "\1\2\3\4", 4);
}

static void
bad_pointer_loop(struct msg *m)
{
	start(m, 0, 1, 0, "example.test", 1);
	put_ptr(m, m->n);	/* points at itself */
	put16(m, 1);
	put16(m, 1);
	put32(m, 5);
	put16(m, 4);
	put(m, "\1\2\3\4", 4);
}

static void
bad_pointer_past_end(struct msg *m)
{
	start(m, 0, 1, 0, "example.test", 1);
	put_ptr(m, 1000);
}

static void
bad_name_too_long(struct msg *m)
{
	/* 5 labels of 63: 320 octets */
	start(m, 0, 0, 0, "example.test", 1);
	m->n = 12;
	for (int i = 0; i < 5; i++) {
		unsigned char l = 63;
		put(m, &l, 1);
		for (int k = 0; k < 63; k++)
			put(m, "a", 1);
	}
	put(m, "", 1);
	put16(m, 1);
	put16(m, 1);
}

static void
bad_reserved_label(struct msg *m)
{
	start(m, 0, 0, 0, "example.test", 1);
	m->b[12] = 0x47;	/* 01xxxxxx: an extended label type */
}

static void
bad_ptr_rdata_name_overruns(struct msg *m)
{
	/* the PTR's name runs past its rdlength */
	start(m, 0, 1, 0, "example.test", 12);
	rr_hdr(m, 12, 12, 5, 3);
	put(m, "\4host\0", 6);
}

static void
bad_ptr_rdata_trailing(struct msg *m)
{
	/* octets after the PTR's name within its rdata */
	start(m, 0, 1, 0, "example.test", 12);
	rr_hdr(m, 12, 12, 5, 8);
	put(m, "\4host\0xx", 8);
}

static void
bad_soa_short(struct msg *m)
{
	start(m, 0, 1, 0, "example.test", 6);
	rr_hdr(m, 12, 6, 5, 6);
	put_ptr(m, 12);
	put_ptr(m, 12);
	put16(m, 0);
}

static void
bad_cname_target(struct msg *m)
{
	start(m, 0, 1, 0, "example.test", 1);
	rr_hdr(m, 12, 5, 5, 2);
	put_ptr(m, 900);
}

static void
test_malformed(void **state)
{
	static const struct {
		void (*build)(struct msg *);
		int qtype;	/* the question's own: only the flaw is refused */
	} cases[] = {
		{ bad_short, 1 }, { bad_not_response, 1 }, { bad_other_type, 1 },
		{ bad_two_questions, 1 }, { bad_rdata_past_end, 1 },
		{ bad_record_missing, 1 }, { bad_pointer_loop, 1 },
		{ bad_pointer_past_end, 1 }, { bad_name_too_long, 1 },
		{ bad_reserved_label, 1 }, { bad_ptr_rdata_name_overruns, 12 },
		{ bad_ptr_rdata_trailing, 12 }, { bad_soa_short, 6 },
		{ bad_cname_target, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct msg m;
		struct dns_reply r;
		cases[i].build(&m);
		if (dns_reply_parse((char *)m.b, m.n, cases[i].qtype, &r) == 0)
			fail_msg("case %zu accepted", i);
		assert_null(r.data);
		assert_int_equal(r.count, 0);
		dns_reply_clear(&r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_records),
		cmocka_unit_test(test_cname_chain_and_case),
		cmocka_unit_test(test_ptr_and_mx_decompressed),
		cmocka_unit_test(test_negative_ttl),
		cmocka_unit_test(test_malformed),
	};

	return cmocka_run_group_tests_name("dns_reply", tests, NULL, NULL);
}
