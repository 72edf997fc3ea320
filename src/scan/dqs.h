/*
 * The Spamhaus DQS checks of one message's content (SPEC 4.1): ZRD for
 * the registered domain of every domain the DBL gets (HELO, rDNS, sender
 * and header domains, URL hosts, email domains), and HBL for the email
 * addresses (envelope sender, From:, Reply-To:, body), the attachments
 * and the crypto-wallet addresses of the body. scan.c feeds it as it
 * extracts, starts its lookups with its own, and applies the answers to
 * the score. Without a DQS key dqs_new returns NULL and every call here
 * is a no-op, so a server without a key pays nothing (not even hashing).
 *
 * Each kind of item is capped per message at the scan's lookup budget
 * (scan_max_lookups): what the cap drops is counted, logged
 * (event=dqs_cap) and reported by dqs_capped, for SCAN_TRUNCATED.
 */
#ifndef POSTERN_SCAN_DQS_H
#define POSTERN_SCAN_DQS_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dnsbl.h"
#include "policy/spamhaus.h"
#include "scan/hbl.h"
#include "scan/mime.h"
#include "scan/score.h"
#include "scan/urls.h"

enum dqs_item { DQS_ZRD, DQS_EMAIL, DQS_FILE, DQS_CW, DQS_ITEM_COUNT };

enum dqs_state { DQS_PENDING, DQS_DONE, DQS_TIMEOUT, DQS_FAILED, DQS_SKIPPED };

struct dqs;

struct dqs_lookup {
	struct dqs *d;
	enum dqs_item item;
	/* what people see: the domain, the address, the file name or the
	 * wallet; never only a hash (SPEC 4.1) */
	char what[URL_DETAIL_MAX];
	char hash[HBL_HASH_MAX];	/* the label asked in HBL, "" for ZRD */
	char name[URL_HOST_MAX];	/* ZRD: the registered domain asked */
	enum dqs_state state;
	struct dnsbl_verdict v;
	struct dns_query *q;
};

/*
 * A new message's checks; NULL without a DQS key (sh NULL or keyless).
 * cap: items of each kind looked up at most (0: 64). HBL items are
 * collected only while HBL is on (spamhaus_hbl_on), decided here.
 */
struct dqs *dqs_new(const struct spamhaus *sh, unsigned cap);
void dqs_free(struct dqs *d);

/* A name whose registered domain goes to ZRD (HELO, rDNS, a sender or
 * header domain); IP literals and non-names are ignored. */
void dqs_domain(struct dqs *d, const char *name);
/* The registered domains of URL and email hosts, the parts taking turns
 * (a padded part gets no more of the cap per round than another). */
void dqs_urls(struct dqs *d, const struct url_set *u);
/* An address of the envelope or a header (From:, Reply-To:) for HBL. */
void dqs_address(struct dqs *d, const char *addr);
/* The addresses of From: and Reply-To: in a header block. */
void dqs_headers(struct dqs *d, const char *hdrs, size_t len);
/* Decoded body text: its addresses and wallets. */
void dqs_text(struct dqs *d, const char *text, size_t len);
/*
 * A leaf MIME part: hashed when it is an attachment (a disposition of
 * attachment, a file name, or not text). incomplete: the part was cut by
 * the scan's size cap, so its hash would be of a different file and is
 * not asked.
 */
void dqs_part(struct dqs *d, const struct mime_part *p, bool incomplete);

/* True when a cap dropped items (SCAN_TRUNCATED). */
bool dqs_capped(const struct dqs *d);
/*
 * Starts the lookups. done(arg) runs on the loop once per lookup that
 * completes (answer or timeout); returns how many were started.
 */
unsigned dqs_start(struct dqs *d, void (*done)(void *arg), void *arg);
/* The symbols of the answers (SPEC 5.3), each once. */
void dqs_apply(const struct dqs *d, struct score *sc);

/* Every lookup, planned order; n 0 for NULL. */
const struct dqs_lookup *dqs_lookups(const struct dqs *d, size_t *n);
/* "zrd", "hbl_email", "hbl_file", "hbl_cw" */
const char *dqs_item_name(enum dqs_item item);
/* "listed", "not_listed", "error", "timeout", "servfail", "not_looked_up" */
const char *dqs_state_name(const struct dqs_lookup *l);

#endif
