// SPDX-License-Identifier: GPL-2.0
/*
 * socket: host-wide TCP and UDP calls and bytes, TCP connects, accepts,
 * closes and retransmits. fentry/kprobe on the protocol functions see only TCP or UDP
 * sockets and cost one program run per call; on kernels without them the
 * sock:* tracepoints (6.3+) see every family, so their programs filter on
 * family and protocol. TCP and UDP share one program per sock:* tracepoint
 * (each program run costs about as much as the counting): the agent tells
 * it, before load, which protocols chose it, so a protocol counted on its
 * own function is never counted twice and the verifier drops the rest.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "sock_chain.bpf.h"
#include "socket_count.bpf.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline void count_close(void)
{
	struct socket_counters *c = counters();
	if (c)
		c->tcp_close++;
}

/*
 * Atomic although per CPU: retransmits run in timer softirqs and also in
 * process context (a socket's backlog processed at release_sock), so one can
 * interrupt the other on a CPU mid-increment.
 */
static __always_inline void count_retransmit(const struct sk_buff *skb, int err)
{
	struct socket_counters *c = counters();
	if (c && err == 0)
		__sync_fetch_and_add(&c->tcp_retransmits, tcp_retransmit_segments(skb));
}

/* TCP send: tcp_sendmsg's result is the bytes accepted. */
SEC("fentry/tcp_sendmsg")
int BPF_PROG(tcp_send_fentry) { count_send(true, 0, false); return 0; }
SEC("fexit/tcp_sendmsg")
int BPF_PROG(tcp_send_fexit, struct sock *sk, struct msghdr *msg, size_t size, int ret) { count_send(true, ret, true); return 0; }
SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_send_kprobe) { count_send(true, 0, false); return 0; }
SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(tcp_send_kretprobe, int ret) { count_send(true, ret, true); return 0; }

/* TCP receive: tcp_cleanup_rbuf is told how much was copied, so its entry sees the result. */
SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(tcp_recv_fentry, struct sock *sk, int copied) { count_tcp_recv(copied); return 0; }
SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(tcp_recv_kprobe, struct sock *sk, int copied) { count_tcp_recv(copied); return 0; }

/*
 * sock:inet_sock_set_state, one program per tier for three events: TCP
 * closes (where tcp_close is not hooked), connects and accepts. *_tier: the
 * enum attach_tier of the program the event chose, 0 when it is counted
 * another way or not at all; constants at load, as for the sock:* programs.
 */
const volatile __u8 tcp_close_tier = 0, tcp_connect_tier = 0, tcp_accept_tier = 0;

/*
 * A connect: tcp_v4_connect()/tcp_v6_connect() move the socket CLOSE ->
 * SYN_SENT before the SYN leaves, so refused and timed-out attempts count,
 * as ActiveOpens counts them. An accept: the child a listener creates for a
 * connection (inet_csk_clone_lock(), after the final ACK, a valid syncookie,
 * or a Fast Open SYN) goes to SYN_RECV from the listener's state it was
 * cloned with; tcp_create_openreq_child() counts PassiveOpens at the same
 * place. A simultaneous open also reaches SYN_RECV, from SYN_SENT: it is a
 * connect, not an accept, as for PassiveOpens. Atomic although per CPU:
 * children are made in softirq and in process context (a listener's
 * backlog), which can interrupt each other on a CPU.
 */
static __always_inline void count_open(__u16 family, int oldstate, int newstate, __u8 tier)
{
	bool connect = tcp_connect_tier == tier && oldstate == SOCK_TCP_CLOSE && newstate == SOCK_TCP_SYN_SENT;
	bool accept = tcp_accept_tier == tier && oldstate != SOCK_TCP_SYN_SENT && newstate == SOCK_TCP_SYN_RECV;
	if (!connect && !accept)
		return;
	struct socket_counters *c = counters();
	if (!c)
		return;
	bool v6 = family == SOCK_AF_INET6;
	if (!v6 && family != SOCK_AF_INET)
		return;
	if (connect)
		__sync_fetch_and_add(v6 ? &c->tcp_connect_ipv6 : &c->tcp_connect_ipv4, 1);
	else
		__sync_fetch_and_add(v6 ? &c->tcp_accept_ipv6 : &c->tcp_accept_ipv4, 1);
}

