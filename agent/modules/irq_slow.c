#include "irq_slow.h"

#include "clock.h"
#include "log.h"

void irq_slow_log(struct irq_slow_log *l, const char *module, const char *what, uint64_t duration_ns, unsigned cpu,
		  uint64_t threshold_us)
{
	uint64_t now = monotonic_ns();
	if (now - l->window_start_ns >= 60000000000ull) {
		if (l->suppressed)
			log_warn(module, "%llu more slow events were not logged in the last minute (all are counted)",
				 (unsigned long long)l->suppressed);
		l->window_start_ns = now;
		l->logged = 0;
		l->suppressed = 0;
	}
	if (l->logged >= IRQ_SLOW_LOGS_PER_MINUTE) {
		l->suppressed++;
		return;
	}
	l->logged++;
	log_warn(module, "slow %s on CPU %u: %.1f us (threshold %llu us)", what, cpu, (double)duration_ns / 1000.0,
		 (unsigned long long)threshold_us);
}
