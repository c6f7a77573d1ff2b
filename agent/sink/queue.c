/* The bounded line FIFO of queue.h: a byte ring plus a parallel ring of lengths. */
#include "sink/queue.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_MIN_BYTES (16u * 1024u)
#define QUEUE_MIN_ENTRIES 256u
/* An emptied queue above these sizes gives its memory back: outages are rare. */
#define QUEUE_KEEP_BYTES (1024u * 1024u)
#define QUEUE_KEEP_ENTRIES 16384u

void sink_queue_init(struct sink_queue *q, size_t limit)
{
	memset(q, 0, sizeof(*q));
	q->limit = limit;
}

void sink_queue_free(struct sink_queue *q)
{
	free(q->bytes);
	free(q->lens);
	memset(q, 0, sizeof(*q));
}

static void ring_copy_out(const struct sink_queue *q, size_t pos, char *dst, size_t n)
{
	size_t first = q->bytes_cap - pos < n ? q->bytes_cap - pos : n;
	memcpy(dst, q->bytes + pos, first);
	memcpy(dst + first, q->bytes, n - first);
}

static void ring_copy_in(struct sink_queue *q, size_t pos, const char *src, size_t n)
{
	size_t first = q->bytes_cap - pos < n ? q->bytes_cap - pos : n;
	memcpy(q->bytes + pos, src, first);
	memcpy(q->bytes, src + first, n - first);
}

static int reserve_bytes(struct sink_queue *q, size_t more)
{
	size_t need = q->bytes_used + more;
	if (need <= q->bytes_cap)
		return 0;
	size_t cap = q->bytes_cap ? q->bytes_cap : QUEUE_MIN_BYTES;
	while (cap < need)
		cap *= 2;
	char *bytes = malloc(cap);
	if (bytes == NULL)
		return -1;
	if (q->bytes_used)
		ring_copy_out(q, q->bytes_head, bytes, q->bytes_used);
	free(q->bytes);
	q->bytes = bytes;
	q->bytes_cap = cap;
	q->bytes_head = 0;
	return 0;
}

static int reserve_entries(struct sink_queue *q, size_t more)
{
	size_t need = q->count + more;
	if (need <= q->lens_cap)
		return 0;
	size_t cap = q->lens_cap ? q->lens_cap : QUEUE_MIN_ENTRIES;
	while (cap < need)
		cap *= 2;
	if (cap > q->limit && need <= q->limit)
		cap = q->limit;
	uint32_t *lens = malloc(cap * sizeof(*lens));
	if (lens == NULL)
		return -1;
	for (size_t i = 0; i < q->count; i++)
		lens[i] = q->lens[(q->lens_head + i) % q->lens_cap];
	free(q->lens);
	q->lens = lens;
	q->lens_cap = cap;
	q->lens_head = 0;
	return 0;
}

static void drop_front(struct sink_queue *q)
{
	uint32_t len = q->lens[q->lens_head];
	q->bytes_head = (q->bytes_head + len) % q->bytes_cap;
	q->bytes_used -= len;
	q->lens_head = (q->lens_head + 1) % q->lens_cap;
	q->count--;
}

static void release_if_idle(struct sink_queue *q)
{
	if (q->count != 0)
		return;
	q->bytes_head = 0;
	q->lens_head = 0;
	if (q->bytes_cap > QUEUE_KEEP_BYTES) {
		free(q->bytes);
		q->bytes = NULL;
		q->bytes_cap = 0;
	}
	if (q->lens_cap > QUEUE_KEEP_ENTRIES) {
		free(q->lens);
		q->lens = NULL;
		q->lens_cap = 0;
	}
}

size_t sink_queue_push(struct sink_queue *q, const char *line, size_t len)
{
	size_t dropped = 0;
	if (q->limit == 0)
		return 1;
	if (!q->in_batch) {
		q->in_batch = true;
		while (q->count > q->limit) {
			drop_front(q);
			dropped++;
		}
	}
	if (reserve_bytes(q, len) < 0 || reserve_entries(q, 1) < 0)
		return dropped + 1;
	ring_copy_in(q, (q->bytes_head + q->bytes_used) % q->bytes_cap, line, len);
	q->bytes_used += len;
	q->lens[(q->lens_head + q->count) % q->lens_cap] = (uint32_t)len;
	q->count++;
	return dropped;
}

size_t sink_queue_take(struct sink_queue *q, char *out, size_t max_bytes, uint32_t *lens, size_t max_entries,
		       size_t *nbytes)
{
	size_t n = 0, total = 0;
	while (n < max_entries && n < q->count) {
		uint32_t len = q->lens[(q->lens_head + n) % q->lens_cap];
		if (total + len > max_bytes)
			break;
		lens[n++] = len;
		total += len;
	}
	if (n > 0) {
		ring_copy_out(q, q->bytes_head, out, total);
		q->bytes_head = (q->bytes_head + total) % q->bytes_cap;
		q->bytes_used -= total;
		q->lens_head = (q->lens_head + n) % q->lens_cap;
		q->count -= n;
		release_if_idle(q);
	}
	*nbytes = total;
	return n;
}

size_t sink_queue_unshift(struct sink_queue *q, const char *bytes, const uint32_t *lens, size_t n)
{
	size_t dropped = 0;
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i];
	if (n == 0)
		return dropped;
	if (reserve_bytes(q, total) < 0 || reserve_entries(q, n) < 0)
		return dropped + n;
	q->bytes_head = (q->bytes_head + q->bytes_cap - total % q->bytes_cap) % q->bytes_cap;
	ring_copy_in(q, q->bytes_head, bytes, total);
	q->bytes_used += total;
	q->lens_head = (q->lens_head + q->lens_cap - n % q->lens_cap) % q->lens_cap;
	for (size_t i = 0; i < n; i++)
		q->lens[(q->lens_head + i) % q->lens_cap] = lens[i];
	q->count += n;
	return dropped;
}

size_t sink_queue_clear(struct sink_queue *q)
{
	size_t n = q->count;
	q->count = 0;
	q->bytes_used = 0;
	release_if_idle(q);
	return n;
}
