/*
 * Table tests for the DATA/BDAT reader (src/smtp/data.h). Every case is
 * run whole and in chunks of 1, 2, 3, 5 and 7 octets: the result must not
 * depend on how the network split the stream. Only CRLF "." CRLF ends DATA;
 * "\n.\n", "\r\n.\n", "\n.\r\n" and "\r.\r\n" must not (SMTP smuggling,
 * CVE-2023-51764 class) and must raise bare_lf or bare_cr.
 */
#include "unit.h"

#include "smtp/data.h"

#define ALL SIZE_MAX	/* consumed: the whole input */

/* expected flags */
#define DONE 1
#define BLF 2		/* bare_lf */
#define BCR 4		/* bare_cr */
#define BIG 8		/* too_big */
#define HDR 16		/* still in_header at the end */

struct data_case {
	enum data_mode mode;
	const char *in;
	size_t len;
	uint64_t max_size;	/* 0: 1 MiB */
	bool finish;		/* call data_reader_finish at the end (RAW) */
	size_t consumed;	/* ALL or a count */
	const char *out;
	size_t outlen;
	int flags;
};

#define D DATA_MODE_DOT
#define R DATA_MODE_RAW

static const struct data_case data_cases[] = {
	/* simple messages */
	{ D, S("Subject: x\r\n\r\nbody\r\n.\r\n"), 0, false, ALL,
	    S("Subject: x\r\n\r\nbody\r\n"), DONE },
	{ D, S(".\r\n"), 0, false, ALL, S(""), DONE | HDR },
	{ D, S("\r\n.\r\n"), 0, false, ALL, S("\r\n"), DONE },
	{ D, S("H: v\r\n.\r\n"), 0, false, ALL, S("H: v\r\n"), DONE | HDR },
	{ D, S("\r\nbody\r\n.\r\n"), 0, false, ALL, S("\r\nbody\r\n"), DONE },
	{ D, S("a.b\r\n.c\r\n.\r\n"), 0, false, ALL, S("a.b\r\nc\r\n"), DONE | HDR },

	/* dot-unstuffing (RFC 5321 4.5.2) */
	{ D, S("..leading dot\r\n.\r\n"), 0, false, ALL, S(".leading dot\r\n"), DONE | HDR },
	{ D, S("a\r\n..\r\n.\r\n"), 0, false, ALL, S("a\r\n.\r\n"), DONE | HDR },
	{ D, S("a\r\n...\r\n.\r\n"), 0, false, ALL, S("a\r\n..\r\n"), DONE | HDR },
	{ D, S("a\r\n. \r\n.\r\n"), 0, false, ALL, S("a\r\n \r\n"), DONE | HDR },
	{ D, S("\r\n..\r\n..\r\n.\r\n"), 0, false, ALL, S("\r\n.\r\n.\r\n"), DONE },

	/* consumption stops right after the terminator: the rest is commands */
	{ D, S("a\r\n.\r\nMAIL FROM:<x@y>\r\n"), 0, false, 6, S("a\r\n"), DONE | HDR },
	{ D, S("a\r\n.\r\n.\r\n"), 0, false, 6, S("a\r\n"), DONE | HDR },
	{ D, S(".\r\nQUIT\r\n"), 0, false, 3, S(""), DONE | HDR },

	/* smuggling: none of these ends the message */
	{ D, S("a\n.\nMAIL FROM:<x@y>\r\n"), 0, false, ALL,
	    S("a\n.\nMAIL FROM:<x@y>\r\n"), BLF | HDR },
	{ D, S("a\r\n.\nMAIL FROM:<x@y>\r\n"), 0, false, ALL,
	    S("a\r\n\nMAIL FROM:<x@y>\r\n"), BLF | HDR },
	{ D, S("a\n.\r\nMAIL FROM:<x@y>\r\n"), 0, false, ALL,
	    S("a\n.\r\nMAIL FROM:<x@y>\r\n"), BLF | HDR },
	{ D, S("a\r.\r\nMAIL FROM:<x@y>\r\n"), 0, false, ALL,
	    S("a\r.\r\nMAIL FROM:<x@y>\r\n"), BCR | HDR },
	{ D, S("\r.\r\n"), 0, false, ALL, S("\r.\r\n"), BCR | HDR },
	{ D, S("\n.\n"), 0, false, ALL, S("\n.\n"), BLF | HDR },
	{ D, S("\r\n.\n"), 0, false, ALL, S("\r\n\n"), BLF },
	{ D, S("\n.\r\n"), 0, false, ALL, S("\n.\r\n"), BLF | HDR },
	{ D, S("a\r\n.\r\r\n"), 0, false, ALL, S("a\r\n\r\r\n"), BCR | HDR },
	{ D, S("a\r\n.\rX"), 0, false, ALL, S("a\r\n\rX"), BCR | HDR },
	{ D, S("a\r\r\n.\r\n"), 0, false, ALL, S("a\r\r\n"), DONE | BCR | HDR },
	/* a bare line end earlier does not stop a real terminator later */
	{ D, S("a\nb\r\n.\r\n"), 0, false, ALL, S("a\nb\r\n"), DONE | BLF | HDR },
	{ D, S("a\rb\r\n.\r\n"), 0, false, ALL, S("a\rb\r\n"), DONE | BCR | HDR },
	{ D, S("\n.\n\r\n.\r\n"), 0, false, ALL, S("\n.\n\r\n"), DONE | BLF | HDR },
	/* an unfinished stream is not done */
	{ D, S("a\r\n.\r"), 0, false, ALL, S("a\r\n"), HDR },
	{ D, S("a\r\n."), 0, false, ALL, S("a\r\n"), HDR },
	{ D, S("a\r"), 0, false, ALL, S("a"), HDR },

	/* max_size: output stops, input is still consumed to the end */
	{ D, S("0123456789\r\n.\r\n"), 10, false, ALL, S("0123456789"), DONE | BIG | HDR },
	{ D, S("0123456789\r\n.\r\n"), 12, false, ALL, S("0123456789\r\n"), DONE | HDR },
	{ D, S("0123456789\r\n.\r\n"), 11, false, ALL, S("0123456789\r"), DONE | BIG | HDR },
	{ D, S("0123456789\r\n.\r\nRSET\r\n"), 5, false, 15, S("01234"), DONE | BIG | HDR },
	{ D, S("..........\r\n.\r\n"), 9, false, ALL, S("........."), DONE | BIG | HDR },

	/* header section ends at the first empty line */
	{ D, S("A: 1\r\nB: 2\r\n\r\nC: 3\r\n.\r\n"), 0, false, ALL,
	    S("A: 1\r\nB: 2\r\n\r\nC: 3\r\n"), DONE },
	{ D, S("A: 1\r\n \r\nB: 2\r\n.\r\n"), 0, false, ALL,
	    S("A: 1\r\n \r\nB: 2\r\n"), DONE | HDR },

	/* RAW (BDAT) mode: a dot is content, nothing ends the stream */
	{ R, S("a\r\n.\r\nb"), 0, false, ALL, S("a\r\n.\r\nb"), HDR },
	{ R, S("a\r\n.\r\nb"), 0, true, ALL, S("a\r\n.\r\nb"), DONE | HDR },
	{ R, S("..x\r\n\r\n"), 0, true, ALL, S("..x\r\n\r\n"), DONE },
	{ R, S("a\r"), 0, false, ALL, S("a"), HDR },
	{ R, S("a\r"), 0, true, ALL, S("a\r"), DONE | BCR | HDR },
	{ R, S("\r"), 0, true, ALL, S("\r"), DONE | BCR | HDR },
	{ R, S("a\nb"), 0, true, ALL, S("a\nb"), DONE | BLF | HDR },
	{ R, S("a\r.\r\n"), 0, true, ALL, S("a\r.\r\n"), DONE | BCR | HDR },
	{ R, S("line\r\n"), 0, true, ALL, S("line\r\n"), DONE | HDR },
	{ R, S(""), 0, true, ALL, S(""), DONE | HDR },
	{ R, S("0123456789\r\n"), 4, true, ALL, S("0123"), DONE | BIG | HDR },
};

