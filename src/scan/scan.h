/*
 * Content analysis of one message (SPEC section 5, Spamhaus component 3):
 * decode the MIME tree, extract the Received chain, URLs, domains and
 * addresses, look them up in zen and the DBL in parallel on the
 * asynchronous resolver, run the structural checks, and turn it all into
 * a score and a verdict. The same code serves `postern scan` and the SMTP
 * session (before the 250 after DATA).
 */
#ifndef POSTERN_SCAN_SCAN_H
#define POSTERN_SCAN_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "policy/learn.h"
#include "policy/spamhaus.h"
#include "scan/bayes.h"
#include "scan/dkim.h"
#include "scan/dmarc.h"
#include "scan/hdraddr.h"
#include "scan/received.h"
#include "scan/spf.h"
#include "scan/score.h"
#include "scan/urls.h"

/*
 * Bytes of a message examined. A caller holding a longer message passes
 * at least this many bytes (the SMTP session reads back exactly this
 * much): a message of SCAN_TEXT_MAX bytes or more is taken as cut there
 * and scores SCAN_TRUNCATED (SPEC 5.1: up to 1 MiB is scanned whole).
 */
#define SCAN_TEXT_MAX (8 * 1024 * 1024)
#define SCAN_ADDR_MAX 320		/* local@domain */

struct scan_input {
	const struct config *cfg;	/* weights, thresholds, trusted networks:
					 * read (copied) before scan_start or
					 * scan_start_async returns, never after */
	const struct spamhaus *sh;	/* lookups; NULL: none (offline scan) */
	const char *client_ip;		/* SMTP client, NULL outside a session */
	const char *helo;		/* its HELO name (SPF for the null sender) */
	const char *rdns;		/* its forward-confirmed name (ZRD), NULL if none */
	const char *authserv_id;	/* our host name, in Authentication-Results */
	const char *mail_from;		/* envelope sender, NULL or "" if none */
	bool authenticated;		/* the client's own hop is never looked up */
	bool helo_abused;		/* from the session's DBL checks */
	bool rdns_abused;
	const char *const *own;		/* this server's addresses */
	size_t nown;
	unsigned max_lookups;		/* per message */
	bool defanged;			/* read hxxp:// and [.] forms */
	/* What the recipients taught about the From: address (policy/learn.h),
	 * asked once the scan is finished; NULL: nothing learned applies. */
	enum learn_opinion (*learned)(void *arg, const char *from_addr);
	void *learned_arg;
	/* The content classifier's counts (SPEC 13); NULL: no Bayes vote.
	 * The scan holds it (bayes_table_hold) until it has classified. */
	const struct bayes_table *bayes;
	unsigned bayes_min_learned;
	bool bayes_tokens;		/* keep the tokens (postern learn) */
};

/* What a lookup was for: decides the symbol a listing maps to. */
enum scan_role {
	ROLE_URL_HOST, ROLE_EMAIL, ROLE_URL_IP, ROLE_FROM, ROLE_RCVD_LAST, ROLE_RCVD_DEEP,
};

/* LOOKUP_SKIPPED: planned but not started (no resolver, DNS down);
 * LOOKUP_OVER_BUDGET: past max_lookups, never started. */
enum lookup_state {
	LOOKUP_PENDING, LOOKUP_DONE, LOOKUP_TIMEOUT, LOOKUP_FAILED, LOOKUP_SKIPPED,
	LOOKUP_OVER_BUDGET,
};

/*
 * The caps that can cut a scan short (SPEC 5.1, 5.3 SCAN_TRUNCATED). Each
 * bounds the work a hostile message can cause; none may let it hide
 * what it cut off, so any of them scores SCAN_TRUNCATED.
 */
enum scan_cut {
	SCAN_CUT_SIZE = 1u << 0,	/* message past SCAN_TEXT_MAX */
	SCAN_CUT_DEPTH = 1u << 1,	/* MIME nesting past MIME_DEPTH_MAX */
	SCAN_CUT_PARTS = 1u << 2,	/* MIME parts past MIME_PARTS_MAX */
	SCAN_CUT_TEXT = 1u << 3,	/* decoded text past its buffer */
	SCAN_CUT_ITEMS = 1u << 4,	/* URL_ITEMS_SOFT / URL_ITEMS_MAX */
	SCAN_CUT_LOOKUPS = 1u << 5,	/* lookups past max_lookups */
};
#define SCAN_CUT_COUNT 6

