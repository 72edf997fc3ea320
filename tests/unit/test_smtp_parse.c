/*
 * Table tests for the SMTP command line parser (src/smtp/parse.h): verbs,
 * argument rules of RFC 5321 4.1.1, the FROM:/TO: path split, and the ESMTP
 * parameters of MAIL, RCPT (RFC 1870, 6152, 6531, 3461) and BDAT (RFC 3030).
 */
#include "unit.h"

#include "smtp/parse.h"

/* ---- smtp_parse_cmd ---------------------------------------------------- */

struct cmd_case {
	const char *in;
	size_t len;
	enum smtp_parse_result rc;
	enum smtp_verb verb;	/* checked when rc == OK */
	const char *arg;	/* idem */
};

static const struct cmd_case cmd_cases[] = {
	/* every verb, any case */
	{ S("HELO example.com"), SMTP_PARSE_OK, SMTP_VERB_HELO, "example.com" },
	{ S("helo example.com"), SMTP_PARSE_OK, SMTP_VERB_HELO, "example.com" },
	{ S("eHlO client.example"), SMTP_PARSE_OK, SMTP_VERB_EHLO, "client.example" },
	{ S("EHLO [192.0.2.1]"), SMTP_PARSE_OK, SMTP_VERB_EHLO, "[192.0.2.1]" },
	{ S("MAIL FROM:<a@b.example>"), SMTP_PARSE_OK, SMTP_VERB_MAIL, "FROM:<a@b.example>" },
	{ S("mail from:<a@b> SIZE=10"), SMTP_PARSE_OK, SMTP_VERB_MAIL, "from:<a@b> SIZE=10" },
	{ S("RCPT TO:<u@example.org>"), SMTP_PARSE_OK, SMTP_VERB_RCPT, "TO:<u@example.org>" },
	{ S("rcpt to:<u@example.org>"), SMTP_PARSE_OK, SMTP_VERB_RCPT, "to:<u@example.org>" },
	{ S("DATA"), SMTP_PARSE_OK, SMTP_VERB_DATA, "" },
	{ S("data"), SMTP_PARSE_OK, SMTP_VERB_DATA, "" },
	{ S("BDAT 100 LAST"), SMTP_PARSE_OK, SMTP_VERB_BDAT, "100 LAST" },
	{ S("bdat 0"), SMTP_PARSE_OK, SMTP_VERB_BDAT, "0" },
	{ S("RSET"), SMTP_PARSE_OK, SMTP_VERB_RSET, "" },
	{ S("NOOP"), SMTP_PARSE_OK, SMTP_VERB_NOOP, "" },
	{ S("NOOP anything at all"), SMTP_PARSE_OK, SMTP_VERB_NOOP, "anything at all" },
	{ S("QUIT"), SMTP_PARSE_OK, SMTP_VERB_QUIT, "" },
	{ S("Quit"), SMTP_PARSE_OK, SMTP_VERB_QUIT, "" },
	{ S("VRFY postmaster"), SMTP_PARSE_OK, SMTP_VERB_VRFY, "postmaster" },
	{ S("EXPN staff"), SMTP_PARSE_OK, SMTP_VERB_EXPN, "staff" },
	{ S("HELP"), SMTP_PARSE_OK, SMTP_VERB_HELP, "" },
	{ S("HELP MAIL"), SMTP_PARSE_OK, SMTP_VERB_HELP, "MAIL" },
	{ S("STARTTLS"), SMTP_PARSE_OK, SMTP_VERB_STARTTLS, "" },
	{ S("starttls"), SMTP_PARSE_OK, SMTP_VERB_STARTTLS, "" },
	{ S("AUTH PLAIN dGVzdAB0ZXN0AHBhc3M="), SMTP_PARSE_OK, SMTP_VERB_AUTH,
	    "PLAIN dGVzdAB0ZXN0AHBhc3M=" },
	{ S("auth login"), SMTP_PARSE_OK, SMTP_VERB_AUTH, "login" },

	/* separators and trailing white space */
	{ S("DATA   "), SMTP_PARSE_OK, SMTP_VERB_DATA, "" },
	{ S("DATA\t"), SMTP_PARSE_OK, SMTP_VERB_DATA, "" },
	{ S("QUIT "), SMTP_PARSE_OK, SMTP_VERB_QUIT, "" },
	{ S("MAIL  FROM:<a@b>"), SMTP_PARSE_OK, SMTP_VERB_MAIL, "FROM:<a@b>" },
	{ S("MAIL\tFROM:<a@b>"), SMTP_PARSE_OK, SMTP_VERB_MAIL, "FROM:<a@b>" },
	{ S("HELO x   "), SMTP_PARSE_OK, SMTP_VERB_HELO, "x" },
	{ S("HELO x \t "), SMTP_PARSE_OK, SMTP_VERB_HELO, "x" },
	{ S("NOOP a  b"), SMTP_PARSE_OK, SMTP_VERB_NOOP, "a  b" },

	/* 8-bit octets are allowed in arguments (SMTPUTF8 addresses) */
	{ S("RCPT TO:<j\xc3\xb6rg@example.de>"), SMTP_PARSE_OK, SMTP_VERB_RCPT,
	    "TO:<j\xc3\xb6rg@example.de>" },

	/* verbs that take no argument */
	{ S("DATA x"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("DATA FROM:<a@b>"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("RSET now"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("QUIT now"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("STARTTLS x"), SMTP_PARSE_SYNTAX, 0, NULL },

	/* verbs that need one */
	{ S("MAIL"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("MAIL   "), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("RCPT"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("HELO"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("EHLO "), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("BDAT"), SMTP_PARSE_SYNTAX, 0, NULL },
	{ S("AUTH"), SMTP_PARSE_SYNTAX, 0, NULL },

	/* empty */
	{ S(""), SMTP_PARSE_EMPTY, 0, NULL },
	{ S(" "), SMTP_PARSE_EMPTY, 0, NULL },
	{ S("   \t "), SMTP_PARSE_EMPTY, 0, NULL },

	/* NUL, control characters, DEL anywhere on the line */
	{ S("HE\0LO x"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("HELO x\0"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("\0"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("HELO x\x01"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("NOOP \x1b[31m"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("HELO x\r"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("DATA\r"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("MAIL FROM:<a@b>\nRCPT TO:<c@d>"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("QUIT\n"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("\x7f"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("RSET\x7f"), SMTP_PARSE_BAD_CHAR, 0, NULL },

	/* 8-bit in the verb */
	{ S("H\xc3\xa9LO x"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("\xffHELO x"), SMTP_PARSE_BAD_CHAR, 0, NULL },
	{ S("DATA\x80"), SMTP_PARSE_BAD_CHAR, 0, NULL },

	/* unknown verbs */
	{ S("FOO bar"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("MAILFROM:<a@b>"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("MAIL:FROM:<a@b>"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("HELOO x"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("HEL x"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("DAT"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("DATAX"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("GET / HTTP/1.1"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S(" HELO x"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("?"), SMTP_PARSE_UNKNOWN, 0, NULL },
	{ S("TURN"), SMTP_PARSE_UNKNOWN, 0, NULL },
};

static void
test_parse_cmd_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cmd_cases); i++) {
		const struct cmd_case *c = &cmd_cases[i];
		/* an exactly-sized copy: reading past len would be a bug */
		char *buf = malloc(c->len ? c->len : 1);
		struct smtp_cmd cmd;
		enum smtp_parse_result rc;

		memcpy(buf, c->in, c->len);
		memset(&cmd, 0xa5, sizeof(cmd));
		rc = smtp_parse_cmd(buf, c->len, &cmd);
		CASE_CHECK(bad, rc == c->rc, i, "\"%s\": result %d, want %d",
		    unit_show(c->in, c->len), rc, c->rc);
		if (rc == SMTP_PARSE_OK && c->rc == SMTP_PARSE_OK) {
			CASE_CHECK(bad, cmd.verb == c->verb, i,
			    "\"%s\": verb %d, want %d", unit_show(c->in, c->len),
			    cmd.verb, c->verb);
			CASE_CHECK(bad, cmd.arg >= buf && cmd.arglen <= c->len &&
			    cmd.arg + cmd.arglen <= buf + c->len, i,
			    "\"%s\": arg outside the line", unit_show(c->in, c->len));
			CASE_CHECK(bad, cmd.arglen == strlen(c->arg) &&
			    memcmp(cmd.arg, c->arg, cmd.arglen) == 0, i,
			    "\"%s\": arg \"%s\", want \"%s\"",
			    unit_show(c->in, c->len),
			    unit_show(cmd.arg, cmd.arglen), c->arg);
		}
		free(buf);
	}
	assert_int_equal(bad, 0);
}

static void
test_verb_name(void **state)
{
	static const struct {
		enum smtp_verb verb;
		const char *name;
	} cases[] = {
		{ SMTP_VERB_HELO, "HELO" }, { SMTP_VERB_EHLO, "EHLO" },
		{ SMTP_VERB_MAIL, "MAIL" }, { SMTP_VERB_RCPT, "RCPT" },
		{ SMTP_VERB_DATA, "DATA" }, { SMTP_VERB_BDAT, "BDAT" },
		{ SMTP_VERB_RSET, "RSET" }, { SMTP_VERB_NOOP, "NOOP" },
		{ SMTP_VERB_QUIT, "QUIT" }, { SMTP_VERB_VRFY, "VRFY" },
		{ SMTP_VERB_EXPN, "EXPN" }, { SMTP_VERB_HELP, "HELP" },
		{ SMTP_VERB_STARTTLS, "STARTTLS" }, { SMTP_VERB_AUTH, "AUTH" },
		{ SMTP_VERB_UNKNOWN, "?" }, { SMTP_VERB_COUNT, "?" },
		{ (enum smtp_verb)1000, "?" },
	};
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(cases); i++) {
		const char *n = smtp_verb_name(cases[i].verb);
		CASE_CHECK(bad, n != NULL && strcmp(n, cases[i].name) == 0, i,
		    "verb %d: \"%s\", want \"%s\"", cases[i].verb,
		    n ? n : "(null)", cases[i].name);
	}
	/* every verb name parses back to its verb */
	for (int v = 1; v < SMTP_VERB_COUNT; v++) {
		char line[32];
		struct smtp_cmd cmd;
		int n = snprintf(line, sizeof(line), "%s x", smtp_verb_name((enum smtp_verb)v));
		enum smtp_parse_result rc = smtp_parse_cmd(line, (size_t)n, &cmd);

		/* verbs that refuse an argument answer SYNTAX, still recognised */
		CASE_CHECK(bad, rc == SMTP_PARSE_OK || rc == SMTP_PARSE_SYNTAX, (size_t)v,
		    "\"%s\": result %d", line, rc);
	}
	assert_int_equal(bad, 0);
}

/* ---- smtp_split_path_arg ------------------------------------------------ */

struct split_case {
	const char *in;
	const char *keyword;
	int rc;
	const char *path, *params;	/* checked when rc == 0 */
};

static const struct split_case split_cases[] = {
	{ "FROM:<a@b.example>", "FROM", 0, "<a@b.example>", "" },
	{ "from:<a@b.example>", "FROM", 0, "<a@b.example>", "" },
	{ "From:<a@b>", "FROM", 0, "<a@b>", "" },
	{ "FROM: <a@b>", "FROM", 0, "<a@b>", "" },
	{ "FROM:\t <a@b>", "FROM", 0, "<a@b>", "" },
	{ "FROM:<>", "FROM", 0, "<>", "" },
	{ "FROM:<> SIZE=0", "FROM", 0, "<>", "SIZE=0" },
	{ "FROM:<a@b> SIZE=10 BODY=8BITMIME", "FROM", 0, "<a@b>", "SIZE=10 BODY=8BITMIME" },
	{ "FROM:<a@b>   SMTPUTF8", "FROM", 0, "<a@b>", "SMTPUTF8" },
	{ "FROM:<a@b>\tSMTPUTF8", "FROM", 0, "<a@b>", "SMTPUTF8" },
	{ "FROM:<a@b>   ", "FROM", 0, "<a@b>", "" },
	{ "TO:<u@example.org>", "TO", 0, "<u@example.org>", "" },
	{ "to:<u@example.org> NOTIFY=NEVER", "TO", 0, "<u@example.org>", "NOTIFY=NEVER" },
	{ "TO:<@a,@b:u@c>", "TO", 0, "<@a,@b:u@c>", "" },
	/* a '>' inside a quoted local part does not end the path */
	{ "TO:<\"a>b\"@c>", "TO", 0, "<\"a>b\"@c>", "" },
	{ "TO:<\"a\\\"b>\"@c> X=1", "TO", 0, "<\"a\\\"b>\"@c>", "X=1" },
	{ "TO:<\"a b\"@c> NOTIFY=NEVER", "TO", 0, "<\"a b\"@c>", "NOTIFY=NEVER" },

	{ "FROM:<a@b>SIZE=10", "FROM", -1, NULL, NULL },
	{ "FROM <a@b>", "FROM", -1, NULL, NULL },
	{ "FROM:a@b", "FROM", -1, NULL, NULL },
	{ "FROM: a@b", "FROM", -1, NULL, NULL },
	{ "FROM:<a@b", "FROM", -1, NULL, NULL },
	{ "FROM:<\"a>@b", "FROM", -1, NULL, NULL },
	{ "FROM:", "FROM", -1, NULL, NULL },
	{ "FROM: ", "FROM", -1, NULL, NULL },
	{ "FROM", "FROM", -1, NULL, NULL },
	{ "FRO:<a@b>", "FROM", -1, NULL, NULL },
	{ "", "FROM", -1, NULL, NULL },
	{ "TO:<a@b>", "FROM", -1, NULL, NULL },
	{ "FROM:<a@b>", "TO", -1, NULL, NULL },
	{ "FROMX:<a@b>", "FROM", -1, NULL, NULL },
	{ " FROM:<a@b>", "FROM", -1, NULL, NULL },
};

static void
test_split_path_arg_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(split_cases); i++) {
		const struct split_case *c = &split_cases[i];
		size_t len = strlen(c->in);
		char *buf = malloc(len ? len : 1);
		const char *path = NULL, *params = NULL;
		size_t pathlen = 0, paramslen = 0;
		int rc;

		memcpy(buf, c->in, len);
		rc = smtp_split_path_arg(buf, len, c->keyword, &path, &pathlen,
		    &params, &paramslen);
		CASE_CHECK(bad, rc == c->rc, i, "\"%s\" (%s): rc %d, want %d",
		    unit_show(c->in, len), c->keyword, rc, c->rc);
		if (rc == 0 && c->rc == 0) {
			CASE_CHECK(bad, pathlen == strlen(c->path) &&
			    memcmp(path, c->path, pathlen) == 0, i,
			    "\"%s\": path \"%s\", want \"%s\"", unit_show(c->in, len),
			    unit_show(path, pathlen), c->path);
			CASE_CHECK(bad, paramslen == strlen(c->params) &&
			    (paramslen == 0 || memcmp(params, c->params, paramslen) == 0), i,
			    "\"%s\": params \"%s\", want \"%s\"", unit_show(c->in, len),
			    unit_show(params, paramslen), c->params);
			CASE_CHECK(bad, path >= buf && path + pathlen <= buf + len &&
			    params >= buf && params + paramslen <= buf + len, i,
			    "\"%s\": result outside the argument", unit_show(c->in, len));
		}
		free(buf);
	}
	assert_int_equal(bad, 0);
}

/* ---- smtp_parse_mail_params -------------------------------------------- */

struct mail_case {
	const char *in;
	enum smtp_param_result rc;
	/* checked when rc == OK */
	bool has_size;
	uint64_t size;
	enum smtp_body body;
	bool smtputf8;
};

static const struct mail_case mail_cases[] = {
	{ "", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, false },
	{ "   ", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, false },
	/* SIZE, RFC 1870 */
	{ "SIZE=1000", SMTP_PARAM_OK, true, 1000, SMTP_BODY_UNSET, false },
	{ "size=1000", SMTP_PARAM_OK, true, 1000, SMTP_BODY_UNSET, false },
	{ "Size=0", SMTP_PARAM_OK, true, 0, SMTP_BODY_UNSET, false },
	{ "SIZE=52428800", SMTP_PARAM_OK, true, 52428800, SMTP_BODY_UNSET, false },
	{ "SIZE=1000000000000", SMTP_PARAM_OK, true, 1000000000000ULL, SMTP_BODY_UNSET, false },
	{ "SIZE=abc", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=-1", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=+1", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=10K", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=1.5", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=99999999999999999999", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=184467440737095516160", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=10 SIZE=10", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SIZE=10 SIZE=20", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	/* BODY, RFC 6152 and 3030 */
	{ "BODY=8BITMIME", SMTP_PARAM_OK, false, 0, SMTP_BODY_8BITMIME, false },
	{ "body=8bitmime", SMTP_PARAM_OK, false, 0, SMTP_BODY_8BITMIME, false },
	{ "BODY=7BIT", SMTP_PARAM_OK, false, 0, SMTP_BODY_7BIT, false },
	{ "BODY=BINARYMIME", SMTP_PARAM_OK, false, 0, SMTP_BODY_BINARYMIME, false },
	{ "BODY=weird", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "BODY=8BIT", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "BODY=", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "BODY", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "BODY=7BIT BODY=8BITMIME", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "BODY=8BITMIME BODY=8BITMIME", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	/* SMTPUTF8, RFC 6531: no value */
	{ "SMTPUTF8", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, true },
	{ "smtputf8", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, true },
	{ "SMTPUTF8=yes", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SMTPUTF8=", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "SMTPUTF8 SMTPUTF8", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	/* together, any order, any white space */
	{ "SIZE=100 BODY=8BITMIME SMTPUTF8", SMTP_PARAM_OK, true, 100, SMTP_BODY_8BITMIME, true },
	{ "SMTPUTF8 BODY=8BITMIME SIZE=100", SMTP_PARAM_OK, true, 100, SMTP_BODY_8BITMIME, true },
	{ "  SIZE=100   BODY=7BIT  ", SMTP_PARAM_OK, true, 100, SMTP_BODY_7BIT, false },
	{ "SIZE=100\tBODY=7BIT", SMTP_PARAM_OK, true, 100, SMTP_BODY_7BIT, false },
	/* DSN (RFC 3461) and AUTH (RFC 4954) are accepted */
	{ "RET=HDRS", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, false },
	{ "RET=FULL ENVID=QQ314159", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, false },
	{ "ENVID=abc+2Bdef", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, false },
	{ "AUTH=<>", SMTP_PARAM_OK, false, 0, SMTP_BODY_UNSET, false },
	{ "AUTH=user+40example.org SIZE=5", SMTP_PARAM_OK, true, 5, SMTP_BODY_UNSET, false },
	{ "ENVID=a+zz", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "ENVID=a+2", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "ENVID=a+2b", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "ENVID=a=b", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "ENVID=\xc3\xa9", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	{ "RET", SMTP_PARAM_BAD_VALUE, 0, 0, 0, 0 },
	/* unknown keywords: 555 */
	{ "FOO=bar", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0 },
	{ "XYZ", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0 },
	{ "SIZE=10 X-EXT=1", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0 },
	{ "NOTIFY=NEVER", SMTP_PARAM_UNKNOWN, 0, 0, 0, 0 },
	/* malformed keyword=value */
	{ "=bar", SMTP_PARAM_SYNTAX, 0, 0, 0, 0 },
	{ "=", SMTP_PARAM_SYNTAX, 0, 0, 0, 0 },
	{ "SI_ZE=1", SMTP_PARAM_SYNTAX, 0, 0, 0, 0 },
	{ "SIZE=1 =x", SMTP_PARAM_SYNTAX, 0, 0, 0, 0 },
	{ "<a@b>", SMTP_PARAM_SYNTAX, 0, 0, 0, 0 },
	{ "S\xc3\xa9=1", SMTP_PARAM_SYNTAX, 0, 0, 0, 0 },
};

static void
test_mail_params_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(mail_cases); i++) {
		const struct mail_case *c = &mail_cases[i];
		size_t len = strlen(c->in);
		char *buf = malloc(len ? len : 1);
		struct smtp_params p;
		enum smtp_param_result rc;

		memcpy(buf, c->in, len);
		memset(&p, 0x5a, sizeof(p));
		rc = smtp_parse_mail_params(buf, len, &p);
		CASE_CHECK(bad, rc == c->rc, i, "\"%s\": result %d, want %d",
		    unit_show(c->in, len), rc, c->rc);
		if (rc == SMTP_PARAM_OK && c->rc == SMTP_PARAM_OK) {
			CASE_CHECK(bad, p.has_size == c->has_size && p.size == c->size, i,
			    "\"%s\": size %d/%llu, want %d/%llu", c->in, p.has_size,
			    (unsigned long long)p.size, c->has_size,
			    (unsigned long long)c->size);
			CASE_CHECK(bad, p.body == c->body, i, "\"%s\": body %d, want %d",
			    c->in, p.body, c->body);
			CASE_CHECK(bad, p.smtputf8 == c->smtputf8, i,
			    "\"%s\": smtputf8 %d, want %d", c->in, p.smtputf8, c->smtputf8);
		}
		free(buf);
	}
	assert_int_equal(bad, 0);
}

/* ---- smtp_parse_rcpt_params -------------------------------------------- */

static const struct {
	const char *in;
	enum smtp_param_result rc;
} rcpt_cases[] = {
	{ "", SMTP_PARAM_OK },
	{ "  ", SMTP_PARAM_OK },
	{ "NOTIFY=NEVER", SMTP_PARAM_OK },
	{ "NOTIFY=SUCCESS,FAILURE,DELAY", SMTP_PARAM_OK },
	{ "notify=failure", SMTP_PARAM_OK },
	{ "ORCPT=rfc822;user+40example.org", SMTP_PARAM_OK },
	{ "NOTIFY=FAILURE ORCPT=rfc822;a@b", SMTP_PARAM_OK },
	{ "NOTIFY=", SMTP_PARAM_BAD_VALUE },
	{ "NOTIFY", SMTP_PARAM_BAD_VALUE },
	{ "ORCPT", SMTP_PARAM_BAD_VALUE },
	{ "ORCPT=rfc822;a+4", SMTP_PARAM_BAD_VALUE },
	{ "ORCPT=rfc822;a+", SMTP_PARAM_BAD_VALUE },
	{ "ORCPT=a=b", SMTP_PARAM_BAD_VALUE },
	{ "ORCPT=rfc822;\x01", SMTP_PARAM_BAD_VALUE },
	{ "FOO=1", SMTP_PARAM_UNKNOWN },
	{ "SIZE=10", SMTP_PARAM_UNKNOWN },
	{ "BODY=8BITMIME", SMTP_PARAM_UNKNOWN },
	{ "SMTPUTF8", SMTP_PARAM_UNKNOWN },
	{ "NOTIFY=NEVER XFOO", SMTP_PARAM_UNKNOWN },
	{ "=x", SMTP_PARAM_SYNTAX },
	{ "NO.TIFY=NEVER", SMTP_PARAM_SYNTAX },
};

static void
test_rcpt_params_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(rcpt_cases); i++) {
		size_t len = strlen(rcpt_cases[i].in);
		char *buf = malloc(len ? len : 1);
		enum smtp_param_result rc;

		memcpy(buf, rcpt_cases[i].in, len);
		rc = smtp_parse_rcpt_params(buf, len);
		CASE_CHECK(bad, rc == rcpt_cases[i].rc, i, "\"%s\": result %d, want %d",
		    unit_show(rcpt_cases[i].in, len), rc, rcpt_cases[i].rc);
		free(buf);
	}
	assert_int_equal(bad, 0);
}

/* ---- smtp_parse_bdat ----------------------------------------------------- */

static const struct {
	const char *in;
	int rc;
	uint64_t size;
	bool last;
} bdat_cases[] = {
	{ "100", 0, 100, false },
	{ "0", 0, 0, false },
	{ "100 LAST", 0, 100, true },
	{ "100 last", 0, 100, true },
	{ "0 LAST", 0, 0, true },
	{ "100  LAST  ", 0, 100, true },
	{ "100\tLAST", 0, 100, true },
	{ "100 ", 0, 100, false },
	{ "52428800 LAST", 0, 52428800, true },
	{ "", -1, 0, false },
	{ " ", -1, 0, false },
	{ "LAST", -1, 0, false },
	{ "abc", -1, 0, false },
	{ "-1", -1, 0, false },
	{ "+1", -1, 0, false },
	{ "10x", -1, 0, false },
	{ "0x10", -1, 0, false },
	{ "1.5", -1, 0, false },
	{ " 100", -1, 0, false },
	{ "100 FIRST", -1, 0, false },
	{ "100 LASTX", -1, 0, false },
	{ "100 LAST x", -1, 0, false },
	{ "100 LAST LAST", -1, 0, false },
	{ "100 200", -1, 0, false },
	{ "99999999999999999999999", -1, 0, false },
	/* RFC 3030: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] */
	{ "100LAST", -1, 0, false },
};

static void
test_bdat_table(void **state)
{
	int bad = 0;

	(void)state;
	for (size_t i = 0; i < NELEM(bdat_cases); i++) {
		size_t len = strlen(bdat_cases[i].in);
		char *buf = malloc(len ? len : 1);
		uint64_t size = 12345;
		bool last = true;
		int rc;

		memcpy(buf, bdat_cases[i].in, len);
		rc = smtp_parse_bdat(buf, len, &size, &last);
		CASE_CHECK(bad, rc == bdat_cases[i].rc, i, "\"%s\": rc %d, want %d",
		    bdat_cases[i].in, rc, bdat_cases[i].rc);
		if (rc == 0 && bdat_cases[i].rc == 0)
			CASE_CHECK(bad, size == bdat_cases[i].size &&
			    last == bdat_cases[i].last, i,
			    "\"%s\": size %llu last %d, want %llu %d", bdat_cases[i].in,
			    (unsigned long long)size, last,
			    (unsigned long long)bdat_cases[i].size, bdat_cases[i].last);
		free(buf);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_cmd_table),
		cmocka_unit_test(test_verb_name),
		cmocka_unit_test(test_split_path_arg_table),
		cmocka_unit_test(test_mail_params_table),
		cmocka_unit_test(test_rcpt_params_table),
		cmocka_unit_test(test_bdat_table),
	};

	return cmocka_run_group_tests_name("smtp_parse", tests, NULL, NULL);
}
