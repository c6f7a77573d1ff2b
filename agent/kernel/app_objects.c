/* Which build of apps', the syscall layer's and network's objects is opened (app_objects.h). */
#include "app_objects.h"

#include <errno.h>
#include <stdlib.h>

#include "apps.skel.h"
#include "apps_tableonly.skel.h"
#include "network.skel.h"
#include "network_tableonly.skel.h"
#include "syscalls.skel.h"
#include "syscalls_tableonly.skel.h"

/*
 * NAME_bpf__open(), with the table-only ELF bytes in place of the full
 * build's when the kernel takes no atomics with fetch. The skeleton keeps its own name,
 * so libbpf names the maps as the skeleton expects.
 */
#define OPEN_OBJECT(name)                                                                                \
	struct name##_bpf *name##_object_open(bool slots)                                                \
	{                                                                                                \
		struct name##_bpf *obj = calloc(1, sizeof(*obj));                                        \
		if (!obj) {                                                                              \
			errno = ENOMEM;                                                                  \
			return NULL;                                                                     \
		}                                                                                        \
		int err = name##_bpf__create_skeleton(obj);                                              \
		if (!err && !slots)                                                                      \
			obj->skeleton->data = name##_tableonly_bpf__elf_bytes(&obj->skeleton->data_sz);  \
		if (!err)                                                                                \
			err = bpf_object__open_skeleton(obj->skeleton, NULL);                            \
		if (err) {                                                                               \
			name##_bpf__destroy(obj);                                                        \
			errno = -err;                                                                    \
			return NULL;                                                                     \
		}                                                                                        \
		return obj;                                                                              \
	}

OPEN_OBJECT(apps)
OPEN_OBJECT(syscalls)
OPEN_OBJECT(network)
