/*
 * apps module on the running kernel, through the real agent binary.
 *
 * A workload under a unique comm runs known numbers of every operation apps
 * counts, and forks short-lived children that each open, write, close and
 * unlink a file and exit at once: every apps.* counter of that app must fall
 * in [exact, exact + a few], so a process that lived a millisecond counts in
 * full and nothing counts twice. Then grouping by cgroup and unit, apps
 * and cgroups (cgroup.*) from the one table in one run, a table too small
 * for the live processes, and processes renamed as they run.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "apps.h"
#include "harness.h"

#define COMM "bpfpushapps"
#define OPENS 300
#define FAILED_OPENS 50
#define CREATS 40
#define READS 400
#define READ_SIZE 100
#define FAILED_READS 20
#define WRITES 250
#define WRITE_SIZE 64
#define FAILED_WRITES 15
#define FAILED_CLOSES 30
#define CHILDREN 500
#define CHILD_WRITE 128
#define THREADS 10
#define TCP_BYTES 100000
/* Calls the workload makes that the constants do not name: none are known; a little room for libc. */
#define SLACK 3

struct workload {
	char dir[64];
	char read_file[96];
};

static void *thread_body(void *arg) { return arg; }

static int tcp_exchange(void)
{
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(addr);
	if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof(addr)) || listen(listener, 1) ||
	    getsockname(listener, (struct sockaddr *)&addr, &len))
		return 1;
	int client = socket(AF_INET, SOCK_STREAM, 0);
	if (client < 0 || connect(client, (struct sockaddr *)&addr, sizeof(addr)))
		return 2;
	int server = accept(listener, NULL, NULL);
	if (server < 0)
		return 3;
	static char buf[10000];
	size_t got = 0;
	for (int i = 0; i < TCP_BYTES / (int)sizeof(buf); i++) {
		if (send(client, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return 4;
		while (got < (size_t)(i + 1) * sizeof(buf)) {
			ssize_t n = recv(server, buf, sizeof(buf), 0);
			if (n <= 0)
				return 5;
			got += (size_t)n;
		}
	}
	close(server);
	close(client);
	close(listener);
	return 0;
}

/* Everything below is counted: keep exact_counts() in step. */
static int apps_workload(void *arg)
{
	const struct workload *w = arg;
	char path[160];
	for (int i = 0; i < OPENS; i++) {
		int fd = open(w->read_file, O_RDONLY);
		if (fd < 0)
			return 10;
		close(fd);
	}
	for (int i = 0; i < FAILED_OPENS; i++)
		if (open("/nonexistent/bpfpush-apps", O_RDONLY) >= 0)
			return 11;
	for (int i = 0; i < CREATS; i++) {
		snprintf(path, sizeof(path), "%s/creat-%d", w->dir, i);
		int fd = creat(path, 0600);
		if (fd < 0)
			return 12;
		close(fd);
		if (unlink(path))
			return 13;
	}
	int fd = open(w->read_file, O_RDONLY);
	char buf[READ_SIZE];
	for (int i = 0; i < READS; i++)
		if (read(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return 14;
	close(fd);
	for (int i = 0; i < FAILED_READS; i++)
		if (read(-1, buf, sizeof(buf)) >= 0)
			return 15;
	fd = open("/dev/null", O_WRONLY);
	for (int i = 0; i < WRITES; i++)
		if (write(fd, buf, WRITE_SIZE) != WRITE_SIZE)
			return 16;
	close(fd);
	for (int i = 0; i < FAILED_WRITES; i++)
		if (write(-1, buf, WRITE_SIZE) >= 0)
			return 17;
	for (int i = 0; i < FAILED_CLOSES; i++)
		if (close(-1) == 0)
			return 18;
	for (int i = 0; i < CHILDREN; i++) {
		snprintf(path, sizeof(path), "%s/child-%d", w->dir, i);
		pid_t pid = fork();
		if (pid == 0) {
			int cfd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
			char data[CHILD_WRITE] = { 0 };
			if (cfd < 0 || write(cfd, data, sizeof(data)) != (ssize_t)sizeof(data))
				_exit(1);
			close(cfd);
			_exit(unlink(path) ? 2 : 0);
		}
		int status;
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
			return 19;
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, thread_body, NULL) || pthread_join(t, NULL))
			return 20;
	}
	int rc = tcp_exchange();
	return rc ? 30 + rc : 0;
}

enum { C_OPEN, C_OPEN_ERR, C_CLOSED, C_CLOSE_ERR, C_DELETED, C_READ, C_READ_BYTES, C_READ_ERR, C_WRITE, C_WRITE_BYTES,
       C_WRITE_ERR, C_PROC, C_THREAD, C_EXIT, C_SENT, C_RECV, C_COUNT };

static const char *const counter_names[C_COUNT] = {
	"file_open", "file_open_errors", "file_closed", "file_close_errors", "file_deleted", "vfs_read_call",
	"vfs_read_bytes", "vfs_read_errors", "vfs_write_call", "vfs_write_bytes", "vfs_write_errors",
	"process_create", "thread_create", "task_exit", "bandwidth_sent", "bandwidth_recv",
};

/* The event (for --probe) of each counter, and whether the counter needs the call's result. */
static const char *const counter_events[C_COUNT] = {
	"file_open", "file_open", "file_close", "file_close", "file_unlink", "vfs_read", "vfs_read", "vfs_read",
	"vfs_write", "vfs_write", "vfs_write", "fork", "fork", "exit", "sent", "recv",
};
static const bool needs_result[C_COUNT] = {
	[C_OPEN_ERR] = true, [C_CLOSE_ERR] = true, [C_READ_BYTES] = true, [C_READ_ERR] = true,
	[C_WRITE_BYTES] = true, [C_WRITE_ERR] = true, [C_SENT] = true, [C_RECV] = true,
};

static void exact_counts(uint64_t *c)
{
	c[C_OPEN] = OPENS + FAILED_OPENS + CREATS + 2 + CHILDREN;
	c[C_OPEN_ERR] = FAILED_OPENS;
	c[C_CLOSED] = OPENS + CREATS + 2 + FAILED_CLOSES + CHILDREN + 3; /* 3 sockets */
	c[C_CLOSE_ERR] = FAILED_CLOSES;
	c[C_DELETED] = CREATS + CHILDREN;
	c[C_READ] = READS + FAILED_READS;
	c[C_READ_BYTES] = READS * READ_SIZE;
	c[C_READ_ERR] = FAILED_READS;
	c[C_WRITE] = WRITES + FAILED_WRITES + CHILDREN;
	c[C_WRITE_BYTES] = WRITES * WRITE_SIZE + CHILDREN * CHILD_WRITE;
	c[C_WRITE_ERR] = FAILED_WRITES;
	c[C_PROC] = CHILDREN;
	c[C_THREAD] = THREADS;
	c[C_EXIT] = CHILDREN + THREADS + 1;
	c[C_SENT] = TCP_BYTES;
	c[C_RECV] = TCP_BYTES;
}

static void make_workload(struct workload *w)
{
	snprintf(w->dir, sizeof(w->dir), "/tmp/bpfpush-apps-XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->read_file, sizeof(w->read_file), "%s/data", w->dir);
	int fd = open(w->read_file, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	assert_true(fd >= 0);
	static char data[READS * READ_SIZE];
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	close(fd);
}

static void remove_workload(const struct workload *w)
{
	unlink(w->read_file);
	rmdir(w->dir);
}

/* Entry mode's kernel-function ways see calls only; every other way sees results. */
static bool result_seen(const char *mode, const char *way)
{
	return !strcmp(mode, "return") || (!strstr(way, "fentry") && !strstr(way, "kprobe"));
}

/* One run of the workload under a config; every counter of its app checked. */
static void run_exact(const char *mode, const char *tier)
{
	char extra[128], yaml[2048];
	snprintf(extra, sizeof(extra), ", load_mode: %s%s%s", mode, tier[0] ? ", attach: " : "", tier);
	harness_modules_yaml(yaml, sizeof(yaml), extra, "", "{ enabled: true, group_by: comm }");
	print_message("apps, load_mode %s, attach %s\n", mode, tier[0] ? tier : "(automatic or the matrix's)");
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char ways[C_COUNT][128];
	for (int c = 0; c < C_COUNT; c++) {
		ways[c][0] = '\0';
		char event[64];
		snprintf(event, sizeof(event), "%s%s", counter_events[c],
			 !strcmp(mode, "return") && c != C_PROC && c != C_THREAD && c != C_EXIT ? "_result" : "");
		assert_int_equal(harness_probe_way(&ap, "apps", event, ways[c], sizeof(ways[c])), 0);
		if (tier[0] && ways[c][0])
			assert_non_null(strstr(ways[c], tier));
	}
	print_message("  ways: open %s, read %s, fork %s, sent %s\n", ways[C_OPEN], ways[C_READ], ways[C_PROC],
		      ways[C_SENT][0] ? ways[C_SENT] : "not hooked");
	struct workload w;
	make_workload(&w);
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child(COMM, apps_workload, &w), 0);
	harness_wait_for(&ap, "apps." COMM ".task_exit", CHILDREN + THREADS + 1, 10000);
	harness_wait_for(&ap, "apps." COMM ".file_deleted", CREATS + CHILDREN, 3000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t exact[C_COUNT];
	exact_counts(exact);
	for (int c = 0; c < C_COUNT; c++) {
		char name[96];
		snprintf(name, sizeof(name), "apps." COMM ".%s", counter_names[c]);
		bool hooked = ways[c][0] != '\0';
		bool measured = hooked && (!needs_result[c] || result_seen(mode, ways[c]));
		if (!measured) {
			print_message("  %-28s not measured by this way: absent\n", counter_names[c]);
			assert_false(harness_has(&ap, name));
			continue;
		}
		uint64_t got = harness_sum(&ap, name);
		uint64_t slack = c == C_SENT || c == C_RECV || c == C_READ_BYTES || c == C_WRITE_BYTES ? 0 : SLACK;
		print_message("  %-28s %8llu in [%llu, %llu]\n", counter_names[c], (unsigned long long)got,
			      (unsigned long long)exact[c], (unsigned long long)(exact[c] + slack));
		assert_in_range(got, exact[c], exact[c] + slack);
	}
	assert_true(harness_has(&ap, "agent.pids.tracked"));
	assert_int_equal(harness_sum(&ap, "agent.bpf.app_pids.map_full"), 0);
	/*
	 * The collects' CPU time is sent beside their wall time and is not more. The two come from
	 * different clocks (the scheduler's and the monotonic one), which an emulated guest may run
	 * at slightly different rates: a tenth and a millisecond of slack.
	 */
	uint64_t wall_us = harness_sum(&ap, "agent.collect.duration_us"), cpu_us = harness_sum(&ap, "agent.collect.cpu_us");
	print_message("  collects: %llu us wall, %llu us CPU\n", (unsigned long long)wall_us, (unsigned long long)cpu_us);
	assert_true(harness_has(&ap, "agent.module.apps.collect_cpu_us"));
	assert_true(cpu_us > 0 && cpu_us <= wall_us + wall_us / 10 + 1000);
	remove_workload(&w);
	harness_free(&ap);
}

/*
 * The VM matrix forces fentry and kprobe through the environment; on a
 * tracepoint-only kernel (this host) the test forces each tracepoint tier itself.
 */
static void test_every_counter_exact_with_short_lived_children(void **state)
{
	(void)state;
	const char *env = getenv("BPFPUSH_TEST_ATTACH");
	static const char *const tiers[] = { "", "raw_tp", "tracepoint" };
	size_t ntiers = env && *env ? 1 : sizeof(tiers) / sizeof(tiers[0]);
	for (size_t i = 0; i < ntiers; i++)
		run_exact("entry", tiers[i]);
	run_exact("return", "");
}

#define CGROUP_LEAF "bpfpush-apps-test.service"
#define CGROUP_OPENS 120

/*
 * Every cgroup hierarchy mounted here, so that whichever the agent reads names
 * the workload's cgroup. v1_only: the v1 controllers alone where any is
 * mounted, so that the unified hierarchy has no cgroup and the agent reads a
 * v1 one (agent/modules/apps.c, choose_hierarchy).
 */
static size_t cgroup_dirs(const char *leaf, char dirs[][192], size_t cap, bool v1_only)
{
	FILE *f = fopen("/proc/self/mounts", "r");
	char dev[256], dir[256], type[64], opts[512];
	char v2[4][192];
	size_t n = 0, n2 = 0;
	while (f && n < cap && fscanf(f, "%255s %255s %63s %511s %*d %*d", dev, dir, type, opts) == 4) {
		if (strcmp(type, "cgroup") && strcmp(type, "cgroup2"))
			continue;
		/* Named hierarchies have no controller the agent could follow; cpuset takes no task before it has CPUs. */
		if (!strcmp(type, "cgroup") && (strstr(opts, "name=") || strstr(opts, "cpuset")))
			continue;
		if (!strcmp(type, "cgroup2") && n2 < 4)
			snprintf(v2[n2++], 192, "%.100s/%.90s", dir, leaf);
		else if (!strcmp(type, "cgroup"))
			snprintf(dirs[n++], 192, "%.100s/%.90s", dir, leaf);
	}
	if (f)
		fclose(f);
	if (v1_only && n)
		return n;
	for (size_t i = 0; i < n2 && n < cap; i++)
		memcpy(dirs[n++], v2[i], sizeof(v2[i]));
	return n;
}

/* Waits for SIGUSR1 without a counted call: the first counted call fixes the process's cgroup. */
static int cgroup_workload(const sigset_t *go)
{
	if (sigwaitinfo(go, NULL) != SIGUSR1)
		return 1;
	for (int i = 0; i < CGROUP_OPENS; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return 2;
		close(fd);
	}
	return 0;
}

/* The sum over every tag of one counter of a prefix ("apps", "cgroup"): graphite lines PREFIX.TAG.COUNTER. */
static uint64_t sum_over_tags(const struct agent_proc *ap, const char *prefix, const char *counter)
{
	uint64_t sum = 0;
	size_t np = strlen(prefix), nc = strlen(counter);
	for (const char *line = ap->out; line && *line;) {
		const char *end = strchr(line, '\n'), *space = strchr(line, ' ');
		if (space && (!end || space < end) && !strncmp(line, prefix, np) && line[np] == '.' &&
		    (size_t)(space - line) > np + nc + 1 && space[-(long)nc - 1] == '.' &&
		    !strncmp(space - nc, counter, nc))
			sum += strtoull(space + 1, NULL, 10);
		line = end ? end + 1 : NULL;
	}
	return sum;
}

/*
 * The cgroup workload in a cgroup of that leaf in every hierarchy; each of
 * names (NULL-terminated) must count its opens exactly, each of absent must
 * not be sent. With both views on, every counter sums to the same
 * over all app tags as over all cgroup tags.
 */
static void run_in_cgroup(const char *leaf, const char *apps_yaml, const char *const *names, const char *const *absent,
			  bool both_views, bool v1_only)
{
	char yaml[2048];
	harness_modules_yaml(yaml, sizeof(yaml), "", "", apps_yaml);
	print_message("apps: %s\n", apps_yaml);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char dirs[16][192];
	size_t ndirs = cgroup_dirs(leaf, dirs, 16, v1_only);
	assert_true(ndirs > 0);
	print_message("  cgroup %s in %zu hierarch%s, the first %s\n", leaf, ndirs, ndirs == 1 ? "y" : "ies", dirs[0]);
	for (size_t i = 0; i < ndirs; i++)
		assert_true(mkdir(dirs[i], 0755) == 0 || errno == EEXIST);
	assert_int_equal(harness_start(&ap, 10000), 0);
	sigset_t go, old;
	sigemptyset(&go);
	sigaddset(&go, SIGUSR1);
	assert_int_equal(sigprocmask(SIG_BLOCK, &go, &old), 0);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NAME, "bpfpushcgroup");
		_exit(cgroup_workload(&go));
	}
	assert_int_equal(sigprocmask(SIG_SETMASK, &old, NULL), 0);
	char procs[256], pidtext[32];
	snprintf(pidtext, sizeof(pidtext), "%d\n", pid);
	size_t moved = 0;
	for (size_t i = 0; i < ndirs; i++) {
		snprintf(procs, sizeof(procs), "%.190s/cgroup.procs", dirs[i]);
		int rc = harness_write_file(procs, pidtext);
		if (rc)
			print_message("  cannot move the workload into %s: %s\n", dirs[i], strerror(-rc));
		moved += rc == 0;
	}
	assert_true(moved > 0);
	assert_int_equal(kill(pid, SIGUSR1), 0);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (size_t n = 0; names[n]; n++)
		harness_wait_for(&ap, names[n], CGROUP_OPENS, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	for (size_t n = 0; names[n]; n++) {
		uint64_t got = harness_sum(&ap, names[n]);
		print_message("  %s %llu in [%d, %d]\n", names[n], (unsigned long long)got, CGROUP_OPENS,
			      CGROUP_OPENS + SLACK);
		assert_in_range(got, CGROUP_OPENS, CGROUP_OPENS + SLACK);
	}
	for (size_t n = 0; absent && absent[n]; n++) {
		print_message("  %s absent\n", absent[n]);
		assert_false(harness_has(&ap, absent[n]));
	}
	if (both_views) {
		/*
		 * Both views are cut from the same deltas in the same collect: the
		 * other buckets keep totals exact (what else runs on the host counts too).
		 */
		for (int c = 0; c < C_COUNT; c++) {
			uint64_t by_app = sum_over_tags(&ap, "apps", counter_names[c]);
			uint64_t by_cgroup = sum_over_tags(&ap, "cgroup", counter_names[c]);
			print_message("  %-20s over all tags: apps %llu, cgroup %llu\n", counter_names[c],
				      (unsigned long long)by_app, (unsigned long long)by_cgroup);
			assert_int_equal(by_app, by_cgroup);
		}
	}
	for (size_t i = 0; i < ndirs; i++)
		rmdir(dirs[i]);
	harness_free(&ap);
}

static void run_grouped(const char *apps_yaml, const char *app)
{
	char name[128];
	snprintf(name, sizeof(name), "apps.%s.file_open", app);
	const char *const names[] = { name, NULL };
	run_in_cgroup(CGROUP_LEAF, apps_yaml, names, NULL, false, false);
}

static void test_grouping_by_cgroup_and_unit(void **state)
{
	(void)state;
	run_grouped("{ enabled: true, group_by: unit }", "bpfpush-apps-test_service");
	run_grouped("{ enabled: true, group_by: cgroup, groups: [ { match: \"bpfpush-apps-*\", name: apptest } ] }",
		    "apptest");
}

/*
 * apps and cgroups in one run, from the one kernel table: the workload counts
 * the same under its comm and under its unit or its container; with apps off,
 * cgroups alone loads the kernel side and sends no apps.*. The unit run puts
 * the workload in every hierarchy (the unified one where mounted, which the
 * agent then reads); the others in the v1 ones only, where the host has them.
 */
#define CONTAINER_ID "4f6c1c2b9a0e5d7f8c3b2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f"

static void test_apps_and_cgroups_together(void **state)
{
	(void)state;
	const char *const by_unit[] = { "apps.bpfpushcgroup.file_open", "cgroup.bpfpush-apps-test_service.file_open",
					NULL };
	run_in_cgroup(CGROUP_LEAF, "{ enabled: true, group_by: comm }\ncgroups: { enabled: true, group_by: unit }",
		      by_unit, NULL, true, false);
	const char *const by_container[] = { "apps.bpfpushcgroup.file_open", "cgroup.4f6c1c2b9a0e.file_open", NULL };
	run_in_cgroup("docker-" CONTAINER_ID ".scope",
		      "{ enabled: true, group_by: comm }\ncgroups: { enabled: true, group_by: container }",
		      by_container, NULL, true, true);
	const char *const renamed[] = { "cgroup.testunit.file_open", NULL };
	const char *const no_apps[] = { "apps.bpfpushcgroup.file_open", NULL };
	run_in_cgroup(CGROUP_LEAF,
		      "{ enabled: false }\ncgroups: { enabled: true, group_by: cgroup, "
		      "groups: [ { match: \"bpfpush-apps-*\", name: testunit } ] }",
		      renamed, no_apps, false, true);
}

#define TABLE 1024
#define SLEEPERS 1100
#define FIT_OPENS 200
#define TABLE_ROOM 64 /* entries freed before the process after the sleepers runs */

/* The pipes between the test and its children: a byte on done says "my counted call is made". */
struct table_pipes {
	int go;   /* the fitted process waits for a byte here */
	int done; /* every child writes one byte here after its first call */
};

/* The agent with apps on (grouped by comm) and a process table of `entries`. */
/*
 * The agent with apps alone, grouped by comm, in a table of `entries`; with
 * log_path (cap bytes), its start-up log at level info goes there.
 */
static void start_apps(struct agent_proc *ap, int entries, char *log_path, size_t cap)
{
	char yaml[2048], extra[96];
	snprintf(extra, sizeof(extra), ", pid_table_size: %d%s", entries, log_path ? ", log_level: info" : "");
	harness_modules_yaml(yaml, sizeof(yaml), extra, "", "{ enabled: true, group_by: comm }");
	assert_int_equal(harness_config(ap, yaml), 0);
	assert_int_equal(log_path ? harness_start_logging(ap, 10000, log_path, cap) : harness_start(ap, 10000), 0);
}

static void start_apps_with_table(struct agent_proc *ap, int entries) { start_apps(ap, entries, NULL, 0); }

/* The first line of the agent's log holding `what` into line (cap bytes); false when none (or no log). */
static bool log_line(const char *path, const char *what, char *line, int cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool found = false;
	while (!found && fgets(line, cap, f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* Two pipes (go: the test tells; done: the child says) and a child called comm running fn on them. */
static pid_t fork_told(const char *comm, int (*fn)(void *), int go[2], int done[2])
{
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	pid_t child = fork();
	if (child == 0) {
		prctl(PR_SET_NAME, comm);
		close(go[1]); /* the test closing its end is an end of file here */
		close(done[0]);
		struct table_pipes pp = { go[0], done[1] };
		_exit(fn(&pp));
	}
	assert_true(child > 0);
	return child;
}

static int sleeper(void *arg)
{
	const struct table_pipes *pp = arg;
	/* One counted call gives the process an entry, or a refusal. */
	int fd = open("/dev/null", O_RDONLY);
	close(fd);
	if (write(pp->done, "s", 1) != 1)
		return 1;
	pause();
	return 0;
}

static int fit_workload(void *arg)
{
	const struct table_pipes *pp = arg;
	char c;
	int fd = open("/dev/null", O_RDONLY); /* its entry, before the table fills */
	close(fd);
	if (write(pp->done, "f", 1) != 1 || read(pp->go, &c, 1) != 1)
		return 1;
	for (int i = 0; i < FIT_OPENS; i++) {
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return 2;
		close(fd);
	}
	return 0;
}

static int opens_workload(void *arg)
{
	(void)arg;
	for (int i = 0; i < FIT_OPENS; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return 1;
		close(fd);
	}
	return 0;
}

static void test_tiny_pid_table_refuses_and_counts(void **state)
{
	(void)state;
	struct agent_proc ap;
	start_apps_with_table(&ap, TABLE);
	int gofd[2], donefd[2];
	pid_t fit = fork_told("bpfpushfit", fit_workload, gofd, donefd);
	struct table_pipes pp = { gofd[0], donefd[1] };
	/* The fitted process has its entry before any sleeper asks for one. */
	assert_int_equal(harness_wait_bytes(donefd[0], 1, 10000), 0);
	static pid_t sleepers[SLEEPERS];
	for (int i = 0; i < SLEEPERS; i++) {
		sleepers[i] = fork();
		if (sleepers[i] == 0) {
			prctl(PR_SET_NAME, "bpfpushsleeper");
			_exit(sleeper(&pp));
		}
		assert_true(sleepers[i] > 0);
	}
	close(gofd[0]);
	close(donefd[1]);
	/* Every sleeper has made its call (the table is full, the rest refused); then the fitted process works. */
	assert_int_equal(harness_wait_bytes(donefd[0], SLEEPERS, 30000), 0);
	close(donefd[0]);
	harness_wait_for(&ap, "agent.bpf.app_pids.map_full", 1, 10000);
	assert_int_equal(write(gofd[1], "g", 1), 1);
	close(gofd[1]);
	int status;
	assert_int_equal(waitpid(fit, &status, 0), fit);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	harness_wait_for(&ap, "apps.bpfpushfit.file_open", FIT_OPENS + 1, 5000);
	size_t mark = harness_mark(&ap);
	for (int i = 0; i < SLEEPERS; i++)
		kill(sleepers[i], SIGKILL);
	for (int i = 0; i < SLEEPERS; i++)
		waitpid(sleepers[i], NULL, 0);
	/*
	 * With the sleepers gone the table has room again: a new process counts.
	 * Room is a flush after the kills that tracks well under the table's size
	 * (the sleepers' entries leave together, at the collect after their exits).
	 */
	assert_int_equal(harness_wait_value_at_most(&ap, "agent.pids.tracked", mark, TABLE - TABLE_ROOM, 10000), 0);
	assert_int_equal(harness_run_child("bpfpushafter", opens_workload, NULL), 0);
	harness_wait_for(&ap, "apps.bpfpushafter.file_open", FIT_OPENS, 5000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t full = harness_sum(&ap, "agent.bpf.app_pids.map_full");
	uint64_t fitted = harness_sum(&ap, "apps.bpfpushfit.file_open");
	uint64_t after = harness_sum(&ap, "apps.bpfpushafter.file_open");
	print_message("  map_full %llu (sleepers %d, table %d); fitted process opens %llu in [%d, %d]; after %llu\n",
		      (unsigned long long)full, SLEEPERS, TABLE, (unsigned long long)fitted, FIT_OPENS + 1,
		      FIT_OPENS + 1 + SLACK, (unsigned long long)after);
	assert_true(full >= SLEEPERS - TABLE);
	assert_in_range(fitted, FIT_OPENS + 1, FIT_OPENS + 1 + SLACK);
	assert_in_range(after, FIT_OPENS, FIT_OPENS + SLACK);
	harness_free(&ap);
}

/*
 * A collect reads only the entries that moved since the one before
 * (agent/modules/apps.c): a process that counts, idles for several collects
 * and counts again is read again when it moves, while it lives, and counts
 * each open once.
 */
#define IDLE_OPENS_BEFORE 120
#define IDLE_OPENS_AFTER 80
#define IDLE_COLLECTS 5
#define IDLE_TABLE 4096

static int opens_between(const struct table_pipes *pp, int opens, char said)
{
	for (int i = 0; i < opens; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return 2;
		close(fd);
	}
	char c;
	return write(pp->done, &said, 1) == 1 && read(pp->go, &c, 1) == 1 ? 0 : 1;
}

static int idle_workload(void *arg)
{
	const struct table_pipes *pp = arg;
	int rc = opens_between(pp, IDLE_OPENS_BEFORE, 'a');
	return rc ? rc : opens_between(pp, IDLE_OPENS_AFTER, 'b');
}

static void test_idle_process_counts_again_when_it_moves(void **state)
{
	(void)state;
	struct agent_proc ap;
	char log_path[256];
	start_apps(&ap, IDLE_TABLE, log_path, sizeof(log_path)); /* apps says in its log how it reads the table */
	int gofd[2], donefd[2];
	pid_t child = fork_told("bpfpushidle", idle_workload, gofd, donefd);
	assert_int_equal(harness_wait_bytes(donefd[0], 1, 10000), 0);
	assert_int_equal(harness_wait_for(&ap, "apps.bpfpushidle.file_open", IDLE_OPENS_BEFORE, 10000), 0);
	/* Idle through several collects: each flush prints the table's capacity once. */
	uint64_t flushed = harness_sum(&ap, "agent.pids.capacity");
	assert_int_equal(harness_wait_for(&ap, "agent.pids.capacity", flushed + IDLE_COLLECTS * IDLE_TABLE, 20000), 0);
	assert_int_equal(write(gofd[1], "g", 1), 1);
	assert_int_equal(harness_wait_bytes(donefd[0], 1, 10000), 0);
	/* Read from the live entry: the process has not exited, so no exit snapshot carries it. */
	int seen = harness_wait_for(&ap, "apps.bpfpushidle.file_open", IDLE_OPENS_BEFORE + IDLE_OPENS_AFTER, 10000);
	assert_int_equal(write(gofd[1], "g", 1), 1);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	harness_wait_for(&ap, "apps.bpfpushidle.task_exit", 1, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t opens = harness_sum(&ap, "apps.bpfpushidle.file_open");
	print_message("  idle through %d collects: file_open %llu == %d, the later ones read while it lived: %s\n",
		      IDLE_COLLECTS, (unsigned long long)opens, IDLE_OPENS_BEFORE + IDLE_OPENS_AFTER, seen ? "no" : "yes");
	/* Every kernel of the matrix runs the program that copies moved processes out in batches (5.10 on). */
	char why[1024];
	bool one_by_one = log_line(log_path, "a lookup each", why, sizeof(why));
	print_message("  moved processes read %s%s", one_by_one ? "one lookup each: " : "in batches (probes/app_copy.bpf.c)\n",
		      one_by_one ? why : "");
	assert_false(one_by_one);
	assert_int_equal(seen, 0);
	assert_int_equal(opens, IDLE_OPENS_BEFORE + IDLE_OPENS_AFTER);
	close(gofd[0]);
	close(gofd[1]);
	close(donefd[0]);
	close(donefd[1]);
	harness_free(&ap);
}

/*
 * More processes move in one interval than app_moved holds (a record per
 * table entry): the collect after reads the whole table
 * (agent.pids.full_reads), so a process whose first move of the interval
 * found the ring full counts at that collect (nothing else reads a live
 * entry that did not move), and exactly. The agent is stopped meanwhile, so
 * no collect splits the burst.
 *
 * An entry goes on the ring once per interval, so only entries that leave
 * the table and are taken again can outnumber the ring. The burst comes in
 * two waves: the first's exits fit the snapshot ring (its 256 KiB hold about
 * 500), which deletes their entries; the second's processes take those
 * entries again: 1300 moves against 1024 records. With one wave, whether the
 * ring overflowed hung on the order of the exits (CI, 2026-12-06: it did not).
 * The second wave's exits overflow the snapshot ring, so the rest are folded
 * from the table, each once, whichever read meets it first.
 */
#define BURST_TABLE 1024
#define BURST_FIRST 400
#define BURST_SECOND 900
#define BURST_CHILDREN (BURST_FIRST + BURST_SECOND)
#define LATE_OPENS 50

/* Says it is ready, then when told: LATE_OPENS opens, and done; then waits for the end. */
static int late_workload(void *arg)
{
	const struct table_pipes *pp = arg;
	char c;
	if (write(pp->done, "r", 1) != 1 || read(pp->go, &c, 1) != 1)
		return 1;
	for (int i = 0; i < LATE_OPENS; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return 2;
		close(fd);
	}
	if (write(pp->done, "d", 1) != 1)
		return 1;
	return read(pp->go, &c, 1) == 0 ? 0 : 1;
}

/*
 * count processes that each open a file, and exit once all have started: a
 * CPU's slot (probes/app_process.bpf.h) holds one process's counts, so each
 * open moves the slot's previous owner, still alive, into its entry and onto
 * app_moved. Returns once all have exited.
 */
static int burst_of_movers(int count)
{
	static pid_t kids[BURST_SECOND];
	int started = 0, rc = 0, hold[2];
	if (count > BURST_SECOND || pipe(hold))
		return -1;
	for (; started < count; started++) {
		kids[started] = fork();
		if (kids[started] == 0) {
			prctl(PR_SET_NAME, "bpfpushburst");
			close(hold[1]);
			int fd = open("/dev/null", O_RDONLY);
			char c;
			_exit(fd < 0 || read(hold[0], &c, 1) != 0);
		}
		if (kids[started] < 0) {
			rc = -1;
			break;
		}
	}
	close(hold[0]);
	close(hold[1]); /* every child's read ends */
	for (int i = 0; i < started; i++)
		if (waitpid(kids[i], NULL, 0) != kids[i])
			rc = -1;
	return rc;
}

static void test_overflowing_moved_ring_reads_whole_table(void **state)
{
	(void)state;
	struct agent_proc ap;
	start_apps_with_table(&ap, BURST_TABLE);
	int gofd[2], donefd[2];
	pid_t late = fork_told("bpfpushlate", late_workload, gofd, donefd);
	assert_int_equal(harness_wait_bytes(donefd[0], 1, 10000), 0);
	/* A flush whose collect began after the ready byte: the late process's next move is its first of the generation. */
	uint64_t flushed = harness_sum(&ap, "agent.pids.capacity");
	assert_int_equal(harness_wait_for(&ap, "agent.pids.capacity", flushed + 2 * BURST_TABLE, 10000), 0);
	uint64_t full_before = harness_sum(&ap, "agent.pids.full_reads");
	assert_int_equal(kill(ap.pid, SIGSTOP), 0);
	int64_t t0 = harness_now_ms();
	int burst_rc = burst_of_movers(BURST_FIRST);
	if (!burst_rc)
		burst_rc = burst_of_movers(BURST_SECOND);
	int64_t burst_ms = harness_now_ms() - t0;
	int late_rc = write(gofd[1], "g", 1) == 1 ? harness_wait_bytes(donefd[0], 1, 10000) : -1;
	assert_int_equal(kill(ap.pid, SIGCONT), 0);
	assert_int_equal(burst_rc, 0);
	assert_int_equal(late_rc, 0);
	/* The collect after the overflow reads it: the sweep reads no live entry. */
	int seen = harness_wait_for(&ap, "apps.bpfpushlate.file_open", LATE_OPENS, 5000);
	uint64_t full_reads = harness_sum(&ap, "agent.pids.full_reads") - full_before;
	close(gofd[1]);
	int status;
	assert_int_equal(waitpid(late, &status, 0), late);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	harness_wait_for(&ap, "apps.bpfpushlate.task_exit", 1, 10000);
	harness_wait_for(&ap, "apps.bpfpushburst.file_open", BURST_CHILDREN, 5000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t opens = harness_sum(&ap, "apps.bpfpushlate.file_open");
	uint64_t burst = harness_sum(&ap, "apps.bpfpushburst.file_open");
	uint64_t refused = harness_sum(&ap, "agent.bpf.app_pids.map_full");
	uint64_t lost = harness_sum(&ap, "agent.ringbuf.apps.lost");
	print_message("  %d movers in %lld ms with the agent stopped; whole-table reads after: %llu; the late process's "
		      "opens read within 5 s: %s, %llu == %d\n",
		      BURST_CHILDREN, (long long)burst_ms, (unsigned long long)full_reads, seen ? "no" : "yes",
		      (unsigned long long)opens, LATE_OPENS);
	print_message("  movers' file_open %llu == %d (exits folded from the table %llu, table full %llu times)\n",
		      (unsigned long long)burst, BURST_CHILDREN, (unsigned long long)lost, (unsigned long long)refused);
	assert_true(full_reads >= 1);
	assert_int_equal(seen, 0);
	assert_int_equal(opens, LATE_OPENS);
	assert_true(lost > 0); /* the condition made: some exits went through the table */
	/* A process the full table refused counts nowhere (agent.bpf.map_full): none expected. */
	assert_in_range(burst, refused < BURST_CHILDREN ? BURST_CHILDREN - refused : 0, BURST_CHILDREN);
	close(gofd[0]);
	close(donefd[0]);
	close(donefd[1]);
	harness_free(&ap);
}

/* N below: the pages harness_cache_workload reads and writes (test_cachestat's workload too). */
#define CACHE_PAGES HARNESS_CACHE_PAGES

/*
 * Per process the loop driver's own traffic (a kernel thread) is not the
 * workload's: misses and dirties [N, N + N/4]; hits [N, 4N] (writes mark
 * pages accessed too), where fentry or a kprobe sees accesses.
 */
static void test_cachestat_per_app(void **state)
{
	(void)state;
	char yaml[2048];
	harness_modules_yaml(yaml, sizeof(yaml), "", "cachestat", "{ enabled: true, group_by: comm }");
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char way[3][128];
	static const char *const events[] = { "cache_added", "cache_dirtied", "cache_accessed" };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(harness_probe_way(&ap, "apps", events[i], way[i], sizeof(way[i])), 0);
		print_message("  event %-14s attached via %s\n", events[i], way[i][0] ? way[i] : "nothing");
	}
	assert_true(way[0][0]);
	/* Only the classic tier, whose record has no folio size, leaves dirtied pages out. */
	char tier[32];
	harness_forced_tier("", tier, sizeof(tier));
	assert_true(way[1][0] || !strcmp(tier, "tracepoint"));
	struct harness_cache_dev cd;
	assert_int_equal(harness_cache_dev_create(&cd, "/tmp/bpfpush-appcache-XXXXXX"), 0);
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child("bpfpushcache", harness_cache_workload, cd.dev), 0);
	harness_wait_for(&ap, "apps.bpfpushcache.task_exit", 1, 5000);
	assert_int_equal(harness_stop(&ap), 0);
	harness_cache_dev_remove(&cd);
	uint64_t misses = harness_sum(&ap, "apps.bpfpushcache.cachestat_misses");
	uint64_t dirties = harness_sum(&ap, "apps.bpfpushcache.cachestat_dirties");
	print_message("  misses %llu, dirties %llu in [%d, %d]\n", (unsigned long long)misses,
		      (unsigned long long)dirties, CACHE_PAGES, CACHE_PAGES + CACHE_PAGES / 4);
	assert_in_range(misses, CACHE_PAGES, CACHE_PAGES + CACHE_PAGES / 4);
	if (way[1][0])
		assert_in_range(dirties, CACHE_PAGES, CACHE_PAGES + CACHE_PAGES / 4);
	else
		assert_false(harness_has(&ap, "apps.bpfpushcache.cachestat_dirties"));
	if (way[2][0]) {
		uint64_t hits = harness_sum(&ap, "apps.bpfpushcache.cachestat_hits");
		print_message("  hits %llu in [%d, %d]\n", (unsigned long long)hits, CACHE_PAGES, 4 * CACHE_PAGES);
		assert_in_range(hits, CACHE_PAGES, 4 * CACHE_PAGES);
		assert_true(harness_has(&ap, "apps.bpfpushcache.cachestat_ratio"));
	} else {
		print_message("  no way to see accesses: apps.cachestat_hits and _ratio not sent\n");
		assert_false(harness_has(&ap, "apps.bpfpushcache.cachestat_hits"));
		assert_false(harness_has(&ap, "apps.bpfpushcache.cachestat_ratio"));
	}
	harness_free(&ap);
}

#define BOUND_GROUPS 5
#define BOUND_ROUNDS 5
#define BOUND_PER_ROUND 4

/* One child under its own comm: k + 1 opens of /dev/null, then exit. */
static int bound_child(int round, int k)
{
	char comm[16];
	snprintf(comm, sizeof(comm), "bpfpb%d_%d", round, k);
	prctl(PR_SET_NAME, comm);
	for (int i = 0; i <= k; i++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0)
			return 1;
		close(fd);
	}
	return 0;
}

/* Four new groups a second for five seconds; the agent is judged on the quiet that follows too. */
static int bound_workload(void *arg)
{
	(void)arg;
	for (int round = 0; round < BOUND_ROUNDS; round++) {
		for (int k = 0; k < BOUND_PER_ROUND; k++) {
			pid_t pid = fork();
			if (pid == 0)
				_exit(bound_child(round, k));
			int status;
			if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
				return 1;
		}
		/* The workload's pace, not a wait for anything: new groups spread over BOUND_ROUNDS flushes. */
		struct timespec second = { 1, 0 };
		nanosleep(&second, NULL);
	}
	return 0;
}

/*
 * max_groups 5 on a host with other processes and twenty new groups: no
 * flush carries more than five groups besides other, zeros included (groups
 * busy once used to go out as 0 until series_ttl).
 */
static void test_max_groups_bounds_every_flush(void **state)
{
	(void)state;
	char yaml[2048], apps[96];
	snprintf(apps, sizeof(apps), "{ enabled: true, group_by: comm, max_groups: %d }", BOUND_GROUPS);
	harness_modules_yaml(yaml, sizeof(yaml), "", "", apps);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child("bpfpushbound", bound_workload, NULL), 0);
	harness_wait_for(&ap, "apps.nothing.file_open", UINT64_MAX, 2500); /* quiet seconds */
	assert_int_equal(harness_stop(&ap), 0);
	size_t most = 0, n = 0;
	int flushes = 0;
	long long cur = -1;
	for (const char *line = ap.out; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char copy[512], path[400];
		long long value, ts;
		snprintf(copy, sizeof(copy), "%.*s", (int)len, line);
		if (sscanf(copy, "%399s %lld %lld", path, &value, &ts) == 3 && !strncmp(path, "apps.", 5) &&
		    strlen(path) > 10 && !strcmp(path + strlen(path) - 10, ".file_open") &&
		    strncmp(path, "apps.other.", 11)) {
			if (ts != cur) {
				cur = ts;
				n = 0;
				flushes++;
			}
			if (++n > most)
				most = n;
		}
		line = end ? end + 1 : NULL;
	}
	print_message("  %d flushes, at most %zu groups in one (max_groups %d)\n", flushes, most, BOUND_GROUPS);
	assert_true(flushes >= BOUND_ROUNDS);
	assert_in_range(most, 1, BOUND_GROUPS);
	harness_free(&ap);
}

/*
 * Renames. The workload starts as RN_BEFORE and reads RN_N times; its leader
 * renames itself (prctl) and reads RN_M times; a thread renames itself and
 * reads, the leader renames that thread through /proc and reads, the thread
 * reads again (neither rename is the leader's: all stay RN_AFTER); another
 * thread renames the leader through /proc/PID/comm (only a process's own
 * threads may: anyone else gets EINVAL) and the leader reads RN_P times;
 * then it execs a link named RN_EXEC. All within one interval, so no collect
 * separates the names: the kernel side hands the counts over at each rename.
 */
#define RN_BEFORE "bpfpushrnA"
#define RN_AFTER "bpfpushrnB"
#define RN_THREAD "bpfpushrnT"
#define RN_SIBLING "bpfpushrnU"
#define RN_WRITTEN "bpfpushrnC"
#define RN_EXEC "bpfpushrnE"
#define RN_N 120
#define RN_M 70
#define RN_K 40
#define RN_L 30
#define RN_P 50

struct rename_run {
	char exec_link[96]; /* a link named RN_EXEC to this test binary, which then exits at once (main) */
	pthread_barrier_t renamed, go;
	pid_t tid;
	int zero;
};

static int read_n(int fd, int n)
{
	char c;
	for (int i = 0; i < n; i++)
		if (read(fd, &c, 1) != 1)
			return -1;
	return 0;
}

/* A thread names itself (not its process) and reads, before and after the leader renames it. */
static void *self_renaming_thread(void *arg)
{
	struct rename_run *r = arg;
	r->tid = (pid_t)syscall(SYS_gettid);
	int rc = prctl(PR_SET_NAME, RN_THREAD) || read_n(r->zero, RN_K);
	pthread_barrier_wait(&r->renamed);
	pthread_barrier_wait(&r->go);
	return rc || read_n(r->zero, RN_K) ? arg : NULL;
}

/* A thread renames its process's leader. */
static void *leader_renaming_thread(void *arg)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)getpid());
	return harness_write_file(path, RN_WRITTEN) ? arg : NULL;
}

static int rename_workload(void *arg)
{
	struct rename_run *r = arg;
	char path[64];
	pthread_t t;
	void *failed = NULL;
	r->zero = open("/dev/zero", O_RDONLY);
	if (r->zero < 0 || read_n(r->zero, RN_N))
		return 1;
	if (prctl(PR_SET_NAME, RN_AFTER) || read_n(r->zero, RN_M))
		return 2;
	if (pthread_barrier_init(&r->renamed, NULL, 2) || pthread_barrier_init(&r->go, NULL, 2) ||
	    pthread_create(&t, NULL, self_renaming_thread, r))
		return 3;
	pthread_barrier_wait(&r->renamed);
	snprintf(path, sizeof(path), "/proc/self/task/%d/comm", (int)r->tid);
	int rc = harness_write_file(path, RN_SIBLING) || read_n(r->zero, RN_L);
	pthread_barrier_wait(&r->go);
	if (pthread_join(t, &failed) || failed || rc)
		return 4;
	if (pthread_create(&t, NULL, leader_renaming_thread, r) || pthread_join(t, &failed) || failed)
		return 5;
	if (read_n(r->zero, RN_P))
		return 6;
	execl(r->exec_link, RN_EXEC, (char *)NULL);
	return 7;
}

/* Another process may not rename this one: /proc/PID/comm is written by the process's own threads only. */
static void assert_others_cannot_rename(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	assert_int_equal(harness_write_file(path, RN_WRITTEN), -EINVAL);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void run_renames(const char *tier)
{
	char extra[64], yaml[2048];
	snprintf(extra, sizeof(extra), "%s%s", tier[0] ? ", attach: " : "", tier);
	harness_modules_yaml(yaml, sizeof(yaml), extra, "", "{ enabled: true, group_by: comm }");
	print_message("apps renames, attach %s\n", tier[0] ? tier : "(the matrix's)");
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char rename_way[128], exec_way[128];
	assert_int_equal(harness_probe_way(&ap, "apps", "rename", rename_way, sizeof(rename_way)), 0);
	assert_int_equal(harness_probe_way(&ap, "apps", "exec", exec_way, sizeof(exec_way)), 0);
	print_message("  ways: rename %s, exec %s\n", rename_way, exec_way);
	assert_true(rename_way[0]);
	if (tier[0])
		assert_non_null(strstr(rename_way, tier));
	struct rename_run r;
	memset(&r, 0, sizeof(r));
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/bpfpush-rename-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(r.exec_link, sizeof(r.exec_link), "%s/" RN_EXEC, dir);
	/* Not /bin/true: in the guests that is busybox, which runs no applet named RN_EXEC. */
	char self[256];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	assert_int_equal(symlink(self, r.exec_link), 0);
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child(RN_BEFORE, rename_workload, &r), 0);
	harness_wait_for(&ap, "apps." RN_EXEC ".task_exit", 1, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	unlink(r.exec_link);
	rmdir(dir);
	static const struct {
		const char *app;
		uint64_t reads;
	} want[] = { { RN_BEFORE, RN_N }, { RN_AFTER, RN_M + 2 * RN_K + RN_L }, { RN_WRITTEN, RN_P } };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char name[96];
		snprintf(name, sizeof(name), "apps.%s.vfs_read_call", want[i].app);
		uint64_t got = harness_sum(&ap, name);
		print_message("  %-36s %6llu in [%llu, %llu]\n", name, (unsigned long long)got,
			      (unsigned long long)want[i].reads, (unsigned long long)want[i].reads + SLACK);
		assert_in_range(got, want[i].reads, want[i].reads + SLACK);
	}
	assert_false(harness_has(&ap, "apps." RN_THREAD ".vfs_read_call"));
	assert_false(harness_has(&ap, "apps." RN_SIBLING ".vfs_read_call"));
	assert_true(harness_has(&ap, "apps." RN_EXEC ".task_exit"));
	harness_free(&ap);
}

/*
 * Threads of one process reading at once, pinned round the CPUs twice over,
 * while another process reads on the same CPUs (taking their slots over),
 * collects run, and the leader renames the process back and forth between
 * two names, moving the counts of every CPU's slot each time. Each read is
 * counted once: the two names together have every read of the process's
 * threads, and the other process every read of its own. The process's own
 * count is also the kernel's: /proc/self/io's syscr, read as its last call.
 * The workload runs for MT_MS of its own clock, so it spans collects in a
 * guest as here.
 */
#define MT_BEFORE "bpfpushmtA"
#define MT_AFTER "bpfpushmtB"
#define MT_OTHER "bpfpushmtO"
#define MT_MS 2500
#define MT_MAX_THREADS 32

struct mt_run {
	uint64_t reads[MT_MAX_THREADS + 1]; /* each thread's, then the leader's */
	uint64_t other_reads;
	uint64_t syscr; /* the kernel's count of the process's read calls, every thread's (/proc/self/io) */
	int cpus[MT_MAX_THREADS];
	int nthreads, zero;
	int stop; /* set by the leader; read by the threads and the other process */
	int thread_failed;
};

static uint64_t mt_read_until_stopped(struct mt_run *r)
{
	uint64_t n = 0;
	char c;
	while (!__atomic_load_n(&r->stop, __ATOMIC_RELAXED)) {
		if (read(r->zero, &c, 1) != 1)
			break;
		n++;
	}
	return n;
}

struct mt_thread {
	struct mt_run *run;
	int index;
};

static void *mt_thread_body(void *arg)
{
	struct mt_thread *t = arg;
	struct mt_run *r = t->run;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(r->cpus[t->index], &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		__atomic_store_n(&r->thread_failed, 1, __ATOMIC_RELAXED);
	r->reads[t->index] = mt_read_until_stopped(r);
	return NULL;
}

static int mt_workload(void *arg)
{
	struct mt_run *r = arg;
	r->zero = open("/dev/zero", O_RDONLY);
	if (r->zero < 0)
		return 1;
	pid_t other = fork();
	if (other == 0) {
		if (prctl(PR_SET_NAME, MT_OTHER))
			_exit(1);
		r->other_reads = mt_read_until_stopped(r);
		_exit(0);
	}
	if (other < 0)
		return 2;
	pthread_t threads[MT_MAX_THREADS];
	struct mt_thread args[MT_MAX_THREADS];
	for (int i = 0; i < r->nthreads; i++) {
		args[i] = (struct mt_thread){ .run = r, .index = i };
		if (pthread_create(&threads[i], NULL, mt_thread_body, &args[i]))
			return 3;
	}
	/*
	 * The leader reads too, and every thousand reads renames the process,
	 * to the other of the two names, and looks at its clock.
	 */
	int64_t start = harness_now_ms();
	uint64_t n = 0;
	char c;
	for (int round = 1;; round++) {
		for (int i = 0; i < 1000; i++, n++)
			if (read(r->zero, &c, 1) != 1)
				return 4;
		if (prctl(PR_SET_NAME, round % 2 ? MT_AFTER : MT_BEFORE))
			return 5;
		if (harness_now_ms() - start >= MT_MS && round % 2)
			break;
	}
	r->reads[r->nthreads] = n;
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < r->nthreads; i++)
		if (pthread_join(threads[i], NULL))
			return 6;
	/*
	 * The last read: the value excludes it, and the agent counts it. Before
	 * waitpid: reaping a child adds its counts to its parent's.
	 */
	char io[512];
	int fd = open("/proc/self/io", O_RDONLY);
	ssize_t len = fd < 0 ? -1 : read(fd, io, sizeof(io) - 1);
	if (fd >= 0)
		close(fd);
	const char *syscr = len > 0 ? (io[len] = '\0', strstr(io, "syscr: ")) : NULL;
	if (!syscr)
		return 9;
	r->syscr = strtoull(syscr + strlen("syscr: "), NULL, 10);
	int status;
	if (waitpid(other, &status, 0) != other || !WIFEXITED(status) || WEXITSTATUS(status))
		return 7;
	return r->thread_failed ? 8 : 0;
}

static void test_threads_on_every_cpu_counted_once_through_rename(void **state)
{
	(void)state;
	char yaml[2048];
	harness_modules_yaml(yaml, sizeof(yaml), "", "", "{ enabled: true, group_by: comm }");
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	struct mt_run *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(r != MAP_FAILED);
	cpu_set_t allowed;
	assert_int_equal(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
	int ncpus = 0, cpus[MT_MAX_THREADS / 2];
	for (int c = 0; c < CPU_SETSIZE && ncpus < MT_MAX_THREADS / 2; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpus++] = c;
	r->nthreads = 2 * ncpus;
	for (int i = 0; i < r->nthreads; i++)
		r->cpus[i] = cpus[i % ncpus];
	print_message("apps, %d threads on %d CPUs and another process\n", r->nthreads, ncpus);
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child(MT_BEFORE, mt_workload, r), 0);
	harness_wait_for(&ap, "apps." MT_AFTER ".task_exit", (uint64_t)r->nthreads + 1, 10000);
	harness_wait_for(&ap, "apps." MT_OTHER ".task_exit", 1, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t mine = 0;
	for (int i = 0; i <= r->nthreads; i++)
		mine += r->reads[i];
	uint64_t before = harness_sum(&ap, "apps." MT_BEFORE ".vfs_read_call");
	uint64_t after = harness_sum(&ap, "apps." MT_AFTER ".vfs_read_call");
	uint64_t other = harness_sum(&ap, "apps." MT_OTHER ".vfs_read_call");
	print_message("  %s + %s: %llu + %llu = %llu, read %llu, the kernel's syscr %llu + its own read; %s: %llu, read %llu\n",
		      MT_BEFORE, MT_AFTER, (unsigned long long)before, (unsigned long long)after,
		      (unsigned long long)(before + after), (unsigned long long)mine, (unsigned long long)r->syscr, MT_OTHER,
		      (unsigned long long)other, (unsigned long long)r->other_reads);
	assert_true(before > 0 && after > 0);
	assert_in_range(before + after, mine, mine + SLACK);
	assert_int_equal(before + after, r->syscr + 1); /* every read call of the process, as the kernel counted them */
	assert_in_range(other, r->other_reads, r->other_reads + SLACK);
	munmap(r, sizeof(*r));
	harness_free(&ap);
}

/*
 * The depth counters (apps.counters), exact for a workload of their own:
 * fsyncs, creates, shm calls, TCP and UDP calls on loopback, connects and
 * accepts (a unix-socket accept must not count), failed clones (EINVAL from
 * flags the kernel refuses: a thread without CLONE_SIGHAND, shared signal
 * handlers without CLONE_VM; nothing is created), directory-cache lookups
 * where fentry/kprobes exist (a lower bound: each stat walks several).
 */
#define DEPTH_COMM "bpfpushdepth"
#define D_FSYNCS 30
#define D_FDATASYNCS 20
#define D_CREATS 10
#define D_OCREATS 15
#define D_OPENAT2_CREATES 5
#define D_SHM_ROUNDS 7
#define D_CONNECTS_V4 6
#define D_CONNECTS_V6 4
#define D_UNIX_ACCEPTS 2
#define D_TCP_MSGS 25
#define D_MSG_SIZE 100
#define D_UDP_MSGS 12
#define D_PROC_ERRORS 5
#define D_CLONE_THREAD_ERRORS 3
#define D_CLONE3_THREAD_ERRORS 2
#define D_STATS 50

struct depth_work {
	char dir[64];
	bool v6; /* ::1 is usable here */
};

static int depth_files(const struct depth_work *w)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/sync", w->dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600); /* one create */
	if (fd < 0 || write(fd, path, 8) != 8)
		return 1;
	for (int i = 0; i < D_FSYNCS; i++)
		if (fsync(fd))
			return 2;
	for (int i = 0; i < D_FDATASYNCS; i++)
		if (fdatasync(fd))
			return 3;
	close(fd);
	for (int i = 0; i < D_CREATS + D_OCREATS + D_OPENAT2_CREATES; i++) {
		snprintf(path, sizeof(path), "%s/new-%d", w->dir, i);
		struct open_how how = { .flags = O_CREAT | O_WRONLY, .mode = 0600 };
		if (i < D_CREATS)
			fd = creat(path, 0600);
		else if (i < D_CREATS + D_OCREATS)
			fd = open(path, O_CREAT | O_WRONLY, 0600);
		else
			fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
		if (fd < 0)
			return 4;
		close(fd);
		if (unlink(path))
			return 5;
	}
	snprintf(path, sizeof(path), "%s/sync", w->dir);
	struct stat st;
	for (int i = 0; i < D_STATS; i++)
		if (stat(path, &st))
			return 6;
	return unlink(path) ? 7 : 0;
}

static int depth_shm(void)
{
	for (int i = 0; i < D_SHM_ROUNDS; i++) {
		int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
		void *at = id < 0 ? (void *)-1 : shmat(id, NULL, 0);
		if (at == (void *)-1 || shmdt(at) || shmctl(id, IPC_RMID, NULL))
			return 1;
	}
	return 0;
}

/* n connects to a listener on the loopback of this family, each accepted; messages on the first. */
static int depth_tcp(int family, int n, int msgs)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
	}
	int l = socket(family, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&ss, len) || listen(l, n) || getsockname(l, (struct sockaddr *)&ss, &len))
		return 1;
	for (int i = 0; i < n; i++) {
		int c = socket(family, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&ss, len))
			return 2;
		int s = accept(l, NULL, NULL);
		if (s < 0)
			return 3;
		char buf[D_MSG_SIZE] = { 0 };
		for (int m = 0; i == 0 && m < msgs; m++) {
			/* The whole message is there before the receive: one call that returns it all. */
			struct pollfd p = { .fd = s, .events = POLLIN };
			int avail = 0;
			if (send(c, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
				return 4;
			while (avail < (int)sizeof(buf) && poll(&p, 1, 5000) == 1 && !ioctl(s, FIONREAD, &avail) &&
			       avail < (int)sizeof(buf))
				;
			if (recv(s, buf, sizeof(buf), MSG_WAITALL) != (ssize_t)sizeof(buf))
				return 5;
		}
		close(s);
		close(c);
	}
	close(l);
	return 0;
}

