// SPDX-License-Identifier: GPL-2.0
/*
 * The syscall layer, shared by every module whose metrics are defined by
 * syscalls (fd, vfs, sync, mount, shm, process errors; apps per process). Two ways:
 * - a dispatcher: one program on sys_exit (tp_btf or raw_tp) sees every
 *   syscall's number, arguments and result; about +95 ns on every syscall;
 * - per-syscall tracepoints (syscalls:sys_exit_NAME): about +170 ns on each
 *   traced syscall and +40 ns on all others (docs/design.md "The syscall layer").
 * Either way one program run counts calls, errors, bytes and the variant,
 * and, for the rows apps asked for, the same call in the process's entry of
 * the per-process table (probes/app_process.bpf.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "app_process.bpf.h"
#include "bpfpush.bpf.h"
#include "dispatch.bpf.h"
#include "syscall_table.h"

char LICENSE[] SEC("license") = "GPL";

/* nr -> syscall id, for the syscalls the dispatcher watches; 0: not watched. */
const volatile __u8 dispatch_native[SYSCALL_NR_MAX] = {};
const volatile __u8 dispatch_compat[SYSCALL_NR_MAX] = {};
/* row -> 1: apps counts it per process too (agent/kernel/syscall_watch.c). */
const volatile __u8 app_rows[SYS_COUNT] = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYS_COUNT);
	__type(key, __u32);
	__type(value, struct syscall_stats);
} syscall_stats SEC(".maps");

/*
 * Argument n (1 or 2) of a syscall, from the registers saved at entry.
 * direct: regs is the BTF pointer bpf_task_pt_regs returns (5.15 and later),
 * loaded from directly; otherwise it is read with a probe read. Callers pass
 * a constant, so each program keeps one kind of load on one kind of pointer,
 * as the verifier wants.
 */
static __always_inline unsigned long syscall_arg(struct pt_regs *regs, int n, bool compat, const bool direct)
{
	if (direct)
		return n == 1 ? PT_REGS_PARM2_SYSCALL(regs) : PT_REGS_PARM3_SYSCALL(regs);
#if defined(__TARGET_ARCH_x86)
	if (compat) {
		if (n == 1)
			return BPF_CORE_READ(regs, cx);
		return BPF_CORE_READ(regs, dx);
	}
	if (n == 1)
		return BPF_CORE_READ(regs, si);
	return BPF_CORE_READ(regs, dx);
#else
	return n == 1 ? PT_REGS_PARM2_CORE_SYSCALL(regs) : PT_REGS_PARM3_CORE_SYSCALL(regs);
#endif
}

static __always_inline bool variant_of(enum syscall_variant variant, struct pt_regs *regs, bool compat,
				       const bool direct)
{
	switch (variant) {
	case VARIANT_ALWAYS:
		return true;
	case VARIANT_O_CREAT_ARG1:
		return syscall_arg(regs, 1, compat, direct) & O_CREAT_FLAG;
	case VARIANT_O_CREAT_ARG2:
		return syscall_arg(regs, 2, compat, direct) & O_CREAT_FLAG;
	case VARIANT_REMOVEDIR_ARG2:
		return syscall_arg(regs, 2, compat, direct) & AT_REMOVEDIR_FLAG;
	case VARIANT_O_CREAT_HOW_ARG2: {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)syscall_arg(regs, 2, compat, direct));
		return flags & O_CREAT_FLAG;
	}
	default:
		return false;
	}
}

static __always_inline void count(__u32 id, long ret, bool variant)
{
	struct syscall_stats *s = bpf_map_lookup_elem(&syscall_stats, &id);
	if (!s)
		return;
	/* Calls with and without the variant are kept apart so totals are sums, never differences. */
	if (variant) {
		s->variant_calls++;
		if (ret < 0)
			s->variant_errors++;
	} else {
		s->calls++;
		if (ret < 0)
			s->errors++;
	}
	if (ret > 0)
		s->bytes += ret;
}

/*
 * Does the row also count in the process's entry? In the per-syscall
 * programs the row is a constant, so a row apps never counts compiles to
 * nothing, and one it was not asked for is gone after the verifier's pass.
 */
static __always_inline bool app_counts(__u32 id)
{
	return app_kind_of_row(id) != APP_SYSCALL_NONE && id < SYS_COUNT && app_rows[id];
}

/* The variant of each row, for the dispatcher (which learns the row at run time). */
#define VARIANT_CASE(name, nr, nr32, tp, variant)                                                        \
	case SYS_##name:                                                                                 \
		return variant;
