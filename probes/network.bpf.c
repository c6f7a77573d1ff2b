// SPDX-License-Identifier: GPL-2.0
/*
 * network: bytes and TCP connections per remote endpoint. Counts live in a
 * bounded hash of endpoints that userspace reads, filters and ranks; the
 * kernel side does no filtering, so a filter change needs no reload.
 * Which side opened a TCP connection is known only at its handshake, so
 * the direction of each connection is kept by socket from ESTABLISHED (on
 * the socket until it is freed or connects again, in net_connections until
 * TCP_CLOSE), except where its ports already say it (the lower port is the
 * service); such a connection, and one that was already open when the
 * agent started, gets the direction its ports suggest. UDP has no
 * handshake; its direction comes from what the socket's side did, as the
 * kernel recorded it: udp_traffic().
 */
#include "network_count.bpf.h"
#include "sock_chain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Each collect runs one of these passes (agent/modules/network.c), which
 * moves every counting socket's bytes so far: over the storage map itself,
 * or where the kernel refuses map iterators, over the TCP sockets of the
 * agent's network namespace, the only ones counting on the socket then.
 */
SEC("iter/bpf_sk_storage_map")
int net_flush_sockets(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	struct net_sock_state *s = ctx->value;
	if (sk && s)
		flush(sk, s);
	return 0;
}

SEC("iter/tcp")
int net_flush_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp = skc ? bpf_skc_to_tcp_sock(skc) : NULL;
	if (!tp)
		return 0; /* a request or time-wait socket: never counts */
	struct sock *sk = &tp->inet_conn.icsk_inet.sk;
	struct net_sock_state *s = bpf_sk_storage_get(&net_conn_storage, sk, 0, 0);
	if (s)
		flush(sk, s);
	return 0;
}

static __always_inline bool is_open_state(int state)
{
	/* ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING */
	return state == 1 || state == 4 || state == 5 || state == 8 || state == 9 || state == 11;
}

static __always_inline void on_state(const struct sock *sk, __u16 protocol, int oldstate, int newstate, bool trusted)
{
	if (protocol != SOCK_IPPROTO_TCP)
		return;
	struct net_endpoint_key key;
	if (newstate == SOCK_TCP_ESTABLISHED && (oldstate == SOCK_TCP_SYN_SENT || oldstate == SOCK_TCP_SYN_RECV)) {
		struct net_connection conn = { .direction = oldstate == SOCK_TCP_SYN_SENT ? NET_DIRECTION_OUT
										  : NET_DIRECTION_IN };
		__u16 local = KERNEL_FIELD(trusted, sk, __sk_common.skc_num);
		__u16 remote = bpf_ntohs(KERNEL_FIELD(trusted, sk, __sk_common.skc_dport));
		conn.port = conn.direction == NET_DIRECTION_OUT ? remote : local;
		/*
		 * Not kept where the ports say the same (the lower port is the
		 * service), the common case, as they keep saying it after the
		 * close too (tcp_local_port). Where directions live
		 * on the socket, such a socket carries no storage and is found
		 * empty at once: the send and receive programs run ~65 ns shorter
		 * (their run_time_ns on 6.18), though a loopback TCP pair shows it
		 * within the noise (scripts/bench/overhead --baseline); in
		 * net_connections it takes no room.
		 */
		bool ports_tell = conn.direction == direction_from_ports(local, remote);
		if (!ports_tell && !connection_keep(sk, &conn, trusted)) {
			struct net_counters *c = percpu_slot(&net_counters);
			if (c)
				c->connections_full++;
		}
		if (endpoint_of(sk, protocol, &conn, &key, trusted))
			endpoint_add(&key, FIELD_OPENED, 1);
	} else if (newstate == SOCK_TCP_CLOSE && oldstate != SOCK_TCP_CLOSE) {
		struct net_connection *conn = connection_of(sk, trusted);
		if (!conn && !is_open_state(oldstate))
			return; /* never opened: a failed connect, a listener */
		if (endpoint_of(sk, protocol, conn, &key, trusted))
			endpoint_add(&key, FIELD_CLOSED, 1);
		/*
		 * On the socket the direction stays for the bytes read after the close,
		 * and goes with the socket. net_connections is keyed by the socket's
		 * address, which a later socket may get: its entry goes now, and
		 * those bytes take the direction of the ports.
		 */
		if (trusted && counts_on_socket && counts_here(sk))
			close_on_socket(sk);
		else if (conn && !kept_on_socket(trusted)) {
			__u64 skaddr = (__u64)sk;
			bpf_map_delete_elem(&net_connections, &skaddr);
		}
	} else if (newstate == SOCK_TCP_SYN_SENT && oldstate == SOCK_TCP_CLOSE && kept_on_socket(trusted)) {
		/* A socket connecting again (after connect(AF_UNSPEC)): its last connection's direction is not this one's. */
		if (counts_on_socket && counts_here(sk))
			reconnect_on_socket(sk);
		else
			bpf_sk_storage_delete(&net_conn_storage, (struct sock *)sk);
	}
}

