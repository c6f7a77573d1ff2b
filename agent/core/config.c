/*
 * The configuration loader: libyaml documents applied onto one struct config
 * through key tables (docs/design.md §5 and §8, in the spirit of Fluent Bit's
 * config_map; the row type is agent/core/config_keys.h). Each table row says a
 * key's type, where its value lives, its default as YAML text and one line of
 * help, so the parser, the defaults, the "did you mean" hints, the reload
 * comparison and the documentation test all read the same rows.
 *
 * This file keeps the engine and the agent-wide keys (global, apps, sinks,
 * and what every module takes). A module's own keys come with its module_ops
 * from the registry (agent/modules/registry.c) and fill its options struct.
 *
 * Merging falls out of applying documents in turn: the built-in defaults,
 * the main file, then conf.d/NAME.yaml in name order, each touching only the keys
 * it names. Errors are collected, never fatal, so one run reports them all.
 * Allocation failure aborts: a half-built config is worse than no agent.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yaml.h>

#include "attach_keys.h"
#include "config_keys.h"
#include "module.h"
#include "syscall_watch.h"

/* Enum fields are written through an int: make sure that is their size. */
_Static_assert(sizeof(enum load_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum attach_tier) == sizeof(int), "enum size");
_Static_assert(sizeof(enum syscall_layer) == sizeof(int), "enum size");
_Static_assert(sizeof(enum group_by) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum size");
_Static_assert(sizeof(enum sink_type) == sizeof(int), "enum size");

#define CFG_DEFAULTS_FILE "(built-in defaults)"

#define US_PER_MS 1000ull
#define MS_PER_S 1000ull
#define MS_PER_M (60 * MS_PER_S)
#define MS_PER_H (60 * MS_PER_M)
#define MS_PER_D (24 * MS_PER_H)

/* Tag keys that metrics carry themselves (docs/metrics.md): a constant tag of the same name loses. */
static const char *const cfg_metric_tag_keys[] = {
	"app", "unit", "container", "disk", "fs", "op", "irq", "vector", "dst", "port",
	"service", "proto", "direction", "module", "map", "sink", "reason", "le", NULL,
};

/* ------------------------------------------------------------------ */
/* Errors                                                               */

static void *cfg_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		abort();
	return q;
}

static void *cfg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p)
		abort();
	return p;
}

static char *cfg_xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		abort();
	return d;
}

static void cfg_errors_vadd(struct config_errors *errs, const char *file, int line, int col, bool warning,
			    const char *fmt, va_list ap)
{
	if (!warning && errs->len - errs->warnings >= CONFIG_ERRORS_MAX) {
		errs->dropped++;
		return;
	}
	char *message;
	if (vasprintf(&message, fmt, ap) < 0)
		abort();
	/* Values are echoed: a "\n" or "\e" in one must not forge a line, a 10 MB one is cut. */
	size_t len = log_sanitize(message);
	if (len > CONFIG_ERROR_MESSAGE_MAX) {
		size_t cut = CONFIG_ERROR_MESSAGE_MAX;
		while (cut > 0 && ((unsigned char)message[cut] & 0xc0) == 0x80)
			cut--; /* not inside a UTF-8 sequence */
		strcpy(message + cut, "...");
	}
	errs->items = cfg_xrealloc(errs->items, (errs->len + 1) * sizeof(*errs->items));
	errs->items[errs->len++] = (struct config_error){
		.file = cfg_xstrdup(file), .line = line, .col = col, .message = message, .warning = warning,
	};
	if (warning)
		errs->warnings++;
}

static size_t cfg_error_count(const struct config_errors *errs) { return errs->len - errs->warnings + errs->dropped; }

void config_errors_print(const struct config_errors *errs, FILE *to)
{
	for (size_t i = 0; i < errs->len; i++) {
		const struct config_error *e = &errs->items[i];
		const char *kind = e->warning ? "warning: " : "";
		if (e->line > 0)
			fprintf(to, "%s:%d:%d: %s%s\n", e->file, e->line, e->col, kind, e->message);
		else
			fprintf(to, "%s: %s%s\n", e->file, kind, e->message);
	}
	if (errs->dropped)
		fprintf(to, "... and %zu more error(s) not shown\n", errs->dropped);
}

void config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->len; i++) {
		free(errs->items[i].file);
		free(errs->items[i].message);
	}
	free(errs->items);
	*errs = (struct config_errors){ 0 };
}

/* ------------------------------------------------------------------ */
/* Loader state                                                         */

struct cfg_mark {
	const char *file; /* owned by the loader's file list */
	int line, col;
};

/* Where a field got its value: for errors found after the document (merging, sink checks). */
struct cfg_field_mark {
	const void *field;
	struct cfg_mark mark;
};

/* A key repeated in one map (libyaml keeps both silently): the later pair, and the first one's line. */
struct cfg_dup {
	const yaml_node_pair_t *pair;
	int first_line;
};

struct cfg_loader {
	struct config *cfg;
	struct config_errors *errs;
	yaml_document_t *doc; /* the document being applied */
	const char *file;     /* its name */
	bool in_defaults;     /* applying built-in defaults: they mark no field as set */
	char **files;         /* every file name applied, kept for marks */
	size_t nfiles;
	struct cfg_field_mark *marks;
	size_t nmarks;
	struct cfg_dup *dups; /* the repeated keys of the document, sorted by pair address */
	size_t ndups;
};

static const char *cfg_loader_keep_file(struct cfg_loader *ld, const char *file)
{
	ld->files = cfg_xrealloc(ld->files, (ld->nfiles + 1) * sizeof(*ld->files));
	ld->files[ld->nfiles] = cfg_xstrdup(file);
	return ld->files[ld->nfiles++];
}

static void cfg_loader_release(struct cfg_loader *ld)
{
	for (size_t i = 0; i < ld->nfiles; i++)
		free(ld->files[i]);
	free(ld->files);
	free(ld->marks);
}

static struct cfg_mark cfg_node_mark(const struct cfg_loader *ld, const yaml_node_t *node)
{
	return (struct cfg_mark){ ld->file, (int)node->start_mark.line + 1, (int)node->start_mark.column + 1 };
}

static void cfg_report(struct cfg_loader *ld, struct cfg_mark mark, bool warning, const char *fmt, va_list ap)
{
	cfg_errors_vadd(ld->errs, mark.file, mark.line, mark.col, warning, fmt, ap);
}

static void cfg_error_at(struct cfg_loader *ld, struct cfg_mark mark, const char *fmt, ...) LOG_PRINTF(3, 4);
static void cfg_error_at(struct cfg_loader *ld, struct cfg_mark mark, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_report(ld, mark, false, fmt, ap);
	va_end(ap);
}

static void cfg_error(struct cfg_loader *ld, const yaml_node_t *node, const char *fmt, ...) LOG_PRINTF(3, 4);
static void cfg_error(struct cfg_loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_report(ld, cfg_node_mark(ld, node), false, fmt, ap);
	va_end(ap);
}

static void cfg_warning(struct cfg_loader *ld, const yaml_node_t *node, const char *fmt, ...) LOG_PRINTF(3, 4);
static void cfg_warning(struct cfg_loader *ld, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cfg_report(ld, cfg_node_mark(ld, node), true, fmt, ap);
	va_end(ap);
}

static void cfg_mark_field(struct cfg_loader *ld, const void *field, const yaml_node_t *node)
{
	if (ld->in_defaults)
		return;
	ld->marks = cfg_xrealloc(ld->marks, (ld->nmarks + 1) * sizeof(*ld->marks));
	ld->marks[ld->nmarks++] = (struct cfg_field_mark){ field, cfg_node_mark(ld, node) };
}

/* The latest place that set field, or NULL if no document did. */
static const struct cfg_mark *cfg_mark_of(const struct cfg_loader *ld, const void *field)
{
	for (size_t i = ld->nmarks; i-- > 0;)
		if (ld->marks[i].field == field)
			return &ld->marks[i].mark;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Small text helpers                                                   */

struct cfg_buf {
	char *data;
	size_t len, cap;
};

static void cfg_buf_add(struct cfg_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->data = cfg_xrealloc(b->data, b->cap);
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void cfg_path_join(char *out, size_t cap, const char *parent, const char *name)
{
	/* Key paths are short; a cut one only shortens a message, so the length is not checked further. */
	if (snprintf(out, cap, "%s%s%s", parent, *parent ? "." : "", name) < 0)
		out[0] = '\0';
}

static size_t cfg_edit_distance(const char *a, const char *b)
{
	enum { MAX = 64 };
	size_t la = strlen(a), lb = strlen(b);
	if (la >= MAX || lb >= MAX)
		return SIZE_MAX;
	size_t prev[MAX], cur[MAX];
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t subst = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t best = subst < del ? subst : del;
			cur[j] = best < ins ? best : ins;
		}
		memcpy(prev, cur, (lb + 1) * sizeof(prev[0]));
	}
	return prev[lb];
}

/* Keeps the closest candidate within the hint distance. */
struct cfg_suggestion {
	const char *best;
	size_t distance;
};

#define CFG_HINT_DISTANCE 2

static void cfg_suggest_consider(struct cfg_suggestion *s, const char *word, const char *candidate)
{
	size_t d = cfg_edit_distance(word, candidate);
	if (d <= CFG_HINT_DISTANCE && (!s->best || d < s->distance)) {
		s->best = candidate;
		s->distance = d;
	}
}

/* " (did you mean "x"?)" or "". */
static void cfg_suggestion_text(const struct cfg_suggestion *s, char *out, size_t cap)
{
	if (s->best)
		snprintf(out, cap, " (did you mean \"%s\"?)", s->best);
	else
		out[0] = '\0';
}

static void cfg_format_ms(uint64_t ms, char *out, size_t cap)
{
	if (ms && ms % MS_PER_H == 0)
		snprintf(out, cap, "%lluh", (unsigned long long)(ms / MS_PER_H));
	else if (ms && ms % MS_PER_M == 0)
		snprintf(out, cap, "%llum", (unsigned long long)(ms / MS_PER_M));
	else if (ms && ms % MS_PER_S == 0)
		snprintf(out, cap, "%llus", (unsigned long long)(ms / MS_PER_S));
	else
		snprintf(out, cap, "%llums", (unsigned long long)ms);
}

static void cfg_format_us(uint64_t us, char *out, size_t cap)
{
	if (us % US_PER_MS == 0)
		cfg_format_ms(us / US_PER_MS, out, cap);
	else
		snprintf(out, cap, "%lluus", (unsigned long long)us);
}

static bool cfg_is_tag_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool cfg_is_host_char(char c) { return cfg_is_tag_char(c) || c == '.'; }

/* ------------------------------------------------------------------ */
/* Durations and addresses                                              */

static int cfg_parse_duration_us(const char *text, uint64_t *out_us)
{
	static const struct {
		const char *unit;
		uint64_t us;
	} units[] = {
		{ "us", 1 }, { "ms", US_PER_MS }, { "s", US_PER_MS * MS_PER_S },
		{ "m", US_PER_MS * MS_PER_M }, { "h", US_PER_MS * MS_PER_H },
	};
	const char *p = text;
	uint64_t n = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (n > UINT64_MAX / units[i].us)
			return -1;
		*out_us = n * units[i].us;
		return 0;
	}
	return -1; /* no unit, or an unknown one: a bare number is ambiguous */
}

int config_parse_duration_ms(const char *text, uint64_t *out_ms)
{
	uint64_t us;
	if (cfg_parse_duration_us(text, &us) != 0 || us % US_PER_MS != 0)
		return -1;
	*out_ms = us / US_PER_MS;
	return 0;
}

void config_address_free(struct config_address *address)
{
	free(address->host);
	free(address->path);
	*address = (struct config_address){ 0 };
}

static int cfg_parse_unix_path(const char *path, struct config_address *out, const char **why)
{
	if (path[0] != '/' || path[1] == '\0') {
		*why = "unix:// needs an absolute socket path, e.g. unix:///run/statsd.sock";
		return -1;
	}
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		*why = "the socket path is longer than a unix socket address allows (107 bytes)";
		return -1;
	}
	out->transport = TRANSPORT_UNIX;
	out->path = cfg_xstrdup(path);
	return 0;
}

