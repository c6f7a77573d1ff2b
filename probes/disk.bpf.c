// SPDX-License-Identifier: GPL-2.0
/*
 * disk: block request latency from issue to the driver until completion
 * (block_rq_issue -> block_rq_complete; not block_io_start, which fires
 * before queueing), a log2 histogram in µs per disk.
 *
 * The BTF ways key in-flight requests by their struct request; the classic
 * tracepoints carry no pointer, so they key by (disk, sector) instead.
 *
 * What is timed is what the device served: reads, writes, discards and the
 * flushes the block layer sends for fsync (the per-queue flush request). A
 * request that asked for a preflush without data is accounted by the kernel
 * as a write when its flush completes, but it is never issued itself: it is
 * not timed (its flush is). /sys/block/X/stat therefore differs from these
 * counts by (such requests - flushes): zero while every flush serves one of
 * them, more when the block layer lets one flush serve several.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "disk.h"
#include "hist.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Before 5.11 block_rq_issue passed (queue, request); set from BTF by userspace. */
const volatile bool issue_passes_queue = false;

struct start_key {
	__u64 id;     /* the request's address, or the disk's dev for the classic tracepoints */
	__u64 sector; /* 0 for the BTF ways */
};

/* The issue time alone: the disk is read at completion, where tp_btf reads it without helper calls. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192); /* requests in flight at once, on every disk (the slot ways: those whose slot was taken) */
	__type(key, struct start_key);
	__type(value, __u64);
} disk_start SEC(".maps");

/*
 * The cheaper way to keep an issue time (tp_btf): one slot per request
 * address, claimed with a compare-and-swap: an array element, no bucket lock,
 * nothing to allocate or free. Issue and completion run in about 60% of the
 * time the hash insert and delete take (kernel.bpf_stats_enabled run times on
 * the 6.18 host).
 * A request whose slot another request in flight holds falls back to
 * disk_start, so every request is timed either way. Needs BPF atomics beyond
 * add (5.12): older kernels refuse these programs and get the hash ways.
 */
struct start_slot {
	__u64 rq; /* the request holding the slot, 0 when free */
	__u64 ts;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DISK_SLOTS);
	__type(key, __u32);
	__type(value, struct start_slot);
} disk_slots SEC(".maps");

/*
 * Stripes of each disk's histogram, shared by the CPUs (disk.h); the agent
 * sizes it to DISK_HIST_DISKS disks of its stripes. Buckets, sum and slow
 * count are atomic adds; only an interval's maximum can be lost, to two CPUs
 * of one stripe completing requests of one disk at the same instant.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DISK_HIST_DISKS * DISK_HIST_STRIPES_MAX);
	__type(key, struct disk_hist_key);
	__type(value, struct hist);
} disk_hist SEC(".maps");

/* Stripes - 1, a power of two less one: set by the agent from the possible CPUs. */
const volatile __u32 hist_stripe_mask = 0;

PERCPU_COUNTERS(disk_counters, disk_counters);

/* struct request before 5.17 pointed at its disk directly. */
struct request___with_rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline __u32 dev_of(struct request *rq, bool trusted)
{
	struct gendisk *disk;
	struct request___with_rq_disk *old = (void *)rq;
	if (bpf_core_field_exists(old->rq_disk)) {
		disk = KERNEL_FIELD(trusted, old, rq_disk);
	} else {
		struct request_queue *q = KERNEL_FIELD(trusted, rq, q);
		disk = q ? KERNEL_FIELD(trusted, q, disk) : NULL;
	}
	if (!disk)
		return 0;
	return ((__u32)KERNEL_FIELD(trusted, disk, major) << DISK_MINOR_BITS) |
	       (__u32)KERNEL_FIELD(trusted, disk, first_minor);
}

static __always_inline void on_issue(struct start_key *key)
{
	__u64 ts = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&disk_start, key, &ts, BPF_ANY)) {
		struct disk_counters *c = percpu_slot(&disk_counters);
		if (c)
			c->map_full++;
	}
}

static __always_inline void record(__u32 dev, __u64 ns)
{
	struct disk_hist_key key = { .dev = dev, .stripe = bpf_get_smp_processor_id() & hist_stripe_mask };
	struct hist *h = bpf_map_lookup_elem(&disk_hist, &key);
	if (!h) {
		struct hist zero = {};
		bpf_map_update_elem(&disk_hist, &key, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&disk_hist, &key);
		if (!h) {
			struct disk_counters *c = percpu_slot(&disk_counters);
			if (c)
				c->hist_full++;
			return;
		}
	}
	hist_record(h, ns, hist_generation);
}

static __always_inline void on_complete(struct start_key *key, __u32 dev)
{
	__u64 *issued = bpf_map_lookup_elem(&disk_start, key);
	if (!issued)
		return; /* issued before we attached */
	__u64 ns = bpf_ktime_get_ns() - *issued;
	bpf_map_delete_elem(&disk_start, key);
	record(dev, ns);
}

