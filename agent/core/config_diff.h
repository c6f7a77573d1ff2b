/* What a reload changes: which modules need their BPF object reloaded, and whether the sinks do. */
#ifndef BPFPUSH_CONFIG_DIFF_H
#define BPFPUSH_CONFIG_DIFF_H

#include <stdbool.h>

#include "config.h"

/*
 * Does module `id` need to be detached and attached again to run as `next`
 * says (switched on or off, its interval, tier, syscall layer, load mode,
 * apps, pid table size, or its own keys, compared row by row through its
 * key table, agent/core/config_keys.h)? Keys a module reads at collect time
 * (apps groups, for oomkill) need nothing.
 */
bool config_module_changed(const struct config *old, const struct config *next, module_id_t id);

/* Are the sinks, and what their lines carry (host names, constant tags), the same? */
bool config_sinks_equal(const struct config *old, const struct config *next);

#endif
