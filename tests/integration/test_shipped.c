/*
 * The as-shipped pass: config/bpfpush.yaml exactly as shipped, its sinks
 * replaced by one stdout sink (graphite-tagged, no prefix), nothing forced
 * ($BPFPUSH_TEST_ATTACH and $BPFPUSH_TEST_SYSCALL_LAYER are ignored).
 *
 * What each module should send here comes from the agent: `bpfpush --probe
 * --json` with the same config lists, per module, the metrics sent on this
 * kernel and, for the others, why not. The test fails when
 *   - an enabled module cannot run, or leaves a metric out because of the
 *     config (load_mode, a switch): the shipped config must send every
 *     metric the kernel can give;
 *   - a metric the probe promises for an enabled module is absent from the
 *     output after the workload (only a few event-driven metrics the
 *     workload cannot cause are excused, each with its reason: OOM kills,
 *     slow IRQ handlers, TCP retransmits);
 *   - a value does not match the workload.
 *
 * The workload (one child named COMM): forks, threads, a failing clone;
 * opens (plain, creating, failing), closes (and bad ones), reads and writes
 * of known bytes (and on a bad fd), unlink, rmdir, fsync, fdatasync, sync,
 * syncfs, msync, sync_file_range, a tmpfs mount and umount (and failing
 * ones), System V shared memory, TCP connections and UDP datagrams of known
 * bytes to a private address of this host (the shipped network filter keeps
 * private ranges and ports 1-1024 only; 127.0.0.1 is excluded). Every call
 * is tallied where it is made, in memory shared with the test.
 *
 *   apps (per comm: only the workload's group): exact.
 *   net.conn.* on the workload's endpoints (its own ports): exact.
 *   everything else is host-wide: at least the workload (others add).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define COMM "bpfpush-shipped"
#define FORKS 5
#define THREADS 3
#define CLONE_FAILS 2
#define OPENS 40
#define OPEN_FAILS 7
#define CREATES 4
#define CREATE_FAILS 2
#define CLOSE_FAILS 5
#define READS 100
#define READ_SIZE 4096
#define READ_FAILS 9
#define WRITES 100
#define WRITE_SIZE 1000
#define WRITE_FAILS 11
#define UNLINK_FAILS 3
#define RMDIRS 2
#define RMDIR_FAILS 1
#define FSYNCS 3
#define FDATASYNCS 2
#define FSYNC_FAILS 2
#define CONNS 10
#define SEND_BYTES 2000
#define REPLY_BYTES 300
#define DATAGRAMS 20
#define DGRAM_BYTES 700
#define BAD_FD 1000
#define ALIAS_ADDR "10.231.57.1" /* on lo of the test's own network namespace */

/* What the workload did, counted where each call is made. */
struct tally {
	uint64_t forks, threads, clone_fails;
	uint64_t opens, open_fails, creates, create_fails, closes, close_fails;
	uint64_t reads, read_bytes, read_fails, writes, write_bytes, write_fails;
	uint64_t unlinks, unlink_fails, rmdirs, rmdir_fails, fsyncs, fdatasyncs, fsync_fails;
	uint64_t syncs, syncfss, msyncs, sfrs;
	uint64_t mounts, mount_fails, umounts, umount_fails;
	uint64_t shmgets, shmats, shmdts, shmctls;
	uint64_t tcp_conns, tcp_client_sent, tcp_server_sent, udp_sent, udp_recv;
	int failed_step; /* 0: every call went as planned */
};

struct net_plan {
	struct in_addr ip;
	unsigned tcp_port, udp_port;
	int tcp_listener, udp_server;
};

static struct tally *t;
static struct net_plan plan;

#define STEP(cond, n)                    \
	do {                             \
		if (!(cond)) {           \
			t->failed_step = n; \
			return n;        \
		}                        \
	} while (0)

static void *thread_main(void *arg) { return arg; }

