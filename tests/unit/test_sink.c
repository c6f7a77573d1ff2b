/*
 * Sinks against real loopback sockets owned by the test: UDP packing, TCP
 * ordering, reconnects, overflow, filters; Unix datagrams across a replaced
 * socket file; TLS against `openssl s_server` with certificates made by the
 * openssl CLI (verified, refused, never in clear). The libuv loop is driven here with
 * UV_RUN_NOWAIT under a deadline; every test ends with uv_loop_close() == 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "sink/sink.h"

#define TS 1700000000

/* ---- the loop ---- */

static uint64_t now_ms(void) { return uv_hrtime() / 1000000u; }

typedef bool (*until_fn)(void *arg);

/* Run the loop until done(arg) or timeout_ms; returns whether done. */
static bool pump_until(uv_loop_t *loop, unsigned timeout_ms, until_fn done, void *arg)
{
	uint64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		uv_run(loop, UV_RUN_NOWAIT);
		if (done != NULL && done(arg))
			return true;
		if (now_ms() >= deadline)
			return false;
		poll(NULL, 0, 1);
	}
}

static bool flag_set(void *arg) { return *(bool *)arg; }
static void set_flag(void *arg) { *(bool *)arg = true; }

/* sink_close, run the loop dry, and prove no handle is left behind. */
static void close_and_check(uv_loop_t *loop, struct sink *s)
{
	bool closed = false;
	sink_close(s, set_flag, &closed);
	assert_true(pump_until(loop, 5000, flag_set, &closed));
	assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(loop), 0);
}

/* ---- configuration by hand (config.c is not linked in) ---- */

struct fixture {
	uv_loop_t loop;
	struct config_sink cfg;
	struct sink_env env;
	struct config_tags global;
	char host[64];
};

static void fixture_init(struct fixture *f, enum sink_type type, enum transport transport, const char *host,
			 uint16_t port)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
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

/* ---- metrics: "t.N N 1700000000\n" in graphite with an empty prefix ---- */

struct series {
	struct metric *items;
	char (*names)[32];
	size_t n;
};

static void series_init(struct series *s, size_t n)
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

static void series_free(struct series *s)
{
	free(s->items);
	free(s->names);
}

static void send_one(struct sink *sink, const struct metric_batch *b)
{
	const struct metric_batch *one[1] = { b };
	sink_send_batch(sink, one, 1);
}

static void send_range(struct sink *sink, const struct series *s, size_t from, size_t n)
{
	struct metric_batch b = { s->items + from, n, TS };
	send_one(sink, &b);
}

static size_t count_lines(const char *data, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += data[i] == '\n';
	return n;
}

/* data must be exactly the lines of indices first .. first+n-1, whole and in order. */
static void assert_lines(const char *data, size_t len, size_t first, size_t n)
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

/* ---- sockets the test owns ---- */

static int udp_receiver(int family, const char *ip, uint16_t *port)
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

struct datagrams {
	char *data; /* all payloads, concatenated */
	size_t len, cap;
	size_t count;
	size_t sizes[4096];
};

static void datagrams_read(int fd, struct datagrams *d)
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

struct udp_wait {
	int fd;
	struct datagrams *d;
	size_t lines;
};

static bool udp_has_lines(void *arg)
{
	struct udp_wait *w = arg;
	datagrams_read(w->fd, w->d);
	return count_lines(w->d->data, w->d->len) >= w->lines;
}

/* A TCP peer: listens, accepts (the latest connection wins), reads into data. */
struct peer {
	int listen_fd;
	int conn_fd;
	unsigned accepted;
	uint16_t port;
	bool reading; /* false: accept but never read */
	char *data;
	size_t len, cap;
};

static void peer_listen(struct peer *p, uint16_t port, int rcvbuf)
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

static void peer_init(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	p->listen_fd = -1;
	p->conn_fd = -1;
	p->reading = true;
}

static void peer_stop_listening(struct peer *p)
{
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	p->listen_fd = -1;
}

static void peer_drop_connection(struct peer *p)
{
	if (p->conn_fd >= 0)
		close(p->conn_fd);
	p->conn_fd = -1;
}

static void peer_free(struct peer *p)
{
	peer_stop_listening(p);
	peer_drop_connection(p);
	free(p->data);
}

static void peer_poll(struct peer *p)
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

struct peer_wait {
	struct peer *p;
	size_t lines;
};

static bool peer_has_lines(void *arg)
{
	struct peer_wait *w = arg;
	peer_poll(w->p);
	return count_lines(w->p->data, w->p->len) >= w->lines;
}

static uint16_t unused_port(void)
{
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 0);
	uint16_t port = p.port;
	peer_free(&p);
	return port;
}

static struct sink_stats stats_of(const struct sink *s)
{
	struct sink_stats st;
	sink_get_stats(s, &st);
	return st;
}

static bool sink_idle(void *arg)
{
	return stats_of(arg).buffered == 0;
}

static uint64_t total_dropped(const struct sink_stats *st)
{
	uint64_t n = 0;
	for (int i = 0; i < DROP_REASON_COUNT; i++)
		n += st->dropped[i];
	return n;
}

/* ---- UDP ---- */

