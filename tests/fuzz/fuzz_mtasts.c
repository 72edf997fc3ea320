/*
 * Fuzz target for the MTA-STS parsers (queue/mtasts_policy.h): the whole
 * input as a TXT record and as a policy file. Invariants: an accepted id
 * is 1-32 letters and digits; an accepted policy has a known mode,
 * max_age within the cap, at most MTASTS_MX_MAX patterns, each a
 * lower-case host name or "*." and one, and every pattern matches
 * itself (without its "*", with one label in front).
 */
#include "fuzz.h"

#include "queue/mtasts_policy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	char id[MTASTS_ID_MAX + 1];
	struct mtasts_policy p;
	const char *why;

	if (mtasts_txt_parse(buf, size, id, &why) == 0) {
		size_t l = strlen(id);
		CHECK(l >= 1 && l <= MTASTS_ID_MAX);
		for (size_t i = 0; i < l; i++)
			CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'z') ||
			    (id[i] >= 'A' && id[i] <= 'Z'));
		CHECK(mtasts_txt_is_sts(buf, size));
	} else
		CHECK(why != NULL);
	if (mtasts_policy_parse(buf, size, &p, &why) == 0) {
		CHECK(size <= MTASTS_POLICY_MAX);
		CHECK(p.mode == MTASTS_NONE || p.mode == MTASTS_TESTING || p.mode == MTASTS_ENFORCE);
		CHECK(p.max_age <= MTASTS_MAX_AGE_MAX);
		CHECK(p.nmx <= MTASTS_MX_MAX);
		CHECK(p.nmx > 0 || p.mode == MTASTS_NONE);
		for (size_t i = 0; i < p.nmx; i++) {
			const char *m = p.mx[i];
			size_t l = strnlen(m, MTASTS_MX_LEN);
			char host[MTASTS_MX_LEN + 8];
			CHECK(l > 0 && l < MTASTS_MX_LEN);
			for (size_t k = 0; k < l; k++)
				CHECK((m[k] >= 'a' && m[k] <= 'z') || (m[k] >= '0' && m[k] <= '9') ||
				    m[k] == '-' || m[k] == '.' || (k == 0 && m[k] == '*'));
			if (m[0] == '*')
				snprintf(host, sizeof(host), "x%s", m + 1);
			else
				snprintf(host, sizeof(host), "%s", m);
			CHECK(mtasts_policy_mx_match(&p, host));
		}
	} else
		CHECK(why != NULL);
	free(buf);
	return 0;
}
