/*
 * SIGHUP on the running agent (docs/design.md, reload), no count lost:
 *   1. config A: process only, load_mode entry. A workload (comm "bpfpush-reload") forks
 *      FORKS children.
 *   2. config B, by SIGHUP: load_mode return (the process module's object is
 *      reloaded: it is collected once more first), the socket module switched
 *      on, and the stdout sink's prefix changed (the sink is replaced). FORKS
 *      more children, and a loopback TCP connection the socket module sees.
 *   3. config C, by SIGHUP: invalid. The agent logs FILE:LINE:COL, keeps B
 *      running, and counts FORKS more children.
 * process.create over the whole run, under either prefix, is 3 × FORKS + 3
 * workload processes, within [exact, exact + what else the kernel created]
 * (from /proc/stat, as in test_process): a count lost at a reload falls
 * below, one counted twice above. The agent's stderr is captured to check
 * its log lines.
 *
 * A second test switches members of the sock chain (docs/design.md) off and
 * on by SIGHUP and checks that each member still counts every event once.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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

#define FORKS 40

static int fork_workload(void *arg)
{
	(void)arg;
	for (int i = 0; i < FORKS; i++) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, NULL, 0) != pid)
			return 2;
	}
	return 0;
}

/* A TCP listener on 127.0.0.1, on a port the kernel picks: its address in *a. */
static int loopback_listener(struct sockaddr_in *a)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	*a = (struct sockaddr_in){ .sin_family = AF_INET };
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(*a);
	assert_int_equal(bind(l, (struct sockaddr *)a, sizeof(*a)), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)a, &len), 0);
	return l;
}

static void loopback_connection(void)
{
	struct sockaddr_in a;
	int l = loopback_listener(&a), c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	int s = accept(l, NULL, NULL);
	assert_int_equal(send(c, "hello", 5, 0), 5);
	char buf[8];
	assert_int_equal(recv(s, buf, sizeof(buf), 0), 5);
	close(s);
	close(c);
	close(l);
}

