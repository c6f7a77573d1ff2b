/* The sink suites' shared fixture: see sink_fixture.h. */
#include "sink_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- the loop ---- */

uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

bool pump_until(uv_loop_t *loop, unsigned timeout_ms, until_fn done, void *arg)
{
	assert_non_null(done); /* a wait without a predicate is a guess about time */
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		uv_run(loop, UV_RUN_NOWAIT);
		if (done(arg))
			return true;
		if (now_ms() >= deadline)
			return false;
		poll(NULL, 0, 1);
	}
}

bool flag_set(void *arg) { return *(bool *)arg; }
void set_flag(void *arg) { *(bool *)arg = true; }

/* ---- a sink configured by hand ---- */

void fixture_init(struct fixture *f, enum sink_type type, enum transport transport, const char *host, uint16_t port)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->loop_open = true;
	snprintf(f->host, sizeof(f->host), "%s", host);
	f->cfg.name = "test";
	f->cfg.type = type;
	f->cfg.format = type;
	f->cfg.address.transport = transport;
	f->cfg.address.host = f->host;
	f->cfg.address.port = port;
	f->cfg.prefix = "";
	f->cfg.max_packet = 1432;
	f->cfg.buffer_lines = 100000;
	f->cfg.resolve_interval_ms = 60000;
	f->cfg.reconnect_min_ms = 10;
	f->cfg.reconnect_max_ms = 40;
	f->cfg.write_timeout_ms = 2000;
	f->cfg.send_zeros = true; /* the series start at 0 */
	f->env.hostname = "host";
	f->env.fqdn = "host.example";
	f->env.global_tags = &f->global;
}

struct sink *sink_start(struct fixture *f)
{
	struct sink *s = sink_create(&f->loop, &f->cfg, &f->env);
	assert_non_null(s);
	return s;
}

void close_and_check(struct fixture *f, struct sink *s)
{
	bool closed = false;
	sink_close(s, set_flag, &closed);
	assert_true(pump_until(&f->loop, 5000, flag_set, &closed));
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	f->loop_open = false;
}

void fixture_end(struct fixture *f)
{
	if (f->loop_open && uv_loop_close(&f->loop) == 0)
		f->loop_open = false;
}

int fixture_setup(void **state)
{
	*state = calloc(1, sizeof(struct fixture));
	return *state ? 0 : -1;
}

int fixture_teardown(void **state)
{
	fixture_end(*state);
	free(*state);
	return 0;
}

/* ---- metrics ---- */

void series_init(struct series *s, size_t n)
{
	s->items = calloc(n, sizeof(*s->items));
	s->names = calloc(n, sizeof(*s->names));
	s->n = n;
	assert_non_null(s->items);
	assert_non_null(s->names);
	for (size_t i = 0; i < n; i++) {
		snprintf(s->names[i], sizeof(s->names[i]), "t.%zu", i);
		s->items[i].name = s->names[i];
		s->items[i].type = METRIC_COUNTER;
		s->items[i].counter = i;
	}
}

void series_free(struct series *s)
{
	free(s->items);
	free(s->names);
	memset(s, 0, sizeof(*s));
}

void send_one(struct sink *sink, const struct metric_batch *b)
{
	const struct metric_batch *one[1] = { b };
	sink_send_batch(sink, one, 1);
}

void send_range(struct sink *sink, const struct series *s, size_t from, size_t n)
{
	struct metric_batch b = { s->items + from, n, TS };
	send_one(sink, &b);
}

size_t count_lines(const char *data, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += data[i] == '\n';
	return n;
}

void assert_lines(const char *data, size_t len, size_t first, size_t n)
{
	size_t off = 0;
	for (size_t i = first; i < first + n; i++) {
		char want[64];
		int w = snprintf(want, sizeof(want), "t.%zu %zu %d\n", i, i, TS);
		if (len - off < (size_t)w || memcmp(data + off, want, (size_t)w) != 0)
			fail_msg("line %zu: expected \"t.%zu ...\" at byte %zu", i - first, i, off);
		off += (size_t)w;
	}
	assert_int_equal(off, len);
}

/* ---- the sink's counters ---- */

struct sink_stats stats_of(const struct sink *s)
{
	struct sink_stats st;
	sink_get_stats(s, &st);
	return st;
}

uint64_t total_dropped(const struct sink_stats *st)
{
	uint64_t n = 0;
	for (int i = 0; i < DROP_REASON_COUNT; i++)
		n += st->dropped[i];
	return n;
}

bool sink_idle(void *sink) { return stats_of(sink).buffered == 0; }

