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

/* C1 controls (as bytes and as U+0080-U+009F), bidi overrides and invalid UTF-8 become '?'. */
static void test_sanitize_c1_bidi_and_invalid_utf8(void **state)
{
	(void)state;
	char text[128];
	strcpy(text, "a\x85" "b\xc2\x9b" "c\xe2\x80\xae" "d\xe2\x81\xa6" "e\xff" "f\xc3\xa9" "g\xe2\x80\x99" "h");
	size_t n = log_sanitize(text);
	/* é (U+00E9) and ’ (U+2019) are printable and kept. */
	assert_string_equal(text, "a?b?c?d?e?f\xc3\xa9g\xe2\x80\x99h");
	assert_int_equal(n, strlen(text));
	strcpy(text, "\xc0\xaf\xed\xa0\x80x"); /* overlong '/', a surrogate */
	log_sanitize(text);
	assert_string_equal(text, "?????x"); /* one per byte that is not UTF-8 */
}

static void log_bidi_host(void) { log_warn("network", "peer %s", "evil\xe2\x80\xaetxt.exe\xc2\x85"); }

static void test_bidi_in_a_name_cannot_reorder_a_line(void **state)
{
	(void)state;
	char out[256];
	capture(log_bidi_host, out, sizeof(out));
	assert_string_equal(out, "WARNING network: peer evil?txt.exe?\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_characters_cannot_forge_lines),
		cmocka_unit_test(test_plain_text_unchanged),
		cmocka_unit_test(test_sanitize_c1_bidi_and_invalid_utf8),
		cmocka_unit_test(test_bidi_in_a_name_cannot_reorder_a_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
