// SPDX-License-Identifier: GPL-2.0
/*
 * softirq: time spent in each softirq vector, as a log2 histogram per
 * vector with the sum of the durations beside it. Softirqs do not nest on a CPU, so one start slot per CPU is
 * enough. Runs slower than slow_threshold_ns are also counted and sent
 * through a ring buffer for the log.
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

struct vector_start {
	__u64 ts;
	__u32 vector;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vector_start);
} softirq_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SOFTIRQ_VECTORS);
	__type(key, __u32);
	__type(value, struct hist);
} softirq_hist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} softirq_slow SEC(".maps");

PERCPU_COUNTERS(softirq_counters, irq_counters);

static __always_inline void on_entry(unsigned int vector)
{
	struct vector_start *s = percpu_slot(&softirq_start);
	if (!s)
		return;
	s->vector = vector;
	s->ts = bpf_ktime_get_ns();
}

static __always_inline void on_exit(unsigned int vector)
{
	struct vector_start *s = percpu_slot(&softirq_start);
	if (!s || !s->ts || s->vector != vector)
		return; /* entered before we attached */
	__u64 ns = bpf_ktime_get_ns() - s->ts;
	s->ts = 0;
	__u32 key = vector;
	struct hist *h = bpf_map_lookup_elem(&softirq_hist, &key);
	if (!h)
		return; /* a vector this build does not know */
	hist_record_as(h, ns, hist_generation, false); /* this CPU's, written only here, and softirqs do not nest */
	if (ns < slow_threshold_ns)
		return;
	h->slow++;
	struct irq_slow_event *e = bpf_ringbuf_reserve(&softirq_slow, sizeof(*e), 0);
	if (!e) {
		struct irq_counters *c = percpu_slot(&softirq_counters);
		if (c)
			c->ringbuf_lost++;
		return;
	}
	e->duration_ns = ns;
	e->cpu = bpf_get_smp_processor_id();
	e->vector = vector;
	e->name[0] = '\0';
	e->system_vector = 0;
	bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(softirq_entry_tp_btf, unsigned int vector) { on_entry(vector); return 0; }

SEC("tp_btf/softirq_exit")
int BPF_PROG(softirq_exit_tp_btf, unsigned int vector) { on_exit(vector); return 0; }

SEC("raw_tp/softirq_entry")
int BPF_PROG(softirq_entry_raw_tp, unsigned int vector) { on_entry(vector); return 0; }

SEC("raw_tp/softirq_exit")
int BPF_PROG(softirq_exit_raw_tp, unsigned int vector) { on_exit(vector); return 0; }

SEC("tracepoint/irq/softirq_entry")
int softirq_entry_tracepoint(struct trace_event_raw_softirq *ctx) { on_entry(ctx->vec); return 0; }

SEC("tracepoint/irq/softirq_exit")
int softirq_exit_tracepoint(struct trace_event_raw_softirq *ctx) { on_exit(ctx->vec); return 0; }
