/*
 * The UDP transport (statsd, dogstatsd, graphite over UDP).
 *
 * Entries are packed into datagrams of at most max_packet bytes, never split,
 * and sent with sendmmsg on the uv_udp_t's socket, up to UDP_BATCH datagrams
 * per system call. That bypasses libuv's send queue, which is safe because
 * nothing is queued there except in the EAGAIN case below, and then every
 * datagram goes through the queue until it is empty again, so order holds.
 *
 * A flush is paced: its datagrams go out a few every UDP_PACE_TICK_MS, spread
 * over three quarters of the interval (at most UDP_PACE_WINDOW_MAX_MS), from a
 * libuv timer, so the loop is never held and a receiver with a default
 * socket buffer on the same host (statsd's is the kernel's rmem_default,
 * about 200 KB, some 80 datagrams) is not overrun by a whole flush at once.
 * What a flush has not sent when the next one comes (a late loop, or the
 * last flush at shutdown) is paced again together with the new one, within
 * the same window, so the pacer is always done before the next flush. The socket is connected, so that an ICMP port unreachable
 * comes back as ECONNREFUSED on a later send: counted as an error (and
 * logged, rate-limited), then that datagram is sent again once, so a receiver
 * that restarts misses nothing more than it would have.
 *
 * Delivery rules:
 *  - An address still resolving: entries wait in a bounded queue
 *    (buffer_lines, oldest dropped as overflow) and go out once it resolves.
 *  - The kernel refuses a datagram (EACCES, EMSGSIZE, ENETUNREACH, ...): its
 *    entries are dropped as send_error, errors++.
 *  - EAGAIN (socket buffer full, a burst on a real NIC): that datagram and the
 *    rest of the batch are copied into libuv's send queue, which writes them
 *    when the socket drains; bounded by buffer_lines, overflow beyond that.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sink/dgram.h"
#include "sink/queue.h"

#define UDP_BATCH 64
/* Pacing: a few datagrams every tick, spread over part of the interval. */
#define UDP_PACE_TICK_MS 10u
#define UDP_PACE_WINDOW_MAX_MS 5000u
#define UDP_PACE_MIN_BURST 2u
#define UDP_DEFAULT_MAX_PACKET 1432u
#define UDP_MAX_PACKET 65507u
#define UDP_LINES_PER_TAKE 256
#define UDP_SNDBUF (4 * 1024 * 1024)
/* A failed resolution is retried sooner than resolve_interval, from this step. */
#define UDP_RESOLVE_RETRY_MIN_MS 1000u

struct udp_transport;

struct udp_socket {
	uv_udp_t handle;
	struct udp_transport *owner;
	int family;
};

/* A datagram waiting in libuv's send queue; owns its bytes. */
struct udp_deferred {
	uv_udp_send_t req;
	struct udp_transport *owner;
	uint32_t lines;
	size_t len;
	char data[];
};

struct udp_transport {
	struct sink_dgram dgram; /* first (sink_dgram casts); its timer re-resolves */
	struct udp_socket *sock; /* NULL until the address is known */
	struct sockaddr_storage dest;
	bool have_dest;

	uv_getaddrinfo_t resolve_req;
	bool resolving;
	unsigned resolve_failures;

	struct sink_queue waiting; /* entries pushed before the address is known */

	char *slots; /* nslots datagrams of max_packet bytes; grows to hold a flush */
	size_t nslots;
	size_t npackets; /* complete datagrams in slots[0..npackets) */
	size_t next;     /* slots[next..npackets) wait for the pacer */
	size_t cur_len;  /* bytes of the datagram being filled, in slots[npackets] */
	uint32_t cur_lines;
	size_t *packet_len;
	uint32_t *packet_lines;
	uv_timer_t pacer; /* data: this */
	size_t per_tick;  /* datagrams the pacer sends each tick */
	bool errors_this_flush;
	bool use_try_send; /* sendmmsg unavailable */
	bool connected;    /* else each datagram names dest (connect refused: a broadcast address) */

