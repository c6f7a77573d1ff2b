/*
 * socket: host-wide TCP and UDP calls and bytes, TCP connects, accepts,
 * closes and retransmits.
 * The protocol functions (fentry, kprobe) come first: they fire only for
 * their protocol. The sock:* tracepoints (6.3+) are the way on kernels
 * without them; their programs filter out other families.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach.h"
#include "btf_proto.h"
#include "module.h"
#include "percpu.h"
#include "socket.h"
#include "socket.skel.h"
#include "sock_chain_slots.h"

static const struct metric_desc socket_metrics[] = {
	{ "socket.tcp.send.calls", METRIC_COUNTER, false, "", "TCP sendmsg calls" },
	{ "socket.tcp.send.bytes", METRIC_COUNTER, true, "", "payload bytes TCP sendmsg accepted (its result)" },
	{ "socket.tcp.recv.calls", METRIC_COUNTER, false, "", "TCP recvmsg calls that returned data" },
	{ "socket.tcp.recv.bytes", METRIC_COUNTER, true, "", "TCP payload bytes copied to the user" },
	{ "socket.tcp.connect", METRIC_COUNTER, false, "family",
	  "TCP connection attempts (active opens, as ActiveOpens counts them: refused and timed-out ones included)" },
	{ "socket.tcp.accept", METRIC_COUNTER, false, "family",
	  "TCP connections the kernel accepted for a listener (passive opens, as PassiveOpens counts them)" },
	{ "socket.tcp.close", METRIC_COUNTER, false, "", "TCP sockets closed" },
	{ "socket.tcp.retransmits", METRIC_COUNTER, false, "", "retransmitted TCP segments, as RetransSegs counts them (a GSO packet counts each segment it holds)" },
	{ "socket.udp.send.calls", METRIC_COUNTER, false, "", "UDP sendmsg calls, IPv4 and IPv6" },
	{ "socket.udp.send.bytes", METRIC_COUNTER, true, "", "UDP payload bytes sent (the calls' results)" },
	{ "socket.udp.recv.calls", METRIC_COUNTER, false, "", "UDP recvmsg calls, IPv4 and IPv6" },
	{ "socket.udp.recv.bytes", METRIC_COUNTER, true, "", "UDP payload bytes received (the calls' results)" },
};

/* The sock:* programs TCP and UDP share: attached once, told in prepare() which protocols to count. */
#define TRACEPOINT_WAYS(prefix)                                                          \
	{ .tier = ATTACH_TP_BTF, .progs = { prefix "_tp_btf" } },                        \
	{ .tier = ATTACH_RAW_TP, .progs = { prefix "_raw_tp" } },                        \
	{ .tier = ATTACH_TRACEPOINT, .progs = { prefix "_tracepoint" } }

enum {
	EVENT_TCP_SEND = 0,
	EVENT_TCP_SEND_RESULT,
	EVENT_TCP_RECV,
	EVENT_TCP_CLOSE,
	EVENT_RETRANSMIT,
	EVENT_UDP_SEND,
	EVENT_UDP_SEND_RESULT,
	EVENT_UDP_RECV,
	EVENT_UDP_RECV_RESULT,
	EVENT_TCP_CONNECT,
	EVENT_TCP_ACCEPT,
};

/* The retransmit ways, in pairs: the one reading err first (6.10+), then the one for older kernels. */
enum { WAY_RETRANSMIT_ERR_TP_BTF = 0, WAY_RETRANSMIT_TP_BTF, WAY_RETRANSMIT_ERR_RAW_TP, WAY_RETRANSMIT_RAW_TP,
       WAY_RETRANSMIT_ERR_TRACEPOINT, WAY_RETRANSMIT_TRACEPOINT };

