// SPDX-License-Identifier: GPL-2.0
/*
 * What one kind of access costs a program on this host: each mc_* program is
 * the same tp_btf program on sys_exit with one thing added to an empty body,
 * loaded alone by scripts/bench/mapcost.c and timed by the kernel's own
 * bpf_stats while scripts/bench/syscall_loop.c calls getppid(2). The modules'
 * per-event work is made of these pieces (probes/app_process.bpf.h: a hash
 * lookup and an array read; probes/softirq.bpf.c: a clock read and a per-CPU
 * slot), so their figures say what a design that touches fewer of them would
 * save (docs/design.md "What an access costs").
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

/* Eight counters: about the share of an entry one event touches. */
struct mc_value {
	__u64 n[8];
};

/* One value per CPU; mmapable, as the slots of docs/design.md's proposal would be so that userspace can claim them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1024); /* mapcost.c sets it to the possible CPUs, at least 1 */
	__type(key, __u32);
	__type(value, struct mc_value);
} mc_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mc_value);
} mc_percpu SEC(".maps");

/* A page per CPU holding its row and its slot (docs/design.md, the third design). */
struct mc_page {
	struct mc_value row;
	__u64 rest[512 - 16];
	struct mc_value slot;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1024); /* mapcost.c sets it to the possible CPUs, at least 1 */
	__type(key, __u32);
	__type(value, struct mc_page);
} mc_pages SEC(".maps");

/* A small ARRAY that is not mmapable: the kernel allocates it with kmalloc, not vmalloc. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mc_value);
} mc_small SEC(".maps");

/*
 * A knob in .rodata, as the modules' const volatile settings are (libbpf makes
 * .rodata an mmapable ARRAY: its own vmalloc'd page); set, so that the read
 * and what it guards stay in the program.
 */
const volatile __u64 mc_knob = 1;

/* apps' table's shape (probes/app_process.bpf.h): keyed by tgid, not preallocated. */
#define MC_HASH(name)                                                                                      \
	struct {                                                                                           \
		__uint(type, BPF_MAP_TYPE_HASH);                                                           \
		__uint(map_flags, BPF_F_NO_PREALLOC);                                                      \
		__uint(max_entries, 32768);                                                                \
		__type(key, __u32);                                                                        \
		__type(value, struct mc_value);                                                            \
	} name SEC(".maps")
MC_HASH(mc_hash);
MC_HASH(mc_hash_other);

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mc_value);
} mc_task SEC(".maps");

/* mc_tail_calls' members: slot i tail-calls slot i+1; mapcost.c fills the slots. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
} mc_chain SEC(".maps");

static __always_inline void bump_hash(void *map)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct mc_value *v = bpf_map_lookup_elem(map, &tgid);
	if (v) {
		__sync_fetch_and_add(&v->n[0], 1);
		return;
	}
	struct mc_value zero = {};
	bpf_map_update_elem(map, &tgid, &zero, BPF_NOEXIST); /* once per process */
}

static __always_inline struct mc_value *percpu_value(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&mc_percpu, &zero);
}

/* The syscall layer's share of an event: its per-CPU row. */
static __always_inline void bump_row(void)
{
	struct mc_value *row = percpu_value();
	if (row)
		row->n[0]++;
}

static __always_inline void bump_task(void)
{
	struct mc_value *v =
		bpf_task_storage_get(&mc_task, bpf_get_current_task_btf(), 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (v)
		__sync_fetch_and_add(&v->n[0], 1);
}

/* A program whose body is the pieces listed. */
#define PIECES(name, ...)                                                                                  \
	SEC("tp_btf/sys_exit")                                                                             \
	int BPF_PROG(name, struct pt_regs *regs, long ret)                                                 \
	{                                                                                                  \
		__VA_ARGS__;                                                                               \
		return 0;                                                                                  \
	}

PIECES(mc_empty, )

SEC("tp_btf/sys_exit")
int BPF_PROG(mc_array_slot, struct pt_regs *regs, long ret)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct mc_value *v = bpf_map_lookup_elem(&mc_slots, &cpu);
	if (v)
		v->n[0]++;
	return 0;
}

PIECES(mc_percpu_slot, bump_row())

/* The per-CPU row behind a .rodata knob (the syscall layer's app_rows, softirq's slow_threshold_ns). */
PIECES(mc_knob_and_row, if (mc_knob) bump_row())

