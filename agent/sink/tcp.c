/*
 * The TCP transport (graphite, graphite-tagged; statsd over TCP works too).
 *
 * Entries wait in a bounded queue (buffer_lines; the oldest go first when it
 * is full). While connected, one uv_write is in flight at a time, carrying as
 * many queued entries as fit in the write buffer. A write that makes no
 * progress for write_timeout, or is still in flight when the sink closes, is
 * settled (settle_write): the entries the kernel took count as sent, one it
 * took part of is completed or the connection reset (and the line resent
 * whole with the rest; dropped only when the sink is closing), and the rest
 * go back to the front of the queue, so whole lines are resent on the new
 * connection and a stream never ends in half a line. A write that fails puts all its entries
 * back (the peer may see some twice). Entries the kernel accepted before a
 * connection broke are gone: TCP gives no application-level acknowledgement
 * to resend from.
 *
 * Connecting: resolve (every attempt, so DNS changes are followed), try each
 * address in turn with write_timeout as the connect timeout, then back off
 * exponentially from reconnect_min to reconnect_max, jittered.
 *
 * tls:// is this transport with OpenSSL between the queue and the stream
 * (sink/tls.h: memory BIOs, no thread): after the TCP connect comes the
 * handshake, bounded by write_timeout, with the peer's certificate verified
 * against ca_file or the system's store for server_name (default the host).
 * Entries are taken from the queue only once the handshake has completed and
 * the certificate was accepted, and are only ever written through SSL_write:
 * nothing goes out in clear. A failed handshake or a refused certificate is
 * counted in errors, logged (rate-limited), and retried with the backoff.
 * A write carries entries encrypted; they count as sent once the kernel took
 * the ciphertext, as for plain TCP.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/queue.h"
#include "sink/tls.h"
#include "sink/transport.h"

#define TCP_WRITE_BYTES (256u * 1024u)
#define TCP_WRITE_ENTRIES 16384u
#define TCP_KEEPALIVE_S 60u
/* How long a closing sink may block the loop to finish the one line the kernel took part of. */
#define TCP_TAIL_WAIT_MS 2000
/*
 * A peer sends nothing but the TLS handshake and its few records after: one
 * that sends more than this on a connection is no longer read (its bytes
 * then fill its own window and cost nothing here).
 */
#define TCP_READ_MAX (64u * 1024u)

enum tcp_state {
	TCP_WAITING,    /* backing off before the next attempt */
	TCP_RESOLVING,
	TCP_CONNECTING,
	TCP_HANDSHAKING, /* tls://: connected, TLS handshake under way */
	TCP_CONNECTED,
	TCP_DISCONNECTING, /* the handle is closing */
};

/* What the close callback of the connection handle goes on with. */
enum tcp_next { TCP_NEXT_RETRY, TCP_NEXT_ADDRESS };

struct tcp_transport {
	struct sink_transport base;
	enum tcp_state state;

	uv_tcp_t tcp;
	bool tcp_open; /* initialised, close callback not yet run */
	enum tcp_next next;
	uv_connect_t connect_req;
	uv_write_t write_req;
	bool writing;
	uv_getaddrinfo_t resolve_req;
	bool resolving;
	uv_timer_t retry_timer; /* backoff; the close deadline once closing */
	uv_timer_t io_timer;    /* connect and write timeouts */
	bool timed_out;         /* the io_timer fired for the current connect or write */
	size_t read_bytes;      /* read on this connection since it carried data */

	bool literal;
	struct sink_addrs addrs;
	size_t next_addr;
	struct sockaddr_storage peer;

	struct sink_tls_ctx *tls; /* tls:// only */
	struct sink_tls_conn *tls_conn;
	char *cbuf; /* tls://: the ciphertext of the write in flight */
	size_t cbuf_cap;

	struct sink_queue queue;
	char *wbuf; /* the entries of the write in flight (plaintext) */
	uint32_t *wlens;
	size_t wbytes, wcount;

	unsigned failures; /* attempts since the last connection, for the backoff */
	bool ever_connected;
	uint64_t rng;

