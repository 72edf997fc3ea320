/*
 * Fuzz target for the DNS reply reader (src/dns/reply.h): the input is a
 * reply message, read as the answer to each type the resolver asks.
 * Invariants: a refused message leaves nothing behind; a read one has
 * count records, each inside its own length, a TTL below 2^31, and an
 * SOA in its authority section exactly when dns_packet_has_soa finds one.
 */
#include "fuzz.h"

#include "dns/answer.h"
#include "dns/reply.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = { 1, 2, 6, 12, 15, 16, 28, 52 };
	char *buf = fuzz_copy(data, size);

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct dns_reply r;
		if (dns_reply_parse(buf, size, types[t], &r) != 0) {
			CHECK(r.count == 0 && r.data == NULL && r.len == NULL);
			continue;
		}
		CHECK(r.ttl <= 0x7FFFFFFFu);
		CHECK(r.soa == dns_packet_has_soa(buf, size));
		CHECK(r.rcode >= 0 && r.rcode <= 15);
		for (size_t i = 0; i < r.count; i++) {
			volatile char sum = 0;
			CHECK(r.len[i] >= 0);
			/* every octet readable (ASan checks the bounds) */
			for (int k = 0; k < r.len[i]; k++)
				sum = (char)(sum + r.data[i][k]);
			(void)sum;
		}
		dns_reply_clear(&r);
	}
	free(buf);
	return 0;
}