struct data_result {
	char *out;
	size_t outlen, consumed;
	struct data_reader r;
	int bad_feed;		/* a feed() broke the interface contract */
};

/*
 * Feeds c->in in chunks of chunk octets (0: all at once) through an
 * exactly-sized copy, as the session would from its input buffer.
 */
static void
run_case(const struct data_case *c, size_t chunk, struct data_result *res)
{
	char *in = malloc(c->len ? c->len : 1);
	size_t pos = 0;

	memcpy(in, c->in, c->len);
	memset(res, 0, sizeof(*res));
	res->out = malloc(c->len + 8);
	data_reader_init(&res->r, c->mode, c->max_size ? c->max_size : 1024 * 1024);
	while (pos < c->len) {
		size_t n = chunk == 0 || chunk > c->len - pos ? c->len - pos : chunk;
		char *tmp = malloc(n + 2);
		size_t outlen = (size_t)-1;
		size_t used = data_reader_feed(&res->r, in + pos, n, tmp, &outlen);

		if (used > n || outlen > n + 2 || (used < n && !res->r.done))
			res->bad_feed++;
		if (outlen <= n + 2) {
			memcpy(res->out + res->outlen, tmp, outlen);
			res->outlen += outlen;
		}
		free(tmp);
		pos += used;
		res->consumed += used;
		if (res->r.done)
			break;
		if (used == 0) {
			res->bad_feed++;
			break;
		}
	}
	if (c->finish) {
		char tmp[1];
		size_t o = data_reader_finish(&res->r, tmp);

		if (o > 1)
			res->bad_feed++;
		else if (o == 1)
			res->out[res->outlen++] = tmp[0];
	}
	free(in);
}

