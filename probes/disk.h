/* Shared by probes/disk.bpf.c and agent/modules/disk.c. */
#ifndef BPFPUSH_DISK_H
#define BPFPUSH_DISK_H

/* Histograms are keyed by the disk's dev_t in the kernel's encoding: major << 20 | minor. */
#define DISK_MINOR_BITS 20

struct disk_counters {
	unsigned long long map_full;  /* requests not timed: too many in flight for the start map */
	unsigned long long hist_full; /* completions not recorded: more disks than disk_hist holds */
};

/*
 * disk_hist keeps a disk's histogram in stripes that the CPUs share: CPU c
 * records into stripe c & hist_stripe_mask (the agent sets it), so two CPUs
 * contend for one only on machines with more CPUs than stripes. A per-CPU map
 * cost entries x 256 bytes x possible CPUs (8 MiB at 240); this costs at most
 * DISK_HIST_DISKS x DISK_HIST_STRIPES_MAX entries on any machine.
 */
struct disk_hist_key {
	unsigned int dev;    /* major << DISK_MINOR_BITS | minor */
	unsigned int stripe; /* the recording CPU & hist_stripe_mask */
};
#define DISK_HIST_DISKS 256
#define DISK_HIST_STRIPES_MAX 8

/* Issue times kept in disk_slots: 2^DISK_SLOT_BITS slots of 16 bytes (128 KiB), shared by every CPU. */
#define DISK_SLOT_BITS 13
#define DISK_SLOTS (1u << DISK_SLOT_BITS)

#endif
