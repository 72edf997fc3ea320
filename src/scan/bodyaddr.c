/*
 * Addresses around each '@': the local part is read leftwards (at most
 * BODYADDR_LOCAL_MAX + 1 octets), the domain rightwards (at most 253), so
 * the work per '@' is bounded and the whole pass linear in the text. The
 * boundaries follow the email pattern of Spamhaus's SpamAssassin plugin
 * (spamassassin-dqs SH.pm _init_email_re): no dot first, last or twice in
 * the local part, a 64-octet local part at most, a domain of labels.
 */
#include "bodyaddr.h"

#include <ctype.h>
#include <string.h>

#define DOMAIN_MAX 253

static bool
local_char(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr(".!#$%&'*+-^_`{|}~", c) != NULL);
}

static bool
host_char(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.';
}

/* Labels of 1-63 letters, digits and inner hyphens, at least two, the
 * last letters only (RFC 1123 2.1: never all-numeric) or an A-label. */
static bool
domain_ok(const char *d, size_t len)
{
	size_t lab = 0, labels = 0, last = 0;

	for (size_t i = 0; i <= len; i++) {
		if (i == len || d[i] == '.') {
			if (lab == 0 || lab > 63 || d[i - 1] == '-' || d[i - lab] == '-')
				return false;
			labels++;
			last = i - lab;
			lab = 0;
			continue;
		}
		lab++;
	}
	if (labels < 2)
		return false;
	if (len - last > 4 && strncasecmp(d + last, "xn--", 4) == 0)
		return true;
	if (len - last < 2)
		return false;
	for (size_t i = last; i < len; i++)
		if (!isalpha((unsigned char)d[i]))
			return false;
	return true;
}

/* The address around t[at] == '@' into out, or false. floor: where the
 * local part may start at the earliest. *end: just past the domain. */
static bool
take(const char *t, size_t len, size_t floor, size_t at, char *out, size_t *end)
{
	size_t l = at, r = at + 1, o = 0;

	while (l > floor && at - l <= BODYADDR_LOCAL_MAX && local_char((unsigned char)t[l - 1]))
		l--;
	if (at - l > BODYADDR_LOCAL_MAX)
		return false;	/* a longer run is no local part at all */
	while (l < at && t[l] == '.')
		l++;		/* a local part starts after the dots */
	if (l == at || t[at - 1] == '.')
		return false;
	for (size_t i = l; i + 1 < at; i++)
		if (t[i] == '.' && t[i + 1] == '.')
			return false;
	while (r < len && r - at - 1 <= DOMAIN_MAX && host_char((unsigned char)t[r]))
		r++;
	while (r > at + 1 && (t[r - 1] == '.' || t[r - 1] == '-'))
		r--;
	if (r - at - 1 > DOMAIN_MAX || !domain_ok(t + at + 1, r - at - 1))
		return false;
	for (size_t i = l; i < r; i++)
		out[o++] = (char)tolower((unsigned char)t[i]);
	out[o] = '\0';
	*end = r;
	return true;
}

bool
bodyaddr_next(const char *text, size_t len, size_t *pos, char *out)
{
	size_t floor = *pos, i = *pos;

	while (i < len) {
		const char *at = memchr(text + i, '@', len - i);
		size_t a, end;
		if (at == NULL)
			break;
		a = (size_t)(at - text);
		if (take(text, len, floor, a, out, &end)) {
			*pos = end;
			return true;
		}
		i = a + 1;
	}
	*pos = len;
	return false;
}