static __always_inline enum syscall_variant variant_of_id(__u32 id)
{
	switch (id) {
		SYSCALL_TABLE(VARIANT_CASE)
	default:
		return VARIANT_NONE;
	}
}

static __always_inline void on_sys_exit(struct pt_regs *regs, long ret, const bool btf)
{
	bool is_compat;
	__u32 id = dispatch_row(regs, btf, dispatch_native, dispatch_compat, &is_compat);
	if (!id)
		return;
	enum syscall_variant variant = variant_of_id(id);
	count(id, ret, variant != VARIANT_NONE && variant_of(variant, regs, is_compat, false));
	if (app_counts(id)) /* apps reads a native call's arguments only */
		app_count_syscall(app_kind_of_row(id), id, ret, true, is_compat ? NULL : regs, -1, SLOT_EXCLUSIVE);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(dispatch_tp_btf, struct pt_regs *regs, long ret)
{
	on_sys_exit(regs, ret, true);
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(dispatch_raw_tp, struct pt_regs *regs, long ret)
{
	on_sys_exit(regs, ret, false);
	return 0;
}

/*
 * The variant of the current task's native call, from the registers saved at
 * its entry. Where bpf_task_pt_regs exists (5.15) they come as a BTF pointer
 * the program loads from directly; a probe read of them, as before 5.15, made
 * exit_openat's run 4-5 ns longer (kernel.bpf_stats_enabled on 6.18).
 */
static __always_inline bool variant_of_current(enum syscall_variant variant)
{
	if (variant == VARIANT_ALWAYS)
		return true;
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return variant_of(variant, (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf()), false,
				  true);
	struct pt_regs *regs = current_task_regs();
	return regs && variant_of(variant, regs, false, false);
}

/*
 * Count a row whose arguments are read from the current task's saved
 * registers; known: the way sees the result.
 */
static __always_inline void count_current(__u32 id, long ret, bool known, enum syscall_variant variant,
					  enum slot_use use)
{
	bool v = variant != VARIANT_NONE && variant_of_current(variant);
	count(id, ret, v);
	if (app_counts(id)) /* the variant is the flags apps asks about (app_regs) */
		app_count_syscall(app_kind_of_row(id), id, ret, known, app_regs(id), variant != VARIANT_NONE ? v : -1,
				  use);
}

/* One classic tracepoint program per row; they never fire for compat tasks. */
#define EXIT_TRACEPOINT(name, nr, nr32, tp, variant)                                                     \
	SEC("tracepoint/syscalls/sys_exit_" #tp)                                                         \
	int exit_##name(struct syscall_exit_args *ctx)                                                   \
	{                                                                                                \
		count_current(SYS_##name, ctx->ret, true, variant, SLOT_EXCLUSIVE);                     \
		return 0;                                                                                \
	}
SYSCALL_TABLE(EXIT_TRACEPOINT)

/*
 * Kernel-function ways on each syscall's own function (__x64_sys_NAME, the
 * target set at run time from agent/kernel/kernel_names.c): they cost nothing on
 * other syscalls. fentry/kprobe (load_mode: entry) see the call and its
 * arguments; fexit/kretprobe (return) also see the result.
 */
#define KFUNC_WAYS(name, nr, nr32, tp, variant)                                                          \
	SEC("fentry")                                                                                    \
	int BPF_PROG(fentry_##name)                                                                      \
	{                                                                                                \
		count_current(SYS_##name, 0, false, variant, SLOT_CLAIM);                               \
		return 0;                                                                                \
	}                                                                                                \
	SEC("fexit")                                                                                     \
	int BPF_PROG(fexit_##name, struct pt_regs *regs, long ret)                                       \
	{                                                                                                \
		count_current(SYS_##name, ret, true, variant, SLOT_CLAIM);                              \
		return 0;                                                                                \
	}                                                                                                \
	SEC("kprobe")                                                                                    \
	int BPF_KPROBE(kprobe_##name)                                                                    \
	{                                                                                                \
		count_current(SYS_##name, 0, false, variant, SLOT_EXCLUSIVE);                           \
		return 0;                                                                                \
	}                                                                                                \
	SEC("kretprobe")                                                                                 \
	int BPF_KRETPROBE(kretprobe_##name, long ret)                                                    \
	{                                                                                                \
		count_current(SYS_##name, ret, true, variant, SLOT_EXCLUSIVE);                          \
		return 0;                                                                                \
	}
SYSCALL_TABLE(KFUNC_WAYS)
