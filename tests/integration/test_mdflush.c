/*
 * mdflush on the running kernel. md_flush_request has no tracepoint, so the
 * module needs fentry or kprobes, and md in the kernel:
 *   - where it cannot attach (this host: neither fentry nor kprobes; or
 *     md_mod not loaded), --probe must say why, the agent must run its other
 *     modules regardless, and the test is skipped with that reason;
 *   - elsewhere (the VM matrix: scripts/vm/modules.list loads md_mod and
 *     raid1), a RAID-1 of two loop devices is built without mdadm (the
 *     guests have busybox only) the way `mdadm --build` does it: md's
 *     SET_ARRAY_INFO, ADD_NEW_DISK and RUN_ARRAY ioctls, no superblock, so md
 *     itself writes nothing and sends no flush of its own. A child (comm
 *     "bpfpush-mdflush") then writes a block and fsync()s the md device
 *     FSYNCS times: each fsync of a block device ends in one empty
 *     REQ_PREFLUSH bio (blkdev_issue_flush), which reaches md because md
 *     declares a volatile write cache, and md_flush_request once.
 *     mdflush.flushes{disk=md_bpfpush} must be exactly FSYNCS.
 *
 * An independent kernel count: the md device's own flush field in
 * /proc/diskstats stays 0 (md is bio-based: only request-based devices
 * account flushes), but each md flush sends one flush to every member, and
 * the loop devices, request-based, count those. With one fsync at a time
 * nothing merges them, so each member's flush field grows by FSYNCS too.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/major.h>
#include <linux/raid/md_p.h>
#include <linux/raid/md_u.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define FSYNCS 64
#define MD_NAME "md_bpfpush" /* a named array: never one of the host's mdN */
#define MEMBER_BYTES (16 << 20)
#define BLOCK 4096

struct md_array {
	char dir[64];
	char backing[2][96];
	char loop[2][32]; /* "/dev/loopN" */
	int loop_fd[2];
	char node[96]; /* the md device's node, made in dir */
	int fd;        /* open on node: the ioctls, and the opener that keeps it */
};

static int read_line(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	int rc = fgets(buf, (int)cap, f) ? 0 : -EIO;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return rc;
}

/* The "flush requests completed" field of /proc/diskstats (the 16th after the name; 5.5+). */
static uint64_t diskstats_flushes(const char *disk)
{
	FILE *f = fopen("/proc/diskstats", "r");
	char line[512];
	uint64_t flushes = 0;
	while (f && fgets(line, sizeof(line), f)) {
		unsigned major, minor;
		char name[64];
		int at;
		if (sscanf(line, "%u %u %63s %n", &major, &minor, name, &at) != 3 || strcmp(name, disk))
			continue;
		char *p = line + at;
		for (int field = 1; field <= 16; field++) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);
			if (end == p)
				break;
			if (field == 16)
				flushes = v;
			p = end;
		}
	}
	if (f)
		fclose(f);
	return flushes;
}

/* An array left by an earlier run that failed half-way: stop it. */
static void md_clear_leftover(void)
{
	if (access("/sys/block/" MD_NAME "/md/array_state", W_OK) == 0)
		harness_write_file("/sys/block/" MD_NAME "/md/array_state", "clear");
}

