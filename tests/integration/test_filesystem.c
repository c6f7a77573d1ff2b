/*
 * filesystem on the running kernel. Filesystem operations have no
 * tracepoints, so the module needs fentry/fexit or kprobes/kretprobes:
 *   - where the kernel has neither (this host), --probe must say so and the
 *     agent must run its other modules regardless;
 *   - elsewhere (the VM matrix) an ext2 filesystem (served by ext4's code,
 *     Debian's kernels build no ext2 driver) is made on a loop device and
 *     mounted, and a workload (comm "bpfpush-fs") makes a known number of
 *     opens, writes, fsyncs and reads on it. Each call is one call of the
 *     filesystem's operation: every histogram counts it exactly.
 * Windows are [exact, exact + slack], the slack three times what the host's
 * ext4 did in one idle second (none in the VM, whose root is in memory)
 * plus an eighth of the exact figure. A double count would be 2N.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define OPENS 100
#define WRITES 200
#define FSYNCS 20
#define READS 300

static const char *const ops[] = { "open", "write", "fsync", "read" };
static const uint64_t exact[] = { OPENS, WRITES, FSYNCS, READS };

static int fs_workload(void *arg)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/data", (const char *)arg);
	static char block[4096];
	memset(block, 0x3c, sizeof(block));
	for (int i = 1; i < OPENS; i++) {
		int fd = open(path, O_RDWR | O_CREAT, 0600);
		if (fd < 0)
			return 1;
		close(fd);
	}
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	if (fd < 0)
		return 2;
	for (int i = 0; i < WRITES; i++)
		if (pwrite(fd, block, sizeof(block), (off_t)i * 4096) != (ssize_t)sizeof(block))
			return 3;
	for (int i = 0; i < FSYNCS; i++)
		if (fsync(fd))
			return 4;
	for (int i = 0; i < READS; i++)
		if (pread(fd, block, sizeof(block), (off_t)(i % WRITES) * 4096) != (ssize_t)sizeof(block))
			return 5;
	return close(fd);
}

static uint64_t events(const struct agent_proc *ap, const char *op)
{
	char path[96];
	snprintf(path, sizeof(path), "filesystem.ext4.%s.latency", op);
	return harness_hist_events(ap, path);
}

static void check(const char *what, uint64_t got, uint64_t lo, uint64_t hi)
{
	print_message("  %-28s %6llu in [%llu, %llu]\n", what, (unsigned long long)got, (unsigned long long)lo,
		      (unsigned long long)hi);
	assert_in_range(got, lo, hi);
}

static void run_counts(struct agent_proc *ap, const char *way)
{
	print_message("  ext4 read attached via %s\n", way);
	const char *env = getenv("BPFPUSH_TEST_ATTACH");
	/*
	 * fentry on a module's function needs the module's BTF (5.11+): without
	 * /sys/kernel/btf/ext4 (5.10, or ext4 built in without it) the kprobe way
	 * is the one that can attach.
	 */
	bool module_btf = access("/sys/kernel/btf/ext4", F_OK) == 0 || access("/sys/module/ext4/initstate", F_OK) != 0; /* built in */
	if (env && !strcmp(env, "fentry") && !module_btf)
		env = "kprobe";
	if (env && (!strcmp(env, "fentry") || !strcmp(env, "kprobe")))
		assert_non_null(strstr(way, env));

	char dir[] = "/tmp/bpfpush-fs-XXXXXX", image[64], dev[32], mnt[64];
	assert_non_null(mkdtemp(dir));
	snprintf(image, sizeof(image), "%s/image", dir);
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	int loop_fd = -1;
	assert_true(harness_loop_attach(image, 32 << 20, dev, sizeof(dev), &loop_fd) >= 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "mke2fs -F %s >/dev/null 2>&1", dev);
	assert_int_equal(system(cmd), 0);
	if (mount(dev, mnt, "ext2", 0, NULL))
		assert_int_equal(mount(dev, mnt, "ext4", 0, NULL), 0);

	assert_int_equal(harness_start(ap, 10000), 0);
	uint64_t idle[4];
	for (int i = 0; i < 4; i++)
		idle[i] = events(ap, ops[i]);
	harness_wait_for(ap, "process.exit", UINT64_MAX, 1000); /* one idle second: what the rest of the host does */
	for (int i = 0; i < 4; i++)
		idle[i] = events(ap, ops[i]) - idle[i];
	assert_int_equal(harness_run_child("bpfpush-fs", fs_workload, mnt), 0);
	assert_int_equal(harness_stop(ap), 0);
	assert_int_equal(umount(mnt), 0);
	harness_loop_detach(loop_fd);
	unlink(image);
	rmdir(mnt);
	rmdir(dir);

	print_message("  idle second: %llu opens, %llu writes, %llu fsyncs, %llu reads\n", (unsigned long long)idle[0],
		      (unsigned long long)idle[1], (unsigned long long)idle[2], (unsigned long long)idle[3]);
	for (int i = 0; i < 4; i++) {
		char what[64];
		snprintf(what, sizeof(what), "filesystem.latency ext4 %s", ops[i]);
		uint64_t got = events(ap, ops[i]) - idle[i];
		check(what, got, exact[i], exact[i] + 3 * idle[i] + exact[i] / 8);
	}
	assert_true(harness_has(ap, "filesystem.ext4.read.latency.p50"));
	assert_true(harness_has(ap, "filesystem.ext4.fsync.latency.max"));
	assert_int_equal(harness_sum(ap, "agent.bpf.fs_start.map_full"), 0);
}

/* One test whatever the kernel: it counts where the kernel lets it, and says why not elsewhere. */
static void test_filesystem_counts_or_says_why(void **state)
{
	char yaml[1024];
	harness_modules_yaml(yaml, sizeof(yaml), "", "process filesystem", NULL);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char way[128] = "";
	assert_int_equal(harness_probe_way(&ap, "filesystem", "ext4_read", way, sizeof(way)), 0);
	if (way[0]) {
		run_counts(&ap, way);
		harness_free(&ap);
		return;
	}
	print_message("  no fentry, no kprobes: filesystem attaches nothing, the agent runs the rest\n");
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_stop(&ap), 0);
	assert_false(harness_has(&ap, "filesystem.ext4.read.latency.p50"));
	assert_true(harness_has(&ap, "process.exit"));
	harness_free(&ap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filesystem_counts_or_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
