/*
 * Fuzz target for the TLSA record reader (queue/dane.h): the input is
 * split into records at each 0xff 0xfe pair, as several rdata of one
 * answer. Invariants: a usable record is DANE-TA or DANE-EE with a
 * known selector and a digest of its exact length; the fields point
 * inside the input; the kept set never exceeds its cap and frees clean.
 */
#include "fuzz.h"

#include "queue/dane.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size);
	struct dane_records r = { 0 };
	size_t pos = 0, nrec = 0;

	while (pos <= size && nrec < 64) {
		size_t end = pos;
		char *rec;
		unsigned u, s, m;
		const unsigned char *d;
		size_t dl, len;

		while (end + 1 < size && !((unsigned char)buf[end] == 0xff &&
		    (unsigned char)buf[end + 1] == 0xfe))
			end++;
		if (end + 1 >= size)
			end = size;
		len = end - pos;
		rec = fuzz_copy((const uint8_t *)buf + pos, len);
		switch (dane_tlsa_parse(rec, len, &u, &s, &m, &d, &dl)) {
		case DANE_USABLE:
			CHECK(u == 2 || u == 3);
			CHECK(s <= 1);
			CHECK((m == 0 && dl <= DANE_DATA_MAX) || (m == 1 && dl == 32) ||
			    (m == 2 && dl == 64));
			/* fallthrough */
		case DANE_UNUSABLE:
			CHECK(len >= 4 && d == (const unsigned char *)rec + 3 && dl == len - 3);
			break;
		case DANE_MALFORMED:
			CHECK(len < 4);
			break;
		}
		dane_records_add(&r, rec, len);
		CHECK(r.n <= DANE_TLSA_MAX);
		free(rec);
		nrec++;
		pos = end + 2;
	}
	CHECK(r.n + r.unusable == nrec);
	dane_records_clear(&r);
	free(buf);
	return 0;
}
