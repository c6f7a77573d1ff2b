/*
 * socket.tcp.retransmits against nftables' own drop counter, on this host
 * (tc's netem is not built into its kernel; nftables is). A rule on the
 * input hook drops one in DROP_ONE_IN of the data segments arriving on a
 * port the test owns, so the sender has sent them and must retransmit each
 * (a drop on the output hook would only fail the send, with no retransmit).
 * A workload (comm "bpfpush-retx") then sends BYTES over loopback to that
 * port.
 *
 * Every dropped segment is retransmitted at least once, and a retransmit
 * that is dropped again is another drop; but one retransmit may carry the
 * data of two dropped segments (the kernel collapses them), and a timeout
 * resends what was in flight after the loss. Measured here (9 runs, 39 to
 * 54 drops each): retransmits 0.94 to 1.02 × drops. The window is
 * [drops / 2, 1.5 × drops + 4 + what the rest of the host retransmitted in
 * an idle second, three times over]; a retransmit counted twice (two
 * programs attached) lands above it, none at all below it.
 * The test forces each tracepoint tier in turn: tp_btf, raw_tp, classic.
 *
 * Not in the VM matrix: its initramfs has no nft.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define BYTES (24u << 20)
#define DROP_ONE_IN 10

struct target {
	int listener;
	unsigned port;
};

static int listen_low_port(unsigned *port)
{
	for (unsigned p = 21000 + (unsigned)(getpid() % 4000); p < 30000; p++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) && !listen(fd, 4)) {
			*port = p;
			return fd;
		}
		if (fd >= 0)
			close(fd);
	}
	return -1;
}

static int nft(const char *script)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "nft -f - <<'EOF'\n%s\nEOF", script);
	return system(cmd);
}

static uint64_t nft_dropped(void)
{
	FILE *p = popen("nft list table inet bpfpush_test_retx", "r");
	char line[512];
	unsigned long long packets = 0;
	while (p && fgets(line, sizeof(line), p)) {
		const char *c = strstr(line, "counter packets ");
		if (c)
			packets = strtoull(c + 16, NULL, 10);
	}
	if (p)
		pclose(p);
	return packets;
}

/* The client sends in 64 KiB writes; a reader thread would do, a forked reader is simpler. */
static int retx_workload(void *arg)
{
	const struct target *t = arg;
	pid_t reader = fork();
	if (reader == 0) {
		int s = accept(t->listener, NULL, NULL);
		static char buf[1 << 16];
		ssize_t r;
		while (s >= 0 && (r = recv(s, buf, sizeof(buf), 0)) > 0)
			;
		_exit(0);
	}
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)t->port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (reader < 0 || c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	static char chunk[1 << 16];
	for (unsigned sent = 0; sent < BYTES; sent += sizeof(chunk))
		if (send(c, chunk, sizeof(chunk), 0) != (ssize_t)sizeof(chunk))
			return 2;
	close(c);
	return waitpid(reader, NULL, 0) == reader ? 0 : 3;
}

static void run_tier(const char *tier)
{
	struct target t;
	assert_true((t.listener = listen_low_port(&t.port)) >= 0);
	char extra[64], yaml[2048];
	snprintf(extra, sizeof(extra), ", attach: %s", tier);
	harness_modules_yaml(yaml, sizeof(yaml), extra, "socket", NULL);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, yaml), 0);
	char way[128] = "";
	assert_int_equal(harness_probe_way(&ap, "socket", "retransmit", way, sizeof(way)), 0);
	print_message("  attach %s: retransmit via %s\n", tier, way);
	assert_non_null(strstr(way, tier));

	char rule[512];
	nft("delete table inet bpfpush_test_retx");
	snprintf(rule, sizeof(rule),
		 "table inet bpfpush_test_retx {\n chain in { type filter hook input priority 0; policy accept;\n"
		 "  tcp dport %u tcp flags & (syn|fin|rst) == 0 meta length > 200 numgen random mod %d == 0 counter drop\n"
		 " }\n}",
		 t.port, DROP_ONE_IN);
	assert_int_equal(nft(rule), 0);
	assert_int_equal(harness_start(&ap, 10000), 0);
	uint64_t before = harness_sum(&ap, "socket.tcp.retransmits");
	harness_wait_for(&ap, "socket.tcp.retransmits", UINT64_MAX, 1000); /* one idle second */
	uint64_t idle = harness_sum(&ap, "socket.tcp.retransmits") - before;
	int rc = harness_run_child("bpfpush-retx", retx_workload, &t);
	uint64_t drops = nft_dropped();
	nft("delete table inet bpfpush_test_retx");
	close(t.listener);
	assert_int_equal(rc, 0);
	harness_wait_for(&ap, "socket.tcp.retransmits", UINT64_MAX, 1500); /* a collect after the last */
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t got = harness_sum(&ap, "socket.tcp.retransmits") - idle;
	uint64_t lo = drops / 2, hi = drops + drops / 2 + 4 + 3 * idle;
	print_message("  nft dropped %llu segments; retransmits %llu in [%llu, %llu] (idle second: %llu)\n",
		      (unsigned long long)drops, (unsigned long long)got, (unsigned long long)lo,
		      (unsigned long long)hi, (unsigned long long)idle);
	assert_true(drops >= 5); /* the rule did its part */
	assert_in_range(got, lo, hi);
	harness_free(&ap);
}

static void test_retransmits_match_nftables_drops(void **state)
{
	(void)state;
	run_tier("tp_btf");
	run_tier("raw_tp");
	run_tier("tracepoint");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retransmits_match_nftables_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
