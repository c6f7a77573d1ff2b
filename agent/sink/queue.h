/*
 * A bounded FIFO of encoded lines: the TCP backlog, and UDP lines waiting for
 * their address to resolve. Bounded by entries (config buffer_lines); when
 * full the OLDEST entry goes, so after an outage the newest data survives.
 * An entry is one metric's encoding (the statsd negative-gauge pair stays one
 * entry: split, its second half would be read as a relative change).
 */
#ifndef BPFPUSH_SINK_QUEUE_H
#define BPFPUSH_SINK_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct sink_queue {
	char *bytes; /* ring of entry bytes */
	size_t bytes_cap, bytes_head, bytes_used;
	uint32_t *lens; /* ring of entry lengths, parallel to bytes */
	size_t lens_cap, lens_head, count;
	size_t limit; /* most entries held */
};

void sink_queue_init(struct sink_queue *q, size_t limit);
void sink_queue_free(struct sink_queue *q);

/* Append one entry. Returns how many entries were dropped to keep the bound (the oldest, or this one on ENOMEM). */
size_t sink_queue_push(struct sink_queue *q, const char *line, size_t len);

/*
 * Move whole entries from the front into out (at most max_bytes bytes and
 * max_entries entries), their lengths into lens. Returns the entries taken
 * and sets *nbytes.
 */
size_t sink_queue_take(struct sink_queue *q, char *out, size_t max_bytes, uint32_t *lens, size_t max_entries,
		       size_t *nbytes);

/*
 * Put taken entries back at the front, in their order (a write that failed).
 * Returns how many of them were dropped because the queue has filled since:
 * they are the oldest.
 */
size_t sink_queue_unshift(struct sink_queue *q, const char *bytes, const uint32_t *lens, size_t n);

/* Drop everything; returns how many entries that was. */
size_t sink_queue_clear(struct sink_queue *q);

static inline size_t sink_queue_count(const struct sink_queue *q) { return q->count; }

#endif