static void udp_packs_whole_lines(void **state)
{
	(void)state;
	uint16_t port;
	int fd = udp_receiver(AF_INET, "127.0.0.1", &port);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	assert_string_equal(sink_name(s), "test");
	struct series ser;
	series_init(&ser, 1500);
	send_range(s, &ser, 0, 1500);

	struct datagrams d = { 0 };
	struct udp_wait w = { fd, &d, 1500 };
	assert_true(pump_until(&f.loop, 2000, udp_has_lines, &w));
	assert_lines(d.data, d.len, 0, 1500);
	/* Every datagram is at most max_packet, ends a line, and was filled as far as the next line allows. */
	size_t off = 0;
	for (size_t i = 0; i < d.count; i++) {
		assert_true(d.sizes[i] <= 1432);
		assert_int_equal(d.data[off + d.sizes[i] - 1], '\n');
		off += d.sizes[i];
		if (i + 1 < d.count) {
			const char *next_end = memchr(d.data + off, '\n', d.len - off);
			size_t next_len = (size_t)(next_end - (d.data + off)) + 1;
			assert_true(d.sizes[i] + next_len > 1432);
		}
	}
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 1500);
	assert_int_equal(total_dropped(&st), 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.buffered, 0);
	close_and_check(&f.loop, s);
	series_free(&ser);
	free(d.data);
	close(fd);
}

/* Lines "t.N N 1700000000\n" for N in 100..999 are all 21 bytes. */
static void udp_packing_at_the_boundary(void **state)
{
	(void)state;
	const size_t line = 21;
	const struct {
		uint32_t max_packet;
		size_t per_datagram;
	} cases[] = { { 3 * 21, 3 }, { 3 * 21 - 1, 2 }, { 3 * 21 + 1, 3 }, { 21, 1 }, { 2 * 21 - 1, 1 } };
	struct series ser;
	series_init(&ser, 130);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint16_t port;
		int fd = udp_receiver(AF_INET, "127.0.0.1", &port);
		struct fixture f;
		fixture_init(&f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
		f.cfg.max_packet = cases[c].max_packet;
		struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
		assert_non_null(s);
		send_range(s, &ser, 100, 30);
		struct datagrams d = { 0 };
		struct udp_wait w = { fd, &d, 30 };
		assert_true(pump_until(&f.loop, 2000, udp_has_lines, &w));
		assert_lines(d.data, d.len, 100, 30);
		size_t per = cases[c].per_datagram;
		assert_int_equal(d.count, (30 + per - 1) / per);
		for (size_t i = 0; i + 1 < d.count; i++)
			assert_int_equal(d.sizes[i], per * line);
		assert_int_equal(stats_of(s).sent, 30);
		close_and_check(&f.loop, s);
		free(d.data);
		close(fd);
	}
	series_free(&ser);
}

static void udp_drops_a_line_longer_than_max_packet(void **state)
{
	(void)state;
	uint16_t port;
	int fd = udp_receiver(AF_INET, "127.0.0.1", &port);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
	f.cfg.max_packet = 21;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 1001);
	/* t.99 (19 bytes), t.100 (21: fits exactly), t.1000 (23: too long), t.101 */
	struct metric items[] = { ser.items[99], ser.items[100], ser.items[1000], ser.items[101] };
	struct metric_batch b = { items, 4, TS };
	send_one(s, &b);
	struct datagrams d = { 0 };
	struct udp_wait w = { fd, &d, 3 };
	assert_true(pump_until(&f.loop, 2000, udp_has_lines, &w));
	const char want[] = "t.99 99 1700000000\nt.100 100 1700000000\nt.101 101 1700000000\n";
	assert_int_equal(d.len, strlen(want));
	assert_memory_equal(d.data, want, d.len);
	assert_int_equal(d.count, 3);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.dropped[DROP_TOO_LONG], 1);
	assert_int_equal(total_dropped(&st), 1);
	close_and_check(&f.loop, s);
	series_free(&ser);
	free(d.data);
	close(fd);
}

static void udp_counts_refused_datagrams(void **state)
{
	(void)state;
	/* Broadcast without SO_BROADCAST: the kernel refuses every datagram (EACCES). */
	struct fixture f;
	fixture_init(&f, SINK_STATSD, TRANSPORT_UDP, "255.255.255.255", 9);
	f.cfg.max_packet = 100;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 20);
	send_range(s, &ser, 0, 20); /* "t.N:N|c\n", 8 or 10 bytes: datagrams of 100 and 80 bytes */
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.dropped[DROP_SEND_ERROR], 20);
	assert_int_equal(st.errors, 2);
	close_and_check(&f.loop, s);
	series_free(&ser);
}

static void udp_invalid_values_are_counted(void **state)
{
	(void)state;
	uint16_t port;
	int fd = udp_receiver(AF_INET, "127.0.0.1", &port);
	struct fixture f;
	fixture_init(&f, SINK_STATSD, TRANSPORT_UDP, "127.0.0.1", port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct metric items[3] = { { .name = "g.nan", .type = METRIC_GAUGE, .gauge = NAN },
				   { .name = "g.ok", .type = METRIC_GAUGE, .gauge = 2.5 },
				   { .name = "g.inf", .type = METRIC_GAUGE, .gauge = -INFINITY } };
	struct metric_batch b = { items, 3, TS };
	send_one(s, &b);
	struct datagrams d = { 0 };
	struct udp_wait w = { fd, &d, 1 };
	assert_true(pump_until(&f.loop, 2000, udp_has_lines, &w));
	assert_int_equal(d.len, strlen("g.ok:2.5|g\n"));
	assert_memory_equal(d.data, "g.ok:2.5|g\n", d.len);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.dropped[DROP_INVALID], 2);
	close_and_check(&f.loop, s);
	free(d.data);
	close(fd);
}

