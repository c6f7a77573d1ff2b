/*
 * What sink.c (filters, encoding, stats) shares with the transports
 * (stdout.c, udp.c, tcp.c, unix_dgram.c). Internal to agent/sink/.
 *
 * A transport receives whole encoded entries (one metric each, '\n'
 * included), never splits one, and keeps the sink's stats: it counts `sent`
 * when the kernel accepted an entry and every entry it gives up on in
 * `dropped`, so that entries in = sent + dropped + buffered.
 */
#ifndef BPFPUSH_SINK_TRANSPORT_H
#define BPFPUSH_SINK_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>

#include "log.h"
#include "sink/sink.h"

/*
 * A closing sink (shutdown, reload) delivers what waits for at most this
 * long, whatever write_timeout is, so that the agent always exits promptly;
 * what is left then counts as dropped and the sink's closing line says so.
 */
#define SINK_CLOSE_MAX_MS 3000u

static inline uint64_t sink_close_wait_ms(const struct config_sink *cfg)
{
	return cfg->write_timeout_ms < SINK_CLOSE_MAX_MS ? cfg->write_timeout_ms : SINK_CLOSE_MAX_MS;
}

/* Longest entry a stream transport (stdout, TCP) takes. */
#define SINK_STREAM_LINE_MAX 8192u

/* The part of a sink every transport sees. */
struct sink_core {
	uv_loop_t *loop;
	const struct config_sink *cfg;
	const struct sink_env *env;
	const char *name;
	struct sink_stats stats; /* buffered: asked of the transport */
};

struct sink_transport;

struct sink_transport_ops {
	/* The longest entry push accepts; longer ones are dropped as too_long by the caller. */
	size_t (*max_line)(const struct sink_transport *t);
	void (*push)(struct sink_transport *t, const char *line, size_t len);
	/* End of a batch: send what was pushed. */
	void (*flush)(struct sink_transport *t);
	uint64_t (*buffered)(const struct sink_transport *t);
	/*
	 * Deliver what can be delivered within write_timeout, count the rest as
	 * dropped, close every handle, free the transport, then call
	 * sink_transport_closed(core) from a libuv callback.
	 */
	void (*close)(struct sink_transport *t);
};

struct sink_transport {
	const struct sink_transport_ops *ops;
	struct sink_core *core;
};

/* Each returns NULL, having logged why, on failure. */
struct sink_transport *sink_stdout_open(struct sink_core *core);
struct sink_transport *udp_transport_open(struct sink_core *core);
struct sink_transport *tcp_transport_open(struct sink_core *core);
struct sink_transport *unix_transport_open(struct sink_core *core);

/* Called by a transport once it is closed and freed; frees the sink. */
void sink_transport_closed(struct sink_core *core);

/* Addresses: an IP literal is used as is; anything else goes through uv_getaddrinfo. */
#define SINK_MAX_ADDRS 8

struct sink_addrs {
	struct sockaddr_storage items[SINK_MAX_ADDRS];
	size_t len;
};

bool sink_addr_literal(const char *host, uint16_t port, struct sockaddr_storage *out);
int sink_resolve_start(uv_loop_t *loop, uv_getaddrinfo_t *req, uv_getaddrinfo_cb cb, const char *host,
		       uint16_t port, int socktype);
/* Copy a getaddrinfo answer (IPv4 and IPv6, in its order) and free it. */
void sink_addrs_take(struct sink_addrs *out, struct addrinfo *res);
socklen_t sink_addr_len(const struct sockaddr_storage *addr);
/* "host:port" or "[v6]:port" of the configured address, for log lines. */
const char *sink_addr_text(const struct sockaddr_storage *addr, char *buf, size_t cap);

/* Reconnect and re-resolve delays: exponential from min to max, jittered, always within [min, max]. */
uint64_t sink_backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned failures, uint64_t *rng);
uint64_t sink_rng_seed(const void *salt);

#endif