static const struct event_desc socket_events[] = {
	[EVENT_TCP_SEND] = { .name = "tcp_send", .gives = "socket.tcp.send.calls, socket.tcp.send.bytes",
			     .entry_mode_only = true,
			     .ways = { { .tier = ATTACH_FENTRY, .progs = { "tcp_send_fentry" }, .no_result = true },
				       { .tier = ATTACH_KPROBE, .progs = { "tcp_send_kprobe" }, .no_result = true },
				       TRACEPOINT_WAYS("sock_send") } },
	[EVENT_TCP_SEND_RESULT] = { .name = "tcp_send_result", .gives = "socket.tcp.send.calls, socket.tcp.send.bytes",
				    .return_mode_only = true,
				    .ways = { { .tier = ATTACH_FENTRY, .progs = { "tcp_send_fexit" } },
					      { .tier = ATTACH_KPROBE, .progs = { "tcp_send_kretprobe" } },
					      TRACEPOINT_WAYS("sock_send") } },
	[EVENT_TCP_RECV] = { .name = "tcp_recv", .gives = "socket.tcp.recv.calls, socket.tcp.recv.bytes",
			     .ways = { { .tier = ATTACH_FENTRY, .progs = { "tcp_recv_fentry" } },
				       { .tier = ATTACH_KPROBE, .progs = { "tcp_recv_kprobe" } },
				       TRACEPOINT_WAYS("sock_recv") } },
	[EVENT_TCP_CLOSE] = { .name = "tcp_close", .gives = "socket.tcp.close",
			      .ways = { { .tier = ATTACH_FENTRY, .progs = { "tcp_close_fentry" } },
					{ .tier = ATTACH_KPROBE, .progs = { "tcp_close_kprobe" } },
					TRACEPOINT_WAYS("tcp_state") } },
	[EVENT_RETRANSMIT] = { .name = "retransmit", .gives = "socket.tcp.retransmits",
			       .ways = { [WAY_RETRANSMIT_ERR_TP_BTF] = { .tier = ATTACH_TP_BTF, .progs = { "retransmit_err_tp_btf" } },
					 [WAY_RETRANSMIT_TP_BTF] = { .tier = ATTACH_TP_BTF, .progs = { "retransmit_tp_btf" } },
					 [WAY_RETRANSMIT_ERR_RAW_TP] = { .tier = ATTACH_RAW_TP, .progs = { "retransmit_err_raw_tp" } },
					 [WAY_RETRANSMIT_RAW_TP] = { .tier = ATTACH_RAW_TP, .progs = { "retransmit_raw_tp" } },
					 [WAY_RETRANSMIT_ERR_TRACEPOINT] = { .tier = ATTACH_TRACEPOINT,
									     .progs = { "retransmit_err_tracepoint" } },
					 [WAY_RETRANSMIT_TRACEPOINT] = { .tier = ATTACH_TRACEPOINT,
									 .progs = { "retransmit_tracepoint" } } } },
	[EVENT_UDP_SEND] = { .name = "udp_send", .gives = "socket.udp.send.calls, socket.udp.send.bytes",
			     .entry_mode_only = true,
			     .ways = { { .tier = ATTACH_FENTRY, .progs = { "udp_send_fentry", "udp6_send_fentry" },
					 .no_result = true },
				       { .tier = ATTACH_KPROBE, .progs = { "udp_send_kprobe", "udp6_send_kprobe" },
					 .no_result = true },
				       TRACEPOINT_WAYS("sock_send") } },
	[EVENT_UDP_SEND_RESULT] = { .name = "udp_send_result", .gives = "socket.udp.send.calls, socket.udp.send.bytes",
				    .return_mode_only = true,
				    .ways = { { .tier = ATTACH_FENTRY, .progs = { "udp_send_fexit", "udp6_send_fexit" } },
					      { .tier = ATTACH_KPROBE, .progs = { "udp_send_kretprobe", "udp6_send_kretprobe" } },
					      TRACEPOINT_WAYS("sock_send") } },
	[EVENT_UDP_RECV] = { .name = "udp_recv", .gives = "socket.udp.recv.calls, socket.udp.recv.bytes",
			     .entry_mode_only = true,
			     .ways = { { .tier = ATTACH_FENTRY, .progs = { "udp_recv_fentry", "udp6_recv_fentry" },
					 .no_result = true },
				       { .tier = ATTACH_KPROBE, .progs = { "udp_recv_kprobe", "udp6_recv_kprobe" },
					 .no_result = true },
				       TRACEPOINT_WAYS("sock_recv") } },
	[EVENT_UDP_RECV_RESULT] = { .name = "udp_recv_result", .gives = "socket.udp.recv.calls, socket.udp.recv.bytes",
				    .return_mode_only = true,
				    .ways = { { .tier = ATTACH_FENTRY, .progs = { "udp_recv_fexit", "udp6_recv_fexit" } },
					      { .tier = ATTACH_FENTRY, .progs = { "udp_recv_fexit6", "udp6_recv_fexit6" } },
					      { .tier = ATTACH_KPROBE, .progs = { "udp_recv_kretprobe", "udp6_recv_kretprobe" } },
					      TRACEPOINT_WAYS("sock_recv") } },
	/*
	 * Only the state tracepoint: tcp_v4_connect() or inet_csk_accept() would
	 * count calls (failures before SYN_SENT, accept() calls), not what it counts.
	 */
	[EVENT_TCP_CONNECT] = { .name = "tcp_connect", .gives = "socket.tcp.connect",
				.ways = { TRACEPOINT_WAYS("tcp_state") } },
	[EVENT_TCP_ACCEPT] = { .name = "tcp_accept", .gives = "socket.tcp.accept",
			       .ways = { TRACEPOINT_WAYS("tcp_state") } },
};