static int md_create(struct md_array *md, char *why, size_t cap)
{
	memset(md, 0, sizeof(*md));
	md->fd = md->loop_fd[0] = md->loop_fd[1] = -1;
	snprintf(md->dir, sizeof(md->dir), "/tmp/bpfpush-mdflush-XXXXXX");
	if (!mkdtemp(md->dir)) {
		snprintf(why, cap, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	mdu_array_info_t array = { .level = 1, .raid_disks = 2, .nr_disks = 2, .active_disks = 2, .working_disks = 2,
				   .not_persistent = 1, .state = 1 << MD_SB_CLEAN /* in sync: no resync */ };
	for (int i = 0; i < 2; i++) {
		snprintf(md->backing[i], sizeof(md->backing[i]), "%s/member%d", md->dir, i);
		if (harness_loop_attach(md->backing[i], MEMBER_BYTES, md->loop[i], sizeof(md->loop[i]), &md->loop_fd[i]) < 0) {
			snprintf(why, cap, "loop device for %s: %s", md->backing[i], strerror(errno));
			return -1;
		}
	}
	md_clear_leftover();
	int rc = harness_write_file("/sys/module/md_mod/parameters/new_array", MD_NAME);
	if (rc) {
		snprintf(why, cap, "creating %s through md_mod's new_array: %s", MD_NAME, strerror(-rc));
		return -1;
	}
	char dev[32];
	unsigned major, minor;
	if (read_line("/sys/block/" MD_NAME "/dev", dev, sizeof(dev)) || sscanf(dev, "%u:%u", &major, &minor) != 2) {
		snprintf(why, cap, "no /sys/block/%s/dev", MD_NAME);
		return -1;
	}
	/* devtmpfs makes /dev/md_bpfpush; without it, a node of our own (where /tmp allows devices) */
	struct stat st;
	bool devtmpfs = !stat("/dev/" MD_NAME, &st) && S_ISBLK(st.st_mode) && st.st_rdev == makedev(major, minor);
	snprintf(md->node, sizeof(md->node), "%s/%s", devtmpfs ? "/dev" : md->dir, MD_NAME);
	if ((!devtmpfs && mknod(md->node, S_IFBLK | 0600, makedev(major, minor))) || (md->fd = open(md->node, O_RDWR)) < 0) {
		snprintf(why, cap, "%s (%u:%u): %s", md->node, major, minor, strerror(errno));
		return -1;
	}
	if (ioctl(md->fd, SET_ARRAY_INFO, &array)) {
		snprintf(why, cap, "SET_ARRAY_INFO: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (fstat(md->loop_fd[i], &st)) {
			snprintf(why, cap, "fstat %s: %s", md->loop[i], strerror(errno));
			return -1;
		}
		mdu_disk_info_t disk = { .number = i, .major = (int)major(st.st_rdev), .minor = (int)minor(st.st_rdev),
					 .raid_disk = i, .state = (1 << MD_DISK_SYNC) | (1 << MD_DISK_ACTIVE) };
		if (ioctl(md->fd, ADD_NEW_DISK, &disk)) {
			snprintf(why, cap, "ADD_NEW_DISK %s: %s", md->loop[i], strerror(errno));
			return -1;
		}
	}
	if (ioctl(md->fd, RUN_ARRAY, NULL)) {
		snprintf(why, cap, "RUN_ARRAY (raid1 not loaded?): %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void md_destroy(struct md_array *md)
{
	if (md->fd >= 0) {
		if (ioctl(md->fd, STOP_ARRAY, NULL))
			print_message("  STOP_ARRAY: %s\n", strerror(errno));
		close(md->fd);
	}
	md_clear_leftover(); /* created but never run */
	if (md->node[0] && strncmp(md->node, "/dev/", 5))
		unlink(md->node);
	for (int i = 0; i < 2; i++) {
		harness_loop_detach(md->loop_fd[i]);
		if (md->backing[i][0])
			unlink(md->backing[i]);
	}
	rmdir(md->dir);
}

/* FSYNCS times: a block written through the page cache, then fsync (writeback, then one flush). */
static int fsync_workload(void *arg)
{
	const struct md_array *md = arg;
	int fd = open(md->node, O_RDWR);
	if (fd < 0)
		return 1;
	static char block[BLOCK];
	for (int i = 0; i < FSYNCS; i++) {
		memset(block, 'a' + i % 26, sizeof(block));
		if (pwrite(fd, block, sizeof(block), (off_t)i * BLOCK) != (ssize_t)sizeof(block))
			return 2;
		if (fsync(fd))
			return 3;
	}
	return close(fd) ? 4 : 0;
}

static const char *loop_name(const char *dev) { return strrchr(dev, '/') + 1; }

static void test_flushes_exact(struct agent_proc *ap_owned, const char *way)
{
	struct agent_proc ap = *ap_owned;
	print_message("  mdflush attached via %s\n", way);
	const char *env = getenv("BPFPUSH_TEST_ATTACH");
	/*
	 * fentry on md_flush_request needs md_mod's BTF (5.11+): without
	 * /sys/kernel/btf/md_mod (5.10, or md built in without it) the kprobe way
	 * is the one that can attach.
	 */
	bool module_btf = access("/sys/kernel/btf/md_mod", F_OK) == 0 || access("/sys/module/md_mod/initstate", F_OK) != 0; /* built in */
	if (env && !strcmp(env, "fentry") && !module_btf)
		env = "kprobe";
	if (env && (!strcmp(env, "fentry") || !strcmp(env, "kprobe")))
		assert_non_null(strstr(way, env));

	struct md_array md;
	char why[256] = "";
	if (md_create(&md, why, sizeof(why))) {
		print_message("  md RAID-1 over two loop devices: %s\n", why);
		md_destroy(&md);
		fail();
	}
	char cache[32] = "";
	read_line("/sys/block/" MD_NAME "/queue/write_cache", cache, sizeof(cache));
	print_message("  %s (%s): raid1 over %s and %s, write cache '%s'\n", MD_NAME, md.node, md.loop[0], md.loop[1],
		      cache);
	/* a write-through queue drops REQ_PREFLUSH before md sees it: nothing to count */
	if (strcmp(cache, "write back")) {
		md_destroy(&md);
		fail();
	}

	uint64_t md0 = diskstats_flushes(MD_NAME);
	uint64_t member0[2] = { diskstats_flushes(loop_name(md.loop[0])), diskstats_flushes(loop_name(md.loop[1])) };
	assert_int_equal(harness_start(&ap, 10000), 0);
	int workload = harness_run_child("bpfpush-mdflush", fsync_workload, &md);
	uint64_t md1 = diskstats_flushes(MD_NAME);
	uint64_t member1[2] = { diskstats_flushes(loop_name(md.loop[0])), diskstats_flushes(loop_name(md.loop[1])) };
	/* a shortfall fails below, after the deadline */
	harness_wait_for(&ap, "mdflush." MD_NAME ".flushes", FSYNCS, 10000);
	assert_int_equal(harness_stop(&ap), 0);
	md_destroy(&md);
	assert_int_equal(workload, 0);

	uint64_t flushes = harness_sum(&ap, "mdflush." MD_NAME ".flushes");
	print_message("  mdflush.flushes{disk=%s} %llu, fsyncs %d\n", MD_NAME, (unsigned long long)flushes, FSYNCS);
	print_message("  /proc/diskstats flushes: %s +%llu, %s +%llu, %s +%llu\n", MD_NAME,
		      (unsigned long long)(md1 - md0), loop_name(md.loop[0]), (unsigned long long)(member1[0] - member0[0]),
		      loop_name(md.loop[1]), (unsigned long long)(member1[1] - member0[1]));
	assert_int_equal(flushes, FSYNCS);
	assert_int_equal(member1[0] - member0[0], FSYNCS);
	assert_int_equal(member1[1] - member0[1], FSYNCS);
	harness_free(&ap);
}

/* --probe's failure line for the module: why it does not run here. */
static void probe_failure(const struct agent_proc *ap, char *why, size_t cap)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "%s --probe --json -c %s 2>/dev/null", harness_agent_bin(), ap->config);
	FILE *p = popen(cmd, "r");
	static char line[1 << 16];
	why[0] = '\0';
	while (p && fgets(line, sizeof(line), p)) {
		const char *f = strstr(line, "{\"module\": \"mdflush\"") ? strstr(line, "\"failure\": \"") : NULL;
		if (f) {
			f += strlen("\"failure\": \"");
			snprintf(why, cap, "%.*s", (int)strcspn(f, "\""), f);
		}
	}
	if (p)
		pclose(p);
}

static void test_unavailable_says_why(struct agent_proc *ap_owned)
{
	struct agent_proc ap = *ap_owned;
	char why[1024];
	probe_failure(&ap, why, sizeof(why));
	print_message("  mdflush cannot attach here: %s\n", why[0] ? why : "(no reason given)");
	assert_true(why[0]); /* --probe says why */
	/* the agent runs the rest and exits 0 */
	assert_int_equal(harness_start(&ap, 10000), 0);
	assert_int_equal(harness_wait_for(&ap, "process.exit", 0, 1000), 0);
	assert_int_equal(harness_stop(&ap), 0);
	assert_false(harness_has(&ap, "mdflush." MD_NAME ".flushes"));
	assert_true(harness_has(&ap, "process.exit"));
	harness_free(&ap);
	skip();
}

/* One test whatever the kernel: it counts where the kernel lets it, and says why not elsewhere. */
static void test_mdflush_counts_or_says_why(void **state)
{
	struct agent_proc ap;
	char way[128];
	assert_int_equal(harness_config_way(&ap, "", "process mdflush", "mdflush", "flush", way, sizeof(way)), 0);
	if (way[0])
		test_flushes_exact(&ap, way);
	else
		test_unavailable_says_why(&ap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mdflush_counts_or_says_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
