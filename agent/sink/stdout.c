/*
 * The stdout transport. stdout may be a pipe nobody reads, a terminal, a
 * socket (journald) or a file: it is written without ever blocking the loop,
 * with the same bounded queue and drop accounting as a TCP sink.
 *
 * The file description is shared with whoever started the agent, so it is
 * not switched to O_NONBLOCK. Instead a write happens only when poll() says
 * stdout is writable, and then whole lines of at most PIPE_BUF bytes, which
 * a pipe, FIFO or Unix socket that polls writable always takes whole without
 * waiting (so two stdout sinks never interleave inside a line); a regular
 * file takes the rest at once. When stdout is full the rest waits in the
 * queue (buffer_lines, the oldest cut first at the next flush) and is
 * retried every STDOUT_RETRY_MS. Closing gives it sink_close_wait_ms(); what
 * is left then is counted as dropped.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sink/queue.h"
#include "sink/transport.h"

#define STDOUT_CHUNK_BYTES (64u * 1024u)
#define STDOUT_CHUNK_ENTRIES 4096u
#define STDOUT_RETRY_MS 20u

struct stdout_transport {
	struct sink_transport base;
	int fd;
	bool regular_file; /* never blocks: written in one go */
	struct sink_queue queue;
	char *wbuf; /* the entries being written */
	uint32_t *wlens;
	size_t wbytes, wcount, woff; /* woff: bytes of wbuf already written */
	uv_timer_t retry;            /* stdout was full: try again */
	bool closing;
	uint64_t close_deadline_ms;
	struct log_complaint complaint;
};

static struct sink_stats *stats_of(struct stdout_transport *t) { return &t->base.core->stats; }

static size_t stdout_max_line(const struct sink_transport *t)
{
	(void)t;
	return SINK_STREAM_LINE_MAX;
}

static void stdout_push(struct sink_transport *base, const char *line, size_t len)
{
	struct stdout_transport *t = (struct stdout_transport *)base;
	size_t dropped = sink_queue_push(&t->queue, line, len);
	if (dropped > 0) {
		stats_of(t)->dropped[DROP_OVERFLOW] += dropped;
		log_complain(&t->complaint, LOG_WARNING, "sink", "%s: stdout is not read: oldest lines dropped",
			     base->core->name);
	}
}

static bool writable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLOUT | POLLERR | POLLHUP));
}

/* The entries of wbuf wholly written by now. */
static size_t entries_written(const struct stdout_transport *t)
{
	size_t n = 0, off = 0;
	while (n < t->wcount && off + t->wlens[n] <= t->woff)
		off += t->wlens[n++];
	return n;
}

/* Bytes from woff that end a line and are at most cap (a longer first line: cap of it). */
static size_t whole_lines_upto(const struct stdout_transport *t, size_t cap)
{
	size_t off = 0, i = 0;
	while (i < t->wcount && off + t->wlens[i] <= t->woff)
		off += t->wlens[i++];
	size_t end = off;
	if (off < t->woff) /* inside a line longer than cap: its rest first */
		end = off + t->wlens[i++];
	while (i < t->wcount && end + t->wlens[i] - t->woff <= cap)
		end += t->wlens[i++];
	size_t n = end - t->woff;
	if (n == 0 || n > cap)
		n = t->wbytes - t->woff < cap ? t->wbytes - t->woff : cap;
	return n;
}

