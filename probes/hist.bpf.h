/* Recording into struct hist from BPF: one copy of the bucket maths. */
#ifndef BPFPUSH_HIST_BPF_H
#define BPFPUSH_HIST_BPF_H

#include "hist.h"

/*
 * The collection generation the current interval's maximum belongs to.
 * Userspace advances it after each read; it lives in a map of its own
 * (.data.hist_gen) so that userspace can write it with one map update.
 */
volatile __u64 hist_generation SEC(".data.hist_gen") = 0;

/* Number of significant bits of v (0 for 0), without loops the verifier must unroll. */
static __always_inline __u32 bit_width(__u64 v)
{
	__u32 n = 0;
	if (v >> 32) { n += 32; v >>= 32; }
	if (v >> 16) { n += 16; v >>= 16; }
	if (v >> 8) { n += 8; v >>= 8; }
	if (v >> 4) { n += 4; v >>= 4; }
	if (v >> 2) { n += 2; v >>= 2; }
	if (v >> 1) { n += 1; v >>= 1; }
	return n + (__u32)v;
}

/* The slot of value v: the smallest k with v <= 2^k, capped at the le=max slot. */
static __always_inline __u32 hist_slot(__u64 v)
{
	if (v <= 1)
		return 0;
	__u32 k = bit_width(v - 1);
	return k > HIST_SLOTS - 1 ? HIST_SLOTS - 1 : k;
}

/*
 * Record a duration. Buckets are in µs; the sum and the exact maximum are in ns, the maximum per
 * collection generation, which userspace advances after each read, so that
 * "max" covers one interval without userspace writing to the map.
 */
static __always_inline void hist_record_as(struct hist *h, __u64 ns, __u64 generation, _Bool shared)
{
	__u64 slot = hist_slot(ns / 1000);
	/*
	 * Opaque to the compiler, so that the check stays on the register used
	 * for the access: 6.1's verifier loses the bound on a copy otherwise.
	 */
	__asm__ __volatile__("" : "+r"(slot));
	/*
	 * Atomic although the slot is per CPU: a program in process context can
	 * be interrupted on its CPU by the same program in an IRQ (a block request
	 * completed inline by the disk's interrupt), and a plain ++ then loses one.
	 * A histogram only one program writes, from a context that cannot be
	 * entered again on its CPU (softirq_exit: softirqs do not nest), is not
	 * shared and takes plain adds.
	 */
	if (shared) {
		if (slot < HIST_SLOTS)
			__sync_fetch_and_add(&h->slots[slot], 1);
		__sync_fetch_and_add(&h->sum_ns, ns);
	} else {
		if (slot < HIST_SLOTS)
			h->slots[slot]++;
		h->sum_ns += ns;
	}
	if (h->max_gen != generation) {
		h->max_gen = generation;
		h->max_ns = ns;
	} else if (ns > h->max_ns) {
		h->max_ns = ns;
	}
}

static __always_inline void hist_record(struct hist *h, __u64 ns, __u64 generation)
{
	hist_record_as(h, ns, generation, 1);
}

#endif
