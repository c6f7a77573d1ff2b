// SPDX-License-Identifier: GPL-2.0
/*
 * hardirq: time spent in each hard IRQ handler, as a log2 histogram per
 * handler name with the sum of the durations beside it. Handlers run with
 * interrupts off, so one start slot per CPU is enough. Handlers slower than
 * slow_threshold_ns are also counted and sent through a ring buffer for the
 * log. On x86 the system vectors (local timer, IPIs, APIC events), which do
 * not pass through irq_handler_entry, are timed the same way from their
 * irq_vectors:* tracepoints, one histogram per /proc/interrupts row.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "hist.bpf.h"
#include "irq.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 slow_threshold_ns = 1000000;

struct handler_start {
	__u64 ts;
	__u32 irq;
	char name[IRQ_NAME_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct handler_start);
} hardirq_start SEC(".maps");

/*
 * One histogram per handler name shared by every CPU, not one per CPU: a
 * per-CPU hash preallocates every entry on every possible CPU (1024 names x
 * 256 bytes came to 60 MiB at 240 possible CPUs), and one IRQ's handler
 * never runs on two CPUs at once, so its histogram has one writer at a time
 * and its cache line moves only when the IRQ does. Names that several IRQs
 * share (an MSI-X driver naming every vector alike) can record at once:
 * buckets, sum and slow count are atomic adds; only a maximum can be lost to
 * such a race.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, char[IRQ_NAME_LEN]);
	__type(value, struct hist);
} hardirq_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} hardirq_slow SEC(".maps");

PERCPU_COUNTERS(hardirq_counters, irq_counters);

static __always_inline struct handler_start *start_slot(void) { return percpu_slot(&hardirq_start); }

static __always_inline void on_entry(int irq, const char *name_src)
{
	struct handler_start *s = start_slot();
	if (!s)
		return;
	s->irq = irq;
	/*
	 * The name is the map key: the whole slot is compared, not the string.
	 * A string read stops at the NUL and leaves the rest of a longer earlier
	 * name behind it, which would make one handler several keys.
	 */
	__builtin_memset(s->name, 0, sizeof(s->name));
	if (bpf_probe_read_kernel_str(s->name, sizeof(s->name), name_src) < 0)
		s->name[0] = '\0';
	s->ts = bpf_ktime_get_ns();
}

