/*
 * The CLI contract (docs/design.md "Command-line contract") and the service-manager protocol, through
 * the real binary: exit codes, --check-config, --list-metrics, --probe as
 * root and as nobody, READY/WATCHDOG/STOPPING on $NOTIFY_SOCKET, and SIGTERM.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* Run the agent with args; capture stdout+stderr; optionally as another uid. */
static int run(const char *const *args, char *out, size_t cap, uid_t as_uid)
{
	int fds[2];
	if (pipe(fds))
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		if (as_uid && (setgid(as_uid) || setuid(as_uid)))
			_exit(126);
		const char *argv[16] = { harness_agent_bin() };
		for (int i = 0; args[i] && i < 14; i++)
			argv[i + 1] = args[i];
		execv(harness_agent_bin(), (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while ((n = read(fds[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char out[1 << 16];

#define MINIMAL_CONFIG "global: { log_level: warning }\nsinks: [ { name: c, type: stdout } ]\n"

static void write_config(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0644);
}

static void test_version_and_usage(void **state)
{
	assert_int_equal(run((const char *[]){ "--version", NULL }, out, sizeof(out), 0), 0);
	assert_non_null(strstr(out, "bpfpush "));
	assert_int_equal(run((const char *[]){ "--no-such-flag", NULL }, out, sizeof(out), 0), 3);
	assert_int_equal(run((const char *[]){ "--duration", "soon", NULL }, out, sizeof(out), 0), 3);
	assert_int_equal(run((const char *[]){ "--json", NULL }, out, sizeof(out), 0), 3);
}

static void test_check_config(void **state)
{
	write_config("/tmp/bpfpush-cli-good.yaml", MINIMAL_CONFIG);
	assert_int_equal(run((const char *[]){ "--check-config", "-c", "/tmp/bpfpush-cli-good.yaml", NULL }, out, sizeof(out), 0), 0);
	unlink("/tmp/bpfpush-cli-good.yaml");
	write_config("/tmp/bpfpush-cli-bad.yaml", "global:\n  interval: fast\n");
	assert_int_equal(run((const char *[]){ "-t", "-c", "/tmp/bpfpush-cli-bad.yaml", NULL }, out, sizeof(out), 0), 1);
	assert_non_null(strstr(out, "/tmp/bpfpush-cli-bad.yaml:2:13: global.interval"));
	/* a bad config stops the agent itself too, before any BPF */
	assert_int_equal(run((const char *[]){ "-c", "/tmp/bpfpush-cli-bad.yaml", NULL }, out, sizeof(out), 0), 1);
	unlink("/tmp/bpfpush-cli-bad.yaml");
}

static void test_list_metrics(void **state)
{
	assert_int_equal(run((const char *[]){ "--list-metrics", NULL }, out, sizeof(out), 0), 0);
	const char *expected[] = { "process.create", "fd.open", "vfs.read.bytes", "sync.msync", "mount.umount",
				   "shm.ctl", "agent.sink.dropped" };
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_non_null(strstr(out, expected[i]));
}

static void test_probe(void **state)
{
	write_config("/tmp/bpfpush-cli.yaml", MINIMAL_CONFIG);
	assert_int_equal(run((const char *[]){ "--probe", "-c", "/tmp/bpfpush-cli.yaml", NULL }, out, sizeof(out), 0), 0);
	assert_non_null(strstr(out, "process    fork"));
	assert_int_equal(run((const char *[]){ "--probe", "--json", "-c", "/tmp/bpfpush-cli.yaml", NULL }, out, sizeof(out), 0), 0);
	assert_non_null(strstr(out, "\"runnable_modules\": "));
	assert_null(strstr(out, "\"runnable_modules\": 0"));
	unlink("/tmp/bpfpush-cli.yaml");
}

/* As nobody, BPF is refused: --probe says what needs privileges and exits 2, so does a run. */
static void test_unprivileged(void **state)
{
	const uid_t nobody = 65534; /* by number: a minimal VM image has no passwd file */
	write_config("/tmp/bpfpush-cli.yaml", MINIMAL_CONFIG);
	assert_int_equal(run((const char *[]){ "--probe", "-c", "/tmp/bpfpush-cli.yaml", NULL }, out, sizeof(out), nobody), 2);
	assert_non_null(strstr(out, "CAP_BPF"));
	assert_int_equal(run((const char *[]){ "-c", "/tmp/bpfpush-cli.yaml", NULL }, out, sizeof(out), nobody), 2);
	assert_non_null(strstr(out, "no module can run"));
	unlink("/tmp/bpfpush-cli.yaml");
}

/* READY=1 once attached, WATCHDOG=1 while the loop turns, STOPPING=1 on the way out, exit 0. */
static void test_notify_socket(void **state)
{
	const char *path = "/tmp/bpfpush-cli-notify.sock";
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	/*
	 * A deadline for each message, as the harness gives the agent's start (60 s): under
	 * TCG with the matrix's guests sharing two cores, attaching every fentry program took
	 * longer than 10 s before READY=1.
	 */
	struct timeval tv = { .tv_sec = 60 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	write_config("/tmp/bpfpush-cli.yaml", MINIMAL_CONFIG);
	setenv("NOTIFY_SOCKET", path, 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, STDOUT_FILENO);
		execl(harness_agent_bin(), "bpfpush", "-c", "/tmp/bpfpush-cli.yaml", "--duration", "3", (char *)NULL);
		_exit(127);
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	char msg[64];
	int ready = 0, pings = 0, stopping = 0, order_ok = 1;
	ssize_t n;
	while (!stopping && (n = recv(fd, msg, sizeof(msg) - 1, 0)) > 0) {
		msg[n] = '\0';
		if (!strcmp(msg, "READY=1"))
			ready++;
		else if (!strcmp(msg, "WATCHDOG=1"))
			order_ok &= ready == 1, pings++;
		else if (!strcmp(msg, "STOPPING=1"))
			stopping++;
	}
	int status;
	waitpid(pid, &status, 0);
	close(fd);
	unlink(path);
	unlink("/tmp/bpfpush-cli.yaml");
	print_message("  READY %d, WATCHDOG %d, STOPPING %d\n", ready, pings, stopping);
	assert_int_equal(ready, 1);
	assert_true(order_ok);
	assert_true(pings >= 3); /* every 0.5 s over 3 s */
	assert_int_equal(stopping, 1);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_usage), cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_list_metrics),      cmocka_unit_test(test_probe),
		cmocka_unit_test(test_unprivileged),      cmocka_unit_test(test_notify_socket),
	};
	return cmocka_run_group_tests_name("CLI and service protocol (real agent)", tests, NULL, NULL);
}