static bool cfg_host_is_valid(const char *host, const char **why)
{
	size_t len = strlen(host);
	if (len == 0) {
		*why = "missing host before :PORT";
		return false;
	}
	if (len > 253 || host[0] == '-' || host[0] == '.') {
		*why = "not a valid host name";
		return false;
	}
	bool dotted_digits = true;
	for (const char *c = host; *c; c++) {
		if (!cfg_is_host_char(*c)) {
			*why = strchr(host, ':') ? "IPv6 addresses need brackets, e.g. udp://[::1]:8125"
						  : "not a valid host name";
			return false;
		}
		if (!(*c == '.' || (*c >= '0' && *c <= '9')))
			dotted_digits = false;
	}
	struct in_addr v4;
	if (dotted_digits && inet_pton(AF_INET, host, &v4) != 1) {
		*why = "not a valid IPv4 address";
		return false;
	}
	return true;
}

static bool cfg_parse_port(const char *text, uint16_t *port, const char **why)
{
	unsigned long n = 0;
	const char *p = text;
	for (; *p >= '0' && *p <= '9' && p - text < 6; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (p == text) {
		*why = "missing port after ':'";
		return false;
	}
	if (*p != '\0') {
		*why = "unexpected text after the port (only SCHEME://HOST:PORT)";
		return false;
	}
	if (n < 1 || n > 65535) {
		*why = "the port must be from 1 to 65535";
		return false;
	}
	*port = (uint16_t)n;
	return true;
}

static int cfg_parse_host_port(const char *rest, enum transport transport, struct config_address *out,
			       const char **why)
{
	char *host;
	const char *after;
	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');
		if (!close) {
			*why = "unterminated '[' in an IPv6 address";
			return -1;
		}
		host = strndup(rest + 1, (size_t)(close - rest - 1));
		after = close + 1;
		struct in6_addr v6;
		if (host && inet_pton(AF_INET6, host, &v6) != 1) {
			free(host);
			*why = "not a valid IPv6 address inside [ ]";
			return -1;
		}
	} else {
		const char *colon = strrchr(rest, ':');
		size_t host_len = colon ? (size_t)(colon - rest) : strlen(rest);
		host = strndup(rest, host_len);
		after = rest + host_len;
		if (host && !cfg_host_is_valid(host, why)) {
			free(host);
			return -1;
		}
	}
	if (!host)
		abort();
	if (*after != ':') {
		free(host);
		*why = "missing :PORT, e.g. udp://127.0.0.1:8125";
		return -1;
	}
	if (!cfg_parse_port(after + 1, &out->port, why)) {
		free(host);
		return -1;
	}
	out->transport = transport;
	out->host = host;
	return 0;
}

int config_parse_address(const char *text, struct config_address *out, const char **why)
{
	static const struct {
		const char *scheme;
		enum transport transport;
	} schemes[] = {
		{ "udp", TRANSPORT_UDP }, { "tcp", TRANSPORT_TCP }, { "tls", TRANSPORT_TLS }, { "unix", TRANSPORT_UNIX },
	};
	*out = (struct config_address){ 0 };
	const char *sep = strstr(text, "://");
	if (!sep) {
		*why = "expected udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT or unix:///PATH";
		return -1;
	}
	size_t scheme_len = (size_t)(sep - text);
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].scheme) != scheme_len || strncmp(text, schemes[i].scheme, scheme_len) != 0)
			continue;
		if (schemes[i].transport == TRANSPORT_UNIX)
			return cfg_parse_unix_path(sep + 3, out, why);
		return cfg_parse_host_port(sep + 3, schemes[i].transport, out, why);
	}
	*why = "unknown scheme: expected udp://, tcp://, tls:// or unix://";
	return -1;
}

/* ------------------------------------------------------------------ */
/* Key tables                                                           */

#define CFG_OFF(member) offsetof(struct config, member)
#define SINK_OFF(member) offsetof(struct config_sink, member)

static const char *const cfg_bool_words[] = { "true", "false", "yes", "no", "on", "off", NULL };
static const char *const cfg_load_mode_words[] = { "entry", "return", NULL };
static const char *const cfg_attach_words[] = { "auto", "fentry", "kprobe", "tp_btf", "raw_tp", "tracepoint", NULL };
static const char *const cfg_syscall_layer_words[] = { "auto", "dispatcher", "tracepoints", NULL };
static const char *const cfg_log_level_words[] = { "error", "warning", "info", "debug", NULL };
static const char *const cfg_group_by_words[] = { "comm", "exe", "cgroup", "unit", "container", NULL };
static const char *const cfg_cgroup_by_words[] = { "unit", "container", "cgroup", NULL };
static const char *const cfg_sink_type_words[] = { "statsd", "dogstatsd", "graphite", "graphite-tagged", "stdout", NULL };
static const char *const cfg_sink_format_words[] = { "statsd", "dogstatsd", "graphite", "graphite-tagged", NULL };

static const char *cfg_check_hostname(const char *value, char *buf, size_t cap)
{
	(void)buf, (void)cap;
	const char *why;
	if (strcmp(value, "auto") == 0 || cfg_host_is_valid(value, &why))
		return NULL;
	return "expected auto or a host name";
}

static const char *cfg_check_sink_name(const char *value, char *buf, size_t cap)
{
	(void)buf, (void)cap;
	if (!*value)
		return "a sink name must not be empty";
	for (const char *c = value; *c; c++)
		if (!cfg_is_host_char(*c))
			return "a sink name may only use letters, digits, '_', '-' and '.'";
	return NULL;
}

static const char *cfg_check_not_empty(const char *value, char *buf, size_t cap)
{
	(void)buf, (void)cap;
	return *value ? NULL : "must not be empty";
}

/* A file the agent reads at start (TLS certificates and keys): it must exist and be readable now. */
static const char *cfg_check_readable_file(const char *value, char *buf, size_t cap)
{
	(void)buf, (void)cap;
	if (!*value)
		return "must not be empty";
	struct stat st;
	if (stat(value, &st) < 0)
		return errno == ENOENT ? "no such file" : strerror(errno);
	if (!S_ISREG(st.st_mode)) /* a FIFO would block the loop, /dev/zero never ends */
		return S_ISDIR(st.st_mode) ? "a directory, not a file" : "not a regular file";
	if (access(value, R_OK) < 0)
		return errno == EACCES ? "not readable by the agent (permission denied)" : strerror(errno);
	return NULL;
}

static cfg_apply_fn cfg_apply_sinks, cfg_apply_groups, cfg_apply_cgroup_groups, cfg_apply_address, cfg_apply_string_list,
	cfg_apply_modules;

static const struct cfg_key cfg_global_keys[] = {
	K_MS("interval", CFG_OFF(global.interval_ms), "1s", MS_PER_S, MS_PER_H,
	     "flush interval, >= 1s; module intervals must be multiples of it"),
	K_STR("hostname", CFG_OFF(global.hostname), "auto", cfg_check_hostname,
	      "auto or a literal; {hostname} / {fqdn} in prefixes"),
	K_ENUM("load_mode", CFG_OFF(global.load_mode), "return", cfg_load_mode_words,
	       "return | entry (entry hooks only where calls begin: cheaper, but no (R) metrics on fentry/kprobe hooks)"),
	K_ENUM("attach", CFG_OFF(global.attach), "auto", cfg_attach_words,
	       "auto | fentry | kprobe | tp_btf | raw_tp | tracepoint (also per module)"),
	K_ENUM("syscall_layer", CFG_OFF(global.syscall_layer), "auto", cfg_syscall_layer_words,
	       "auto | dispatcher | tracepoints (also per module)"),
	K_MS("series_ttl", CFG_OFF(global.series_ttl_ms), "5m", MS_PER_S, 7 * MS_PER_D,
	     "stop sending a series after it has been 0 this long"),
	K_U32("pid_table_size", CFG_OFF(global.pid_table_size), "32768", 1024, 4194304,
	      "entries in the per-PID table (1024 to 4194304)"),
	K_ENUM("log_level", CFG_OFF(global.log_level), "info", cfg_log_level_words, "error | warning | info | debug"),
	K_TAGS("tags", CFG_OFF(global.tags), "{}",
	       "constant tags for tag-aware formats, e.g. { env: prod }; sinks may add their own"),
};

static const struct cfg_key cfg_group_keys[] = {
	K_STR("match", offsetof(struct config_app_group, match), NULL, cfg_check_not_empty,
	      "a glob matched against the group_by value"),
	K_STR("name", offsetof(struct config_app_group, name), NULL, cfg_check_not_empty, "the app tag to use"),
};
static const struct cfg_section cfg_group_section = CFG_SECTION_OF(cfg_group_keys);

/* apps.counters: each group's cost per event is in config/bpfpush.yaml's comments. */
static const struct cfg_key cfg_app_counter_keys[] = {
	K_BOOL("fsync", CFG_OFF(apps.counters.fsync), "true", "apps.fsync, apps.fdatasync"),
	K_BOOL("file_create", CFG_OFF(apps.counters.file_create), "true", "apps.file_create"),
	K_BOOL("shm", CFG_OFF(apps.counters.shm), "true", "apps.shm_get, apps.shm_at, apps.shm_dt, apps.shm_ctl"),
	K_BOOL("net_calls", CFG_OFF(apps.counters.net_calls), "true",
	       "apps.tcp_send_calls, apps.tcp_recv_calls, apps.udp_send_calls, apps.udp_recv_calls"),
	K_BOOL("tcp_connects", CFG_OFF(apps.counters.tcp_connects), "true", "apps.tcp_connect_v4, apps.tcp_connect_v6"),
	K_BOOL("tcp_accepts", CFG_OFF(apps.counters.tcp_accepts), "true", "apps.tcp_accept"),
	K_BOOL("tcp_retransmits", CFG_OFF(apps.counters.tcp_retransmits), "false", "apps.tcp_retransmits"),
	K_BOOL("create_errors", CFG_OFF(apps.counters.create_errors), "true",
	       "apps.process_create_errors, apps.thread_create_errors (load_mode: return)"),
	K_BOOL("dcstat", CFG_OFF(apps.counters.dcstat), "false",
	       "apps.dcstat_references, apps.dcstat_slow, apps.dcstat_misses (fentry or kprobes)"),
	K_BOOL("swap", CFG_OFF(apps.counters.swap), "true", "apps.swap_read, apps.swap_write (fentry or kprobes)"),
};
static const struct cfg_section cfg_app_counters_section = CFG_SECTION_OF(cfg_app_counter_keys);

static const struct cfg_key cfg_apps_keys[] = {
	K_BOOL("enabled", CFG_OFF(apps.enabled), "true", "per-application metrics (apps.*)"),
	K_ENUM("group_by", CFG_OFF(apps.group_by), "comm", cfg_group_by_words, "comm | exe | cgroup | unit | container"),
	K_U32("max_groups", CFG_OFF(apps.max_groups), "200", 1, 100000,
	      "groups sent per flush, zeros included (the busiest); the rest are summed under app=other"),
	K_CUSTOM("groups", 0, "[]", cfg_apply_groups, "list", &cfg_group_section,
		 "list of { match, name }: first match wins, in list order; conf.d lists append"),
	K_MS("interval", CFG_OFF(apps.interval_ms), "0s", 0, MS_PER_H,
	     "collection interval; 0s: global.interval, else a multiple of it"),
	K_ENUM("attach", CFG_OFF(apps.attach), "auto", cfg_attach_words, "auto: global.attach"),
	K_SECTION("counters", 0, &cfg_app_counters_section, "the depth counters, each group switchable"),
};

static const struct cfg_key cfg_cgroups_keys[] = {
	K_BOOL("enabled", CFG_OFF(cgroups.enabled), "true",
	       "per-cgroup metrics (cgroup.*, as apps.*); runs the apps module's kernel side even when apps is off"),
	K_ENUM("group_by", CFG_OFF(cgroups.group_by), "unit", cfg_cgroup_by_words,
	       "unit | container | cgroup (a process whose cgroup names no unit or container: its cgroup's name)"),
	K_U32("max_groups", CFG_OFF(cgroups.max_groups), "50", 1, 100000,
	      "cgroups sent per flush, zeros included (the busiest); the rest are summed under cgroup=other"),
	K_CUSTOM("groups", 0, "[]", cfg_apply_cgroup_groups, "list", &cfg_group_section,
		 "list of { match, name }: first match wins, in list order; conf.d lists append"),
};

