/*
 * apps: apps.* per application and cgroup.* per cgroup, from one table. The
 * kernel side keeps one entry per process and hands over a process's final
 * counts when its last thread exits, and its counts so far when its leader is
 * renamed; this side reads the live entries each collect (in batches), folds
 * the exits and renames, and leaves both groupings and the busiest-N choice
 * to agent/modules/app_table.c.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app_table.h"
#include "attach.h"
#include "btf_proto.h"
#include "clock.h"
#include "grow.h"
#include "log.h"
#include "module.h"
#include "apps.h"
#include "app_copy.skel.h"
#include "app_objects.h"
#include "app_slots.h"
#include "apps.skel.h"
#include "cachestat.h"
#include "syscall_table.h"
#include "syscalls.skel.h"
#include "percpu.h"
#include "sock_chain_slots.h"

/*
 * One row per measurement, sent as apps.NAME per application and as
 * cgroup.NAME per cgroup (agent/modules/app_table.c): a row added here is in
 * both catalogues.
 */
#define APP_METRIC_ROWS(ROW)                                                                                      \
	ROW("file_open", METRIC_COUNTER, false, "open-family calls (as fd.open)")                                 \
	ROW("file_open_errors", METRIC_COUNTER, true, "open-family calls that failed")                            \
	ROW("file_closed", METRIC_COUNTER, false, "close calls (as fd.close)")                                    \
	ROW("file_close_errors", METRIC_COUNTER, true, "close calls that failed")                                 \
	ROW("file_deleted", METRIC_COUNTER, false, "unlink calls (as vfs.unlink)")                                \
	ROW("vfs_read_call", METRIC_COUNTER, false, "read-family calls (as vfs.read.calls)")                      \
	ROW("vfs_read_bytes", METRIC_COUNTER, true, "bytes the read-family calls returned")                       \
	ROW("vfs_read_errors", METRIC_COUNTER, true, "read-family calls that failed")                             \
	ROW("vfs_write_call", METRIC_COUNTER, false, "write-family calls (as vfs.write.calls)")                   \
	ROW("vfs_write_bytes", METRIC_COUNTER, true, "bytes the write-family calls returned")                     \
	ROW("vfs_write_errors", METRIC_COUNTER, true, "write-family calls that failed")                           \
	ROW("process_create", METRIC_COUNTER, false, "processes created, for the parent's group")                 \
	ROW("thread_create", METRIC_COUNTER, false, "threads created, for the parent's group")                    \
	ROW("task_exit", METRIC_COUNTER, false, "tasks (threads included) that exited")                           \
	ROW("bandwidth_sent", METRIC_COUNTER, true, "TCP and UDP payload bytes sent")                             \
	ROW("bandwidth_recv", METRIC_COUNTER, true, "TCP and UDP payload bytes received")                         \
	ROW("cachestat_hits", METRIC_COUNTER, false, "page-cache hits (as cachestat.hits), when cachestat is on") \
	ROW("cachestat_misses", METRIC_COUNTER, false, "pages added to the page cache, when cachestat is on")     \
	ROW("cachestat_dirties", METRIC_COUNTER, false, "pages dirtied, when cachestat is on")                    \
	ROW("cachestat_ratio", METRIC_GAUGE, false, "hits per 100 accesses this interval, when cachestat is on") \
	/* Depth (apps.counters), in enum app_counter order. */ \
	ROW("fsync", METRIC_COUNTER, false, "fsync calls") \
	ROW("fdatasync", METRIC_COUNTER, false, "fdatasync calls") \
	ROW("file_create", METRIC_COUNTER, false, "creat, and open-family calls with O_CREAT (as vfs.create)") \
	ROW("shm_get", METRIC_COUNTER, false, "shmget calls") \
	ROW("shm_at", METRIC_COUNTER, false, "shmat calls") \
	ROW("shm_dt", METRIC_COUNTER, false, "shmdt calls") \
	ROW("shm_ctl", METRIC_COUNTER, false, "shmctl calls") \
	ROW("tcp_send_calls", METRIC_COUNTER, false, "TCP send calls (as socket.tcp.send.calls)") \
	ROW("tcp_recv_calls", METRIC_COUNTER, false, "TCP receive calls that returned data (as socket.tcp.recv.calls)") \
	ROW("udp_send_calls", METRIC_COUNTER, false, "UDP send calls, IPv4 and IPv6") \
	ROW("udp_recv_calls", METRIC_COUNTER, false, "UDP receive calls, IPv4 and IPv6") \
	ROW("tcp_retransmits", METRIC_COUNTER, false, "retransmitted TCP segments of the sockets it connected or last sent on") \
	ROW("tcp_connect_v4", METRIC_COUNTER, false, "TCP connects that sent a SYN, IPv4 sockets") \
	ROW("tcp_connect_v6", METRIC_COUNTER, false, "TCP connects that sent a SYN, IPv6 sockets") \
	ROW("tcp_accept", METRIC_COUNTER, true, "accept/accept4 calls that returned a TCP connection") \
	ROW("process_create_errors", METRIC_COUNTER, true, "fork/vfork/clone/clone3 calls without CLONE_THREAD that failed") \
	ROW("thread_create_errors", METRIC_COUNTER, true, "clone/clone3 calls with CLONE_THREAD that failed") \
	ROW("dcstat_references", METRIC_COUNTER, false, "directory-cache lookups (as dcstat.references)") \
	ROW("dcstat_slow", METRIC_COUNTER, false, "slow directory-cache lookups (as dcstat.slow)") \
	ROW("dcstat_misses", METRIC_COUNTER, true, "slow lookups that missed (as dcstat.miss)") \
	ROW("swap_read", METRIC_COUNTER, false, "pages read from swap for it") \
	ROW("swap_write", METRIC_COUNTER, false, "pages written to swap in its context (reclaim it ran)")

#define APPS_ROW(name, type, needs_result, help) { "apps." name, type, needs_result, "app", help },
#define CGROUP_ROW(name, type, needs_result, help) { "cgroup." name, type, needs_result, "cgroup", help },
static const struct metric_desc apps_metrics[] = { APP_METRIC_ROWS(APPS_ROW) APP_METRIC_ROWS(CGROUP_ROW) };

/* An event's gives names each counter under both prefixes (test_registry checks every row is fed). */
#define GIVES1(n) "apps." n ", cgroup." n
#define GIVES_1(a) GIVES1(a)
#define GIVES_2(a, b) GIVES1(a) ", " GIVES1(b)
#define GIVES_3(a, b, c) GIVES1(a) ", " GIVES1(b) ", " GIVES1(c)
#define GIVES_4(a, b, c, d) GIVES_2(a, b) ", " GIVES_2(c, d)
#define GIVES_PICK(_1, _2, _3, _4, which, ...) which
#define GIVES(...) GIVES_PICK(__VA_ARGS__, GIVES_4, GIVES_3, GIVES_2, GIVES_1, unused)(__VA_ARGS__)

#define TRACEPOINT_WAYS(prefix)                                                                          \
	{ .tier = ATTACH_TP_BTF, .progs = { prefix "_tp_btf" } },                                        \
	{ .tier = ATTACH_RAW_TP, .progs = { prefix "_raw_tp" } },                                        \
	{ .tier = ATTACH_TRACEPOINT, .progs = { prefix "_tracepoint" } }

/*
 * A syscall event counts in the syscall layer's own programs, beside the
 * host-wide counts (one program run per call: probes/app_process.bpf.h); the
 * layer picks the way for every module at once. Entry and return mode keep
 * an event each, as the other events' pairs do: --probe names the one the
 * load mode hooks, and return mode's sees results on every way.
 */