	bool closing;   /* sink_close: deliver what we can until the deadline */
	bool finishing; /* handles closing; free once they all are */
	unsigned open_handles;
	struct log_complaint complaint;
	char readbuf[16384]; /* TLS handshake records come in here too */
};

static void start_attempt(struct tcp_transport *t);
static void finish(struct tcp_transport *t);
static void kick(struct tcp_transport *t);

static struct sink_stats *stats_of(struct tcp_transport *t) { return &t->base.core->stats; }
static const char *name_of(struct tcp_transport *t) { return t->base.core->name; }
static const struct config_sink *cfg_of(struct tcp_transport *t) { return t->base.core->cfg; }

static const char *peer_text(struct tcp_transport *t, char *buf, size_t cap)
{
	return sink_addr_text(&t->peer, buf, cap);
}

/* Count one error and log it, rate-limited: "NAME: WHAT ADDRESS: DETAIL". */
static void complain_detail(struct tcp_transport *t, const char *what, const char *detail)
{
	char addr[80];
	stats_of(t)->errors++;
	log_complain(&t->complaint, LOG_WARNING, "sink", "%s: %s %s%s%s", name_of(t), what,
		     peer_text(t, addr, sizeof(addr)), detail ? ": " : "", detail ? detail : "");
}

static void complain(struct tcp_transport *t, const char *what, int err)
{
	complain_detail(t, what, uv_strerror(err));
}

static void maybe_free(struct tcp_transport *t)
{
	if (!t->finishing || t->open_handles > 0 || t->resolving)
		return;
	struct sink_core *core = t->base.core;
	/* Whatever is still waiting at the end of sink_close is lost: counted. */
	core->stats.dropped[DROP_OVERFLOW] += sink_queue_clear(&t->queue) + t->wcount;
	sink_queue_free(&t->queue);
	sink_tls_conn_free(t->tls_conn);
	sink_tls_ctx_free(t->tls);
	free(t->cbuf);
	free(t->wbuf);
	free(t->wlens);
	free(t);
	sink_transport_closed(core);
}

static void handle_closed(uv_handle_t *handle)
{
	struct tcp_transport *t = handle->data;
	t->open_handles--;
	maybe_free(t);
}

static void put_back(struct tcp_transport *t)
{
	if (t->wcount == 0)
		return;
	stats_of(t)->dropped[DROP_OVERFLOW] += sink_queue_unshift(&t->queue, t->wbuf, t->wlens, t->wcount);
	t->wcount = 0;
	t->wbytes = 0;
}

static void retry_due(uv_timer_t *timer) { start_attempt(timer->data); }

static void schedule_retry(struct tcp_transport *t)
{
	if (t->closing) {
		finish(t);
		return;
	}
	t->state = TCP_WAITING;
	const struct config_sink *cfg = cfg_of(t);
	uint64_t delay = sink_backoff_ms(cfg->reconnect_min_ms, cfg->reconnect_max_ms, t->failures++, &t->rng);
	uv_timer_start(&t->retry_timer, retry_due, delay, 0);
}

static void connect_next(struct tcp_transport *t);

static void tcp_closed(uv_handle_t *handle)
{
	struct tcp_transport *t = handle->data;
	t->tcp_open = false;
	t->open_handles--;
	sink_tls_conn_free(t->tls_conn);
	t->tls_conn = NULL;
	if (t->finishing) {
		maybe_free(t);
		return;
	}
	if (t->next == TCP_NEXT_ADDRESS)
		connect_next(t);
	else
		schedule_retry(t);
}

/* Write bytes straight to the socket, waiting up to wait_ms for room; true when all went. */
static bool write_rest(struct tcp_transport *t, const char *p, size_t n, int wait_ms)
{
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&t->tcp, &fd) < 0)
		return false;
	uint64_t deadline = uv_hrtime() + (uint64_t)wait_ms * 1000000u;
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return false;
		uint64_t now = uv_hrtime();
		if (now >= deadline)
			return false;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000u) + 1) < 0 && errno != EINTR)
			return false;
	}
	return true;
}