static __always_inline struct request *issued_request(unsigned long long *ctx)
{
	return (struct request *)(issue_passes_queue ? ctx[1] : ctx[0]);
}

static __always_inline void issue_btf(struct request *rq)
{
	struct start_key key = { .id = (__u64)rq };
	on_issue(&key);
}

/* The request is still whole at completion: its disk is read there, not stored at issue. */
static __always_inline void complete_btf(struct request *rq, bool trusted)
{
	struct start_key key = { .id = (__u64)rq };
	on_complete(&key, dev_of(rq, trusted));
}

/*
 * Fibonacci hashing of the request's address: its top bits pick the slot. The
 * verifier allows no arithmetic on the typed pointer tp_btf passes but pointer
 * minus pointer: its distance from a fixed address (this map's) stands for it.
 */
static __always_inline struct start_slot *slot_of(struct request *rq)
{
	__u64 where = (__u64)rq - (__u64)(void *)&disk_slots;
	__u32 i = (__u32)((where * 0x9E3779B97F4A7C15ULL) >> (64 - DISK_SLOT_BITS));
	return bpf_map_lookup_elem(&disk_slots, &i);
}

static __always_inline void issue_slot(struct request *rq)
{
	struct start_slot *s = slot_of(rq);
	if (s) {
		/* A requeued request issued again finds its own slot: it is timed from now, as in disk_start. */
		__u64 held = __sync_val_compare_and_swap(&s->rq, 0, (__u64)rq);
		if (!held || held == (__u64)rq) {
			/* The request reaches its driver only after this returns: its completion sees ts. */
			s->ts = bpf_ktime_get_ns();
			return;
		}
	}
	issue_btf(rq);
}

static __always_inline void complete_slot(struct request *rq)
{
	struct start_slot *s = slot_of(rq);
	if (s && s->rq == (__u64)rq) {
		__u64 ns = bpf_ktime_get_ns() - s->ts;
		/* Freed atomically: a full barrier, so that ts is read before another request claims the slot. */
		if (__sync_val_compare_and_swap(&s->rq, (__u64)rq, 0) == (__u64)rq)
			record(dev_of(rq, true), ns);
		return;
	}
	complete_btf(rq, true);
}

SEC("tp_btf/block_rq_issue")
int disk_issue_tp_btf_slot(unsigned long long *ctx) { issue_slot(issued_request(ctx)); return 0; }

SEC("tp_btf/block_rq_complete")
int BPF_PROG(disk_complete_tp_btf_slot, struct request *rq) { complete_slot(rq); return 0; }

SEC("tp_btf/block_rq_issue")
int disk_issue_tp_btf(unsigned long long *ctx) { issue_btf(issued_request(ctx)); return 0; }

SEC("tp_btf/block_rq_complete")
int BPF_PROG(disk_complete_tp_btf, struct request *rq) { complete_btf(rq, true); return 0; }

SEC("raw_tp/block_rq_issue")
int disk_issue_raw_tp(struct bpf_raw_tracepoint_args *ctx) { issue_btf(issued_request(ctx->args)); return 0; }

SEC("raw_tp/block_rq_complete")
int disk_complete_raw_tp(struct bpf_raw_tracepoint_args *ctx) { complete_btf((struct request *)ctx->args[0], false); return 0; }

/*
 * The classic formats give no request, so (dev, sector) stands for it. A
 * flush has no sector: it is issued with sector 0 and completes with
 * sector -1 (6.18), so a request without sectors is keyed by sector 0 on
 * both sides. Two flushes in flight on one disk at once (one per hardware
 * queue) share that key, and one of them goes untimed.
 */
/*
 * The head both classic formats share, laid out as their format files give it
 * (dev at 8, sector at 16, nr_sector at 24 on every kernel since 2.6.3x). Not
 * CO-RE-relocated on purpose: block_rq_complete's record type was
 * trace_event_raw_block_rq_complete until 5.15 and is
 * trace_event_raw_block_rq_completion after, so a relocation against either
 * name fails on the other kernels (5.10's verifier then refused the program).
 */
struct block_rq_head {
	__u64 common;
	__u32 dev;
	__u32 pad;
	__u64 sector;
	__u32 nr_sector;
};

SEC("tracepoint/block/block_rq_issue")
int disk_issue_tracepoint(struct block_rq_head *ctx)
{
	struct start_key key = { .id = ctx->dev, .sector = ctx->nr_sector ? ctx->sector : 0 };
	on_issue(&key);
	return 0;
}

SEC("tracepoint/block/block_rq_complete")
int disk_complete_tracepoint(struct block_rq_head *ctx)
{
	struct start_key key = { .id = ctx->dev, .sector = ctx->nr_sector ? ctx->sector : 0 };
	on_complete(&key, ctx->dev);
	return 0;
}
