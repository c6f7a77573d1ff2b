/* Shared by probes/apps.bpf.c and agent/modules/apps.c. */
#ifndef BPFPUSH_APPS_H
#define BPFPUSH_APPS_H

/*
 * Counters of one process (threads fold into their thread-group leader).
 * Every field only grows. Those a CPU's slot holds come first (below
 * APP_SLOT_COUNTERS): the syscalls' and the sockets' calls and bytes.
 */
enum app_counter {
	APP_FILE_OPEN = 0,
	APP_FILE_OPEN_ERRORS,
	APP_FILE_CLOSED,
	APP_FILE_CLOSE_ERRORS,
	APP_FILE_DELETED,
	APP_VFS_READ_CALL,
	APP_VFS_READ_BYTES,
	APP_VFS_READ_ERRORS,
	APP_VFS_WRITE_CALL,
	APP_VFS_WRITE_BYTES,
	APP_VFS_WRITE_ERRORS,
	APP_BANDWIDTH_SENT,
	APP_BANDWIDTH_RECV,
	/* Depth: each group switched under apps.counters (agent/modules/apps.c), here and below. */
	APP_FSYNC,
	APP_FDATASYNC,
	APP_FILE_CREATE,
	APP_TCP_SEND_CALLS,
	APP_TCP_RECV_CALLS,
	APP_UDP_SEND_CALLS,
	APP_UDP_RECV_CALLS,
	/* Counted in the table only. */
	APP_SHM_GET,
	APP_SHM_AT,
	APP_SHM_DT,
	APP_SHM_CTL,
	APP_TCP_RETRANSMITS,
	APP_TCP_CONNECT_V4,
	APP_TCP_CONNECT_V6,
	APP_TCP_ACCEPT,
	APP_PROCESS_CREATE_ERRORS,
	APP_THREAD_CREATE_ERRORS,
	APP_DCSTAT_REFERENCES,
	APP_DCSTAT_SLOW,
	APP_DCSTAT_MISSES,
	APP_SWAP_READ,
	APP_SWAP_WRITE,
	/* Not depth. */
	APP_PROCESS_CREATE,
	APP_THREAD_CREATE,
	APP_TASK_EXIT,
	/* Page-cache events (when cachestat is on), in pages: userspace derives hits, misses, dirties. */
	APP_CACHE_ACCESSED,
	APP_CACHE_ADDED,
	APP_CACHE_DIRTIED,
	APP_COUNTER_COUNT
};

/* Which counters a syscall feeds: calls, errors (result < 0) and bytes (result > 0). */
enum app_syscall_kind { APP_SYSCALL_NONE = 0, APP_SYSCALL_OPEN, APP_SYSCALL_CLOSE, APP_SYSCALL_UNLINK,
			APP_SYSCALL_READ, APP_SYSCALL_WRITE,
			/* depth (apps.counters) */
			APP_SYSCALL_FSYNC, APP_SYSCALL_FDATASYNC, APP_SYSCALL_SHMGET, APP_SYSCALL_SHMAT,
			APP_SYSCALL_SHMDT, APP_SYSCALL_SHMCTL, APP_SYSCALL_ACCEPT, APP_SYSCALL_FORK };

/*
 * The syscalls apps counts, with what each feeds; rows of probes/syscall_table.h.
 * apps.file_deleted is vfs.unlink: unlinkat with AT_REMOVEDIR is an rmdir, not counted.
 */
#define APP_SYSCALLS(X)                                                                                  \
	LEGACY_SYSCALLS(X(open, APP_SYSCALL_OPEN)) X(openat, APP_SYSCALL_OPEN) X(openat2, APP_SYSCALL_OPEN) \
	LEGACY_SYSCALLS(X(creat, APP_SYSCALL_OPEN)) X(close, APP_SYSCALL_CLOSE)                          \
	X(close_range, APP_SYSCALL_CLOSE) LEGACY_SYSCALLS(X(unlink, APP_SYSCALL_UNLINK))                 \
	X(unlinkat, APP_SYSCALL_UNLINK) X(read, APP_SYSCALL_READ)                                        \
	X(pread64, APP_SYSCALL_READ) X(readv, APP_SYSCALL_READ) X(preadv, APP_SYSCALL_READ)              \
	X(preadv2, APP_SYSCALL_READ) X(write, APP_SYSCALL_WRITE) X(pwrite64, APP_SYSCALL_WRITE)          \
	X(writev, APP_SYSCALL_WRITE) X(pwritev, APP_SYSCALL_WRITE) X(pwritev2, APP_SYSCALL_WRITE)          \
	APP_DEPTH_SYSCALLS(X)

/* The depth counters' syscalls (apps.counters): fsyncs, shm calls, accepts, failed forks. */
#define APP_DEPTH_SYSCALLS(X)                                                                            \
	X(fsync, APP_SYSCALL_FSYNC) X(fdatasync, APP_SYSCALL_FDATASYNC) X(shmget, APP_SYSCALL_SHMGET)    \
	X(shmat, APP_SYSCALL_SHMAT) X(shmdt, APP_SYSCALL_SHMDT) X(shmctl, APP_SYSCALL_SHMCTL)            \
	X(accept, APP_SYSCALL_ACCEPT) X(accept4, APP_SYSCALL_ACCEPT)                                     \
	LEGACY_SYSCALLS(X(fork, APP_SYSCALL_FORK) X(vfork, APP_SYSCALL_FORK))                            \
	X(clone, APP_SYSCALL_FORK) X(clone3, APP_SYSCALL_FORK)