/*
 * The connection is about to close with a write in flight, and the kernel
 * may hold part of it already (libuv writes what the socket takes and queues
 * the rest). The entries it took whole count as sent and are not put back:
 * resent, the peer would see them twice. When it stopped inside an entry, the
 * rest of that entry is written straight to the socket, so that the stream
 * never ends in half a line: waiting up to TCP_TAIL_WAIT_MS when the sink is
 * closing (shutdown or reload), not at all otherwise (a peer that made no
 * progress for write_timeout will not now). If the rest does not go, true
 * is returned and the entry stays to be resent whole on the next connection
 * (counted dropped only when the sink is closing): the connection is reset, not closed, so the peer sees an aborted stream rather than a clean
 * end after a cut line. tls:// is left as it is: a cut record fails the
 * peer's TLS layer as a whole, and nothing may go out in clear.
 */
static bool settle_write(struct tcp_transport *t)
{
	if (!t->writing || t->tls != NULL || t->wcount == 0)
		return false;
	size_t pending = uv_stream_get_write_queue_size((uv_stream_t *)&t->tcp);
	if (pending > t->wbytes)
		return false;
	size_t taken = t->wbytes - pending, off = 0, done = 0;
	while (done < t->wcount && off + t->wlens[done] <= taken)
		off += t->wlens[done++];
	stats_of(t)->sent += done;
	bool reset = false;
	if (taken > off) {
		size_t end = off + t->wlens[done];
		if (write_rest(t, t->wbuf + taken, end - taken, t->closing ? TCP_TAIL_WAIT_MS : 0)) {
			stats_of(t)->sent++;
			off = end;
			done++;
		} else if (t->closing) {
			stats_of(t)->dropped[DROP_OVERFLOW]++; /* no next connection to resend it on */
			reset = true;
			off = end;
			done++;
		} else {
			/*
			 * The peer's copy is cut and the connection is reset; the line
			 * stays with the rest to go back to the queue, whole, for the
			 * next connection (which one of two paths notices a dead peer
			 * first, this or the write's error, must not decide a loss).
			 */
			reset = true;
		}
	}
	memmove(t->wbuf, t->wbuf + off, t->wbytes - off);
	memmove(t->wlens, t->wlens + done, (t->wcount - done) * sizeof(*t->wlens));
	t->wcount -= done;
	t->wbytes -= off;
	return reset;
}

/* Close the connection handle; whatever was in flight is settled first (see settle_write). */
static void close_tcp(struct tcp_transport *t)
{
	if (settle_write(t) && uv_tcp_close_reset(&t->tcp, tcp_closed) == 0)
		return;
	uv_close((uv_handle_t *)&t->tcp, tcp_closed);
}

static void close_connection(struct tcp_transport *t, enum tcp_next next)
{
	if (!t->tcp_open || uv_is_closing((uv_handle_t *)&t->tcp))
		return;
	uv_timer_stop(&t->io_timer);
	uv_read_stop((uv_stream_t *)&t->tcp);
	t->next = next;
	t->state = TCP_DISCONNECTING;
	close_tcp(t);
}

/*
 * A socket the kernel would take bytes on is not stuck: the timer fired
 * because the loop was busy (a long flush), and the connect or write callback
 * is about to run. Checked so that a blocked loop is not blamed on the peer.
 */
static bool socket_writable(struct tcp_transport *t)
{
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&t->tcp, &fd) < 0)
		return false;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT);
}

static void io_timeout(uv_timer_t *timer)
{
	struct tcp_transport *t = timer->data;
	if (t->state == TCP_HANDSHAKING) {
		/* Writable or not: the peer has not finished its part of the handshake. */
		t->timed_out = true;
		complain_detail(t, "TLS handshake with", "timed out");
		close_connection(t, TCP_NEXT_RETRY);
		return;
	}
	if (socket_writable(t)) {
		uv_timer_start(&t->io_timer, io_timeout, cfg_of(t)->write_timeout_ms, 0);
		return;
	}
	t->timed_out = true;
	if (t->state == TCP_CONNECTING) {
		complain_detail(t, "connecting to", "timed out");
		close_connection(t, TCP_NEXT_ADDRESS);
	} else if (t->state == TCP_CONNECTED && t->writing) {
		/* A peer that accepts but does not read: its window never opens again. */
		complain_detail(t, "writing to", "no progress within write_timeout, reconnecting");
		close_connection(t, TCP_NEXT_RETRY);
	}
}

