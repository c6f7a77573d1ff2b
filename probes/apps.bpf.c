// SPDX-License-Identifier: GPL-2.0
/*
 * apps: every apps.* counter of a process, in one hash entry per thread
 * group, created at the process's first counted event (probes/app_process.bpf.h).
 * Its syscalls count in the syscall layer's programs, beside the host-wide
 * counts; this object holds the table and its other events. When the last
 * thread exits, the entry leaves the table and its final counts go to
 * userspace on a ring buffer, so a process that lived a millisecond still
 * counts in full and the table never holds the dead; a rename of its leader
 * hands the counts so far over the same way, so they stay with the old name.
 * Loaded only when apps is on: the host-wide modules never pay for the
 * per-process lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "app_process.bpf.h"
#include "apps_net.bpf.h"
#include "folio.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Depth switch (apps.counters), a constant at load; the net ones are in probes/apps_net.bpf.h. */
const volatile bool count_connects = false;   /* tcp_connects: the TCP state program */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, APP_RINGBUF_BYTES);
} app_snapshots SEC(".maps");

/*
 * Forks and threads count for their creator (the current task), at
 * task_newtask: it fires for every task copy_process() makes, the threads
 * the kernel makes without kernel_clone() (io_uring, vhost) included, which
 * sched_process_fork misses (probes/process.bpf.c counts the same way).
 */
static __always_inline void count_new_task(bool is_thread)
{
	struct app_process *p = app_of_current();
	if (p) {
		add(p, is_thread ? APP_THREAD_CREATE : APP_PROCESS_CREATE, 1);
		moved(p);
	}
}

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

static __always_inline void count_ringbuf_lost(void)
{
	struct app_health *h = percpu_slot(&app_health);
	if (h)
		h->ringbuf_lost++;
}

/*
 * Waking the agent for every snapshot costs the CPU an interrupt to another
 * one (tens of µs per fork in a VM, scripts/bench/overhead): wake it once a
 * quarter of the ring is used; the rest waits for the drain before the next
 * collect.
 */
static __always_inline __u64 snapshot_wakeup(void)
{
	return bpf_ringbuf_query(&app_snapshots, BPF_RB_AVAIL_DATA) >= APP_RINGBUF_BYTES / 4 ? BPF_RB_FORCE_WAKEUP
											     : BPF_RB_NO_WAKEUP;
}

#if APP_SLOTS
/*
 * cpu's slot, when it is tgid's, folded into tgid's entry and freed: 0 when
 * it is done (or was never tgid's), 1 when the slot is held. A global
 * function, so that the verifier checks it once rather than once for each
 * CPU of the loop in slots_fold_all: inlined, that loop went past the
 * verifier's million instructions at 240 possible CPUs (a global function
 * takes scalars only, hence the entry's second lookup).
 */
__noinline int slot_fold_exited(__u32 cpu, __u32 tgid)
{
	struct app_slot_table *table = slot_table();
	barrier_var(cpu); /* the bound is checked on cpu itself, not on a copy */
	if (!table || cpu >= APP_SLOT_MAX_CPUS)
		return 0;
	struct app_slot *s = &table->slot[cpu];
	__u64 owner = s->owner;
	if ((owner & ~APP_SLOT_CLAIMED) != tgid)
		return 0;
	if ((owner & APP_SLOT_CLAIMED) || __sync_val_compare_and_swap(&s->owner, owner, owner | APP_SLOT_CLAIMED) != owner)
		return 1;
	slot_fold_entry(s, tgid);
	__sync_val_compare_and_swap(&s->owner, owner | APP_SLOT_CLAIMED, 0);
	return 0;
}
#endif

/*
 * Every CPU's slot of tgid folded into its entry before its exit's snapshot,
 * and freed. Nothing of tgid still runs, so no program adds to them
 * unclaimed. False when a slot of tgid was held (by its CPU moving it out, or
 * by the collect): its counts reach the entry later. Only the slots tgid owns
 * cost a call.
 */
