/*
 * Metrics defined by syscalls, as sums of syscall-layer counters: one table
 * row per metric, so the fd, vfs, sync, mount and shm modules hold no
 * arithmetic of their own.
 */
#ifndef BPFPUSH_SYSCALL_METRICS_H
#define BPFPUSH_SYSCALL_METRICS_H

#include "module.h"
#include "syscall_table.h"

enum syscall_field {
	FIELD_CALLS = 1,      /* every call: with and without the variant */
	FIELD_ERRORS,         /* every failed call */
	FIELD_BYTES,          /* sum of positive results */
	FIELD_VARIANT_CALLS,  /* calls with the variant only */
	FIELD_VARIANT_ERRORS,
	FIELD_PLAIN_CALLS,    /* calls without the variant only */
	FIELD_PLAIN_ERRORS,
};

#define SYSCALL_METRIC_TERMS 6

struct syscall_term {
	unsigned char id; /* enum syscall_id; 0 ends the list */
	unsigned char field;
};

struct syscall_metric {
	const char *name;
	int event; /* index of the module event that must be attached for it to be sent */
	struct syscall_term terms[SYSCALL_METRIC_TERMS];
};

/*
 * A module's collect when its metrics are all syscall sums: read every row
 * its ops->syscall_sums need once, then observe each metric that the ways in
 * use measure.
 */
int syscall_metrics_collect(struct module *m, struct series_store *store);

#endif