/*
 * Every module under modules.NAME takes these; enabled's default is the
 * module's (module_ops.enabled_by_default, per docs/metrics.md).
 */
#define MOD_OFF(member) offsetof(struct config_module, member)
static const struct cfg_key cfg_common_module_keys[] = {
	K_BOOL("enabled", MOD_OFF(enabled), NULL, "switch the module on or off"),
	K_MS("interval", MOD_OFF(interval_ms), "0s", 0, MS_PER_H,
	     "collection interval; 0s: global.interval, else a multiple of it"),
	K_ENUM("attach", MOD_OFF(attach), "auto", cfg_attach_words, "auto: global.attach"),
	K_ENUM("syscall_layer", MOD_OFF(syscall_layer), "auto", cfg_syscall_layer_words, "auto: global.syscall_layer"),
};
static const struct cfg_section cfg_common_module_section = CFG_SECTION_OF(cfg_common_module_keys);

static const struct cfg_key cfg_sink_keys[] = {
	K_STR("name", SINK_OFF(name), NULL, cfg_check_sink_name, "required and unique; a later file's sink of that name replaces it"),
	K_ENUM("type", SINK_OFF(type), NULL, cfg_sink_type_words, "required: statsd | dogstatsd | graphite | graphite-tagged | stdout"),
	K_CUSTOM("address", 0, NULL, cfg_apply_address, "address", NULL,
		 "udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT (graphite), unix:///PATH (statsd); none for stdout"),
	K_ENUM("format", SINK_OFF(format), NULL, cfg_sink_format_words,
	       "stdout only: statsd | dogstatsd | graphite | graphite-tagged (default statsd)"),
	K_STR("prefix", SINK_OFF(prefix), NULL, NULL, "default bpfpush.{hostname}; bpfpush for dogstatsd"),
	K_TAGS("tags", SINK_OFF(tags), "{}", "constant tags added after global.tags"),
	K_CUSTOM("include", SINK_OFF(include), "[]", cfg_apply_string_list, "list", NULL,
		 "name globs to send (empty: all); * also matches dots"),
	K_CUSTOM("exclude", SINK_OFF(exclude), "[]", cfg_apply_string_list, "list", NULL,
		 "name globs not to send; exclusion wins"),
	K_U32("max_packet", SINK_OFF(max_packet), NULL, 64, 65507, "datagram size: default 1432 (udp), 8192 (others)"),
	K_U32("buffer_lines", SINK_OFF(buffer_lines), "100000", 1, 100000000, "lines kept while the peer is slow or down"),
	K_MS("resolve_interval", SINK_OFF(resolve_interval_ms), "60s", MS_PER_S, MS_PER_D, "how often to re-resolve the host"),
	K_MS("reconnect_min", SINK_OFF(reconnect_min_ms), "100ms", 10, MS_PER_H, "first reconnect delay"),
	K_MS("reconnect_max", SINK_OFF(reconnect_max_ms), "30s", 10, MS_PER_D, "reconnect delay cap (doubling)"),
	K_MS("write_timeout", SINK_OFF(write_timeout_ms), "10s", 100, MS_PER_H, "a stream write stuck longer reconnects"),
	K_BOOL("send_zeros", SINK_OFF(send_zeros), NULL,
	       "send counters whose delta is 0 (until series_ttl): default true for graphite formats, false for statsd formats"),
	K_STR("ca_file", SINK_OFF(ca_file), NULL, cfg_check_readable_file, "tls://: CA bundle (default: the system's)"),
	K_STR("cert_file", SINK_OFF(cert_file), NULL, cfg_check_readable_file, "tls://: client certificate"),
	K_STR("key_file", SINK_OFF(key_file), NULL, cfg_check_readable_file, "tls://: client key"),
	K_STR("server_name", SINK_OFF(server_name), NULL, cfg_check_not_empty, "tls://: name to verify (default: the host)"),
};
static const struct cfg_section cfg_sink_section = CFG_SECTION_OF(cfg_sink_keys);

static const struct cfg_section cfg_global_section = CFG_SECTION_OF(cfg_global_keys);
static const struct cfg_section cfg_apps_section = CFG_SECTION_OF(cfg_apps_keys);
static const struct cfg_section cfg_cgroups_section = CFG_SECTION_OF(cfg_cgroups_keys);

static const struct cfg_key cfg_root_keys[] = {
	K_SECTION("global", 0, &cfg_global_section, "agent-wide settings"),
	K_SECTION("apps", 0, &cfg_apps_section, "per-application metrics"),
	K_SECTION("cgroups", 0, &cfg_cgroups_section, "per-cgroup metrics: systemd units, containers"),
	K_CUSTOM("modules", 0, NULL, cfg_apply_modules, "map", NULL, "one entry per module"),
	K_CUSTOM("sinks", 0, NULL, cfg_apply_sinks, "list", &cfg_sink_section, "where metrics go; at least one"),
};
static const struct cfg_section cfg_root_section = CFG_SECTION_OF(cfg_root_keys);

static const struct cfg_key *cfg_find_key(const struct cfg_section *sec, const char *name)
{
	for (size_t i = 0; i < sec->nkeys; i++)
		if (strcmp(sec->keys[i].name, name) == 0)
			return &sec->keys[i];
	return NULL;
}

static void *cfg_field(void *base, const struct cfg_key *key) { return (char *)base + key->offset; }

/* ------------------------------------------------------------------ */
/* YAML nodes                                                           */

static yaml_node_t *cfg_node(const struct cfg_loader *ld, int index)
{
	return yaml_document_get_node(ld->doc, index);
}

/* A plain empty, ~ or null scalar: "the key is here with no value". */
static bool cfg_node_is_null(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)node->data.scalar.value;
	return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	       strcmp(v, "NULL") == 0;
}

static const char *cfg_node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_MAPPING_NODE:
		return "a map";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return cfg_node_is_null(node) ? "nothing" : "a value";
	}
}

static bool cfg_expect_kind(struct cfg_loader *ld, yaml_node_t *node, yaml_node_type_t type, const char *path,
			    const char *expected)
{
	if (node->type == type)
		return true;
	cfg_error(ld, node, "%s: expected %s, got %s", path, expected, cfg_node_kind(node));
	return false;
}

#define CFG_ENV_NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"

/* Defaults may themselves hold references (${A:-${B}}), this deep. */
#define CFG_ENV_NEST_MAX 4

/* The '}' closing a reference whose name ends at after_name, skipping nested ${...}; NULL if none. */
static const char *cfg_env_close(const char *after_name)
{
	int depth = 0;
	for (const char *q = after_name; *q; q++) {
		if (q[0] == '$' && q[1] == '{') {
			depth++;
			q++;
		} else if (*q == '}' && depth-- == 0) {
			return q;
		}
	}
	return NULL;
}

/*
 * Expand ${VAR} and ${VAR:-default}, the default expanded in turn; NULL (error
 * reported) for an undefined VAR or bad syntax.
 */
static char *cfg_expand_env_at(struct cfg_loader *ld, const yaml_node_t *node, const char *path, const char *text,
			       int nest)
{
	struct cfg_buf out = { 0 };
	cfg_buf_add(&out, "", 0);
	const char *p = text;
	while (*p) {
		const char *open = strstr(p, "${");
		if (!open) {
			cfg_buf_add(&out, p, strlen(p));
			break;
		}
		cfg_buf_add(&out, p, (size_t)(open - p));
		const char *name = open + 2;
		size_t name_len = strspn(name, CFG_ENV_NAME_CHARS);
		const char *after_name = name + name_len;
		bool has_default = strncmp(after_name, ":-", 2) == 0;
		const char *close = has_default ? cfg_env_close(after_name + 2) : strchr(name, '}');
		if (!close || name_len == 0 || (name[0] >= '0' && name[0] <= '9') ||
		    (!has_default && after_name != close)) {
			cfg_error(ld, node, "%s: bad variable reference in \"%s\": expected ${NAME} or ${NAME:-default}",
				  path, text);
			free(out.data);
			return NULL;
		}
		if (has_default && nest == CFG_ENV_NEST_MAX) {
			cfg_error(ld, node, "%s: variable defaults nested deeper than %d levels", path, CFG_ENV_NEST_MAX);
			free(out.data);
			return NULL;
		}
		char *var = strndup(name, name_len);
		if (!var)
			abort();
		const char *value = getenv(var);
		if (value && *value) {
			cfg_buf_add(&out, value, strlen(value));
		} else if (has_default) {
			char *def = strndup(after_name + 2, (size_t)(close - after_name - 2));
			char *expanded = def ? cfg_expand_env_at(ld, node, path, def, nest + 1) : NULL;
			if (!def)
				abort();
			free(def);
			if (!expanded) {
				free(var);
				free(out.data);
				return NULL;
			}
			cfg_buf_add(&out, expanded, strlen(expanded));
			free(expanded);
		} else if (value) {
			/* Set but empty, no default: the user asked for exactly that. */
		} else {
			cfg_error(ld, node, "%s: environment variable %s is not set (write ${%s:-default} to give a default)",
				  path, var, var);
			free(var);
			free(out.data);
			return NULL;
		}
		free(var);
		p = close + 1;
	}
	return out.data;
}

static char *cfg_expand_env(struct cfg_loader *ld, const yaml_node_t *node, const char *path, const char *text)
{
	return cfg_expand_env_at(ld, node, path, text, 0);
}

/* The value of a scalar node after ${} expansion (caller frees), or NULL after an error. */
static char *cfg_scalar_text(struct cfg_loader *ld, yaml_node_t *node, const char *path, const char *expected)
{
	if (node->type != YAML_SCALAR_NODE || cfg_node_is_null(node)) {
		cfg_error(ld, node, "%s: expected %s, got %s", path, expected, cfg_node_kind(node));
		return NULL;
	}
	return cfg_expand_env(ld, node, path, (const char *)node->data.scalar.value);
}

static int cfg_compare_dup_pairs(const void *a, const void *b)
{
	const yaml_node_pair_t *x = ((const struct cfg_dup *)a)->pair, *y = ((const struct cfg_dup *)b)->pair;
	return x < y ? -1 : x > y;
}

/* Reports a key that appears twice in one map, from the list cfg_find_dups() made. */
static bool cfg_key_is_repeated(struct cfg_loader *ld, yaml_node_t *map, yaml_node_pair_t *pair, const char *path)
{
	(void)map;
	struct cfg_dup probe = { pair, 0 };
	const struct cfg_dup *dup =
		ld->ndups ? bsearch(&probe, ld->dups, ld->ndups, sizeof(*ld->dups), cfg_compare_dup_pairs) : NULL;
	if (!dup)
		return false;
	cfg_error(ld, cfg_node(ld, pair->key), "%s: duplicate key (first set at line %d)", path, dup->first_line);
	return true;
}

struct cfg_key_ref {
	const char *text;
	size_t pos;
	const yaml_node_pair_t *pair;
	int line;
};

static int cfg_compare_key_refs(const void *a, const void *b)
{
	const struct cfg_key_ref *x = a, *y = b;
	int c = strcmp(x->text, y->text);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/*
 * Every repeated key of every map of the document, in O(n log n): comparing
 * each key with the ones before it took minutes for a map of 200 000 keys.
 */
static void cfg_find_dups(struct cfg_loader *ld, yaml_document_t *doc)
{
	struct cfg_key_ref *refs = NULL;
	size_t cap = 0;
	for (yaml_node_t *map = doc->nodes.start; map < doc->nodes.top; map++) {
		if (map->type != YAML_MAPPING_NODE)
			continue;
		size_t n = 0, npairs = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
		if (npairs < 2)
			continue;
		if (npairs > cap) {
			cap = npairs;
			refs = cfg_xrealloc(refs, cap * sizeof(*refs));
		}
		for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
			yaml_node_t *key = yaml_document_get_node(doc, pair->key);
			if (key->type == YAML_SCALAR_NODE) {
				refs[n] = (struct cfg_key_ref){ (const char *)key->data.scalar.value, n, pair,
								(int)key->start_mark.line + 1 };
				n++;
			}
		}
		qsort(refs, n, sizeof(*refs), cfg_compare_key_refs);
		for (size_t i = 1, first = 0; i < n; i++) {
			if (strcmp(refs[i].text, refs[first].text) != 0) {
				first = i;
				continue;
			}
			ld->dups = cfg_xrealloc(ld->dups, (ld->ndups + 1) * sizeof(*ld->dups));
			ld->dups[ld->ndups++] = (struct cfg_dup){ refs[i].pair, refs[first].line };
		}
	}
	free(refs);
	if (ld->ndups > 1)
		qsort(ld->dups, ld->ndups, sizeof(*ld->dups), cfg_compare_dup_pairs);
}

