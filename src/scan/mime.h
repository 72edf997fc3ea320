/*
 * MIME structure (RFC 2045, 2046, 5322): header fields with folding, and
 * the tree of parts, walked depth first. Pure and bounded: a depth cap and
 * a part cap stop hostile nesting, and every pointer handed to a callback
 * lies inside the caller's buffer. Both CRLF and bare LF line ends are
 * accepted, because stored messages (and the test corpus) use either.
 */
#ifndef POSTERN_SCAN_MIME_H
#define POSTERN_SCAN_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "scan/decode.h"

/*
 * SPEC 5.1: a message with at most 1,000 MIME parts and 20 levels of
 * nesting is scanned whole. The caps sit above that (the part count
 * includes the multipart containers themselves) and only bound the work
 * of hostile messages: the walk is O(depth x size). What they cut off is
 * reported in mime_stats and scored by the scanner (SCAN_TRUNCATED).
 */
#define MIME_DEPTH_MAX 24
#define MIME_PARTS_MAX 2048
#define MIME_TOKEN_MAX 64

/* Iterates header fields of a header block. *pos starts at 0. Returns
 * false at the end of the block (empty line or end of buffer). The value
 * is raw: it may hold folding line breaks (see mime_unfold). */
bool mime_header_next(const char *buf, size_t len, size_t *pos, const char **name,
    size_t *namelen, const char **value, size_t *valuelen);

/* Length of the header block (up to and including the empty line). */
size_t mime_header_end(const char *buf, size_t len);

/* Copies a folded value into out as one line (CR/LF removed, leading and
 * trailing white space trimmed). Returns the length. */
size_t mime_unfold(const char *value, size_t len, char *out, size_t outlen);

/* Finds the first header called name (any case) in a header block. */
bool mime_header_find(const char *hdrs, size_t len, const char *name, const char **value,
    size_t *valuelen);

/* Extracts parameter param of a structured value ("text/html; charset=x")
 * into out, unquoted. Returns false when absent. */
bool mime_param(const char *value, size_t len, const char *param, char *out, size_t outlen);

enum mime_encoding { ENC_7BIT = 0, ENC_QP, ENC_BASE64, ENC_OTHER };

struct mime_part {
	const char *headers;	/* header block of the part */
	size_t headers_len;
	const char *body;	/* raw (still encoded) body */
	size_t body_len;
	char type[MIME_TOKEN_MAX];	/* lower-case, e.g. "text" */
	char subtype[MIME_TOKEN_MAX];	/* e.g. "html" */
	enum mime_encoding encoding;
	enum charset charset;
	char charset_name[MIME_TOKEN_MAX];	/* as declared, "" if none */
	bool attachment;	/* Content-Disposition: attachment */
	int depth;
	/* The nearest multipart/alternative around the part: its number in
	 * the message (1, 2, ... in walk order; 0: none) and which of its
	 * parts, counted from 0, holds this one. */
	unsigned alt, alt_branch;
};

struct mime_stats {
	unsigned parts;
	bool depth_exceeded;
	bool parts_exceeded;
	bool malformed;		/* missing boundary, unterminated multipart... */
};

/* Called for every leaf part (multiparts are walked, not reported). */
typedef void mime_part_cb(void *arg, const struct mime_part *part);

/* Walks the message. Returns the number of leaf parts reported. */
unsigned mime_walk(const char *msg, size_t len, mime_part_cb *cb, void *arg,
    struct mime_stats *stats);

/* Decodes a part's body (transfer encoding, then charset to UTF-8: by
 * charset_name when set, else by charset) into out. Returns the length
 * written. */
size_t mime_decode_body(const struct mime_part *p, char *out, size_t outlen);

#endif
