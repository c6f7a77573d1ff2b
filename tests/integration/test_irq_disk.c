/*
 * hardirq, softirq and disk on the running kernel, each checked against the
 * kernel's own counters as an independent peer:
 *   - softirq.latency events per vector vs /proc/softirqs, under loopback
 *     TCP traffic (NET_RX, NET_TX) and disk IO (BLOCK), with timing on (off
 *     as shipped); and softirq.events, which the agent reads from
 *     /proc/softirqs itself, in the same window with nothing unseen;
 *   - hardirq.latency events per handler vs /proc/interrupts, for every
 *     numbered IRQ line with one handler (the disk's among them);
 *   - on x86, hardirq.latency events per system vector vs its row of
 *     /proc/interrupts (LOC, RES, CAL, IWI, ...), under threads bouncing
 *     between the CPUs (reschedule IPIs) and a multi-threaded process
 *     changing its mappings and asking for memory barriers (call-function
 *     IPIs, TLB shootdowns among them);
 *   - hardirq.time and softirq.time of every series checked against its own
 *     histogram's buckets and the run's length, and softirq.time in all
 *     against the softirq column of /proc/stat;
 *   - disk.latency events per disk vs the completed requests in
 *     /sys/block/DISK/stat (reads, writes, discards, flushes), under O_DIRECT
 *     reads and writes of a file on the root filesystem's disk; where the
 *     root is not on a disk (the VM matrix's initramfs), of a loop device
 *     over a file in memory.
 * The disk IO runs together with reads from the hardware random number
 * generator (a second device's interrupts), so that several handlers interrupt
 * the same CPU: the hardirq probe's map keys must still be one per handler
 * (each key's bytes after the name are zero), which the test reads from the
 * agent's own map.
 * The kernel counts at entry and we count at exit, and both run all the
 * time, so each check is a window: at least what the kernel counted between
 * the agent's first flush and its stop (inner), at most what it counted from
 * before the agent started to after it stopped (outer).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/loop.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define DIRECT_IOS 400
#define HIST_SLOTS_SENT 28 /* probes/hist.h HIST_SLOTS: le=1 ... le=67108864, le=max */
#define BLOCK 4096
#define NET_BYTES (64 << 20)

/* The events a histogram counted (plain name: MODULE.TAG.latency). */
static uint64_t hist_events(const struct agent_proc *ap, const char *module, const char *tag)
{
	char plain[128];
	snprintf(plain, sizeof(plain), "%s.%s.latency", module, tag);
	return harness_hist_events(ap, plain);
}

/* Graphite plain paths keep [A-Za-z0-9_-]: "virtio1-req.0" -> "virtio1-req_0". */
static void plain_segment(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++) {
		char c = in[i];
		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ? c : '_';
	}
	out[i] = '\0';
}

#define MAX_LINES 64

struct irq_lines {
	size_t n;
	struct {
		char name[64];
		uint64_t count;
	} line[MAX_LINES];
};

/* Numbered lines of /proc/interrupts with exactly one handler: name -> total over CPUs. */
static void read_interrupts(struct irq_lines *out)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char buf[4096];
	int ncpus = 0;
	out->n = 0;
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return;
	}
	for (char *p = strtok(buf, " \t\n"); p; p = strtok(NULL, " \t\n"))
		ncpus++;
	while (fgets(buf, sizeof(buf), f) && out->n < MAX_LINES) {
		char *p = buf, *end;
		strtol(p, &end, 10);
		if (end == p || *end != ':')
			continue; /* LOC, RES, ...: not handlers */
		p = end + 1;
		uint64_t total = 0;
		for (int c = 0; c < ncpus; c++) {
			total += strtoull(p, &end, 10);
			p = end;
		}
		/* then chip, hwirq-type, and the handler names, comma-separated when shared */
		buf[strcspn(buf, "\n")] = '\0';
		char *name = strrchr(p, ' ');
		if (!name || strchr(p, ','))
			continue;
		/* the last column is the handler; skip lines whose last word is the trigger type (no handler) */
		name++;
		if (!strcmp(name, "edge") || !strcmp(name, "fasteoi") || !strcmp(name, "level"))
			continue;
		snprintf(out->line[out->n].name, sizeof(out->line[out->n].name), "%s", name);
		out->line[out->n++].count = total;
	}
	fclose(f);
}

static uint64_t irq_count(const struct irq_lines *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->line[i].name, name))
			return l->line[i].count;
	return 0;
}

static const char *const vectors[] = { "hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu" };
#define NVECTORS 10

static void read_softirqs(uint64_t out[NVECTORS])
{
	FILE *f = fopen("/proc/softirqs", "r");
	char buf[4096];
	memset(out, 0, NVECTORS * sizeof(out[0]));
	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f)) { /* CPU header */
		fclose(f);
		return;
	}
	for (int v = 0; v < NVECTORS && fgets(buf, sizeof(buf), f); v++) {
		char *p = strchr(buf, ':'), *end;
		if (!p)
			continue;
		for (p++;; p = end) {
			uint64_t n = strtoull(p, &end, 10);
			if (end == p)
				break;
			out[v] += n;
		}
	}
	fclose(f);
}