/* The key of a map entry as text, or NULL (error reported) when it is not a scalar. */
static const char *cfg_pair_key(struct cfg_loader *ld, yaml_node_t *map, yaml_node_pair_t *pair, const char *parent,
				char *path, size_t cap)
{
	yaml_node_t *key = cfg_node(ld, pair->key);
	if (key->type != YAML_SCALAR_NODE) {
		cfg_error(ld, key, "%s: keys must be plain words, got %s", *parent ? parent : "(top level)",
			  cfg_node_kind(key));
		return NULL;
	}
	const char *name = (const char *)key->data.scalar.value;
	cfg_path_join(path, cap, parent, name);
	if (cfg_key_is_repeated(ld, map, pair, path))
		return NULL;
	return name;
}

/* ------------------------------------------------------------------ */
/* Applying values                                                      */

#define CFG_PATH_MAX 256

static void cfg_apply_section(struct cfg_loader *ld, const struct cfg_section *sec, void *base, yaml_node_t *map,
			      const char *path);
static cfg_apply_fn cfg_apply_port_names;

static bool cfg_parse_bool(const char *text, bool *out)
{
	for (size_t i = 0; cfg_bool_words[i]; i++) {
		if (strcasecmp(text, cfg_bool_words[i]) == 0) {
			*out = i % 2 == 0; /* the words alternate true, false */
			return true;
		}
	}
	return false;
}

static bool cfg_parse_u64(const char *text, uint64_t *out)
{
	uint64_t n = 0;
	if (!*text)
		return false;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9' || n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*out = n;
	return true;
}

static void cfg_words_list(const char *const *words, char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; words[i] && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", words[i]);
}

static void cfg_set_enum(struct cfg_loader *ld, const struct cfg_key *key, int *field, yaml_node_t *node,
			 const char *path, const char *text)
{
	struct cfg_suggestion hint = { 0 };
	for (int i = 0; key->words[i]; i++) {
		if (strcmp(text, key->words[i]) == 0) {
			*field = i;
			return;
		}
		cfg_suggest_consider(&hint, text, key->words[i]);
	}
	char words[256], hint_text[96];
	cfg_words_list(key->words, words, sizeof(words));
	cfg_suggestion_text(&hint, hint_text, sizeof(hint_text));
	cfg_error(ld, node, "%s: expected one of %s, got \"%s\"%s", path, words, text, hint_text);
}

static void cfg_set_duration(struct cfg_loader *ld, const struct cfg_key *key, uint64_t *field, yaml_node_t *node,
			     const char *path, const char *text)
{
	bool in_us = key->type == CFG_DURATION_US;
	uint64_t value;
	int rc = in_us ? cfg_parse_duration_us(text, &value) : config_parse_duration_ms(text, &value);
	if (rc != 0) {
		cfg_error(ld, node, "%s: expected a duration such as 500ms, 1s or 1m, got \"%s\"", path, text);
		return;
	}
	if (value < key->min || value > key->max) {
		char lo[32], hi[32];
		(in_us ? cfg_format_us : cfg_format_ms)(key->min, lo, sizeof(lo));
		(in_us ? cfg_format_us : cfg_format_ms)(key->max, hi, sizeof(hi));
		cfg_error(ld, node, "%s: must be from %s to %s, got %s", path, lo, hi, text);
		return;
	}
	*field = value;
}

static void cfg_set_u32(struct cfg_loader *ld, const struct cfg_key *key, uint32_t *field, yaml_node_t *node,
			const char *path, const char *text)
{
	uint64_t value;
	if (!cfg_parse_u64(text, &value) || value < key->min || value > key->max) {
		cfg_error(ld, node, "%s: expected a whole number from %llu to %llu, got \"%s\"", path,
			  (unsigned long long)key->min, (unsigned long long)key->max, text);
		return;
	}
	*field = (uint32_t)value;
}

static void cfg_set_string(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			   const char *path, const char *text)
{
	char why[512];
	char **field = cfg_field(base, key);
	void *parsed = NULL;
	const char *wrong = NULL;
	if (key->parse)
		wrong = (parsed = key->parse(text, why, sizeof(why))) ? NULL : why;
	else if (key->check)
		wrong = key->check(text, why, sizeof(why));
	if (wrong) {
		cfg_error(ld, node, "%s: %s, got \"%s\"", path, wrong, text);
		return;
	}
	if (key->parse) {
		void **slot = (void **)((char *)base + key->parsed_offset);
		if (*slot)
			key->release(*slot);
		*slot = parsed;
	}
	free(*field);
	*field = cfg_xstrdup(text);
}

static const char *cfg_expectation(const struct cfg_key *key, char *buf, size_t cap)
{
	switch (key->type) {
	case CFG_BOOL:
		return "true or false (or yes/no, on/off)";
	case CFG_DURATION_MS:
	case CFG_DURATION_US:
		return "a duration such as 500ms, 1s or 1m";
	case CFG_UINT32:
		return "a whole number";
	case CFG_ENUM: {
		char words[200];
		cfg_words_list(key->words, words, sizeof(words));
		snprintf(buf, cap, "one of %s", words);
		return buf;
	}
	default:
		return "a string";
	}
}

static void cfg_apply_scalar(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			     const char *path)
{
	char expected[256];
	void *field = cfg_field(base, key);
	/* Marked as present even if invalid: a bad value is not also a missing one. */
	cfg_mark_field(ld, field, node);
	char *text = cfg_scalar_text(ld, node, path, cfg_expectation(key, expected, sizeof(expected)));
	if (!text)
		return;
	switch (key->type) {
	case CFG_BOOL:
		if (!cfg_parse_bool(text, field))
			cfg_error(ld, node, "%s: expected true or false (or yes/no, on/off), got \"%s\"", path, text);
		break;
	case CFG_DURATION_MS:
	case CFG_DURATION_US:
		cfg_set_duration(ld, key, field, node, path, text);
		break;
	case CFG_UINT32:
		cfg_set_u32(ld, key, field, node, path, text);
		break;
	case CFG_STRING:
		cfg_set_string(ld, key, base, node, path, text);
		break;
	case CFG_ENUM:
		cfg_set_enum(ld, key, field, node, path, text);
		break;
	default:
		break;
	}
	free(text);
}

/* Every tag goes on every line: a few dozen is plenty, and the limit keeps merging linear. */
#define CFG_TAGS_MAX 64

static bool cfg_tags_has(const struct config_tags *tags, const char *key)
{
	for (size_t i = 0; i < tags->len; i++)
		if (strcmp(tags->items[i].key, key) == 0)
			return true;
	return false;
}

static void cfg_tags_set(struct config_tags *tags, const char *key, const char *value)
{
	for (size_t i = 0; i < tags->len; i++) {
		if (strcmp(tags->items[i].key, key) == 0) {
			free(tags->items[i].value);
			tags->items[i].value = cfg_xstrdup(value);
			return;
		}
	}
	tags->items = cfg_xrealloc(tags->items, (tags->len + 1) * sizeof(*tags->items));
	tags->items[tags->len++] = (struct config_tag){ cfg_xstrdup(key), cfg_xstrdup(value) };
}

static bool cfg_is_metric_tag_key(const char *key)
{
	for (size_t i = 0; cfg_metric_tag_keys[i]; i++)
		if (strcmp(key, cfg_metric_tag_keys[i]) == 0)
			return true;
	return false;
}

static bool cfg_tag_key_is_valid(const char *key)
{
	if (!*key)
		return false;
	for (const char *c = key; *c; c++)
		if (!cfg_is_tag_char(*c))
			return false;
	return true;
}

/* A map merges into the existing tags key by key. */
static void cfg_apply_tags(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			   const char *path)
{
	struct config_tags *tags = cfg_field(base, key);
	if (cfg_node_is_null(node) || !cfg_expect_kind(ld, node, YAML_MAPPING_NODE, path, "a map of tag names to values"))
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		char tag_path[CFG_PATH_MAX];
		const char *name = cfg_pair_key(ld, node, pair, path, tag_path, sizeof(tag_path));
		if (!name)
			continue;
		yaml_node_t *key_node = cfg_node(ld, pair->key);
		if (!cfg_tag_key_is_valid(name)) {
			cfg_error(ld, key_node, "%s: a tag name may only use letters, digits, '_' and '-'", tag_path);
			continue;
		}
		char *value = cfg_scalar_text(ld, cfg_node(ld, pair->value), tag_path, "a tag value");
		if (!value)
			continue;
		if (cfg_is_metric_tag_key(name))
			cfg_warning(ld, key_node,
				    "%s: \"%s\" is also a metric tag; metrics that carry their own \"%s\" keep their value",
				    tag_path, name, name);
		if (tags->len >= CFG_TAGS_MAX && !cfg_tags_has(tags, name)) {
			cfg_error(ld, key_node, "%s: more than %d tags", path, CFG_TAGS_MAX);
			free(value);
			return;
		}
		cfg_tags_set(tags, name, value);
		free(value);
	}
}

static void cfg_apply_key(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			  const char *path)
{
	switch (key->type) {
	case CFG_SECTION:
		if (!cfg_node_is_null(node))
			cfg_apply_section(ld, key->section, cfg_field(base, key), node, path);
		break;
	case CFG_TAGS:
		cfg_apply_tags(ld, key, base, node, path);
		break;
	case CFG_PORT_NAMES:
		cfg_apply_port_names(ld, key, base, node, path);
		break;
	case CFG_CUSTOM:
		key->apply(ld, key, base, node, path);
		break;
	default:
		cfg_apply_scalar(ld, key, base, node, path);
		break;
	}
}

/* One section's keys and the struct they fill: a module's section has two (its common keys, its own). */
struct cfg_part {
	const struct cfg_section *sec;
	void *base;
};

static void cfg_report_unknown_key(struct cfg_loader *ld, const struct cfg_part *parts, size_t nparts,
				   yaml_node_t *key_node, const char *name, const char *path)
{
	struct cfg_suggestion hint = { 0 };
	for (size_t p = 0; p < nparts; p++)
		for (size_t i = 0; i < parts[p].sec->nkeys; i++)
			cfg_suggest_consider(&hint, name, parts[p].sec->keys[i].name);
	char hint_text[96];
	cfg_suggestion_text(&hint, hint_text, sizeof(hint_text));
	cfg_error(ld, key_node, "%s: unknown key%s", path, hint_text);
}

static void cfg_apply_parts(struct cfg_loader *ld, const struct cfg_part *parts, size_t nparts, yaml_node_t *map,
			    const char *path)
{
	if (!cfg_expect_kind(ld, map, YAML_MAPPING_NODE, *path ? path : "(top level)", "a map"))
		return;
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		char key_path[CFG_PATH_MAX];
		const char *name = cfg_pair_key(ld, map, pair, path, key_path, sizeof(key_path));
		if (!name)
			continue;
		const struct cfg_key *key = NULL;
		size_t p = 0;
		for (; p < nparts && !key; p++)
			key = cfg_find_key(parts[p].sec, name);
		if (!key) {
			cfg_report_unknown_key(ld, parts, nparts, cfg_node(ld, pair->key), name, key_path);
			continue;
		}
		cfg_apply_key(ld, key, parts[p - 1].base, cfg_node(ld, pair->value), key_path);
	}
}

