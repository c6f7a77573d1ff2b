// SPDX-License-Identifier: GPL-2.0
/*
 * mdflush: flush requests per md (software RAID) device. Every md
 * personality hands a bio carrying REQ_PREFLUSH to md_flush_request(mddev,
 * bio) (void in old kernels, bool in later ones; only its entry is
 * hooked, so the return type does not matter), which sends the flush on to
 * the member devices. No tracepoint marks it: this needs fentry or kprobes,
 * and md in the kernel (md_mod loaded, or built in).
 *
 * The device is named from the bio rather than from struct mddev: the bio's
 * disk is the md device the flush was submitted to, and struct bio is a
 * vmlinux type, so the CO-RE reads need no BTF of md_mod (Debian's 5.10
 * has none) and the kprobe way works wherever kprobes do. Under dm-raid
 * (md personalities driven by device-mapper, mddev->gendisk NULL) the
 * bio's disk is whatever device-mapper's clone names: counted under that
 * name, or "" (sent as none) when it names none.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "bpfpush.bpf.h"
#include "mdflush.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct mdflush_key);
	__type(value, __u64);
} mdflush_count SEC(".maps");

PERCPU_COUNTERS(mdflush_counters, mdflush_counters);

/* Before 5.12 a bio pointed at its disk directly; since, through its block_device. */
struct bio___with_bi_disk {
	struct gendisk *bi_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *disk_of(struct bio *bio)
{
	struct bio___with_bi_disk *old = (void *)bio;
	if (bpf_core_field_exists(old->bi_disk))
		return BPF_CORE_READ(old, bi_disk);
	return BPF_CORE_READ(bio, bi_bdev, bd_disk);
}

/* Probe reads on every tier: flushes are rare, and the fentry way then needs no md_mod BTF either. */
static __always_inline void count_flush(struct bio *bio)
{
	struct mdflush_key key = {};
	struct gendisk *disk = disk_of(bio);
	if (disk)
		BPF_CORE_READ_STR_INTO(&key.disk, disk, disk_name);
	__u64 *n = bpf_map_lookup_elem(&mdflush_count, &key);
	if (!n) {
		__u64 zero = 0;
		/* EEXIST: another CPU added the device first; its entry is used below */
		bpf_map_update_elem(&mdflush_count, &key, &zero, BPF_NOEXIST);
		n = bpf_map_lookup_elem(&mdflush_count, &key);
	}
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	struct mdflush_counters *c = percpu_slot(&mdflush_counters);
	if (c)
		c->map_full++;
}

SEC("fentry/md_flush_request")
int BPF_PROG(mdflush_fentry, void *mddev, struct bio *bio) { count_flush(bio); return 0; }

SEC("kprobe/md_flush_request")
int BPF_KPROBE(mdflush_kprobe, void *mddev, struct bio *bio) { count_flush(bio); return 0; }