static void write_config(const struct agent_proc *ap, const char *text)
{
	FILE *f = fopen(ap->config, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/*
 * SIGHUP, then wait until `applied` shows up in the output (the new sink's
 * first flush: attaching takes seconds under emulation), or 1.5 s when the
 * reload should change nothing.
 */
static void reload(struct agent_proc *ap, const char *text, const char *applied)
{
	write_config(ap, text);
	assert_int_equal(kill(ap->pid, SIGHUP), 0);
	if (applied)
		assert_int_equal(harness_wait_for(ap, applied, 1, 60000), 0);
	else
		harness_wait_for(ap, "no.such.series", 1, 1500);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_sighup_applies_changes_without_losing_counts(void **state)
{
	(void)state;
	char a[2048], b[2048], yaml[4096];
	harness_modules_yaml(a, sizeof(a), ", log_level: info, load_mode: entry", "process", NULL);
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, a), 0);
	harness_modules_yaml(b, sizeof(b), ", log_level: info, load_mode: return", "process socket", NULL);
	snprintf(yaml, sizeof(yaml), "%s\nsinks:\n  - { name: test, type: stdout, format: graphite, prefix: \"reloaded\" }\n", b);

	char log_path[256];
	uint64_t forks_before = harness_total_forks();
	assert_int_equal(harness_start_logging(&ap, 10000, log_path, sizeof(log_path)), 0);

	assert_int_equal(harness_run_child("bpfpush-reload", fork_workload, NULL), 0);
	harness_wait_for(&ap, "process.create", FORKS + 1, 5000);
	reload(&ap, yaml, "reloaded.agent.rss_bytes");
	assert_int_equal(harness_run_child("bpfpush-reload", fork_workload, NULL), 0);
	loopback_connection();
	harness_wait_for(&ap, "reloaded.socket.tcp.send.calls", 1, 3000);
	reload(&ap, "global: { interval: 1s, load_mode: sideways }\n", NULL);
	assert_int_equal(harness_run_child("bpfpush-reload", fork_workload, NULL), 0);
	harness_wait_for(&ap, "no.such.series", 1, 1500);
	assert_int_equal(harness_stop(&ap), 0);
	uint64_t forks = harness_total_forks() - forks_before;

	const uint64_t ours = 3 * (FORKS + 1);
	assert_true(forks >= ours);
	uint64_t before = harness_sum(&ap, "process.create"), after = harness_sum(&ap, "reloaded.process.create");
	print_message("  process.create: %llu before the sink changed, %llu after; %llu in [%llu, %llu]\n",
		      (unsigned long long)before, (unsigned long long)after, (unsigned long long)(before + after),
		      (unsigned long long)ours, (unsigned long long)forks);
	assert_in_range(before + after, ours, forks);
	assert_true(before >= FORKS + 1);
	assert_true(after >= FORKS + 1);
	uint64_t sends = harness_sum(&ap, "reloaded.socket.tcp.send.calls");
	print_message("  socket.tcp.send.calls after the reload switched it on: %llu\n", (unsigned long long)sends);
	assert_true(sends >= 1);
	assert_false(harness_has(&ap, "socket.tcp.send.calls")); /* off before the reload */

	const char *log = read_file(log_path);
	char refused[160];
	snprintf(refused, sizeof(refused), "%s:1:", ap.config);
	print_message("  agent log:\n%s", log);
	assert_non_null(strstr(log, "reloaded"));
	assert_non_null(strstr(log, "2 module(s) restarted")); /* process (load mode), socket (switched on) */
	assert_non_null(strstr(log, "sinks replaced"));
	assert_non_null(strstr(log, "reload refused"));
	assert_non_null(strstr(log, refused));
	harness_free(&ap);
}

/* The chain test's workload: one loopback TCP connection, CHAIN_BYTES each way. */
#define CHAIN_BYTES 7000

static int chain_workload(void *arg)
{
	unsigned port = *(const unsigned *)arg;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	static char buf[CHAIN_BYTES];
	if (send(c, buf, sizeof(buf), 0) != CHAIN_BYTES)
		return 2;
	for (size_t got = 0; got < CHAIN_BYTES;) {
		ssize_t n = recv(c, buf, sizeof(buf) - got, 0);
		if (n <= 0)
			return 3;
		got += (size_t)n;
	}
	close(c);
	return 0;
}

/* The server side, in the test process: accept one connection, echo CHAIN_BYTES, close. */
static void *chain_server(void *arg)
{
	int l = *(int *)arg, s = accept(l, NULL, NULL);
	static char buf[CHAIN_BYTES];
	for (size_t got = 0; s >= 0 && got < CHAIN_BYTES;) {
		ssize_t n = recv(s, buf + got, sizeof(buf) - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (s >= 0 && send(s, buf, sizeof(buf), 0) != CHAIN_BYTES)
		fprintf(stderr, "chain server: short send\n");
	if (s >= 0)
		close(s);
	return NULL;
}

static void chain_connection(int listener, unsigned port)
{
	pthread_t server;
	assert_int_equal(pthread_create(&server, NULL, chain_server, &listener), 0);
	assert_int_equal(harness_run_child("bpfpush-chain", chain_workload, &port), 0);
	pthread_join(server, NULL);
}

/*
 * Programs the agent attached on the tracepoint with raw tracepoint links
 * (tp_btf and raw_tp), from its fdinfo; -1 when it attached none that way
 * (an older kernel's protocol functions, or the classic tracepoint).
 */
static int raw_links(pid_t agent, const char *tracepoint)
{
	char dir[64], path[320], line[256];
	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", (int)agent);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int links = 0;
	for (struct dirent *e; (e = readdir(d));) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "r");
		bool raw_link = false;
		while (f && fgets(line, sizeof(line), f)) {
			raw_link |= !strncmp(line, "link_type:\traw_tracepoint", 25);
			if (raw_link && !strncmp(line, "tp_name:\t", 9) && !strncmp(line + 9, tracepoint, strlen(tracepoint)) &&
			    line[9 + strlen(tracepoint)] == '\n')
				links++;
		}
		if (f)
			fclose(f);
	}
	closedir(d);
	return links ? links : -1;
}

/* One program on each sock chain hook the agent attached through raw tracepoint links. */
static void one_link_each(pid_t agent, const char *when)
{
	static const char *const hooks[] = { "sock_send_length", "sock_recv_length", "inet_sock_set_state" };
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		int links = raw_links(agent, hooks[i]);
		if (links < 0) {
			print_message("  %s %s: not through raw tracepoint links on this kernel or tier\n", hooks[i], when);
			continue;
		}
		print_message("  programs attached on %s %s: %d\n", hooks[i], when, links);
		assert_int_equal(links, 1);
	}
}

