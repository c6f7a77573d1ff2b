/*
 * Which attach and syscall_layer values can take effect, and whose decide
 * the shared syscall layer (docs/design.md "Attach tiers", "The syscall
 * layer"). The config loader refuses what cannot apply; the layer asks here
 * whose keys govern each syscall it watches.
 *
 * The rule: the layer hooks each syscall once, for every module that watches
 * it. A module's explicit attach or syscall_layer (not auto) governs every
 * syscall it watches, also for the modules that watch it too and leave the
 * key auto; two enabled modules that watch a common syscall and set the same
 * key to different values are refused at load. syscall_layer applies only to
 * modules with syscall events; attach only where some way of the module's
 * events (the layer's ways for its syscalls) has that tier, once
 * syscall_layer has narrowed them.
 */
#ifndef BPFPUSH_ATTACH_KEYS_H
#define BPFPUSH_ATTACH_KEYS_H

#include <stdbool.h>

#include "config.h"
#include "module.h"
#include "syscall_table.h"

enum attach_key { ATTACH_KEY_ATTACH, ATTACH_KEY_SYSCALL_LAYER };

/* Does the module have events that syscall_layer narrows (through the shared layer or its own)? */
bool attach_keys_layer_applies(const struct module_ops *ops);
/* Does the module watch this syscall through the shared layer? */
bool attach_keys_watches(const struct module_ops *ops, enum syscall_id id);
/* The first syscall both modules watch through the shared layer, SYS_NONE when none. */
enum syscall_id attach_keys_shared_syscall(const struct module_ops *a, const struct module_ops *b);
/*
 * The tiers (bit 1 << enum attach_tier) the module's events can be attached
 * with under this config's syscall_layer values: a forced attach outside
 * them cannot apply.
 */
unsigned attach_keys_tiers(const struct config *cfg, module_id_t id);
/*
 * A syscall the module watches whose layer another module's syscall_layer
 * narrows so that this tier is not among its ways: the forced attach would
 * not apply there. SYS_NONE when there is none; *by: that module.
 */
enum syscall_id attach_keys_narrowed_elsewhere(const struct config *cfg, module_id_t id, enum attach_tier tier,
					       module_id_t *by);
/* The enabled module whose explicit key governs this syscall in the layer; -1: none sets it (global applies). */
int attach_keys_owner(const struct config *cfg, enum syscall_id id, enum attach_key key);

#endif
