/* bpfpush --probe and --list-metrics: what the kernel offers each module, and the catalogue. */
#ifndef BPFPUSH_PROBE_REPORT_H
#define BPFPUSH_PROBE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

struct module;

/* Attach and detach every built module for real; returns 0 if one can run, 2 if none. */
int probe_report(const struct config *cfg, bool json, FILE *out);
void list_metrics(FILE *out);
/* Is the metric sent by this attached module: some event that gives it (by exact name) attached with a way that measures it? */
bool probe_metric_sent(const struct module *m, const char *metric);
/* Why a metric that probe_metric_sent() denies is not sent, for --probe. */
const char *probe_metric_missing_why(const struct module *m, const char *metric);

#endif
