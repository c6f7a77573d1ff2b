/*
 * Encoding and flush benchmark for agent/sink (run through scripts/bench/encode).
 *
 * A 50000-series batch shaped like a busy host (apps with app tags, network
 * endpoints with five tags, IRQ and disk histograms with le, fractional
 * gauges) is encoded in every format, then flushed to four sinks at once:
 * stdout (to /dev/null), statsd and dogstatsd over UDP to a loopback port
 * that is bound but never read, graphite-tagged over TCP to a loopback
 * listener in the same loop that reads and discards.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <uv.h>

#include "log.h"
#include "sink/format.h"
#include "sink/sink.h"

#define SERIES 50000
#define BUCKETS 28 /* le = 1, 2, 4 ... 2^26, max */

struct corpus {
	struct metric items[SERIES];
	size_t len;
	char strings[SERIES * 3][24]; /* tag values */
	size_t nstrings;
};

static const char *intern(struct corpus *c, const char *fmt, unsigned a)
{
	char *s = c->strings[c->nstrings++];
	snprintf(s, sizeof(c->strings[0]), fmt, a);
	return s;
}

static struct metric *add(struct corpus *c, const char *name, enum metric_type type)
{
	struct metric *m = &c->items[c->len++];
	memset(m, 0, sizeof(*m));
	m->name = name;
	m->type = type;
	m->counter = (uint64_t)c->len * 7919u % 100000u;
	m->gauge = (double)(c->len % 1000);
	return m;
}

static void tag(struct metric *m, const char *key, const char *value)
{
	m->tags[m->ntags].key = key;
	m->tags[m->ntags].value = value;
	m->ntags++;
}

static void build(struct corpus *c)
{
	static const char *const app_metrics[] = {
		"apps.file_open", "apps.file_closed", "apps.file_open_errors", "apps.file_close_errors",
		"apps.file_deleted", "apps.vfs_read_call", "apps.vfs_write_call", "apps.vfs_read_bytes",
		"apps.vfs_write_bytes", "apps.vfs_read_errors", "apps.vfs_write_errors", "apps.process_create",
		"apps.thread_create", "apps.task_exit", "apps.bandwidth_sent", "apps.bandwidth_recv",
		"apps.cachestat_hits", "apps.cachestat_misses", "apps.cachestat_dirties", "apps.file_open",
		"apps.file_closed", "apps.vfs_read_call", "apps.vfs_write_call", "apps.task_exit", "apps.file_deleted",
	};
	static const char *const net_metrics[] = { "net.conn.sent.bytes", "net.conn.recv.bytes", "net.conn.opened",
						   "net.conn.closed" };
	static const char *const fs[] = { "ext4", "xfs", "nfs", "btrfs", "zfs" };
	static const char *const ops[] = { "read", "write", "open", "fsync" };
	static const char *const quantiles[] = { "disk.latency.p50", "disk.latency.p95", "disk.latency.p99",
						 "disk.latency.max" };
	const char *le[BUCKETS];
	for (unsigned b = 0; b < BUCKETS - 1; b++)
		le[b] = intern(c, "%u", 1u << b);
	le[BUCKETS - 1] = "max";

	/* 16000 app series: 25 metrics x 640 apps. */
	for (unsigned a = 0; a < 640; a++) {
		const char *app = intern(c, "app-%u.service", a);
		for (unsigned i = 0; i < 25; i++)
			tag(add(c, app_metrics[i], METRIC_COUNTER), "app", app);
	}
	/* 8000 network series: 4 metrics x 2000 endpoints, five tags. */
	for (unsigned e = 0; e < 2000; e++) {
		const char *dst = intern(c, "10.0.%u.17", e / 4);
		const char *port = intern(c, "%u", 1000 + e % 4);
		for (unsigned i = 0; i < 4; i++) {
			struct metric *m = add(c, net_metrics[i], METRIC_COUNTER);
			tag(m, "dst", dst);
			tag(m, "port", port);
			tag(m, "service", "https");
			tag(m, "proto", "tcp");
			tag(m, "direction", e % 2 ? "in" : "out");
		}
	}
	/* 14000 IRQ histogram buckets: 500 handlers x 28. */
	for (unsigned q = 0; q < 500; q++) {
		const char *irq = intern(c, "nvme0q%u", q);
		for (unsigned b = 0; b < BUCKETS; b++) {
			struct metric *m = add(c, q % 2 ? "softirq.latency.bucket" : "hardirq.latency.bucket", METRIC_COUNTER);
			tag(m, q % 2 ? "vector" : "irq", irq);
			tag(m, "le", le[b]);
		}
	}
	/* 8192 disk series: 256 disks x (28 buckets + 4 gauges). */
	for (unsigned d = 0; d < 256; d++) {
		const char *disk = intern(c, "vd%u", d);
		for (unsigned b = 0; b < BUCKETS; b++) {
			struct metric *m = add(c, "disk.latency.bucket", METRIC_COUNTER);
			tag(m, "disk", disk);
			tag(m, "le", le[b]);
		}
		for (unsigned i = 0; i < 4; i++)
			tag(add(c, quantiles[i], METRIC_GAUGE), "disk", disk);
	}
	/* 560 filesystem buckets. */
	for (unsigned f = 0; f < 5; f++)
		for (unsigned o = 0; o < 4; o++)
			for (unsigned b = 0; b < BUCKETS; b++) {
				struct metric *m = add(c, "filesystem.latency.bucket", METRIC_COUNTER);
				tag(m, "fs", fs[f]);
				tag(m, "op", ops[o]);
				tag(m, "le", le[b]);
			}
	/* The rest: fractional gauges (cache hit ratios). */
	for (unsigned a = 0; c->len < SERIES; a++) {
		struct metric *m = add(c, "apps.cachestat_ratio", METRIC_GAUGE);
		m->gauge = 100.0 * (double)(a % 97) / 97.0;
		tag(m, "app", intern(c, "app-%u.service", a));
	}
}

