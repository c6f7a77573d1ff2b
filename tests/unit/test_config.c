/*
 * Config loader tests: the shipped configs, defaults, every error path with
 * its FILE:LINE:COL, conf.d merging, and that config/bpfpush.yaml documents
 * every key of the schema with its default. Run from the repository root.
 */
// LDWRAP: -Wl,--wrap=geteuid
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "attach_keys.h"
#include "config.h"
#include "module.h"
#include "net_filter.h"

/* A module's registry index, by name (the registry is the one list of modules). */
static module_id_t mod(const char *name)
{
	int id = module_registry_find(name);
	assert_true(id >= 0);
	return (module_id_t)id;
}

/* A key's field by its path (modules' own keys live in their options structs). */
static const void *field_at(const struct config *cfg, const char *path)
{
	const void *field = config_field(cfg, path);
	if (!field)
		print_error("no key %s\n", path);
	assert_non_null(field);
	return field;
}
#define FIELD(cfg, type, path) (*(const type *)field_at(cfg, path))
#define MODULE_COUNT ((int)module_registry_count())

#define SHIPPED_CONFIG "config/bpfpush.yaml"
#define RUN_CONFIG "config/run.yaml"

/*
 * geteuid() as the loader sees it, when linked with --wrap=geteuid (the LDWRAP
 * line above): tests choose whether the agent "runs as root". Built without
 * the wrap, the real geteuid() answers and the root-only tests skip.
 */
static uid_t test_euid = 1000;
uid_t __wrap_geteuid(void);
uid_t __wrap_geteuid(void) { return test_euid; }

#define ONE_SINK "sinks:\n  - { name: s, type: statsd, address: \"udp://127.0.0.1:8125\" }\n"

struct fixture {
	char dir[64];
	char main_path[128];
	struct config *cfg;
	struct config_errors errs;
	char *printed; /* what config_errors_print wrote */
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/bpfpush-config-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->main_path, sizeof(fx->main_path), "%s/main.yaml", fx->dir);
	test_euid = 1000;
	*state = fx;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	config_free(fx->cfg);
	config_errors_free(&fx->errs);
	free(fx->printed);
	nftw(fx->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Writes header, then n lines made by fmt (two %d, both i) to dir/relpath (creating conf.d/ when needed), mode 0644. */
static void write_many(struct fixture *fx, const char *relpath, const char *header, const char *fmt, int n)
{
	char path[256];
	if (strncmp(relpath, "conf.d/", 7) == 0) {
		snprintf(path, sizeof(path), "%s/conf.d", fx->dir);
		mkdir(path, 0755);
	}
	snprintf(path, sizeof(path), "%s/%s", fx->dir, relpath);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(header, f);
	for (int i = 0; i < n; i++)
		fprintf(f, fmt, i, i);
	fclose(f);
	assert_int_equal(chmod(path, 0644), 0);
}

static void write_file(struct fixture *fx, const char *relpath, const char *text)
{
	write_many(fx, relpath, text, "", 0);
}

static int load_path(struct fixture *fx, const char *path)
{
	config_free(fx->cfg);
	fx->cfg = NULL;
	config_errors_free(&fx->errs);
	free(fx->printed);
	int rc = config_load(path, &fx->cfg, &fx->errs);
	size_t size;
	FILE *mem = open_memstream(&fx->printed, &size);
	assert_non_null(mem);
	config_errors_print(&fx->errs, mem);
	fclose(mem);
	if (rc == 0)
		assert_non_null(fx->cfg);
	else
		assert_null(fx->cfg);
	return rc;
}

/* Writes main.yaml and loads it (with whatever conf.d/ the test wrote). */
static int load_text(struct fixture *fx, const char *text)
{
	write_file(fx, "main.yaml", text);
	return load_path(fx, fx->main_path);
}

static void assert_printed(const struct fixture *fx, const char *needle)
{
	if (!strstr(fx->printed, needle)) {
		print_error("expected to find:\n  %s\nin the errors:\n%s", needle, fx->printed);
		fail();
	}
}

static void assert_not_printed(const struct fixture *fx, const char *needle)
{
	if (strstr(fx->printed, needle)) {
		print_error("did not expect:\n  %s\nin the errors:\n%s", needle, fx->printed);
		fail();
	}
}

/* The line config_errors_print gives for an error in main.yaml (message may be a prefix; end it with \n for all of it). */
static void assert_error_at(const struct fixture *fx, int line, int col, const char *message)
{
	char expected[512];
	snprintf(expected, sizeof(expected), "%s:%d:%d: %s", fx->main_path, line, col, message);
	assert_printed(fx, expected);
}

static void assert_fails_at(struct fixture *fx, const char *text, int line, int col, const char *message)
{
	assert_int_equal(load_text(fx, text), -1);
	assert_error_at(fx, line, col, message);
}

/* ------------------------------------------------------------------ */

static void test_shipped_config_loads(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_path(fx, SHIPPED_CONFIG), 0);
	assert_string_equal(fx->printed, "");
	const struct config *cfg = fx->cfg;
	assert_int_equal(cfg->nsinks, 1);
	const struct config_sink *s = &cfg->sinks[0];
	assert_string_equal(s->name, "statsd");
	assert_int_equal(s->type, SINK_STATSD);
	assert_int_equal(s->format, SINK_STATSD);
	assert_int_equal(s->address.transport, TRANSPORT_UDP);
	assert_string_equal(s->address.host, "127.0.0.1");
	assert_int_equal(s->address.port, 8125);
	assert_int_equal(s->max_packet, 1432);
	assert_string_equal(s->prefix, "bpfpush.{hostname}");
	assert_string_equal(s->file, SHIPPED_CONFIG);
	assert_string_equal(cfg->path, SHIPPED_CONFIG);
}

static void test_run_config_loads(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_path(fx, RUN_CONFIG), 0);
	assert_string_equal(fx->printed, "");
	const struct config *cfg = fx->cfg;
	assert_int_equal(cfg->global.interval_ms, 1000);
	assert_int_equal(cfg->nsinks, 1);
	assert_string_equal(cfg->sinks[0].name, "console");
	assert_int_equal(cfg->sinks[0].type, SINK_STDOUT);
	assert_int_equal(cfg->sinks[0].format, SINK_STATSD);
	assert_int_equal(cfg->sinks[0].address.transport, TRANSPORT_NONE);
	assert_string_equal(cfg->sinks[0].prefix, "bpfpush.{hostname}");
}

static void test_defaults_when_absent(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, "# only a sink\n" ONE_SINK), 0);
	const struct config *cfg = fx->cfg;
	assert_int_equal(cfg->global.interval_ms, 1000);
	assert_string_equal(cfg->global.hostname, "auto");
	assert_int_equal(cfg->global.load_mode, LOAD_MODE_RETURN);
	assert_int_equal(cfg->global.attach, ATTACH_AUTO);
	assert_int_equal(cfg->global.syscall_layer, SYSCALL_LAYER_AUTO);
	assert_int_equal(cfg->global.series_ttl_ms, 5 * 60 * 1000);
	assert_int_equal(cfg->global.pid_table_size, 32768);
	assert_int_equal(cfg->global.log_level, LOG_INFO);
	assert_int_equal(cfg->global.tags.len, 0);
	assert_true(cfg->apps.enabled);
	assert_int_equal(cfg->apps.group_by, GROUP_BY_COMM);
	assert_int_equal(cfg->apps.max_groups, 200);
	assert_int_equal(cfg->apps.ngroups, 0);

	static const char *const enabled_by_default[] = {
		"process", "fd", "vfs", "sync", "mount", "shm", "socket", "network", "hardirq", "softirq", "oomkill", "apps",
	};
	bool enabled[MODULE_MAX] = { false };
	for (size_t i = 0; i < sizeof(enabled_by_default) / sizeof(enabled_by_default[0]); i++)
		enabled[mod(enabled_by_default[i])] = true;
	assert_int_equal(MODULE_COUNT, 18);
	for (int id = 0; id < MODULE_COUNT; id++) {
		assert_int_equal(cfg->modules[id].enabled, enabled[id]);
		assert_int_equal(cfg->modules[id].interval_ms, 0);
		assert_int_equal(config_module_interval_ms(cfg, id), 1000);
		assert_int_equal(cfg->modules[id].attach, ATTACH_AUTO);
		assert_int_equal(cfg->modules[id].syscall_layer, SYSCALL_LAYER_AUTO);
	}
	static const char *const sync_calls[] = { "sync", "syncfs", "fsync", "fdatasync", "msync", "sync_file_range" };
	for (size_t i = 0; i < sizeof(sync_calls) / sizeof(sync_calls[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "modules.sync.syscalls.%s", sync_calls[i]);
		assert_true(FIELD(cfg, bool, path));
	}
	static const char *const filesystems[] = { "ext4", "xfs", "nfs", "btrfs", "zfs" };
	for (size_t i = 0; i < sizeof(filesystems) / sizeof(filesystems[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "modules.filesystem.%s", filesystems[i]);
		assert_true(FIELD(cfg, bool, path));
	}
	assert_string_equal(FIELD(cfg, char *, "modules.network.ports"), "1-1024 !145 !domain");
	assert_string_equal(FIELD(cfg, char *, "modules.network.ips"),
			    "!127.0.0.1/8 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7");
	assert_string_equal(FIELD(cfg, char *, "modules.network.hostnames"), "!example.com");
	assert_int_equal(FIELD(cfg, uint32_t, "modules.network.max_dimensions"), 500);
	assert_false(FIELD(cfg, bool, "modules.network.resolve_hostnames"));
	const struct config_port_names *names = &FIELD(cfg, struct config_port_names, "modules.network.service_names");
	assert_int_equal(names->len, 1);
	assert_int_equal(names->items[0].port, 19999);
	assert_string_equal(names->items[0].name, "netdata");
	/* the filters were parsed as the config loaded, once, for the network module to use */
	const struct network_opts *net = config_module_opts(cfg, mod("network"));
	assert_non_null(net->ports_parsed);
	assert_false(net_ports_pass(net->ports_parsed, 53));
	assert_true(net_ports_pass(net->ports_parsed, 80));
	assert_non_null(net->ips_parsed);
	assert_non_null(net->hostnames_parsed);
	assert_int_equal(FIELD(cfg, uint64_t, "modules.hardirq.slow_threshold"), 1000);
	assert_int_equal(FIELD(cfg, uint64_t, "modules.softirq.slow_threshold"), 1000);

	const struct config_sink *s = &cfg->sinks[0];
	assert_int_equal(s->buffer_lines, 100000);
	assert_int_equal(s->resolve_interval_ms, 60000);
	assert_int_equal(s->reconnect_min_ms, 100);
	assert_int_equal(s->reconnect_max_ms, 30000);
	assert_int_equal(s->write_timeout_ms, 10000);
	assert_int_equal(s->max_packet, 1432);
	assert_int_equal(s->ninclude, 0);
	assert_int_equal(s->nexclude, 0);
	assert_int_equal(s->tags.len, 0);
	assert_null(s->ca_file);
	assert_string_equal(s->file, fx->main_path);
	assert_int_equal(s->line, 3);
}

/* ---- the shipped config documents the schema ---- */

struct doc_check {
	yaml_document_t doc;
	const char *text; /* the whole file, for keys only shown in comments */
	size_t keys;
	bool module_seen[MODULE_MAX];
};

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static yaml_node_t *path_get(yaml_document_t *doc, const char *path)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", path);
	yaml_node_t *node = yaml_document_get_root_node(doc);
	char *save = NULL;
	for (char *part = strtok_r(copy, ".", &save); part && node; part = strtok_r(NULL, ".", &save))
		node = map_get(doc, node, part);
	return node;
}