static void
test_data_table(void **state)
{
	static const size_t chunks[] = { 0, 1, 2, 3, 5, 7 };
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(data_cases); i++) {
		const struct data_case *c = &data_cases[i];
		size_t want_consumed = c->consumed == ALL ? c->len : c->consumed;

		for (size_t k = 0; k < NELEM(chunks); k++) {
			struct data_result res;
			int got;

			run_case(c, chunks[k], &res);
			got = (res.r.done ? DONE : 0) | (res.r.bare_lf ? BLF : 0) |
			    (res.r.bare_cr ? BCR : 0) | (res.r.too_big ? BIG : 0) |
			    (res.r.in_header ? HDR : 0);
			CASE_CHECK(bad, res.bad_feed == 0, i,
			    "\"%s\" chunk %zu: feed broke its contract",
			    unit_show(c->in, c->len), chunks[k]);
			CASE_CHECK(bad, res.consumed == want_consumed, i,
			    "\"%s\" chunk %zu: consumed %zu, want %zu",
			    unit_show(c->in, c->len), chunks[k], res.consumed, want_consumed);
			CASE_CHECK(bad, res.outlen == c->outlen &&
			    memcmp(res.out, c->out, c->outlen) == 0, i,
			    "\"%s\" chunk %zu: out \"%s\", want \"%s\"",
			    unit_show(c->in, c->len), chunks[k],
			    unit_show(res.out, res.outlen), unit_show(c->out, c->outlen));
			CASE_CHECK(bad, got == c->flags, i,
			    "\"%s\" chunk %zu: flags %#x, want %#x",
			    unit_show(c->in, c->len), chunks[k], got, c->flags);
			CASE_CHECK(bad, data_reader_ok(&res.r) ==
			    ((got & (BLF | BCR | BIG)) == 0), i,
			    "\"%s\": data_reader_ok disagrees with the flags",
			    unit_show(c->in, c->len));
			/* size counts message octets after unstuffing */
			if (!(got & BIG))
				CASE_CHECK(bad, res.r.size == res.outlen, i,
				    "\"%s\" chunk %zu: size %llu, output %zu",
				    unit_show(c->in, c->len), chunks[k],
				    (unsigned long long)res.r.size, res.outlen);
			else
				CASE_CHECK(bad, res.outlen <= c->max_size &&
				    res.r.size > c->max_size, i,
				    "\"%s\": output %zu size %llu over max %llu",
				    unit_show(c->in, c->len), res.outlen,
				    (unsigned long long)res.r.size,
				    (unsigned long long)c->max_size);
			free(res.out);
		}
	}
	assert_int_equal(bad, 0);
}

/* Once the end is found nothing more is consumed or written. */
static void
test_data_after_done(void **state)
{
	struct data_reader r;
	char out[64];
	size_t outlen, used;

	(void)state;
	data_reader_init(&r, DATA_MODE_DOT, 1000);
	used = data_reader_feed(&r, "x\r\n.\r\nQUIT\r\n", 12, out, &outlen);
	assert_int_equal(used, 6);
	assert_true(r.done);
	outlen = 99;
	used = data_reader_feed(&r, "QUIT\r\n", 6, out, &outlen);
	assert_int_equal(used, 0);
	assert_int_equal(outlen, 0);
	outlen = 99;
	used = data_reader_feed(&r, ".\r\n", 3, out, &outlen);
	assert_int_equal(used, 0);
	assert_int_equal(outlen, 0);
	assert_true(data_reader_ok(&r));

	/* zero-length feeds are harmless */
	data_reader_init(&r, DATA_MODE_DOT, 1000);
	outlen = 99;
	assert_int_equal(data_reader_feed(&r, "", 0, out, &outlen), 0);
	assert_int_equal(outlen, 0);
	assert_false(r.done);
}

/*
 * Writes a header section of exactly total octets (total >= 64): lines
 * of 64 octets with CRLF, the last one absorbing the remainder.
 */