struct scan_lookup {
	struct scan *scan;
	enum scan_role role;
	enum dnsbl_kind kind;
	char item[DNSBL_NAME_MAX];	/* name or IP looked up */
	char detail[URL_DETAIL_MAX];	/* what it came from */
	enum lookup_state state;
	struct dnsbl_verdict v;
	struct dns_query *q;
};

struct scan;

/* Called when the lookups of a scan that did not finish in scan_start
 * are all answered or timed out. */
typedef void scan_cb(void *arg, struct scan *s);

/*
 * Scans len bytes of msg (borrowed until the scan is finished or freed).
 * When no lookup is needed the scan is finished on return (scan_finished
 * is true) and cb is never called; otherwise cb runs once on the loop.
 */
struct scan *scan_start(const struct scan_input *in, const char *msg, size_t len,
    scan_cb *cb, void *arg);

/*
 * The same, with the computation on the message (MIME walk, URLs, the
 * classifier, the lookup plan) run on a worker of q (lib/workq.h); the
 * lookups are started on the loop afterwards. cb always runs, once, on
 * the loop, unless the scan is freed first. in's strings and own are
 * borrowed until then, as msg (the worker reads only msg and own).
 * scan_free of a scan on a worker waits for the worker to finish it.
 */
struct workq;
struct scan *scan_start_async(struct workq *q, const struct scan_input *in, const char *msg,
    size_t len, scan_cb *cb, void *arg);
bool scan_finished(const struct scan *s);
void scan_free(struct scan *s);

/* Results, valid once finished. */
const struct score *scan_score(const struct scan *s);
enum verdict scan_verdict(const struct scan *s);
const struct url_set *scan_urls(const struct scan *s);
const struct received_chain *scan_chain(const struct scan *s);
/* In the order of priority they were planned in (scan.c plan_lookups). */
const struct scan_lookup *scan_lookups(const struct scan *s, size_t *n);
/* The caps that cut this scan (enum scan_cut bits), 0 if none. */
unsigned scan_cuts(const struct scan *s);
/* "depth+lookups": the names of the cuts, as in SCAN_TRUNCATED's detail. */
const char *scan_cut_names(unsigned cuts, char *out, size_t outlen);
/* What one cap is, for people: "MIME nesting deeper than 24 levels". */
const char *scan_cut_text(enum scan_cut cut, char *out, size_t outlen);
/* Authentication results (valid once finished; *_ran false when the
 * check did not run). */
struct scan_auth {
	bool spf_ran, dkim_ran, dmarc_ran;
	enum spf_result spf;
	char spf_domain[URL_HOST_MAX];
	struct dkim_sig_result dkim[DKIM_SIGS_MAX];
	size_t ndkim;
	enum dmarc_result dmarc;
	enum dmarc_policy dmarc_policy;
	char header_from[URL_HOST_MAX];	/* first From: domain, "" if none */
};
const struct scan_auth *scan_auth(const struct scan *s);

/* The classifier's result (ran false without a table), and the message's
 * tokens (NULL unless a table or bayes_tokens was given). */
const struct bayes_result *scan_bayes(const struct scan *s);
const struct bayes_tokens *scan_bayes_tokens(const struct scan *s);

/* The ZRD and HBL lookups (SPEC 4.1, scan/dqs.h); NULL without a DQS key. */
struct dqs;
const struct dqs *scan_dqs(const struct scan *s);

/* Domains of From:, Reply-To:, Return-Path: and the envelope. */
const char *const *scan_from_domains(const struct scan *s, size_t *n);

/*
 * The header lines to add at delivery (Authentication-Results when SPF,
 * DKIM or DMARC ran, X-Spam-Score, X-Spam-Status), CRLF-terminated, into
 * a new string the caller frees.
 */
char *scan_headers(const struct scan *s);

#endif
