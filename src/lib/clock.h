/*
 * Seconds of the monotonic clock, for ages and deadlines that must not
 * jump with the wall clock (cache entries, idle sessions).
 */
#ifndef POSTERN_LIB_CLOCK_H
#define POSTERN_LIB_CLOCK_H

#include <time.h>

static inline time_t
clock_mono_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

#endif