static __always_inline bool slots_fold_all(__u32 tgid)
{
#if !APP_SLOTS
	(void)tgid;
	return true;
#else
	if (!use_slots)
		return true;
	struct app_slot_table *table = slot_table();
	if (!table)
		return true;
	int held = 0;
	for (__u32 cpu = 0; cpu < APP_SLOT_MAX_CPUS && cpu < slot_cpus; cpu++) {
		if ((table->slot[cpu].owner & ~APP_SLOT_CLAIMED) == tgid)
			held |= slot_fold_exited(cpu, tgid);
	}
	return !held;
#endif
}

/*
 * Every task's exit counts; the last one of its group (signal->live already
 * dropped to 0 when the tracepoint fires) hands the final counts over and
 * removes the entry: first out of the table, then submitted, so a collect
 * never reads a process whose exit it has already folded.
 */
static __always_inline void on_exit(void)
{
	struct app_process *p = app_of_current_task(true);
	if (!p)
		return;
	add(p, APP_TASK_EXIT, 1);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, signal, live.counter) != 0) {
		moved(p);
		return;
	}
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (!slots_fold_all(tgid)) {
		/* A slot of it is held: the collect folds it, slots and entry, as an exit. */
		p->exited = 1;
		moved_again(p);
		return;
	}
	struct app_snapshot *e = bpf_ringbuf_reserve(&app_snapshots, sizeof(*e), 0);
	if (!e) {
		/* Userspace folds and deletes it at the next collect instead. */
		p->exited = 1;
		count_ringbuf_lost();
		moved(p);
		return;
	}
	e->tgid = tgid;
	e->kind = APP_SNAPSHOT_EXIT;
	__builtin_memcpy(&e->process, p, sizeof(e->process));
	bpf_map_delete_elem(&app_pids, &tgid);
	bpf_ringbuf_submit(e, snapshot_wakeup());
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(exit_tp_btf) { on_exit(); return 0; }

SEC("raw_tp/sched_process_exit")
int BPF_PROG(exit_raw_tp) { on_exit(); return 0; }

SEC("tracepoint/sched/sched_process_exit")
int exit_tracepoint(void *ctx) { on_exit(); return 0; }

/*
 * exec renames the process: a known entry takes its new comm and exe. Its
 * counts before went to userspace at task_rename, which exec fires first
 * (on_rename).
 */
static __always_inline void on_exec(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 tgid = BPF_CORE_READ(task, tgid);
	struct app_process *p = bpf_map_lookup_elem(&app_pids, &tgid);
	if (!p)
		return;
	read_identity(BPF_CORE_READ(task, group_leader), &p->id);
	/* After the identity: a reader that sees the new count sees the new name (x86 keeps stores in order). */
	__sync_fetch_and_add(&p->id_changes, 1);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_tp_btf) { on_exec(); return 0; }

SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw_tp) { on_exec(); return 0; }

SEC("tracepoint/sched/sched_process_exec")
int exec_tracepoint(void *ctx) { on_exec(); return 0; }

/*
 * A rename of a process's thread-group leader moves its later counts to the
 * group of the new comm: prctl(PR_SET_NAME) in the leader, a write to its
 * /proc/PID/comm (only its own threads may), and exec, which renames the task
 * (by then the leader) before sched_process_exec. The counts so far go to
 * userspace first, under the identity before, so they stay with the old name
 * however long ago the last collect was; then the comm changes. A thread
 * naming itself or a sibling changes nothing: the group follows the leader.
 * The tracepoint fires under the renamed task's lock, so one process's
 * renames reach the ring in order, and before the task's comm changes: the
 * new comm is the argument. It runs only on renames and execs.
 */
