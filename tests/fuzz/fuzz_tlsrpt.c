/*
 * Fuzz target for received TLS reports (report/tlsrpt_json.h, RFC 8460)
 * and the failure-reason classifier (report/tlsrpt_note.h): the input
 * unpacked (gzip as mailed) under a cap and parsed as JSON. Invariants: a
 * parsed report has an organization and an id, at most the capped
 * numbers of policies and details, terminated strings; the classifier
 * answers NULL or an RFC 8460 result type.
 */
#include "fuzz.h"

#include "report/tlsrpt_json.h"
#include "report/tlsrpt_note.h"
#include "report/unpack.h"

#define CAP (1u << 20)

static void
parse(const char *buf, size_t len)
{
	struct tlsrpt_report r;
	char why[TLSRPT_WHY_MAX];

	if (tlsrpt_parse(buf, len, &r, why, sizeof(why)) == -1) {
		CHECK(r.policies == NULL && r.npolicies == 0);
		return;
	}
	CHECK(r.npolicies <= TLSRPT_POLICIES_MAX);
	for (size_t i = 0; i < r.npolicies; i++) {
		CHECK(r.policies[i].ndetails <= TLSRPT_DETAILS_MAX);
		CHECK(memchr(r.policies[i].domain, '\0', sizeof(r.policies[i].domain)) != NULL);
		for (size_t k = 0; k < r.policies[i].ndetails; k++)
			CHECK(memchr(r.policies[i].details[k].result_type, '\0',
			    sizeof(r.policies[i].details[k].result_type)) != NULL);
	}
	tlsrpt_clear(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_copy(data, size), *out = NULL, why[UNPACK_WHY_MAX];
	size_t outlen = 0;

	if (unpack_report(in, size, CAP, &out, &outlen, NULL, why, sizeof(why)) == 0) {
		CHECK(out != NULL && outlen <= CAP && out[outlen] == '\0');
		parse(out, outlen);
		{
			/* the text as a delivery failure reason */
			const char *t = tlsrpt_classify(out);
			CHECK(t == NULL || strchr(t, '-') != NULL);
		}
		free(out);
	}
	free(in);
	return 0;
}