/*
 * x86 system vectors: the irq tag hardirq gives each (its /proc/interrupts
 * row) and the events (irq_vectors tracepoints) that feed it. Elsewhere
 * --probe lists none of these events and the rows are not checked.
 */
static const struct {
	const char *row;
	const char *events[2];
} sysvecs[] = {
	{ "LOC", { "local_timer" } },	   { "RES", { "reschedule" } },
	{ "CAL", { "call_function", "call_function_single" } },
	{ "IWI", { "irq_work" } },	   { "PLT", { "x86_platform_ipi" } },
	{ "TRM", { "thermal_apic" } },	   { "THR", { "threshold_apic" } },
	{ "DFR", { "deferred_error_apic" } }, { "ERR", { "error_apic" } },
	{ "SPU", { "spurious_apic" } },
};
#define NSYSVECS (sizeof(sysvecs) / sizeof(sysvecs[0]))

/* The total over CPUs of a named row of /proc/interrupts (ERR has one column); 0 when absent. */
static uint64_t interrupts_row(const char *row)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char buf[4096];
	uint64_t total = 0;
	size_t n = strlen(row);
	while (f && fgets(buf, sizeof(buf), f)) {
		char *p = buf + strspn(buf, " "), *end;
		if (strncmp(p, row, n) || p[n] != ':')
			continue;
		for (p += n + 1;; p = end) {
			uint64_t v = strtoull(p, &end, 10);
			if (end == p)
				break;
			total += v;
		}
		break;
	}
	if (f)
		fclose(f);
	return total;
}

/* The softirq column of /proc/stat's cpu line: ticks (USER_HZ) in which a CPU was found serving softirqs. */
static uint64_t stat_softirq_ticks(void)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[7] = { 0 };
	if (f) {
		if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]) != 7)
			v[6] = 0;
		fclose(f);
	}
	return v[6];
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct disk_ref {
	char name[64];
	char stat_path[128];
};

/* The whole disk holding `path` (a partition's parent), as /proc/partitions names it. */
static int disk_of(const char *path, struct disk_ref *d)
{
	struct stat st;
	if (stat(path, &st))
		return -1;
	char link[128], target[256];
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return -1;
	target[n] = '\0';
	char part[160];
	snprintf(part, sizeof(part), "%s/partition", link);
	if (access(part, F_OK) == 0) /* a partition: its disk is the parent directory */
		*strrchr(target, '/') = '\0';
	snprintf(d->name, sizeof(d->name), "%s", strrchr(target, '/') + 1);
	snprintf(d->stat_path, sizeof(d->stat_path), "/sys/block/%s/stat", d->name);
	return 0;
}

/* A loop device over a file in /tmp, for hosts whose root is not on a disk. */
static int loop_attach(struct disk_ref *d, char *dev, size_t cap, int *loop_fd)
{
	const char *img = "/tmp/bpfpush-disk.img";
	unlink(img);
	int n = harness_loop_attach(img, 16 << 20, dev, cap, loop_fd);
	unlink(img);
	if (n < 0)
		return -1;
	snprintf(d->name, sizeof(d->name), "loop%d", n);
	snprintf(d->stat_path, sizeof(d->stat_path), "/sys/block/%s/stat", d->name);
	return 0;
}

/*
 * Completed requests by kind, fields 1, 5, 12 and 16 of the stat file:
 * reads, writes, discards, flushes. The flushes are the ones the device
 * served (the block layer's flush requests). The writes include requests
 * that only asked for a preflush: accounted when their flush completes,
 * never issued themselves, so never timed (one flush can serve several).
 */
struct disk_counts {
	uint64_t reads, writes, discards, flushes;
};

static struct disk_counts disk_completions(const struct disk_ref *d)
{
	struct disk_counts c = { 0 };
	FILE *f = fopen(d->stat_path, "r");
	unsigned long long v[17] = { 0 };
	if (!f)
		return c;
	for (int i = 0; i < 17 && fscanf(f, "%llu", &v[i]) == 1; i++)
		;
	fclose(f);
	c.reads = v[0];
	c.writes = v[4];
	c.discards = v[11];
	c.flushes = v[16];
	return c;
}

/* Requests the disk is serving right now (the inflight file: reads and writes, discards among them). */
static uint64_t disk_in_flight(const struct disk_ref *d)
{
	char path[160];
	snprintf(path, sizeof(path), "/sys/block/%s/inflight", d->name);
	FILE *f = fopen(path, "r");
	unsigned long long r = 0, w = 0;
	if (f) {
		if (fscanf(f, "%llu %llu", &r, &w) != 2)
			r = w = 0;
		fclose(f);
	}
	return r + w;
}

