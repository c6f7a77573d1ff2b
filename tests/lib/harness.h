/*
 * Integration-test harness: run the real agent binary with a test config,
 * capture what its stdout sink prints (graphite format, empty prefix), and
 * run known workloads under a unique comm.
 */
#ifndef BPFPUSH_TEST_HARNESS_H
#define BPFPUSH_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct agent_proc {
	pid_t pid;
	int out_fd;
	char *out; /* everything the agent printed on stdout */
	size_t out_len, out_cap;
	char dir[64]; /* temp dir holding the config */
	char config[96];
};

/*
 * The global section for a test config: interval 1s, log_level warning, the
 * given extra keys (", load_mode: return"), and the tier and syscall layer
 * that $BPFPUSH_TEST_ATTACH / $BPFPUSH_TEST_SYSCALL_LAYER force (the VM
 * matrix runs every test once per tier this way). A key in extra wins.
 */
void harness_global(char *buf, size_t cap, const char *extra);

/*
 * The global line (as harness_global) and a modules section with every
 * default-on module off except those named in `enabled` (space-separated),
 * which are switched on; then `apps: <apps>` (NULL: apps off), and cgroups off
 * unless apps goes on with a line of its own ("{ ... }\ncgroups: { ... }").
 */
void harness_modules_yaml(char *buf, size_t cap, const char *extra, const char *enabled, const char *apps);

/*
 * In a harness_modules_yaml text, the line of a default-on module it switched
 * off becomes "  <module>: { <options> }" (the options say whether it is
 * enabled). Returns 0, or -1 when buf has no such line or the result does
 * not fit (buf is then unchanged).
 */
int harness_module_options(char *buf, size_t cap, const char *module, const char *options);

/*
 * A loop device over backing_path (created, and grown to size bytes when
 * smaller). Returns the loop number and fills dev ("/dev/loopN") and
 * *loop_fd (open read-write), or -1. harness_loop_detach ends it.
 */
int harness_loop_attach(const char *backing_path, off_t size, char *dev, size_t cap, int *loop_fd);
void harness_loop_detach(int loop_fd);

/*
 * The page-cache workload of the cachestat tests: a loop device over a file
 * of HARNESS_CACHE_PAGES pages in a fresh temp dir (buffered I/O on a block
 * device goes through the page cache like a file does, and needs no
 * filesystem image, which the VM matrix's initramfs lacks).
 */
#define HARNESS_CACHE_PAGES 2048
#define HARNESS_PAGE 4096

struct harness_cache_dev {
	char dir[64];     /* the temp dir holding the backing file */
	char backing[96]; /* the backing file */
	char dev[32];     /* "/dev/loopN": the argument of harness_cache_workload */
	int loop_fd;
};

/* Make the temp dir (dir_template: "/tmp/NAME-XXXXXX"), the backing file and the loop device; 0 or -1. */
int harness_cache_dev_create(struct harness_cache_dev *cd, const char *dir_template);
/* Detach the loop device, remove the backing file and the temp dir. */
void harness_cache_dev_remove(struct harness_cache_dev *cd);
/*
 * For harness_run_child with the device path as arg: drop the device's
 * cached pages (BLKFLSBUF), read its N pages once (N misses), again (N hits),
 * then overwrite them and fsync (N pages dirtied). 0 when every step worked.
 */
int harness_cache_workload(void *dev_path);

/* Write a config whose sinks section is one stdout sink in graphite format with no prefix. */
int harness_config(struct agent_proc *ap, const char *yaml_without_sinks);
/* The same with the one sink given as a YAML flow mapping. */
int harness_config_sink(struct agent_proc *ap, const char *yaml_without_sinks, const char *sink);
/* The shipped config: $BPFPUSH_SHIPPED_CONFIG, config/bpfpush.yaml, or the installed one. */
const char *harness_shipped_config_path(void);
/*
 * The shipped config as it is up to its sinks, which are replaced by one
 * stdout sink (graphite-tagged, no prefix): what a user runs, nothing forced.
 */
int harness_config_shipped(struct agent_proc *ap);
/* Start the agent; returns 0 once it printed its first flush (it is attached). */
int harness_start(struct agent_proc *ap, int timeout_ms);
/*
 * harness_start with the agent's stderr (it inherits the test's) in a file of
 * its directory, named into log_path (cap bytes): its start-up log, where
 * modules say how they attach. The test's stderr is back on return; -1 when
 * the file cannot be made.
 */