#define APP_COMM_LEN 16
#define APP_EXE_LEN 32
#define APP_CGROUP_LEN 96

/* The identity of a process as the kernel side saw it: when it first counted, at each exec and rename. */
struct app_identity_raw {
	char comm[APP_COMM_LEN];     /* the thread-group leader's */
	char exe[APP_EXE_LEN];       /* basename of mm->exe_file */
	char cgroup[APP_CGROUP_LEN]; /* leaf directory of its cgroup in the hierarchy userspace chose */
};

struct app_process {
	unsigned long long counters[APP_COUNTER_COUNT];
	unsigned long long start_ns; /* the leader's start time: a reused pid is another process */
	unsigned int exited;         /* the whole group exited but its event was lost: userspace folds it */
	unsigned int id_changes;     /* times id was rewritten (exec, rename): userspace re-reads id only when this moves */
	unsigned int tgid;           /* the entry's own key: a program holding only the value can name it (app_moved) */
	unsigned int moved_gen;      /* the collect generation (app_collect_gen) in which it last went on app_moved */
	struct app_identity_raw id;
};

/*
 * A CPU's slot in front of the table (docs/design.md "What an access costs"):
 * the syscall and socket counts of the process that last counted on this CPU, folded into
 * its entry when another process takes the slot, at its exit and rename, and
 * read beside the entries at each collect. Counters below APP_SLOT_COUNTERS only.
 */
#define APP_SLOT_COUNTERS (APP_UDP_RECV_CALLS + 1)
/* owner's claimed bit: whoever reads or moves the counts holds it (BPF and the collect alike). */
#define APP_SLOT_CLAIMED (1ULL << 63)
/* CPUs that have a slot at most: with more possible CPUs, no slots. */
#define APP_SLOT_MAX_CPUS 256

struct app_slot {
	unsigned long long owner; /* tgid, | APP_SLOT_CLAIMED while held; 0: free */
	unsigned long long counts[APP_SLOT_COUNTERS];
	unsigned long long pad[3]; /* three cache lines: no two CPUs' slots share one */
};
_Static_assert(sizeof(struct app_slot) == 3 * 64, "a slot is three cache lines");

/*
 * The events a slot's counts stand for: each adds one to exactly one of these
 * (a socket event counts in a slot only with its call counter on).
 */
static inline unsigned long long app_slot_calls(const unsigned long long *c)
{
	return c[APP_FILE_OPEN] + c[APP_FILE_CLOSED] + c[APP_FILE_DELETED] + c[APP_VFS_READ_CALL] +
	       c[APP_VFS_WRITE_CALL] + c[APP_FSYNC] + c[APP_FDATASYNC] + c[APP_TCP_SEND_CALLS] +
	       c[APP_TCP_RECV_CALLS] + c[APP_UDP_SEND_CALLS] + c[APP_UDP_RECV_CALLS];
}

/*
 * Every CPU's slot in one value: a program walks them by index (exit, rename),
 * which a lookup per slot would not let the verifier bound.
 */
struct app_slot_table {
	struct app_slot slot[APP_SLOT_MAX_CPUS];
};

/* Why the kernel side handed a process's counts over. */
enum app_snapshot_kind {
	APP_SNAPSHOT_EXIT = 0, /* its last thread exited; its entry is gone from the table by then */
	APP_SNAPSHOT_RENAME,   /* its leader is being renamed: the counts so far, under the identity before */
};

/* A process's counts, handed to userspace on the ring (app_snapshots). */
struct app_snapshot {
	unsigned int tgid;
	unsigned int kind; /* enum app_snapshot_kind */
	struct app_process process;
};

struct app_health {
	unsigned long long table_full; /* events not counted: the process had no entry and the table was full */
	/*
	 * Snapshots that could not be reserved: an exit is folded at the next
	 * collect instead; a rename's earlier counts go to the new name.
	 */
	unsigned long long ringbuf_lost;
	/* Moves that found app_moved full: the next collect reads the whole table instead. */
	unsigned long long moved_lost;
	/* Syscalls a slot held for a process whose entry was gone when the slot was taken over (it died unseen). */
	unsigned long long slot_lost;
};

/*
 * app_moved's size before the agent sizes it from global.pid_table_size
 * (agent/modules/apps.c): a record is 16 bytes, a tgid and the ring's header.
 */
#define APP_MOVED_RING_BYTES (256 * 1024)

/* Entries probes/app_copy.bpf.c copies out of the table in one run (one bpf() call). */
#define APP_COPY_BATCH 128

/*
 * About 800 exits and renames between two reads of the ring (the loop reads
 * it as soon as it is readable); an exit that finds it full is not lost but
 * folded at the next collect, so a larger ring would only cost memory.
 */
#define APP_RINGBUF_BYTES (256 << 10)
/* TCP sockets whose owner apps remembers, for per-app retransmits (when they are counted). */
#define APP_SOCK_OWNERS 16384
/* cgroup_subsys: -1 reads the unified (v2) hierarchy, else this v1 controller's. */
#define APP_CGROUP_UNIFIED (-1)

#endif
