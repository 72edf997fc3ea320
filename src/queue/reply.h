/*
 * Parsing of SMTP replies received by the client (RFC 5321 4.2): pure,
 * bounded, fuzzed. A reply is one or more lines "DDD-text" ending with
 * "DDD text"; the caller checks that every line repeats the same code.
 */
#ifndef POSTERN_QUEUE_REPLY_H
#define POSTERN_QUEUE_REPLY_H

#include <stdbool.h>
#include <stddef.h>

/*
 * One reply line without its CRLF: code 200-599, more for "DDD-", text
 * after the separator. Returns 0, or -1 when the line is malformed
 * (not three digits, a bad separator, control characters in the text).
 */
int reply_parse_line(const char *buf, size_t len, int *code, bool *more, const char **text,
    size_t *textlen);

/* The enhanced status code at the start of text ("5.1.1"), into out
 * (at least 16 bytes); false when the text has none (RFC 3463). */
bool reply_enhanced_code(const char *text, size_t len, char *out);

#endif