static __always_inline void on_state(__u16 family, __u16 protocol, int oldstate, int newstate, __u8 tier)
{
	if (protocol != SOCK_IPPROTO_TCP)
		return;
	if (tcp_close_tier == tier && newstate == SOCK_TCP_CLOSE && oldstate != SOCK_TCP_CLOSE)
		count_close();
	count_open(family, oldstate, newstate, tier);
}

/* TCP close: tcp_close, or a TCP socket reaching TCP_CLOSE where only tracepoints exist. */
SEC("fentry/tcp_close")
int BPF_PROG(tcp_close_fentry) { count_close(); return 0; }
SEC("kprobe/tcp_close")
int BPF_KPROBE(tcp_close_kprobe) { count_close(); return 0; }
/* Each program then runs the sock chain's next member (probes/sock_chain.bpf.h). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(tcp_state_tp_btf, struct sock *sk, int oldstate, int newstate)
{
	on_state(sock_family(sk, true), sock_protocol(sk, true), oldstate, newstate, SOCK_TIER_TP_BTF);
	SOCK_CHAIN_NEXT(ctx, sock_chain_state_tp_btf, SOCK_SLOT_SOCKET);
	return 0;
}
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(tcp_state_raw_tp, struct sock *sk, int oldstate, int newstate)
{
	on_state(sock_family(sk, false), sock_protocol(sk, false), oldstate, newstate, SOCK_TIER_RAW_TP);
	SOCK_CHAIN_NEXT(ctx, sock_chain_state_raw_tp, SOCK_SLOT_SOCKET);
	return 0;
}
SEC("tracepoint/sock/inet_sock_set_state")
int tcp_state_tracepoint(struct inet_sock_set_state_record *r)
{
	on_state(r->family, r->protocol, r->oldstate, r->newstate, SOCK_TIER_TRACEPOINT);
	SOCK_CHAIN_NEXT(r, sock_chain_state_tracepoint, SOCK_SLOT_SOCKET);
	return 0;
}

/* Retransmits: the tracepoint gained an err argument in 6.10 (it also fires for failed ones). */
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retransmit_err_tp_btf, struct sock *sk, struct sk_buff *skb, int err) { count_retransmit(skb, err); return 0; }
SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(retransmit_tp_btf, struct sock *sk, struct sk_buff *skb) { count_retransmit(skb, 0); return 0; }
SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(retransmit_err_raw_tp, struct sock *sk, struct sk_buff *skb, int err) { count_retransmit(skb, err); return 0; }
SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(retransmit_raw_tp, struct sock *sk, struct sk_buff *skb) { count_retransmit(skb, 0); return 0; }
SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit_err_tracepoint(struct tcp_retransmit_record *r) { count_retransmit(r->skbaddr, r->err); return 0; }
SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit_tracepoint(struct tcp_retransmit_record *r) { count_retransmit(r->skbaddr, 0); return 0; }

/* UDP send, IPv4 and IPv6: the result is the bytes sent. */
SEC("fentry/udp_sendmsg")
int BPF_PROG(udp_send_fentry) { count_send(false, 0, false); return 0; }
SEC("fentry/udpv6_sendmsg")
int BPF_PROG(udp6_send_fentry) { count_send(false, 0, false); return 0; }
SEC("fexit/udp_sendmsg")
int BPF_PROG(udp_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret) { count_send(false, ret, true); return 0; }
SEC("fexit/udpv6_sendmsg")
int BPF_PROG(udp6_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret) { count_send(false, ret, true); return 0; }
SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(udp_send_kprobe) { count_send(false, 0, false); return 0; }
SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(udp6_send_kprobe) { count_send(false, 0, false); return 0; }
SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(udp_send_kretprobe, int ret) { count_send(false, ret, true); return 0; }
SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(udp6_send_kretprobe, int ret) { count_send(false, ret, true); return 0; }

