#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

const char *harness_agent_bin(void)
{
	const char *bin = getenv("BPFPUSH_BIN");
	return bin && *bin ? bin : "build/bpfpush";
}

void harness_global(char *buf, size_t cap, const char *extra)
{
	const char *attach = getenv("BPFPUSH_TEST_ATTACH");
	const char *layer = getenv("BPFPUSH_TEST_SYSCALL_LAYER");
	char forced[128] = "";
	if (attach && *attach && !strstr(extra, "attach:"))
		snprintf(forced, sizeof(forced), ", attach: %s", attach);
	if (layer && *layer && !strstr(extra, "syscall_layer:"))
		snprintf(forced + strlen(forced), sizeof(forced) - strlen(forced), ", syscall_layer: %s", layer);
	const char *level = strstr(extra, "log_level:") ? "" : ", log_level: warning";
	snprintf(buf, cap, "global: { interval: 1s%s%s%s }\n", level, forced, extra);
}

void harness_modules_yaml(char *buf, size_t cap, const char *extra, const char *enabled, const char *apps)
{
	static const char *const default_on[] = { "process", "fd",	"vfs",	   "sync",    "mount",	 "shm",
						  "socket",  "network", "oomkill", "hardirq", "softirq" };
	size_t len;
	harness_global(buf, cap, extra);
	len = strlen(buf);
	len += (size_t)snprintf(buf + len, cap - len, "modules:\n");
	for (size_t i = 0; i < sizeof(default_on) / sizeof(default_on[0]) && len < cap; i++) {
		size_t n = strlen(default_on[i]);
		const char *p = strstr(enabled, default_on[i]);
		bool on = p && (p == enabled || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ');
		if (!on)
			len += (size_t)snprintf(buf + len, cap - len, "  %s: { enabled: false }\n", default_on[i]);
	}
	for (const char *p = enabled; *p && len < cap;) {
		size_t n = strcspn(p, " ");
		if (n)
			len += (size_t)snprintf(buf + len, cap - len, "  %.*s: { enabled: true }\n", (int)n, p);
		p += n + (p[n] == ' ');
	}
	if (len < cap)
		len += (size_t)snprintf(buf + len, cap - len, "apps: %s\n", apps ? apps : "{ enabled: false }");
	/* cgroups (default on) runs the apps module too: off unless the apps text brings its own line. */
	if (len < cap && (!apps || !strstr(apps, "\ncgroups:")))
		snprintf(buf + len, cap - len, "cgroups: { enabled: false }\n");
}

int harness_module_options(char *buf, size_t cap, const char *module, const char *options)
{
	char off[96], line[1024];
	snprintf(off, sizeof(off), "  %s: { enabled: false }\n", module);
	char *at = strstr(buf, off);
	int n = snprintf(line, sizeof(line), "  %s: { %s }\n", module, options);
	if (!at || n < 0 || (size_t)n >= sizeof(line))
		return -1;
	size_t tail = strlen(at + strlen(off));
	if ((size_t)(at - buf) + (size_t)n + tail + 1 > cap)
		return -1;
	memmove(at + n, at + strlen(off), tail + 1);
	memcpy(at, line, (size_t)n);
	return 0;
}

uint64_t harness_hist_events(const struct agent_proc *ap, const char *path)
{
	static const char *const le[] = { "1",	   "2",	      "4",	 "8",	    "16",      "32",	  "64",
					  "128",     "256",     "512",     "1024",    "2048",    "4096",    "8192",
					  "16384",   "32768",   "65536",   "131072",  "262144",  "524288",  "1048576",
					  "2097152", "4194304", "8388608", "16777216", "33554432", "67108864", "max" };
	char name[192];
	uint64_t sum = 0;
	for (size_t i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
		snprintf(name, sizeof(name), "%s.bucket.le_%s", path, le[i]);
		sum += harness_sum(ap, name);
	}
	return sum;
}

int64_t harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool harness_kernel_counts_classic_misses(void)
{
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 7);
}

