/*
 * Delivery status notifications (RFC 3464, RFC 6522 multipart/report):
 * the bounce sent to the envelope sender of a message that could not be
 * delivered. Never for the null sender (RFC 5321 6.1), never for mail
 * refused during the SMTP session (the client got the error then).
 */
#ifndef POSTERN_QUEUE_DSN_H
#define POSTERN_QUEUE_DSN_H

#include <stddef.h>
#include <time.h>

#include "queue/spool.h"

enum dsn_kind { DSN_FAILED, DSN_DELAYED };

/*
 * How a recipient's reason starts when queue_lifetime ran out (the last
 * error follows "; last error: "): its report says Status 5.4.7,
 * "delivery time expired" (RFC 3463 3.5).
 */
#define DSN_EXPIRED "queue lifetime expired"

/*
 * Builds the report for the recipients idx[0..n) of env (their reasons
 * in env->rcpts[i].reason) with the original headers (data, len; only
 * the header section is returned, RFC 6522 "text/rfc822-headers").
 * Status: the reason's enhanced code for a failure (5.4.7 when expired,
 * 5.0.0 without one), 4.4.7 for a delay warning. When the sender or a
 * reported recipient is an SMTPUTF8 address, the report is the RFC 6533
 * kind: message/global-delivery-status with "utf-8;" addresses in raw
 * UTF-8, message/global-headers, and a utf-8 text part.
 * Returns a CRLF message (headers and body) the caller frees.
 */
char *dsn_build(enum dsn_kind kind, const char *hostname, const struct spool_envelope *env,
    const size_t *idx, size_t n, const char *data, size_t len, time_t now);

#endif
