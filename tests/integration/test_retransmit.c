/*
 * socket.tcp.retransmits against the kernel's own RetransSegs
 * (/proc/net/snmp), which counts the segments a retransmitted packet holds
 * (tcp_skb_pcount), not the packets.
 *
 * A workload (comm "bpfpush-retx") runs in a network namespace of its own,
 * so its namespace's RetransSegs counts its retransmits and nothing else:
 * the reference. It sends BYTES over that namespace's loopback, where
 * packets are GSO packets of up to 64 KiB; with TCP_MAXSEG 1000 each holds
 * up to 65 segments. The receiving socket drops one in DROP_ONE_IN of the
 * data packets arriving (a classic BPF socket filter: dropped after the
 * sender sent them, so each is retransmitted; a drop on the output side
 * would only fail the send, retried as new data). No nftables or netem: the
 * VM matrix's initramfs has neither.
 *
 * The agent counts the whole host, so the window is [RetransSegs -
 * TCPRetransFail (retransmits that failed to leave: the tracepoint skips or
 * flags them), RetransSegs + what the rest of the host retransmitted: the
 * test's own namespace's RetransSegs around the agent's run, plus other
 * namespaces' from an idle second measured first, three times over, + 4].
 * Counting packets
 * instead of segments lands far below it with MSS 1000; with the default
 * MSS a packet is one segment and both agree.
 * The test forces each tracepoint tier in turn: tp_btf, raw_tp, classic.
 */
#include <arpa/inet.h>
#include <linux/filter.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define BYTES (8u << 20)
#define DROP_ONE_IN 10
#define PORT 5001

/* Filled by the workload in its namespace; shared with the test process. */
struct retx_run {
	int mss; /* TCP_MAXSEG for the sender; 0: the default */
	uint64_t retrans_segs, retrans_fail;
};

static int retx_counters(uint64_t *segs, uint64_t *fail)
{
	return harness_proc_net_value("/proc/net/snmp", "Tcp:", "RetransSegs", segs) ||
	       harness_proc_net_value("/proc/net/netstat", "TcpExt:", "TCPRetransFail", fail);
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

/* Drop one in DROP_ONE_IN of the packets longer than 200 bytes (data, not bare ACKs or FINs). */
static int attach_drop_filter(int s)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, 200, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_RANDOM)),
		BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, DROP_ONE_IN),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	return setsockopt(s, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

static int reader(int listener)
{
	int s = accept(listener, NULL, NULL);
	if (s < 0 || attach_drop_filter(s))
		return 1;
	static char buf[1 << 16];
	ssize_t r;
	while ((r = recv(s, buf, sizeof(buf), 0)) > 0)
		;
	close(s); /* our FIN tells the sender everything it sent arrived */
	return r == 0 ? 0 : 2;
}

static int retx_workload(void *arg)
{
	struct retx_run *run = arg;
	if (unshare(CLONE_NEWNET) || loopback_up())
		return 10;
	uint64_t segs0, fail0;
	if (retx_counters(&segs0, &fail0))
		return 11;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4))
		return 12;
	pid_t pid = fork();
	if (pid == 0)
		_exit(reader(l));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (pid < 0 || c < 0 || (run->mss && setsockopt(c, IPPROTO_TCP, TCP_MAXSEG, &run->mss, sizeof(run->mss))) ||
	    connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 13;
	static char chunk[1 << 16];
	for (unsigned sent = 0; sent < BYTES; sent += sizeof(chunk))
		if (send(c, chunk, sizeof(chunk), 0) != (ssize_t)sizeof(chunk))
			return 14;
	/* Wait for the reader's FIN: it acknowledges the last byte, so nothing is left to retransmit. */
	shutdown(c, SHUT_WR);
	while (recv(c, chunk, sizeof(chunk), 0) > 0)
		;
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return 15;
	uint64_t segs1, fail1;
	if (retx_counters(&segs1, &fail1))
		return 16;
	run->retrans_segs = segs1 - segs0;
	run->retrans_fail = fail1 - fail0;
	close(c);
	close(l);
	return 0;
}

