/*
 * Wallet addresses in text (src/scan/wallet.h): the six patterns of
 * Spamhaus's rspamd rule set, their word boundaries, what is hashed
 * lower-cased, and bounded work on hostile text.
 */
#include "unit.h"

#include "scan/wallet.h"

#define BTC "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
#define P2SH "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
#define BECH "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
#define ETH "0x52908400098527886E0F7030069857D2E4169EE7"
#define BCH "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"
#define XMR "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
#define LTC "LQL9pVH1LsMfKwt82Y2wGhNGkrjF8vwUst"
#define XRP "rEb8TK3gBgk5auZkwc6sHnwrGVJH8DuaLh"

struct wallet_case {
	const char *text;
	const char *want;	/* the first wallet found, NULL: none */
	enum wallet_kind kind;
	bool lower;
};

static const struct wallet_case cases[] = {
	{ "pay " BTC " now", BTC, WALLET_BTC, false },
	{ BTC, BTC, WALLET_BTC, false },
	{ P2SH, P2SH, WALLET_BTC, false },	/* BTC before LTC */
	{ "to: " BECH ".", BECH, WALLET_BTC, true },
	{ ETH, ETH, WALLET_ETH, true },
	{ "(" ETH ")", ETH, WALLET_ETH, true },
	{ "BCH " BCH "!", BCH, WALLET_BCH, false },
	{ XMR, XMR, WALLET_XMR, false },
	{ "ltc:" LTC, LTC, WALLET_LTC, false },
	{ "xrp " XRP "\r\n", XRP, WALLET_XRP, false },
	/* word boundaries: no wallet inside a word */
	{ "x" BTC, NULL, 0, false },
	{ BTC "_", NULL, 0, false },
	{ BTC "x", BTC "x", WALLET_BTC, false },	/* still the BTC class: 35 long */
	{ "https://pay.example/" BTC "?a=1", BTC, WALLET_BTC, false },
	{ "\xe2\x82\xac" BTC "\xe2\x82\xac", BTC, WALLET_BTC, false },
	/* lengths */
	{ "1BoatSLRHtKNng", NULL, 0, false },			/* too short */
	{ "1" "AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDDDDDDD", NULL, 0, false },	/* 40: too long */
	{ "0x52908400098527886E0F7030069857D2E4169EE", NULL, 0, false },	/* 39 hex */
	{ "0x52908400098527886E0F7030069857D2E4169EE7A", NULL, 0, false },	/* 41 hex */
	{ "0X52908400098527886E0F7030069857D2E4169EE7", NULL, 0, false },	/* 0X */
	/* the class: BTC has no upper-case I or O */
	{ "1BoatSLRHtKNngkdXEeobR76b53LETtpyI", NULL, 0, false },
	{ "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ", NULL, 0, false },
	{ "bitcoincash:x" "pm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a", NULL, 0, false },
	/* ordinary text has none */
	{ "The quick brown fox jumps over the lazy dog 1234567890.", NULL, 0, false },
	{ "", NULL, 0, false },
};

static void
test_patterns(void **state)
{
	size_t bad = 0;

	for (size_t i = 0; i < NELEM(cases); i++) {
		const struct wallet_case *c = &cases[i];
		size_t pos = 0, len = strlen(c->text);
		struct wallet w;
		bool found = wallet_next(c->text, len, &pos, &w);

		if (c->want == NULL) {
			CASE_CHECK(bad, !found, i, "%s: found %.*s", unit_show(c->text, len),
			    (int)w.len, c->text + w.off);
			continue;
		}
		CASE_CHECK(bad, found && w.len == strlen(c->want) &&
		    memcmp(c->text + w.off, c->want, w.len) == 0 && w.kind == c->kind &&
		    w.lower == c->lower && pos == w.off + w.len, i, "%s: got %s %.*s",
		    unit_show(c->text, len), found ? wallet_kind_name(w.kind) : "none",
		    found ? (int)w.len : 0, found ? c->text + w.off : "");
	}
	assert_int_equal(bad, 0);
}

static void
test_several(void **state)
{
	static const char text[] = "send " BTC " or " ETH ", else " XRP "; " BTC;
	const char *want[] = { BTC, ETH, XRP, BTC };
	size_t pos = 0, n = 0;
	struct wallet w;

	while (wallet_next(text, sizeof(text) - 1, &pos, &w)) {
		assert_true(n < NELEM(want));
		assert_int_equal(w.len, strlen(want[n]));
		assert_memory_equal(text + w.off, want[n], w.len);
		n++;
	}
	assert_int_equal(n, 4);
	assert_int_equal(pos, sizeof(text) - 1);
	assert_string_equal(wallet_kind_name(WALLET_XMR), "XMR");
}

/* Never reads past len: the address cut by len is no address. */
static void
test_bounds(void **state)
{
	char *buf = malloc(sizeof(BTC) - 2);
	size_t pos = 0;
	struct wallet w;

	assert_non_null(buf);
	memcpy(buf, BTC, sizeof(BTC) - 2);	/* no NUL, one octet short */
	assert_true(wallet_next(buf, sizeof(BTC) - 2, &pos, &w));	/* 33: still BTC */
	assert_int_equal(w.len, sizeof(BTC) - 2);
	pos = 0;
	assert_false(wallet_next(buf, 20, &pos, &w));
	free(buf);
}

/* A megabyte of class characters and word starts: linear, no match. */
static void
test_hostile(void **state)
{
	size_t len = 1u << 20, pos = 0, found = 0;
	char *t = malloc(len);
	struct wallet w;

	assert_non_null(t);
	for (size_t i = 0; i < len; i++)
		t[i] = i % 97 == 96 ? ' ' : "13rLbc0x"[i % 8];
	while (wallet_next(t, len, &pos, &w))
		found++;
	assert_int_equal(pos, len);
	memset(t, '1', len);	/* one endless word */
	pos = 0;
	assert_false(wallet_next(t, len, &pos, &w));
	free(t);
	(void)found;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_several),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