/* The scalar a default's YAML text stands for ("\"!example.com\"" -> !example.com). */
static char *default_scalar(const char *def)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)def, strlen(def));
	assert_true(yaml_parser_load(&parser, &doc));
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	char *value = root && root->type == YAML_SCALAR_NODE ? strdup((char *)root->data.scalar.value) : NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return value;
}

static void check_key_documented(const struct config_schema_key *key, void *arg)
{
	struct doc_check *dc = arg;
	dc->keys++;
	for (int id = 0; id < MODULE_COUNT; id++) {
		char enabled_path[64];
		/* apps has its own top-level section */
		const struct module_ops *ops = module_registry_get((module_id_t)id);
		snprintf(enabled_path, sizeof(enabled_path), "%s%s.enabled", ops->top_level_section ? "" : "modules.",
			 ops->name);
		if (strcmp(key->path, enabled_path) == 0)
			dc->module_seen[id] = true;
	}
	assert_non_null(key->help);
	if (strstr(key->path, "[]")) {
		/* List items (sinks, apps.groups) are documented by a commented example. */
		char shown[64];
		snprintf(shown, sizeof(shown), "%s:", strrchr(key->path, '.') + 1);
		if (!strstr(dc->text, shown)) {
			print_error("%s: %s is not shown in " SHIPPED_CONFIG "\n", key->path, shown);
			fail();
		}
		return;
	}
	yaml_node_t *node = path_get(&dc->doc, key->path);
	if (!node) {
		print_error("%s is missing from " SHIPPED_CONFIG "\n", key->path);
		fail();
	}
	if (!key->def || node->type != YAML_SCALAR_NODE)
		return;
	char *expected = default_scalar(key->def);
	assert_non_null(expected);
	if (strcmp(expected, (char *)node->data.scalar.value) != 0) {
		print_error("%s: " SHIPPED_CONFIG " says %s, the default is %s\n", key->path,
			    (char *)node->data.scalar.value, expected);
		free(expected);
		fail();
	}
	free(expected);
}

static char *read_whole_file(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *text = calloc(1, 1 << 20);
	assert_non_null(text);
	size_t n = fread(text, 1, (1 << 20) - 1, f);
	assert_true(n > 0);
	fclose(f);
	return text;
}

static void test_every_key_documented_in_shipped_config(void **state)
{
	(void)state;
	struct doc_check dc = { 0 };
	char *text = read_whole_file(SHIPPED_CONFIG);
	dc.text = text;
	yaml_parser_t parser;
	assert_true(yaml_parser_initialize(&parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	assert_true(yaml_parser_load(&parser, &dc.doc));
	config_schema_walk(check_key_documented, &dc);
	yaml_document_delete(&dc.doc);
	yaml_parser_delete(&parser);
	free(text);
	for (int id = 0; id < MODULE_COUNT; id++)
		assert_true(dc.module_seen[id]);
	assert_true(dc.keys > (size_t)MODULE_COUNT * 4 + 40);
}

/* ---- errors ---- */

static void test_unknown_key_did_you_mean(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global:\n  intreval: 1s\n" ONE_SINK, 2, 3,
			"global.intreval: unknown key (did you mean \"interval\"?)");
	assert_fails_at(fx, "global:\n  colour: red\n" ONE_SINK, 2, 3, "global.colour: unknown key\n");
	assert_fails_at(fx, "sink:\n  - { name: s, type: stdout }\n", 1, 1, "sink: unknown key (did you mean \"sinks\"?)");
	assert_fails_at(fx, "modules:\n  vfs: { enabeld: false }\n" ONE_SINK, 2, 10,
			"modules.vfs.enabeld: unknown key (did you mean \"enabled\"?)");
	assert_fails_at(fx, "modules:\n  vsf: { enabled: false }\n" ONE_SINK, 2, 3,
			"modules.vsf: unknown key (did you mean \"vfs\"?)");
	assert_fails_at(fx, ONE_SINK "  - { name: t, type: stdout, prefx: x }\n", 3, 30,
			"sinks[1].prefx: unknown key (did you mean \"prefix\"?)");
}

static void test_wrong_node_kind(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global: [1, 2]\n" ONE_SINK, 1, 9, "global: expected a map, got a list");
	assert_fails_at(fx, "apps:\n  enabled: { a: 1 }\n" ONE_SINK, 2, 12,
			"apps.enabled: expected true or false (or yes/no, on/off), got a map");
	assert_fails_at(fx, "sinks: { name: s }\n", 1, 8, "sinks: expected a list of sinks, got a map");
	assert_fails_at(fx, "- a\n- b\n", 1, 1, "(top level): expected a map, got a list");
	assert_fails_at(fx, "global:\n  interval:\n" ONE_SINK, 2, 12,
			"global.interval: expected a duration such as 500ms, 1s or 1m, got nothing");
	assert_fails_at(fx, "global:\n  tags: [a, b]\n" ONE_SINK, 2, 9,
			"global.tags: expected a map of tag names to values, got a list");
}

static void test_bool_words(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, "apps: { enabled: no }\nmodules:\n  disk: { enabled: yes }\n"
				       "  fd: { enabled: off }\n  swap: { enabled: on }\n  vfs: { enabled: False }\n" ONE_SINK),
			 0);
	assert_false(fx->cfg->apps.enabled);
	assert_true(fx->cfg->modules[mod("disk")].enabled);
	assert_false(fx->cfg->modules[mod("fd")].enabled);
	assert_true(fx->cfg->modules[mod("swap")].enabled);
	assert_false(fx->cfg->modules[mod("vfs")].enabled);
	assert_fails_at(fx, "apps:\n  enabled: maybe\n" ONE_SINK, 2, 12,
			"apps.enabled: expected true or false (or yes/no, on/off), got \"maybe\"");
	assert_fails_at(fx, "apps:\n  enabled: 1\n" ONE_SINK, 2, 12,
			"apps.enabled: expected true or false (or yes/no, on/off), got \"1\"");
}

static void test_bad_duration(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global:\n  interval: fast\n" ONE_SINK, 2, 13,
			"global.interval: expected a duration such as 500ms, 1s or 1m, got \"fast\"");
	assert_fails_at(fx, "global:\n  interval: 5\n" ONE_SINK, 2, 13,
			"global.interval: expected a duration such as 500ms, 1s or 1m, got \"5\"");
	assert_fails_at(fx, "global:\n  interval: 500ms\n" ONE_SINK, 2, 13,
			"global.interval: must be from 1s to 1h, got 500ms");
	assert_fails_at(fx, "modules:\n  hardirq: { slow_threshold: 0us }\n" ONE_SINK, 2, 30,
			"modules.hardirq.slow_threshold: must be from 1us to 1s, got 0us");
	assert_int_equal(load_text(fx, "global: { interval: 2s, series_ttl: 1h }\n"
				       "modules: { softirq: { slow_threshold: 250us } }\n" ONE_SINK),
			 0);
	assert_int_equal(fx->cfg->global.interval_ms, 2000);
	assert_int_equal(fx->cfg->global.series_ttl_ms, 3600000);
	assert_int_equal(FIELD(fx->cfg, uint64_t, "modules.softirq.slow_threshold"), 250);
}