static struct bpf_object *socket_open(struct module *m)
{
	struct socket_bpf *skel = socket_bpf__open();
	m->priv = skel;
	return skel ? skel->obj : NULL;
}

static void socket_destroy(struct module *m)
{
	socket_bpf__destroy(m->priv);
	m->priv = NULL;
}

/* tcp_retransmit_skb passes (sk, skb, err) from 6.10, (sk, skb) before: each program reads what it was written for. */
static bool socket_way_fits(const struct module *m, size_t event, int way, char *why)
{
	const struct attach_way *w = &m->ops->events[event].ways[way];
	if (event == EVENT_UDP_RECV_RESULT && w->tier == ATTACH_FENTRY)
		return btf_fits_udp_recv_fexit(probe_cache_btf(m->probes), w->progs, WAY_MAX_PROGS, why, REASON_MAX);
	if (event != EVENT_RETRANSMIT)
		return true;
	bool reads_err = way == WAY_RETRANSMIT_ERR_TP_BTF || way == WAY_RETRANSMIT_ERR_RAW_TP ||
			 way == WAY_RETRANSMIT_ERR_TRACEPOINT;
	bool has_err = btf_tracepoint_nargs(probe_cache_btf(m->probes), "tcp_retransmit_skb") >= 3;
	if (reads_err == has_err)
		return true;
	snprintf(why, REASON_MAX, "tcp_retransmit_skb %s on this kernel",
		 has_err ? "has an err argument" : "has no err argument (6.10+)");
	return false;
}

/* The shared sock:* programs count a protocol only where its event chose them. */
static void socket_prepare(struct module *m)
{
	struct socket_bpf *skel = m->priv;
	skel->rodata->tcp_send_tier = (unsigned char)attach_pair_tier(m, EVENT_TCP_SEND, EVENT_TCP_SEND_RESULT);
	skel->rodata->tcp_recv_tier = (unsigned char)attach_chosen_tier(m, EVENT_TCP_RECV);
	skel->rodata->udp_send_tier = (unsigned char)attach_pair_tier(m, EVENT_UDP_SEND, EVENT_UDP_SEND_RESULT);
	skel->rodata->udp_recv_tier = (unsigned char)attach_pair_tier(m, EVENT_UDP_RECV, EVENT_UDP_RECV_RESULT);
	skel->rodata->tcp_close_tier = (unsigned char)attach_chosen_tier(m, EVENT_TCP_CLOSE);
	skel->rodata->tcp_connect_tier = (unsigned char)attach_chosen_tier(m, EVENT_TCP_CONNECT);
	skel->rodata->tcp_accept_tier = (unsigned char)attach_chosen_tier(m, EVENT_TCP_ACCEPT);
}

/* The event of a pair (entry mode, return mode) that is attached, or -1. */
static int attached_of(const struct module *m, int entry_event, int result_event)
{
	if (m->events[entry_event].chosen >= 0)
		return entry_event;
	return m->events[result_event].chosen >= 0 ? result_event : -1;
}

/* The way in use sees the call's result: bytes are known. */
static bool sees_result(const struct module *m, int event)
{
	const struct event_state *st = &m->events[event];
	return !st->no_result && !m->ops->events[event].ways[st->chosen].no_result;
}

