/*
 * Spamhaus blocklists (SPEC section 4): query names and the meaning of
 * answers. Only answers inside 127.0.0.0/8 with a documented meaning are
 * listings; everything else is an error that must never block mail but
 * must be reported, because it means protection is silently off.
 */
#ifndef POSTERN_DNS_DNSBL_H
#define POSTERN_DNS_DNSBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNSBL_NAME_MAX 256

/* What one answer record means. */
enum dnsbl_code {
	DNSBL_NONE = 0,		/* not listed (no answer) */
	/* zen */
	DNSBL_SBL,		/* 127.0.0.2 */
	DNSBL_SBL_CSS,		/* 127.0.0.3 */
	DNSBL_XBL,		/* 127.0.0.4-7 */
	DNSBL_SBL_DROP,		/* 127.0.0.9 */
	DNSBL_PBL,		/* 127.0.0.10-11 */
	/* DBL */
	DNSBL_DBL_SPAM,		/* 127.0.1.2 */
	DNSBL_DBL_PHISH,	/* 127.0.1.4 */
	DNSBL_DBL_MALWARE,	/* 127.0.1.5 */
	DNSBL_DBL_BOTNET,	/* 127.0.1.6 */
	DNSBL_DBL_OTHER,	/* other 127.0.1.2-99 */
	DNSBL_DBL_ABUSED,	/* 127.0.1.102-106: abused legitimate */
	/* the DQS-only zones (SPEC 4.1) */
	DNSBL_AUTHBL,		/* AuthBL: any 127/8 answer but the error codes */
	DNSBL_ZRD,		/* 127.0.2.2-24: first seen that many hours ago */
	DNSBL_HBL_EMAIL,	/* 127.0.3.2 */
	DNSBL_HBL_FILE_MALWARE,	/* 127.0.3.10 */
	DNSBL_HBL_FILE_SUSPICIOUS,	/* 127.0.3.15 */
	DNSBL_HBL_CW,		/* 127.0.3.20: crypto wallet */
	/* errors: never listings */
	DNSBL_ERROR,
};

/*
 * The zones, each with its own table of answers. The first two exist on
 * the public mirrors; the last three only through the Data Query Service
 * (SPEC 4.1), named KEY.authbl.dq.spamhaus.net and so on.
 */
enum dnsbl_kind {
	DNSBL_KIND_IP,		/* zen */
	DNSBL_KIND_DOMAIN,	/* DBL */
	DNSBL_KIND_AUTHBL,	/* IPs of hosts that try stolen passwords */
	DNSBL_KIND_ZRD,		/* zero-reputation (newly seen) domains */
	DNSBL_KIND_HBL,		/* hashes: addresses, files, wallets */
	DNSBL_KIND_COUNT
};

/* The name people see for a DQS-only zone: "authbl", "zrd", "hbl" (the
 * key never appears in a reply, a header, an alert or a metric). */
const char *dnsbl_kind_display(enum dnsbl_kind kind);
/* KEY.authbl.dq.spamhaus.net, ... into out (DNSBL_NAME_MAX); "" for a
 * public zone or without a key. */
void dnsbl_dqs_zone(const char *dqs_key, enum dnsbl_kind kind, char *out);

/* Zone names after applying a DQS key (SPEC 2): out must hold
 * DNSBL_NAME_MAX bytes. */
void dnsbl_zones(const char *ip_zone, const char *domain_zone, const char *dqs_key,
    char *ip_out, char *domain_out);

/*
 * Builds the query name for an IP (IPv4 reversed octets, IPv6 reversed
 * nibbles; IPv4-mapped IPv6 as IPv4). Returns 0 or -1 when it does not fit.
 */
int dnsbl_ip_name(const struct sockaddr *sa, const char *zone, char *out, size_t outlen);
/* Same from a textual address ("192.0.2.1", "2001:db8::1"); -1 if not one. */
int dnsbl_ip_name_str(const char *ip, const char *zone, char *out, size_t outlen);

/*
 * Builds "NAME.ZONE" for a domain. Refuses (-1) IP literals, names that
 * are not host names, and names too long for the zone.
 */
int dnsbl_domain_name(const char *name, size_t len, const char *zone, char *out,
    size_t outlen);

/* Classifies one A record (4 octets) from a zone of the given kind. */
enum dnsbl_code dnsbl_classify(enum dnsbl_kind kind, const unsigned char *a, size_t len);

/* "SBL", "XBL", "PBL", "DBL spam", ... */
const char *dnsbl_code_name(enum dnsbl_code code);
/* True for codes that reject in the SMTP session (not ABUSED, not errors). */
bool dnsbl_code_rejects(enum dnsbl_code code);
/* Renders the 4 octets as dotted quad into out (16 bytes). */
void dnsbl_code_text(const unsigned char *a, size_t len, char *out);

/*
 * The combined meaning of all records of an answer: errors win (an error
 * means the answer cannot be trusted), then the most severe listing.
 * *first_error receives the first error record as text when there is one.
 */
struct dnsbl_verdict {
	enum dnsbl_code code;		/* most severe listing, or ERROR, or NONE */
	unsigned lists;			/* bit (1 << code) for each listing seen */
	char text[16];			/* the record behind code, dotted */
	unsigned hours;			/* ZRD: first seen that many hours ago */
};
void dnsbl_verdict_of(enum dnsbl_kind kind, const char *const *data, const int *len,
    size_t count, struct dnsbl_verdict *out);
/* "SBL, XBL, PBL": the lists of a verdict, into out. */
void dnsbl_lists_text(const struct dnsbl_verdict *v, char *out, size_t outlen);

#endif