/*
 * The sock:* section all three count an event on ("tp_btf/sock_send_length"),
 * "" when they do not share one: the hook where one program does the work
 * of all three (agent/kernel/sock_fuse.h).
 */
static void shared_section(const struct agent_proc *ap, const char *socket_event, const char *network_event,
			   const char *apps_event, const char *dir, char *section, size_t cap)
{
	char s[64] = "", n[64] = "", a[64] = "";
	assert_int_equal(harness_probe_way(ap, "socket", socket_event, s, sizeof(s)), 0);
	assert_int_equal(harness_probe_way(ap, "network", network_event, n, sizeof(n)), 0);
	assert_int_equal(harness_probe_way(ap, "apps", apps_event, a, sizeof(a)), 0);
	print_message("  %s: socket %s, network %s, apps %s\n", dir, s, n, a);
	section[0] = '\0';
	if (strcmp(s, n) || strcmp(s, a))
		return;
	if (!strcmp(s, "tp_btf") || !strcmp(s, "raw_tp"))
		snprintf(section, cap, "%s/sock_%s_length", s, dir);
	else if (!strcmp(s, "tracepoint"))
		snprintf(section, cap, "tracepoint/sock/sock_%s_length", dir);
}

/* With all three on one hook the agent said it runs one program there. */
static void fused_where_shared(const struct agent_proc *ap, const char *log_path)
{
	char section[2][64], line[256];
	shared_section(ap, "tcp_send_result", "tcp_send_result", "sent_result", "send", section[0], sizeof(section[0]));
	shared_section(ap, "tcp_recv", "tcp_recv", "recv_result", "recv", section[1], sizeof(section[1]));
	const char *log = read_file(log_path);
	for (int i = 0; i < 2; i++) {
		if (!section[i][0])
			continue;
		snprintf(line, sizeof(line), "socket, network and apps run as one program on %s\n", section[i]);
		print_message("  expecting: %s", line);
		assert_non_null(strstr(log, line));
	}
}

/*
 * The sock chain (probes/sock_chain_slots.h): socket, network and apps on
 * the sock:* hooks cost one attached program per hook, and members leave and
 * join at reloads without another member counting twice or missing:
 *   A. all three on: one program attached on each of sock_send_length,
 *      sock_recv_length and inet_sock_set_state, not three; where all three
 *      count on the same send or receive hook, one program does their work;
 *   B. network off, by SIGHUP (socket's jump to network's slot falls through);
 *   C. network on again, socket off (the dispatcher's jump to socket's slot
 *      falls through).
 * One connection of CHAIN_BYTES each way per phase. apps and network count
 * it exactly (per process, per endpoint), socket host-wide from at least it.
 */
