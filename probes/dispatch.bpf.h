/*
 * The sys_exit dispatcher's first step (probes/syscalls.bpf.c): which watched
 * row a finished syscall is, from the two read-only tables (native and compat
 * numbers) the layer fills before load.
 */
#ifndef BPFPUSH_DISPATCH_BPF_H
#define BPFPUSH_DISPATCH_BPF_H

#include "bpfpush.bpf.h"
#include "syscall_table.h"

/*
 * btf: the program is tp_btf, so regs and the task are BTF pointers the
 * verifier lets us load from directly; raw_tp needs probe reads. The
 * difference is ~35 ns on every syscall (scripts/bench/overhead).
 * Returns the row, 0 when the syscall is not watched; *is_compat says which
 * table it came from (a 32-bit task).
 */
static __always_inline __u32 dispatch_row(struct pt_regs *regs, const bool btf, const volatile __u8 *native_rows,
					  const volatile __u8 *compat_rows, bool *is_compat)
{
	long nr;
#if defined(__TARGET_ARCH_x86)
	nr = (btf ? regs->orig_ax : BPF_CORE_READ(regs, orig_ax)) & ~(long)NR_X32_BIT;
#elif defined(__TARGET_ARCH_arm64)
	nr = btf ? regs->syscallno : BPF_CORE_READ(regs, syscallno);
#else
	nr = syscall_nr_of(regs);
#endif
	*is_compat = false;
	if ((unsigned long)nr >= SYSCALL_NR_MAX)
		return 0;
	__u32 native = native_rows[nr], compat = compat_rows[nr];
	if (!native && !compat)
		return 0; /* the common case stays cheap: no task read */
#if defined(__TARGET_ARCH_arm64)
	/* An AArch32 task numbers its syscalls as 32-bit arm does: none of its calls is a watched row. */
	if ((btf ? regs->pstate : BPF_CORE_READ(regs, pstate)) & PSR_AARCH32_BIT)
		return 0;
#endif
#if HAVE_COMPAT_SYSCALLS
	/* bpf_get_current_task_btf came in 5.11: a probe read before */
	if (btf && bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf))
		*is_compat = bpf_get_current_task_btf()->thread_info.status & TS_COMPAT_FLAG;
	else
		*is_compat = current_in_compat_syscall();
#endif
	return *is_compat ? compat : native;
}

#endif
