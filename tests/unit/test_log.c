/* The log: one line per message, whatever the names the kernel hands us contain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* What log_msg wrote to stderr while fn ran, through a pipe standing in for fd 2. */
static void capture(void (*fn)(void), char *out, size_t cap)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fds[1], STDERR_FILENO) >= 0);
	fn();
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], out, cap - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
}

static void log_forged_comm(void)
{
	/* A task may name itself anything, newlines and escapes included (prctl PR_SET_NAME). */
	log_warn("oomkill", "OOM killer chose pid %u (%s)", 42u, "x\nERROR agent: forged\t\x1b[2J");
}

static void test_control_characters_cannot_forge_lines(void **state)
{
	(void)state;
	char out[512];
	capture(log_forged_comm, out, sizeof(out));
	assert_string_equal(out, "WARNING oomkill: OOM killer chose pid 42 (x?ERROR agent: forged??[2J)\n");
}

static void log_plain(void) { log_info("sink", "carbon: closed: %d lines sent", 3); }

static void test_plain_text_unchanged(void **state)
{
	(void)state;
	char out[256];
	capture(log_plain, out, sizeof(out));
	assert_string_equal(out, "INFO sink: carbon: closed: 3 lines sent\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_characters_cannot_forge_lines),
		cmocka_unit_test(test_plain_text_unchanged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
