/* Helpers shared by every probe: one copy of per-CPU counting and syscall-exit decoding. */
#ifndef BPFPUSH_BPF_H
#define BPFPUSH_BPF_H

#include "syscall_nr.h"

/* Declares the per-CPU array `NAME` holding one `struct TYPE` of counters. */
#define PERCPU_COUNTERS(NAME, TYPE)                                                                      \
	struct {                                                                                         \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                                 \
		__uint(max_entries, 1);                                                                  \
		__type(key, __u32);                                                                      \
		__type(value, struct TYPE);                                                              \
	} NAME SEC(".maps")

/*
 * A field of a kernel object. tp_btf and fentry/fexit programs get trusted
 * pointers and read through them with a plain load (CO-RE relocated);
 * raw_tp, kprobe and classic tracepoint programs need bpf_probe_read_kernel,
 * a helper call per field. trusted is a constant in each program, which
 * keeps one form only.
 */
#define KERNEL_FIELD(trusted, ptr, field) ((trusted) ? (ptr)->field : BPF_CORE_READ(ptr, field))

static __always_inline void *percpu_slot(void *map)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(map, &zero);
}

/* The layout of every syscalls:sys_exit_* classic tracepoint (see its format file). */
struct syscall_exit_args {
	unsigned long long common;
	int nr;
	long ret;
};

/* A task inside a 32-bit syscall: its numbers are i386 numbers. */
static __always_inline bool current_in_compat_syscall(void)
{
#if HAVE_COMPAT_SYSCALLS
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (bpf_core_field_exists(task->thread_info.status))
		return BPF_CORE_READ(task, thread_info.status) & TS_COMPAT_FLAG;
#endif
	return false;
}

/*
 * The current task's saved user registers, for a syscall's arguments where
 * the hook is not given them: bpf_task_pt_regs (5.15+); before, on x86-64,
 * where task_pt_regs() finds them, at the top of the task's stack
 * (THREAD_SIZE 16 KiB, no padding); NULL elsewhere. Read with probe reads.
 */
#define X86_64_THREAD_SIZE 16384
static __always_inline struct pt_regs *current_task_regs(void)
{
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
#if defined(__TARGET_ARCH_x86)
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	unsigned long stack = (unsigned long)BPF_CORE_READ(task, stack);
	if (stack)
		return (struct pt_regs *)(stack + X86_64_THREAD_SIZE - bpf_core_type_size(struct pt_regs));
#endif
	return NULL;
}

/* The syscall number at sys_exit, from the registers the tracepoint passes. */
static __always_inline long syscall_nr_of(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(regs, orig_ax) & ~(long)NR_X32_BIT;
#elif defined(__TARGET_ARCH_arm64)
	return BPF_CORE_READ(regs, syscallno); /* arm64's struct pt_regs keeps it apart from x8 */
#else
#error "add this architecture's saved syscall number to probes/bpfpush.bpf.h"
#endif
}

#endif
