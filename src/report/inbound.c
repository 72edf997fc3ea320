/*
 * The session's side of reporting: no lookups, no parsing of the
 * report here (the importer does that off the loop); the inbox copy is
 * written without a sync, like the day files: a crash loses a report
 * copy, never the delivered message.
 */
#include "inbound.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/durable.h"
#include "monitor/log.h"
#include "report/daylog.h"
#include "report/dmarc_note.h"
#include "report/unpack.h"
#include "scan/mime.h"
#include "scan/scan.h"

bool
report_inbound_is_report(const char *msg, size_t len)
{
	size_t hl = mime_header_end(msg, len);
	const char *v;
	size_t vl;
	char subj[256];

	if (mime_header_find(msg, hl, "TLS-Report-Domain", &v, &vl))
		return true;
	if (!mime_header_find(msg, hl, "Subject", &v, &vl))
		return false;
	mime_unfold(v, vl, subj, sizeof(subj));
	return strcasestr(subj, "Report Domain:") != NULL;
}

static void
note_dmarc(const struct config *cfg, const struct scan *sc, const char *ip, bool refused)
{
	const struct scan_auth *a = scan_auth(sc);
	struct dmarc_note n;
	char line[DAYLOG_LINE_MAX];
	size_t len;

	/* RFC 7489 7.2: only messages a DMARC record was applied to */
	if (a == NULL || !a->dmarc_ran || (a->dmarc != DMARC_PASS && a->dmarc != DMARC_FAIL) ||
	    a->header_from[0] == '\0')
		return;
	memset(&n, 0, sizeof(n));
	n.ts = (long long)time(NULL);
	snprintf(n.ip, sizeof(n.ip), "%s", ip);
	snprintf(n.header_from, sizeof(n.header_from), "%s", a->header_from);
	for (char *c = n.header_from; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c + 32);
	if (a->spf_ran) {
		snprintf(n.envelope_from, sizeof(n.envelope_from), "%s", a->spf_domain);
		snprintf(n.spf, sizeof(n.spf), "%s", spf_result_name(a->spf));
	} else
		snprintf(n.spf, sizeof(n.spf), "none");
	snprintf(n.dmarc, sizeof(n.dmarc), "%s", dmarc_result_name(a->dmarc));
	/* 7.2.1.1 disposition: what was done under the policy */
	snprintf(n.disposition, sizeof(n.disposition), "%s", a->dmarc != DMARC_FAIL ? "none" :
	    refused ? "reject" : scan_verdict(sc) == VERDICT_JUNK ? "quarantine" : "none");
	for (size_t i = 0; i < a->ndkim && n.ndkim < DMARC_NOTE_DKIM_MAX; i++) {
		if (a->dkim[i].result == DKIM_NONE)
			continue;
		snprintf(n.dkim[n.ndkim].domain, sizeof(n.dkim[0].domain), "%s", a->dkim[i].domain);
		snprintf(n.dkim[n.ndkim].selector, sizeof(n.dkim[0].selector), "%s",
		    a->dkim[i].selector);
		snprintf(n.dkim[n.ndkim].result, sizeof(n.dkim[0].result), "%s",
		    dkim_result_name(a->dkim[i].result));
		n.ndkim++;
	}
	if ((len = dmarc_note_format(&n, line, sizeof(line))) > 0)
		daylog_append(cfg->data_dir, "dmarc", (time_t)n.ts, line, len);
}

static void
keep_report(const struct config *cfg, const char *msg, size_t len)
{
	char dir[4096], path[4200];
	unsigned char r[8];
	int fd;

	/* a base64 attachment is 4/3 of the report, plus the message around it */
	if (len > REPORT_PACKED_MAX / 3 * 4 + 65536) {
		log_event("warning", "reason=\"a report message of %zu octets is too large to import\"",
		    len);
		return;
	}
	if (RAND_bytes(r, sizeof(r)) != 1)
		return;
	snprintf(dir, sizeof(dir), "%s/reports/inbox", cfg->data_dir);
	snprintf(path, sizeof(path), "%s/%lld.%02x%02x%02x%02x%02x%02x%02x%02x.eml", dir,
	    (long long)time(NULL), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1 && errno == ENOENT && durable_mkdirs(dir, 0750) == 0)
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_event("warning", "reason=\"cannot keep a report for import: %s: %s\"", path,
		    strerror(errno));
		return;
	}
	if (durable_write_all(fd, msg, len) == -1) {
		log_event("warning", "reason=\"cannot keep a report for import: %s: %s\"", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		return;
	}
	close(fd);
}

void
report_inbound(const struct config *cfg, const struct scan *sc, const char *client_ip,
    bool authenticated, bool refused, const char *msg, size_t len)
{
	/* our own users' mail is no inbound evaluation of anyone's domain */
	if (authenticated)
		return;
	if (cfg->dmarc_reports && sc != NULL && scan_finished(sc) && client_ip != NULL)
		note_dmarc(cfg, sc, client_ip, refused);
	if (!refused && msg != NULL && report_inbound_is_report(msg, len))
		keep_report(cfg, msg, len);
}