#define SYSCALL_EVENT(ename, gives_text, entry, ...)                                                     \
	{ .name = ename, .gives = gives_text, .entry_mode_only = entry, .return_mode_only = !entry,      \
	  .ways = { { .syscalls = { __VA_ARGS__ } } } }
#define SYSCALL_EVENTS(ename, gives_text, ...)                                                           \
	SYSCALL_EVENT(ename, gives_text, true, __VA_ARGS__), SYSCALL_EVENT(ename "_result", gives_text, false, __VA_ARGS__)

enum {
	EVENT_OPEN = 0, EVENT_OPEN_RESULT, EVENT_CLOSE, EVENT_CLOSE_RESULT, EVENT_UNLINK, EVENT_UNLINK_RESULT,
	EVENT_READ, EVENT_READ_RESULT, EVENT_WRITE, EVENT_WRITE_RESULT, EVENT_FORK, EVENT_EXIT, EVENT_EXEC,
	EVENT_SENT, EVENT_SENT_RESULT, EVENT_RECV, EVENT_RECV_RESULT, EVENT_CACHE_ADDED, EVENT_CACHE_DIRTIED,
	EVENT_CACHE_ACCESSED,
	/* Depth (apps.counters): syscall events in entry/result pairs, then the others. */
	EVENT_FSYNC, EVENT_FSYNC_RESULT, EVENT_SHM, EVENT_SHM_RESULT, EVENT_ACCEPT, EVENT_ACCEPT_RESULT,
	EVENT_CREATE_ERRORS, EVENT_TCP_STATE, EVENT_RETRANSMIT, EVENT_DC_REFERENCE, EVENT_DC_SLOW,
	EVENT_DC_SLOW_RESULT, EVENT_SWAP_READ, EVENT_SWAP_WRITE,
	EVENT_RENAME,
	EVENT_COUNT
};

/* The retransmit ways, in pairs: the one reading err first (6.10+), then the one for older kernels. */
enum { WAY_RETRANSMIT_ERR_TP_BTF = 0, WAY_RETRANSMIT_TP_BTF, WAY_RETRANSMIT_ERR_RAW_TP, WAY_RETRANSMIT_RAW_TP,
       WAY_RETRANSMIT_ERR_TRACEPOINT, WAY_RETRANSMIT_TRACEPOINT };

static const struct event_desc apps_events[] = {
	/* Where there is no open, creat, unlink, fork or vfork (arm64: probes/syscall_table.h), their *at forms and clones. */
	SYSCALL_EVENTS("file_open", GIVES("file_open", "file_open_errors", "file_create"),
		       LEGACY_SYSCALLS(SYS_open, SYS_creat, ) SYS_openat, SYS_openat2),
	SYSCALL_EVENTS("file_close", GIVES("file_closed", "file_close_errors"), SYS_close, SYS_close_range),
	SYSCALL_EVENTS("file_unlink", GIVES("file_deleted"), LEGACY_SYSCALLS(SYS_unlink, ) SYS_unlinkat),
	SYSCALL_EVENTS("vfs_read", GIVES("vfs_read_call", "vfs_read_bytes", "vfs_read_errors"), SYS_read, SYS_pread64,
		       SYS_readv, SYS_preadv, SYS_preadv2),
	SYSCALL_EVENTS("vfs_write", GIVES("vfs_write_call", "vfs_write_bytes", "vfs_write_errors"), SYS_write,
		       SYS_pwrite64, SYS_writev, SYS_pwritev, SYS_pwritev2),
	[EVENT_FORK] = { .name = "fork", .gives = GIVES("process_create", "thread_create"),
			 .ways = { TRACEPOINT_WAYS("fork") } },
	[EVENT_EXIT] = { .name = "exit", .gives = GIVES("task_exit"), .ways = { TRACEPOINT_WAYS("exit") } },
	/* Feeds no counter: exec renames a process, and so may move it to another group. */
	[EVENT_EXEC] = { .name = "exec", .gives = "the app of a process after exec", .ways = { TRACEPOINT_WAYS("exec") } },
	/* In entry mode only the sock:* tracepoints (6.3+) see how many bytes moved. */
	[EVENT_SENT] = { .name = "sent", .gives = GIVES("bandwidth_sent", "tcp_send_calls", "udp_send_calls"), .entry_mode_only = true,
			 .ways = { TRACEPOINT_WAYS("sent") } },
	[EVENT_SENT_RESULT] = { .name = "sent_result", .gives = GIVES("bandwidth_sent", "tcp_send_calls", "udp_send_calls"), .return_mode_only = true,
				.ways = { { .tier = ATTACH_FENTRY,
					    .progs = { "tcp_sent_fexit", "udp_sent_fexit", "udp6_sent_fexit" } },
					  { .tier = ATTACH_KPROBE,
					    .progs = { "tcp_sent_kretprobe", "udp_sent_kretprobe", "udp6_sent_kretprobe" } },
					  TRACEPOINT_WAYS("sent") } },
	[EVENT_RECV] = { .name = "recv", .gives = GIVES("bandwidth_recv", "tcp_recv_calls", "udp_recv_calls"), .entry_mode_only = true,
			 .ways = { TRACEPOINT_WAYS("recv") } },
	[EVENT_RECV_RESULT] = { .name = "recv_result", .gives = GIVES("bandwidth_recv", "tcp_recv_calls", "udp_recv_calls"), .return_mode_only = true,
				.ways = { { .tier = ATTACH_FENTRY,
					    .progs = { "tcp_recv_fentry", "udp_recv_fexit", "udp6_recv_fexit" } },
					  { .tier = ATTACH_FENTRY,
					    .progs = { "tcp_recv_fentry", "udp_recv_fexit6", "udp6_recv_fexit6" } },
					  { .tier = ATTACH_KPROBE,
					    .progs = { "tcp_recv_kprobe", "udp_recv_kretprobe", "udp6_recv_kretprobe" } },
					  TRACEPOINT_WAYS("recv") } },
	/* The cachestat module's events, per process (only when cachestat is on). */
	[EVENT_CACHE_ADDED] = { .name = "cache_added", .gives = GIVES("cachestat_misses", "cachestat_ratio"),
				.ways = { TRACEPOINT_WAYS("cache_added") } },
	/* The classic way has no program: apps_way_fits refuses it (no folio size in the record). */
	[EVENT_CACHE_DIRTIED] = { .name = "cache_dirtied", .gives = GIVES("cachestat_dirties"),
				  /* writeback_dirty_folio from 5.16, writeback_dirty_page before. */
				  .ways = { { .tier = ATTACH_TP_BTF, .progs = { "cache_dirtied_tp_btf" } },
					    { .tier = ATTACH_TP_BTF, .progs = { "cache_dirtied_page_tp_btf" } },
					    { .tier = ATTACH_RAW_TP, .progs = { "cache_dirtied_raw_tp" } },
					    { .tier = ATTACH_RAW_TP, .progs = { "cache_dirtied_page_raw_tp" } },
					    { .tier = ATTACH_TRACEPOINT }, /* the folio's: no program, see apps_way_fits */
					    { .tier = ATTACH_TRACEPOINT, .progs = { "cache_dirtied_page_tracepoint" } } } },
	[EVENT_CACHE_ACCESSED] = { .name = "cache_accessed", .gives = GIVES("cachestat_hits", "cachestat_ratio"),
				   .ways = { { .tier = ATTACH_FENTRY, .progs = { "cache_accessed_fentry" },
					       .targets = { "folio_mark_accessed" } },
					     { .tier = ATTACH_KPROBE, .progs = { "cache_accessed_kprobe" },
					       .targets = { "folio_mark_accessed" } } } },
	/* Depth (apps.counters). */
	SYSCALL_EVENTS("fsync", GIVES("fsync", "fdatasync"), SYS_fsync, SYS_fdatasync),
	SYSCALL_EVENTS("shm", GIVES("shm_get", "shm_at", "shm_dt", "shm_ctl"), SYS_shmget, SYS_shmat, SYS_shmdt,
		       SYS_shmctl),
	/* accept's result is the connection: entry mode's function ways see none (not sent there). */
	SYSCALL_EVENTS("tcp_accept", GIVES("tcp_accept"), SYS_accept, SYS_accept4),
	/* Only a syscall's exit sees why a fork failed (as process.create_errors): load_mode return only. */
	SYSCALL_EVENT("create_errors", GIVES("process_create_errors", "thread_create_errors"), false,
		      LEGACY_SYSCALLS(SYS_fork, SYS_vfork, ) SYS_clone, SYS_clone3),
	/*
	 * inet_sock_set_state (4.16+): connects; also who owns a socket, for
	 * apps.tcp_retransmits (not in gives: that event alone decides it is sent).
	 */
	[EVENT_TCP_STATE] = { .name = "tcp_state", .gives = GIVES("tcp_connect_v4", "tcp_connect_v6"),
			      .ways = { TRACEPOINT_WAYS("tcp_state") } },
	[EVENT_RETRANSMIT] = { .name = "tcp_retransmit", .gives = GIVES("tcp_retransmits"),
			       .ways = { [WAY_RETRANSMIT_ERR_TP_BTF] = { .tier = ATTACH_TP_BTF, .progs = { "app_retransmit_err_tp_btf" } },
					 [WAY_RETRANSMIT_TP_BTF] = { .tier = ATTACH_TP_BTF, .progs = { "app_retransmit_tp_btf" } },
					 [WAY_RETRANSMIT_ERR_RAW_TP] = { .tier = ATTACH_RAW_TP, .progs = { "app_retransmit_err_raw_tp" } },
					 [WAY_RETRANSMIT_RAW_TP] = { .tier = ATTACH_RAW_TP, .progs = { "app_retransmit_raw_tp" } },
					 [WAY_RETRANSMIT_ERR_TRACEPOINT] = { .tier = ATTACH_TRACEPOINT,
									     .progs = { "app_retransmit_err_tracepoint" } },
					 [WAY_RETRANSMIT_TRACEPOINT] = { .tier = ATTACH_TRACEPOINT,
									 .progs = { "app_retransmit_tracepoint" } } } },
	/* No tracepoint marks directory-cache lookups or swap I/O: fentry or kprobes only (as dcstat, swap). */
	[EVENT_DC_REFERENCE] = { .name = "dc_reference", .gives = GIVES("dcstat_references"),
				 .ways = { { .tier = ATTACH_FENTRY, .progs = { "dc_reference_fentry" } },
					   { .tier = ATTACH_KPROBE, .progs = { "dc_reference_kprobe" } } } },
	[EVENT_DC_SLOW] = { .name = "dc_slow", .gives = GIVES("dcstat_slow"), .entry_mode_only = true,
			    .ways = { { .tier = ATTACH_FENTRY, .progs = { "dc_slow_fentry" }, .no_result = true },
				      { .tier = ATTACH_KPROBE, .progs = { "dc_slow_kprobe" }, .no_result = true } } },
	[EVENT_DC_SLOW_RESULT] = { .name = "dc_slow_result", .gives = GIVES("dcstat_slow", "dcstat_misses"),
				   .return_mode_only = true,
				   .ways = { { .tier = ATTACH_FENTRY, .progs = { "dc_slow_fexit" } },
					     { .tier = ATTACH_KPROBE, .progs = { "dc_slow_kretprobe" } } } },
	[EVENT_SWAP_READ] = { .name = "swap_read", .gives = GIVES("swap_read"),
			      .ways = { { .tier = ATTACH_FENTRY, .progs = { "swap_read_fentry" }, .targets = { "swap_read_folio" } },
					{ .tier = ATTACH_KPROBE, .progs = { "swap_read_kprobe" }, .targets = { "swap_read_folio" } } } },
	[EVENT_SWAP_WRITE] = { .name = "swap_write", .gives = GIVES("swap_write"),
			       .ways = { { .tier = ATTACH_FENTRY, .progs = { "swap_write_fentry" }, .targets = { "__swap_writepage" } },
					 { .tier = ATTACH_KPROBE, .progs = { "swap_write_kprobe" }, .targets = { "__swap_writepage" } } } },
	/* Feeds no counter: a renamed leader (prctl, /proc/PID/comm, exec) moves its process to another group. */
	[EVENT_RENAME] = { .name = "rename", .gives = "the app of a process after its leader is renamed",
			   .ways = { TRACEPOINT_WAYS("rename") } },
};
_Static_assert(sizeof(apps_events) / sizeof(apps_events[0]) == EVENT_COUNT, "one entry per event");

