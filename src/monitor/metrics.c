/*
 * Prometheus exposition. Counter names map one to one onto the statistics
 * names, labels onto their "key=value,..." label strings.
 */
#include "metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xmalloc.h"

struct metrics {
	struct MHD_Daemon *d;
	struct stats *st;
};

static const struct {
	const char *stat, *metric, *help;
} names[] = {
	{ "connections", "postern_connections_total", "SMTP sessions (the relay self-test excluded)" },
	{ "accepted", "postern_messages_accepted_total", "Messages acknowledged with 250" },
	{ "rejected", "postern_messages_rejected_total", "Refusals by reason and SMTP stage" },
	{ "delivered", "postern_messages_delivered_total", "Recipients delivered, local or remote" },
	{ "deferred", "postern_messages_deferred_total", "Delivery attempts deferred" },
	{ "bounced", "postern_messages_bounced_total", "Recipients bounced" },
	{ "sent", "postern_account_sent_total", "Messages accepted from each account" },
	{ "delivered_by", "postern_account_delivered_total", "Remote deliveries per account" },
	{ "bounced_by", "postern_account_bounced_total", "Remote bounces per account" },
	{ "ratelimited", "postern_account_ratelimited_total", "Rate limit refusals per account" },
	{ "dnsbl_error", "postern_dnsbl_errors_total", "Blocklist error answers per zone" },
	{ "dnsbl_health", "postern_dnsbl_health_total",
	    "Blocklist zone checks (test points, recoveries) by zone and result" },
	{ "alert", "postern_alerts_total", "Alerts raised by kind" },
};

/* "reason=dnsbl,stage=rcpt" -> {reason="dnsbl",stage="rcpt"} */
static void
put_labels(FILE *f, const char *label)
{
	if (*label == '\0')
		return;
	fputc('{', f);
	for (const char *p = label; *p;) {
		const char *eq = strchr(p, '='), *end;
		if (eq == NULL)
			break;
		end = eq;
		while (*end && *end != ',')
			end++;
		fprintf(f, "%s%.*s=\"", p == label ? "" : ",", (int)(eq - p), p);
		for (const char *c = eq + 1; c < end; c++) {
			if (*c == '"' || *c == '\\')
				fputc('\\', f);
			if (*c == '\n')
				fputs("\\n", f);
			else
				fputc(*c, f);
		}
		fputc('"', f);
		p = *end ? end + 1 : end;
	}
	fputc('}', f);
}

char *
metrics_render(struct stats *st)
{
	struct stats_counter *c;
	size_t n = stats_totals(st, &c), len = 0;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		bool any = false;
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", names[k].metric, names[k].help,
		    names[k].metric);
		for (size_t i = 0; i < n; i++)
			if (strcmp(c[i].name, names[k].stat) == 0) {
				fputs(names[k].metric, f);
				put_labels(f, c[i].label);
				fprintf(f, " %llu\n", (unsigned long long)c[i].value);
				any = true;
			}
		if (!any && strchr(names[k].stat, '_') == NULL && k < 6)
			fprintf(f, "%s 0\n", names[k].metric);
	}
	fclose(f);
	free(c);
	return out;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct metrics *m = cls;
	struct MHD_Response *r;
	enum MHD_Result rc;
	char *body;

	if (strcmp(method, "GET") != 0 || strcmp(url, "/metrics") != 0) {
		static const char nf[] = "not found: try /metrics\n";
		r = MHD_create_response_from_buffer(sizeof(nf) - 1, (void *)nf, MHD_RESPMEM_PERSISTENT);
		rc = MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, r);
		MHD_destroy_response(r);
		return rc;
	}
	body = metrics_render(m->st);
	r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "text/plain; version=0.0.4");
	rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

struct metrics *
metrics_start(const struct hostport *listen, struct stats *st, char **err)
{
	struct metrics *m = xcalloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, listen->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)listen->port);
	} else if (inet_pton(AF_INET6, listen->host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)listen->port);
		flags |= MHD_USE_IPv6;
	} else {
		*err = xasprintf("metrics_listen: %s is not an IP address", listen->host);
		free(m);
		return NULL;
	}
	m->st = st;
	m->d = MHD_start_daemon(flags, (uint16_t)listen->port, NULL, NULL, handle, m,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
	    MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	if (m->d == NULL) {
		*err = xasprintf("cannot serve metrics on %s:%u", listen->host, listen->port);
		free(m);
		return NULL;
	}
	return m;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->d);
	free(m);
}
