/*
 * postern stats: a pflogsumm-like summary of the statistics store
 * (SPEC 7.2) for a period, or JSON for scripts with the top-level
 * integer keys accepted, rejected, delivered, deferred, bounced. With a
 * shared state_backend (SPEC 10) the figures are the sums of every node
 * that shares it, and each node's own are listed (JSON: under "nodes");
 * when Redis cannot be reached, this node's alone, said on stderr.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/json.h"
#include "lib/xmalloc.h"
#include "lib/value.h"
#include "monitor/stats.h"
#include "report/received.h"

#define STATS_REDIS_TIMEOUT_MS 3000	/* each reply of the shared state */

static uint64_t
sum(const struct stats_counter *c, size_t n, const char *name)
{
	uint64_t t = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			t += c[i].value;
	return t;
}

static uint64_t
get(const struct stats_counter *c, size_t n, const char *name, const char *label)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0 && strcmp(c[i].label, label) == 0)
			return c[i].value;
	return 0;
}

/* "user=bob@x" -> "bob@x" */
static const char *
label_value(const char *label)
{
	const char *eq = strchr(label, '=');
	return eq ? eq + 1 : label;
}

/* Adds one node's counters into the sums (*c, *n). */
static void
add_all(struct stats_counter **c, size_t *n, const struct stats_counter *add, size_t nadd)
{
	for (size_t k = 0; k < nadd; k++) {
		size_t i;
		for (i = 0; i < *n; i++)
			if (strcmp((*c)[i].name, add[k].name) == 0 &&
			    strcmp((*c)[i].label, add[k].label) == 0) {
				(*c)[i].value += add[k].value;
				break;
			}
		if (i == *n) {
			*c = xrealloc(*c, (*n + 1) * sizeof(**c));
			(*c)[(*n)++] = add[k];
		}
	}
}

static const char *const headline[] = { "accepted", "rejected", "delivered", "deferred",
	"bounced", "connections" };

/* "zone=hbl,status=ok" counters as {"hbl":{"ok":n,...},...} (rows come
 * sorted by label, so a zone's are together) */
static void
json_health(const struct stats_counter *c, size_t n)
{
	char zone[64] = "";
	bool first = true;

	printf("{");
	for (size_t i = 0; i < n; i++) {
		char z[64], st[64];
		if (strcmp(c[i].name, "dnsbl_health") != 0 ||
		    sscanf(c[i].label, "zone=%63[^,],status=%63s", z, st) != 2)
			continue;
		if (strcmp(z, zone) != 0) {
			printf("%s", zone[0] ? "}," : "");
			json_string(stdout, z);
			printf(":{");
			snprintf(zone, sizeof(zone), "%s", z);
			first = true;
		}
		printf("%s", first ? "" : ",");
		json_string(stdout, st);
		printf(":%llu", (unsigned long long)c[i].value);
		first = false;
	}
	printf("%s}", zone[0] ? "}" : "");
}

/* Prints the per-name breakdown as a JSON object {"value": n, ...}. */
static void
json_breakdown(const struct stats_counter *c, size_t n, const char *name)
{
	bool first = true;

	printf("{");
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0) {
			printf("%s", first ? "" : ",");
			json_string(stdout, name[0] == 'r' && strcmp(name, "rejected") == 0 ?
			    c[i].label : label_value(c[i].label));
			printf(":%llu", (unsigned long long)c[i].value);
			first = false;
		}
	printf("}");
}

/* SPEC 12: the DMARC and TLS reports received for our domains in the
 * period: who sends as us, who fails, how our inbound TLS looks. */
static void
report_summary(const char *data_dir, time_t since, bool json)
{
	char *err = NULL;
	struct report_db *db = report_db_open(data_dir, false, &err);

	free(err);
	report_db_summary(db, since, json, stdout);
	report_db_close(db);
}

