/* Wire formats byte for byte (docs/metrics.md "Wire formats"), and prefix expansion. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sink/format.h"

#define TS 1700000000

static struct metric counter(const char *name, uint64_t value)
{
	struct metric m;
	memset(&m, 0, sizeof(m));
	m.name = name;
	m.type = METRIC_COUNTER;
	m.counter = value;
	return m;
}

static struct metric gauge(const char *name, double value)
{
	struct metric m = counter(name, 0);
	m.type = METRIC_GAUGE;
	m.gauge = value;
	return m;
}

static struct metric *tag(struct metric *m, const char *key, const char *value)
{
	m->tags[m->ntags].key = key;
	m->tags[m->ntags].value = value;
	m->ntags++;
	return m;
}

static struct format_ctx ctx_of(enum sink_type format, const char *prefix)
{
	struct format_ctx ctx = { format, prefix, NULL, NULL };
	return ctx;
}

/*
 * The line must be exactly want; and with a buffer one byte short it must be
 * FORMAT_TOO_LONG without writing past the buffer, so every line below also
 * checks the bounds of every append on its path.
 */
static void expect_line(const struct format_ctx *ctx, const struct metric *m, int64_t ts, const char *want)
{
	char buf[1024];
	size_t want_len = strlen(want);
	size_t len = 12345;
	assert_int_equal(format_line(ctx, m, ts, buf, sizeof(buf), &len), FORMAT_OK);
	assert_int_equal(len, want_len);
	buf[len] = '\0';
	assert_string_equal(buf, want);

	memset(buf, 'X', sizeof(buf));
	assert_int_equal(format_line(ctx, m, ts, buf, want_len, &len), FORMAT_OK);
	assert_int_equal(len, want_len);
	assert_memory_equal(buf, want, want_len);
	for (size_t cap = 0; cap < want_len; cap++) {
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(format_line(ctx, m, ts, buf, cap, &len), FORMAT_TOO_LONG);
		assert_int_equal(len, 0);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 'X');
	}
}

static void expect_all(const struct metric *m, const char *prefix, const char *statsd, const char *dogstatsd,
		       const char *graphite, const char *tagged)
{
	struct format_ctx c = ctx_of(SINK_STATSD, prefix);
	expect_line(&c, m, TS, statsd);
	c.format = SINK_DOGSTATSD;
	expect_line(&c, m, TS, dogstatsd);
	c.format = SINK_GRAPHITE;
	expect_line(&c, m, TS, graphite);
	c.format = SINK_GRAPHITE_TAGGED;
	expect_line(&c, m, TS, tagged);
}

static void counter_without_tags(void **state)
{
	(void)state;
	struct metric m = counter("process.create", 5);
	expect_all(&m, "bpfpush.web01", "bpfpush.web01.process.create:5|c\n", "bpfpush.web01.process.create:5|c\n",
		   "bpfpush.web01.process.create 5 1700000000\n", "bpfpush.web01.process.create 5 1700000000\n");
}

static void empty_prefix_adds_no_dot(void **state)
{
	(void)state;
	struct metric m = counter("process.create", 0);
	expect_all(&m, "", "process.create:0|c\n", "process.create:0|c\n", "process.create 0 1700000000\n",
		   "process.create 0 1700000000\n");
	tag(&m, "app", "x");
	expect_all(&m, "", "process.x.create:0|c\n", "process.create:0|c|#app:x\n",
		   "process.x.create 0 1700000000\n", "process.create;app=x 0 1700000000\n");
}

