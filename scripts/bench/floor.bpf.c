// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of scripts/bench/overhead: EMPTY programs on the attach points
 * the agent's syscall layer uses, so that what the agent adds over them is
 * the cost of its own work. scripts/bench/floor.c loads one set:
 *   dispatcher   one tp_btf program on sys_exit (runs for every syscall)
 *   tracepoints  classic syscalls:sys_exit_read / sys_exit_write /
 *                sys_exit_openat / sys_exit_close, and sys_exit_pread64 and
 *                sys_exit_fsync: the block column's pread(2) and the fsync
 *                column's call, which the agent's vfs and sync modules count
 *   fentry       fentry on each of those six syscalls' own functions
 *                (__x64_sys_read, ...: floor.c sets the targets), the way the
 *                syscall layer takes first where the kernel has it (load_mode
 *                entry)
 *   fexit        fexit on the same functions (load_mode return)
 * plus, in every set, the floor_ev_* programs: one empty tp_btf program on
 * each non-syscall attach point the bench's modules use for a fork (process:
 * sched_process_fork/exit/free), a TCP send and receive (socket and
 * network: sock_send_length, sock_recv_length), a block request (disk:
 * block_rq_issue, block_rq_complete) and a hard IRQ (hardirq:
 * irq_handler_entry, irq_handler_exit). The softirq module hooks
 * softirq_entry and softirq_exit only with modules.softirq.timing, off as
 * shipped: their empty programs are a set of their own,
 *   softirq      floor_ev_softirq_entry and floor_ev_softirq_exit alone
 * (the NET_RX column's floor, and nothing else's).
 * They never run for read, write, openat or getppid (but for an interrupt
 * that lands in the loop), so those columns keep their floor. Where fentry
 * attaches, the socket, network and apps modules take TCP on its protocol
 * functions (fexit tcp_sendmsg, fentry tcp_cleanup_rbuf) before the sock:*
 * tracepoints, which 6.1 lacks: the fentry and fexit sets have
 * floor_kfunc_ev_tcp_* there instead of floor_ev_send and floor_ev_recv.
 * floor.c leaves out, and names, any floor_ev_* tracepoint the kernel lacks
 * (sock:* before 6.3).
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

SEC("tracepoint/syscalls/sys_exit_write")
int floor_tp_write(void *ctx)
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

SEC("tracepoint/syscalls/sys_exit_pread64")
int floor_tp_pread64(void *ctx)
{
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_fsync")
int floor_tp_fsync(void *ctx)
{
	return 0;
}

/* Targets set by floor.c: this architecture's syscall function names. */
SEC("fentry")
int BPF_PROG(floor_fentry_read)
{
	return 0;
}

SEC("fentry")
int BPF_PROG(floor_fentry_write)
{
	return 0;
}

SEC("fentry")
int BPF_PROG(floor_fentry_openat)
{
	return 0;
}

SEC("fentry")
int BPF_PROG(floor_fentry_close)
{
	return 0;
}

SEC("fentry")
int BPF_PROG(floor_fentry_pread64)
{
	return 0;
}

SEC("fentry")
int BPF_PROG(floor_fentry_fsync)
{
	return 0;
}

SEC("fexit")
int BPF_PROG(floor_fexit_read)
{
	return 0;
}

SEC("fexit")
int BPF_PROG(floor_fexit_write)
{
	return 0;
}

SEC("fexit")
int BPF_PROG(floor_fexit_openat)
{
	return 0;
}

SEC("fexit")
int BPF_PROG(floor_fexit_close)
{
	return 0;
}

SEC("fexit")
int BPF_PROG(floor_fexit_pread64)
{
	return 0;
}

SEC("fexit")
int BPF_PROG(floor_fexit_fsync)
{
	return 0;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(floor_kfunc_ev_tcp_send)
{
	return 0;
}

SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(floor_kfunc_ev_tcp_recv)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_ev_fork, struct task_struct *parent, struct task_struct *child)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_ev_exit, struct task_struct *p)
{
	return 0;
}

SEC("tp_btf/sched_process_free")
int BPF_PROG(floor_ev_free, struct task_struct *p)
{
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(floor_ev_send, struct sock *sk, int ret, int flags)
{
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(floor_ev_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}

/* The argument lists of block_rq_issue changed in 5.11: take the raw context. */
SEC("tp_btf/block_rq_issue")
int floor_ev_rq_issue(unsigned long long *ctx)
{
	return 0;
}

SEC("tp_btf/block_rq_complete")
int floor_ev_rq_complete(unsigned long long *ctx)
{
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(floor_ev_softirq_entry, unsigned int vector)
{
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(floor_ev_softirq_exit, unsigned int vector)
{
	return 0;
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(floor_ev_irq_entry, int irq, struct irqaction *action)
{
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(floor_ev_irq_exit, int irq, struct irqaction *action, int ret)
{
	return 0;
}
