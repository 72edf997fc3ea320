/*
 * One public suffix list per process. psl_builtin() returns a static
 * object, so the first call from any thread gives every caller the same
 * pointer. The registered domains asked are remembered in a small
 * direct-mapped table under a lock: a message asks for the same few
 * hosts many times (its sender, HELO, From and URL hosts, from the
 * blocklist checks, the DQS and DMARC), and libpsl takes some 6,000
 * instructions per answer.
 */
#include "pslist.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#define MEMO_SLOTS 1024
#define MEMO_HOST_MAX 254	/* a longer name is asked of libpsl every time */

struct memo {
	char host[MEMO_HOST_MAX];	/* "" : empty */
	int off;			/* of the registered domain in host, -1: none */
};

static struct memo memo[MEMO_SLOTS];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

const psl_ctx_t *
pslist(void)
{
	return psl_builtin();
}

const char *
pslist_registrable(const char *host)
{
	uint64_t h = 14695981039346656037ULL;
	size_t len = 0;
	struct memo *m;
	const char *reg;

	if (pslist() == NULL || host == NULL)
		return NULL;
	for (const char *p = host; *p; p++, len++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	if (len == 0 || len >= MEMO_HOST_MAX)
		return psl_registrable_domain(pslist(), host);
	m = &memo[h % MEMO_SLOTS];
	pthread_mutex_lock(&memo_lock);
	if (strcmp(m->host, host) == 0) {
		int off = m->off;
		pthread_mutex_unlock(&memo_lock);
		return off < 0 ? NULL : host + off;
	}
	pthread_mutex_unlock(&memo_lock);
	reg = psl_registrable_domain(pslist(), host);
	pthread_mutex_lock(&memo_lock);
	memcpy(m->host, host, len + 1);
	m->off = reg != NULL ? (int)(reg - host) : -1;
	pthread_mutex_unlock(&memo_lock);
	return reg;
}
