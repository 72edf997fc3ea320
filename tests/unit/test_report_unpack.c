/*
 * Tests for the report containers (src/report/unpack.h): gzip round
 * trips, zips made here byte by byte (stored and deflated, with the
 * central directory real archivers write), and what is refused:
 * compression bombs past the cap (gzip and zip, whatever the zip header
 * claims), damaged, cut, encrypted and zip64 archives.
 */
#include "unit.h"

#include <zlib.h>

#include "report/unpack.h"

static void
le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A one-entry zip of data; method 0 (stored) or 8 (deflate). usize_claim
 * overrides the size written in the headers when nonzero. */
static size_t
make_zip(unsigned char *out, size_t cap, const char *data, size_t len, int method,
    uint32_t usize_claim, unsigned flags)
{
	unsigned char comp[1 << 16];
	size_t clen = len, o = 0, cd;
	const char *name = "report.xml";
	size_t nlen = strlen(name);
	uint32_t crc = (uint32_t)crc32(0, (const unsigned char *)data, (uInt)len);
	uint32_t usize = usize_claim ? usize_claim : (uint32_t)len;

	if (method == 8) {
		z_stream z;
		memset(&z, 0, sizeof(z));
		assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
		z.next_in = (unsigned char *)data;
		z.avail_in = (uInt)len;
		z.next_out = comp;
		z.avail_out = sizeof(comp);
		assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
		clen = sizeof(comp) - z.avail_out;
		deflateEnd(&z);
	} else
		memcpy(comp, data, len);
	assert_true(30 + nlen + clen + 46 + nlen + 22 <= cap);
	le32(out + o, 0x04034b50);
	le16(out + o + 4, 20);
	le16(out + o + 6, flags);
	le16(out + o + 8, (unsigned)method);
	le16(out + o + 10, 0);
	le16(out + o + 12, 0);
	le32(out + o + 14, crc);
	le32(out + o + 18, (uint32_t)clen);
	le32(out + o + 22, usize);
	le16(out + o + 26, (unsigned)nlen);
	le16(out + o + 28, 0);
	memcpy(out + o + 30, name, nlen);
	o += 30 + nlen;
	memcpy(out + o, comp, clen);
	o += clen;
	cd = o;
	memset(out + o, 0, 46);
	le32(out + o, 0x02014b50);
	le16(out + o + 4, 20);
	le16(out + o + 6, 20);
	le16(out + o + 8, flags);
	le16(out + o + 10, (unsigned)method);
	le32(out + o + 16, crc);
	le32(out + o + 20, (uint32_t)clen);
	le32(out + o + 24, usize);
	le16(out + o + 28, (unsigned)nlen);
	le32(out + o + 42, 0);
	memcpy(out + o + 46, name, nlen);
	o += 46 + nlen;
	memset(out + o, 0, 22);
	le32(out + o, 0x06054b50);
	le16(out + o + 8, 1);
	le16(out + o + 10, 1);
	le32(out + o + 12, (uint32_t)(46 + nlen));
	le32(out + o + 16, (uint32_t)cd);
	return o + 22;
}

static void
test_gzip_roundtrip(void **state)
{
	const char *text = "<feedback>hello</feedback>";
	char *gz, *out, why[UNPACK_WHY_MAX];
	size_t gzlen, outlen;
	enum unpack_kind kind;

	assert_int_equal(unpack_gzip_pack(text, strlen(text), &gz, &gzlen), 0);
	assert_int_equal((unsigned char)gz[0], 0x1f);
	assert_int_equal(unpack_report(gz, gzlen, 1024, &out, &outlen, &kind, why, sizeof(why)), 0);
	assert_int_equal(kind, UNPACK_GZIP);
	assert_int_equal(outlen, strlen(text));
	assert_memory_equal(out, text, outlen);
	assert_int_equal(out[outlen], '\0');
	free(out);
	/* cut short, damaged */
	assert_int_equal(unpack_report(gz, gzlen - 10, 1024, &out, &outlen, NULL, why, sizeof(why)), -1);
	gz[12] ^= 0x55;
	assert_int_equal(unpack_report(gz, gzlen, 1024, &out, &outlen, NULL, why, sizeof(why)), -1);
	assert_null(out);
	free(gz);
	/* plain text passes through */
	assert_int_equal(unpack_report(text, strlen(text), 1024, &out, &outlen, &kind, why,
	    sizeof(why)), 0);
	assert_int_equal(kind, UNPACK_PLAIN);
	free(out);
	assert_int_equal(unpack_report(text, strlen(text), 4, &out, &outlen, &kind, why, sizeof(why)),
	    -1);
}