	uint64_t deferred_lines;
	unsigned deferred_reqs;

	struct log_complaint send_complaint;
	struct log_complaint resolve_complaint;
};

static void send_packets(struct udp_transport *t, size_t to);

static struct sink_core *core_of(struct udp_transport *t) { return t->dgram.base.core; }
static struct sink_stats *stats_of(struct udp_transport *t) { return &core_of(t)->stats; }

static char *slot(struct udp_transport *t, size_t i) { return t->slots + i * t->dgram.max_packet; }

/* Room for the datagram slots[npackets]; false on ENOMEM. */
static bool grow_slots(struct udp_transport *t)
{
	if (t->npackets < t->nslots)
		return true;
	size_t n = t->nslots * 2;
	char *slots = realloc(t->slots, n * t->dgram.max_packet);
	if (slots == NULL)
		return false;
	t->slots = slots;
	size_t *lens = realloc(t->packet_len, n * sizeof(*lens));
	if (lens == NULL)
		return false;
	t->packet_len = lens;
	uint32_t *lines = realloc(t->packet_lines, n * sizeof(*lines));
	if (lines == NULL)
		return false;
	t->packet_lines = lines;
	t->nslots = n;
	return true;
}

static void pacer_closed(uv_handle_t *handle) { sink_dgram_handle_closed(handle->data); }

static void socket_closed(uv_handle_t *handle)
{
	struct udp_socket *sock = handle->data;
	struct udp_transport *t = sock->owner;
	free(sock);
	sink_dgram_handle_closed(&t->dgram);
}

static void close_socket(struct udp_transport *t)
{
	if (t->sock == NULL)
		return;
	uv_close((uv_handle_t *)&t->sock->handle, socket_closed);
	t->sock = NULL;
}

static int open_socket(struct udp_transport *t, int family)
{
	struct udp_socket *sock = calloc(1, sizeof(*sock));
	if (sock == NULL)
		return UV_ENOMEM;
	int err = uv_udp_init_ex(core_of(t)->loop, &sock->handle, (unsigned)family);
	if (err < 0) {
		free(sock);
		return err;
	}
	sock->handle.data = sock;
	sock->owner = t;
	sock->family = family;
	t->dgram.open_handles++;
	t->sock = sock;
	/* Room for a whole flush in flight; the kernel caps it at wmem_max. */
	int sndbuf = UDP_SNDBUF;
	uv_send_buffer_size((uv_handle_t *)&sock->handle, &sndbuf);
	return 0;
}

/* Use dest from now on, on a socket of its family. */
static int set_dest(struct udp_transport *t, const struct sockaddr_storage *dest)
{
	t->dest = *dest;
	t->have_dest = true;
	if (t->sock != NULL && t->sock->family == dest->ss_family) {
		if (t->connected)
			uv_udp_connect(&t->sock->handle, NULL); /* a new address: connect again */
	} else {
		close_socket(t);
		int err = open_socket(t, dest->ss_family);
		if (err < 0)
			return err;
	}
	/* Connected, the kernel reports the peer's ICMP port unreachable as ECONNREFUSED. */
	t->connected = uv_udp_connect(&t->sock->handle, (const struct sockaddr *)dest) == 0;
	return 0;
}

/* The address a send names: none on a connected socket. */
static const struct sockaddr *dest_of(const struct udp_transport *t)
{
	return t->connected ? NULL : (const struct sockaddr *)&t->dest;
}

/* An error the kernel reported on the socket: counted and logged (rate-limited). */
static void note_refused(struct udp_transport *t, int err)
{
	char addr[80];
	stats_of(t)->errors++;
	t->errors_this_flush = true;
	log_complain(&t->send_complaint, LOG_WARNING, "sink", "%s: sending to %s: %s", core_of(t)->name,
		     sink_addr_text(&t->dest, addr, sizeof(addr)), uv_strerror(err));
}

static void count_refused(struct udp_transport *t, uint32_t lines, int err)
{
	stats_of(t)->dropped[DROP_SEND_ERROR] += lines;
	note_refused(t, err);
}