/* Accepts on a unix socket: not TCP, not counted. */
static int depth_unix(const struct depth_work *w)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/sock", w->dir);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, D_UNIX_ACCEPTS))
		return 1;
	for (int i = 0; i < D_UNIX_ACCEPTS; i++) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
			return 2;
		int s = accept(l, NULL, NULL);
		if (s < 0)
			return 3;
		close(s);
		close(c);
	}
	close(l);
	unlink(a.sun_path);
	return 0;
}

static int depth_udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	if (r < 0 || s < 0 || bind(r, (struct sockaddr *)&a, sizeof(a)) || getsockname(r, (struct sockaddr *)&a, &len))
		return 1;
	char buf[D_MSG_SIZE] = { 0 };
	for (int i = 0; i < D_UDP_MSGS; i++)
		if (sendto(s, buf, sizeof(buf), 0, (struct sockaddr *)&a, sizeof(a)) != (ssize_t)sizeof(buf) ||
		    recv(r, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return 2;
	close(r);
	close(s);
	return 0;
}

/* Clones the kernel refuses with EINVAL before making anything; one that succeeded would end at once. */
static int depth_failed_clones(void)
{
	for (int i = 0; i < D_PROC_ERRORS; i++) {
		long rc = syscall(SYS_clone, (unsigned long)CLONE_SIGHAND, 0UL, 0UL, 0UL, 0UL);
		if (rc == 0)
			_exit(99);
		if (rc > 0 || errno != EINVAL)
			return 1;
	}
	for (int i = 0; i < D_CLONE_THREAD_ERRORS; i++) {
		long rc = syscall(SYS_clone, (unsigned long)CLONE_THREAD, 0UL, 0UL, 0UL, 0UL);
		if (rc == 0)
			_exit(99);
		if (rc > 0 || errno != EINVAL)
			return 2;
	}
	for (int i = 0; i < D_CLONE3_THREAD_ERRORS; i++) {
		struct clone_args args = { .flags = CLONE_THREAD };
		long rc = syscall(SYS_clone3, &args, sizeof(args));
		if (rc == 0)
			_exit(99);
		if (rc > 0 || errno != EINVAL)
			return 3;
	}
	return 0;
}

/* Everything below is counted: keep depth_counters[] in step. */
static int depth_workload(void *arg)
{
	const struct depth_work *w = arg;
	int rc;
	if ((rc = depth_files(w)))
		return 10 + rc;
	if ((rc = depth_shm()))
		return 20 + rc;
	if ((rc = depth_tcp(AF_INET, D_CONNECTS_V4, D_TCP_MSGS)))
		return 30 + rc;
	if (w->v6 && (rc = depth_tcp(AF_INET6, D_CONNECTS_V6, 0)))
		return 40 + rc;
	if ((rc = depth_unix(w)))
		return 50 + rc;
	if ((rc = depth_udp()))
		return 60 + rc;
	if ((rc = depth_failed_clones()))
		return 70 + rc;
	return 0;
}

struct depth_counter {
	const char *name;
	const char *event;   /* its entry-mode event (--probe); "_result" is its return-mode twin where paired */
	bool paired, needs_result, at_least;
	uint64_t exact;      /* with v6; v6_part is taken off without */
	uint64_t v6_part;
};

static const struct depth_counter depth_counters[] = {
	{ "fsync", "fsync", true, false, false, D_FSYNCS, 0 },
	{ "fdatasync", "fsync", true, false, false, D_FDATASYNCS, 0 },
	{ "file_create", "file_open", true, false, false, 1 + D_CREATS + D_OCREATS + D_OPENAT2_CREATES, 0 },
	{ "shm_get", "shm", true, false, false, D_SHM_ROUNDS, 0 },
	{ "shm_at", "shm", true, false, false, D_SHM_ROUNDS, 0 },
	{ "shm_dt", "shm", true, false, false, D_SHM_ROUNDS, 0 },
	{ "shm_ctl", "shm", true, false, false, D_SHM_ROUNDS, 0 },
	{ "tcp_send_calls", "sent", true, false, false, D_TCP_MSGS, 0 },
	{ "tcp_recv_calls", "recv", true, false, false, D_TCP_MSGS, 0 },
	{ "udp_send_calls", "sent", true, false, false, D_UDP_MSGS, 0 },
	{ "udp_recv_calls", "recv", true, false, false, D_UDP_MSGS, 0 },
	{ "tcp_connect_v4", "tcp_state", false, false, false, D_CONNECTS_V4, 0 },
	{ "tcp_connect_v6", "tcp_state", false, false, false, D_CONNECTS_V6, D_CONNECTS_V6 },
	{ "tcp_accept", "tcp_accept", true, true, false, D_CONNECTS_V4 + D_CONNECTS_V6, D_CONNECTS_V6 },
	{ "process_create_errors", "create_errors", false, true, false, D_PROC_ERRORS, 0 },
	{ "thread_create_errors", "create_errors", false, true, false, D_CLONE_THREAD_ERRORS + D_CLONE3_THREAD_ERRORS, 0 },
	{ "dcstat_references", "dc_reference", false, false, true, D_STATS, 0 },
};
#define DEPTH_COUNTERS (sizeof(depth_counters) / sizeof(depth_counters[0]))

static bool loopback6_usable(void)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = in6addr_loopback };
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	bool ok = s >= 0 && !bind(s, (struct sockaddr *)&a, sizeof(a));
	if (s >= 0)
		close(s);
	return ok;
}