static int processes(void)
{
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		STEP(pid >= 0, 1);
		if (pid == 0)
			_exit(0);
		STEP(waitpid(pid, NULL, 0) == pid, 2);
		t->forks++;
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_t th;
		STEP(pthread_create(&th, NULL, thread_main, NULL) == 0, 3);
		STEP(pthread_join(th, NULL) == 0, 4);
		t->threads++;
	}
	/* CLONE_SIGHAND without CLONE_VM: EINVAL, a fork that fails. */
	for (int i = 0; i < CLONE_FAILS; i++) {
		STEP(syscall(SYS_clone, CLONE_SIGHAND | SIGCHLD, 0, 0, 0, 0) == -1 && errno == EINVAL, 5);
		t->clone_fails++;
	}
	return 0;
}

static int files(const char *dir)
{
	char path[160], missing[160], sub[160];
	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(missing, sizeof(missing), "%s/no-such-dir/file", dir);
	for (int i = 0; i < CREATES; i++) { /* creating opens, then unlinks */
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		STEP(fd >= 0, 10);
		t->opens++, t->creates++;
		STEP(syscall(SYS_close, fd) == 0, 11);
		t->closes++;
		STEP(syscall(SYS_unlinkat, AT_FDCWD, path, 0) == 0, 12);
		t->unlinks++;
	}
	for (int i = 0; i < CREATE_FAILS; i++) {
		STEP(syscall(SYS_openat, AT_FDCWD, missing, O_WRONLY | O_CREAT, 0600) == -1, 13);
		t->opens++, t->open_fails++, t->creates++, t->create_fails++;
	}
	for (int i = 0; i < UNLINK_FAILS; i++) {
		STEP(syscall(SYS_unlinkat, AT_FDCWD, missing, 0) == -1, 14);
		t->unlink_fails++;
	}
	for (int i = 0; i < RMDIRS; i++) {
		snprintf(sub, sizeof(sub), "%s/sub%d", dir, i);
		STEP(mkdir(sub, 0700) == 0, 15);
		STEP(syscall(SYS_unlinkat, AT_FDCWD, sub, AT_REMOVEDIR) == 0, 16);
		t->rmdirs++;
	}
	for (int i = 0; i < RMDIR_FAILS; i++) {
		STEP(syscall(SYS_unlinkat, AT_FDCWD, missing, AT_REMOVEDIR) == -1, 17);
		t->rmdir_fails++;
	}
	for (int i = 0; i < OPENS; i++) {
		int fd = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
		STEP(fd >= 0, 18);
		t->opens++;
		STEP(syscall(SYS_close, fd) == 0, 19);
		t->closes++;
	}
	for (int i = 0; i < OPEN_FAILS; i++) {
		STEP(syscall(SYS_openat, AT_FDCWD, missing, O_RDONLY) == -1, 20);
		t->opens++, t->open_fails++;
	}
	for (int i = 0; i < CLOSE_FAILS; i++) {
		STEP(syscall(SYS_close, BAD_FD) == -1, 21);
		t->closes++, t->close_fails++;
	}
	return 0;
}

static int reads_writes(void)
{
	static char buf[READ_SIZE > WRITE_SIZE ? READ_SIZE : WRITE_SIZE];
	int zero = (int)syscall(SYS_openat, AT_FDCWD, "/dev/zero", O_RDONLY);
	int null = (int)syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
	STEP(zero >= 0 && null >= 0, 30);
	t->opens += 2;
	for (int i = 0; i < READS; i++) {
		STEP(syscall(SYS_read, zero, buf, READ_SIZE) == READ_SIZE, 31);
		t->reads++, t->read_bytes += READ_SIZE;
	}
	for (int i = 0; i < WRITES; i++) {
		STEP(syscall(SYS_write, null, buf, WRITE_SIZE) == WRITE_SIZE, 32);
		t->writes++, t->write_bytes += WRITE_SIZE;
	}
	for (int i = 0; i < READ_FAILS; i++) {
		STEP(syscall(SYS_read, BAD_FD, buf, 1) == -1, 33);
		t->reads++, t->read_fails++;
	}
	for (int i = 0; i < WRITE_FAILS; i++) {
		STEP(syscall(SYS_write, BAD_FD, buf, 1) == -1, 34);
		t->writes++, t->write_fails++;
	}
	STEP(syscall(SYS_close, zero) == 0 && syscall(SYS_close, null) == 0, 35);
	t->closes += 2;
	return 0;
}

