/*
 * The MTA-STS policy we publish for our domains (RFC 8461 3.2), served at
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt by https_listen.
 */
#ifndef POSTERN_WEB_MTASTS_H
#define POSTERN_WEB_MTASTS_H

/* A week, in seconds: RFC 8461 3.2 counts max_age in seconds and
 * suggests weeks; senders re-fetch when the DNS id changes anyway. */
#define MTASTS_MAX_AGE 604800

/* The policy text for mode ("none", "testing", "enforce") naming mx as
 * the only MX; caller frees. */
char *mtasts_policy(const char *mode, const char *mx);

#endif
