/*
 * Fuzz target for the Received chain. The input is parsed once as one
 * header value and once as a header block (with trusted networks and an
 * own address set); a second block prefixes every input line with
 * "Received:" so that most lines are hops. Invariants: an IP found is one
 * inet_pton accepts; the chain has at most RCVD_HOPS_MAX hops, internal
 * hops above the last external one, exactly one last external hop (or
 * none and every hop internal), every hop below it deeper.
 */
#include "fuzz.h"

#include <arpa/inet.h>

#include "lib/value.h"
#include "scan/received.h"

static void
check_ip(const char *ip)
{
	unsigned char bin[16];

	CHECK(memchr(ip, '\0', RCVD_IP_MAX) != NULL);
	CHECK(inet_pton(AF_INET, ip, bin) == 1 || inet_pton(AF_INET6, ip, bin) == 1);
}

static void
check_chain(const struct received_chain *c)
{
	size_t nlast = 0;

	CHECK(c->n <= RCVD_HOPS_MAX);
	CHECK(c->last_external >= -1 && c->last_external < (int)c->n);
	for (size_t i = 0; i < c->n; i++) {
		const struct received_hop *h = &c->hops[i];
		check_ip(h->ip);
		if (h->last_external) {
			nlast++;
			CHECK((int)i == c->last_external);
			CHECK(!h->internal && !h->deeper);
		}
		if (c->last_external == -1 || (int)i < c->last_external)
			CHECK(h->internal && !h->deeper && !h->last_external);
		else if ((int)i > c->last_external)
			CHECK(h->deeper && !h->last_external);
		if (received_ip_internal(h->ip))
			CHECK(h->internal);
	}
	CHECK(nlast == (c->last_external >= 0 ? 1u : 0u));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_copy(data, size), ip[RCVD_IP_MAX];
	struct received_chain c;
	static struct cidr trusted[2];
	static int init;
	static const char *const own[] = { "192.0.2.25", "2001:db8::25" };

	if (!init) {
		CHECK(value_cidr("198.51.100.0/24", 15, &trusted[0]) == 0);
		CHECK(value_cidr("2001:db8:1::/48", 15, &trusted[1]) == 0);
		init = 1;
	}
	if (received_parse_ip(buf, size, ip))
		check_ip(ip);

	received_chain(buf, size, NULL, 0, NULL, 0, &c);
	check_chain(&c);
	received_chain(buf, size, trusted, 2, own, 2, &c);
	check_chain(&c);
	free(buf);

	/* every line a Received header */
	{
		size_t cap = size * 11 + 12, o = 0, i = 0;
		char *hb = malloc(cap), *exact;
		memcpy(hb + o, "Received:", 9);
		o += 9;
		for (; i < size; i++) {
			hb[o++] = (char)data[i];
			if (data[i] == '\n' && i + 1 < size && data[i + 1] != ' ' && data[i + 1] != '\t') {
				memcpy(hb + o, "Received:", 9);
				o += 9;
			}
		}
		exact = fuzz_copy((const uint8_t *)hb, o);
		free(hb);
		received_chain(exact, o, trusted, 2, own, 2, &c);
		check_chain(&c);
		free(exact);
	}
	return 0;
}