static int syncs(const char *dir)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/synced", dir);
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL, 0600);
	STEP(fd >= 0, 40);
	t->opens++, t->creates++;
	STEP(syscall(SYS_ftruncate, fd, 4096) == 0, 41);
	for (int i = 0; i < FSYNCS; i++) {
		STEP(syscall(SYS_fsync, fd) == 0, 42);
		t->fsyncs++;
	}
	for (int i = 0; i < FDATASYNCS; i++) {
		STEP(syscall(SYS_fdatasync, fd) == 0, 43);
		t->fdatasyncs++;
	}
	for (int i = 0; i < FSYNC_FAILS; i++) {
		STEP(syscall(SYS_fsync, BAD_FD) == -1, 44);
		t->fsyncs++, t->fsync_fails++;
	}
	STEP(syscall(SYS_sync_file_range, fd, 0, 4096, 0) == 0, 45);
	t->sfrs++;
	STEP(syscall(SYS_syncfs, fd) == 0, 46);
	t->syncfss++;
	syscall(SYS_sync);
	t->syncs++;
	void *map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	STEP(map != MAP_FAILED, 47);
	STEP(syscall(SYS_msync, map, 4096, MS_SYNC) == 0, 48);
	t->msyncs++;
	munmap(map, 4096);
	STEP(syscall(SYS_close, fd) == 0, 49);
	t->closes++;
	STEP(syscall(SYS_unlinkat, AT_FDCWD, path, 0) == 0, 50);
	t->unlinks++;
	return 0;
}

static int mounts(const char *dir)
{
	char point[160];
	snprintf(point, sizeof(point), "%s/mnt", dir);
	STEP(mkdir(point, 0700) == 0, 60);
	STEP(syscall(SYS_mount, "bpfpush", point, "tmpfs", 0, "size=64k") == 0, 61);
	t->mounts++;
	STEP(syscall(SYS_umount2, point, 0) == 0, 62);
	t->umounts++;
	STEP(syscall(SYS_mount, "bpfpush", point, "bpfpush-no-such-fs", 0, NULL) == -1, 63);
	t->mounts++, t->mount_fails++;
	STEP(syscall(SYS_umount2, point, 0) == -1, 64); /* not a mount point */
	t->umounts++, t->umount_fails++;
	STEP(rmdir(point) == 0, 65);
	return 0;
}

static int shm(void)
{
	int id = (int)syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	STEP(id >= 0, 70);
	t->shmgets++;
	void *p = (void *)syscall(SYS_shmat, id, NULL, 0);
	STEP(p != (void *)-1, 71);
	t->shmats++;
	STEP(syscall(SYS_shmdt, p) == 0, 72);
	t->shmdts++;
	STEP(syscall(SYS_shmctl, id, IPC_RMID, NULL) == 0, 73);
	t->shmctls++;
	return 0;
}

static bool read_full(int fd, char *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = recv(fd, buf + got, n - got, 0);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static int network(void)
{
	static char buf[SEND_BYTES];
	memset(buf, 'x', sizeof(buf));
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = plan.ip, .sin_port = htons((uint16_t)plan.tcp_port) };
	for (int i = 0; i < CONNS; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		STEP(c >= 0 && connect(c, (struct sockaddr *)&to, sizeof(to)) == 0, 80);
		int s = accept(plan.tcp_listener, NULL, NULL);
		STEP(s >= 0, 81);
		STEP(send(c, buf, SEND_BYTES, 0) == SEND_BYTES, 82);
		t->tcp_client_sent += SEND_BYTES;
		STEP(read_full(s, buf, SEND_BYTES), 83);
		STEP(send(s, buf, REPLY_BYTES, 0) == REPLY_BYTES, 84);
		t->tcp_server_sent += REPLY_BYTES;
		STEP(read_full(c, buf, REPLY_BYTES), 85);
		STEP(close(c) == 0 && close(s) == 0, 89);
		t->closes += 2, t->tcp_conns++;
	}
	struct sockaddr_in uto = { .sin_family = AF_INET, .sin_addr = plan.ip, .sin_port = htons((uint16_t)plan.udp_port) };
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	STEP(u >= 0 && connect(u, (struct sockaddr *)&uto, sizeof(uto)) == 0, 86);
	for (int i = 0; i < DATAGRAMS; i++) {
		STEP(send(u, buf, DGRAM_BYTES, 0) == DGRAM_BYTES, 87);
		t->udp_sent += DGRAM_BYTES;
		STEP(recv(plan.udp_server, buf, sizeof(buf), 0) == DGRAM_BYTES, 88);
		t->udp_recv += DGRAM_BYTES;
	}
	STEP(close(u) == 0, 90);
	t->closes++;
	return 0;
}

