/*
 * Autoconfig and autodiscover (src/web/autoconfig.h): the request reader
 * as a table of bodies, and the documents naming the three services.
 */
#include "unit.h"

#include "web/autoconfig.h"
#include "web/mtasts.h"

#define REQ(addr) "<Autodiscover xmlns=\"x\"><Request><EMailAddress>" addr \
	"</EMailAddress></Request></Autodiscover>"

static const struct {
	const char *body;
	const char *address;	/* NULL: refused */
} cases[] = {
	{ REQ("bob@example.test"), "bob@example.test" },
	{ REQ("  bob@example.test\r\n"), "bob@example.test" },
	{ REQ("bob"), NULL },
	{ REQ("@example.test"), NULL },
	{ REQ("bob@"), NULL },
	{ REQ("b<o>b@example.test"), NULL },
	{ REQ("bob@exa mple.test"), NULL },
	{ REQ("bob@example.test&amp;"), NULL },
	{ REQ(""), NULL },
	{ "<Autodiscover><EMailAddress>bob@example.test</EMailAddress></Autodiscover>", NULL },
	{ "<Request><EMailAddress>bob@example.test</EMailAddress></Request>", NULL },
	{ "<Autodiscover><Request><EMailAddress>bob@example.test</Request></Autodiscover>", NULL },
	{ "", NULL },
};

static void
test_request(void **state)
{
	int bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		char out[AUTOCONFIG_ADDRESS_MAX];
		const char *why = NULL;
		int rc = autodiscover_request_address(cases[i].body, strlen(cases[i].body), out, &why);

		if (cases[i].address == NULL)
			CASE_CHECK(bad, rc == -1 && why != NULL, i, "accepted %s", out);
		else
			CASE_CHECK(bad, rc == 0 && strcmp(out, cases[i].address) == 0, i, "got %s (%s)",
			    rc == 0 ? out : "-", why ? why : "");
	}
	assert_int_equal(bad, 0);
}

static void
test_documents(void **state)
{
	char *tb = autoconfig_thunderbird("mx.example.test", "example.test");
	char *ad = autodiscover_response("mx.example.test", "bob@example.test");
	char *sts = mtasts_policy("enforce", "mx.example.test");
	char big[AUTODISCOVER_BODY_MAX + 2];
	char out[AUTOCONFIG_ADDRESS_MAX];
	const char *why;

	assert_non_null(strstr(tb, "<incomingServer type=\"imap\">\n      <hostname>mx.example.test"
	    "</hostname>\n      <port>993</port>\n      <socketType>SSL</socketType>"));
	assert_non_null(strstr(tb, "<port>465</port>\n      <socketType>SSL</socketType>"));
	assert_non_null(strstr(tb, "<port>587</port>\n      <socketType>STARTTLS</socketType>"));
	assert_non_null(strstr(tb, "<domain>example.test</domain>"));
	assert_non_null(strstr(ad, "<Type>IMAP</Type>"));
	assert_non_null(strstr(ad, "<Port>587</Port>\n        <LoginName>bob@example.test"));
	assert_string_equal(sts, "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\n"
	    "max_age: 604800\r\n");
	/* the cap */
	memset(big, ' ', sizeof(big));
	memcpy(big, REQ("bob@example.test"), strlen(REQ("bob@example.test")));
	assert_int_equal(autodiscover_request_address(big, sizeof(big), out, &why), -1);
	free(tb);
	free(ad);
	free(sts);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
