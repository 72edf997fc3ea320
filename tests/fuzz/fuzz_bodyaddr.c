/*
 * Fuzz target for the body address extractor (src/scan/bodyaddr.h) and
 * the HBL email normalisation behind it (src/scan/hbl.h). Invariants:
 * an address is lower-case, has one local part of 1-64 octets without a
 * leading, trailing or double dot, a domain with a dot; the position
 * only moves forward and the pass ends at len; whatever normalises
 * hashes to 40 lower-case hex digits.
 */
#include "fuzz.h"

#include <ctype.h>

#include "scan/bodyaddr.h"
#include "scan/hbl.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = fuzz_copy(data, size);
	char out[BODYADDR_MAX], hash[HBL_HASH_MAX], norm[HBL_ADDR_MAX + 16];
	size_t pos = 0, last = 0;

	while (bodyaddr_next(t, size, &pos, out)) {
		const char *at = strrchr(out, '@');
		size_t len = strlen(out);
		CHECK(pos > last && pos <= size);
		CHECK(at != NULL && at > out && at - out <= BODYADDR_LOCAL_MAX);
		CHECK(out[0] != '.' && at[-1] != '.' && strchr(at + 1, '.') != NULL);
		for (size_t i = 0; i < len; i++)
			CHECK(!isupper((unsigned char)out[i]) && (unsigned char)out[i] > 0x20);
		if (hbl_email_normalize(out, len, norm, sizeof(norm))) {
			CHECK(hbl_email_hash(out, len, hash));
			CHECK(strlen(hash) == HBL_SHA1_HEX_LEN);
			for (size_t i = 0; i < HBL_SHA1_HEX_LEN; i++)
				CHECK(isdigit((unsigned char)hash[i]) || (hash[i] >= 'a' && hash[i] <= 'f'));
		}
		last = pos;
	}
	CHECK(pos == size);
	/* the normalisation of the raw input: no overflow, whatever it is */
	if (hbl_email_normalize(t, size, norm, sizeof(norm)))
		CHECK(strchr(norm, '@') != NULL && strlen(norm) < sizeof(norm));
	free(t);
	return 0;
}
