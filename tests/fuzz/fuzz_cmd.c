/*
 * Fuzz target for the SMTP command line parser: smtp_parse_cmd, then what
 * the session does with the argument (FROM:/TO: split, MAIL and RCPT
 * parameters, BDAT size), and each sub-parser on the raw input too.
 */
#include "fuzz.h"

#include "smtp/parse.h"

static void
check_params(const char *p, size_t n, const char *buf, size_t size)
{
	struct smtp_params mp;
	enum smtp_param_result r;

	CHECK(fuzz_inside(p, n, buf, size));
	r = smtp_parse_mail_params(p, n, &mp);
	CHECK(r >= SMTP_PARAM_OK && r <= SMTP_PARAM_BAD_VALUE);
	if (r == SMTP_PARAM_OK) {
		CHECK(mp.has_size || mp.size == 0);
		CHECK(mp.body >= SMTP_BODY_UNSET && mp.body <= SMTP_BODY_BINARYMIME);
	}
	r = smtp_parse_rcpt_params(p, n);
	CHECK(r >= SMTP_PARAM_OK && r <= SMTP_PARAM_BAD_VALUE);
}

static void
check_split(const char *arg, size_t len, const char *kw, const char *buf, size_t size)
{
	const char *path, *params;
	size_t pathlen, paramslen;

	if (smtp_split_path_arg(arg, len, kw, &path, &pathlen, &params, &paramslen) != 0)
		return;
	CHECK(fuzz_inside(path, pathlen, buf, size));
	CHECK(pathlen >= 2 && path[0] == '<' && path[pathlen - 1] == '>');
	CHECK(fuzz_inside(params, paramslen, buf, size));
	CHECK(params >= path + pathlen);
	check_params(params, paramslen, buf, size);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	struct smtp_cmd cmd;
	enum smtp_parse_result r;
	uint64_t bsize;
	bool last;

	r = smtp_parse_cmd(buf, size, &cmd);
	CHECK(r >= SMTP_PARSE_OK && r <= SMTP_PARSE_SYNTAX);
	if (r == SMTP_PARSE_OK) {
		CHECK(cmd.verb > SMTP_VERB_UNKNOWN && cmd.verb < SMTP_VERB_COUNT);
		CHECK(strcmp(smtp_verb_name(cmd.verb), "?") != 0);
		CHECK(fuzz_inside(cmd.arg, cmd.arglen, buf, size));
		/* no control octets reach the session, no trailing blanks */
		for (size_t i = 0; i < cmd.arglen; i++)
			CHECK((unsigned char)cmd.arg[i] >= 0x20 || cmd.arg[i] == '\t');
		CHECK(cmd.arglen == 0 || (cmd.arg[cmd.arglen - 1] != ' ' &&
		    cmd.arg[cmd.arglen - 1] != '\t'));
		switch (cmd.verb) {
		case SMTP_VERB_DATA:
		case SMTP_VERB_RSET:
		case SMTP_VERB_QUIT:
		case SMTP_VERB_STARTTLS:
			CHECK(cmd.arglen == 0);
			break;
		case SMTP_VERB_MAIL:
			CHECK(cmd.arglen > 0);
			check_split(cmd.arg, cmd.arglen, "FROM", buf, size);
			break;
		case SMTP_VERB_RCPT:
			CHECK(cmd.arglen > 0);
			check_split(cmd.arg, cmd.arglen, "TO", buf, size);
			break;
		case SMTP_VERB_BDAT:
			CHECK(cmd.arglen > 0);
			(void)smtp_parse_bdat(cmd.arg, cmd.arglen, &bsize, &last);
			break;
		default:
			break;
		}
	}

	/* every sub-parser on the raw input as well */
	check_split(buf, size, "FROM", buf, size);
	check_split(buf, size, "TO", buf, size);
	check_params(buf, size, buf, size);
	if (smtp_parse_bdat(buf, size, &bsize, &last) == 0)
		CHECK(size > 0 && buf[0] >= '0' && buf[0] <= '9');
	(void)smtp_verb_name((enum smtp_verb)(size % (SMTP_VERB_COUNT + 3)));

	free(buf);
	return 0;
}
