/*
 * Fuzz target for header addresses (scan/hdraddr.h: From:, Delivered-To:
 * as `postern learn` and the scanner read them) and for the learned
 * opinions file (policy/learn.h). Invariants: an extracted address is
 * NUL-terminated, lower-case, one '@' before a domain equal to what
 * scan_address_domain finds, without blanks; every entry the parser
 * parses the same way twice, and lookups of any line's key are safe;
 * learned_parse_line (what the sharing reads from other nodes) takes a
 * line only when the file parser would, as "ACCOUNT SENDER" and spam|ham.
 */
#include "fuzz.h"

#include <ctype.h>

#include "policy/learn.h"
#include "scan/hdraddr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	char spec[320], dom[256];
	struct learned *l;

	if (scan_address_spec(buf, size, spec, sizeof(spec))) {
		const char *at = strrchr(spec, '@');
		CHECK(memchr(spec, '\0', sizeof(spec)) != NULL);
		CHECK(at != NULL && at != spec && at[1] != '\0');
		for (const char *p = spec; *p; p++)
			CHECK((unsigned char)*p > ' ' && !isupper((unsigned char)*p));
		CHECK(scan_address_domain(buf, size, dom, sizeof(dom)));
		CHECK(strcmp(at + 1, dom) == 0);
	}

	l = learned_new("/nonexistent");
	{
		size_t bad = learned_parse(l, buf, size), n = learned_count(l);
		/* parsing again replaces, never accumulates */
		CHECK(learned_parse(l, buf, size) == bad && learned_count(l) == n);
		CHECK(n <= size / 8 + 1);
	}
	{
		/* every line's key can be asked for; a line in the writer's
		 * exact form that is the last of its key is found as written */
		const char *p = buf, *end = buf + size;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
			char line[700], acc[330], snd[330], v[8], back[700], key[700];
			unsigned long long t;
			enum learn_opinion lo;
			time_t lt;
			if (learned_parse_line(p, ll, key, sizeof(key), &lo, &lt)) {
				struct learned *one = learned_new("/nonexistent");
				CHECK(lo == LEARN_SPAM || lo == LEARN_HAM);
				CHECK(memchr(key, '\0', sizeof(key)) != NULL && strchr(key, ' ') != NULL);
				CHECK(learned_parse(one, p, ll) == 0 && learned_count(one) == 1);
				{
					char *sp = strchr(key, ' ');
					*sp = '\0';
					CHECK(learned_get(one, key, sp + 1) == lo);
				}
				learned_free(one);
			}
			if (ll < sizeof(line)) {
				memcpy(line, p, ll);
				line[ll] = '\0';
				if (sscanf(line, "%329s %329s %7s %llu", acc, snd, v, &t) == 4) {
					enum learn_opinion o = learned_get(l, acc, snd);
					snprintf(back, sizeof(back), "%s %s %s %llu", acc, snd, v, t);
					if (strcmp(back, line) == 0 && o != LEARN_NONE)
						CHECK(o == LEARN_SPAM || o == LEARN_HAM);
				}
			}
			p += ll + (nl ? 1 : 0);
		}
	}
	learned_free(l);
	free(buf);
	return 0;
}
