/*
 * DATA reader. States describe where we are relative to line starts:
 * only a CRLF makes a line start, so "\n.\r\n" or "\r\n.\n" can never
 * terminate the message.
 */
#include "data.h"

#include <string.h>

enum {
	ST_BOL,		/* just after CRLF (or at the start) */
	ST_MID,		/* inside a line */
	ST_CR,		/* a CR is held, waiting to see if LF follows */
	ST_BOLCR,	/* same, the CR being the first octet of a line */
	ST_DOT,		/* BOL then '.' (held) */
	ST_DOTCR,	/* BOL '.' CR (both held) */
	ST_DONE,
};

void
data_reader_init(struct data_reader *r, enum data_mode mode, uint64_t max_size)
{
	memset(r, 0, sizeof(*r));
	r->mode = mode;
	r->state = ST_BOL;
	r->max_size = max_size;
	r->in_header = true;
}

bool
data_has_header(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == ':')
			return i > 0;
		if (c < 33 || c > 126)
			return false;
	}
	return false;
}

bool
data_reader_ok(const struct data_reader *r)
{
	return !r->bare_lf && !r->bare_cr && !r->too_big && !r->header_too_big;
}

/* Appends one octet of message content, applying the caps. */
static inline void
emit(struct data_reader *r, char c, char *out, size_t *o)
{
	r->size++;
	if (r->in_header && ++r->header_size > DATA_HEADER_MAX)
		r->header_too_big = true;
	if (r->size > r->max_size)
		r->too_big = true;
	if (!r->too_big)
		out[(*o)++] = c;
}

/* The same for n octets inside a line (no line end among them): one
 * copy instead of n calls, the caps applied exactly as octet by octet. */
static inline void
emit_run(struct data_reader *r, const char *p, size_t n, char *out, size_t *o)
{
	size_t k = n;

	if (r->in_header && (r->header_size += n) > DATA_HEADER_MAX)
		r->header_too_big = true;
	if (r->too_big)
		k = 0;
	else if (n > r->max_size - r->size) {
		k = (size_t)(r->max_size - r->size);
		r->too_big = true;
	}
	r->size += n;
	memcpy(out + *o, p, k);
	*o += k;
}

/* Octets of buf[0..len) before the first CR or LF. */
static inline size_t
line_run(const char *buf, size_t len)
{
	const char *cr = memchr(buf, '\r', len);
	size_t n = cr ? (size_t)(cr - buf) : len;
	const char *lf = memchr(buf, '\n', n);

	return lf ? (size_t)(lf - buf) : n;
}

/* A CRLF just ended a line; an empty line ends the header section. */
static inline void
line_end(struct data_reader *r, char *out, size_t *o, bool empty)
{
	emit(r, '\r', out, o);
	emit(r, '\n', out, o);
	if (empty)
		r->in_header = false;
	r->state = ST_BOL;
}

size_t
data_reader_feed(struct data_reader *r, const char *buf, size_t len,
    char *out, size_t *outlen)
{
	size_t i, o = 0;
	bool raw = r->mode == DATA_MODE_RAW;

	for (i = 0; i < len && r->state != ST_DONE; i++) {
		char c = buf[i];

		switch (r->state) {
		case ST_BOL:
			if (c == '.' && !raw) {
				r->state = ST_DOT;
				break;
			}
			if (c == '\r') {
				r->state = ST_BOLCR;
				break;
			}
			if (c == '\n') {
				r->bare_lf = true;
				emit(r, c, out, &o);
				r->state = ST_MID;
				break;
			}
			emit(r, c, out, &o);
			r->state = ST_MID;
			break;
		case ST_MID:
			if (c != '\r' && c != '\n') {
				/* the rest of the line up to its end, at once */
				size_t n = line_run(buf + i, len - i);
				emit_run(r, buf + i, n, out, &o);
				i += n - 1;
				break;
			}
			if (c == '\r')
				r->state = ST_CR;
			else {
				if (c == '\n')
					r->bare_lf = true;
				emit(r, c, out, &o);
			}
			break;
		case ST_CR:
		case ST_BOLCR:
			if (c == '\n') {
				line_end(r, out, &o, r->state == ST_BOLCR);
				break;
			}
			r->bare_cr = true;
			emit(r, '\r', out, &o);
			if (c == '\r')
				r->state = ST_CR;
			else {
				emit(r, c, out, &o);
				r->state = ST_MID;
			}
			break;
		case ST_DOT:
			/* The leading dot is dropped (RFC 5321 4.5.2). */
			if (c == '\r')
				r->state = ST_DOTCR;
			else {
				if (c == '\n')
					r->bare_lf = true;
				emit(r, c, out, &o);
				r->state = ST_MID;
			}
			break;
		case ST_DOTCR:
			if (c == '\n') {
				r->state = ST_DONE;
				r->done = true;
				break;
			}
			r->bare_cr = true;
			emit(r, '\r', out, &o);
			if (c == '\r')
				r->state = ST_CR;
			else {
				emit(r, c, out, &o);
				r->state = ST_MID;
			}
			break;
		}
	}
	*outlen = o;
	return i;
}

size_t
data_reader_finish(struct data_reader *r, char *out)
{
	size_t o = 0;

	if (r->state == ST_CR || r->state == ST_BOLCR) {
		r->bare_cr = true;
		emit(r, '\r', out, &o);
	}
	r->state = ST_DONE;
	r->done = true;
	return o;
}
