/*
 * Tight syscall loops for scripts/bench/overhead.
 *
 * Times three operations, interleaved in chunks so that a slow moment of the
 * host (or the agent's once-a-second collect) spoils a chunk of each, not a
 * whole operation:
 *   read     read(2) of 1 byte from /dev/zero (a watched syscall, 1 byte counted)
 *   open     openat(2) of an existing file O_RDONLY, then close(2) (two watched syscalls)
 *   getppid  getppid(2), a syscall no module watches
 * and, when asked for (-F, -T; the line then ends with them):
 *   fork     fork(2) of a child that exits at once, and its waitpid(2)
 *            (process creation, exit and release, and the syscalls around them)
 *   tcp      send(2) of 1 byte over a loopback TCP connection and its recv(2)
 *            on the other end (a TCP send and a receive that returns data)
 * Prints one line: "read NS open NS getppid NS [fork NS] [tcp NS]", each the
 * median over the chunks of the mean time of one call (one openat+close pair
 * for "open", one fork+wait for "fork", one send+recv for "tcp").
 *
 * Usage: syscall_loop [-r READS] [-o OPENS] [-g GETPPIDS] [-F FORKS] [-T SENDS] [-c CHUNKS] [-f FILE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
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

static double time_forks(long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			die("fork");
		if (p == 0)
			_exit(0);
		if (waitpid(p, NULL, 0) != p)
			die("waitpid");
	}
	return (now_ns() - t0) / (double)n;
}

/* A connected loopback TCP pair: *client, *server. */
static void tcp_pair(int *client, int *server)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		die("listen");
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*client < 0 || connect(*client, (struct sockaddr *)&a, sizeof(a)))
		die("connect");
	*server = accept(l, NULL, NULL);
	if (*server < 0)
		die("accept");
	close(l);
	/* One byte at a time, at once: no Nagle wait for the previous byte's ACK. */
	int one = 1;
	setsockopt(*client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static double time_tcp(int client, int server, long n)
{
	char c = 'x';
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (send(client, &c, 1, 0) != 1)
			die("send");
		/* Loopback delivers within send(): the byte is there to read. */
		if (recv(server, &c, 1, 0) != 1)
			die("recv");
	}
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long reads = 1000000, opens = 250000, getppids = 1000000, forks = 0, sends = 0;
	int chunks = 20, opt;
	const char *path = "/etc/passwd";
	while ((opt = getopt(argc, argv, "r:o:g:F:T:c:f:")) != -1) {
		switch (opt) {
		case 'r': reads = atol(optarg); break;
		case 'o': opens = atol(optarg); break;
		case 'g': getppids = atol(optarg); break;
		case 'F': forks = atol(optarg); break;
		case 'T': sends = atol(optarg); break;
		case 'c': chunks = atoi(optarg); break;
		case 'f': path = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-r READS] [-o OPENS] [-g GETPPIDS] [-F FORKS] [-T SENDS] [-c CHUNKS] [-f FILE]\n", argv[0]);
			return 2;
		}
	}
	if (chunks < 1 || chunks > 1000 || reads < chunks || opens < chunks || getppids < chunks ||
	    (forks && forks < chunks) || (sends && sends < chunks)) {
		fprintf(stderr, "syscall_loop: counts must be >= chunks (1..1000)\n");
		return 2;
	}
	int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	if (zero < 0)
		die("/dev/zero");
	double *r = calloc((size_t)chunks, sizeof(double));
	double *o = calloc((size_t)chunks, sizeof(double));
	double *g = calloc((size_t)chunks, sizeof(double));
	double *f = calloc((size_t)chunks, sizeof(double));
	double *t = calloc((size_t)chunks, sizeof(double));
	if (!r || !o || !g || !f || !t)
		die("calloc");
	int client = -1, server = -1;
	if (sends)
		tcp_pair(&client, &server);
	/* Warm up caches, the dentry of path and the CPU's frequency. */
	time_reads(zero, reads / chunks);
	time_opens(path, opens / chunks);
	time_getppid(getppids / chunks);
	if (forks)
		time_forks(forks / chunks);
	if (sends)
		time_tcp(client, server, sends / chunks);
	for (int c = 0; c < chunks; c++) {
		r[c] = time_reads(zero, reads / chunks);
		o[c] = time_opens(path, opens / chunks);
		g[c] = time_getppid(getppids / chunks);
		if (forks)
			f[c] = time_forks(forks / chunks);
		if (sends)
			t[c] = time_tcp(client, server, sends / chunks);
	}
	printf("read %.1f open %.1f getppid %.1f", median(r, chunks), median(o, chunks), median(g, chunks));
	if (forks)
		printf(" fork %.1f", median(f, chunks));
	if (sends)
		printf(" tcp %.1f", median(t, chunks));
	printf("\n");
	return 0;
}
