// SPDX-License-Identifier: GPL-2.0
/*
 * The sock chain's dispatchers (probes/sock_chain_slots.h): the one program on each
 * sock:sock_{send,recv}_length and sock:inet_sock_set_state hook and tier,
 * which runs the members.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sock_chain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define DISPATCHERS(dir)                                                                                   \
	SEC("tp_btf/sock_" #dir "_length")                                                                 \
	int BPF_PROG(chain_##dir##_tp_btf) { SOCK_CHAIN_NEXT(ctx, sock_chain_##dir##_tp_btf, 0); return 0; } \
	SEC("raw_tp/sock_" #dir "_length")                                                                 \
	int BPF_PROG(chain_##dir##_raw_tp) { SOCK_CHAIN_NEXT(ctx, sock_chain_##dir##_raw_tp, 0); return 0; } \
	SEC("tracepoint/sock/sock_" #dir "_length")                                                        \
	int chain_##dir##_tracepoint(void *ctx) { SOCK_CHAIN_NEXT(ctx, sock_chain_##dir##_tracepoint, 0); return 0; }

DISPATCHERS(send)
DISPATCHERS(recv)

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(chain_state_tp_btf) { SOCK_CHAIN_NEXT(ctx, sock_chain_state_tp_btf, 0); return 0; }
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(chain_state_raw_tp) { SOCK_CHAIN_NEXT(ctx, sock_chain_state_raw_tp, 0); return 0; }
SEC("tracepoint/sock/inet_sock_set_state")
int chain_state_tracepoint(void *ctx) { SOCK_CHAIN_NEXT(ctx, sock_chain_state_tracepoint, 0); return 0; }