static void deferred_sent(uv_udp_send_t *req, int status)
{
	struct udp_deferred *d = (struct udp_deferred *)req;
	struct udp_transport *t = d->owner;
	t->deferred_lines -= d->lines;
	t->deferred_reqs--;
	if (status == 0)
		stats_of(t)->sent += d->lines;
	else if (status == UV_ECANCELED)
		stats_of(t)->dropped[DROP_SEND_ERROR] += d->lines; /* the socket closed first */
	else
		count_refused(t, d->lines, status);
	free(d);
	if (t->dgram.closing && t->deferred_reqs == 0 && t->next == t->npackets)
		sink_dgram_finish(&t->dgram);
	else
		sink_dgram_maybe_free(&t->dgram);
}

/* Hand datagrams [from, to) to libuv's queue: it sends them when the socket drains. */
static void defer_packets(struct udp_transport *t, size_t from, size_t to)
{
	uint64_t limit = core_of(t)->cfg->buffer_lines;
	for (size_t i = from; i < to; i++) {
		uint32_t lines = t->packet_lines[i];
		if (t->deferred_lines + lines > limit) {
			stats_of(t)->dropped[DROP_OVERFLOW] += lines;
			continue;
		}
		struct udp_deferred *d = malloc(sizeof(*d) + t->packet_len[i]);
		if (d == NULL) {
			stats_of(t)->dropped[DROP_OVERFLOW] += lines;
			continue;
		}
		d->owner = t;
		d->lines = lines;
		d->len = t->packet_len[i];
		memcpy(d->data, slot(t, i), d->len);
		uv_buf_t buf = uv_buf_init(d->data, (unsigned)d->len);
		int err = uv_udp_send(&d->req, &t->sock->handle, &buf, 1, dest_of(t), deferred_sent);
		if (err < 0) {
			free(d);
			count_refused(t, lines, err);
			continue;
		}
		t->deferred_lines += lines;
		t->deferred_reqs++;
	}
}

/* Send datagrams [i, to) now; returns how many the kernel took, or a negative uv error for datagram i. */
static int send_now(struct udp_transport *t, size_t i, size_t to)
{
	if (!t->use_try_send) {
		struct mmsghdr msgs[UDP_BATCH];
		struct iovec iov[UDP_BATCH];
		size_t n = to - i < UDP_BATCH ? to - i : UDP_BATCH;
		for (size_t k = 0; k < n; k++) {
			iov[k].iov_base = slot(t, i + k);
			iov[k].iov_len = t->packet_len[i + k];
			memset(&msgs[k], 0, sizeof(msgs[k]));
			if (!t->connected) {
				msgs[k].msg_hdr.msg_name = &t->dest;
				msgs[k].msg_hdr.msg_namelen = sink_addr_len(&t->dest);
			}
			msgs[k].msg_hdr.msg_iov = &iov[k];
			msgs[k].msg_hdr.msg_iovlen = 1;
		}
		uv_os_fd_t fd;
		if (uv_fileno((uv_handle_t *)&t->sock->handle, &fd) < 0)
			return UV_EBADF;
		int r = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
		if (r >= 0 || errno != ENOSYS)
			return r >= 0 ? r : -errno;
		t->use_try_send = true;
	}
	uv_buf_t buf = uv_buf_init(slot(t, i), (unsigned)t->packet_len[i]);
	int r = uv_udp_try_send(&t->sock->handle, &buf, 1, dest_of(t));
	return r >= 0 ? 1 : r;
}

