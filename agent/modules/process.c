/* process: new processes and threads, exits, releases, zombies, failed forks. */
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"
#include "percpu.h"
#include "process.h"
#include "process.skel.h"
#include "syscall_watch.h"

static const struct metric_desc process_metrics[] = {
	{ "process.create", METRIC_COUNTER, false, "", "new processes: fork, vfork, clone/clone3 without CLONE_THREAD (every task copy_process makes)" },
	{ "process.thread_create", METRIC_COUNTER, false, "", "new threads: clone/clone3 with CLONE_THREAD, and threads the kernel makes (io_uring, vhost)" },
	{ "process.exit", METRIC_COUNTER, false, "", "tasks that exited" },
	{ "process.release", METRIC_COUNTER, false, "", "tasks released" },
	{ "process.zombies", METRIC_GAUGE, false, "", "tasks exited but not yet reaped, host-wide" },
	{ "process.create_errors", METRIC_COUNTER, true, "", "fork/vfork/clone/clone3 calls that failed" },
};

static const struct event_desc process_events[] = {
	{ .name = "fork",
	  .gives = "process.create, process.thread_create",
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "fork_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "fork_raw_tp" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "fork_tracepoint" } } } },
	{ .name = "exit",
	  .gives = "process.exit, process.zombies",
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "exit_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "exit_raw_tp" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "exit_tracepoint" } } } },
	{ .name = "release",
	  .gives = "process.release, process.zombies",
	  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "release_tp_btf" } },
		    { .tier = ATTACH_RAW_TP, .progs = { "release_raw_tp" } },
		    { .tier = ATTACH_TRACEPOINT, .progs = { "release_tracepoint" } } } },
	{ .name = "create_errors",
	  .gives = "process.create_errors",
	  .return_mode_only = true,
	  /* Only a syscall exit sees why a fork failed: costly enough to wait for load_mode: return. */
	  .ways = { { .syscalls = { LEGACY_SYSCALLS(SYS_fork, SYS_vfork, ) SYS_clone, SYS_clone3 } } } },
};

enum { EVENT_FORK = 0, EVENT_EXIT, EVENT_RELEASE, EVENT_CREATE_ERRORS };

struct process_state {
	struct process_bpf *skel;
	int64_t zombies_at_start;
};

static struct bpf_object *process_open(struct module *m)
{
	struct process_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = process_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

static void process_destroy(struct module *m)
{
	struct process_state *st = m->priv;
	if (!st)
		return;
	process_bpf__destroy(st->skel);
	free(st);
	m->priv = NULL;
}

/* Zombies the kernel already holds: /proc/PID/stat state 'Z'. */
static int64_t count_proc_zombies(void)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return 0;
	int64_t zombies = 0;
	struct dirent *de;
	while ((de = readdir(proc))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* comm may hold spaces and parentheses: the state follows the last ')'. */
		char *end = strrchr(buf, ')');
		if (end && end[1] == ' ' && end[2] == 'Z')
			zombies++;
	}
	closedir(proc);
	return zombies;
}

static int process_start(struct module *m)
{
	struct process_state *st = m->priv;
	st->zombies_at_start = count_proc_zombies();
	return 0;
}

static int process_collect(struct module *m, struct series_store *store)
{
	struct process_state *st = m->priv;
	uint64_t v[sizeof(struct process_counters) / sizeof(uint64_t)];
	int rc = percpu_sum_u64(bpf_map__fd(st->skel->maps.process_counters), 0, sizeof(v) / sizeof(v[0]), v);
	if (rc)
		return rc;
	const struct process_counters *c = (const struct process_counters *)v;
	const struct event_state *ev = m->events;
	if (ev[EVENT_FORK].chosen >= 0) {
		series_counter_observe(store, "process.create", NULL, 0, c->create);
		series_counter_observe(store, "process.thread_create", NULL, 0, c->thread_create);
	}
	if (ev[EVENT_EXIT].chosen >= 0)
		series_counter_observe(store, "process.exit", NULL, 0, c->exit);
	if (ev[EVENT_RELEASE].chosen >= 0)
		series_counter_observe(store, "process.release", NULL, 0, c->release);
	if (ev[EVENT_EXIT].chosen >= 0 && ev[EVENT_RELEASE].chosen >= 0) {
		/* Tasks that were dying when we attached release without an exit seen: clamp. */
		int64_t zombies = st->zombies_at_start + (int64_t)c->exit - (int64_t)c->release;
		series_gauge_set(store, "process.zombies", NULL, 0, zombies > 0 ? (double)zombies : 0.0, false);
	}
	if (ev[EVENT_CREATE_ERRORS].chosen >= 0) {
		static const enum syscall_id creates[] = { LEGACY_SYSCALLS(SYS_fork, SYS_vfork, ) SYS_clone, SYS_clone3 };
		uint64_t errors = 0;
		struct syscall_stats row;
		for (size_t i = 0; i < sizeof(creates) / sizeof(creates[0]); i++) {
			/* A partial sum would look like a counter reset: skip this round instead. */
			if (syscall_watch_read(m->syscalls, creates[i], &row))
				return -EIO;
			errors += row.errors;
		}
		series_counter_observe(store, "process.create_errors", NULL, 0, errors);
	}
	return 0;
}

const struct module_ops process_module = {
	.name = "process",
	.config_help = "process.*: forks, threads, exits",
	.enabled_by_default = true,
	.metrics = process_metrics,
	.nmetrics = sizeof(process_metrics) / sizeof(process_metrics[0]),
	.events = process_events,
	.nevents = sizeof(process_events) / sizeof(process_events[0]),
	.open = process_open,
	.destroy = process_destroy,
	.start = process_start,
	.collect = process_collect,
};
