/*
 * The kernel's own count of a tracepoint's hits, through an ftrace instance
 * the test makes for itself. ftrace's probe is not perf's nor BPF's: it
 * records a hit whatever tier the agent attached with (a classic tracepoint
 * program that returns 0 also keeps a perf counting event on that
 * tracepoint from counting, so perf cannot be the witness).
 */
#ifndef FTRACE_COUNT_H
#define FTRACE_COUNT_H

#include <stdint.h>

struct ftrace_count {
	char dir[128]; /* the instance; "" when none was made */
};

/*
 * Start counting hits of `event` ("sched/sched_process_free") that pass
 * `filter` (ftrace filter syntax, 'comm == "x"'; NULL for all) in a new
 * instance. 0, or -errno (no tracefs, no instances, bad filter): then
 * ftrace_count_read says -1 and ftrace_count_stop does nothing.
 */
int ftrace_count_start(struct ftrace_count *fc, const char *event, const char *filter);
/* Hits recorded so far (kept and overwritten, over every CPU), or -1. */
int64_t ftrace_count_read(const struct ftrace_count *fc);
/* Stop and remove the instance. */
void ftrace_count_stop(struct ftrace_count *fc);

#endif