/* The counters each pair of events (entry mode, return mode) feeds, and which of them need results. */
struct event_counters {
	int entry_event, result_event;
	enum app_counter counters[4];
	int ncounters;
};
static const struct event_counters event_feeds[] = {
	{ EVENT_OPEN, EVENT_OPEN_RESULT, { APP_FILE_OPEN, APP_FILE_OPEN_ERRORS }, 2 },
	{ EVENT_CLOSE, EVENT_CLOSE_RESULT, { APP_FILE_CLOSED, APP_FILE_CLOSE_ERRORS }, 2 },
	{ EVENT_UNLINK, EVENT_UNLINK_RESULT, { APP_FILE_DELETED }, 1 },
	{ EVENT_READ, EVENT_READ_RESULT, { APP_VFS_READ_CALL, APP_VFS_READ_BYTES, APP_VFS_READ_ERRORS }, 3 },
	{ EVENT_WRITE, EVENT_WRITE_RESULT, { APP_VFS_WRITE_CALL, APP_VFS_WRITE_BYTES, APP_VFS_WRITE_ERRORS }, 3 },
	{ EVENT_FORK, EVENT_FORK, { APP_PROCESS_CREATE, APP_THREAD_CREATE }, 2 },
	{ EVENT_EXIT, EVENT_EXIT, { APP_TASK_EXIT }, 1 },
	{ EVENT_SENT, EVENT_SENT_RESULT, { APP_BANDWIDTH_SENT }, 1 },
	{ EVENT_RECV, EVENT_RECV_RESULT, { APP_BANDWIDTH_RECV }, 1 },
	{ EVENT_CACHE_ADDED, EVENT_CACHE_ADDED, { APP_CACHE_ADDED }, 1 },
	{ EVENT_CACHE_DIRTIED, EVENT_CACHE_DIRTIED, { APP_CACHE_DIRTIED }, 1 },
	{ EVENT_CACHE_ACCESSED, EVENT_CACHE_ACCESSED, { APP_CACHE_ACCESSED }, 1 },
	/* Depth (apps.counters): the bandwidth events feed the call counters too. */
	{ EVENT_FSYNC, EVENT_FSYNC_RESULT, { APP_FSYNC, APP_FDATASYNC }, 2 },
	{ EVENT_OPEN, EVENT_OPEN_RESULT, { APP_FILE_CREATE }, 1 },
	{ EVENT_SHM, EVENT_SHM_RESULT, { APP_SHM_GET, APP_SHM_AT, APP_SHM_DT, APP_SHM_CTL }, 4 },
	{ EVENT_SENT, EVENT_SENT_RESULT, { APP_TCP_SEND_CALLS, APP_UDP_SEND_CALLS }, 2 },
	{ EVENT_RECV, EVENT_RECV_RESULT, { APP_TCP_RECV_CALLS, APP_UDP_RECV_CALLS }, 2 },
	{ EVENT_TCP_STATE, EVENT_TCP_STATE, { APP_TCP_CONNECT_V4, APP_TCP_CONNECT_V6 }, 2 },
	{ EVENT_RETRANSMIT, EVENT_RETRANSMIT, { APP_TCP_RETRANSMITS }, 1 },
	{ EVENT_ACCEPT, EVENT_ACCEPT_RESULT, { APP_TCP_ACCEPT }, 1 },
	{ EVENT_CREATE_ERRORS, EVENT_CREATE_ERRORS, { APP_PROCESS_CREATE_ERRORS, APP_THREAD_CREATE_ERRORS }, 2 },
	{ EVENT_DC_REFERENCE, EVENT_DC_REFERENCE, { APP_DCSTAT_REFERENCES }, 1 },
	{ EVENT_DC_SLOW, EVENT_DC_SLOW_RESULT, { APP_DCSTAT_SLOW, APP_DCSTAT_MISSES }, 2 },
	{ EVENT_SWAP_READ, EVENT_SWAP_READ, { APP_SWAP_READ }, 1 },
	{ EVENT_SWAP_WRITE, EVENT_SWAP_WRITE, { APP_SWAP_WRITE }, 1 },
};

