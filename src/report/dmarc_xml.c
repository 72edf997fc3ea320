/*
 * The aggregate report reader: one pass over the text, a stack of open
 * elements, the path of local names ("feedback/record/row/count") decides
 * which text is kept. Invariants: nothing is read past len; every value
 * kept fits its field or the report is refused (never truncated).
 */
#include "dmarc_xml.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"
#include "scan/decode.h"

#define PATH_MAX_ (DMARC_XML_DEPTH_MAX * (DMARC_XML_NAME_MAX + 1) + 1)

struct px {
	const char *b;
	size_t len, i;
	struct {
		const char *name;	/* qualified name, in b */
		size_t nlen;
		size_t plen;		/* path length before this element */
	} st[DMARC_XML_DEPTH_MAX];
	int depth;
	char path[PATH_MAX_];
	size_t plen;
	bool seen_root;
	char text[DMARC_XML_VALUE_MAX];
	size_t tlen;
	bool tover;			/* the element's text passed the buffer */
	struct dmarc_xml_report *r;
	struct dmarc_xml_row *row;	/* the record being read */
	size_t rows_cap;		/* allocated rows (doubling) */
	char dkim_domain[256], dkim_result[16];	/* the auth_results/dkim being read */
	char spf_domain[256], spf_result[16];
	char *why;
	size_t whylen;
};

