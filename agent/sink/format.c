/*
 * Wire formats, byte for byte as docs/metrics.md "Wire formats" says.
 *
 * This is the agent's hottest userspace path (every series, every flush,
 * every sink), so lines are built with hand-rolled appends into the caller's
 * buffer: no allocation, no snprintf except for non-integral gauges.
 */
#include "sink/format.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Character classes, one bit per context, as a table computed at compile
 * time (no start-up initialisation, no mutable state).
 */
enum {
	CH_PATH = 1 << 0,     /* plain path segment, Graphite tag name: [A-Za-z0-9_-] */
	CH_NAME = 1 << 1,     /* a dotted name: CH_PATH plus '.' */
	CH_GTAG_VAL = 1 << 2, /* Graphite tag value: no ';', no whitespace */
	CH_DOG_VAL = 1 << 3,  /* DogStatsD tag value: no ',', '|', '#', no whitespace */
	CH_DOG_KEY = 1 << 4,  /* DogStatsD tag key: a value that also has no ':' */
};

/*
 * Control characters count as whitespace: none of them belongs on a line
 * protocol. Every format is ASCII on the wire: a byte >= 0x80 (UTF-8 from a
 * comm, an exe, a PTR name or an env value, or not UTF-8 at all) is in no
 * class, and put_clean_until() replaces each such character with one '_'.
 */