static void run_depth(const char *mode, const char *tier)
{
	char extra[128], yaml[2048];
	snprintf(extra, sizeof(extra), ", load_mode: %s%s%s", mode, tier[0] ? ", attach: " : "", tier);
	harness_modules_yaml(yaml, sizeof(yaml), extra, "",
			     "{ enabled: true, group_by: comm, counters: { dcstat: true, tcp_retransmits: true } }");
	print_message("apps depth, load_mode %s, attach %s\n", mode, tier[0] ? tier : "(automatic or the matrix's)");
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char ways[DEPTH_COUNTERS][128];
	for (size_t c = 0; c < DEPTH_COUNTERS; c++) {
		char event[64];
		snprintf(event, sizeof(event), "%s%s", depth_counters[c].event,
			 !strcmp(mode, "return") && depth_counters[c].paired ? "_result" : "");
		assert_int_equal(harness_probe_way(&ap, "apps", event, ways[c], sizeof(ways[c])), 0);
	}
	struct depth_work w = { .v6 = loopback6_usable() };
	snprintf(w.dir, sizeof(w.dir), "/tmp/bpfpush-depth-XXXXXX");
	assert_non_null(mkdtemp(w.dir));
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child(DEPTH_COMM, depth_workload, &w), 0);
	harness_wait_for(&ap, "apps." DEPTH_COMM ".task_exit", 1, 10000);
	harness_wait_for(&ap, "apps." DEPTH_COMM ".shm_ctl", D_SHM_ROUNDS, 3000);
	assert_int_equal(harness_stop(&ap), 0);
	for (size_t c = 0; c < DEPTH_COUNTERS; c++) {
		const struct depth_counter *d = &depth_counters[c];
		char name[96];
		snprintf(name, sizeof(name), "apps." DEPTH_COMM ".%s", d->name);
		bool measured = ways[c][0] && (!d->needs_result || result_seen(mode, ways[c]));
		if (!measured) {
			print_message("  %-24s not measured by this way (%s): absent\n", d->name, ways[c][0] ? ways[c] : "none");
			assert_false(harness_has(&ap, name));
			continue;
		}
		uint64_t exact = d->exact - (w.v6 ? 0 : d->v6_part), got = harness_sum(&ap, name);
		uint64_t hi = d->at_least ? UINT64_MAX : exact;
		print_message("  %-24s %8llu %s %llu   via %s\n", d->name, (unsigned long long)got,
			      d->at_least ? ">=" : "==", (unsigned long long)exact, ways[c]);
		assert_in_range(got, exact, hi);
	}
	rmdir(w.dir);
	harness_free(&ap);
}

