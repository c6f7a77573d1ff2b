/*
 * The Unix datagram transport (statsd, dogstatsd over unix:///PATH: the
 * Datadog agent's dsd.socket convention).
 *
 * Entries wait in a bounded queue (buffer_lines; the oldest go first when it
 * is full) and are packed into datagrams of at most max_packet bytes, never
 * split, sent on a connected AF_UNIX SOCK_DGRAM socket. A Unix datagram is
 * either taken whole by the receiver or refused, so, unlike UDP, nothing is
 * lost on the way and what is refused can be kept:
 *  - EAGAIN (the receiver's queue is full): the datagram goes back to the
 *    front of the queue and sending resumes when the socket is writable
 *    (uv_poll on the fd).
 *  - ECONNREFUSED, ENOTCONN, ECONNRESET, EPIPE, ENOENT (the receiver closed,
 *    or its socket file was removed): the datagram goes back to the front of
 *    the queue, errors++, and the socket is reconnected with the backoff of
 *    reconnect_min .. reconnect_max.
 *  - Anything else (EMSGSIZE: max_packet above the kernel's limit): that
 *    datagram's entries are dropped as send_error, errors++.
 * A missing socket file is a logged (rate-limited), counted error, retried
 * with the same backoff; entries wait meanwhile. Each flush also compares the
 * socket file's inode with the one connected to, so a receiver that replaced
 * the file (a restarted agent) is followed even before a send fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sink/dgram.h"
#include "sink/queue.h"

#define UNIX_DEFAULT_MAX_PACKET 8192u
#define UNIX_MAX_PACKET 65507u
#define UNIX_LINES_PER_PACKET 4096u
#define UNIX_SNDBUF (4 * 1024 * 1024)

/* One connected socket and the poll handle on it; freed (and the fd closed) in the close callback. */
struct unix_conn {
	uv_poll_t poll;
	struct unix_transport *owner;
	int fd;
	bool polling;
};

struct unix_transport {
	struct sink_dgram dgram; /* first (sink_dgram casts); its timer is the reconnect backoff */
	struct sockaddr_un addr;

	struct unix_conn *conn; /* NULL when not connected */
	dev_t dev;              /* the socket file connected to */
	ino_t ino;

	unsigned failures;
	bool ever_connected;

	struct sink_queue queue;
	char *packet; /* the datagram being sent */
	uint32_t lens[UNIX_LINES_PER_PACKET];

	struct log_complaint complaint;
};

static void try_connect(struct unix_transport *t);
static void drain(struct unix_transport *t);

static struct sink_stats *stats_of(struct unix_transport *t) { return &t->dgram.base.core->stats; }
static const char *name_of(struct unix_transport *t) { return t->dgram.base.core->name; }
static const struct config_sink *cfg_of(struct unix_transport *t) { return t->dgram.base.core->cfg; }

static void complain(struct unix_transport *t, const char *what, int err)
{
	stats_of(t)->errors++;
	log_complain(&t->complaint, LOG_WARNING, "sink", "%s: %s unix://%s: %s", name_of(t), what, t->addr.sun_path,
		     strerror(err));
}

static void unix_release(struct sink_dgram *d)
{
	struct unix_transport *t = (struct unix_transport *)d;
	/* Whatever is still waiting at the end of sink_close is lost: counted. */
	stats_of(t)->dropped[DROP_OVERFLOW] += sink_queue_clear(&t->queue);
	sink_queue_free(&t->queue);
	free(t->packet);
	free(t);
}

static void conn_closed(uv_handle_t *handle)
{
	struct unix_conn *c = handle->data;
	struct unix_transport *t = c->owner;
	close(c->fd);
	free(c);
	sink_dgram_handle_closed(&t->dgram);
}

static void disconnect(struct unix_transport *t)
{
	if (t->conn == NULL)
		return;
	uv_close((uv_handle_t *)&t->conn->poll, conn_closed);
	t->conn = NULL;
}

static void retry_due(uv_timer_t *timer) { try_connect(timer->data); }

static void schedule_retry(struct unix_transport *t)
{
	if (t->dgram.closing || t->dgram.finishing)
		return; /* the close deadline is on the timer: drained or not, it ends there */
	const struct config_sink *cfg = cfg_of(t);
	uint64_t delay = sink_backoff_ms(cfg->reconnect_min_ms, cfg->reconnect_max_ms, t->failures++, &t->dgram.rng);
	uv_timer_start(&t->dgram.timer, retry_due, delay, 0);
}

static void writable(uv_poll_t *poll, int status, int events)
{
	struct unix_conn *c = poll->data;
	struct unix_transport *t = c->owner;
	(void)events;
	uv_poll_stop(poll);
	c->polling = false;
	if (status < 0) {
		complain(t, "waiting to send to", -status);
		disconnect(t);
		schedule_retry(t);
		return;
	}
	drain(t);
}

static bool gone_error(int err)
{
	return err == ECONNREFUSED || err == ENOTCONN || err == ECONNRESET || err == EPIPE || err == ENOENT ||
	       err == EDESTADDRREQ;
}

