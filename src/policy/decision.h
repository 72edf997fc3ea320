/*
 * A decision of policy/ (STYLE 14): the reply the session sends and the
 * reason it logs, as Postfix's smtpd_check_*() return the reply text and
 * smtpd only sends it. The session sends, logs (event=reject) and counts
 * a refusal in one place; every reply text is in policy/replies.h.
 */
#ifndef POSTERN_POLICY_DECISION_H
#define POSTERN_POLICY_DECISION_H

#include <stdbool.h>

#define DECISION_REPLY_MAX 512
#define DECISION_LOG_MAX 1024

struct decision {
	bool refused;			/* false: go on */
	bool wait;			/* not decided yet: the shared state was
					 * asked; the session waits and runs the
					 * command again (state/state.h) */
	bool client_error;		/* counts toward the session's error limit */
	const char *reason;		/* reason= of event=reject (a literal) */
	char reply[DECISION_REPLY_MAX];	/* the whole reply line, without CRLF */
	char log[DECISION_LOG_MAX];	/* extra logfmt fields for the reject line, or "" */
};

/* Starts a verdict as "accepted". */
void decision_init(struct decision *v);

/* Refuses with the reply formatted from fmt (a replies.h template). */
void decision_refuse(struct decision *v, const char *reason, bool client_error,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Appends logfmt fields (" key=value") to the reject line. */
void decision_log(struct decision *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
