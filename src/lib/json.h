/*
 * Minimal JSON output: strings are escaped and always valid UTF-8
 * (invalid octets become U+FFFD), so a scan of hostile mail still prints
 * parseable JSON.
 */
#ifndef POSTERN_JSON_H
#define POSTERN_JSON_H

#include <stdio.h>

/* Writes s as a quoted JSON string. */
void json_string(FILE *f, const char *s);

#endif