static void start_io_timer(struct tcp_transport *t)
{
	t->timed_out = false;
	uv_update_time(t->base.core->loop); /* measure from now, not from when the loop last woke */
	if (cfg_of(t)->write_timeout_ms > 0)
		uv_timer_start(&t->io_timer, io_timeout, cfg_of(t)->write_timeout_ms, 0);
}

static void read_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	struct tcp_transport *t = handle->data;
	(void)suggested;
	*buf = uv_buf_init(t->readbuf, sizeof(t->readbuf));
}

static void tls_advance(struct tcp_transport *t);

/* tls://: what the peer sent after the handshake (tickets, alerts, close_notify). */
static void tls_receive(struct tcp_transport *t)
{
	switch (sink_tls_read(t->tls_conn)) {
	case SINK_TLS_OK:
	case SINK_TLS_WANT:
		kick(t); /* anything the library must answer */
		return;
	case SINK_TLS_CLOSED:
		complain_detail(t, "connection closed by", "TLS close_notify");
		break;
	case SINK_TLS_FAILED:
		complain_detail(t, "TLS error on the connection to", sink_tls_error(t->tls_conn));
		break;
	}
	close_connection(t, TCP_NEXT_RETRY);
}

/*
 * Peers send nothing; reading is how a closed or reset connection is noticed
 * while idle. One that sends more than TCP_READ_MAX is not read any more: a
 * broken connection is then noticed at the next write.
 */
static void read_done(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_transport *t = stream->data;
	if (nread > 0 && t->state == TCP_CONNECTED && (t->read_bytes += (size_t)nread) > TCP_READ_MAX) {
		uv_read_stop(stream);
		complain_detail(t, "reading from", "the peer sends data: no longer reading it");
		return;
	}
	if (nread > 0 && t->tls_conn != NULL && t->state != TCP_DISCONNECTING) {
		if (!sink_tls_feed(t->tls_conn, buf->base, (size_t)nread)) {
			complain_detail(t, "reading from", sink_tls_error(t->tls_conn));
			close_connection(t, TCP_NEXT_RETRY);
		} else if (t->state == TCP_HANDSHAKING) {
			tls_advance(t);
		} else {
			tls_receive(t);
		}
		return;
	}
	if (nread >= 0)
		return;
	if (nread == UV_EOF)
		complain_detail(t, "connection closed by", NULL);
	else
		complain(t, "connection to", (int)nread);
	close_connection(t, TCP_NEXT_RETRY);
}

static void write_done(uv_write_t *req, int status)
{
	struct tcp_transport *t = req->data;
	t->writing = false;
	uv_timer_stop(&t->io_timer);
	if (status == 0) {
		stats_of(t)->sent += t->wcount;
		t->wcount = 0;
		t->wbytes = 0;
		if (t->state == TCP_HANDSHAKING)
			start_io_timer(t); /* the handshake deadline again */
		kick(t);
		return;
	}
	put_back(t);
	if (status != UV_ECANCELED && !t->timed_out)
		complain(t, "writing to", status);
	close_connection(t, TCP_NEXT_RETRY);
}

/* tls://: move the ciphertext the library produced into cbuf; returns its length, 0 on ENOMEM. */
static size_t take_ciphertext(struct tcp_transport *t)
{
	size_t n = sink_tls_pending(t->tls_conn);
	if (n > t->cbuf_cap) {
		char *bigger = realloc(t->cbuf, n);
		if (bigger == NULL)
			return 0;
		t->cbuf = bigger;
		t->cbuf_cap = n;
	}
	return sink_tls_take(t->tls_conn, t->cbuf, n);
}