static int fail(struct px *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct px *p, const char *fmt, ...)
{
	va_list ap;

	if (p->whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(p->why, p->whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static bool
starts(const struct px *p, const char *s)
{
	size_t n = strlen(s);
	return p->len - p->i >= n && memcmp(p->b + p->i, s, n) == 0;
}

/* Moves past the next occurrence of end; false when there is none. */
static bool
skip_past(struct px *p, const char *end)
{
	size_t n = strlen(end);

	for (size_t j = p->i; j + n <= p->len; j++)
		if (memcmp(p->b + j, end, n) == 0) {
			p->i = j + n;
			return true;
		}
	return false;
}

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-' || c == '.' || c == ':' || (unsigned char)c >= 0x80;
}

static void
skip_space(struct px *p)
{
	while (p->i < p->len && is_space(p->b[p->i]))
		p->i++;
}

static size_t
read_name(struct px *p, const char **name)
{
	size_t s = p->i;

	*name = p->b + s;
	while (p->i < p->len && name_char(p->b[p->i]))
		p->i++;
	return p->i - s;
}

static void
text_add(struct px *p, const char *s, size_t n)
{
	if (p->tover || n >= sizeof(p->text) - p->tlen) {
		p->tover = true;
		return;
	}
	memcpy(p->text + p->tlen, s, n);
	p->tlen += n;
}

/* Text up to the next '<' with entity and character references decoded
 * (XML 1.0 4.1, 4.6). Outside the root only white space may stand. */
static int
text(struct px *p)
{
	while (p->i < p->len && p->b[p->i] != '<') {
		char c = p->b[p->i];
		if (p->depth == 0) {
			if (!is_space(c))
				return fail(p, "text outside the root element");
			p->i++;
			continue;
		}
		if (c != '&') {
			size_t s = p->i;
			while (p->i < p->len && p->b[p->i] != '<' && p->b[p->i] != '&')
				p->i++;
			text_add(p, p->b + s, p->i - s);
			continue;
		}
		{
			size_t s = p->i + 1, e = s;
			char out[8];
			size_t n;
			while (e < p->len && e - s < 12 && p->b[e] != ';')
				e++;
			if (e >= p->len || p->b[e] != ';')
				return fail(p, "bad entity reference");
			if (e - s == 2 && memcmp(p->b + s, "lt", 2) == 0)
				text_add(p, "<", 1);
			else if (e - s == 2 && memcmp(p->b + s, "gt", 2) == 0)
				text_add(p, ">", 1);
			else if (e - s == 3 && memcmp(p->b + s, "amp", 3) == 0)
				text_add(p, "&", 1);
			else if (e - s == 4 && memcmp(p->b + s, "quot", 4) == 0)
				text_add(p, "\"", 1);
			else if (e - s == 4 && memcmp(p->b + s, "apos", 4) == 0)
				text_add(p, "'", 1);
			else if (e - s >= 2 && p->b[s] == '#') {
				unsigned long cp = 0;
				bool hex = p->b[s + 1] == 'x';
				size_t d = s + 1 + (hex ? 1 : 0);
				if (d == e)
					return fail(p, "bad character reference");
				for (; d < e; d++) {
					char h = p->b[d];
					int v = h >= '0' && h <= '9' ? h - '0' :
					    hex && h >= 'a' && h <= 'f' ? h - 'a' + 10 :
					    hex && h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
					if (v < 0)
						return fail(p, "bad character reference");
					cp = cp * (hex ? 16 : 10) + (unsigned long)v;
					if (cp > 0x10ffff)
						return fail(p, "bad character reference");
				}
				if (cp == 0)
					return fail(p, "bad character reference");
				n = utf8_put(cp, out, sizeof(out));
				text_add(p, out, n);
			} else
				return fail(p, "unknown entity (no DTD is read)");
			p->i = e + 1;
		}
	}
	return 0;
}

/* The element's text without surrounding white space, NUL-terminated. */
static const char *
value(struct px *p, size_t *n)
{
	size_t s = 0, e = p->tlen;

	while (s < e && is_space(p->text[s]))
		s++;
	while (e > s && is_space(p->text[e - 1]))
		e--;
	p->text[e] = '\0';
	*n = e - s;
	return p->text + s;
}

static int
keep(struct px *p, char *dst, size_t dstlen)
{
	size_t n;
	const char *v;

	if (p->tover)
		return fail(p, "value too long in <%s>", p->path);
	v = value(p, &n);
	if (n >= dstlen)
		return fail(p, "value too long in <%s>", p->path);
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

static int
keep_number(struct px *p, unsigned long long max, unsigned long long *out)
{
	size_t n;
	const char *v;
	unsigned long long x = 0;

	if (p->tover)
		return fail(p, "value too long in <%s>", p->path);
	v = value(p, &n);
	if (n == 0 || n > 19)
		return fail(p, "bad number in <%s>", p->path);
	for (size_t k = 0; k < n; k++) {
		if (v[k] < '0' || v[k] > '9')
			return fail(p, "bad number in <%s>", p->path);
		x = x * 10 + (unsigned)(v[k] - '0');
	}
	if (x > max)
		return fail(p, "number out of range in <%s>", p->path);
	*out = x;
	return 0;
}

static bool
at(const struct px *p, const char *path)
{
	return strcmp(p->path, path) == 0;
}

static int
open_elem(struct px *p, const char *name, size_t nlen)
{
	const char *local = name;
	size_t llen = nlen;

	for (size_t k = nlen; k-- > 0;)
		if (name[k] == ':') {
			local = name + k + 1;
			llen = nlen - k - 1;
			break;
		}
	if (p->depth == 0 && p->seen_root)
		return fail(p, "a second root element");
	if (p->depth >= DMARC_XML_DEPTH_MAX)
		return fail(p, "elements nested deeper than %d", DMARC_XML_DEPTH_MAX);
	if (nlen == 0 || nlen > DMARC_XML_NAME_MAX || llen == 0)
		return fail(p, "bad element name");
	if (p->depth == 0 && (llen != 8 || memcmp(local, "feedback", 8) != 0))
		return fail(p, "not a DMARC aggregate report (root element is not feedback)");
	p->seen_root = true;
	p->st[p->depth].name = name;
	p->st[p->depth].nlen = nlen;
	p->st[p->depth].plen = p->plen;
	p->depth++;
	if (p->plen > 0)
		p->path[p->plen++] = '/';
	memcpy(p->path + p->plen, local, llen);
	p->plen += llen;
	p->path[p->plen] = '\0';
	p->tlen = 0;
	p->tover = false;
	if (at(p, "feedback/record")) {
		struct dmarc_xml_report *r = p->r;
		if (r->nrows >= DMARC_XML_RECORDS_MAX)
			return fail(p, "more than %d records", DMARC_XML_RECORDS_MAX);
		if (r->nrows == p->rows_cap) {
			p->rows_cap = p->rows_cap ? p->rows_cap * 2 : 16;
			r->rows = xrealloc(r->rows, p->rows_cap * sizeof(*r->rows));
		}
		p->row = &r->rows[r->nrows++];
		memset(p->row, 0, sizeof(*p->row));
	} else if (at(p, "feedback/record/auth_results/dkim")) {
		p->dkim_domain[0] = p->dkim_result[0] = '\0';
	} else if (at(p, "feedback/record/auth_results/spf")) {
		p->spf_domain[0] = p->spf_result[0] = '\0';
	}
	return 0;
}

/* What the closing element's text means, by its path. */
static int
field(struct px *p)
{
	struct dmarc_xml_report *r = p->r;
	struct dmarc_xml_row *w = p->row;
	unsigned long long x;

	if (at(p, "feedback/report_metadata/org_name"))
		return keep(p, r->org_name, sizeof(r->org_name));
	if (at(p, "feedback/report_metadata/email"))
		return keep(p, r->email, sizeof(r->email));
	if (at(p, "feedback/report_metadata/report_id"))
		return keep(p, r->report_id, sizeof(r->report_id));
	if (at(p, "feedback/report_metadata/date_range/begin")) {
		if (keep_number(p, 1ULL << 40, &x) == -1)
			return -1;
		r->begin = (long long)x;
		return 0;
	}
	if (at(p, "feedback/report_metadata/date_range/end")) {
		if (keep_number(p, 1ULL << 40, &x) == -1)
			return -1;
		r->end = (long long)x;
		return 0;
	}
	if (at(p, "feedback/policy_published/domain"))
		return keep(p, r->domain, sizeof(r->domain));
	if (at(p, "feedback/policy_published/p"))
		return keep(p, r->p, sizeof(r->p));
	if (w != NULL && at(p, "feedback/record")) {
		if (w->source_ip[0] == '\0')
			return fail(p, "a record without source_ip");
		p->row = NULL;
		return 0;
	}
	if (w == NULL || strncmp(p->path, "feedback/record/", 16) != 0)
		return 0;
	if (at(p, "feedback/record/row/source_ip"))
		return keep(p, w->source_ip, sizeof(w->source_ip));
	if (at(p, "feedback/record/row/count")) {
		if (keep_number(p, 1000000000ULL, &x) == -1)
			return -1;
		w->count = (unsigned long)x;
		return 0;
	}
	if (at(p, "feedback/record/row/policy_evaluated/disposition"))
		return keep(p, w->disposition, sizeof(w->disposition));
	if (at(p, "feedback/record/row/policy_evaluated/dkim"))
		return keep(p, w->dkim, sizeof(w->dkim));
	if (at(p, "feedback/record/row/policy_evaluated/spf"))
		return keep(p, w->spf, sizeof(w->spf));
	if (at(p, "feedback/record/identifiers/header_from"))
		return keep(p, w->header_from, sizeof(w->header_from));
	if (at(p, "feedback/record/auth_results/dkim/domain"))
		return keep(p, p->dkim_domain, sizeof(p->dkim_domain));
	if (at(p, "feedback/record/auth_results/dkim/result"))
		return keep(p, p->dkim_result, sizeof(p->dkim_result));
	if (at(p, "feedback/record/auth_results/spf/domain"))
		return keep(p, p->spf_domain, sizeof(p->spf_domain));
	if (at(p, "feedback/record/auth_results/spf/result"))
		return keep(p, p->spf_result, sizeof(p->spf_result));
	if (at(p, "feedback/record/auth_results/dkim")) {
		/* several signatures: the passing one tells who signed for it */
		if (w->dkim_result[0] == '\0' ||
		    (strcmp(p->dkim_result, "pass") == 0 && strcmp(w->dkim_result, "pass") != 0)) {
			memcpy(w->dkim_domain, p->dkim_domain, sizeof(w->dkim_domain));
			memcpy(w->dkim_result, p->dkim_result, sizeof(w->dkim_result));
		}
		return 0;
	}
	if (at(p, "feedback/record/auth_results/spf")) {
		if (w->spf_result[0] == '\0') {
			memcpy(w->spf_domain, p->spf_domain, sizeof(w->spf_domain));
			memcpy(w->spf_result, p->spf_result, sizeof(w->spf_result));
		}
		return 0;
	}
	return 0;
}

static int
close_elem(struct px *p, const char *name, size_t nlen)
{
	if (p->depth == 0)
		return fail(p, "closing tag without an open element");
	if (p->st[p->depth - 1].nlen != nlen || memcmp(p->st[p->depth - 1].name, name, nlen) != 0)
		return fail(p, "mismatched closing tag </%.*s>", (int)(nlen < 64 ? nlen : 64), name);
	if (field(p) == -1)
		return -1;
	p->depth--;
	p->plen = p->st[p->depth].plen;
	p->path[p->plen] = '\0';
	p->tlen = 0;
	p->tover = false;
	return 0;
}

/* A start tag after '<': name, attributes (skipped), '>' or '/>'. */
static int
start_tag(struct px *p)
{
	const char *name;
	size_t nlen = read_name(p, &name);

	if (open_elem(p, name, nlen) == -1)
		return -1;
	for (unsigned n = 0;; n++) {
		const char *an;
		char q;
		if (n > 64)
			return fail(p, "too many attributes");
		skip_space(p);
		if (p->i >= p->len)
			return fail(p, "document cut short in a tag");
		if (p->b[p->i] == '>') {
			p->i++;
			return 0;
		}
		if (p->b[p->i] == '/') {
			if (p->i + 1 >= p->len || p->b[p->i + 1] != '>')
				return fail(p, "bad empty-element tag");
			p->i += 2;
			return close_elem(p, name, nlen);
		}
		if (read_name(p, &an) == 0)
			return fail(p, "bad attribute");
		skip_space(p);
		if (p->i >= p->len || p->b[p->i] != '=')
			return fail(p, "bad attribute");
		p->i++;
		skip_space(p);
		if (p->i >= p->len || (p->b[p->i] != '"' && p->b[p->i] != '\''))
			return fail(p, "bad attribute value");
		q = p->b[p->i++];
		while (p->i < p->len && p->b[p->i] != q) {
			if (p->b[p->i] == '<')
				return fail(p, "'<' in an attribute value");
			p->i++;
		}
		if (p->i >= p->len)
			return fail(p, "document cut short in an attribute");
		p->i++;
	}
}

static int
markup(struct px *p)
{
	if (starts(p, "<?")) {
		if (!skip_past(p, "?>"))
			return fail(p, "unterminated processing instruction");
		return 0;
	}
	if (starts(p, "<!--")) {
		if (!skip_past(p, "-->"))
			return fail(p, "unterminated comment");
		return 0;
	}
	if (starts(p, "<![CDATA[")) {
		size_t s = p->i + 9;
		if (p->depth == 0)
			return fail(p, "CDATA outside the root element");
		p->i = s;
		if (!skip_past(p, "]]>"))
			return fail(p, "unterminated CDATA section");
		text_add(p, p->b + s, p->i - 3 - s);
		return 0;
	}
	if (starts(p, "<!"))
		return fail(p, "document type declarations are refused (entity expansion)");
	if (starts(p, "</")) {
		const char *name;
		size_t nlen;
		p->i += 2;
		nlen = read_name(p, &name);
		skip_space(p);
		if (p->i >= p->len || p->b[p->i] != '>')
			return fail(p, "bad closing tag");
		p->i++;
		return close_elem(p, name, nlen);
	}
	p->i++;
	return start_tag(p);
}

int
dmarc_xml_parse(const char *buf, size_t len, struct dmarc_xml_report *out, char *why,
    size_t whylen)
{
	struct px p;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	p.b = buf;
	p.len = len;
	p.r = out;
	p.why = why;
	p.whylen = whylen;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		p.i = 3;
	while (p.i < p.len) {
		int rc = p.b[p.i] == '<' ? markup(&p) : text(&p);
		if (rc == -1)
			goto bad;
	}
	if (!p.seen_root) {
		fail(&p, "not a DMARC aggregate report (no feedback element)");
		goto bad;
	}
	if (p.depth != 0) {
		fail(&p, "document cut short (<%s> not closed)", p.path);
		goto bad;
	}
	if (out->report_id[0] == '\0' || out->org_name[0] == '\0' || out->domain[0] == '\0' ||
	    out->end == 0) {
		fail(&p, "not a DMARC aggregate report (no %s)", out->report_id[0] == '\0' ?
		    "report_id" : out->org_name[0] == '\0' ? "org_name" : out->domain[0] == '\0' ?
		    "policy_published domain" : "date_range");
		goto bad;
	}
	return 0;
bad:
	dmarc_xml_clear(out);
	return -1;
}

void
dmarc_xml_clear(struct dmarc_xml_report *r)
{
	free(r->rows);
	memset(r, 0, sizeof(*r));
}