/* The workload, in a child named COMM. Counted calls outside the tally: none. */
static int workload(void *arg)
{
	const char *dir = arg;
	int rc = processes();
	if (!rc)
		rc = files(dir);
	if (!rc)
		rc = reads_writes();
	if (!rc)
		rc = syncs(dir);
	if (!rc)
		rc = mounts(dir);
	if (!rc)
		rc = shm();
	if (!rc)
		rc = network();
	return rc;
}

/* ------------------------------------------------------------ the network */

/*
 * The shipped network filter keeps private addresses only (not 127.0.0.0/8). The
 * test moves itself and its workload into a network namespace of its own and
 * puts ALIAS_ADDR on that namespace's lo: the traffic never leaves it, and no
 * address of the host is used. The agent, started before, stays in the host's
 * namespace; its kernel hooks see every namespace.
 */
static int private_namespace(struct in_addr *ip)
{
	if (unshare(CLONE_NEWNET) != 0)
		return -1;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0)
		return -1;
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	if (rc == 0)
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo:bpfshp");
	struct sockaddr_in *sa = (struct sockaddr_in *)&ifr.ifr_addr;
	sa->sin_family = AF_INET;
	inet_pton(AF_INET, ALIAS_ADDR, &sa->sin_addr);
	if (rc == 0)
		rc = ioctl(s, SIOCSIFADDR, &ifr);
	close(s);
	if (rc)
		return -1;
	*ip = sa->sin_addr;
	return 0;
}

/* A socket bound to ip:port with port in the shipped filter (1-1024, not 53 or 145), from `from` down. */
static int bind_service_port(int type, struct in_addr ip, unsigned from, unsigned *port)
{
	for (unsigned p = from; p > 900; p--) {
		int s = socket(AF_INET, type, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr = ip, .sin_port = htons((uint16_t)p) };
		if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 && (type != SOCK_STREAM || listen(s, CONNS) == 0)) {
			*port = p;
			return s;
		}
		if (s >= 0)
			close(s);
	}
	return -1;
}

/* ------------------------------------------------------- config and probe */

#define MAX_PROMISED 256

struct promise {
	char module[24];
	char metric[48];
};

struct probe_view {
	struct promise sent[MAX_PROMISED];
	int nsent;
	char kernel[96], load_mode[16];
	int problems; /* enabled modules that cannot run, metrics left out by the config */
};

/* The string after `key": "` in s, into out; the position after it, or NULL. */
static const char *json_string_after(const char *s, const char *key, char *out, size_t cap)
{
	const char *p = strstr(s, key);
	if (!p || !(p = strchr(p + strlen(key), '"')))
		return NULL;
	size_t n = strcspn(p + 1, "\"");
	snprintf(out, cap, "%.*s", (int)n, p + 1);
	return p + 1 + n + 1;
}

/*
 * Read `bpfpush --probe --json` (one module per line): the metrics each
 * enabled module sends, and count what the shipped config leaves out.
 */
