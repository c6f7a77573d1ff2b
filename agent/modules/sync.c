/* sync: the syscalls that force data to disk, each switchable under modules.sync.syscalls. */
#include "../module.h"
#include "syscall_metrics.h"

static const struct metric_desc sync_metrics[] = {
	{ "sync.sync", METRIC_COUNTER, false, "", "sync(2) calls" },
	{ "sync.syncfs", METRIC_COUNTER, false, "", "syncfs(2) calls" },
	{ "sync.fsync", METRIC_COUNTER, false, "", "fsync(2) calls" },
	{ "sync.fdatasync", METRIC_COUNTER, false, "", "fdatasync(2) calls" },
	{ "sync.msync", METRIC_COUNTER, false, "", "msync(2) calls" },
	{ "sync.sync_file_range", METRIC_COUNTER, false, "", "sync_file_range(2) calls" },
};

/* Event i is config sync call i (enum sync_call) and metric i. */
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
	return event < SYNC_CALL_COUNT && m->cfg->sync_calls[event];
}

const struct module_ops sync_module = {
	.id = MODULE_SYNC,
	.name = "sync",
	.metrics = sync_metrics,
	.nmetrics = sizeof(sync_metrics) / sizeof(sync_metrics[0]),
	.events = sync_events,
	.nevents = sizeof(sync_events) / sizeof(sync_events[0]),
	.wants = sync_wants,
	.collect = syscall_metrics_collect,
	.syscall_sums = sync_sums,
	.nsyscall_sums = sizeof(sync_sums) / sizeof(sync_sums[0]),
};
