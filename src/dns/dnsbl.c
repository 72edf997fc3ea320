/*
 * Blocklist names and return codes, from Spamhaus's published tables:
 * https://docs.spamhaus.com/datasets/docs/source/40-real-world-usage/PublicMirrors/MTAs/020-Postfix.html
 * and the return-code pages for zen and DBL. Pure functions only.
 */
#include "dnsbl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

void
dnsbl_zones(const char *ip_zone, const char *domain_zone, const char *dqs_key,
    char *ip_out, char *domain_out)
{
	if (dqs_key != NULL && *dqs_key != '\0') {
		snprintf(ip_out, DNSBL_NAME_MAX, "%s.zen.dq.spamhaus.net", dqs_key);
		snprintf(domain_out, DNSBL_NAME_MAX, "%s.dbl.dq.spamhaus.net", dqs_key);
	} else {
		snprintf(ip_out, DNSBL_NAME_MAX, "%s", ip_zone);
		snprintf(domain_out, DNSBL_NAME_MAX, "%s", domain_zone);
	}
}

static int
v4_name(const unsigned char *a, const char *zone, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0], zone);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static int
v6_name(const unsigned char *a, const char *zone, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, zl = strlen(zone);

	if (outlen < 64 + zl + 1)
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, zone, zl + 1);
	return 0;
}

int
dnsbl_ip_name(const struct sockaddr *sa, const char *zone, char *out, size_t outlen)
{
	if (sa->sa_family == AF_INET)
		return v4_name((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr,
		    zone, out, outlen);
	if (sa->sa_family == AF_INET6) {
		const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a))
			return v4_name(a + 12, zone, out, outlen);
		return v6_name(a, zone, out, outlen);
	}
	return -1;
}

int
dnsbl_ip_name_str(const char *ip, const char *zone, char *out, size_t outlen)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1)
		return v4_name(a, zone, out, outlen);
	if (inet_pton(AF_INET6, ip, a) == 1) {
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a))
			return v4_name(a + 12, zone, out, outlen);
		return v6_name(a, zone, out, outlen);
	}
	return -1;
}

int
dnsbl_domain_name(const char *name, size_t len, const char *zone, char *out, size_t outlen)
{
	unsigned char tmp[16];
	char buf[DNSBL_NAME_MAX];
	size_t lab = 0;
	int alpha = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	/* Never an IP: the DBL answers 127.0.1.255, a wasted query. */
	if (buf[0] == '[' || inet_pton(AF_INET, buf, tmp) == 1 ||
	    inet_pton(AF_INET6, buf, tmp) == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '.') {
			if (lab == 0)
				return -1;
			lab = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_'))
			return -1;
		if (isalpha(c))
			alpha = 1;
		if (++lab > 63)
			return -1;
		buf[i] = (char)tolower(c);
	}
	/* A single label or an all-numeric name is no registrable host. */
	if (!alpha || strchr(buf, '.') == NULL)
		return -1;
	if (snprintf(out, outlen, "%s.%s", buf, zone) >= (int)outlen ||
	    strlen(out) > 253)
		return -1;
	return 0;
}

const char *
dnsbl_kind_display(enum dnsbl_kind kind)
{
	switch (kind) {
	case DNSBL_KIND_IP: return "zen";
	case DNSBL_KIND_DOMAIN: return "dbl";
	case DNSBL_KIND_AUTHBL: return "authbl";
	case DNSBL_KIND_ZRD: return "zrd";
	case DNSBL_KIND_HBL: return "hbl";
	default: return "?";
	}
}

void
dnsbl_dqs_zone(const char *dqs_key, enum dnsbl_kind kind, char *out)
{
	out[0] = '\0';
	if (dqs_key == NULL || *dqs_key == '\0' || kind < DNSBL_KIND_AUTHBL ||
	    kind >= DNSBL_KIND_COUNT)
		return;
	snprintf(out, DNSBL_NAME_MAX, "%s.%s.dq.spamhaus.net", dqs_key, dnsbl_kind_display(kind));
}

/*
 * The DQS-only zones (SPEC 4.1, Spamhaus's zone table): AuthBL answers
 * 127.0.0.20 today, and any other record in 127/8 is taken as a listing
 * too, except the 127.255.255.x error codes; ZRD answers 127.0.2.2-24,
 * the hours since the domain was first seen; HBL 127.0.3.2 (email),
 * .10 and .15 (files), .20 (wallets). Anything else means nothing
 * documented: an error, never a listing.
 */
static enum dnsbl_code
classify_dqs(enum dnsbl_kind kind, const unsigned char *a)
{
	if (a[1] == 255 && a[2] == 255)
		return DNSBL_ERROR;	/* 127.255.255.x: typo, resolver, key, limit */
	switch (kind) {
	case DNSBL_KIND_AUTHBL:
		return DNSBL_AUTHBL;
	case DNSBL_KIND_ZRD:
		return a[1] == 0 && a[2] == 2 && a[3] >= 2 && a[3] <= 24 ? DNSBL_ZRD : DNSBL_ERROR;
	case DNSBL_KIND_HBL:
		if (a[1] != 0 || a[2] != 3)
			return DNSBL_ERROR;
		switch (a[3]) {
		case 2: return DNSBL_HBL_EMAIL;
		case 10: return DNSBL_HBL_FILE_MALWARE;
		case 15: return DNSBL_HBL_FILE_SUSPICIOUS;
		case 20: return DNSBL_HBL_CW;
		default: return DNSBL_ERROR;
		}
	default:
		return DNSBL_ERROR;
	}
}

