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
 * disk_hist is per CPU (one disk completes on many CPUs at once), so it costs
 * its entries x 256 bytes x possible CPUs: at most DISK_HIST_MAX disks, fewer
 * where that would pass DISK_HIST_BUDGET (more than 128 possible CPUs), never
 * fewer than DISK_HIST_MIN.
 */
#define DISK_HIST_MAX 256
#define DISK_HIST_MIN 64
#define DISK_HIST_BUDGET (8u << 20)

/* Issue times kept in disk_slots: 2^DISK_SLOT_BITS slots of 16 bytes (128 KiB), shared by every CPU. */
#define DISK_SLOT_BITS 13
#define DISK_SLOTS (1u << DISK_SLOT_BITS)

#endif
