// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of scripts/bench/overhead: EMPTY programs on the attach points
 * the agent's syscall layer uses, so that what the agent adds over them is
 * the cost of its own work. scripts/bench/floor.c loads one set:
 *   dispatcher   one tp_btf program on sys_exit (runs for every syscall)
 *   tracepoints  classic syscalls:sys_exit_read / sys_exit_openat / sys_exit_close
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_dispatcher, struct pt_regs *regs, long ret)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int floor_tp_read(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int floor_tp_openat(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_close")
int floor_tp_close(void *ctx)
{
	return 0;
}
