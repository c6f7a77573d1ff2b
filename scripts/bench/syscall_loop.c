/*
 * Tight syscall loops for scripts/bench/overhead.
 *
 * Times three operations, interleaved in chunks so that a slow moment of the
 * host (or the agent's once-a-second collect) spoils a chunk of each, not a
 * whole operation:
 *   read     read(2) of 1 byte from /dev/zero (a watched syscall, 1 byte counted)
 *   open     openat(2) of an existing file O_RDONLY, then close(2) (two watched syscalls)
 *   getppid  getppid(2), a syscall no module watches
 * and, when asked for (-w, -F, -T, -B, -S, -Y; the line then ends with them, in this order):
 *   write    write(2) of 1 byte to /dev/null (a watched syscall, 1 byte counted)
 *   fork     fork(2) of a child that exits at once, and its waitpid(2)
 *            (process creation, exit and release, and the syscalls around them)
 *   tcp      send(2) of 1 byte over a loopback TCP connection and its recv(2)
 *            on the other end (a TCP send and a receive that returns data);
 *            the server's port is one it bound below the ephemeral range, as
 *            a service's is, the client's one the kernel picked
 *   block    pread(2) of 4 KiB at the next aligned offset of the block device
 *            DEV (-b), opened O_DIRECT: one block request issued and completed
 *   softirq  write(2) of a 60-byte Ethernet frame (an EtherType nobody handles:
 *            dropped at once) to a tap device made with IFF_NAPI: the write
 *            schedules the device's NAPI, one NET_RX softirq, run on this CPU
 *            when write(2) re-enables bottom halves. Reported per softirq:
 *            (time of a tap write - time of a /dev/null write of the same
 *            chunk) / NET_RX softirqs of this CPU per tap write (from
 *            /proc/softirqs around the chunk); needs -w. The mean softirqs per
 *            tap write follow as "spw N".
 *   fsync    fsync(2) of a file in /dev/shm (tmpfs: nothing to write back),
 *            a syscall the sync module and apps' depth counters watch
 * Prints one line: "read NS open NS getppid NS [write NS] [fork NS] [tcp NS]
 * [block NS] [softirq NS spw N] [fsync NS]", each the median over the chunks of the mean
 * time of one call (one openat+close pair for "open", one fork+wait for "fork",
 * one send+recv for "tcp"). A -b device that cannot be opened O_DIRECT, or a
 * tap device that cannot be made, is said on stderr and its field left out.
 *
 * Usage: syscall_loop [-r READS] [-o OPENS] [-g GETPPIDS] [-w WRITES] [-F FORKS] [-T SENDS]
 *                     [-b DEV -B REQUESTS] [-S TAPWRITES] [-Y FSYNCS] [-c CHUNKS] [-f FILE]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>
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

static double time_writes(int fd, long n)
{
	char c = 'x';
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (write(fd, &c, 1) != 1)
			die("write");
	return (now_ns() - t0) / (double)n;
}

/* Sequential aligned O_DIRECT preads of 4 KiB, wrapping at the device's end. */
static double time_block(int fd, void *buf, off_t size, off_t *pos, long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (*pos + 4096 > size)
			*pos = 0;
		if (pread(fd, buf, 4096, *pos) != 4096)
			die("pread");
		*pos += 4096;
	}
	return (now_ns() - t0) / (double)n;
}

/* NET_RX softirqs run so far on this CPU (/proc/softirqs), -1 when unknown. */
static long net_rx_softirqs(int cpu)
{
	FILE *f = fopen("/proc/softirqs", "re");
	char line[8192];
	long v = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ')
			p++;
		if (strncmp(p, "NET_RX:", 7))
			continue;
		p += 7;
		for (int i = 0; i <= cpu; i++) {
			char *end;
			v = strtol(p, &end, 10);
			if (end == p) {
				v = -1;
				break;
			}
			p = end;
		}
		break;
	}
	fclose(f);
	return v;
}

