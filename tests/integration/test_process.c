/*
 * process module on the running kernel, through the real agent binary.
 *
 * Every window is two-sided: [exact, exact + slack]. The slack is measured,
 * not guessed: /proc/stat "processes" counts every task the kernel created
 * while the agent ran, so whatever the workload did not create is the
 * background the agent may also have seen.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ftrace_count.h"
#include "harness.h"

#define FORKS 200
#define THREADS 100
#define FAILED_FORKS 25
/* Tasks born before the agent attached may end while it runs: a quiet host has a few. */
#define OLD_TASKS_ENDING 10
#define FORKER_COMM "bpfpush-forker"

static void *thread_body(void *arg) { return arg; }

static int fork_and_thread_workload(void *arg)
{
	(void)arg;
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		if (pid < 0 || waitpid(pid, NULL, 0) != pid)
			return 1;
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_body, NULL) || pthread_join(t, NULL))
			return 2;
	}
	return 0;
}

static void assert_window(const char *what, uint64_t got, uint64_t exact, uint64_t slack)
{
	print_message("  %-24s %6llu in [%llu, %llu]\n", what, (unsigned long long)got, (unsigned long long)exact,
		      (unsigned long long)(exact + slack));
	assert_in_range(got, exact, exact + slack);
}

/* rcu_barrier() on demand where the kernel offers it (6.10+); elsewhere the wait below covers it. */
static void flush_rcu_callbacks(void)
{
	FILE *f = fopen("/sys/module/rcutree/parameters/do_rcu_barrier", "w");
	if (!f)
		return;
	fputs("1\n", f);
	fclose(f);
}

/*
 * How many of the workload's tasks the kernel has freed (sched_process_free
 * hit, counted by ftrace): all of them, or what it freed in 10 s. A reaped
 * task is freed after an RCU grace period; lazy RCU (CONFIG_RCU_LAZY) may
 * hold that 10 s, so the callbacks are flushed on every try (a task reaped
 * after a flush queues its callback after it). What the kernel freed is the
 * bound, not what the workload made: the test must not blame the agent for a
 * free still to come. Without the witness, all are awaited as long and all
 * must be counted. (On 6.18 the release program ran 294-300 times while
 * ftrace saw all 301 freed, with no recursion miss: the kernel's, see
 * harness_unseen_allowance.)
 */
static uint64_t wait_kernel_frees(const struct ftrace_count *kernel_frees, uint64_t ours)
{
	int64_t deadline = harness_now_ms() + 10000, freed;
	for (;;) {
		flush_rcu_callbacks();
		freed = ftrace_count_read(kernel_frees);
		if (freed < 0 || (uint64_t)freed >= ours || harness_now_ms() >= deadline)
			break;
		usleep(100 * 1000); /* a poll of the predicate above, which has its deadline */
	}
	return freed < 0 || (uint64_t)freed > ours ? ours : (uint64_t)freed;
}

/* The process module's sched events have tracepoint-family ways only. */
static void assert_way(const struct agent_proc *ap, const char *event, const char *tier, const char *layer)
{
	char way[128] = "";
	assert_int_equal(harness_probe_way(ap, "process", event, way, sizeof(way)), 0);
	print_message("  event %-14s attached via %s\n", event, way);
	assert_true(way[0]);
	bool tier_exists = !strcmp(tier, "tp_btf") || !strcmp(tier, "raw_tp") || !strcmp(tier, "tracepoint");
	if (tier[0] && tier_exists)
		assert_non_null(strstr(way, tier));
	if (layer && layer[0])
		assert_non_null(strstr(way, layer));
}

/* The kernel's count of tasks alive (and not yet released): /proc/loadavg's "running/total". */
static uint64_t tasks_alive(void)
{
	FILE *f = fopen("/proc/loadavg", "r");
	unsigned long long total = 0;
	if (!f || fscanf(f, "%*s %*s %*s %*u/%llu", &total) != 1)
		total = 0;
	if (f)
		fclose(f);
	return total;
}