static void udp_hostname_lines_wait_for_the_address(void **state)
{
	(void)state;
	/* Bind where the resolver will send "localhost", whichever family that is. */
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_ADDRCONFIG }, *res;
	assert_int_equal(getaddrinfo("localhost", NULL, &hints, &res), 0);
	char ip[64];
	int family = res->ai_family;
	if (family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, ip, sizeof(ip));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof(ip));
	freeaddrinfo(res);
	uint16_t port;
	int fd = udp_receiver(family, ip, &port);
	assert_true(fd >= 0);

	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_UDP, "localhost", port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 200);
	send_range(s, &ser, 0, 200); /* before the loop ran: the address is not known yet */
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.buffered, 200);
	assert_int_equal(st.sent, 0);
	struct datagrams d = { 0 };
	struct udp_wait w = { fd, &d, 200 };
	assert_true(pump_until(&f.loop, 3000, udp_has_lines, &w));
	assert_lines(d.data, d.len, 0, 200);
	st = stats_of(s);
	assert_int_equal(st.sent, 200);
	assert_int_equal(st.buffered, 0);
	close_and_check(&f.loop, s);
	series_free(&ser);
	free(d.data);
	close(fd);
}

static void udp_ipv6(void **state)
{
	(void)state;
	uint16_t port;
	int fd = udp_receiver(AF_INET6, "::1", &port);
	if (fd < 0)
		skip();
	struct fixture f;
	fixture_init(&f, SINK_DOGSTATSD, TRANSPORT_UDP, "::1", port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct metric m = { .name = "process.create", .type = METRIC_COUNTER, .counter = 3 };
	struct metric_batch b = { &m, 1, TS };
	send_one(s, &b);
	struct datagrams d = { 0 };
	struct udp_wait w = { fd, &d, 1 };
	assert_true(pump_until(&f.loop, 2000, udp_has_lines, &w));
	assert_int_equal(d.len, strlen("process.create:3|c\n"));
	assert_memory_equal(d.data, "process.create:3|c\n", d.len);
	close_and_check(&f.loop, s);
	free(d.data);
	close(fd);
}

/* send_zeros false (the statsd formats' default): counters that did not move stay home, gauges go. */
static void zero_counters_follow_send_zeros(void **state)
{
	(void)state;
	struct metric items[] = {
		{ .name = "c.moved", .counter = 3 },
		{ .name = "c.still", .counter = 0 },
		{ .name = "g.zero", .type = METRIC_GAUGE, .gauge = 0 },
	};
	struct metric_batch b = { items, 3, TS };
	const char *want[2] = { "c.moved:3|c\ng.zero:0|g\n", "c.moved 3 1700000000\nc.still 0 1700000000\ng.zero 0 1700000000\n" };
	for (int graphite = 0; graphite < 2; graphite++) {
		uint16_t port;
		int fd = udp_receiver(AF_INET, "127.0.0.1", &port);
		struct fixture f;
		fixture_init(&f, graphite ? SINK_GRAPHITE : SINK_STATSD, TRANSPORT_UDP, "127.0.0.1", port);
		f.cfg.send_zeros = graphite; /* what config.c gives each type by default */
		struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
		assert_non_null(s);
		send_one(s, &b);
		struct datagrams d = { 0 };
		struct udp_wait w = { fd, &d, graphite ? 3 : 2 };
		assert_true(pump_until(&f.loop, 2000, udp_has_lines, &w));
		assert_int_equal(d.len, strlen(want[graphite]));
		assert_memory_equal(d.data, want[graphite], d.len);
		struct sink_stats st = stats_of(s);
		assert_int_equal(st.sent, graphite ? 3 : 2);
		assert_int_equal(total_dropped(&st), 0);
		close_and_check(&f.loop, s);
		free(d.data);
		close(fd);
	}
}

/* A flush is spread over the interval: the first datagrams go at once, the rest from a timer. */
static void udp_paces_a_large_flush(void **state)
{
	(void)state;
	uint16_t port;
	int fd = udp_receiver(AF_INET, "127.0.0.1", &port);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
	f.env.interval_ms = 1000;
	f.cfg.max_packet = 100;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 2000); /* "t.N N 1700000000\n": about 5 a datagram, some 400 datagrams */
	send_range(s, &ser, 0, 2000);
	struct sink_stats st = stats_of(s);
	assert_true(st.sent > 0 && st.sent < 200);
	assert_int_equal(st.sent + st.buffered, 2000);
	struct datagrams d = { 0 };
	struct udp_wait w = { fd, &d, 2000 };
	uint64_t t0 = now_ms();
	assert_true(pump_until(&f.loop, 3000, udp_has_lines, &w));
	/* Not a burst: timers never fire early, so the last datagram left well into the 750 ms window. */
	assert_true(now_ms() - t0 >= 300);
	assert_int_equal(stats_of(s).buffered, 0);
	assert_lines(d.data, d.len, 0, 2000);
	close_and_check(&f.loop, s);
	free(d.data);
	close(fd);
	series_free(&ser);
}

