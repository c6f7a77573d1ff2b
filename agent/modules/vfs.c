/*
 * vfs: reads and writes (calls, bytes, errors), unlink, rmdir, create and
 * fsync, defined by the user-visible operation (docs/metrics.md). On this
 * generation they come from the shared syscall layer: readv/preadv/writev/
 * pwritev count as reads and writes even though the kernel does not route
 * them through vfs_read/vfs_write, creat and O_CREAT opens count as creates,
 * unlinkat with AT_REMOVEDIR as rmdir. vfs.open counts the kernel's own opens
 * (vfs_open) and needs fentry or kprobes: probes/vfs.bpf.c.
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>

#include "module.h"
#include "percpu.h"
#include "syscall_metrics.h"
#include "vfs.h"
#include "vfs.skel.h"

static const struct metric_desc vfs_metrics[] = {
	{ "vfs.read.calls", METRIC_COUNTER, false, "", "read, pread64, readv, preadv, preadv2 calls" },
	{ "vfs.read.bytes", METRIC_COUNTER, true, "", "bytes read (sum of positive results)" },
	{ "vfs.read.errors", METRIC_COUNTER, true, "", "read calls with a negative result" },
	{ "vfs.write.calls", METRIC_COUNTER, false, "", "write, pwrite64, writev, pwritev, pwritev2 calls" },
	{ "vfs.write.bytes", METRIC_COUNTER, true, "", "bytes written (sum of positive results)" },
	{ "vfs.write.errors", METRIC_COUNTER, true, "", "write calls with a negative result" },
	{ "vfs.unlink", METRIC_COUNTER, false, "", "unlink, unlinkat without AT_REMOVEDIR" },
	{ "vfs.unlink_errors", METRIC_COUNTER, true, "", "those unlinks that failed" },
	{ "vfs.rmdir", METRIC_COUNTER, false, "", "rmdir, unlinkat with AT_REMOVEDIR" },
	{ "vfs.rmdir_errors", METRIC_COUNTER, true, "", "those rmdirs that failed" },
	{ "vfs.create", METRIC_COUNTER, false, "", "creat, and open-family calls with O_CREAT" },
	{ "vfs.create_errors", METRIC_COUNTER, true, "", "those creates that failed" },
	{ "vfs.fsync", METRIC_COUNTER, false, "", "fsync, fdatasync" },
	{ "vfs.fsync_errors", METRIC_COUNTER, true, "", "those fsyncs that failed" },
	{ "vfs.open", METRIC_COUNTER, false, "", "files opened by the kernel for any reason (open-family calls, execve)" },
	{ "vfs.open_errors", METRIC_COUNTER, true, "", "those opens that failed" },
};

enum { EVENT_READ = 0, EVENT_WRITE, EVENT_UNLINK, EVENT_CREATE, EVENT_FSYNC, EVENT_OPEN, EVENT_OPEN_RESULT };

static const struct event_desc vfs_events[] = {
	[EVENT_READ] = { .name = "read", .gives = "vfs.read.calls, vfs.read.bytes, vfs.read.errors",
			 .ways = { { .syscalls = { SYS_read, SYS_pread64, SYS_readv, SYS_preadv, SYS_preadv2 } } } },
	[EVENT_WRITE] = { .name = "write", .gives = "vfs.write.calls, vfs.write.bytes, vfs.write.errors",
			  .ways = { { .syscalls = { SYS_write, SYS_pwrite64, SYS_writev, SYS_pwritev, SYS_pwritev2 } } } },
	[EVENT_UNLINK] = { .name = "unlink", .gives = "vfs.unlink, vfs.unlink_errors, vfs.rmdir, vfs.rmdir_errors",
			   .ways = { { .syscalls = { LEGACY_SYSCALLS(SYS_unlink, ) SYS_unlinkat
						     LEGACY_SYSCALLS(, SYS_rmdir) } } } },
	[EVENT_CREATE] = { .name = "create", .gives = "vfs.create, vfs.create_errors",
			   .ways = { { .syscalls = { LEGACY_SYSCALLS(SYS_creat, SYS_open, ) SYS_openat, SYS_openat2 } } } },
	[EVENT_FSYNC] = { .name = "fsync", .gives = "vfs.fsync, vfs.fsync_errors",
			  .ways = { { .syscalls = { SYS_fsync, SYS_fdatasync } } } },
	/* The kernel's own open: no tracepoint has it, so no way on tracepoint-only kernels. */
	[EVENT_OPEN] = { .name = "open", .gives = "vfs.open, vfs.open_errors", .entry_mode_only = true,
			 .ways = { { .tier = ATTACH_FENTRY, .progs = { "vfs_open_fentry" }, .no_result = true },
				   { .tier = ATTACH_KPROBE, .progs = { "vfs_open_kprobe" }, .no_result = true } } },
	[EVENT_OPEN_RESULT] = { .name = "open_result", .gives = "vfs.open, vfs.open_errors", .return_mode_only = true,
				.ways = { { .tier = ATTACH_FENTRY, .progs = { "vfs_open_fexit" } },
					  { .tier = ATTACH_KPROBE, .progs = { "vfs_open_kretprobe" } } } },
};

