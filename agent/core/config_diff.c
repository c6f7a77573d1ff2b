#include "config_diff.h"

#include <string.h>

#include "config_keys.h"
#include "module.h"

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool strings_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_equal(a[i], b[i]))
			return false;
	return true;
}

static bool tags_equal(const struct config_tags *a, const struct config_tags *b)
{
	if (a->len != b->len)
		return false;
	for (size_t i = 0; i < a->len; i++)
		if (!str_equal(a->items[i].key, b->items[i].key) || !str_equal(a->items[i].value, b->items[i].value))
			return false;
	return true;
}

static bool groups_equal(const struct config_app_group *a, const struct config_app_group *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!str_equal(a[i].match, b[i].match) || !str_equal(a[i].name, b[i].name))
			return false;
	return true;
}

static bool apps_equal(const struct config *a, const struct config *b)
{
	/* cachestat switches apps' page-cache events on and off too */
	if (a->apps.group_by != b->apps.group_by || a->apps.max_groups != b->apps.max_groups ||
	    a->apps.ngroups != b->apps.ngroups ||
	    config_module_enabled(a, "cachestat") != config_module_enabled(b, "cachestat") ||
	    memcmp(&a->apps.counters, &b->apps.counters, sizeof(a->apps.counters)))
		return false;
	/* cgroups is the apps module's data grouped again: its keys are the module's too */
	if (a->cgroups.enabled != b->cgroups.enabled || a->cgroups.group_by != b->cgroups.group_by ||
	    a->cgroups.max_groups != b->cgroups.max_groups || a->cgroups.ngroups != b->cgroups.ngroups)
		return false;
	return groups_equal(a->apps.groups, b->apps.groups, a->apps.ngroups) &&
	       groups_equal(a->cgroups.groups, b->cgroups.groups, a->cgroups.ngroups);
}

/*
 * The keys of each module's own section: its BPF object or its state is
 * built from them at attach, so any change restarts it. The apps module's
 * keys are the engine's top-level apps and cgroups sections.
 */
static bool own_keys_equal(const struct config *a, const struct config *b, module_id_t id)
{
	const struct module_ops *ops = module_registry_get(id);
	if (!ops)
		return true;
	if (ops->top_level_section)
		return apps_equal(a, b);
	struct cfg_section own = { ops->keys, ops->nkeys };
	return config_section_equal(&own, config_module_opts(a, id), config_module_opts(b, id));
}

bool config_module_changed(const struct config *old, const struct config *next, module_id_t id)
{
	const struct config_module *a = &old->modules[id], *b = &next->modules[id];
	if (a->enabled != b->enabled)
		return true;
	if (!b->enabled)
		return false;
	return a->interval_ms != b->interval_ms || a->attach != b->attach || a->syscall_layer != b->syscall_layer ||
	       old->global.load_mode != next->global.load_mode || old->global.attach != next->global.attach ||
	       old->global.syscall_layer != next->global.syscall_layer || old->apps.enabled != next->apps.enabled ||
	       old->global.pid_table_size != next->global.pid_table_size || !own_keys_equal(old, next, id);
}

static bool address_equal(const struct config_address *a, const struct config_address *b)
{
	return a->transport == b->transport && a->port == b->port && str_equal(a->host, b->host) &&
	       str_equal(a->path, b->path);
}

static bool sink_equal(const struct config_sink *a, const struct config_sink *b)
{
	return str_equal(a->name, b->name) && a->type == b->type && a->format == b->format &&
	       address_equal(&a->address, &b->address) && str_equal(a->prefix, b->prefix) && tags_equal(&a->tags, &b->tags) &&
	       strings_equal(a->include, a->ninclude, b->include, b->ninclude) &&
	       strings_equal(a->exclude, a->nexclude, b->exclude, b->nexclude) && a->max_packet == b->max_packet &&
	       a->buffer_lines == b->buffer_lines && a->resolve_interval_ms == b->resolve_interval_ms &&
	       a->reconnect_min_ms == b->reconnect_min_ms && a->reconnect_max_ms == b->reconnect_max_ms &&
	       a->write_timeout_ms == b->write_timeout_ms && a->send_zeros == b->send_zeros && str_equal(a->ca_file, b->ca_file) &&
	       str_equal(a->cert_file, b->cert_file) && str_equal(a->key_file, b->key_file) &&
	       str_equal(a->server_name, b->server_name);
}

bool config_sinks_equal(const struct config *old, const struct config *next)
{
	if (old->nsinks != next->nsinks || !str_equal(old->global.hostname, next->global.hostname) ||
	    !tags_equal(&old->global.tags, &next->global.tags))
		return false;
	for (size_t i = 0; i < old->nsinks; i++)
		if (!sink_equal(&old->sinks[i], &next->sinks[i]))
			return false;
	return true;
}
