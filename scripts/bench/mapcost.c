// SPDX-License-Identifier: GPL-2.0
/*
 * Loads one program of scripts/bench/mapcost.bpf.c, attaches it, turns the
 * kernel's run-time statistics on (held by the fd bpf_enable_stats returns),
 * runs COMMAND and prints what the program's runs cost while it ran:
 *   PROG RUNS NS_PER_RUN
 * Exit 3 (and a line on stderr saying why) when this kernel cannot load PROG.
 *
 * Usage (root): mapcost OBJ PROG COMMAND [ARG...]
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int print_warnings(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, args) : 0;
}

static bool wanted(const char *name, const char *prog)
{
	bool chain = !strcmp(prog, "mc_tail_calls");
	return !strcmp(name, prog) || (chain && !strncmp(name, "mc_member_", 10));
}

/* mc_chain slot i holds mc_member_i. */
static int fill_chain(struct bpf_object *obj)
{
	int table = bpf_map__fd(bpf_object__find_map_by_name(obj, "mc_chain"));
	for (__u32 slot = 1; slot <= 3; slot++) {
		char name[16];
		snprintf(name, sizeof(name), "mc_member_%u", slot);
		int fd = bpf_program__fd(bpf_object__find_program_by_name(obj, name));
		if (bpf_map_update_elem(table, &slot, &fd, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int run(char **command)
{
	pid_t child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		execvp(command[0], command);
		fprintf(stderr, "mapcost: %s: %s\n", command[0], strerror(errno));
		_exit(127);
	}
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int stats_of(int prog_fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	memset(info, 0, len);
	return bpf_obj_get_info_by_fd(prog_fd, info, &len);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s OBJ PROG COMMAND [ARG...]\n", argv[0]);
		return 2;
	}
	const char *prog_name = argv[2];
	libbpf_set_print(print_warnings);
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "mapcost: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, prog_name);
	if (!prog) {
		fprintf(stderr, "mapcost: no program %s in %s\n", prog_name, argv[1]);
		bpf_object__close(obj);
		return 2;
	}
	struct bpf_program *each;
	bpf_object__for_each_program(each, obj)
		bpf_program__set_autoload(each, wanted(bpf_program__name(each), prog_name));
	int cpus = libbpf_num_possible_cpus();
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "mc_slots"), cpus > 0 ? cpus : 1);
	bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "mc_pages"), cpus > 0 ? cpus : 1);

	int err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "mapcost: %s does not load on this kernel: %s\n", prog_name, strerror(-err));
		bpf_object__close(obj);
		return 3;
	}
	if (!strcmp(prog_name, "mc_tail_calls") && (err = fill_chain(obj))) {
		fprintf(stderr, "mapcost: fill mc_chain: %s\n", strerror(-err));
		bpf_object__close(obj);
		return 1;
	}
	struct bpf_link *link = bpf_program__attach(prog);
	if (!link) {
		fprintf(stderr, "mapcost: attach %s: %s\n", prog_name, strerror(errno));
		bpf_object__close(obj);
		return 3;
	}
	int stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats < 0) {
		fprintf(stderr, "mapcost: enable run-time statistics: %s\n", strerror(errno));
		bpf_link__destroy(link);
		bpf_object__close(obj);
		return 1;
	}
	struct bpf_prog_info before, after;
	int fd = bpf_program__fd(prog);
	int status = stats_of(fd, &before) ? -1 : run(&argv[3]);
	if (status == 0 && !stats_of(fd, &after)) {
		unsigned long long runs = after.run_cnt - before.run_cnt;
		unsigned long long ns = after.run_time_ns - before.run_time_ns;
		printf("%s %llu %.1f\n", prog_name, runs, runs ? (double)ns / (double)runs : 0.0);
	} else {
		fprintf(stderr, "mapcost: %s failed (%d)\n", argv[3], status);
		err = 1;
	}
	close(stats);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return err;
}