#define BATCH_ENTRIES 256
/* How far ahead of the entry being taken its table record is fetched (app_table_prefetch). */
#define PREFETCH_AHEAD 8
/*
 * A collect reads the entries the kernel named on app_moved since the last
 * one (probes/app_process.bpf.h; see MOVED_READ_TWICE), not the whole table:
 * with 10000 processes of which a tenth moved, the batched read of every
 * entry was most of the collect's time. Entries that did not move still
 * need a look now and then: a process that exited while no program watched
 * (a reload, a race of two exiting threads) leaves its entry behind. A sweep
 * goes through the agent's own records, a share of them each collect, all of
 * them each SWEEP_PERIOD_MS, and asks whether each process whose counts have
 * not moved for that long is still there (kill(pid, 0): it goes through audit
 * where that is on, so once a minute is the budget; what it finds only frees
 * table space, so a minute or two late costs nothing). Only the dead are
 * looked up in the kernel table: a walk of that table in batches had cost a
 * third of the collect at 10000 processes (docs/design.md).
 */
#define SWEEP_PERIOD_MS 60000

/*
 * Whether a collect reads again the processes the one before read. A program
 * adds to an entry, then reads the collect generation; the agent stores a new
 * generation, then reads the entry: if the program read the old generation
 * (and so named nothing, its entry named already), the agent's read must see
 * its add. On x86 every add is a locked instruction and the agent fences after
 * its store, which orders both sides; elsewhere (arm64's atomic adds are not
 * barriers) the next collect reads the entry again instead.
 */
#if defined(__x86_64__) || defined(__i386__)
#define MOVED_READ_TWICE false
#else
#define MOVED_READ_TWICE true
#endif

struct tgid_list {
	uint32_t *tgid;
	size_t n, cap;
};

struct apps_state {
	struct apps_bpf *skel;
	struct app_table *table;
	bool send[APP_COUNTER_COUNT];
	uint32_t keys[BATCH_ENTRIES];
	struct app_process values[BATCH_ENTRIES];
	bool no_batch;  /* the kernel refused batched reads: key by key */
	struct app_copy_bpf *copy; /* copies the moved entries out, a batch a call (copy_moved); NULL: a lookup each */
	struct ring_buffer *moved_ring; /* app_moved; NULL: every collect reads the whole table */
	struct app_slots *slots;        /* the per-CPU slots, mapped; NULL: the kernel counts in the table only */
	uint64_t slots_lost;            /* slot counts of processes gone unseen (app_slots_release) */
	uint32_t gen;                   /* app_collect_gen's value: bumped each collect, never 0 after the first */
	uint32_t sweep_gens;            /* collects in SWEEP_PERIOD_MS: a process that moved within them is alive */
	struct tgid_list moved, moved_before; /* named at this collect, at the one before */
	struct tgid_list dead;                /* entries folded as exits, to delete after this read (forget_dead) */
	uint64_t moved_lost_seen;       /* app_health.moved_lost at the last collect */
	uint64_t full_reads;            /* collects that read the whole table (agent.pids.full_reads) */
	bool read_all;                  /* the next collect reads the whole table (the first, a ring that overflowed) */
	uint64_t last_pass_began; /* the table's generation when the last whole read began (app_table_generation) */
	size_t sweep_cursor;      /* the record the sweep looks at next (app_table_idle) */
	uint64_t sweep_ms;        /* when the sweep last advanced, monotonic ms; 0 before the first */
	char hierarchy[64]; /* which cgroup hierarchy names the cgroup of a process, for the log */
};

static bool mounted(const char *fstype, const char *option, char *where, size_t cap)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char dev[256], dir[256], type[64], opts[512];
	bool found = false;
	while (f && !found && fscanf(f, "%255s %255s %63s %511s %*d %*d", dev, dir, type, opts) == 4) {
		if (strcmp(type, fstype))
			continue;
		if (option) {
			for (char *save = NULL, *o = strtok_r(opts, ",", &save); o && !found; o = strtok_r(NULL, ",", &save))
				found = !strcmp(o, option);
		} else {
			found = true;
		}
		if (found && where)
			snprintf(where, cap, "%s", dir);
	}
	if (f)
		fclose(f);
	return found;
}

static bool has_subdirectory(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;
	while (d && !found && (e = readdir(d)))
		found = e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return found;
}

/*
 * Which hierarchy names a process's cgroup: the unified one where it is in
 * use (pure v2, or hybrid with units in it), else the first v1 controller
 * mounted of memory, pids, cpu, ... (where container runtimes and systemd
 * place their cgroups). Its index in the kernel's cgroup_subsys_id comes
 * from BTF, since it differs between builds.
 */
static int choose_hierarchy(const struct btf *btf, char *desc, size_t cap)
{
	static const char *const controllers[] = { "memory", "pids", "cpu", "cpuacct", "blkio", "devices", "freezer" };
	char where[256];
	bool v2 = mounted("cgroup2", NULL, where, sizeof(where));
	if (v2 && has_subdirectory(where)) {
		snprintf(desc, cap, "unified (v2, %.40s)", where);
		return APP_CGROUP_UNIFIED;
	}
	for (size_t i = 0; btf && i < sizeof(controllers) / sizeof(controllers[0]); i++) {
		if (!mounted("cgroup", controllers[i], NULL, 0))
			continue;
		int id = btf__find_by_name_kind(btf, "cgroup_subsys_id", BTF_KIND_ENUM);
		const struct btf_type *t = id > 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
		char want[64];
		snprintf(want, sizeof(want), "%s_cgrp_id", controllers[i]);
		for (int m = 0; t && m < btf_vlen(t); m++) {
			const struct btf_enum *e = &btf_enum(t)[m];
			if (!strcmp(btf__name_by_offset(btf, e->name_off), want)) {
				snprintf(desc, cap, "v1 %s", controllers[i]);
				return (int)e->val;
			}
		}
	}
	snprintf(desc, cap, "unified (v2)");
	return APP_CGROUP_UNIFIED;
}

/*
 * A record of app_moved per entry the table can hold (16 bytes: the ring's
 * header and a tgid), up to MOVED_RING_MAX. More movers in one interval
 * overflow it and the next collect reads the whole table in batches, which
 * is then the cheaper read: a batched read costs about a third of a lookup
 * per entry (scripts/bench/scale), so past a third of a 10000-process table
 * moving the lookups cost more. The cap also bounds the agent's memory: the
 * ring is mapped twice into it (wrap-around), and every page it cycles
 * through stays resident.
 */
#define MOVED_RECORD_BYTES 16
#define MOVED_RING_MAX (128u << 10)

