/*
 * The configuration: libyaml -> one immutable struct (docs/design.md §5).
 *
 * Loading applies the built-in defaults, then the main file, then each
 * conf.d/NAME.yaml files beside it in name order: maps merge key by key, lists append,
 * a later scalar wins, a sink whose name matches an earlier one replaces it.
 * Every error names FILE:LINE:COL, the key and what was expected.
 */
#ifndef BPFPUSH_CONFIG_H
#define BPFPUSH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

#define CONFIG_DEFAULT_PATH "/etc/bpfpush/bpfpush.yaml"

enum load_mode { LOAD_MODE_ENTRY = 0, LOAD_MODE_RETURN };

/* Ordered by cost, cheapest first; ATTACH_AUTO lets probing choose. */
enum attach_tier {
	ATTACH_AUTO = 0,
	ATTACH_FENTRY,
	ATTACH_KPROBE,
	ATTACH_TP_BTF,
	ATTACH_RAW_TP,
	ATTACH_TRACEPOINT,
	ATTACH_TIER_COUNT
};

enum syscall_layer { SYSCALL_LAYER_AUTO = 0, SYSCALL_LAYER_DISPATCHER, SYSCALL_LAYER_TRACEPOINTS };

enum group_by { GROUP_BY_COMM = 0, GROUP_BY_EXE, GROUP_BY_CGROUP, GROUP_BY_UNIT, GROUP_BY_CONTAINER };
/* cgroups.group_by: the words of cfg_cgroup_by_words, in their order. */
enum cgroup_by { CGROUP_BY_UNIT = 0, CGROUP_BY_CONTAINER, CGROUP_BY_CGROUP };

/*
 * A module's index in the registry (agent/modules/registry.c), the one list
 * of modules: config.modules[] and the agent's tables are indexed by it.
 */
typedef unsigned module_id_t;
/* How many modules the registry may hold (checked there at build time). */
#define MODULE_MAX 32

/* Wire formats. SINK_STDOUT is a sink type whose encoding is config_sink.format. */
enum sink_type { SINK_STATSD = 0, SINK_DOGSTATSD, SINK_GRAPHITE, SINK_GRAPHITE_TAGGED, SINK_STDOUT };

enum transport { TRANSPORT_NONE = 0, TRANSPORT_UDP, TRANSPORT_TCP, TRANSPORT_UNIX, TRANSPORT_TLS };

struct config_tag {
	char *key;
	char *value;
};

struct config_tags {
	struct config_tag *items;
	size_t len;
};

struct config_address {
	enum transport transport; /* TRANSPORT_NONE for stdout */
	char *host;               /* hostname or IP literal, without brackets */
	uint16_t port;
	char *path; /* unix:// */
};

/* Most sinks one config may declare: each costs a full encoding of every flush. */
#define CONFIG_MAX_SINKS 256

struct config_sink {
	char *name;
	enum sink_type type;
	enum sink_type format; /* the encoding: == type, except for stdout sinks */
	struct config_address address;
	char *prefix; /* as written, templates unexpanded; never NULL after load */
	struct config_tags tags;
	char **include;
	size_t ninclude;
	char **exclude;
	size_t nexclude;
	uint32_t max_packet;
	uint32_t buffer_lines;
	uint64_t resolve_interval_ms;
	uint64_t reconnect_min_ms;
	uint64_t reconnect_max_ms;
	uint64_t write_timeout_ms;
	/* Send counters whose delta is 0 (until series_ttl): default for the graphite formats only. */
	bool send_zeros;
	char *ca_file, *cert_file, *key_file, *server_name;
	char *file; /* where it was declared, for run-time messages */
	int line;
};

/* The keys every module takes; its own keys fill opts (agent/core/config_keys.h). */
struct config_module {
	bool enabled;
	uint64_t interval_ms; /* 0: the global interval */
	enum attach_tier attach; /* ATTACH_AUTO: the global choice */
	enum syscall_layer syscall_layer; /* SYSCALL_LAYER_AUTO: the global choice */
	void *opts; /* the module's options struct (module_ops.opts_size bytes), NULL when it has no keys */
};

struct config_service_name {
	uint16_t port;
	char *name;
};

/* A key of type port -> name (CFG_PORT_NAMES). */
struct config_port_names {
	struct config_service_name *items;
	size_t len;
};

struct config_app_group {
	char *match;
	char *name;
};