static double now_s(void) { return (double)uv_hrtime() / 1e9; }

static struct config_tag global_items[] = { { "env", "prod" }, { "dc", "ams1" } };
static struct config_tag sink_items[] = { { "team", "infra" } };

static void bench_format(FILE *out, const struct corpus *c, enum sink_type format, const char *label)
{
	struct config_tags global = { global_items, 2 }, sinkt = { sink_items, 1 };
	char prefix[64];
	format_expand_prefix(NULL, format, "web01", "web01.example.com", prefix, sizeof(prefix));
	struct format_ctx ctx = { format, prefix, &global, &sinkt };
	char buf[512];
	size_t bytes = 0, lines = 0, len;
	double start = now_s(), elapsed;
	do {
		for (size_t i = 0; i < c->len; i++) {
			if (format_line(&ctx, &c->items[i], 1700000000, buf, sizeof(buf), &len) == FORMAT_OK) {
				bytes += len;
				lines++;
			}
		}
		elapsed = now_s() - start;
	} while (elapsed < 1.0);
	fprintf(out, "  %-16s %6.2f M lines/s  %7.1f MB/s  %5.1f ns/line  %.1f bytes/line\n", label,
		(double)lines / elapsed / 1e6, (double)bytes / elapsed / 1e6, elapsed * 1e9 / (double)lines,
		(double)bytes / (double)lines);
}

/* The TCP peer: accepts and discards, in the same loop. */
struct tcp_peer {
	uv_tcp_t server;
	uv_tcp_t conn;
	bool connected;
	uint64_t bytes;
	char buf[65536];
};

static void peer_alloc(uv_handle_t *h, size_t n, uv_buf_t *buf)
{
	struct tcp_peer *p = h->data;
	(void)n;
	*buf = uv_buf_init(p->buf, sizeof(p->buf));
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct tcp_peer *p = s->data;
	(void)buf;
	if (n > 0)
		p->bytes += (uint64_t)n;
}

static void peer_accept(uv_stream_t *server, int status)
{
	struct tcp_peer *p = server->data;
	if (status < 0 || p->connected)
		return;
	uv_tcp_init(server->loop, &p->conn);
	p->conn.data = p;
	if (uv_accept(server, (uv_stream_t *)&p->conn) == 0) {
		p->connected = true;
		uv_read_start((uv_stream_t *)&p->conn, peer_alloc, peer_read);
	}
}

static void count_closed(void *arg) { (*(int *)arg)--; }

static uint64_t buffered(struct sink *const *sinks, size_t n)
{
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct sink_stats st;
		sink_get_stats(sinks[i], &st);
		total += st.buffered;
	}
	return total;
}