static __always_inline void on_rename(__u32 renamed_pid, __u32 tgid, const char *newcomm)
{
	if (renamed_pid != tgid)
		return;
	struct app_process *p = bpf_map_lookup_elem(&app_pids, &tgid);
	if (!p)
		return; /* nothing counted yet: its first event reads the new comm */
	struct app_snapshot *e = bpf_ringbuf_reserve(&app_snapshots, sizeof(*e), 0);
	if (e) {
		e->tgid = tgid;
		e->kind = APP_SNAPSHOT_RENAME;
		__builtin_memcpy(&e->process, p, sizeof(e->process));
		/* The slots' counts are the old name's too (slots_add_all says which are left out). */
		slots_add_all(tgid, e->process.counters);
		bpf_ringbuf_submit(e, snapshot_wakeup());
	} else {
		count_ringbuf_lost(); /* the counts since the last collect go to the new name */
	}
	bpf_probe_read_kernel_str(p->id.comm, sizeof(p->id.comm), newcomm);
	/* After the snapshot and the comm: see on_exec. */
	__sync_fetch_and_add(&p->id_changes, 1);
}

SEC("tp_btf/task_rename")
int BPF_PROG(rename_tp_btf, struct task_struct *task, const char *comm)
{
	on_rename(task->pid, task->tgid, comm);
	return 0;
}

SEC("raw_tp/task_rename")
int BPF_PROG(rename_raw_tp, struct task_struct *task, const char *comm)
{
	on_rename(BPF_CORE_READ(task, pid), BPF_CORE_READ(task, tgid), comm);
	return 0;
}

/*
 * The record names the renamed task by pid only: it is the current process's
 * leader when that pid is the current tgid (user space renames a process
 * only from its own threads). From 6.13 until the revert in 7.0 the record
 * has no pid, and this way is refused (agent/modules/apps.c).
 */
SEC("tracepoint/task/task_rename")
int rename_tracepoint(struct trace_event_raw_task_rename *ctx)
{
	if (!bpf_core_field_exists(ctx->pid))
		return 0;
	on_rename((__u32)BPF_CORE_READ(ctx, pid), bpf_get_current_pid_tgid() >> 32, ctx->newcomm);
	return 0;
}

/* Bandwidth (TCP and UDP payload bytes, from the calls' results) and page-cache pages. */
static __always_inline void count_bytes(int counter, long n)
{
	if (n <= 0)
		return;
	struct app_process *p = app_of_current();
	if (p) {
		add(p, counter, n);
		moved(p);
	}
}

/* Counted calls: the depth counters (apps.counters) that one event feeds. */
static __always_inline void count_one(int counter)
{
	struct app_process *p = app_of_current();
	if (p) {
		add(p, counter, 1);
		moved(p);
	}
}


