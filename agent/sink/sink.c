/*
 * A sink: include/exclude filter, encoder, and one transport. The transport
 * keeps the delivery counters; this file counts what never reaches it
 * (invalid values, lines too long).
 */
#include "sink/sink.h"

#include <fnmatch.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink/format.h"
#include "sink/transport.h"

const char *const sink_drop_reason_names[DROP_REASON_COUNT] = { "overflow", "too_long", "invalid", "send_error" };

#define SINK_PREFIX_MAX 256

struct sink {
	struct sink_core core;
	struct sink_transport *transport;
	struct format_ctx fmt;
	char prefix[SINK_PREFIX_MAX];
	char *line; /* one encoded entry */
	size_t line_cap;
	bool closing;
	void (*on_closed)(void *arg);
	void *on_closed_arg;
	struct log_complaint too_long_complaint;
	struct log_complaint invalid_complaint;
};

static struct sink_transport *open_transport(struct sink_core *core)
{
	const struct config_sink *cfg = core->cfg;
	if (cfg->type == SINK_STDOUT)
		return sink_stdout_open(core);
	switch (cfg->address.transport) {
	case TRANSPORT_UDP:
		return udp_transport_open(core);
	case TRANSPORT_TCP:
		return tcp_transport_open(core);
	case TRANSPORT_UNIX:
		return unix_transport_open(core);
	case TRANSPORT_TLS:
		return tcp_transport_open(core);
	case TRANSPORT_NONE:
		break;
	}
	log_error("sink", "%s: a %s sink needs an address", core->name, config_sink_type_name(cfg->type));
	return NULL;
}

/* The checks sink_create() makes before it opens anything; prefix receives the expanded prefix. */
static const char *check_sink(const struct config_sink *cfg, const struct sink_env *env, char *prefix, size_t cap,
			      char *why, size_t why_cap)
{
	enum sink_type format = cfg->type == SINK_STDOUT ? cfg->format : cfg->type;
	if (format == SINK_STDOUT || (unsigned)format > SINK_STDOUT)
		return "no wire format for a stdout sink";
	if (format_expand_prefix(cfg->prefix, format, env->hostname, env->fqdn, prefix, cap) < 0) {
		snprintf(why, why_cap, "prefix: longer than %d bytes once expanded", SINK_PREFIX_MAX - 1);
		return why;
	}
	return NULL;
}

const char *sink_check(const struct config_sink *cfg, const struct sink_env *env, char *why, size_t cap)
{
	char prefix[SINK_PREFIX_MAX];
	return check_sink(cfg, env, prefix, sizeof(prefix), why, cap);
}

struct sink *sink_create(uv_loop_t *loop, const struct config_sink *cfg, const struct sink_env *env)
{
	const char *name = cfg->name ? cfg->name : "?";
	enum sink_type format = cfg->type == SINK_STDOUT ? cfg->format : cfg->type;
	struct sink *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		log_error("sink", "%s: out of memory", name);
		return NULL;
	}
	s->core.loop = loop;
	s->core.cfg = cfg;
	s->core.env = env;
	s->core.name = name;
	char why[96];
	const char *wrong = check_sink(cfg, env, s->prefix, sizeof(s->prefix), why, sizeof(why));
	if (wrong) {
		log_error("sink", "%s: %s", name, wrong);
		free(s);
		return NULL;
	}
	s->fmt.format = format;
	s->fmt.prefix = s->prefix;
	s->fmt.global_tags = env->global_tags;
	s->fmt.sink_tags = &cfg->tags;
	s->transport = open_transport(&s->core);
	if (s->transport == NULL) {
		free(s);
		return NULL;
	}
	s->line_cap = s->transport->ops->max_line(s->transport);
	s->line = malloc(s->line_cap);
	if (s->line == NULL) {
		/* The transport frees itself and then the sink, from the loop. */
		log_error("sink", "%s: out of memory", name);
		s->closing = true;
		s->transport->ops->close(s->transport);
		return NULL;
	}
	return s;
}

const char *sink_name(const struct sink *sink) { return sink->core.name; }