struct snapshot {
	struct irq_lines irqs;
	uint64_t sysvecs[NSYSVECS];
	uint64_t tlb; /* TLB shootdowns, counted among CAL */
	uint64_t softirqs[NVECTORS];
	uint64_t stat_softirq;
	uint64_t at_us;
	struct disk_counts disk;
	uint64_t disk_in_flight;
};

static void snap(struct snapshot *s, const struct disk_ref *d)
{
	s->at_us = mono_us();
	s->disk_in_flight = disk_in_flight(d);
	read_interrupts(&s->irqs);
	for (size_t i = 0; i < NSYSVECS; i++)
		s->sysvecs[i] = interrupts_row(sysvecs[i].row);
	s->tlb = interrupts_row("TLB");
	read_softirqs(s->softirqs);
	s->stat_softirq = stat_softirq_ticks();
	s->disk = disk_completions(d);
}

/* O_DIRECT writes then reads of distinct blocks: each one a block request. */
static int direct_io_workload(void *arg)
{
	const char *path = arg;
	int fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
	void *buf;
	if (fd < 0 || posix_memalign(&buf, BLOCK, BLOCK))
		return 1;
	memset(buf, 0x5a, BLOCK);
	for (int i = 0; i < DIRECT_IOS; i++)
		if (pwrite(fd, buf, BLOCK, (off_t)i * 2 * BLOCK) != BLOCK)
			return 2;
	if (fsync(fd))
		return 3;
	for (int i = 0; i < DIRECT_IOS; i++)
		if (pread(fd, buf, BLOCK, (off_t)i * 2 * BLOCK) != BLOCK)
			return 4;
	close(fd);
	free(buf);
	return 0;
}

/* Loopback TCP: the receive side runs in NET_RX softirqs. */
static int loopback_workload(void *arg)
{
	(void)arg;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&a, &len))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		static char chunk[65536];
		if (connect(c, (struct sockaddr *)&a, sizeof(a)))
			_exit(1);
		for (size_t sent = 0; sent < NET_BYTES;) {
			ssize_t n = write(c, chunk, sizeof(chunk));
			if (n <= 0)
				_exit(2);
			sent += (size_t)n;
		}
		close(c);
		_exit(0);
	}
	int s = accept(ls, NULL, NULL);
	static char sink[65536];
	while (s >= 0 && read(s, sink, sizeof(sink)) > 0)
		;
	int status = 0;
	waitpid(pid, &status, 0);
	close(s);
	close(ls);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 9;
}

/*
 * A second device's interrupts beside the disk's, made on this machine alone:
 * reads from the hardware random number generator (/dev/hwrng, virtio-rng in
 * a VM) for about two seconds, each read a request the device completes with
 * an interrupt. Nothing leaves the host. Skipped where there is no such device.
 */
