/*
 * Importing a received report (SPEC 12): a whole message with the
 * report attached (RFC 7489 7.2.1.1, RFC 8460 5.3), or the report file
 * itself (gzip, zip, XML or JSON), unpacked with caps (report/unpack.h),
 * parsed, checked to be about one of our domains, stored in reports.db.
 * Used by `postern dmarc import` and by the server's importer.
 */
#ifndef POSTERN_REPORT_IMPORT_H
#define POSTERN_REPORT_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/config.h"
#include "report/received.h"

#define IMPORT_WHY_MAX 256

enum import_kind { IMPORT_NONE = 0, IMPORT_DMARC, IMPORT_TLSRPT };

struct import_result {
	enum import_kind kind;
	bool duplicate;			/* already stored */
	char org[256], report_id[256];
	char domain[256];		/* DMARC: policy domain; TLS: the first of ours */
	size_t rows;			/* records, or policies of ours */
};

/*
 * Imports one report. Returns 0 (stored, or a duplicate), or -1 with why
 * (no report in it, refused by a cap, not about our domains, a database
 * error). Never logs: the caller says what it imported, once.
 */
int report_import(const struct config *cfg, struct report_db *db, const char *buf, size_t len,
    struct import_result *res, char *why, size_t whylen);

/* Imports a file (or every regular file of a directory, not recursing)
 * and logs each result (event=report_import, or a warning). Returns the
 * number of files refused, or -1 when path cannot be read. */
int report_import_path(const struct config *cfg, struct report_db *db, const char *path,
    bool verbose);

#endif
