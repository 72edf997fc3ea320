/*
 * Wallet patterns without a regex engine. Every pattern starts at a word
 * boundary and its body is a run of one character class ending at a word
 * boundary; all class characters are word characters, so \b after the
 * run holds only where the whole run ends at a non-word character. A
 * pattern therefore matches exactly when the maximal run of its class
 * has an allowed length and is followed by a non-word octet (or the
 * end): one pass over the run, no backtracking.
 */
#include "wallet.h"

#include <string.h>

/* PCRE's \w in ASCII mode: octets >= 0x80 are not word characters. */
static bool
word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_';
}

/* [a-zA-HJ-NP-Z0-9]: BTC (no I, O upper case) */
static bool
cls_btc(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    (c >= 'A' && c <= 'Z' && c != 'I' && c != 'O');
}

static bool
cls_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* bech32's alphabet */
static bool
cls_bch(unsigned char c)
{
	return c != '\0' && strchr("qpzry9x8gf2tvdw0s3jn54khce6mua7l", c) != NULL;
}

/* [1-9A-HJ-NP-Za-km-z]: base58 */
static bool
cls_b58(unsigned char c)
{
	return (c >= '1' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'O') ||
	    (c >= 'a' && c <= 'z' && c != 'l');
}

/* [a-km-zA-HJ-NP-Z1-9]: LTC, base58 again */
static bool
cls_ltc(unsigned char c)
{
	return cls_b58(c);
}

static bool
cls_xrp(unsigned char c)
{
	return c != '\0' &&
	    strchr("rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz", c) != NULL;
}

/*
 * The run of cls at t[from..len): its length when it is min..max long
 * and ends at a word boundary, else 0.
 */
static size_t
run(const char *t, size_t len, size_t from, bool (*cls)(unsigned char), size_t min, size_t max)
{
	size_t e = from;

	while (e < len && e - from <= max && cls((unsigned char)t[e]))
		e++;
	if (e - from < min || e - from > max)
		return 0;
	if (e < len && word((unsigned char)t[e]))
		return 0;
	return e - from;
}

/* Tries every pattern at a word start s; the total length or 0. */
static size_t
match_at(const char *t, size_t len, size_t s, enum wallet_kind *kind, bool *lower)
{
	unsigned char c = (unsigned char)t[s];
	size_t n;

	*lower = false;
	/* BTC: bc1 or [13], then 25-39 */
	if (len - s > 3 && memcmp(t + s, "bc1", 3) == 0 &&
	    (n = run(t, len, s + 3, cls_btc, 25, 39)) > 0) {
		*kind = WALLET_BTC;
		*lower = true;	/* bech32 is case-insensitive: hashed lower-cased */
		return 3 + n;
	}
	if ((c == '1' || c == '3') && (n = run(t, len, s + 1, cls_btc, 25, 39)) > 0) {
		*kind = WALLET_BTC;
		return 1 + n;
	}
	if (len - s > 2 && c == '0' && t[s + 1] == 'x' && (n = run(t, len, s + 2, cls_hex, 40, 40)) > 0) {
		*kind = WALLET_ETH;
		*lower = true;
		return 2 + n;
	}
	if (len - s > 13 && memcmp(t + s, "bitcoincash:", 12) == 0 &&
	    (t[s + 12] == 'q' || t[s + 12] == 'p') &&
	    (n = run(t, len, s + 13, cls_bch, 41, 111)) > 0) {
		*kind = WALLET_BCH;
		return 13 + n;
	}
	if ((c == '4' || c == '5' || c == '7' || c == '8') &&
	    (n = run(t, len, s + 1, cls_b58, 94, 94)) > 0) {
		*kind = WALLET_XMR;
		return 1 + n;
	}
	if ((c == 'L' || c == 'M' || c == '3') && (n = run(t, len, s + 1, cls_ltc, 26, 33)) > 0) {
		*kind = WALLET_LTC;
		return 1 + n;
	}
	if (c == 'r' && (n = run(t, len, s + 1, cls_xrp, 27, 35)) > 0) {
		*kind = WALLET_XRP;
		return 1 + n;
	}
	return 0;
}

bool
wallet_next(const char *text, size_t len, size_t *pos, struct wallet *out)
{
	size_t i = *pos;

	while (i < len) {
		size_t n, e;
		/* only word starts can start a pattern (\b, then a word octet) */
		if (!word((unsigned char)text[i]) || (i > 0 && word((unsigned char)text[i - 1]))) {
			i++;
			continue;
		}
		n = match_at(text, len, i, &out->kind, &out->lower);
		if (n > 0) {
			out->off = i;
			out->len = n;
			*pos = i + n;
			return true;
		}
		/* nothing starts inside this word: skip it whole (linear) */
		for (e = i + 1; e < len && word((unsigned char)text[e]); e++)
			;
		i = e;
	}
	*pos = len;
	return false;
}

const char *
wallet_kind_name(enum wallet_kind k)
{
	switch (k) {
	case WALLET_BTC: return "BTC";
	case WALLET_ETH: return "ETH";
	case WALLET_BCH: return "BCH";
	case WALLET_XMR: return "XMR";
	case WALLET_LTC: return "LTC";
	case WALLET_XRP: return "XRP";
	}
	return "?";
}