static int second_irq_workload(void *arg)
{
	(void)arg;
	int fd = open("/dev/hwrng", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	char buf[64];
	time_t end = time(NULL) + 2;
	while (time(NULL) <= end)
		if (read(fd, buf, sizeof(buf)) < 0 && errno != EINTR)
			break;
	close(fd);
	return 0;
}

#define IPI_PHASE_US 1000000

static bool pin_to(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

struct bounce {
	int to_peer[2], to_main[2];
};

/* The other end of the ping-pong, on CPU 1: each byte back wakes the main thread on CPU 0. */
static void *bounce_peer(void *arg)
{
	struct bounce *b = arg;
	char c;
	pin_to(1);
	while (read(b->to_peer[0], &c, 1) == 1 && c)
		if (write(b->to_main[1], &c, 1) != 1)
			break;
	return NULL;
}

/* Map, touch, write-protect and unmap pages of the process's mm. */
static bool remap_once(void)
{
	char *p = mmap(NULL, 4 * BLOCK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	memset(p, 1, 4 * BLOCK);
	mprotect(p, 4 * BLOCK, PROT_READ);
	munmap(p, 4 * BLOCK);
	return true;
}

/* On CPU 1, until *stop: remaps and expedited barriers, while the main thread remaps on CPU 0. */
static void *remap_peer(void *arg)
{
	atomic_int *stop = arg;
	pin_to(1);
	while (!atomic_load(stop) && remap_once())
		syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
	return NULL;
}

/*
 * Interrupts between the CPUs, about a second of each kind: a pipe
 * ping-pong between threads on CPUs 0 and 1 (waking a thread on a CPU that
 * sleeps is a reschedule IPI), then a thread on each CPU changing the
 * mappings of their shared mm (a TLB shootdown is a call-function IPI to
 * the CPUs running it) and asking for expedited memory barriers (an IPI to
 * each CPU running the process). How many arrive depends on what else the
 * CPUs run; the check compares whatever did with the kernel's own counts.
 */
static int ipi_workload(void *arg)
{
	(void)arg;
	if (!pin_to(0) || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return 0; /* one CPU: no IPIs to make */
	struct bounce b;
	pthread_t peer;
	if (pipe(b.to_peer) || pipe(b.to_main) || pthread_create(&peer, NULL, bounce_peer, &b))
		return 1;
	char c = 1;
	for (uint64_t end = mono_us() + IPI_PHASE_US; mono_us() < end;)
		if (write(b.to_peer[1], &c, 1) != 1 || read(b.to_main[0], &c, 1) != 1)
			break;
	c = 0;
	if (write(b.to_peer[1], &c, 1) != 1 || pthread_join(peer, NULL))
		return 2;

	syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
	atomic_int stop = 0;
	if (pthread_create(&peer, NULL, remap_peer, &stop))
		return 3;
	for (uint64_t end = mono_us() + IPI_PHASE_US; mono_us() < end && remap_once();)
		;
	atomic_store(&stop, 1);
	return pthread_join(peer, NULL) ? 4 : 0;
}

static int bpf_cmd(int cmd, union bpf_attr *attr) { return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

/*
 * The agent's hardirq_hist map, found through the map ids in its fdinfo
 * (other agents on the host have maps of that name too). -1 when not found.
 */
static int agent_map_fd(pid_t pid, const char *name)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)pid);
	DIR *d = opendir(dir);
	struct dirent *de;
	int found = -1;
	while (d && found < 0 && (de = readdir(d))) {
		char path[320], line[128];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "r");
		unsigned id = 0;
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "map_id: %u", &id) == 1)
				break;
		if (f)
			fclose(f);
		if (!id)
			continue;
		union bpf_attr attr = { .map_id = id };
		int fd = bpf_cmd(BPF_MAP_GET_FD_BY_ID, &attr);
		if (fd < 0)
			continue;
		struct bpf_map_info info = { 0 };
		memset(&attr, 0, sizeof(attr));
		attr.info.bpf_fd = (uint32_t)fd;
		attr.info.info_len = sizeof(info);
		attr.info.info = (uint64_t)(uintptr_t)&info;
		if (!bpf_cmd(BPF_OBJ_GET_INFO_BY_FD, &attr) && !strcmp(info.name, name))
			found = fd;
		else
			close(fd);
	}
	if (d)
		closedir(d);
	return found;
}

#define IRQ_KEY_LEN 32 /* probes/irq.h IRQ_NAME_LEN */

/*
 * Every key of the agent's hardirq_hist map is a name followed by zeros;
 * returns the number of keys, after printing and counting in *dirty those
 * with other bytes after the name (one handler would have several keys).
 */
static int hardirq_keys(pid_t pid, int *dirty)
{
	int fd = agent_map_fd(pid, "hardirq_hist");
	*dirty = 0;
	if (fd < 0)
		return -1;
	char key[IRQ_KEY_LEN], next[IRQ_KEY_LEN];
	int n = 0;
	union bpf_attr attr = { .map_fd = (uint32_t)fd, .key = 0, .next_key = (uint64_t)(uintptr_t)next };
	while (!bpf_cmd(BPF_MAP_GET_NEXT_KEY, &attr)) {
		memcpy(key, next, sizeof(key));
		size_t len = strnlen(key, sizeof(key));
		bool clean = true;
		for (size_t i = len; i < sizeof(key); i++)
			clean &= key[i] == 0;
		if (!clean) {
			print_message("  hardirq_hist key \"%.*s\" has bytes after its name\n", (int)len, key);
			(*dirty)++;
		}
		n++;
		attr.key = (uint64_t)(uintptr_t)key;
	}
	close(fd);
	return n;
}

/* The disk and the second device's workloads at the same time. */
static int disk_and_second_irq(const char *file)
{
	pid_t other = fork();
	if (other == 0) {
		prctl(PR_SET_NAME, "bpfpush-irq2");
		_exit(second_irq_workload(NULL));
	}
	int rc = harness_run_child("bpfpush-dio", direct_io_workload, (void *)file);
	int status = 0;
	if (other < 0 || waitpid(other, &status, 0) != other || !WIFEXITED(status) || WEXITSTATUS(status))
		rc = rc ? rc : 10;
	return rc;
}

/*
 * The kernel leaves a few passes of a tracepoint without running any tier's
 * program on some hosts, with no miss counted: harness_unseen_allowance
 * (tests/lib/harness.c) says where it was measured and what an IRQ window's
 * lower end allows for it.
 */

/*
 * The system vectors show the same unseen runs, and more of them: their
 * reschedule IPIs come in bursts where threads wake each other, the agent's
 * own among them. CI's runs on this host (a Firecracker guest) had RES 36 of
 * 39 and 48 of 50 on tp_btf and raw_tp, 88 of 97 on the classic tier with
 * 2 skips counted, and 27 of 37 on tp_btf (CI at 323f770), while under load
 * thousands of RES, LOC and CAL came out within 2%. The loss comes in
 * bursts of up to ten, not in proportion: a tenth and twelve events more,
 * for those rows only. A double count still fails, and so does a loss of
 * half of a row of 40 events or more.
 */
