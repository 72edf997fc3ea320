/*
 * The monotonic clock, for ages and deadlines that must not jump with
 * the wall clock (cache entries, idle sessions, retry and sync timers).
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

/* t plus ns nanoseconds (ns >= 0), normalised. */
static inline struct timespec
clock_add_ns(struct timespec t, long ns)
{
	t.tv_sec += ns / 1000000000L;
	t.tv_nsec += ns % 1000000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

/* The monotonic clock ms milliseconds from now. */
static inline struct timespec
clock_mono_after_ms(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return clock_add_ns(t, ms * 1000000L);
}

static inline int
clock_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

#endif
