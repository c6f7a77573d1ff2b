// SPDX-License-Identifier: GPL-2.0
/*
 * vfs: files opened by the kernel for any reason (vfs_open: open-family
 * calls, execve, O_PATH). Only a hook on the kernel's own open sees these,
 * so there is no tracepoint way; every other vfs metric comes from the
 * shared syscall layer. Entry mode counts calls; return mode also errors.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "vfs.h"

char LICENSE[] SEC("license") = "GPL";

PERCPU_COUNTERS(vfs_open_counters, vfs_open_counters);

static __always_inline void count_open(long ret)
{
	struct vfs_open_counters *c = percpu_slot(&vfs_open_counters);
	if (!c)
		return;
	c->calls++;
	if (ret < 0)
		c->errors++;
}

SEC("fentry/vfs_open")
int BPF_PROG(vfs_open_fentry) { count_open(0); return 0; }

SEC("fexit/vfs_open")
int BPF_PROG(vfs_open_fexit, const struct path *path, struct file *file, int ret) { count_open(ret); return 0; }

SEC("kprobe/vfs_open")
int BPF_KPROBE(vfs_open_kprobe) { count_open(0); return 0; }

SEC("kretprobe/vfs_open")
int BPF_KRETPROBE(vfs_open_kretprobe, int ret) { count_open(ret); return 0; }
