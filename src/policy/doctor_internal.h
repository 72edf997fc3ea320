/*
 * The inside of the doctor (policy/doctor.h), shared by its two halves:
 * doctor.c asks the questions and collects the answers, doctor_eval.c
 * turns the answers into verdicts. Nothing else includes this.
 */
#ifndef POSTERN_POLICY_DOCTOR_INTERNAL_H
#define POSTERN_POLICY_DOCTOR_INTERNAL_H

#include <arpa/inet.h>

#include "policy/doctor.h"
#include "policy/spamhaus.h"
#include "scan/spf.h"

#define LOOKUP_ITEMS_MAX 32	/* records kept from one answer */
#define PTR_FOLLOW_MAX 4	/* PTR names whose addresses are looked up */
#define DOCTOR_DOMAINS_MAX 64	/* domains checked (each costs ~8 lookups) */

struct doctor;

/* One DNS question and the records of its answer, as text. */
struct lookup {
	struct doctor *d;
	struct dns_query *q;		/* while in flight */
	char *name;
	int type;
	bool done;
	enum dns_status status;
	size_t n;
	char **items;			/* A/AAAA: address; MX, PTR: name ("" for
					 * a null MX); TXT: strings joined */
	unsigned *prefs;		/* MX preferences */
	void (*then)(struct lookup *);	/* runs when answered, before the count */
	size_t idx;			/* server address it belongs to */
};

struct srvip {
	char ip[INET6_ADDRSTRLEN];
	int family;
	struct lookup *ptr, *zen;
	struct lookup *fwd[PTR_FOLLOW_MAX];	/* addresses of the PTR names */
	size_t nfwd;
};

struct dom {
	const char *name;		/* borrowed from the configuration */
	struct lookup *mx, *txt, *dkim, *dmarc, *dbl, *sts, *tlsrpt;
};

struct spfrun {
	struct doctor *d;
	struct spf_check *c;
	bool done;
	enum spf_result r;
};

struct flist {
	struct doctor_finding *v;
	size_t n;
};

struct doctor {
	struct event_base *base;
	struct resolver *res;
	const struct config *cfg;
	unsigned want, timeout_ms;	/* DOCTOR_BIT()s to run; per lookup */
	doctor_cb *cb;
	void *arg;
	struct spamhaus sh;		/* zone names (a DQS key applied) */
	struct lookup **all;		/* every lookup, for cancel and free */
	size_t nall;
	unsigned pending;		/* lookups and SPF runs in flight */
	bool ips_known;
	struct srvip ips[DOCTOR_IPS_MAX];
	size_t nips;
	const char *ips_from;
	struct lookup *host_a, *host_aaaa, *host_dbl;
	struct dom *doms;
	size_t ndoms;
	struct spfrun *spf;		/* [domain * nips + ip] */
	struct lookup *rz, *rd;		/* the test points of the two zones */
	char *dkim_ours;		/* our key record, NULL without a key */
	char *dkim_err;			/* why the key did not load */
	struct doctor_finding cert;	/* the certificate check, made at start */
	struct event *timer;		/* the run's deadline */
	struct flist checks, notes;
	struct doctor_report rep;
};

/* Makes every verdict from the answers in (doctor_eval.c); the findings
 * go to d->checks and d->notes. */
void doctor_evaluate(struct doctor *d);

#endif