struct config {
	struct {
		uint64_t interval_ms;
		char *hostname; /* "auto" or a literal */
		enum load_mode load_mode;
		enum attach_tier attach;
		enum syscall_layer syscall_layer;
		uint64_t series_ttl_ms;
		uint32_t pid_table_size;
		enum log_level log_level;
		struct config_tags tags;
	} global;
	struct {
		bool enabled;
		enum group_by group_by;
		uint32_t max_groups;
		struct config_app_group *groups;
		size_t ngroups;
		/* the apps module's interval and attach: its section is this one, not modules.apps */
		uint64_t interval_ms;
		enum attach_tier attach;
		/* apps.counters: the depth counters, each group switchable (agent/modules/apps.c) */
		struct config_app_counters {
			bool fsync, file_create, shm, net_calls, tcp_connects, tcp_accepts, tcp_retransmits,
				create_errors, dcstat, swap;
		} counters;
	} apps;
	/*
	 * cgroup.*: the apps module's per-process data grouped a second time, by
	 * cgroup; it runs the apps module when apps is off (its interval and
	 * attach stay apps').
	 */
	struct {
		bool enabled;
		enum cgroup_by group_by;
		uint32_t max_groups;
		struct config_app_group *groups;
		size_t ngroups;
	} cgroups;
	struct config_module modules[MODULE_MAX]; /* by registry index; unused past module_registry_count() */
	struct config_sink *sinks;
	size_t nsinks;
	char *path; /* the main file */
	/*
	 * Holders beyond the first: code that keeps pointers into a config past the
	 * next SIGHUP (modules, sinks) takes config_ref() and gives it back with
	 * config_free(); the last config_free() frees it.
	 */
	unsigned refs;
};

struct config_error {
	char *file;
	int line, col; /* 1-based; 0 when the error has no position */
	char *message;
	bool warning; /* printed as "warning: ", does not fail the load */
};

/* Errors kept per load: 100 000 bad aliases printed 9 MB. Each message is capped and escaped too. */
#define CONFIG_ERRORS_MAX 100
#define CONFIG_ERROR_MESSAGE_MAX 400

struct config_errors {
	struct config_error *items;
	size_t len;
	size_t warnings; /* how many of items are warnings (they do not fail the load) */
	size_t dropped;  /* errors past CONFIG_ERRORS_MAX, counted but not kept (printed as one line) */
};

/*
 * Load path (and its conf.d/). On success returns 0 and *out; on failure
 * returns -1 with at least one error in errs and *out NULL. Warnings (e.g. a
 * constant tag shadowed by a metric tag) may be present either way.
 */
int config_load(const char *path, struct config **out, struct config_errors *errs);
/* One more holder of cfg (returned); config_free() drops one, the last frees it. */
const struct config *config_ref(const struct config *cfg);
void config_free(const struct config *cfg);
void config_errors_print(const struct config_errors *errs, FILE *to);
void config_errors_free(struct config_errors *errs);

/* Helpers other code needs. */
const char *config_attach_tier_name(enum attach_tier tier);
const char *config_sink_type_name(enum sink_type type);
uint64_t config_module_interval_ms(const struct config *cfg, module_id_t id);
enum attach_tier config_module_attach(const struct config *cfg, module_id_t id);
enum syscall_layer config_module_syscall_layer(const struct config *cfg, module_id_t id);
/* The module's options struct, filled from its key table (NULL when it has none). */
const void *config_module_opts(const struct config *cfg, module_id_t id);
/* Is the module of that registry name enabled (false when there is none)? */
bool config_module_enabled(const struct config *cfg, const char *name);
/*
 * The field a leaf key's path names ("global.interval",
 * "modules.sync.syscalls.msync"), for tests and tools; NULL when no key
 * has that path. Its C type follows the key's type (agent/core/config_keys.h).
 */
const void *config_field(const struct config *cfg, const char *path);

/* Also used by tests and by the address parser's callers. */
int config_parse_duration_ms(const char *text, uint64_t *out_ms);
/* On failure *why says what is wrong and out holds nothing to free. */
int config_parse_address(const char *text, struct config_address *out, const char **why);
void config_address_free(struct config_address *address);

/*
 * The key tables, for documentation and tests: every leaf key with its path
 * ("global.interval", "sinks[].address"), type, default as YAML text (NULL
 * when there is none or it depends on other keys) and one line of help.
 */
struct config_schema_key {
	const char *path;
	const char *type;
	const char *def;
	const char *help;
};
void config_schema_walk(void (*visit)(const struct config_schema_key *key, void *arg), void *arg);

#endif