int main(void)
{
	/* Results go to the real stdout; the stdout sink writes to /dev/null. */
	int results_fd = dup(STDOUT_FILENO);
	FILE *out = fdopen(results_fd, "w");
	int devnull = open("/dev/null", O_WRONLY);
	if (out == NULL || devnull < 0 || dup2(devnull, STDOUT_FILENO) < 0) {
		perror("bench");
		return 1;
	}
	close(devnull);
	log_set_level(LOG_ERROR);

	struct corpus *c = calloc(1, sizeof(*c));
	build(c);
	fprintf(out, "encode: %zu series per batch, 2 global + 1 sink tag on tag-aware formats\n", c->len);
	bench_format(out, c, SINK_STATSD, "statsd");
	bench_format(out, c, SINK_DOGSTATSD, "dogstatsd");
	bench_format(out, c, SINK_GRAPHITE, "graphite");
	bench_format(out, c, SINK_GRAPHITE_TAGGED, "graphite-tagged");

	uv_loop_t loop;
	uv_loop_init(&loop);

	/* A UDP port that is bound but never read: the statsd that cannot keep up. */
	int udp_fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(udp_fd, (struct sockaddr *)&a, sizeof(a));
	socklen_t alen = sizeof(a);
	getsockname(udp_fd, (struct sockaddr *)&a, &alen);
	uint16_t udp_port = ntohs(a.sin_port);

	struct tcp_peer *peer = calloc(1, sizeof(*peer));
	uv_tcp_init(&loop, &peer->server);
	peer->server.data = peer;
	struct sockaddr_in la;
	uv_ip4_addr("127.0.0.1", 0, &la);
	uv_tcp_bind(&peer->server, (struct sockaddr *)&la, 0);
	uv_listen((uv_stream_t *)&peer->server, 4, peer_accept);
	int namelen = sizeof(la);
	uv_tcp_getsockname(&peer->server, (struct sockaddr *)&la, &namelen);
	uint16_t tcp_port = ntohs(la.sin_port);

	struct config_tags global = { global_items, 2 };
	/* interval 0: datagrams are not spread, so a flush measures encoding and writing alone. */
	struct sink_env env = { "web01", "web01.example.com", &global, 0 };
	struct config_sink cfgs[4];
	memset(cfgs, 0, sizeof(cfgs));
	const struct {
		const char *name;
		enum sink_type type, format;
		enum transport transport;
		uint16_t port;
	} spec[4] = {
		{ "stdout", SINK_STDOUT, SINK_GRAPHITE, TRANSPORT_NONE, 0 },
		{ "statsd", SINK_STATSD, SINK_STATSD, TRANSPORT_UDP, udp_port },
		{ "dogstatsd", SINK_DOGSTATSD, SINK_DOGSTATSD, TRANSPORT_UDP, udp_port },
		{ "carbon", SINK_GRAPHITE_TAGGED, SINK_GRAPHITE_TAGGED, TRANSPORT_TCP, tcp_port },
	};
	struct sink *sinks[4];
	for (int i = 0; i < 4; i++) {
		cfgs[i].name = (char *)spec[i].name;
		cfgs[i].type = spec[i].type;
		cfgs[i].format = spec[i].format;
		cfgs[i].address.transport = spec[i].transport;
		cfgs[i].address.host = "127.0.0.1";
		cfgs[i].address.port = spec[i].port;
		cfgs[i].tags.items = sink_items;
		cfgs[i].tags.len = 1;
		cfgs[i].max_packet = 1432;
		cfgs[i].buffer_lines = 100000;
		cfgs[i].resolve_interval_ms = 60000;
		cfgs[i].reconnect_min_ms = 100;
		cfgs[i].reconnect_max_ms = 30000;
		cfgs[i].write_timeout_ms = 10000;
		sinks[i] = sink_create(&loop, &cfgs[i], &env);
		if (sinks[i] == NULL)
			return 1;
	}
	/* Let the TCP sink connect. */
	for (int i = 0; i < 100 && !peer->connected; i++)
		uv_run(&loop, UV_RUN_NOWAIT), usleep(1000);

	struct metric_batch batch = { c->items, c->len, 1700000000 };
	enum { FLUSHES = 20 };
	double best = 1e9, sum = 0, drain_sum = 0, per_sink[4] = { 0 };
	for (int f = 0; f < FLUSHES; f++) {
		double t0 = now_s();
		for (int i = 0; i < 4; i++) {
			double ts = now_s();
			const struct metric_batch *batches[] = { &batch };
			sink_send_batch(sinks[i], batches, 1);
			per_sink[i] += now_s() - ts;
		}
		double t1 = now_s();
		while (buffered(sinks, 4) > 0)
			uv_run(&loop, UV_RUN_ONCE);
		double t2 = now_s();
		sum += t1 - t0;
		drain_sum += t2 - t0;
		if (t1 - t0 < best)
			best = t1 - t0;
	}
	fprintf(out, "flush of %zu series to 4 sinks (stdout>/dev/null graphite, statsd+dogstatsd UDP, graphite-tagged TCP):\n",
		c->len);
	fprintf(out, "  encode + hand-off: mean %.1f ms, best %.1f ms; until the TCP peer has read it all: mean %.1f ms\n",
		sum / FLUSHES * 1e3, best * 1e3, drain_sum / FLUSHES * 1e3);
	for (int i = 0; i < 4; i++) {
		struct sink_stats st;
		sink_get_stats(sinks[i], &st);
		fprintf(out, "  %-10s %5.1f ms/flush  sent %8llu  dropped %llu/%llu/%llu/%llu  errors %llu\n",
			spec[i].name, per_sink[i] / FLUSHES * 1e3,
			(unsigned long long)st.sent, (unsigned long long)st.dropped[0], (unsigned long long)st.dropped[1],
			(unsigned long long)st.dropped[2], (unsigned long long)st.dropped[3],
			(unsigned long long)st.errors);
	}
	fprintf(out, "  TCP peer read %.1f MB\n", (double)peer->bytes / 1e6);

	int open_sinks = 4;
	for (int i = 0; i < 4; i++)
		sink_close(sinks[i], count_closed, &open_sinks);
	while (open_sinks > 0)
		uv_run(&loop, UV_RUN_ONCE);
	if (peer->connected)
		uv_close((uv_handle_t *)&peer->conn, NULL);
	uv_close((uv_handle_t *)&peer->server, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&loop);
	close(udp_fd);
	free(peer);
	free(c);
	fclose(out);
	return rc == 0 ? 0 : 1;
}