static void counters_are_exact(void **state)
{
	(void)state;
	struct format_ctx c = ctx_of(SINK_STATSD, "p");
	const struct {
		uint64_t value;
		const char *line;
	} cases[] = {
		{ 0, "p.c:0|c\n" },
		{ 1, "p.c:1|c\n" },
		{ 9, "p.c:9|c\n" },
		{ 10, "p.c:10|c\n" },
		{ 99, "p.c:99|c\n" },
		{ 100, "p.c:100|c\n" },
		{ 101, "p.c:101|c\n" },
		{ 1000, "p.c:1000|c\n" },
		{ 4294967296ull, "p.c:4294967296|c\n" },
		{ 9007199254740993ull, "p.c:9007199254740993|c\n" }, /* not representable as a double */
		{ UINT64_MAX, "p.c:18446744073709551615|c\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metric m = counter("c", cases[i].value);
		expect_line(&c, &m, TS, cases[i].line);
	}
}

static void gauges_round_trip(void **state)
{
	(void)state;
	struct format_ctx c = ctx_of(SINK_DOGSTATSD, "");
	const struct {
		double value;
		const char *line;
	} cases[] = {
		{ 0.0, "g:0|g\n" },
		{ -0.0, "g:0|g\n" },
		{ 42.0, "g:42|g\n" },
		{ -5.0, "g:-5|g\n" },
		{ 0.5, "g:0.5|g\n" },
		{ 123.25, "g:123.25|g\n" },
		{ 99.9, "g:99.9|g\n" },
		{ 1.0 / 3.0, "g:0.3333333333333333|g\n" },
		{ 0.1 + 0.2, "g:0.30000000000000004|g\n" },
		{ 1e-7, "g:1e-07|g\n" },
		{ 9007199254740991.0, "g:9007199254740991|g\n" },   /* 2^53 - 1: integer */
		{ -9007199254740991.0, "g:-9007199254740991|g\n" },
		{ 9007199254740992.0, "g:9007199254740992|g\n" }, /* 2^53: %.16g, which happens to look integral */
		{ 1152921504606846976.0, "g:1.152921504606847e+18|g\n" }, /* 2^60 */
		{ 1e300, "g:1e+300|g\n" },
		{ -1.5e20, "g:-1.5e+20|g\n" },
		{ 1.7976931348623157e308, "g:1.7976931348623157e+308|g\n" },
		{ 5e-324, "g:4.94065645841247e-324|g\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct metric m = gauge("g", cases[i].value);
		expect_line(&c, &m, TS, cases[i].line);
	}
}

static void gauge_text_reads_back(void **state)
{
	(void)state;
	struct format_ctx c = ctx_of(SINK_GRAPHITE, "");
	const double values[] = { 0.1, 2.0 / 3.0, 1e-300, 123456789.123456789, -0.000123, 3.14159265358979 };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct metric m = gauge("g", values[i]);
		char buf[128];
		size_t len;
		assert_int_equal(format_line(&c, &m, 0, buf, sizeof(buf), &len), FORMAT_OK);
		buf[len] = '\0';
		assert_true(strtod(buf + 2, NULL) == values[i]);
	}
}

static void negative_gauge_on_plain_statsd_is_two_lines(void **state)
{
	(void)state;
	struct metric m = gauge("apps.cachestat_ratio", -5);
	tag(&m, "app", "nginx");
	expect_all(&m, "p", "p.apps.nginx.cachestat_ratio:0|g\np.apps.nginx.cachestat_ratio:-5|g\n",
		   "p.apps.cachestat_ratio:-5|g|#app:nginx\n", "p.apps.nginx.cachestat_ratio -5 1700000000\n",
		   "p.apps.cachestat_ratio;app=nginx -5 1700000000\n");
	m = gauge("g", -0.25);
	struct format_ctx c = ctx_of(SINK_STATSD, "");
	expect_line(&c, &m, TS, "g:0|g\ng:-0.25|g\n");
	m = gauge("g", -0.0);
	expect_line(&c, &m, TS, "g:0|g\n");
}

/* unit and container (apps, where known) are tags on tag-aware formats and never part of a plain path. */
static void tag_only_keys_stay_out_of_plain_paths(void **state)
{
	(void)state;
	struct metric m = counter("apps.file_open", 2);
	tag(tag(tag(&m, "app", "web"), "unit", "nginx.service"), "container", "4f6c1c2b9a0e");
	expect_all(&m, "p", "p.apps.web.file_open:2|c\n",
		   "p.apps.file_open:2|c|#app:web,unit:nginx.service,container:4f6c1c2b9a0e\n",
		   "p.apps.web.file_open 2 1700000000\n",
		   "p.apps.file_open;app=web;unit=nginx.service;container=4f6c1c2b9a0e 2 1700000000\n");
}

static void nan_and_inf_are_invalid(void **state)
{
	(void)state;
	const double bad[] = { NAN, -NAN, INFINITY, -INFINITY };
	for (enum sink_type f = SINK_STATSD; f <= SINK_GRAPHITE_TAGGED; f++) {
		struct format_ctx c = ctx_of(f, "p");
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct metric m = gauge("g", bad[i]);
			char buf[64];
			size_t len = 7;
			assert_int_equal(format_line(&c, &m, TS, buf, sizeof(buf), &len), FORMAT_INVALID);
			assert_int_equal(len, 0);
			/* Invalid wins over too long: it is counted as invalid, not too_long. */
			assert_int_equal(format_line(&c, &m, TS, buf, 0, &len), FORMAT_INVALID);
		}
	}
}

