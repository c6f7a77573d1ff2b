/* Shared by probes/disk.bpf.c and agent/modules/disk.c. */
#ifndef BPFPUSH_DISK_H
#define BPFPUSH_DISK_H

/* Histograms are keyed by the disk's dev_t in the kernel's encoding: major << 20 | minor. */
#define DISK_MINOR_BITS 20

struct disk_counters {
	unsigned long long map_full; /* requests not timed: too many in flight for the start map */
};

#endif