static uint64_t sysvec_allowance(uint64_t inner) { return inner / 10 + 12; }

/*
 * A classic tracepoint program is skipped while any BPF program, or a bpf()
 * map copy such as the agent's collect, holds its CPU. From 6.7 the kernel
 * counts those skips (agent.bpf.missed); before, they are silent. Under the
 * matrix's TCG guests they came to 17% of a row (6.1: 65 of 78), so on those
 * kernels that tier's lower end allows a quarter, and docs/metrics.md says so.
 */
static uint64_t silent_skip_allowance(uint64_t inner) { return inner / 4; }

struct window_allowance {
	uint64_t missed;     /* runs the kernel skipped and counted */
	bool system_vector;  /* a /proc/interrupts row of letters */
	bool silent_skips;   /* the classic tier on a kernel that does not count its skips */
};

static void check_window(const char *what, uint64_t got, uint64_t inner, uint64_t outer,
			 const struct window_allowance *allow)
{
	uint64_t unseen = harness_unseen_allowance(inner) + allow->missed;
	if (allow->system_vector)
		unseen += sysvec_allowance(inner);
	if (allow->silent_skips)
		unseen += silent_skip_allowance(inner);
	uint64_t low = inner > unseen ? inner - unseen : 0;
	print_message("  %-34s %8llu in [%llu, %llu] (kernel: %llu to %llu)\n", what, (unsigned long long)got,
		      (unsigned long long)low, (unsigned long long)outer, (unsigned long long)inner,
		      (unsigned long long)outer);
	assert_in_range(got, low, outer);
}

/*
 * NAME.time of one series against its own histogram and the run: an event
 * in bucket k (µs floored, in (2^(k-1), 2^k]; slot 0 [0, 1]) lasted at
 * least 2^(k-1)+1 µs and less than 2^k+1 µs, so the time sent lies between
 * those sums (no upper bound with events in le=max, which is open); and no
 * series takes more than the run's length on every CPU. A series of 10
 * events or more has a time: each run spans the handler and both
 * tracepoints between the two clock reads, well over 100 ns. Returns the time.
 */
static uint64_t check_time(const struct agent_proc *ap, const char *module, const char *tag, uint64_t run_us, long ncpus)
{
	char name[192];
	uint64_t events = 0, low = 0, high = 0, open = 0;
	for (unsigned k = 0; k < HIST_SLOTS_SENT; k++) {
		if (k == HIST_SLOTS_SENT - 1)
			snprintf(name, sizeof(name), "%s.%s.latency.bucket.le_max", module, tag);
		else
			snprintf(name, sizeof(name), "%s.%s.latency.bucket.le_%llu", module, tag, 1ull << k);
		uint64_t n = harness_sum(ap, name);
		events += n;
		if (k == HIST_SLOTS_SENT - 1) {
			open = n;
			low += n * ((1ull << (k - 1)) + 1);
		} else {
			low += n * (k ? (1ull << (k - 1)) + 1 : 0);
			high += n * ((1ull << k) + 1);
		}
	}
	snprintf(name, sizeof(name), "%s.%s.time", module, tag);
	uint64_t time_us = harness_sum(ap, name);
	print_message("  %-34s %8llu us in [%llu, %s%llu] for %llu events (%.2f us each)\n", name,
		      (unsigned long long)time_us, (unsigned long long)low, open ? "open, " : "", (unsigned long long)high,
		      (unsigned long long)events, events ? (double)time_us / (double)events : 0.0);
	assert_true(time_us >= low);
	if (!open)
		assert_true(time_us <= high);
	if (events >= 10)
		assert_true(time_us > 0);
	assert_true(time_us <= run_us * (uint64_t)ncpus);
	return time_us;
}

/*
 * softirq.time against /proc/stat's softirq column, an independent but
 * coarse peer. Without CONFIG_IRQ_TIME_ACCOUNTING (tick accounting, as on
 * the 6.18 this was written on) the kernel charges a whole tick to softirq
 * when its tick finds a CPU serving one: a sample at HZ, printed in USER_HZ
 * units. The softirqs a tick raises itself (timer, hrtimer, sched, rcu
 * mostly) run right after it and are seen only when they outlast the next
 * tick, while those raised by other work (net_tx, net_rx, block, tasklet,
 * hi, irq_poll: "direct") are sampled fairly. So the column lies roughly
 * between the agent's direct time and its whole time. The agent timed
 * every run from its attach to its stop, which holds the inner window and
 * is held by the outer one. Bounds, only where the samples are enough to
 * mean something (200 ms: 20 ticks at HZ 100, more at higher HZ; on a
 * 2-CPU guest at HZ 250 an idle run has about 75 ms, tick-raised for the
 * most part, and 4 ticks in the column): the column's outer delta is at
 * least a quarter of the agent's direct time (the agent does not invent
 * time). No upper bound: with a QEMU guest running beside the test (the
 * development host during make test) the column's inner delta came to 9
 * times the agent's whole time (350 ms against 43 ms), the tick landing in
 * softirqs the agent timed at a few µs each. The ratios are printed:
 * in 12 runs on that guest (50-190 ms of softirq time, 3-24 ticks) the
 * column's outer delta came to 0.4-1.6 times the agent's whole time and
 * 0.9-2.4 times its direct time.
 */
