/*
 * The reports other receivers sent about our domains (SPEC 12), kept in
 * SQLite at <data_dir>/reports.db: DMARC aggregate reports (who sends
 * as us, with what result) and TLS reports (how our domains' inbound TLS
 * looks from outside). A report is stored once (organization and report
 * id); reports received more than REPORT_DB_KEEP_DAYS ago are dropped.
 */
#ifndef POSTERN_REPORT_RECEIVED_H
#define POSTERN_REPORT_RECEIVED_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "report/dmarc_xml.h"
#include "report/tlsrpt_json.h"

#define REPORT_DB_KEEP_DAYS 400

struct report_db;

/* Opens (creates with create) the database; NULL with *err (caller
 * frees): without create, a missing database is an error. */
struct report_db *report_db_open(const char *data_dir, bool create, char **err);
void report_db_close(struct report_db *db);

/* Stores a report. Returns 1 when stored, 0 when it was already there,
 * -1 with *err. */
int report_db_add_dmarc(struct report_db *db, const struct dmarc_xml_report *r, time_t received,
    char **err);
/* Only the policies for which ours(arg, domain) is true are stored. */
int report_db_add_tlsrpt(struct report_db *db, const struct tlsrpt_report *r, time_t received,
    bool (*ours)(void *arg, const char *domain), void *arg, char **err);

/*
 * The summary `postern stats` prints for reports received since since:
 * as the members "dmarc_reports" and "tls_reports" of a JSON object
 * (json true; written with a leading comma), or as text sections. db
 * NULL (nothing received yet) prints the same with zeros.
 */
void report_db_summary(struct report_db *db, time_t since, bool json, FILE *out);

#endif
