/*
 * What a SIGHUP reload does with each kind of change (agent.c apply_config,
 * docs/design.md §5): which modules it restarts (config_module_changed),
 * what applies live without restarting any, when the sinks are rebuilt
 * (config_sinks_equal), and which new configs are refused outright (they
 * do not load, or their changed sinks fail agent_check_sinks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "config_diff.h"
#include "module.h"

#define ONE_SINK "sinks:\n  - { name: s, type: statsd, address: \"udp://127.0.0.1:8125\" }\n"

struct fixture {
	char dir[64];
	struct config *old;
	struct config *next;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/bpfpush-diff-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	config_free(fx->old);
	config_free(fx->next);
	char path[128];
	snprintf(path, sizeof(path), "%s/main.yaml", fx->dir);
	unlink(path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Loads text as a whole config (main.yaml, mode 0600); NULL when it does not load. */
static struct config *load(struct fixture *fx, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/main.yaml", fx->dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0600), 0);
	struct config *cfg = NULL;
	struct config_errors errs = { 0 };
	int rc = config_load(path, &cfg, &errs);
	if (rc != 0)
		config_errors_print(&errs, stderr);
	config_errors_free(&errs);
	return rc == 0 ? cfg : NULL;
}

static void load_pair(struct fixture *fx, const char *old_text, const char *next_text)
{
	config_free(fx->old);
	config_free(fx->next);
	fx->old = load(fx, old_text);
	fx->next = load(fx, next_text);
	assert_non_null(fx->old);
	assert_non_null(fx->next);
}

/* The modules the reload would restart, as "name,name," in registry order. */
static const char *restarted(const struct fixture *fx)
{
	static char out[512];
	out[0] = '\0';
	for (module_id_t id = 0; id < module_registry_count(); id++)
		if (config_module_changed(fx->old, fx->next, id)) {
			strcat(out, module_registry_get(id)->name);
			strcat(out, ",");
		}
	return out;
}

/* Reloads from ONE_SINK to `added` + ONE_SINK: the modules that would restart, as restarted() gives them. */
static const char *restarted_by(struct fixture *fx, const char *added)
{
	char next[1024];
	assert_true((size_t)snprintf(next, sizeof(next), "%s" ONE_SINK, added) < sizeof(next));
	load_pair(fx, ONE_SINK, next);
	return restarted(fx);
}

static void test_same_config_restarts_nothing(void **state)
{
	struct fixture *fx = *state;
	load_pair(fx, ONE_SINK, ONE_SINK);
	assert_string_equal(restarted(fx), "");
	assert_true(config_sinks_equal(fx->old, fx->next));
}

static void test_switching_a_module_restarts_it_alone(void **state)
{
	struct fixture *fx = *state;
	assert_string_equal(restarted_by(fx, "modules: { disk: { enabled: true }, fd: { enabled: false } }\n"), "fd,disk,");
	assert_true(config_sinks_equal(fx->old, fx->next));
}

/* A module's own keys come from its key table: each kind compared through it. */
static void test_own_keys_restart_their_module_only(void **state)
{
	struct fixture *fx = *state;
	assert_string_equal(restarted_by(fx, "modules: { hardirq: { slow_threshold: 2ms } }\n"), "hardirq,");
	assert_string_equal(restarted_by(fx, "modules: { sync: { syscalls: { msync: false } } }\n"), "sync,");
	assert_string_equal(restarted_by(fx, "modules: { network: { ports: \"*\" } }\n"), "network,");
	assert_string_equal(restarted_by(fx, "modules: { network: { service_names: { 8080: web } } }\n"), "network,");
	assert_string_equal(restarted_by(fx, "modules: { network: { resolve_hostnames: true, max_dimensions: 10 } }\n"), "network,");
	/* the same value written out is no change */
	assert_string_equal(restarted_by(fx, "modules: { network: { ports: \"1-1024 !145 !domain\" }, hardirq: { slow_threshold: 1000us } }\n"), "");
}

static void test_keys_of_a_disabled_module_change_nothing(void **state)
{
	struct fixture *fx = *state;
	load_pair(fx, "modules: { filesystem: { enabled: false, zfs: true } }\n" ONE_SINK,
		  "modules: { filesystem: { enabled: false, zfs: false } }\n" ONE_SINK);
	assert_string_equal(restarted(fx), "");
	load_pair(fx, "modules: { filesystem: { enabled: true, zfs: true } }\n" ONE_SINK,
		  "modules: { filesystem: { enabled: true, zfs: false } }\n" ONE_SINK);
	assert_string_equal(restarted(fx), "filesystem,");
}

