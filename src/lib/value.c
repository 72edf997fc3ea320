/*
 * Typed configuration values. Every function is bounded by len and never
 * reads a terminating NUL; overflow is VALUE_RANGE, never a wrap.
 */
#include "value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>

/*
 * Reads the leading run of decimal digits. Returns 0, -1 when there is
 * none, or VALUE_RANGE when it does not fit in 64 bits: the run is still
 * read to its end (used), so the caller can tell "too large" from "not a
 * number" by what follows it.
 */
static int
parse_u64(const char *buf, size_t len, uint64_t *out, size_t *used)
{
	uint64_t v = 0;
	unsigned d;
	size_t i;
	int rc = 0;

	for (i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		d = (unsigned)(buf[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			rc = VALUE_RANGE;
		else
			v = v * 10 + d;
	}
	if (i == 0)
		return -1;
	*out = v;
	*used = i;
	return rc;
}

/* A number with an optional one-letter unit from units (letter, factor),
 * as value * factor; the result must not exceed max. */
struct unit {
	char c;
	uint64_t mult;
};

static int
parse_scaled(const char *buf, size_t len, const struct unit *units, size_t nunits,
    uint64_t max, uint64_t *out)
{
	uint64_t v, mult = 1;
	size_t used, i;
	int rc;

	if ((rc = parse_u64(buf, len, &v, &used)) == -1)
		return -1;
	if (used + 1 == len) {
		for (i = 0; i < nunits && units[i].c != buf[used]; i++)
			;
		if (i == nunits)
			return -1;
		mult = units[i].mult;
	} else if (used != len)
		return -1;
	if (rc == VALUE_RANGE || v > max / mult)
		return VALUE_RANGE;
	*out = v * mult;
	return 0;
}

int
value_uint(const char *buf, size_t len, unsigned *out)
{
	uint64_t v;
	int rc;

	if ((rc = parse_scaled(buf, len, NULL, 0, UINT_MAX, &v)) != 0)
		return rc;
	*out = (unsigned)v;
	return 0;
}

int
value_duration(const char *buf, size_t len, unsigned *out)
{
	static const struct unit units[] = {
		{ 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 7 * 86400 },
	};
	uint64_t v;
	int rc;

	if ((rc = parse_scaled(buf, len, units, sizeof(units) / sizeof(units[0]),
	    UINT_MAX, &v)) != 0)
		return rc;
	*out = (unsigned)v;
	return 0;
}

int
value_size(const char *buf, size_t len, uint64_t *out)
{
	static const struct unit units[] = {
		{ 'k', 1ULL << 10 }, { 'K', 1ULL << 10 }, { 'm', 1ULL << 20 },
		{ 'M', 1ULL << 20 }, { 'g', 1ULL << 30 }, { 'G', 1ULL << 30 },
		{ 't', 1ULL << 40 }, { 'T', 1ULL << 40 },
	};

	return parse_scaled(buf, len, units, sizeof(units) / sizeof(units[0]), UINT64_MAX,
	    out);
}

int
value_rate(const char *buf, size_t len, struct rate *out)
{
	const char *slash = memchr(buf, '/', len);
	struct rate r;
	size_t n;
	int rc, rd;

	if (slash == NULL)
		return -1;
	n = (size_t)(slash - buf);
	rc = value_uint(buf, n, &r.count);
	rd = value_duration(slash + 1, len - n - 1, &r.seconds);
	if (rc == -1 || rd == -1 || (rd == 0 && r.seconds == 0))
		return -1;
	if (rc != 0 || rd != 0)
		return VALUE_RANGE;
	*out = r;
	return 0;
}

static int
host_ok(const char *h, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == '*'))
			return 0;
	}
	return 1;
}