static void test_parse_duration_ms(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		uint64_t ms;
	} good[] = { { "500ms", 500 }, { "1s", 1000 }, { "1m", 60000 }, { "5m", 300000 }, { "1h", 3600000 },
		     { "0s", 0 }, { "2000us", 2 } };
	static const char *const bad[] = { "", "5", "1.5s", "-1s", "1 s", "s", "1sec", "1d", "1500us", "1ss",
					   "99999999999999999999h" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t ms = 12345;
		assert_int_equal(config_parse_duration_ms(good[i].text, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ms;
		if (config_parse_duration_ms(bad[i], &ms) != -1) {
			print_error("\"%s\" parsed as a duration\n", bad[i]);
			fail();
		}
	}
}

static void test_out_of_range(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global:\n  pid_table_size: 10\n" ONE_SINK, 2, 19,
			"global.pid_table_size: expected a whole number from 1024 to 4194304, got \"10\"");
	assert_fails_at(fx, "global:\n  pid_table_size: -1\n" ONE_SINK, 2, 19,
			"global.pid_table_size: expected a whole number from 1024 to 4194304, got \"-1\"");
	assert_fails_at(fx, "sinks:\n  - { name: s, type: statsd, address: \"udp://h:1\", max_packet: 70000 }\n", 2, 64,
			"sinks[0].max_packet: expected a whole number from 64 to 65507, got \"70000\"");
	assert_fails_at(fx, "apps:\n  max_groups: 99999999999999999999999\n" ONE_SINK, 2, 15,
			"apps.max_groups: expected a whole number from 1 to 100000, got \"99999999999999999999999\"");
}

static void test_enum_words(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global:\n  load_mode: entyr\n" ONE_SINK, 2, 14,
			"global.load_mode: expected one of entry, return, got \"entyr\" (did you mean \"entry\"?)");
	assert_fails_at(fx, "global:\n  log_level: verbose\n" ONE_SINK, 2, 14,
			"global.log_level: expected one of error, warning, info, debug, got \"verbose\"\n");
	assert_int_equal(load_text(fx, "global: { load_mode: return, attach: tp_btf, syscall_layer: dispatcher, "
				       "log_level: debug }\napps: { group_by: container }\n" ONE_SINK),
			 0);
	assert_int_equal(fx->cfg->global.load_mode, LOAD_MODE_RETURN);
	assert_int_equal(fx->cfg->global.attach, ATTACH_TP_BTF);
	assert_int_equal(fx->cfg->global.syscall_layer, SYSCALL_LAYER_DISPATCHER);
	assert_int_equal(fx->cfg->global.log_level, LOG_DEBUG);
	assert_int_equal(fx->cfg->apps.group_by, GROUP_BY_CONTAINER);
}

static void test_parse_address_valid(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		enum transport transport;
		const char *host;
		uint16_t port;
		const char *path;
	} cases[] = {
		{ "udp://127.0.0.1:8125", TRANSPORT_UDP, "127.0.0.1", 8125, NULL },
		{ "tcp://graphite.example.com:2003", TRANSPORT_TCP, "graphite.example.com", 2003, NULL },
		{ "tls://[::1]:2004", TRANSPORT_TLS, "::1", 2004, NULL },
		{ "udp://[fe80::1]:1", TRANSPORT_UDP, "fe80::1", 1, NULL },
		{ "udp://statsd_host-1:65535", TRANSPORT_UDP, "statsd_host-1", 65535, NULL },
		{ "unix:///run/statsd.sock", TRANSPORT_UNIX, NULL, 0, "/run/statsd.sock" },
		{ "unix:///var/run/datadog/dsd.socket", TRANSPORT_UNIX, NULL, 0, "/var/run/datadog/dsd.socket" },
		{ "tls://relay.example.com:2004", TRANSPORT_TLS, "relay.example.com", 2004, NULL },
		{ "tls://127.0.0.1:443", TRANSPORT_TLS, "127.0.0.1", 443, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_address a;
		const char *why = NULL;
		assert_int_equal(config_parse_address(cases[i].text, &a, &why), 0);
		assert_int_equal(a.transport, cases[i].transport);
		assert_int_equal(a.port, cases[i].port);
		if (cases[i].host)
			assert_string_equal(a.host, cases[i].host);
		else
			assert_null(a.host);
		if (cases[i].path)
			assert_string_equal(a.path, cases[i].path);
		else
			assert_null(a.path);
		config_address_free(&a);
	}
}

static void test_parse_address_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{ "127.0.0.1:8125", "expected udp://HOST:PORT" },
		{ "http://host:80", "unknown scheme" },
		{ "udp://:8125", "missing host" },
		{ "udp://host", "missing :PORT" },
		{ "udp://host:", "missing port" },
		{ "tcp://host:abc", "missing port" },
		{ "udp://host:0", "from 1 to 65535" },
		{ "udp://host:65536", "from 1 to 65535" },
		{ "udp://host:8125/path", "unexpected text after the port" },
		{ "udp://::1:8125", "IPv6 addresses need brackets" },
		{ "udp://[::1:8125", "unterminated '['" },
		{ "udp://[::1]8125", "missing :PORT" },
		{ "udp://[zz::1]:8125", "not a valid IPv6 address" },
		{ "udp://ho st:8125", "not a valid host name" },
		{ "udp://300.1.2.3:8125", "not a valid IPv4 address" },
		{ "udp://-host:8125", "not a valid host name" },
		{ "unix://run/statsd.sock", "absolute socket path" },
		{ "unix://", "absolute socket path" },
		{ "unix:///", "absolute socket path" },
		{ "unix:relative.sock", "expected udp://HOST:PORT" },
		{ "tls://relay.example.com", "missing :PORT" },
		{ "tls://:2004", "missing host" },
		{ "tls://::1:2004", "IPv6 addresses need brackets" },
		{ "tls://host:2004/x", "unexpected text after the port" },
		{ "tls://host:99999", "from 1 to 65535" },
		{ "ssl://host:2004", "unknown scheme" },
		{ "TLS://host:2004", "unknown scheme" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config_address a;
		const char *why = NULL;
		if (config_parse_address(cases[i].text, &a, &why) != -1 || !why || !strstr(why, cases[i].why)) {
			print_error("%s: expected an error with \"%s\", got %s\n", cases[i].text, cases[i].why,
				    why ? why : "success");
			fail();
		}
		assert_int_equal(a.transport, TRANSPORT_NONE);
		assert_null(a.host);
		assert_null(a.path);
	}
	char long_path[200] = "unix:///";
	memset(long_path + 8, 'a', 150);
	struct config_address a;
	const char *why = NULL;
	assert_int_equal(config_parse_address(long_path, &a, &why), -1);
	assert_non_null(strstr(why, "longer than a unix socket address allows"));
}

static void test_sink_address_errors(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "sinks:\n  - name: a\n    type: statsd\n    address: \"udp://host\"\n", 4, 14,
			"sinks[0].address: missing :PORT, e.g. udp://127.0.0.1:8125, got \"udp://host\"");
	assert_not_printed(fx, "missing required key \"address\"");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: graphite, address: \"unix:///run/carbon.sock\" }\n", 2, 41,
			"sinks[0].address: unix:// is only for statsd and dogstatsd sinks, not graphite");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: graphite-tagged, address: \"unix:///run/carbon.sock\" }\n", 2, 48,
			"sinks[0].address: unix:// is only for statsd and dogstatsd sinks, not graphite-tagged");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: statsd, address: \"tls://h:2004\" }\n", 2, 39,
			"sinks[0].address: tls:// is only for graphite and graphite-tagged sinks, not statsd");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: dogstatsd, address: \"udp://[::1:8125\" }\n", 2, 42,
			"sinks[0].address: unterminated '[' in an IPv6 address, got \"udp://[::1:8125\"");
}

