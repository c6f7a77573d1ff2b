/*
 * A bounded FIFO of encoded lines: the TCP backlog, and UDP lines waiting for
 * their address to resolve. Bounded by entries (config buffer_lines): what
 * still waits from earlier flushes when a new flush begins is cut to the
 * limit, the OLDEST going first, so after an outage the newest data survives;
 * the flush itself is never cut, so a peer that keeps up receives every flush
 * whole however large it is.
 * An entry is one metric's encoding (the statsd negative-gauge pair stays one
 * entry: split, its second half would be read as a relative change).
 */
#ifndef BPFPUSH_SINK_QUEUE_H
#define BPFPUSH_SINK_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sink_queue {
	char *bytes; /* ring of entry bytes */
	size_t bytes_cap, bytes_head, bytes_used;
	uint32_t *lens; /* ring of entry lengths, parallel to bytes */
	size_t lens_cap, lens_head, count;
	size_t limit; /* most entries kept from earlier flushes */
	bool in_batch; /* a flush is being pushed: no limit until sink_queue_end_batch */
};

void sink_queue_init(struct sink_queue *q, size_t limit);
void sink_queue_free(struct sink_queue *q);

/*
 * Append one entry of the flush being pushed. The first push of a flush cuts
 * what waits to the limit. Returns how many entries were dropped (the oldest,
 * or this one on ENOMEM).
 */
size_t sink_queue_push(struct sink_queue *q, const char *line, size_t len);
/* The flush has been pushed whole: the next push begins a new one. */
static inline void sink_queue_end_batch(struct sink_queue *q) { q->in_batch = false; }

/*
 * Move whole entries from the front into out (at most max_bytes bytes and
 * max_entries entries), their lengths into lens. Returns the entries taken
 * and sets *nbytes.
 */
size_t sink_queue_take(struct sink_queue *q, char *out, size_t max_bytes, uint32_t *lens, size_t max_entries,
		       size_t *nbytes);

/*
 * Put taken entries back at the front, in their order (a write that failed).
 * The limit applies at the next flush; returns how many could not be put back
 * (ENOMEM).
 */
size_t sink_queue_unshift(struct sink_queue *q, const char *bytes, const uint32_t *lens, size_t n);

/* Drop everything; returns how many entries that was. */
size_t sink_queue_clear(struct sink_queue *q);

static inline size_t sink_queue_count(const struct sink_queue *q) { return q->count; }

#endif