/* A tap device with NAPI, up, IPv6 off (no router solicitations): its fd, or -1 (said why). */
static int tap_open(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "syscall_loop: /dev/net/tun: %s: no softirq column\n", strerror(errno));
		return -1;
	}
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_NAPI };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", "bpbench%d");
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		fprintf(stderr, "syscall_loop: TUNSETIFF IFF_TAP|IFF_NAPI: %s: no softirq column\n", strerror(errno));
		close(fd);
		return -1;
	}
	char path[128];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", ifr.ifr_name);
	int v6 = open(path, O_WRONLY | O_CLOEXEC);
	if (v6 >= 0) {
		if (write(v6, "1", 1) != 1)
			fprintf(stderr, "syscall_loop: %s: %s\n", path, strerror(errno));
		close(v6);
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr))) {
		fprintf(stderr, "syscall_loop: bringing %s up: %s: no softirq column\n", ifr.ifr_name, strerror(errno));
		if (s >= 0)
			close(s);
		close(fd);
		return -1;
	}
	close(s);
	return fd; /* not persistent: the device goes with the fd */
}

/* Tap writes of one frame; *softirqs gets the NET_RX softirqs of this CPU they raised. */
static double time_tap(int fd, long n, long *softirqs)
{
	/* To a unicast MAC that is not ours, EtherType 0x88b5 (local experimental): nobody's. */
	unsigned char frame[60] = { 0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x88, 0xb5 };
	int cpu = sched_getcpu();
	long s0 = net_rx_softirqs(cpu);
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (write(fd, frame, sizeof(frame)) != (ssize_t)sizeof(frame))
			die("write to tap");
	double t = (now_ns() - t0) / (double)n;
	long s1 = net_rx_softirqs(cpu);
	*softirqs = (s0 < 0 || s1 < 0 || sched_getcpu() != cpu) ? -1 : s1 - s0;
	return t;
}

static double time_fsyncs(int fd, long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (fsync(fd))
			die("fsync");
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

/*
 * A listening socket on 127.0.0.1, bound as a service binds: to a port of its
 * own below the ephemeral range (20000-29999), else (all taken) to one the
 * kernel picks.
 */
static int tcp_listener(struct sockaddr_in *a)
{
	for (unsigned i = 0; i <= 10000; i++) {
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0)
			die("socket");
		a->sin_port = i < 10000 ? htons((uint16_t)(20000 + (getpid() + i) % 10000)) : 0;
		if (!bind(l, (struct sockaddr *)a, sizeof(*a)) && !listen(l, 1))
			return l;
		close(l);
	}
	die("listen");
	return -1;
}