static void plain_paths_of_the_contract(void **state)
{
	(void)state;
	struct format_ctx c = ctx_of(SINK_GRAPHITE, "");
	struct metric m = counter("apps.file_open", 1);
	tag(&m, "app", "nginx");
	expect_line(&c, &m, TS, "apps.nginx.file_open 1 1700000000\n");

	m = gauge("disk.latency.p99", 512);
	tag(&m, "disk", "vda");
	expect_line(&c, &m, TS, "disk.vda.latency.p99 512 1700000000\n");

	m = counter("disk.latency.bucket", 3);
	tag(tag(&m, "disk", "vda"), "le", "4");
	expect_line(&c, &m, TS, "disk.vda.latency.bucket.le_4 3 1700000000\n");

	/* The agent's own metrics are namespaced agent.<area>: values go after both segments. */
	m = counter("agent.sink.sent", 10);
	tag(&m, "sink", "carbon");
	expect_line(&c, &m, TS, "agent.sink.carbon.sent 10 1700000000\n");
	m = counter("agent.sink.dropped", 2);
	tag(tag(&m, "sink", "carbon"), "reason", "overflow");
	expect_line(&c, &m, TS, "agent.sink.carbon.overflow.dropped 2 1700000000\n");
	m = gauge("agent.module.collect_us", 17);
	tag(&m, "module", "vfs");
	expect_line(&c, &m, TS, "agent.module.vfs.collect_us 17 1700000000\n");
	m = counter("agent.ringbuf", 1);
	tag(&m, "module", "oomkill");
	expect_line(&c, &m, TS, "agent.oomkill.ringbuf 1 1700000000\n");
	m = gauge("agent.rss_bytes", 1);
	expect_line(&c, &m, TS, "agent.rss_bytes 1 1700000000\n");
	m = counter("agentx.a.b", 1);
	tag(&m, "k", "v");
	expect_line(&c, &m, TS, "agentx.v.a.b 1 1700000000\n");

	m = counter("hardirq.latency.bucket", 0);
	tag(tag(&m, "irq", "nvme0q1"), "le", "max");
	expect_line(&c, &m, TS, "hardirq.nvme0q1.latency.bucket.le_max 0 1700000000\n");

	/* Five tags in declared order; IP literals become one segment. */
	m = counter("net.conn.sent.bytes", 1500);
	tag(tag(tag(tag(tag(&m, "dst", "10.0.0.5"), "port", "443"), "service", "https"), "proto", "tcp"),
	    "direction", "out");
	expect_line(&c, &m, TS, "net.10_0_0_5.443.https.tcp.out.conn.sent.bytes 1500 1700000000\n");
	m.tags[0].value = "fc00::1";
	expect_line(&c, &m, TS, "net.fc00__1.443.https.tcp.out.conn.sent.bytes 1500 1700000000\n");

	/* A name of one segment: tag values follow it. */
	m = counter("single", 2);
	tag(tag(&m, "le", "8"), "k", "v");
	expect_line(&c, &m, TS, "single.v.le_8 2 1700000000\n");

	c.format = SINK_STATSD;
	c.prefix = "bpfpush.web01";
	m = counter("disk.latency.bucket", 3);
	tag(tag(&m, "disk", "vda"), "le", "4");
	expect_line(&c, &m, TS, "bpfpush.web01.disk.vda.latency.bucket.le_4:3|c\n");
}

static void plain_formats_ignore_constant_tags(void **state)
{
	(void)state;
	struct config_tag g[] = { { "env", "prod" } };
	struct config_tags global = { g, 1 };
	struct config_tags sinkt = { g, 1 };
	struct format_ctx c = { SINK_GRAPHITE, "p", &global, &sinkt };
	struct metric m = counter("process.create", 1);
	expect_line(&c, &m, TS, "p.process.create 1 1700000000\n");
	c.format = SINK_STATSD;
	expect_line(&c, &m, TS, "p.process.create:1|c\n");
}