static void filters_match_names_before_prefix(void **state)
{
	(void)state;
	uint16_t port;
	int fd = udp_receiver(AF_INET, "127.0.0.1", &port);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE_TAGGED, TRANSPORT_UDP, "127.0.0.1", port);
	f.cfg.prefix = "bpfpush.{hostname}";
	char *include[] = { "apps.*", "disk.*" };
	char *exclude[] = { "*.p99", "apps.file_closed" };
	f.cfg.include = include;
	f.cfg.ninclude = 2;
	f.cfg.exclude = exclude;
	f.cfg.nexclude = 2;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct metric items[] = {
		{ .name = "apps.file_open", .ntags = 1, .tags = { { "app", "a" } }, .counter = 1 },
		{ .name = "apps.file_open", .ntags = 1, .tags = { { "app", "b" } }, .counter = 2 },
		{ .name = "apps.file_closed", .ntags = 1, .tags = { { "app", "a" } }, .counter = 3 },
		{ .name = "disk.latency.bucket", .ntags = 2, .tags = { { "disk", "vda" }, { "le", "4" } }, .counter = 4 },
		{ .name = "disk.latency.p99", .type = METRIC_GAUGE, .ntags = 1, .tags = { { "disk", "vda" } }, .gauge = 5 },
		{ .name = "process.create", .counter = 6 },
		{ .name = "bpfpush.apps.x", .counter = 7 },
		{ .name = "apps.file_open", .ntags = 1, .tags = { { "app", "c" } }, .counter = 8 },
	};
	struct metric_batch b = { items, sizeof(items) / sizeof(items[0]), TS };
	send_one(s, &b);
	struct datagrams d = { 0 };
	struct udp_wait w = { fd, &d, 4 };
	assert_true(pump_until(&f.loop, 2000, udp_has_lines, &w));
	const char want[] = "bpfpush.host.apps.file_open;app=a 1 1700000000\n"
			    "bpfpush.host.apps.file_open;app=b 2 1700000000\n"
			    "bpfpush.host.disk.latency.bucket;disk=vda;le=4 4 1700000000\n"
			    "bpfpush.host.apps.file_open;app=c 8 1700000000\n";
	assert_int_equal(d.len, strlen(want));
	assert_memory_equal(d.data, want, d.len);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 4);
	assert_int_equal(total_dropped(&st), 0);

	/* Exclude alone: everything else passes. */
	close_and_check(&f.loop, s);
	fixture_init(&f, SINK_GRAPHITE_TAGGED, TRANSPORT_UDP, "127.0.0.1", port);
	f.cfg.exclude = exclude;
	f.cfg.nexclude = 2;
	s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	send_one(s, &b);
	assert_int_equal(stats_of(s).sent, 6);
	close_and_check(&f.loop, s);
	free(d.data);
	close(fd);
}

/* ---- TCP ---- */

static void tcp_delivers_everything_in_order(void **state)
{
	(void)state;
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 0);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p.port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 60000);
	for (size_t i = 0; i < 3; i++)
		send_range(s, &ser, i * 20000, 20000);
	struct peer_wait w = { &p, 60000 };
	assert_true(pump_until(&f.loop, 5000, peer_has_lines, &w));
	assert_lines(p.data, p.len, 0, 60000);
	assert_true(pump_until(&f.loop, 1000, sink_idle, s));
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 60000);
	assert_int_equal(st.buffered, 0);
	assert_int_equal(total_dropped(&st), 0);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(p.accepted, 1);
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

static void tcp_listener_down_at_first(void **state)
{
	(void)state;
	uint16_t port = unused_port();
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 300);
	send_range(s, &ser, 0, 100);
	pump_until(&f.loop, 150, NULL, NULL);
	struct sink_stats st = stats_of(s);
	assert_true(st.errors >= 2); /* refused, then retried with backoff */
	assert_int_equal(st.buffered, 100);
	assert_int_equal(st.sent, 0);
	send_range(s, &ser, 100, 100);

	struct peer p;
	peer_init(&p);
	peer_listen(&p, port, 0);
	struct peer_wait w = { &p, 200 };
	assert_true(pump_until(&f.loop, 3000, peer_has_lines, &w));
	send_range(s, &ser, 200, 100);
	w.lines = 300;
	assert_true(pump_until(&f.loop, 3000, peer_has_lines, &w));
	assert_lines(p.data, p.len, 0, 300);
	assert_true(pump_until(&f.loop, 1000, sink_idle, s));
	st = stats_of(s);
	assert_int_equal(st.sent, 300);
	assert_int_equal(st.reconnects, 0); /* the first connection is not a reconnection */
	assert_int_equal(total_dropped(&st), 0);
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

static void tcp_reconnects_after_an_outage(void **state)
{
	(void)state;
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 0);
	uint16_t port = p.port;
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 2000);
	send_range(s, &ser, 0, 1000);
	struct peer_wait w = { &p, 1000 };
	assert_true(pump_until(&f.loop, 3000, peer_has_lines, &w));
	assert_lines(p.data, p.len, 0, 1000);

	/* The peer goes away entirely; the sink notices while idle (EOF). */
	peer_free(&p);
	pump_until(&f.loop, 100, NULL, NULL);
	struct sink_stats st = stats_of(s);
	assert_true(st.errors >= 1);
	send_range(s, &ser, 1000, 1000);
	pump_until(&f.loop, 100, NULL, NULL);
	assert_int_equal(stats_of(s).buffered, 1000);

	peer_init(&p);
	peer_listen(&p, port, 0);
	w.lines = 1000;
	assert_true(pump_until(&f.loop, 3000, peer_has_lines, &w));
	assert_lines(p.data, p.len, 1000, 1000);
	assert_true(pump_until(&f.loop, 1000, sink_idle, s));
	st = stats_of(s);
	assert_int_equal(st.reconnects, 1);
	assert_int_equal(st.sent, 2000);
	assert_int_equal(st.buffered, 0);
	assert_int_equal(total_dropped(&st), 0);
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

struct prefix_wait {
	struct peer *p;
	size_t bytes;
};

static bool peer_has_bytes(void *arg)
{
	struct prefix_wait *w = arg;
	peer_poll(w->p);
	return w->p->len >= w->bytes;
}

static bool peer_has_last_line(void *arg)
{
	struct peer *p = arg;
	peer_poll(p);
	static const char last[] = "t.399999 399999 1700000000\n";
	return p->len >= sizeof(last) - 1 && memcmp(p->data + p->len - (sizeof(last) - 1), last, sizeof(last) - 1) == 0;
}

#define MID_STREAM_LINES 400000

