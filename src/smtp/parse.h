/*
 * SMTP command line parser (RFC 5321 section 4.1). Pure: it reads a line
 * without its CRLF and never past len. Arguments point into the caller's
 * buffer, so they live as long as the line does.
 */
#ifndef POSTERN_SMTP_PARSE_H
#define POSTERN_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 5321 4.5.3.1.4: 512 octets, raised for ESMTP parameters (4.5.3.1.6). */
#define SMTP_LINE_MAX 1000

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO, SMTP_VERB_EHLO, SMTP_VERB_MAIL, SMTP_VERB_RCPT,
	SMTP_VERB_DATA, SMTP_VERB_BDAT, SMTP_VERB_RSET, SMTP_VERB_NOOP,
	SMTP_VERB_QUIT, SMTP_VERB_VRFY, SMTP_VERB_EXPN, SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS, SMTP_VERB_AUTH,
	SMTP_VERB_COUNT
};

enum smtp_parse_result {
	SMTP_PARSE_OK = 0,
	SMTP_PARSE_EMPTY,	/* nothing on the line */
	SMTP_PARSE_BAD_CHAR,	/* NUL, control or 8-bit octet in the verb */
	SMTP_PARSE_UNKNOWN,	/* verb not recognised */
	SMTP_PARSE_SYNTAX,	/* recognised verb, malformed arguments */
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *arg;	/* after the verb and its separating space */
	size_t arglen;		/* trailing white space removed */
};

/* Parses one command line; fills out on SMTP_PARSE_OK. */
enum smtp_parse_result smtp_parse_cmd(const char *buf, size_t len,
    struct smtp_cmd *out);

/* The verb's canonical upper-case name ("MAIL"), "?" when unknown. */
const char *smtp_verb_name(enum smtp_verb verb);

/* ESMTP parameters of MAIL and RCPT (RFC 1870, 6152, 6531, 3461). */
enum smtp_body { SMTP_BODY_UNSET, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME };

struct smtp_params {
	uint64_t size;		/* SIZE=, 0 when absent */
	bool has_size;
	enum smtp_body body;
	bool smtputf8;
};

enum smtp_param_result {
	SMTP_PARAM_OK = 0,
	SMTP_PARAM_SYNTAX,	/* malformed keyword=value */
	SMTP_PARAM_UNKNOWN,	/* keyword we do not implement: 555 */
	SMTP_PARAM_BAD_VALUE,	/* e.g. SIZE=abc, BODY=weird */
};

/*
 * Splits "FROM:<path> PARAMS" (keyword "FROM" or "TO"): path gets the
 * bracketed path (with its brackets), params the rest. Returns 0, or -1
 * when the keyword or colon is missing. White space after the colon is
 * tolerated, as Postfix and OpenSMTPD do.
 */
int smtp_split_path_arg(const char *arg, size_t len, const char *keyword,
    const char **path, size_t *pathlen, const char **params, size_t *paramslen);

/* Parses MAIL FROM parameters. */
enum smtp_param_result smtp_parse_mail_params(const char *buf, size_t len,
    struct smtp_params *out);
/* Parses RCPT TO parameters (NOTIFY and ORCPT accepted, others refused). */
enum smtp_param_result smtp_parse_rcpt_params(const char *buf, size_t len);

/*
 * Parses BDAT arguments "SIZE [LAST]" (RFC 3030). Returns 0 or -1 on a
 * malformed size or trailing garbage.
 */
int smtp_parse_bdat(const char *buf, size_t len, uint64_t *size, bool *last);

#endif
