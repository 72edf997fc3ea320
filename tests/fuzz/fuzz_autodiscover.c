/*
 * Fuzz target for the autodiscover request reader (web/autoconfig.c).
 * Invariants: an accepted address is short, has an '@' and no XML
 * special, and the response built from it is a bounded document in which
 * it appears unchanged.
 */
#include "fuzz.h"

#include "web/autoconfig.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size), addr[AUTOCONFIG_ADDRESS_MAX];
	const char *why;

	if (autodiscover_request_address(buf, size, addr, &why) == 0) {
		char *xml;
		CHECK(strlen(addr) < AUTOCONFIG_ADDRESS_MAX && strchr(addr, '@') != NULL);
		CHECK(strpbrk(addr, "<>&\"'") == NULL);
		xml = autodiscover_response("mx.example.test", addr);
		CHECK(strstr(xml, addr) != NULL && strlen(xml) < 8192);
		free(xml);
	}
	free(buf);
	return 0;
}
