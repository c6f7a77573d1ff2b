/*
 * socket.tcp.connect and socket.tcp.accept, by family, against a known
 * workload and against the kernel's own Tcp ActiveOpens / PassiveOpens
 * (/proc/net/snmp).
 *
 * A workload (comm "bpfpush-conn") runs in a network namespace of its own,
 * so its namespace's counters count its connections and nothing else. Over
 * that namespace's loopback it makes, each accepted and closed at once:
 *   V4 connections 127.0.0.1 -> an IPv4 listener,
 *   V6 connections ::1 -> an IPv6 listener,
 *   MAPPED connections from IPv6 sockets to ::ffff:127.0.0.1 (the IPv4
 *     listener): a connect counted ipv6, an accept counted ipv4,
 *   DUAL connections from IPv4 sockets to an IPv6 listener on :: that takes
 *     IPv4 too: a connect counted ipv4, an accept counted ipv6,
 *   REFUSED4 and REFUSED6 connects to a port bound but not listening: the
 *     kernel answers with a reset, the attempt counts as a connect (as in
 *     ActiveOpens) and accepts nothing,
 *   FASTOPEN IPv4 connections whose SYN carries data (TCP Fast Open, no
 *     cookie needed): the listener's child is made at the SYN,
 *   SYNCOOKIE IPv4 connections with tcp_syncookies 2 (always): the child is
 *     made from the cookie in the final ACK.
 * TcpExt TCPFastOpenPassive and SyncookiesRecv tell that the last two went
 * the way they should (the namespace's sysctls are the workload's own).
 * The namespace's ActiveOpens and PassiveOpens must equal the workload's
 * totals (the counting rule is the kernel's), and the agent's counts by
 * family lie in [the workload's, + what the rest of the host opened: the
 * test's own namespace's counters around the agent's run, plus an idle
 * second of the agent's counts measured first, three times over, + 2].
 * The test forces each tracepoint tier in turn: tp_btf, raw_tp, classic;
 * BPFPUSH_TEST_ATTACH (the VM matrix) runs its one tier instead: forced
 * fentry or kprobe, tcp_close takes it while connects and accepts share the
 * state tracepoint's program, which must then leave closes alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define V4 20
#define V6 15
#define MAPPED 4
#define DUAL 3
#define REFUSED4 5
#define REFUSED6 3
#define FASTOPEN 4
#define SYNCOOKIE 4

/* Filled by the workload in its namespace; shared with the test process. */
struct conn_run {
	bool ipv6; /* the namespace has IPv6: the IPv6 parts ran */
	uint64_t active_opens, passive_opens;
	uint64_t fastopen_passive, syncookies_recv; /* TcpExt, the workload's namespace */
};

/* What the workload opened, by metric and family. */
struct expected {
	uint64_t connect4, connect6, accept4, accept6;
};

static struct expected expected_of(const struct conn_run *run)
{
	struct expected e = { .connect4 = V4 + REFUSED4 + FASTOPEN + SYNCOOKIE, .accept4 = V4 + FASTOPEN + SYNCOOKIE };
	if (run->ipv6) {
		e.connect4 += DUAL;
		e.connect6 = V6 + MAPPED + REFUSED6;
		e.accept4 += MAPPED;
		e.accept6 = V6 + DUAL;
	}
	return e;
}

static int opens(uint64_t *active, uint64_t *passive)
{
	return harness_proc_net_value("/proc/net/snmp", "Tcp:", "ActiveOpens", active) ||
	       harness_proc_net_value("/proc/net/snmp", "Tcp:", "PassiveOpens", passive);
}

static int tcp_ext(uint64_t *fastopen_passive, uint64_t *syncookies_recv)
{
	return harness_proc_net_value("/proc/net/netstat", "TcpExt:", "TCPFastOpenPassive", fastopen_passive) ||
	       harness_proc_net_value("/proc/net/netstat", "TcpExt:", "SyncookiesRecv", syncookies_recv);
}

static int loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	int rc = s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) ? -1 : 0;
	ifr.ifr_flags |= IFF_UP;
	if (!rc)
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	if (s >= 0)
		close(s);
	return rc;
}

union addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static socklen_t addr_len(const union addr *a)
{
	return a->sa.sa_family == AF_INET ? sizeof(a->in) : sizeof(a->in6);
}

static union addr addr_of(int family, const char *ip)
{
	union addr a;
	memset(&a, 0, sizeof(a));
	a.sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		inet_pton(AF_INET, ip, &a.in.sin_addr);
	else
		inet_pton(AF_INET6, ip, &a.in6.sin6_addr);
	return a;
}