/* UDP receive: the result is the datagram's size (its payload copied). */
SEC("fentry/udp_recvmsg")
int BPF_PROG(udp_recv_fentry) { count_udp_recv(0, false); return 0; }
SEC("fentry/udpv6_recvmsg")
int BPF_PROG(udp6_recv_fentry) { count_udp_recv(0, false); return 0; }
SEC("fexit/udp_recvmsg")
int BPF_PROG(udp_recv_fexit)
{ __u64 ret = 0; bpf_get_func_ret(ctx, &ret); count_udp_recv((int)ret, true); return 0; }
SEC("fexit/udpv6_recvmsg")
int BPF_PROG(udp6_recv_fexit)
{ __u64 ret = 0; bpf_get_func_ret(ctx, &ret); count_udp_recv((int)ret, true); return 0; }
/* Before 5.19 the result follows six arguments (agent/kernel/btf_proto.h). */
SEC("fexit/udp_recvmsg")
int BPF_PROG(udp_recv_fexit6, void *sk, void *msg, size_t len, int noblock, int flags, int *addr_len, int ret)
{ count_udp_recv(ret, true); return 0; }
SEC("fexit/udpv6_recvmsg")
int BPF_PROG(udp6_recv_fexit6, void *sk, void *msg, size_t len, int noblock, int flags, int *addr_len, int ret)
{ count_udp_recv(ret, true); return 0; }
SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(udp_recv_kprobe) { count_udp_recv(0, false); return 0; }
SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(udp6_recv_kprobe) { count_udp_recv(0, false); return 0; }
SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(udp_recv_kretprobe, int ret) { count_udp_recv(ret, true); return 0; }
SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(udp6_recv_kretprobe, int ret) { count_udp_recv(ret, true); return 0; }

/* Each program then runs the sock chain's next member (probes/sock_chain.bpf.h). */
SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_tp_btf, struct sock *sk, int ret)
{
	if (sk)
		socket_on_send_length(sock_family(sk, true), sock_protocol(sk, true), ret, SOCK_TIER_TP_BTF);
	SOCK_CHAIN_NEXT(ctx, sock_chain_send_tp_btf, SOCK_SLOT_SOCKET);
	return 0;
}
SEC("raw_tp/sock_send_length")
int BPF_PROG(sock_send_raw_tp, struct sock *sk, int ret)
{
	if (sk)
		socket_on_send_length(sock_family(sk, false), sock_protocol(sk, false), ret, SOCK_TIER_RAW_TP);
	SOCK_CHAIN_NEXT(ctx, sock_chain_send_raw_tp, SOCK_SLOT_SOCKET);
	return 0;
}
SEC("tracepoint/sock/sock_send_length")
int sock_send_tracepoint(struct sock_msg_length_record *r)
{
	socket_on_send_length(r->family, r->protocol, r->ret, SOCK_TIER_TRACEPOINT);
	SOCK_CHAIN_NEXT(r, sock_chain_send_tracepoint, SOCK_SLOT_SOCKET);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_tp_btf, struct sock *sk, int ret, int flags)
{
	if (sk)
		socket_on_recv_length(sock_family(sk, true), sock_protocol(sk, true), ret, flags, SOCK_TIER_TP_BTF);
	SOCK_CHAIN_NEXT(ctx, sock_chain_recv_tp_btf, SOCK_SLOT_SOCKET);
	return 0;
}
SEC("raw_tp/sock_recv_length")
int BPF_PROG(sock_recv_raw_tp, struct sock *sk, int ret, int flags)
{
	if (sk)
		socket_on_recv_length(sock_family(sk, false), sock_protocol(sk, false), ret, flags, SOCK_TIER_RAW_TP);
	SOCK_CHAIN_NEXT(ctx, sock_chain_recv_raw_tp, SOCK_SLOT_SOCKET);
	return 0;
}
SEC("tracepoint/sock/sock_recv_length")
int sock_recv_tracepoint(struct sock_msg_length_record *r)
{
	socket_on_recv_length(r->family, r->protocol, r->ret, r->flags, SOCK_TIER_TRACEPOINT);
	SOCK_CHAIN_NEXT(r, sock_chain_recv_tracepoint, SOCK_SLOT_SOCKET);
	return 0;
}
