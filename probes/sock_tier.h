/*
 * The tiers of the sock:sock_{send,recv}_length programs that TCP and UDP
 * share in probes/socket.bpf.c and probes/network.bpf.c, numbered as enum
 * attach_tier numbers them (agent/core/config.h; the agent asserts they match).
 */
#ifndef BPFPUSH_SOCK_TIER_H
#define BPFPUSH_SOCK_TIER_H

#define SOCK_TIER_TP_BTF 3
#define SOCK_TIER_RAW_TP 4
#define SOCK_TIER_TRACEPOINT 5

#endif
