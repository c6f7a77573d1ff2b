/*
 * swap on the running kernel. No tracepoint marks swap I/O, so the module
 * needs fentry or kprobes:
 *   - where the kernel has neither (this host), --probe must say so for both
 *     events and the agent must run its other modules regardless;
 *   - where it has them (the VM matrix), a zram swap device takes the pages
 *     of a process in a memory-limited cgroup (v2 memory.max), which then
 *     reads them back; swap.write and swap.read are checked against the
 *     kernel's own pswpout and pswpin (/proc/vmstat) as a window: at least
 *     what it counted between the agent's first flush and its stop, at most
 *     what it counted from before the agent started to after it stopped.
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
#include <sys/swap.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define ZRAM_MB 128
#define LIMIT_MB 24
#define TOUCH_MB 64

/* A version-1 swap header: what mkswap writes, without needing mkswap. */
static int make_swap_header(const char *dev, uint64_t bytes)
{
	static unsigned char page[4096];
	memset(page, 0, sizeof(page));
	uint32_t *hdr = (uint32_t *)(page + 1024);
	hdr[0] = 1;                                   /* version */
	hdr[1] = (uint32_t)(bytes / sizeof(page) - 1); /* last_page */
	memcpy(page + sizeof(page) - 10, "SWAPSPACE2", 10);
	int fd = open(dev, O_WRONLY);
	if (fd < 0)
		return -errno;
	int rc = pwrite(fd, page, sizeof(page), 0) == (ssize_t)sizeof(page) ? 0 : -EIO;
	close(fd);
	return rc;
}

static int zram_swap_on(char *dev, size_t cap)
{
	if (access("/sys/block/zram0/disksize", W_OK))
		return -ENODEV;
	char size[32];
	snprintf(size, sizeof(size), "%d", ZRAM_MB << 20);
	int rc = harness_write_file("/sys/block/zram0/disksize", size);
	if (rc && rc != -EBUSY)
		return rc;
	snprintf(dev, cap, "/dev/zram0");
	if ((rc = make_swap_header(dev, (uint64_t)ZRAM_MB << 20)))
		return rc;
	return swapon(dev, 0) ? -errno : 0;
}

/* A child in a memory-limited cgroup touches more than the limit, then reads it all back. */
static int swap_workload(void *arg)
{
	const char *cg = arg;
	char path[160], pid[16];
	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (harness_write_file(path, pid))
		return 2;
	size_t len = (size_t)TOUCH_MB << 20;
	volatile unsigned char *p = malloc(len);
	if (!p)
		return 3;
	for (size_t off = 0; off < len; off += 4096)
		p[off] = (unsigned char)(off >> 12) | 1; /* not zero: zram keeps zero pages without I/O accounting */
	unsigned sum = 0;
	for (size_t off = 0; off < len; off += 4096)
		sum += p[off];
	return sum ? 0 : 4;
}

static void test_unavailable_without_kernel_function_hooks(struct agent_proc *ap_owned)
{
	struct agent_proc ap = *ap_owned;
	char read_way[128] = "", write_way[128] = "";
	assert_int_equal(harness_probe_way(&ap, "swap", "read", read_way, sizeof(read_way)), 0);
	assert_int_equal(harness_probe_way(&ap, "swap", "write", write_way, sizeof(write_way)), 0);
	print_message("  no fentry, no kprobes: swap read via '%s', write via '%s' (both must be '')\n", read_way, write_way);
	assert_false(read_way[0]);
	assert_false(write_way[0]);
	/* the agent runs the rest and exits 0 */
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_wait_for(&ap, "process.exit", 0, 1000), 0);
	assert_int_equal(harness_stop(&ap), 0);
	assert_false(harness_has(&ap, "swap.read"));
	assert_false(harness_has(&ap, "swap.write"));
	harness_free(&ap);
}

static void test_pages_match_pswpin_pswpout(struct agent_proc *ap_owned, const char *way)
{
	struct agent_proc ap = *ap_owned;
	print_message("  swap attached via %s\n", way);
	const char *env = getenv("BPFPUSH_TEST_ATTACH");
	if (env && (!strcmp(env, "fentry") || !strcmp(env, "kprobe")))
		assert_non_null(strstr(way, env));

	char dev[32];
	int rc = zram_swap_on(dev, sizeof(dev));
	if (rc)
		print_message("  zram swap: %s\n", strerror(-rc));
	assert_int_equal(rc, 0);
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK)) {
		mkdir("/sys/fs/cgroup", 0755);
		assert_int_equal(mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL), 0);
	}
	harness_write_file("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	char cg[96], limit[32];
	snprintf(cg, sizeof(cg), "/sys/fs/cgroup/bpfpush-swap-%d", (int)getpid());
	assert_true(mkdir(cg, 0755) == 0 || errno == EEXIST);
	char file[160];
	snprintf(file, sizeof(file), "%s/memory.max", cg);
	snprintf(limit, sizeof(limit), "%d", LIMIT_MB << 20);
	assert_int_equal(harness_write_file(file, limit), 0);

	uint64_t out0 = harness_vmstat("pswpout"), in0 = harness_vmstat("pswpin");
	assert_int_equal(harness_start(&ap, 10000), 0);
	uint64_t out1 = harness_vmstat("pswpout"), in1 = harness_vmstat("pswpin");
	assert_int_equal(harness_run_child("bpfpush-swap", swap_workload, cg), 0);
	uint64_t out2 = harness_vmstat("pswpout"), in2 = harness_vmstat("pswpin");
	/* The pages the kernel counted in the inner window are flushed (a shortfall fails below after the deadline). */
	harness_wait_for(&ap, "swap.write", out2 - out1, 10000);
	harness_wait_for(&ap, "swap.read", in2 - in1, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t out3 = harness_vmstat("pswpout"), in3 = harness_vmstat("pswpin");
	swapoff(dev);
	rmdir(cg);

	uint64_t writes = harness_sum(&ap, "swap.write"), reads = harness_sum(&ap, "swap.read");
	print_message("  swap.write %8llu in [%llu, %llu] (pswpout)\n", (unsigned long long)writes,
		      (unsigned long long)(out2 - out1), (unsigned long long)(out3 - out0));
	print_message("  swap.read  %8llu in [%llu, %llu] (pswpin)\n", (unsigned long long)reads,
		      (unsigned long long)(in2 - in1), (unsigned long long)(in3 - in0));
	assert_true(out2 - out1 >= (uint64_t)(TOUCH_MB - LIMIT_MB) * 256 / 2); /* the workload did swap */
	assert_in_range(writes, out2 - out1, out3 - out0);
	assert_in_range(reads, in2 - in1, in3 - in0);
	harness_free(&ap);
}

/* One test whatever the kernel: it counts where the kernel lets it, and says why not elsewhere. */
static void test_swap_counts_or_says_why(void **state)
{
	struct agent_proc ap;
	char way[128];
	assert_int_equal(harness_config_way(&ap, "", "process swap", "swap", "write", way, sizeof(way)), 0);
	if (way[0])
		test_pages_match_pswpin_pswpout(&ap, way);
	else
		test_unavailable_without_kernel_function_hooks(&ap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_swap_counts_or_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