static void tcp_peer_closes_mid_stream(void **state)
{
	(void)state;
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 4096);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p.port);
	f.cfg.buffer_lines = MID_STREAM_LINES;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, MID_STREAM_LINES);
	send_range(s, &ser, 0, MID_STREAM_LINES); /* ~11 MB: more than the socket buffers hold */
	struct prefix_wait pw = { &p, 100000 };
	assert_true(pump_until(&f.loop, 3000, peer_has_bytes, &pw));
	/* Close with unread data: the sink sees a reset in the middle of a write. */
	struct linger lg = { 1, 0 };
	setsockopt(p.conn_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	peer_drop_connection(&p);
	p.len = 0;
	assert_true(pump_until(&f.loop, 5000, peer_has_last_line, &p));
	assert_int_equal(p.accepted, 2);

	/* The new connection starts at a line boundary with whole lines, in order. */
	size_t first;
	assert_int_equal(sscanf(p.data, "t.%zu ", &first), 1);
	assert_true(first < MID_STREAM_LINES);
	assert_lines(p.data, p.len, first, MID_STREAM_LINES - first);
	assert_true(pump_until(&f.loop, 1000, sink_idle, s));
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.reconnects, 1);
	assert_true(st.errors >= 1);
	assert_int_equal(st.buffered, 0);
	assert_int_equal(total_dropped(&st), 0);
	/* Entries are counted sent once each, whether resent or not. */
	assert_int_equal(st.sent, MID_STREAM_LINES);
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

static void tcp_overflow_drops_the_oldest(void **state)
{
	(void)state;
	uint16_t port = unused_port();
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", port);
	f.cfg.buffer_lines = 100;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 250);
	/* buffer_lines bounds what waits from earlier flushes, never a flush: 120 of 100 are kept whole. */
	send_range(s, &ser, 0, 120);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.dropped[DROP_OVERFLOW], 0);
	assert_int_equal(st.buffered, 120);
	pump_until(&f.loop, 30, NULL, NULL);
	/* The next flush cuts the backlog to 100 first (the oldest 20 go), then adds its 130. */
	send_range(s, &ser, 120, 130);
	st = stats_of(s);
	assert_int_equal(st.dropped[DROP_OVERFLOW], 20);
	assert_int_equal(total_dropped(&st), 20);
	assert_int_equal(st.buffered, 230);

	struct peer p;
	peer_init(&p);
	peer_listen(&p, port, 0);
	struct peer_wait w = { &p, 230 };
	assert_true(pump_until(&f.loop, 3000, peer_has_lines, &w));
	pump_until(&f.loop, 50, NULL, NULL);
	peer_poll(&p);
	assert_lines(p.data, p.len, 20, 230);
	assert_true(pump_until(&f.loop, 1000, sink_idle, s));
	st = stats_of(s);
	assert_int_equal(st.sent, 230);
	assert_int_equal(st.dropped[DROP_OVERFLOW], 20);
	assert_int_equal(st.buffered, 0);
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

static bool errors_seen(void *arg)
{
	struct sink *s = arg;
	return stats_of(s).reconnects >= 1;
}

static void tcp_peer_that_never_reads_times_out(void **state)
{
	(void)state;
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 4096);
	p.reading = false;
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p.port);
	f.cfg.write_timeout_ms = 150;
	f.cfg.buffer_lines = 400000;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 400000);
	send_range(s, &ser, 0, 400000); /* ~10 MB */
	assert_true(pump_until(&f.loop, 3000, errors_seen, s));
	struct sink_stats st = stats_of(s);
	assert_true(st.errors >= 1);
	/* Never silently lost: everything is sent, waiting, or counted. */
	assert_int_equal(st.sent + st.buffered + total_dropped(&st), 400000);
	assert_true(st.buffered > 0);
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

static void tcp_close_writes_what_is_buffered(void **state)
{
	(void)state;
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 0);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p.port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 20000);
	send_range(s, &ser, 0, 20000); /* not connected yet: all of it is buffered */
	bool closed = false;
	sink_close(s, set_flag, &closed);
	struct peer_wait w = { &p, 20000 };
	assert_true(pump_until(&f.loop, 5000, peer_has_lines, &w));
	assert_true(pump_until(&f.loop, 5000, flag_set, &closed));
	assert_lines(p.data, p.len, 0, 20000);
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	series_free(&ser);
	peer_free(&p);
}

static void tcp_close_with_a_dead_peer_ends(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", unused_port());
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 10);
	send_range(s, &ser, 0, 10);
	pump_until(&f.loop, 20, NULL, NULL);
	uint64_t start = now_ms();
	close_and_check(&f.loop, s);
	assert_true(now_ms() - start < 1000);
	series_free(&ser);
}

static void tcp_hostname_is_resolved(void **state)
{
	(void)state;
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 0);
	struct fixture f;
	/* localhost may resolve to ::1 first: the sink tries each address in turn. */
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TCP, "localhost", p.port);
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 50);
	send_range(s, &ser, 0, 50);
	struct peer_wait w = { &p, 50 };
	assert_true(pump_until(&f.loop, 3000, peer_has_lines, &w));
	assert_lines(p.data, p.len, 0, 50);
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

/* ---- unix:// datagrams ---- */

struct unix_fixture {
	struct fixture f;
	char dir[64];
	char path[128];
};

static void unix_fixture_init(struct unix_fixture *u, uint32_t max_packet)
{
	fixture_init(&u->f, SINK_DOGSTATSD, TRANSPORT_UNIX, "", 0);
	u->f.cfg.address.host = NULL;
	strcpy(u->dir, "/tmp/bpfpush-sink-test-XXXXXX");
	assert_non_null(mkdtemp(u->dir));
	snprintf(u->path, sizeof(u->path), "%s/dsd.socket", u->dir);
	u->f.cfg.address.path = u->path;
	u->f.cfg.format = SINK_GRAPHITE; /* the lines assert_lines knows; the transport does not care */
	u->f.cfg.type = SINK_GRAPHITE;
	u->f.cfg.max_packet = max_packet;
}

static void unix_fixture_free(struct unix_fixture *u)
{
	unlink(u->path);
	rmdir(u->dir);
}

