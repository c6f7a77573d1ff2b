/*
 * The wire encoders (statsd, dogstatsd, graphite, graphite-tagged) on
 * metrics carved from the input: names, tag keys and values, constant
 * tags, prefixes (through format_expand_prefix), counters and gauges
 * (any bit pattern, so NaN and Inf too), and buffer sizes from 0 up.
 * The output buffer is exactly cap bytes on the heap, so a write past it
 * is caught by ASan. Checks the encoders' promises: FORMAT_INVALID only for
 * non-finite gauges; a line that fits ends in '\n' and holds no other
 * control character nor any byte >= 0x80 (statsd's negative gauge is two lines).
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sink/format.h"

#include "fuzz.h"

#define MAX_CONST_TAGS 3

static void carve_tags(struct fuzz_in *in, struct config_tags *tags, struct config_tag *items)
{
	tags->items = items;
	tags->len = fuzz_u8(in) % (MAX_CONST_TAGS + 1);
	for (size_t i = 0; i < tags->len; i++) {
		items[i].key = fuzz_str(in);
		items[i].value = fuzz_str(in);
	}
}

static void free_tags(struct config_tags *tags)
{
	for (size_t i = 0; i < tags->len; i++) {
		free(tags->items[i].key);
		free(tags->items[i].value);
	}
}

static double carve_double(struct fuzz_in *in)
{
	switch (fuzz_u8(in) % 8) {
	case 0: return NAN;
	case 1: return INFINITY;
	case 2: return -INFINITY;
	case 3: return -0.0;
	case 4: return (double)(int64_t)fuzz_u64(in);
	default: {
		uint64_t bits = fuzz_u64(in);
		double d;
		memcpy(&d, &bits, sizeof(d));
		return d;
	}
	}
}

static void check_line(const struct metric *m, enum sink_type format, const char *buf, size_t len, size_t cap)
{
	if (len == 0 || len > cap || buf[len - 1] != '\n')
		abort();
	unsigned newlines = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c == '\n')
			newlines++;
		else if (c < 0x20 || c >= 0x7f)
			abort(); /* a control character would break the line protocol; the wire is ASCII */
	}
	unsigned want = format == SINK_STATSD && m->type == METRIC_GAUGE && m->gauge < 0 ? 2 : 1;
	if (newlines != want)
		abort();

	/* The value reads back as what was encoded: after the last ':' (statsd formats) or the first ' ' (Graphite). */
	char line[128];
	const char *value;
	if (format == SINK_GRAPHITE || format == SINK_GRAPHITE_TAGGED) {
		value = memchr(buf, ' ', len);
		if (value == NULL)
			abort();
		value++;
	} else {
		/* statsd's negative gauge: the second line; names and tags hold no ':' before the value's. */
		const char *last = buf;
		if (want == 2)
			last = (const char *)memchr(buf, '\n', len) + 1;
		const char *bar = memchr(last, '|', (size_t)(buf + len - last));
		if (bar == NULL)
			abort();
		value = bar;
		while (value > last && value[-1] != ':')
			value--;
	}
	size_t n = strcspn(value, " |\n");
	if (n == 0 || n >= sizeof(line) || value + n > buf + len)
		abort();
	memcpy(line, value, n);
	line[n] = '\0';
	char *end;
	if (m->type == METRIC_COUNTER) {
		if (strtoull(line, &end, 10) != m->counter || *end != '\0')
			abort();
	} else {
		double back = strtod(line, &end);
		if (*end != '\0' || (back != m->gauge && !(back == 0 && m->gauge == 0)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct metric m;
	memset(&m, 0, sizeof(m));
	char *strings[2 * METRIC_MAX_TAGS + 1] = { 0 };
	size_t nstrings = 0;

	m.type = fuzz_u8(&in) & 1 ? METRIC_GAUGE : METRIC_COUNTER;
	m.name = strings[nstrings++] = fuzz_str(&in);
	m.ntags = fuzz_u8(&in) % (METRIC_MAX_TAGS + 1);
	for (unsigned i = 0; i < m.ntags; i++) {
		uint8_t pick = fuzz_u8(&in);
		/* Real keys are plain words; "le" comes last in real metrics, anywhere here. */
		if (pick % 4 == 0)
			m.tags[i].key = "le";
		else
			m.tags[i].key = strings[nstrings++] = fuzz_str(&in);
		m.tags[i].value = strings[nstrings++] = fuzz_str(&in);
	}
	m.counter = fuzz_u64(&in);
	m.gauge = carve_double(&in);
	int64_t timestamp = (int64_t)fuzz_u64(&in);

	struct config_tag global_items[MAX_CONST_TAGS], sink_items[MAX_CONST_TAGS];
	struct config_tags global_tags, sink_tags;
	carve_tags(&in, &global_tags, global_items);
	carve_tags(&in, &sink_tags, sink_items);

	uint8_t flags = fuzz_u8(&in);
	char *prefix_text = fuzz_str(&in);
	char *hostname = fuzz_str(&in);
	char *fqdn = fuzz_str(&in);
	size_t prefix_cap = fuzz_u8(&in) % 4 == 0 ? (size_t)fuzz_u8(&in) : 256;
	size_t cap = fuzz_u8(&in) % 4 == 0 ? (size_t)fuzz_u8(&in) : 1 + (size_t)(fuzz_u8(&in) << 8 | fuzz_u8(&in));

	for (int f = SINK_STATSD; f <= SINK_STDOUT; f++) {
		char *prefix = malloc(prefix_cap ? prefix_cap : 1);
		if (prefix == NULL)
			abort();
		int rc = format_expand_prefix(flags & 1 ? NULL : prefix_text, (enum sink_type)f, hostname, fqdn, prefix,
					      prefix_cap);
		if (rc == 0 && strlen(prefix) >= prefix_cap)
			abort();
		if (f == SINK_STDOUT) {
			free(prefix);
			break;
		}
		struct format_ctx ctx = {
			.format = (enum sink_type)f,
			.prefix = rc == 0 ? prefix : "",
			.global_tags = flags & 2 ? &global_tags : NULL,
			.sink_tags = flags & 4 ? &sink_tags : NULL,
		};
		char *buf = malloc(cap ? cap : 1);
		if (buf == NULL)
			abort();
		size_t len = 12345;
		enum format_result r = format_line(&ctx, &m, timestamp, buf, cap, &len);
		bool invalid = m.type == METRIC_GAUGE && !isfinite(m.gauge);
		if ((r == FORMAT_INVALID) != invalid)
			abort();
		if (r == FORMAT_OK)
			check_line(&m, ctx.format, buf, len, cap);
		else if (len != 0)
			abort();
		free(buf);
		free(prefix);
	}

	free(prefix_text);
	free(hostname);
	free(fqdn);
	free_tags(&global_tags);
	free_tags(&sink_tags);
	for (size_t i = 0; i < nstrings; i++)
		free(strings[i]);
	return 0;
}