uint64_t harness_vmstat(const char *key)
{
	/* Node counters are kept per CPU and folded only past a threshold or once a second. */
	harness_write_file("/proc/sys/vm/stat_refresh", "1");
	FILE *f = fopen("/proc/vmstat", "r");
	char name[64];
	unsigned long long v, found = 0;
	while (f && fscanf(f, "%63s %llu", name, &v) == 2)
		if (!strcmp(name, key))
			found = v;
	if (f)
		fclose(f);
	return found;
}

void harness_forced_tier(const char *extra, char *tier, size_t cap)
{
	const char *p = strstr(extra, "attach: "), *env = getenv("BPFPUSH_TEST_ATTACH");
	tier[0] = '\0';
	if (p)
		snprintf(tier, cap, "%.*s", (int)strcspn(p + 8, " ,}"), p + 8);
	else if (env)
		snprintf(tier, cap, "%s", env);
}

int harness_loop_attach(const char *backing_path, off_t size, char *dev, size_t cap, int *loop_fd)
{
	int backing = open(backing_path, O_RDWR | O_CREAT, 0600);
	struct stat st;
	if (backing < 0 || fstat(backing, &st) || (st.st_size < size && ftruncate(backing, size))) {
		if (backing >= 0)
			close(backing);
		return -1;
	}
	int ctl = open("/dev/loop-control", O_RDWR);
	int n = ctl >= 0 ? ioctl(ctl, LOOP_CTL_GET_FREE) : -1;
	if (ctl >= 0)
		close(ctl);
	if (n >= 0) {
		snprintf(dev, cap, "/dev/loop%d", n);
		*loop_fd = open(dev, O_RDWR);
		if (*loop_fd >= 0 && ioctl(*loop_fd, LOOP_SET_FD, backing)) {
			close(*loop_fd);
			*loop_fd = -1;
		}
	}
	close(backing);
	return n >= 0 && *loop_fd >= 0 ? n : -1;
}

void harness_loop_detach(int loop_fd)
{
	if (loop_fd < 0)
		return;
	ioctl(loop_fd, LOOP_CLR_FD, 0);
	close(loop_fd);
}

