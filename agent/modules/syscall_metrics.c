#include "syscall_metrics.h"

#include <errno.h>
#include <stdbool.h>

#include "syscall_watch.h"

static uint64_t field_of(const struct syscall_stats *s, enum syscall_field field)
{
	switch (field) {
	case FIELD_CALLS:
		return s->calls + s->variant_calls;
	case FIELD_ERRORS:
		return s->errors + s->variant_errors;
	case FIELD_BYTES:
		return s->bytes;
	case FIELD_VARIANT_CALLS:
		return s->variant_calls;
	case FIELD_VARIANT_ERRORS:
		return s->variant_errors;
	case FIELD_PLAIN_CALLS:
		return s->calls;
	case FIELD_PLAIN_ERRORS:
		return s->errors;
	}
	return 0;
}

/* Is the metric sent with the ways attached? One that needs results is not, on an entry-only hook. */
static bool measured(const struct module *m, const struct syscall_metric *metric)
{
	const struct event_state *st = &m->events[metric->event];
	return st->chosen >= 0 && !(st->no_result && module_metric_needs_result(m->ops, metric->name));
}

int syscall_metrics_collect(struct module *m, struct series_store *store)
{
	const struct syscall_metric *metrics = m->ops->syscall_sums;
	size_t n = m->ops->nsyscall_sums;
	struct syscall_stats rows[SYS_COUNT];
	bool have[SYS_COUNT] = { false };
	for (size_t i = 0; i < n; i++) {
		if (!measured(m, &metrics[i]))
			continue;
		for (int t = 0; t < SYSCALL_METRIC_TERMS && metrics[i].terms[t].id; t++) {
			unsigned id = metrics[i].terms[t].id;
			/* A partial sum would look like a counter reset: skip this round instead. */
			if (!have[id] && syscall_watch_read(m->syscalls, (enum syscall_id)id, &rows[id]))
				return -EIO;
			have[id] = true;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!measured(m, &metrics[i]))
			continue;
		uint64_t sum = 0;
		for (int t = 0; t < SYSCALL_METRIC_TERMS && metrics[i].terms[t].id; t++)
			sum += field_of(&rows[metrics[i].terms[t].id], (enum syscall_field)metrics[i].terms[t].field);
		series_counter_observe(store, metrics[i].name, NULL, 0, sum);
	}
	return 0;
}