bool sink_sent_some(void *sink) { return stats_of(sink).sent > 0; }

bool errors_reached(void *errors_wait)
{
	struct errors_wait *w = errors_wait;
	return stats_of(w->s).errors >= w->errors;
}

bool sink_drained(struct fixture *f, struct sink *s) { return pump_until(&f->loop, WAIT_MS, sink_idle, s); }

bool errors_reach(struct fixture *f, struct sink *s, uint64_t errors)
{
	struct errors_wait w = { s, errors };
	return pump_until(&f->loop, WAIT_MS, errors_reached, &w);
}

void assert_all_sent(const struct sink *s, uint64_t sent)
{
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, sent);
	assert_int_equal(st.buffered, 0);
	assert_int_equal(total_dropped(&st), 0);
}

/* ---- datagram receivers ---- */

int udp_receiver(int family, const char *ip, uint16_t *port)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	int rcvbuf = 4 * 1024 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, ip, &a->sin6_addr) != 1 || bind(fd, (struct sockaddr *)a, sizeof(*a)) < 0) {
			close(fd);
			return -1;
		}
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		*port = ntohs(a->sin6_port);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
		assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		*port = ntohs(a->sin_port);
	}
	return fd;
}

void datagrams_read(int fd, struct datagrams *d)
{
	char buf[65536];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			return;
		if (d->len + (size_t)n > d->cap) {
			d->cap = (d->cap + (size_t)n) * 2;
			d->data = realloc(d->data, d->cap);
			assert_non_null(d->data);
		}
		memcpy(d->data + d->len, buf, (size_t)n);
		d->len += (size_t)n;
		if (d->count < sizeof(d->sizes) / sizeof(d->sizes[0]))
			d->sizes[d->count] = (size_t)n;
		d->count++;
	}
}

void datagrams_reset(struct datagrams *d)
{
	free(d->data);
	memset(d, 0, sizeof(*d));
}

bool udp_has_lines(void *udp_wait)
{
	struct udp_wait *w = udp_wait;
	datagrams_read(w->fd, w->d);
	return count_lines(w->d->data, w->d->len) >= w->lines;
}

bool datagrams_get_lines(struct fixture *f, int fd, struct datagrams *d, size_t lines)
{
	struct udp_wait w = { fd, d, lines };
	return pump_until(&f->loop, WAIT_MS, udp_has_lines, &w);
}

/* ---- a TCP peer ---- */

void peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	p->listen_fd = -1;
	p->conn_fd = -1;
	p->reading = true;
}

void peer_listen(struct peer *p, uint16_t port, int rcvbuf)
{
	p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(p->listen_fd >= 0);
	int one = 1;
	setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rcvbuf > 0)
		setsockopt(p->listen_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(p->listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(p->listen_fd, 16), 0);
	socklen_t len = sizeof(a);
	getsockname(p->listen_fd, (struct sockaddr *)&a, &len);
	p->port = ntohs(a.sin_port);
}

void peer_stop_listening(struct peer *p)
{
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	p->listen_fd = -1;
}

void peer_drop_connection(struct peer *p)
{
	if (p->conn_fd >= 0)
		close(p->conn_fd);
	p->conn_fd = -1;
}

void peer_free(struct peer *p)
{
	peer_stop_listening(p);
	peer_drop_connection(p);
	free(p->data);
	p->data = NULL;
	p->len = p->cap = 0;
}

void peer_poll(struct peer *p)
{
	if (p->listen_fd >= 0) {
		int fd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK);
		if (fd >= 0) {
			peer_drop_connection(p);
			p->conn_fd = fd;
			p->accepted++;
		}
	}
	if (p->conn_fd < 0 || !p->reading)
		return;
	for (;;) {
		if (p->cap - p->len < 65536) {
			p->cap = p->cap * 2 + 65536;
			p->data = realloc(p->data, p->cap);
			assert_non_null(p->data);
		}
		ssize_t n = recv(p->conn_fd, p->data + p->len, p->cap - p->len, MSG_DONTWAIT);
		if (n <= 0)
			return;
		p->len += (size_t)n;
	}
}

bool peer_has_lines(void *peer_wait)
{
	struct peer_wait *w = peer_wait;
	peer_poll(w->p);
	return count_lines(w->p->data, w->p->len) >= w->lines;
}

bool peer_gets_lines(struct fixture *f, struct peer *p, size_t lines)
{
	struct peer_wait w = { p, lines };
	return pump_until(&f->loop, WAIT_MS, peer_has_lines, &w);
}

uint16_t unused_port(void)
{
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 0);
	uint16_t port = p.port;
	peer_free(&p);
	return port;
}