/* Send datagrams [next, to) now, in order. */
static void send_packets(struct udp_transport *t, size_t to)
{
	size_t i = t->next;
	bool retried = false;
	t->next = to;
	if (t->deferred_reqs > 0) {
		defer_packets(t, i, to);
		return;
	}
	while (i < to) {
		int r = send_now(t, i, to);
		if (r > 0) {
			for (int k = 0; k < r; k++)
				stats_of(t)->sent += t->packet_lines[i + (size_t)k];
			i += (size_t)r;
		} else if (r == UV_EINTR) {
			continue;
		} else if (r == UV_ECONNREFUSED && !retried) {
			/* The ICMP answer to an earlier datagram, not about this one: counted, this one sent again. */
			note_refused(t, r);
			retried = true;
			continue;
		} else if (r == UV_EAGAIN || r == UV_ENOBUFS) {
			defer_packets(t, i, to);
			break;
		} else {
			count_refused(t, t->packet_lines[i], r);
			i++;
		}
	}
}

/* Everything sent: the slots are reused from the start. */
static void rewind_if_sent(struct udp_transport *t)
{
	if (t->next == t->npackets && t->cur_lines == 0)
		t->next = t->npackets = 0;
}

static void pace_tick(uv_timer_t *timer)
{
	struct udp_transport *t = timer->data;
	size_t to = t->next + t->per_tick < t->npackets ? t->next + t->per_tick : t->npackets;
	send_packets(t, to);
	rewind_if_sent(t);
	if (t->next < t->npackets)
		uv_timer_start(&t->pacer, pace_tick, UDP_PACE_TICK_MS, 0);
	else if (t->dgram.closing && t->deferred_reqs == 0)
		sink_dgram_finish(&t->dgram);
}

/* Send what waits (this flush, and what an earlier one left): some now, the rest from the pacer. */
static void start_pacing(struct udp_transport *t)
{
	uint64_t interval = core_of(t)->env->interval_ms;
	size_t pending = t->npackets - t->next;
	uint64_t window = interval / 4 * 3 < UDP_PACE_WINDOW_MAX_MS ? interval / 4 * 3 : UDP_PACE_WINDOW_MAX_MS;
	/* The last flush is paced too, over three quarters of what closing may take. */
	uint64_t close_window = sink_close_wait_ms(core_of(t)->cfg) / 4 * 3;
	if (t->dgram.closing)
		window = close_window;
	uint64_t ticks = window / UDP_PACE_TICK_MS;
	if (ticks < 2) {
		send_packets(t, t->npackets);
		rewind_if_sent(t);
		return;
	}
	/* Everything has gone by the last tick of the window. */
	size_t per_tick = (size_t)((pending + ticks - 2) / (ticks - 1));
	t->per_tick = per_tick > UDP_PACE_MIN_BURST ? per_tick : UDP_PACE_MIN_BURST;
	pace_tick(&t->pacer);
}

static void end_packet(struct udp_transport *t)
{
	if (t->cur_lines == 0)
		return;
	t->packet_len[t->npackets] = t->cur_len;
	t->packet_lines[t->npackets] = t->cur_lines;
	t->npackets++;
	t->cur_len = 0;
	t->cur_lines = 0;
}

static void udp_push(struct sink_transport *base, const char *line, size_t len)
{
	struct udp_transport *t = (struct udp_transport *)base;
	if (t->sock == NULL) {
		stats_of(t)->dropped[DROP_OVERFLOW] += sink_queue_push(&t->waiting, line, len);
		return;
	}
	if (t->cur_len + len > t->dgram.max_packet)
		end_packet(t);
	if (t->cur_lines == 0 && !grow_slots(t)) {
		stats_of(t)->dropped[DROP_OVERFLOW]++;
		return;
	}
	memcpy(slot(t, t->npackets) + t->cur_len, line, len);
	t->cur_len += len;
	t->cur_lines++;
}

static void udp_flush(struct sink_transport *base)
{
	struct udp_transport *t = (struct udp_transport *)base;
	t->errors_this_flush = false;
	end_packet(t);
	sink_queue_end_batch(&t->waiting);
	uv_timer_stop(&t->pacer);
	start_pacing(t);
	if (!t->errors_this_flush)
		log_complaint_clear(&t->send_complaint, "sink", "udp sends succeed again");
}