static void kick(struct tcp_transport *t)
{
	if (t->finishing || t->writing)
		return;
	if (t->closing && sink_queue_count(&t->queue) == 0) {
		finish(t);
		return;
	}
	if (t->tls != NULL && t->tls_conn == NULL)
		return; /* never a byte in clear */
	bool data = t->state == TCP_CONNECTED && sink_queue_count(&t->queue) > 0;
	bool handshake = t->tls != NULL && t->state == TCP_HANDSHAKING && sink_tls_pending(t->tls_conn) > 0;
	if (!data && !handshake && !(t->tls != NULL && t->state == TCP_CONNECTED && sink_tls_pending(t->tls_conn) > 0))
		return;
	if (data)
		t->wcount = sink_queue_take(&t->queue, t->wbuf, TCP_WRITE_BYTES, t->wlens, TCP_WRITE_ENTRIES,
					    &t->wbytes);
	uv_buf_t buf = uv_buf_init(t->wbuf, (unsigned)t->wbytes);
	if (t->tls != NULL) {
		if (t->wcount > 0 && !sink_tls_write(t->tls_conn, t->wbuf, t->wbytes)) {
			put_back(t);
			complain_detail(t, "encrypting for", sink_tls_error(t->tls_conn));
			close_connection(t, TCP_NEXT_RETRY);
			return;
		}
		size_t n = take_ciphertext(t);
		if (n == 0) {
			put_back(t);
			complain_detail(t, "writing to", "out of memory for the TLS records");
			close_connection(t, TCP_NEXT_RETRY);
			return;
		}
		buf = uv_buf_init(t->cbuf, (unsigned)n);
	}
	t->write_req.data = t;
	int err = uv_write(&t->write_req, (uv_stream_t *)&t->tcp, &buf, 1, write_done);
	if (err < 0) {
		put_back(t);
		complain(t, "writing to", err);
		close_connection(t, TCP_NEXT_RETRY);
		return;
	}
	t->writing = true;
	start_io_timer(t);
}

/* The connection carries data from now on (tls://: the handshake is done and the certificate accepted). */
static void established(struct tcp_transport *t)
{
	t->state = TCP_CONNECTED;
	t->read_bytes = 0;
	t->failures = 0;
	if (t->ever_connected)
		stats_of(t)->reconnects++;
	t->ever_connected = true;
	char addr[80], msg[200];
	snprintf(msg, sizeof(msg), "%s: connected to %s%s", name_of(t), peer_text(t, addr, sizeof(addr)),
		 t->tls != NULL ? " (TLS, certificate verified)" : "");
	log_complaint_clear(&t->complaint, "sink", msg);
	log_debug("sink", "%s", msg);
}

/* Best effort: the alert that tells the peer why the handshake was given up, if the socket takes it now. */
static void send_alert(struct tcp_transport *t)
{
	char alert[512];
	if (t->writing || sink_tls_pending(t->tls_conn) > sizeof(alert))
		return;
	size_t n = sink_tls_take(t->tls_conn, alert, sizeof(alert));
	if (n > 0) {
		uv_buf_t buf = uv_buf_init(alert, (unsigned)n);
		uv_try_write((uv_stream_t *)&t->tcp, &buf, 1);
	}
}

static void tls_advance(struct tcp_transport *t)
{
	enum sink_tls_status st = sink_tls_handshake(t->tls_conn);
	if (st == SINK_TLS_FAILED || st == SINK_TLS_CLOSED) {
		send_alert(t);
		complain_detail(t, "TLS handshake with",
				st == SINK_TLS_CLOSED ? "closed by the peer" : sink_tls_error(t->tls_conn));
		close_connection(t, TCP_NEXT_RETRY);
		return;
	}
	if (st == SINK_TLS_OK) {
		if (!t->writing)
			uv_timer_stop(&t->io_timer);
		established(t);
		tls_receive(t); /* whatever came with the peer's last flight; then kick */
		return;
	}
	kick(t);
}