static void tag_order_and_precedence(void **state)
{
	(void)state;
	struct config_tag g[] = { { "env", "prod" }, { "dc", "ams" }, { "app", "global" } };
	struct config_tag s[] = { { "dc", "fra" }, { "team", "infra" }, { "disk", "sink" } };
	struct config_tags global = { g, 3 };
	struct config_tags sinkt = { s, 3 };
	struct format_ctx c = { SINK_DOGSTATSD, "bpfpush", &global, &sinkt };

	/* The sink's dc replaces the global one; the metric's app beats the global app. */
	struct metric m = counter("apps.file_open", 3);
	tag(&m, "app", "nginx");
	expect_line(&c, &m, TS, "bpfpush.apps.file_open:3|c|#env:prod,dc:fra,team:infra,disk:sink,app:nginx\n");
}

static void tag_order_sink_tags_follow_globals(void **state)
{
	(void)state;
	struct config_tag g[] = { { "env", "prod" }, { "dc", "ams" } };
	struct config_tag s[] = { { "team", "infra" }, { "dc", "fra" } };
	struct config_tags global = { g, 2 };
	struct config_tags sinkt = { s, 2 };
	struct format_ctx c = { SINK_DOGSTATSD, "", &global, &sinkt };
	struct metric m = counter("apps.file_open", 3);
	tag(&m, "app", "nginx");
	expect_line(&c, &m, TS, "apps.file_open:3|c|#env:prod,team:infra,dc:fra,app:nginx\n");
	c.format = SINK_GRAPHITE_TAGGED;
	expect_line(&c, &m, TS, "apps.file_open;env=prod;team=infra;dc=fra;app=nginx 3 1700000000\n");

	/* A constant tag with a metric's own key is skipped, global or sink. */
	m = counter("disk.latency.bucket", 7);
	tag(tag(&m, "le", "4"), "dc", "metric");
	c.format = SINK_DOGSTATSD;
	expect_line(&c, &m, TS, "disk.latency.bucket:7|c|#env:prod,team:infra,dc:metric,le:4\n");
	c.format = SINK_GRAPHITE_TAGGED;
	expect_line(&c, &m, TS, "disk.latency.bucket;env=prod;team=infra;dc=metric;le=4 7 1700000000\n");

	/* No constant tags at all. */
	c.global_tags = NULL;
	c.sink_tags = NULL;
	m = counter("process.create", 1);
	c.format = SINK_DOGSTATSD;
	expect_line(&c, &m, TS, "process.create:1|c\n");
	c.format = SINK_GRAPHITE_TAGGED;
	expect_line(&c, &m, TS, "process.create 1 1700000000\n");
}

static void tagged_formats_with_le(void **state)
{
	(void)state;
	struct config_tag g[] = { { "env", "prod" } };
	struct config_tags global = { g, 1 };
	struct metric m = counter("disk.latency.bucket", 3);
	tag(tag(&m, "disk", "vda"), "le", "4");
	struct format_ctx c = { SINK_GRAPHITE_TAGGED, "bpfpush.web01", &global, NULL };
	expect_line(&c, &m, TS, "bpfpush.web01.disk.latency.bucket;env=prod;disk=vda;le=4 3 1700000000\n");
	c.format = SINK_DOGSTATSD;
	c.prefix = "bpfpush";
	expect_line(&c, &m, TS, "bpfpush.disk.latency.bucket:3|c|#env:prod,disk:vda,le:4\n");
	struct metric gm = gauge("disk.latency.p99", 1024);
	tag(&gm, "disk", "vda");
	expect_line(&c, &gm, TS, "bpfpush.disk.latency.p99:1024|g|#env:prod,disk:vda\n");
}

static void sanitising_plain_segments(void **state)
{
	(void)state;
	struct format_ctx c = ctx_of(SINK_GRAPHITE, "");
	struct metric m = counter("apps.file_open", 1);
	tag(&m, "app", "my app/v1.2:x;y=z~é");
	expect_line(&c, &m, TS, "apps.my_app_v1_2_x_y_z__.file_open 1 1700000000\n"); /* é: one '_' */
	m.tags[0].value = "ok-name_01";
	expect_line(&c, &m, TS, "apps.ok-name_01.file_open 1 1700000000\n");
	/* The name keeps its dots; other unsafe bytes become '_'. */
	m = counter("we ird.na:me", 1);
	expect_line(&c, &m, TS, "we_ird.na_me 1 1700000000\n");
	c.format = SINK_STATSD;
	m = counter("a.b", 1);
	tag(tag(&m, "k", "x|y:z\n"), "le", "1.5");
	expect_line(&c, &m, TS, "a.x_y_z_.b.le_1_5:1|c\n");
}