/* Each program then runs the sock chain's next member (probes/sock_chain.bpf.h). */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(net_state_tp_btf, struct sock *sk, int oldstate, int newstate)
{
	on_state(sk, sock_protocol(sk, true), oldstate, newstate, true);
	SOCK_CHAIN_NEXT(ctx, sock_chain_state_tp_btf, SOCK_SLOT_NETWORK);
	return 0;
}
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(net_state_raw_tp, struct sock *sk, int oldstate, int newstate)
{
	on_state(sk, sock_protocol(sk, false), oldstate, newstate, false);
	SOCK_CHAIN_NEXT(ctx, sock_chain_state_raw_tp, SOCK_SLOT_NETWORK);
	return 0;
}
SEC("tracepoint/sock/inet_sock_set_state")
int net_state_tracepoint(struct inet_sock_set_state_record *r)
{
	on_state(r->skaddr, r->protocol, r->oldstate, r->newstate, false);
	SOCK_CHAIN_NEXT(r, sock_chain_state_tracepoint, SOCK_SLOT_NETWORK);
	return 0;
}

/*
 * endpoint_of() and udp_traffic() read the family and skip all but AF_INET and
 * AF_INET6. Each program then runs the sock chain's next member (probes/sock_chain.bpf.h).
 */
#define LENGTH_PROGRAMS(dir, SEND)                                                                          \
	SEC("tp_btf/sock_" #dir "_length")                                                                  \
	int BPF_PROG(net_##dir##_tp_btf, struct sock *sk, int ret, int flags)                              \
	{                                                                                                   \
		if (sk)                                                                                     \
			network_on_length(sk, sock_protocol(sk, true), ret, flags, SEND, SOCK_TIER_TP_BTF, true);   \
		SOCK_CHAIN_NEXT(ctx, sock_chain_##dir##_tp_btf, SOCK_SLOT_NETWORK);                         \
		return 0;                                                                                   \
	}                                                                                                   \
	SEC("raw_tp/sock_" #dir "_length")                                                                  \
	int BPF_PROG(net_##dir##_raw_tp, struct sock *sk, int ret, int flags)                              \
	{                                                                                                   \
		if (sk)                                                                                     \
			network_on_length(sk, sock_protocol(sk, false), ret, flags, SEND, SOCK_TIER_RAW_TP, false); \
		SOCK_CHAIN_NEXT(ctx, sock_chain_##dir##_raw_tp, SOCK_SLOT_NETWORK);                         \
		return 0;                                                                                   \
	}                                                                                                   \
	SEC("tracepoint/sock/sock_" #dir "_length")                                                         \
	int net_##dir##_tracepoint(struct sock_msg_length_record *r)                                        \
	{                                                                                                   \
		network_on_length(r->sk, r->protocol, r->ret, r->flags, SEND, SOCK_TIER_TRACEPOINT, false);        \
		SOCK_CHAIN_NEXT(r, sock_chain_##dir##_tracepoint, SOCK_SLOT_NETWORK);                       \
		return 0;                                                                                   \
	}

LENGTH_PROGRAMS(send, true)
LENGTH_PROGRAMS(recv, false)

/* Kernels before 6.3 have no sock:* tracepoints: the protocol functions, where their results are seen. */
SEC("fexit/tcp_sendmsg")
int BPF_PROG(net_tcp_send_fexit, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{ tcp_traffic(sk, FIELD_SENT, ret, true); return 0; }
SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(net_tcp_recv_fentry, struct sock *sk, int copied) { tcp_traffic(sk, FIELD_RECV, copied, true); return 0; }
SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(net_tcp_recv_kprobe, struct sock *sk, int copied) { tcp_traffic(sk, FIELD_RECV, copied, false); return 0; }

static __always_inline void udp_call_done(struct sock *sk, struct msghdr *msg, long ret, bool send)
{
	struct sockaddr *addr = msg ? BPF_CORE_READ(msg, msg_name) : NULL;
	udp_traffic(sk, addr, send ? FIELD_SENT : FIELD_RECV, ret, true); /* fexit: a trusted sk */
}

SEC("fexit/udp_sendmsg")
int BPF_PROG(net_udp_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{ udp_call_done(sk, msg, ret, true); return 0; }
SEC("fexit/udpv6_sendmsg")
int BPF_PROG(net_udp6_send_fexit, struct sock *sk, struct msghdr *msg, size_t len, int ret)
{ udp_call_done(sk, msg, ret, true); return 0; }
SEC("fexit/udp_recvmsg")
int BPF_PROG(net_udp_recv_fexit, struct sock *sk, struct msghdr *msg)
{ __u64 ret = 0; bpf_get_func_ret(ctx, &ret); udp_call_done(sk, msg, (int)ret, false); return 0; }
SEC("fexit/udpv6_recvmsg")
int BPF_PROG(net_udp6_recv_fexit, struct sock *sk, struct msghdr *msg)
{ __u64 ret = 0; bpf_get_func_ret(ctx, &ret); udp_call_done(sk, msg, (int)ret, false); return 0; }
/*
 * Before 5.19 the receive functions took six arguments (a noblock flag
 * before flags), so the result sits after them: the same count without
 * bpf_get_func_ret, which 5.10-5.16 lack (agent/kernel/btf_proto.h).
 */
SEC("fexit/udp_recvmsg")
int BPF_PROG(net_udp_recv_fexit6, struct sock *sk, struct msghdr *msg, size_t len, int noblock, int flags,
	     int *addr_len, int ret)
{ udp_call_done(sk, msg, ret, false); return 0; }
SEC("fexit/udpv6_recvmsg")
int BPF_PROG(net_udp6_recv_fexit6, struct sock *sk, struct msghdr *msg, size_t len, int noblock, int flags,
	     int *addr_len, int ret)
{ udp_call_done(sk, msg, ret, false); return 0; }

/*
 * Where fexit does not attach (arm64 before 6.4: no ftrace direct calls for
 * BPF trampolines) the results come from kretprobes, which see only the return value: the entry keeps the call's
 * socket and message per thread for its return. Both arguments lead the
 * receive functions' lists before and after 5.19. Not preallocated, and one
 * entry where these ways are not taken (agent/modules/network.c).
 */
struct net_call {
	__u64 sk;
	__u64 msg;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NET_CALLS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64); /* the thread: bpf_get_current_pid_tgid() */
	__type(value, struct net_call);
} net_calls SEC(".maps");

static __always_inline void call_entered(const struct sock *sk, const struct msghdr *msg)
{
	__u64 thread = bpf_get_current_pid_tgid();
	struct net_call call = { .sk = (__u64)sk, .msg = (__u64)msg };
	if (bpf_map_update_elem(&net_calls, &thread, &call, BPF_ANY)) {
		struct net_counters *c = percpu_slot(&net_counters);
		if (c)
			c->calls_full++;
	}
}

static __always_inline void call_returned(long ret, bool tcp, bool send)
{
	__u64 thread = bpf_get_current_pid_tgid();
	struct net_call *call = bpf_map_lookup_elem(&net_calls, &thread);
	if (!call)
		return;
	const struct sock *sk = (const struct sock *)call->sk;
	const struct msghdr *msg = (const struct msghdr *)call->msg;
	bpf_map_delete_elem(&net_calls, &thread);
	if (tcp) {
		tcp_traffic(sk, FIELD_SENT, ret, false);
		return;
	}
	struct sockaddr *addr = msg ? BPF_CORE_READ(msg, msg_name) : NULL;
	udp_traffic(sk, addr, send ? FIELD_SENT : FIELD_RECV, ret, false);
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(net_tcp_send_kprobe, struct sock *sk, struct msghdr *msg) { call_entered(sk, msg); return 0; }
SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(net_tcp_send_kretprobe, int ret) { call_returned(ret, true, true); return 0; }
SEC("kprobe/udp_sendmsg")
int BPF_KPROBE(net_udp_send_kprobe, struct sock *sk, struct msghdr *msg) { call_entered(sk, msg); return 0; }
SEC("kprobe/udpv6_sendmsg")
int BPF_KPROBE(net_udp6_send_kprobe, struct sock *sk, struct msghdr *msg) { call_entered(sk, msg); return 0; }
SEC("kretprobe/udp_sendmsg")
int BPF_KRETPROBE(net_udp_send_kretprobe, int ret) { call_returned(ret, false, true); return 0; }
SEC("kretprobe/udpv6_sendmsg")
int BPF_KRETPROBE(net_udp6_send_kretprobe, int ret) { call_returned(ret, false, true); return 0; }
SEC("kprobe/udp_recvmsg")
int BPF_KPROBE(net_udp_recv_kprobe, struct sock *sk, struct msghdr *msg) { call_entered(sk, msg); return 0; }
SEC("kprobe/udpv6_recvmsg")
int BPF_KPROBE(net_udp6_recv_kprobe, struct sock *sk, struct msghdr *msg) { call_entered(sk, msg); return 0; }
SEC("kretprobe/udp_recvmsg")
int BPF_KRETPROBE(net_udp_recv_kretprobe, int ret) { call_returned(ret, false, false); return 0; }
SEC("kretprobe/udpv6_recvmsg")
int BPF_KRETPROBE(net_udp6_recv_kretprobe, int ret) { call_returned(ret, false, false); return 0; }
