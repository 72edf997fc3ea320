/*
 * Fuzz target for the DATA/BDAT reader. The first 6 octets choose the
 * chunking (a PRNG seed) and max_size; the rest is the client's stream,
 * fed in both modes, once in pseudo-random chunks and once whole.
 *
 * Invariants, per feed: consumed <= len, output <= len + 2, consumption
 * stops early only at the end, nothing is consumed once done. Per stream:
 * the chunking changes nothing; DOT mode ends only right after CRLF "."
 * CRLF (or "." CRLF at the very start); bare_lf and bare_cr are exactly
 * "an LF not after CR" and "a CR not before LF"; the output is the input
 * with line-start dots removed (and, in RAW mode, the input itself),
 * truncated at max_size when too_big.
 */
#include "fuzz.h"

#include <stdbool.h>

#include "smtp/data.h"

struct run {
	char *out;
	size_t outlen, consumed;
	struct data_reader r;
};

static uint32_t
next_rand(uint32_t *s)
{
	/* xorshift32: deterministic from the input */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
run_stream(const char *in, size_t len, enum data_mode mode, uint64_t max_size,
    uint32_t seed, bool whole, struct run *res)
{
	size_t pos = 0;

	memset(res, 0, sizeof(*res));
	res->out = malloc(len + 3);
	data_reader_init(&res->r, mode, max_size);
	while (pos < len) {
		size_t n = len - pos, used, outlen = (size_t)-1;
		char *chunk, *tmp;

		if (!whole) {
			uint32_t x = next_rand(&seed);
			/* mostly tiny chunks, where boundaries bite */
			n = (x & 3) == 0 ? 1 + (x >> 8) % 64 : 1 + (x >> 8) % 4;
			if (n > len - pos)
				n = len - pos;
		}
		/* exactly-sized chunk and output buffers */
		chunk = malloc(n);
		memcpy(chunk, in + pos, n);
		tmp = malloc(n + 2);
		used = data_reader_feed(&res->r, chunk, n, tmp, &outlen);
		CHECK(used <= n);
		CHECK(outlen <= n + 2);
		CHECK(used == n || res->r.done);
		CHECK(mode == DATA_MODE_DOT || used == n);
		CHECK(used > 0 || res->r.done);
		memcpy(res->out + res->outlen, tmp, outlen);
		res->outlen += outlen;
		CHECK(res->outlen <= len + 2);
		free(chunk);
		free(tmp);
		pos += used;
		if (res->r.done) {
			/* once done, no more consumption or output */
			char more[4] = "a\r\n", o[6];
			size_t ol = 99;
			CHECK(data_reader_feed(&res->r, more, sizeof(more) - 1, o, &ol) == 0);
			CHECK(ol == 0);
			break;
		}
	}
	res->consumed = pos;
	if (mode == DATA_MODE_RAW) {
		char tmp[1];
		size_t o = data_reader_finish(&res->r, tmp);
		CHECK(o <= 1);
		if (o == 1)
			res->out[res->outlen++] = tmp[0];
		CHECK(res->r.done);
	}
}

/* What the reader should produce from the consumed input. */
static size_t
reference(const char *in, size_t len, enum data_mode mode, bool done, char *ref)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		bool bol = i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n');
		if (mode == DATA_MODE_DOT && bol && in[i] == '.')
			continue;
		ref[o++] = in[i];
	}
	if (mode == DATA_MODE_DOT && done) {
		/* the terminator's "." is gone already; drop its CRLF */
		CHECK(o >= 2 && ref[o - 2] == '\r' && ref[o - 1] == '\n');
		o -= 2;
	}
	return o;
}

static void
check_stream(const char *in, size_t len, enum data_mode mode, uint64_t max_size,
    uint32_t seed)
{
	struct run a, b;
	bool lf = false, cr = false;
	char *ref;
	size_t reflen;

	run_stream(in, len, mode, max_size, seed, false, &a);
	run_stream(in, len, mode, max_size, seed, true, &b);

	/* chunking changes nothing */
	CHECK(a.consumed == b.consumed);
	CHECK(a.outlen == b.outlen && memcmp(a.out, b.out, a.outlen) == 0);
	CHECK(a.r.done == b.r.done && a.r.size == b.r.size);
	CHECK(a.r.bare_lf == b.r.bare_lf && a.r.bare_cr == b.r.bare_cr);
	CHECK(a.r.too_big == b.r.too_big && a.r.in_header == b.r.in_header);
	CHECK(a.r.header_size == b.r.header_size);
	CHECK(a.r.header_too_big == b.r.header_too_big);

	/* the end is CRLF "." CRLF and nothing else */
	if (mode == DATA_MODE_DOT && a.r.done) {
		size_t c = a.consumed;
		CHECK(c >= 3 && memcmp(in + c - 3, ".\r\n", 3) == 0);
		CHECK(c == 3 || (c >= 5 && in[c - 5] == '\r' && in[c - 4] == '\n'));
	}
	if (mode == DATA_MODE_DOT && !a.r.done)
		CHECK(a.consumed == len);

	/* bare line ends, exactly */
	for (size_t i = 0; i < a.consumed; i++) {
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			lf = true;
		if (in[i] == '\r' && i + 1 < a.consumed && in[i + 1] != '\n')
			cr = true;
	}
	if (mode == DATA_MODE_RAW && a.consumed > 0 && in[a.consumed - 1] == '\r')
		cr = true;	/* released by data_reader_finish */
	CHECK(a.r.bare_lf == lf);
	CHECK(a.r.bare_cr == cr);

	/* content */
	ref = malloc(a.consumed + 1);
	reflen = reference(in, a.consumed, mode, a.r.done, ref);
	if (!a.r.too_big) {
		CHECK(a.r.size == a.outlen);
		CHECK(reflen >= a.outlen && memcmp(ref, a.out, a.outlen) == 0);
		/* only a held CR, or dot and CR, may be missing at the end */
		if (a.r.done)
			CHECK(reflen == a.outlen);
		else
			CHECK(reflen - a.outlen <= 1);
		CHECK(a.r.size <= max_size);
	} else {
		CHECK(a.r.size > max_size);
		CHECK(a.outlen == max_size);
		CHECK(memcmp(ref, a.out, a.outlen) == 0);
	}
	CHECK(data_reader_ok(&a.r) ==
	    (!a.r.bare_lf && !a.r.bare_cr && !a.r.too_big && !a.r.header_too_big));
	free(ref);
	free(a.out);
	free(b.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t seed;
	uint64_t max_size;
	char *in;

	/* a bounded read: only the first line, never past size */
	(void)data_has_header((const char *)data, size);
	if (size < 6)
		return 0;
	seed = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
	    (uint32_t)data[3] << 24;
	if (seed == 0)
		seed = 1;
	/* small caps are where too_big is reached */
	max_size = data[4] & 0x80 ? UINT64_MAX : (uint64_t)data[4] * 4 + data[5] % 4;
	in = fuzz_copy(data + 6, size - 6);
	check_stream(in, size - 6, DATA_MODE_DOT, max_size, seed);
	check_stream(in, size - 6, DATA_MODE_RAW, max_size, seed);
	free(in);
	return 0;
}
