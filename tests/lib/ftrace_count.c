/* A tracepoint counted by an ftrace instance of the test's own (see ftrace_count.h). */
#include "ftrace_count.h"
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRACEFS "/sys/kernel/tracing"

/* A file of the instance: the harness's writer, which reports the kernel's -errno (a bad filter is -EINVAL). */
static int write_text(const char *dir, const char *file, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return harness_write_file(path, text);
}

int ftrace_count_start(struct ftrace_count *fc, const char *event, const char *filter)
{
	char file[256];
	int rc;
	fc->dir[0] = '\0';
	if (access(TRACEFS "/instances", F_OK) && mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		return -errno;
	char dir[sizeof(fc->dir)];
	snprintf(dir, sizeof(dir), TRACEFS "/instances/bpfpush-test-%d", (int)getpid());
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	snprintf(fc->dir, sizeof(fc->dir), "%s", dir);
	snprintf(file, sizeof(file), "events/%s/filter", event);
	if (filter && (rc = write_text(dir, file, filter)) < 0) {
		ftrace_count_stop(fc);
		return rc;
	}
	snprintf(file, sizeof(file), "events/%s/enable", event);
	if ((rc = write_text(dir, file, "1")) < 0) {
		ftrace_count_stop(fc);
		return rc;
	}
	return 0;
}

/* "entries: N" and "overrun: N" of one CPU's stats file. */
static uint64_t cpu_hits(const char *stats)
{
	FILE *f = fopen(stats, "r");
	char line[128];
	uint64_t hits = 0;
	unsigned long long n;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "entries: %llu", &n) == 1 || sscanf(line, "overrun: %llu", &n) == 1)
			hits += n;
	if (f)
		fclose(f);
	return hits;
}

int64_t ftrace_count_read(const struct ftrace_count *fc)
{
	if (!fc->dir[0])
		return -1;
	char path[256];
	snprintf(path, sizeof(path), "%s/per_cpu", fc->dir);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	uint64_t hits = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "cpu", 3)) {
			char stats[sizeof(path) + sizeof(e->d_name) + 8];
			snprintf(stats, sizeof(stats), "%s/%s/stats", path, e->d_name);
			hits += cpu_hits(stats);
		}
	closedir(d);
	return (int64_t)hits;
}

void ftrace_count_stop(struct ftrace_count *fc)
{
	if (!fc->dir[0])
		return;
	write_text(fc->dir, "events/enable", "0");
	rmdir(fc->dir);
	fc->dir[0] = '\0';
}