static void cfg_apply_section(struct cfg_loader *ld, const struct cfg_section *sec, void *base, yaml_node_t *map,
			      const char *path)
{
	struct cfg_part part = { sec, base };
	cfg_apply_parts(ld, &part, 1, map, path);
}

/* modules.NAME: the keys every module takes, then the module's own (its module_ops.keys). */
static size_t cfg_module_parts(struct config *cfg, module_id_t id, struct cfg_section *own, struct cfg_part parts[2])
{
	const struct module_ops *ops = module_registry_get(id);
	parts[0] = (struct cfg_part){ &cfg_common_module_section, &cfg->modules[id] };
	*own = (struct cfg_section){ ops->keys, ops->nkeys };
	parts[1] = (struct cfg_part){ own, cfg->modules[id].opts };
	return ops->nkeys && cfg->modules[id].opts ? 2 : 1;
}

/* The registry's modules by name, each its own section (top-level ones, apps, are not under modules). */
static void cfg_apply_modules(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			      const char *path)
{
	struct config *cfg = base;
	(void)key;
	if (cfg_node_is_null(node) || !cfg_expect_kind(ld, node, YAML_MAPPING_NODE, path, "a map"))
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		char module_path[CFG_PATH_MAX];
		const char *name = cfg_pair_key(ld, node, pair, path, module_path, sizeof(module_path));
		if (!name)
			continue;
		int id = module_registry_find(name);
		if (id < 0 || module_registry_get((module_id_t)id)->top_level_section) {
			struct cfg_suggestion hint = { 0 };
			for (module_id_t m = 0; m < module_registry_count(); m++)
				if (!module_registry_get(m)->top_level_section)
					cfg_suggest_consider(&hint, name, module_registry_get(m)->name);
			char hint_text[96];
			cfg_suggestion_text(&hint, hint_text, sizeof(hint_text));
			cfg_error(ld, cfg_node(ld, pair->key), "%s: unknown key%s", module_path, hint_text);
			continue;
		}
		yaml_node_t *value = cfg_node(ld, pair->value);
		if (cfg_node_is_null(value))
			continue;
		struct cfg_section own;
		struct cfg_part parts[2];
		size_t nparts = cfg_module_parts(cfg, (module_id_t)id, &own, parts);
		cfg_apply_parts(ld, parts, nparts, value, module_path);
	}
}

/* ------------------------------------------------------------------ */
/* Defaults: each key's default text goes through the same parser      */

static void cfg_apply_text(struct cfg_loader *ld, const struct cfg_key *key, void *base, const char *yaml_text,
			   const char *path)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml_text, strlen(yaml_text));
	if (yaml_parser_load(&parser, &doc)) {
		yaml_document_t *saved_doc = ld->doc;
		const char *saved_file = ld->file;
		bool saved_in_defaults = ld->in_defaults;
		ld->doc = &doc;
		ld->file = CFG_DEFAULTS_FILE;
		ld->in_defaults = true;
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (root)
			cfg_apply_key(ld, key, base, root, path);
		ld->doc = saved_doc;
		ld->file = saved_file;
		ld->in_defaults = saved_in_defaults;
		yaml_document_delete(&doc);
	} else {
		struct cfg_mark mark = { CFG_DEFAULTS_FILE, 0, 0 };
		cfg_error_at(ld, mark, "%s: the built-in default does not parse: %s", path, parser.problem);
	}
	yaml_parser_delete(&parser);
}

static void cfg_apply_defaults(struct cfg_loader *ld, const struct cfg_section *sec, void *base, const char *path)
{
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *key = &sec->keys[i];
		char key_path[CFG_PATH_MAX];
		cfg_path_join(key_path, sizeof(key_path), path, key->name);
		if (key->type == CFG_SECTION)
			cfg_apply_defaults(ld, key->section, cfg_field(base, key), key_path);
		else if (key->def)
			cfg_apply_text(ld, key, base, key->def, key_path);
	}
}

/* Each module's options struct, allocated here, and every module key's default. */
static void cfg_apply_module_defaults(struct cfg_loader *ld)
{
	struct config *cfg = ld->cfg;
	for (module_id_t id = 0; id < module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get(id);
		if (ops->top_level_section)
			continue; /* its keys are the engine's, under their own root key */
		if (ops->opts_size)
			cfg->modules[id].opts = cfg_xcalloc(1, ops->opts_size);
		cfg->modules[id].enabled = ops->enabled_by_default;
		char path[CFG_PATH_MAX];
		cfg_path_join(path, sizeof(path), "modules", ops->name);
		struct cfg_section own;
		struct cfg_part parts[2];
		size_t nparts = cfg_module_parts(cfg, id, &own, parts);
		for (size_t p = 0; p < nparts; p++)
			cfg_apply_defaults(ld, parts[p].sec, parts[p].base, path);
	}
}

/* ------------------------------------------------------------------ */
/* Lists and maps with their own rules                                  */

static void cfg_free_string_list(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* include/exclude: the count lives right after the array pointer in struct config_sink. */
static void cfg_apply_string_list(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
				  const char *path)
{
	char ***items = cfg_field(base, key);
	size_t *count = (size_t *)((char *)items + sizeof(char **));
	if (cfg_node_is_null(node) || !cfg_expect_kind(ld, node, YAML_SEQUENCE_NODE, path, "a list of name globs"))
		return;
	for (yaml_node_item_t *item = node->data.sequence.items.start; item < node->data.sequence.items.top; item++) {
		char item_path[CFG_PATH_MAX];
		snprintf(item_path, sizeof(item_path), "%s[%td]", path, item - node->data.sequence.items.start);
		yaml_node_t *glob_node = cfg_node(ld, *item);
		char *glob = cfg_scalar_text(ld, glob_node, item_path, "a name glob");
		if (!glob)
			continue;
		if (!*glob) {
			cfg_error(ld, glob_node, "%s: a glob must not be empty", item_path);
			free(glob);
			continue;
		}
		*items = cfg_xrealloc(*items, (*count + 1) * sizeof(**items));
		(*items)[(*count)++] = glob;
	}
}
_Static_assert(offsetof(struct config_sink, ninclude) == offsetof(struct config_sink, include) + sizeof(char **),
	       "include count follows include");
_Static_assert(offsetof(struct config_sink, nexclude) == offsetof(struct config_sink, exclude) + sizeof(char **),
	       "exclude count follows exclude");

/* Apply one list item's map onto a zeroed struct; false if the item had errors. */
static bool cfg_apply_item(struct cfg_loader *ld, const struct cfg_section *sec, void *item, yaml_node_t *node,
			   const char *path)
{
	size_t errors_before = cfg_error_count(ld->errs);
	cfg_apply_defaults(ld, sec, item, path);
	cfg_apply_section(ld, sec, item, node, path);
	return cfg_error_count(ld->errs) == errors_before;
}

static void cfg_require(struct cfg_loader *ld, const void *field, yaml_node_t *item, const char *path,
			const char *key, const char *hint)
{
	if (!cfg_mark_of(ld, field))
		cfg_error(ld, item, "%s: missing required key \"%s\"%s", path, key, hint);
}

/* apps.groups, cgroups.groups: items append across files. */
static void cfg_apply_group_list(struct cfg_loader *ld, yaml_node_t *node, const char *path,
				 struct config_app_group **groups, size_t *ngroups, const char *name_hint)
{
	if (cfg_node_is_null(node) || !cfg_expect_kind(ld, node, YAML_SEQUENCE_NODE, path, "a list of { match, name }"))
		return;
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
		char item_path[CFG_PATH_MAX];
		snprintf(item_path, sizeof(item_path), "%s[%td]", path, it - node->data.sequence.items.start);
		yaml_node_t *item = cfg_node(ld, *it);
		struct config_app_group group = { 0 };
		size_t mark_scope = ld->nmarks;
		bool ok = cfg_apply_item(ld, &cfg_group_section, &group, item, item_path);
		if (item->type == YAML_MAPPING_NODE) {
			cfg_require(ld, &group.match, item, item_path, "match", " (a glob)");
			cfg_require(ld, &group.name, item, item_path, "name", name_hint);
		}
		ok = ok && group.match && group.name;
		ld->nmarks = mark_scope; /* the marks point into this stack struct */
		if (!ok) {
			free(group.match);
			free(group.name);
			continue;
		}
		*groups = cfg_xrealloc(*groups, (*ngroups + 1) * sizeof(group));
		(*groups)[(*ngroups)++] = group;
	}
}

static void cfg_apply_groups(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			     const char *path)
{
	struct config *cfg = base;
	(void)key;
	cfg_apply_group_list(ld, node, path, &cfg->apps.groups, &cfg->apps.ngroups, " (the app tag)");
}

static void cfg_apply_cgroup_groups(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
				    const char *path)
{
	struct config *cfg = base;
	(void)key;
	cfg_apply_group_list(ld, node, path, &cfg->cgroups.groups, &cfg->cgroups.ngroups, " (the cgroup tag)");
}

/* A port -> name map (network.service_names), merged port by port; the limit keeps merging linear. */
#define CFG_PORT_NAMES_MAX 1024

static void cfg_apply_port_names(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
				 const char *path)
{
	struct config_port_names *names = cfg_field(base, key);
	if (cfg_node_is_null(node) || !cfg_expect_kind(ld, node, YAML_MAPPING_NODE, path, "a map of port to name"))
		return;
	for (yaml_node_pair_t *pair = node->data.mapping.pairs.start; pair < node->data.mapping.pairs.top; pair++) {
		char entry_path[CFG_PATH_MAX];
		const char *port_text = cfg_pair_key(ld, node, pair, path, entry_path, sizeof(entry_path));
		if (!port_text)
			continue;
		uint64_t port;
		if (!cfg_parse_u64(port_text, &port) || port < 1 || port > 65535) {
			cfg_error(ld, cfg_node(ld, pair->key), "%s: expected a port number from 1 to 65535, got \"%s\"",
				  path, port_text);
			continue;
		}
		yaml_node_t *value = cfg_node(ld, pair->value);
		char *name = cfg_scalar_text(ld, value, entry_path, "a service name");
		if (!name)
			continue;
		if (!*name || !cfg_tag_key_is_valid(name)) {
			cfg_error(ld, value, "%s: a service name may only use letters, digits, '_' and '-', got \"%s\"",
				  entry_path, name);
			free(name);
			continue;
		}
		size_t i = 0;
		while (i < names->len && names->items[i].port != port)
			i++;
		if (i == names->len && i >= CFG_PORT_NAMES_MAX) {
			cfg_error(ld, cfg_node(ld, pair->key), "%s: more than %d service names", path, CFG_PORT_NAMES_MAX);
			free(name);
			return;
		}
		if (i == names->len) {
			names->items = cfg_xrealloc(names->items, (i + 1) * sizeof(*names->items));
			names->items[names->len++] = (struct config_service_name){ (uint16_t)port, NULL };
		}
		free(names->items[i].name);
		names->items[i].name = name;
	}
}

static void cfg_apply_address(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			      const char *path)
{
	struct config_sink *sink = base;
	(void)key;
	/* Marked even when invalid, so the sink check does not also say it is missing. */
	cfg_mark_field(ld, &sink->address, node);
	char *text = cfg_scalar_text(ld, node, path, "an address such as udp://127.0.0.1:8125");
	if (!text)
		return;
	struct config_address parsed;
	const char *why = NULL;
	if (config_parse_address(text, &parsed, &why) == 0) {
		config_address_free(&sink->address);
		sink->address = parsed;
	} else {
		cfg_error(ld, node, "%s: %s, got \"%s\"", path, why, text);
	}
	free(text);
}

/* ------------------------------------------------------------------ */
/* Sinks                                                                */

static void cfg_sink_free(struct config_sink *s)
{
	free(s->name);
	config_address_free(&s->address);
	free(s->prefix);
	for (size_t i = 0; i < s->tags.len; i++) {
		free(s->tags.items[i].key);
		free(s->tags.items[i].value);
	}
	free(s->tags.items);
	cfg_free_string_list(s->include, s->ninclude);
	cfg_free_string_list(s->exclude, s->nexclude);
	free(s->ca_file);
	free(s->cert_file);
	free(s->key_file);
	free(s->server_name);
	free(s->file);
}

