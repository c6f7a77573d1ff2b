/*
 * What the socket, network and apps probes read from a struct sock, once:
 * its fields and protocol (the sock:* tracepoints fire for every family), and
 * the layouts of the classic tracepoints they share.
 */
#ifndef BPFPUSH_SOCK_BPF_H
#define BPFPUSH_SOCK_BPF_H

#include "bpfpush.bpf.h"

#define SOCK_AF_INET 2
#define SOCK_AF_INET6 10
#define SOCK_IPPROTO_TCP 6
#define SOCK_IPPROTO_UDP 17
#define SOCK_TCP_ESTABLISHED 1
#define SOCK_TCP_SYN_SENT 2
#define SOCK_TCP_SYN_RECV 3
#define SOCK_TCP_CLOSE 7
#define SOCK_TCP_LISTEN 10
#define SOCK_TCP_NEW_SYN_RECV 12
#define SOCK_MSG_PEEK 2

/* trusted: the program's sk is a BTF pointer (tp_btf, fentry/fexit): plain loads, see KERNEL_FIELD. */
static __always_inline __u16 sock_family(const struct sock *sk, bool trusted)
{
	return KERNEL_FIELD(trusted, sk, __sk_common.skc_family);
}

static __always_inline __u16 sock_protocol(const struct sock *sk, bool trusted)
{
	return KERNEL_FIELD(trusted, sk, sk_protocol);
}

/* The sock:* tracepoints fire for every family: IPv4 and IPv6 are what the modules count. */
static __always_inline bool family_is_inet(__u16 family)
{
	return family == SOCK_AF_INET || family == SOCK_AF_INET6;
}

/* The classic tracepoints' records, written out: vmlinux.h is one kernel's, these are stable. */
struct sock_msg_length_record {
	unsigned long long common;
	const void *sk;
	__u16 family;
	__u16 protocol;
	int ret;
	int flags;
};

struct inet_sock_set_state_record {
	unsigned long long common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

/*
 * The segments a retransmitted packet holds, as RetransSegs counts them:
 * tcp_skb_pcount(), the tcp_gso_segs of the TCP control block in skb->cb.
 * A GSO packet (loopback, TSO, a small MSS) holds many. The skb is the one
 * in the retransmit queue: its control block is TCP's, for every tier.
 * socket.tcp.retransmits and apps.tcp_retransmits both count this way.
 */
static __always_inline __u64 tcp_retransmit_segments(const struct sk_buff *skb)
{
	const struct tcp_skb_cb *cb = (const void *)skb + bpf_core_field_offset(struct sk_buff, cb);
	__u16 segs = 0;
	if (!skb || bpf_core_read(&segs, sizeof(segs), &cb->tcp_gso_segs))
		return 1;
	return segs;
}

/* The classic tcp:tcp_retransmit_skb record (fixed layout, read without CO-RE). */
struct tcp_retransmit_record {
	unsigned long long common;
	const void *skbaddr;
	const void *skaddr;
	int state;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u8 saddr[4];
	__u8 daddr[4];
	__u8 saddr_v6[16];
	__u8 daddr_v6[16];
	int err; /* 6.10+: the classic record ends before it on older kernels */
};

#endif