static uint32_t moved_ring_bytes(uint32_t entries)
{
	uint32_t want = entries > MOVED_RING_MAX / MOVED_RECORD_BYTES ? MOVED_RING_MAX : entries * MOVED_RECORD_BYTES;
	uint32_t bytes = (uint32_t)sysconf(_SC_PAGESIZE); /* a ring is a power of two pages */
	while (bytes < want)
		bytes <<= 1;
	return bytes;
}

/*
 * Does the kernel run tracepoint programs with preemption off, so that a
 * syscall's program may add to its slot unclaimed (probes/app_process.bpf.h
 * slot_hold)? Every kernel up to 6.18 does: a tracepoint's probes run with
 * preemption off, and the syscall tracepoints, which may fault since 6.14,
 * turn it off around BPF programs themselves. Kernels that run them
 * preemptibly call them through trace_call_bpf_faultable.
 */
static bool tracepoint_programs_unpreempted(const struct btf *btf)
{
	return btf && btf__find_by_name_kind(btf, "trace_call_bpf_faultable", BTF_KIND_FUNC) < 0;
}

static struct bpf_object *apps_open(struct module *m)
{
	struct apps_state *st = m->priv;
	if (!st && !(st = m->priv = calloc(1, sizeof(*st))))
		return NULL;
	/* The build with slots wherever the kernel takes it; use_slots below says whether they are used. */
	bool atomics = m->probes && m->probes->atomics_fetch;
	st->skel = apps_object_open(atomics);
	if (!st->skel)
		return NULL;
	if (m->cfg) {
		bpf_map__set_max_entries(st->skel->maps.app_pids, m->cfg->global.pid_table_size);
		bpf_map__set_max_entries(st->skel->maps.app_moved, moved_ring_bytes(m->cfg->global.pid_table_size));
	}
	if (m->probes)
		map_prealloc_where_needed(st->skel->maps.app_pids, probe_cache_btf(m->probes));
	/* A slot per possible CPU, where the kernel has the atomics they need (probes/app_process.bpf.h). */
	int cpus = libbpf_num_possible_cpus();
	bool slots = atomics && cpus > 0 && cpus <= APP_SLOT_MAX_CPUS;
	st->skel->rodata->use_slots = slots;
	st->skel->rodata->slot_cpus = slots ? (uint32_t)cpus : 1;
	st->skel->rodata->slot_unclaimed_adds =
		slots && m->probes && tracepoint_programs_unpreempted(probe_cache_btf(m->probes));
	st->skel->rodata->cgroup_subsys =
		choose_hierarchy(m->probes ? probe_cache_btf(m->probes) : NULL, st->hierarchy, sizeof(st->hierarchy));
	const struct config_app_counters *on = m->cfg ? &m->cfg->apps.counters : NULL;
	st->skel->rodata->count_creates = on && on->file_create;
	st->skel->rodata->count_net_calls = on && on->net_calls;
	st->skel->rodata->count_connects = on && on->tcp_connects;
	st->skel->rodata->track_sock_owners = on && on->tcp_retransmits;
	if (!st->skel->rodata->track_sock_owners) /* an LRU map is preallocated: no memory when unused */
		bpf_map__set_max_entries(st->skel->maps.app_sock_owners, 1);
	return st->skel->obj;
}

/*
 * The syscall layer's programs count apps' syscalls in this object's table:
 * before the layer loads, it takes the table, its scratch entry and health
 * counters, and the knobs that decide how an entry is made.
 */
static int apps_share_with_layer(struct module *m, struct syscalls_bpf *layer)
{
	struct apps_state *st = m->priv;
	if (!st || !st->skel)
		return -EINVAL;
	layer->rodata->cgroup_subsys = st->skel->rodata->cgroup_subsys;
	layer->rodata->count_creates = st->skel->rodata->count_creates;
	layer->rodata->use_slots = st->skel->rodata->use_slots;
	layer->rodata->slot_cpus = st->skel->rodata->slot_cpus;
	layer->rodata->slot_unclaimed_adds = st->skel->rodata->slot_unclaimed_adds;
	int err = bpf_map__reuse_fd(layer->maps.app_pids, bpf_map__fd(st->skel->maps.app_pids));
	if (!err)
		err = bpf_map__reuse_fd(layer->maps.app_scratch, bpf_map__fd(st->skel->maps.app_scratch));
	if (!err)
		err = bpf_map__reuse_fd(layer->maps.app_health, bpf_map__fd(st->skel->maps.app_health));
	if (!err)
		err = bpf_map__reuse_fd(layer->maps.app_collect_gen, bpf_map__fd(st->skel->maps.app_collect_gen));
	if (!err)
		err = bpf_map__reuse_fd(layer->maps.app_moved, bpf_map__fd(st->skel->maps.app_moved));
	if (!err)
		err = bpf_map__reuse_fd(layer->maps.app_slots, bpf_map__fd(st->skel->maps.app_slots));
	return err;
}

static void apps_destroy(struct module *m)
{
	struct apps_state *st = m->priv;
	if (!st)
		return;
	ring_buffer__free(m->ring);
	m->ring = NULL;
	ring_buffer__free(st->moved_ring);
	app_slots_free(st->slots);
	app_copy_bpf__destroy(st->copy);
	apps_bpf__destroy(st->skel);
	app_table_free(st->table);
	free(st->dead.tgid);
	free(st->moved.tgid);
	free(st->moved_before.tgid);
	free(st);
	m->priv = NULL;
}

/*
 * Per-process page-cache counts cost a lookup on every page-cache access: only
 * with cachestat on. The depth events follow their apps.counters switches.
 */
static bool apps_wants(const struct module *m, size_t event)
{
	const struct config_app_counters *on = &m->cfg->apps.counters;
	switch (event) {
	case EVENT_CACHE_ADDED: case EVENT_CACHE_DIRTIED: case EVENT_CACHE_ACCESSED:
		return config_module_enabled(m->cfg, "cachestat");
	case EVENT_FSYNC: case EVENT_FSYNC_RESULT: return on->fsync;
	case EVENT_SHM: case EVENT_SHM_RESULT: return on->shm;
	case EVENT_ACCEPT: case EVENT_ACCEPT_RESULT: return on->tcp_accepts;
	case EVENT_CREATE_ERRORS: return on->create_errors;
	case EVENT_TCP_STATE: return on->tcp_connects || on->tcp_retransmits;
	case EVENT_RETRANSMIT: return on->tcp_retransmits;
	case EVENT_DC_REFERENCE: case EVENT_DC_SLOW: case EVENT_DC_SLOW_RESULT: return on->dcstat;
	case EVENT_SWAP_READ: case EVENT_SWAP_WRITE: return on->swap;
	default: return true;
	}
}

static const char *apps_unwanted_why(const struct module *m, size_t event)
{
	(void)m;
	switch (event) {
	case EVENT_FSYNC: case EVENT_FSYNC_RESULT: return "apps.counters.fsync is off";
	case EVENT_SHM: case EVENT_SHM_RESULT: return "apps.counters.shm is off";
	case EVENT_ACCEPT: case EVENT_ACCEPT_RESULT: return "apps.counters.tcp_accepts is off";
	case EVENT_CREATE_ERRORS: return "apps.counters.create_errors is off";
	case EVENT_TCP_STATE: return "apps.counters.tcp_connects and tcp_retransmits are off";
	case EVENT_RETRANSMIT: return "apps.counters.tcp_retransmits is off";
	case EVENT_DC_REFERENCE: case EVENT_DC_SLOW: case EVENT_DC_SLOW_RESULT: return "apps.counters.dcstat is off";
	case EVENT_SWAP_READ: case EVENT_SWAP_WRITE: return "apps.counters.swap is off";
	default: return "modules.cachestat is off";
	}
}

