/*
 * Command line and ESMTP parameter parsing. Strict: a malformed line is
 * refused with a reason, never guessed at. Nothing here allocates.
 */
#include "parse.h"

#include <string.h>
#include <strings.h>

static const char *const verbs[SMTP_VERB_COUNT] = {
	[SMTP_VERB_UNKNOWN] = "?",
	[SMTP_VERB_HELO] = "HELO", [SMTP_VERB_EHLO] = "EHLO",
	[SMTP_VERB_MAIL] = "MAIL", [SMTP_VERB_RCPT] = "RCPT",
	[SMTP_VERB_DATA] = "DATA", [SMTP_VERB_BDAT] = "BDAT",
	[SMTP_VERB_RSET] = "RSET", [SMTP_VERB_NOOP] = "NOOP",
	[SMTP_VERB_QUIT] = "QUIT", [SMTP_VERB_VRFY] = "VRFY",
	[SMTP_VERB_EXPN] = "EXPN", [SMTP_VERB_HELP] = "HELP",
	[SMTP_VERB_STARTTLS] = "STARTTLS", [SMTP_VERB_AUTH] = "AUTH",
};

const char *
smtp_verb_name(enum smtp_verb verb)
{
	if ((unsigned)verb >= SMTP_VERB_COUNT)
		return "?";
	return verbs[verb];
}

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

enum smtp_parse_result
smtp_parse_cmd(const char *buf, size_t len, struct smtp_cmd *out)
{
	size_t i, vlen;

	/* A NUL or control octet anywhere is refused: never logged raw, never
	 * passed on (RFC 5321 4.1.1: commands are US-ASCII text). */
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == 0 || (c < 0x20 && c != '\t') || c == 0x7f)
			return SMTP_PARSE_BAD_CHAR;
	}
	while (len > 0 && is_wsp(buf[len - 1]))
		len--;
	if (len == 0)
		return SMTP_PARSE_EMPTY;
	for (vlen = 0; vlen < len && !is_wsp(buf[vlen]); vlen++)
		if ((unsigned char)buf[vlen] >= 0x80)
			return SMTP_PARSE_BAD_CHAR;
	memset(out, 0, sizeof(*out));
	for (int v = 1; v < SMTP_VERB_COUNT; v++)
		if (strlen(verbs[v]) == vlen && strncasecmp(verbs[v], buf, vlen) == 0) {
			out->verb = (enum smtp_verb)v;
			break;
		}
	if (out->verb == SMTP_VERB_UNKNOWN)
		return SMTP_PARSE_UNKNOWN;
	i = vlen;
	while (i < len && is_wsp(buf[i]))
		i++;
	out->arg = buf + i;
	out->arglen = len - i;
	/* RFC 5321 4.1.1: these take no argument at all. */
	switch (out->verb) {
	case SMTP_VERB_DATA:
	case SMTP_VERB_RSET:
	case SMTP_VERB_QUIT:
	case SMTP_VERB_STARTTLS:
		if (out->arglen != 0)
			return SMTP_PARSE_SYNTAX;
		break;
	case SMTP_VERB_HELO:
	case SMTP_VERB_EHLO:
	case SMTP_VERB_MAIL:
	case SMTP_VERB_RCPT:
	case SMTP_VERB_BDAT:
	case SMTP_VERB_AUTH:
		if (out->arglen == 0)
			return SMTP_PARSE_SYNTAX;
		break;
	default:
		break;
	}
	return SMTP_PARSE_OK;
}

int
smtp_split_path_arg(const char *arg, size_t len, const char *keyword,
    const char **path, size_t *pathlen, const char **params, size_t *paramslen)
{
	size_t kl = strlen(keyword), i, start;
	int inquote = 0;

	if (len < kl + 1 || strncasecmp(arg, keyword, kl) != 0 || arg[kl] != ':')
		return -1;
	i = kl + 1;
	while (i < len && is_wsp(arg[i]))
		i++;
	start = i;
	if (i >= len || arg[i] != '<')
		return -1;
	/* The path ends at the first '>' outside a quoted local part. */
	for (; i < len; i++) {
		if (inquote && arg[i] == '\\' && i + 1 < len) {
			i++;
			continue;
		}
		if (arg[i] == '"')
			inquote = !inquote;
		else if (!inquote && arg[i] == '>')
			break;
	}
	if (i >= len)
		return -1;
	*path = arg + start;
	*pathlen = i + 1 - start;
	i++;
	if (i < len && !is_wsp(arg[i]))
		return -1;
	while (i < len && is_wsp(arg[i]))
		i++;
	*params = arg + i;
	*paramslen = len - i;
	return 0;
}

