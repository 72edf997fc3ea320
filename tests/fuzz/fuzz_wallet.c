/*
 * Fuzz target for the wallet extractor (src/scan/wallet.h). Invariants:
 * every wallet lies inside the text, starts and ends at a word boundary,
 * has the length range of its kind, and the position only moves forward;
 * the whole pass ends at len.
 */
#include "fuzz.h"

#include "scan/wallet.h"

static int
word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = fuzz_copy(data, size);
	size_t pos = 0, last = 0;
	struct wallet w;

	while (wallet_next(t, size, &pos, &w)) {
		CHECK(w.off >= last && w.len > 0 && w.off + w.len <= size);
		CHECK(pos == w.off + w.len);
		CHECK(w.len <= WALLET_MAX);
		CHECK(w.off == 0 || !word((unsigned char)t[w.off - 1]));
		CHECK(w.off + w.len == size || !word((unsigned char)t[w.off + w.len]));
		switch (w.kind) {
		case WALLET_BTC: CHECK(w.len >= 26 && w.len <= 42); break;
		case WALLET_ETH: CHECK(w.len == 42 && w.lower); break;
		case WALLET_BCH: CHECK(w.len >= 54 && w.len <= 124); break;
		case WALLET_XMR: CHECK(w.len == 95); break;
		case WALLET_LTC: CHECK(w.len >= 27 && w.len <= 34); break;
		case WALLET_XRP: CHECK(w.len >= 28 && w.len <= 36); break;
		}
		last = pos;
	}
	CHECK(pos == size);
	free(t);
	return 0;
}