/* Entries that waited for the address go out as datagrams of their own. */
static void send_waiting(struct udp_transport *t)
{
	uint32_t lens[UDP_LINES_PER_TAKE];
	end_packet(t);
	while (sink_queue_count(&t->waiting) > 0 && grow_slots(t)) {
		size_t nbytes;
		size_t n = sink_queue_take(&t->waiting, slot(t, t->npackets), t->dgram.max_packet, lens, UDP_LINES_PER_TAKE,
					   &nbytes);
		t->cur_len = nbytes;
		t->cur_lines = (uint32_t)n;
		end_packet(t);
	}
	send_packets(t, t->npackets);
	rewind_if_sent(t);
}

static void resolve_again(uv_timer_t *timer);

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct udp_transport *t = req->data;
	const struct config_sink *cfg = core_of(t)->cfg;
	t->resolving = false;
	if (t->dgram.finishing || t->dgram.closing) {
		if (status == 0)
			uv_freeaddrinfo(res);
		sink_dgram_maybe_free(&t->dgram);
		return;
	}
	struct sink_addrs addrs = { .len = 0 };
	if (status == 0)
		sink_addrs_take(&addrs, res);
	int err = addrs.len > 0 ? set_dest(t, &addrs.items[0]) : (status < 0 ? status : UV_EAI_NONAME);
	if (err < 0) {
		stats_of(t)->errors++;
		log_complain(&t->resolve_complaint, LOG_WARNING, "sink", "%s: resolving %s: %s%s", core_of(t)->name,
			     cfg->address.host, uv_strerror(err),
			     t->have_dest ? " (keeping the previous address)" : " (lines wait in the buffer)");
		uint64_t max = cfg->resolve_interval_ms ? cfg->resolve_interval_ms : UDP_RESOLVE_RETRY_MIN_MS;
		uint64_t delay = sink_backoff_ms(UDP_RESOLVE_RETRY_MIN_MS, max, t->resolve_failures++, &t->dgram.rng);
		uv_timer_start(&t->dgram.timer, resolve_again, delay, 0);
		return;
	}
	t->resolve_failures = 0;
	log_complaint_clear(&t->resolve_complaint, "sink", "udp address resolved again");
	if (cfg->resolve_interval_ms > 0)
		uv_timer_start(&t->dgram.timer, resolve_again, cfg->resolve_interval_ms, 0);
	send_waiting(t);
}

static void start_resolve(struct udp_transport *t)
{
	const struct config_sink *cfg = core_of(t)->cfg;
	if (t->resolving)
		return;
	t->resolve_req.data = t;
	int err = sink_resolve_start(core_of(t)->loop, &t->resolve_req, resolved, cfg->address.host,
				     cfg->address.port, SOCK_DGRAM);
	if (err < 0) {
		stats_of(t)->errors++;
		log_complain(&t->resolve_complaint, LOG_WARNING, "sink", "%s: resolving %s: %s", core_of(t)->name,
			     cfg->address.host, uv_strerror(err));
		uint64_t max = cfg->resolve_interval_ms ? cfg->resolve_interval_ms : UDP_RESOLVE_RETRY_MIN_MS;
		uv_timer_start(&t->dgram.timer, resolve_again,
			       sink_backoff_ms(UDP_RESOLVE_RETRY_MIN_MS, max, t->resolve_failures++, &t->dgram.rng), 0);
		return;
	}
	t->resolving = true;
}

static void resolve_again(uv_timer_t *timer) { start_resolve(timer->data); }

/*
 * Drop what waits for the address and close the socket: datagrams still in
 * libuv's queue are cancelled (counted in deferred_sent).
 */
static void udp_end(struct sink_dgram *d)
{
	struct udp_transport *t = (struct udp_transport *)d;
	if (t->resolving)
		uv_cancel((uv_req_t *)&t->resolve_req);
	stats_of(t)->dropped[DROP_OVERFLOW] += sink_queue_clear(&t->waiting);
	for (size_t i = t->next; i < t->npackets; i++)
		stats_of(t)->dropped[DROP_OVERFLOW] += t->packet_lines[i];
	t->next = t->npackets = 0;
	stats_of(t)->dropped[DROP_OVERFLOW] += t->cur_lines;
	t->cur_lines = 0;
	uv_close((uv_handle_t *)&t->pacer, pacer_closed);
	close_socket(t);
}

