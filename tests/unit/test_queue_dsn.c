/*
 * Table tests for the delivery status notifications of src/queue/dsn.h:
 * the RFC 3464 fields per recipient (Action, Status from the reason,
 * 4.4.7 / 5.4.7 for delays and expiry, no Original-Recipient without
 * ORCPT), the RFC 6533 form for SMTPUTF8 addresses, and the human text.
 */
#include "unit.h"

#include "queue/dsn.h"

#define HOST "mx.example.test"
#define MSG "From: a@example.test\r\nSubject: hello\r\nMessage-ID: <x@y>\r\n\r\nbody line\r\n"

struct dsn_case {
	enum dsn_kind kind;
	const char *from;		/* the envelope sender */
	const char *rcpt;		/* the one reported recipient */
	const char *reason;
	const char *want[6];		/* lines the report holds */
	const char *never[4];		/* text it must not hold */
};

static const struct dsn_case cases[] = {
	/* a refused recipient: the reply's enhanced code */
	{ DSN_FAILED, "a@example.test", "bob@remote.test", "550 5.1.1 no such user",
	    { "Final-Recipient: rfc822; bob@remote.test\r\n", "Action: failed\r\n",
	      "Status: 5.1.1\r\n", "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n",
	      "Content-Type: message/delivery-status\r\n", "Content-Type: text/rfc822-headers\r\n" },
	    { "Original-Recipient", "global", "utf-8", NULL } },
	/* queue_lifetime ran out: 5.4.7, the last reply as diagnostic */
	{ DSN_FAILED, "a@example.test", "bob@remote.test",
	    DSN_EXPIRED "; last error: 451 4.3.0 try later",
	    { "Action: failed\r\n", "Status: 5.4.7\r\n",
	      "Diagnostic-Code: smtp; 451 4.3.0 try later\r\n", NULL },
	    { "Status: 5.0.0", "Status: 4.3.0", "Original-Recipient", NULL } },
	/* expired after a local or connection error: still 5.4.7 */
	{ DSN_FAILED, "a@example.test", "bob@remote.test",
	    DSN_EXPIRED "; last error: connection refused",
	    { "Status: 5.4.7\r\n", "Diagnostic-Code: x-postern; " DSN_EXPIRED
	      "; last error: connection refused\r\n", NULL },
	    { "Status: 5.0.0", NULL } },
	/* no enhanced code at all */
	{ DSN_FAILED, "a@example.test", "bob@remote.test", "mailbox unavailable",
	    { "Status: 5.0.0\r\n", "Diagnostic-Code: x-postern; mailbox unavailable\r\n", NULL },
	    { NULL } },
	/* a delay warning: delayed, 4.4.7, whatever the last reply said */
	{ DSN_DELAYED, "a@example.test", "bob@remote.test", "451 4.3.0 try later",
	    { "Action: delayed\r\n", "Status: 4.4.7\r\n",
	      "Diagnostic-Code: smtp; 451 4.3.0 try later\r\n",
	      "Subject: Delayed Mail (still being retried)\r\n", NULL },
	    { "Status: 4.3.0", "Action: failed", "Original-Recipient", NULL } },
	{ DSN_DELAYED, "a@example.test", "bob@remote.test", NULL,
	    { "Action: delayed\r\n", "Status: 4.4.7\r\n", NULL },
	    { "Status: 4.0.0", NULL } },
	/* RFC 6533: an SMTPUTF8 recipient, raw UTF-8 in a global report */
	{ DSN_FAILED, "a@example.test", "j\xc3\xb6rg@example.org", "550 5.1.1 unknown",
	    { "Final-Recipient: utf-8; j\xc3\xb6rg@example.org\r\n",
	      "Content-Type: message/global-delivery-status\r\n",
	      "Content-Type: text/plain; charset=utf-8\r\n",
	      "Content-Type: message/global-headers\r\n",
	      "<j\xc3\xb6rg@example.org>: 550 5.1.1 unknown\r\n", NULL },
	    { "rfc822; j", "charset=us-ascii", "text/rfc822-headers", "Original-Recipient" } },
	/* an SMTPUTF8 sender: the report is read by a UTF-8 mailbox */
	{ DSN_DELAYED, "j\xc3\xb6rg@example.org", "bob@remote.test", "451 4.3.0 later",
	    { "To: <j\xc3\xb6rg@example.org>\r\n", "Final-Recipient: rfc822; bob@remote.test\r\n",
	      "Content-Type: message/global-delivery-status\r\n",
	      "Content-Type: text/plain; charset=utf-8\r\n", NULL },
	    { "charset=us-ascii", NULL } },
};

static char *
build(const struct dsn_case *c)
{
	struct spool_rcpt rcpt = { 0 };
	struct spool_envelope env = { 0 };
	size_t idx = 0;

	snprintf(env.id, sizeof(env.id), "%s", "0123456789ABCDEF");
	env.time = 1700000000;
	env.from = (char *)c->from;
	rcpt.addr = (char *)c->rcpt;
	rcpt.reason = (char *)c->reason;
	env.rcpts = &rcpt;
	env.nrcpts = 1;
	return dsn_build(c->kind, HOST, &env, &idx, 1, MSG, strlen(MSG), 1700003600);
}

static void
test_fields(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct dsn_case *c = &cases[i];
		char *out = build(c);
		for (size_t k = 0; k < NELEM(c->want) && c->want[k] != NULL; k++)
			CASE_CHECK(bad, strstr(out, c->want[k]) != NULL, i, "missing \"%s\" in:\n%s",
			    unit_show(c->want[k], strlen(c->want[k])), out);
		for (size_t k = 0; k < NELEM(c->never) && c->never[k] != NULL; k++)
			CASE_CHECK(bad, strstr(out, c->never[k]) == NULL, i, "unwanted \"%s\" in:\n%s",
			    c->never[k], out);
		free(out);
	}
	assert_int_equal(bad, 0);
}

static void
test_text_and_structure(void **state)
{
	const struct dsn_case *c = &cases[0];
	char *out = build(c);

	/* only the header section goes back, and the text says so */
	assert_non_null(strstr(out, "Its headers are attached below"));
	assert_null(strstr(out, "It is attached below"));
	assert_non_null(strstr(out, "Subject: hello\r\n"));
	assert_null(strstr(out, "body line"));
	/* an ASCII report stays 7-bit */
	for (const char *p = out; *p; p++)
		assert_true((unsigned char)*p < 0x80);
	assert_null(strstr(out, "Content-Transfer-Encoding"));
	/* never a bare LF */
	for (const char *p = strchr(out, '\n'); p != NULL; p = strchr(p + 1, '\n'))
		assert_true(p > out && p[-1] == '\r');
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_text_and_structure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
