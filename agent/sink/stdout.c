/*
 * The stdout transport: a batch is gathered in memory and written with one
 * fwrite + fflush, so a reader of a pipe sees whole batches.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/transport.h"

struct stdout_transport {
	struct sink_transport base;
	char *buf;
	size_t len, cap;
	uint64_t lines;
	/* stdout has no handle; this one only brings the close callback from the loop. */
	uv_timer_t closer;
	struct log_complaint complaint;
};

static size_t stdout_max_line(const struct sink_transport *t)
{
	(void)t;
	return SINK_STREAM_LINE_MAX;
}

static void stdout_push(struct sink_transport *base, const char *line, size_t len)
{
	struct stdout_transport *t = (struct stdout_transport *)base;
	if (t->cap - t->len < len) {
		size_t cap = t->cap ? t->cap : 64 * 1024;
		while (cap - t->len < len)
			cap *= 2;
		char *buf = realloc(t->buf, cap);
		if (buf == NULL) {
			base->core->stats.dropped[DROP_OVERFLOW]++;
			return;
		}
		t->buf = buf;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, line, len);
	t->len += len;
	t->lines++;
}

static void stdout_flush(struct sink_transport *base)
{
	struct stdout_transport *t = (struct stdout_transport *)base;
	struct sink_stats *stats = &base->core->stats;
	if (t->lines == 0)
		return;
	size_t written = fwrite(t->buf, 1, t->len, stdout);
	if (fflush(stdout) == 0 && written == t->len) {
		stats->sent += t->lines;
		log_complaint_clear(&t->complaint, "sink", "stdout: writable again");
	} else {
		/* Which lines made it is unknown: count the batch once, as not sent. */
		stats->dropped[DROP_SEND_ERROR] += t->lines;
		stats->errors++;
		log_complain(&t->complaint, LOG_ERROR, "sink", "%s: writing to stdout: %s", base->core->name,
			     strerror(errno));
		clearerr(stdout);
	}
	t->len = 0;
	t->lines = 0;
}

static uint64_t stdout_buffered(const struct sink_transport *t)
{
	(void)t;
	return 0;
}

static void stdout_closed(uv_handle_t *handle)
{
	struct stdout_transport *t = handle->data;
	struct sink_core *core = t->base.core;
	free(t->buf);
	free(t);
	sink_transport_closed(core);
}

static void stdout_close(struct sink_transport *base)
{
	struct stdout_transport *t = (struct stdout_transport *)base;
	stdout_flush(base);
	uv_close((uv_handle_t *)&t->closer, stdout_closed);
}

static const struct sink_transport_ops stdout_ops = {
	.max_line = stdout_max_line,
	.push = stdout_push,
	.flush = stdout_flush,
	.buffered = stdout_buffered,
	.close = stdout_close,
};

struct sink_transport *sink_stdout_open(struct sink_core *core)
{
	struct stdout_transport *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		log_error("sink", "%s: out of memory", core->name);
		return NULL;
	}
	t->base.ops = &stdout_ops;
	t->base.core = core;
	uv_timer_init(core->loop, &t->closer);
	t->closer.data = t;
	return &t->base;
}