static int read_probe(const struct agent_proc *ap, struct probe_view *pv)
{
	char cmd[512];
	memset(pv, 0, sizeof(*pv));
	snprintf(cmd, sizeof(cmd), "%s --probe --json -c %s 2>/dev/null", harness_agent_bin(), ap->config);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	static char line[1 << 16];
	while (fgets(line, sizeof(line), p)) {
		if (strstr(line, "{\"kernel\": ")) {
			json_string_after(line, "\"kernel\":", pv->kernel, sizeof(pv->kernel));
			json_string_after(line, "\"load_mode\":", pv->load_mode, sizeof(pv->load_mode));
			continue;
		}
		char module[24];
		if (!strstr(line, "{\"module\": ") || !json_string_after(line, "\"module\":", module, sizeof(module)))
			continue;
		if (!strstr(line, "\"enabled\": true") || !strcmp(module, "syscalls"))
			continue;
		if (!strstr(line, "\"runs\": true")) {
			char why[256] = "";
			json_string_after(line, "\"failure\":", why, sizeof(why));
			print_message("  FAIL %s is enabled and cannot run: %s\n", module, why);
			pv->problems++;
			continue;
		}
		const char *s = strstr(line, "\"metrics_sent\": [");
		const char *end = s ? strchr(s, ']') : NULL;
		for (const char *q = s ? strchr(s, '[') + 1 : NULL; q && q < end;) {
			const char *open = strchr(q, '"');
			if (!open || open > end)
				break;
			size_t n = strcspn(open + 1, "\"");
			if (pv->nsent < MAX_PROMISED) {
				snprintf(pv->sent[pv->nsent].module, sizeof(pv->sent[0].module), "%s", module);
				snprintf(pv->sent[pv->nsent].metric, sizeof(pv->sent[0].metric), "%.*s", (int)n, open + 1);
				pv->nsent++;
			}
			q = open + 1 + n + 1;
		}
		/* Missing metrics: "name": "reason" pairs. The kernel may lack a way; the config may not. */
		const char *m = strstr(line, "\"metrics_missing\": {");
		for (const char *q = m ? strchr(m, '{') + 1 : NULL; q && *q && *q != '}';) {
			char name[64], why[256];
			const char *after = json_string_after(q, "", name, sizeof(name));
			after = after ? json_string_after(after, ":", why, sizeof(why)) : NULL;
			if (!after)
				break;
			bool config_made = strstr(why, "load_mode") || strstr(why, "switched off") || !strcmp(why, "not measured") ||
					   !why[0];
			/* off-by-default modules (cachestat for apps.cachestat_*) are the contract's choice */
			bool module_off = strstr(why, "modules.") && strstr(why, " is off");
			print_message("  %s %s: not sent here: %s\n", config_made ? "FAIL" : "    ", name, why);
			if (config_made && !module_off)
				pv->problems++;
			q = after;
			while (*q == ',' || *q == ' ')
				q++;
		}
	}
	return pclose(p) == 0 ? 0 : -1;
}

static bool promised(const struct probe_view *pv, const char *metric)
{
	for (int i = 0; i < pv->nsent; i++)
		if (!strcmp(pv->sent[i].metric, metric))
			return true;
	return false;
}

/* ----------------------------------------------------- the agent's output */

/* The name of a graphite-tagged line (before ';' or ' ') equals name, or is name.SUFFIX (histograms). */
static bool line_is(const char *line, const char *name, bool histogram_too)
{
	size_t n = strlen(name);
	if (strncmp(line, name, n))
		return false;
	return line[n] == ' ' || line[n] == ';' || (histogram_too && line[n] == '.');
}

