/*
 * A sock chain member's side (probes/sock_chain_slots.h): the nine slot tables, one
 * per hook and tier (a table holds programs of one type and hook), which the
 * agent hands every member before load, and the jump to the next member.
 * Without the agent's tables (a test loading one object) they are the
 * object's own, empty: every jump fails and the program just returns.
 */
#ifndef BPFPUSH_SOCK_CHAIN_BPF_H
#define BPFPUSH_SOCK_CHAIN_BPF_H

#include "sock_chain_slots.h"

#define SOCK_CHAIN_TABLE(name)                                                                             \
	struct {                                                                                           \
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);                                                     \
		__uint(max_entries, SOCK_CHAIN_SLOTS);                                                     \
		__type(key, __u32);                                                                        \
		__type(value, __u32);                                                                      \
	} name SEC(".maps")

SOCK_CHAIN_TABLE(sock_chain_send_tp_btf);
SOCK_CHAIN_TABLE(sock_chain_send_raw_tp);
SOCK_CHAIN_TABLE(sock_chain_send_tracepoint);
SOCK_CHAIN_TABLE(sock_chain_recv_tp_btf);
SOCK_CHAIN_TABLE(sock_chain_recv_raw_tp);
SOCK_CHAIN_TABLE(sock_chain_recv_tracepoint);
SOCK_CHAIN_TABLE(sock_chain_state_tp_btf);
SOCK_CHAIN_TABLE(sock_chain_state_raw_tp);
SOCK_CHAIN_TABLE(sock_chain_state_tracepoint);

/*
 * Run the members after slot `after` (0: all): a tail call to the first slot
 * filled does not return, an empty slot falls through to the next. The slots
 * are constants, so the JIT makes each jump a direct one.
 */
#define SOCK_CHAIN_NEXT(ctx, table, after)                                                                 \
	do {                                                                                               \
		if ((after) < SOCK_SLOT_SOCKET)                                                            \
			bpf_tail_call(ctx, &(table), SOCK_SLOT_SOCKET);                                    \
		if ((after) < SOCK_SLOT_NETWORK)                                                           \
			bpf_tail_call(ctx, &(table), SOCK_SLOT_NETWORK);                                   \
		if ((after) < SOCK_SLOT_APPS)                                                              \
			bpf_tail_call(ctx, &(table), SOCK_SLOT_APPS);                                      \
	} while (0)

#endif