/*
 * The VM matrix forces its tier through the environment (an event with no
 * way of that tier, as rename, chooses its own); here each tracepoint tier.
 */
static void test_renamed_leader_moves_later_counts(void **state)
{
	(void)state;
	assert_others_cannot_rename();
	const char *env = getenv("BPFPUSH_TEST_ATTACH");
	static const char *const tiers[] = { "tp_btf", "raw_tp", "tracepoint" };
	if (env && *env) {
		run_renames("");
		return;
	}
	for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++)
		run_renames(tiers[i]);
}

/*
 * Here each tracepoint tier in entry mode, then load_mode return. Under the
 * matrix's fentry or kprobe (emulated guests, a time limit per binary) only
 * load_mode return: the one that attaches every depth event.
 */
static void test_depth_counters_exact(void **state)
{
	(void)state;
	const char *env = getenv("BPFPUSH_TEST_ATTACH");
	static const char *const tiers[] = { "", "raw_tp", "tracepoint" };
	for (size_t i = 0; !(env && *env) && i < sizeof(tiers) / sizeof(tiers[0]); i++)
		run_depth("entry", tiers[i]);
	run_depth("return", "");
}

/*
 * apps.tcp_retransmits by the socket's owner, against the kernel's own count:
 * as tests/integration/test_retransmit.c, a sender in a network namespace of
 * its own whose receiver drops one in RETX_DROP_ONE_IN data packets after they
 * were sent; that namespace's RetransSegs is the reference, and every
 * retransmit in it is the workload's, so the app's count is
 * [RetransSegs - TCPRetransFail - TCPLossProbes, RetransSegs]: from 6.10 the
 * tracepoint is in tcp_retransmit_skb(), which a tail-loss probe bypasses
 * (it still counts in RetransSegs), and a probe may also send new data.
 */
