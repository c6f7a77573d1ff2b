/*
 * Sinks that must not be created (a stdout sink without a wire format, no
 * address, TLS files that are missing or not certificates, a prefix too long)
 * leave nothing on the loop; and every drop reason has a name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "sink_fixture.h"

static void stdout_sink_and_bad_configs(void **state)
{
	struct fixture *f = *state;
	fixture_init(f, SINK_STDOUT, TRANSPORT_NONE, "", 0);
	f->cfg.format = SINK_STDOUT;
	assert_null(sink_create(&f->loop, &f->cfg, &f->env)); /* a stdout sink needs a wire format */
	f->cfg.type = SINK_GRAPHITE;
	f->cfg.format = SINK_GRAPHITE;
	assert_null(sink_create(&f->loop, &f->cfg, &f->env)); /* no address */
	f->cfg.address.transport = TRANSPORT_TLS;
	f->cfg.address.host = "127.0.0.1";
	f->cfg.address.port = 2004;
	f->cfg.ca_file = "/nonexistent/ca.pem"; /* config.c refuses it; if it went missing since: no sink */
	assert_null(sink_create(&f->loop, &f->cfg, &f->env));
	f->cfg.ca_file = NULL;
	f->cfg.cert_file = "/proc/self/status"; /* not a certificate */
	f->cfg.key_file = "/proc/self/status";
	assert_null(sink_create(&f->loop, &f->cfg, &f->env));
	f->cfg.cert_file = NULL;
	f->cfg.key_file = NULL;
	f->cfg.address.host = f->host;
	f->cfg.address.transport = TRANSPORT_UDP;
	char long_prefix[300];
	memset(long_prefix, 'p', sizeof(long_prefix) - 1);
	long_prefix[sizeof(long_prefix) - 1] = '\0';
	f->cfg.prefix = long_prefix;
	assert_null(sink_create(&f->loop, &f->cfg, &f->env));
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	f->loop_open = false;
	for (int i = 0; i < DROP_REASON_COUNT; i++)
		assert_non_null(sink_drop_reason_names[i]);
	assert_string_equal(sink_drop_reason_names[DROP_SEND_ERROR], "send_error");
}

int main(void)
{
	log_set_level(getenv("TEST_SINK_LOG") ? LOG_DEBUG : LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(stdout_sink_and_bad_configs, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