int harness_cache_dev_create(struct harness_cache_dev *cd, const char *dir_template)
{
	memset(cd, 0, sizeof(*cd));
	cd->loop_fd = -1;
	snprintf(cd->dir, sizeof(cd->dir), "%s", dir_template);
	if (!mkdtemp(cd->dir))
		return -1;
	snprintf(cd->backing, sizeof(cd->backing), "%s/backing", cd->dir);
	int fd = open(cd->backing, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	/* Written, not a hole: every page is in the backing file before the workload reads the device. */
	static char page[HARNESS_PAGE];
	memset(page, 0xa5, sizeof(page));
	for (int i = 0; i < HARNESS_CACHE_PAGES; i++)
		if (write(fd, page, HARNESS_PAGE) != HARNESS_PAGE) {
			close(fd);
			return -1;
		}
	if (fsync(fd)) {
		close(fd);
		return -1;
	}
	close(fd);
	off_t size = (off_t)HARNESS_CACHE_PAGES * HARNESS_PAGE;
	return harness_loop_attach(cd->backing, size, cd->dev, sizeof(cd->dev), &cd->loop_fd) < 0 ? -1 : 0;
}

void harness_cache_dev_remove(struct harness_cache_dev *cd)
{
	harness_loop_detach(cd->loop_fd);
	cd->loop_fd = -1;
	unlink(cd->backing);
	rmdir(cd->dir);
}

int harness_cache_workload(void *dev_path)
{
	int fd = open((const char *)dev_path, O_RDWR);
	static char page[HARNESS_PAGE];
	if (fd < 0 || ioctl(fd, BLKFLSBUF, 0))
		return 1;
	for (int pass = 0; pass < 2; pass++)
		for (off_t i = 0; i < HARNESS_CACHE_PAGES; i++)
			if (pread(fd, page, HARNESS_PAGE, i * HARNESS_PAGE) != HARNESS_PAGE)
				return 2;
	memset(page, 0x5a, sizeof(page));
	for (off_t i = 0; i < HARNESS_CACHE_PAGES; i++)
		if (pwrite(fd, page, HARNESS_PAGE, i * HARNESS_PAGE) != HARNESS_PAGE)
			return 3;
	if (fsync(fd))
		return 4;
	return close(fd);
}

int harness_config(struct agent_proc *ap, const char *yaml_without_sinks)
{
	return harness_config_sink(ap, yaml_without_sinks, "{ name: test, type: stdout, format: graphite, prefix: \"\" }");
}

int harness_config_sink(struct agent_proc *ap, const char *yaml_without_sinks, const char *sink)
{
	memset(ap, 0, sizeof(*ap));
	ap->pid = -1;
	ap->out_fd = -1;
	snprintf(ap->dir, sizeof(ap->dir), "/tmp/bpfpush-test-XXXXXX");
	if (!mkdtemp(ap->dir))
		return -1;
	snprintf(ap->config, sizeof(ap->config), "%s/bpfpush.yaml", ap->dir);
	FILE *f = fopen(ap->config, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\nsinks:\n  - %s\n", yaml_without_sinks, sink);
	return fclose(f);
}

const char *harness_shipped_config_path(void)
{
	const char *env = getenv("BPFPUSH_SHIPPED_CONFIG");
	if (env && *env)
		return env;
	return access("config/bpfpush.yaml", R_OK) == 0 ? "config/bpfpush.yaml" : "/etc/bpfpush/bpfpush.yaml";
}

int harness_config_shipped(struct agent_proc *ap)
{
	static char yaml[1 << 16];
	FILE *in = fopen(harness_shipped_config_path(), "r");
	if (!in)
		return -1;
	size_t len = 0;
	bool sinks = false;
	while (!sinks && len + 512 < sizeof(yaml) && fgets(yaml + len, 512, in)) {
		sinks = !strncmp(yaml + len, "sinks:", 6);
		if (sinks)
			yaml[len] = '\0';
		else
			len += strlen(yaml + len);
	}
	fclose(in);
	if (!sinks)
		return -1;
	return harness_config_sink(ap, yaml, "{ name: test, type: stdout, format: graphite-tagged, prefix: \"\" }");
}

/* Read what is available within timeout_ms; returns bytes read, 0 on EOF, -1 on timeout. */
static ssize_t read_some(struct agent_proc *ap, int timeout_ms)
{
	struct pollfd pfd = { .fd = ap->out_fd, .events = POLLIN };
	int rc = poll(&pfd, 1, timeout_ms);
	if (rc <= 0)
		return -1;
	if (ap->out_cap - ap->out_len < 4096) {
		size_t cap = ap->out_cap ? ap->out_cap * 2 : 65536;
		char *p = realloc(ap->out, cap + 1);
		if (!p)
			return -1;
		ap->out = p;
		ap->out_cap = cap;
	}
	ssize_t n = read(ap->out_fd, ap->out + ap->out_len, ap->out_cap - ap->out_len);
	if (n > 0) {
		ap->out_len += (size_t)n;
		ap->out[ap->out_len] = '\0';
	}
	return n < 0 ? -1 : n;
}

/* The least time a start may take before it counts as failed. */
#define START_DEADLINE_MIN_MS 60000

int harness_start(struct agent_proc *ap, int timeout_ms)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t test = getpid();
	ap->pid = fork();
	if (ap->pid < 0)
		return -1;
	if (ap->pid == 0) {
		/*
		 * A test whose assertion fails between start and stop leaves without
		 * harness_stop(). Its agent must not outlive it: it holds the test's
		 * stderr, and scripts/run-tests.sh would wait on that for ever
		 * instead of reporting the failure.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != test)
			_exit(127);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execl(harness_agent_bin(), "bpfpush", "-c", ap->config, (char *)NULL);
		perror("exec bpfpush");
		_exit(127);
	}
	close(fds[1]);
	ap->out_fd = fds[0];
	/*
	 * A deadline, not a timing: kprobes are registered one by one, each
	 * patching kernel text, and under QEMU TCG on a loaded 2-core host the
	 * first flush of a kprobe-tier start on 5.10 came after more than 10 s.
	 */
	if (timeout_ms < START_DEADLINE_MIN_MS)
		timeout_ms = START_DEADLINE_MIN_MS;
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (harness_now_ms() < deadline) {
		ssize_t n = read_some(ap, (int)(deadline - harness_now_ms()));
		if (n == 0) {
			fprintf(stderr, "harness: the agent exited before its first line\n");
			return -1;
		}
		if (ap->out_len && memchr(ap->out, '\n', ap->out_len))
			return 0;
	}
	fprintf(stderr, "harness: no line from the agent within %d ms of its start\n", timeout_ms);
	return -1;
}

int harness_start_logging(struct agent_proc *ap, int timeout_ms, char *log_path, size_t cap)
{
	snprintf(log_path, cap, "%s/agent.log", ap->dir);
	int saved = dup(STDERR_FILENO), log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (saved < 0 || log_fd < 0) {
		if (saved >= 0)
			close(saved);
		if (log_fd >= 0)
			close(log_fd);
		return -1;
	}
	dup2(log_fd, STDERR_FILENO);
	int started = harness_start(ap, timeout_ms);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(log_fd);
	return started;
}

int harness_wait_for(struct agent_proc *ap, const char *name, uint64_t at_least, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (harness_sum(ap, name) < at_least) {
		if (harness_now_ms() >= deadline || read_some(ap, (int)(deadline - harness_now_ms())) == 0)
			return -1;
	}
	return 0;
}

size_t harness_mark(const struct agent_proc *ap) { return ap->out_len; }

/* A line of `name` starting at or after mark with a value of at most at_most. */
static bool value_at_most_since(const struct agent_proc *ap, const char *name, size_t mark, uint64_t at_most)
{
	size_t n = strlen(name);
	const char *line = ap->out;
	if (line && mark > 0) {
		/* The line the mark fell in began before it: start at the next. */
		const char *nl = memchr(ap->out + mark - 1, '\n', ap->out_len - (mark - 1));
		line = nl ? nl + 1 : NULL;
	}
	while (line && *line) {
		const char *end = strchr(line, '\n');
		if (!end)
			break; /* not whole yet */
		if (!strncmp(line, name, n) && line[n] == ' ' && strtoull(line + n + 1, NULL, 10) <= at_most)
			return true;
		line = end + 1;
	}
	return false;
}

int harness_wait_value_at_most(struct agent_proc *ap, const char *name, size_t mark, uint64_t at_most,
			       int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	while (!value_at_most_since(ap, name, mark, at_most)) {
		if (harness_now_ms() >= deadline || read_some(ap, (int)(deadline - harness_now_ms())) == 0)
			return -1;
	}
	return 0;
}

int harness_wait_bytes(int fd, size_t count, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	char buf[4096];
	while (count > 0) {
		int64_t left = deadline - harness_now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return -1;
		ssize_t n = read(fd, buf, count < sizeof(buf) ? count : sizeof(buf));
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		count -= (size_t)n;
	}
	return 0;
}

int harness_stop(struct agent_proc *ap)
{
	if (ap->pid <= 0)
		return -1;
	kill(ap->pid, SIGTERM);
	int64_t deadline = harness_now_ms() + 15000;
	while (harness_now_ms() < deadline && read_some(ap, 1000) != 0)
		;
	int status = 0;
	if (waitpid(ap->pid, &status, 0) != ap->pid)
		return -1;
	ap->pid = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void harness_free(struct agent_proc *ap)
{
	if (ap->pid > 0) {
		kill(ap->pid, SIGKILL);
		waitpid(ap->pid, NULL, 0);
	}
	if (ap->out_fd >= 0)
		close(ap->out_fd);
	free(ap->out);
	unlink(ap->config);
	rmdir(ap->dir);
	memset(ap, 0, sizeof(*ap));
}

static bool scan(const struct agent_proc *ap, const char *name, uint64_t *sum)
{
	bool found = false;
	size_t n = strlen(name);
	*sum = 0;
	for (const char *line = ap->out; line && *line;) {
		const char *end = strchr(line, '\n');
		if (!strncmp(line, name, n) && line[n] == ' ') {
			found = true;
			*sum += strtoull(line + n + 1, NULL, 10);
		}
		line = end ? end + 1 : NULL;
	}
	return found;
}

uint64_t harness_sum(const struct agent_proc *ap, const char *name)
{
	uint64_t sum;
	scan(ap, name, &sum);
	return sum;
}

bool harness_has(const struct agent_proc *ap, const char *name)
{
	uint64_t sum;
	return scan(ap, name, &sum);
}

/*
 * `bpfpush --probe --json` for a config, kept for the next question about
 * the same file: a probe loads every module, which takes seconds under TCG.
 */
static const char *probe_json(const char *config)
{
	static char cached_path[128], *cached;
	static struct stat cached_st;
	struct stat st;
	if (stat(config, &st))
		return NULL;
	if (cached && !strcmp(cached_path, config) && st.st_mtim.tv_sec == cached_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == cached_st.st_mtim.tv_nsec && st.st_size == cached_st.st_size)
		return cached;
	free(cached);
	cached = NULL;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s --probe --json -c %s 2>/dev/null", harness_agent_bin(), config);
	FILE *p = popen(cmd, "r");
	if (!p)
		return NULL;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	size_t n;
	while (buf && (n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
		len += n;
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	pclose(p);
	if (!buf)
		return NULL;
	buf[len] = '\0';
	cached = buf;
	snprintf(cached_path, sizeof(cached_path), "%s", config);
	cached_st = st;
	return cached;
}

int harness_probe_way(const struct agent_proc *ap, const char *module, const char *event, char *way, size_t cap)
{
	const char *json = probe_json(ap->config);
	char key[128], ev[128];
	snprintf(key, sizeof(key), "{\"module\": \"%s\"", module);
	const char *mod = json ? strstr(json, key) : NULL;
	if (!mod)
		return -1;
	const char *line_end = strchr(mod, '\n');
	snprintf(ev, sizeof(ev), "{\"event\": \"%s\", ", event);
	const char *e = strstr(mod, ev);
	const char *w = e && (!line_end || e < line_end) ? strstr(e, "\"way\": \"") : NULL;
	if (!w)
		return -1;
	w += strlen("\"way\": \"");
	const char *end = strchr(w, '"');
	if (!end)
		return -1;
	snprintf(way, cap, "%.*s", (int)(end - w), w);
	return 0;
}

int harness_config_way(struct agent_proc *ap, const char *extra, const char *enabled, const char *module,
		       const char *event, char *way, size_t cap)
{
	char yaml[2048];
	harness_modules_yaml(yaml, sizeof(yaml), extra, enabled, NULL);
	way[0] = '\0';
	if (harness_config(ap, yaml))
		return -1;
	return harness_probe_way(ap, module, event, way, cap);
}

/* One test of harness_run_tier_tests: the test's run function and the extra global keys that force its tier. */
struct tier_test {
	void (*run)(const char *extra_yaml);
	const char *extra_yaml;
};

static void run_tier_test(void **state)
{
	const struct tier_test *t = *state;
	t->run(t->extra_yaml);
}

int harness_run_tier_tests(void (*run)(const char *extra_yaml))
{
	struct tier_test auto_tier = { run, "" };
	struct tier_test raw_tp = { run, ", attach: raw_tp" };
	struct tier_test tracepoint = { run, ", attach: tracepoint" };
	/* Named as the tests were when each file wrote them out, so reports compare across versions. */
	const struct CMUnitTest tests[] = {
		{ .name = "test_auto_tier", .test_func = run_tier_test, .initial_state = &auto_tier },
		{ .name = "test_forced_raw_tp", .test_func = run_tier_test, .initial_state = &raw_tp },
		{ .name = "test_forced_tracepoint", .test_func = run_tier_test, .initial_state = &tracepoint },
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

uint64_t harness_total_forks(void)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[256];
	uint64_t forks = 0;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "processes ", 10))
			forks = strtoull(line + 10, NULL, 10);
	if (f)
		fclose(f);
	return forks;
}

int harness_run_child(const char *comm, int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_NAME, comm);
		_exit(fn(arg));
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * KNOWN DEFECT (test_irq_disk, test_process): on a loaded host the BLOCK
 * softirq vector sometimes comes out short of /proc/softirqs (1 in 30 runs
 * of 800 under two busy QEMU guests: 2541 of 2553). Counting every entry
 * and exit of vector BLOCK in the programs themselves gave 2541 entries and
 * 2541 exits, no recursion miss: the tracepoint ran our program fewer
 * times than the kernel counted softirqs, so the loss is not in the agent's
 * accounting. On 6.18 the same holds for timer, sched and rcu on an idle
 * host, on every tier: reading
 * /proc/softirqs and a per-vector count kept by the entry program at the
 * same instants, 10 s apart, the entries came out 0.5-1.7 % short, with
 * no entry overwritten, no exit without its entry and no recursion miss,
 * while a tracefs instance's softirq_entry events matched /proc/softirqs
 * exactly; more syscall load under BPF or attach churn did not change it.
 * Hard IRQ handlers show it too (virtio2-output.0: 598 of 610, no miss).
 * Where it happens: timestamps of a tracefs instance (trace_clock mono)
 * matched one by one with those of a BPF program on the same tracepoint,
 * 20 s on this host (a Firecracker guest): 27 of 6625 softirq runs unseen,
 * 17 of them among the 23 runs made in the context of the sandbox's PID 1
 * (its tokio-rt-worker threads), the rest within the matching's own error
 * in every other context (idle, QEMU, shells, kernel threads). tp_btf,
 * raw_tp and the classic tracepoint gave identical counts in one window,
 * and bpf_stats' run_cnt agreed with them: the kernel did not run the
 * programs for those passes. Not something the agent can count around.
 * The same three programs in Debian's 6.12 under QEMU (make vm-test's
 * guest, 30 s) counted timer 218 and sched 461, /proc/softirqs' own
 * figures exactly.
 * sched_process_free shows it too, in its RCU callbacks: test_process's
 * release on tp_btf came to 294 and 299 of the 301 tasks an ftrace instance
 * saw freed, with no miss. In runs with bpf_stats on (none of them short)
 * the program's run_cnt equalled what the agent sent, so the agent's own
 * accounting loses nothing there. A quiet device line lost 2 of 4
 * (virtio3-tx, tp_btf, a fresh clone's make test).
 * Until the cause is found a test's lower end allows 5% of the kernel's
 * count, at least 2 (under load a device line came to 439 of 454 on tp_btf
 * with no miss), beside the runs the kernel skipped and counted
 * (agent.bpf.MODULE.missed), no more: a double count still fails, and so
 * does any larger loss. (The disk shortfalls seen alongside in
 * test_irq_disk were explained: preflush-only writes, see its
 * disk_completions.) block_rq_complete shows it too: CI's make test on a
 * fresh machine of this kind (2026-12-07, classic tier) timed 792 requests
 * of at least 800 reads and workload writes, with no miss counted and none
 * in flight; test_irq_disk's disk check takes the same allowance since.
 */
uint64_t harness_unseen_allowance(uint64_t kernel_count)
{
	uint64_t share = (kernel_count + 19) / 20;
	return share > 2 ? share : 2;
}

int harness_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ssize_t n = write(fd, text, strlen(text));
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}

int harness_proc_net_value(const char *file, const char *table, const char *key, uint64_t *value)
{
	FILE *f = fopen(file, "r");
	char names[8192], values[8192];
	int rc = -1;
	size_t tlen = strlen(table);
	while (f && fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		if (strncmp(names, table, tlen) || strncmp(values, table, tlen))
			continue;
		char *ns = NULL, *vs = NULL;
		char *n = strtok_r(names + tlen, " \n", &ns), *v = strtok_r(values + tlen, " \n", &vs);
		for (; n && v; n = strtok_r(NULL, " \n", &ns), v = strtok_r(NULL, " \n", &vs))
			if (!strcmp(n, key)) {
				*value = strtoull(v, NULL, 10);
				rc = 0;
			}
	}
	if (f)
		fclose(f);
	return rc;
}
