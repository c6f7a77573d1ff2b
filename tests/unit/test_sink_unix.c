/*
 * The unix:// datagram sink against receivers the test binds: packing, a
 * socket file that is removed or replaced, a missing socket, a receiver that
 * stops reading, and close with no receiver. Every wait is a predicate under a
 * deadline (tests/lib/unit/sink_fixture.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "sink_fixture.h"

struct unix_fixture {
	struct fixture f;
	char dir[64];
	char path[128];
};

/* Per test: a fresh directory for the socket file. */
static int unix_setup(void **state)
{
	struct unix_fixture *u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -1;
	*state = u;
	strcpy(u->dir, "/tmp/bpfpush-sink-test-XXXXXX");
	if (mkdtemp(u->dir) == NULL)
		return -1;
	snprintf(u->path, sizeof(u->path), "%s/dsd.socket", u->dir);
	return 0;
}

static int unix_teardown(void **state)
{
	struct unix_fixture *u = *state;
	fixture_end(&u->f);
	unlink(u->path);
	rmdir(u->dir);
	free(u);
	return 0;
}

static void unix_fixture_init(struct unix_fixture *u, uint32_t max_packet)
{
	fixture_init(&u->f, SINK_DOGSTATSD, TRANSPORT_UNIX, "", 0);
	u->f.cfg.address.host = NULL;
	u->f.cfg.address.path = u->path;
	u->f.cfg.format = SINK_GRAPHITE; /* the lines assert_lines knows; the transport does not care */
	u->f.cfg.type = SINK_GRAPHITE;
	u->f.cfg.max_packet = max_packet;
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

static void unix_delivers_across_a_replaced_socket(void **state)
{
	struct unix_fixture *u = *state;
	unix_fixture_init(u, 0); /* 0: the default for unix://, 8192 */
	int rx = unix_receiver(u->path);
	struct sink *s = sink_start(&u->f);
	struct series ser;
	series_init(&ser, 4000);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);

	send_range(s, &ser, 0, 2000);
	assert_true(datagrams_get_lines(&u->f, rx, d, 2000));
	assert_lines(d->data, d->len, 0, 2000);
	assert_datagrams_whole(d, 8192);
	assert_true(d->count >= 5); /* ~43 KB of lines: packed, not one line a datagram */
	assert_true(d->count <= 8);

	/* The receiver goes away with its file; lines sent meanwhile wait, errors are counted. */
	close(rx);
	assert_int_equal(unlink(u->path), 0);
	send_range(s, &ser, 2000, 1000);
	assert_true(errors_reach(&u->f, s, 2)); /* the refused send, then at least one missing file */
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 2000);
	assert_int_equal(st.buffered, 1000);

	/* A new receiver at the same path gets every line, once, in order. */
	rx = unix_receiver(u->path);
	datagrams_reset(d);
	assert_true(datagrams_get_lines(&u->f, rx, d, 1000));
	send_range(s, &ser, 3000, 1000);
	assert_true(datagrams_get_lines(&u->f, rx, d, 2000));
	assert_lines(d->data, d->len, 2000, 2000);
	assert_datagrams_whole(d, 8192);
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 4000);
	assert_int_equal(st.buffered, 0);
	assert_int_equal(st.reconnects, 1);
	for (int i = 0; i < DROP_REASON_COUNT; i++)
		assert_int_equal(st.dropped[i], 0);
	close_and_check(&u->f, s);
	close(rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
}

static void unix_follows_a_replaced_file(void **state)
{
	struct unix_fixture *u = *state;
	unix_fixture_init(u, 1000);
	int old_rx = unix_receiver(u->path);
	struct sink *s = sink_start(&u->f);
	struct series ser;
	series_init(&ser, 400);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	send_range(s, &ser, 0, 200);
	assert_true(datagrams_get_lines(&u->f, old_rx, d, 200));
	assert_lines(d->data, d->len, 0, 200);
	assert_datagrams_whole(d, 1000);

	/* A restarted receiver: the file is replaced while the old socket still reads. */
	assert_int_equal(unlink(u->path), 0);
	int rx = unix_receiver(u->path);
	datagrams_reset(d);
	send_range(s, &ser, 200, 200);
	assert_true(datagrams_get_lines(&u->f, rx, d, 200));
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
	close_and_check(&u->f, s);
	close(rx);
	close(old_rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
}

static void unix_missing_socket_is_not_fatal(void **state)
{
	struct unix_fixture *u = *state;
	unix_fixture_init(u, 8192);
	struct sink *s = sink_start(&u->f); /* no socket yet: counted and retried, not a failure */
	struct series ser;
	series_init(&ser, 300);
	send_range(s, &ser, 0, 300);
	assert_true(errors_reach(&u->f, s, 2)); /* the file was missing at creation and at a retry */
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 0);
	assert_int_equal(st.buffered, 300);
	int rx = unix_receiver(u->path);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	assert_true(datagrams_get_lines(&u->f, rx, d, 300));
	assert_lines(d->data, d->len, 0, 300);
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 300);
	assert_int_equal(st.reconnects, 0); /* the first connection */
	close_and_check(&u->f, s);
	close(rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
}

/* A receiver that stops reading fills its queue: sending waits (EAGAIN) and loses nothing. */
static void unix_slow_receiver_loses_nothing(void **state)
{
	struct unix_fixture *u = *state;
	unix_fixture_init(u, 4096);
	int rx = unix_receiver(u->path);
	struct sink *s = sink_start(&u->f);
	struct series ser;
	series_init(&ser, 60000);
	send_range(s, &ser, 0, 60000); /* ~1.5 MB: more than the receiver queues */
	/* Some went before the queue filled: what is left waits (the receiver reads nothing yet). */
	assert_true(pump_until(&u->f.loop, WAIT_MS, sink_sent_some, s));
	struct sink_stats st;
	sink_get_stats(s, &st);
	assert_true(st.buffered > 0);
	assert_int_equal(st.sent + st.buffered, 60000);
	struct datagrams *d = calloc(1, sizeof(*d));
	assert_non_null(d);
	assert_true(datagrams_get_lines(&u->f, rx, d, 60000));
	assert_lines(d->data, d->len, 0, 60000);
	sink_get_stats(s, &st);
	assert_int_equal(st.sent, 60000);
	assert_int_equal(st.errors, 0);
	close_and_check(&u->f, s);
	close(rx);
	datagrams_reset(d);
	free(d);
	series_free(&ser);
}

static void unix_close_with_no_receiver_ends(void **state)
{
	struct unix_fixture *u = *state;
	unix_fixture_init(u, 8192);
	/* It ends: close_and_check waits for the close with a deadline; by design it may take up to min(write_timeout, 3 s). */
	struct sink *s = sink_start(&u->f);
	struct series ser;
	series_init(&ser, 10);
	send_range(s, &ser, 0, 10);
	close_and_check(&u->f, s);
	series_free(&ser);
}

int main(void)
{
	log_set_level(getenv("TEST_SINK_LOG") ? LOG_DEBUG : LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(unix_delivers_across_a_replaced_socket, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(unix_follows_a_replaced_file, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(unix_missing_socket_is_not_fatal, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(unix_slow_receiver_loses_nothing, unix_setup, unix_teardown),
		cmocka_unit_test_setup_teardown(unix_close_with_no_receiver_ends, unix_setup, unix_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
