// SPDX-License-Identifier: GPL-2.0
/*
 * oomkill: every task the OOM killer marks as its victim. oom:mark_victim
 * runs in the context of the task whose allocation failed, not the victim,
 * so everything is read from the victim's task_struct: the tracepoint's
 * argument where its BTF prototype carries it (6.x since the uid was added),
 * else mark_oom_victim's argument; the classic tracepoint gives only the
 * pid (and comm where its format has it) and userspace fills in the rest.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "oomkill.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024);
} oom_events SEC(".maps");

PERCPU_COUNTERS(oom_counters, oom_counters);

/*
 * The kernel marks a victim once per kill, and then marks each of its
 * threads again that allocates while exiting (out_of_memory() finds
 * task_will_free_mem(current) and marks current, without a new kill).
 * A process counts once: by thread-group id and the leader's start time,
 * which tells a reused pid apart.
 */
struct victim_key {
	__u32 tgid;
	__u32 pad;
	__u64 start_ns; /* the thread-group leader's start_time; 0 where unknown (classic tracepoint) */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct victim_key);
	__type(value, __u64); /* when it was first marked (bpf_ktime_get_ns) */
} oom_marked SEC(".maps");

/*
 * Without a start time a key could be a reused pid: a mark counts again
 * when the same tgid was first marked this long ago (a victim's threads
 * are marked within moments of the kill, while they exit).
 */
#define REMARK_WINDOW_NS (30ULL * 1000000000ULL)

/* Is this the first mark of the process? Records it when it is. */
static __always_inline bool first_mark(__u32 tgid, __u64 start_ns)
{
	struct victim_key key = { .tgid = tgid, .start_ns = start_ns };
	__u64 now = bpf_ktime_get_ns();
	__u64 *seen = bpf_map_lookup_elem(&oom_marked, &key);
	if (seen && (start_ns || now - *seen < REMARK_WINDOW_NS))
		return false;
	bpf_map_update_elem(&oom_marked, &key, &now, BPF_ANY);
	return true;
}

static __always_inline struct oom_victim_event *reserve(void)
{
	struct oom_counters *c = percpu_slot(&oom_counters);
	if (c)
		c->kills++;
	struct oom_victim_event *e = bpf_ringbuf_reserve(&oom_events, sizeof(*e), 0);
	if (!e && c)
		c->ringbuf_lost++;
	return e;
}

static __always_inline void read_memory_cgroup(struct task_struct *t, char *out, __u32 len)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct css_set *cset = BPF_CORE_READ(t, cgroups);
	struct cgroup_subsys_state *css = NULL;
	out[0] = '\0';
	if (!cset || id < 0 || id >= 16)
		return;
	bpf_core_read(&css, sizeof(css), &cset->subsys[id]);
	const char *name = css ? BPF_CORE_READ(css, cgroup, kn, name) : NULL;
	if (!name || bpf_probe_read_kernel_str(out, len, name) < 0)
		out[0] = '\0';
}

static __always_inline void read_exe(struct task_struct *t, char *out, __u32 len)
{
	const unsigned char *name = BPF_CORE_READ(t, mm, exe_file, f_path.dentry, d_name.name);
	out[0] = '\0';
	if (!name || bpf_probe_read_kernel_str(out, len, name) < 0)
		out[0] = '\0';
}

static __always_inline void on_victim(struct task_struct *victim)
{
	if (!first_mark(BPF_CORE_READ(victim, tgid), BPF_CORE_READ(victim, group_leader, start_time)))
		return;
	struct oom_victim_event *e = reserve();
	if (!e)
		return;
	e->pid = BPF_CORE_READ(victim, tgid);
	e->has_task = 1;
	struct task_struct *leader = BPF_CORE_READ(victim, group_leader);
	if (bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), leader ? leader->comm : victim->comm) < 0)
		e->comm[0] = '\0';
	read_exe(victim, e->exe, sizeof(e->exe));
	read_memory_cgroup(victim, e->cgroup, sizeof(e->cgroup));
	bpf_ringbuf_submit(e, 0);
}

/* Loaded only where the prototype passes the task (userspace checks BTF first). */
SEC("tp_btf/mark_victim")
int BPF_PROG(oom_tp_btf, struct task_struct *victim) { on_victim(victim); return 0; }

SEC("raw_tp/mark_victim")
int BPF_PROG(oom_raw_tp, struct task_struct *victim) { on_victim(victim); return 0; }

SEC("fentry/mark_oom_victim")
int BPF_PROG(oom_fentry, struct task_struct *victim) { on_victim(victim); return 0; }

SEC("kprobe/mark_oom_victim")
int BPF_KPROBE(oom_kprobe, struct task_struct *victim) { on_victim(victim); return 0; }

SEC("tracepoint/oom/mark_victim")
int oom_tracepoint(struct trace_event_raw_mark_victim *ctx)
{
	/*
	 * The format gives the marked thread's pid only. A thread marking itself
	 * (an exiting thread of a victim) is the current task, whose thread
	 * group is known; the kill path marks the first thread of the victim
	 * that still has its memory, the leader (pid = tgid) while it lives.
	 */
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 marked = ctx->pid;
	if (!first_mark((__u32)pid_tgid == marked ? (__u32)(pid_tgid >> 32) : marked, 0))
		return 0;
	struct oom_victim_event *e = reserve();
	if (!e)
		return 0;
	e->pid = ctx->pid;
	e->has_task = 0;
	e->comm[0] = e->exe[0] = e->cgroup[0] = '\0';
	if (bpf_core_field_exists(ctx->__data_loc_comm)) {
		__u32 loc = BPF_CORE_READ(ctx, __data_loc_comm);
		if (bpf_probe_read_kernel_str(e->comm, sizeof(e->comm), (const char *)ctx + (loc & 0xFFFF)) < 0)
			e->comm[0] = '\0';
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}