static void check_softirq_time(const uint64_t agent_us[NVECTORS], const struct snapshot *before,
			       const struct snapshot *inner_start, const struct snapshot *inner_end,
			       const struct snapshot *after)
{
	static const bool direct[NVECTORS] = { [0] = true, [2] = true, [3] = true, [4] = true, [5] = true, [6] = true };
	uint64_t all_us = 0, direct_us = 0;
	for (int v = 0; v < NVECTORS; v++) {
		all_us += agent_us[v];
		direct_us += direct[v] ? agent_us[v] : 0;
	}
	uint64_t user_hz = (uint64_t)sysconf(_SC_CLK_TCK), ncpus = (uint64_t)sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t inner_us = (inner_end->stat_softirq - inner_start->stat_softirq) * 1000000u / user_hz;
	uint64_t outer_us = (after->stat_softirq - before->stat_softirq) * 1000000u / user_hz;
	print_message("  softirq.time %llu us (direct %llu us); /proc/stat softirq inner %llu us, outer %llu us; "
		      "outer/time %.2f, outer/direct %.2f\n",
		      (unsigned long long)all_us, (unsigned long long)direct_us, (unsigned long long)inner_us,
		      (unsigned long long)outer_us, all_us ? (double)outer_us / (double)all_us : 0.0,
		      direct_us ? (double)outer_us / (double)direct_us : 0.0);
	(void)inner_us;
	(void)ncpus;
	if (direct_us >= 200000)
		assert_true(4 * outer_us >= direct_us);
}

