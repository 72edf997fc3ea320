/*
 * gzip and zip for reports, on zlib. The zip reader is ours and small:
 * the end-of-central-directory record, the first entry, its local header,
 * stored or deflated data, the CRC checked. Every length read from the
 * file is checked against the buffer before use; output never passes cap.
 */
#include "unpack.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "lib/xmalloc.h"

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static unsigned
le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/*
 * Inflates len octets with windowBits wb (16+15: gzip, -15: raw deflate)
 * into a buffer grown up to cap. Returns 0, or -1 with why.
 */
static int
inflate_capped(const unsigned char *in, size_t len, int wb, size_t cap, char **out,
    size_t *outlen, char *why, size_t whylen)
{
	z_stream z;
	size_t size = len * 4 < 65536 ? 65536 : len * 4, used = 0;
	char *buf;
	int rc;

	if (size > cap + 1)
		size = cap + 1;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, wb) != Z_OK)
		return fail(why, whylen, "cannot start decompression");
	buf = xmalloc(size + 1);
	z.next_in = (unsigned char *)in;
	z.avail_in = len > UINT32_MAX ? UINT32_MAX : (uInt)len;
	for (;;) {
		if (used == size) {
			if (size > cap) {
				inflateEnd(&z);
				free(buf);
				return fail(why, whylen,
				    "decompresses to more than %zu octets (refused as a compression bomb)",
				    cap);
			}
			size = size * 2 > cap + 1 ? cap + 1 : size * 2;
			buf = xrealloc(buf, size + 1);
		}
		z.next_out = (unsigned char *)buf + used;
		z.avail_out = (uInt)(size - used);
		rc = inflate(&z, Z_NO_FLUSH);
		used = size - z.avail_out;
		if (rc == Z_STREAM_END)
			break;
		if (rc == Z_BUF_ERROR && z.avail_in == 0) {
			inflateEnd(&z);
			free(buf);
			return fail(why, whylen, "compressed data cut short");
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			inflateEnd(&z);
			free(buf);
			return fail(why, whylen, "damaged compressed data (%s)",
			    z.msg ? z.msg : "inflate error");
		}
	}
	inflateEnd(&z);
	if (used > cap) {
		free(buf);
		return fail(why, whylen,
		    "decompresses to more than %zu octets (refused as a compression bomb)", cap);
	}
	buf[used] = '\0';
	*out = buf;
	*outlen = used;
	return 0;
}

/* APPNOTE 4.3.16: the end of central directory record, searched from the
 * end over at most its size plus the longest comment. */
static int
zip_first(const unsigned char *b, size_t len, size_t cap, char **out, size_t *outlen,
    char *why, size_t whylen)
{
	size_t eocd = 0, lo, cd, lh, data;
	bool found = false;
	unsigned method, flags, nlen, xlen;
	uint32_t crc, csize, usize;

	if (len < 22)
		return fail(why, whylen, "zip file too short");
	lo = len - 22 > 65535 ? len - 22 - 65535 : 0;
	for (size_t i = len - 22 + 1; i-- > lo;)
		if (le32(b + i) == 0x06054b50) {
			eocd = i;
			found = true;
			break;
		}
	if (!found)
		return fail(why, whylen, "zip without a central directory");
	if (le16(b + eocd + 10) == 0)
		return fail(why, whylen, "empty zip archive");
	cd = le32(b + eocd + 16);
	if (cd == 0xffffffffu || le16(b + eocd + 10) == 0xffff)
		return fail(why, whylen, "zip64 archives are not read");
	if (cd > len || len - cd < 46 || le32(b + cd) != 0x02014b50)
		return fail(why, whylen, "damaged zip central directory");
	flags = le16(b + cd + 8);
	method = le16(b + cd + 10);
	crc = le32(b + cd + 16);
	csize = le32(b + cd + 20);
	usize = le32(b + cd + 24);
	lh = le32(b + cd + 42);
	if (flags & 1)
		return fail(why, whylen, "encrypted zip entry");
	if (csize == 0xffffffffu || usize == 0xffffffffu || lh == 0xffffffffu)
		return fail(why, whylen, "zip64 archives are not read");
	if (usize > cap)
		return fail(why, whylen,
		    "zip entry declares %lu octets, more than %zu (refused as a compression bomb)",
		    (unsigned long)usize, cap);
	if (lh > len || len - lh < 30 || le32(b + lh) != 0x04034b50)
		return fail(why, whylen, "damaged zip local header");
	nlen = le16(b + lh + 26);
	xlen = le16(b + lh + 28);
	data = lh + 30 + nlen + xlen;
	if (data > len || len - data < csize)
		return fail(why, whylen, "zip entry runs past the end of the file");
	if (method == 0) {
		if (csize != usize)
			return fail(why, whylen, "damaged stored zip entry");
		*out = xmalloc((size_t)usize + 1);
		memcpy(*out, b + data, usize);
		(*out)[usize] = '\0';
		*outlen = usize;
	} else if (method == 8) {
		/* the declared size is a claim: inflation is capped all the same */
		if (inflate_capped(b + data, csize, -15, cap, out, outlen, why, whylen) == -1)
			return -1;
		if (*outlen != usize) {
			free(*out);
			*out = NULL;
			return fail(why, whylen, "zip entry size does not match its header");
		}
	} else
		return fail(why, whylen, "zip compression method %u is not read", method);
	if (crc32(0L, (const unsigned char *)*out, (uInt)*outlen) != crc) {
		free(*out);
		*out = NULL;
		return fail(why, whylen, "zip entry CRC mismatch");
	}
	return 0;
}

int
unpack_report(const char *buf, size_t len, size_t cap, char **out, size_t *outlen,
    enum unpack_kind *kind, char *why, size_t whylen)
{
	const unsigned char *b = (const unsigned char *)buf;
	enum unpack_kind k = UNPACK_PLAIN;
	int rc;

	*out = NULL;
	*outlen = 0;
	if (len >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		k = UNPACK_GZIP;
	else if (len >= 4 && le32(b) == 0x04034b50)
		k = UNPACK_ZIP;
	if (kind != NULL)
		*kind = k;
	if (len > REPORT_PACKED_MAX)
		return fail(why, whylen, "report of %zu octets, more than %u", len,
		    REPORT_PACKED_MAX);
	switch (k) {
	case UNPACK_GZIP:
		rc = inflate_capped(b, len, 16 + MAX_WBITS, cap, out, outlen, why, whylen);
		break;
	case UNPACK_ZIP:
		rc = zip_first(b, len, cap, out, outlen, why, whylen);
		break;
	default:
		if (len > cap)
			return fail(why, whylen, "report of %zu octets, more than %zu", len, cap);
		*out = xmalloc(len + 1);
		memcpy(*out, buf, len);
		(*out)[len] = '\0';
		*outlen = len;
		rc = 0;
	}
	return rc;
}

int
unpack_gzip_pack(const char *buf, size_t len, char **out, size_t *outlen)
{
	z_stream z;
	size_t size;
	char *o;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	size = deflateBound(&z, (uLong)len) + 32;
	o = xmalloc(size);
	z.next_in = (unsigned char *)buf;
	z.avail_in = (uInt)len;
	z.next_out = (unsigned char *)o;
	z.avail_out = (uInt)size;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(o);
		return -1;
	}
	*outlen = size - z.avail_out;
	deflateEnd(&z);
	*out = o;
	return 0;
}