#define RETX_COMM "bpfpushretx"
#define RETX_BYTES (2u << 20) /* enough drops for a count, short enough for emulated guests */
#define RETX_DROP_ONE_IN 5

struct retx_counts {
	uint64_t segs, fail, probes;
};

static void retx_read(struct retx_counts *c)
{
	/* A counter this kernel lacks reads as UINT64_MAX (harness_proc_net_value leaves it as set). */
	c->segs = c->fail = c->probes = UINT64_MAX;
	harness_proc_net_value("/proc/net/snmp", "Tcp:", "RetransSegs", &c->segs);
	harness_proc_net_value("/proc/net/netstat", "TcpExt:", "TCPRetransFail", &c->fail);
	harness_proc_net_value("/proc/net/netstat", "TcpExt:", "TCPLossProbes", &c->probes);
}

static int retx_reader(int listener)
{
	static struct sock_filter code[] = { /* drop one in RETX_DROP_ONE_IN packets longer than 200 bytes */
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 200, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM)),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, RETX_DROP_ONE_IN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	int s = accept(listener, NULL, NULL);
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		return 1;
	static char buf[1 << 16];
	ssize_t r;
	while ((r = recv(s, buf, sizeof(buf), 0)) > 0)
		;
	close(s);
	return r == 0 ? 0 : 2;
}