static void connected(uv_connect_t *req, int status)
{
	struct tcp_transport *t = req->data;
	uv_timer_stop(&t->io_timer);
	if (t->finishing)
		return;
	if (status < 0) {
		if (status != UV_ECANCELED && !t->timed_out)
			complain(t, "connecting to", status);
		close_connection(t, TCP_NEXT_ADDRESS);
		return;
	}
	uv_tcp_nodelay(&t->tcp, 1);
	uv_tcp_keepalive(&t->tcp, 1, TCP_KEEPALIVE_S);
	int err = uv_read_start((uv_stream_t *)&t->tcp, read_alloc, read_done);
	if (err < 0) {
		complain(t, "reading from", err);
		close_connection(t, TCP_NEXT_RETRY);
		return;
	}
	if (t->tls == NULL) {
		established(t);
		kick(t);
		return;
	}
	t->tls_conn = sink_tls_conn_new(t->tls, cfg_of(t)->address.host);
	if (t->tls_conn == NULL) {
		complain_detail(t, "setting up TLS for", "out of memory or a name OpenSSL refuses");
		close_connection(t, TCP_NEXT_RETRY);
		return;
	}
	t->state = TCP_HANDSHAKING;
	start_io_timer(t);
	tls_advance(t);
}

static void connect_next(struct tcp_transport *t)
{
	if (t->next_addr >= t->addrs.len) {
		schedule_retry(t);
		return;
	}
	t->peer = t->addrs.items[t->next_addr++];
	int err = uv_tcp_init(t->base.core->loop, &t->tcp);
	if (err < 0) {
		complain(t, "creating a socket for", err);
		schedule_retry(t);
		return;
	}
	t->tcp.data = t;
	t->tcp_open = true;
	t->open_handles++;
	t->state = TCP_CONNECTING;
	t->connect_req.data = t;
	err = uv_tcp_connect(&t->connect_req, &t->tcp, (const struct sockaddr *)&t->peer, connected);
	if (err < 0) {
		complain(t, "connecting to", err);
		t->next = TCP_NEXT_ADDRESS;
		t->state = TCP_DISCONNECTING;
		uv_close((uv_handle_t *)&t->tcp, tcp_closed);
		return;
	}
	start_io_timer(t);
}

static void resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct tcp_transport *t = req->data;
	t->resolving = false;
	if (t->finishing) {
		if (status == 0)
			uv_freeaddrinfo(res);
		maybe_free(t);
		return;
	}
	if (status == 0)
		sink_addrs_take(&t->addrs, res);
	if (status < 0 || t->addrs.len == 0) {
		stats_of(t)->errors++;
		log_complain(&t->complaint, LOG_WARNING, "sink", "%s: resolving %s: %s", name_of(t),
			     cfg_of(t)->address.host, uv_strerror(status < 0 ? status : UV_EAI_NONAME));
		schedule_retry(t);
		return;
	}
	t->next_addr = 0;
	connect_next(t);
}

static void start_attempt(struct tcp_transport *t)
{
	if (t->finishing)
		return;
	t->state = TCP_RESOLVING;
	if (t->literal) {
		t->next_addr = 0;
		connect_next(t);
		return;
	}
	t->resolve_req.data = t;
	int err = sink_resolve_start(t->base.core->loop, &t->resolve_req, resolved, cfg_of(t)->address.host,
				     cfg_of(t)->address.port, SOCK_STREAM);
	if (err < 0) {
		stats_of(t)->errors++;
		log_complain(&t->complaint, LOG_WARNING, "sink", "%s: resolving %s: %s", name_of(t),
			     cfg_of(t)->address.host, uv_strerror(err));
		schedule_retry(t);
		return;
	}
	t->resolving = true;
}

