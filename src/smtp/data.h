/*
 * The DATA and BDAT content reader: a pure state machine fed with whatever
 * the socket delivered. In DATA mode it removes dot-stuffing and finds the
 * end, which is CRLF "." CRLF and nothing else (RFC 5321 4.1.1.4): a bare
 * LF or bare CR is never a line end, it only marks the message as bad
 * (SMTP smuggling, CVE-2023-51764 class). In BDAT mode (RFC 3030) it only
 * checks line ends and sizes; the caller counts the chunk.
 */
#ifndef POSTERN_SMTP_DATA_H
#define POSTERN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5322 gives no bound on the header section; ours stops header floods
 * from pinning memory in the scanner. */
#define DATA_HEADER_MAX (1024 * 1024)

enum data_mode { DATA_MODE_DOT, DATA_MODE_RAW };

struct data_reader {
	enum data_mode mode;
	int state;		/* private */
	uint64_t max_size;	/* cap on the message, octets after unstuffing */
	uint64_t size;		/* octets of message seen so far */
	uint64_t header_size;	/* octets of header section so far */
	bool in_header;		/* still before the first empty line */
	bool done;		/* end of data found (DOT mode) */
	bool bare_lf, bare_cr;	/* a forbidden line end was seen */
	bool too_big;		/* max_size exceeded: output stopped */
	bool header_too_big;	/* DATA_HEADER_MAX exceeded */
};

void data_reader_init(struct data_reader *r, enum data_mode mode, uint64_t max_size);

/*
 * Consumes up to len bytes of buf, appending message octets to out (which
 * must hold len + 2 octets: a held CR may be released). Stops right after
 * the terminating "." CRLF in DOT mode. Returns the number of input bytes
 * consumed; *outlen receives the number of octets written. Once too_big or
 * a bare line end is flagged, output continues to be suppressed or kept
 * (see data_reader_ok) but input is always consumed, so the dialog stays
 * in sync.
 */
size_t data_reader_feed(struct data_reader *r, const char *buf, size_t len,
    char *out, size_t *outlen);

/* Ends a BDAT LAST stream: releases a pending CR. Returns octets written
 * to out (at most 1). */
size_t data_reader_finish(struct data_reader *r, char *out);

/* True when buf (a message) starts with a header field: a name of
 * printable octets other than ':' followed by ':' (RFC 5322 2.2). An empty
 * message, or one that starts with its empty line or its body, has no
 * header section. */
bool data_has_header(const char *buf, size_t len);

/* True when the message may be accepted (no flag raised). */
bool data_reader_ok(const struct data_reader *r);

#endif
