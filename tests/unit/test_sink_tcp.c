/*
 * The TCP sink against a peer the test owns on loopback: order, a listener
 * that is down at first or goes away, a reset mid-stream, overflow, a peer
 * that never reads, and what close writes. Every wait is a predicate under a
 * deadline (tests/lib/unit/sink_fixture.h); "nothing was sent" is read after
 * an event that proves the sink tried (a counted error), never after a pause.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "log.h"
#include "sink_fixture.h"

/* A sink's fixture, a peer (not listening until the test says so) and the series the test sends, fresh for each test. */
struct tcp_case {
	struct fixture f;
	struct peer p;
	struct series ser;
};

static int tcp_setup(void **state)
{
	struct tcp_case *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	peer_init(&c->p);
	*state = c;
	return 0;
}

static int tcp_teardown(void **state)
{
	struct tcp_case *c = *state;
	fixture_end(&c->f);
	peer_free(&c->p);
	series_free(&c->ser);
	free(c);
	return 0;
}

static void tcp_delivers_everything_in_order(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	peer_listen(p, 0, 0);
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p->port);
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 60000);
	for (size_t i = 0; i < 3; i++)
		send_range(s, ser, i * 20000, 20000);
	assert_true(peer_gets_lines(f, p, 60000));
	assert_lines(p->data, p->len, 0, 60000);
	assert_true(sink_drained(f, s));
	assert_all_sent(s, 60000);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.reconnects, 0);
	assert_int_equal(p->accepted, 1);
	close_and_check(f, s);
}

static void tcp_listener_down_at_first(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	uint16_t port = unused_port();
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", port);
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 300);
	send_range(s, ser, 0, 100);
	assert_true(errors_reach(f, s, 2)); /* refused, then retried with backoff */
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.buffered, 100);
	assert_int_equal(st.sent, 0);
	send_range(s, ser, 100, 100);

	peer_listen(p, port, 0);
	assert_true(peer_gets_lines(f, p, 200));
	send_range(s, ser, 200, 100);
	assert_true(peer_gets_lines(f, p, 300));
	assert_lines(p->data, p->len, 0, 300);
	assert_true(sink_drained(f, s));
	st = stats_of(s);
	assert_int_equal(st.sent, 300);
	assert_int_equal(st.reconnects, 0); /* the first connection is not a reconnection */
	assert_int_equal(total_dropped(&st), 0);
	close_and_check(f, s);
}

static void tcp_reconnects_after_an_outage(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	peer_listen(p, 0, 0);
	uint16_t port = p->port;
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", port);
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 2000);
	send_range(s, ser, 0, 1000);
	assert_true(peer_gets_lines(f, p, 1000));
	assert_lines(p->data, p->len, 0, 1000);

	/* The peer goes away entirely; the sink notices while idle (EOF). */
	peer_free(p);
	assert_true(errors_reach(f, s, 1));
	send_range(s, ser, 1000, 1000);
	/* Nothing goes out while the peer is away: a connection attempt after the send failed too. */
	assert_true(errors_reach(f, s, stats_of(s).errors + 1));
	assert_int_equal(stats_of(s).buffered, 1000);

	peer_init(p);
	peer_listen(p, port, 0);
	assert_true(peer_gets_lines(f, p, 1000));
	assert_lines(p->data, p->len, 1000, 1000);
	assert_true(sink_drained(f, s));
	assert_int_equal(stats_of(s).reconnects, 1);
	assert_all_sent(s, 2000);
	close_and_check(f, s);
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
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	peer_listen(p, 0, 4096);
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p->port);
	f->cfg.buffer_lines = MID_STREAM_LINES;
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, MID_STREAM_LINES);
	send_range(s, ser, 0, MID_STREAM_LINES); /* ~11 MB: more than the socket buffers hold */
	struct prefix_wait pw = { p, 100000 };
	assert_true(pump_until(&f->loop, WAIT_MS, peer_has_bytes, &pw));
	/* Close with unread data: the sink sees a reset in the middle of a write. */
	struct linger lg = { 1, 0 };
	setsockopt(p->conn_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	peer_drop_connection(p);
	p->len = 0;
	assert_true(pump_until(&f->loop, WAIT_MS, peer_has_last_line, p));
	assert_int_equal(p->accepted, 2);

	/* The new connection starts at a line boundary with whole lines, in order. */
	size_t first;
	assert_int_equal(sscanf(p->data, "t.%zu ", &first), 1);
	assert_true(first < MID_STREAM_LINES);
	assert_lines(p->data, p->len, first, MID_STREAM_LINES - first);
	assert_true(sink_drained(f, s));
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.reconnects, 1);
	assert_true(st.errors >= 1);
	/* Entries are counted sent once each, whether resent or not. */
	assert_all_sent(s, MID_STREAM_LINES);
	close_and_check(f, s);
}

