# Packages (included by the main Makefile).
#   make deb             build/packaging/bpfpush_$(VERSION)_amd64.deb (debhelper, packaging/debian/)
#   make rpm             build/packaging/bpfpush-$(VERSION)-1.x86_64.rpm (rpmbuild, packaging/rpm/)
#   make test-packaging  builds both, installs them into scratch roots, checks them (tests/packaging/)
#   ... ARCH=arm64       the same for arm64/aarch64 on an amd64 host, under build-arm64/packaging/
# Everything is built under build/packaging/: the source tree stays clean.

PKG_DIR := $(BUILD)/packaging
PKG_OBJ := $(PKG_DIR)/obj
PKG_BIN := $(PKG_DIR)/bpfpush
PKG_STAGE := $(PKG_DIR)/stage
PKG_AGENT_OBJS := $(patsubst %.c,$(PKG_OBJ)/%.o,$(AGENT_SRCS))
# Package architectures: the host's natively; a cross build (make ARCH=arm64) names the target's
# (Debian's and rpm's names for it) and strips with the target's binutils.
ifdef CROSS
DEB_ARCH_arm64 := arm64
RPM_ARCH_arm64 := aarch64
DEB_ARCH := $(DEB_ARCH_$(ARCH))
RPM_ARCH := $(RPM_ARCH_$(ARCH))
STRIP := $(CROSS_TRIPLET)-strip
# dpkg-buildpackage -a: dh_strip uses the target's strip, dpkg-shlibdeps reads the :arm64 libc's symbols.
# Nothing is compiled or tested in debian/rules (packaging/debian/rules): the cross profile, nocheck.
DEB_BUILD_ARCH_FLAGS := -a $(DEB_ARCH) -Pcross,nocheck
DEB_BUILD_ENV := CC=$(CC) DEB_BUILD_OPTIONS=nocheck
# rpmbuild's brp-strip and its object checks run %__strip and %__objdump: the target's, not /usr/bin's.
RPM_BUILD_ARCH_FLAGS := --define '__strip $(STRIP)' --define '__objdump $(CROSS_TRIPLET)-objdump'
else
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
RPM_ARCH := $(shell uname -m)
STRIP := strip
endif
DEB_FILE := $(PKG_DIR)/bpfpush_$(VERSION)_$(DEB_ARCH).deb
RPM_FILE := $(PKG_DIR)/bpfpush-$(VERSION)-1.$(RPM_ARCH).rpm

# The packaged binary (docs/design.md, packaging): libbpf, libelf, zlib, libuv and libyaml from their
# static archives (Ubuntu 22.04 has only libbpf0, RHEL 9 other sonames); glibc dynamic.
# Debian names the static libuv libuv_a.a (pkg-config libuv-static); libbpf's archive is ours (mk/libbpf.mk).
PACKAGE_STATIC_LIBS := $(LIBBPF_A) -lelf -lz -luv_a -lyaml
# Libraries linked dynamically: glibc's. OpenSSL 3 (libssl.so.3) is opened at run time by the first
# tls:// sink (agent/sink/openssl_api.h): the packages depend on it by name.
PACKAGE_LDLIBS ?= -lpthread -ldl -lrt -lm
# Hardening as Debian's dpkg-buildflags would set it (the binary is built outside debian/rules);
# its control-flow protection is per architecture (make ARCH=arm64 builds the arm64 binary).
PACKAGE_CFLAGS_x86 := -fcf-protection
PACKAGE_CFLAGS_arm64 := -mbranch-protection=standard
PACKAGE_CFLAGS ?= -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection $(PACKAGE_CFLAGS_$(ARCH))
PACKAGE_LDFLAGS ?= -Wl,-z,relro -Wl,-z,now -Wl,--as-needed
# Oldest glibc the binary must run on (RHEL 9 has 2.34); scripts/packaging/check-binary.sh enforces it.
PACKAGE_GLIBC_MAX ?= 2.34

.PHONY: package-bin package-deps deb rpm selinux test-packaging package-clean

# What the packages are built with (debhelper, rpmbuild, the static libraries, the SELinux
# compilers): installed when missing, as `make run` installs what it needs, so `make deb` and
# `make rpm` are one command on a fresh Debian machine.
package-deps:
	@scripts/install-deps.sh --packaging --if-missing

package-bin: $(PKG_BIN)