int
cli_stats(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	bool json = cli_take_flag(&argc, argv, "--json");
	unsigned since_s = 86400;
	struct config cfg;
	struct stats_counter *c;
	struct stats_node *nodes = NULL;
	int nnodes = -1;
	size_t n;
	char *err = NULL, when[32];
	time_t now = time(NULL), since;
	struct tm tm;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--since") == 0 && i + 1 < argc &&
		    value_duration(argv[i + 1], strlen(argv[i + 1]), &since_s) == 0) {
			i++;
			continue;
		}
		fprintf(stderr, "usage: postern stats -c FILE [--since DURATION] [--json]\n");
		return 2;
	}
	if (cli_load_config(path, &cfg) == -1) {
		config_clear(&cfg);
		return 1;
	}
	since = now - (time_t)since_s;
	if (cfg.state_url.redis &&
	    (nnodes = stats_read_nodes(&cfg, since, STATS_REDIS_TIMEOUT_MS, &nodes, &err)) == -1) {
		fprintf(stderr, "postern: %s: this node's statistics only\n", err);
		free(err);
		err = NULL;
	}
	if (nnodes >= 0) {
		c = NULL;
		n = 0;
		for (int i = 0; i < nnodes; i++)
			add_all(&c, &n, nodes[i].c, nodes[i].n);
	} else if (stats_read(cfg.data_dir, since, &c, &n, &err) == -1) {
		/* no database yet: nothing happened */
		free(err);
		c = NULL;
		n = 0;
	}
	localtime_r(&since, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	if (json) {
		printf("{\"since\":\"%s\",\"accepted\":%llu,\"rejected\":%llu,\"delivered\":%llu,"
		    "\"deferred\":%llu,\"bounced\":%llu,\"connections\":%llu,\"rejected_by\":", when,
		    (unsigned long long)sum(c, n, "accepted"), (unsigned long long)sum(c, n, "rejected"),
		    (unsigned long long)sum(c, n, "delivered"), (unsigned long long)sum(c, n, "deferred"),
		    (unsigned long long)sum(c, n, "bounced"), (unsigned long long)sum(c, n, "connections"));
		json_breakdown(c, n, "rejected");
		printf(",\"sent_by_account\":");
		json_breakdown(c, n, "sent");
		printf(",\"delivered_by_account\":");
		json_breakdown(c, n, "delivered_by");
		printf(",\"bounced_by_account\":");
		json_breakdown(c, n, "bounced_by");
		printf(",\"ratelimited_by_account\":");
		json_breakdown(c, n, "ratelimited");
		printf(",\"dnsbl_errors\":");
		json_breakdown(c, n, "dnsbl_error");
		printf(",\"dnsbl_health\":");
		json_health(c, n);
		printf(",\"alerts\":");
		json_breakdown(c, n, "alert");
		report_summary(cfg.data_dir, since, true);
		if (nnodes >= 0) {
			/* SPEC 10: each node's own figures */
			printf(",\"nodes\":{");
			for (int i = 0; i < nnodes; i++) {
				printf("%s", i ? "," : "");
				json_string(stdout, nodes[i].name);
				printf(":{");
				for (size_t k = 0; k < sizeof(headline) / sizeof(headline[0]); k++)
					printf("%s\"%s\":%llu", k ? "," : "", headline[k],
					    (unsigned long long)sum(nodes[i].c, nodes[i].n, headline[k]));
				printf("}");
			}
			printf("}");
		}
		printf("}\n");
	} else {
		if (nnodes >= 0)
			printf("postern statistics since %s (%d nodes sharing %s)\n\n", when, nnodes,
			    cfg.state_backend);
		else
			printf("postern statistics since %s (%s)\n\n", when, cfg.data_dir);
		printf("  %10llu  connections\n", (unsigned long long)sum(c, n, "connections"));
		printf("  %10llu  accepted\n", (unsigned long long)sum(c, n, "accepted"));
		printf("  %10llu  rejected\n", (unsigned long long)sum(c, n, "rejected"));
		printf("  %10llu  delivered (%llu local, %llu remote)\n",
		    (unsigned long long)sum(c, n, "delivered"),
		    (unsigned long long)get(c, n, "delivered", "relay=local"),
		    (unsigned long long)get(c, n, "delivered", "relay=remote"));
		printf("  %10llu  deferred\n", (unsigned long long)sum(c, n, "deferred"));
		printf("  %10llu  bounced\n", (unsigned long long)sum(c, n, "bounced"));
		printf("\nRejections by reason and stage\n");
		for (size_t i = 0; i < n; i++)
			if (strcmp(c[i].name, "rejected") == 0)
				printf("  %10llu  %s\n", (unsigned long long)c[i].value, c[i].label);
		printf("\nAccounts (sent, remote delivered, bounced, bounce ratio, rate limited)\n");
		for (size_t i = 0; i < n; i++)
			if (strcmp(c[i].name, "sent") == 0) {
				uint64_t d = get(c, n, "delivered_by", c[i].label);
				uint64_t b = get(c, n, "bounced_by", c[i].label);
				printf("  %-32s %6llu %6llu %6llu %5.1f%% %6llu\n", label_value(c[i].label),
				    (unsigned long long)c[i].value, (unsigned long long)d,
				    (unsigned long long)b, d + b ? 100.0 * (double)b / (double)(d + b) : 0.0,
				    (unsigned long long)get(c, n, "ratelimited", c[i].label));
			}
		printf("\nBlocklist errors (answers that turned protection off)\n");
		for (size_t i = 0; i < n; i++)
			if (strcmp(c[i].name, "dnsbl_error") == 0)
				printf("  %10llu  %s\n", (unsigned long long)c[i].value, label_value(c[i].label));
		printf("\nBlocklist zones (checks by result: zen, dbl and the DQS zones authbl, zrd, hbl)\n");
		for (size_t i = 0; i < n; i++)
			if (strcmp(c[i].name, "dnsbl_health") == 0)
				printf("  %10llu  %s\n", (unsigned long long)c[i].value, c[i].label);
		report_summary(cfg.data_dir, since, false);
		printf("\nAlerts\n");
		for (size_t i = 0; i < n; i++)
			if (strcmp(c[i].name, "alert") == 0)
				printf("  %10llu  %s\n", (unsigned long long)c[i].value, label_value(c[i].label));
		if (nnodes >= 0) {
			printf("\nNodes (accepted, rejected, delivered, deferred, bounced)\n");
			for (int i = 0; i < nnodes; i++)
				printf("  %-32s %6llu %6llu %6llu %6llu %6llu\n", nodes[i].name,
				    (unsigned long long)sum(nodes[i].c, nodes[i].n, "accepted"),
				    (unsigned long long)sum(nodes[i].c, nodes[i].n, "rejected"),
				    (unsigned long long)sum(nodes[i].c, nodes[i].n, "delivered"),
				    (unsigned long long)sum(nodes[i].c, nodes[i].n, "deferred"),
				    (unsigned long long)sum(nodes[i].c, nodes[i].n, "bounced"));
		}
	}
	stats_nodes_free(nodes, nnodes > 0 ? nnodes : 0);
	free(c);
	config_clear(&cfg);
	return 0;
}
