/* The attach and syscall_layer rule (attach_keys.h), against the modules' ways and the syscall layer's. */
#include "attach_keys.h"

#include "syscall_watch.h"

static bool way_is_set(const struct attach_way *way) { return way->tier || way->syscalls[0]; }

bool attach_keys_layer_applies(const struct module_ops *ops)
{
	for (size_t e = 0; e < ops->nevents; e++)
		for (int w = 0; w < EVENT_MAX_WAYS && way_is_set(&ops->events[e].ways[w]); w++)
			if (ops->events[e].ways[w].syscalls[0] || ops->events[e].ways[w].layer != SYSCALL_LAYER_AUTO)
				return true;
	return false;
}

bool attach_keys_watches(const struct module_ops *ops, enum syscall_id id)
{
	for (size_t e = 0; e < ops->nevents; e++)
		for (int w = 0; w < EVENT_MAX_WAYS && way_is_set(&ops->events[e].ways[w]); w++)
			for (int k = 0; k < WAY_MAX_SYSCALLS && ops->events[e].ways[w].syscalls[k]; k++)
				if (ops->events[e].ways[w].syscalls[k] == id)
					return true;
	return false;
}

enum syscall_id attach_keys_shared_syscall(const struct module_ops *a, const struct module_ops *b)
{
	for (int id = SYS_NONE + 1; id < SYS_COUNT; id++)
		if (attach_keys_watches(a, (enum syscall_id)id) && attach_keys_watches(b, (enum syscall_id)id))
			return (enum syscall_id)id;
	return SYS_NONE;
}

static bool key_is_set(const struct config_module *m, enum attach_key key)
{
	return key == ATTACH_KEY_ATTACH ? m->attach != ATTACH_AUTO : m->syscall_layer != SYSCALL_LAYER_AUTO;
}

int attach_keys_owner(const struct config *cfg, enum syscall_id id, enum attach_key key)
{
	for (module_id_t m = 0; m < module_registry_count(); m++) {
		const struct module_ops *ops = module_registry_get(m);
		if (!ops->top_level_section && cfg->modules[m].enabled && key_is_set(&cfg->modules[m], key) &&
		    attach_keys_watches(ops, id))
			return (int)m;
	}
	return -1;
}

/* A syscall's layer: the owner's syscall_layer, else the module's own (its own or the global one). */
static enum syscall_layer row_layer(const struct config *cfg, module_id_t id, enum syscall_id row)
{
	int owner = attach_keys_owner(cfg, row, ATTACH_KEY_SYSCALL_LAYER);
	return config_module_syscall_layer(cfg, owner >= 0 ? (module_id_t)owner : id);
}

/* The tiers of these ways that a forced layer leaves (attach.c way_allowed narrows the same way). */
static unsigned ways_tiers(const struct attach_way *ways, enum syscall_layer layer)
{
	bool layered = false;
	for (int w = 0; w < EVENT_MAX_WAYS && way_is_set(&ways[w]); w++)
		layered |= ways[w].layer != SYSCALL_LAYER_AUTO;
	unsigned tiers = 0;
	for (int w = 0; w < EVENT_MAX_WAYS && way_is_set(&ways[w]); w++)
		if (ways[w].tier && (layer == SYSCALL_LAYER_AUTO || !layered || ways[w].layer == layer))
			tiers |= 1u << ways[w].tier;
	return tiers;
}

unsigned attach_keys_tiers(const struct config *cfg, module_id_t id)
{
	const struct module_ops *ops = module_registry_get(id);
	unsigned tiers = 0;
	for (size_t e = 0; e < ops->nevents; e++) {
		const struct attach_way *ways = ops->events[e].ways;
		tiers |= ways_tiers(ways, config_module_syscall_layer(cfg, id));
		for (int w = 0; w < EVENT_MAX_WAYS && way_is_set(&ways[w]); w++)
			for (int k = 0; k < WAY_MAX_SYSCALLS && ways[w].syscalls[k]; k++) {
				enum syscall_id row = ways[w].syscalls[k];
				struct attach_way layer_ways[EVENT_MAX_WAYS];
				syscall_layer_ways(row, cfg->global.load_mode == LOAD_MODE_RETURN, layer_ways);
				tiers |= ways_tiers(layer_ways, row_layer(cfg, id, row));
			}
	}
	return tiers;
}

enum syscall_id attach_keys_narrowed_elsewhere(const struct config *cfg, module_id_t id, enum attach_tier tier,
					       module_id_t *by)
{
	const struct module_ops *ops = module_registry_get(id);
	for (int row = SYS_NONE + 1; row < SYS_COUNT; row++) {
		if (!attach_keys_watches(ops, (enum syscall_id)row))
			continue;
		int owner = attach_keys_owner(cfg, (enum syscall_id)row, ATTACH_KEY_SYSCALL_LAYER);
		if (owner < 0 || (module_id_t)owner == id)
			continue;
		struct attach_way ways[EVENT_MAX_WAYS];
		syscall_layer_ways((enum syscall_id)row, cfg->global.load_mode == LOAD_MODE_RETURN, ways);
		if (!(ways_tiers(ways, row_layer(cfg, id, (enum syscall_id)row)) & (1u << tier))) {
			*by = (module_id_t)owner;
			return (enum syscall_id)row;
		}
	}
	return SYS_NONE;
}
