/*
 * Loader of scripts/bench/floor.bpf.c for scripts/bench/overhead.
 *
 * Usage: floor OBJ dispatcher|tracepoints
 * Loads and attaches one set of empty programs (floor_dispatcher, or every
 * floor_tp_*; with either, every floor_ev_*), prints "ready" once they are attached, and holds them until
 * SIGTERM or SIGINT, then detaches and exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "dispatcher") && strcmp(argv[2], "tracepoints"))) {
		fprintf(stderr, "usage: %s OBJ dispatcher|tracepoints\n", argv[0]);
		return 2;
	}
	const char *prefix = strcmp(argv[2], "dispatcher") ? "floor_tp_" : "floor_dispatcher";
	libbpf_set_print(print_warnings);
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);

	/* Blocked now, taken by sigwait() later: no window where a signal is lost. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigprocmask(SIG_BLOCK, &sigs, NULL);

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "floor: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, !strncmp(bpf_program__name(prog), prefix, strlen(prefix)) ||
							!strncmp(bpf_program__name(prog), "floor_ev_", 9));
	int err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "floor: load: %s\n", strerror(-err));
		bpf_object__close(obj);
		return 1;
	}
	struct bpf_link *links[32] = { 0 };
	int n = 0;
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		struct bpf_link *link = bpf_program__attach(prog);
		if (!link) {
			fprintf(stderr, "floor: attach %s: %s\n", bpf_program__name(prog), strerror(errno));
			err = 1;
			break;
		}
		if (n < 32)
			links[n++] = link;
		fprintf(stderr, "floor: attached %s (%s)\n", bpf_program__name(prog), bpf_program__section_name(prog));
	}
	if (!err) {
		printf("ready\n");
		fflush(stdout);
		int sig;
		sigwait(&sigs, &sig);
	}
	for (int i = 0; i < n; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return err;
}
