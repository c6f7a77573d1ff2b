/* Shared by the hardirq and softirq probes and their modules. */
#ifndef BPFPUSH_IRQ_H
#define BPFPUSH_IRQ_H

#define IRQ_NAME_LEN 32
#define SOFTIRQ_VECTORS 10 /* NR_SOFTIRQS: hi, timer, net_tx, net_rx, block, irq_poll, tasklet, sched, hrtimer, rcu */

/*
 * x86's system vectors (local timer, IPIs, APIC events) are handled without
 * passing through irq_handler_entry; their irq_vectors:* tracepoints exist
 * on x86 alone. One switch for the probe (built with __TARGET_ARCH_x86) and
 * the module (built for the host), so that both see the same maps.
 */
#if defined(__TARGET_ARCH_x86) || (!defined(__bpf__) && (defined(__x86_64__) || defined(__i386__)))
#define IRQ_SYSTEM_VECTORS 1
#endif

/*
 * The hardirq rows of the system vectors, one per /proc/interrupts row that
 * counts them; the names are agent/modules/hardirq.c's. CAL counts both
 * call_function and call_function_single, TLB shootdowns among them.
 */
enum irq_sysvec_row {
	SYSVEC_LOC, /* local_timer */
	SYSVEC_SPU, /* spurious_apic */
	SYSVEC_ERR, /* error_apic */
	SYSVEC_PLT, /* x86_platform_ipi */
	SYSVEC_IWI, /* irq_work */
	SYSVEC_RES, /* reschedule */
	SYSVEC_CAL, /* call_function, call_function_single */
	SYSVEC_TRM, /* thermal_apic */
	SYSVEC_THR, /* threshold_apic */
	SYSVEC_DFR, /* deferred_error_apic */
	SYSVEC_ROWS
};

/* A handler slower than the module's threshold, sent through the ring buffer for a log line. */
struct irq_slow_event {
	unsigned long long duration_ns;
	unsigned int cpu;
	unsigned int vector; /* softirq vector; hard IRQ number; x86 vector number of a system vector */
	char name[IRQ_NAME_LEN]; /* hard IRQ handler name or system vector row (LOC); "" for softirqs */
	unsigned int system_vector; /* 1: an x86 system vector, named by its /proc/interrupts row */
	unsigned int pad;
};

/* Per-CPU health counters of an IRQ probe. */
struct irq_counters {
	unsigned long long ringbuf_lost; /* slow events the ring buffer had no room for (still counted as slow) */
	unsigned long long map_full;     /* handlers not timed because the histogram map was full */
};

#endif