/* 64 MiB of zeros compress to ~64 KiB: refused at the cap, not inflated */
static void
test_gzip_bomb(void **state)
{
	size_t n = 64u << 20;
	char *zeros = calloc(1, n), *gz, *out, why[UNPACK_WHY_MAX];
	size_t gzlen, outlen;

	assert_non_null(zeros);
	assert_int_equal(unpack_gzip_pack(zeros, n, &gz, &gzlen), 0);
	free(zeros);
	assert_true(gzlen < REPORT_PACKED_MAX);
	assert_int_equal(unpack_report(gz, gzlen, REPORT_UNPACKED_MAX, &out, &outlen, NULL, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "bomb"));
	assert_null(out);
	free(gz);
}

static void
test_zip(void **state)
{
	static unsigned char z[1 << 17];
	const char *text = "<feedback><x>zip content</x></feedback>";
	char *out, why[UNPACK_WHY_MAX];
	size_t n, outlen;
	enum unpack_kind kind;

	for (int method = 0; method <= 8; method += 8) {
		n = make_zip(z, sizeof(z), text, strlen(text), method, 0, 0);
		assert_int_equal(unpack_report((char *)z, n, 1024, &out, &outlen, &kind, why,
		    sizeof(why)), 0);
		assert_int_equal(kind, UNPACK_ZIP);
		assert_int_equal(outlen, strlen(text));
		assert_memory_equal(out, text, outlen);
		free(out);
		/* every cut that keeps the magic is refused (shorter is plain text) */
		for (size_t k = 4; k < n; k++)
			assert_int_equal(unpack_report((char *)z, k, 1024, &out, &outlen, NULL, why,
			    sizeof(why)), -1);
	}
	/* a CRC mismatch */
	n = make_zip(z, sizeof(z), text, strlen(text), 0, 0, 0);
	z[30 + 10 + 3] ^= 1;
	assert_int_equal(unpack_report((char *)z, n, 1024, &out, &outlen, NULL, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "CRC"));
	/* encrypted */
	n = make_zip(z, sizeof(z), text, strlen(text), 0, 0, 1);
	assert_int_equal(unpack_report((char *)z, n, 1024, &out, &outlen, NULL, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "encrypted"));
	/* zip64 marker */
	n = make_zip(z, sizeof(z), text, strlen(text), 0, 0xffffffffu, 0);
	assert_int_equal(unpack_report((char *)z, n, 1024, &out, &outlen, NULL, why, sizeof(why)), -1);
	/* another method */
	n = make_zip(z, sizeof(z), text, strlen(text), 0, 0, 0);
	z[8] = 12;	/* bzip2, in the local header */
	z[n - 22 - 46 - 10 + 10] = 12;	/* and the central directory */
	assert_int_equal(unpack_report((char *)z, n, 1024, &out, &outlen, NULL, why, sizeof(why)), -1);
}

/* A deflated zip of 8 MiB of zeros with the true size, over a 1 MiB cap;
 * and one that lies about its size: both refused. */
static void
test_zip_bomb(void **state)
{
	static unsigned char z[1 << 17];
	size_t big = 8u << 20, n, outlen;
	char *zeros = calloc(1, big), *out, why[UNPACK_WHY_MAX];

	assert_non_null(zeros);
	n = make_zip(z, sizeof(z), zeros, big, 8, 0, 0);
	assert_int_equal(unpack_report((char *)z, n, 1u << 20, &out, &outlen, NULL, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "bomb"));
	n = make_zip(z, sizeof(z), zeros, big, 8, 100, 0);	/* claims 100 octets */
	assert_int_equal(unpack_report((char *)z, n, 1u << 20, &out, &outlen, NULL, why,
	    sizeof(why)), -1);
	assert_non_null(strstr(why, "bomb"));
	free(zeros);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip_roundtrip),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_zip),
		cmocka_unit_test(test_zip_bomb),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
