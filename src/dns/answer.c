/*
 * Record data decoding. libunbound returns rdata with names already
 * decompressed, so a compression pointer here is an error.
 */
#include "answer.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
dns_name_from_wire(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	if (outlen == 0)
		return -1;
	for (;;) {
		size_t lab;
		if (i >= len)
			return -1;
		lab = (unsigned char)buf[i++];
		if (lab == 0)
			break;
		if (lab > 63 || i + lab > len)
			return -1;	/* pointer or overrun */
		if (o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '.';
		}
		if (o + lab >= outlen || o + lab > 253)
			return -1;
		for (size_t k = 0; k < lab; k++) {
			unsigned char c = (unsigned char)buf[i + k];
			if (!(isalnum(c) || c == '-' || c == '_'))
				return -1;
			out[o++] = (char)tolower(c);
		}
		i += lab;
	}
	if (o == 0)
		return -1;	/* the root is no host name */
	out[o] = '\0';
	return 0;
}

char *
dns_txt_join(const char *buf, size_t len, size_t *outlen)
{
	char *out = malloc(len + 1);
	size_t o = 0;

	if (out == NULL)
		abort();
	for (size_t i = 0; i < len;) {
		size_t n = (unsigned char)buf[i++];
		if (n > len - i) {
			free(out);
			return NULL;
		}
		memcpy(out + o, buf + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

int
dns_reverse_name(const char *ip, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char a[16];
	size_t o = 0;

	if (inet_pton(AF_INET, ip, a) == 1) {
		int n = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1 || outlen < 64 + 9)
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", 9);
	return 0;
}

bool
dns_name_key(const char *name, char *out, size_t outlen)
{
	size_t len = name != NULL ? strlen(name) : 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= outlen)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[len] = '\0';
	return true;
}

/* Past the name at *pos (labels, or a compression pointer that ends it):
 * false when it runs past len or a label is malformed. */
static bool
skip_name(const unsigned char *p, size_t len, size_t *pos)
{
	size_t i = *pos;

	for (;;) {
		if (i >= len)
			return false;
		if (p[i] == 0) {
			*pos = i + 1;
			return true;
		}
		if ((p[i] & 0xc0) == 0xc0) {
			if (i + 2 > len)
				return false;
			*pos = i + 2;
			return true;
		}
		if ((p[i] & 0xc0) != 0)
			return false;	/* 0x40 and 0x80: no such labels (RFC 6891 retired them) */
		i += 1 + p[i];
	}
}

bool
dns_packet_has_soa(const char *buf, size_t len)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t pos = 12;
	unsigned qd, an, ns;
	bool soa = false;

	if (buf == NULL || len < 12)
		return false;
	qd = (unsigned)p[4] << 8 | p[5];
	an = (unsigned)p[6] << 8 | p[7];
	ns = (unsigned)p[8] << 8 | p[9];
	for (unsigned i = 0; i < qd; i++)
		if (!skip_name(p, len, &pos) || (pos += 4) > len)
			return false;
	/* answer records, then the authority section's: type, class, TTL,
	 * rdata length, rdata */
	for (unsigned i = 0; i < an + ns; i++) {
		unsigned type, rdlen;
		if (!skip_name(p, len, &pos) || pos + 10 > len)
			return false;
		type = (unsigned)p[pos] << 8 | p[pos + 1];
		rdlen = (unsigned)p[pos + 8] << 8 | p[pos + 9];
		pos += 10;
		if (rdlen > len - pos)
			return false;
		pos += rdlen;
		soa |= i >= an && type == 6;
	}
	return soa;
}