static int retx_workload(void *arg)
{
	struct retx_counts *delta = arg;
	struct ifreq ifr = { .ifr_name = "lo" };
	int ctl = unshare(CLONE_NEWNET) ? -1 : socket(AF_INET, SOCK_DGRAM, 0);
	if (ctl < 0 || ioctl(ctl, SIOCGIFFLAGS, &ifr))
		return 10;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(ctl, SIOCSIFFLAGS, &ifr))
		return 11;
	close(ctl);
	struct retx_counts before, after;
	retx_read(&before);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &len))
		return 12;
	pid_t pid = fork();
	if (pid == 0)
		_exit(retx_reader(l));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (pid < 0 || c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 13;
	static char chunk[1 << 16];
	for (unsigned sent = 0; sent < RETX_BYTES; sent += sizeof(chunk))
		if (send(c, chunk, sizeof(chunk), 0) != (ssize_t)sizeof(chunk))
			return 14;
	shutdown(c, SHUT_WR); /* the reader's FIN acknowledges the last byte: nothing is left to retransmit */
	while (recv(c, chunk, sizeof(chunk), 0) > 0)
		;
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return 15;
	retx_read(&after);
	delta->segs = after.segs - before.segs;
	delta->fail = after.fail - before.fail;
	delta->probes = after.probes - before.probes;
	close(c);
	close(l);
	return 0;
}