/* Calls fn on each "KEY[=VALUE]" word; stops at the first non-zero result. */
static int
each_param(const char *buf, size_t len,
    int (*fn)(const char *k, size_t kl, const char *v, size_t vl, void *arg),
    void *arg)
{
	size_t i = 0;

	while (i < len) {
		size_t s, e, kl;
		const char *eq;
		int r;

		while (i < len && is_wsp(buf[i]))
			i++;
		if (i >= len)
			break;
		s = i;
		while (i < len && !is_wsp(buf[i]))
			i++;
		e = i;
		eq = memchr(buf + s, '=', e - s);
		kl = eq ? (size_t)(eq - (buf + s)) : e - s;
		if (kl == 0)
			return SMTP_PARAM_SYNTAX;
		for (size_t j = s; j < s + kl; j++) {
			char c = buf[j];
			if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-'))
				return SMTP_PARAM_SYNTAX;
		}
		r = fn(buf + s, kl, eq ? eq + 1 : NULL,
		    eq ? e - s - kl - 1 : 0, arg);
		if (r != SMTP_PARAM_OK)
			return r;
	}
	return SMTP_PARAM_OK;
}

static int
key_is(const char *k, size_t kl, const char *name)
{
	return strlen(name) == kl && strncasecmp(k, name, kl) == 0;
}

static int
parse_u64_exact(const char *v, size_t vl, uint64_t *out)
{
	uint64_t n = 0;

	if (vl == 0 || vl > 20)
		return -1;
	for (size_t i = 0; i < vl; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n;
	return 0;
}

static int
is_upper_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

/* xtext of RFC 3461 4: printable ASCII except '+' and '=', or +HEX HEX. */
static int
xtext_ok(const char *v, size_t vl)
{
	for (size_t i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '+') {
			if (i + 2 >= vl || !is_upper_hex(v[i + 1]) ||
			    !is_upper_hex(v[i + 2]))
				return 0;
			i += 2;
			continue;
		}
		if (c < 33 || c > 126 || c == '=')
			return 0;
	}
	return 1;
}

static int
mail_param(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	struct smtp_params *p = arg;

	if (key_is(k, kl, "SIZE")) {
		if (v == NULL || p->has_size || parse_u64_exact(v, vl, &p->size) == -1)
			return SMTP_PARAM_BAD_VALUE;
		p->has_size = true;
		return SMTP_PARAM_OK;
	}
	if (key_is(k, kl, "BODY")) {
		if (v == NULL || p->body != SMTP_BODY_UNSET)
			return SMTP_PARAM_BAD_VALUE;
		if (key_is(v, vl, "7BIT"))
			p->body = SMTP_BODY_7BIT;
		else if (key_is(v, vl, "8BITMIME"))
			p->body = SMTP_BODY_8BITMIME;
		else if (key_is(v, vl, "BINARYMIME"))
			p->body = SMTP_BODY_BINARYMIME;
		else
			return SMTP_PARAM_BAD_VALUE;
		return SMTP_PARAM_OK;
	}
	if (key_is(k, kl, "SMTPUTF8")) {
		if (v != NULL || p->smtputf8)
			return SMTP_PARAM_BAD_VALUE;
		p->smtputf8 = true;
		return SMTP_PARAM_OK;
	}
	/* DSN (RFC 3461) and AUTH (RFC 4954): accepted, not acted on here. */
	if (key_is(k, kl, "RET") || key_is(k, kl, "ENVID") || key_is(k, kl, "AUTH")) {
		if (v == NULL || !xtext_ok(v, vl))
			return SMTP_PARAM_BAD_VALUE;
		return SMTP_PARAM_OK;
	}
	return SMTP_PARAM_UNKNOWN;
}

enum smtp_param_result
smtp_parse_mail_params(const char *buf, size_t len, struct smtp_params *out)
{
	memset(out, 0, sizeof(*out));
	return (enum smtp_param_result)each_param(buf, len, mail_param, out);
}

static int
rcpt_param(const char *k, size_t kl, const char *v, size_t vl, void *arg)
{
	(void)arg;
	if (key_is(k, kl, "NOTIFY") || key_is(k, kl, "ORCPT")) {
		if (v == NULL || vl == 0 || !xtext_ok(v, vl))
			return SMTP_PARAM_BAD_VALUE;
		return SMTP_PARAM_OK;
	}
	return SMTP_PARAM_UNKNOWN;
}

enum smtp_param_result
smtp_parse_rcpt_params(const char *buf, size_t len)
{
	return (enum smtp_param_result)each_param(buf, len, rcpt_param, NULL);
}

int
smtp_parse_bdat(const char *buf, size_t len, uint64_t *size, bool *last)
{
	size_t i = 0, s;

	while (i < len && buf[i] >= '0' && buf[i] <= '9')
		i++;
	if (parse_u64_exact(buf, i, size) == -1)
		return -1;
	*last = false;
	if (i < len && !is_wsp(buf[i]))
		return -1;	/* "100LAST": RFC 3030 needs the space */
	while (i < len && is_wsp(buf[i]))
		i++;
	s = i;
	while (i < len && !is_wsp(buf[i]))
		i++;
	if (i > s) {
		if (!key_is(buf + s, i - s, "LAST"))
			return -1;
		*last = true;
	}
	while (i < len && is_wsp(buf[i]))
		i++;
	return i == len ? 0 : -1;
}
