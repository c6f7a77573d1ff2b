/*
 * filesystem: read, write, open and fsync latency per filesystem type, as
 * histograms. Each filesystem's own file operations are timed from entry to
 * return (fentry/fexit, else kprobe/kretprobe: there are no tracepoints).
 * A filesystem this kernel has not registered (not built, module not
 * loaded) is skipped quietly; one it has whose function is missing is
 * reported by --probe.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "module.h"
#include "filesystem.h"
#include "filesystem.skel.h"
#include "percpu.h"

static const struct metric_desc filesystem_metrics[] = {
	{ "filesystem.latency", METRIC_HISTOGRAM, false, "fs,op",
	  "µs from entry to return of the filesystem's read, write, open and fsync operations" },
};

/* In FS_TYPE_COUNT order (probes/filesystem.h); the names /proc/filesystems lists when the filesystem is there. */
static const struct {
	const char *name;
	const char *registered_as[3];
} fs_types[FS_TYPE_COUNT] = {
	{ "ext4", { "ext4", "ext3", "ext2" } }, { "xfs", { "xfs" } },	{ "nfs", { "nfs", "nfs4" } },
	{ "btrfs", { "btrfs" } },		{ "zfs", { "zfs" } },
};
static const char *const fs_ops[FS_OP_COUNT] = { "read", "write", "open", "fsync" };

struct filesystem_opts {
	bool traced[FS_TYPE_COUNT]; /* in fs_types order */
};

#define FS_OFF(fs) offsetof(struct filesystem_opts, traced[fs])
static const struct cfg_key filesystem_keys[] = {
	K_BOOL("ext4", FS_OFF(0), "true", "trace ext4"), K_BOOL("xfs", FS_OFF(1), "true", "trace xfs"),
	K_BOOL("nfs", FS_OFF(2), "true", "trace nfs"),	 K_BOOL("btrfs", FS_OFF(3), "true", "trace btrfs"),
	K_BOOL("zfs", FS_OFF(4), "true", "trace zfs"),
};
_Static_assert(sizeof(filesystem_keys) / sizeof(filesystem_keys[0]) == FS_TYPE_COUNT, "one switch per filesystem");