$(PKG_OBJ)/%.o: %.c $(SKELS) $(AGENT_HEADERS) $(wildcard probes/*.h) VERSION $(LIBBPF_A)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (package)"
	@$(CC) $(CFLAGS) $(PACKAGE_CFLAGS) -c $< -o $@

$(PKG_BIN): $(PKG_AGENT_OBJS) $(LIBBPF_A) scripts/packaging/check-binary.sh
	@echo "  LD      $@ (package: static libbpf libelf zlib libuv libyaml, dynamic glibc)"
	@$(CC) $(CFLAGS) $(PACKAGE_CFLAGS) $(PKG_AGENT_OBJS) -o $@.tmp $(LDFLAGS) $(PACKAGE_LDFLAGS) \
		-Wl,-Bstatic $(PACKAGE_STATIC_LIBS) -Wl,-Bdynamic $(PACKAGE_LDLIBS)
	@scripts/packaging/check-binary.sh $@.tmp $(PACKAGE_GLIBC_MAX)
	@mv $@.tmp $@


# Files both packages install, staged once: the binary, the shipped config (StatsD to
# 127.0.0.1:8125, no stdout sink), the environment file, the unit and the man pages.
PKG_DATE := $(shell d=$$(git log -1 --format=%ct 2>/dev/null) && [ -n "$$d" ] || d=$$(date +%s); date -u -R -d @$$d)
PKG_STAGE_FILES := $(PKG_STAGE)/bpfpush $(PKG_STAGE)/bpfpush.yaml $(PKG_STAGE)/default/bpfpush \
	$(PKG_STAGE)/bpfpush.service $(PKG_STAGE)/bpfpush.8 $(PKG_STAGE)/bpfpush.yaml.5

# Stripped in both packages; build/packaging/bpfpush keeps its symbols for debugging.
$(PKG_STAGE)/bpfpush: $(PKG_BIN)
	@mkdir -p $(dir $@)
	@$(STRIP) --strip-unneeded -o $@ $<
$(PKG_STAGE)/bpfpush.yaml: config/bpfpush.yaml
	@mkdir -p $(dir $@)
	@cp $< $@ && chmod 644 $@
$(PKG_STAGE)/default/bpfpush: packaging/bpfpush.default
	@mkdir -p $(dir $@)
	@cp $< $@ && chmod 644 $@
$(PKG_STAGE)/bpfpush.service: packaging/bpfpush.service
	@mkdir -p $(dir $@)
	@cp $< $@ && chmod 644 $@
$(PKG_STAGE)/%: packaging/man/% VERSION
	@mkdir -p $(dir $@)
	@sed 's/@VERSION@/$(VERSION)/g' $< > $@

# .deb: debhelper in a copy of the staged tree plus packaging/debian/ (dpkg-buildpackage -b
# writes into the parent directory, build/packaging/deb/). A native version: VERSION as is.
DEB_SRC := $(PKG_DIR)/deb/bpfpush-$(VERSION)
deb: package-deps
	@$(MAKE) --no-print-directory $(DEB_FILE)
$(DEB_FILE): $(PKG_STAGE_FILES) $(wildcard packaging/debian/* packaging/debian/source/*) mk/package.mk
	@rm -rf $(PKG_DIR)/deb && mkdir -p $(DEB_SRC)
	@tar -C $(PKG_STAGE) -cf - $(patsubst $(PKG_STAGE)/%,%,$(PKG_STAGE_FILES)) | tar -C $(DEB_SRC) -xf -
	@cp -r packaging/debian $(DEB_SRC)/debian
	@rm $(DEB_SRC)/debian/changelog.in
	@mv $(DEB_SRC)/bpfpush.service $(DEB_SRC)/debian/bpfpush.service
	@sed -e 's/@VERSION@/$(VERSION)/' -e 's/@DATE@/$(PKG_DATE)/' packaging/debian/changelog.in > $(DEB_SRC)/debian/changelog
	@echo "  DEB     $@"
	@cd $(DEB_SRC) && $(DEB_BUILD_ENV) dpkg-buildpackage -b -us -uc $(DEB_BUILD_ARCH_FLAGS) > ../dpkg-buildpackage.log 2>&1 \
		|| { cat ../dpkg-buildpackage.log; exit 1; }
	@cp $(PKG_DIR)/deb/$(notdir $@) $@

# SELinux module: checkpolicy and semodule-utils (Debian packages) build it.
$(PKG_STAGE)/bpfpush.pp: packaging/selinux/bpfpush.te
	@mkdir -p $(PKG_DIR)/selinux $(dir $@)
	@echo "  SEPOL   $@"
	@checkmodule -M -m -o $(PKG_DIR)/selinux/bpfpush.mod $<
	@semodule_package -o $@ -m $(PKG_DIR)/selinux/bpfpush.mod
selinux: $(PKG_STAGE)/bpfpush.pp

# .rpm: rpmbuild (Debian's rpm package) with a private topdir under build/packaging/rpm.
RPM_TOP := $(abspath $(PKG_DIR)/rpm)
rpm: package-deps
	@$(MAKE) --no-print-directory $(RPM_FILE)
$(RPM_FILE): $(PKG_STAGE_FILES) $(PKG_STAGE)/bpfpush.pp packaging/rpm/bpfpush.spec mk/package.mk
	@rm -rf $(RPM_TOP) && mkdir -p $(RPM_TOP)
	@echo "  RPM     $@"
	@rpmbuild -bb --target $(RPM_ARCH) $(RPM_BUILD_ARCH_FLAGS) --define '_topdir $(RPM_TOP)' \
		--define 'bpfpush_version $(VERSION)' --define 'bpfpush_stage $(abspath $(PKG_STAGE))' \
		packaging/rpm/bpfpush.spec > $(PKG_DIR)/rpmbuild.log 2>&1 || { cat $(PKG_DIR)/rpmbuild.log; exit 1; }
	@cp $(RPM_TOP)/RPMS/$(RPM_ARCH)/$(notdir $@) $@

package-clean:
	rm -rf $(PKG_DIR)

# Builds both packages and checks them: contents, conffiles, lintian, installs into scratch
# roots (dpkg --root, rpm --root), the unit, a capability-only run. Needs root.
test-packaging: package-deps
	@$(MAKE) --no-print-directory $(DEB_FILE) $(RPM_FILE)
	@tests/packaging/run.sh $(BUILD) $(DEB_ARCH) $(RPM_ARCH)
