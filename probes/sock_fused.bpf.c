// SPDX-License-Identifier: GPL-2.0
/*
 * The sock chain's three members in one program (docs/design.md, "The sock
 * chain"): where socket, network and apps all count on the same
 * sock:sock_{send,recv}_length hook and tier, the agent loads this object
 * with the members' own maps and knobs (agent/kernel/sock_fuse.c) and puts
 * its program in socket's slot. It does what the three members' programs
 * do, from the same code (probes/socket_count.bpf.h,
 * probes/network_count.bpf.h, probes/apps_net.bpf.h), in one program run:
 * no tail call after the dispatcher's, and the socket's fields read once.
 * It jumps to no member after it: the members' slots stay filled, unreached.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "apps_net.bpf.h"
#include "network_count.bpf.h"
#include "socket_count.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* One send or receive: what socket's, network's and apps' programs for this tier do, in their order. */
static __always_inline void on_length(const struct sock *sk, __u16 family, __u16 protocol, int ret, int flags,
				      bool send, __u8 tier, bool trusted)
{
	if (send)
		socket_on_send_length(family, protocol, ret, tier);
	else
		socket_on_recv_length(family, protocol, ret, flags, tier);
	network_on_length(sk, protocol, ret, flags, send, tier, trusted);
	if (!apps_counts_protocol(family, protocol))
		return;
	if (send)
		apps_on_send_length(sk, protocol == SOCK_IPPROTO_TCP, ret);
	else
		apps_on_recv_length(protocol == SOCK_IPPROTO_TCP, ret, flags);
}

#define FUSED_PROGRAMS(dir, SEND)                                                                           \
	SEC("tp_btf/sock_" #dir "_length")                                                                  \
	int BPF_PROG(fused_##dir##_tp_btf, struct sock *sk, int ret, int flags)                            \
	{                                                                                                   \
		if (sk)                                                                                     \
			on_length(sk, sock_family(sk, true), sock_protocol(sk, true), ret, flags, SEND,     \
				  SOCK_TIER_TP_BTF, true);                                                  \
		return 0;                                                                                   \
	}                                                                                                   \
	SEC("raw_tp/sock_" #dir "_length")                                                                  \
	int BPF_PROG(fused_##dir##_raw_tp, struct sock *sk, int ret, int flags)                            \
	{                                                                                                   \
		if (sk)                                                                                     \
			on_length(sk, sock_family(sk, false), sock_protocol(sk, false), ret, flags, SEND,   \
				  SOCK_TIER_RAW_TP, false);                                                 \
		return 0;                                                                                   \
	}                                                                                                   \
	SEC("tracepoint/sock/sock_" #dir "_length")                                                         \
	int fused_##dir##_tracepoint(struct sock_msg_length_record *r)                                      \
	{                                                                                                   \
		on_length(r->sk, r->family, r->protocol, r->ret, r->flags, SEND, SOCK_TIER_TRACEPOINT, false); \
		return 0;                                                                                   \
	}

FUSED_PROGRAMS(send, true)
FUSED_PROGRAMS(recv, false)
