/*
 * One public suffix list per process. psl_builtin() returns a static
 * object, so the first call from any thread gives every caller the same
 * pointer; nothing here needs a lock.
 */
#include "pslist.h"

const psl_ctx_t *
pslist(void)
{
	return psl_builtin();
}