enum dnsbl_code
dnsbl_classify(enum dnsbl_kind kind, const unsigned char *a, size_t len)
{
	if (len != 4 || a[0] != 127)
		return DNSBL_ERROR;	/* outside 127/8: a rewriting resolver */
	if (kind >= DNSBL_KIND_AUTHBL)
		return classify_dqs(kind, a);
	if (kind == DNSBL_KIND_IP) {
		if (a[1] != 0 || a[2] != 0)
			return DNSBL_ERROR;	/* 127.255.255.x and the like */
		switch (a[3]) {
		case 2: return DNSBL_SBL;
		case 3: return DNSBL_SBL_CSS;
		case 4: case 5: case 6: case 7: return DNSBL_XBL;
		case 9: return DNSBL_SBL_DROP;
		case 10: case 11: return DNSBL_PBL;
		default: return DNSBL_ERROR;
		}
	}
	if (a[1] != 0 || a[2] != 1)
		return DNSBL_ERROR;
	switch (a[3]) {
	case 2: return DNSBL_DBL_SPAM;
	case 4: return DNSBL_DBL_PHISH;
	case 5: return DNSBL_DBL_MALWARE;
	case 6: return DNSBL_DBL_BOTNET;
	case 102: case 103: case 104: case 105: case 106: return DNSBL_DBL_ABUSED;
	default:
		/* 127.0.1.255: an IP was queried in a domain list. */
		if (a[3] >= 2 && a[3] <= 99)
			return DNSBL_DBL_OTHER;
		return DNSBL_ERROR;
	}
}

const char *
dnsbl_code_name(enum dnsbl_code code)
{
	switch (code) {
	case DNSBL_NONE: return "none";
	case DNSBL_SBL: return "SBL";
	case DNSBL_SBL_CSS: return "SBL CSS";
	case DNSBL_XBL: return "XBL";
	case DNSBL_SBL_DROP: return "SBL DROP";
	case DNSBL_PBL: return "PBL";
	case DNSBL_DBL_SPAM: return "DBL spam";
	case DNSBL_DBL_PHISH: return "DBL phish";
	case DNSBL_DBL_MALWARE: return "DBL malware";
	case DNSBL_DBL_BOTNET: return "DBL botnet C&C";
	case DNSBL_DBL_OTHER: return "DBL";
	case DNSBL_DBL_ABUSED: return "DBL abused legit";
	case DNSBL_AUTHBL: return "AuthBL";
	case DNSBL_ZRD: return "ZRD";
	case DNSBL_HBL_EMAIL: return "HBL email";
	case DNSBL_HBL_FILE_MALWARE: return "HBL malware file";
	case DNSBL_HBL_FILE_SUSPICIOUS: return "HBL suspicious file";
	case DNSBL_HBL_CW: return "HBL crypto wallet";
	case DNSBL_ERROR: return "error";
	}
	return "?";
}

bool
dnsbl_code_rejects(enum dnsbl_code code)
{
	/* the DQS-only lists score (ZRD, HBL) or refuse AUTH (AuthBL), never
	 * a recipient */
	return code != DNSBL_NONE && code < DNSBL_DBL_ABUSED;
}

void
dnsbl_code_text(const unsigned char *a, size_t len, char *out)
{
	if (len == 4)
		snprintf(out, 16, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	else
		snprintf(out, 16, "len=%zu", len);
}

/* Severity order for picking the code shown in a reply. */
static int
severity(enum dnsbl_code c)
{
	switch (c) {
	case DNSBL_SBL_DROP: return 9;
	case DNSBL_SBL: return 8;
	case DNSBL_DBL_BOTNET: return 8;
	case DNSBL_DBL_MALWARE: return 7;
	case DNSBL_DBL_PHISH: return 7;
	case DNSBL_SBL_CSS: return 6;
	case DNSBL_DBL_SPAM: return 6;
	case DNSBL_DBL_OTHER: return 5;
	case DNSBL_XBL: return 5;
	case DNSBL_PBL: return 3;
	case DNSBL_DBL_ABUSED: return 2;
	case DNSBL_HBL_FILE_MALWARE: return 9;
	case DNSBL_AUTHBL: return 8;
	case DNSBL_HBL_EMAIL: return 6;
	case DNSBL_HBL_CW: return 6;
	case DNSBL_HBL_FILE_SUSPICIOUS: return 5;
	case DNSBL_ZRD: return 4;
	default: return 0;
	}
}

void
dnsbl_verdict_of(enum dnsbl_kind kind, const char *const *data, const int *len,
    size_t count, struct dnsbl_verdict *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < count; i++) {
		const unsigned char *a = (const unsigned char *)data[i];
		size_t l = len[i] < 0 ? 0 : (size_t)len[i];
		enum dnsbl_code c = dnsbl_classify(kind, a, l);

		if (c == DNSBL_ERROR) {
			if (out->code != DNSBL_ERROR)
				dnsbl_code_text(a, l, out->text);
			out->code = DNSBL_ERROR;
			continue;
		}
		out->lists |= 1u << c;
		/* ZRD: the freshest record counts (several are not expected) */
		if (c == DNSBL_ZRD && (out->hours == 0 || a[3] < out->hours))
			out->hours = a[3];
		if (out->code != DNSBL_ERROR && severity(c) > severity(out->code)) {
			out->code = c;
			dnsbl_code_text(a, l, out->text);
		}
	}
	if (out->code == DNSBL_ERROR) {
		out->lists = 0;
		out->hours = 0;
	}
}

void
dnsbl_lists_text(const struct dnsbl_verdict *v, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (int c = DNSBL_SBL; c < DNSBL_ERROR; c++)
		if (v->lists & (1u << c)) {
			int n = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "",
			    dnsbl_code_name((enum dnsbl_code)c));
			if (n < 0 || (size_t)n >= outlen - o)
				break;
			o += (size_t)n;
		}
}
