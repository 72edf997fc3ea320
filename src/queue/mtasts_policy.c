/*
 * MTA-STS record and policy parsers (RFC 8461 3.1, 3.2, 4.1). Field
 * names and keywords are case-sensitive, as the ABNF's %s"..." says;
 * anything the grammar does not allow makes the whole text invalid,
 * which the caller treats as no policy (and logs).
 */
#include "mtasts_policy.h"

#include <stdint.h>
#include <string.h>

static bool
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* sts-ext-name / sts-policy-ext-name: (ALPHA / DIGIT) *31(ALPHA / DIGIT
 * / "_" / "-" / ".") */
static bool
ext_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 32 || !is_alnum((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static bool
equals(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

bool
mtasts_txt_is_sts(const char *buf, size_t len)
{
	return len >= 7 && memcmp(buf, "v=STSv1", 7) == 0 &&
	    (len == 7 || buf[7] == ';' || is_wsp(buf[7]));
}

int
mtasts_txt_parse(const char *buf, size_t len, char *id, const char **why)
{
	size_t i = 7;
	bool have_id = false;

	id[0] = '\0';
	if (!mtasts_txt_is_sts(buf, len)) {
		*why = "the record does not start with v=STSv1";
		return -1;
	}
	/* sts-version 1*(*WSP ";" *WSP sts-field) [";"] */
	while (i < len) {
		size_t name, nlen, val, vlen;

		while (i < len && is_wsp(buf[i]))
			i++;
		if (i == len)
			break;
		if (buf[i] != ';') {
			*why = "fields must be separated by ';'";
			return -1;
		}
		i++;
		while (i < len && is_wsp(buf[i]))
			i++;
		if (i == len)
			break;		/* a final ';' */
		name = i;
		while (i < len && buf[i] != '=' && buf[i] != ';' && !is_wsp(buf[i]))
			i++;
		nlen = i - name;
		if (i == len || buf[i] != '=' || !ext_name_ok(buf + name, nlen)) {
			*why = "a field is not NAME=VALUE";
			return -1;
		}
		val = ++i;
		/* sts-ext-value: 1*(%x21-3A / %x3C / %x3E-7E) */
		while (i < len && (unsigned char)buf[i] >= 0x21 && (unsigned char)buf[i] <= 0x7e &&
		    buf[i] != ';' && buf[i] != '=')
			i++;
		vlen = i - val;
		if (vlen == 0 || (i < len && buf[i] != ';' && !is_wsp(buf[i]))) {
			*why = "a field value is empty or holds a character it may not";
			return -1;
		}
		if (equals(buf + name, nlen, "id")) {
			if (have_id) {
				*why = "more than one id";
				return -1;
			}
			if (vlen > MTASTS_ID_MAX) {
				*why = "the id is longer than 32 characters";
				return -1;
			}
			for (size_t k = 0; k < vlen; k++)
				if (!is_alnum((unsigned char)buf[val + k])) {
					*why = "the id holds a character other than letters and digits";
					return -1;
				}
			memcpy(id, buf + val, vlen);
			id[vlen] = '\0';
			have_id = true;
		}
	}
	if (!have_id) {
		*why = "no id field";
		return -1;
	}
	return 0;
}

/* ["*."] Domain (RFC 5321 4.1.2), lower-cased into out. */
static bool
mx_pattern(const char *s, size_t len, char *out)
{
	size_t o = 0, label = 0;

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		out[o++] = '*';
		out[o++] = '.';
		s += 2;
		len -= 2;
	}
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (is_alnum(c) || c == '-') {
			if ((label == 0 && c == '-') || ++label > 63)
				return false;
		} else
			return false;
		out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	if (label == 0 || s[len - 1] == '-')
		return false;
	out[o] = '\0';
	return true;
}

int
mtasts_policy_parse(const char *buf, size_t len, struct mtasts_policy *out, const char **why)
{
	bool have_version = false, have_mode = false, have_age = false;
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	if (len > MTASTS_POLICY_MAX) {
		*why = "the policy is larger than 64 KiB";
		return -1;
	}
	while (pos < len) {
		const char *line = buf + pos, *nl = memchr(line, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - line) : len - pos, klen, v;
		const char *colon;

		pos += l + (nl ? 1 : 0);
		if (l > 0 && line[l - 1] == '\r')
			l--;	/* sts-policy-term: LF or CRLF */
		while (l > 0 && is_wsp(line[l - 1]))
			l--;
		if (l == 0)
			continue;
		for (size_t k = 0; k < l; k++)
			if (((unsigned char)line[k] < 0x20 && line[k] != '\t') || line[k] == 0x7f) {
				*why = "a control character in a line";
				return -1;
			}
		colon = memchr(line, ':', l);
		if (colon == NULL) {
			*why = "a line is not \"key: value\"";
			return -1;
		}
		klen = (size_t)(colon - line);
		if (!ext_name_ok(line, klen)) {
			*why = "a field name holds a character it may not";
			return -1;
		}
		v = klen + 1;
		while (v < l && is_wsp(line[v]))
			v++;
		if (v == l) {
			*why = "a field has no value";
			return -1;
		}
		if (equals(line, klen, "version")) {
			if (have_version || !equals(line + v, l - v, "STSv1")) {
				*why = have_version ? "version given twice" : "version is not STSv1";
				return -1;
			}
			have_version = true;
		} else if (equals(line, klen, "mode")) {
			if (have_mode) {
				*why = "mode given twice";
				return -1;
			}
			if (equals(line + v, l - v, "enforce"))
				out->mode = MTASTS_ENFORCE;
			else if (equals(line + v, l - v, "testing"))
				out->mode = MTASTS_TESTING;
			else if (equals(line + v, l - v, "none"))
				out->mode = MTASTS_NONE;
			else {
				*why = "mode is not enforce, testing or none";
				return -1;
			}
			have_mode = true;
		} else if (equals(line, klen, "max_age")) {
			uint64_t age = 0;
			if (have_age || l - v > 10) {
				*why = have_age ? "max_age given twice" : "max_age has more than 10 digits";
				return -1;
			}
			for (size_t k = v; k < l; k++) {
				if (line[k] < '0' || line[k] > '9') {
					*why = "max_age is not a number of seconds";
					return -1;
				}
				age = age * 10 + (uint64_t)(line[k] - '0');
			}
			out->max_age = age > MTASTS_MAX_AGE_MAX ? MTASTS_MAX_AGE_MAX : (unsigned)age;
			have_age = true;
		} else if (equals(line, klen, "mx")) {
			if (out->nmx == MTASTS_MX_MAX) {
				*why = "more than 32 mx patterns";
				return -1;
			}
			if (!mx_pattern(line + v, l - v, out->mx[out->nmx])) {
				*why = "an mx pattern is not a host name or *.domain";
				return -1;
			}
			out->nmx++;
		}
		/* other keys: extensions, ignored (3.2) */
	}
	if (!have_version || !have_mode || !have_age) {
		*why = !have_version ? "no version field" : !have_mode ? "no mode field" :
		    "no max_age field";
		return -1;
	}
	if (out->nmx == 0 && out->mode != MTASTS_NONE) {
		*why = "no mx field";
		return -1;
	}
	return 0;
}

bool
mtasts_policy_mx_match(const struct mtasts_policy *p, const char *host)
{
	char h[MTASTS_MX_LEN];
	size_t hl = strlen(host);

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (hl == 0 || hl >= sizeof(h))
		return false;
	for (size_t i = 0; i < hl; i++)
		h[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32 : host[i]);
	h[hl] = '\0';
	for (size_t i = 0; i < p->nmx; i++) {
		const char *pat = p->mx[i];
		if (pat[0] == '*') {
			/* "*.example.net": exactly one more label on the left */
			size_t sl = strlen(pat + 1);	/* ".example.net" */
			const char *first = memchr(h, '.', hl);
			if (hl > sl && strcmp(h + hl - sl, pat + 1) == 0 && first == h + hl - sl &&
			    first > h)
				return true;
		} else if (strcmp(h, pat) == 0)
			return true;
	}
	return false;
}

const char *
mtasts_mode_name(enum mtasts_mode mode)
{
	switch (mode) {
	case MTASTS_ENFORCE:
		return "enforce";
	case MTASTS_TESTING:
		return "testing";
	default:
		return "none";
	}
}
