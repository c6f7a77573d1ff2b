/* Shared by probes/socket.bpf.c and agent/modules/socket.c. */
#ifndef BPFPUSH_SOCKET_H
#define BPFPUSH_SOCKET_H

#include "sock_tier.h"

/* Host-wide TCP and UDP counters, one slot per CPU; field order is the collect order. */
struct socket_counters {
	unsigned long long tcp_send_calls;
	unsigned long long tcp_send_bytes;
	unsigned long long tcp_recv_calls;
	unsigned long long tcp_recv_bytes;
	unsigned long long tcp_close;
	unsigned long long tcp_retransmits;
	unsigned long long udp_send_calls;
	unsigned long long udp_send_bytes;
	unsigned long long udp_recv_calls;
	unsigned long long udp_recv_bytes;
	unsigned long long tcp_connect_ipv4; /* active opens: CLOSE -> SYN_SENT */
	unsigned long long tcp_connect_ipv6;
	unsigned long long tcp_accept_ipv4; /* passive opens: a listener's child created, -> SYN_RECV */
	unsigned long long tcp_accept_ipv6;
};

#define SOCKET_COUNTER_FIELDS 14

#endif
