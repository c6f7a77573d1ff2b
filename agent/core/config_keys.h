/*
 * Key tables: how a piece of code declares the config keys it reads
 * (docs/design.md §5). One row per key says its type, where its value lives
 * (offsetof into the struct the table fills), its default as YAML text, its
 * bounds and one line of help. agent/core/config.c reads the rows to parse, to
 * apply defaults, to suggest "did you mean", to free and to compare; the
 * documentation test walks them too.
 *
 * A module lists its own keys in its module_ops (agent/modules/module.h): they fill
 * its options struct, reached through config_module_opts(). The keys every
 * module takes (enabled, interval, attach, syscall_layer) stay in the engine.
 */
#ifndef BPFPUSH_CONFIG_KEYS_H
#define BPFPUSH_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum cfg_type {
	CFG_SECTION,     /* a map of further keys */
	CFG_BOOL,        /* bool */
	CFG_DURATION_MS, /* uint64_t milliseconds */
	CFG_DURATION_US, /* uint64_t microseconds */
	CFG_UINT32,      /* uint32_t */
	CFG_STRING,      /* char *, owned */
	CFG_ENUM,        /* an enum, as int: the index of the word */
	CFG_TAGS,        /* struct config_tags */
	CFG_PORT_NAMES,  /* struct config_port_names: a map of port -> name, merged port by port */
	CFG_CUSTOM,      /* its own apply function (engine-only: lists of maps, addresses) */
};

struct cfg_key;
struct cfg_loader;
struct yaml_node_s;
typedef void cfg_apply_fn(struct cfg_loader *ld, const struct cfg_key *key, void *base, struct yaml_node_s *node,
			  const char *path);
/*
 * A string key's validation: NULL when value is fine, else what is wrong
 * with it, written into why (cap bytes) or a constant.
 */
typedef const char *cfg_check_fn(const char *value, char *why, size_t cap);
/*
 * A string key whose value has a grammar: parsed once, when the config
 * loads, into a heap object (NULL, with why written, when it does not
 * parse) that the config keeps beside the text and frees with release.
 */
typedef void *cfg_parse_fn(const char *value, char *why, size_t cap);
typedef void cfg_release_fn(void *parsed);

struct cfg_section {
	const struct cfg_key *keys;
	size_t nkeys;
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t offset;       /* of the field from the section's base */
	const char *def;     /* the default as YAML text; NULL: none, or it depends on other keys */
	const char *help;
	uint64_t min, max;   /* accepted range, in the stored unit */
	const char *const *words;          /* CFG_ENUM, NULL-terminated, in enum order */
	const struct cfg_section *section; /* CFG_SECTION; for lists of maps, the item's keys */
	cfg_apply_fn *apply;               /* CFG_CUSTOM */
	cfg_check_fn *check;               /* CFG_STRING */
	cfg_parse_fn *parse;               /* CFG_STRING: instead of check, keeps the parsed form... */
	cfg_release_fn *release;           /* ...freed by this... */
	size_t parsed_offset;              /* ...in a void * field at this offset */
	const char *what;                  /* CFG_CUSTOM: its type, for the schema */
};

#define CFG_SECTION_OF(array) { array, sizeof(array) / sizeof(array[0]) }

#define CFG_US_PER_MS 1000ull
#define CFG_MS_PER_S 1000ull
#define CFG_MS_PER_M (60 * CFG_MS_PER_S)
#define CFG_MS_PER_H (60 * CFG_MS_PER_M)
#define CFG_MS_PER_D (24 * CFG_MS_PER_H)

#define K_SECTION(n, off, sec, h) { .name = n, .type = CFG_SECTION, .offset = off, .section = sec, .help = h }
#define K_BOOL(n, off, d, h) { .name = n, .type = CFG_BOOL, .offset = off, .def = d, .help = h }
#define K_MS(n, off, d, lo, hi, h) \
	{ .name = n, .type = CFG_DURATION_MS, .offset = off, .def = d, .min = lo, .max = hi, .help = h }
#define K_US(n, off, d, lo, hi, h) \
	{ .name = n, .type = CFG_DURATION_US, .offset = off, .def = d, .min = lo, .max = hi, .help = h }
#define K_U32(n, off, d, lo, hi, h) \
	{ .name = n, .type = CFG_UINT32, .offset = off, .def = d, .min = lo, .max = hi, .help = h }
#define K_STR(n, off, d, chk, h) { .name = n, .type = CFG_STRING, .offset = off, .def = d, .check = chk, .help = h }
#define K_PARSED(n, off, parsed_off, d, parse_fn, release_fn, h)                                          \
	{ .name = n, .type = CFG_STRING, .offset = off, .parsed_offset = parsed_off, .def = d, .parse = parse_fn, \
	  .release = release_fn, .help = h }
#define K_ENUM(n, off, d, w, h) { .name = n, .type = CFG_ENUM, .offset = off, .def = d, .words = w, .help = h }
#define K_TAGS(n, off, d, h) { .name = n, .type = CFG_TAGS, .offset = off, .def = d, .help = h }
#define K_PORT_NAMES(n, off, d, h) { .name = n, .type = CFG_PORT_NAMES, .offset = off, .def = d, .help = h }
#define K_CUSTOM(n, off, d, fn, wh, sec, h) \
	{ .name = n, .type = CFG_CUSTOM, .offset = off, .def = d, .apply = fn, .what = wh, .section = sec, .help = h }

/* Are the fields the keys of sec fill equal in a and b (two options structs)? */
bool config_section_equal(const struct cfg_section *sec, const void *a, const void *b);
/* Frees what the keys of sec own in base (strings, parsed forms, tags, port names), not base. */
void config_section_free(const struct cfg_section *sec, void *base);
void config_tags_free(struct config_tags *tags);
/* The field of the leaf key path names under sec ("syscalls.msync"), NULL when none. */
const void *config_section_field(const struct cfg_section *sec, const void *base, const char *path);

#endif