/* Write what stdout takes now; true when nothing is left. */
static bool drain(struct stdout_transport *t)
{
	struct sink_stats *stats = stats_of(t);
	for (;;) {
		if (t->wcount == 0) {
			t->woff = 0;
			t->wcount = sink_queue_take(&t->queue, t->wbuf, STDOUT_CHUNK_BYTES, t->wlens, STDOUT_CHUNK_ENTRIES,
						    &t->wbytes);
			if (t->wcount == 0)
				return true;
		}
		while (t->woff < t->wbytes) {
			size_t n = t->wbytes - t->woff;
			if (!t->regular_file) {
				if (!writable(t->fd))
					return false;
				n = whole_lines_upto(t, PIPE_BUF);
			}
			ssize_t w = write(t->fd, t->wbuf + t->woff, n);
			if (w > 0) {
				t->woff += (size_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return false;
			/* Closed or broken: the entries of this chunk not wholly written are lost. */
			size_t done = entries_written(t);
			stats->sent += done;
			stats->dropped[DROP_SEND_ERROR] += t->wcount - done;
			stats->errors++;
			log_complain(&t->complaint, LOG_ERROR, "sink", "%s: writing to stdout: %s", t->base.core->name,
				     w < 0 ? strerror(errno) : "nothing written");
			t->wcount = t->wbytes = t->woff = 0;
			break;
		}
		if (t->wcount > 0) {
			stats->sent += t->wcount;
			t->wcount = t->wbytes = t->woff = 0;
			log_complaint_clear(&t->complaint, "sink", "stdout: writable again");
		}
	}
}

static void stdout_closed(uv_handle_t *handle)
{
	struct stdout_transport *t = handle->data;
	struct sink_core *core = t->base.core;
	sink_queue_free(&t->queue);
	free(t->wbuf);
	free(t->wlens);
	free(t);
	sink_transport_closed(core);
}

static void finish(struct stdout_transport *t)
{
	uv_timer_stop(&t->retry);
	size_t left = sink_queue_clear(&t->queue) + (t->wcount - entries_written(t));
	stats_of(t)->sent += entries_written(t);
	stats_of(t)->dropped[DROP_OVERFLOW] += left;
	if (left > 0)
		log_warn("sink", "%s: stdout not read within %llu ms of closing: %zu lines dropped", t->base.core->name,
			    (unsigned long long)sink_close_wait_ms(t->base.core->cfg), left);
	t->wcount = 0;
	uv_close((uv_handle_t *)&t->retry, stdout_closed);
}

static void retry_due(uv_timer_t *timer);

static void write_or_wait(struct stdout_transport *t)
{
	if (drain(t)) {
		if (t->closing)
			finish(t);
		return;
	}
	if (t->closing && uv_now(t->base.core->loop) >= t->close_deadline_ms) {
		finish(t);
		return;
	}
	if (!uv_is_active((uv_handle_t *)&t->retry))
		uv_timer_start(&t->retry, retry_due, STDOUT_RETRY_MS, 0);
}

static void retry_due(uv_timer_t *timer) { write_or_wait(timer->data); }

static void stdout_flush(struct sink_transport *base)
{
	struct stdout_transport *t = (struct stdout_transport *)base;
	sink_queue_end_batch(&t->queue);
	write_or_wait(t);
}

static uint64_t stdout_buffered(const struct sink_transport *base)
{
	const struct stdout_transport *t = (const struct stdout_transport *)base;
	return sink_queue_count(&t->queue) + t->wcount;
}

static void stdout_close(struct sink_transport *base)
{
	struct stdout_transport *t = (struct stdout_transport *)base;
	t->closing = true;
	uv_update_time(base->core->loop);
	t->close_deadline_ms = uv_now(base->core->loop) + sink_close_wait_ms(base->core->cfg);
	sink_queue_end_batch(&t->queue);
	write_or_wait(t);
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
	char *wbuf = malloc(STDOUT_CHUNK_BYTES);
	uint32_t *wlens = malloc(STDOUT_CHUNK_ENTRIES * sizeof(*wlens));
	if (t == NULL || wbuf == NULL || wlens == NULL) {
		log_error("sink", "%s: out of memory", core->name);
		free(t);
		free(wbuf);
		free(wlens);
		return NULL;
	}
	t->base.ops = &stdout_ops;
	t->base.core = core;
	t->fd = STDOUT_FILENO;
	struct stat st;
	t->regular_file = fstat(t->fd, &st) == 0 && S_ISREG(st.st_mode);
	t->wbuf = wbuf;
	t->wlens = wlens;
	sink_queue_init(&t->queue, core->cfg->buffer_lines);
	uv_timer_init(core->loop, &t->retry);
	t->retry.data = t;
	return &t->base;
}
