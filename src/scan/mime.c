/*
 * MIME walker. Boundaries are searched line by line; a part whose closing
 * boundary is missing runs to the end of its parent, as mail readers show
 * it. Nothing is copied except short tokens (type, subtype, boundary).
 */
#include "mime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xmalloc.h"

size_t
mime_header_end(const char *buf, size_t len)
{
	size_t i = 0;

	/* An empty first line: no headers at all. */
	if (len >= 2 && buf[0] == '\r' && buf[1] == '\n')
		return 2;
	if (len >= 1 && buf[0] == '\n')
		return 1;
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t next;
		if (nl == NULL)
			return len;
		next = (size_t)(nl - buf) + 1;
		if (next < len && buf[next] == '\n')
			return next + 1;
		if (next + 1 < len && buf[next] == '\r' && buf[next + 1] == '\n')
			return next + 2;
		i = next;
	}
	return len;
}

bool
mime_header_next(const char *buf, size_t len, size_t *pos, const char **name,
    size_t *namelen, const char **value, size_t *valuelen)
{
	size_t i = *pos;

	for (;;) {
		size_t start = i, colon, end;
		const char *nl;

		if (i >= len || buf[i] == '\n' || (buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n'))
			return false;
		/* field name up to ':' on this line */
		for (colon = i; colon < len && buf[colon] != ':' && buf[colon] != '\n'; colon++)
			;
		/* the value runs to the end of the line and its continuations */
		end = i;
		for (;;) {
			nl = memchr(buf + end, '\n', len - end);
			if (nl == NULL) {
				end = len;
				break;
			}
			end = (size_t)(nl - buf) + 1;
			if (end >= len || (buf[end] != ' ' && buf[end] != '\t'))
				break;
		}
		*pos = i = end;
		if (colon >= len || buf[colon] != ':' || colon == start)
			continue;	/* not a field: skip the line */
		*name = buf + start;
		*namelen = colon - start;
		while (*namelen > 0 && (buf[start + *namelen - 1] == ' ' || buf[start + *namelen - 1] == '\t'))
			(*namelen)--;
		*value = buf + colon + 1;
		*valuelen = end - colon - 1;
		return true;
	}
}

size_t
mime_unfold(const char *value, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	while (len > 0 && (*value == ' ' || *value == '\t'))
		value++, len--;
	for (size_t i = 0; i < len && o < outlen; i++) {
		if (value[i] == '\r' || value[i] == '\n')
			continue;
		out[o++] = value[i];
	}
	while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
		o--;
	return o;
}

bool
mime_header_find(const char *hdrs, size_t len, const char *name, const char **value,
    size_t *valuelen)
{
	size_t pos = 0, nl, wl = strlen(name);
	const char *n;

	while (mime_header_next(hdrs, len, &pos, &n, &nl, value, valuelen))
		if (nl == wl && strncasecmp(n, name, wl) == 0)
			return true;
	return false;
}

bool
mime_param(const char *value, size_t len, const char *param, char *out, size_t outlen)
{
	size_t pl = strlen(param), i = 0;

	while (i < len) {
		const char *semi = memchr(value + i, ';', len - i);
		size_t k;
		if (semi == NULL)
			return false;
		i = (size_t)(semi - value) + 1;
		while (i < len && isspace((unsigned char)value[i]))
			i++;
		if (i + pl >= len || strncasecmp(value + i, param, pl) != 0)
			continue;
		k = i + pl;
		while (k < len && (value[k] == ' ' || value[k] == '\t'))
			k++;
		if (k >= len || value[k] != '=')
			continue;
		k++;
		while (k < len && isspace((unsigned char)value[k]))
			k++;
		{
			size_t o = 0;
			if (k < len && value[k] == '"') {
				for (k++; k < len && value[k] != '"' && o + 1 < outlen; k++) {
					if (value[k] == '\\' && k + 1 < len)
						k++;
					if (value[k] != '\r' && value[k] != '\n')
						out[o++] = value[k];
				}
			} else {
				for (; k < len && value[k] != ';' && !isspace((unsigned char)value[k]) &&
				    o + 1 < outlen; k++)
					out[o++] = value[k];
			}
			if (outlen > 0)
				out[o] = '\0';
			return o > 0;
		}
	}
	return false;
}

/* "type/subtype; params" into lower-case tokens. */
static void
parse_content_type(const char *v, size_t len, struct mime_part *p)
{
	size_t i = 0, o;

	while (i < len && isspace((unsigned char)v[i]))
		i++;
	for (o = 0; i < len && v[i] != '/' && v[i] != ';' && !isspace((unsigned char)v[i]); i++)
		if (o + 1 < sizeof(p->type))
			p->type[o++] = (char)tolower((unsigned char)v[i]);
	p->type[o] = '\0';
	if (i < len && v[i] == '/') {
		for (i++, o = 0; i < len && v[i] != ';' && !isspace((unsigned char)v[i]); i++)
			if (o + 1 < sizeof(p->subtype))
				p->subtype[o++] = (char)tolower((unsigned char)v[i]);
		p->subtype[o] = '\0';
	}
}

static void
part_headers(struct mime_part *p, char *boundary, size_t blen)
{
	const char *v;
	size_t vl;
	char tmp[MIME_TOKEN_MAX];

	strcpy(p->type, "text");
	strcpy(p->subtype, "plain");
	p->charset = CHARSET_UTF8;
	p->encoding = ENC_7BIT;
	if (boundary)
		boundary[0] = '\0';
	if (mime_header_find(p->headers, p->headers_len, "Content-Type", &v, &vl)) {
		parse_content_type(v, vl, p);
		if (p->type[0] == '\0')
			strcpy(p->type, "text");
		if (mime_param(v, vl, "charset", tmp, sizeof(tmp))) {
			p->charset = charset_lookup(tmp, strlen(tmp));
			memcpy(p->charset_name, tmp, sizeof(p->charset_name));
		}
		if (boundary)
			mime_param(v, vl, "boundary", boundary, blen);
	}
	if (mime_header_find(p->headers, p->headers_len, "Content-Transfer-Encoding", &v, &vl)) {
		size_t n = mime_unfold(v, vl, tmp, sizeof(tmp) - 1);
		tmp[n] = '\0';
		if (strcasecmp(tmp, "quoted-printable") == 0)
			p->encoding = ENC_QP;
		else if (strcasecmp(tmp, "base64") == 0)
			p->encoding = ENC_BASE64;
		else if (strcasecmp(tmp, "7bit") != 0 && strcasecmp(tmp, "8bit") != 0 &&
		    strcasecmp(tmp, "binary") != 0)
			p->encoding = ENC_OTHER;
	}
	if (mime_header_find(p->headers, p->headers_len, "Content-Disposition", &v, &vl)) {
		while (vl > 0 && isspace((unsigned char)*v))
			v++, vl--;
		p->attachment = vl >= 10 && strncasecmp(v, "attachment", 10) == 0;
	}
}

struct walker {
	mime_part_cb *cb;
	void *arg;
	struct mime_stats *st;
	unsigned leaves;
	unsigned nalt;		/* multipart/alternative parts seen */
	unsigned alt, branch;	/* where walk() is: mime_part.alt, alt_branch */
};

/* Is the line at buf[i] a boundary line "--b" or "--b--"? Returns 1 for a
 * delimiter, 2 for the close delimiter, 0 otherwise. */
static int
boundary_line(const char *buf, size_t len, size_t i, const char *b, size_t bl)
{
	if (i + 2 + bl > len || buf[i] != '-' || buf[i + 1] != '-' ||
	    memcmp(buf + i + 2, b, bl) != 0)
		return 0;
	i += 2 + bl;
	if (i + 1 < len && buf[i] == '-' && buf[i + 1] == '-')
		return 2;
	/* only white space may follow up to the line end (RFC 2046 5.1.1) */
	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r'))
		i++;
	return i >= len || buf[i] == '\n' ? 1 : 0;
}

static void walk(struct walker *w, const char *buf, size_t len, int depth);

static void
walk_multipart(struct walker *w, const char *body, size_t len, const char *b, int depth,
    bool alt)
{
	size_t bl = strlen(b), i = 0, part_start = 0;
	bool in_part = false, closed = false;
	unsigned branch = 0;

	while (i < len) {
		const char *nl = memchr(body + i, '\n', len - i);
		size_t next = nl ? (size_t)(nl - body) + 1 : len;
		int kind = boundary_line(body, len, i, b, bl);

		if (kind) {
			if (in_part) {
				/* the line break before the boundary belongs to it */
				size_t end = i;
				if (end > part_start && body[end - 1] == '\n')
					end--;
				if (end > part_start && body[end - 1] == '\r')
					end--;
				if (alt)
					w->branch = branch++;
				walk(w, body + part_start, end - part_start, depth + 1);
			}
			if (kind == 2) {
				closed = true;
				break;
			}
			in_part = true;
			part_start = next;
		}
		i = next;
	}
	if (in_part && !closed) {
		w->st->malformed = true;
		if (alt)
			w->branch = branch;
		walk(w, body + part_start, len - part_start, depth + 1);
	}
	if (!in_part) {
		/* No delimiter at all (a wrong or truncated boundary): readers
		 * show the body as text, so we scan it as text. */
		struct mime_part p;
		w->st->malformed = true;
		memset(&p, 0, sizeof(p));
		p.headers = body;
		p.headers_len = 0;
		p.body = body;
		p.body_len = len;
		strcpy(p.type, "text");
		strcpy(p.subtype, "plain");
		p.depth = depth + 1;
		p.alt = w->alt;
		p.alt_branch = w->branch;
		w->leaves++;
		w->cb(w->arg, &p);
	}
}

static void
walk(struct walker *w, const char *buf, size_t len, int depth)
{
	struct mime_part p;
	char boundary[256];	/* RFC 2046 says 70; readers accept more */
	size_t hend;

	if (depth > MIME_DEPTH_MAX) {
		w->st->depth_exceeded = true;
		return;
	}
	if (w->st->parts >= MIME_PARTS_MAX) {
		w->st->parts_exceeded = true;
		return;
	}
	w->st->parts++;
	memset(&p, 0, sizeof(p));
	hend = mime_header_end(buf, len);
	p.headers = buf;
	p.headers_len = hend;
	p.body = buf + hend;
	p.body_len = len - hend;
	p.depth = depth;
	p.alt = w->alt;
	p.alt_branch = w->branch;
	part_headers(&p, boundary, sizeof(boundary));
	if (strcmp(p.type, "multipart") == 0) {
		if (boundary[0] == '\0') {
			w->st->malformed = true;
			strcpy(p.type, "text");
			strcpy(p.subtype, "plain");
		} else {
			unsigned alt = w->alt, branch = w->branch;
			bool is_alt = strcmp(p.subtype, "alternative") == 0;
			if (is_alt) {
				w->alt = ++w->nalt;
				w->branch = 0;
			}
			walk_multipart(w, p.body, p.body_len, boundary, depth, is_alt);
			w->alt = alt;
			w->branch = branch;
			return;
		}
	}
	if (strcmp(p.type, "message") == 0 && strcmp(p.subtype, "rfc822") == 0 &&
	    p.encoding == ENC_7BIT) {
		/* another message: its parts are no alternative of ours */
		unsigned alt = w->alt, branch = w->branch;
		w->alt = w->branch = 0;
		walk(w, p.body, p.body_len, depth + 1);
		w->alt = alt;
		w->branch = branch;
		return;
	}
	w->leaves++;
	w->cb(w->arg, &p);
}

unsigned
mime_walk(const char *msg, size_t len, mime_part_cb *cb, void *arg, struct mime_stats *stats)
{
	struct walker w = { cb, arg, stats, 0, 0, 0, 0 };

	memset(stats, 0, sizeof(*stats));
	walk(&w, msg, len, 0);
	return w.leaves;
}

size_t
mime_decode_body(const struct mime_part *p, char *out, size_t outlen)
{
	char *tmp;
	size_t n;

	if (p->encoding == ENC_7BIT && p->charset == CHARSET_UTF8) {
		n = p->body_len < outlen ? p->body_len : outlen;
		memcpy(out, p->body, n);
		return n;
	}
	n = p->body_len < outlen ? p->body_len : outlen;
	tmp = xmalloc(n + 1);
	if (p->encoding == ENC_QP)
		n = qp_decode(p->body, p->body_len, tmp, n);
	else if (p->encoding == ENC_BASE64)
		n = base64_decode(p->body, p->body_len, tmp, n);
	else
		memcpy(tmp, p->body, n);
	/* a charset only iconv(3) may know goes by its name */
	n = p->charset == CHARSET_OTHER ? charset_name_to_utf8(p->charset_name,
	    strnlen(p->charset_name, sizeof(p->charset_name)), tmp, n, out, outlen) :
	    charset_to_utf8(p->charset, tmp, n, out, outlen);
	free(tmp);
	return n;
}
