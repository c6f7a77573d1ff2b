// SPDX-License-Identifier: GPL-2.0
/*
 * The sock chain's dispatchers (probes/sock_chain_slots.h): the one program on each
 * sock:sock_{send,recv}_length hook and tier, which runs the members.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sock_chain.bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sock_send_length")
int BPF_PROG(chain_send_tp_btf) { SOCK_CHAIN_NEXT(ctx, sock_chain_send_tp_btf, 0); return 0; }
SEC("raw_tp/sock_send_length")
int BPF_PROG(chain_send_raw_tp) { SOCK_CHAIN_NEXT(ctx, sock_chain_send_raw_tp, 0); return 0; }
SEC("tracepoint/sock/sock_send_length")
int chain_send_tracepoint(void *ctx) { SOCK_CHAIN_NEXT(ctx, sock_chain_send_tracepoint, 0); return 0; }
SEC("tp_btf/sock_recv_length")
int BPF_PROG(chain_recv_tp_btf) { SOCK_CHAIN_NEXT(ctx, sock_chain_recv_tp_btf, 0); return 0; }
SEC("raw_tp/sock_recv_length")
int BPF_PROG(chain_recv_raw_tp) { SOCK_CHAIN_NEXT(ctx, sock_chain_recv_raw_tp, 0); return 0; }
SEC("tracepoint/sock/sock_recv_length")
int chain_recv_tracepoint(void *ctx) { SOCK_CHAIN_NEXT(ctx, sock_chain_recv_tracepoint, 0); return 0; }