/* Is this counter's apps.counters switch on (true for the counters no switch governs)? */
static bool counter_switched_on(const struct config_app_counters *on, enum app_counter c)
{
	switch (c) {
	case APP_FSYNC: case APP_FDATASYNC: return on->fsync;
	case APP_FILE_CREATE: return on->file_create;
	case APP_SHM_GET: case APP_SHM_AT: case APP_SHM_DT: case APP_SHM_CTL: return on->shm;
	case APP_TCP_SEND_CALLS: case APP_TCP_RECV_CALLS: case APP_UDP_SEND_CALLS: case APP_UDP_RECV_CALLS:
		return on->net_calls;
	case APP_TCP_RETRANSMITS: return on->tcp_retransmits;
	case APP_TCP_CONNECT_V4: case APP_TCP_CONNECT_V6: return on->tcp_connects;
	case APP_TCP_ACCEPT: return on->tcp_accepts;
	case APP_PROCESS_CREATE_ERRORS: case APP_THREAD_CREATE_ERRORS: return on->create_errors;
	case APP_DCSTAT_REFERENCES: case APP_DCSTAT_SLOW: case APP_DCSTAT_MISSES: return on->dcstat;
	case APP_SWAP_READ: case APP_SWAP_WRITE: return on->swap;
	default: return true;
	}
}

/*
 * The BTF-typed page-cache ways read a folio, or a head page before 5.16
 * (probes/folio.bpf.h); the fexit receive ways read udp_recvmsg's result where
 * the kernel puts it (agent/kernel/btf_proto.h).
 * Dirtied pages have no classic folio way, as in cachestat.c. The classic
 * task_rename record names the renamed task by its pid, which it lacks from
 * 6.13 until the revert in 7.0.
 */
static bool apps_way_fits(const struct module *m, size_t event, int way, char *why)
{
	const struct attach_way *w = &m->ops->events[event].ways[way];
	enum attach_tier tier = w->tier;
	if (event == EVENT_RENAME && tier == ATTACH_TRACEPOINT &&
	    !btf_tracepoint_record_has(probe_cache_btf(m->probes), "task_rename", "pid")) {
		snprintf(why, REASON_MAX, "the classic task_rename record has no pid on this kernel: it cannot tell "
					  "which task was renamed");
		return false;
	}
	if (event == EVENT_CACHE_DIRTIED && tier == ATTACH_TRACEPOINT && !w->progs[0]) {
		snprintf(why, REASON_MAX, "%s", CLASSIC_DIRTY_FOLIO_WHY);
		return false;
	}
	if (event == EVENT_RECV_RESULT && tier == ATTACH_FENTRY)
		return btf_fits_udp_recv_fexit(probe_cache_btf(m->probes), w->progs, WAY_MAX_PROGS, why, REASON_MAX);
	if (event == EVENT_RETRANSMIT) { /* tcp_retransmit_skb passes (sk, skb, err) from 6.10, (sk, skb) before */
		bool reads_err = way == WAY_RETRANSMIT_ERR_TP_BTF || way == WAY_RETRANSMIT_ERR_RAW_TP ||
				 way == WAY_RETRANSMIT_ERR_TRACEPOINT;
		bool has_err = btf_tracepoint_nargs(probe_cache_btf(m->probes), "tcp_retransmit_skb") >= 3;
		if (reads_err == has_err)
			return true;
		snprintf(why, REASON_MAX, "tcp_retransmit_skb %s on this kernel",
			 has_err ? "has an err argument" : "has no err argument (6.10+)");
		return false;
	}
	if (event != EVENT_CACHE_ADDED || (tier != ATTACH_TP_BTF && tier != ATTACH_RAW_TP))
		return true;
	const char *tracepoint = "mm_filemap_add_to_page_cache";
	if (btf_tracepoint_passes_pages(probe_cache_btf(m->probes), tracepoint))
		return true;
	snprintf(why, REASON_MAX, "tracepoint %s passes neither a struct folio nor a struct page on this kernel", tracepoint);
	return false;
}

static int on_snapshot(void *ctx, void *data, size_t size)
{
	struct module *m = ctx;
	struct apps_state *st = m->priv;
	if (size < sizeof(struct app_snapshot))
		return 0;
	const struct app_snapshot *e = data;
	if (e->kind == APP_SNAPSHOT_RENAME)
		app_table_renamed(st->table, e->tgid, &e->process);
	else
		app_table_exited(st->table, e->tgid, &e->process);
	return 0;
}

/* Which counters the attached ways measure: an event not attached, or one blind to results, sends none of its (R) counters. */
static void decide_sends(struct module *m)
{
	struct apps_state *st = m->priv;
	memset(st->send, 0, sizeof(st->send));
	for (size_t i = 0; i < sizeof(event_feeds) / sizeof(event_feeds[0]); i++) {
		const struct event_counters *f = &event_feeds[i];
		int e = m->events[f->entry_event].chosen >= 0 ? f->entry_event : f->result_event;
		if (m->events[e].chosen < 0)
			continue;
		const struct attach_way *way = &m->ops->events[e].ways[m->events[e].chosen];
		bool no_result = way->no_result || m->events[e].no_result; /* the latter: the layer's way */
		for (int c = 0; c < f->ncounters; c++) {
			const char *name = app_counter_names[f->counters[c]]; /* NULL: page-cache pages, no result needed */
			st->send[f->counters[c]] = (!no_result || !name || !module_metric_needs_result(m->ops, name)) &&
						   counter_switched_on(&m->cfg->apps.counters, f->counters[c]);
		}
	}
}

static bool tier_is_tracepoint(enum attach_tier tier)
{
	return tier == ATTACH_TP_BTF || tier == ATTACH_RAW_TP || tier == ATTACH_TRACEPOINT;
}

/*
 * The sock:* programs add to their process's slot unclaimed where receives are
 * counted on sock:sock_recv_length too: no apps program counts into a slot from
 * a softirq then (probes/app_process.bpf.h, sock_length_exclusive). Claiming
 * costs them a compare-and-exchange or two a call.
 */
static void apps_prepare(struct module *m)
{
	struct apps_state *st = m->priv;
	st->skel->rodata->sock_length_exclusive =
		st->skel->rodata->slot_unclaimed_adds &&
		tier_is_tracepoint(attach_pair_tier(m, EVENT_RECV, EVENT_RECV_RESULT));
}

static bool tgid_list_add(struct tgid_list *l, uint32_t tgid)
{
	uint32_t *grown = grow_array(l->tgid, &l->cap, l->n + 1, sizeof(*grown), 256);
	if (!grown)
		return false;
	l->tgid = grown;
	l->tgid[l->n++] = tgid;
	return true;
}

static int on_moved(void *ctx, void *data, size_t size)
{
	struct apps_state *st = ctx;
	uint32_t tgid;
	if (size < sizeof(tgid))
		return 0;
	memcpy(&tgid, data, sizeof(tgid));
	if (!tgid_list_add(&st->moved, tgid))
		st->read_all = true; /* out of memory for the list: read everything rather than miss it */
	return 0;
}

/*
 * The program that copies moved entries out (probes/app_copy.bpf.c), run on
 * demand: it needs the run of a raw tracepoint program without a tracepoint
 * (5.10) and a .bss the agent can map (5.5). Without it a collect looks up
 * each process that moved.
 */
