// SPDX-License-Identifier: GPL-2.0
/*
 * process: creations (process vs thread), exits, releases, failed forks.
 *
 * Failed forks are counted by the shared syscall layer (syscalls.bpf.c).
 * Every event is written once as an inline handler; each way of attaching is
 * a thin wrapper, and userspace switches off the wrappers it does not use
 * before load (docs/design.md "Attach tiers", "Shapes the code follows").
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "process.h"

#define CLONE_THREAD_FLAG 0x00010000

char LICENSE[] SEC("license") = "GPL";

PERCPU_COUNTERS(process_counters, process_counters);

static __always_inline struct process_counters *counters(void) { return percpu_slot(&process_counters); }

static __always_inline void count_new_task(bool is_thread)
{
	struct process_counters *c = counters();
	if (!c)
		return;
	if (is_thread)
		c->thread_create++;
	else
		c->create++;
}

/*
 * task:task_newtask fires in copy_process() for every task the kernel makes,
 * where /proc/stat "processes" counts it; sched_process_fork fires only from
 * kernel_clone(), so it misses the threads the kernel makes for itself
 * without it (io_uring's SQPOLL and io-wq workers, vhost workers). A new
 * task is a thread when CLONE_THREAD put it in its creator's thread group.
 */
SEC("tp_btf/task_newtask")
int BPF_PROG(fork_tp_btf, struct task_struct *task, unsigned long clone_flags)
{
	count_new_task(clone_flags & CLONE_THREAD_FLAG);
	return 0;
}

SEC("raw_tp/task_newtask")
int BPF_PROG(fork_raw_tp, struct task_struct *task, unsigned long clone_flags)
{
	count_new_task(clone_flags & CLONE_THREAD_FLAG);
	return 0;
}

SEC("tracepoint/task/task_newtask")
int fork_tracepoint(struct trace_event_raw_task_newtask *ctx)
{
	count_new_task(BPF_CORE_READ(ctx, clone_flags) & CLONE_THREAD_FLAG);
	return 0;
}

static __always_inline void on_task_exit(void)
{
	struct process_counters *c = counters();
	if (c)
		c->exit++;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_tp_btf) { on_task_exit(); return 0; }

SEC("raw_tp/sched_process_exit")
int BPF_PROG(exit_raw_tp) { on_task_exit(); return 0; }

SEC("tracepoint/sched/sched_process_exit")
int exit_tracepoint(void *ctx) { on_task_exit(); return 0; }

static __always_inline void on_release(void)
{
	struct process_counters *c = counters();
	if (c)
		c->release++;
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(release_tp_btf) { on_release(); return 0; }

SEC("raw_tp/sched_process_free")
int BPF_PROG(release_raw_tp) { on_release(); return 0; }

SEC("tracepoint/sched/sched_process_free")
int release_tracepoint(void *ctx) { on_release(); return 0; }
