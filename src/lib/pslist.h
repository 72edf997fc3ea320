/*
 * The public suffix list (libpsl's built-in copy), loaded once for the
 * whole process: the registered domain of a host (what the DBL lists,
 * what DMARC aligns on) is asked in many places, always of this one list.
 */
#ifndef POSTERN_LIB_PSLIST_H
#define POSTERN_LIB_PSLIST_H

#include <libpsl.h>

/* libpsl's built-in list; NULL only when libpsl has none compiled in. */
const psl_ctx_t *pslist(void);

/* psl_registrable_domain(pslist(), host) (host in lower case, as libpsl
 * wants it): a pointer into host, or NULL (also without a list), the
 * answers remembered. Thread-safe. */
const char *pslist_registrable(const char *host);

#endif
