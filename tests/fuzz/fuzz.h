/*
 * Shared helpers of the libFuzzer targets. CHECK aborts with a message so
 * a broken invariant is reported and its input saved like a crash. Inputs
 * are copied into exactly-sized heap buffers so ASan sees any over-read.
 */
#ifndef POSTERN_TESTS_FUZZ_H
#define POSTERN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                           \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",      \
			    __FILE__, __LINE__, #cond);                       \
			abort();                                              \
		}                                                             \
	} while (0)

/* An exactly-sized copy of size octets; an empty input gets a one-octet
 * buffer, since the parsers may be handed a non-NULL pointer. */
static inline char *
fuzz_copy(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);

	if (p == NULL)
		abort();
	if (size)
		memcpy(p, data, size);
	return p;
}

/* True when [p, p+n) lies inside [base, base+len). */
static inline int
fuzz_inside(const char *p, size_t n, const char *base, size_t len)
{
	return p >= base && n <= len && (size_t)(p - base) <= len - n;
}

#endif