static void run_fork_test(const char *extra_yaml)
{
	char global[256], yaml[1024];
	harness_global(global, sizeof(global), extra_yaml);
	snprintf(yaml, sizeof(yaml),
		 "%s"
		 "modules:\n"
		 "  process: { enabled: true }\n"
		 "  fd: { enabled: false }\n  vfs: { enabled: false }\n  sync: { enabled: false }\n"
		 "  mount: { enabled: false }\n  shm: { enabled: false }\n  socket: { enabled: false }\n"
		 "  network: { enabled: false }\n  hardirq: { enabled: false }\n  softirq: { enabled: false }\n"
		 "  oomkill: { enabled: false }\n"
		 "apps: { enabled: false }\ncgroups: { enabled: false }\n",
		 global);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char tier[32];
	harness_forced_tier(extra_yaml, tier, sizeof(tier));
	assert_way(&ap, "fork", tier, NULL);
	assert_way(&ap, "exit", tier, NULL);
	assert_way(&ap, "release", tier, NULL);
	uint64_t forks_before = harness_total_forks(), alive_before = tasks_alive();
	assert_int_equal(harness_start(&ap, 10000), 0);
	struct ftrace_count kernel_frees;
	int witness = ftrace_count_start(&kernel_frees, "sched/sched_process_free", "comm == \"" FORKER_COMM "\"");
	if (witness < 0)
		print_message("  no ftrace witness (%s): every workload task must be released\n", strerror(-witness));
	assert_int_equal(harness_run_child(FORKER_COMM, fork_and_thread_workload, NULL), 0);
	uint64_t ours = FORKS + 1 + THREADS; /* the workload process, its children, its threads */
	/*
	 * A joined thread may reach its exit tracepoint after pthread_join returns,
	 * and releases follow exits after an RCU grace period (slow under
	 * emulation).
	 */
	harness_wait_for(&ap, "process.exit", ours, 10000);
	uint64_t freed = wait_kernel_frees(&kernel_frees, ours);
	ftrace_count_stop(&kernel_frees);
	/* Every free the kernel made of ours was also sent (the agent counts the background too). */
	for (int tries = 0; tries < 20; tries++) {
		flush_rcu_callbacks();
		if (harness_wait_for(&ap, "process.release", freed, 500) == 0)
			break;
	}
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t forks = harness_total_forks() - forks_before, alive_after = tasks_alive();

	assert_true(forks >= ours);
	uint64_t background = forks - ours;
	/*
	 * Tasks that were there before and ended in the window (idle kworkers, a
	 * previous test's io_uring threads): the kernel's own count of live tasks
	 * says how many ended, beyond ours. A double count still fails.
	 */
	uint64_t ended = forks + alive_before > alive_after ? forks + alive_before - alive_after : 0;
	uint64_t ended_others = ended > ours ? ended - ours : 0;
	print_message("  kernel created %llu tasks while the agent ran; %llu were not the workload's; %llu others ended\n",
		      (unsigned long long)forks, (unsigned long long)background, (unsigned long long)ended_others);
	assert_window("process.create", harness_sum(&ap, "process.create"), FORKS + 1, background);
	assert_window("process.thread_create", harness_sum(&ap, "process.thread_create"), THREADS, background);
	uint64_t old_ending = OLD_TASKS_ENDING > ended_others ? OLD_TASKS_ENDING : ended_others;
	assert_window("process.exit", harness_sum(&ap, "process.exit"), ours, background + old_ending);
	/*
	 * sched_process_free runs from an RCU callback; a classic tracepoint
	 * program is skipped when that interrupts another BPF program on the CPU.
	 * Kernels from 6.7 count those skips (agent.bpf.missed), but the classic
	 * path also drops events in perf's own recursion guard before any BPF
	 * program runs, and nothing counts those: on every kernel the classic tier
	 * may fall short (measured: up to 2% on 6.12, 4 of 301 on 6.18; on 6.1,
	 * which counts none of its skips, 8 and 21 of 301 in two runs of slow
	 * emulated guests). 10% is allowed there; on every tier, the runs the
	 * kernel leaves unseen too (harness_unseen_allowance). A double count
	 * still fails.
	 */
	uint64_t missed = harness_sum(&ap, "agent.bpf.process.missed");
	uint64_t uncounted = (!strcmp(tier, "tracepoint") ? ours / 10 : 0) + harness_unseen_allowance(freed);
	if (uncounted > freed)
		uncounted = freed;
	print_message("  agent.bpf.process.missed %llu, allowance for uncounted skips and unseen runs %llu\n",
		      (unsigned long long)missed, (unsigned long long)uncounted);
	uint64_t released = harness_sum(&ap, "process.release") + missed;
	print_message("  kernel freed %llu of the workload's %llu tasks (ftrace)\n", (unsigned long long)freed,
		      (unsigned long long)ours);
	print_message("  %-24s %6llu in [%llu, %llu]\n", "process.release + missed", (unsigned long long)released,
		      (unsigned long long)(freed - uncounted), (unsigned long long)(ours + background + old_ending));
	assert_in_range(released, freed - uncounted, ours + background + old_ending);
	assert_true(harness_has(&ap, "process.zombies"));
	/* entry mode hooks no syscall exit: the metric that needs the result is not sent */
	if (strstr(extra_yaml, "load_mode: entry"))
		assert_false(harness_has(&ap, "process.create_errors"));
	harness_free(&ap);
}

