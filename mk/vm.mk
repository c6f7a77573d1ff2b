# Static builds and the kernel matrix under QEMU (included by the main Makefile).
#   make static    build/static/bpfpush and build/static/tests/test_* for a bare initramfs
#   make vm-test   the integration tests × attach tiers × syscall layers on Debian's
#                  5.10, 6.1 and 6.12 kernels, under qemu (TCG), as scripts/vm/ci.plan says
#                  (VM_FULL=1: all of it); see scripts/vm-test.sh
#   make vm-test ARCH=arm64   the same, cross-built, on Debian's arm64 6.1 and 6.12 kernels
#                  under qemu-system-aarch64 (build-arm64/static, build-arm64/vm)
# Variables passed through to the script: VM_FULL, VM_KERNELS, VM_TIERS, VM_LAYERS, VM_TESTS,
# VM_TIMEOUT, VM_SMP, VM_MEM, VM_PROBES (see the script's header).

STATIC := $(BUILD)/static
STATIC_PKGS := libuv-static yaml-0.1
# Debian ships libuv's archive as libuv_a.a (pkg-config name libuv-static); libbpf is ours (mk/libbpf.mk).
STATIC_LDLIBS := $(LIBBPF_A) $(shell $(PKG_CONFIG) --static --libs $(STATIC_PKGS) 2>/dev/null || echo -luv_a -lpthread -ldl -lrt -lyaml) -lelf -lz -lm
STATIC_LDFLAGS := -static
STATIC_OBJ := $(STATIC)/obj
STATIC_AGENT_OBJS := $(patsubst %.c,$(STATIC_OBJ)/%.o,$(AGENT_SRCS))
STATIC_INTEG_BINS := $(patsubst tests/integration/%.c,$(STATIC)/tests/%,$(INTEG_SRCS))

# cmocka: Debian's libcmocka-dev has no archive. With one (CMOCKA_A, or the
# compiler finds libcmocka.a) the tests link fully static; without, they link
# cmocka and glibc dynamically and scripts/vm-test.sh packs the loader and the
# libraries that `ldd` names into the initramfs.
CMOCKA_A ?= $(shell f=$$($(CC) -print-file-name=libcmocka.a); [ -f "$$f" ] && echo "$$f")
STATIC_TEST_LINK := $(if $(CMOCKA_A),-static $(CMOCKA_A) -lpthread,-lcmocka -lpthread)

.PHONY: static vm-test vm-clean

static: $(STATIC)/bpfpush $(STATIC_INTEG_BINS)

# The same sources and flags as build/obj, compiled again for the static link
# (no PIE: a classic static executable, what a bare initramfs runs best), without
# TLS: OpenSSL stays a shared library (docs/design.md, packaging) and the VM tests send no tls://.
$(STATIC_OBJ)/%.o: %.c $(SKELS) $(AGENT_HEADERS) $(wildcard probes/*.h) $(LIBBPF_A)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static)"
	@$(CC) $(CFLAGS) -DBPFPUSH_NO_TLS -fno-pie -c $< -o $@

$(STATIC)/bpfpush: $(STATIC_AGENT_OBJS) $(LIBBPF_A)
	@echo "  LD      $@ (static)"
	@$(CC) $(CFLAGS) -no-pie $(STATIC_LDFLAGS) $(STATIC_AGENT_OBJS) -o $@ $(LDFLAGS) $(STATIC_LDLIBS) 2> $@.ld.log || { cat $@.ld.log; exit 1; }
	@# glibc warns that getaddrinfo/getpwnam need its NSS modules at run time; nothing else may.
	@grep -v -e 'statically linked applications requires at runtime' -e 'in function' $@.ld.log >&2 || true

$(STATIC)/tests/%: tests/integration/%.c $(HARNESS_SRCS) $(wildcard tests/lib/*.h)
	@mkdir -p $(dir $@)
	@echo "  TEST    $@ ($(if $(CMOCKA_A),static,dynamic cmocka + glibc: no libcmocka.a))"
	@$(CC) $(CFLAGS) -Itests/lib -Wno-unused-parameter $< $(HARNESS_SRCS) -o $@ $(LDFLAGS) $(STATIC_TEST_LINK)

vm-test: static
	@scripts/vm-test.sh --build $(BUILD) --arch $(ARCH)

vm-clean:
	rm -rf $(STATIC) $(BUILD)/vm $(BUILD)/vm-cache
