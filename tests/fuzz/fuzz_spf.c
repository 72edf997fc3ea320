/*
 * Fuzz target for SPF's pure parts (spf.h promises them to fuzzing): the
 * record parser, and macro expansion of the input as a domain-spec with
 * fixed client facts. Invariants: an expansion that succeeds is a
 * NUL-terminated string inside out; a valid record starts "v=spf1".
 */
#include "fuzz.h"

#include <strings.h>

#include "scan/spf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_copy(data, size), out[512];

	if (spf_record_valid(in, size))
		CHECK(size >= 6 && strncasecmp(in, "v=spf1", 6) == 0);
	memset(out, 'x', sizeof(out));
	if (spf_expand_macros(in, size, "192.0.2.3", "user+tag@example.org", "example.org",
	    "mx.example.org", out, sizeof(out)) == 0)
		CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	if (spf_expand_macros(in, size, "2001:db8::1", "<>", "example.org", "[192.0.2.3]", out,
	    sizeof(out)) == 0)
		CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	free(in);
	return 0;
}