/*
 * Threads the kernel makes itself: an io_uring ring with IORING_SETUP_SQPOLL
 * gets its submission thread from copy_process() without kernel_clone() (as
 * vhost workers do), so sched_process_fork never fires for it while
 * task_newtask and /proc/stat "processes" count it. Raw syscalls: liburing
 * is not a dependency.
 */
#define SQPOLL_RINGS 50

static int sqpoll_workload(void *arg)
{
	(void)arg;
	for (int i = 0; i < SQPOLL_RINGS; i++) {
		struct io_uring_params p;
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_SQPOLL;
		p.sq_thread_idle = 10;
		int fd = (int)syscall(SYS_io_uring_setup, 4, &p);
		if (fd < 0)
			return 1;
		close(fd); /* the ring's thread ends once the ring is freed */
	}
	return 0;
}

static void run_sqpoll_test(const char *extra_yaml)
{
	char yaml[2048];
	harness_modules_yaml(yaml, sizeof(yaml), extra_yaml, "process", NULL);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char tier[32];
	harness_forced_tier(extra_yaml, tier, sizeof(tier));
	assert_way(&ap, "fork", tier, NULL);
	uint64_t forks_before = harness_total_forks();
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child("bpfpush-sqpoll", sqpoll_workload, NULL), 0);
	uint64_t ours = 1 + SQPOLL_RINGS; /* the workload process and one submission thread per ring */
	/* The rings' threads exit once their rings are freed, from a workqueue. */
	harness_wait_for(&ap, "process.exit", ours, 10000);
	harness_wait_for(&ap, "process.thread_create", SQPOLL_RINGS, 1500); /* one collect after the last */
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t forks = harness_total_forks() - forks_before;
	assert_true(forks >= ours);
	uint64_t background = forks - ours;
	uint64_t created = harness_sum(&ap, "process.create"), threads = harness_sum(&ap, "process.thread_create");
	print_message("  kernel created %llu tasks while the agent ran (%llu the workload's); agent: %llu processes + "
		      "%llu threads\n",
		      (unsigned long long)forks, (unsigned long long)ours, (unsigned long long)created,
		      (unsigned long long)threads);
	/* Everything the agent counts the kernel counted too, in a window that covers the agent's. */
	assert_window("process.create + thread", created + threads, ours, background);
	assert_window("process.thread_create", threads, SQPOLL_RINGS, background);
	/* Exits: at least the workload's (tasks born before the agent may end too: hundreds on a busy host). */
	uint64_t exits = harness_sum(&ap, "process.exit");
	print_message("  %-24s %6llu, at least %llu\n", "process.exit", (unsigned long long)exits, (unsigned long long)ours);
	assert_true(exits >= ours);
	harness_free(&ap);
}

static void test_sqpoll_auto_tier(void **state) { run_sqpoll_test(""); }
static void test_sqpoll_forced_tp_btf(void **state) { run_sqpoll_test(", attach: tp_btf"); }
static void test_sqpoll_forced_raw_tp(void **state) { run_sqpoll_test(", attach: raw_tp"); }
static void test_sqpoll_forced_tracepoint(void **state) { run_sqpoll_test(", attach: tracepoint"); }

static void test_auto_tier(void **state) { run_fork_test(""); }
static void test_forced_tp_btf(void **state) { run_fork_test(", attach: tp_btf, load_mode: entry"); }
static void test_forced_raw_tp(void **state) { run_fork_test(", attach: raw_tp"); }
static void test_forced_tracepoint(void **state) { run_fork_test(", attach: tracepoint"); }

/* A pids cgroup that holds only the caller: every fork in it fails with EAGAIN. */
struct pids_cgroup {
	char dir[128];
};

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int rc = fputs(text, f) < 0;
	return fclose(f) || rc ? -1 : 0;
}