static void observe_pair(const struct module *m, struct series_store *store, int event, const char *calls,
			 uint64_t calls_value, const char *bytes, uint64_t bytes_value)
{
	if (event < 0)
		return;
	series_counter_observe(store, calls, NULL, 0, calls_value);
	if (sees_result(m, event))
		series_counter_observe(store, bytes, NULL, 0, bytes_value);
}

static void observe_by_family(struct series_store *store, const char *name, uint64_t ipv4, uint64_t ipv6)
{
	const struct metric_tag v4 = { "family", "ipv4" }, v6 = { "family", "ipv6" };
	series_counter_observe(store, name, &v4, 1, ipv4);
	series_counter_observe(store, name, &v6, 1, ipv6);
}

static int socket_collect(struct module *m, struct series_store *store)
{
	struct socket_bpf *skel = m->priv;
	uint64_t v[SOCKET_COUNTER_FIELDS];
	int rc = percpu_sum_u64(bpf_map__fd(skel->maps.socket_counters), 0, SOCKET_COUNTER_FIELDS, v);
	if (rc)
		return rc;
	const struct socket_counters c = {
		.tcp_send_calls = v[0], .tcp_send_bytes = v[1], .tcp_recv_calls = v[2], .tcp_recv_bytes = v[3],
		.tcp_close = v[4], .tcp_retransmits = v[5], .udp_send_calls = v[6], .udp_send_bytes = v[7],
		.udp_recv_calls = v[8], .udp_recv_bytes = v[9], .tcp_connect_ipv4 = v[10], .tcp_connect_ipv6 = v[11],
		.tcp_accept_ipv4 = v[12], .tcp_accept_ipv6 = v[13],
	};
	observe_pair(m, store, attached_of(m, EVENT_TCP_SEND, EVENT_TCP_SEND_RESULT), "socket.tcp.send.calls",
		     c.tcp_send_calls, "socket.tcp.send.bytes", c.tcp_send_bytes);
	observe_pair(m, store, m->events[EVENT_TCP_RECV].chosen >= 0 ? EVENT_TCP_RECV : -1, "socket.tcp.recv.calls",
		     c.tcp_recv_calls, "socket.tcp.recv.bytes", c.tcp_recv_bytes);
	if (m->events[EVENT_TCP_CLOSE].chosen >= 0)
		series_counter_observe(store, "socket.tcp.close", NULL, 0, c.tcp_close);
	if (m->events[EVENT_TCP_CONNECT].chosen >= 0)
		observe_by_family(store, "socket.tcp.connect", c.tcp_connect_ipv4, c.tcp_connect_ipv6);
	if (m->events[EVENT_TCP_ACCEPT].chosen >= 0)
		observe_by_family(store, "socket.tcp.accept", c.tcp_accept_ipv4, c.tcp_accept_ipv6);
	if (m->events[EVENT_RETRANSMIT].chosen >= 0)
		series_counter_observe(store, "socket.tcp.retransmits", NULL, 0, c.tcp_retransmits);
	observe_pair(m, store, attached_of(m, EVENT_UDP_SEND, EVENT_UDP_SEND_RESULT), "socket.udp.send.calls",
		     c.udp_send_calls, "socket.udp.send.bytes", c.udp_send_bytes);
	observe_pair(m, store, attached_of(m, EVENT_UDP_RECV, EVENT_UDP_RECV_RESULT), "socket.udp.recv.calls",
		     c.udp_recv_calls, "socket.udp.recv.bytes", c.udp_recv_bytes);
	return 0;
}

const struct module_ops socket_module = {
	.name = "socket",
	.config_help = "socket.*: TCP and UDP calls and bytes, TCP connects and accepts",
	.enabled_by_default = true,
	.metrics = socket_metrics,
	.nmetrics = sizeof(socket_metrics) / sizeof(socket_metrics[0]),
	.events = socket_events,
	.nevents = sizeof(socket_events) / sizeof(socket_events[0]),
	.open = socket_open,
	.destroy = socket_destroy,
	.way_fits = socket_way_fits,
	.prepare = socket_prepare,
	.collect = socket_collect,
	.sock_chain_slot = SOCK_SLOT_SOCKET,
};