/* fx->dir/NAME with some text in it; its absolute path in buf. */
static const char *pem_file(struct fixture *fx, const char *name, char *buf, size_t cap)
{
	write_file(fx, name, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	snprintf(buf, cap, "%s/%s", fx->dir, name);
	return buf;
}

static void test_sink_types_and_defaults(void **state)
{
	struct fixture *fx = *state;
	char ca[128], text[1024];
	pem_file(fx, "ca.pem", ca, sizeof(ca));
	snprintf(text, sizeof(text),
		 "sinks:\n"
		 "  - { name: dd, type: dogstatsd, address: \"unix:///run/dd.sock\" }\n"
		 "  - { name: carbon, type: graphite, address: \"tls://[2001:db8::1]:2004\", ca_file: %s }\n"
		 "  - { name: tagged, type: graphite-tagged, address: \"tcp://carbon:2003\", prefix: \"x.{fqdn}\" }\n"
		 "  - { name: out, type: stdout, format: graphite }\n"
		 "  - { name: six, type: statsd, address: \"udp://[::1]:8125\", include: [\"vfs.*\"], "
		 "exclude: [\"*.errors\", apps.*] }\n"
		 "  - { name: dsdout, type: stdout, format: dogstatsd }\n",
		 ca);
	assert_int_equal(load_text(fx, text), 0);
	const struct config *cfg = fx->cfg;
	assert_int_equal(cfg->nsinks, 6);
	assert_int_equal(cfg->sinks[0].format, SINK_DOGSTATSD);
	assert_string_equal(cfg->sinks[0].prefix, "bpfpush");
	assert_int_equal(cfg->sinks[0].max_packet, 8192);
	assert_string_equal(cfg->sinks[0].address.path, "/run/dd.sock");
	assert_int_equal(cfg->sinks[1].address.transport, TRANSPORT_TLS);
	assert_string_equal(cfg->sinks[1].address.host, "2001:db8::1");
	assert_string_equal(cfg->sinks[1].ca_file, ca);
	assert_null(cfg->sinks[1].server_name);
	assert_string_equal(cfg->sinks[1].prefix, "bpfpush.{hostname}");
	assert_string_equal(cfg->sinks[2].prefix, "x.{fqdn}");
	assert_int_equal(cfg->sinks[2].format, SINK_GRAPHITE_TAGGED);
	assert_int_equal(cfg->sinks[3].type, SINK_STDOUT);
	assert_int_equal(cfg->sinks[3].format, SINK_GRAPHITE);
	assert_string_equal(cfg->sinks[3].prefix, "bpfpush.{hostname}");
	assert_int_equal(cfg->sinks[4].ninclude, 1);
	assert_string_equal(cfg->sinks[4].include[0], "vfs.*");
	assert_int_equal(cfg->sinks[4].nexclude, 2);
	assert_string_equal(cfg->sinks[4].exclude[1], "apps.*");
	assert_int_equal(cfg->sinks[4].line, 6);
	/* The default prefix follows the encoding: a stdout sink in dogstatsd format leaves the host to tags. */
	assert_string_equal(cfg->sinks[5].prefix, "bpfpush");
	assert_string_equal(config_sink_type_name(cfg->sinks[2].type), "graphite-tagged");

	assert_fails_at(fx, "sinks:\n  - { name: a, type: statsd, address: \"udp://h:1\", format: graphite }\n", 2, 60,
			"sinks[0].format: only stdout sinks take a format (a statsd sink sends statsd)");
}

static void test_sink_required_keys(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "sinks:\n  - { type: statsd, address: \"udp://h:1\" }\n", 2, 5,
			"sinks[0]: missing required key \"name\"");
	assert_fails_at(fx, "sinks:\n  - name: a\n    address: \"udp://h:1\"\n", 2, 5,
			"sinks[0]: missing required key \"type\" (statsd, dogstatsd, graphite, graphite-tagged or stdout)");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: graphite }\n", 2, 5,
			"sinks[0]: missing required key \"address\" (e.g. udp://127.0.0.1:8125)");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: stdout, address: \"udp://h:1\" }\n", 2, 39,
			"sinks[0].address: a stdout sink writes to standard output and takes no address");
	assert_fails_at(fx, "sinks:\n  - { name: \"a b\", type: stdout }\n", 2, 13,
			"sinks[0].name: a sink name may only use letters, digits, '_', '-' and '.', got \"a b\"");
	assert_fails_at(fx, "sinks:\n  - stdout\n", 2, 5, "sinks[0]: expected a map, got a value");
}

static void test_duplicate_sink_names(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "sinks:\n  - { name: a, type: stdout }\n  - { name: b, type: stdout }\n"
			    "  - { name: a, type: statsd, address: \"udp://h:1\" }\n",
			4, 5, "sinks[2]: duplicate sink name \"a\" in this file");
	assert_int_equal(fx->errs.len, 1);
	unsetenv("BPFPUSH_TEST_UNSET");
	assert_fails_at(fx, "sinks:\n  - { name: \"${BPFPUSH_TEST_UNSET}\", type: stdout }\n  - { name: b, type: stdout }\n",
			2, 13, "sinks[0].name: environment variable BPFPUSH_TEST_UNSET is not set");
	assert_int_equal(fx->errs.len, 1); /* not repeated by the duplicate-name check */
}

static void test_tls_keys_and_reconnect(void **state)
{
	struct fixture *fx = *state;
	char ca[128], cert[128], key[128], text[1024];
	pem_file(fx, "ca.pem", ca, sizeof(ca));
	pem_file(fx, "c.pem", cert, sizeof(cert));
	pem_file(fx, "k.pem", key, sizeof(key));
	snprintf(text, sizeof(text), "sinks:\n  - name: a\n    type: statsd\n    address: \"udp://h:1\"\n    ca_file: %s\n", ca);
	assert_fails_at(fx, text, 5, 14, "sinks[0].ca_file: only tls:// addresses use ca_file");
	snprintf(text, sizeof(text), "sinks:\n  - name: a\n    type: graphite\n    address: \"tls://h:1\"\n    cert_file: %s\n",
		 cert);
	assert_fails_at(fx, text, 5, 16, "sinks[0]: cert_file and key_file go together: give both or neither");
	snprintf(text, sizeof(text), "sinks:\n  - name: a\n    type: graphite\n    address: \"tls://h:1\"\n    key_file: %s\n",
		 key);
	assert_fails_at(fx, text, 5, 15, "sinks[0]: cert_file and key_file go together: give both or neither");
	snprintf(text, sizeof(text),
		 "sinks:\n  - { name: a, type: graphite-tagged, address: \"tls://carbon.example:2004\", ca_file: %s, "
		 "cert_file: %s, key_file: %s, server_name: relay.example }\n",
		 ca, cert, key);
	assert_int_equal(load_text(fx, text), 0);
	assert_string_equal(fx->cfg->sinks[0].cert_file, cert);
	assert_string_equal(fx->cfg->sinks[0].key_file, key);
	assert_string_equal(fx->cfg->sinks[0].server_name, "relay.example");
	assert_string_equal(fx->cfg->sinks[0].address.host, "carbon.example");
	/* A missing or unreadable file is an error at its key, naming the file. */
	assert_fails_at(fx, "sinks:\n  - name: a\n    type: graphite\n    address: \"tls://h:1\"\n    ca_file: /nonexistent/ca.pem\n",
			5, 14, "sinks[0].ca_file: no such file, got \"/nonexistent/ca.pem\"");
	snprintf(text, sizeof(text), "sinks:\n  - name: a\n    type: graphite\n    address: \"tls://h:1\"\n    ca_file: %s\n",
		 fx->dir);
	assert_fails_at(fx, text, 5, 14, "sinks[0].ca_file: a directory, not a file");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: graphite, address: \"tls://h:1\", cert_file: /nonexistent/c.pem, "
			    "key_file: /nonexistent/k.pem }\n",
			2, 65, "sinks[0].cert_file: no such file, got \"/nonexistent/c.pem\"");
	assert_fails_at(fx, "sinks:\n  - { name: a, type: graphite, address: \"tls://h:1\", server_name: \"\" }\n", 2, 67,
			"sinks[0].server_name: must not be empty");
	assert_fails_at(fx, "sinks:\n  - name: a\n    type: stdout\n    reconnect_min: 1m\n    reconnect_max: 1s\n",
			4, 20, "sinks[0]: reconnect_min must not be larger than reconnect_max");
	assert_fails_at(fx, "sinks:\n  - name: a\n    type: stdout\n    reconnect_max: 50ms\n", 4, 20,
			"sinks[0]: reconnect_min must not be larger than reconnect_max");
}

static void test_module_interval_multiple(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global:\n  interval: 2s\nmodules:\n  vfs:\n    interval: 3s\n" ONE_SINK, 5, 15,
			"modules.vfs.interval: 3s is not a multiple of global.interval (2s)");
	assert_int_equal(load_text(fx, "global:\n  interval: 2s\nmodules:\n  vfs: { interval: 4s, attach: raw_tp, "
				       "syscall_layer: dispatcher }\n" ONE_SINK),
			 0);
	const struct config *cfg = fx->cfg;
	assert_int_equal(config_module_interval_ms(cfg, mod("vfs")), 4000);
	assert_int_equal(config_module_interval_ms(cfg, mod("process")), 2000);
	assert_int_equal(config_module_attach(cfg, mod("vfs")), ATTACH_RAW_TP);
	assert_int_equal(config_module_syscall_layer(cfg, mod("vfs")), SYSCALL_LAYER_DISPATCHER);
	assert_int_equal(config_module_attach(cfg, mod("fd")), ATTACH_AUTO);
}

