#include "btf_proto.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <stdio.h>
#include <string.h>

/* Skip typedefs and qualifiers down to the type underneath. */
static const struct btf_type *resolve(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);
	while (t && (btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t) || btf_is_restrict(t)))
		t = btf__type_by_id(btf, t->type);
	return t;
}

/* The prototype of tracepoint NAME's probe functions, NULL when the kernel has no such tracepoint. */
static const struct btf_type *tracepoint_proto(const struct btf *btf, const char *name)
{
	char typedef_name[128];
	snprintf(typedef_name, sizeof(typedef_name), "btf_trace_%s", name);
	int id = btf ? btf__find_by_name_kind(btf, typedef_name, BTF_KIND_TYPEDEF) : -1;
	const struct btf_type *proto = id > 0 ? resolve(btf, (__u32)id) : NULL;
	if (proto && btf_is_ptr(proto))
		proto = resolve(btf, proto->type);
	return proto && btf_is_func_proto(proto) ? proto : NULL;
}

int btf_tracepoint_nargs(const struct btf *btf, const char *name)
{
	const struct btf_type *proto = tracepoint_proto(btf, name);
	/* The first parameter is the tracepoint's private data pointer, not an argument. */
	return proto && btf_vlen(proto) >= 1 ? (int)btf_vlen(proto) - 1 : -1;
}

bool btf_tracepoint_arg_is(const struct btf *btf, const char *name, unsigned arg, const char *struct_name)
{
	const struct btf_type *proto = tracepoint_proto(btf, name);
	if (!proto || btf_vlen(proto) < arg + 2)
		return false;
	const struct btf_type *param = resolve(btf, btf_params(proto)[arg + 1].type);
	const struct btf_type *target = param && btf_is_ptr(param) ? resolve(btf, param->type) : NULL;
	return target && btf_is_struct(target) && !strcmp(btf__name_by_offset(btf, target->name_off), struct_name);
}

bool btf_tracepoint_passes_pages(const struct btf *btf, const char *name)
{
	return btf_tracepoint_arg_is(btf, name, 0, "folio") || btf_tracepoint_arg_is(btf, name, 0, "page");
}

bool btf_tracepoint_record_has(const struct btf *btf, const char *name, const char *field)
{
	if (!btf)
		return true;
	char struct_name[128];
	snprintf(struct_name, sizeof(struct_name), "trace_event_raw_%s", name);
	int id = btf__find_by_name_kind(btf, struct_name, BTF_KIND_STRUCT);
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
	const struct btf_member *m = t ? btf_members(t) : NULL;
	for (unsigned i = 0; t && i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, m[i].name_off), field))
			return true;
	return false;
}

/* Does enum ENUM_NAME of the kernel's BTF have a value named VALUE? */
static bool btf_enum_has(const struct btf *btf, const char *enum_name, const char *value)
{
	int id = btf ? btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM) : -1;
	const struct btf_type *t = id > 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
	if (!t)
		return false;
	const struct btf_enum *e = btf_enum(t);
	for (unsigned i = 0; i < btf_vlen(t); i++)
		if (!strcmp(btf__name_by_offset(btf, e[i].name_off), value))
			return true;
	return false;
}

int btf_func_nargs(const struct btf *btf, const char *name)
{
	int id = btf ? btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) : -1;
	const struct btf_type *func = id > 0 ? btf__type_by_id(btf, (__u32)id) : NULL;
	const struct btf_type *proto = func ? btf__type_by_id(btf, func->type) : NULL;
	return proto && btf_is_func_proto(proto) ? (int)btf_vlen(proto) : -1;
}

static bool btf_fits_get_func_ret(const struct btf *btf, char *why, size_t cap)
{
	if (!btf || btf_enum_has(btf, "bpf_func_id", "BPF_FUNC_get_func_ret"))
		return true;
	snprintf(why, cap, "fexit reads the result with bpf_get_func_ret, which this kernel lacks (5.17+)");
	return false;
}

bool btf_fits_udp_recv_fexit(const struct btf *btf, const char *const *progs, size_t nprogs, char *why, size_t cap)
{
	bool six_args = false;
	for (size_t i = 0; i < nprogs && progs[i]; i++) {
		size_t len = strlen(progs[i]);
		six_args |= len > 7 && !strcmp(progs[i] + len - 7, "_fexit6");
	}
	if (!six_args)
		return btf_fits_get_func_ret(btf, why, cap);
	int nargs = btf ? btf_func_nargs(btf, "udp_recvmsg") : 6;
	if (nargs == 6)
		return true;
	snprintf(why, cap, "reads the result after udp_recvmsg's six arguments (before 5.19); it has %d", nargs);
	return false;
}

bool btf_tracing_allocates_safely(const struct btf *btf)
{
	return !btf || btf__find_by_name_kind(btf, "bpf_mem_alloc", BTF_KIND_STRUCT) > 0;
}

bool btf_tracing_has_sk_storage(const struct btf *btf)
{
	/* The check that lets tracing programs call the helpers came with them (5.11). */
	return btf && btf__find_by_name_kind(btf, "bpf_sk_storage_tracing_allowed", BTF_KIND_FUNC) > 0;
}

void map_prealloc_where_needed(struct bpf_map *map, const struct btf *btf)
{
	if (!btf_tracing_allocates_safely(btf))
		bpf_map__set_map_flags(map, bpf_map__map_flags(map) & ~(__u32)BPF_F_NO_PREALLOC);
}
