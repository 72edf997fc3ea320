/*
 * Alerts (SPEC 7.2): every `event=alert` is also mailed to alert_address,
 * at most once per kind and subject (account, zone, ...) per alert_window,
 * so a storm gives one message, not thousands. With shared state (SPEC
 * 10, alerts_share) that is once for all the nodes: the first node to
 * claim the alert in Redis mails it.
 */
#ifndef POSTERN_MONITOR_ALERT_H
#define POSTERN_MONITOR_ALERT_H

#include <time.h>

#include "state/state.h"

/* Sends one alert message (subject line and body text). */
typedef void alert_send(void *arg, const char *subject, const char *body);

struct alerts;

struct alerts *alerts_new(unsigned window, alert_send *send, void *arg);
void alerts_free(struct alerts *a);
/* A new alert_window (reload). */
void alerts_set_window(struct alerts *a, unsigned window);
/* The log observer (log_add_observer(alerts_observe, a)); any thread. */
void alerts_observe(void *arg, const char *event, const char *fields);
/* De-duplicates across the nodes sharing st (borrowed: it outlives a);
 * mails then leave from st's loop. A no-op with local state. */
void alerts_share(struct alerts *a, struct state *st);

#endif