/* syscall_layer where a module has no syscall events, attach with a tier none of its ways has: refused where written. */
static void test_attach_keys_that_cannot_apply(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "modules:\n  disk: { syscall_layer: dispatcher }\n" ONE_SINK, 2, 26,
			"modules.disk.syscall_layer: dispatcher cannot apply: disk has no syscall events (leave it auto)\n");
	assert_int_equal(fx->errs.len, 1);
	assert_fails_at(fx, "modules:\n  hardirq:\n    syscall_layer: tracepoints\n" ONE_SINK, 3, 20,
			"modules.hardirq.syscall_layer: tracepoints cannot apply: hardirq has no syscall events");
	assert_fails_at(fx, "modules:\n  disk: { attach: kprobe }\n" ONE_SINK, 2, 19,
			"modules.disk.attach: kprobe cannot apply: disk's events attach with tp_btf, raw_tp, tracepoint\n");
	/* syscall_layer narrows first: the dispatcher is tp_btf or raw_tp, never fentry. */
	assert_fails_at(fx, "modules:\n  sync: { syscall_layer: dispatcher, attach: fentry }\n" ONE_SINK, 2, 46,
			"modules.sync.attach: fentry cannot apply: sync's events attach with tp_btf, raw_tp "
			"under syscall_layer dispatcher\n");
	assert_fails_at(fx, "global: { syscall_layer: tracepoints }\nmodules:\n  mount: { attach: kprobe }\n" ONE_SINK, 3,
			20, "modules.mount.attach: kprobe cannot apply: mount's events attach with tracepoint "
			    "under syscall_layer tracepoints\n");
	/* auto everywhere, and values that apply, load. */
	assert_int_equal(load_text(fx, "modules:\n  disk: { attach: auto, syscall_layer: auto }\n  sync: { attach: kprobe }\n"
				       "  shm: { syscall_layer: tracepoints, attach: tracepoint }\n  process: { syscall_layer: dispatcher }\n"
				       "  dcstat: { attach: fentry }\n" ONE_SINK),
			 0);
	assert_string_equal(fx->printed, "");
	assert_int_equal(config_module_attach(fx->cfg, mod("sync")), ATTACH_KPROBE);
}

/*
 * The first syscall fd and vfs both watch: open(2), or openat(2) where there is no open
 * (probes/syscall_table.h, LEGACY_SYSCALLS).
 */
#if HAVE_LEGACY_SYSCALLS
#define FIRST_SHARED_OPEN "open"
#define FIRST_SHARED_OPEN_ROW SYS_open
#else
#define FIRST_SHARED_OPEN "openat"
#define FIRST_SHARED_OPEN_ROW SYS_openat
#endif

/*
 * fd and vfs both watch open(2), vfs and sync fsync(2): the syscall layer hooks each once. Two
 * explicit values that differ are refused, naming both places; one explicit value governs the
 * syscall for both (attach_keys_owner), whatever the registry order.
 */
static void test_attach_keys_of_modules_sharing_a_syscall(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "modules:\n  fd: { attach: tracepoint }\n  vfs: { attach: raw_tp }\n" ONE_SINK, 3, 18,
			"modules.vfs.attach: raw_tp conflicts with modules.fd.attach: tracepoint (");
	char both[512];
	snprintf(both, sizeof(both), "(%s:2:17): both watch " FIRST_SHARED_OPEN "(2), which the syscall layer hooks once for every module; "
		 "set the same value or leave one auto\n", fx->main_path);
	assert_printed(fx, both);
	assert_int_equal(fx->errs.len, 1);
	assert_fails_at(fx, "modules:\n  vfs: { syscall_layer: dispatcher }\n  sync: { syscall_layer: tracepoints }\n" ONE_SINK,
			3, 26, "modules.sync.syscall_layer: tracepoints conflicts with modules.vfs.syscall_layer: dispatcher (");
	assert_printed(fx, "both watch fsync(2)");
	/* One module's layer leaves no raw_tp for the other's attach on the syscalls they share. */
	assert_fails_at(fx, "modules:\n  vfs: { syscall_layer: tracepoints }\n  fd: { attach: raw_tp }\n" ONE_SINK, 3, 17,
			"modules.fd.attach: raw_tp cannot apply to " FIRST_SHARED_OPEN "(2): modules.vfs.syscall_layer: tracepoints (");
	/* Agreeing values, one side auto, or the other module off: accepted. */
	assert_int_equal(load_text(fx, "modules:\n  fd: { attach: tracepoint }\n  vfs: { attach: tracepoint }\n" ONE_SINK), 0);
	assert_int_equal(load_text(fx, "modules:\n  fd: { enabled: false, attach: tracepoint }\n  vfs: { attach: raw_tp }\n" ONE_SINK),
			 0);
	assert_int_equal(load_text(fx, "modules:\n  vfs: { syscall_layer: tracepoints }\n  fd: { attach: tracepoint }\n" ONE_SINK),
			 0);
	/* The explicit key governs the shared syscall, though fd asks the layer first (registry order). */
	assert_int_equal(attach_keys_owner(fx->cfg, FIRST_SHARED_OPEN_ROW, ATTACH_KEY_SYSCALL_LAYER), (int)mod("vfs"));
	assert_int_equal(attach_keys_owner(fx->cfg, FIRST_SHARED_OPEN_ROW, ATTACH_KEY_ATTACH), (int)mod("fd"));
	assert_int_equal(attach_keys_owner(fx->cfg, SYS_close, ATTACH_KEY_SYSCALL_LAYER), -1);
	assert_int_equal(attach_keys_owner(fx->cfg, SYS_sync, ATTACH_KEY_ATTACH), -1);
}

static void test_module_interval_checked_after_merge(void **state)
{
	struct fixture *fx = *state;
	/* Valid alone; conf.d changes the global interval under it. */
	write_file(fx, "conf.d/10-slow.yaml", "global:\n  interval: 4s\n");
	assert_fails_at(fx, "modules:\n  fd: { interval: 6s }\n" ONE_SINK, 2, 19,
			"modules.fd.interval: 6s is not a multiple of global.interval (4s)");
}

static void test_syntax_error(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global:\n  interval: 1s\n bad: [\n", 3, 2,
			"syntax error: did not find expected key (while parsing a block mapping at line 1)");
	assert_int_equal(fx->errs.len, 1);
	assert_fails_at(fx, ONE_SINK "global: { interval: 1s\n", 4, 1, "syntax error: ");
	assert_fails_at(fx, ONE_SINK "---\nglobal: {}\n", 4, 1, "only one YAML document per file");
}

static void test_missing_file(void **state)
{
	struct fixture *fx = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/nope.yaml", fx->dir);
	assert_int_equal(load_path(fx, path), -1);
	char expected[256];
	snprintf(expected, sizeof(expected), "%s: cannot open: No such file or directory\n", path);
	assert_string_equal(fx->printed, expected);
	assert_int_equal(fx->errs.len, 1);
	assert_int_equal(fx->errs.items[0].line, 0);
	assert_int_equal(fx->errs.items[0].col, 0);
}

static void test_no_sinks(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, "global:\n  interval: 1s\n"), -1);
	char expected[256];
	snprintf(expected, sizeof(expected), "%s: no sink configured: add one under \"sinks\"", fx->main_path);
	assert_printed(fx, expected);
	assert_int_equal(load_text(fx, ""), -1);
	assert_printed(fx, expected);
}

static void test_env_expansion(void **state)
{
	struct fixture *fx = *state;
	unsetenv("BPFPUSH_TEST_UNSET");
	setenv("BPFPUSH_TEST_PORT", "9125", 1);
	setenv("BPFPUSH_TEST_EMPTY", "", 1);
	assert_fails_at(fx, "global:\n  hostname: ${BPFPUSH_TEST_UNSET}\n" ONE_SINK, 2, 13,
			"global.hostname: environment variable BPFPUSH_TEST_UNSET is not set "
			"(write ${BPFPUSH_TEST_UNSET:-default} to give a default)");
	assert_fails_at(fx, "global:\n  hostname: ${1BAD}\n" ONE_SINK, 2, 13,
			"global.hostname: bad variable reference in \"${1BAD}\": expected ${NAME} or ${NAME:-default}");
	assert_fails_at(fx, "global:\n  hostname: \"${OPEN\"\n" ONE_SINK, 2, 13, "global.hostname: bad variable reference");
	assert_int_equal(load_text(fx, "global:\n  hostname: ${BPFPUSH_TEST_UNSET:-web1}\n"
				       "  interval: ${BPFPUSH_TEST_UNSET:-2s}\n"
				       "  tags: { env: \"pre-${BPFPUSH_TEST_EMPTY:-prod}-post\" }\n"
				       "sinks:\n  - { name: s, type: statsd, address: \"udp://10.1.2.3:${BPFPUSH_TEST_PORT}\" }\n"),
			 0);
	assert_string_equal(fx->cfg->global.hostname, "web1");
	assert_int_equal(fx->cfg->global.interval_ms, 2000);
	assert_string_equal(fx->cfg->global.tags.items[0].value, "pre-prod-post");
	assert_int_equal(fx->cfg->sinks[0].address.port, 9125);
	/* An expanded value is checked like a written one. */
	setenv("BPFPUSH_TEST_PORT", "fast", 1);
	assert_fails_at(fx, "global:\n  interval: ${BPFPUSH_TEST_PORT}\n" ONE_SINK, 2, 13,
			"global.interval: expected a duration such as 500ms, 1s or 1m, got \"fast\"");
	unsetenv("BPFPUSH_TEST_PORT");
	unsetenv("BPFPUSH_TEST_EMPTY");
}