/* Does the line carry every "k=v" of tags (";"-separated, may be empty)? */
static bool line_has_tags(const char *line, size_t len, const char *tags)
{
	char want[256];
	snprintf(want, sizeof(want), "%s", tags);
	for (char *save = NULL, *tok = strtok_r(want, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char needle[128];
		snprintf(needle, sizeof(needle), ";%s", tok);
		const char *hit = NULL;
		for (const char *p = line; (p = strstr(p, needle)) && p < line + len; p++) {
			char c = p[strlen(needle)];
			if (c == ';' || c == ' ') {
				hit = p;
				break;
			}
		}
		if (!hit)
			return false;
	}
	return true;
}

/* Sum of the values of every line of `name` carrying `tags`; *found says whether any line was seen. */
static uint64_t sum_of(const struct agent_proc *ap, const char *name, const char *tags, bool *found)
{
	uint64_t sum = 0;
	if (found)
		*found = false;
	for (const char *line = ap->out; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (line_is(line, name, false) && line_has_tags(line, len, tags)) {
			const char *sp = memchr(line, ' ', len);
			if (sp)
				sum += strtoull(sp + 1, NULL, 10);
			if (found)
				*found = true;
		}
		line = end ? end + 1 : NULL;
	}
	return sum;
}

static bool present(const struct agent_proc *ap, const char *name)
{
	for (const char *line = ap->out; line && *line;) {
		if (line_is(line, name, true))
			return true;
		const char *end = strchr(line, '\n');
		line = end ? end + 1 : NULL;
	}
	return false;
}

/* Metrics whose events the workload cannot cause (so absent on a quiet host). */
static const char *const not_caused[][2] = {
	{ "oomkill.kills", "needs an OOM kill" },
	{ "hardirq.slow", "needs a hard IRQ handler slower than slow_threshold" },
	{ "softirq.slow", "needs a softirq slower than slow_threshold" },
	{ "socket.tcp.retransmits", "needs a lost segment" },
	{ "hardirq.latency", "needs a device interrupt (a guest without devices may have none)" },
};

static const char *excuse(const char *metric)
{
	for (size_t i = 0; i < sizeof(not_caused) / sizeof(not_caused[0]); i++)
		if (!strcmp(not_caused[i][0], metric))
			return not_caused[i][1];
	return NULL;
}

/* One check: exact (want_max == want) or at least (want_max == UINT64_MAX). */
struct checker {
	const struct agent_proc *ap;
	const struct probe_view *pv;
	int failures, checked;
};

static void check(struct checker *c, const char *metric, const char *tags, uint64_t want, bool exact)
{
	if (!promised(c->pv, metric))
		return;
	bool found;
	uint64_t got = sum_of(c->ap, metric, tags, &found);
	bool ok = found && (exact ? got == want : got >= want);
	c->checked++;
	if (!ok)
		c->failures++;
	print_message("  %s %-26s %-40s %8llu %s %llu%s\n", ok ? "ok  " : "FAIL", metric, tags[0] ? tags : "-",
		      (unsigned long long)got, exact ? "==" : ">=", (unsigned long long)want, found ? "" : " (absent)");
}

static void check_hist(struct checker *c, const char *metric)
{
	if (!promised(c->pv, metric))
		return;
	char max[96];
	snprintf(max, sizeof(max), "%s.max", metric);
	bool found;
	sum_of(c->ap, max, "", &found);
	c->checked++;
	if (!found && !excuse(metric))
		c->failures++;
	print_message("  %s %-26s %s\n", found ? "ok  " : excuse(metric) ? "    " : "FAIL", metric,
		      found ? "present (histogram)" : "absent");
}

/* ----------------------------------------------------------------- the test */

static void test_shipped_config(void **state)
{
	(void)state;
	struct agent_proc ap;
	assert_int_equal(harness_config_shipped(&ap), 0);
	print_message("shipped config %s, its sinks replaced by stdout; nothing forced\n", harness_shipped_config_path());

	struct probe_view *pv = calloc(1, sizeof(*pv));
	assert_non_null(pv);
	assert_int_equal(read_probe(&ap, pv), 0);
	print_message("kernel %s, load_mode %s: the probe promises %d metrics of enabled modules\n", pv->kernel,
		      pv->load_mode, pv->nsent);
	assert_true(pv->nsent > 0);

	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(t != MAP_FAILED);
	memset(t, 0, sizeof(*t));
	char dir[] = "/tmp/bpfpush-shipped-XXXXXX";
	assert_non_null(mkdtemp(dir));

	/*
	 * Every default module attaches here. On arm64 6.1 (kprobes, no trampolines) under TCG, the first
	 * start after boot missed 60 s once in CI: a deadline, so a healthy start costs nothing more.
	 */
	assert_int_equal(harness_start(&ap, 180000), 0);
	assert_int_equal(private_namespace(&plan.ip), 0);
	plan.tcp_listener = bind_service_port(SOCK_STREAM, plan.ip, 1024, &plan.tcp_port);
	plan.udp_server = bind_service_port(SOCK_DGRAM, plan.ip, 1024, &plan.udp_port);
	assert_true(plan.tcp_listener >= 0 && plan.udp_server >= 0);
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &plan.ip, ip, sizeof(ip));
	print_message("workload endpoints: tcp %s:%u, udp %s:%u, on lo of the test's own network namespace\n", ip,
		      plan.tcp_port, ip, plan.udp_port);
	int rc = harness_run_child(COMM, workload, dir);
	rmdir(dir);
	close(plan.tcp_listener);
	close(plan.udp_server);
	print_message("workload: rc %d (failed step %d)\n", rc, t->failed_step);
	assert_int_equal(rc, 0);

	/* Task releases wait for an RCU grace period; the apps exit for the last thread's exit. */
	uint64_t tasks = t->forks + t->threads + 1;
	harness_wait_for(&ap, "process.release", tasks, 20000);
	for (int i = 0; i < 40; i++) {
		bool found;
		if (sum_of(&ap, "apps.task_exit", "app=" COMM, &found) >= tasks || !promised(pv, "apps.task_exit"))
			break;
		harness_wait_for(&ap, "bpfpush.test.never", 1, 500); /* read on */
	}
	assert_int_equal(harness_stop(&ap), 0); /* a last collect and flush */

	struct checker c = { .ap = &ap, .pv = pv };
	print_message("presence: every metric the probe promises for an enabled module\n");
	int absent = 0;
	for (int i = 0; i < pv->nsent; i++) {
		if (present(&ap, pv->sent[i].metric))
			continue;
		const char *why = excuse(pv->sent[i].metric);
		print_message("  %s %s/%s absent%s%s\n", why ? "    " : "FAIL", pv->sent[i].module, pv->sent[i].metric,
			      why ? ": " : "", why ? why : "");
		if (!why)
			absent++;
	}

	const char *app = "app=" COMM;
	print_message("process (host-wide: at least the workload)\n");
	check(&c, "process.create", "", t->forks + 1, false);
	check(&c, "process.thread_create", "", t->threads, false);
	check(&c, "process.exit", "", tasks, false);
	check(&c, "process.release", "", tasks, false);
	check(&c, "process.create_errors", "", t->clone_fails, false);
	print_message("fd\n");
	check(&c, "fd.open", "", t->opens, false);
	check(&c, "fd.open_errors", "", t->open_fails, false);
	check(&c, "fd.close", "", t->closes, false);
	check(&c, "fd.close_errors", "", t->close_fails, false);
	print_message("vfs\n");
	check(&c, "vfs.read.calls", "", t->reads, false);
	check(&c, "vfs.read.bytes", "", t->read_bytes, false);
	check(&c, "vfs.read.errors", "", t->read_fails, false);
	check(&c, "vfs.write.calls", "", t->writes, false);
	check(&c, "vfs.write.bytes", "", t->write_bytes, false);
	check(&c, "vfs.write.errors", "", t->write_fails, false);
	check(&c, "vfs.unlink", "", t->unlinks + t->unlink_fails, false);
	check(&c, "vfs.unlink_errors", "", t->unlink_fails, false);
	check(&c, "vfs.rmdir", "", t->rmdirs + t->rmdir_fails, false);
	check(&c, "vfs.rmdir_errors", "", t->rmdir_fails, false);
	check(&c, "vfs.create", "", t->creates, false);
	check(&c, "vfs.create_errors", "", t->create_fails, false);
	check(&c, "vfs.fsync", "", t->fsyncs + t->fdatasyncs, false);
	check(&c, "vfs.fsync_errors", "", t->fsync_fails, false);
	check(&c, "vfs.open", "", t->opens - t->open_fails, false);
	print_message("sync\n");
	check(&c, "sync.sync", "", t->syncs, false);
	check(&c, "sync.syncfs", "", t->syncfss, false);
	check(&c, "sync.fsync", "", t->fsyncs, false);
	check(&c, "sync.fdatasync", "", t->fdatasyncs, false);
	check(&c, "sync.msync", "", t->msyncs, false);
	check(&c, "sync.sync_file_range", "", t->sfrs, false);
	print_message("mount\n");
	check(&c, "mount.mount", "", t->mounts, false);
	check(&c, "mount.mount_errors", "", t->mount_fails, false);
	check(&c, "mount.umount", "", t->umounts, false);
	check(&c, "mount.umount_errors", "", t->umount_fails, false);
	print_message("shm\n");
	check(&c, "shm.get", "", t->shmgets, false);
	check(&c, "shm.at", "", t->shmats, false);
	check(&c, "shm.dt", "", t->shmdts, false);
	check(&c, "shm.ctl", "", t->shmctls, false);
	print_message("socket (host-wide)\n");
	uint64_t tcp_bytes = t->tcp_client_sent + t->tcp_server_sent;
	check(&c, "socket.tcp.send.calls", "", 2 * t->tcp_conns, false);
	check(&c, "socket.tcp.send.bytes", "", tcp_bytes, false);
	check(&c, "socket.tcp.recv.calls", "", 2 * t->tcp_conns, false);
	check(&c, "socket.tcp.recv.bytes", "", tcp_bytes, false);
	check(&c, "socket.tcp.close", "", 2 * t->tcp_conns, false);
	check(&c, "socket.udp.send.calls", "", DATAGRAMS, false);
	check(&c, "socket.udp.send.bytes", "", t->udp_sent, false);
	check(&c, "socket.udp.recv.calls", "", DATAGRAMS, false);
	check(&c, "socket.udp.recv.bytes", "", t->udp_recv, false);
	print_message("network (the workload's endpoints: exact)\n");
	char out[160], in[160], udp[160];
	snprintf(out, sizeof(out), "dst=%s;port=%u;proto=tcp;direction=out", ip, plan.tcp_port);
	snprintf(in, sizeof(in), "dst=%s;port=%u;proto=tcp;direction=in", ip, plan.tcp_port);
	snprintf(udp, sizeof(udp), "dst=%s;port=%u;proto=udp;direction=out", ip, plan.udp_port);
	check(&c, "net.conn.opened", out, t->tcp_conns, true);
	check(&c, "net.conn.opened", in, t->tcp_conns, true);
	check(&c, "net.conn.closed", out, t->tcp_conns, true);
	check(&c, "net.conn.closed", in, t->tcp_conns, true);
	check(&c, "net.conn.sent.bytes", out, t->tcp_client_sent, true);
	check(&c, "net.conn.recv.bytes", out, t->tcp_server_sent, true);
	check(&c, "net.conn.sent.bytes", in, t->tcp_server_sent, true);
	check(&c, "net.conn.recv.bytes", in, t->tcp_client_sent, true);
	check(&c, "net.conn.sent.bytes", udp, t->udp_sent, true);
	print_message("hardirq, softirq\n");
	check_hist(&c, "hardirq.latency");
	check_hist(&c, "softirq.latency"); /* promised only with modules.softirq.timing, off as shipped */
	/* Read from /proc/softirqs: every TCP connection over loopback ran NET_RX at least once. */
	check(&c, "softirq.events", "vector=net_rx", t->tcp_conns, false);
	print_message("apps (app=%s: exact)\n", COMM);
	check(&c, "apps.file_open", app, t->opens, true);
	check(&c, "apps.file_open_errors", app, t->open_fails, true);
	check(&c, "apps.file_closed", app, t->closes, true);
	check(&c, "apps.file_close_errors", app, t->close_fails, true);
	check(&c, "apps.file_deleted", app, t->unlinks + t->unlink_fails, true);
	check(&c, "apps.vfs_read_call", app, t->reads, true);
	check(&c, "apps.vfs_read_bytes", app, t->read_bytes, true);
	check(&c, "apps.vfs_read_errors", app, t->read_fails, true);
	check(&c, "apps.vfs_write_call", app, t->writes, true);
	check(&c, "apps.vfs_write_bytes", app, t->write_bytes, true);
	check(&c, "apps.vfs_write_errors", app, t->write_fails, true);
	check(&c, "apps.process_create", app, t->forks, true);
	check(&c, "apps.thread_create", app, t->threads, true);
	check(&c, "apps.task_exit", app, tasks, true);
	check(&c, "apps.bandwidth_sent", app, tcp_bytes + t->udp_sent, true);
	check(&c, "apps.bandwidth_recv", app, tcp_bytes + t->udp_recv, true);

	print_message("%d metric(s) promised, %d absent without reason, %d value check(s), %d failed; %d left out by the config\n",
		      pv->nsent, absent, c.checked, c.failures, pv->problems);
	int problems = pv->problems;
	harness_free(&ap);
	munmap(t, sizeof(*t));
	free(pv);
	assert_int_equal(problems, 0);
	assert_int_equal(absent, 0);
	assert_int_equal(c.failures, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_shipped_config) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
