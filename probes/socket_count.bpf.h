/*
 * socket's counting of one TCP or UDP send or receive: its counters and
 * knobs. probes/socket.bpf.c runs it from its own programs,
 * probes/sock_fused.bpf.c from the one program that also runs network's
 * and apps' (docs/design.md, "The sock chain").
 */
#ifndef BPFPUSH_SOCKET_COUNT_BPF_H
#define BPFPUSH_SOCKET_COUNT_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "bpfpush.bpf.h"
#include "sock.bpf.h"
#include "socket.h"

PERCPU_COUNTERS(socket_counters, socket_counters);

static __always_inline struct socket_counters *counters(void) { return percpu_slot(&socket_counters); }

/* A call whose result is known (ret) or not (known = false: calls only). */
static __always_inline void count_send(bool tcp, long ret, bool known)
{
	struct socket_counters *c = counters();
	if (!c)
		return;
	if (tcp) {
		c->tcp_send_calls++;
		if (known && ret > 0)
			c->tcp_send_bytes += ret;
	} else {
		c->udp_send_calls++;
		if (known && ret > 0)
			c->udp_send_bytes += ret;
	}
}

static __always_inline void count_tcp_recv(long copied)
{
	struct socket_counters *c = counters();
	if (!c || copied <= 0)
		return;
	c->tcp_recv_calls++;
	c->tcp_recv_bytes += copied;
}

static __always_inline void count_udp_recv(long ret, bool known)
{
	struct socket_counters *c = counters();
	if (!c)
		return;
	c->udp_recv_calls++;
	if (known && ret > 0)
		c->udp_recv_bytes += ret;
}

/*
 * sock:sock_send_length / sock_recv_length, both protocols in one program
 * per tier. *_tier: the enum attach_tier of the program the protocol's
 * event chose, 0 when it is counted another way; constants at load.
 */
const volatile __u8 tcp_send_tier = 0, tcp_recv_tier = 0, udp_send_tier = 0, udp_recv_tier = 0;

static __always_inline void socket_on_send_length(__u16 family, __u16 protocol, int ret, __u8 tier)
{
	if (!family_is_inet(family))
		return;
	if (protocol == SOCK_IPPROTO_TCP && tcp_send_tier == tier)
		count_send(true, ret, true);
	else if (protocol == SOCK_IPPROTO_UDP && udp_send_tier == tier)
		count_send(false, ret, true);
}

static __always_inline void socket_on_recv_length(__u16 family, __u16 protocol, int ret, int flags, __u8 tier)
{
	if (!family_is_inet(family))
		return;
	if (protocol == SOCK_IPPROTO_TCP && tcp_recv_tier == tier) {
		if (!(flags & SOCK_MSG_PEEK))
			count_tcp_recv(ret);
	} else if (protocol == SOCK_IPPROTO_UDP && udp_recv_tier == tier) {
		count_udp_recv(flags & SOCK_MSG_PEEK ? 0 : ret, true);
	}
}

#endif