static bool cfg_sink_type_takes_transport(enum sink_type type, enum transport transport)
{
	switch (transport) {
	case TRANSPORT_UNIX:
		return type == SINK_STATSD || type == SINK_DOGSTATSD;
	case TRANSPORT_TLS:
		return type == SINK_GRAPHITE || type == SINK_GRAPHITE_TAGGED;
	default:
		return true;
	}
}

static void cfg_sink_check_address(struct cfg_loader *ld, struct config_sink *s, yaml_node_t *item,
				   const char *path)
{
	const struct cfg_mark *at = cfg_mark_of(ld, &s->address);
	const char *type = config_sink_type_name(s->type);
	if (s->type == SINK_STDOUT) {
		if (at)
			cfg_error_at(ld, *at, "%s.address: a stdout sink writes to standard output and takes no address",
				     path);
		return;
	}
	if (!at) {
		cfg_error(ld, item, "%s: missing required key \"address\" (e.g. udp://127.0.0.1:8125)", path);
		return;
	}
	if (s->address.transport == TRANSPORT_UNIX && !cfg_sink_type_takes_transport(s->type, TRANSPORT_UNIX))
		cfg_error_at(ld, *at, "%s.address: unix:// is only for statsd and dogstatsd sinks, not %s", path, type);
	else if (s->address.transport == TRANSPORT_TLS && !cfg_sink_type_takes_transport(s->type, TRANSPORT_TLS))
		cfg_error_at(ld, *at, "%s.address: tls:// is only for graphite and graphite-tagged sinks, not %s", path,
			     type);
}

static void cfg_sink_check_tls_keys(struct cfg_loader *ld, struct config_sink *s, yaml_node_t *item, const char *path)
{
	const struct {
		const char *name;
		char **field;
	} keys[] = {
		{ "ca_file", &s->ca_file }, { "cert_file", &s->cert_file },
		{ "key_file", &s->key_file }, { "server_name", &s->server_name },
	};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct cfg_mark *at = cfg_mark_of(ld, keys[i].field);
		if (at && s->address.transport != TRANSPORT_TLS)
			cfg_error_at(ld, *at, "%s.%s: only tls:// addresses use %s", path, keys[i].name, keys[i].name);
	}
	if (s->address.transport == TRANSPORT_TLS && !s->cert_file != !s->key_file) {
		const struct cfg_mark *at = cfg_mark_of(ld, s->cert_file ? (void *)&s->cert_file : (void *)&s->key_file);
		cfg_error_at(ld, at ? *at : cfg_node_mark(ld, item),
			     "%s: cert_file and key_file go together: give both or neither", path);
	}
}

/* Cross-key rules and the defaults that depend on other keys. */
static void cfg_sink_finish(struct cfg_loader *ld, struct config_sink *s, yaml_node_t *item, const char *path)
{
	cfg_require(ld, &s->name, item, path, "name", "");
	if (!cfg_mark_of(ld, &s->type)) {
		cfg_error(ld, item, "%s: missing required key \"type\" (statsd, dogstatsd, graphite, graphite-tagged or stdout)",
			  path);
		return;
	}
	cfg_sink_check_address(ld, s, item, path);
	const struct cfg_mark *format_at = cfg_mark_of(ld, &s->format);
	if (s->type != SINK_STDOUT) {
		if (format_at)
			cfg_error_at(ld, *format_at, "%s.format: only stdout sinks take a format (a %s sink sends %s)",
				     path, config_sink_type_name(s->type), config_sink_type_name(s->type));
		s->format = s->type;
	} else if (!format_at) {
		s->format = SINK_STATSD;
	}
	cfg_sink_check_tls_keys(ld, s, item, path);
	if (s->reconnect_min_ms > s->reconnect_max_ms) {
		const struct cfg_mark *at = cfg_mark_of(ld, &s->reconnect_min_ms);
		if (!at)
			at = cfg_mark_of(ld, &s->reconnect_max_ms);
		cfg_error_at(ld, at ? *at : cfg_node_mark(ld, item), "%s: reconnect_min must not be larger than reconnect_max", path);
	}
	if (!s->prefix)
		s->prefix = cfg_xstrdup(s->format == SINK_DOGSTATSD ? "bpfpush" : "bpfpush.{hostname}"); /* by encoding: stdout too */
	if (!cfg_mark_of(ld, &s->max_packet))
		s->max_packet = s->address.transport == TRANSPORT_UDP ? 1432 : 8192;
	/* A statsd server fills zeros for counters it has seen; carbon cannot tell 0 from missing. */
	if (!cfg_mark_of(ld, &s->send_zeros))
		s->send_zeros = s->format == SINK_GRAPHITE || s->format == SINK_GRAPHITE_TAGGED;
	s->file = cfg_xstrdup(ld->file);
	s->line = (int)item->start_mark.line + 1;
}

/* A sink named like an earlier one (from an earlier file) replaces it in place. */
static void cfg_store_sink(struct config *cfg, struct config_sink *s)
{
	for (size_t i = 0; i < cfg->nsinks; i++) {
		if (strcmp(cfg->sinks[i].name, s->name) == 0) {
			cfg_sink_free(&cfg->sinks[i]);
			cfg->sinks[i] = *s;
			return;
		}
	}
	cfg->sinks = cfg_xrealloc(cfg->sinks, (cfg->nsinks + 1) * sizeof(*cfg->sinks));
	cfg->sinks[cfg->nsinks++] = *s;
}

static bool cfg_name_is_listed(char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static void cfg_apply_sinks(struct cfg_loader *ld, const struct cfg_key *key, void *base, yaml_node_t *node,
			    const char *path)
{
	(void)key;
	if (cfg_node_is_null(node) || !cfg_expect_kind(ld, node, YAML_SEQUENCE_NODE, path, "a list of sinks"))
		return;
	/* Within one document names must be unique; across files a name replaces. */
	char **names = NULL;
	size_t nnames = 0;
	for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
		char item_path[CFG_PATH_MAX];
		snprintf(item_path, sizeof(item_path), "%s[%td]", path, it - node->data.sequence.items.start);
		yaml_node_t *item = cfg_node(ld, *it);
		struct config_sink sink = { 0 };
		size_t errors_before = cfg_error_count(ld->errs);
		size_t mark_scope = ld->nmarks;
		cfg_apply_item(ld, &cfg_sink_section, &sink, item, item_path);
		if (item->type == YAML_MAPPING_NODE)
			cfg_sink_finish(ld, &sink, item, item_path);
		if (sink.name) {
			if (cfg_name_is_listed(names, nnames, sink.name))
				cfg_error(ld, item, "%s: duplicate sink name \"%s\" in this file", item_path, sink.name);
			names = cfg_xrealloc(names, (nnames + 1) * sizeof(*names));
			names[nnames++] = cfg_xstrdup(sink.name);
		}
		ld->nmarks = mark_scope; /* the marks point into this stack struct */
		if (cfg_error_count(ld->errs) != errors_before) {
			cfg_sink_free(&sink);
			continue;
		}
		cfg_store_sink(base, &sink);
		if (((struct config *)base)->nsinks == CONFIG_MAX_SINKS + 1)
			cfg_error(ld, item, "%s: more than %d sinks: each one encodes every flush again", item_path,
				  CONFIG_MAX_SINKS);
	}
	cfg_free_string_list(names, nnames);
}

/* ------------------------------------------------------------------ */
/* Files                                                                */

/* Files as the error messages name them. */
static const char *cfg_file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* Root, or the user the agent runs as (effective or real): the owners whose files it may trust. */
static bool cfg_owner_is_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid() || uid == getuid();
}

/*
 * As root, why st (a file, or a directory on its path) lets someone else decide
 * what the agent reads, or NULL. A directory others may write is fine with the
 * sticky bit (/tmp): then only an entry's owner may replace it.
 */
static const char *cfg_untrusted_why(const struct stat *st, bool on_path, char *buf, size_t cap)
{
	if (!cfg_owner_is_trusted(st->st_uid)) {
		snprintf(buf, cap, "owned by uid %u, not root or the agent's user", (unsigned)st->st_uid);
		return buf;
	}
	if (!(st->st_mode & (S_IWGRP | S_IWOTH)))
		return NULL;
	if (on_path && (st->st_mode & S_ISVTX))
		return NULL;
	return on_path ? "writable by group or others, without the sticky bit" : "writable by group or others";
}

/*
 * Running as root, a file others can write (or own, or replace through a
 * directory on its path) is a way to run BPF as root: refuse it, like sshd's
 * StrictModes. One line names the path that failed and why.
 */
static bool cfg_file_is_trusted(struct cfg_loader *ld, const char *file, int fd, bool is_dir)
{
	struct stat st;
	struct cfg_mark at = { file, 0, 0 };
	if (fstat(fd, &st) != 0) {
		cfg_error_at(ld, at, "cannot stat: %s", strerror(errno));
		return false;
	}
	if (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
		cfg_error_at(ld, at, "refusing to read: %s, not a %s", cfg_file_kind(st.st_mode),
			     is_dir ? "directory" : "regular file");
		return false;
	}
	if (geteuid() != 0)
		return true;
	char buf[96];
	const char *why = cfg_untrusted_why(&st, false, buf, sizeof(buf));
	if (why) {
		if (st.st_mode & (S_IWGRP | S_IWOTH) && cfg_owner_is_trusted(st.st_uid))
			cfg_error_at(ld, at, "refusing to read: %s while bpfpush runs as root (chmod go-w %s)", why, file);
		else
			cfg_error_at(ld, at, "refusing to read: %s, while bpfpush runs as root (chown root %s)", why, file);
		return false;
	}
	/* Every directory above it, up to /. */
	char real[PATH_MAX];
	if (!realpath(file, real)) {
		cfg_error_at(ld, at, "cannot resolve its path: %s", strerror(errno));
		return false;
	}
	for (char *slash = strrchr(real, '/'); slash; slash = strrchr(real, '/')) {
		if (slash == real)
			slash[1] = '\0'; /* "/" itself, last */
		else
			*slash = '\0';
		if (stat(real, &st) != 0) {
			cfg_error_at(ld, at, "cannot stat directory %s: %s", real, strerror(errno));
			return false;
		}
		why = cfg_untrusted_why(&st, true, buf, sizeof(buf));
		if (why) {
			cfg_error_at(ld, at, "refusing to read: directory %s is %s, while bpfpush runs as root", real, why);
			return false;
		}
		if (slash == real)
			break;
	}
	return true;
}

/* Opens a file to read without blocking on what is not a regular file (a FIFO), or -1 with errno. */
static int cfg_open_nonblocking(const char *path, bool is_dir)
{
	return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (is_dir ? O_DIRECTORY : 0));
}

static void cfg_report_syntax_error(struct cfg_loader *ld, const yaml_parser_t *parser)
{
	struct cfg_mark at = { ld->file, (int)parser->problem_mark.line + 1, (int)parser->problem_mark.column + 1 };
	const char *problem = parser->problem ? parser->problem : "cannot parse";
	if (parser->context)
		cfg_error_at(ld, at, "syntax error: %s (%s at line %d)", problem, parser->context,
			     (int)parser->context_mark.line + 1);
	else
		cfg_error_at(ld, at, "syntax error: %s", problem);
}

/*
 * Limits on what one file may hold: past them the file is refused at the
 * place it crossed the line. libyaml's scanner does work proportional to the
 * flow nesting for every token, and aliases multiply what is applied.
 */
#define CFG_MAX_DEPTH 32
#define CFG_MAX_ALIASES 1000
#define CFG_MAX_ANCHORS 1000
#define CFG_FILE_MAX_BYTES (4u << 20)

struct cfg_compose_level {
	int node;
	int key; /* a mapping's key waiting for its value, 0 when none */
};

struct cfg_anchor {
	char *name;
	int node;
};

struct cfg_composer {
	struct cfg_compose_level stack[CFG_MAX_DEPTH];
	int depth;
	struct cfg_anchor anchors[CFG_MAX_ANCHORS];
	int nanchors;
	int naliases;
};