#define IS_SPACE(c) ((c) <= 0x20 || (c) >= 0x7f)
#define IS_PATH(c) \
	(((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') || (c) == '_' || (c) == '-')
#define CLASS(c)                                                                          \
	((IS_PATH(c) ? CH_PATH | CH_NAME : 0) | ((c) == '.' ? CH_NAME : 0) |             \
	 (!IS_SPACE(c) && (c) != ';' ? CH_GTAG_VAL : 0) |                                 \
	 (!IS_SPACE(c) && (c) != ',' && (c) != '|' && (c) != '#' ? CH_DOG_VAL : 0) |      \
	 (!IS_SPACE(c) && (c) != ',' && (c) != '|' && (c) != '#' && (c) != ':' ? CH_DOG_KEY : 0))
#define CLASS4(c) CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define CLASS16(c) CLASS4(c), CLASS4((c) + 4), CLASS4((c) + 8), CLASS4((c) + 12)
#define CLASS64(c) CLASS16(c), CLASS16((c) + 16), CLASS16((c) + 32), CLASS16((c) + 48)

static const unsigned char char_class[256] = { CLASS64(0), CLASS64(64), CLASS64(128), CLASS64(192) };

static const char two_digits[] = "00010203040506070809"
				 "10111213141516171819"
				 "20212223242526272829"
				 "30313233343536373839"
				 "40414243444546474849"
				 "50515253545556575859"
				 "60616263646566676869"
				 "70717273747576777879"
				 "80818283848586878889"
				 "90919293949596979899";

/*
 * An append cursor. Once a write does not fit, `full` sticks and later
 * appends do nothing, so encoders stay straight-line code checked once.
 */
struct out {
	char *p;
	char *end;
	bool full;
};

static inline void put_mem(struct out *o, const char *s, size_t n)
{
	if ((size_t)(o->end - o->p) < n) {
		o->full = true;
		o->p = o->end;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static inline void put_char(struct out *o, char c)
{
	if (o->p == o->end) {
		o->full = true;
		return;
	}
	*o->p++ = c;
}

#define put_lit(o, s) put_mem((o), (s), sizeof(s) - 1)

/* Copy s, replacing every byte outside class by '_'; stop at stop (or NUL). */
static inline const char *put_clean_until(struct out *o, const char *s, unsigned char class, char stop)
{
	char *p = o->p;
	char *end = o->end;
	unsigned char c;
	while ((c = (unsigned char)*s) != '\0' && c != (unsigned char)stop) {
		if (p == end) {
			o->full = true;
			o->p = end;
			return s;
		}
		*p++ = (char_class[c] & class) ? (char)c : '_';
		s++;
		/* The rest of a multi-byte character (or a run of stray continuation bytes) has no '_' of its own. */
		if (c >= 0x80)
			while (((unsigned char)*s & 0xc0) == 0x80)
				s++;
	}
	o->p = p;
	return s;
}

/* A tag value or path segment: an empty one is sent as "none". */
static inline void put_value(struct out *o, const char *s, unsigned char class)
{
	if (s == NULL || *s == '\0')
		put_lit(o, "none");
	else
		put_clean_until(o, s, class, '\0');
}

/* Graphite tag values must not start with '~' (it marks a regex in tag queries). */
static inline void put_graphite_value(struct out *o, const char *s)
{
	if (s != NULL && *s == '~') {
		put_char(o, '_');
		if (s[1] != '\0')
			put_clean_until(o, s + 1, CH_GTAG_VAL, '\0');
		return;
	}
	put_value(o, s, CH_GTAG_VAL);
}

static inline void put_u64(struct out *o, uint64_t v)
{
	char tmp[20];
	char *q = tmp + sizeof(tmp);
	while (v >= 100) {
		unsigned i = (unsigned)(v % 100) * 2;
		v /= 100;
		*--q = two_digits[i + 1];
		*--q = two_digits[i];
	}
	if (v >= 10) {
		*--q = two_digits[v * 2 + 1];
		*--q = two_digits[v * 2];
	} else {
		*--q = (char)('0' + v);
	}
	put_mem(o, q, (size_t)(tmp + sizeof(tmp) - q));
}

static inline void put_i64(struct out *o, int64_t v)
{
	if (v < 0) {
		put_char(o, '-');
		put_u64(o, (uint64_t)0 - (uint64_t)v);
	} else {
		put_u64(o, (uint64_t)v);
	}
}

#define TWO_POW_53 9007199254740992.0

/* Integral gauges (the common case: percentiles, counts) print as integers. */
static void put_gauge(struct out *o, double v)
{
	if (v > -TWO_POW_53 && v < TWO_POW_53) {
		int64_t i = (int64_t)v;
		if ((double)i == v) {
			put_i64(o, i); /* -0.0 becomes "0" */
			return;
		}
	}
	/* The shortest of 15, 16, 17 significant digits that reads back as the same double. */
	char tmp[40];
	int n = 0;
	for (int digits = 15; digits <= 17; digits++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", digits, v);
		if (digits == 17 || strtod(tmp, NULL) == v)
			break;
	}
	put_mem(o, tmp, (size_t)n);
}

static const struct metric_tag *find_tag(const struct metric *m, const char *key)
{
	for (unsigned i = 0; i < m->ntags; i++)
		if (strcmp(m->tags[i].key, key) == 0)
			return &m->tags[i];
	return NULL;
}

static bool tags_have_key(const struct config_tags *tags, const char *key)
{
	if (tags == NULL)
		return false;
	for (size_t i = 0; i < tags->len; i++)
		if (strcmp(tags->items[i].key, key) == 0)
			return true;
	return false;
}

static inline bool is_le(const char *key) { return key[0] == 'l' && key[1] == 'e' && key[2] == '\0'; }

/*
 * Tags only tag-aware formats carry (docs/metrics.md, apps: unit and container
 * "where known"): in a plain path they would rename the series whenever
 * they are known or not.
 */
static inline bool is_tag_only(const char *key) { return !strcmp(key, "unit") || !strcmp(key, "container"); }

/* The prefix, then the metric's own name, joined by a dot when both exist. */
static inline void put_prefixed_name(struct out *o, const char *prefix, const char *name)
{
	if (prefix != NULL && *prefix != '\0') {
		put_mem(o, prefix, strlen(prefix));
		put_char(o, '.');
	}
	put_clean_until(o, name, CH_NAME, '\0');
}

/*
 * Where plain formats insert tag values: after the first name segment (the
 * module: disk.latency.p99;disk=vda -> disk.vda.latency.p99), or after the
 * first two for the agent's own metrics, whose namespace is agent.<area>
 * (agent.sink.sent;sink=carbon -> agent.sink.carbon.sent, as docs/metrics.md shows).
 */
static const char *namespace_end(const char *name)
{
	const char *dot = strchr(name, '.');
	if (dot == NULL)
		return name + strlen(name);
	if (dot - name == 5 && memcmp(name, "agent", 5) == 0) {
		const char *second = strchr(dot + 1, '.');
		if (second != NULL)
			return second;
	}
	return dot;
}

/*
 * Plain formats: tag values after the namespace, le as the last segment:
 * disk.latency.bucket;disk=vda;le=4 -> disk.vda.latency.bucket.le_4.
 */
static void put_plain_path(struct out *o, const char *prefix, const struct metric *m)
{
	if (prefix != NULL && *prefix != '\0') {
		put_mem(o, prefix, strlen(prefix));
		put_char(o, '.');
	}
	const char *rest = m->name;
	if (m->ntags > 0) {
		const char *ns_end = namespace_end(m->name);
		while (rest < ns_end && !o->full) {
			rest = put_clean_until(o, rest, CH_NAME, '.');
			if (rest < ns_end)
				put_char(o, *rest++);
		}
	}
	const struct metric_tag *le = NULL;
	for (unsigned i = 0; i < m->ntags; i++) {
		if (is_le(m->tags[i].key)) {
			le = &m->tags[i];
			continue;
		}
		if (is_tag_only(m->tags[i].key))
			continue;
		put_char(o, '.');
		put_value(o, m->tags[i].value, CH_PATH);
	}
	put_clean_until(o, rest, CH_NAME, '\0');
	if (le != NULL) {
		put_lit(o, ".le_");
		put_value(o, le->value, CH_PATH);
	}
}

enum tag_style { TAGS_GRAPHITE, TAGS_DOGSTATSD };

struct tag_writer {
	struct out *o;
	enum tag_style style;
	unsigned count;
};

static void put_tag(struct tag_writer *w, const char *key, const char *value)
{
	struct out *o = w->o;
	if (w->style == TAGS_GRAPHITE) {
		put_char(o, ';');
		put_value(o, key, CH_PATH);
		put_char(o, '=');
		put_graphite_value(o, value);
	} else {
		if (w->count == 0)
			put_lit(o, "|#");
		else
			put_char(o, ',');
		put_value(o, key, CH_DOG_KEY);
		put_char(o, ':');
		put_value(o, value, CH_DOG_VAL);
	}
	w->count++;
}

/*
 * Tag order: global constant tags (unless the sink redefines the key), the
 * sink's, the metric's, le last. A constant tag never overrides a metric's own.
 */
static void put_tags(struct out *o, enum tag_style style, const struct format_ctx *ctx, const struct metric *m)
{
	struct tag_writer w = { o, style, 0 };
	const struct config_tags *global = ctx->global_tags;
	const struct config_tags *sink = ctx->sink_tags;
	if (global != NULL) {
		for (size_t i = 0; i < global->len; i++) {
			const struct config_tag *t = &global->items[i];
			if (tags_have_key(sink, t->key) || find_tag(m, t->key) != NULL)
				continue;
			put_tag(&w, t->key, t->value);
		}
	}
	if (sink != NULL) {
		for (size_t i = 0; i < sink->len; i++) {
			const struct config_tag *t = &sink->items[i];
			if (find_tag(m, t->key) != NULL)
				continue;
			put_tag(&w, t->key, t->value);
		}
	}
	const struct metric_tag *le = NULL;
	for (unsigned i = 0; i < m->ntags; i++) {
		if (is_le(m->tags[i].key)) {
			le = &m->tags[i];
			continue;
		}
		put_tag(&w, m->tags[i].key, m->tags[i].value);
	}
	if (le != NULL)
		put_tag(&w, le->key, le->value);
}

static inline void put_value_of(struct out *o, const struct metric *m)
{
	if (m->type == METRIC_COUNTER)
		put_u64(o, m->counter);
	else
		put_gauge(o, m->gauge);
}

static void put_graphite_tail(struct out *o, const struct metric *m, int64_t timestamp)
{
	put_char(o, ' ');
	put_value_of(o, m);
	put_char(o, ' ');
	put_i64(o, timestamp);
	put_char(o, '\n');
}

static void put_statsd(struct out *o, const struct format_ctx *ctx, const struct metric *m)
{
	char *start = o->p;
	put_plain_path(o, ctx->prefix, m);
	if (m->type == METRIC_GAUGE && m->gauge < 0) {
		/* Etsy statsd reads a signed gauge as a change: set 0 first, then subtract. */
		size_t name_len = (size_t)(o->p - start);
		put_lit(o, ":0|g\n");
		if (o->full)
			return;
		put_mem(o, start, name_len);
	}
	put_char(o, ':');
	put_value_of(o, m);
	if (m->type == METRIC_COUNTER)
		put_lit(o, "|c\n");
	else
		put_lit(o, "|g\n");
}

static void put_dogstatsd(struct out *o, const struct format_ctx *ctx, const struct metric *m)
{
	put_prefixed_name(o, ctx->prefix, m->name);
	put_char(o, ':');
	put_value_of(o, m);
	if (m->type == METRIC_COUNTER)
		put_lit(o, "|c");
	else
		put_lit(o, "|g");
	put_tags(o, TAGS_DOGSTATSD, ctx, m);
	put_char(o, '\n');
}

enum format_result format_line(const struct format_ctx *ctx, const struct metric *m, int64_t timestamp,
			       char *buf, size_t cap, size_t *len)
{
	*len = 0;
	if (m->type == METRIC_GAUGE && !isfinite(m->gauge))
		return FORMAT_INVALID;
	struct out o = { buf, buf + cap, false };
	switch (ctx->format) {
	case SINK_STATSD:
		put_statsd(&o, ctx, m);
		break;
	case SINK_DOGSTATSD:
		put_dogstatsd(&o, ctx, m);
		break;
	case SINK_GRAPHITE:
		put_plain_path(&o, ctx->prefix, m);
		put_graphite_tail(&o, m, timestamp);
		break;
	case SINK_GRAPHITE_TAGGED:
		put_prefixed_name(&o, ctx->prefix, m->name);
		put_tags(&o, TAGS_GRAPHITE, ctx, m);
		put_graphite_tail(&o, m, timestamp);
		break;
	case SINK_STDOUT:
	default:
		return FORMAT_INVALID;
	}
	if (o.full)
		return FORMAT_TOO_LONG;
	*len = (size_t)(o.p - buf);
	return FORMAT_OK;
}

/* A host name as one path segment: dots and anything else unsafe become '_'. */
static void put_host(struct out *o, const char *host) { put_value(o, host, CH_PATH); }

int format_expand_prefix(const char *prefix, enum sink_type format, const char *hostname, const char *fqdn,
			 char *out, size_t cap)
{
	if (cap == 0)
		return -1;
	if (prefix == NULL)
		prefix = format == SINK_DOGSTATSD ? "bpfpush" : "bpfpush.{hostname}";
	/* Keep room for the terminating NUL. */
	struct out o = { out, out + cap - 1, false };
	const char *s = prefix;
	while (*s != '\0') {
		if (strncmp(s, "{hostname}", 10) == 0) {
			put_host(&o, hostname);
			s += 10;
		} else if (strncmp(s, "{fqdn}", 6) == 0) {
			put_host(&o, fqdn);
			s += 6;
		} else {
			put_char(&o, (char_class[(unsigned char)*s] & CH_NAME) ? *s : '_');
			s++;
		}
	}
	if (o.full) {
		out[0] = '\0';
		return -1;
	}
	/* "servers." or ".x" would put an empty segment next to the name. */
	char *start = out;
	while (start < o.p && *start == '.')
		start++;
	char *end = o.p;
	while (end > start && end[-1] == '.')
		end--;
	size_t n = (size_t)(end - start);
	memmove(out, start, n);
	out[n] = '\0';
	return 0;
}
