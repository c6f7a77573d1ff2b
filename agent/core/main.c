/* bpfpush: CLI (docs/design.md "Command-line contract"), then the agent. */
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "probe_report.h"

enum exit_code { EXIT_OK = 0, EXIT_CONFIG = 1, EXIT_NO_MODULE = 2, EXIT_USAGE = 3 };

static void usage(FILE *to)
{
	fprintf(to, "usage: bpfpush [-c FILE] [--duration SECONDS]\n"
		    "       bpfpush -t|--check-config [-c FILE]\n"
		    "       bpfpush --probe [--json] [-c FILE]\n"
		    "       bpfpush --list-metrics | --version | --help\n"
		    "  -c, --config FILE     config file (default " CONFIG_DEFAULT_PATH "; conf.d/*.yaml beside it merged)\n"
		    "  -t, --check-config    validate the merged config and exit (0 valid, 1 errors)\n"
		    "      --probe           show, per module and event, how it attaches on this kernel\n"
		    "      --json            with --probe: machine-readable output\n"
		    "      --list-metrics    print the metric catalogue\n"
		    "      --duration SEC    run that long, flush every sink, exit 0\n"
		    "      --version         print the version\n");
}

/* libbpf's own chatter (verifier logs of refused fallbacks) is only for debugging. */
static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (log_get_level() < LOG_DEBUG || level == LIBBPF_DEBUG)
		return 0;
	fputs("DEBUG libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

static struct config *load_config(const char *path)
{
	struct config *cfg = NULL;
	struct config_errors errs = { 0 };
	int rc = config_load(path, &cfg, &errs);
	config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	return rc ? NULL : cfg;
}

int main(int argc, char **argv)
{
	enum { OPT_PROBE = 256, OPT_JSON, OPT_LIST, OPT_DURATION, OPT_VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },   { "check-config", no_argument, NULL, 't' },
		{ "probe", no_argument, NULL, OPT_PROBE },     { "json", no_argument, NULL, OPT_JSON },
		{ "list-metrics", no_argument, NULL, OPT_LIST }, { "duration", required_argument, NULL, OPT_DURATION },
		{ "version", no_argument, NULL, OPT_VERSION }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	/*
	 * libbpf reads the kernel's BTF (5+ MB) into malloc'd buffers at every
	 * object load and frees them after. glibc raises its mmap threshold past
	 * the first such buffer it frees, so the later ones land in the heap and
	 * stay resident for the agent's life (~5 MB more RSS, measured with
	 * scripts/bench/agent). A fixed threshold keeps big buffers in their own
	 * mappings, returned to the kernel when freed.
	 */
#ifdef M_MMAP_THRESHOLD
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
	/* A reload asked for while modules still attach must not kill the agent: the loop takes SIGHUP later. */
	signal(SIGHUP, SIG_IGN);
	const char *path = CONFIG_DEFAULT_PATH;
	bool check = false, probe = false, json = false;
	uint64_t duration_ms = 0;
	int c;
	while ((c = getopt_long(argc, argv, "c:th", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = true;
			break;
		case OPT_PROBE:
			probe = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_LIST:
			list_metrics(stdout);
			return EXIT_OK;
		case OPT_DURATION: {
			char *end;
			errno = 0;
			double seconds = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(seconds > 0) || seconds > 1e9) {
				fprintf(stderr, "bpfpush: --duration: expected a positive number of seconds, got \"%s\"\n", optarg);
				return EXIT_USAGE;
			}
			duration_ms = (uint64_t)(seconds * 1000.0);
			break;
		}
		case OPT_VERSION:
			printf("bpfpush %s\n", BPFPUSH_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bpfpush: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (json && !probe) {
		fprintf(stderr, "bpfpush: --json goes with --probe\n");
		return EXIT_USAGE;
	}
	struct config *cfg = load_config(path);
	if (!cfg)
		return EXIT_CONFIG;
	log_set_level(cfg->global.log_level);
	libbpf_set_print(libbpf_log);
	if (!probe && agent_check_sinks(cfg, stderr)) {
		config_free(cfg);
		return EXIT_CONFIG;
	}
	if (check) {
		printf("%s: OK\n", path);
		config_free(cfg);
		return EXIT_OK;
	}
	if (probe) {
		int rc = probe_report(cfg, json, stdout);
		config_free(cfg);
		return rc ? EXIT_NO_MODULE : EXIT_OK;
	}
	return agent_run(cfg, duration_ms);
}
