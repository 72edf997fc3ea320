/*
 * Fuzz target for DNS answer handling: the input is split into records as
 * the resolver would hand them over (rdata of varying lengths), then
 * classified in both kinds of zone, and each record is also decoded as a
 * wire-format name. Invariants: a verdict is either an error (no lists)
 * or the union of its records' listings; decoded names are short,
 * lower-case host names.
 */
#include "fuzz.h"

#include "dns/answer.h"
#include "dns/dnsbl.h"

#define RECORDS_MAX 16

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *recs[RECORDS_MAX];
	const char *cdata[RECORDS_MAX];
	int lens[RECORDS_MAX];
	size_t n = 0, pos = 0;

	/* Each record: one length octet (mod 8, so A-sized records are
	 * common) then that many octets. */
	while (pos < size && n < RECORDS_MAX) {
		size_t l = (size_t)(data[pos++] % 8);
		if (l > size - pos)
			l = size - pos;
		recs[n] = fuzz_copy(data + pos, l);
		cdata[n] = recs[n];
		lens[n] = (int)l;
		pos += l;
		n++;
	}
	/* the whole input as a DNS message: bounded, whatever it holds */
	(void)dns_packet_has_soa((const char *)data, size);
	for (int kind = 0; kind < 2; kind++) {
		struct dnsbl_verdict v;
		dnsbl_verdict_of((enum dnsbl_kind)kind, cdata, lens, n, &v);
		CHECK(memchr(v.text, '\0', sizeof(v.text)) != NULL);
		if (v.code == DNSBL_ERROR)
			CHECK(v.lists == 0);
		else if (v.code == DNSBL_NONE)
			CHECK(v.lists == 0);
		else
			CHECK(v.lists & (1u << v.code));
		for (size_t i = 0; i < n && v.code != DNSBL_ERROR; i++) {
			enum dnsbl_code c = dnsbl_classify((enum dnsbl_kind)kind,
			    (const unsigned char *)cdata[i], (size_t)lens[i]);
			CHECK(c != DNSBL_ERROR);
			CHECK(v.lists & (1u << c));
		}
	}
	for (size_t i = 0; i < n; i++)
		free(recs[i]);

	/* The whole input as one name. */
	{
		char *buf = fuzz_copy(data, size), out[DNS_NAME_TEXT_MAX], qn[DNSBL_NAME_MAX + 8];
		if (dns_name_from_wire(buf, size, out, sizeof(out)) == 0) {
			size_t l = strlen(out);
			CHECK(l > 0 && l <= 253);
			for (size_t i = 0; i < l; i++)
				CHECK(!(out[i] >= 'A' && out[i] <= 'Z') && out[i] != ' ');
		}
		/* and as a domain to look up in the DBL */
		if (dnsbl_domain_name(buf, size, "dbl.spamhaus.org", qn, sizeof(qn)) == 0)
			CHECK(strlen(qn) <= 253 && strchr(qn, ' ') == NULL);
		free(buf);
	}
	return 0;
}
