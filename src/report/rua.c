/*
 * Tag lists "k=v; k=v" (RFC 7489 6.4, RFC 8460 3), the rua URI list
 * "mailto:a@b!10m, https://...", and the address check that keeps a DNS
 * record from writing into our envelopes or headers.
 */
#include "rua.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dns/answer.h"

static bool
wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Finds tag's value in a tag list; false when absent. */
static bool
tag(const char *s, size_t len, const char *name, const char **v, size_t *vlen)
{
	size_t i = 0, nl = strlen(name);

	while (i < len) {
		size_t b, e, eq;
		while (i < len && (wsp(s[i]) || s[i] == ';'))
			i++;
		b = i;
		while (i < len && s[i] != ';')
			i++;
		e = i;
		for (eq = b; eq < e && s[eq] != '='; eq++)
			;
		if (eq < e) {
			size_t ke = eq;
			while (ke > b && wsp(s[ke - 1]))
				ke--;
			if (ke - b == nl && strncasecmp(s + b, name, nl) == 0) {
				size_t vb = eq + 1;
				while (vb < e && wsp(s[vb]))
					vb++;
				while (e > vb && wsp(s[e - 1]))
					e--;
				*v = s + vb;
				*vlen = e - vb;
				return true;
			}
		}
	}
	return false;
}

static int
hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* An addr-spec safe for "RCPT TO:<...>" and "To: <...>": a dot-atom
 * local part (RFC 5322 3.2.3) and a host name. */
static bool
addr_ok(const char *a, char *out, size_t outlen)
{
	const char *at = strrchr(a, '@');
	char dom[256];
	size_t ll;

	if (at == NULL || at == a || (ll = (size_t)(at - a)) > 64)
		return false;
	for (size_t i = 0; i < ll; i++) {
		char c = a[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL))
			return false;
		if (c == '.' && (i == 0 || i + 1 == ll || a[i - 1] == '.'))
			return false;
	}
	if (!dns_name_key(at + 1, dom, sizeof(dom)) || strchr(dom, '.') == NULL ||
	    strspn(dom, "abcdefghijklmnopqrstuvwxyz0123456789-.") != strlen(dom))
		return false;
	if ((size_t)snprintf(out, outlen, "%.*s@%s", (int)ll, a, dom) >= outlen)
		return false;
	return true;
}

static void
uri_list(const char *v, size_t vlen, struct rua_list *out)
{
	size_t i = 0;

	while (i < vlen) {
		size_t b, e, o = 0;
		char uri[RUA_ADDR_MAX + 32];
		unsigned long long limit = 0;
		while (i < vlen && (wsp(v[i]) || v[i] == ','))
			i++;
		b = i;
		while (i < vlen && v[i] != ',')
			i++;
		e = i;
		while (e > b && wsp(v[e - 1]))
			e--;
		if (e == b)
			continue;
		if (e - b >= 6 && strncasecmp(v + b, "https:", 6) == 0) {
			out->https++;
			continue;
		}
		if (e - b < 8 || strncasecmp(v + b, "mailto:", 7) != 0) {
			out->dropped++;
			continue;
		}
		/* "!" size limit (RFC 7489 6.2): digits and a unit */
		for (size_t k = b + 7; k < e; k++)
			if (v[k] == '!') {
				size_t d = k + 1;
				unsigned long long mul = 1;
				for (; d < e && v[d] >= '0' && v[d] <= '9' && limit < (1ULL << 40); d++)
					limit = limit * 10 + (unsigned)(v[d] - '0');
				if (d < e) {
					char u = (char)(v[d] | 0x20);
					mul = u == 'k' ? 1ULL << 10 : u == 'm' ? 1ULL << 20 :
					    u == 'g' ? 1ULL << 30 : u == 't' ? 1ULL << 40 : 0;
				}
				limit *= mul;
				e = k;
				break;
			}
		/* percent-decoding (RFC 3986 2.1): "%2C" is how a comma hides */
		for (size_t k = b + 7; k < e; k++) {
			char c = v[k];
			if (o + 1 >= sizeof(uri))
				break;
			if (c == '%' && k + 2 < e && hexval(v[k + 1]) >= 0 && hexval(v[k + 2]) >= 0) {
				c = (char)(hexval(v[k + 1]) * 16 + hexval(v[k + 2]));
				k += 2;
			}
			uri[o++] = c;
		}
		uri[o] = '\0';
		if (strchr(uri, '?') != NULL)
			*strchr(uri, '?') = '\0';	/* mailto headers (RFC 6068) are not used */
		if (out->n >= RUA_MAX || !addr_ok(uri, out->addr[out->n], sizeof(out->addr[0]))) {
			out->dropped++;
			continue;
		}
		out->limit[out->n++] = limit;
	}
}

static bool
version_is(const char *txt, size_t len, const char *want)
{
	const char *v;
	size_t vlen, i = 0;

	while (i < len && wsp(txt[i]))
		i++;
	/* the version tag comes first (RFC 7489 6.3, RFC 8460 3) */
	if (len - i < 2 || strncasecmp(txt + i, "v", 1) != 0)
		return false;
	if (!tag(txt + i, len - i, "v", &v, &vlen))
		return false;
	return vlen == strlen(want) && strncmp(v, want, vlen) == 0;
}

int
rua_from_dmarc(const char *txt, size_t len, struct rua_list *out)
{
	const char *v;
	size_t vlen;

	memset(out, 0, sizeof(*out));
	if (!version_is(txt, len, "DMARC1"))
		return -1;
	if (tag(txt, len, "rua", &v, &vlen))
		uri_list(v, vlen, out);
	return 0;
}

int
rua_from_tlsrpt(const char *txt, size_t len, struct rua_list *out)
{
	const char *v;
	size_t vlen;

	memset(out, 0, sizeof(*out));
	if (!version_is(txt, len, "TLSRPTv1"))
		return -1;
	if (tag(txt, len, "rua", &v, &vlen))
		uri_list(v, vlen, out);
	return 0;
}

bool
rua_verify_record(const char *txt, size_t len)
{
	return version_is(txt, len, "DMARC1");
}

const char *
rua_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : addr;
}
