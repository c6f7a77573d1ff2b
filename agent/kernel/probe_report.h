/* bpfpush --probe and --list-metrics: what the kernel offers each module, and the catalogue. */
#ifndef BPFPUSH_PROBE_REPORT_H
#define BPFPUSH_PROBE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

/* Attach and detach every built module for real; returns 0 if one can run, 2 if none. */
int probe_report(const struct config *cfg, bool json, FILE *out);
void list_metrics(FILE *out);

#endif
