/* sync: the syscalls that force data to disk, each switchable under modules.sync.syscalls. */
#include <stdbool.h>

#include "module.h"
#include "syscall_metrics.h"

enum sync_call { SYNC_SYNC = 0, SYNC_SYNCFS, SYNC_FSYNC, SYNC_FDATASYNC, SYNC_MSYNC, SYNC_SYNC_FILE_RANGE, SYNC_CALL_COUNT };

struct sync_opts {
	bool calls[SYNC_CALL_COUNT]; /* by enum sync_call */
};

#define CALL_OFF(call) offsetof(struct sync_opts, calls[call])
static const struct cfg_key sync_call_keys[] = {
	K_BOOL("sync", CALL_OFF(SYNC_SYNC), "true", "count sync(2)"),
	K_BOOL("syncfs", CALL_OFF(SYNC_SYNCFS), "true", "count syncfs(2)"),
	K_BOOL("fsync", CALL_OFF(SYNC_FSYNC), "true", "count fsync(2)"),
	K_BOOL("fdatasync", CALL_OFF(SYNC_FDATASYNC), "true", "count fdatasync(2)"),
	K_BOOL("msync", CALL_OFF(SYNC_MSYNC), "true", "count msync(2)"),
	K_BOOL("sync_file_range", CALL_OFF(SYNC_SYNC_FILE_RANGE), "true", "count sync_file_range(2)"),
};
static const struct cfg_section sync_call_section = CFG_SECTION_OF(sync_call_keys);

static const struct cfg_key sync_keys[] = {
	K_SECTION("syscalls", 0, &sync_call_section, "each sync-family syscall can be switched off"),
};

static const struct metric_desc sync_metrics[] = {
	{ "sync.sync", METRIC_COUNTER, false, "", "sync(2) calls" },
	{ "sync.syncfs", METRIC_COUNTER, false, "", "syncfs(2) calls" },
	{ "sync.fsync", METRIC_COUNTER, false, "", "fsync(2) calls" },
	{ "sync.fdatasync", METRIC_COUNTER, false, "", "fdatasync(2) calls" },
	{ "sync.msync", METRIC_COUNTER, false, "", "msync(2) calls" },
	{ "sync.sync_file_range", METRIC_COUNTER, false, "", "sync_file_range(2) calls" },
};

/* Event i is sync call i (enum sync_call, modules.sync.syscalls) and metric i. */
static const struct event_desc sync_events[] = {
	[SYNC_SYNC] = { .name = "sync", .gives = "sync.sync", .ways = { { .syscalls = { SYS_sync } } } },
	[SYNC_SYNCFS] = { .name = "syncfs", .gives = "sync.syncfs", .ways = { { .syscalls = { SYS_syncfs } } } },
	[SYNC_FSYNC] = { .name = "fsync", .gives = "sync.fsync", .ways = { { .syscalls = { SYS_fsync } } } },
	[SYNC_FDATASYNC] = { .name = "fdatasync", .gives = "sync.fdatasync",
			     .ways = { { .syscalls = { SYS_fdatasync } } } },
	[SYNC_MSYNC] = { .name = "msync", .gives = "sync.msync", .ways = { { .syscalls = { SYS_msync } } } },
	[SYNC_SYNC_FILE_RANGE] = { .name = "sync_file_range", .gives = "sync.sync_file_range",
				   .ways = { { .syscalls = { SYS_sync_file_range } } } },
};

static const struct syscall_metric sync_sums[] = {
	{ "sync.sync", SYNC_SYNC, { { SYS_sync, FIELD_CALLS } } },
	{ "sync.syncfs", SYNC_SYNCFS, { { SYS_syncfs, FIELD_CALLS } } },
	{ "sync.fsync", SYNC_FSYNC, { { SYS_fsync, FIELD_CALLS } } },
	{ "sync.fdatasync", SYNC_FDATASYNC, { { SYS_fdatasync, FIELD_CALLS } } },
	{ "sync.msync", SYNC_MSYNC, { { SYS_msync, FIELD_CALLS } } },
	{ "sync.sync_file_range", SYNC_SYNC_FILE_RANGE, { { SYS_sync_file_range, FIELD_CALLS } } },
};

static bool sync_wants(const struct module *m, size_t event)
{
	const struct sync_opts *opts = module_opts(m);
	return event < SYNC_CALL_COUNT && opts->calls[event];
}

const struct module_ops sync_module = {
	.name = "sync",
	.config_help = "sync.*: the sync-family syscalls",
	.enabled_by_default = true,
	.keys = sync_keys,
	.nkeys = sizeof(sync_keys) / sizeof(sync_keys[0]),
	.opts_size = sizeof(struct sync_opts),
	.metrics = sync_metrics,
	.nmetrics = sizeof(sync_metrics) / sizeof(sync_metrics[0]),
	.events = sync_events,
	.nevents = sizeof(sync_events) / sizeof(sync_events[0]),
	.wants = sync_wants,
	.collect = syscall_metrics_collect,
	.syscall_sums = sync_sums,
	.nsyscall_sums = sizeof(sync_sums) / sizeof(sync_sums[0]),
};