static void run_irq_disk_test(const char *extra_yaml)
{
	char yaml[1024];
	harness_modules_yaml(yaml, sizeof(yaml), extra_yaml, "hardirq disk", NULL);
	assert_int_equal(harness_module_options(yaml, sizeof(yaml), "softirq", "enabled: true, timing: true"), 0);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	static const char *const modules[][2] = { { "hardirq", "handler" }, { "softirq", "vector" }, { "disk", "request" } };
	for (int i = 0; i < 3; i++) {
		char way[128] = "";
		assert_int_equal(harness_probe_way(&ap, modules[i][0], modules[i][1], way, sizeof(way)), 0);
		print_message("  %-8s %-8s attached via %s\n", modules[i][0], modules[i][1], way);
		assert_true(way[0]);
		const char *p = strstr(extra_yaml, "attach: ");
		if (p)
			assert_non_null(strstr(way, p + 8));
	}
	/* The system vectors this kernel hooks (x86; those whose tracepoints it has): a row needs all its events. */
	bool sysvec_hooked[NSYSVECS];
	for (size_t i = 0; i < NSYSVECS; i++) {
		sysvec_hooked[i] = true;
		for (int e = 0; e < 2 && sysvecs[i].events[e]; e++) {
			char way[128] = "";
			if (harness_probe_way(&ap, "hardirq", sysvecs[i].events[e], way, sizeof(way)) || !way[0]) {
				sysvec_hooked[i] = false;
				continue;
			}
			print_message("  hardirq  %-20s attached via %s\n", sysvecs[i].events[e], way);
			const char *p = strstr(extra_yaml, "attach: ");
			if (p)
				assert_non_null(strstr(way, p + 8));
		}
	}

	/* /var/tmp is on the root's disk where there is one; the VM's initramfs has only /tmp */
	char dir[64];
	snprintf(dir, sizeof(dir), "%s/bpfpush-disk-XXXXXX", access("/var/tmp", W_OK) == 0 ? "/var/tmp" : "/tmp");
	assert_non_null(mkdtemp(dir));
	char file[80];
	snprintf(file, sizeof(file), "%s/direct", dir);
	struct disk_ref disk;
	int loop_fd = -1;
	if (disk_of(dir, &disk)) {
		assert_int_equal(loop_attach(&disk, file, sizeof(file), &loop_fd), 0);
		print_message("  %s is not on a disk: IO goes to %s\n", dir, file);
	}

	struct snapshot before, inner_start, inner_end, after;
	sync(); /* what earlier tests left to write goes now, not during the windows */
	snap(&before, &disk);
	assert_int_equal(harness_start(&ap, 10000), 0);
	snap(&inner_start, &disk);
	assert_int_equal(disk_and_second_irq(file), 0);
	assert_int_equal(harness_run_child("bpfpush-lo", loopback_workload, NULL), 0);
	assert_int_equal(harness_run_child("bpfpush-ipi", ipi_workload, NULL), 0);
	/*
	 * No pause for a last flush: the inner window closes here, and the agent
	 * collects every module and flushes once more when harness_stop ends it
	 * (agent_stop in agent/agent.c), after this snapshot.
	 */
	snap(&inner_end, &disk);
	int dirty = 0, keys = hardirq_keys(ap.pid, &dirty);
	print_message("  hardirq_hist: %d key(s), %d with bytes after the name\n", keys, dirty);
	/* The map was found; it may be empty where no device interrupts (the VM matrix's guests). */
	assert_true(keys >= 0);
	assert_int_equal(harness_stop(&ap), 0);
	snap(&after, &disk);
	if (loop_fd >= 0) {
		harness_loop_detach(loop_fd);
	} else {
		unlink(file);
	}
	rmdir(dir);

	char label[96];
	uint64_t dio = hist_events(&ap, "disk", disk.name);
	snprintf(label, sizeof(label), "disk.latency events, disk=%s", disk.name);
	/*
	 * A completion in hard-IRQ context that interrupts one in softirq context
	 * on the same CPU finds the program already running there: the kernel
	 * skips it and counts it (agent.bpf.missed). Those may be short.
	 */
	uint64_t missed = harness_sum(&ap, "agent.bpf.disk.missed");
	print_message("  agent.bpf.disk.missed %llu, agent.bpf.disk_start.map_full %llu\n", (unsigned long long)missed,
		      (unsigned long long)harness_sum(&ap, "agent.bpf.disk_start.map_full"));
	/*
	 * A request in flight when the inner window opened may have been issued
	 * before the agent attached (ext4 sends its discards at journal commits,
	 * and on a busy host one can take seconds): it completes in the window
	 * but has no start the agent saw.
	 */
	print_message("  requests in flight when the inner window opened: %llu\n",
		      (unsigned long long)inner_start.disk_in_flight);
	/*
	 * At most every request the kernel accounted from before the start to
	 * after the stop. At least the reads and discards it accounted in the
	 * inner window, and the workload's own writes; other writes may be
	 * preflush-only requests, which are not timed (disk_completions).
	 */
	uint64_t low = inner_end.disk.reads - inner_start.disk.reads + inner_end.disk.discards - inner_start.disk.discards +
		       DIRECT_IOS;
	/* And the passes of a tracepoint this host kind runs no program for (tests/lib/harness.c, KNOWN DEFECT). */
	uint64_t unseen = missed + inner_start.disk_in_flight + harness_unseen_allowance(low);
	low = low > unseen ? low - unseen : 0;
	uint64_t high = after.disk.reads - before.disk.reads + after.disk.writes - before.disk.writes +
			after.disk.discards - before.disk.discards + after.disk.flushes - before.disk.flushes;
	print_message("  %-34s %8llu in [%llu, %llu] (kernel, inner: %llu reads, %llu writes, %llu discards, %llu flushes)\n",
		      label, (unsigned long long)dio, (unsigned long long)low, (unsigned long long)high,
		      (unsigned long long)(inner_end.disk.reads - inner_start.disk.reads),
		      (unsigned long long)(inner_end.disk.writes - inner_start.disk.writes),
		      (unsigned long long)(inner_end.disk.discards - inner_start.disk.discards),
		      (unsigned long long)(inner_end.disk.flushes - inner_start.disk.flushes));
	assert_in_range(dio, low, high);
	assert_true(dio >= 2 * DIRECT_IOS);

	uint64_t softirq_missed = harness_sum(&ap, "agent.bpf.softirq.missed");
	uint64_t hardirq_missed = harness_sum(&ap, "agent.bpf.hardirq.missed");
	char tier[32];
	harness_forced_tier(extra_yaml, tier, sizeof(tier));
	bool silent_skips = !strcmp(tier, "tracepoint") && !harness_kernel_counts_classic_misses();
	if (silent_skips)
		print_message("  classic tier on a kernel before 6.7: its skips are not counted\n");
	print_message("  agent.bpf.softirq.missed %llu, agent.bpf.hardirq.missed %llu\n", (unsigned long long)softirq_missed,
		      (unsigned long long)hardirq_missed);
	for (int v = 0; v < NVECTORS; v++) {
		uint64_t inner = inner_end.softirqs[v] - inner_start.softirqs[v], outer = after.softirqs[v] - before.softirqs[v];
		if (!outer)
			continue;
		snprintf(label, sizeof(label), "softirq.latency events, vector=%s", vectors[v]);
		check_window(label, hist_events(&ap, "softirq", vectors[v]), inner, outer,
			     &(struct window_allowance){ .missed = softirq_missed, .silent_skips = silent_skips });
		/* The kernel's own count, read at the module's start and at each collect: no run unseen. */
		char events[64];
		snprintf(events, sizeof(events), "softirq.%s.events", vectors[v]);
		uint64_t got = harness_sum(&ap, events);
		snprintf(label, sizeof(label), "softirq.events, vector=%s", vectors[v]);
		print_message("  %-34s %8llu in [%llu, %llu]\n", label, (unsigned long long)got, (unsigned long long)inner,
			      (unsigned long long)outer);
		assert_in_range(got, inner, outer);
	}
	assert_true(inner_end.softirqs[3] > inner_start.softirqs[3]); /* loopback traffic ran NET_RX */

	int checked = 0;
	for (size_t i = 0; i < after.irqs.n; i++) {
		const char *name = after.irqs.line[i].name;
		uint64_t inner = irq_count(&inner_end.irqs, name) - irq_count(&inner_start.irqs, name);
		uint64_t outer = after.irqs.line[i].count - irq_count(&before.irqs, name);
		if (!outer)
			continue;
		char plain[64];
		plain_segment(name, plain, sizeof(plain));
		snprintf(label, sizeof(label), "hardirq.latency events, irq=%s", name);
		check_window(label, hist_events(&ap, "hardirq", plain), inner, outer,
			     &(struct window_allowance){ .missed = hardirq_missed, .silent_skips = silent_skips });
		checked++;
	}
	print_message("  %d IRQ line(s) with one handler fired during the run\n", checked);

	/* System vectors: the same window against their rows; every hooked row, idle ones at 0. */
	int rows = 0;
	for (size_t i = 0; i < NSYSVECS; i++) {
		if (!sysvec_hooked[i])
			continue;
		uint64_t inner = inner_end.sysvecs[i] - inner_start.sysvecs[i], outer = after.sysvecs[i] - before.sysvecs[i];
		snprintf(label, sizeof(label), "hardirq.latency events, irq=%s", sysvecs[i].row);
		check_window(label, hist_events(&ap, "hardirq", sysvecs[i].row), inner, outer,
			     &(struct window_allowance){ .missed = hardirq_missed, .system_vector = true,
							 .silent_skips = silent_skips });
		rows++;
	}
	if (rows) {
		/*
		 * TLB shootdowns ride call-function IPIs, but the TLB row counts
		 * flushes, not IPIs: one IPI runs every function queued for its CPU,
		 * and an idle CPU runs them without one. On 5.10 the row exceeded CAL
		 * (6140 flushes, 4266 CAL IPIs): printed, not compared.
		 */
		uint64_t tlb = inner_end.tlb - inner_start.tlb, cal = hist_events(&ap, "hardirq", "CAL");
		print_message("  TLB shootdowns (inner) %llu, hardirq CAL events %llu\n", (unsigned long long)tlb,
			      (unsigned long long)cal);
		/* The local timer ticks on every CPU that is not idle: the run had some. */
		assert_true(hist_events(&ap, "hardirq", "LOC") > 0);
	}
	print_message("  %d system vector row(s) checked\n", rows);

	/*
	 * Time: every series that counted events, against its own buckets and the
	 * run's length (before the agent started to after it stopped).
	 */
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t run_us = after.at_us - before.at_us;
	for (size_t i = 0; i < after.irqs.n; i++) {
		char plain[64];
		plain_segment(after.irqs.line[i].name, plain, sizeof(plain));
		check_time(&ap, "hardirq", plain, run_us, ncpus);
	}
	for (size_t i = 0; i < NSYSVECS; i++)
		if (sysvec_hooked[i])
			check_time(&ap, "hardirq", sysvecs[i].row, run_us, ncpus);
	uint64_t softirq_us[NVECTORS];
	for (int v = 0; v < NVECTORS; v++)
		softirq_us[v] = check_time(&ap, "softirq", vectors[v], run_us, ncpus);
	assert_true(softirq_us[3] > 0); /* net_rx ran */
	check_softirq_time(softirq_us, &before, &inner_start, &inner_end, &after);

	assert_int_equal(dirty, 0);
	assert_true(harness_has(&ap, "softirq.net_rx.latency.p50"));
	assert_true(harness_has(&ap, "softirq.net_rx.latency.max"));
	harness_free(&ap);
}

static void test_auto_tier(void **state) { run_irq_disk_test(""); }
static void test_forced_tp_btf(void **state) { run_irq_disk_test(", attach: tp_btf"); }
static void test_forced_raw_tp(void **state) { run_irq_disk_test(", attach: raw_tp"); }
static void test_forced_tracepoint(void **state) { run_irq_disk_test(", attach: tracepoint"); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_tier),
		cmocka_unit_test(test_forced_tp_btf),
		cmocka_unit_test(test_forced_raw_tp),
		cmocka_unit_test(test_forced_tracepoint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