SEC("tp_btf/sys_exit")
int BPF_PROG(mc_small_array, struct pt_regs *regs, long ret)
{
	__u32 zero = 0;
	struct mc_value *v = bpf_map_lookup_elem(&mc_small, &zero);
	if (v)
		__sync_fetch_and_add(&v->n[0], 1);
	return 0;
}

PIECES(mc_hash_lookup, bump_hash(&mc_hash))

PIECES(mc_two_hashes, bump_hash(&mc_hash), bump_hash(&mc_hash_other))

/* The syscall layer's shape with apps on: its per-CPU row, then the process's entry. */
PIECES(mc_slot_and_hash, bump_row(), bump_hash(&mc_hash))

/*
 * The hot path of a per-CPU slot in front of apps' table (docs/design.md "What
 * an access costs"): the per-CPU row, then this CPU's slot, claimed for the
 * add by a compare-and-exchange of its tgid and released after. Needs BPF
 * atomics with fetch (5.12 and later).
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(mc_slot_and_cached, struct pt_regs *regs, long ret)
{
	bump_row();
	__u32 cpu = bpf_get_smp_processor_id();
	struct mc_value *slot = bpf_map_lookup_elem(&mc_slots, &cpu);
	if (!slot)
		return 0;
	__u64 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 claimed = tgid | (1ULL << 63);
	if (__sync_val_compare_and_swap(&slot->n[7], tgid, claimed) == tgid) {
		slot->n[0]++;
		slot->n[1] += ret > 0 ? ret : 0;
		__sync_val_compare_and_swap(&slot->n[7], claimed, tgid);
	} else if (slot->n[7] == 0) {
		slot->n[7] = tgid; /* first use: the design folds the slot's old owner here */
	}
	return 0;
}

/* The same with the row in the slot's page: one page touched instead of two. */
SEC("tp_btf/sys_exit")
int BPF_PROG(mc_row_beside_slot, struct pt_regs *regs, long ret)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct mc_page *page = bpf_map_lookup_elem(&mc_pages, &cpu);
	if (!page)
		return 0;
	page->row.n[0]++;
	struct mc_value *slot = &page->slot;
	__u64 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 claimed = tgid | (1ULL << 63);
	if (__sync_val_compare_and_swap(&slot->n[7], tgid, claimed) == tgid) {
		slot->n[0]++;
		slot->n[1] += ret > 0 ? ret : 0;
		__sync_val_compare_and_swap(&slot->n[7], claimed, tgid);
	} else if (slot->n[7] == 0) {
		slot->n[7] = tgid;
	}
	return 0;
}

PIECES(mc_task_storage, bump_task())

/* The same per-CPU row, then task-local storage in place of the hash. */
PIECES(mc_slot_and_task, bump_row(), bump_task())

SEC("tp_btf/sys_exit")
int BPF_PROG(mc_clock, struct pt_regs *regs, long ret)
{
	return bpf_ktime_get_ns() == 1;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(mc_two_clocks, struct pt_regs *regs, long ret)
{
	__u64 first = bpf_ktime_get_ns();
	return bpf_ktime_get_ns() == first;
}

/* softirq_entry's shape: a clock read kept in a per-CPU slot. */
SEC("tp_btf/sys_exit")
int BPF_PROG(mc_slot_and_clock, struct pt_regs *regs, long ret)
{
	struct mc_value *v = percpu_value();
	if (v)
		v->n[0] = bpf_ktime_get_ns();
	return 0;
}

/* Three tail calls, as the sock chain makes (probes/sock_chain.bpf.h). */
SEC("tp_btf/sys_exit")
int BPF_PROG(mc_tail_calls, struct pt_regs *regs, long ret)
{
	bpf_tail_call(ctx, &mc_chain, 1);
	return 0;
}

#define MC_MEMBER(i, next)                                                                                 \
	SEC("tp_btf/sys_exit")                                                                             \
	int BPF_PROG(mc_member_##i, struct pt_regs *regs, long ret)                                        \
	{                                                                                                  \
		if (next)                                                                                  \
			bpf_tail_call(ctx, &mc_chain, next);                                               \
		return 0;                                                                                  \
	}
MC_MEMBER(1, 2)
MC_MEMBER(2, 3)
MC_MEMBER(3, 0)