static void open_copier(struct apps_state *st)
{
	const char *step = "open";
	int err;
	st->copy = app_copy_bpf__open();
	if (!st->copy) {
		err = errno;
		goto out;
	}
	step = "load";
	err = -bpf_map__reuse_fd(st->copy->maps.app_pids, bpf_map__fd(st->skel->maps.app_pids));
	if (!err)
		err = -app_copy_bpf__load(st->copy);
	if (!err && !st->copy->bss)
		err = ENOTSUP; /* global data not mapped */
	if (!err) {
		/* A run with nothing to copy: the kernel says here whether it runs such programs at all. */
		step = "run";
		st->copy->bss->copy_count = 0;
		LIBBPF_OPTS(bpf_test_run_opts, run);
		if (bpf_prog_test_run_opts(bpf_program__fd(st->copy->progs.app_copy_entries), &run))
			err = errno;
	}
out:
	if (!err)
		return;
	log_info("apps", "cannot copy moved processes out in batches (%s: %s): a lookup each", step, strerror(err));
	app_copy_bpf__destroy(st->copy);
	st->copy = NULL;
}

static int apps_start(struct module *m)
{
	struct apps_state *st = m->priv;
	st->table = app_table_new(m->attached_cfg); /* held until module_release */
	if (!st->table)
		return -ENOMEM;
	decide_sends(m);
	log_info("apps", "per-process table of %u entries; cgroups named from the %s hierarchy; sending %s%s%s",
		 m->cfg->global.pid_table_size, st->hierarchy,
		 m->cfg->apps.enabled || !m->cfg->cgroups.enabled ? "apps.*" : "",
		 m->cfg->apps.enabled && m->cfg->cgroups.enabled ? " and " : "", m->cfg->cgroups.enabled ? "cgroup.*" : "");
	m->ring = ring_buffer__new(bpf_map__fd(st->skel->maps.app_snapshots), on_snapshot, m, NULL);
	if (!m->ring)
		return -errno;
	if (st->skel->rodata->use_slots) {
		st->slots = app_slots_open(bpf_map__fd(st->skel->maps.app_slots), st->skel->rodata->slot_cpus);
		if (!st->slots) {
			int err = errno;
			log_error("apps", "cannot map the per-CPU slots: %s", strerror(err));
			return -err;
		}
	}
	/*
	 * Generation 1 from now: entries that move go on the ring (a fresh one has
	 * 0). The first collect reads the whole table all the same, for those
	 * that moved before.
	 */
	st->read_all = true;
	uint32_t zero = 0;
	st->gen = 1;
	uint64_t interval_ms = config_module_interval_ms(m->cfg, m->id);
	st->sweep_gens = interval_ms && interval_ms < SWEEP_PERIOD_MS ? (uint32_t)(SWEEP_PERIOD_MS / interval_ms) : 1;
	bpf_map_update_elem(bpf_map__fd(st->skel->maps.app_collect_gen), &zero, &st->gen, BPF_ANY);
	st->moved_ring = ring_buffer__new(bpf_map__fd(st->skel->maps.app_moved), on_moved, st, NULL);
	if (!st->moved_ring)
		log_warn("apps", "cannot read the ring of moved processes (%s): every collect reads the whole table",
			 strerror(errno));
	else
		open_copier(st);
	return 0;
}

/*
 * An entry folded as an exit leaves the kernel table before anything reads
 * the table again (forget_dead): read twice, it would count twice.
 */
static void remember_dead(struct apps_state *st, uint32_t tgid)
{
	/* Out of memory for the list: at once (a key-by-key read then starts over, which only costs time). */
	if (!tgid_list_add(&st->dead, tgid))
		bpf_map_delete_elem(bpf_map__fd(st->skel->maps.app_pids), &tgid);
}

/* After each read of the table (not during one: a key-by-key read would start over). */
static void forget_dead(struct apps_state *st, int fd)
{
	for (size_t i = 0; i < st->dead.n; i++)
		bpf_map_delete_elem(fd, &st->dead.tgid[i]);
	st->dead.n = 0;
}

/*
 * One entry of the kernel table. An entry whose exit event was lost is
 * folded here as an exit; one whose process died while no program watched
 * is left to the sweep (sweep_some).
 */
static void take_entry(struct apps_state *st, uint32_t tgid, const struct app_process *p)
{
	/*
	 * An exit one of whose slots another still held when the collect gave up
	 * waiting: observed now, folded at a collect that holds that slot.
	 */
	bool final = p->exited && !(st->slots && app_slots_unheld(st->slots, tgid));
	struct app_process with_slots;
	if (st->slots)
		p = app_slots_with(st->slots, tgid, p, final, &with_slots);
	if (final) {
		app_table_exited(st->table, tgid, p);
		remember_dead(st, tgid);
		return;
	}
	app_table_observe(st->table, tgid, p);
}

/* Without batched reads: every entry, one lookup each. */
static int read_key_by_key(struct apps_state *st, int fd)
{
	uint32_t key, next;
	int rc = bpf_map_get_next_key(fd, NULL, &next);
	while (!rc) {
		key = next;
		if (!bpf_map_lookup_elem(fd, &key, &st->values[0]))
			take_entry(st, key, &st->values[0]);
		rc = bpf_map_get_next_key(fd, &key, &next);
	}
	return 0;
}

/* count entries read together: tgid[i]'s is values[i], where found is NULL or found[i] is set. */
static void take_batch(struct apps_state *st, const uint32_t *tgid, const struct app_process *values,
		       const uint8_t *found, size_t count)
{
	for (size_t i = 0; i < count && i < PREFETCH_AHEAD; i++)
		app_table_prefetch(st->table, tgid[i]);
	for (size_t i = 0; i < count; i++) {
		if (i + PREFETCH_AHEAD < count)
			app_table_prefetch(st->table, tgid[i + PREFETCH_AHEAD]);
		if (!found || found[i])
			take_entry(st, tgid[i], &values[i]);
	}
}

/* Batched reads are not there: say so once, from now on key by key. */
static bool batch_refused(struct apps_state *st, int err, bool was_first)
{
	if (err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP || (was_first && err == ENOSPC)) {
		log_info("apps", "batched map reads unavailable (%s): reading key by key", strerror(err));
		st->no_batch = true;
		return true;
	}
	return false;
}

/* Every entry, in batches. */
static int read_table(struct apps_state *st, int fd)
{
	if (st->no_batch)
		return read_key_by_key(st, fd);
	uint32_t token = 0;
	bool first = true;
	for (;;) {
		__u32 count = BATCH_ENTRIES;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, st->keys, st->values, &count, NULL);
		int err = rc ? errno : 0;
		take_batch(st, st->keys, st->values, NULL, count);
		bool was_first = first;
		first = false;
		if (err == ENOENT)
			return 0; /* every entry read */
		if (batch_refused(st, err, was_first))
			return count ? 0 : read_key_by_key(st, fd);
		if (err)
			return -err;
	}
}

static int compare_tgid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Gone (its exit handed the counts over on the snapshot ring): nothing to read. */
static void look_up_moved(struct apps_state *st, int fd, uint32_t tgid)
{
	if (!bpf_map_lookup_elem(fd, &tgid, &st->values[0]))
		take_entry(st, tgid, &st->values[0]);
}

/*
 * The n processes queued in copy_tgid, copied out in one run of
 * probes/app_copy.bpf.c and taken. A run that fails looks them up one by
 * one, and so does every collect after it.
 */
static void copy_moved(struct apps_state *st, int fd, size_t n)
{
	struct app_copy_bpf *copy = st->copy;
	copy->bss->copy_count = (uint32_t)n;
	LIBBPF_OPTS(bpf_test_run_opts, run);
	if (bpf_prog_test_run_opts(bpf_program__fd(copy->progs.app_copy_entries), &run)) {
		log_warn("apps", "copying moved processes out failed (%s): a lookup each from now on", strerror(errno));
		st->copy = NULL;
		for (size_t i = 0; i < n; i++)
			look_up_moved(st, fd, copy->bss->copy_tgid[i]);
		app_copy_bpf__destroy(copy);
		return;
	}
	take_batch(st, copy->bss->copy_tgid, copy->bss->copy_out, copy->bss->copy_found, n);
}

