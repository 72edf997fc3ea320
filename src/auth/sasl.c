/*
 * SASL response decoding. Strict base64 (RFC 4648 alphabet, padding
 * checked), no NUL inside user names, caps on every field.
 */
#include "sasl.h"

#include <string.h>
#include <strings.h>

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Strict base64; returns the decoded length or -1. */
static long
b64_strict(const char *in, size_t len, char *out, size_t outlen)
{
	unsigned long acc = 0;
	size_t o = 0, i, pad = 0;
	int bits = 0;

	if (len % 4 != 0)
		return -1;
	for (i = 0; i < len; i++) {
		int v;
		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (v = b64val((unsigned char)in[i])) < 0)
			return -1;
		acc = (acc << 6) | (unsigned long)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outlen)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2)
		return -1;
	return (long)o;
}

enum sasl_mech
sasl_mech_lookup(const char *name, size_t len)
{
	if (len == 5 && strncasecmp(name, "PLAIN", 5) == 0)
		return SASL_PLAIN;
	if (len == 5 && strncasecmp(name, "LOGIN", 5) == 0)
		return SASL_LOGIN;
	return SASL_NONE;
}

int
sasl_plain_decode(const char *b64, size_t len, char *user, size_t userlen, char *pass,
    size_t passlen)
{
	char buf[3 * SASL_FIELD_MAX + 3];
	long n = b64_strict(b64, len, buf, sizeof(buf));
	const char *authz, *authc, *pw, *end;
	size_t al, cl, pl;

	if (n <= 0)
		return -1;
	end = buf + n;
	authz = buf;
	authc = memchr(authz, '\0', (size_t)(end - authz));
	if (authc == NULL)
		return -1;
	al = (size_t)(authc - authz);
	authc++;
	pw = memchr(authc, '\0', (size_t)(end - authc));
	if (pw == NULL)
		return -1;
	cl = (size_t)(pw - authc);
	pw++;
	pl = (size_t)(end - pw);
	if (memchr(pw, '\0', pl) != NULL || cl == 0 || pl == 0 || cl >= userlen || pl >= passlen)
		return -1;
	if (al != 0 && (al != cl || memcmp(authz, authc, cl) != 0))
		return -1;
	memcpy(user, authc, cl);
	user[cl] = '\0';
	memcpy(pass, pw, pl);
	pass[pl] = '\0';
	return 0;
}

int
sasl_login_decode(const char *b64, size_t len, char *out, size_t outlen)
{
	long n = b64_strict(b64, len, out, outlen - 1);

	if (n <= 0 || memchr(out, '\0', (size_t)n) != NULL)
		return -1;
	out[n] = '\0';
	return 0;
}