/* A Unix datagram receiver bound at path (which must not exist). */
static int unix_receiver(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	int rcvbuf = 4 * 1024 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Every datagram holds whole lines and fits in max_packet. */
static void assert_datagrams_whole(const struct datagrams *d, size_t max_packet)
{
	size_t off = 0;
	assert_true(d->count <= sizeof(d->sizes) / sizeof(d->sizes[0]));
	for (size_t i = 0; i < d->count; i++) {
		assert_true(d->sizes[i] > 0);
		assert_true(d->sizes[i] <= max_packet);
		assert_int_equal(d->data[off + d->sizes[i] - 1], '\n');
		off += d->sizes[i];
	}
	assert_int_equal(off, d->len);
}

static void datagrams_reset(struct datagrams *d)
{
	free(d->data);
	memset(d, 0, sizeof(*d));
}

static void unix_delivers_across_a_replaced_socket(void **state)
{
	(void)state;
	struct unix_fixture u;
	unix_fixture_init(&u, 0); /* 0: the default for unix://, 8192 */
	int rx = unix_receiver(u.path);
	struct sink *s = sink_create(&u.f.loop, &u.f.cfg, &u.f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 4000);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);

	send_range(s, &ser, 0, 2000);
	struct udp_wait w = { rx, d, 2000 };
	assert_true(pump_until(&u.f.loop, 3000, udp_has_lines, &w));
	assert_lines(d->data, d->len, 0, 2000);
	assert_datagrams_whole(d, 8192);
	assert_true(d->count >= 5); /* ~43 KB of lines: packed, not one line a datagram */
	assert_true(d->count <= 8);

	/* The receiver goes away with its file; lines sent meanwhile wait, errors are counted. */
	close(rx);
	assert_int_equal(unlink(u.path), 0);
	send_range(s, &ser, 2000, 1000);
	pump_until(&u.f.loop, 100, NULL, NULL); /* reconnect attempts fail: no socket file */
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 2000);
	assert_int_equal(st.buffered, 1000);
	assert_true(st.errors >= 2); /* the refused send, then at least one missing file */

	/* A new receiver at the same path gets every line, once, in order. */
	rx = unix_receiver(u.path);
	datagrams_reset(d);
	w.fd = rx;
	w.lines = 1000;
	assert_true(pump_until(&u.f.loop, 3000, udp_has_lines, &w));
	send_range(s, &ser, 3000, 1000);
	w.lines = 2000;
	assert_true(pump_until(&u.f.loop, 3000, udp_has_lines, &w));
	assert_lines(d->data, d->len, 2000, 2000);
	assert_datagrams_whole(d, 8192);
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 4000);
	assert_int_equal(st.buffered, 0);
	assert_int_equal(st.reconnects, 1);
	for (int i = 0; i < DROP_REASON_COUNT; i++)
		assert_int_equal(st.dropped[i], 0);
	close_and_check(&u.f.loop, s);
	close(rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
	unix_fixture_free(&u);
}

static void unix_follows_a_replaced_file(void **state)
{
	(void)state;
	struct unix_fixture u;
	unix_fixture_init(&u, 1000);
	int old_rx = unix_receiver(u.path);
	struct sink *s = sink_create(&u.f.loop, &u.f.cfg, &u.f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 400);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	send_range(s, &ser, 0, 200);
	struct udp_wait w = { old_rx, d, 200 };
	assert_true(pump_until(&u.f.loop, 3000, udp_has_lines, &w));
	assert_lines(d->data, d->len, 0, 200);
	assert_datagrams_whole(d, 1000);

	/* A restarted receiver: the file is replaced while the old socket still reads. */
	assert_int_equal(unlink(u.path), 0);
	int rx = unix_receiver(u.path);
	datagrams_reset(d);
	send_range(s, &ser, 200, 200);
	w.fd = rx;
	assert_true(pump_until(&u.f.loop, 3000, udp_has_lines, &w));
	assert_lines(d->data, d->len, 200, 200);
	assert_datagrams_whole(d, 1000);
	datagrams_reset(d);
	datagrams_read(old_rx, d);
	assert_int_equal(d->len, 0);
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 400);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.reconnects, 1);
	close_and_check(&u.f.loop, s);
	close(rx);
	close(old_rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
	unix_fixture_free(&u);
}

static void unix_missing_socket_is_not_fatal(void **state)
{
	(void)state;
	struct unix_fixture u;
	unix_fixture_init(&u, 8192);
	struct sink *s = sink_create(&u.f.loop, &u.f.cfg, &u.f.env);
	assert_non_null(s); /* no socket yet: counted and retried, not a failure */
	struct series ser;
	series_init(&ser, 300);
	send_range(s, &ser, 0, 300);
	pump_until(&u.f.loop, 60, NULL, NULL);
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_true(st.errors >= 2);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.buffered, 300);
	int rx = unix_receiver(u.path);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	struct udp_wait w = { rx, d, 300 };
	assert_true(pump_until(&u.f.loop, 3000, udp_has_lines, &w));
	assert_lines(d->data, d->len, 0, 300);
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 300);
	assert_int_equal(st.reconnects, 0); /* the first connection */
	close_and_check(&u.f.loop, s);
	close(rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
	unix_fixture_free(&u);
}

/* A receiver that stops reading fills its queue: sending waits (EAGAIN) and loses nothing. */
static void unix_slow_receiver_loses_nothing(void **state)
{
	(void)state;
	struct unix_fixture u;
	unix_fixture_init(&u, 4096);
	int rx = unix_receiver(u.path);
	struct sink *s = sink_create(&u.f.loop, &u.f.cfg, &u.f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 60000);
	send_range(s, &ser, 0, 60000); /* ~1.5 MB: more than the receiver queues */
	pump_until(&u.f.loop, 50, NULL, NULL);
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_true(st.buffered > 0);
	assert_int_equal(st.sent + st.buffered, 60000);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	struct udp_wait w = { rx, d, 60000 };
	assert_true(pump_until(&u.f.loop, 5000, udp_has_lines, &w));
	assert_lines(d->data, d->len, 0, 60000);
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 60000);
	assert_int_equal(st.errors, 0);
	close_and_check(&u.f.loop, s);
	close(rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
	unix_fixture_free(&u);
}

