#include "app_group.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "apps.h"

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

void app_unit_of(const char *leaf, char *out, size_t cap)
{
	static const char *const unit_kinds[] = { ".service", ".scope", ".socket", ".mount", ".swap", ".slice" };
	out[0] = '\0';
	char container[16];
	app_container_of(leaf, container, sizeof(container));
	if (container[0])
		return; /* docker-ID.scope is a container's scope, not a unit anyone named */
	for (size_t i = 0; i < sizeof(unit_kinds) / sizeof(unit_kinds[0]); i++)
		if (ends_with(leaf, unit_kinds[i]) && strlen(leaf) > strlen(unit_kinds[i])) {
			snprintf(out, cap, "%s", leaf);
			return;
		}
}

static bool is_hex_id(const char *s, size_t len)
{
	if (len < 12)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * Container runtimes name the leaf after the container id: docker-ID.scope,
 * cri-containerd-ID.scope, crio-ID.scope, libpod-ID.scope (systemd driver),
 * or the bare 64-hex ID (cgroupfs driver).
 */
void app_container_of(const char *leaf, char *out, size_t cap)
{
	static const char *const prefixes[] = { "docker-", "cri-containerd-", "crio-", "libpod-", "" };
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t plen = strlen(prefixes[i]);
		if (strncmp(leaf, prefixes[i], plen))
			continue;
		const char *id = leaf + plen;
		size_t len = ends_with(id, ".scope") ? strlen(id) - 6 : strlen(id);
		if (is_hex_id(id, len)) {
			snprintf(out, cap, "%.12s", id);
			return;
		}
	}
}

static void rename_by_globs(const struct config_app_group *groups, size_t ngroups, const char *value, char *out,
			    size_t cap)
{
	for (size_t i = 0; value[0] && i < ngroups; i++)
		if (fnmatch(groups[i].match, value, 0) == 0) {
			snprintf(out, cap, "%s", groups[i].name);
			return;
		}
	snprintf(out, cap, "%s", value);
}

/*
 * A process outside any unit or container keeps its cgroup's name, so every
 * process has a cgroup tag and the cgroup.* sums equal the apps.* sums.
 */
void app_cgroup_name(const struct config *cfg, const char *leaf, char *out, size_t cap)
{
	char derived[APP_CGROUP_LEN];
	derived[0] = '\0';
	if (!leaf)
		leaf = "";
	if (cfg->cgroups.group_by == CGROUP_BY_UNIT)
		app_unit_of(leaf, derived, sizeof(derived));
	else if (cfg->cgroups.group_by == CGROUP_BY_CONTAINER)
		app_container_of(leaf, derived, sizeof(derived));
	const char *value = derived[0] ? derived : leaf[0] ? leaf : "/";
	rename_by_globs(cfg->cgroups.groups, cfg->cgroups.ngroups, value, out, cap);
}

void app_group_name(const struct config *cfg, const struct app_identity *id, char *out, size_t cap)
{
	char derived[256];
	const char *value = "";
	switch (cfg->apps.group_by) {
	case GROUP_BY_COMM: value = id->comm ? id->comm : ""; break;
	case GROUP_BY_EXE: value = id->exe ? id->exe : ""; break;
	case GROUP_BY_CGROUP: value = id->cgroup ? id->cgroup : ""; break;
	case GROUP_BY_UNIT:
		app_unit_of(id->cgroup ? id->cgroup : "", derived, sizeof(derived));
		value = derived;
		break;
	case GROUP_BY_CONTAINER:
		app_container_of(id->cgroup ? id->cgroup : "", derived, sizeof(derived));
		value = derived;
		break;
	}
	rename_by_globs(cfg->apps.groups, cfg->apps.ngroups, value, out, cap);
}
