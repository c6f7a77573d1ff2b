# libbpf, built from Debian's source package into $(LIBBPF_A) and $(LIBBPF)/include (included by
# the main Makefile, which sets LIBBPF_VERSION and says why).
#   $(LIBBPF_SRC_DIR)/src   the unpacked source package (its library in src/src; scripts/libbpf-source.sh, as any user)
#   $(LIBBPF)/libbpf.a      the static archive: the agent, its tests, the static and the packaged builds
#   $(LIBBPF)/include       bpf/*.h and the linux/*.h UAPI headers that version was written against
# The BPF programs keep bookworm's <bpf/bpf_helpers.h> (libbpf-dev): what they compile to does not
# depend on the loader's version.

# Hardened as the packaged binary is (mk/package.mk), since the same archive goes into it; not
# -Werror: a warning from a newer compiler in libbpf's code is not ours to fail the build on.
LIBBPF_CFLAGS = -g -O2 -Wall -fPIE -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection \
	$(PACKAGE_CFLAGS_$(ARCH))

.PHONY: libbpf FORCE
libbpf: $(LIBBPF_A)

# Always asked; the script does nothing when the source of LIBBPF_VERSION is already there, so the
# file keeps its time and nothing is rebuilt.
$(LIBBPF_SRC_DIR)/VERSION: FORCE
	@mkdir -p $(LIBBPF_SRC_DIR)
	@scripts/libbpf-source.sh $(LIBBPF_SRC_DIR) $(LIBBPF_VERSION)

$(LIBBPF_A): $(LIBBPF_SRC_DIR)/VERSION mk/libbpf.mk
	@echo "  LIBBPF  $@ ($$(cat $(LIBBPF_SRC_DIR)/FETCHED))"
	@rm -rf $(LIBBPF)
	@$(MAKE) --no-print-directory -s -C $(LIBBPF_SRC_DIR)/src/src BUILD_STATIC_ONLY=y \
		OBJDIR=$(abspath $(LIBBPF))/obj DESTDIR=$(abspath $(LIBBPF)) PREFIX= LIBDIR=/ INCLUDEDIR=/include UAPIDIR=/include \
		CC='$(CC)' PKG_CONFIG='$(PKG_CONFIG)' CFLAGS='$(LIBBPF_CFLAGS)' \
		install install_uapi_headers >/dev/null
	@test -f $@
