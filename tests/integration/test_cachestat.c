/*
 * cachestat on the running kernel, on a loop device over a file in /tmp
 * (buffered I/O on a block device goes through the page cache like a file
 * does, and needs no filesystem image, which the VM matrix's initramfs
 * lacks). With the agent running, a workload (comm "bpfpush-cache") drops
 * the device's cached pages (BLKFLSBUF), reads its N pages once (N misses),
 * reads them again (N hits), then overwrites them and fsyncs (N pages
 * dirtied on the device; where the backing file is on a disk filesystem,
 * the loop driver's writes dirty its N pages too).
 *   - misses and dirties come from tracepoints: every tier, this host included;
 *   - hits need fentry or kprobes (folio_mark_accessed): the VM matrix. Where
 *     neither exists, hits and ratio must not be sent.
 * Windows: misses [N, N + slack]; dirties [N, 2N + slack], and never more
 * than the kernel's own nr_dirtied over the agent's life; hits
 * [N, 4N + slack]: the loop driver's reads and writes of the backing file are
 * page-cache accesses too (6.12 on tmpfs: 3N + 141 seen). The slack is three
 * times what the host did in one idle second, plus N/4 (a double count is 2N).
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

/* N in the windows above: the pages harness_cache_workload reads and writes. */
#define PAGES HARNESS_CACHE_PAGES

static void check(const char *what, uint64_t got, uint64_t lo, uint64_t hi)
{
	print_message("  %-18s %8llu in [%llu, %llu]\n", what, (unsigned long long)got, (unsigned long long)lo,
		      (unsigned long long)hi);
	assert_in_range(got, lo, hi);
}

static void run_cachestat_test(const char *extra_yaml)
{
	static const char *const names[] = { "cachestat.misses", "cachestat.dirties", "cachestat.hits" };
	char yaml[1024];
	harness_modules_yaml(yaml, sizeof(yaml), extra_yaml, "cachestat", NULL);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char way[3][128] = { "" };
	static const char *const events[] = { "added", "dirtied", "accessed" };
	char tier[32];
	harness_forced_tier(extra_yaml, tier, sizeof(tier));
	for (int i = 0; i < 3; i++) {
		assert_int_equal(harness_probe_way(&ap, "cachestat", events[i], way[i], sizeof(way[i])), 0);
		print_message("  event %-8s attached via %s\n", events[i], way[i][0] ? way[i] : "nothing");
	}
	assert_true(way[0][0]); /* tracepoints: every kernel */
	/* The classic writeback_dirty_folio has no folio size: that tier may leave dirties out. */
	bool classic = !strcmp(tier, "tracepoint");
	assert_true(way[1][0] || classic);
	bool tracepoint_tier = !strcmp(tier, "tp_btf") || !strcmp(tier, "raw_tp") || classic;
	if (tracepoint_tier) {
		assert_string_equal(way[0], tier);
		if (way[1][0])
			assert_string_equal(way[1], tier);
	} else if (tier[0] && way[2][0]) {
		assert_string_equal(way[2], tier);
	}
	bool hits = way[2][0];

	struct harness_cache_dev cd;
	assert_int_equal(harness_cache_dev_create(&cd, "/tmp/bpfpush-cache-XXXXXX"), 0);

	uint64_t dirtied_before = harness_vmstat("nr_dirtied");
	assert_int_equal(harness_start(&ap, 10000), 0);
	uint64_t idle[3], start[3];
	for (int i = 0; i < 3; i++)
		start[i] = harness_sum(&ap, names[i]);
	harness_wait_for(&ap, names[0], UINT64_MAX, 1000); /* one idle second: what the rest of the host does */
	for (int i = 0; i < 3; i++)
		idle[i] = harness_sum(&ap, names[i]) - start[i];
	assert_int_equal(harness_run_child("bpfpush-cache", harness_cache_workload, cd.dev), 0);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t dirtied_kernel = harness_vmstat("nr_dirtied") - dirtied_before;
	harness_cache_dev_remove(&cd);

	print_message("  idle second: %llu misses, %llu dirties, %llu hits; kernel nr_dirtied %llu over the run\n",
		      (unsigned long long)idle[0], (unsigned long long)idle[1], (unsigned long long)idle[2],
		      (unsigned long long)dirtied_kernel);
	uint64_t got[3];
	for (int i = 0; i < 3; i++)
		got[i] = harness_sum(&ap, names[i]) - idle[i];
	check(names[0], got[0], PAGES, PAGES + 3 * idle[0] + PAGES / 4);
	uint64_t dirties_max = 2 * PAGES + 3 * idle[1] + PAGES / 4;
	if (!way[1][0])
		assert_false(harness_has(&ap, names[1]));
	else
		check(names[1], got[1], PAGES, dirties_max < dirtied_kernel ? dirties_max : dirtied_kernel);
	if (hits) {
		check(names[2], got[2], PAGES, 4 * PAGES + 3 * idle[2] + PAGES / 4);
		assert_true(harness_has(&ap, "cachestat.ratio"));
	} else {
		print_message("  no way to see accesses: cachestat.hits and cachestat.ratio not sent\n");
		assert_false(harness_has(&ap, names[2]));
		assert_false(harness_has(&ap, "cachestat.ratio"));
	}
	assert_int_equal(harness_sum(&ap, "agent.bpf.cachestat.missed"), 0);
	harness_free(&ap);
}