static void test_conf_d_merging(void **state)
{
	struct fixture *fx = *state;
	write_file(fx, "conf.d/20-second.yaml",
		   "global:\n  interval: 4s\nsinks:\n  - { name: s3, type: stdout }\n");
	write_file(fx, "conf.d/10-first.yaml",
		   "global:\n  interval: 2s\n  tags: { dc: b, team: x }\n"
		   "apps:\n  groups:\n    - { match: \"b*\", name: b }\n"
		   "modules:\n  network:\n    service_names: { 443: https }\n"
		   "sinks:\n  - { name: s1, type: dogstatsd, address: \"udp://10.0.0.1:8125\" }\n");
	write_file(fx, "conf.d/notes.txt", "not: [yaml\n");
	write_file(fx, "conf.d/.hidden.yaml", "not: [yaml\n");
	assert_int_equal(load_text(fx, "global:\n  interval: 1s\n  log_level: debug\n  tags: { env: prod, dc: a }\n"
				       "apps:\n  groups:\n    - { match: \"a*\", name: a }\n"
				       "sinks:\n  - { name: s1, type: statsd, address: \"udp://127.0.0.1:8125\" }\n"
				       "  - { name: s2, type: graphite, address: \"tcp://127.0.0.1:2003\" }\n"),
			 0);
	const struct config *cfg = fx->cfg;
	assert_int_equal(cfg->global.interval_ms, 4000);  /* a later scalar wins */
	assert_int_equal(cfg->global.log_level, LOG_DEBUG); /* untouched keys stay */
	assert_int_equal(cfg->global.tags.len, 3);         /* maps merge key by key */
	assert_string_equal(cfg->global.tags.items[0].key, "env");
	assert_string_equal(cfg->global.tags.items[0].value, "prod");
	assert_string_equal(cfg->global.tags.items[1].key, "dc");
	assert_string_equal(cfg->global.tags.items[1].value, "b");
	assert_string_equal(cfg->global.tags.items[2].key, "team");
	assert_int_equal(cfg->apps.ngroups, 2); /* lists append */
	assert_string_equal(cfg->apps.groups[0].name, "a");
	assert_string_equal(cfg->apps.groups[1].match, "b*");
	assert_int_equal(FIELD(cfg, struct config_port_names, "modules.network.service_names").len, 2);
	assert_int_equal(FIELD(cfg, struct config_port_names, "modules.network.service_names").items[1].port, 443);
	assert_int_equal(cfg->nsinks, 3);
	assert_string_equal(cfg->sinks[0].name, "s1"); /* replaced in place by name */
	assert_int_equal(cfg->sinks[0].type, SINK_DOGSTATSD);
	assert_string_equal(cfg->sinks[0].address.host, "10.0.0.1");
	assert_non_null(strstr(cfg->sinks[0].file, "conf.d/10-first.yaml"));
	assert_int_equal(cfg->sinks[0].line, 11);
	assert_string_equal(cfg->sinks[1].name, "s2");
	assert_string_equal(cfg->sinks[2].name, "s3");
}

/* A conf.d/ with no NAME.yaml in it (found by make test-asan: qsort was given a NULL array). */
static void test_conf_d_without_yaml(void **state)
{
	struct fixture *fx = *state;
	write_file(fx, "conf.d/notes.txt", "not: [yaml\n");
	assert_int_equal(load_text(fx, "global:\n  interval: 2s\n" ONE_SINK), 0);
	assert_int_equal(fx->cfg->global.interval_ms, 2000);
	assert_int_equal(fx->cfg->nsinks, 1);
}

static void test_conf_d_errors_name_their_file(void **state)
{
	struct fixture *fx = *state;
	write_file(fx, "conf.d/10-bad.yaml", "apps:\n  enabeld: false\n");
	assert_int_equal(load_text(fx, ONE_SINK), -1);
	char expected[256];
	snprintf(expected, sizeof(expected),
		 "%s/conf.d/10-bad.yaml:2:3: apps.enabeld: unknown key (did you mean \"enabled\"?)\n", fx->dir);
	assert_string_equal(fx->printed, expected);
}

static void test_shadowed_tag_warnings(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, "global:\n  tags: { app: x, env: prod }\n"
				       "sinks:\n  - { name: s, type: stdout, tags: { sink: y, le: z, team: t } }\n"),
			 0);
	assert_int_equal(fx->errs.len, 3);
	assert_int_equal(fx->errs.warnings, 3);
	assert_error_at(fx, 2, 11, "warning: global.tags.app: \"app\" is also a metric tag; "
				    "metrics that carry their own \"app\" keep their value");
	assert_error_at(fx, 4, 38, "warning: sinks[0].tags.sink: \"sink\" is also a metric tag;");
	assert_error_at(fx, 4, 47, "warning: sinks[0].tags.le:");
	assert_not_printed(fx, "tags.env");
	assert_int_equal(fx->cfg->sinks[0].tags.len, 3);
	assert_fails_at(fx, "global:\n  tags: { \"a b\": x }\n" ONE_SINK, 2, 11,
			"global.tags.a b: a tag name may only use letters, digits, '_' and '-'");
}

