/*
 * apps' counting of one TCP or UDP send or receive for the calling
 * process: its knobs, and the socket -> owner map for retransmits.
 * probes/apps.bpf.c runs it from its own programs, probes/sock_fused.bpf.c
 * from the one program that also runs socket's and network's
 * (docs/design.md, "The sock chain").
 */
#ifndef BPFPUSH_APPS_NET_BPF_H
#define BPFPUSH_APPS_NET_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "app_process.bpf.h"

/* Depth switches (apps.counters), constants at load: a switch that is off costs no instruction. */
const volatile bool count_net_calls = false;  /* net_calls: in the bandwidth programs */
const volatile bool track_sock_owners = false; /* tcp_retransmits: which process a socket belongs to */

/*
 * A TCP socket's owner, for its retransmits: they run in timer and softirq
 * context, where the current task is whoever was interrupted. Noted at
 * connect and at each send (the last sender owns it), dropped when the socket
 * closes; LRU for sockets whose close was not seen. One entry when
 * apps.counters.tcp_retransmits is off (agent/modules/apps.c).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, APP_SOCK_OWNERS);
	__type(key, __u64);
	__type(value, __u32);
} app_sock_owners SEC(".maps");

/*
 * A TCP or UDP call: its bytes, and with net_calls on the call itself. call:
 * this call counts (a TCP receive only when it returned data, as
 * socket.tcp.recv.calls; every other call). In the CPU's slot when the call
 * counts, so that each event in a slot adds one to a call counter
 * (app_slot_calls); else in the process's entry, with one lookup.
 */
static __always_inline void count_net(bool tcp, bool sent, long n, bool call, enum slot_use use)
{
	call = call && count_net_calls;
	if (n <= 0 && !call)
		return;
	int calls = tcp ? (sent ? APP_TCP_SEND_CALLS : APP_TCP_RECV_CALLS) : (sent ? APP_UDP_SEND_CALLS : APP_UDP_RECV_CALLS);
	int bytes = sent ? APP_BANDWIDTH_SENT : APP_BANDWIDTH_RECV;
	bool claimed = false;
	/*
	 * Claimed (use): some of these ways are fexit programs, and tcp_cleanup_rbuf is also
	 * reached from softirqs. The sock:* ways pass their own (sock_length_use()).
	 */
	struct app_slot *s = call ? slot_hold(use, &claimed) : NULL;
	struct app_process *p = s ? NULL : app_of_current();
	if (!s && !p)
		return;
	if (n > 0)
		bump(p, s, bytes, n);
	if (call)
		bump(p, s, calls, 1);
	if (s)
		slot_release(s, claimed);
	else
		moved(p);
}

/* The sending process owns a TCP socket from now on (for its retransmits). */
static __always_inline void note_sock_owner(const void *sk)
{
	if (!track_sock_owners || !sk)
		return;
	__u64 key = (unsigned long)sk;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 *known = bpf_map_lookup_elem(&app_sock_owners, &key);
	if (!known || *known != tgid)
		bpf_map_update_elem(&app_sock_owners, &key, &tgid, BPF_ANY);
}

/* Apps counts a socket's calls and bytes when it is IPv4 or IPv6, TCP or UDP. */
static __always_inline bool apps_counts_protocol(__u16 family, __u16 protocol)
{
	return family_is_inet(family) && (protocol == SOCK_IPPROTO_TCP || protocol == SOCK_IPPROTO_UDP);
}

static __always_inline bool sock_counts(const struct sock *sk, bool trusted)
{
	if (!sk)
		return false;
	/* The family first: a Unix socket's protocol is not read (a helper call below tp_btf). */
	__u16 family = sock_family(sk, trusted);
	return family_is_inet(family) && apps_counts_protocol(family, sock_protocol(sk, trusted));
}

static __always_inline bool record_counts(const struct sock_msg_length_record *r)
{
	return apps_counts_protocol(r->family, r->protocol);
}

static __always_inline enum slot_use sock_length_use(void)
{
	return sock_length_exclusive ? SLOT_EXCLUSIVE : SLOT_CLAIM;
}

/* sock_send_length / sock_recv_length: TCP or UDP told by the socket. */
static __always_inline void apps_on_send_length(const void *sk, bool tcp, int ret)
{
	if (tcp)
		note_sock_owner(sk);
	count_net(tcp, true, ret, true, sock_length_use());
}

static __always_inline void apps_on_recv_length(bool tcp, int ret, int flags)
{
	bool peek = flags & SOCK_MSG_PEEK;
	count_net(tcp, false, peek ? 0 : ret, tcp ? !peek && ret > 0 : true, sock_length_use());
}

#endif
