/*
 * The UDP sink against datagram receivers the test owns on loopback: packing
 * whole lines into max_packet, what is dropped and counted, addresses that
 * are resolved first, pacing of a large flush, and the include/exclude filters.
 * Every wait is a predicate under a deadline (tests/lib/unit/sink_fixture.h).
 */
#include <arpa/inet.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "sink_fixture.h"

/* A sink's fixture and a receiver on 127.0.0.1, fresh for each test. */
struct udp_case {
	struct fixture f;
	int fd;
	uint16_t port;
};

static int udp_setup(void **state)
{
	struct udp_case *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->fd = udp_receiver(AF_INET, "127.0.0.1", &c->port);
	*state = c;
	return c->fd >= 0 ? 0 : -1;
}

static int udp_teardown(void **state)
{
	struct udp_case *c = *state;
	fixture_end(&c->f);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return 0;
}

static void udp_packs_whole_lines(void **state)
{
	struct udp_case *c = *state;
	struct fixture *f = &c->f;
	int fd = c->fd;
	uint16_t port = c->port;
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
	struct sink *s = sink_start(f);
	assert_string_equal(sink_name(s), "test");
	struct series ser;
	series_init(&ser, 1500);
	send_range(s, &ser, 0, 1500);

	struct datagrams d = { 0 };
	assert_true(datagrams_get_lines(f, fd, &d, 1500));
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
	assert_all_sent(s, 1500);
	assert_int_equal(stats_of(s).errors, 0);
	close_and_check(f, s);
	series_free(&ser);
	free(d.data);
}

/* Lines "t.N N 1700000000\n" for N in 100..999 are all 21 bytes. */
static void udp_packing_at_the_boundary(void **state)
{
	struct fixture *f = *state;
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
		fixture_init(f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
		f->cfg.max_packet = cases[c].max_packet;
		struct sink *s = sink_start(f);
		send_range(s, &ser, 100, 30);
		struct datagrams d = { 0 };
		assert_true(datagrams_get_lines(f, fd, &d, 30));
		assert_lines(d.data, d.len, 100, 30);
		size_t per = cases[c].per_datagram;
		assert_int_equal(d.count, (30 + per - 1) / per);
		for (size_t i = 0; i + 1 < d.count; i++)
			assert_int_equal(d.sizes[i], per * line);
		assert_int_equal(stats_of(s).sent, 30);
		close_and_check(f, s);
		free(d.data);
		close(fd);
	}
	series_free(&ser);
}

static void udp_drops_a_line_longer_than_max_packet(void **state)
{
	struct udp_case *c = *state;
	struct fixture *f = &c->f;
	int fd = c->fd;
	uint16_t port = c->port;
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
	f->cfg.max_packet = 21;
	struct sink *s = sink_start(f);
	struct series ser;
	series_init(&ser, 1001);
	/* t.99 (19 bytes), t.100 (21: fits exactly), t.1000 (23: too long), t.101 */
	struct metric items[] = { ser.items[99], ser.items[100], ser.items[1000], ser.items[101] };
	struct metric_batch b = { items, 4, TS };
	send_one(s, &b);
	struct datagrams d = { 0 };
	assert_true(datagrams_get_lines(f, fd, &d, 3));
	const char want[] = "t.99 99 1700000000\nt.100 100 1700000000\nt.101 101 1700000000\n";
	assert_int_equal(d.len, strlen(want));
	assert_memory_equal(d.data, want, d.len);
	assert_int_equal(d.count, 3);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.dropped[DROP_TOO_LONG], 1);
	assert_int_equal(total_dropped(&st), 1);
	close_and_check(f, s);
	series_free(&ser);
	free(d.data);
}

static void udp_counts_refused_datagrams(void **state)
{
	struct fixture *f = *state;
	/* Broadcast without SO_BROADCAST: the kernel refuses every datagram (EACCES). */
	fixture_init(f, SINK_STATSD, TRANSPORT_UDP, "255.255.255.255", 9);
	f->cfg.max_packet = 100;
	struct sink *s = sink_start(f);
	struct series ser;
	series_init(&ser, 20);
	send_range(s, &ser, 0, 20); /* "t.N:N|c\n", 8 or 10 bytes: datagrams of 100 and 80 bytes */
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.dropped[DROP_SEND_ERROR], 20);
	assert_int_equal(st.errors, 2);
	close_and_check(f, s);
	series_free(&ser);
}

static void udp_invalid_values_are_counted(void **state)
{
	struct udp_case *c = *state;
	struct fixture *f = &c->f;
	int fd = c->fd;
	uint16_t port = c->port;
	fixture_init(f, SINK_STATSD, TRANSPORT_UDP, "127.0.0.1", port);
	struct sink *s = sink_start(f);
	struct metric items[3] = { { .name = "g.nan", .type = METRIC_GAUGE, .gauge = NAN },
				   { .name = "g.ok", .type = METRIC_GAUGE, .gauge = 2.5 },
				   { .name = "g.inf", .type = METRIC_GAUGE, .gauge = -INFINITY } };
	struct metric_batch b = { items, 3, TS };
	send_one(s, &b);
	struct datagrams d = { 0 };
	assert_true(datagrams_get_lines(f, fd, &d, 1));
	assert_int_equal(d.len, strlen("g.ok:2.5|g\n"));
	assert_memory_equal(d.data, "g.ok:2.5|g\n", d.len);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.dropped[DROP_INVALID], 2);
	close_and_check(f, s);
	free(d.data);
}

