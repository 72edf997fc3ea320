/*
 * The hashes of Spamhaus's Hash Blocklist (SPEC 4.1), exactly as
 * Spamhaus's own rule sets compute them, so that a listed item is found:
 *  - _email: the address lower-cased, "+tag" removed, googlemail.com read
 *    as gmail.com and, for gmail.com, the dots of the local part removed;
 *    SHA-1 in lower-case hex (spamassassin-dqs 4.0.0+/sh_hbl.cf:
 *    check_hashbl_emails 'sha1/.../nodot/notag', hashbl_email_domain_alias
 *    gmail.com googlemail.com; rspamd-dqs 3.x/sh_rbl_hbl.conf hash "sha1");
 *  - _file: SHA-256 of the decoded attachment, RFC 4648 base32 without
 *    padding (rspamd-dqs 3.x/sh_rbl_hbl.conf attachments('rbase32',
 *    'sha256'); spamassassin-dqs 3.4.1+/SH.pm check_sh_attachment);
 *  - _cw: SHA-256 of the wallet address as written (ETH and bech32 bc1
 *    lower-cased), base32 without padding (rspamd-dqs 3.x/rspamd.local.lua
 *    sh_register_cw_symbol: create_specific('sha256', crypto):base32('rfc')).
 * Pure; every output is a fixed-size, DNS-label-safe string.
 */
#ifndef POSTERN_SCAN_HBL_H
#define POSTERN_SCAN_HBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HBL_SHA1_HEX_LEN 40		/* _email */
#define HBL_SHA256_B32_LEN 52		/* _file, _cw: ceil(256 / 5) */
#define HBL_HASH_MAX 53			/* either, with its NUL */
#define HBL_ADDR_MAX 256		/* an address longer than this is no address */

/*
 * Normalises an email address for _email (above) into out. Returns false
 * (out undefined) when addr is no local@domain of at most HBL_ADDR_MAX
 * octets, or the local part is empty once normalised.
 */
bool hbl_email_normalize(const char *addr, size_t len, char *out, size_t outlen);

/* SHA-1 of the normalised address, 40 lower-case hex digits and a NUL
 * into out (HBL_HASH_MAX). False when addr does not normalise. */
bool hbl_email_hash(const char *addr, size_t len, char *out);

/*
 * RFC 4648 section 6 base32, upper case, without the '=' padding. Writes
 * ceil(len * 8 / 5) characters and a NUL; returns that count, or 0 when
 * out (outlen) is too small (nothing is truncated).
 */
size_t hbl_base32(const unsigned char *in, size_t len, char *out, size_t outlen);

/* SHA-256 base32 of a wallet address as written; lower: ETH and bc1
 * addresses are hashed lower-cased. out: HBL_HASH_MAX. */
void hbl_cw_hash(const char *wallet, size_t len, bool lower, char *out);

/*
 * A file hashed as it is decoded, in pieces, so that an attachment of any
 * size costs a fixed amount of memory. hbl_file_end writes the base32
 * SHA-256 into out (HBL_HASH_MAX) and frees the state.
 */
struct hbl_file;
struct hbl_file *hbl_file_begin(void);
void hbl_file_update(struct hbl_file *f, const void *data, size_t len);
void hbl_file_end(struct hbl_file *f, char *out);
/* Abandons a hash. NULL is a no-op. */
void hbl_file_free(struct hbl_file *f);

/*
 * Decodes a transfer-encoded body into the hash in bounded pieces:
 * base64 and quoted-printable decoded as the scanner decodes them
 * (decode.h), anything else taken as it is. Returns the decoded size.
 */
enum hbl_encoding { HBL_ENC_RAW, HBL_ENC_BASE64, HBL_ENC_QP };
uint64_t hbl_file_body(struct hbl_file *f, const char *body, size_t len, enum hbl_encoding enc);

#endif
