/*
 * Syscall numbers, the one place that knows them: BPF programs and userspace
 * include this file. A new architecture adds its block here (arm64 has no
 * fork/vfork and no 32-bit compat numbering to map).
 */
#ifndef BPFPUSH_SYSCALL_NR_H
#define BPFPUSH_SYSCALL_NR_H

#if defined(__TARGET_ARCH_x86) || defined(__x86_64__)
#define NR_CLONE 56
#define NR_FORK 57
#define NR_VFORK 58
#define NR_CLONE3 435
/* i386 numbers, seen on sys_exit for 32-bit (compat) tasks. */
#define NR32_FORK 2
#define NR32_CLONE 120
#define NR32_VFORK 190
#define NR32_CLONE3 435
/* x32 tasks set this bit on native numbers. */
#define NR_X32_BIT 0x40000000
#define HAVE_COMPAT_SYSCALLS 1
/* thread_info.status flag of a task in a 32-bit syscall (arch/x86). */
#define TS_COMPAT_FLAG 0x0002
#elif defined(__TARGET_ARCH_arm64) || defined(__aarch64__)
#define NR_CLONE 220
#define NR_FORK -1
#define NR_VFORK -1
#define NR_CLONE3 435
#define HAVE_COMPAT_SYSCALLS 0
/* PSTATE.nRW in a task's saved pstate: set for an AArch32 (compat) task, whose numbers are arm's. */
#define PSR_AARCH32_BIT 0x10
#else
#error "add this architecture's syscall numbers to probes/syscall_nr.h"
#endif

#endif
