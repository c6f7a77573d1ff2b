/* Shared by probes/filesystem.bpf.c and agent/modules/filesystem.c. */
#ifndef BPFPUSH_FILESYSTEM_H
#define BPFPUSH_FILESYSTEM_H

/* Operations timed per filesystem, in this order. */
#define FS_OP_COUNT 4 /* read, write, open, fsync */
/* Filesystems, in the order of fs_types in agent/modules/filesystem.c. */
#define FS_TYPE_COUNT 5 /* ext4, xfs, nfs, btrfs, zfs */
/* One histogram per (filesystem, operation): index = filesystem * FS_OP_COUNT + operation. */
#define FS_HIST_COUNT (FS_TYPE_COUNT * FS_OP_COUNT)

/*
 * fs_hist keeps each histogram in stripes that the CPUs share, one per
 * possible CPU up to FS_HIST_STRIPES_MAX (a power of two): histogram i's
 * stripe s is entry i * stripes + s. Per CPU it came to 1.2 MiB at 240
 * possible CPUs; this holds it to 320 KiB.
 */
#define FS_HIST_STRIPES_MAX 64

struct filesystem_counters {
	unsigned long long map_full; /* calls not timed: too many in flight for the start map */
};

#endif
