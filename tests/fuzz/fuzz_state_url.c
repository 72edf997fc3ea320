/*
 * Fuzz target for the state_backend value (lib/state_url.h). Invariants:
 * a parsed URL is local or has a host and a port; formatting it and
 * parsing the result gives the same URL back.
 */
#include "fuzz.h"

#include "lib/state_url.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size), out[STATE_URL_MAX + 32];
	struct state_url u, back;

	if (state_url_parse(buf, size, &u) == 0) {
		if (u.redis) {
			CHECK(u.addr.host[0] != '\0' && u.addr.port > 0 && u.addr.port <= 65535);
			CHECK(u.db <= STATE_DB_MAX);
		}
		state_url_format(&u, out, sizeof(out));
		CHECK(state_url_parse(out, strlen(out), &back) == 0);
		CHECK(back.redis == u.redis && back.db == u.db && back.addr.port == u.addr.port &&
		    strcmp(back.addr.host, u.addr.host) == 0);
	}
	free(buf);
	return 0;
}
