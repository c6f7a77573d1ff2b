/* Shared by the hardirq and softirq probes and their modules. */
#ifndef BPFPUSH_IRQ_H
#define BPFPUSH_IRQ_H

#define IRQ_NAME_LEN 32
#define SOFTIRQ_VECTORS 10 /* NR_SOFTIRQS: hi, timer, net_tx, net_rx, block, irq_poll, tasklet, sched, hrtimer, rcu */

/* A handler slower than the module's threshold, sent through the ring buffer for a log line. */
struct irq_slow_event {
	unsigned long long duration_ns;
	unsigned int cpu;
	unsigned int vector; /* softirq vector; hard IRQ number */
	char name[IRQ_NAME_LEN]; /* hard IRQ handler name; "" for softirqs */
};

/* Per-CPU health counters of an IRQ probe. */
struct irq_counters {
	unsigned long long ringbuf_lost; /* slow events the ring buffer had no room for (still counted as slow) */
	unsigned long long map_full;     /* handlers not timed because the histogram map was full */
};

#endif
