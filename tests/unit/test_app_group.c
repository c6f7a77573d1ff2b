/*
 * Application grouping: the group_by value of a process, units and containers from cgroup leaves, apps.groups globs;
 * and the cgroup of a process by cgroups.group_by and cgroups.groups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "app_group.h"

static void test_units_and_containers_from_cgroup_leaves(void **state)
{
	char out[64];
	app_unit_of("nginx.service", out, sizeof(out));
	assert_string_equal(out, "nginx.service");
	app_unit_of("session-3.scope", out, sizeof(out));
	assert_string_equal(out, "session-3.scope");
	app_unit_of("bpfpush-oom-123", out, sizeof(out));
	assert_string_equal(out, "");
	app_unit_of(".service", out, sizeof(out));
	assert_string_equal(out, "");

	const char *id = "4f6c1c2b9a0e5d7f8c3b2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
	char leaf[128];
	snprintf(leaf, sizeof(leaf), "docker-%s.scope", id);
	app_container_of(leaf, out, sizeof(out));
	assert_string_equal(out, "4f6c1c2b9a0e");
	app_unit_of(leaf, out, sizeof(out)); /* a container's scope is not a unit anyone named */
	assert_string_equal(out, "");
	snprintf(leaf, sizeof(leaf), "cri-containerd-%s.scope", id);
	app_container_of(leaf, out, sizeof(out));
	assert_string_equal(out, "4f6c1c2b9a0e");
	app_container_of(id, out, sizeof(out)); /* cgroupfs driver: the bare id */
	assert_string_equal(out, "4f6c1c2b9a0e");
	app_container_of("nginx.service", out, sizeof(out));
	assert_string_equal(out, "");
	app_container_of("docker-zz.scope", out, sizeof(out));
	assert_string_equal(out, "");
}

static void test_group_by_and_globs(void **state)
{
	struct config_app_group groups[] = { { "nginx*", "web" }, { "post*", "db" } };
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.apps.groups = groups;
	cfg.apps.ngroups = 2;
	struct app_identity id = { "nginx: worker", "nginx", "php-fpm.service" };
	char out[64];
	cfg.apps.group_by = GROUP_BY_COMM;
	app_group_name(&cfg, &id, out, sizeof(out));
	assert_string_equal(out, "web");
	cfg.apps.group_by = GROUP_BY_CGROUP;
	app_group_name(&cfg, &id, out, sizeof(out));
	assert_string_equal(out, "php-fpm.service"); /* no glob matches: the value itself */
	cfg.apps.group_by = GROUP_BY_UNIT;
	app_group_name(&cfg, &id, out, sizeof(out));
	assert_string_equal(out, "php-fpm.service");
	cfg.apps.group_by = GROUP_BY_CONTAINER;
	app_group_name(&cfg, &id, out, sizeof(out));
	assert_string_equal(out, ""); /* not in a container: sent as none */
	id.comm = "postgres";
	cfg.apps.group_by = GROUP_BY_COMM;
	app_group_name(&cfg, &id, out, sizeof(out));
	assert_string_equal(out, "db");
}

/* cgroups.group_by: the unit or container, else the leaf itself ("/" for the root), then the globs. */
static void test_cgroup_names(void **state)
{
	(void)state;
	struct config_app_group groups[] = { { "*-db.service", "databases" } };
	struct config cfg;
	memset(&cfg, 0, sizeof(cfg));
	const char *docker = "docker-4f6c1c2b9a0e5d7f8c3b2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f.scope";
	char out[128];
	cfg.cgroups.group_by = CGROUP_BY_UNIT;
	app_cgroup_name(&cfg, "nginx.service", out, sizeof(out));
	assert_string_equal(out, "nginx.service");
	app_cgroup_name(&cfg, "bpfpush-oom-123", out, sizeof(out)); /* no unit: the cgroup's own name */
	assert_string_equal(out, "bpfpush-oom-123");
	app_cgroup_name(&cfg, "", out, sizeof(out));
	assert_string_equal(out, "/");
	app_cgroup_name(&cfg, docker, out, sizeof(out)); /* a container's scope is not a unit */
	assert_string_equal(out, docker);
	cfg.cgroups.group_by = CGROUP_BY_CONTAINER;
	app_cgroup_name(&cfg, docker, out, sizeof(out));
	assert_string_equal(out, "4f6c1c2b9a0e");
	app_cgroup_name(&cfg, "4f6c1c2b9a0e5d7f8c3b2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f", out, sizeof(out));
	assert_string_equal(out, "4f6c1c2b9a0e"); /* cgroupfs driver, as under the v1 memory hierarchy */
	app_cgroup_name(&cfg, "nginx.service", out, sizeof(out));
	assert_string_equal(out, "nginx.service");
	cfg.cgroups.group_by = CGROUP_BY_CGROUP;
	app_cgroup_name(&cfg, docker, out, sizeof(out));
	assert_string_equal(out, docker);
	cfg.cgroups.groups = groups;
	cfg.cgroups.ngroups = 1;
	cfg.cgroups.group_by = CGROUP_BY_UNIT;
	app_cgroup_name(&cfg, "pg-db.service", out, sizeof(out));
	assert_string_equal(out, "databases");
	/* apps' globs do not rename cgroups, nor cgroups' apps */
	struct app_identity id = { "pg-db.service", "postgres", "pg-db.service" };
	cfg.apps.group_by = GROUP_BY_COMM;
	app_group_name(&cfg, &id, out, sizeof(out));
	assert_string_equal(out, "pg-db.service");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units_and_containers_from_cgroup_leaves),
		cmocka_unit_test(test_group_by_and_globs),
		cmocka_unit_test(test_cgroup_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
