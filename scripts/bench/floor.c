/*
 * Loader of scripts/bench/floor.bpf.c for scripts/bench/overhead.
 *
 * Usage: floor OBJ dispatcher|tracepoints|fentry|fexit|softirq
 * Loads and attaches one set of empty programs (floor_dispatcher, every
 * floor_tp_*, floor_fentry_* or floor_fexit_*; with each, the floor_ev_*
 * the sets share, or the fentry and fexit sets' floor_kfunc_ev_*; or, for
 * softirq, floor_ev_softirq_* alone), prints "ready" once they are attached,
 * and holds them until SIGTERM or SIGINT, then detaches and exits 0.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The kernel function of syscall NAME on this architecture (what the agent's kernel_names.c finds). */
#if defined(__x86_64__)
#define SYSCALL_PREFIX "__x64_sys_"
#elif defined(__aarch64__)
#define SYSCALL_PREFIX "__arm64_sys_"
#else
#define SYSCALL_PREFIX "sys_"
#endif

/* What follows prefix in s, NULL when s does not start with it. */
static const char *after(const char *s, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(s, prefix, n) ? NULL : s + n;
}

/* Does this program belong to the set? The fentry and fexit sets have their own TCP programs (floor.bpf.c). */
static bool in_set(const char *name, const char *set)
{
	/* The shipped config hooks no softirq (modules.softirq.timing is off): only its own set has them. */
	if (after(name, "floor_ev_softirq_") || !strcmp(set, "softirq"))
		return after(name, "floor_ev_softirq_") && !strcmp(set, "softirq");
	bool kfunc = !strcmp(set, "fentry") || !strcmp(set, "fexit");
	if (!strcmp(name, "floor_ev_send") || !strcmp(name, "floor_ev_recv"))
		return !kfunc;
	if (after(name, "floor_ev_"))
		return true;
	if (after(name, "floor_kfunc_ev_"))
		return kfunc;
	if (!strcmp(set, "fentry"))
		return after(name, "floor_fentry_");
	if (!strcmp(set, "fexit"))
		return after(name, "floor_fexit_");
	if (!strcmp(set, "dispatcher"))
		return !strcmp(name, "floor_dispatcher");
	return after(name, "floor_tp_");
}

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[2], "dispatcher") && strcmp(argv[2], "tracepoints") && strcmp(argv[2], "fentry") &&
			  strcmp(argv[2], "fexit") && strcmp(argv[2], "softirq"))) {
		fprintf(stderr, "usage: %s OBJ dispatcher|tracepoints|fentry|fexit|softirq\n", argv[0]);
		return 2;
	}
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
	bpf_object__for_each_program(prog, obj) {
		const char *name = bpf_program__name(prog);
		bool load = in_set(name, argv[2]);
		/*
		 * A floor_ev_* tracepoint this kernel lacks (sock:*, before 6.3) is
		 * left out, and said: that column has no floor of its own there.
		 */
		const char *tracepoint = after(bpf_program__section_name(prog), "tp_btf/");
		if (load && tracepoint && after(name, "floor_ev_") &&
		    libbpf_find_vmlinux_btf_id(tracepoint, BPF_TRACE_RAW_TP) < 0) {
			fprintf(stderr, "floor: no %s tracepoint on this kernel: %s left out\n", tracepoint, name);
			load = false;
		}
		bpf_program__set_autoload(prog, load);
		/* floor_fentry_read -> __x64_sys_read; the TCP ones name their function in SEC(). */
		const char *syscall = after(name, "floor_fentry_");
		if (!syscall)
			syscall = after(name, "floor_fexit_");
		if (syscall) {
			char target[64];
			snprintf(target, sizeof(target), SYSCALL_PREFIX "%s", syscall);
			bpf_program__set_attach_target(prog, 0, target);
		}
	}
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