static void unix_close_with_no_receiver_ends(void **state)
{
	(void)state;
	struct unix_fixture u;
	unix_fixture_init(&u, 8192);
	struct sink *s = sink_create(&u.f.loop, &u.f.cfg, &u.f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 10);
	send_range(s, &ser, 0, 10);
	uint64_t start = now_ms();
	close_and_check(&u.f.loop, s);
	assert_true(now_ms() - start < 1000);
	series_free(&ser);
	unix_fixture_free(&u);
}

/* ---- tls:// ---- */

/* A CA, a server certificate it signed (for 127.0.0.1 and localhost), and a second CA, made with the openssl CLI. */
struct tls_files {
	char dir[64];
	char ca[128], other_ca[128], cert[128], key[128], received[128];
};

static void tls_files_make(struct tls_files *x)
{
	strcpy(x->dir, "/tmp/bpfpush-tls-test-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(x->ca, sizeof(x->ca), "%s/ca.pem", x->dir);
	snprintf(x->other_ca, sizeof(x->other_ca), "%s/other-ca.pem", x->dir);
	snprintf(x->cert, sizeof(x->cert), "%s/server.pem", x->dir);
	snprintf(x->key, sizeof(x->key), "%s/server.key", x->dir);
	snprintf(x->received, sizeof(x->received), "%s/received", x->dir);
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "set -e; cd %s; exec >openssl.log 2>&1; "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		 "-subj /CN=test-ca -keyout ca.key -out ca.pem; "
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		 "-subj /CN=other-ca -keyout other-ca.key -out other-ca.pem; "
		 "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-subj /CN=localhost -keyout server.key -out server.csr; "
		 "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext; "
		 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext -out server.pem",
		 x->dir);
	assert_int_equal(system(cmd), 0);
}

static void tls_files_free(struct tls_files *x)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", x->dir);
	assert_int_equal(system(cmd), 0);
}

/* openssl s_server on 127.0.0.1:port: what it decrypts goes to x->received. */
static int tls_server_stdin = -1; /* s_server ends a connection when its stdin ends: held open */

static pid_t tls_server_start(struct tls_files *x, uint16_t port)
{
	int in[2];
	assert_int_equal(pipe(in), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int out = open(x->received, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDWR);
		if (out < 0 || null < 0)
			_exit(127);
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		dup2(out, 1);
		dup2(null, 2);
		char accept[32];
		snprintf(accept, sizeof(accept), "127.0.0.1:%u", (unsigned)port);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", x->cert, "-key", x->key, "-quiet",
		       (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	tls_server_stdin = in[1];
	/* Listening once a connection succeeds (it is accepted and dropped: s_server goes on). */
	for (int i = 0; i < 200; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return pid;
		poll(NULL, 0, 25);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fail_msg("openssl s_server did not listen on port %u", (unsigned)port);
	return -1;
}

static void tls_server_stop(pid_t pid)
{
	close(tls_server_stdin);
	tls_server_stdin = -1;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

struct file_wait {
	const char *path;
	size_t lines;
	char *data;
	size_t len;
};

static bool file_has_lines(void *arg)
{
	struct file_wait *w = arg;
	free(w->data);
	w->data = NULL;
	w->len = 0;
	FILE *f = fopen(w->path, "r");
	if (f == NULL)
		return false;
	size_t cap = 0;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		w->data = realloc(w->data, cap = w->len + n);
		assert_non_null(w->data);
		memcpy(w->data + w->len, buf, n);
		w->len += n;
	}
	fclose(f);
	return count_lines(w->data, w->len) >= w->lines;
}

static void tls_delivers_everything_with_a_verified_certificate(void **state)
{
	(void)state;
	struct tls_files x;
	tls_files_make(&x);
	uint16_t port = unused_port();
	pid_t server = tls_server_start(&x, port);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TLS, "localhost", port); /* SNI and name check: localhost */
	f.cfg.ca_file = x.ca;
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 30000);
	send_range(s, &ser, 0, 10000); /* before the handshake: buffered */
	struct file_wait w = { x.received, 10000, NULL, 0 };
	assert_true(pump_until(&f.loop, 5000, file_has_lines, &w));
	send_range(s, &ser, 10000, 20000);
	w.lines = 30000;
	assert_true(pump_until(&f.loop, 5000, file_has_lines, &w));
	assert_lines(w.data, w.len, 0, 30000);
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 30000);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.buffered, 0);
	close_and_check(&f.loop, s);
	tls_server_stop(server);
	free(w.data);
	series_free(&ser);
	tls_files_free(&x);
}

static void tls_refuses_a_certificate_it_cannot_verify(void **state)
{
	(void)state;
	struct tls_files x;
	tls_files_make(&x);
	uint16_t port = unused_port();
	pid_t server = tls_server_start(&x, port);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TLS, "127.0.0.1", port);
	f.cfg.ca_file = x.other_ca; /* not the CA that signed the server's certificate */
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 100);
	send_range(s, &ser, 0, 100);
	pump_until(&f.loop, 400, NULL, NULL);
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.buffered, 100);
	assert_true(st.errors >= 2); /* refused, and retried with the backoff */
	close_and_check(&f.loop, s);

	/* The right CA but the wrong name: refused too. */
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TLS, "127.0.0.1", port);
	f.cfg.ca_file = x.ca;
	f.cfg.server_name = "relay.example";
	s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	send_range(s, &ser, 0, 100);
	pump_until(&f.loop, 200, NULL, NULL);
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 0);
	assert_true(st.errors >= 1);
	close_and_check(&f.loop, s);

	struct file_wait w = { x.received, 1, NULL, 0 };
	assert_false(file_has_lines(&w));
	assert_int_equal(w.len, 0); /* s_server decrypted nothing */
	tls_server_stop(server);
	free(w.data);
	series_free(&ser);
	tls_files_free(&x);
}