/*
 * Dirtied pages against the kernel's nr_dirtied, with large folios: ext4
 * (6.16+) and xfs dirty a buffered write's pages a large folio at a time,
 * one tracepoint call for up to hundreds of pages. A workload (comm
 * "bpfpush-dirty") writes DIRTY_BYTES to a new file on an ext4 filesystem
 * on a loop device and fsyncs it. nr_dirtied is read at four points: before
 * the agent starts, once it printed its first flush, after the workload,
 * after the agent stopped; the agent counted everything between the middle
 * two and nothing outside the outer two, so dirties lie in [inner, outer]
 * (host-wide on both sides) wherever they are sent. On the classic tier,
 * whose writeback_dirty_folio carries no folio size (one page counted per
 * folio: 3 % of nr_dirtied here), they are not sent and --probe says why. The filesystem comes from mkfs.ext4, or in the
 * VM matrix's initramfs from busybox's mke2fs (ext2, mounted by ext4).
 */
#define DIRTY_BYTES (32u << 20)

struct ext4_dev {
	char dir[64], backing[96], mnt[96], file[128], dev[32];
	int loop_fd;
};

static int ext4_dev_create(struct ext4_dev *e)
{
	memset(e, 0, sizeof(*e));
	e->loop_fd = -1;
	snprintf(e->dir, sizeof(e->dir), "/tmp/bpfpush-ext4-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->backing, sizeof(e->backing), "%s/image", e->dir);
	snprintf(e->mnt, sizeof(e->mnt), "%s/mnt", e->dir);
	snprintf(e->file, sizeof(e->file), "%s/mnt/written", e->dir);
	if (mkdir(e->mnt, 0700) || harness_loop_attach(e->backing, 4 * (off_t)DIRTY_BYTES, e->dev, sizeof(e->dev), &e->loop_fd) < 0)
		return -1;
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "{ mkfs.ext4 -q -F %s || mke2fs -F %s; } >/dev/null 2>&1", e->dev, e->dev);
	if (system(cmd))
		return -1;
	return mount(e->dev, e->mnt, "ext4", 0, NULL);
}

static void ext4_dev_remove(struct ext4_dev *e)
{
	umount(e->mnt);
	harness_loop_detach(e->loop_fd);
	unlink(e->backing);
	rmdir(e->mnt);
	rmdir(e->dir);
}

static int dirty_workload(void *path)
{
	int fd = open((const char *)path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	static char chunk[1 << 20];
	memset(chunk, 0x5a, sizeof(chunk));
	for (unsigned done = 0; fd >= 0 && done < DIRTY_BYTES; done += sizeof(chunk))
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
			return 1;
	/* Written back now, so the loop driver's own writes to the image fall inside the window too. */
	return fd < 0 || fsync(fd) || close(fd) ? 2 : 0;
}

static void run_ext4_dirty_test(const char *extra_yaml)
{
	char yaml[1024], tier[32], way[128] = "";
	harness_modules_yaml(yaml, sizeof(yaml), extra_yaml, "cachestat", NULL);
	harness_forced_tier(extra_yaml, tier, sizeof(tier));
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	assert_int_equal(harness_probe_way(&ap, "cachestat", "dirtied", way, sizeof(way)), 0);
	bool classic = !strcmp(tier, "tracepoint");
	print_message("  event dirtied attached via %s\n", way[0] ? way : "nothing");
	assert_true(way[0] || classic); /* only the classic tier may leave it out */

	struct ext4_dev e;
	assert_int_equal(ext4_dev_create(&e), 0);
	uint64_t outer0 = harness_vmstat("nr_dirtied");
	assert_int_equal(harness_start(&ap, 10000), 0);
	uint64_t inner0 = harness_vmstat("nr_dirtied");
	assert_int_equal(harness_run_child("bpfpush-dirty", dirty_workload, e.file), 0);
	uint64_t inner1 = harness_vmstat("nr_dirtied");
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t outer1 = harness_vmstat("nr_dirtied");
	ext4_dev_remove(&e);

	uint64_t pages = DIRTY_BYTES / HARNESS_PAGE, got = harness_sum(&ap, "cachestat.dirties");
	print_message("  wrote %llu pages; nr_dirtied +%llu inside the agent's run, +%llu around it\n",
		      (unsigned long long)pages, (unsigned long long)(inner1 - inner0),
		      (unsigned long long)(outer1 - outer0));
	if (!way[0]) {
		print_message("  classic tier: cachestat.dirties not sent\n");
		assert_false(harness_has(&ap, "cachestat.dirties"));
	} else {
		assert_true(inner1 - inner0 >= pages);
		check("cachestat.dirties", got, inner1 - inner0, outer1 - outer0);
	}
	harness_free(&ap);
}

int main(void)
{
	int failed = harness_run_tier_tests(run_cachestat_test);
	return failed + harness_run_tier_tests(run_ext4_dirty_test);
}
