/*
 * Fuzz target for received DMARC aggregate reports (report/unpack.h,
 * report/dmarc_xml.h): the input is a report file as it arrives, gzip,
 * zip or plain XML, unpacked under a small cap and parsed. Invariants:
 * unpacked output never passes the cap and is NUL-terminated; a parsed
 * report has its required fields and at most DMARC_XML_RECORDS_MAX rows,
 * each with a source IP; every string is terminated within its field.
 */
#include "fuzz.h"

#include "report/dmarc_xml.h"
#include "report/unpack.h"

#define CAP (1u << 20)

static void
parse(const char *buf, size_t len)
{
	struct dmarc_xml_report r;
	char why[DMARC_XML_WHY_MAX];

	if (dmarc_xml_parse(buf, len, &r, why, sizeof(why)) == -1) {
		CHECK(memchr(why, '\0', sizeof(why)) != NULL);
		CHECK(r.rows == NULL && r.nrows == 0);
		return;
	}
	CHECK(r.report_id[0] != '\0' && r.org_name[0] != '\0' && r.domain[0] != '\0');
	CHECK(r.nrows <= DMARC_XML_RECORDS_MAX);
	CHECK(memchr(r.org_name, '\0', sizeof(r.org_name)) != NULL);
	for (size_t i = 0; i < r.nrows; i++) {
		CHECK(r.rows[i].source_ip[0] != '\0');
		CHECK(memchr(r.rows[i].header_from, '\0', sizeof(r.rows[i].header_from)) != NULL);
		CHECK(memchr(r.rows[i].dkim_domain, '\0', sizeof(r.rows[i].dkim_domain)) != NULL);
	}
	dmarc_xml_clear(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_copy(data, size), *out = NULL, why[UNPACK_WHY_MAX];
	size_t outlen = 0;

	if (unpack_report(in, size, CAP, &out, &outlen, NULL, why, sizeof(why)) == 0) {
		CHECK(out != NULL && outlen <= CAP && out[outlen] == '\0');
		parse(out, outlen);
		free(out);
	} else
		CHECK(out == NULL);
	/* the raw input as XML too: the parser alone, exactly sized */
	parse(in, size);
	free(in);
	return 0;
}
