/*
 * Line format, space separated:
 *   TS IP HEADER_FROM ENVELOPE_FROM SPF DMARC DISPOSITION DKIM
 * where DKIM is "-" or "domain/selector/result,..." and an empty field
 * is "-". Fields are checked on the way in and out: the file is ours,
 * but a damaged line must not become a damaged report.
 */
#include "dmarc_note.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
safe(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		    *s == '-' || *s == '_' || *s == ':' || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

static const char *
field(const char *s)
{
	return safe(s) ? s : "-";
}

size_t
dmarc_note_format(const struct dmarc_note *n, char *out, size_t outlen)
{
	int k = snprintf(out, outlen, "%lld %s %s %s %s %s %s ", n->ts, field(n->ip),
	    field(n->header_from), field(n->envelope_from), field(n->spf), field(n->dmarc),
	    field(n->disposition));
	size_t o;

	if (k < 0 || (size_t)k >= outlen)
		return 0;
	o = (size_t)k;
	if (n->ndkim == 0) {
		if (o + 2 > outlen)
			return 0;
		out[o++] = '-';
	}
	for (size_t i = 0; i < n->ndkim && i < DMARC_NOTE_DKIM_MAX; i++) {
		k = snprintf(out + o, outlen - o, "%s%s/%s/%s", i ? "," : "", field(n->dkim[i].domain),
		    field(n->dkim[i].selector), field(n->dkim[i].result));
		if (k < 0 || (size_t)k >= outlen - o)
			return 0;
		o += (size_t)k;
	}
	out[o] = '\0';
	return o;
}

/* Copies the next space-separated token into out ("-" gives ""). */
static bool
token(const char **s, const char *end, char *out, size_t outlen)
{
	const char *b = *s, *e = b;
	size_t n;

	while (e < end && *e != ' ')
		e++;
	n = (size_t)(e - b);
	if (n == 0 || n >= outlen)
		return false;
	if (n == 1 && *b == '-')
		out[0] = '\0';
	else {
		memcpy(out, b, n);
		out[n] = '\0';
		if (!safe(out))
			return false;
	}
	*s = e < end ? e + 1 : e;
	return true;
}

int
dmarc_note_parse(const char *line, size_t len, struct dmarc_note *n)
{
	const char *s = line, *end = line + len;
	char ts[24], dk[DMARC_NOTE_DKIM_MAX * 360];
	char *p, *save = NULL;

	memset(n, 0, sizeof(*n));
	if (len > 0 && line[len - 1] == '\n')
		end--;
	if (!token(&s, end, ts, sizeof(ts)) || !token(&s, end, n->ip, sizeof(n->ip)) ||
	    !token(&s, end, n->header_from, sizeof(n->header_from)) ||
	    !token(&s, end, n->envelope_from, sizeof(n->envelope_from)) ||
	    !token(&s, end, n->spf, sizeof(n->spf)) || !token(&s, end, n->dmarc, sizeof(n->dmarc)) ||
	    !token(&s, end, n->disposition, sizeof(n->disposition)))
		return -1;
	/* the DKIM list has ',' and '/': read it raw */
	{
		size_t l = (size_t)(end - s);
		if (l == 0 || l >= sizeof(dk) || memchr(s, ' ', l) != NULL)
			return -1;
		memcpy(dk, s, l);
		dk[l] = '\0';
	}
	n->ts = strtoll(ts, &p, 10);
	if (*p != '\0' || n->ts <= 0 || n->ip[0] == '\0' || n->header_from[0] == '\0')
		return -1;
	if (strcmp(dk, "-") == 0)
		return 0;
	for (char *sig = strtok_r(dk, ",", &save); sig != NULL; sig = strtok_r(NULL, ",", &save)) {
		char *a = strchr(sig, '/'), *b = a ? strchr(a + 1, '/') : NULL;
		if (n->ndkim == DMARC_NOTE_DKIM_MAX || b == NULL)
			return -1;
		*a = *b = '\0';
		if (strlen(sig) >= sizeof(n->dkim[0].domain) ||
		    strlen(a + 1) >= sizeof(n->dkim[0].selector) ||
		    strlen(b + 1) >= sizeof(n->dkim[0].result) || !safe(b + 1))
			return -1;
		snprintf(n->dkim[n->ndkim].domain, sizeof(n->dkim[0].domain), "%s",
		    strcmp(sig, "-") == 0 ? "" : sig);
		snprintf(n->dkim[n->ndkim].selector, sizeof(n->dkim[0].selector), "%s",
		    strcmp(a + 1, "-") == 0 ? "" : a + 1);
		snprintf(n->dkim[n->ndkim].result, sizeof(n->dkim[0].result), "%s", b + 1);
		n->ndkim++;
	}
	return 0;
}
