/*
 * network's counting of one send or receive, and what it needs: its maps,
 * its knobs and the endpoint a socket's bytes go to. probes/network.bpf.c
 * runs it from its own programs, probes/sock_fused.bpf.c from the one
 * program that also runs socket's and apps' (docs/design.md, "The sock
 * chain"). What network's kernel side does as a whole: probes/network.bpf.c.
 */
#ifndef BPFPUSH_NETWORK_COUNT_BPF_H
#define BPFPUSH_NETWORK_COUNT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "network.h"
#include "sock.bpf.h"


struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NET_ENDPOINTS_MAX);
	/*
	 * Not preallocated: an entry userspace deletes is freed after RCU, never reused under a
	 * running program (preallocated before 6.1 instead, see agent/kernel/btf_proto.h).
	 */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct net_endpoint_key);
	__type(value, struct net_endpoint_value);
} net_endpoints SEC(".maps");

/*
 * Not preallocated where the kernel allocates safely (6.1+): preallocated it
 * held 5 MiB for 65536 connections on a host that had a few.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, NET_CONNECTIONS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64); /* the struct sock */
	__type(value, struct net_connection);
} net_connections SEC(".maps");

/*
 * The same, kept on the socket itself where every program that reads or
 * writes it is a tp_btf or fentry/fexit one and the kernel lets those use
 * socket-local storage (5.11+): found through the socket's own list rather
 * than by hashing its address, and freed with the socket, so bytes read
 * after TCP_CLOSE (data queued before a reset) still find it. The agent decides
 * (conn_on_socket); raw_tp, classic tracepoint and kprobe programs cannot
 * reach it and keep net_connections.
 *
 * Where the agent also counts on the socket (counts_on_socket, 5.12+: it needs
 * the atomics with fetch below), a TCP connection's bytes are added here, on
 * the socket, and moved into its endpoint's entry of net_endpoints (flush())
 * at each collect, by one of the iterators in probes/network.bpf.c, and when
 * the connection closes: a send or receive then costs no endpoint key and no
 * hash lookup (docs/design.md "network's TCP bytes on the socket").
 */
struct net_sock_state {
	struct net_connection conn; /* valid when conn_known */
	__u32 conn_known;
	__u32 pad;
	__u64 closed; /* TCP_CLOSE seen: every later byte is moved at once (64 bits: the atomics' width) */
	__u64 sent;
	__u64 recv;
	__u64 sent_flushed; /* how much of sent is in net_endpoints */
	__u64 recv_flushed;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct net_sock_state);
} net_conn_storage SEC(".maps");

const volatile bool conn_on_socket = false;
const volatile bool counts_on_socket = false;
/*
 * Not 0: only sockets of the network namespace of this inode number count on
 * the socket, the others in net_endpoints as before. Where the kernel refuses
 * map iterators the collect's pass runs over TCP sockets, and it sees only
 * its own namespace's (agent/modules/network.c).
 */
const volatile __u32 counts_netns = 0;

PERCPU_COUNTERS(net_counters, net_counters);

/* Is a socket's direction kept on the socket itself? trusted: a tp_btf or fentry/fexit program's socket. */
static __always_inline bool kept_on_socket(bool trusted)
{
	return trusted && conn_on_socket;
}

/* The direction kept for a socket's connection. */
static __always_inline struct net_connection *connection_of(const struct sock *sk, bool trusted)
{
	if (kept_on_socket(trusted)) {
		struct net_sock_state *s = bpf_sk_storage_get(&net_conn_storage, (struct sock *)sk, 0, 0);
		return s && s->conn_known ? &s->conn : NULL;
	}
	__u64 skaddr = (__u64)sk;
	return bpf_map_lookup_elem(&net_connections, &skaddr);
}

/* Keep conn for the socket's connection; false when there is no room. */
static __always_inline bool connection_keep(const struct sock *sk, const struct net_connection *conn, bool trusted)
{
	if (kept_on_socket(trusted)) {
		struct net_sock_state *s =
			bpf_sk_storage_get(&net_conn_storage, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!s)
			return false;
		s->conn = *conn;
		s->conn_known = 1;
		return true;
	}
	__u64 skaddr = (__u64)sk;
	return !bpf_map_update_elem(&net_connections, &skaddr, conn, BPF_ANY);
}

