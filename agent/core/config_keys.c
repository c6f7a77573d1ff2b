/*
 * What the key tables (agent/core/config_keys.h) give besides parsing, which is
 * agent/core/config.c's: freeing what a table's keys own, finding a key's field
 * by its path, and comparing two structs a table filled (the reload rules,
 * agent/core/config_diff.c).
 */
#include "config_keys.h"

#include <stdlib.h>
#include <string.h>

void config_tags_free(struct config_tags *tags)
{
	for (size_t i = 0; i < tags->len; i++) {
		free(tags->items[i].key);
		free(tags->items[i].value);
	}
	free(tags->items);
}

/* What the keys of sec own in base (module options structs: no engine-only custom keys there). */
void config_section_free(const struct cfg_section *sec, void *base)
{
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *key = &sec->keys[i];
		void *field = (char *)base + key->offset;
		switch (key->type) {
		case CFG_SECTION:
			config_section_free(key->section, field);
			break;
		case CFG_STRING:
			free(*(char **)field);
			if (key->parse && *(void **)((char *)base + key->parsed_offset))
				key->release(*(void **)((char *)base + key->parsed_offset));
			break;
		case CFG_TAGS:
			config_tags_free(field);
			break;
		case CFG_PORT_NAMES: {
			struct config_port_names *names = field;
			for (size_t n = 0; n < names->len; n++)
				free(names->items[n].name);
			free(names->items);
			break;
		}
		default:
			break;
		}
	}
}

/* The leaf key path names under sec, its field in base: path's first part is a key of sec. */
const void *config_section_field(const struct cfg_section *sec, const void *base, const char *path)
{
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *key = &sec->keys[i];
		if (strlen(key->name) != len || strncmp(key->name, path, len) != 0)
			continue;
		const void *field = (const char *)base + key->offset;
		if (key->type == CFG_SECTION)
			return dot ? config_section_field(key->section, field, dot + 1) : NULL;
		return dot ? NULL : field;
	}
	return NULL;
}

static bool cfg_str_equal(const char *a, const char *b) { return a == b || (a && b && strcmp(a, b) == 0); }

bool config_section_equal(const struct cfg_section *sec, const void *a, const void *b)
{
	if (a == b)
		return true;
	if (!a || !b)
		return false;
	for (size_t i = 0; i < sec->nkeys; i++) {
		const struct cfg_key *key = &sec->keys[i];
		const void *fa = (const char *)a + key->offset, *fb = (const char *)b + key->offset;
		bool same = true;
		switch (key->type) {
		case CFG_SECTION:
			same = config_section_equal(key->section, fa, fb);
			break;
		case CFG_BOOL:
			same = *(const bool *)fa == *(const bool *)fb;
			break;
		case CFG_DURATION_MS:
		case CFG_DURATION_US:
			same = *(const uint64_t *)fa == *(const uint64_t *)fb;
			break;
		case CFG_UINT32:
			same = *(const uint32_t *)fa == *(const uint32_t *)fb;
			break;
		case CFG_STRING:
			same = cfg_str_equal(*(char *const *)fa, *(char *const *)fb);
			break;
		case CFG_ENUM:
			same = *(const int *)fa == *(const int *)fb;
			break;
		case CFG_TAGS: {
			const struct config_tags *ta = fa, *tb = fb;
			same = ta->len == tb->len;
			for (size_t n = 0; same && n < ta->len; n++)
				same = cfg_str_equal(ta->items[n].key, tb->items[n].key) &&
				       cfg_str_equal(ta->items[n].value, tb->items[n].value);
			break;
		}
		case CFG_PORT_NAMES: {
			const struct config_port_names *pa = fa, *pb = fb;
			same = pa->len == pb->len;
			for (size_t n = 0; same && n < pa->len; n++)
				same = pa->items[n].port == pb->items[n].port && cfg_str_equal(pa->items[n].name, pb->items[n].name);
			break;
		}
		case CFG_CUSTOM:
			same = false; /* engine-only types: not in module tables; "changed" is the safe answer */
			break;
		}
		if (!same)
			return false;
	}
	return true;
}
