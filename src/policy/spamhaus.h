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

/* What all sessions share: built once at start (and reload). */
struct spamhaus {
	struct resolver *res;		/* borrowed */
	struct dnsbl_health *health;	/* borrowed */
	char ip_zone[DNSBL_NAME_MAX];	/* query zones (may hold a DQS key) */
	char domain_zone[DNSBL_NAME_MAX];
	char ip_display[DNSBL_NAME_MAX];	/* zones as shown to people */
	char domain_display[DNSBL_NAME_MAX];
	unsigned timeout_ms;
};

/* Fills zones from configuration values; the DQS key never reaches a
 * display name. */
void spamhaus_init(struct spamhaus *sh, struct resolver *res, struct dnsbl_health *health,
    const char *ip_zone, const char *domain_zone, const char *dqs_key, unsigned timeout_s);

enum check_target { CHECK_IP, CHECK_HELO, CHECK_SENDER, CHECK_RDNS, CHECK_COUNT };

/* Called (on the loop) when the last pending lookup completes. */
typedef void checks_ready_cb(void *arg);

struct client_checks;

/*
 * Starts the IP check (zen) and the reverse-DNS chain for a client.
 * check_ip false skips the zen lookup (authenticated or exempt clients).
 */
struct client_checks *checks_new(const struct spamhaus *sh, const char *ip,
    bool check_ip, checks_ready_cb *cb, void *arg);
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

/* Abused-legitimate DBL hits (127.0.1.102-106): score only (SPEC 5.3). */
bool checks_abused(const struct client_checks *c, enum check_target t);

#endif