/* A TCP socket bound to `a` with a port the kernel picks (written back into a), listening when asked. */
static int bound(union addr *a, bool listening)
{
	int fd = socket(a->sa.sa_family, SOCK_STREAM, 0);
	socklen_t len = addr_len(a);
	if (fd < 0 || bind(fd, &a->sa, len) || (listening && listen(fd, 16)) || getsockname(fd, &a->sa, &len)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* One connection from a socket of client_family to `to`, accepted on listener; both ends closed. */
static int connect_and_accept(int client_family, const union addr *to, int listener)
{
	int c = socket(client_family, SOCK_STREAM, 0);
	if (c < 0 || connect(c, &to->sa, addr_len(to)))
		return -1;
	int s = accept(listener, NULL, NULL);
	if (s < 0)
		return -1;
	close(s);
	close(c);
	return 0;
}

static int connects_and_accepts(int n, int client_family, const union addr *to, int listener)
{
	for (int i = 0; i < n; i++)
		if (connect_and_accept(client_family, to, listener))
			return -1;
	return 0;
}

/* n connects to a port bound without a listener: each answered with a reset. */
static int refused_connects(int n, const union addr *to)
{
	for (int i = 0; i < n; i++) {
		int c = socket(to->sa.sa_family, SOCK_STREAM, 0);
		if (c < 0 || !connect(c, &to->sa, addr_len(to)) || errno != ECONNREFUSED)
			return -1;
		close(c);
	}
	return 0;
}

/* The port of `a` set on the address `ip` of family: the same socket reached another way. */
static union addr with_port(int family, const char *ip, const union addr *a)
{
	union addr to = addr_of(family, ip);
	in_port_t port = a->sa.sa_family == AF_INET ? a->in.sin_port : a->in6.sin6_port;
	if (family == AF_INET)
		to.in.sin_port = port;
	else
		to.in6.sin6_port = port;
	return to;
}

/*
 * n connections whose SYN carries a byte, to a listener that takes Fast Open
 * without a cookie (tcp_fastopen 0x207: client and server on, no cookies).
 */
static int fastopen_connections(int n, const union addr *to, int listener)
{
	int qlen = 16;
	if (harness_write_file("/proc/sys/net/ipv4/tcp_fastopen", "519") ||
	    setsockopt(listener, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)))
		return -1;
	for (int i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		char byte = 'x';
		if (c < 0 || sendto(c, &byte, 1, MSG_FASTOPEN, &to->sa, addr_len(to)) != 1)
			return -1;
		int s = accept(listener, NULL, NULL);
		if (s < 0 || recv(s, &byte, 1, 0) != 1)
			return -1;
		close(s);
		close(c);
	}
	return 0;
}

static int ipv6_parts(void)
{
	union addr l6 = addr_of(AF_INET6, "::1"), dual = addr_of(AF_INET6, "::"), closed6 = addr_of(AF_INET6, "::1");
	int fd6 = bound(&l6, true), fd_dual = bound(&dual, true), fd_closed6 = bound(&closed6, false);
	if (fd6 < 0 || fd_dual < 0 || fd_closed6 < 0)
		return 30;
	if (connects_and_accepts(V6, AF_INET6, &l6, fd6))
		return 31;
	union addr dual4 = with_port(AF_INET, "127.0.0.1", &dual);
	if (connects_and_accepts(DUAL, AF_INET, &dual4, fd_dual))
		return 32;
	if (refused_connects(REFUSED6, &closed6))
		return 33;
	close(fd6);
	close(fd_dual);
	close(fd_closed6);
	return 0;
}

static int conn_workload(void *arg)
{
	struct conn_run *run = arg;
	if (unshare(CLONE_NEWNET) || loopback_up())
		return 10;
	uint64_t active0, passive0;
	if (opens(&active0, &passive0))
		return 11;
	union addr l4 = addr_of(AF_INET, "127.0.0.1"), closed4 = addr_of(AF_INET, "127.0.0.1");
	int fd4 = bound(&l4, true), fd_closed4 = bound(&closed4, false);
	if (fd4 < 0 || fd_closed4 < 0)
		return 12;
	if (connects_and_accepts(V4, AF_INET, &l4, fd4))
		return 13;
	if (refused_connects(REFUSED4, &closed4))
		return 14;
	int probe = socket(AF_INET6, SOCK_STREAM, 0);
	run->ipv6 = probe >= 0;
	if (probe >= 0)
		close(probe);
	if (run->ipv6) {
		int rc = ipv6_parts();
		if (rc)
			return rc;
		union addr mapped = with_port(AF_INET6, "::ffff:127.0.0.1", &l4);
		if (connects_and_accepts(MAPPED, AF_INET6, &mapped, fd4))
			return 15;
	}
	uint64_t fastopen0, cookies0, fastopen1, cookies1;
	if (tcp_ext(&fastopen0, &cookies0) || fastopen_connections(FASTOPEN, &l4, fd4))
		return 17;
	if (harness_write_file("/proc/sys/net/ipv4/tcp_syncookies", "2") ||
	    connects_and_accepts(SYNCOOKIE, AF_INET, &l4, fd4) || tcp_ext(&fastopen1, &cookies1))
		return 18;
	run->fastopen_passive = fastopen1 - fastopen0;
	run->syncookies_recv = cookies1 - cookies0;
	close(fd4);
	close(fd_closed4);
	uint64_t active1, passive1;
	if (opens(&active1, &passive1))
		return 16;
	run->active_opens = active1 - active0;
	run->passive_opens = passive1 - passive0;
	return 0;
}

static const char *const series[] = { "socket.ipv4.tcp.connect", "socket.ipv6.tcp.connect",
				      "socket.ipv4.tcp.accept", "socket.ipv6.tcp.accept" };
#define SERIES (sizeof(series) / sizeof(series[0]))

static void sums(const struct agent_proc *ap, uint64_t out[SERIES])
{
	for (size_t i = 0; i < SERIES; i++)
		out[i] = harness_sum(ap, series[i]);
}

static bool tracepoint_tier(const char *tier)
{
	return !strcmp(tier, "tp_btf") || !strcmp(tier, "raw_tp") || !strcmp(tier, "tracepoint");
}

static void run_tier(const char *tier)
{
	char extra[64], yaml[2048];
	snprintf(extra, sizeof(extra), ", attach: %s", tier);
	harness_modules_yaml(yaml, sizeof(yaml), extra, "socket", NULL);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	static const char *const events[] = { "tcp_connect", "tcp_accept" };
	for (size_t i = 0; i < 2; i++) {
		char way[128] = "";
		assert_int_equal(harness_probe_way(&ap, "socket", events[i], way, sizeof(way)), 0);
		print_message("  attach %s: %s via %s\n", tier, events[i], way);
		/* Forced fentry or kprobe (the VM matrix): the events have none, so they take a tracepoint tier. */
		assert_true(tracepoint_tier(tier) ? strstr(way, tier) != NULL : way[0] != '\0');
	}

	struct conn_run *run = mmap(NULL, sizeof(*run), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(run != MAP_FAILED);
	memset(run, 0, sizeof(*run));
	uint64_t host_active0, host_passive0, host_active1, host_passive1;
	assert_int_equal(opens(&host_active0, &host_passive0), 0); /* this process's namespace: the rest of the host */
	assert_int_equal(harness_start(&ap, 10000), 0);
	uint64_t before[SERIES], after_idle[SERIES], got[SERIES];
	sums(&ap, before);
	harness_wait_for(&ap, "socket.ipv4.tcp.connect", UINT64_MAX, 1000); /* one idle second */
	sums(&ap, after_idle);
	assert_int_equal(harness_run_child("bpfpush-conn", conn_workload, run), 0);
	harness_wait_for(&ap, "socket.ipv4.tcp.connect", UINT64_MAX, 1500); /* a collect after the last */
	assert_int_equal(harness_stop(&ap), 0);
	assert_int_equal(opens(&host_active1, &host_passive1), 0);
	sums(&ap, got);

	const struct expected e = expected_of(run);
	print_message("  workload namespace: ActiveOpens %llu, PassiveOpens %llu, TCPFastOpenPassive %llu, "
		      "SyncookiesRecv %llu (IPv6 %s)\n",
		      (unsigned long long)run->active_opens, (unsigned long long)run->passive_opens,
		      (unsigned long long)run->fastopen_passive, (unsigned long long)run->syncookies_recv,
		      run->ipv6 ? "on" : "absent: IPv4 only");
	assert_int_equal(run->fastopen_passive, FASTOPEN);
	assert_int_equal(run->syncookies_recv, SYNCOOKIE);
	assert_int_equal(run->active_opens, e.connect4 + e.connect6);
	assert_int_equal(run->passive_opens, e.accept4 + e.accept6);
	const uint64_t exact[SERIES] = { e.connect4, e.connect6, e.accept4, e.accept6 };
	const uint64_t host[SERIES] = { host_active1 - host_active0, host_active1 - host_active0,
					host_passive1 - host_passive0, host_passive1 - host_passive0 };
	for (size_t i = 0; i < SERIES; i++) {
		uint64_t idle = after_idle[i] - before[i], hi = exact[i] + host[i] + 3 * idle + 2;
		print_message("  %-24s %4llu in [%llu, %llu] (host's namespace: %llu, idle second: %llu)\n", series[i],
			      (unsigned long long)got[i], (unsigned long long)exact[i], (unsigned long long)hi,
			      (unsigned long long)host[i], (unsigned long long)idle);
		assert_in_range(got[i], exact[i], hi);
	}
	munmap(run, sizeof(*run));
	harness_free(&ap);
}

static void test_connects_and_accepts_match_the_workload_and_snmp(void **state)
{
	(void)state;
	char tier[32];
	harness_forced_tier("", tier, sizeof(tier));
	if (tier[0]) {
		run_tier(tier);
		return;
	}
	run_tier("tp_btf");
	run_tier("raw_tp");
	run_tier("tracepoint");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connects_and_accepts_match_the_workload_and_snmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
