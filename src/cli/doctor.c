/*
 * postern doctor -c FILE [--ip IP]... [--json]: the checks of SPEC 9
 * (policy/doctor.h) against the live DNS, one line or JSON object each.
 * Exit 0 when every check is ok, 1 when the worst is warn, 2 on any fail
 * (a configuration that does not load is a fail too).
 */
#include "cli.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "lib/xmalloc.h"
#include "monitor/log.h"
#include "policy/doctor.h"

struct run {
	bool json;
	int rc;
	struct event_base *base;
	const struct config *cfg;
};

static void
usage(void)
{
	fprintf(stderr, "usage: postern doctor -c FILE [--ip IP]... [--json]\n");
}

static void
print_json_finding(const struct doctor_finding *f, bool comma)
{
	printf("%s{\"name\":", comma ? "," : "");
	json_string(stdout, f->name);
	if (f->domain != NULL) {
		printf(",\"domain\":");
		json_string(stdout, f->domain);
	}
	if (f->ip != NULL) {
		printf(",\"ip\":");
		json_string(stdout, f->ip);
	}
	printf(",\"status\":\"%s\",\"detail\":", doctor_status_name(f->status));
	json_string(stdout, f->detail);
	printf(",\"fix\":");
	json_string(stdout, f->fix);
	printf("}");
}

static void
print_json(const struct run *r, const struct doctor_report *rep)
{
	printf("{\"hostname\":");
	json_string(stdout, r->cfg->hostname);
	printf(",\"status\":\"%s\",\"ips\":[", doctor_status_name(doctor_worst(rep)));
	for (size_t i = 0; i < rep->nips; i++) {
		printf("%s", i ? "," : "");
		json_string(stdout, rep->ips[i]);
	}
	printf("],\"ips_from\":");
	json_string(stdout, rep->ips_from);
	printf(",\"checks\":[");
	for (size_t i = 0; i < rep->nchecks; i++)
		print_json_finding(&rep->checks[i], i > 0);
	printf("],\"notes\":[");
	for (size_t i = 0; i < rep->nnotes; i++)
		print_json_finding(&rep->notes[i], i > 0);
	printf("]}\n");
}

/* "STATUS NAME [DOMAIN|IP]: DETAIL -- fix: FIX", one line per check. */
static void
print_line(const char *label, const struct doctor_finding *f)
{
	const char *about = f->domain ? f->domain : f->ip;

	printf("%-5s %s%s%s: %s", label, f->name, about ? " " : "", about ? about : "", f->detail);
	if (f->status != DOCTOR_OK && f->fix[0] != '\0')
		printf(" -- fix: %s", f->fix);
	printf("\n");
}

static void
print_text(const struct run *r, const struct doctor_report *rep)
{
	size_t count[3] = { 0 };

	printf("postern doctor: hostname %s, server address%s", r->cfg->hostname,
	    rep->nips == 1 ? "" : "es");
	for (size_t i = 0; i < rep->nips; i++)
		printf(" %s", rep->ips[i]);
	if (rep->nips == 0)
		printf(" (none known)");
	printf(" (from %s)\n", strcmp(rep->ips_from, "hostname") == 0 ?
	    "the A/AAAA records of hostname" : rep->ips_from);
	for (size_t i = 0; i < rep->nchecks; i++) {
		print_line(doctor_status_name(rep->checks[i].status), &rep->checks[i]);
		count[rep->checks[i].status]++;
	}
	for (size_t i = 0; i < rep->nnotes; i++)
		print_line("note", &rep->notes[i]);
	printf("doctor: %zu ok, %zu warn, %zu fail\n", count[DOCTOR_OK], count[DOCTOR_WARN],
	    count[DOCTOR_FAIL]);
}

static void
on_report(void *arg, const struct doctor_report *rep)
{
	struct run *r = arg;

	if (r->json)
		print_json(r, rep);
	else
		print_text(r, rep);
	switch (doctor_worst(rep)) {
	case DOCTOR_OK: r->rc = 0; break;
	case DOCTOR_WARN: r->rc = 1; break;
	case DOCTOR_FAIL: r->rc = 2; break;
	}
	event_base_loopbreak(r->base);
}

int
cli_doctor(int argc, char **argv)
{
	const char *path = cli_config_path(&argc, argv);
	char *ips[DOCTOR_IPS_MAX], *err = NULL;
	size_t nips = 0;
	struct run r = { .rc = 2 };
	struct config cfg;
	struct resolver *res;
	struct doctor *d;

	r.json = cli_take_flag(&argc, argv, "--json");
	for (int i = 1; i < argc; i++) {
		char norm[INET6_ADDRSTRLEN];
		const char *v = NULL;
		if (strcmp(argv[i], "--ip") == 0 && i + 1 < argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--ip=", 5) == 0)
			v = argv[i] + 5;
		if (v == NULL) {
			usage();
			goto bad;
		}
		if (doctor_ip_normalize(v, norm, sizeof(norm)) == -1) {
			fprintf(stderr, "postern: --ip %s: not an IPv4 or IPv6 address\n", v);
			goto bad;
		}
		if (nips == DOCTOR_IPS_MAX) {
			fprintf(stderr, "postern: at most %d --ip\n", DOCTOR_IPS_MAX);
			goto bad;
		}
		ips[nips++] = xstrdup(norm);
	}
	if (cli_load_config(path, &cfg) == -1) {
		config_clear(&cfg);
		goto bad;
	}
	log_set_stderr(false);
	r.cfg = &cfg;
	r.base = event_base_new();
	{
		struct resolver_options opt = cli_resolver_options(&cfg);
		res = resolver_new(r.base, &opt, &err);
	}
	if (res == NULL) {
		fprintf(stderr, "postern: %s\n", err);
		free(err);
	} else {
		struct doctor_options opt = {
			.cfg = &cfg, .ips = (const char *const *)ips, .nips = nips,
			.checks = DOCTOR_ALL, .timeout_ms = cfg.dnsbl_timeout * 1000,
		};
		d = doctor_start(r.base, res, &opt, on_report, &r);
		event_base_dispatch(r.base);
		doctor_free(d);
		resolver_free(res);
	}
	event_base_free(r.base);
	config_clear(&cfg);
bad:
	for (size_t i = 0; i < nips; i++)
		free(ips[i]);
	return r.rc;
}
