/* Log lines for slow IRQ handlers and softirqs, at most a few a minute. */
#ifndef BPFPUSH_IRQ_SLOW_H
#define BPFPUSH_IRQ_SLOW_H

#include <stdint.h>

#define IRQ_SLOW_LOGS_PER_MINUTE 10

struct irq_slow_log {
	uint64_t window_start_ns;
	unsigned logged;
	uint64_t suppressed;
};

/* Log "slow <what> on CPU n: X µs" unless this minute's quota is spent (then count it for a summary). */
void irq_slow_log(struct irq_slow_log *l, const char *module, const char *what, uint64_t duration_ns, unsigned cpu,
		  uint64_t threshold_us);

#endif