/*
 * The entries named since the last collect, and where MOVED_READ_TWICE those
 * named at the one before, each once.
 */
static void read_moved(struct apps_state *st, int fd)
{
	struct tgid_list *l = &st->moved;
	if (MOVED_READ_TWICE) {
		/* The one before's list is spent after this read (the next drain empties it): the union goes there. */
		l = &st->moved_before;
		for (size_t i = 0; i < st->moved.n; i++)
			if (!tgid_list_add(l, st->moved.tgid[i]))
				st->read_all = true; /* out of memory for the list: the next collect reads everything */
	}
	if (l->n > 1)
		qsort(l->tgid, l->n, sizeof(uint32_t), compare_tgid);
	size_t queued = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint32_t tgid = l->tgid[i];
		if (i && tgid == l->tgid[i - 1])
			continue;
		if (!st->copy) {
			look_up_moved(st, fd, tgid);
			continue;
		}
		st->copy->bss->copy_tgid[queued++] = tgid;
		if (queued == APP_COPY_BATCH) {
			copy_moved(st, fd, queued);
			queued = 0;
		}
	}
	if (queued)
		copy_moved(st, fd, queued);
}

/*
 * A read of every entry that began at the table's generation `began` is
 * complete. A process not read through two of them has no entry (its exit's
 * snapshot never came): forgotten.
 */
static void pass_done(struct apps_state *st, uint64_t began)
{
	app_table_forget_unseen(st->table, st->last_pass_began);
	st->last_pass_began = began;
}

/*
 * The next share of the sweep: as many of the agent's records as the time
 * since it last advanced is of SWEEP_PERIOD_MS. A process idle for that long
 * and gone is folded as an exit from its entry, which the kernel may still
 * hold (deleted after, forget_dead), or else forgotten. Its exit may have
 * handed the counts over on the snapshot ring since the collect drained it
 * (the exit's program runs before the process can be reaped, and kill()
 * saw it reaped): the ring is drained again before a record is forgotten,
 * or the snapshot would count the process's whole life again.
 */
static void sweep_some(struct apps_state *st, int fd, struct ring_buffer *snapshots)
{
	uint64_t now = monotonic_ns() / 1000000;
	uint64_t elapsed = st->sweep_ms ? now - st->sweep_ms : 0;
	st->sweep_ms = now;
	if (elapsed > SWEEP_PERIOD_MS)
		elapsed = SWEEP_PERIOD_MS;
	uint64_t quota = (app_table_processes(st->table) * elapsed + SWEEP_PERIOD_MS - 1) / SWEEP_PERIOD_MS;
	uint64_t gen = app_table_generation(st->table);
	uint64_t before = gen > st->sweep_gens ? gen - st->sweep_gens : 0;
	while (quota > 0) {
		size_t look = quota < BATCH_ENTRIES ? (size_t)quota : BATCH_ENTRIES;
		size_t idle = app_table_idle(st->table, &st->sweep_cursor, look, before, st->keys);
		quota -= look;
		for (size_t i = 0; i < idle; i++) {
			uint32_t tgid = st->keys[i];
			if (!kill((pid_t)tgid, 0) || errno != ESRCH)
				continue;
			if (!bpf_map_lookup_elem(fd, &tgid, &st->values[0])) {
				app_table_exited(st->table, tgid, &st->values[0]);
				remember_dead(st, tgid);
				continue;
			}
			if (snapshots && ring_buffer__consume(snapshots) < 0)
				continue; /* not known whether its exit came: a later pass asks again */
			app_table_forget(st->table, tgid); /* nothing if its exit just came */
		}
	}
}

/* A slot's owner: its entry is read this collect, moved or not. */
static void name_slot_owner(void *ctx, uint32_t tgid)
{
	struct apps_state *st = ctx;
	if (!tgid_list_add(&st->moved, tgid))
		st->read_all = true; /* out of memory for the list: the next collect reads everything */
}

/* A new generation, and what the ring named under the last one. */
static void drain_moved(struct apps_state *st)
{
	struct tgid_list before = st->moved_before;
	st->moved_before = st->moved;
	st->moved = before;
	st->moved.n = 0;
	st->gen = st->gen + 1 ? st->gen + 1 : 1; /* 0 is a fresh entry's: it must differ */
	uint32_t zero = 0;
	if (bpf_map_update_elem(bpf_map__fd(st->skel->maps.app_collect_gen), &zero, &st->gen, BPF_ANY))
		st->read_all = true;
	atomic_thread_fence(memory_order_seq_cst); /* the new generation is seen before any entry is read */
	if (ring_buffer__consume(st->moved_ring) < 0)
		st->read_all = true;
}

static int apps_collect(struct module *m, struct series_store *store)
{
	struct apps_state *st = m->priv;
	int fd = bpf_map__fd(st->skel->maps.app_pids);
	uint64_t c[sizeof(struct app_health) / sizeof(uint64_t)];
	bool health = !percpu_sum_u64(bpf_map__fd(st->skel->maps.app_health), 0, sizeof(c) / sizeof(c[0]), c);
	const struct app_health *h = (const struct app_health *)c;
	if (health && h->moved_lost != st->moved_lost_seen) {
		st->moved_lost_seen = h->moved_lost;
		st->read_all = true; /* some moves were not named: look at everything once */
	}
	int rc = 0;
	if (st->moved_ring)
		drain_moved(st);
	/* Held from here to the end of the read: no slot's counts move into an entry in between. */
	if (st->slots)
		app_slots_hold(st->slots, name_slot_owner, st);
	if (!st->moved_ring || st->no_batch || st->read_all) {
		uint64_t began = app_table_generation(st->table);
		st->full_reads++;
		rc = read_table(st, fd);
		if (!rc)
			pass_done(st, began);
		st->read_all = rc != 0; /* a read that failed part-way is tried again whole */
	} else {
		read_moved(st, fd);
	}
	if (st->slots)
		st->slots_lost += app_slots_release(st->slots, fd);
	forget_dead(st, fd);
	sweep_some(st, fd, m->ring);
	forget_dead(st, fd);
	app_table_emit(st->table, store, st->send);
	series_gauge_set(store, "agent.pids.tracked", NULL, 0, (double)app_table_processes(st->table), false);
	series_gauge_set(store, "agent.pids.capacity", NULL, 0, (double)m->cfg->global.pid_table_size, false);
	series_counter_observe(store, "agent.pids.full_reads", NULL, 0, st->full_reads);
	if (health) {
		struct metric_tag map = { "map", "app_pids" }, module = { "module", "apps" };
		/* Slot counts whose process had no entry left are events not counted for the same reason. */
		series_counter_observe(store, "agent.bpf.map_full", &map, 1, h->table_full + h->slot_lost + st->slots_lost);
		series_counter_observe(store, "agent.ringbuf.lost", &module, 1, h->ringbuf_lost);
	}
	return rc;
}

const struct module_ops apps_module = {
	.name = "apps",
	.config_help = "per-application metrics",
	.enabled_by_default = true,
	.top_level_section = true,
	.metrics = apps_metrics,
	.nmetrics = sizeof(apps_metrics) / sizeof(apps_metrics[0]),
	.events = apps_events,
	.nevents = EVENT_COUNT,
	.open = apps_open,
	.destroy = apps_destroy,
	.share_with_layer = apps_share_with_layer,
	.sock_chain_slot = SOCK_SLOT_APPS,
	.wants = apps_wants,
	.unwanted_why = apps_unwanted_why,
	.way_fits = apps_way_fits,
	.prepare = apps_prepare,
	.start = apps_start,
	.collect = apps_collect,
};