static void test_root_refuses_writable_files(void **state)
{
	struct fixture *fx = *state;
	test_euid = 0;
	if (geteuid() != 0)
		skip(); /* built without --wrap=geteuid and not root */
	write_file(fx, "main.yaml", ONE_SINK);
	assert_int_equal(chmod(fx->main_path, 0664), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	char expected[512];
	snprintf(expected, sizeof(expected),
		 "%s: refusing to read: writable by group or others while bpfpush runs as root (chmod go-w %s)\n",
		 fx->main_path, fx->main_path);
	assert_string_equal(fx->printed, expected);

	assert_int_equal(chmod(fx->main_path, 0644), 0);
	write_file(fx, "conf.d/10-open.yaml", "global: { interval: 2s }\n");
	char conf_d_file[256];
	snprintf(conf_d_file, sizeof(conf_d_file), "%s/conf.d/10-open.yaml", fx->dir);
	assert_int_equal(chmod(conf_d_file, 0606), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "10-open.yaml: refusing to read: writable by group or others");

	/* A directory anyone can write to lets anyone add a file to it. */
	assert_int_equal(chmod(conf_d_file, 0644), 0);
	snprintf(conf_d_file, sizeof(conf_d_file), "%s/conf.d", fx->dir);
	assert_int_equal(chmod(conf_d_file, 0777), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "/conf.d: refusing to read: writable by group or others");
	assert_int_equal(chmod(conf_d_file, 0755), 0);
	assert_int_equal(load_path(fx, fx->main_path), 0);
	assert_int_equal(fx->cfg->global.interval_ms, 2000);
}

/* Files and directories owned by another user: they decide what root runs (issue #29). */
static void test_root_refuses_files_owned_by_others(void **state)
{
	struct fixture *fx = *state;
	test_euid = 0;
	if (geteuid() != 0 || getuid() != 0)
		skip(); /* chown needs real root */
	const uid_t nobody = 65534;
	write_file(fx, "main.yaml", ONE_SINK);
	assert_int_equal(chown(fx->main_path, nobody, 0), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	char expected[512];
	snprintf(expected, sizeof(expected),
		 "%s: refusing to read: owned by uid 65534, not root or the agent's user, while bpfpush runs as root "
		 "(chown root %s)\n",
		 fx->main_path, fx->main_path);
	assert_string_equal(fx->printed, expected);
	assert_int_equal(chown(fx->main_path, 0, 0), 0);

	/* A conf.d file, then the conf.d directory, owned by nobody (0644 / 0755). */
	write_file(fx, "conf.d/10-other.yaml", "global: { interval: 2s }\n");
	char path[256];
	snprintf(path, sizeof(path), "%s/conf.d/10-other.yaml", fx->dir);
	assert_int_equal(chown(path, nobody, 0), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "10-other.yaml: refusing to read: owned by uid 65534");
	assert_int_equal(chown(path, 0, 0), 0);
	snprintf(path, sizeof(path), "%s/conf.d", fx->dir);
	assert_int_equal(chown(path, nobody, 0), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "/conf.d: refusing to read: owned by uid 65534");
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(load_path(fx, fx->main_path), 0);

	/* The directory the config is in: anyone may write it and there is no sticky bit. */
	assert_int_equal(chmod(fx->dir, 0777), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	snprintf(expected, sizeof(expected), "%s: refusing to read: directory %s is writable by group or others, without "
		 "the sticky bit, while bpfpush runs as root", fx->main_path, fx->dir);
	assert_printed(fx, expected);
	/* With the sticky bit (like /tmp) only an entry's owner may replace it. */
	assert_int_equal(chmod(fx->dir, 01777), 0);
	assert_int_equal(load_path(fx, fx->main_path), 0);
	assert_int_equal(chmod(fx->dir, 0700), 0);
	assert_int_equal(chown(fx->dir, nobody, 0), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "is owned by uid 65534, not root or the agent's user, while bpfpush runs as root");
	assert_int_equal(chown(fx->dir, 0, 0), 0);
}

/* What is not a regular file is refused without being read: a FIFO would block the loop. */
static void test_only_regular_files_are_read(void **state)
{
	struct fixture *fx = *state;
	write_file(fx, "main.yaml", ONE_SINK);
	char path[256];
	snprintf(path, sizeof(path), "%s/conf.d", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/conf.d/20-fifo.yaml", fx->dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(load_path(fx, fx->main_path), -1); /* returns: nothing blocked */
	char expected[512];
	snprintf(expected, sizeof(expected), "%s: refusing to read: a FIFO, not a regular file", path);
	assert_printed(fx, expected);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(load_path(fx, fx->main_path), 0);

	/* The main file itself. */
	snprintf(path, sizeof(path), "%s/fifo.yaml", fx->dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(load_path(fx, path), -1);
	assert_printed(fx, "fifo.yaml: refusing to read: a FIFO, not a regular file");

	/* Certificate files: a FIFO, /dev/zero, a directory, at their key. */
	char text[512];
	snprintf(text, sizeof(text), "sinks:\n  - name: a\n    type: graphite\n    address: \"tls://h:1\"\n    ca_file: %s\n",
		 path);
	assert_fails_at(fx, text, 5, 14, "sinks[0].ca_file: not a regular file");
	assert_fails_at(fx, "sinks:\n  - name: a\n    type: graphite\n    address: \"tls://h:1\"\n    ca_file: /dev/zero\n",
			5, 14, "sinks[0].ca_file: not a regular file");
	assert_fails_at(fx, "sinks:\n  - name: a\n    type: graphite\n    address: \"tls://h:1\"\n    cert_file: /dev/zero\n"
			    "    key_file: /dev/null\n",
			5, 16, "sinks[0].cert_file: not a regular file");
}

/*
 * Loading is linear: 60 000 keys (30 000 groups) load, 200 000 unknown keys
 * fail with the first errors and a count; no time is asserted, but the
 * quadratic duplicate check took minutes for these.
 */
static void test_large_configs_load(void **state)
{
	struct fixture *fx = *state;
	write_file(fx, "main.yaml", ONE_SINK);
	write_many(fx, "conf.d/50-groups.yaml", "apps:\n  groups:\n", "    - { match: \"m%d\", name: n%d }\n", 30000);
	assert_int_equal(load_path(fx, fx->main_path), 0);
	assert_int_equal(fx->cfg->apps.ngroups, 30000);
	write_many(fx, "conf.d/50-groups.yaml", "global:\n", "  u%d: %d\n", 200000);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_int_equal(fx->errs.len, CONFIG_ERRORS_MAX);
	assert_int_equal(fx->errs.dropped, 200000 - CONFIG_ERRORS_MAX);
	assert_printed(fx, "50-groups.yaml:2:3: global.u0: unknown key");
	assert_printed(fx, "... and 199900 more error(s) not shown\n");
	/* A duplicate among many keys is still found, with the first one's line. */
	write_many(fx, "conf.d/50-groups.yaml", "global:\n  tags:\n", "    k%d: v%d\n", 60);
	FILE *f = fopen(fx->printed ? fx->main_path : fx->main_path, "a");
	fclose(f);
	char path[256];
	snprintf(path, sizeof(path), "%s/conf.d/50-groups.yaml", fx->dir);
	f = fopen(path, "a");
	fputs("    k7: again\n", f);
	fclose(f);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "50-groups.yaml:63:5: global.tags.k7: duplicate key (first set at line 10)");
}

/* Past sane sizes a file is refused where it crossed the line. */
static void test_size_and_depth_limits(void **state)
{
	struct fixture *fx = *state;
	char text[4096];
	int n = snprintf(text, sizeof(text), "global: { tags: ");
	for (int i = 0; i < 40; i++)
		text[n++] = '[';
	text[n] = '\0';
	strcat(text, "]]]\n");
	assert_fails_at(fx, text, 1, 47, "nested deeper than 32 levels");
	assert_fails_at(fx, "a: &a [x]\nb: &b [*b]\n", 2, 8, "alias *b refers to a node that contains it");
	assert_fails_at(fx, "a: *nowhere\n", 1, 4, "alias *nowhere names no earlier anchor");
	/* More aliases than any config needs (each could stand for a big map). */
	struct { char *data; size_t len, cap; } big = { 0 };
	FILE *mem = open_memstream(&big.data, &big.len);
	fputs("x: &x [a]\ny:\n", mem);
	for (int i = 0; i < 1001; i++)
		fputs("  - *x\n", mem);
	fclose(mem);
	assert_fails_at(fx, big.data, 1003, 5, "more than 1000 aliases in one file");
	free(big.data);
	write_file(fx, "main.yaml", ONE_SINK);
	write_many(fx, "conf.d/10-tags.yaml", "global:\n  tags:\n", "    k%d: v%d\n", 65);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "10-tags.yaml:67:5: global.tags: more than 64 tags");
	/* A file larger than 4 MiB is not read. */
	write_many(fx, "conf.d/10-tags.yaml", "#", "%08d%080d\n", 50000);
	assert_int_equal(load_path(fx, fx->main_path), -1);
	assert_printed(fx, "10-tags.yaml: refusing to read: larger than 4 MiB");
}

/* Echoed values are escaped and cut: they must not forge lines or print megabytes. */
static void test_error_messages_escape_and_cap_values(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, "global:\n  hostname: \"a\\nERROR forged\\e[2J\\u202etxt\"\n" ONE_SINK), -1);
	assert_printed(fx, "got \"a?ERROR forged?[2J?txt\"");
	char *text = malloc(200000);
	assert_non_null(text);
	strcpy(text, "global:\n  hostname: \"");
	size_t n = strlen(text);
	memset(text + n, 'h', 100000);
	strcpy(text + n + 100000, "!\"\n" ONE_SINK);
	assert_int_equal(load_text(fx, text), -1);
	free(text);
	assert_true(strlen(fx->printed) < CONFIG_ERROR_MESSAGE_MAX + 200);
	assert_printed(fx, "hhh...\n");
}

/* ${A:-${B}}: the default is expanded too (one level of nesting). */
static void test_nested_default_expands(void **state)
{
	struct fixture *fx = *state;
	unsetenv("BPFPUSH_TEST_A");
	setenv("BPFPUSH_TEST_B", "from-b", 1);
	assert_int_equal(load_text(fx, "global:\n  hostname: \"${BPFPUSH_TEST_A:-${BPFPUSH_TEST_B}}\"\n" ONE_SINK), 0);
	assert_string_equal(fx->cfg->global.hostname, "from-b");
	assert_int_equal(load_text(fx, "global:\n  hostname: \"x${BPFPUSH_TEST_A:-${BPFPUSH_TEST_A:-d}}y\"\n" ONE_SINK), 0);
	assert_string_equal(fx->cfg->global.hostname, "xdy");
	setenv("BPFPUSH_TEST_A", "from-a", 1);
	assert_int_equal(load_text(fx, "global:\n  hostname: \"${BPFPUSH_TEST_A:-${BPFPUSH_TEST_B}}\"\n" ONE_SINK), 0);
	assert_string_equal(fx->cfg->global.hostname, "from-a");
	unsetenv("BPFPUSH_TEST_A");
	unsetenv("BPFPUSH_TEST_B");
	assert_fails_at(fx, "global:\n  hostname: \"${BPFPUSH_TEST_A:-${BPFPUSH_TEST_B}}\"\n" ONE_SINK, 2, 13,
			"global.hostname: environment variable BPFPUSH_TEST_B is not set");
	assert_fails_at(fx, "global:\n  hostname: \"${BPFPUSH_TEST_A:-${BPFPUSH_TEST_B\"\n" ONE_SINK, 2, 13,
			"global.hostname: bad variable reference");
}

static void test_non_root_accepts_writable_files(void **state)
{
	struct fixture *fx = *state;
	test_euid = 1000;
	if (geteuid() != 1000)
		skip();
	write_file(fx, "main.yaml", ONE_SINK);
	assert_int_equal(chmod(fx->main_path, 0666), 0);
	assert_int_equal(load_path(fx, fx->main_path), 0);
}

static void test_all_errors_reported(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, "global:\n  interval: soon\n  hostname: \"bad host\"\napps:\n  max_groups: 0\n"
				       "sinks:\n  - { name: a, type: carbon, address: \"udp://h:1\" }\n"),
			 -1);
	assert_error_at(fx, 2, 13, "global.interval: expected a duration");
	assert_error_at(fx, 3, 13, "global.hostname: expected auto or a host name, got \"bad host\"");
	assert_error_at(fx, 5, 15, "apps.max_groups: expected a whole number from 1 to 100000, got \"0\"");
	assert_error_at(fx, 7, 22, "sinks[0].type: expected one of statsd, dogstatsd, graphite, graphite-tagged, "
				    "stdout, got \"carbon\"");
	assert_int_equal(fx->errs.len, 4); /* no echo such as "no sink configured" */
}

static void test_duplicate_keys(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "global:\n  interval: 1s\n  interval: 2s\n" ONE_SINK, 3, 3,
			"global.interval: duplicate key (first set at line 2)");
}

