/*
 * Received header parsing. Only the "from" clause is read (up to " by "):
 * an IP there is the connecting client as the receiving server saw it.
 * Preference: a bracketed address ("[192.0.2.1]", "[IPv6:2001:db8::1]"),
 * then one in parentheses ("(192.0.2.1)", Exchange and qmail), then a
 * bare address right after "from".
 */
#include "received.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "scan/mime.h"

/* Copies and validates an address candidate. */
static bool
take_ip(const char *p, size_t n, char *ip)
{
	char tmp[RCVD_IP_MAX + 8];
	unsigned char bin[16];

	if (n >= 5 && strncasecmp(p, "IPv6:", 5) == 0)
		p += 5, n -= 5;
	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, bin) == 1) {
		inet_ntop(AF_INET, bin, ip, RCVD_IP_MAX);
		return true;
	}
	if (inet_pton(AF_INET6, tmp, bin) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)bin))
			inet_ntop(AF_INET, bin + 12, ip, RCVD_IP_MAX);
		else
			inet_ntop(AF_INET6, bin, ip, RCVD_IP_MAX);
		return true;
	}
	return false;
}

static bool
ipchar(unsigned char c)
{
	return isxdigit(c) || c == '.' || c == ':';
}

bool
received_parse_ip(const char *value, size_t len, char *ip)
{
	char v[2048];
	size_t n = mime_unfold(value, len, v, sizeof(v) - 1), from, end, i;

	v[n] = '\0';
	/* the from clause */
	for (from = 0; from + 5 <= n; from++)
		if ((v[from] | 0x20) == 'f' && strncasecmp(v + from, "from", 4) == 0 &&
		    (from == 0 || isspace((unsigned char)v[from - 1])) &&
		    isspace((unsigned char)v[from + 4]))
			break;
	if (from + 5 > n)
		return false;
	from += 5;
	end = n;
	for (i = from; i + 4 <= n; i++)
		if ((v[i + 1] | 0x20) == 'b' && isspace((unsigned char)v[i]) &&
		    strncasecmp(v + i + 1, "by", 2) == 0 &&
		    i + 3 < n && isspace((unsigned char)v[i + 3])) {
			end = i;
			break;
		}
	/* [IP]: the one in parentheses is the TCP peer of Postfix and
	 * Sendmail ("helo (name [IP])"); a bracket right after "from" is
	 * then a HELO literal, except for Exim, whose peer comes first and
	 * whose HELO is marked "helo=[...]". */
	{
		char paren_ip[RCVD_IP_MAX] = "", plain_ip[RCVD_IP_MAX] = "", tmp[RCVD_IP_MAX];
		int depth = 0;
		for (i = from; i < end; i++) {
			const char *close;
			if (v[i] == '(')
				depth++;
			else if (v[i] == ')' && depth > 0)
				depth--;
			if (v[i] != '[' || (close = memchr(v + i, ']', end - i)) == NULL)
				continue;
			if (i >= from + 5 && strncasecmp(v + i - 5, "helo=", 5) == 0)
				continue;
			if (!take_ip(v + i + 1, (size_t)(close - v) - i - 1, tmp))
				continue;
			if (depth > 0 && paren_ip[0] == '\0')
				memcpy(paren_ip, tmp, sizeof(tmp));
			else if (depth == 0 && plain_ip[0] == '\0')
				memcpy(plain_ip, tmp, sizeof(tmp));
		}
		if (paren_ip[0] || plain_ip[0]) {
			memcpy(ip, paren_ip[0] ? paren_ip : plain_ip, RCVD_IP_MAX);
			return true;
		}
	}
	/* (IP), "(HELO x) (IP)", "(host IP)", qmail's "(user@IP)" */
	for (i = from; i < end; i++)
		if (v[i] == '(' || v[i] == '@' || (v[i] == ' ' && i > from && v[i - 1] != ')')) {
			size_t s = i + 1, e = s;
			while (e < end && ipchar((unsigned char)v[e]))
				e++;
			if (e > s && (e == end || v[e] == ')' || v[e] == ' ') && take_ip(v + s, e - s, ip))
				return true;
		}
	/* "from 192.0.2.1 by ..." */
	{
		size_t s = from, e = s;
		while (e < end && ipchar((unsigned char)v[e]))
			e++;
		if (e > s && take_ip(v + s, e - s, ip))
			return true;
	}
	return false;
}

/* Loopback, private, shared, link-local and unspecified networks, as
 * networks (parsed once here, not per hop). */
static const struct cidr internal_nets[] = {
	{ AF_INET, { 127 }, 8 },
	{ AF_INET, { 10 }, 8 },
	{ AF_INET, { 172, 16 }, 12 },
	{ AF_INET, { 192, 168 }, 16 },
	{ AF_INET, { 100, 64 }, 10 },
	{ AF_INET, { 169, 254 }, 16 },
	{ AF_INET, { 0 }, 8 },
	{ AF_INET6, { [15] = 1 }, 128 },	/* ::1 */
	{ AF_INET6, { 0xfc }, 7 },
	{ AF_INET6, { 0xfe, 0x80 }, 10 },
	{ AF_INET6, { 0 }, 128 },		/* :: */
};

bool
received_ip_internal(const char *ip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return false;
	return cidr_list_match(internal_nets, sizeof(internal_nets) / sizeof(internal_nets[0]),
	    (struct sockaddr *)&ss);
}

static bool
in_trusted(const char *ip, const struct cidr *trusted, size_t n)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1)
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1)
		ss.ss_family = AF_INET6;
	else
		return false;
	return cidr_list_match(trusted, n, (struct sockaddr *)&ss);
}

void
received_chain(const char *headers, size_t len, const struct cidr *trusted, size_t ntrusted,
    const char *const *own, size_t nown, struct received_chain *out)
{
	size_t pos = 0, nl, vl;
	const char *name, *value;
	unsigned field = 0;

	memset(out, 0, sizeof(*out));
	out->last_external = -1;
	while (out->n < RCVD_HOPS_MAX &&
	    mime_header_next(headers, len, &pos, &name, &nl, &value, &vl)) {
		struct received_hop *h;
		if (nl != 8 || strncasecmp(name, "Received", 8) != 0)
			continue;
		h = &out->hops[out->n];
		h->field = field++;
		if (!received_parse_ip(value, vl, h->ip))
			continue;
		out->n++;
		h->internal = received_ip_internal(h->ip) || in_trusted(h->ip, trusted, ntrusted);
		for (size_t k = 0; k < nown && !h->internal; k++)
			if (strcmp(own[k], h->ip) == 0)
				h->internal = true;
	}
	for (size_t i = 0; i < out->n; i++) {
		if (out->last_external >= 0)
			out->hops[i].deeper = true;
		else if (!out->hops[i].internal) {
			out->hops[i].last_external = true;
			out->last_external = (int)i;
		}
	}
}