static void cfg_compose_attach(yaml_document_t *doc, struct cfg_composer *c, int node)
{
	if (!c->depth)
		return; /* the root: the document's first node */
	struct cfg_compose_level *top = &c->stack[c->depth - 1];
	if (yaml_document_get_node(doc, top->node)->type == YAML_SEQUENCE_NODE) {
		if (!yaml_document_append_sequence_item(doc, top->node, node))
			abort();
	} else if (!top->key) {
		top->key = node;
	} else {
		if (!yaml_document_append_mapping_pair(doc, top->node, top->key, node))
			abort();
		top->key = 0;
	}
}

static void cfg_compose_mark(yaml_document_t *doc, int node, const yaml_event_t *ev)
{
	yaml_node_t *n = yaml_document_get_node(doc, node);
	n->start_mark = ev->start_mark;
	n->end_mark = ev->end_mark;
}

/* Returns false (error reported) when the anchor cannot be kept. */
static bool cfg_compose_anchor(struct cfg_loader *ld, struct cfg_composer *c, const yaml_char_t *anchor, int node,
			       const yaml_event_t *ev)
{
	if (!anchor)
		return true;
	if (c->nanchors == CFG_MAX_ANCHORS) {
		struct cfg_mark at = { ld->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1 };
		cfg_error_at(ld, at, "more than %d anchors in one file", CFG_MAX_ANCHORS);
		return false;
	}
	c->anchors[c->nanchors++] = (struct cfg_anchor){ cfg_xstrdup((const char *)anchor), node };
	return true;
}

/* The node an alias names, or 0 (error reported). */
static int cfg_compose_alias(struct cfg_loader *ld, struct cfg_composer *c, const yaml_event_t *ev)
{
	struct cfg_mark at = { ld->file, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1 };
	if (++c->naliases > CFG_MAX_ALIASES) {
		cfg_error_at(ld, at, "more than %d aliases in one file", CFG_MAX_ALIASES);
		return 0;
	}
	const char *name = (const char *)ev->data.alias.anchor;
	for (int i = c->nanchors; i-- > 0;) { /* the latest anchor of that name */
		if (strcmp(c->anchors[i].name, name) != 0)
			continue;
		for (int d = 0; d < c->depth; d++)
			if (c->stack[d].node == c->anchors[i].node) {
				cfg_error_at(ld, at, "alias *%.64s refers to a node that contains it", name);
				return 0;
			}
		return c->anchors[i].node;
	}
	cfg_error_at(ld, at, "alias *%.64s names no earlier anchor", name);
	return 0;
}

/*
 * libyaml's events into a document like yaml_parser_load() makes, with the
 * limits above checked as they come: a deep or huge file stops at the line
 * that crossed them. Returns 1 with *doc filled, 0 at the end of the stream,
 * -1 after an error (reported).
 */
static int cfg_compose(struct cfg_loader *ld, yaml_parser_t *parser, yaml_document_t *doc)
{
	struct cfg_composer *c = cfg_xcalloc(1, sizeof(*c));
	bool started = false;
	int rc = -1;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(parser, &ev)) {
			cfg_report_syntax_error(ld, parser);
			break;
		}
		int node = 0;
		bool done = false, failed = false;
		struct cfg_mark at = { ld->file, (int)ev.start_mark.line + 1, (int)ev.start_mark.column + 1 };
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			rc = 0;
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (!yaml_document_initialize(doc, NULL, NULL, NULL, 1, 1))
				abort();
			started = true;
			break;
		case YAML_DOCUMENT_END_EVENT:
			rc = 1;
			done = true;
			break;
		case YAML_SCALAR_EVENT:
			node = yaml_document_add_scalar(doc, ev.data.scalar.tag, ev.data.scalar.value,
							(int)ev.data.scalar.length, ev.data.scalar.style);
			failed = !cfg_compose_anchor(ld, c, ev.data.scalar.anchor, node, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (c->depth == CFG_MAX_DEPTH) {
				cfg_error_at(ld, at, "nested deeper than %d levels", CFG_MAX_DEPTH);
				failed = true;
				break;
			}
			node = ev.type == YAML_SEQUENCE_START_EVENT
				       ? yaml_document_add_sequence(doc, ev.data.sequence_start.tag,
								    ev.data.sequence_start.style)
				       : yaml_document_add_mapping(doc, ev.data.mapping_start.tag,
								   ev.data.mapping_start.style);
			failed = !cfg_compose_anchor(ld, c,
						     ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor
											  : ev.data.mapping_start.anchor,
						     node, &ev);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			c->depth--;
			break;
		case YAML_ALIAS_EVENT:
			failed = !(node = cfg_compose_alias(ld, c, &ev));
			if (!failed) {
				cfg_compose_attach(doc, c, node);
				node = 0;
			}
			break;
		default:
			break;
		}
		if (node) {
			cfg_compose_mark(doc, node, &ev);
			cfg_compose_attach(doc, c, node);
			if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
				c->stack[c->depth++] = (struct cfg_compose_level){ node, 0 };
		} else if (!failed && (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
				       ev.type == YAML_MAPPING_START_EVENT)) {
			abort(); /* out of memory in libyaml */
		}
		yaml_event_delete(&ev);
		if (failed) {
			rc = -1;
			break;
		}
		if (done)
			break;
	}
	if (rc != 1 && started)
		yaml_document_delete(doc);
	for (int i = 0; i < c->nanchors; i++)
		free(c->anchors[i].name);
	free(c);
	return rc;
}

static void cfg_apply_document(struct cfg_loader *ld, yaml_parser_t *parser)
{
	yaml_document_t doc;
	int rc = cfg_compose(ld, parser, &doc);
	if (rc <= 0)
		return;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (root) {
		ld->doc = &doc;
		cfg_find_dups(ld, &doc);
		cfg_apply_section(ld, &cfg_root_section, ld->cfg, root, "");
		ld->doc = NULL;
		free(ld->dups);
		ld->dups = NULL;
		ld->ndups = 0;
	}
	yaml_document_delete(&doc);

	/* A second document would be silently ignored: say so instead. */
	rc = cfg_compose(ld, parser, &doc);
	if (rc <= 0)
		return;
	root = yaml_document_get_root_node(&doc);
	if (root) {
		struct cfg_mark at = { ld->file, (int)root->start_mark.line + 1, (int)root->start_mark.column + 1 };
		cfg_error_at(ld, at, "only one YAML document per file: use conf.d/*.yaml for more");
	}
	yaml_document_delete(&doc);
}

/* Returns false when the file could not be read at all. */
static bool cfg_load_file(struct cfg_loader *ld, const char *path)
{
	const char *file = cfg_loader_keep_file(ld, path);
	int fd = cfg_open_nonblocking(path, false);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
	if (!f) {
		struct cfg_mark at = { file, 0, 0 };
		cfg_error_at(ld, at, "cannot open: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return false;
	}
	struct stat st;
	if (!cfg_file_is_trusted(ld, file, fd, false)) {
		fclose(f);
		return false;
	}
	if (fstat(fd, &st) == 0 && st.st_size > (off_t)CFG_FILE_MAX_BYTES) {
		struct cfg_mark at = { file, 0, 0 };
		cfg_error_at(ld, at, "refusing to read: larger than %u MiB", CFG_FILE_MAX_BYTES >> 20);
		fclose(f);
		return false;
	}
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_file(&parser, f);
	ld->file = file;
	cfg_apply_document(ld, &parser);
	yaml_parser_delete(&parser);
	fclose(f);
	return true;
}

static int cfg_compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool cfg_is_conf_d_name(const char *name)
{
	size_t len = strlen(name);
	return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".yaml") == 0;
}

static char *cfg_conf_d_path(const char *main_path)
{
	const char *slash = strrchr(main_path, '/');
	char *dir;
	if (!slash)
		dir = cfg_xstrdup("conf.d");
	else if (asprintf(&dir, "%.*sconf.d", (int)(slash - main_path + 1), main_path) < 0)
		abort();
	return dir;
}

static void cfg_load_conf_d(struct cfg_loader *ld, const char *main_path)
{
	char *dir_path = cfg_conf_d_path(main_path);
	int dir_fd = cfg_open_nonblocking(dir_path, true);
	DIR *dir = dir_fd < 0 ? NULL : fdopendir(dir_fd);
	if (!dir) {
		if (dir_fd >= 0)
			close(dir_fd);
		if (errno != ENOENT) {
			struct cfg_mark at = { cfg_loader_keep_file(ld, dir_path), 0, 0 };
			cfg_error_at(ld, at, "cannot open: %s", strerror(errno));
		}
		free(dir_path);
		return;
	}
	char **names = NULL;
	size_t nnames = 0;
	if (cfg_file_is_trusted(ld, cfg_loader_keep_file(ld, dir_path), dirfd(dir), true)) {
		for (struct dirent *e = readdir(dir); e; e = readdir(dir)) {
			if (!cfg_is_conf_d_name(e->d_name))
				continue;
			names = cfg_xrealloc(names, (nnames + 1) * sizeof(*names));
			names[nnames++] = cfg_xstrdup(e->d_name);
		}
	}
	closedir(dir);
	if (nnames > 1) /* qsort of a NULL array, even of 0 items, is undefined */
		qsort(names, nnames, sizeof(*names), cfg_compare_names);
	for (size_t i = 0; i < nnames; i++) {
		char *path;
		if (asprintf(&path, "%s/%s", dir_path, names[i]) < 0)
			abort();
		cfg_load_file(ld, path);
		free(path);
	}
	cfg_free_string_list(names, nnames);
	free(dir_path);
}

/* Where a module's key was set: its value's mark, else the main file. */
static struct cfg_mark cfg_mark_or(const struct cfg_loader *ld, const void *field, const char *main_file)
{
	const struct cfg_mark *at = cfg_mark_of(ld, field);
	return at ? *at : (struct cfg_mark){ main_file, 0, 0 };
}

static void cfg_tier_list(unsigned tiers, char *out, size_t cap)
{
	size_t len = 0;
	out[0] = '\0';
	for (int t = ATTACH_FENTRY; t < ATTACH_TIER_COUNT && len < cap; t++)
		if (tiers & (1u << t))
			len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", cfg_attach_words[t]);
	if (!out[0])
		snprintf(out, cap, "none");
}

/* Two enabled modules that watch a common syscall: one hook, so one value of each key (attach_keys.h). */
static void cfg_check_shared_key(struct cfg_loader *ld, const char *main_file, module_id_t a, module_id_t b,
				 enum syscall_id row, enum attach_key which)
{
	const struct config_module *ma = &ld->cfg->modules[a], *mb = &ld->cfg->modules[b];
	const int *va = which == ATTACH_KEY_ATTACH ? (const int *)&ma->attach : (const int *)&ma->syscall_layer;
	const int *vb = which == ATTACH_KEY_ATTACH ? (const int *)&mb->attach : (const int *)&mb->syscall_layer;
	if (!*va || !*vb || *va == *vb)
		return;
	const char *const *words = which == ATTACH_KEY_ATTACH ? cfg_attach_words : cfg_syscall_layer_words;
	const char *key = which == ATTACH_KEY_ATTACH ? "attach" : "syscall_layer";
	struct cfg_mark first = cfg_mark_or(ld, va, main_file);
	cfg_error_at(ld, cfg_mark_or(ld, vb, main_file),
		     "modules.%s.%s: %s conflicts with modules.%s.%s: %s (%s:%d:%d): both watch %s(2), which the "
		     "syscall layer hooks once for every module; set the same value or leave one auto",
		     module_registry_get(b)->name, key, words[*vb], module_registry_get(a)->name, key, words[*va],
		     first.file, first.line, first.col, syscall_name(row));
}

/*
 * attach and syscall_layer per module (the rule: agent/kernel/attach_keys.h):
 * a value that cannot apply, or that another module watching the same
 * syscall contradicts, is refused rather than silently decided elsewhere.
 */