static __always_inline void on_exit(void)
{
	struct handler_start *s = start_slot();
	if (!s || !s->ts)
		return; /* entered before we attached */
	__u64 ns = bpf_ktime_get_ns() - s->ts;
	s->ts = 0;
	struct hist *h = bpf_map_lookup_elem(&hardirq_hist, s->name);
	if (!h) {
		struct hist zero = {};
		bpf_map_update_elem(&hardirq_hist, s->name, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hardirq_hist, s->name);
		if (!h) {
			struct irq_counters *c = percpu_slot(&hardirq_counters);
			if (c)
				c->map_full++;
			return;
		}
	}
	hist_record(h, ns, hist_generation);
	if (ns < slow_threshold_ns)
		return;
	__sync_fetch_and_add(&h->slow, 1);
	struct irq_slow_event *e = bpf_ringbuf_reserve(&hardirq_slow, sizeof(*e), 0);
	if (!e) {
		struct irq_counters *c = percpu_slot(&hardirq_counters);
		if (c)
			c->ringbuf_lost++;
		return;
	}
	e->duration_ns = ns;
	e->cpu = bpf_get_smp_processor_id();
	e->vector = s->irq;
	__builtin_memcpy(e->name, s->name, sizeof(e->name));
	e->system_vector = 0;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/irq_handler_entry")
int BPF_PROG(hardirq_entry_tp_btf, int irq, struct irqaction *action)
{
	on_entry(irq, BPF_CORE_READ(action, name));
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(hardirq_exit_tp_btf) { on_exit(); return 0; }

SEC("raw_tp/irq_handler_entry")
int BPF_PROG(hardirq_entry_raw_tp, int irq, struct irqaction *action)
{
	on_entry(irq, BPF_CORE_READ(action, name));
	return 0;
}

SEC("raw_tp/irq_handler_exit")
int BPF_PROG(hardirq_exit_raw_tp) { on_exit(); return 0; }

SEC("tracepoint/irq/irq_handler_entry")
int hardirq_entry_tracepoint(struct trace_event_raw_irq_handler_entry *ctx)
{
	/* The name is stored in the event itself (__data_loc: offset in the low 16 bits). */
	on_entry(ctx->irq, (const char *)ctx + (ctx->__data_loc_name & 0xFFFF));
	return 0;
}

SEC("tracepoint/irq/irq_handler_exit")
int hardirq_exit_tracepoint(void *ctx) { on_exit(); return 0; }

#ifdef IRQ_SYSTEM_VECTORS
/*
 * System vectors. Their handlers run with interrupts off and never inside a
 * device handler, nor one inside them; a slot of their own all the same, so
 * that the two kinds cannot end each other's timing.
 */
struct sysvec_start {
	__u64 ts;
	__u32 row;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sysvec_start);
} hardirq_sysvec_start SEC(".maps");

/* Indexed by enum irq_sysvec_row: an array, not the name hash, for the local timer's sake. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SYSVEC_ROWS);
	__type(key, __u32);
	__type(value, struct hist);
} hardirq_sysvec_hist SEC(".maps");

static __always_inline void sysvec_entry(__u32 row)
{
	struct sysvec_start *s = percpu_slot(&hardirq_sysvec_start);
	if (!s)
		return;
	s->row = row;
	s->ts = bpf_ktime_get_ns();
}

/* row_name: the /proc/interrupts row, a literal, for the slow log. */
static __always_inline void sysvec_exit(__u32 row, const char row_name[4], int vector)
{
	struct sysvec_start *s = percpu_slot(&hardirq_sysvec_start);
	if (!s || !s->ts || s->row != row)
		return; /* entered before we attached */
	__u64 ns = bpf_ktime_get_ns() - s->ts;
	s->ts = 0;
	struct hist *h = bpf_map_lookup_elem(&hardirq_sysvec_hist, &row);
	if (!h)
		return;
	hist_record(h, ns, hist_generation);
	if (ns < slow_threshold_ns)
		return;
	h->slow++;
	struct irq_slow_event *e = bpf_ringbuf_reserve(&hardirq_slow, sizeof(*e), 0);
	if (!e) {
		struct irq_counters *c = percpu_slot(&hardirq_counters);
		if (c)
			c->ringbuf_lost++;
		return;
	}
	e->duration_ns = ns;
	e->cpu = bpf_get_smp_processor_id();
	e->vector = vector;
	__builtin_memset(e->name, 0, sizeof(e->name));
	__builtin_memcpy(e->name, row_name, 3);
	e->system_vector = 1;
	bpf_ringbuf_submit(e, 0);
}

/*
 * The entry and exit programs of tracepoint irq_vectors:TP_{entry,exit} on
 * every tier, named sysvec_TP_{entry,exit}_{tp_btf,raw_tp,tracepoint}; all
 * these tracepoints pass the vector number alone.
 */
#define SYSVEC_PROGS(TP, ROW, ROW_NAME)                                                                           \
	SEC("tp_btf/" #TP "_entry")                                                                                \
	int BPF_PROG(sysvec_##TP##_entry_tp_btf, int vector) { sysvec_entry(ROW); return 0; }                     \
	SEC("tp_btf/" #TP "_exit")                                                                                 \
	int BPF_PROG(sysvec_##TP##_exit_tp_btf, int vector) { sysvec_exit(ROW, ROW_NAME, vector); return 0; }     \
	SEC("raw_tp/" #TP "_entry")                                                                                \
	int BPF_PROG(sysvec_##TP##_entry_raw_tp, int vector) { sysvec_entry(ROW); return 0; }                     \
	SEC("raw_tp/" #TP "_exit")                                                                                 \
	int BPF_PROG(sysvec_##TP##_exit_raw_tp, int vector) { sysvec_exit(ROW, ROW_NAME, vector); return 0; }     \
	SEC("tracepoint/irq_vectors/" #TP "_entry")                                                                \
	int sysvec_##TP##_entry_tracepoint(struct trace_event_raw_x86_irq_vector *ctx)                            \
	{                                                                                                          \
		sysvec_entry(ROW);                                                                                 \
		return 0;                                                                                          \
	}                                                                                                          \
	SEC("tracepoint/irq_vectors/" #TP "_exit")                                                                 \
	int sysvec_##TP##_exit_tracepoint(struct trace_event_raw_x86_irq_vector *ctx)                             \
	{                                                                                                          \
		sysvec_exit(ROW, ROW_NAME, ctx->vector);                                                           \
		return 0;                                                                                          \
	}

SYSVEC_PROGS(local_timer, SYSVEC_LOC, "LOC")
SYSVEC_PROGS(spurious_apic, SYSVEC_SPU, "SPU")
SYSVEC_PROGS(error_apic, SYSVEC_ERR, "ERR")
SYSVEC_PROGS(x86_platform_ipi, SYSVEC_PLT, "PLT")
SYSVEC_PROGS(irq_work, SYSVEC_IWI, "IWI")
SYSVEC_PROGS(reschedule, SYSVEC_RES, "RES")
SYSVEC_PROGS(call_function, SYSVEC_CAL, "CAL")
SYSVEC_PROGS(call_function_single, SYSVEC_CAL, "CAL")
SYSVEC_PROGS(thermal_apic, SYSVEC_TRM, "TRM")
SYSVEC_PROGS(threshold_apic, SYSVEC_THR, "THR")
SYSVEC_PROGS(deferred_error_apic, SYSVEC_DFR, "DFR")
#endif
