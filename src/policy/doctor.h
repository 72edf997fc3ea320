/*
 * The checks of `postern doctor` (SPEC 9): what mail delivery needs from
 * the live DNS and from the server, each a verdict (ok, warn, fail) with
 * what was found and what to do. They run on the event loop through the
 * project's resolver, so the server can run the same checks (the
 * reputation watch); every lookup has a deadline and the whole run a
 * bound, so a resolver that never answers ends in `fail`, never a hang.
 */
#ifndef POSTERN_POLICY_DOCTOR_H
#define POSTERN_POLICY_DOCTOR_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "dns/resolver.h"
#include "lib/config.h"

enum doctor_status { DOCTOR_OK = 0, DOCTOR_WARN, DOCTOR_FAIL };

/* The ten checks of SPEC 9 [contract: their names]. */
enum doctor_check {
	DOCTOR_MX, DOCTOR_ADDRESS, DOCTOR_PTR, DOCTOR_SPF, DOCTOR_DKIM, DOCTOR_DMARC,
	DOCTOR_ZEN, DOCTOR_DBL, DOCTOR_RESOLVER, DOCTOR_CERTIFICATE,
	DOCTOR_NCHECKS
};
#define DOCTOR_BIT(c) (1u << (c))
#define DOCTOR_ALL ((1u << DOCTOR_NCHECKS) - 1)

#define DOCTOR_IPS_MAX 16		/* server addresses checked */
#define DOCTOR_CERT_DAYS 14		/* SPEC 9: warn this long before expiry */

/* What a finding is, beyond its status (for the reputation watch). */
#define DOCTOR_F_UNSURE 1u	/* not checked (DNS failed): says nothing of us */
#define DOCTOR_F_EXPIRY 2u	/* the certificate expires soon or has expired */

/* One verdict. A check gives one finding per domain (mx, spf, dkim,
 * dmarc, dbl), per server address (ptr, zen) or one in all. */
struct doctor_finding {
	const char *name;	/* the check's name, or a note's (static) */
	char *domain;		/* the domain checked, or NULL */
	char *ip;		/* the server address checked, or NULL */
	enum doctor_status status;
	unsigned flags;		/* DOCTOR_F_* */
	char *detail;		/* what was found */
	char *fix;		/* what to do ("" when nothing) */
};

struct doctor_report {
	struct doctor_finding *checks;	/* only the ten names above */
	size_t nchecks;
	struct doctor_finding *notes;	/* other findings; never change the exit code */
	size_t nnotes;
	char **ips;			/* the server addresses checked */
	size_t nips;
	const char *ips_from;		/* "--ip", "public_ip" or "hostname" */
};

struct ssl_ctx_st;

struct doctor_options {
	const struct config *cfg;	/* borrowed until the callback */
	const char *const *ips;		/* the server's addresses; NULL: public_ip, */
	size_t nips;			/* else the A/AAAA records of hostname */
	unsigned checks;		/* DOCTOR_BIT()s to run */
	unsigned timeout_ms;		/* per lookup */
	/* the certificate in service (the server's); NULL: read tls_cert.
	 * Used before doctor_start returns, not kept. */
	const struct ssl_ctx_st *tls;
};

/* Called once, on the loop, with the report (valid during the call);
 * the callback may free the doctor. */
typedef void doctor_cb(void *arg, const struct doctor_report *rep);

struct doctor;

/* Starts the checks; cb never runs before this returns. The addresses
 * in opt->ips are copied; invalid ones are refused up front by the
 * caller (doctor_ip_normalize). */
struct doctor *doctor_start(struct event_base *base, struct resolver *res,
    const struct doctor_options *opt, doctor_cb *cb, void *arg);
/* Cancels what is in flight (the callback will not run). NULL: no-op. */
void doctor_free(struct doctor *d);

const char *doctor_check_name(enum doctor_check c);
const char *doctor_status_name(enum doctor_status s);
/* The worst status among the report's checks (notes do not count). */
enum doctor_status doctor_worst(const struct doctor_report *rep);

/* An IPv4 or IPv6 address as inet_ntop() writes it, into out (46 bytes
 * are enough); -1 when ip is not an address. */
int doctor_ip_normalize(const char *ip, char *out, size_t outlen);

/*
 * Pure: compares a published DKIM key record (TXT text, strings joined,
 * len bytes, from the network) with ours ("v=DKIM1; k=...; p=...", as
 * dkim_signer_record() writes it). Returns DOCTOR_OK when p= and k= are
 * the same, DOCTOR_FAIL otherwise, with the reason in why (static).
 */
enum doctor_status doctor_dkim_match(const char *published, size_t len, const char *ours,
    const char **why);

/*
 * The certificate check: the PEM file at cert_path (leaf first, then its
 * chain) chains to the trust store (SSL_CERT_FILE, when set, replaces
 * the system's), names hostname and does not expire within
 * DOCTOR_CERT_DAYS of now. Fills out (name "certificate"; the caller
 * frees its strings with doctor_finding_clear).
 */
void doctor_certificate(const char *cert_path, const char *hostname, time_t now,
    struct doctor_finding *out);
/* The certificate of cfg: tls_cert, else ACME's (<data_dir>/acme/) when
 * acme_email is set. */
void doctor_certificate_of(const struct config *cfg, time_t now, struct doctor_finding *out);
/* The same for the certificate a TLS context serves (its chain included). */
void doctor_certificate_ctx(const struct ssl_ctx_st *ctx, const char *hostname, time_t now,
    struct doctor_finding *out);
void doctor_finding_clear(struct doctor_finding *f);

#endif