/* A resolution and datagrams in libuv's queue call back into the transport: it waits for them. */
static bool udp_busy(const struct sink_dgram *d)
{
	const struct udp_transport *t = (const struct udp_transport *)d;
	return t->resolving || t->deferred_reqs > 0;
}

static void udp_release(struct sink_dgram *d)
{
	struct udp_transport *t = (struct udp_transport *)d;
	sink_queue_free(&t->waiting);
	free(t->slots);
	free(t->packet_len);
	free(t->packet_lines);
	free(t);
}

static void udp_close(struct sink_transport *base)
{
	struct udp_transport *t = (struct udp_transport *)base;
	t->dgram.closing = true;
	udp_flush(base);
	uv_timer_stop(&t->dgram.timer);
	if ((t->deferred_reqs > 0 || t->next < t->npackets) && t->sock != NULL) {
		/* Give the pacer and libuv's queue until write_timeout (at most SINK_CLOSE_MAX_MS) to drain. */
		sink_dgram_finish_at_deadline(&t->dgram);
		return;
	}
	sink_dgram_finish(&t->dgram);
}

static uint64_t udp_buffered(const struct sink_transport *base)
{
	const struct udp_transport *t = (const struct udp_transport *)base;
	uint64_t paced = 0;
	for (size_t i = t->next; i < t->npackets; i++)
		paced += t->packet_lines[i];
	return sink_queue_count(&t->waiting) + t->deferred_lines + paced;
}

static const struct sink_transport_ops udp_ops = {
	.max_line = sink_dgram_max_line,
	.push = udp_push,
	.flush = udp_flush,
	.buffered = udp_buffered,
	.close = udp_close,
};

static const struct sink_dgram_hooks udp_hooks = {
	.end = udp_end,
	.busy = udp_busy,
	.release = udp_release,
};

struct sink_transport *udp_transport_open(struct sink_core *core)
{
	const struct config_sink *cfg = core->cfg;
	struct udp_transport *t = calloc(1, sizeof(*t));
	if (t == NULL) {
		log_error("sink", "%s: out of memory", core->name);
		return NULL;
	}
	size_t max_packet = sink_dgram_max_packet(cfg, UDP_DEFAULT_MAX_PACKET, UDP_MAX_PACKET);
	t->nslots = 8;
	t->slots = malloc(t->nslots * max_packet);
	t->packet_len = malloc(t->nslots * sizeof(*t->packet_len));
	t->packet_lines = malloc(t->nslots * sizeof(*t->packet_lines));
	sink_queue_init(&t->waiting, cfg->buffer_lines);
	bool oom = t->slots == NULL || t->packet_len == NULL || t->packet_lines == NULL;
	if (oom || cfg->address.host == NULL) {
		log_error("sink", "%s: %s", core->name, oom ? "out of memory" : "no host in the address");
		free(t->slots);
		free(t->packet_len);
		free(t->packet_lines);
		free(t);
		return NULL;
	}
	sink_dgram_init(&t->dgram, core, &udp_ops, &udp_hooks, max_packet);
	uv_timer_init(core->loop, &t->pacer);
	t->pacer.data = t;
	t->dgram.open_handles++;

	struct sockaddr_storage literal;
	if (sink_addr_literal(cfg->address.host, cfg->address.port, &literal)) {
		int err = set_dest(t, &literal);
		if (err < 0) {
			log_error("sink", "%s: UDP socket: %s", core->name, uv_strerror(err));
			t->dgram.closing = true;
			t->dgram.orphan = true;
			sink_dgram_finish(&t->dgram);
			return NULL;
		}
	} else {
		start_resolve(t);
	}
	return &t->dgram.base;
}