#define READS(f) { { SYS_read, f }, { SYS_pread64, f }, { SYS_readv, f }, { SYS_preadv, f }, { SYS_preadv2, f } }
#define WRITES(f) { { SYS_write, f }, { SYS_pwrite64, f }, { SYS_writev, f }, { SYS_pwritev, f }, { SYS_pwritev2, f } }
/* creat's variant is every call, so the variant of the whole family is "creates". */
#define CREATES(f) { LEGACY_SYSCALLS({ SYS_creat, f }, { SYS_open, f }, ) { SYS_openat, f }, { SYS_openat2, f } }

static const struct syscall_metric vfs_sums[] = {
	{ "vfs.read.calls", EVENT_READ, READS(FIELD_CALLS) },
	{ "vfs.read.bytes", EVENT_READ, READS(FIELD_BYTES) },
	{ "vfs.read.errors", EVENT_READ, READS(FIELD_ERRORS) },
	{ "vfs.write.calls", EVENT_WRITE, WRITES(FIELD_CALLS) },
	{ "vfs.write.bytes", EVENT_WRITE, WRITES(FIELD_BYTES) },
	{ "vfs.write.errors", EVENT_WRITE, WRITES(FIELD_ERRORS) },
	{ "vfs.unlink", EVENT_UNLINK, { LEGACY_SYSCALLS({ SYS_unlink, FIELD_CALLS }, ) { SYS_unlinkat, FIELD_PLAIN_CALLS } } },
	{ "vfs.unlink_errors", EVENT_UNLINK,
	  { LEGACY_SYSCALLS({ SYS_unlink, FIELD_ERRORS }, ) { SYS_unlinkat, FIELD_PLAIN_ERRORS } } },
	{ "vfs.rmdir", EVENT_UNLINK, { LEGACY_SYSCALLS({ SYS_rmdir, FIELD_CALLS }, ) { SYS_unlinkat, FIELD_VARIANT_CALLS } } },
	{ "vfs.rmdir_errors", EVENT_UNLINK,
	  { LEGACY_SYSCALLS({ SYS_rmdir, FIELD_ERRORS }, ) { SYS_unlinkat, FIELD_VARIANT_ERRORS } } },
	{ "vfs.create", EVENT_CREATE, CREATES(FIELD_VARIANT_CALLS) },
	{ "vfs.create_errors", EVENT_CREATE, CREATES(FIELD_VARIANT_ERRORS) },
	{ "vfs.fsync", EVENT_FSYNC, { { SYS_fsync, FIELD_CALLS }, { SYS_fdatasync, FIELD_CALLS } } },
	{ "vfs.fsync_errors", EVENT_FSYNC, { { SYS_fsync, FIELD_ERRORS }, { SYS_fdatasync, FIELD_ERRORS } } },
};

static struct bpf_object *vfs_open_object(struct module *m)
{
	struct vfs_bpf *skel = vfs_bpf__open();
	m->priv = skel;
	return skel ? skel->obj : NULL;
}

static void vfs_destroy(struct module *m)
{
	vfs_bpf__destroy(m->priv);
	m->priv = NULL;
}

/* Whichever of the two open events is hooked, and whether it sees results. */
static const struct event_state *open_event(const struct module *m)
{
	for (int e = EVENT_OPEN; e <= EVENT_OPEN_RESULT; e++)
		if (m->events[e].chosen >= 0)
			return &m->events[e];
	return NULL;
}

static int vfs_collect(struct module *m, struct series_store *store)
{
	int rc = syscall_metrics_collect(m, store);
	const struct event_state *open = open_event(m);
	struct vfs_bpf *skel = m->priv;
	if (rc || !open || !skel)
		return rc;
	const struct attach_way *way = &m->ops->events[open - m->events].ways[open->chosen];
	uint64_t v[2];
	rc = percpu_sum_u64(bpf_map__fd(skel->maps.vfs_open_counters), 0, 2, v);
	if (rc)
		return rc;
	series_counter_observe(store, "vfs.open", NULL, 0, v[0]);
	if (!way->no_result)
		series_counter_observe(store, "vfs.open_errors", NULL, 0, v[1]);
	return 0;
}

const struct module_ops vfs_module = {
	.name = "vfs",
	.config_help = "vfs.*: reads, writes, unlinks, creates, fsyncs",
	.enabled_by_default = true,
	.metrics = vfs_metrics,
	.nmetrics = sizeof(vfs_metrics) / sizeof(vfs_metrics[0]),
	.events = vfs_events,
	.nevents = sizeof(vfs_events) / sizeof(vfs_events[0]),
	.open = vfs_open_object,
	.destroy = vfs_destroy,
	.collect = vfs_collect,
	.syscall_sums = vfs_sums,
	.nsyscall_sums = sizeof(vfs_sums) / sizeof(vfs_sums[0]),
};