/* Read what the peer got, never done: for pump_until to run its whole time. */
static bool peer_polled(void *arg)
{
	peer_poll(arg);
	return false;
}

/* A peer that accepts and never answers the handshake: it sees TLS records only, no line in clear. */
static void tls_never_sends_in_clear(void **state)
{
	(void)state;
	struct peer p;
	peer_init(&p);
	peer_listen(&p, 0, 0);
	struct fixture f;
	fixture_init(&f, SINK_GRAPHITE, TRANSPORT_TLS, "127.0.0.1", p.port);
	f.cfg.write_timeout_ms = 100; /* the handshake deadline */
	struct sink *s = sink_create(&f.loop, &f.cfg, &f.env);
	assert_non_null(s);
	struct series ser;
	series_init(&ser, 50);
	send_range(s, &ser, 0, 50);
	pump_until(&f.loop, 400, peer_polled, &p);
	assert_true(p.len > 5);
	assert_int_equal((unsigned char)p.data[0], 0x16); /* a TLS handshake record: the ClientHello */
	assert_null(memmem(p.data, p.len, "t.1 ", 4));
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.buffered, 50);
	assert_true(st.errors >= 1); /* the handshake timed out */
	assert_true(p.accepted >= 2); /* and was retried */
	close_and_check(&f.loop, s);
	series_free(&ser);
	peer_free(&p);
}

static void stdout_sink_and_bad_configs(void **state)
{
	(void)state;
	struct fixture f;
	fixture_init(&f, SINK_STDOUT, TRANSPORT_NONE, "", 0);
	f.cfg.format = SINK_STDOUT;
	assert_null(sink_create(&f.loop, &f.cfg, &f.env)); /* a stdout sink needs a wire format */
	f.cfg.type = SINK_GRAPHITE;
	f.cfg.format = SINK_GRAPHITE;
	assert_null(sink_create(&f.loop, &f.cfg, &f.env)); /* no address */
	f.cfg.address.transport = TRANSPORT_TLS;
	f.cfg.address.host = "127.0.0.1";
	f.cfg.address.port = 2004;
	f.cfg.ca_file = "/nonexistent/ca.pem"; /* config.c refuses it; if it went missing since: no sink */
	assert_null(sink_create(&f.loop, &f.cfg, &f.env));
	f.cfg.ca_file = NULL;
	f.cfg.cert_file = "/proc/self/status"; /* not a certificate */
	f.cfg.key_file = "/proc/self/status";
	assert_null(sink_create(&f.loop, &f.cfg, &f.env));
	f.cfg.cert_file = NULL;
	f.cfg.key_file = NULL;
	f.cfg.address.host = f.host;
	f.cfg.address.transport = TRANSPORT_UDP;
	char long_prefix[300];
	memset(long_prefix, 'p', sizeof(long_prefix) - 1);
	long_prefix[sizeof(long_prefix) - 1] = '\0';
	f.cfg.prefix = long_prefix;
	assert_null(sink_create(&f.loop, &f.cfg, &f.env));
	assert_int_equal(uv_run(&f.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	for (int i = 0; i < DROP_REASON_COUNT; i++)
		assert_non_null(sink_drop_reason_names[i]);
	assert_string_equal(sink_drop_reason_names[DROP_SEND_ERROR], "send_error");
}

int main(void)
{
	log_set_level(getenv("TEST_SINK_LOG") ? LOG_DEBUG : LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(udp_packs_whole_lines),
		cmocka_unit_test(udp_packing_at_the_boundary),
		cmocka_unit_test(udp_drops_a_line_longer_than_max_packet),
		cmocka_unit_test(udp_counts_refused_datagrams),
		cmocka_unit_test(udp_invalid_values_are_counted),
		cmocka_unit_test(udp_hostname_lines_wait_for_the_address),
		cmocka_unit_test(udp_ipv6),
		cmocka_unit_test(filters_match_names_before_prefix),
		cmocka_unit_test(zero_counters_follow_send_zeros),
		cmocka_unit_test(udp_paces_a_large_flush),
		cmocka_unit_test(tcp_delivers_everything_in_order),
		cmocka_unit_test(tcp_listener_down_at_first),
		cmocka_unit_test(tcp_reconnects_after_an_outage),
		cmocka_unit_test(tcp_peer_closes_mid_stream),
		cmocka_unit_test(tcp_overflow_drops_the_oldest),
		cmocka_unit_test(tcp_peer_that_never_reads_times_out),
		cmocka_unit_test(tcp_close_writes_what_is_buffered),
		cmocka_unit_test(tcp_close_with_a_dead_peer_ends),
		cmocka_unit_test(tcp_hostname_is_resolved),
		cmocka_unit_test(unix_delivers_across_a_replaced_socket),
		cmocka_unit_test(unix_follows_a_replaced_file),
		cmocka_unit_test(unix_missing_socket_is_not_fatal),
		cmocka_unit_test(unix_slow_receiver_loses_nothing),
		cmocka_unit_test(unix_close_with_no_receiver_ends),
		cmocka_unit_test(tls_delivers_everything_with_a_verified_certificate),
		cmocka_unit_test(tls_refuses_a_certificate_it_cannot_verify),
		cmocka_unit_test(tls_never_sends_in_clear),
		cmocka_unit_test(stdout_sink_and_bad_configs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