static int pids_cgroup_create(struct pids_cgroup *cg)
{
	struct stat st;
	if (!stat("/sys/fs/cgroup/pids", &st)) {
		snprintf(cg->dir, sizeof(cg->dir), "/sys/fs/cgroup/pids/bpfpush-test-%d", getpid());
	} else {
		/* cgroup v2: the pids controller must be enabled for the root's children. */
		write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids");
		snprintf(cg->dir, sizeof(cg->dir), "/sys/fs/cgroup/bpfpush-test-%d", getpid());
	}
	if (mkdir(cg->dir, 0755) && errno != EEXIST)
		return -1;
	char path[192];
	snprintf(path, sizeof(path), "%s/pids.max", cg->dir);
	return write_file(path, "1");
}

static int failing_fork_workload(void *arg)
{
	const struct pids_cgroup *cg = arg;
	char path[192], pid[32];
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(path, pid))
		return 3;
	for (int i = 0; i < FAILED_FORKS; i++) {
		pid_t child = fork();
		if (child == 0)
			_exit(0);
		if (child > 0) /* the limit did not hold: the test cannot count exactly */
			return 4;
	}
	return 0;
}

/* layer "": whatever the matrix forces, else automatic (kernel-function ways first). */
static void run_fork_failure_test(const char *layer)
{
	char global[256], yaml[1024], extra[64];
	if (layer[0])
		snprintf(extra, sizeof(extra), ", load_mode: return, syscall_layer: %s", layer);
	else
		snprintf(extra, sizeof(extra), ", load_mode: return");
	harness_global(global, sizeof(global), extra);
	snprintf(yaml, sizeof(yaml),
		 "%s"
		 "modules: { fd: { enabled: false }, vfs: { enabled: false }, sync: { enabled: false },"
		 " mount: { enabled: false }, shm: { enabled: false }, socket: { enabled: false },"
		 " network: { enabled: false }, hardirq: { enabled: false }, softirq: { enabled: false },"
		 " oomkill: { enabled: false } }\n"
		 "apps: { enabled: false }\ncgroups: { enabled: false }\n",
		 global);
	struct pids_cgroup cg;
	assert_int_equal(pids_cgroup_create(&cg), 0);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char tier[32];
	harness_forced_tier("", tier, sizeof(tier));
	/* The layer narrows the ways first; a forced tier then applies within it. */
	const char *expect = "";
	if (!strcmp(layer, "tracepoints"))
		expect = "tracepoint";
	else if (layer[0] && (!strcmp(tier, "tp_btf") || !strcmp(tier, "raw_tp")))
		expect = tier;
	assert_way(&ap, "create_errors", expect, layer);
	if (!layer[0] && (!strcmp(tier, "fentry") || !strcmp(tier, "kprobe"))) {
		/* a kernel-function way on each syscall's function (fork has no BTF: kprobe there) */
		char way[128] = "";
		harness_probe_way(&ap, "process", "create_errors", way, sizeof(way));
		assert_true(strstr(way, "fentry") || strstr(way, "kprobe"));
	}
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child("bpfpush-forkfail", failing_fork_workload, &cg), 0);
	/* The failures are flushed (a shortfall fails the window below after the deadline). */
	harness_wait_for(&ap, "process.create_errors", FAILED_FORKS, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	rmdir(cg.dir);
	/* Nothing else on a quiet host hits a fork limit: near-zero slack. */
	assert_window("process.create_errors", harness_sum(&ap, "process.create_errors"), FAILED_FORKS, 2);
	harness_free(&ap);
}

static void test_create_errors_dispatcher(void **state) { run_fork_failure_test("dispatcher"); }
static void test_create_errors_tracepoints(void **state) { run_fork_failure_test("tracepoints"); }
static void test_create_errors_auto_layer(void **state) { run_fork_failure_test(""); }

int main(void)
{
	if (geteuid() != 0) {
		/* Not a skip: BPF tests must run, so a non-root run fails loudly. */
		fprintf(stderr, "test_process: must run as root (BPF)\n");
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_tier),
		cmocka_unit_test(test_forced_tp_btf),
		cmocka_unit_test(test_forced_raw_tp),
		cmocka_unit_test(test_forced_tracepoint),
		cmocka_unit_test(test_sqpoll_auto_tier),
		cmocka_unit_test(test_sqpoll_forced_tp_btf),
		cmocka_unit_test(test_sqpoll_forced_raw_tp),
		cmocka_unit_test(test_sqpoll_forced_tracepoint),
		cmocka_unit_test(test_create_errors_dispatcher),
		cmocka_unit_test(test_create_errors_tracepoints),
		cmocka_unit_test(test_create_errors_auto_layer),
	};
	return cmocka_run_group_tests_name("process (BPF, real agent)", tests, NULL, NULL);
}
