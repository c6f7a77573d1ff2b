/* Shared by probes/network.bpf.c and agent/modules/network.c. */
#ifndef BPFPUSH_NETWORK_H
#define BPFPUSH_NETWORK_H

#include "sock_tier.h"

#define NET_DIRECTION_OUT 0
#define NET_DIRECTION_IN 1

/*
 * One endpoint of the network viewer: the remote address, the service port
 * (the remote port of outbound traffic, the local port of inbound) and the
 * protocol and direction. peer_known is 0 for datagrams whose sender the
 * hook cannot see (an unconnected UDP socket on the tracepoint tier): addr
 * is then all zeros.
 */
struct net_endpoint_key {
	unsigned char family; /* AF_INET or AF_INET6 */
	unsigned char proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	unsigned char direction;
	unsigned char peer_known;
	unsigned short port; /* host order */
	unsigned short pad;
	unsigned char addr[16]; /* IPv4: the first 4 bytes; network order */
};

struct net_endpoint_value {
	unsigned long long sent;
	unsigned long long recv;
	unsigned long long opened;
	unsigned long long closed;
};

/*
 * What a TCP connection's handshake told: who opened it, and its service
 * port (the local port is released when the socket closes, before its last
 * bytes may be read).
 */
struct net_connection {
	unsigned int direction;
	unsigned short port;
	unsigned short pad;
};

struct net_counters {
	unsigned long long endpoints_full; /* traffic not counted: the endpoint map was full */
	unsigned long long connections_full; /* connections whose direction could not be kept */
	unsigned long long calls_full; /* kprobe ways: calls whose socket could not be kept for their return */
};

#define NET_ENDPOINTS_MAX 16384
#define NET_CONNECTIONS_MAX 65536
/* Calls in flight on the kprobe ways: at most one per thread inside a send or receive. */
#define NET_CALLS_MAX 16384

#endif