int
value_hostport(const char *buf, size_t len, struct hostport *out)
{
	const char *host, *colon;
	size_t hlen;
	unsigned port;
	char tmp[HOSTPORT_HOST_MAX];
	struct in6_addr a6;

	if (len > 0 && buf[0] == '[') {
		const char *end = memchr(buf, ']', len);
		if (end == NULL || (size_t)(end - buf) + 1 >= len ||
		    end[1] != ':')
			return -1;
		host = buf + 1;
		hlen = (size_t)(end - host);
		colon = end + 1;
		if (hlen == 0 || hlen >= sizeof(tmp))
			return -1;
		memcpy(tmp, host, hlen);
		tmp[hlen] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) != 1)
			return -1;
	} else {
		colon = NULL;
		for (size_t i = len; i > 0; i--)
			if (buf[i - 1] == ':') {
				colon = buf + i - 1;
				break;
			}
		if (colon == NULL)
			return -1;
		host = buf;
		hlen = (size_t)(colon - buf);
		if (memchr(host, ':', hlen) != NULL || !host_ok(host, hlen))
			return -1;
	}
	if (hlen >= sizeof(out->host))
		return -1;
	if (value_uint(colon + 1, len - (size_t)(colon + 1 - buf), &port) != 0 ||
	    port == 0 || port > 65535)
		return -1;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = port;
	return 0;
}

int
value_cidr(const char *buf, size_t len, struct cidr *out)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(buf, '/', len);
	size_t alen = slash ? (size_t)(slash - buf) : len;
	unsigned prefix, max;

	if (alen == 0 || alen >= sizeof(tmp))
		return -1;
	memcpy(tmp, buf, alen);
	tmp[alen] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, tmp, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else
		return -1;
	prefix = max;
	if (slash != NULL &&
	    (value_uint(slash + 1, len - alen - 1, &prefix) != 0 || prefix > max))
		return -1;
	out->prefix = prefix;
	for (unsigned bit = prefix; bit < max; bit++)
		out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
	return 0;
}

int
value_number(const char *buf, size_t len, double *out)
{
	size_t i = 0;
	int neg = 0, digits = 0;
	double v = 0, scale = 1;

	if (i < len && (buf[i] == '-' || buf[i] == '+'))
		neg = buf[i++] == '-';
	for (; i < len && isdigit((unsigned char)buf[i]); i++, digits++)
		v = v * 10 + (buf[i] - '0');
	if (i < len && buf[i] == '.') {
		for (i++; i < len && isdigit((unsigned char)buf[i]); i++, digits++) {
			scale /= 10;
			v += (buf[i] - '0') * scale;
		}
	}
	if (i != len || digits == 0 || digits > 15)
		return -1;
	*out = neg ? -v : v;
	return 0;
}

int
value_bool(const char *buf, size_t len, bool *out)
{
	static const struct { const char *s; bool v; } words[] = {
		{ "yes", true }, { "true", true }, { "on", true }, { "1", true },
		{ "no", false }, { "false", false }, { "off", false }, { "0", false },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i].s) == len &&
		    strncasecmp(words[i].s, buf, len) == 0) {
			*out = words[i].v;
			return 0;
		}
	return -1;
}

bool
cidr_match(const struct cidr *net, const struct sockaddr *sa)
{
	const unsigned char *a;
	unsigned char mapped[4];

	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (net->family == AF_INET && IN6_IS_ADDR_V4MAPPED(in6)) {
			memcpy(mapped, in6->s6_addr + 12, 4);
			a = mapped;
		} else if (net->family == AF_INET6)
			a = in6->s6_addr;
		else
			return false;
	} else if (sa->sa_family == AF_INET && net->family == AF_INET)
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	else
		return false;
	{
		/* whole octets, then the bits left of the last one */
		unsigned whole = net->prefix / 8, rest = net->prefix % 8;
		unsigned char m = (unsigned char)(0xffu << (8 - rest));
		if (memcmp(a, net->addr, whole) != 0)
			return false;
		return rest == 0 || (a[whole] & m) == (net->addr[whole] & m);
	}
}

bool
cidr_list_match(const struct cidr *nets, size_t n, const struct sockaddr *sa)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_match(&nets[i], sa))
			return true;
	return false;
}
