/*
 * Spamhaus checks of an SMTP client (SPEC section 4, Spamhaus components
 * 1 and 2): the connecting IP in zen, and the HELO name, the MAIL FROM
 * domain and the forward-confirmed reverse-DNS name in the DBL. Lookups
 * start as soon as their input is known and run in parallel; the decision
 * is asked for at RCPT, after waiting for what is still in flight (each
 * lookup is bounded by dnsbl_timeout).
 */
#ifndef POSTERN_POLICY_SPAMHAUS_H
#define POSTERN_POLICY_SPAMHAUS_H

#include <stdbool.h>
#include <sys/socket.h>

#include "dns/dnsbl.h"
#include "dns/health.h"
#include "dns/resolver.h"
#include "policy/decision.h"

/*
 * The record Spamhaus publishes for checking that a DQS key has HBL
 * (rspamd-dqs hbltest.sh): asked under KEY.hbl.dq.spamhaus.net, it
 * answers 127.0.3.20 for a key with HBL.
 */
#define HBL_TEST_POINT "TV7QRQPGBKF4X3K4T5QYILRI3SP5CIWVIIOH25YUOGVOJ3SBTYNA._cw"

/* spamhaus_hbl (SPEC 2, 4.1): HBL is paid for, so `auto` asks it only
 * while its test point answers. */
enum hbl_mode { HBL_AUTO, HBL_YES, HBL_NO };

/* What all sessions share: built once at start (and reload). */
struct spamhaus {
	struct resolver *res;		/* borrowed */
	struct dnsbl_health *health;	/* borrowed */
	char ip_zone[DNSBL_NAME_MAX];	/* query zones (may hold a DQS key) */
	char domain_zone[DNSBL_NAME_MAX];
	char ip_display[DNSBL_NAME_MAX];	/* zones as shown to people */
	char domain_display[DNSBL_NAME_MAX];
	/* SPEC 4.1, only with a DQS key ("" without: never queried) */
	char authbl_zone[DNSBL_NAME_MAX];
	char zrd_zone[DNSBL_NAME_MAX];
	char hbl_zone[DNSBL_NAME_MAX];
	enum hbl_mode hbl;
	bool hbl_probed;		/* without health: the test point answered */
	unsigned timeout_ms;
};

/* Fills zones from configuration values; the DQS key never reaches a
 * display name. HBL starts as `auto`. */
void spamhaus_init(struct spamhaus *sh, struct resolver *res, struct dnsbl_health *health,
    const char *ip_zone, const char *domain_zone, const char *dqs_key, unsigned timeout_s);
/* The spamhaus_hbl value ("auto", "yes", "no"; NULL: auto). */
void spamhaus_set_hbl(struct spamhaus *sh, const char *mode);
/*
 * Sets the health watch (borrowed) and has it watch the DQS-only zones:
 * AuthBL and ZRD through the errors of real lookups, HBL through its
 * test point as well (its answer decides `auto`).
 */
void spamhaus_attach_health(struct spamhaus *sh, struct dnsbl_health *health);
/* True with a DQS key: AuthBL and ZRD are asked. */
bool spamhaus_dqs(const struct spamhaus *sh);
/* True when HBL is to be asked now (key, mode, and with `auto` the last
 * test-point check, or the probe below without a health watch). */
bool spamhaus_hbl_on(const struct spamhaus *sh);
/*
 * Without a health watch (postern scan): asks the HBL test point once
 * and records the answer in hbl_probed; cb runs on the loop when done.
 * Returns NULL (and never calls cb) when there is nothing to ask.
 */
struct dns_query *spamhaus_hbl_probe(struct spamhaus *sh, void (*cb)(void *arg), void *arg);

enum check_target {
	CHECK_IP, CHECK_HELO, CHECK_SENDER, CHECK_RDNS,
	CHECK_AUTHBL,		/* the client of a submission port, at AUTH */
	CHECK_COUNT
};

/* Called (on the loop) when the last pending lookup completes. */
typedef void checks_ready_cb(void *arg);

struct client_checks;

/*
 * Starts the IP check (zen) and the reverse-DNS chain for a client.
 * check_ip false skips the zen lookup (authenticated or exempt clients).
 */
struct client_checks *checks_new(const struct spamhaus *sh, const char *ip,
    bool check_ip, checks_ready_cb *cb, void *arg);
/*
 * A submission client (SPEC 4.1): only its AuthBL lookup, started now
 * so that AUTH rarely waits. Nothing is started without a DQS key.
 */
struct client_checks *checks_new_auth(const struct spamhaus *sh, const char *ip,
    checks_ready_cb *cb, void *arg);
/* Cancels everything in flight. NULL is a no-op. */
void checks_free(struct client_checks *c);

/* The HELO/EHLO argument; address literals are not looked up. */
void checks_helo(struct client_checks *c, const char *helo);
/* The MAIL FROM domain (NULL or "" for the null sender). */
void checks_sender(struct client_checks *c, const char *domain);
/* Lookups still in flight. */
bool checks_pending(const struct client_checks *c);

/* Forward-confirmed reverse-DNS name, or NULL ("unknown" in headers). */
const char *checks_rdns(const struct client_checks *c);

/*
 * The rejection due at RCPT, if any: fills reply (the full SMTP reply
 * line) and log (key=value pairs for event=reject), and returns true.
 */
bool checks_reject(const struct client_checks *c, char *reply, size_t replylen,
    char *log, size_t loglen);

/*
 * The verdict on an AUTH attempt, given before the password is checked
 * (SPEC 4.1): refused (554 5.7.1 naming AuthBL, reason authbl) when the
 * client's IP is in AuthBL. An unanswered lookup lets AUTH go on.
 */
void checks_auth(const struct client_checks *c, struct decision *v);

/* Abused-legitimate DBL hits (127.0.1.102-106): score only (SPEC 5.3). */
bool checks_abused(const struct client_checks *c, enum check_target t);

#endif