static void cfg_validate_attach_keys(struct cfg_loader *ld, const char *main_file)
{
	struct config *cfg = ld->cfg;
	for (module_id_t id = 0; id < module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get(id);
		const struct config_module *m = &cfg->modules[id];
		if (ops->top_level_section)
			continue; /* apps: its attach has every tier, and it takes no syscall_layer */
		if (m->syscall_layer != SYSCALL_LAYER_AUTO && !attach_keys_layer_applies(ops)) {
			cfg_error_at(ld, cfg_mark_or(ld, &m->syscall_layer, main_file),
				     "modules.%s.syscall_layer: %s cannot apply: %s has no syscall events (leave it auto)",
				     ops->name, cfg_syscall_layer_words[m->syscall_layer], ops->name);
			continue;
		}
		/* Another module's syscall_layer first: it, not this module's, leaves the tier out. */
		module_id_t by = 0;
		enum syscall_id row = m->attach == ATTACH_AUTO || !m->enabled
					      ? SYS_NONE
					      : attach_keys_narrowed_elsewhere(cfg, id, m->attach, &by);
		if (row != SYS_NONE) {
			const struct config_module *other = &cfg->modules[by];
			struct cfg_mark at = cfg_mark_or(ld, &other->syscall_layer, main_file);
			cfg_error_at(ld, cfg_mark_or(ld, &m->attach, main_file),
				     "modules.%s.attach: %s cannot apply to %s(2): modules.%s.syscall_layer: %s (%s:%d:%d) "
				     "decides how the syscall layer hooks it for every module; make them agree or leave one auto",
				     ops->name, cfg_attach_words[m->attach], syscall_name(row), module_registry_get(by)->name,
				     cfg_syscall_layer_words[other->syscall_layer], at.file, at.line, at.col);
			continue;
		}
		unsigned tiers = attach_keys_tiers(cfg, id);
		if (m->attach != ATTACH_AUTO && !(tiers & (1u << m->attach))) {
			char list[96];
			cfg_tier_list(tiers, list, sizeof(list));
			enum syscall_layer layer = config_module_syscall_layer(cfg, id);
			char under[64] = "";
			if (layer != SYSCALL_LAYER_AUTO)
				snprintf(under, sizeof(under), " under syscall_layer %s", cfg_syscall_layer_words[layer]);
			cfg_error_at(ld, cfg_mark_or(ld, &m->attach, main_file),
				     "modules.%s.attach: %s cannot apply: %s's events attach with %s%s", ops->name,
				     cfg_attach_words[m->attach], ops->name, list, under);
		}
	}
	for (module_id_t a = 0; a < module_registry_count(); a++)
		for (module_id_t b = a + 1; b < module_registry_count(); b++) {
			if (!cfg->modules[a].enabled || !cfg->modules[b].enabled || module_registry_get(a)->top_level_section ||
			    module_registry_get(b)->top_level_section)
				continue;
			enum syscall_id row = attach_keys_shared_syscall(module_registry_get(a), module_registry_get(b));
			if (row == SYS_NONE)
				continue;
			cfg_check_shared_key(ld, main_file, a, b, row, ATTACH_KEY_ATTACH);
			cfg_check_shared_key(ld, main_file, a, b, row, ATTACH_KEY_SYSCALL_LAYER);
		}
}

/* Rules that only hold once every file is merged. */
static void cfg_validate_merged(struct cfg_loader *ld, const char *main_file, bool check_sinks)
{
	struct config *cfg = ld->cfg;
	char global_text[32];
	cfg_format_ms(cfg->global.interval_ms, global_text, sizeof(global_text));
	for (module_id_t id = 0; id < module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get(id);
		struct config_module *m = &cfg->modules[id];
		const void *interval_field = &m->interval_ms;
		if (ops->top_level_section) {
			/*
			 * The apps module runs when apps or cgroups is on (cgroup.* is its
			 * data grouped again); its section is apps.
			 */
			m->enabled = cfg->apps.enabled || cfg->cgroups.enabled;
			m->interval_ms = cfg->apps.interval_ms;
			m->attach = cfg->apps.attach;
			interval_field = &cfg->apps.interval_ms;
		}
		uint64_t ms = m->interval_ms;
		if (ms == 0 || ms % cfg->global.interval_ms == 0)
			continue;
		const struct cfg_mark *at = cfg_mark_of(ld, interval_field);
		struct cfg_mark nowhere = { main_file, 0, 0 };
		char text[32];
		cfg_format_ms(ms, text, sizeof(text));
		cfg_error_at(ld, at ? *at : nowhere, "%s%s.interval: %s is not a multiple of global.interval (%s)",
			     ops->top_level_section ? "" : "modules.", ops->name, text, global_text);
	}
	cfg_validate_attach_keys(ld, main_file);
	if (check_sinks && cfg->nsinks == 0) {
		struct cfg_mark at = { main_file, 0, 0 };
		cfg_error_at(ld, at, "no sink configured: add one under \"sinks\", e.g. "
				     "{ name: statsd, type: statsd, address: \"udp://127.0.0.1:8125\" }");
	}
}

int config_load(const char *path, struct config **out, struct config_errors *errs)
{
	*out = NULL;
	struct config *cfg = cfg_xcalloc(1, sizeof(*cfg));
	struct cfg_loader ld = { .cfg = cfg, .errs = errs };
	size_t errors_before = cfg_error_count(errs);
	cfg->path = cfg_xstrdup(path);
	ld.file = CFG_DEFAULTS_FILE;
	cfg_apply_defaults(&ld, &cfg_root_section, cfg, "");
	cfg_apply_module_defaults(&ld);
	if (cfg_load_file(&ld, path))
		cfg_load_conf_d(&ld, path);
	/* "No sink" after another error is usually that error's echo: say it only alone. */
	cfg_validate_merged(&ld, ld.files[0], cfg_error_count(errs) == errors_before);
	cfg_loader_release(&ld);
	if (cfg_error_count(errs) != errors_before) {
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

const struct config *config_ref(const struct config *cfg)
{
	/* The count is the one mutable field of a loaded config, owned by its holders together. */
	if (cfg)
		((struct config *)cfg)->refs++;
	return cfg;
}

void config_free(const struct config *held)
{
	struct config *cfg = (struct config *)held;
	if (!cfg)
		return;
	if (cfg->refs) {
		cfg->refs--;
		return;
	}
	free(cfg->global.hostname);
	config_tags_free(&cfg->global.tags);
	for (size_t i = 0; i < cfg->apps.ngroups; i++) {
		free(cfg->apps.groups[i].match);
		free(cfg->apps.groups[i].name);
	}
	free(cfg->apps.groups);
	for (size_t i = 0; i < cfg->cgroups.ngroups; i++) {
		free(cfg->cgroups.groups[i].match);
		free(cfg->cgroups.groups[i].name);
	}
	free(cfg->cgroups.groups);
	for (module_id_t id = 0; id < module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get(id);
		if (!cfg->modules[id].opts)
			continue;
		struct cfg_section own = { ops->keys, ops->nkeys };
		config_section_free(&own, cfg->modules[id].opts);
		free(cfg->modules[id].opts);
	}
	for (size_t i = 0; i < cfg->nsinks; i++)
		cfg_sink_free(&cfg->sinks[i]);
	free(cfg->sinks);
	free(cfg->path);
	free(cfg);
}

/* ------------------------------------------------------------------ */
/* Helpers and the schema                                               */

const char *config_attach_tier_name(enum attach_tier tier)
{
	return (unsigned)tier < ATTACH_TIER_COUNT ? cfg_attach_words[tier] : "unknown";
}

const char *config_sink_type_name(enum sink_type type)
{
	return (unsigned)type <= SINK_STDOUT ? cfg_sink_type_words[type] : "unknown";
}

uint64_t config_module_interval_ms(const struct config *cfg, module_id_t id)
{
	uint64_t ms = cfg->modules[id].interval_ms;
	return ms ? ms : cfg->global.interval_ms;
}

enum attach_tier config_module_attach(const struct config *cfg, module_id_t id)
{
	enum attach_tier tier = cfg->modules[id].attach;
	return tier != ATTACH_AUTO ? tier : cfg->global.attach;
}

enum syscall_layer config_module_syscall_layer(const struct config *cfg, module_id_t id)
{
	enum syscall_layer layer = cfg->modules[id].syscall_layer;
	return layer != SYSCALL_LAYER_AUTO ? layer : cfg->global.syscall_layer;
}

static const char *cfg_type_name(const struct cfg_key *key)
{
	switch (key->type) {
	case CFG_SECTION:
		return "map";
	case CFG_BOOL:
		return "bool";
	case CFG_DURATION_MS:
	case CFG_DURATION_US:
		return "duration";
	case CFG_UINT32:
		return "integer";
	case CFG_STRING:
		return "string";
	case CFG_ENUM:
		return "enum";
	case CFG_TAGS:
	case CFG_PORT_NAMES:
		return "map";
	case CFG_CUSTOM:
		return key->what;
	}
	return "?";
}

static void cfg_walk_modules(const char *path, void (*visit)(const struct config_schema_key *key, void *arg),
			     void *arg);

static void cfg_walk_section(const struct cfg_section *sec, const char *path,
			     void (*visit)(const struct config_schema_key *key, void *arg), void *arg)
{
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *key = &sec->keys[i];
		char key_path[CFG_PATH_MAX];
		cfg_path_join(key_path, sizeof(key_path), path, key->name);
		if (key->type == CFG_SECTION) {
			cfg_walk_section(key->section, key_path, visit, arg);
			continue;
		}
		if (key->apply == cfg_apply_modules) {
			cfg_walk_modules(key_path, visit, arg);
			continue;
		}
		struct config_schema_key info = { key_path, cfg_type_name(key), key->def, key->help };
		visit(&info, arg);
		if (key->type == CFG_CUSTOM && key->section) {
			char item_path[CFG_PATH_MAX + 2];
			snprintf(item_path, sizeof(item_path), "%s[]", key_path);
			cfg_walk_section(key->section, item_path, visit, arg);
		}
	}
}

void config_schema_walk(void (*visit)(const struct config_schema_key *key, void *arg), void *arg)
{
	cfg_walk_section(&cfg_root_section, "", visit, arg);
}

static void cfg_walk_modules(const char *path, void (*visit)(const struct config_schema_key *key, void *arg),
			     void *arg)
{
	for (module_id_t id = 0; id < module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get(id);
		if (ops->top_level_section)
			continue;
		char module_path[CFG_PATH_MAX], enabled_path[CFG_PATH_MAX + 16];
		cfg_path_join(module_path, sizeof(module_path), path, ops->name);
		/* enabled's default is the module's */
		const struct cfg_key *enabled = &cfg_common_module_keys[0];
		snprintf(enabled_path, sizeof(enabled_path), "%s.%s", module_path, enabled->name);
		struct config_schema_key info = { enabled_path, cfg_type_name(enabled), ops->enabled_by_default ? "true" : "false",
						  enabled->help };
		visit(&info, arg);
		struct cfg_section rest = { cfg_common_module_keys + 1, cfg_common_module_section.nkeys - 1 };
		cfg_walk_section(&rest, module_path, visit, arg);
		struct cfg_section own = { ops->keys, ops->nkeys };
		cfg_walk_section(&own, module_path, visit, arg);
	}
}

const void *config_module_opts(const struct config *cfg, module_id_t id)
{
	return id < MODULE_MAX ? cfg->modules[id].opts : NULL;
}

bool config_module_enabled(const struct config *cfg, const char *name)
{
	int id = module_registry_find(name);
	return id >= 0 && cfg->modules[id].enabled;
}

const void *config_field(const struct config *cfg, const char *path)
{
	static const char modules[] = "modules.";
	if (strncmp(path, modules, sizeof(modules) - 1) != 0)
		return config_section_field(&cfg_root_section, cfg, path);
	const char *name = path + sizeof(modules) - 1, *dot = strchr(name, '.');
	if (!dot)
		return NULL;
	for (module_id_t id = 0; id < module_registry_count(); id++) {
		const struct module_ops *ops = module_registry_get(id);
		if (ops->top_level_section || strlen(ops->name) != (size_t)(dot - name) ||
		    strncmp(ops->name, name, (size_t)(dot - name)) != 0)
			continue;
		const void *field = config_section_field(&cfg_common_module_section, &cfg->modules[id], dot + 1);
		struct cfg_section own = { ops->keys, ops->nkeys };
		return field ? field : cfg->modules[id].opts ? config_section_field(&own, cfg->modules[id].opts, dot + 1) : NULL;
	}
	return NULL;
}