static void test_sock_chain_members_leave_and_join(void **state)
{
	(void)state;
	struct sockaddr_in a;
	int l = loopback_listener(&a);
	unsigned port = ntohs(a.sin_port);

	char yaml[3][4096];
	const char *phase_modules[3] = { "process socket", "process socket", "process" };
	const bool phase_network[3] = { true, false, true };
	const char *prefix[3] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++) {
		char network[160];
		harness_modules_yaml(yaml[i], sizeof(yaml[i]), ", log_level: info", phase_modules[i], "{ enabled: true, group_by: comm }");
		snprintf(network, sizeof(network), "enabled: %s, ports: \"%u\", ips: \"127.0.0.1\", service_names: { %u: chain }",
			 phase_network[i] ? "true" : "false", port, port);
		assert_int_equal(harness_module_options(yaml[i], sizeof(yaml[i]), "network", network), 0);
		size_t len = strlen(yaml[i]);
		snprintf(yaml[i] + len, sizeof(yaml[i]) - len,
			 "\nsinks:\n  - { name: test, type: stdout, format: graphite, prefix: \"%s\" }\n", prefix[i]);
	}
	struct agent_proc ap;
	assert_int_equal(harness_config(&ap, "global: { interval: 1s }\n"), 0);
	write_config(&ap, yaml[0]);
	/* apps with three modules: as long as the shipped config takes to load under arm64 emulation (test_shipped). */
	char log_path[256];
	assert_int_equal(harness_start_logging(&ap, 180000, log_path, sizeof(log_path)), 0);
	one_link_each(ap.pid, "with socket, network and apps on");
	fused_where_shared(&ap, log_path);

	char name[128];
	uint64_t socket_bytes = 0, app_sent = 0, app_recv = 0, net_sent = 0;
	for (int i = 0; i < 3; i++) {
		if (i) {
			snprintf(name, sizeof(name), "%s.agent.rss_bytes", prefix[i]);
			reload(&ap, yaml[i], name);
		}
		chain_connection(l, port);
		snprintf(name, sizeof(name), "%s.apps.bpfpush-chain.bandwidth_recv", prefix[i]);
		harness_wait_for(&ap, name, CHAIN_BYTES, 5000);
		harness_wait_for(&ap, "no.such.series", 1, 1500); /* a collect after the last event */
		snprintf(name, sizeof(name), "%s.socket.tcp.send.bytes", prefix[i]);
		socket_bytes = harness_sum(&ap, name);
		print_message("  phase %s: socket.tcp.send.bytes %llu\n", prefix[i], (unsigned long long)socket_bytes);
		/* A module switched off sends nothing new (its series may still go out as zeros until series_ttl). */
		if (i < 2)
			assert_true(socket_bytes >= 2 * CHAIN_BYTES);
		else
			assert_int_equal(socket_bytes, 0);
		snprintf(name, sizeof(name), "%s.apps.bpfpush-chain.bandwidth_sent", prefix[i]);
		app_sent = harness_sum(&ap, name);
		snprintf(name, sizeof(name), "%s.apps.bpfpush-chain.bandwidth_recv", prefix[i]);
		app_recv = harness_sum(&ap, name);
		print_message("  phase %s: apps bandwidth sent %llu, recv %llu (exact: %d)\n", prefix[i],
			      (unsigned long long)app_sent, (unsigned long long)app_recv, CHAIN_BYTES);
		assert_int_equal(app_sent, CHAIN_BYTES);
		assert_int_equal(app_recv, CHAIN_BYTES);
		/* The client's endpoint: outbound to the test's port; the server side is the test process (in). */
		snprintf(name, sizeof(name), "%s.net.127_0_0_1.%u.chain.tcp.out.conn.sent.bytes", prefix[i], port);
		net_sent = harness_sum(&ap, name);
		print_message("  phase %s: %s %llu\n", prefix[i], name, (unsigned long long)net_sent);
		assert_int_equal(net_sent, phase_network[i] ? CHAIN_BYTES : 0);
	}
	one_link_each(ap.pid, "after the reloads");
	assert_int_equal(harness_stop(&ap), 0);
	close(l);
	harness_free(&ap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sighup_applies_changes_without_losing_counts),
		cmocka_unit_test(test_sock_chain_members_leave_and_join),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
