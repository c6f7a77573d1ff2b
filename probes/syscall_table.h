/*
 * The syscalls the syscall layer can watch: one row each, the one place
 * that knows their numbers. Included by probes/syscalls.bpf.c (which makes a
 * per-syscall tracepoint program from every row) and by userspace (names,
 * dispatch tables). A new architecture adds its own table here.
 *
 * X(name, native nr, compat nr (32-bit tasks: i386 on x86_64; -1: none),
 *   tracepoint name, variant)
 * The variant is a second count some metrics need from the arguments:
 * open-family calls with O_CREAT (vfs.create), unlinkat with AT_REMOVEDIR
 * (vfs.rmdir rather than vfs.unlink).
 *
 * Architectures on the kernel's generic table (arm64: its
 * include/uapi/asm-generic/unistd.h) have no open, creat, unlink, rmdir, fork
 * or vfork, only openat, unlinkat, clone and clone3: those rows are absent
 * there, and every list that names them wraps them in LEGACY_SYSCALLS(), which
 * keeps them where HAVE_LEGACY_SYSCALLS and drops them elsewhere. A metric
 * keeps its meaning: it sums the rows that exist.
 */
#ifndef BPFPUSH_SYSCALL_TABLE_H
#define BPFPUSH_SYSCALL_TABLE_H

enum syscall_variant {
	VARIANT_NONE = 0,
	VARIANT_ALWAYS,          /* creat: every call creates */
	VARIANT_O_CREAT_ARG1,    /* open(path, flags, mode) */
	VARIANT_O_CREAT_ARG2,    /* openat(dfd, path, flags, mode) */
	VARIANT_O_CREAT_HOW_ARG2, /* openat2(dfd, path, struct open_how *how, size) */
	VARIANT_REMOVEDIR_ARG2,  /* unlinkat(dfd, path, flags) */
};

#if defined(__TARGET_ARCH_x86) || defined(__x86_64__)
#define SYSCALL_TABLE(X)                                                   \
	X(read, 0, 3, read, VARIANT_NONE)                                  \
	X(write, 1, 4, write, VARIANT_NONE)                                \
	X(open, 2, 5, open, VARIANT_O_CREAT_ARG1)                          \
	X(close, 3, 6, close, VARIANT_NONE)                                \
	X(pread64, 17, 180, pread64, VARIANT_NONE)                         \
	X(pwrite64, 18, 181, pwrite64, VARIANT_NONE)                       \
	X(readv, 19, 145, readv, VARIANT_NONE)                             \
	X(writev, 20, 146, writev, VARIANT_NONE)                           \
	X(msync, 26, 144, msync, VARIANT_NONE)                             \
	X(shmget, 29, 395, shmget, VARIANT_NONE)                           \
	X(shmat, 30, 397, shmat, VARIANT_NONE)                             \
	X(shmctl, 31, 396, shmctl, VARIANT_NONE)                           \
	X(clone, 56, 120, clone, VARIANT_NONE)                             \
	X(fork, 57, 2, fork, VARIANT_NONE)                                 \
	X(vfork, 58, 190, vfork, VARIANT_NONE)                             \
	X(accept, 43, -1, accept, VARIANT_NONE)                            \
	X(shmdt, 67, 398, shmdt, VARIANT_NONE)                             \
	X(fsync, 74, 118, fsync, VARIANT_NONE)                             \
	X(fdatasync, 75, 148, fdatasync, VARIANT_NONE)                     \
	X(rmdir, 84, 40, rmdir, VARIANT_NONE)                              \
	X(creat, 85, 8, creat, VARIANT_ALWAYS)                             \
	X(unlink, 87, 10, unlink, VARIANT_NONE)                            \
	X(sync, 162, 36, sync, VARIANT_NONE)                               \
	X(mount, 165, 21, mount, VARIANT_NONE)                             \
	X(umount2, 166, 52, umount, VARIANT_NONE)                          \
	X(openat, 257, 295, openat, VARIANT_O_CREAT_ARG2)                  \
	X(accept4, 288, 364, accept4, VARIANT_NONE)                        \
	X(unlinkat, 263, 301, unlinkat, VARIANT_REMOVEDIR_ARG2)            \
	X(sync_file_range, 277, 314, sync_file_range, VARIANT_NONE)        \
	X(preadv, 295, 333, preadv, VARIANT_NONE)                          \
	X(pwritev, 296, 334, pwritev, VARIANT_NONE)                        \
	X(syncfs, 306, 344, syncfs, VARIANT_NONE)                          \
	X(preadv2, 327, 378, preadv2, VARIANT_NONE)                        \
	X(pwritev2, 328, 379, pwritev2, VARIANT_NONE)                      \
	X(move_mount, 429, 429, move_mount, VARIANT_NONE)                  \
	X(clone3, 435, 435, clone3, VARIANT_NONE)                          \
	X(close_range, 436, 436, close_range, VARIANT_NONE)                \
	X(openat2, 437, 437, openat2, VARIANT_O_CREAT_HOW_ARG2)
