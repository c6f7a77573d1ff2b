/*
 * The lifecycle the datagram transports (udp.c, unix_dgram.c) share.
 * Internal to agent/sink/.
 *
 * Each has a timer (its retries while open, the close deadline once closing)
 * and libuv handles of its own, and may be freed only once every one of them
 * has run its close callback. sink_dgram_finish closes the timer, then has
 * the transport close its own handles (hooks->end); the last close callback
 * frees the transport (hooks->release) and tells the sink.
 */
#ifndef BPFPUSH_SINK_DGRAM_H
#define BPFPUSH_SINK_DGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sink/transport.h"

struct sink_dgram;

struct sink_dgram_hooks {
	/*
	 * Close the transport's own handles (each calling sink_dgram_handle_closed
	 * from its close callback) and count what still waits in it as dropped.
	 */
	void (*end)(struct sink_dgram *d);
	/* Requests libuv still holds that point at the transport: freeing waits for them. NULL: never any. */
	bool (*busy)(const struct sink_dgram *d);
	/* Free the transport's buffers and the transport itself. */
	void (*release)(struct sink_dgram *d);
};

/* The first member of each datagram transport: a sink_transport * to one is a sink_dgram * too. */
struct sink_dgram {
	struct sink_transport base;
	const struct sink_dgram_hooks *hooks;
	size_t max_packet;
	uv_timer_t timer; /* the transport's retries while open; the close deadline once closing. data: this */
	uint64_t rng;     /* the retries' backoff jitter */
	unsigned open_handles;
	bool closing;   /* close was asked: delivering what waits, until write_timeout */
	bool finishing; /* every handle is closing: freed once the last has closed */
	bool orphan;    /* open failed: free without telling the sink, which is already gone */
};

/* The datagram size the sink's max_packet asks for (0: default_max), at most limit. */
size_t sink_dgram_max_packet(const struct config_sink *cfg, size_t default_max, size_t limit);
/* Fill the shared part of a zeroed transport and start its timer handle (counted open). */
void sink_dgram_init(struct sink_dgram *d, struct sink_core *core, const struct sink_transport_ops *ops,
		     const struct sink_dgram_hooks *hooks, size_t max_packet);
/* ops->max_line of every datagram transport: one entry fills at most one datagram. */
size_t sink_dgram_max_line(const struct sink_transport *base);
/* From the close callback of one of the transport's handles. */
void sink_dgram_handle_closed(struct sink_dgram *d);
/* Free the transport if it is finishing and nothing is open or busy; call when something of that ended. */
void sink_dgram_maybe_free(struct sink_dgram *d);
/* Close every handle now; what has not been delivered is dropped. Again once finishing: only maybe_free. */
void sink_dgram_finish(struct sink_dgram *d);
/* Closing with entries still on their way: give them until write_timeout, then finish. */
void sink_dgram_finish_at_deadline(struct sink_dgram *d);

#endif
