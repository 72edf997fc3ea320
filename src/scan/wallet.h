/*
 * Crypto-wallet addresses in text (SPEC 4.1, HBL _cw), found with the
 * patterns of Spamhaus's rspamd rule set (rspamd-dqs 3.x
 * rspamd.local.lua, sh_register_cw_symbol), each anchored at word
 * boundaries as there (\b...\b):
 *   BTC  (bc1|[13])[a-zA-HJ-NP-Z0-9]{25,39}
 *   ETH  0x[a-fA-F0-9]{40}                       (hashed lower-cased)
 *   BCH  bitcoincash:(q|p)[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{41,111}
 *   XMR  [4578][1-9A-HJ-NP-Za-km-z]{94}
 *   LTC  [LM3][a-km-zA-HJ-NP-Z1-9]{26,33}
 *   XRP  r[rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz]{27,35}
 * A bech32 "bc1" address is hashed lower-cased too (SPEC 4.1). Pure,
 * linear in the text, never reads past len; fuzzed by fuzz_wallet.
 */
#ifndef POSTERN_SCAN_WALLET_H
#define POSTERN_SCAN_WALLET_H

#include <stdbool.h>
#include <stddef.h>

#define WALLET_MAX 128		/* longest pattern: bitcoincash: + 1 + 111 */

enum wallet_kind { WALLET_BTC, WALLET_ETH, WALLET_BCH, WALLET_XMR, WALLET_LTC, WALLET_XRP };

struct wallet {
	enum wallet_kind kind;
	size_t off, len;	/* where in the text, as written */
	bool lower;		/* hashed lower-cased (ETH, bc1) */
};

/*
 * Finds the next wallet address in text[*pos..len). Returns true with
 * *out filled and *pos moved past it, false when there is none left.
 * An address that fits several patterns (a "3..." BTC or LTC address)
 * is reported once, under the first kind in the order above.
 */
bool wallet_next(const char *text, size_t len, size_t *pos, struct wallet *out);

/* "BTC", "ETH", ... */
const char *wallet_kind_name(enum wallet_kind k);

#endif
