/*
 * What the sink suites (tests/unit/test_sink_*.c) share: the libuv loop driven
 * under a predicate and a deadline, a sink configured by hand (config.c is not
 * linked in), series of metrics whose lines are known, and the sockets the
 * tests own as peers. Every wait is pump_until() with a predicate: the deadline
 * only bounds a failing test, it never decides a passing one.
 */
#ifndef BPFPUSH_TESTS_SINK_FIXTURE_H
#define BPFPUSH_TESTS_SINK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "sink/sink.h"

#define TS 1700000000

/* ---- the loop ---- */

uint64_t now_ms(void);

/* How long a wait may take before the test fails: long, as only a failing test waits it out. */
#define WAIT_MS 10000u

typedef bool (*until_fn)(void *arg);

/* Run the loop until done(arg) holds or timeout_ms passed; returns done(arg). done is required. */
bool pump_until(uv_loop_t *loop, unsigned timeout_ms, until_fn done, void *arg);

bool flag_set(void *arg);
void set_flag(void *arg);

/* ---- a sink configured by hand ---- */

struct fixture {
	uv_loop_t loop;
	bool loop_open;
	struct config_sink cfg;
	struct sink_env env;
	struct config_tags global;
	char host[64];
};

void fixture_init(struct fixture *f, enum sink_type type, enum transport transport, const char *host, uint16_t port);
/* sink_create on f's loop with f's cfg and env, as they stand; the test fails if it is refused. */
struct sink *sink_start(struct fixture *f);
/* sink_close, run the loop dry, and prove no handle is left behind. */
void close_and_check(struct fixture *f, struct sink *s);
/* For teardown: close the loop if a failed test left it open (its handles, if any, leak with it). */
void fixture_end(struct fixture *f);

/* cmocka setup/teardown for tests whose state is a bare struct fixture. */
int fixture_setup(void **state);
int fixture_teardown(void **state);

/* ---- metrics: "t.N N 1700000000\n" in graphite with an empty prefix ---- */

struct series {
	struct metric *items;
	char (*names)[32];
	size_t n;
};

void series_init(struct series *s, size_t n);
void series_free(struct series *s);
void send_one(struct sink *sink, const struct metric_batch *b);
void send_range(struct sink *sink, const struct series *s, size_t from, size_t n);
size_t count_lines(const char *data, size_t len);
/* data must be exactly the lines of indices first .. first+n-1, whole and in order. */
void assert_lines(const char *data, size_t len, size_t first, size_t n);

/* ---- the sink's counters ---- */

struct sink_stats stats_of(const struct sink *s);
uint64_t total_dropped(const struct sink_stats *st);
bool sink_idle(void *sink);
bool sink_sent_some(void *sink);

/* For pump_until: the sink counted at least `errors` errors (a refused connection, a failed handshake...). */
struct errors_wait {
	struct sink *s;
	uint64_t errors;
};
bool errors_reached(void *errors_wait);

/* The waits the suites repeat, each pump_until under WAIT_MS; the test asserts what they return. */
bool sink_drained(struct fixture *f, struct sink *s);
bool errors_reach(struct fixture *f, struct sink *s, uint64_t errors);

/* Everything went out: sent == `sent`, nothing buffered, nothing dropped. */
void assert_all_sent(const struct sink *s, uint64_t sent);

/* ---- datagram receivers (UDP and unix://) ---- */

int udp_receiver(int family, const char *ip, uint16_t *port);

struct datagrams {
	char *data; /* all payloads, concatenated */
	size_t len, cap;
	size_t count;
	size_t sizes[4096];
};

void datagrams_read(int fd, struct datagrams *d);
void datagrams_reset(struct datagrams *d);

struct udp_wait {
	int fd;
	struct datagrams *d;
	size_t lines;
};
bool udp_has_lines(void *udp_wait);
/* Read datagrams from fd into d until they hold `lines` lines. */
bool datagrams_get_lines(struct fixture *f, int fd, struct datagrams *d, size_t lines);

/* ---- a TCP peer: listens, accepts (the latest connection wins), reads into data ---- */

struct peer {
	int listen_fd;
	int conn_fd;
	unsigned accepted;
	uint16_t port;
	bool reading; /* false: accept but never read */
	char *data;
	size_t len, cap;
};

void peer_init(struct peer *p);
void peer_listen(struct peer *p, uint16_t port, int rcvbuf);
void peer_stop_listening(struct peer *p);
void peer_drop_connection(struct peer *p);
void peer_free(struct peer *p);
void peer_poll(struct peer *p);

struct peer_wait {
	struct peer *p;
	size_t lines;
};
bool peer_has_lines(void *peer_wait);
bool peer_gets_lines(struct fixture *f, struct peer *p, size_t lines);

/* A loopback port nobody listens on (bound then released). */
uint16_t unused_port(void);

#endif