static void test_module_interval_and_attach_restart_it(void **state)
{
	struct fixture *fx = *state;
	assert_string_equal(restarted_by(fx, "modules: { vfs: { interval: 2s }, fd: { attach: tracepoint } }\n"), "fd,vfs,");
	assert_string_equal(restarted_by(fx, "modules: { process: { syscall_layer: tracepoints } }\n"), "process,");
}

/* Keys every hook depends on restart every enabled module. */
static void test_global_attach_keys_restart_every_enabled_module(void **state)
{
	struct fixture *fx = *state;
	const char *all_enabled = "process,fd,vfs,sync,mount,shm,socket,network,hardirq,softirq,oomkill,apps,";
	assert_string_equal(restarted_by(fx, "global: { load_mode: entry }\n"), all_enabled);
	assert_string_equal(restarted_by(fx, "global: { pid_table_size: 4096 }\n"), all_enabled);
	assert_string_equal(restarted_by(fx, "apps: { enabled: false }\n"), all_enabled);
}

static void test_apps_keys_restart_apps_not_oomkill(void **state)
{
	struct fixture *fx = *state;
	/* oomkill reads the groups when it collects: it goes on */
	assert_string_equal(restarted_by(fx, "apps: { groups: [ { match: \"nginx*\", name: web } ] }\n"), "apps,");
	assert_string_equal(restarted_by(fx, "apps: { group_by: exe }\n"), "apps,");
	/* cachestat switches apps' page-cache events too */
	assert_string_equal(restarted_by(fx, "modules: { cachestat: { enabled: true } }\n"), "cachestat,apps,");
	/* cgroups is the apps module's data grouped again */
	assert_string_equal(restarted_by(fx, "cgroups: { group_by: container }\n"), "apps,");
	assert_string_equal(restarted_by(fx, "cgroups: { groups: [ { match: \"*.service\", name: svc } ] }\n"), "apps,");
	assert_string_equal(restarted_by(fx, "cgroups: { enabled: false }\n"), "apps,");
}

/* Applied live: no module restarts, the sinks are kept. */
static void test_live_keys_restart_nothing(void **state)
{
	struct fixture *fx = *state;
	assert_string_equal(restarted_by(fx, "global: { interval: 2s, series_ttl: 1h, log_level: debug }\n"), "");
	assert_true(config_sinks_equal(fx->old, fx->next));
}

static void test_sink_changes_replace_the_sinks_only(void **state)
{
	struct fixture *fx = *state;
	load_pair(fx, ONE_SINK,
		  "sinks:\n  - { name: s, type: statsd, address: \"udp://127.0.0.1:8125\", prefix: other }\n");
	assert_string_equal(restarted(fx), "");
	assert_false(config_sinks_equal(fx->old, fx->next));
	assert_string_equal(restarted_by(fx, "global: { tags: { env: prod } }\n"), "");
	assert_false(config_sinks_equal(fx->old, fx->next));
	load_pair(fx, ONE_SINK, "global: { hostname: elsewhere }\n" ONE_SINK);
	assert_false(config_sinks_equal(fx->old, fx->next));
}

/* Refused: the running config stays (agent.c signal_cb). */
static void test_refused_reloads(void **state)
{
	struct fixture *fx = *state;
	/* a config that does not load: a bad value of a module's own key, or an unknown key */
	assert_null(load(fx, "modules: { network: { ports: \"1-1024 !domian\" } }\n" ONE_SINK));
	assert_null(load(fx, "modules: { hardirq: { slow_threshold: 2s } }\n" ONE_SINK));
	assert_null(load(fx, "modules: { sync: { syscalls: { msynk: false } } }\n" ONE_SINK));
	/* changed sinks that cannot be built (a prefix too long once expanded) */
	char text[1024];
	char prefix[300];
	memset(prefix, 'p', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "sinks:\n  - { name: s, type: statsd, address: \"udp://127.0.0.1:8125\", prefix: %s }\n", prefix);
	load_pair(fx, ONE_SINK, text);
	assert_false(config_sinks_equal(fx->old, fx->next));
	assert_int_not_equal(agent_check_sinks(fx->next, NULL), 0);
	assert_int_equal(agent_check_sinks(fx->old, NULL), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_same_config_restarts_nothing),
		T(test_switching_a_module_restarts_it_alone),
		T(test_own_keys_restart_their_module_only),
		T(test_keys_of_a_disabled_module_change_nothing),
		T(test_module_interval_and_attach_restart_it),
		T(test_global_attach_keys_restart_every_enabled_module),
		T(test_apps_keys_restart_apps_not_oomkill),
		T(test_live_keys_restart_nothing),
		T(test_sink_changes_replace_the_sinks_only),
		T(test_refused_reloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