SEC("fexit/tcp_sendmsg")
int BPF_PROG(tcp_sent_fexit, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{ note_sock_owner(sk); count_net(true, true, ret, true, SLOT_CLAIM); return 0; }
SEC("fexit/udp_sendmsg")
int BPF_PROG(udp_sent_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{ count_net(false, true, ret, true, SLOT_CLAIM); return 0; }
SEC("fexit/udpv6_sendmsg")
int BPF_PROG(udp6_sent_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{ count_net(false, true, ret, true, SLOT_CLAIM); return 0; }
/* kretprobes see no socket: a socket's owner is then the process that connected it. */
SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(tcp_sent_kretprobe, int ret) { count_net(true, true, ret, true, SLOT_CLAIM); return 0; }
SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(udp_sent_kretprobe, int ret) { count_net(false, true, ret, true, SLOT_CLAIM); return 0; }
SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(udp6_sent_kretprobe, int ret) { count_net(false, true, ret, true, SLOT_CLAIM); return 0; }
/* The last of the sock chain's members (probes/sock_chain.bpf.h): no jump after it. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(sent_tp_btf, struct sock *sk, int ret)
{ if (sock_counts(sk, true)) apps_on_send_length(sk, sock_protocol(sk, true) == SOCK_IPPROTO_TCP, ret); return 0; }
SEC("raw_tp/sock_send_length")
int BPF_PROG(sent_raw_tp, struct sock *sk, int ret)
{ if (sock_counts(sk, false)) apps_on_send_length(sk, sock_protocol(sk, false) == SOCK_IPPROTO_TCP, ret); return 0; }
SEC("tracepoint/sock/sock_send_length")
int sent_tracepoint(struct sock_msg_length_record *r)
{ if (record_counts(r)) apps_on_send_length(r->sk, r->protocol == SOCK_IPPROTO_TCP, r->ret); return 0; }

/* tcp_cleanup_rbuf is told at entry how much was copied; UDP's result is the datagram's size. */
SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(tcp_recv_fentry, struct sock *sk, int copied) { count_net(true, false, copied, copied > 0, SLOT_CLAIM); return 0; }
SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(tcp_recv_kprobe, struct sock *sk, int copied) { count_net(true, false, copied, copied > 0, SLOT_CLAIM); return 0; }
SEC("fexit/udp_recvmsg")
int BPF_PROG(udp_recv_fexit)
{ __u64 ret = 0; bpf_get_func_ret(ctx, &ret); count_net(false, false, (int)ret, true, SLOT_CLAIM); return 0; }
SEC("fexit/udpv6_recvmsg")
int BPF_PROG(udp6_recv_fexit)
{ __u64 ret = 0; bpf_get_func_ret(ctx, &ret); count_net(false, false, (int)ret, true, SLOT_CLAIM); return 0; }
/* Before 5.19 the result follows six arguments (agent/kernel/btf_proto.h). */
SEC("fexit/udp_recvmsg")
int BPF_PROG(udp_recv_fexit6, void *sk, void *msg, size_t len, int noblock, int flags, int *addr_len, int ret)
{ count_net(false, false, ret, true, SLOT_CLAIM); return 0; }
SEC("fexit/udpv6_recvmsg")
int BPF_PROG(udp6_recv_fexit6, void *sk, void *msg, size_t len, int noblock, int flags, int *addr_len, int ret)
{ count_net(false, false, ret, true, SLOT_CLAIM); return 0; }
SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(udp_recv_kretprobe, int ret) { count_net(false, false, ret, true, SLOT_CLAIM); return 0; }
SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(udp6_recv_kretprobe, int ret) { count_net(false, false, ret, true, SLOT_CLAIM); return 0; }
SEC("tp_btf/sock_recv_length")
int BPF_PROG(recv_tp_btf, struct sock *sk, int ret, int flags)
{ if (sock_counts(sk, true)) apps_on_recv_length(sock_protocol(sk, true) == SOCK_IPPROTO_TCP, ret, flags); return 0; }
SEC("raw_tp/sock_recv_length")
int BPF_PROG(recv_raw_tp, struct sock *sk, int ret, int flags)
{ if (sock_counts(sk, false)) apps_on_recv_length(sock_protocol(sk, false) == SOCK_IPPROTO_TCP, ret, flags); return 0; }
SEC("tracepoint/sock/sock_recv_length")
int recv_tracepoint(struct sock_msg_length_record *r)
{ if (record_counts(r)) apps_on_recv_length(r->protocol == SOCK_IPPROTO_TCP, r->ret, r->flags); return 0; }

/*
 * TCP state changes: a connect (CLOSE -> SYN_SENT, in the connecting
 * process's context) counts for it by the socket's family and makes it the
 * socket's owner; a socket reaching CLOSE has no owner any more.
 */
static __always_inline void on_tcp_state(const void *sk, __u16 family, __u16 protocol, int oldstate, int newstate)
{
	if (protocol != SOCK_IPPROTO_TCP)
		return;
	if (newstate == SOCK_TCP_SYN_SENT && oldstate == SOCK_TCP_CLOSE) {
		note_sock_owner(sk);
		if (count_connects && family_is_inet(family))
			count_one(family == SOCK_AF_INET6 ? APP_TCP_CONNECT_V6 : APP_TCP_CONNECT_V4);
	} else if (newstate == SOCK_TCP_CLOSE && track_sock_owners) {
		__u64 key = (unsigned long)sk;
		bpf_map_delete_elem(&app_sock_owners, &key);
	}
}
/* The last of the sock chain's members (probes/sock_chain.bpf.h): no jump after it. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_tp_btf, struct sock *sk, int oldstate, int newstate)
{ on_tcp_state(sk, sock_family(sk, true), sock_protocol(sk, true), oldstate, newstate); return 0; }
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcp_state_raw_tp, struct sock *sk, int oldstate, int newstate)
{ on_tcp_state(sk, sock_family(sk, false), sock_protocol(sk, false), oldstate, newstate); return 0; }
SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_tracepoint(struct inet_sock_set_state_record *r)
{ on_tcp_state(r->skaddr, r->family, r->protocol, r->oldstate, r->newstate); return 0; }

/*
 * Retransmitted segments (as socket.tcp.retransmits: tcp_skb_pcount) for the
 * socket's owner, whose entry is looked up, never made: this runs in timer
 * and softirq context. A socket with no owner seen (accepted and never sent
 * on while watched) is not counted.
 */
static __always_inline void count_retransmit(const void *sk, const struct sk_buff *skb, int err)
{
	__u64 key = (unsigned long)sk;
	__u32 *owner = err ? NULL : bpf_map_lookup_elem(&app_sock_owners, &key);
	if (!owner)
		return;
	__u32 tgid = *owner;
	struct app_process *p = bpf_map_lookup_elem(&app_pids, &tgid);
	if (p) {
		add(p, APP_TCP_RETRANSMITS, tcp_retransmit_segments(skb));
		moved(p);
	}
}
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(app_retransmit_err_tp_btf, struct sock *sk, struct sk_buff *skb, int err) { count_retransmit(sk, skb, err); return 0; }
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(app_retransmit_tp_btf, struct sock *sk, struct sk_buff *skb) { count_retransmit(sk, skb, 0); return 0; }
SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(app_retransmit_err_raw_tp, struct sock *sk, struct sk_buff *skb, int err) { count_retransmit(sk, skb, err); return 0; }
SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(app_retransmit_raw_tp, struct sock *sk, struct sk_buff *skb) { count_retransmit(sk, skb, 0); return 0; }
SEC("tracepoint/tcp/tcp_retransmit_skb")
int app_retransmit_err_tracepoint(struct tcp_retransmit_record *r) { count_retransmit(r->skaddr, r->skbaddr, r->err); return 0; }
SEC("tracepoint/tcp/tcp_retransmit_skb")
int app_retransmit_tracepoint(struct tcp_retransmit_record *r) { count_retransmit(r->skaddr, r->skbaddr, 0); return 0; }

/*
 * Directory cache, as the dcstat module counts it (probes/dcstat.bpf.c), for
 * the process that looked up: no tracepoint marks it, so fentry or kprobes only.
 */
SEC("fentry/lookup_fast")
int BPF_PROG(dc_reference_fentry) { count_one(APP_DCSTAT_REFERENCES); return 0; }
SEC("kprobe/lookup_fast")
int BPF_KPROBE(dc_reference_kprobe) { count_one(APP_DCSTAT_REFERENCES); return 0; }
SEC("fentry/d_lookup")
int BPF_PROG(dc_slow_fentry) { count_one(APP_DCSTAT_SLOW); return 0; }
SEC("kprobe/d_lookup")
int BPF_KPROBE(dc_slow_kprobe) { count_one(APP_DCSTAT_SLOW); return 0; }
static __always_inline void count_slow_result(const void *found)
{
	struct app_process *p = app_of_current();
	if (!p)
		return;
	add(p, APP_DCSTAT_SLOW, 1);
	if (!found)
		add(p, APP_DCSTAT_MISSES, 1);
	moved(p);
}
SEC("fexit/d_lookup")
int BPF_PROG(dc_slow_fexit, const struct dentry *parent, const struct qstr *name, struct dentry *ret)
{ count_slow_result(ret); return 0; }
SEC("kretprobe/d_lookup")
int BPF_KRETPROBE(dc_slow_kretprobe, struct dentry *ret) { count_slow_result(ret); return 0; }

/*
 * Swap, as the swap module counts it (probes/swap.bpf.c: the target names
 * come from agent/kernel/kernel_names.c), for the process whose fault or
 * reclaim started the I/O: kswapd for background reclaim.
 */
SEC("fentry")
int BPF_PROG(swap_read_fentry, struct folio *folio) { count_bytes(APP_SWAP_READ, folio_pages(folio)); return 0; }
SEC("fentry")
int BPF_PROG(swap_write_fentry, struct folio *folio) { count_bytes(APP_SWAP_WRITE, folio_pages(folio)); return 0; }
SEC("kprobe")
int BPF_KPROBE(swap_read_kprobe, struct folio *folio) { count_bytes(APP_SWAP_READ, folio_pages(folio)); return 0; }
SEC("kprobe")
int BPF_KPROBE(swap_write_kprobe, struct folio *folio) { count_bytes(APP_SWAP_WRITE, folio_pages(folio)); return 0; }

/*
 * Page cache, as the cachestat module counts it (probes/cachestat.bpf.c),
 * for the process that caused it: accesses, additions (misses), dirtied pages.
 */
SEC("fentry")
int BPF_PROG(cache_accessed_fentry, struct folio *folio) { count_bytes(APP_CACHE_ACCESSED, folio_pages(folio)); return 0; }
SEC("kprobe")
int BPF_KPROBE(cache_accessed_kprobe, struct folio *folio) { count_bytes(APP_CACHE_ACCESSED, folio_pages(folio)); return 0; }
SEC("tp_btf/mm_filemap_add_to_page_cache")
int BPF_PROG(cache_added_tp_btf, struct folio *folio) { count_bytes(APP_CACHE_ADDED, folio_pages(folio)); return 0; }
SEC("raw_tp/mm_filemap_add_to_page_cache")
int BPF_PROG(cache_added_raw_tp, struct folio *folio) { count_bytes(APP_CACHE_ADDED, folio_pages(folio)); return 0; }
SEC("tracepoint/filemap/mm_filemap_add_to_page_cache")
int cache_added_tracepoint(struct trace_event_raw_mm_filemap_op_page_cache *ctx)
{
	__u64 pages = 1; /* the classic format carries the order from 6.6 */
	if (bpf_core_field_exists(ctx->order)) {
		unsigned int order = ctx->order;
		pages = order < 20 ? 1ULL << order : 1;
	}
	count_bytes(APP_CACHE_ADDED, pages);
	return 0;
}
SEC("tp_btf/writeback_dirty_folio")
int BPF_PROG(cache_dirtied_tp_btf, struct folio *folio) { count_bytes(APP_CACHE_DIRTIED, folio_pages(folio)); return 0; }
SEC("raw_tp/writeback_dirty_folio")
int BPF_PROG(cache_dirtied_raw_tp, struct folio *folio) { count_bytes(APP_CACHE_DIRTIED, folio_pages(folio)); return 0; }
/* No classic writeback_dirty_folio program: the record has no folio size (agent/modules/apps.c). */
/* Before folios (5.16): writeback_dirty_page, with the head page. */
SEC("tp_btf/writeback_dirty_page")
int BPF_PROG(cache_dirtied_page_tp_btf, struct page *page) { count_bytes(APP_CACHE_DIRTIED, folio_pages((void *)page)); return 0; }
SEC("raw_tp/writeback_dirty_page")
int BPF_PROG(cache_dirtied_page_raw_tp, struct page *page) { count_bytes(APP_CACHE_DIRTIED, folio_pages((void *)page)); return 0; }
SEC("tracepoint/writeback/writeback_dirty_page")
int cache_dirtied_page_tracepoint(void *ctx) { count_bytes(APP_CACHE_DIRTIED, 1); return 0; }