#define HAVE_LEGACY_SYSCALLS 1
#elif defined(__TARGET_ARCH_arm64) || defined(__aarch64__)
/* The x86_64 rows in the same order, less the legacy ones; no compat numbers (syscall_nr.h). */
#define SYSCALL_TABLE(X)                                                   \
	X(read, 63, -1, read, VARIANT_NONE)                                \
	X(write, 64, -1, write, VARIANT_NONE)                              \
	X(close, 57, -1, close, VARIANT_NONE)                              \
	X(pread64, 67, -1, pread64, VARIANT_NONE)                          \
	X(pwrite64, 68, -1, pwrite64, VARIANT_NONE)                        \
	X(readv, 65, -1, readv, VARIANT_NONE)                              \
	X(writev, 66, -1, writev, VARIANT_NONE)                            \
	X(msync, 227, -1, msync, VARIANT_NONE)                             \
	X(shmget, 194, -1, shmget, VARIANT_NONE)                           \
	X(shmat, 196, -1, shmat, VARIANT_NONE)                             \
	X(shmctl, 195, -1, shmctl, VARIANT_NONE)                           \
	X(clone, 220, -1, clone, VARIANT_NONE)                             \
	X(accept, 202, -1, accept, VARIANT_NONE)                           \
	X(shmdt, 197, -1, shmdt, VARIANT_NONE)                             \
	X(fsync, 82, -1, fsync, VARIANT_NONE)                              \
	X(fdatasync, 83, -1, fdatasync, VARIANT_NONE)                      \
	X(sync, 81, -1, sync, VARIANT_NONE)                                \
	X(mount, 40, -1, mount, VARIANT_NONE)                              \
	X(umount2, 39, -1, umount, VARIANT_NONE)                           \
	X(openat, 56, -1, openat, VARIANT_O_CREAT_ARG2)                    \
	X(accept4, 242, -1, accept4, VARIANT_NONE)                         \
	X(unlinkat, 35, -1, unlinkat, VARIANT_REMOVEDIR_ARG2)              \
	X(sync_file_range, 84, -1, sync_file_range, VARIANT_NONE)          \
	X(preadv, 69, -1, preadv, VARIANT_NONE)                            \
	X(pwritev, 70, -1, pwritev, VARIANT_NONE)                          \
	X(syncfs, 267, -1, syncfs, VARIANT_NONE)                           \
	X(preadv2, 286, -1, preadv2, VARIANT_NONE)                         \
	X(pwritev2, 287, -1, pwritev2, VARIANT_NONE)                       \
	X(move_mount, 429, -1, move_mount, VARIANT_NONE)                   \
	X(clone3, 435, -1, clone3, VARIANT_NONE)                           \
	X(close_range, 436, -1, close_range, VARIANT_NONE)                 \
	X(openat2, 437, -1, openat2, VARIANT_O_CREAT_HOW_ARG2)
#define HAVE_LEGACY_SYSCALLS 0
#else
#error "add this architecture's rows to probes/syscall_table.h"
#endif

#if HAVE_LEGACY_SYSCALLS
#define LEGACY_SYSCALLS(...) __VA_ARGS__
#else
#define LEGACY_SYSCALLS(...)
#endif

/* Row ids; 0 is "none" so that a zeroed dispatch table means "not watched". */
#define SYSCALL_ID_ENUM(name, nr, nr32, tp, variant) SYS_##name,
enum syscall_id { SYS_NONE = 0, SYSCALL_TABLE(SYSCALL_ID_ENUM) SYS_COUNT };
#undef SYSCALL_ID_ENUM

/* Dispatch tables cover syscall numbers below this. */
#define SYSCALL_NR_MAX 512

#define O_CREAT_FLAG 0100
#define AT_REMOVEDIR_FLAG 0x200

/*
 * Per-CPU counters of one watched syscall. Calls with the variant are not in
 * calls/errors: a metric is always a sum of monotonic fields, so a collect
 * that races the kernel never sees a counter go backwards.
 */
struct syscall_stats {
	unsigned long long calls;          /* without the variant */
	unsigned long long errors;         /* without the variant, result < 0 */
	unsigned long long bytes;          /* sum of positive results */
	unsigned long long variant_calls;  /* with the variant (O_CREAT, AT_REMOVEDIR, creat) */
	unsigned long long variant_errors;
};

#endif
