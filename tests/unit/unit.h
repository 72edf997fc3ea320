/*
 * Common includes and helpers for the cmocka unit tests. cmocka needs
 * stdarg.h, stddef.h, stdint.h and setjmp.h before cmocka.h. Tests are
 * tables of cases: a failing case is reported with its index and input
 * and counted, and the test fails once at the end so one run shows every
 * broken case of the table.
 */
#ifndef POSTERN_TESTS_UNIT_H
#define POSTERN_TESTS_UNIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#include <dirent.h>

/* Entries of directory root/sub not starting with '.'; 0 when it does
 * not exist. */
static inline size_t
unit_count_entries(const char *root, const char *sub)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", root, sub);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* A string literal and its length, embedded NULs included. */
#define S(lit) (lit), (sizeof(lit) - 1)

/*
 * Records a failed expectation of table case idx without aborting the
 * test: *bad counts failures, the message names the case.
 */
#define CASE_CHECK(bad, cond, idx, fmt, ...)                                  \
	do {                                                                  \
		if (!(cond)) {                                                \
			print_error("%s:%d: case %zu: " fmt "\n", __FILE__,   \
			    __LINE__, (size_t)(idx), __VA_ARGS__);           \
			(bad)++;                                              \
		}                                                             \
	} while (0)

/* Renders len bytes of s printable (C escapes) into a static buffer for
 * failure messages; two rotating buffers so two calls fit in one message. */
static inline const char *
unit_show(const char *s, size_t len)
{
	static char bufs[2][512];
	static int which;
	char *b = bufs[which ^= 1];
	size_t o = 0;

	if (s == NULL)
		return "(null)";
	for (size_t i = 0; i < len && o + 8 < sizeof(bufs[0]); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r') {
			b[o++] = '\\';
			b[o++] = 'r';
		} else if (c == '\n') {
			b[o++] = '\\';
			b[o++] = 'n';
		} else if (c == '\\' || c == '"') {
			b[o++] = '\\';
			b[o++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(b + o, sizeof(bufs[0]) - o, "\\x%02x", c);
		} else
			b[o++] = (char)c;
	}
	if (o + 8 >= sizeof(bufs[0]))
		b[o++] = '.', b[o++] = '.', b[o++] = '.';
	b[o] = '\0';
	return b;
}

#endif
