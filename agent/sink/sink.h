/*
 * A sink: one wire format plus one transport, fed one metric_batch per flush.
 *
 * sink_send_batch never blocks: it encodes, then hands lines to a transport
 * that writes what the peer takes now and buffers the rest (bounded), so a
 * slow or dead sink costs neither collection nor the other sinks.
 * No sink knows about modules.
 */
#ifndef BPFPUSH_SINK_H
#define BPFPUSH_SINK_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "metric.h"

/* Reasons of agent.sink.dropped, in the order their tag values are listed. */
enum sink_drop_reason { DROP_OVERFLOW = 0, DROP_TOO_LONG, DROP_INVALID, DROP_SEND_ERROR, DROP_REASON_COUNT };
extern const char *const sink_drop_reason_names[DROP_REASON_COUNT];

/* Cumulative since the sink was created: the agent turns them into deltas. */
struct sink_stats {
	uint64_t sent; /* lines handed to the transport */
	uint64_t dropped[DROP_REASON_COUNT];
	uint64_t errors;
	uint64_t reconnects;
	uint64_t buffered; /* lines waiting now */
};

/* What every sink shares from the global config. */
struct sink_env {
	const char *hostname; /* short host name, for {hostname} */
	const char *fqdn;     /* for {fqdn} */
	const struct config_tags *global_tags;
	uint64_t interval_ms; /* the flush interval: UDP datagrams are spread over part of it; 0: not spread */
};

struct sink;

/* cfg and env must outlive the sink. Returns NULL (and logs why) on failure. */
struct sink *sink_create(uv_loop_t *loop, const struct config_sink *cfg, const struct sink_env *env);
/* Why sink_create() would refuse cfg with env (a prefix too long once expanded), or NULL; why is scratch. */
const char *sink_check(const struct config_sink *cfg, const struct sink_env *env, char *why, size_t cap);
const char *sink_name(const struct sink *sink);
/* One flush: the lines of every batch (NULL ones skipped), then sent as one. */
void sink_send_batch(struct sink *sink, const struct metric_batch *const *batches, size_t nbatches);
void sink_get_stats(const struct sink *sink, struct sink_stats *out);
/*
 * Write out what can be written without waiting long (up to write_timeout,
 * and never more than SINK_CLOSE_MAX_MS, 3 s), then close every handle;
 * on_closed runs from the loop once the sink is freed. Lines still buffered
 * then are counted as dropped.
 */
void sink_close(struct sink *sink, void (*on_closed)(void *arg), void *arg);

#endif
