// SPDX-License-Identifier: GPL-2.0
/*
 * filesystem: latency of read, write, open and fsync per filesystem type,
 * from entry to return of each filesystem's own file operations
 * (ext4_file_read_iter, xfs_file_fsync, nfs_file_open, ...). They have no
 * tracepoints, so this needs fentry/fexit or kprobes/kretprobes. One pair
 * of programs per (filesystem, operation): a program attaches to one
 * function, and userspace names it (agent/modules/filesystem.c), loading
 * only those of filesystems this kernel has.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "filesystem.h"
#include "hist.bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct start_key {
	__u64 pid_tgid;
	__u32 hist; /* which (filesystem, operation): a call may nest in another's (a stacked filesystem) */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192); /* threads inside a timed call at once (two for a stacked filesystem's) */
	__type(key, struct start_key);
	__type(value, __u64);
} fs_start SEC(".maps");

/* Stripes of each histogram (filesystem.h); the agent sizes it to FS_HIST_COUNT x its stripes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FS_HIST_COUNT * FS_HIST_STRIPES_MAX);
	__type(key, __u32);
	__type(value, struct hist);
} fs_hist SEC(".maps");

/* Stripes - 1, a power of two less one: set by the agent from the possible CPUs. */
const volatile __u32 hist_stripe_mask = 0;

PERCPU_COUNTERS(fs_counters, filesystem_counters);

static __always_inline int on_entry(__u32 hist)
{
	struct start_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .hist = hist };
	__u64 ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&fs_start, &key, &ts, BPF_ANY)) {
		struct filesystem_counters *c = percpu_slot(&fs_counters);
		if (c)
			c->map_full++;
	}
	return 0;
}

static __always_inline int on_return(__u32 hist)
{
	struct start_key key = { .pid_tgid = bpf_get_current_pid_tgid(), .hist = hist };
	__u64 *ts = bpf_map_lookup_elem(&fs_start, &key);
	if (!ts)
		return 0; /* entered before we attached */
	__u64 ns = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&fs_start, &key);
	__u32 slot = hist * (hist_stripe_mask + 1) + (bpf_get_smp_processor_id() & hist_stripe_mask);
	struct hist *h = bpf_map_lookup_elem(&fs_hist, &slot);
	if (h)
		hist_record(h, ns, hist_generation);
	return 0;
}

/* The four programs of one (filesystem, operation); their targets are set by userspace. */
#define FS_PROGRAMS(NAME, HIST)                                                 \
	SEC("fentry")                                                           \
	int BPF_PROG(NAME##_fentry) { return on_entry(HIST); }                  \
	SEC("fexit")                                                            \
	int BPF_PROG(NAME##_fexit) { return on_return(HIST); }                  \
	SEC("kprobe")                                                           \
	int BPF_KPROBE(NAME##_kprobe) { return on_entry(HIST); }                \
	SEC("kretprobe")                                                        \
	int BPF_KRETPROBE(NAME##_kretprobe) { return on_return(HIST); }

/* index = filesystem * 4 + operation (read, write, open, fsync); filesystems as in probes/filesystem.h */
FS_PROGRAMS(ext4_read, 0)
FS_PROGRAMS(ext4_write, 1)
FS_PROGRAMS(ext4_open, 2)
FS_PROGRAMS(ext4_fsync, 3)
FS_PROGRAMS(xfs_read, 4)
FS_PROGRAMS(xfs_write, 5)
FS_PROGRAMS(xfs_open, 6)
FS_PROGRAMS(xfs_fsync, 7)
FS_PROGRAMS(nfs_read, 8)
FS_PROGRAMS(nfs_write, 9)
FS_PROGRAMS(nfs_open, 10)
FS_PROGRAMS(nfs_fsync, 11)
FS_PROGRAMS(btrfs_read, 12)
FS_PROGRAMS(btrfs_write, 13)
FS_PROGRAMS(btrfs_open, 14)
FS_PROGRAMS(btrfs_fsync, 15)
FS_PROGRAMS(zfs_read, 16)
FS_PROGRAMS(zfs_write, 17)
FS_PROGRAMS(zfs_open, 18)
FS_PROGRAMS(zfs_fsync, 19)
