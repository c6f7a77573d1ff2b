#include "sock_fuse.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "resident.h"
#include "sock_fused.skel.h"

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* An object's .rodata: its variables (BTF) and their values. */
struct rodata {
	const struct btf *btf;
	const struct btf_type *sec; /* NULL when the object has no .rodata */
	char *data;
	size_t size;
};

static struct rodata rodata_of(const struct bpf_object *obj)
{
	struct rodata r = {.btf = bpf_object__btf(obj)};
	int id = r.btf ? btf__find_by_name_kind(r.btf, ".rodata", BTF_KIND_DATASEC) : -1;
	struct bpf_map *map = bpf_object__find_map_by_name(obj, ".rodata");
	r.data = map ? bpf_map__initial_value(map, &r.size) : NULL;
	r.sec = id > 0 && r.data ? btf__type_by_id(r.btf, id) : NULL;
	return r;
}

/* Where variable name of the given size is in these values; NULL when there is no such knob. */
static const char *knob_in(const struct rodata *r, const char *name, size_t size)
{
	if (!r->sec)
		return NULL;
	const struct btf_var_secinfo *v = btf_var_secinfos(r->sec);
	for (int i = 0; i < btf_vlen(r->sec); i++, v++) {
		const struct btf_type *var = btf__type_by_id(r->btf, v->type);
		if (var && !strcmp(btf__name_by_offset(r->btf, var->name_off), name) && v->size == size &&
		    v->offset + size <= r->size)
			return r->data + v->offset;
	}
	return NULL;
}

/*
 * Each knob of the fused object takes the value it has in the one member
 * that has it (members that share a knob must agree): the fused program
 * then takes every branch its members' programs take. Each object's
 * .rodata is found once, not once per knob.
 */
static int copy_knobs(struct sock_fused_bpf *skel, const struct bpf_object *const *members, int n, char *why,
		      size_t whylen)
{
	struct rodata fused = rodata_of(skel->obj), theirs[SOCK_FUSE_MAX_MEMBERS];
	if (!fused.sec) {
		say(why, whylen, "its object has no knobs");
		return -EINVAL;
	}
	if (n > SOCK_FUSE_MAX_MEMBERS) {
		say(why, whylen, "%d members, at most %d", n, SOCK_FUSE_MAX_MEMBERS);
		return -E2BIG;
	}
	for (int m = 0; m < n; m++)
		theirs[m] = rodata_of(members[m]);
	const struct btf_var_secinfo *v = btf_var_secinfos(fused.sec);
	for (int i = 0; i < btf_vlen(fused.sec); i++, v++) {
		const char *name = btf__name_by_offset(fused.btf, btf__type_by_id(fused.btf, v->type)->name_off);
		const char *value = NULL;
		for (int m = 0; m < n; m++) {
			const char *here = knob_in(&theirs[m], name, v->size);
			if (here && value && memcmp(here, value, v->size)) {
				say(why, whylen, "the members disagree on %s", name);
				return -EINVAL;
			}
			value = here ? here : value;
		}
		if (!value || v->offset + v->size > fused.size) {
			say(why, whylen, "no member has the knob %s", name);
			return -ENOENT;
		}
		memcpy(fused.data + v->offset, value, v->size);
	}
	return 0;
}

/* Each map of the fused object is the member's map of that name. */
static int share_maps(struct sock_fused_bpf *skel, const struct bpf_object *const *members, int n, char *why,
		      size_t whylen)
{
	struct bpf_map *map;
	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map)) {
			if (strstr(bpf_map__name(map), ".rodata"))
				continue;
			/* A global the members' code writes would be the fused program's own copy, not theirs. */
			say(why, whylen, "it has its own %s", bpf_map__name(map));
			return -EINVAL;
		}
		int fd = -1;
		for (int m = 0; m < n && fd < 0; m++) {
			const struct bpf_map *theirs = bpf_object__find_map_by_name(members[m], bpf_map__name(map));
			fd = theirs ? bpf_map__fd(theirs) : -1;
		}
		if (fd < 0) {
			say(why, whylen, "no member has the map %s", bpf_map__name(map));
			return -ENOENT;
		}
		int err = bpf_map__reuse_fd(map, fd);
		if (err) {
			say(why, whylen, "map %s: %s", bpf_map__name(map), strerror(-err));
			return err;
		}
	}
	return 0;
}

static bool listed(const char *section, const char *const *sections, int nsections)
{
	for (int i = 0; i < nsections; i++)
		if (!strcmp(section, sections[i]))
			return true;
	return false;
}

int sock_fuse_load(const struct bpf_object *const *members, int nmembers, const char *const *sections,
		   int nsections, int *fds, char *why, size_t whylen)
{
	for (int i = 0; i < nsections; i++)
		fds[i] = -1;
	struct sock_fused_bpf *skel = sock_fused_bpf__open();
	if (!skel) {
		say(why, whylen, "its object does not open: %s", strerror(errno));
		return -errno;
	}
	int chosen = 0;
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, skel->obj) {
		bool wanted = listed(bpf_program__section_name(prog), sections, nsections);
		bpf_program__set_autoload(prog, wanted);
		chosen += wanted;
	}
	int err = chosen == nsections ? 0 : -ENOENT;
	if (err)
		say(why, whylen, "it lacks a program for one of the %d hooks", nsections);
	if (!err)
		err = copy_knobs(skel, members, nmembers, why, whylen);
	if (!err)
		err = share_maps(skel, members, nmembers, why, whylen);
	if (!err) {
		err = sock_fused_bpf__load(skel);
		resident_drop_embedded_objects(); /* as after a module's load (agent/core/resident.c) */
		if (err)
			say(why, whylen, "it does not load: %s", strerror(-err));
	}
	/* The programs are all that is kept: the object (its BTF, its instructions) goes. */
	bpf_object__for_each_program(prog, skel->obj) {
		for (int i = 0; !err && i < nsections; i++) {
			if (strcmp(bpf_program__section_name(prog), sections[i]) || !bpf_program__autoload(prog))
				continue;
			fds[i] = fcntl(bpf_program__fd(prog), F_DUPFD_CLOEXEC, 0);
			if (fds[i] < 0) {
				err = -errno;
				say(why, whylen, "its program's fd: %s", strerror(errno));
			}
		}
	}
	sock_fused_bpf__destroy(skel);
	if (err)
		for (int i = 0; i < nsections; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = -1;
		}
	return err;
}
