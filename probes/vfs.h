/* Shared by probes/vfs.bpf.c and agent/modules/vfs.c. */
#ifndef BPFPUSH_VFS_H
#define BPFPUSH_VFS_H

/* Files the kernel opened (vfs_open), per CPU. */
struct vfs_open_counters {
	unsigned long long calls;
	unsigned long long errors;
};

#endif