int harness_start_logging(struct agent_proc *ap, int timeout_ms, char *log_path, size_t cap);
/*
 * Keep reading the agent's output until the series `name` sums to at least
 * at_least, or timeout_ms passes (the kernel may finish some events later:
 * task releases wait for an RCU grace period). Returns 0 when reached.
 */
int harness_wait_for(struct agent_proc *ap, const char *name, uint64_t at_least, int timeout_ms);
/* Where the agent's output ends now: a mark for harness_wait_value_at_most. */
size_t harness_mark(const struct agent_proc *ap);
/*
 * Keep reading the agent's output until a line of the series `name` printed
 * after mark (a whole line that began after it) has a value of at most
 * at_most, or timeout_ms passes: a gauge that has come down. 0 when seen.
 */
int harness_wait_value_at_most(struct agent_proc *ap, const char *name, size_t mark, uint64_t at_most,
			       int timeout_ms);
/*
 * Read `count` bytes from fd (children that say "done" with a byte each on
 * a pipe) within timeout_ms; 0 when all came, -1 on timeout or EOF.
 */
int harness_wait_bytes(int fd, size_t count, int timeout_ms);
/* SIGTERM, read everything, wait; returns the exit status (or -1). */
int harness_stop(struct agent_proc *ap);
void harness_free(struct agent_proc *ap);

/* Sum of every value printed for the series `name` (graphite lines "name value ts"). */
uint64_t harness_sum(const struct agent_proc *ap, const char *name);
bool harness_has(const struct agent_proc *ap, const char *name);
/*
 * Events a histogram counted: the sum of its bucket counters, by the plain
 * path before ".bucket" ("disk.vda.latency": tag values follow the module).
 */
uint64_t harness_hist_events(const struct agent_proc *ap, const char *path);

/*
 * The way `bpfpush --probe --json` says an event of a module attaches with
 * this test's config ("tp_btf", "raw_tp (syscall dispatcher)", ...; "" when
 * it does not). Returns 0 on success.
 */
int harness_probe_way(const struct agent_proc *ap, const char *module, const char *event, char *way, size_t cap);
/*
 * Write a config with the modules in `enabled` on and apps off (as
 * harness_modules_yaml, then harness_config) and ask how module's event
 * attaches with it (as harness_probe_way: "" when it does not). 0 or -1.
 */
int harness_config_way(struct agent_proc *ap, const char *extra, const char *enabled, const char *module,
		       const char *event, char *way, size_t cap);

/*
 * Run run(extra) as a cmocka group of three tests: test_auto_tier (the tier
 * the agent picks), test_forced_raw_tp and test_forced_tracepoint (the
 * tracepoint tiers every kernel has). Returns the group's result, for main.
 */
int harness_run_tier_tests(void (*run)(const char *extra_yaml));

/* Kernel-wide task creations since boot (/proc/stat "processes"), an independent count. */
uint64_t harness_total_forks(void);

/* Run fn(arg) in a child process named comm; returns its exit status. */
int harness_run_child(const char *comm, int (*fn)(void *arg), void *arg);

/* A field of /proc/vmstat, with every CPU's pending counts folded in (vm/stat_refresh) first. */
uint64_t harness_vmstat(const char *key);
/* The tier a test forces: "attach: X" in its extra config keys, else $BPFPUSH_TEST_ATTACH, else "". */
void harness_forced_tier(const char *extra, char *tier, size_t cap);

/*
 * Runs of a tracepoint the kernel may leave without running the agent's
 * program, uncounted, out of kernel_count it made: 5%, at least 2 (the
 * KNOWN DEFECT in harness.c says where and how it was measured).
 */
uint64_t harness_unseen_allowance(uint64_t kernel_count);
/* Write text to an existing file (cgroup and sysfs knobs); 0 or -errno. */
int harness_write_file(const char *path, const char *text);
/*
 * The value of `key` in the two-line table `table` ("Tcp:", "TcpExt:") of a
 * /proc/net file (the calling thread's namespace) into *value: 0, or -1 when
 * the file or key is missing (*value untouched).
 */
int harness_proc_net_value(const char *file, const char *table, const char *key, uint64_t *value);
/*
 * Whether the kernel counts the runs it skips of a classic tracepoint or
 * kprobe program because another BPF program (or a bpf() map copy) holds the
 * CPU: trace_call_bpf counts them in recursion_misses from 6.7 on; before,
 * those skips are silent and agent.bpf.missed cannot include them.
 */
bool harness_kernel_counts_classic_misses(void);
/* CLOCK_MONOTONIC in milliseconds, for a test's own durations. */
int64_t harness_now_ms(void);
/* The agent binary: $BPFPUSH_BIN or build/bpfpush. */
const char *harness_agent_bin(void);

#endif