static bool glob_any(char *const *globs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

static bool passes_filter(const struct config_sink *cfg, const char *name)
{
	if (cfg->ninclude > 0 && !glob_any(cfg->include, cfg->ninclude, name))
		return false;
	return !glob_any(cfg->exclude, cfg->nexclude, name);
}

/* Filter, encode and push one batch's lines to the transport. */
static void push_batch(struct sink *sink, const struct metric_batch *batch)
{
	const struct config_sink *cfg = sink->core.cfg;
	bool skip_zeros = !cfg->send_zeros;
	bool filtered = cfg->ninclude > 0 || cfg->nexclude > 0;
	/* Series of one name come together (tags vary): match each name once. */
	const char *last_name = NULL;
	bool last_pass = true;
	struct sink_transport *t = sink->transport;
	void (*push)(struct sink_transport *, const char *, size_t) = t->ops->push;
	for (size_t i = 0; i < batch->len; i++) {
		const struct metric *m = &batch->items[i];
		/* A counter that did not move: statsd servers fill the zero, DogStatsD reads absence as none. */
		if (skip_zeros && m->type == METRIC_COUNTER && m->counter == 0)
			continue;
		if (filtered) {
			if (last_name == NULL || (m->name != last_name && strcmp(m->name, last_name) != 0)) {
				last_name = m->name;
				last_pass = passes_filter(cfg, m->name);
			}
			if (!last_pass)
				continue;
		}
		size_t len;
		switch (format_line(&sink->fmt, m, batch->timestamp, sink->line, sink->line_cap, &len)) {
		case FORMAT_OK:
			push(t, sink->line, len);
			break;
		case FORMAT_TOO_LONG:
			sink->core.stats.dropped[DROP_TOO_LONG]++;
			log_complain(&sink->too_long_complaint, LOG_WARNING, "sink",
				     "%s: dropped a %s line longer than %zu bytes", sink->core.name, m->name,
				     sink->line_cap);
			break;
		case FORMAT_INVALID:
			sink->core.stats.dropped[DROP_INVALID]++;
			log_complain(&sink->invalid_complaint, LOG_WARNING, "sink", "%s: dropped %s: value is NaN or Inf",
				     sink->core.name, m->name);
			break;
		}
	}
}

void sink_send_batch(struct sink *sink, const struct metric_batch *const *batches, size_t nbatches)
{
	if (sink->closing)
		return;
	for (size_t b = 0; b < nbatches; b++)
		if (batches[b] != NULL)
			push_batch(sink, batches[b]);
	struct sink_transport *t = sink->transport;
	t->ops->flush(t);
}

void sink_get_stats(const struct sink *sink, struct sink_stats *out)
{
	*out = sink->core.stats;
	out->buffered = sink->transport->ops->buffered(sink->transport);
}

void sink_close(struct sink *sink, void (*on_closed)(void *arg), void *arg)
{
	if (sink->closing)
		return;
	sink->closing = true;
	sink->on_closed = on_closed;
	sink->on_closed_arg = arg;
	sink->transport->ops->close(sink->transport);
}

void sink_transport_closed(struct sink_core *core)
{
	struct sink *sink = (struct sink *)((char *)core - offsetof(struct sink, core));
	void (*on_closed)(void *) = sink->on_closed;
	void *arg = sink->on_closed_arg;
	/*
	 * The last flush reported the counters as they were before it; what the
	 * close delivered or gave up on is only seen here. One line per sink makes
	 * every entry accountable: entries in = sent + dropped.
	 */
	const struct sink_stats *st = &core->stats;
	uint64_t dropped = 0;
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		dropped += st->dropped[r];
	log_info("sink",
		 "%s: closed: %" PRIu64 " lines sent, %" PRIu64 " dropped (overflow %" PRIu64 ", too_long %" PRIu64
		 ", invalid %" PRIu64 ", send_error %" PRIu64 ")",
		 core->name, st->sent, dropped, st->dropped[DROP_OVERFLOW], st->dropped[DROP_TOO_LONG],
		 st->dropped[DROP_INVALID], st->dropped[DROP_SEND_ERROR]);
	free(sink->line);
	free(sink);
	if (on_closed != NULL)
		on_closed(arg);
}
