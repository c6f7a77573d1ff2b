/*
 * Which application a process belongs to (docs/metrics.md, apps): the value that
 * apps.group_by picks from what we know of the process, then the first
 * apps.groups glob that matches it.
 */
#ifndef BPFPUSH_APP_GROUP_H
#define BPFPUSH_APP_GROUP_H

#include <stddef.h>

#include "config.h"

struct app_identity {
	const char *comm;   /* the thread-group leader's comm */
	const char *exe;    /* the executable's basename */
	const char *cgroup; /* the leaf directory of its cgroup path */
};

/* The systemd unit a cgroup leaf names ("nginx.service"), or "" when it names none. */
void app_unit_of(const char *cgroup_leaf, char *out, size_t cap);
/* The container id (first 12 characters) a cgroup leaf names, or "" when it names none. */
void app_container_of(const char *cgroup_leaf, char *out, size_t cap);

/* The app tag for a process; "" when the group_by value is unknown. */
void app_group_name(const struct config *cfg, const struct app_identity *id, char *out, size_t cap);
/*
 * The cgroup tag for a process in the cgroup of that leaf: the unit or
 * container cgroups.group_by picks, else the leaf itself ("/" for the root
 * cgroup), then the first cgroups.groups glob that matches it. Never "".
 */
void app_cgroup_name(const struct config *cfg, const char *cgroup_leaf, char *out, size_t cap);

#endif