enum endpoint_field { FIELD_SENT, FIELD_RECV, FIELD_OPENED, FIELD_CLOSED };

static __always_inline void endpoint_add(const struct net_endpoint_key *key, enum endpoint_field field, __u64 n)
{
	struct net_endpoint_value *v = bpf_map_lookup_elem(&net_endpoints, key);
	if (!v) {
		struct net_endpoint_value zero = {};
		if (bpf_map_update_elem(&net_endpoints, key, &zero, BPF_NOEXIST) == -7 /* E2BIG: full */) {
			struct net_counters *c = percpu_slot(&net_counters);
			if (c)
				c->endpoints_full++;
			return;
		}
		v = bpf_map_lookup_elem(&net_endpoints, key);
		if (!v)
			return;
	}
	switch (field) {
	case FIELD_SENT: __sync_fetch_and_add(&v->sent, n); break;
	case FIELD_RECV: __sync_fetch_and_add(&v->recv, n); break;
	case FIELD_OPENED: __sync_fetch_and_add(&v->opened, n); break;
	case FIELD_CLOSED: __sync_fetch_and_add(&v->closed, n); break;
	}
}

/* The service side of two ports: the lower one, as servers listen low and clients get ephemeral ports. */
static __always_inline __u32 direction_from_ports(__u16 local, __u16 remote)
{
	return local && local < remote ? NET_DIRECTION_IN : NET_DIRECTION_OUT;
}