static void sanitising_graphite_tags(void **state)
{
	(void)state;
	struct config_tag g[] = { { "e n.v", "a b\tc;d" } };
	struct config_tags global = { g, 1 };
	struct format_ctx c = { SINK_GRAPHITE_TAGGED, "", &global, NULL };
	struct metric m = counter("n", 1);
	tag(&m, "app", "~nginx~x=y:z,w|#");
	expect_line(&c, &m, TS, "n;e_n_v=a_b_c_d;app=_nginx~x=y:z,w|# 1 1700000000\n");
	m.tags[0].value = "~";
	expect_line(&c, &m, TS, "n;e_n_v=a_b_c_d;app=_ 1 1700000000\n");
	m.tags[0].value = "x\ny\r";
	expect_line(&c, &m, TS, "n;e_n_v=a_b_c_d;app=x_y_ 1 1700000000\n");
}

static void sanitising_dogstatsd_tags(void **state)
{
	(void)state;
	struct config_tag s[] = { { "k:e,y", "v" } };
	struct config_tags sinkt = { s, 1 };
	struct format_ctx c = { SINK_DOGSTATSD, "", NULL, &sinkt };
	struct metric m = counter("n", 1);
	tag(&m, "app", "a,b|c#d e\tf:g;h=i~j.k/l");
	expect_line(&c, &m, TS, "n:1|c|#k_e_y:v,app:a_b_c_d_e_f:g;h=i~j.k/l\n");
}

/*
 * Non-ASCII and invalid UTF-8 (comm, exe, PTR names, env values) reach no wire:
 * each character, or each run of bytes that is not one, becomes one '_'.
 */
static void non_ascii_tag_values(void **state)
{
	(void)state;
	struct config_tag g[] = { { "env", "pr\xc3\xa9" "d" } }; /* "préd" from ${ENV} */
	struct config_tags global = { g, 1 };
	struct format_ctx c = { SINK_DOGSTATSD, "", &global, NULL };
	struct metric m = counter("n", 1);
	tag(&m, "app", "caf\xc3\xa9\xe2\x80\xae\xff\xfe\x85x\xf0\x9f\x98\x80");
	expect_line(&c, &m, TS, "n:1|c|#env:pr_d,app:caf____x_\n");
	c.format = SINK_GRAPHITE_TAGGED;
	expect_line(&c, &m, TS, "n;env=pr_d;app=caf____x_ 1 1700000000\n");
	c.format = SINK_GRAPHITE;
	expect_line(&c, &m, TS, "n.caf____x_ 1 1700000000\n");
}

static void empty_values_are_none(void **state)
{
	(void)state;
	struct config_tag g[] = { { "env", "" } };
	struct config_tags global = { g, 1 };
	struct metric m = counter("disk.latency.bucket", 1);
	tag(tag(&m, "disk", ""), "le", "");
	struct format_ctx c = { SINK_GRAPHITE, "p", &global, NULL };
	expect_line(&c, &m, TS, "p.disk.none.latency.bucket.le_none 1 1700000000\n");
	c.format = SINK_STATSD;
	expect_line(&c, &m, TS, "p.disk.none.latency.bucket.le_none:1|c\n");
	c.format = SINK_GRAPHITE_TAGGED;
	expect_line(&c, &m, TS, "p.disk.latency.bucket;env=none;disk=none;le=none 1 1700000000\n");
	c.format = SINK_DOGSTATSD;
	expect_line(&c, &m, TS, "p.disk.latency.bucket:1|c|#env:none,disk:none,le:none\n");
}

static void timestamps(void **state)
{
	(void)state;
	struct format_ctx c = ctx_of(SINK_GRAPHITE, "");
	struct metric m = counter("c", 1);
	expect_line(&c, &m, 0, "c 1 0\n");
	expect_line(&c, &m, 4102444800, "c 1 4102444800\n");
	expect_line(&c, &m, -1, "c 1 -1\n");
	c.format = SINK_GRAPHITE_TAGGED;
	expect_line(&c, &m, INT64_MAX, "c 1 9223372036854775807\n");
}