static size_t
make_header(char *buf, size_t total)
{
	size_t lines = total / 64, o = 0;

	for (size_t l = 0; l < lines; l++) {
		size_t ll = l + 1 < lines ? 64 : 64 + total % 64;
		memset(buf + o, 'h', ll - 2);
		memcpy(buf + o, "X-H:", 4);
		buf[o + ll - 2] = '\r';
		buf[o + ll - 1] = '\n';
		o += ll;
	}
	return o;
}

/* The header cap: DATA_HEADER_MAX octets before the first empty line. */
static void
test_data_header_too_big(void **state)
{
	static const struct {
		size_t header;		/* octets of header lines */
		bool blank_first;	/* an empty line before them */
		bool too_big;
	} cases[] = {
		{ 1000, false, false },
		{ DATA_HEADER_MAX - 100, false, false },
		{ DATA_HEADER_MAX + 100, false, true },
		{ DATA_HEADER_MAX * 2, false, true },
		{ DATA_HEADER_MAX * 2, true, false },	/* it is all body */
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		size_t len = cases[i].header + 64, o = 0, pos = 0;
		char *buf = malloc(len), *out = malloc(4096 + 2);
		struct data_reader r;

		if (cases[i].blank_first) {
			memcpy(buf, "\r\n", 2);
			o = 2;
		}
		o += make_header(buf + o, cases[i].header);
		memcpy(buf + o, "\r\nbody\r\n.\r\n", 11);
		o += 11;
		data_reader_init(&r, DATA_MODE_DOT, (uint64_t)len * 2);
		while (pos < o && !r.done) {
			size_t n = o - pos > 4096 ? 4096 : o - pos, outlen;
			pos += data_reader_feed(&r, buf + pos, n, out, &outlen);
		}
		CASE_CHECK(bad, r.done && pos == o, i, "header %zu: not done", cases[i].header);
		CASE_CHECK(bad, r.header_too_big == cases[i].too_big, i,
		    "header %zu: header_too_big %d, want %d (header_size %llu)",
		    cases[i].header, r.header_too_big, cases[i].too_big,
		    (unsigned long long)r.header_size);
		CASE_CHECK(bad, !r.in_header, i, "header %zu: still in header", cases[i].header);
		CASE_CHECK(bad, !r.bare_lf && !r.bare_cr && !r.too_big, i,
		    "header %zu: unexpected flag", cases[i].header);
		CASE_CHECK(bad, data_reader_ok(&r) == !cases[i].too_big, i,
		    "header %zu: data_reader_ok", cases[i].header);
		free(buf);
		free(out);
	}
	assert_int_equal(bad, 0);
}

/* in_header turns false exactly when the empty line is complete. */
static void
test_data_in_header_progress(void **state)
{
	static const char msg[] = "A: 1\r\nB: 2\r\n\r\nbody\r\n.\r\n";
	struct data_reader r;
	char out[8];
	size_t outlen;

	(void)state;
	data_reader_init(&r, DATA_MODE_DOT, 1000);
	assert_true(r.in_header);
	for (size_t i = 0; i < sizeof(msg) - 1; i++) {
		assert_int_equal(data_reader_feed(&r, msg + i, 1, out, &outlen), 1);
		/* the empty line's LF is octet 13 */
		if (i < 13)
			assert_true(r.in_header);
		else
			assert_false(r.in_header);
	}
	assert_true(r.done);
	/* the header section, with or without its empty line */
	assert_true(r.header_size == 12 || r.header_size == 14);
}

/* A message has a header section when it starts with "name:" (SPEC 3:
 * otherwise 554 5.6.0). */
static void
test_data_has_header(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		bool want;
	} cases[] = {
		{ S(""), false },
		{ S("\r\n"), false },
		{ S("\r\nSubject: x\r\n"), false },
		{ S("hello world\r\n"), false },
		{ S(": no name\r\n"), false },
		{ S("Subject"), false },			/* no colon before the end */
		{ S("Sub ject: x\r\n"), false },		/* space in a name */
		{ S("Subject: x\r\n"), true },
		{ S("Subject:"), true },
		{ S("X-\x7e:y"), true },
		{ S("Na\x80me: x"), false },		/* 8-bit octet in a name */
		{ S("Subject\0: x"), false },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++)
		CASE_CHECK(bad, data_has_header(cases[i].in, cases[i].len) == cases[i].want, i,
		    "%s", cases[i].want ? "want a header" : "want none");
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_table),
		cmocka_unit_test(test_data_after_done),
		cmocka_unit_test(test_data_header_too_big),
		cmocka_unit_test(test_data_in_header_progress),
		cmocka_unit_test(test_data_has_header),
	};

	return cmocka_run_group_tests_name("smtp_data", tests, NULL, NULL);
}
