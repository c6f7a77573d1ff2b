#!/usr/bin/env bash
# Install every build and test dependency of bpfpush from Debian's packages.
# Idempotent. With --if-missing it does nothing when everything is already there.
set -euo pipefail

# libssl-dev: the headers of OpenSSL 3, which tls:// sinks open at run time (libssl3 comes with it); openssl: the CLI the TLS tests make certificates with.
# ansible-core: tests/e2e/test_ansible_role.sh renders and checks the Ansible role (contrib/ansible).
# dpkg-dev: dpkg-source, with which apt-get source unpacks the libbpf that is linked (scripts/libbpf-source.sh);
# libbpf-dev: the BPF programs' <bpf/bpf_helpers.h>.
BUILD_PKGS=(make gcc clang llvm pkg-config bpftool dpkg-dev libbpf-dev libuv1-dev libyaml-dev libelf-dev zlib1g-dev
	linux-libc-dev libcmocka-dev nftables libssl-dev openssl ansible-core)
# make deb / make rpm / make test-packaging (installed with --packaging, as make test-packaging does):
# debhelper and lintian for the .deb, rpm's rpmbuild, the SELinux module's compilers, and what
# the checks use (systemd-analyze, setpriv, objdump, file, python3 for the listeners, useradd,
# a static busybox as /bin/sh in the rpm scratch root).
PACKAGING_PKGS=(debhelper dpkg-dev fakeroot lintian rpm checkpolicy semodule-utils systemd util-linux
	binutils file python3 passwd man-db busybox-static)
# make fuzz / make test-asan / make valgrind (installed with --sanitizers, as those targets do):
# clang's sanitizer and libFuzzer runtimes, which the clang package does not pull in, and valgrind.
SANITIZER_PKGS=(libclang-rt-14-dev valgrind)

# make ARCH=arm64 (installed with --arch arm64, as that build does): Debian's cross compiler and the
# target's -dev packages through multiarch, with the host's clang, bpftool and pkg-config for the rest.
declare -A CROSS_TRIPLETS=([arm64]=aarch64-linux-gnu)
CROSS_ARCH=
if [[ "${1:-}" == "--arch" ]]; then
	CROSS_ARCH=${2:?install-deps: --arch needs an architecture (arm64)}
	triplet=${CROSS_TRIPLETS[$CROSS_ARCH]:-}
	if [[ -z "$triplet" ]]; then
		echo "install-deps: --arch $CROSS_ARCH: no cross toolchain known (arm64)" >&2
		exit 1
	fi
	BUILD_PKGS=(make clang llvm pkg-config bpftool "gcc-$triplet" dpkg-dev libc6-dev:$CROSS_ARCH libbpf-dev
		libuv1-dev:$CROSS_ARCH libyaml-dev:$CROSS_ARCH libelf-dev:$CROSS_ARCH zlib1g-dev:$CROSS_ARCH libssl-dev:$CROSS_ARCH
		libcmocka-dev:$CROSS_ARCH)
	shift 2
fi
if [[ "${1:-}" == "--packaging" ]]; then
	BUILD_PKGS=("${BUILD_PKGS[@]}" "${PACKAGING_PKGS[@]}")
	shift
fi
if [[ "${1:-}" == "--sanitizers" ]]; then
	BUILD_PKGS=("${BUILD_PKGS[@]}" "${SANITIZER_PKGS[@]}")
	shift
fi

missing() {
	local pkg
	for pkg in "${BUILD_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
	done
}

if [[ "${1:-}" == "--if-missing" ]]; then
	todo=$(missing)
	[[ -z "$todo" ]] && exit 0
	echo "install-deps: missing: $(echo $todo)"
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "install-deps: needs root to install packages (run: sudo make run / sudo make test)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
refresh=
# The target's packages come through multiarch: dpkg learns the architecture, apt its package lists.
if [[ -n "$CROSS_ARCH" && "$(dpkg --print-architecture)" != "$CROSS_ARCH" ]] &&
	! dpkg --print-foreign-architectures | grep -qx "$CROSS_ARCH"; then
	dpkg --add-architecture "$CROSS_ARCH"
	refresh=1
fi
# A machine whose package lists are older than a day (or absent) refreshes them first.
if [[ -n "$refresh" || -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]; then
	apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${BUILD_PKGS[@]}" >/dev/null
if [[ -n "$CROSS_ARCH" ]]; then
	echo "install-deps: cross-build dependencies for $CROSS_ARCH installed"
else
	echo "install-deps: build and test dependencies installed"
fi