static void long_lines_are_too_long(void **state)
{
	(void)state;
	char name[600];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct metric m = counter(name, 1);
	char buf[512];
	size_t len;
	for (enum sink_type f = SINK_STATSD; f <= SINK_GRAPHITE_TAGGED; f++) {
		struct format_ctx c = ctx_of(f, "p");
		assert_int_equal(format_line(&c, &m, TS, buf, sizeof(buf), &len), FORMAT_TOO_LONG);
	}
	/* A negative gauge pair must fit whole: the first half alone would be wrong. */
	struct metric g = gauge("gg", -1);
	struct format_ctx c = ctx_of(SINK_STATSD, "");
	assert_int_equal(format_line(&c, &g, TS, buf, strlen("gg:0|g\n"), &len), FORMAT_TOO_LONG);
	assert_int_equal(format_line(&c, &g, TS, buf, strlen("gg:0|g\ngg:-1|g\n"), &len), FORMAT_OK);
}

static void expand(const char *prefix, enum sink_type f, const char *host, const char *fqdn, const char *want)
{
	char out[128];
	memset(out, 'X', sizeof(out));
	assert_int_equal(format_expand_prefix(prefix, f, host, fqdn, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void prefix_expansion(void **state)
{
	(void)state;
	expand(NULL, SINK_GRAPHITE, "web01", "web01.example.com", "bpfpush.web01");
	expand(NULL, SINK_GRAPHITE_TAGGED, "web01", "web01.example.com", "bpfpush.web01");
	expand(NULL, SINK_STATSD, "web01", "web01.example.com", "bpfpush.web01");
	expand(NULL, SINK_DOGSTATSD, "web01", "web01.example.com", "bpfpush");
	expand("", SINK_GRAPHITE, "web01", "x", "");
	expand("", SINK_DOGSTATSD, "web01", "x", "");
	expand("servers.{fqdn}.bpf", SINK_GRAPHITE, "web01", "web01.example.com", "servers.web01_example_com.bpf");
	expand("{hostname}", SINK_STATSD, "web01.lan", "web01.lan", "web01_lan");
	expand("{hostname}{fqdn}", SINK_STATSD, "a", "b.c", "ab_c");
	expand("a b/c.{hostname}", SINK_GRAPHITE, "h-1_x", "h", "a_b_c.h-1_x");
	expand("x.{hostname}", SINK_GRAPHITE, "my host!", "h", "x.my_host_");
	expand("x.{hostname}", SINK_GRAPHITE, "", "h", "x.none");
	expand("x.{hostname}", SINK_GRAPHITE, NULL, "h", "x.none");
	expand("{unknown}.{hostname", SINK_GRAPHITE, "h", "h", "_unknown_._hostname");
	expand("servers.", SINK_GRAPHITE, "h", "h", "servers");
	expand("..a..b..", SINK_GRAPHITE, "h", "h", "a..b");
	expand("bpfpush", SINK_STATSD, "h", "h", "bpfpush");

	char small[8];
	assert_int_equal(format_expand_prefix("bpfpush.{hostname}", SINK_GRAPHITE, "web01", "w", small, sizeof(small)),
			 -1);
	assert_int_equal(format_expand_prefix("1234567", SINK_GRAPHITE, "w", "w", small, sizeof(small)), 0);
	assert_string_equal(small, "1234567");
	assert_int_equal(format_expand_prefix("12345678", SINK_GRAPHITE, "w", "w", small, sizeof(small)), -1);
	assert_int_equal(format_expand_prefix("", SINK_GRAPHITE, "w", "w", small, 0), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counter_without_tags),
		cmocka_unit_test(empty_prefix_adds_no_dot),
		cmocka_unit_test(counters_are_exact),
		cmocka_unit_test(gauges_round_trip),
		cmocka_unit_test(gauge_text_reads_back),
		cmocka_unit_test(negative_gauge_on_plain_statsd_is_two_lines),
		cmocka_unit_test(nan_and_inf_are_invalid),
		cmocka_unit_test(tag_only_keys_stay_out_of_plain_paths),
		cmocka_unit_test(plain_paths_of_the_contract),
		cmocka_unit_test(plain_formats_ignore_constant_tags),
		cmocka_unit_test(tag_order_and_precedence),
		cmocka_unit_test(tag_order_sink_tags_follow_globals),
		cmocka_unit_test(tagged_formats_with_le),
		cmocka_unit_test(sanitising_plain_segments),
		cmocka_unit_test(sanitising_graphite_tags),
		cmocka_unit_test(sanitising_dogstatsd_tags),
		cmocka_unit_test(non_ascii_tag_values),
		cmocka_unit_test(empty_values_are_none),
		cmocka_unit_test(timestamps),
		cmocka_unit_test(long_lines_are_too_long),
		cmocka_unit_test(prefix_expansion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