/* Send queued entries as datagrams until the queue is empty or the socket cannot take more. */
static void drain(struct unix_transport *t)
{
	while (t->conn != NULL && !t->conn->polling && sink_queue_count(&t->queue) > 0) {
		size_t len;
		size_t n = sink_queue_take(&t->queue, t->packet, t->dgram.max_packet, t->lens, UNIX_LINES_PER_PACKET, &len);
		if (n == 0)
			break;
		ssize_t r = send(t->conn->fd, t->packet, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0) {
			stats_of(t)->sent += n;
			continue;
		}
		int err = errno;
		if (err == EINTR || err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || gone_error(err)) {
			stats_of(t)->dropped[DROP_OVERFLOW] += sink_queue_unshift(&t->queue, t->packet, t->lens, n);
			if (err == EINTR)
				continue;
			if (gone_error(err)) {
				complain(t, "sending to", err);
				disconnect(t);
				schedule_retry(t);
				return;
			}
			int uerr = uv_poll_start(&t->conn->poll, UV_WRITABLE, writable);
			if (uerr < 0) {
				complain(t, "waiting to send to", -uerr);
				disconnect(t);
				schedule_retry(t);
				return;
			}
			t->conn->polling = true;
			return;
		}
		stats_of(t)->dropped[DROP_SEND_ERROR] += n;
		complain(t, "sending to", err);
	}
	if (t->dgram.closing && sink_queue_count(&t->queue) == 0)
		sink_dgram_finish(&t->dgram);
}

static void try_connect(struct unix_transport *t)
{
	if (t->dgram.finishing || t->conn != NULL)
		return;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		complain(t, "creating a socket for", errno);
		schedule_retry(t);
		return;
	}
	int sndbuf = UNIX_SNDBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	struct stat st;
	if (connect(fd, (const struct sockaddr *)&t->addr, sizeof(t->addr)) < 0 || stat(t->addr.sun_path, &st) < 0) {
		int err = errno;
		close(fd);
		complain(t, "connecting to", err);
		schedule_retry(t);
		return;
	}
	struct unix_conn *c = calloc(1, sizeof(*c));
	int err = c ? uv_poll_init(t->dgram.base.core->loop, &c->poll, fd) : UV_ENOMEM;
	if (err < 0) {
		free(c);
		close(fd);
		complain(t, "watching the socket of", -err);
		schedule_retry(t);
		return;
	}
	c->poll.data = c;
	c->owner = t;
	c->fd = fd;
	t->dgram.open_handles++;
	t->conn = c;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->failures = 0;
	if (t->ever_connected)
		stats_of(t)->reconnects++;
	t->ever_connected = true;
	char msg[200];
	snprintf(msg, sizeof(msg), "%s: connected to unix://%s", name_of(t), t->addr.sun_path);
	log_complaint_clear(&t->complaint, "sink", msg);
	log_debug("sink", "%s", msg);
	drain(t);
}

/* A receiver that replaced its socket file (restarted) no longer reads the old socket: follow the file. */
static void check_replaced(struct unix_transport *t)
{
	struct stat st;
	if (t->conn == NULL || stat(t->addr.sun_path, &st) < 0)
		return; /* gone: the next send says so, and whether the old socket still reads */
	if (st.st_dev == t->dev && st.st_ino == t->ino)
		return;
	log_info("sink", "%s: unix://%s was replaced: reconnecting", name_of(t), t->addr.sun_path);
	disconnect(t);
	uv_timer_stop(&t->dgram.timer);
	try_connect(t);
}

static void unix_push(struct sink_transport *base, const char *line, size_t len)
{
	struct unix_transport *t = (struct unix_transport *)base;
	stats_of(t)->dropped[DROP_OVERFLOW] += sink_queue_push(&t->queue, line, len);
}

static void unix_flush(struct sink_transport *base)
{
	struct unix_transport *t = (struct unix_transport *)base;
	sink_queue_end_batch(&t->queue);
	check_replaced(t);
	drain(t);
}

static void unix_end(struct sink_dgram *d) { disconnect((struct unix_transport *)d); }

static void unix_close(struct sink_transport *base)
{
	struct unix_transport *t = (struct unix_transport *)base;
	t->dgram.closing = true;
	uv_timer_stop(&t->dgram.timer);
	if (t->conn == NULL)
		try_connect(t); /* one last try instead of waiting out the backoff */
	else
		drain(t);
	if (t->dgram.finishing)
		return;
	if (sink_queue_count(&t->queue) == 0 || t->conn == NULL || cfg_of(t)->write_timeout_ms == 0) {
		sink_dgram_finish(&t->dgram);
		return;
	}
	/* The receiver is slow: give it until write_timeout. */
	sink_dgram_finish_at_deadline(&t->dgram);
}

static uint64_t unix_buffered(const struct sink_transport *base)
{
	return sink_queue_count(&((const struct unix_transport *)base)->queue);
}

static const struct sink_transport_ops unix_ops = {
	.max_line = sink_dgram_max_line,
	.push = unix_push,
	.flush = unix_flush,
	.buffered = unix_buffered,
	.close = unix_close,
};

/* Nothing of libuv's but the handles points at the transport: no busy hook. */
static const struct sink_dgram_hooks unix_hooks = {
	.end = unix_end,
	.release = unix_release,
};

struct sink_transport *unix_transport_open(struct sink_core *core)
{
	const struct config_sink *cfg = core->cfg;
	const char *path = cfg->address.path;
	if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		log_error("sink", "%s: no usable socket path in the address", core->name);
		return NULL;
	}
	struct unix_transport *t = calloc(1, sizeof(*t));
	size_t max_packet = sink_dgram_max_packet(cfg, UNIX_DEFAULT_MAX_PACKET, UNIX_MAX_PACKET);
	char *packet = malloc(max_packet);
	if (t == NULL || packet == NULL) {
		log_error("sink", "%s: out of memory", core->name);
		free(t);
		free(packet);
		return NULL;
	}
	sink_dgram_init(&t->dgram, core, &unix_ops, &unix_hooks, max_packet);
	t->packet = packet;
	t->addr.sun_family = AF_UNIX;
	memcpy(t->addr.sun_path, path, strlen(path) + 1);
	sink_queue_init(&t->queue, cfg->buffer_lines);
	try_connect(t);
	return &t->dgram.base;
}