/* Stop everything; the entries left are counted dropped once every handle is closed. */
static void finish(struct tcp_transport *t)
{
	if (t->finishing) {
		maybe_free(t);
		return;
	}
	t->finishing = true;
	uv_timer_stop(&t->retry_timer);
	uv_timer_stop(&t->io_timer);
	uv_close((uv_handle_t *)&t->retry_timer, handle_closed);
	uv_close((uv_handle_t *)&t->io_timer, handle_closed);
	if (t->resolving)
		uv_cancel((uv_req_t *)&t->resolve_req);
	/* A write in flight is cancelled here: write_done puts its entries back. */
	if (t->tcp_open && !uv_is_closing((uv_handle_t *)&t->tcp))
		close_tcp(t);
	maybe_free(t);
}

static void close_deadline(uv_timer_t *timer) { finish(timer->data); }

static void tcp_close(struct sink_transport *base)
{
	struct tcp_transport *t = (struct tcp_transport *)base;
	t->closing = true;
	if (sink_queue_count(&t->queue) == 0 && !t->writing) {
		finish(t);
		return;
	}
	uv_timer_stop(&t->retry_timer);
	if (cfg_of(t)->write_timeout_ms == 0) {
		finish(t);
		return;
	}
	uv_update_time(t->base.core->loop);
	uv_timer_start(&t->retry_timer, close_deadline, sink_close_wait_ms(cfg_of(t)), 0);
	if (t->state == TCP_WAITING)
		start_attempt(t); /* one last try instead of waiting out the backoff */
	else
		kick(t);
}

static void tcp_push(struct sink_transport *base, const char *line, size_t len)
{
	struct tcp_transport *t = (struct tcp_transport *)base;
	stats_of(t)->dropped[DROP_OVERFLOW] += sink_queue_push(&t->queue, line, len);
}

static void tcp_flush(struct sink_transport *base)
{
	struct tcp_transport *t = (struct tcp_transport *)base;
	sink_queue_end_batch(&t->queue);
	kick(t);
}

static size_t tcp_max_line(const struct sink_transport *base)
{
	(void)base;
	return SINK_STREAM_LINE_MAX;
}

static uint64_t tcp_buffered(const struct sink_transport *base)
{
	const struct tcp_transport *t = (const struct tcp_transport *)base;
	return sink_queue_count(&t->queue) + t->wcount;
}

static const struct sink_transport_ops tcp_ops = {
	.max_line = tcp_max_line,
	.push = tcp_push,
	.flush = tcp_flush,
	.buffered = tcp_buffered,
	.close = tcp_close,
};

struct sink_transport *tcp_transport_open(struct sink_core *core)
{
	const struct config_sink *cfg = core->cfg;
	if (cfg->address.host == NULL) {
		log_error("sink", "%s: no host in the address", core->name);
		return NULL;
	}
	struct sink_tls_ctx *tls = NULL;
	if (cfg->address.transport == TRANSPORT_TLS && (tls = sink_tls_ctx_new(cfg, core->name)) == NULL)
		return NULL;
	struct tcp_transport *t = calloc(1, sizeof(*t));
	char *wbuf = malloc(TCP_WRITE_BYTES);
	uint32_t *wlens = malloc(TCP_WRITE_ENTRIES * sizeof(*wlens));
	if (t == NULL || wbuf == NULL || wlens == NULL) {
		log_error("sink", "%s: out of memory", core->name);
		sink_tls_ctx_free(tls);
		free(t);
		free(wbuf);
		free(wlens);
		return NULL;
	}
	t->tls = tls;
	t->base.ops = &tcp_ops;
	t->base.core = core;
	t->wbuf = wbuf;
	t->wlens = wlens;
	t->rng = sink_rng_seed(t);
	sink_queue_init(&t->queue, cfg->buffer_lines);
	uv_timer_init(core->loop, &t->retry_timer);
	uv_timer_init(core->loop, &t->io_timer);
	t->retry_timer.data = t;
	t->io_timer.data = t;
	t->open_handles = 2;
	struct sockaddr_storage literal;
	if (sink_addr_literal(cfg->address.host, cfg->address.port, &literal)) {
		t->literal = true;
		t->addrs.items[0] = literal;
		t->addrs.len = 1;
		t->peer = literal;
	}
	start_attempt(t);
	return &t->base;
}
