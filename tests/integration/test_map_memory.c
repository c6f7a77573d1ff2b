/*
 * What the agent's BPF maps lock in kernel memory, as the kernel reports it
 * (the memlock line of each map's /proc/PID/fdinfo entry, each map once by
 * its id), for the shipped config and for every module on (apps with every
 * depth counter, cgroups). Per-CPU maps grow with the number of possible
 * CPUs, not online ones, so the figure depends on the machine: the VM matrix
 * boots guests with `-smp 2,maxcpus=N` to measure it at N (README, "What it
 * costs"). Printed, and held to the budget of 32 MiB at any CPU count. The
 * shipped config's apps must also attach its exit and rename there: their
 * programs' verification grows with the possible CPUs.
 */
#include <dirent.h>
#include <linux/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define BUDGET_BYTES (32ull << 20)
#define MAX_MAPS 512
#define TOP 5
/* Maps at least this large are listed one by one after the summary line. */
#define LISTED_BYTES (64u << 10)

struct map_use {
	uint32_t id;
	uint64_t memlock;
	char name[BPF_OBJ_NAME_LEN];
};

struct map_census {
	struct map_use maps[MAX_MAPS];
	size_t n;
	uint64_t total;
};

/* "0-1", "0-239", "0,2-3": how many CPUs the kernel could ever bring up. */
static int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	if (!f)
		return -1;
	int n = 0, lo, hi;
	char sep;
	while (fscanf(f, "%d", &lo) == 1) {
		hi = lo;
		if (fscanf(f, "%c", &sep) == 1 && sep == '-' && fscanf(f, "%d%c", &hi, &sep) < 1)
			break;
		n += hi - lo + 1;
		if (sep != ',')
			break;
	}
	fclose(f);
	return n;
}

static void map_name(uint32_t id, char *out, size_t cap)
{
	snprintf(out, cap, "id%u", id);
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.map_id = id;
	int fd = (int)syscall(__NR_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof(attr));
	if (fd < 0)
		return;
	struct bpf_map_info info;
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	if (!syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof(attr)) && info.name[0])
		snprintf(out, cap, "%s", info.name);
	close(fd);
}

/* Every map the process holds a descriptor of, once each. */
static int census(pid_t pid, struct map_census *c)
{
	memset(c, 0, sizeof(*c));
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)pid);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[320], line[128];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		bool is_map = false;
		unsigned long long memlock = 0, id = 0;
		while (fgets(line, sizeof(line), f)) {
			is_map |= !strncmp(line, "map_type:", 9);
			sscanf(line, "memlock: %llu", &memlock);
			sscanf(line, "map_id: %llu", &id);
		}
		fclose(f);
		if (!is_map || !id)
			continue;
		bool seen = false;
		for (size_t i = 0; i < c->n && !seen; i++)
			seen = c->maps[i].id == id;
		if (seen || c->n == MAX_MAPS)
			continue;
		struct map_use *m = &c->maps[c->n++];
		m->id = (uint32_t)id;
		m->memlock = memlock;
		map_name(m->id, m->name, sizeof(m->name));
		c->total += memlock;
	}
	closedir(d);
	return 0;
}

static int by_memlock(const void *a, const void *b)
{
	uint64_t x = ((const struct map_use *)a)->memlock, y = ((const struct map_use *)b)->memlock;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void measure(const char *what, struct agent_proc *ap)
{
	assert_int_equal(harness_start(ap, 120000), 0);
	struct map_census *c = malloc(sizeof(*c));
	assert_non_null(c);
	assert_int_equal(census(ap->pid, c), 0);
	assert_int_equal(harness_stop(ap), 0);
	qsort(c->maps, c->n, sizeof(c->maps[0]), by_memlock);
	char top[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < c->n && i < TOP; i++)
		len += (size_t)snprintf(top + len, sizeof(top) - len, " %s=%lluK", c->maps[i].name,
					(unsigned long long)(c->maps[i].memlock >> 10));
	print_message("  %-28s %zu maps, %.1f MiB locked at %d possible CPUs; largest:%s\n", what, c->n,
		      (double)c->total / (1 << 20), possible_cpus(), top);
	char all[2048] = "";
	len = 0;
	for (size_t i = 0; i < c->n && c->maps[i].memlock >= LISTED_BYTES && len < sizeof(all); i++)
		len += (size_t)snprintf(all + len, sizeof(all) - len, " %s=%lluK", c->maps[i].name,
					(unsigned long long)(c->maps[i].memlock >> 10));
	print_message("    maps of %u KiB or more:%s\n", LISTED_BYTES >> 10, all);
	assert_true(c->n > 0);
	assert_true(c->total <= BUDGET_BYTES);
	free(c);
	harness_free(ap);
}

static void test_shipped_config(void **state)
{
	(void)state;
	struct agent_proc ap;
	assert_int_equal(harness_config_shipped(&ap), 0);
	/*
	 * apps' exit and rename programs visit every CPU's slot: at 240 possible
	 * CPUs the exit's once went past the verifier's limit, and apps ran
	 * without it (probes/apps.bpf.c, slots_fold_all).
	 */
	static const char *const every_cpu[] = { "exit", "rename" };
	for (size_t i = 0; i < sizeof(every_cpu) / sizeof(every_cpu[0]); i++) {
		char way[128];
		assert_int_equal(harness_probe_way(&ap, "apps", every_cpu[i], way, sizeof(way)), 0);
		print_message("  apps' %s at %d possible CPUs attaches via %s\n", every_cpu[i], possible_cpus(),
			      way[0] ? way : "nothing");
		assert_true(way[0]);
	}
	measure("shipped config:", &ap);
}

static void test_every_module(void **state)
{
	(void)state;
	char yaml[2048];
	harness_modules_yaml(yaml, sizeof(yaml), "",
			     "process fd vfs sync mount shm cachestat dcstat swap socket network disk mdflush "
			     "filesystem hardirq oomkill",
			     "{ enabled: true, counters: { tcp_retransmits: true, dcstat: true } }\n"
			     "cgroups: { enabled: true }");
	/* softirq's maps exist only with its timing on (off as shipped). */
	assert_int_equal(harness_module_options(yaml, sizeof(yaml), "softirq", "enabled: true, timing: true"), 0);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	measure("every module, every counter:", &ap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_every_module),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