/*
 * Exits while the CPUs' slots are held (probes/app_process.bpf.h): the test
 * holds them through the agent's own mapping, as a collect does, while
 * HELD_CHILDREN processes whose reads sit in the slots exit. Their exits
 * cannot fold the held slots: each leaves its entry, marked exited, for a
 * collect after the release to fold with the slots, and every read counts once.
 */
#define HELD_CHILDREN 64
#define HELD_READS 10

static long bpf_call(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* The agent's app_slots map, mapped; NULL where there is none. Raw bpf(2): the tests link no libbpf. */
static struct app_slot_table *map_agent_slots(size_t *bytes)
{
	union bpf_attr next = { 0 };
	while (!bpf_call(BPF_MAP_GET_NEXT_ID, &next)) {
		next.start_id = next.next_id;
		union bpf_attr by_id = { .map_id = next.next_id };
		int fd = (int)bpf_call(BPF_MAP_GET_FD_BY_ID, &by_id);
		if (fd < 0)
			continue;
		struct bpf_map_info info = { 0 };
		union bpf_attr get = { .info = { .bpf_fd = (__u32)fd, .info_len = sizeof(info), .info = (__u64)(uintptr_t)&info } };
		bool found = !bpf_call(BPF_OBJ_GET_INFO_BY_FD, &get) && !strcmp(info.name, "app_slots") &&
			     info.value_size == sizeof(struct app_slot_table);
		if (found) {
			long page = sysconf(_SC_PAGESIZE);
			*bytes = (sizeof(struct app_slot_table) + (size_t)page - 1) / (size_t)page * (size_t)page;
			void *m = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			close(fd);
			return m == MAP_FAILED ? NULL : m;
		}
		close(fd);
	}
	return NULL;
}

static void test_exit_while_slots_held_folds_at_collect(void **state)
{
	(void)state;
	struct agent_proc ap;
	start_apps_with_table(&ap, 4096);
	size_t bytes = 0;
	struct app_slot_table *slots = map_agent_slots(&bytes);
	assert_non_null(slots);
	int go[2], done[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	/*
	 * The children on the last CPU, this process on the first: the last child
	 * to read there still owns that CPU's slot when it is held (this process's
	 * own reads take the first CPU's over).
	 */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t first_cpu, last_cpu, before;
	CPU_ZERO(&first_cpu);
	CPU_ZERO(&last_cpu);
	CPU_SET(0, &first_cpu);
	CPU_SET(ncpu > 1 ? (int)ncpu - 1 : 0, &last_cpu);
	assert_int_equal(sched_getaffinity(0, sizeof(before), &before), 0);
	assert_int_equal(sched_setaffinity(0, sizeof(first_cpu), &first_cpu), 0);
	pid_t kids[HELD_CHILDREN];
	for (int i = 0; i < HELD_CHILDREN; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			prctl(PR_SET_NAME, "bpfpushheld");
			sched_setaffinity(0, sizeof(last_cpu), &last_cpu);
			close(go[1]);
			int fd = open("/dev/zero", O_RDONLY);
			char c;
			for (int r = 0; r < HELD_READS; r++)
				if (fd < 0 || read(fd, &c, 1) != 1)
					_exit(1);
			/*
			 * Waiting in poll(2), not read(2): under the kprobe tier a task blocked
			 * in a counted syscall holds one of its return probe's few instances
			 * (max(10, 2 x CPUs)), and the reads of the others would go unseen.
			 */
			struct pollfd wait_go = { .fd = go[0], .events = POLLIN };
			_exit(write(done[1], "r", 1) != 1 || poll(&wait_go, 1, -1) != 1);
		}
		assert_true(kids[i] > 0);
	}
	close(go[0]);
	assert_int_equal(harness_wait_bytes(done[0], HELD_CHILDREN, 20000), 0);
	/* Hold every CPU's slot, waiting out a program mid-way, and note whose reads they hold. */
	int owned = 0;
	for (int i = 0; i < APP_SLOT_MAX_CPUS; i++) {
		unsigned long long *word = &slots->slot[i].owner, owner;
		do
			owner = __atomic_load_n(word, __ATOMIC_ACQUIRE) & ~APP_SLOT_CLAIMED;
		while (!__atomic_compare_exchange_n(word, &owner, owner | APP_SLOT_CLAIMED, false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST));
		for (int k = 0; k < HELD_CHILDREN; k++)
			owned += owner == (unsigned long long)kids[k] && slots->slot[i].counts[APP_VFS_READ_CALL] > 0;
	}
	close(go[1]); /* every child exits now, its slot held */
	for (int i = 0; i < HELD_CHILDREN; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	for (int i = 0; i < APP_SLOT_MAX_CPUS; i++)
		__atomic_and_fetch(&slots->slot[i].owner, ~APP_SLOT_CLAIMED, __ATOMIC_SEQ_CST);
	sched_setaffinity(0, sizeof(before), &before);
	int want = HELD_CHILDREN * HELD_READS;
	int seen = harness_wait_for(&ap, "apps.bpfpushheld.vfs_read_call", want, 10000);
	harness_wait_for(&ap, "apps.bpfpushheld.task_exit", HELD_CHILDREN, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t reads = harness_sum(&ap, "apps.bpfpushheld.vfs_read_call");
	uint64_t exits = harness_sum(&ap, "apps.bpfpushheld.task_exit");
	print_message("  %d children exited, %d of them with its reads in a held slot; vfs_read_call %llu == %d, "
		      "task_exit %llu == %d\n",
		      HELD_CHILDREN, owned, (unsigned long long)reads, want, (unsigned long long)exits, HELD_CHILDREN);
	assert_int_equal(seen, 0);
	assert_int_equal(reads, want);
	assert_int_equal(exits, HELD_CHILDREN);
	munmap(slots, bytes);
	close(done[0]);
	close(done[1]);
	harness_free(&ap);
}

/*
 * Tasks blocked in read(2) while others read. Under the kprobe tier each
 * blocked task holds one of the read return probe's instances (the kernel
 * gives it max(10, 2 x possible CPUs)); with more blocked than that, the
 * others' returns are missed, and kernels from 6.7 count them in the probe's
 * link (agent.bpf.missed{module=syscalls}). Every read is then counted or
 * counted as missed; on the other tiers every read is counted.
 */
#define BLOCKED_BEYOND 12
#define MISS_READERS 8
#define MISS_READS 200

/* Possible CPUs, from /sys/devices/system/cpu/possible ("0-N"); the configured ones without it. */
static int possible_cpus(void)
{
	int first = 0, last = -1;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	if (f) {
		if (fscanf(f, "%d-%d", &first, &last) == 1)
			last = first;
		fclose(f);
	}
	return last >= 0 ? last + 1 : (int)sysconf(_SC_NPROCESSORS_CONF);
}

/* Is every pid inside read(2) (/proc/PID/syscall's first field)? */
static bool all_in_read(const pid_t *pids, int n)
{
	for (int i = 0; i < n; i++) {
		char path[64];
		long nr = -1;
		snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pids[i]);
		FILE *f = fopen(path, "r");
		if (!f)
			return false;
		int got = fscanf(f, "%ld", &nr);
		fclose(f);
		if (got != 1 || nr != SYS_read)
			return false;
	}
	return true;
}

static int miss_reader(void *arg)
{
	(void)arg;
	int fd = open("/dev/zero", O_RDONLY);
	char c;
	for (int r = 0; r < MISS_READS; r++)
		if (fd < 0 || read(fd, &c, 1) != 1)
			return 1;
	return 0;
}

static void test_reads_past_return_probe_instances_counted_or_missed(void **state)
{
	(void)state;
	struct agent_proc ap;
	start_apps_with_table(&ap, 4096);
	char way[128] = "";
	assert_int_equal(harness_probe_way(&ap, "apps", "vfs_read", way, sizeof(way)), 0);
	if (!way[0]) /* the reads hooked at their return, for bytes and errors */
		assert_int_equal(harness_probe_way(&ap, "apps", "vfs_read_result", way, sizeof(way)), 0);
	assert_true(way[0]);
	int cpus = possible_cpus(), instances = 2 * cpus > 10 ? 2 * cpus : 10;
	int blocked = instances + BLOCKED_BEYOND;
	pid_t *blockers = calloc((size_t)blocked, sizeof(*blockers));
	assert_non_null(blockers);
	int go[2];
	assert_int_equal(pipe(go), 0);
	for (int i = 0; i < blocked; i++) {
		blockers[i] = fork();
		if (blockers[i] == 0) {
			prctl(PR_SET_NAME, "bpfpushblocked");
			close(go[1]);
			char c;
			_exit(read(go[0], &c, 1) != 0);
		}
		assert_true(blockers[i] > 0);
	}
	close(go[0]);
	int64_t deadline = harness_now_ms() + 20000;
	while (!all_in_read(blockers, blocked) && harness_now_ms() < deadline)
		sched_yield();
	assert_true(all_in_read(blockers, blocked));
	pid_t readers[MISS_READERS];
	for (int i = 0; i < MISS_READERS; i++) {
		readers[i] = fork();
		if (readers[i] == 0) {
			prctl(PR_SET_NAME, "bpfpushmiss");
			_exit(miss_reader(NULL));
		}
		assert_true(readers[i] > 0);
	}
	for (int i = 0; i < MISS_READERS; i++) {
		int status;
		assert_int_equal(waitpid(readers[i], &status, 0), readers[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* An exit's snapshot carries the process's final counts. */
	harness_wait_for(&ap, "apps.bpfpushmiss.task_exit", MISS_READERS, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	close(go[1]); /* the blocked reads end only now: none of them is in the figures */
	for (int i = 0; i < blocked; i++)
		waitpid(blockers[i], NULL, 0);
	free(blockers);
	uint64_t want = MISS_READERS * MISS_READS;
	uint64_t counted = harness_sum(&ap, "apps.bpfpushmiss.vfs_read_call");
	uint64_t missed = harness_sum(&ap, "agent.bpf.syscalls.missed");
	bool kprobe = strstr(way, "kprobe") != NULL;
	print_message("  via %s, %d tasks blocked in read(2) (%d possible CPUs): vfs_read_call %llu of %llu, "
		      "missed %llu\n",
		      way, blocked, cpus, (unsigned long long)counted, (unsigned long long)want,
		      (unsigned long long)missed);
	assert_in_range(counted, 0, want);
	if (!kprobe)
		assert_int_equal(counted, want);
	else if (harness_kernel_counts_classic_misses())
		assert_true(counted + missed >= want);
	else
		print_message("  kernels before 6.7 do not count a kretprobe's misses: not checked\n");
	harness_free(&ap);
}

/* Tracepoint ways only: under the matrix, once per kernel (its kprobe run). */
static void test_retransmits_by_socket_owner(void **state)
{
	(void)state;
	const char *env = getenv("BPFPUSH_TEST_ATTACH");
	if (env && *env && strcmp(env, "kprobe")) {
		/* Passed, not skipped: the VM matrix counts a skipped test as failed. */
		print_message("  tracepoint ways only: run under the matrix's kprobe tier, not %s\n", env);
		return;
	}
	char yaml[2048];
	harness_modules_yaml(yaml, sizeof(yaml), "", "", "{ enabled: true, group_by: comm, counters: { tcp_retransmits: true } }");
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char way[128];
	assert_int_equal(harness_probe_way(&ap, "apps", "tcp_retransmit", way, sizeof(way)), 0);
	struct retx_counts *delta = mmap(NULL, sizeof(*delta), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(delta != MAP_FAILED);
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_run_child(RETX_COMM, retx_workload, delta), 0);
	harness_wait_for(&ap, "apps." RETX_COMM ".tcp_retransmits", delta->segs, 3000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t got = harness_sum(&ap, "apps." RETX_COMM ".tcp_retransmits");
	uint64_t off = delta->fail + delta->probes, lo = delta->segs - (off < delta->segs ? off : delta->segs);
	print_message("  via %s: RetransSegs %llu (TCPRetransFail %llu, TCPLossProbes %llu); apps.tcp_retransmits %llu "
		      "in [%llu, %llu]\n", way, (unsigned long long)delta->segs, (unsigned long long)delta->fail,
		      (unsigned long long)delta->probes, (unsigned long long)got, (unsigned long long)lo,
		      (unsigned long long)delta->segs);
	assert_true(delta->segs > 0);
	assert_in_range(got, lo, delta->segs);
	munmap(delta, sizeof(*delta));
	harness_free(&ap);
}

int main(int argc, char **argv)
{
	/* The rename test execs this binary under the name RN_EXEC: the exec is all it needs. */
	if (argc > 0 && !strcmp(basename(argv[0]), RN_EXEC))
		return 0;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_counter_exact_with_short_lived_children),
		cmocka_unit_test(test_grouping_by_cgroup_and_unit),
		cmocka_unit_test(test_apps_and_cgroups_together),
		cmocka_unit_test(test_tiny_pid_table_refuses_and_counts),
		cmocka_unit_test(test_idle_process_counts_again_when_it_moves),
		cmocka_unit_test(test_overflowing_moved_ring_reads_whole_table),
		cmocka_unit_test(test_cachestat_per_app),
		cmocka_unit_test(test_max_groups_bounds_every_flush),
		cmocka_unit_test(test_renamed_leader_moves_later_counts),
		cmocka_unit_test(test_threads_on_every_cpu_counted_once_through_rename),
		cmocka_unit_test(test_depth_counters_exact),
		cmocka_unit_test(test_retransmits_by_socket_owner),
		cmocka_unit_test(test_exit_while_slots_held_folds_at_collect),
		cmocka_unit_test(test_reads_past_return_probe_instances_counted_or_missed),
	};
	/* One test by name (a glob) when a developer asks: BPFPUSH_TEST_ONLY=test_depth_* build/tests/test_apps */
	const char *only = getenv("BPFPUSH_TEST_ONLY");
	if (only && *only)
		cmocka_set_test_filter(only);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