static void tcp_overflow_drops_the_oldest(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	uint16_t port = unused_port();
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", port);
	f->cfg.buffer_lines = 100;
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 250);
	/* buffer_lines bounds what waits from earlier flushes, never a flush: 120 of 100 are kept whole. */
	send_range(s, ser, 0, 120);
	struct sink_stats st = stats_of(s);
	assert_int_equal(st.dropped[DROP_OVERFLOW], 0);
	assert_int_equal(st.buffered, 120);
	assert_true(errors_reach(f, s, 1)); /* a connection attempt failed: the 120 wait on */
	assert_int_equal(stats_of(s).buffered, 120);
	/* The next flush cuts the backlog to 100 first (the oldest 20 go), then adds its 130. */
	send_range(s, ser, 120, 130);
	st = stats_of(s);
	assert_int_equal(st.dropped[DROP_OVERFLOW], 20);
	assert_int_equal(total_dropped(&st), 20);
	assert_int_equal(st.buffered, 230);

	peer_listen(p, port, 0);
	assert_true(peer_gets_lines(f, p, 230));
	/* Nothing more is on its way once the sink holds nothing: read the rest, if any, then compare. */
	assert_true(sink_drained(f, s));
	peer_poll(p);
	assert_lines(p->data, p->len, 20, 230);
	st = stats_of(s);
	assert_int_equal(st.sent, 230);
	assert_int_equal(st.dropped[DROP_OVERFLOW], 20);
	assert_int_equal(st.buffered, 0);
	close_and_check(f, s);
}

static bool reconnected(void *sink) { return stats_of(sink).reconnects >= 1; }

static void tcp_peer_that_never_reads_times_out(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	peer_listen(p, 0, 4096);
	p->reading = false;
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p->port);
	f->cfg.write_timeout_ms = 150;
	f->cfg.buffer_lines = 400000;
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 400000);
	send_range(s, ser, 0, 400000); /* ~10 MB */
	assert_true(pump_until(&f->loop, WAIT_MS, reconnected, s));
	struct sink_stats st = stats_of(s);
	assert_true(st.errors >= 1);
	/* Never silently lost: everything is sent, waiting, or counted. */
	assert_int_equal(st.sent + st.buffered + total_dropped(&st), 400000);
	assert_true(st.buffered > 0);
	close_and_check(f, s);
}

static void tcp_close_writes_what_is_buffered(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	peer_listen(p, 0, 0);
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", p->port);
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 20000);
	send_range(s, ser, 0, 20000); /* not connected yet: all of it is buffered */
	bool closed = false;
	sink_close(s, set_flag, &closed);
	assert_true(peer_gets_lines(f, p, 20000));
	assert_true(pump_until(&f->loop, WAIT_MS, flag_set, &closed));
	assert_lines(p->data, p->len, 0, 20000);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	f->loop_open = false;
}

static void tcp_close_with_a_dead_peer_ends(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "127.0.0.1", unused_port());
	/* It ends: close_and_check waits for the close with a deadline; by design it may take up to min(write_timeout, 3 s). */
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 10);
	send_range(s, ser, 0, 10);
	assert_true(errors_reach(f, s, 1)); /* close while the peer is known to be dead */
	close_and_check(f, s);
}

static void tcp_hostname_is_resolved(void **state)
{
	struct tcp_case *c = *state;
	struct fixture *f = &c->f;
	struct peer *p = &c->p;
	peer_listen(p, 0, 0);
	/* localhost may resolve to ::1 first: the sink tries each address in turn. */
	fixture_init(f, SINK_GRAPHITE, TRANSPORT_TCP, "localhost", p->port);
	struct sink *s = sink_start(f);
	struct series *ser = &c->ser;
	series_init(ser, 50);
	send_range(s, ser, 0, 50);
	assert_true(peer_gets_lines(f, p, 50));
	assert_lines(p->data, p->len, 0, 50);
	close_and_check(f, s);
}

int main(void)
{
	log_set_level(getenv("TEST_SINK_LOG") ? LOG_DEBUG : LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(tcp_delivers_everything_in_order, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_listener_down_at_first, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_reconnects_after_an_outage, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_peer_closes_mid_stream, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_overflow_drops_the_oldest, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_peer_that_never_reads_times_out, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_close_writes_what_is_buffered, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_close_with_a_dead_peer_ends, tcp_setup, tcp_teardown),
		cmocka_unit_test_setup_teardown(tcp_hostname_is_resolved, tcp_setup, tcp_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
