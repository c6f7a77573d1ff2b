/*
 * Tight syscall loops for scripts/bench/overhead.
 *
 * Times three operations, interleaved in chunks so that a slow moment of the
 * host (or the agent's once-a-second collect) spoils a chunk of each, not a
 * whole operation:
 *   read     read(2) of 1 byte from /dev/zero (a watched syscall, 1 byte counted)
 *   open     openat(2) of an existing file O_RDONLY, then close(2) (two watched syscalls)
 *   getppid  getppid(2), a syscall no module watches
 * Prints one line: "read NS open NS getppid NS", each the median over the
 * chunks of the mean time of one call (one openat+close pair for "open").
 *
 * Usage: syscall_loop [-r READS] [-o OPENS] [-g GETPPIDS] [-c CHUNKS] [-f FILE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no syscall */
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what)
{
	fprintf(stderr, "syscall_loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double time_reads(int fd, long n)
{
	char c;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (read(fd, &c, 1) != 1)
			die("read");
	return (now_ns() - t0) / (double)n;
}

static double time_opens(const char *path, long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(path);
		close(fd);
	}
	return (now_ns() - t0) / (double)n;
}

static double time_getppid(long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid); /* glibc never caches it; syscall() makes sure */
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long reads = 1000000, opens = 250000, getppids = 1000000;
	int chunks = 20, opt;
	const char *path = "/etc/passwd";
	while ((opt = getopt(argc, argv, "r:o:g:c:f:")) != -1) {
		switch (opt) {
		case 'r': reads = atol(optarg); break;
		case 'o': opens = atol(optarg); break;
		case 'g': getppids = atol(optarg); break;
		case 'c': chunks = atoi(optarg); break;
		case 'f': path = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-r READS] [-o OPENS] [-g GETPPIDS] [-c CHUNKS] [-f FILE]\n", argv[0]);
			return 2;
		}
	}
	if (chunks < 1 || chunks > 1000 || reads < chunks || opens < chunks || getppids < chunks) {
		fprintf(stderr, "syscall_loop: counts must be >= chunks (1..1000)\n");
		return 2;
	}
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zero < 0)
		die("/dev/zero");
	double *r = calloc((size_t)chunks, sizeof(double));
	double *o = calloc((size_t)chunks, sizeof(double));
	double *g = calloc((size_t)chunks, sizeof(double));
	if (!r || !o || !g)
		die("calloc");
	/* Warm up caches, the dentry of path and the CPU's frequency. */
	time_reads(zero, reads / chunks);
	time_opens(path, opens / chunks);
	time_getppid(getppids / chunks);
	for (int c = 0; c < chunks; c++) {
		r[c] = time_reads(zero, reads / chunks);
		o[c] = time_opens(path, opens / chunks);
		g[c] = time_getppid(getppids / chunks);
	}
	printf("read %.1f open %.1f getppid %.1f\n", median(r, chunks), median(o, chunks), median(g, chunks));
	return 0;
}
