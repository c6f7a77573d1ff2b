/* Shared by probes/mdflush.bpf.c and agent/modules/mdflush.c. */
#ifndef BPFPUSH_MDFLUSH_H
#define BPFPUSH_MDFLUSH_H

/* The kernel's DISK_NAME_LEN: struct gendisk's disk_name, NUL-terminated. */
#define MDFLUSH_DISK_NAME_LEN 32

/* Flushes are counted per md device, by its name (zero-padded: it is a hash key). */
struct mdflush_key {
	char disk[MDFLUSH_DISK_NAME_LEN];
};

struct mdflush_counters {
	unsigned long long map_full; /* flushes not counted: a new device found the per-device map full */
};

#endif