/* A connected loopback TCP pair: *client (a port the kernel picks), *server (accepted from tcp_listener). */
static void tcp_pair(int *client, int *server)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l = tcp_listener(&a);
	if (getsockname(l, (struct sockaddr *)&a, &len))
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
	long writes = 0, blocks = 0, taps = 0, fsyncs = 0;
	int chunks = 20, opt;
	const char *path = "/etc/passwd", *bdev = NULL;
	while ((opt = getopt(argc, argv, "r:o:g:w:F:T:b:B:S:Y:c:f:")) != -1) {
		switch (opt) {
		case 'r': reads = atol(optarg); break;
		case 'o': opens = atol(optarg); break;
		case 'g': getppids = atol(optarg); break;
		case 'w': writes = atol(optarg); break;
		case 'b': bdev = optarg; break;
		case 'B': blocks = atol(optarg); break;
		case 'S': taps = atol(optarg); break;
		case 'Y': fsyncs = atol(optarg); break;
		case 'F': forks = atol(optarg); break;
		case 'T': sends = atol(optarg); break;
		case 'c': chunks = atoi(optarg); break;
		case 'f': path = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-r READS] [-o OPENS] [-g GETPPIDS] [-w WRITES] [-F FORKS] [-T SENDS]"
					" [-b DEV -B REQUESTS] [-S TAPWRITES] [-Y FSYNCS] [-c CHUNKS] [-f FILE]\n", argv[0]);
			return 2;
		}
	}
	if (chunks < 1 || chunks > 1000 || reads < chunks || opens < chunks || getppids < chunks ||
	    (writes && writes < chunks) || (forks && forks < chunks) || (sends && sends < chunks) ||
	    (blocks && blocks < chunks) || (taps && taps < chunks) || (fsyncs && fsyncs < chunks)) {
		fprintf(stderr, "syscall_loop: counts must be >= chunks (1..1000)\n");
		return 2;
	}
	if ((blocks != 0) != (bdev != NULL) || (taps && !writes)) {
		fprintf(stderr, "syscall_loop: -b and -B go together; -S needs -w\n");
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
	double *w = calloc((size_t)chunks, sizeof(double));
	double *b = calloc((size_t)chunks, sizeof(double));
	double *si = calloc((size_t)chunks, sizeof(double));
	double *y = calloc((size_t)chunks, sizeof(double));
	if (!r || !o || !g || !f || !t || !w || !b || !si || !y)
		die("calloc");
	int client = -1, server = -1;
	if (sends)
		tcp_pair(&client, &server);
	int null = -1;
	if (writes && (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0)
		die("/dev/null");
	int bfd = -1;
	void *bbuf = NULL;
	off_t bsize = 0, bpos = 0;
	if (blocks) {
		bfd = open(bdev, O_RDONLY | O_DIRECT | O_CLOEXEC);
		if (bfd < 0 || (bsize = lseek(bfd, 0, SEEK_END)) < 4096 || posix_memalign(&bbuf, 4096, 4096)) {
			fprintf(stderr, "syscall_loop: %s: O_DIRECT open or size: %s: no block column\n", bdev, strerror(errno));
			if (bfd >= 0)
				close(bfd);
			bfd = -1;
			blocks = 0;
		}
	}
	int shm = -1;
	if (fsyncs) {
		char shm_path[] = "/dev/shm/syscall_loop-XXXXXX";
		if ((shm = mkstemp(shm_path)) < 0 || unlink(shm_path) || write(shm, "x", 1) != 1)
			die("/dev/shm file");
	}
	int tap = taps ? tap_open() : -1;
	if (tap < 0)
		taps = 0;
	long sirq_total = 0;
	int sirq_ok = 1;
	/* Warm up caches, the dentry of path and the CPU's frequency. */
	time_reads(zero, reads / chunks);
	time_opens(path, opens / chunks);
	time_getppid(getppids / chunks);
	if (forks)
		time_forks(forks / chunks);
	if (sends)
		time_tcp(client, server, sends / chunks);
	if (writes)
		time_writes(null, writes / chunks);
	if (blocks)
		time_block(bfd, bbuf, bsize, &bpos, blocks / chunks);
	if (taps) {
		long s;
		time_tap(tap, taps / chunks, &s);
	}
	if (fsyncs)
		time_fsyncs(shm, fsyncs / chunks);
	for (int c = 0; c < chunks; c++) {
		r[c] = time_reads(zero, reads / chunks);
		o[c] = time_opens(path, opens / chunks);
		g[c] = time_getppid(getppids / chunks);
		if (forks)
			f[c] = time_forks(forks / chunks);
		if (sends)
			t[c] = time_tcp(client, server, sends / chunks);
		if (writes)
			w[c] = time_writes(null, writes / chunks);
		if (blocks)
			b[c] = time_block(bfd, bbuf, bsize, &bpos, blocks / chunks);
		if (taps) {
			long s;
			double tt = time_tap(tap, taps / chunks, &s);
			if (s <= 0) {
				sirq_ok = 0; /* moved CPU, or no softirq seen */
			} else {
				sirq_total += s;
				si[c] = (tt - w[c]) / ((double)s / (double)(taps / chunks));
			}
		}
		if (fsyncs)
			y[c] = time_fsyncs(shm, fsyncs / chunks);
	}
	printf("read %.1f open %.1f getppid %.1f", median(r, chunks), median(o, chunks), median(g, chunks));
	if (writes)
		printf(" write %.1f", median(w, chunks));
	if (forks)
		printf(" fork %.1f", median(f, chunks));
	if (sends)
		printf(" tcp %.1f", median(t, chunks));
	if (blocks)
		printf(" block %.1f", median(b, chunks));
	if (taps && sirq_ok)
		printf(" softirq %.1f spw %.3f", median(si, chunks), (double)sirq_total / (double)(taps / chunks * chunks));
	else if (taps)
		fprintf(stderr, "syscall_loop: tap writes raised no NET_RX softirq counted on this CPU (or the loop moved CPU): no softirq column\n");
	if (fsyncs)
		printf(" fsync %.1f", median(y, chunks));
	printf("\n");
	return 0;
}