#define FS_EVENT(NAME, FUNCTION)                                                                              \
	{ .name = #NAME,                                                                                      \
	  .gives = "filesystem.latency",                                                                      \
	  .ways = { { .tier = ATTACH_FENTRY,                                                                  \
		      .progs = { #NAME "_fentry", #NAME "_fexit" },                                           \
		      .targets = { FUNCTION, FUNCTION } },                                                    \
		    { .tier = ATTACH_KPROBE,                                                                  \
		      .progs = { #NAME "_kprobe", #NAME "_kretprobe" },                                       \
		      .targets = { FUNCTION, FUNCTION } } } }

/* The functions libbpf-tools' fsdist times, which each filesystem puts in its file_operations. */
static const struct event_desc filesystem_events[FS_HIST_COUNT] = {
	FS_EVENT(ext4_read, "ext4_file_read_iter"),   FS_EVENT(ext4_write, "ext4_file_write_iter"),
	FS_EVENT(ext4_open, "ext4_file_open"),	      FS_EVENT(ext4_fsync, "ext4_sync_file"),
	FS_EVENT(xfs_read, "xfs_file_read_iter"),     FS_EVENT(xfs_write, "xfs_file_write_iter"),
	FS_EVENT(xfs_open, "xfs_file_open"),	      FS_EVENT(xfs_fsync, "xfs_file_fsync"),
	FS_EVENT(nfs_read, "nfs_file_read"),	      FS_EVENT(nfs_write, "nfs_file_write"),
	FS_EVENT(nfs_open, "nfs_file_open"),	      FS_EVENT(nfs_fsync, "nfs_file_fsync"),
	FS_EVENT(btrfs_read, "btrfs_file_read_iter"), FS_EVENT(btrfs_write, "btrfs_file_write_iter"),
	FS_EVENT(btrfs_open, "btrfs_file_open"),      FS_EVENT(btrfs_fsync, "btrfs_sync_file"),
	FS_EVENT(zfs_read, "zpl_iter_read"),	      FS_EVENT(zfs_write, "zpl_iter_write"),
	FS_EVENT(zfs_open, "zpl_open"),		      FS_EVENT(zfs_fsync, "zpl_fsync"),
};

struct filesystem_state {
	struct filesystem_bpf *skel;
	struct hist_history *history;
	uint64_t generation;
	uint32_t stripes; /* of each histogram in fs_hist (filesystem.h) */
};

static struct bpf_object *filesystem_open(struct module *m)
{
	struct filesystem_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	st->skel = filesystem_bpf__open();
	return st->skel ? st->skel->obj : NULL;
}

static void filesystem_prepare(struct module *m)
{
	struct filesystem_state *st = m->priv;
	st->stripes = hist_stripes(libbpf_num_possible_cpus(), FS_HIST_STRIPES_MAX);
	st->skel->rodata->hist_stripe_mask = st->stripes - 1;
	bpf_map__set_max_entries(st->skel->maps.fs_hist, FS_HIST_COUNT * st->stripes);
}

static void filesystem_destroy(struct module *m)
{
	struct filesystem_state *st = m->priv;
	if (!st)
		return;
	filesystem_bpf__destroy(st->skel);
	hist_history_free(st->history);
	free(st);
	m->priv = NULL;
}

/* Has the kernel registered this filesystem type (built in, or its module loaded)? */
static bool fs_registered(unsigned fs)
{
	FILE *f = fopen("/proc/filesystems", "r");
	char line[128];
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *name = strrchr(line, '\t');
		name = name ? name + 1 : line;
		name[strcspn(name, "\n")] = '\0';
		for (int i = 0; i < 3 && fs_types[fs].registered_as[i]; i++)
			if (!strcmp(name, fs_types[fs].registered_as[i]))
				found = true;
	}
	if (f)
		fclose(f);
	return found;
}

static bool filesystem_wants(const struct module *m, size_t event)
{
	unsigned fs = (unsigned)(event / FS_OP_COUNT);
	const struct filesystem_opts *opts = module_opts(m);
	return fs < FS_TYPE_COUNT && opts->traced[fs] && fs_registered(fs);
}

static const char *filesystem_unwanted_why(const struct module *m, size_t event)
{
	unsigned fs = (unsigned)(event / FS_OP_COUNT);
	const struct filesystem_opts *opts = module_opts(m);
	if (fs >= FS_TYPE_COUNT || !opts->traced[fs])
		return NULL;
	return "filesystem not in this kernel";
}

static int filesystem_collect(struct module *m, struct series_store *store)
{
	struct filesystem_state *st = m->priv;
	int fd = bpf_map__fd(st->skel->maps.fs_hist);
	for (uint32_t i = 0; i < FS_HIST_COUNT; i++) {
		if (m->events[i].chosen < 0)
			continue;
		char key[32];
		snprintf(key, sizeof(key), "%s/%s", fs_types[i / FS_OP_COUNT].name, fs_ops[i % FS_OP_COUNT]);
		uint64_t *prev = hist_history_prev(&st->history, key);
		struct hist_reading r;
		if (prev && !hist_read_stripes(fd, i * st->stripes, st->stripes, st->generation, &r)) {
			struct metric_tag tags[2] = { { "fs", fs_types[i / FS_OP_COUNT].name }, { "op", fs_ops[i % FS_OP_COUNT] } };
			hist_emit(store, "filesystem.latency", tags, 2, &r, prev);
		}
	}
	hist_generation_advance(bpf_map__fd(st->skel->maps.data_hist_gen), &st->generation);
	uint64_t c[sizeof(struct filesystem_counters) / sizeof(uint64_t)];
	if (!percpu_sum_u64(bpf_map__fd(st->skel->maps.fs_counters), 0, 1, c)) {
		struct metric_tag map = { "map", "fs_start" };
		series_counter_observe(store, "agent.bpf.map_full", &map, 1, c[0]);
	}
	return 0;
}

const struct module_ops filesystem_module = {
	.name = "filesystem",
	.config_help = "filesystem.latency per filesystem and operation",
	.enabled_by_default = false,
	.keys = filesystem_keys,
	.nkeys = sizeof(filesystem_keys) / sizeof(filesystem_keys[0]),
	.opts_size = sizeof(struct filesystem_opts),
	.metrics = filesystem_metrics,
	.nmetrics = sizeof(filesystem_metrics) / sizeof(filesystem_metrics[0]),
	.events = filesystem_events,
	.nevents = FS_HIST_COUNT,
	.open = filesystem_open,
	.destroy = filesystem_destroy,
	.prepare = filesystem_prepare,
	.wants = filesystem_wants,
	.unwanted_why = filesystem_unwanted_why,
	.collect = filesystem_collect,
};