static void run_tier(const char *tier, int mss)
{
	char extra[64], yaml[2048];
	snprintf(extra, sizeof(extra), ", attach: %s", tier);
	harness_modules_yaml(yaml, sizeof(yaml), extra, "socket", NULL);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char way[128] = "";
	assert_int_equal(harness_probe_way(&ap, "socket", "retransmit", way, sizeof(way)), 0);
	print_message("  attach %s, MSS %s: retransmit via %s\n", tier, mss ? "1000" : "default", way);
	assert_non_null(strstr(way, tier));

	struct retx_run *run = mmap(NULL, sizeof(*run), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(run != MAP_FAILED);
	memset(run, 0, sizeof(*run));
	run->mss = mss;
	uint64_t host0 = 0, host1 = 0, fail;
	assert_int_equal(retx_counters(&host0, &fail), 0); /* this process's namespace: the rest of the host */
	assert_int_equal(harness_start(&ap, 10000), 0);
	uint64_t before = harness_sum(&ap, "socket.tcp.retransmits");
	harness_wait_for(&ap, "socket.tcp.retransmits", UINT64_MAX, 1000); /* one idle second */
	uint64_t idle = harness_sum(&ap, "socket.tcp.retransmits") - before;
	assert_int_equal(harness_run_child("bpfpush-retx", retx_workload, run), 0);
	harness_wait_for(&ap, "socket.tcp.retransmits", UINT64_MAX, 1500); /* a collect after the last */
	assert_int_equal(harness_stop(&ap), 0);
	assert_int_equal(retx_counters(&host1, &fail), 0);
	uint64_t got = harness_sum(&ap, "socket.tcp.retransmits");
	uint64_t ref = run->retrans_segs, host = host1 - host0;
	/*
	 * The classic tier's program is skipped while another BPF program holds
	 * the CPU: a retransmit from a timer softirq that interrupts a syscall
	 * program. The kernel counts some of those skips (agent.bpf.missed,
	 * from 6.7) but not all: on this host under load (test_irq_disk beside
	 * it) that tier came out 7-10% short with 0-4 counted (843 of 909, 1182
	 * of 1314), while tp_btf and raw_tp stayed exact in the same runs. Its
	 * lower end allows a quarter; docs/metrics.md says so.
	 */
	uint64_t missed = harness_sum(&ap, "agent.bpf.socket.missed");
	uint64_t unseen = run->retrans_fail + missed;
	if (!strcmp(tier, "tracepoint"))
		unseen += ref / 4;
	uint64_t lo = ref > unseen ? ref - unseen : 0, hi = ref + host + 3 * idle + 4;
	print_message("  RetransSegs %llu (TCPRetransFail %llu); socket.tcp.retransmits %llu in [%llu, %llu] "
		      "(host's namespace: %llu, idle second: %llu, agent.bpf.socket.missed %llu)\n",
		      (unsigned long long)ref, (unsigned long long)run->retrans_fail, (unsigned long long)got,
		      (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)host,
		      (unsigned long long)idle, (unsigned long long)missed);
	assert_true(ref >= 5); /* the filter did its part */
	assert_in_range(got, lo, hi);
	munmap(run, sizeof(*run));
	harness_free(&ap);
}

static void test_retransmits_match_retranssegs_mss_1000(void **state)
{
	(void)state;
	run_tier("tp_btf", 1000);
	run_tier("raw_tp", 1000);
	run_tier("tracepoint", 1000);
}

static void test_retransmits_match_retranssegs_default_mss(void **state)
{
	(void)state;
	run_tier("tp_btf", 0);
	run_tier("raw_tp", 0);
	run_tier("tracepoint", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retransmits_match_retranssegs_mss_1000),
		cmocka_unit_test(test_retransmits_match_retranssegs_default_mss),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
