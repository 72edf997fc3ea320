/*
 * Verdicts: a refusal is a reply line and a log reason, both bounded.
 */
#include "decision.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
decision_init(struct decision *v)
{
	memset(v, 0, sizeof(*v));
}

void
decision_refuse(struct decision *v, const char *reason, bool client_error, const char *fmt, ...)
{
	va_list ap;

	v->refused = true;
	v->client_error = client_error;
	v->reason = reason;
	va_start(ap, fmt);
	vsnprintf(v->reply, sizeof(v->reply), fmt, ap);
	va_end(ap);
}

void
decision_log(struct decision *v, const char *fmt, ...)
{
	size_t used = strlen(v->log);
	va_list ap;

	if (used + 1 >= sizeof(v->log))
		return;
	va_start(ap, fmt);
	vsnprintf(v->log + used, sizeof(v->log) - used, fmt, ap);
	va_end(ap);
}