static void udp_hostname_lines_wait_for_the_address(void **state)
{
	struct fixture *f = *state;
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

	fixture_init(f, SINK_GRAPHITE, TRANSPORT_UDP, "localhost", port);
	struct sink *s = sink_start(f);
	struct series ser;
	series_init(&ser, 200);
	send_range(s, &ser, 0, 200); /* before the loop ran: the address is not known yet */
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.buffered, 200);
	assert_int_equal(st.sent, 0);
	struct datagrams d = { 0 };
	assert_true(datagrams_get_lines(f, fd, &d, 200));
	assert_lines(d.data, d.len, 0, 200);
	st = stats_of(s);
	assert_int_equal(st.sent, 200);
	assert_int_equal(st.buffered, 0);
	close_and_check(f, s);
	series_free(&ser);
	free(d.data);
	close(fd);
}

static void udp_ipv6(void **state)
{
	struct fixture *f = *state;
	uint16_t port;
	int fd = udp_receiver(AF_INET6, "::1", &port);
	if (fd < 0)
		skip();
	fixture_init(f, SINK_DOGSTATSD, TRANSPORT_UDP, "::1", port);
	struct sink *s = sink_start(f);
	struct metric m = { .name = "process.create", .type = METRIC_COUNTER, .counter = 3 };
	struct metric_batch b = { &m, 1, TS };
	send_one(s, &b);
	struct datagrams d = { 0 };
	assert_true(datagrams_get_lines(f, fd, &d, 1));
	assert_int_equal(d.len, strlen("process.create:3|c\n"));
	assert_memory_equal(d.data, "process.create:3|c\n", d.len);
	close_and_check(f, s);
	free(d.data);
	close(fd);
}

/* send_zeros false (the statsd formats' default): counters that did not move stay home, gauges go. */
static void zero_counters_follow_send_zeros(void **state)
{
	struct fixture *f = *state;
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
		fixture_init(f, graphite ? SINK_GRAPHITE : SINK_STATSD, TRANSPORT_UDP, "127.0.0.1", port);
		f->cfg.send_zeros = graphite; /* what config.c gives each type by default */
		struct sink *s = sink_start(f);
		send_one(s, &b);
		struct datagrams d = { 0 };
		assert_true(datagrams_get_lines(f, fd, &d, graphite ? 3 : 2));
		assert_int_equal(d.len, strlen(want[graphite]));
		assert_memory_equal(d.data, want[graphite], d.len);
		struct sink_stats st = stats_of(s);
		assert_int_equal(st.sent, graphite ? 3 : 2);
		assert_int_equal(total_dropped(&st), 0);
		close_and_check(f, s);
		free(d.data);
		close(fd);
	}
}

/* A flush is spread over the interval: the first datagrams go at once, the rest from a timer. */
static void udp_paces_a_large_flush(void **state)
{
	struct udp_case *c = *state;
	struct fixture *f = &c->f;
	int fd = c->fd;
	uint16_t port = c->port;
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_UDP, "127.0.0.1", port);
	f->env.interval_ms = 1000;
	f->cfg.max_packet = 100;
	struct sink *s = sink_start(f);
	struct series ser;
	series_init(&ser, 2000); /* "t.N N 1700000000\n": about 5 a datagram, some 400 datagrams */
	send_range(s, &ser, 0, 2000);
	struct sink_stats st = stats_of(s);
	assert_true(st.sent > 0 && st.sent < 200);
	assert_int_equal(st.sent + st.buffered, 2000);
	struct datagrams d = { 0 };
	uint64_t t0 = now_ms();
	assert_true(datagrams_get_lines(f, fd, &d, 2000));
	/* Not a burst: timers never fire early, so the last datagram left well into the 750 ms window. */
	assert_true(now_ms() - t0 >= 300);
	assert_int_equal(stats_of(s).buffered, 0);
	assert_lines(d.data, d.len, 0, 2000);
	close_and_check(f, s);
	free(d.data);
	series_free(&ser);
}

static void filters_match_names_before_prefix(void **state)
{
	struct udp_case *c = *state;
	struct fixture *f = &c->f;
	int fd = c->fd;
	uint16_t port = c->port;
	fixture_init(f, SINK_GRAPHITE_TAGGED, TRANSPORT_UDP, "127.0.0.1", port);
	f->cfg.prefix = "bpfpush.{hostname}";
	char *include[] = { "apps.*", "disk.*" };
	char *exclude[] = { "*.p99", "apps.file_closed" };
	f->cfg.include = include;
	f->cfg.ninclude = 2;
	f->cfg.exclude = exclude;
	f->cfg.nexclude = 2;
	struct sink *s = sink_start(f);
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
	assert_true(datagrams_get_lines(f, fd, &d, 4));
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
	close_and_check(f, s);
	fixture_init(f, SINK_GRAPHITE_TAGGED, TRANSPORT_UDP, "127.0.0.1", port);
	f->cfg.exclude = exclude;
	f->cfg.nexclude = 2;
	s = sink_start(f);
	send_one(s, &b);
	assert_int_equal(stats_of(s).sent, 6);
	close_and_check(f, s);
	free(d.data);
}

int main(void)
{
	log_set_level(getenv("TEST_SINK_LOG") ? LOG_DEBUG : LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(udp_packs_whole_lines, udp_setup, udp_teardown),
		cmocka_unit_test_setup_teardown(udp_packing_at_the_boundary, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(udp_drops_a_line_longer_than_max_packet, udp_setup, udp_teardown),
		cmocka_unit_test_setup_teardown(udp_counts_refused_datagrams, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(udp_invalid_values_are_counted, udp_setup, udp_teardown),
		cmocka_unit_test_setup_teardown(udp_hostname_lines_wait_for_the_address, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(udp_ipv6, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(filters_match_names_before_prefix, udp_setup, udp_teardown),
		cmocka_unit_test_setup_teardown(zero_counters_follow_send_zeros, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(udp_paces_a_large_flush, udp_setup, udp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