static void test_groups_and_service_names(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "apps:\n  groups:\n    - { match: \"x*\" }\n" ONE_SINK, 3, 7,
			"apps.groups[0]: missing required key \"name\" (the app tag)");
	assert_fails_at(fx, "apps:\n  groups:\n    - { match: \"x*\", name: x, nmae: y }\n" ONE_SINK, 3, 31,
			"apps.groups[0].nmae: unknown key (did you mean \"name\"?)");
	assert_fails_at(fx, "modules:\n  network:\n    service_names: { 0: zero }\n" ONE_SINK, 3, 22,
			"modules.network.service_names: expected a port number from 1 to 65535, got \"0\"");
	assert_int_equal(load_text(fx, "modules:\n  network:\n    service_names: { 19999: nd, 8080: web }\n"
				       "    ports: \"*\"\n" ONE_SINK),
			 0);
	assert_int_equal(FIELD(fx->cfg, struct config_port_names, "modules.network.service_names").len, 2);
	assert_string_equal(FIELD(fx->cfg, struct config_port_names, "modules.network.service_names").items[0].name, "nd");
	assert_string_equal(FIELD(fx->cfg, char *, "modules.network.ports"), "*");
}

/* The network filters are parsed when loading: a bad token fails the load with the key and the token. */
static void test_network_filters_checked(void **state)
{
	struct fixture *fx = *state;
	assert_fails_at(fx, "modules: { network: { ports: \"1-1024 !domian\" } }\n" ONE_SINK, 1, 30,
			"modules.network.ports: unknown service name \"domian\" (");
	assert_printed(fx, "got \"1-1024 !domian\"");
	assert_fails_at(fx, "modules:\n  network:\n    ports: \"1024-1\"\n" ONE_SINK, 3, 12,
			"modules.network.ports: bad port range \"1024-1\": the start is above the end");
	assert_fails_at(fx, "modules:\n  network:\n    ips: \"10.0.0.0/8 10.0.0.300\"\n" ONE_SINK, 3, 10,
			"modules.network.ips: bad address \"10.0.0.300\": not an IPv4 or IPv6 address");
	assert_fails_at(fx, "modules:\n  network:\n    hostnames: \"*.example.com !\"\n" ONE_SINK, 3, 16,
			"modules.network.hostnames: \"!\" with nothing after it");
	assert_int_equal(load_text(fx, "modules:\n  network:\n    ports: \"!22, !ssh\"\n"
				       "    ips: \"10.0.0.1-10.0.0.9 !fd00::/8\"\n"
				       "    hostnames: \"*.example.com\"\n" ONE_SINK),
			 0);
	assert_string_equal(FIELD(fx->cfg, char *, "modules.network.ports"), "!22, !ssh");
}

static void test_sync_and_filesystem_switches(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, "modules:\n  sync: { syscalls: { msync: off } }\n"
				       "  filesystem: { enabled: true, zfs: no }\n" ONE_SINK),
			 0);
	assert_false(FIELD(fx->cfg, bool, "modules.sync.syscalls.msync"));
	assert_true(FIELD(fx->cfg, bool, "modules.sync.syscalls.fsync"));
	assert_true(fx->cfg->modules[mod("filesystem")].enabled);
	assert_false(FIELD(fx->cfg, bool, "modules.filesystem.zfs"));
	assert_true(FIELD(fx->cfg, bool, "modules.filesystem.ext4"));
	assert_fails_at(fx, "modules:\n  sync: { syscalls: { fsyncc: off } }\n" ONE_SINK, 2, 23,
			"modules.sync.syscalls.fsyncc: unknown key (did you mean \"fsync\"?)");
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(config_attach_tier_name(ATTACH_AUTO), "auto");
	assert_string_equal(config_attach_tier_name(ATTACH_FENTRY), "fentry");
	assert_string_equal(config_attach_tier_name(ATTACH_TP_BTF), "tp_btf");
	assert_string_equal(config_attach_tier_name(ATTACH_TRACEPOINT), "tracepoint");
	assert_string_equal(config_sink_type_name(SINK_STDOUT), "stdout");
	assert_string_equal(config_sink_type_name(SINK_DOGSTATSD), "dogstatsd");
	assert_string_equal(module_registry_get(mod("process"))->name, "process");
	assert_string_equal(module_registry_get(mod("oomkill"))->name, "oomkill");
	assert_int_equal(mod("process"), 0); /* docs/metrics.md order, as --probe lists them */
}

static void test_errors_print_forms(void **state)
{
	(void)state;
	struct config_error items[] = {
		{ "a.yaml", 3, 7, "global.interval: bad", false },
		{ "a.yaml", 4, 1, "global.tags.app: shadowed", true },
		{ "b.yaml", 0, 0, "cannot open: No such file or directory", false },
	};
	struct config_errors errs = { items, 3, 1, 0 };
	char *text = NULL;
	size_t size;
	FILE *mem = open_memstream(&text, &size);
	config_errors_print(&errs, mem);
	fclose(mem);
	assert_string_equal(text, "a.yaml:3:7: global.interval: bad\n"
				  "a.yaml:4:1: warning: global.tags.app: shadowed\n"
				  "b.yaml: cannot open: No such file or directory\n");
	free(text);
}

/* cgroups: its keys, errors at FILE:LINE:COL, and the apps module running for it alone. */
static void test_cgroups_section(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(load_text(fx, ONE_SINK), 0);
	assert_true(fx->cfg->cgroups.enabled);
	assert_int_equal(fx->cfg->cgroups.group_by, CGROUP_BY_UNIT);
	assert_int_equal(fx->cfg->cgroups.max_groups, 50);
	assert_int_equal(fx->cfg->cgroups.ngroups, 0);
	assert_int_equal(load_text(fx, "apps: { enabled: false }\ncgroups:\n  group_by: container\n  max_groups: 7\n"
				       "  groups:\n    - { match: \"*.service\", name: services }\n" ONE_SINK),
			 0);
	assert_false(fx->cfg->apps.enabled);
	assert_true(fx->cfg->modules[mod("apps")].enabled); /* cgroups alone runs the apps module */
	assert_int_equal(fx->cfg->cgroups.group_by, CGROUP_BY_CONTAINER);
	assert_int_equal(fx->cfg->cgroups.max_groups, 7);
	assert_int_equal(fx->cfg->cgroups.ngroups, 1);
	assert_string_equal(fx->cfg->cgroups.groups[0].name, "services");
	assert_int_equal(fx->cfg->apps.ngroups, 0); /* the lists stay apart */
	assert_int_equal(load_text(fx, "apps: { enabled: false }\ncgroups: { enabled: false }\n" ONE_SINK), 0);
	assert_false(fx->cfg->modules[mod("apps")].enabled);
	assert_fails_at(fx, "cgroups:\n  group_by: comm\n" ONE_SINK, 2, 13,
			"cgroups.group_by: expected one of unit, container, cgroup, got \"comm\"");
	assert_fails_at(fx, "cgroups:\n  max_groups: 0\n" ONE_SINK, 2, 15,
			"cgroups.max_groups: expected a whole number from 1 to 100000, got \"0\"");
	assert_fails_at(fx, "cgroups:\n  groups:\n    - { match: \"x*\" }\n" ONE_SINK, 3, 7,
			"cgroups.groups[0]: missing required key \"name\" (the cgroup tag)");
	assert_fails_at(fx, "cgroups:\n  enabeld: true\n" ONE_SINK, 2, 3,
			"cgroups.enabeld: unknown key (did you mean \"enabled\"?)");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_shipped_config_loads),
		T(test_run_config_loads),
		T(test_defaults_when_absent),
		T(test_every_key_documented_in_shipped_config),
		T(test_unknown_key_did_you_mean),
		T(test_wrong_node_kind),
		T(test_bool_words),
		T(test_cgroups_section),
		T(test_bad_duration),
		T(test_parse_duration_ms),
		T(test_out_of_range),
		T(test_enum_words),
		T(test_parse_address_valid),
		T(test_parse_address_invalid),
		T(test_sink_address_errors),
		T(test_sink_types_and_defaults),
		T(test_sink_required_keys),
		T(test_duplicate_sink_names),
		T(test_tls_keys_and_reconnect),
		T(test_module_interval_multiple),
		T(test_module_interval_checked_after_merge),
		T(test_attach_keys_that_cannot_apply),
		T(test_attach_keys_of_modules_sharing_a_syscall),
		T(test_syntax_error),
		T(test_missing_file),
		T(test_no_sinks),
		T(test_env_expansion),
		T(test_conf_d_merging),
		T(test_conf_d_without_yaml),
		T(test_conf_d_errors_name_their_file),
		T(test_shadowed_tag_warnings),
		T(test_root_refuses_writable_files),
		T(test_non_root_accepts_writable_files),
		T(test_root_refuses_files_owned_by_others),
		T(test_only_regular_files_are_read),
		T(test_large_configs_load),
		T(test_size_and_depth_limits),
		T(test_error_messages_escape_and_cap_values),
		T(test_nested_default_expands),
		T(test_all_errors_reported),
		T(test_duplicate_keys),
		T(test_groups_and_service_names),
		T(test_network_filters_checked),
		T(test_sync_and_filesystem_switches),
		T(test_names),
		T(test_errors_print_forms),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
