/*
 * Wire formats: one metric -> one line, byte for byte as docs/metrics.md says.
 * Pure functions with no I/O, so every format is unit-tested exactly.
 */
#ifndef BPFPUSH_FORMAT_H
#define BPFPUSH_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "metric.h"

struct format_ctx {
	enum sink_type format;                  /* never SINK_STDOUT */
	const char *prefix;                     /* expanded, sanitised; "" for none */
	const struct config_tags *global_tags;  /* tag-aware formats only; may be NULL */
	const struct config_tags *sink_tags;    /* may be NULL */
};

enum format_result { FORMAT_OK = 0, FORMAT_TOO_LONG, FORMAT_INVALID };

/*
 * Encode one line, with its trailing '\n', into buf. Returns FORMAT_OK and
 * *len, FORMAT_TOO_LONG when it does not fit in cap, FORMAT_INVALID for NaN
 * or Inf gauges. timestamp is used by the Graphite formats only.
 */
enum format_result format_line(const struct format_ctx *ctx, const struct metric *m, int64_t timestamp,
			       char *buf, size_t cap, size_t *len);

/* Expand {hostname} and {fqdn} (dots in them become '_'); NULL prefix -> the type's default. */
int format_expand_prefix(const char *prefix, enum sink_type format, const char *hostname, const char *fqdn,
			 char *out, size_t cap);

#endif