static __always_inline void set_peer_from_sock(struct net_endpoint_key *key, const struct sock *sk, bool trusted)
{
	if (key->family == SOCK_AF_INET) {
		__u32 daddr = KERNEL_FIELD(trusted, sk, __sk_common.skc_daddr);
		__builtin_memcpy(key->addr, &daddr, 4);
	} else if (trusted) {
		__builtin_memcpy(key->addr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
	} else {
		BPF_CORE_READ_INTO(&key->addr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	key->peer_known = 1;
}

/*
 * The local port of a TCP socket. From TCP_CLOSE on, unless its owner bound
 * it, the port is released (skc_num 0; before the state change is traced),
 * but the source port the connection used stays in inet_sport: its close
 * and the bytes read after it (data queued before a reset) keep their endpoint.
 */
static __always_inline __u16 tcp_local_port(const struct sock *sk, bool trusted)
{
	__u16 local = KERNEL_FIELD(trusted, sk, __sk_common.skc_num);
	return local ? local : bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

/*
 * The endpoint of a TCP socket's traffic: its peer read from the socket; the
 * direction and service port from the handshake when it was seen (conn),
 * else from the socket's ports.
 */
static __always_inline bool endpoint_of(const struct sock *sk, __u16 protocol, const struct net_connection *conn,
					struct net_endpoint_key *key, bool trusted)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->family = sock_family(sk, trusted);
	if (!family_is_inet(key->family))
		return false;
	key->proto = protocol;
	if (conn) {
		key->direction = conn->direction;
		key->port = conn->port;
	} else {
		__u16 local = tcp_local_port(sk, trusted);
		__u16 remote = bpf_ntohs(KERNEL_FIELD(trusted, sk, __sk_common.skc_dport));
		key->direction = direction_from_ports(local, remote);
		key->port = key->direction == NET_DIRECTION_OUT ? remote : local;
	}
	set_peer_from_sock(key, sk, trusted);
	return true;
}

/*
 * Where counts_on_socket is 0 (probes/network_tableonly.bpf.c, the build
 * kernels before 5.12 load), no program holds the atomics with fetch below:
 * those kernels refuse a program holding one, even one never reached.
 */
#ifndef NET_SOCKET_COUNTS
#define NET_SOCKET_COUNTS 1
#endif

/* Movers that lose this many exchanges in a row leave the rest to the next mover. */
#define FLUSH_TRIES 8

/*
 * Move the bytes of one field the socket counted since the last move into
 * its endpoint's entry. A mover claims what it adds by advancing *_flushed
 * with a compare-and-exchange: two movers at once (a collect's and a
 * close's) never add the same bytes, and one that loses reads again and
 * moves what is left.
 */
static __always_inline void flush_field(struct net_sock_state *s, const struct net_endpoint_key *key,
					enum endpoint_field field)
{
#if NET_SOCKET_COUNTS
	__u64 *count = field == FIELD_SENT ? &s->sent : &s->recv;
	__u64 *flushed = field == FIELD_SENT ? &s->sent_flushed : &s->recv_flushed;
	for (int i = 0; i < FLUSH_TRIES; i++) {
		__u64 done = *(volatile __u64 *)flushed, now = *(volatile __u64 *)count;
		if (now == done)
			return;
		if (__sync_val_compare_and_swap(flushed, done, now) == done) {
			endpoint_add(key, field, now - done);
			return;
		}
	}

#endif
}

/* Move what a socket counted into its endpoint's entry of net_endpoints. */
static __always_inline void flush(const struct sock *sk, struct net_sock_state *s)
{
	if (s->sent == s->sent_flushed && s->recv == s->recv_flushed)
		return;
	struct net_endpoint_key key;
	if (!endpoint_of(sk, SOCK_IPPROTO_TCP, s->conn_known ? &s->conn : NULL, &key, true))
		return;
	flush_field(s, &key, FIELD_SENT);
	flush_field(s, &key, FIELD_RECV);
}

/*
 * Count a TCP send or receive on its socket; false when the socket has no
 * room for it (the caller counts it in net_endpoints). After the close every
 * byte is moved at once: the socket may be freed before the next collect.
 * The add is a fetching one, ordered before the read of closed as on_state's
 * exchange of closed is ordered before its move: of an add and a close at
 * once, one sees the other, and no byte stays behind on a closed socket.
 * The socket's own state covers the one race left: a first count creating
 * the storage while the close, finding none, creates it too and loses.
 */
static __always_inline bool count_on_socket(const struct sock *sk, enum endpoint_field field, long bytes)
{
#if NET_SOCKET_COUNTS
	struct net_sock_state *s =
		bpf_sk_storage_get(&net_conn_storage, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return false;
	/* The result is used so that the add is the fetching, fully ordered one. */
	__u64 before = __sync_fetch_and_add(field == FIELD_SENT ? &s->sent : &s->recv, (__u64)bytes);
	if (*(volatile __u64 *)&s->closed || sk->__sk_common.skc_state == SOCK_TCP_CLOSE || before == ~0ULL)
		flush(sk, s);
	return true;
#else
	return false;
#endif
}

/*
 * A TCP connection closes: every later byte on its socket is moved at once,
 * and what it holds now goes. A socket that counted nothing yet gets its
 * storage now, marked: data queued before a reset is read after the close.
 */
static __always_inline void close_on_socket(const struct sock *sk)
{
	struct net_sock_state *s =
		bpf_sk_storage_get(&net_conn_storage, (struct sock *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!s)
		return;
#if NET_SOCKET_COUNTS
	__sync_lock_test_and_set(&s->closed, 1);
#endif
	flush(sk, s);
}

/* It connects again (after connect(AF_UNSPEC)): its counts so far go to the last peer, its direction is new. */
static __always_inline void reconnect_on_socket(const struct sock *sk)
{
	struct net_sock_state *s = bpf_sk_storage_get(&net_conn_storage, (struct sock *)sk, 0, 0);
	if (!s)
		return;
	flush(sk, s);
	s->conn_known = 0;
	s->closed = 0;
}

/* Does this socket count on itself (counts_netns)? */
static __always_inline bool counts_here(const struct sock *sk)
{
	return !counts_netns || sk->__sk_common.skc_net.net->ns.inum == counts_netns;
}

static __always_inline void tcp_traffic(const struct sock *sk, enum endpoint_field field, long bytes, bool trusted)
{
	if (bytes <= 0)
		return;
	if (trusted && counts_on_socket && counts_here(sk) && count_on_socket(sk, field, bytes))
		return;
	struct net_connection *conn = connection_of(sk, trusted);
	struct net_endpoint_key key;
	if (endpoint_of(sk, SOCK_IPPROTO_TCP, conn, &key, trusted))
		endpoint_add(&key, field, bytes);
}

/* inet_bind() sets it in sk_userlocks when the caller named a port (include/net/sock.h). */
#define SOCK_BINDPORT_LOCK 8

/*
 * Did this socket's owner bind() it to a port of its choosing? A 4-bit
 * field on older kernels, a byte on newer ones: the probed bitfield read
 * serves both, on every tier.
 */
static __always_inline bool port_chosen(const struct sock *sk)
{
	return BPF_CORE_READ_BITFIELD_PROBED(sk, sk_userlocks) & SOCK_BINDPORT_LOCK;
}

/*
 * A datagram: the peer is the connected one, else the address the call
 * carried, else unknown. The direction is the socket side's role, never the
 * port order: a connected socket is the side that called connect(), so
 * outbound to the peer's port (a client bound below its server's port
 * included); an unconnected one with a port it bound is a server (inbound,
 * its own port); an unconnected one the kernel gave an ephemeral port is a
 * client using sendto() (outbound). A datagram whose peer is not seen is
 * inbound on the local port.
 */
static __always_inline void udp_traffic(const struct sock *sk, const struct sockaddr *addr, enum endpoint_field field,
					long bytes, bool trusted)
{
	if (bytes <= 0)
		return;
	struct net_endpoint_key key = {};
	key.family = sock_family(sk, trusted);
	if (!family_is_inet(key.family))
		return;
	key.proto = SOCK_IPPROTO_UDP;
	__u16 local = KERNEL_FIELD(trusted, sk, __sk_common.skc_num);
	__u16 remote = bpf_ntohs(KERNEL_FIELD(trusted, sk, __sk_common.skc_dport));
	bool connected = remote != 0;
	if (connected) {
		set_peer_from_sock(&key, sk, trusted);
	} else if (addr) {
		__u16 family = BPF_CORE_READ(addr, sa_family);
		if (family == SOCK_AF_INET) {
			const struct sockaddr_in *in = (const void *)addr;
			__u32 a = BPF_CORE_READ(in, sin_addr.s_addr);
			__builtin_memcpy(key.addr, &a, 4);
			remote = bpf_ntohs(BPF_CORE_READ(in, sin_port));
			key.peer_known = 1;
		} else if (family == SOCK_AF_INET6) {
			const struct sockaddr_in6 *in6 = (const void *)addr;
			BPF_CORE_READ_INTO(&key.addr, in6, sin6_addr.in6_u.u6_addr8);
			remote = bpf_ntohs(BPF_CORE_READ(in6, sin6_port));
			key.peer_known = 1;
		}
	}
	if (connected)
		key.direction = NET_DIRECTION_OUT;
	else if (key.peer_known && !port_chosen(sk))
		key.direction = NET_DIRECTION_OUT;
	else
		key.direction = NET_DIRECTION_IN;
	key.port = key.direction == NET_DIRECTION_OUT ? remote : local;
	endpoint_add(&key, field, bytes);
}

/*
 * sock:sock_send_length / sock_recv_length see every family and both
 * protocols: one program per tier serves both (a program run costs about
 * what the counting does). *_tier: the enum attach_tier of the program the
 * protocol's event chose, 0 when it is counted on its protocol function;
 * constants at load, so a protocol is never counted twice.
 */
const volatile __u8 net_tcp_send_tier = 0, net_tcp_recv_tier = 0, net_udp_send_tier = 0, net_udp_recv_tier = 0;

static __always_inline void network_on_length(const struct sock *sk, __u16 protocol, int ret, int flags, bool send, __u8 tier,
				      bool trusted)
{
	if (!sk || (!send && (flags & SOCK_MSG_PEEK)))
		return;
	enum endpoint_field field = send ? FIELD_SENT : FIELD_RECV;
	if (protocol == SOCK_IPPROTO_TCP && (send ? net_tcp_send_tier : net_tcp_recv_tier) == tier)
		tcp_traffic(sk, field, ret, trusted);
	else if (protocol == SOCK_IPPROTO_UDP && (send ? net_udp_send_tier : net_udp_recv_tier) == tier)
		udp_traffic(sk, NULL, field, ret, trusted);
}

#endif
