#!/usr/bin/env bash
# The kernel matrix: run every integration test inside Debian's newest 5.10
# (Debian 11), 6.1 and 6.12 kernels under QEMU (TCG: KVM does not work on the development machine),
# once per attach tier forced and once per syscall layer forced, and print one table of results.
#
#   scripts/vm-test.sh [--build DIR] [--arch x86|arm64] [--kernels "5.10 6.1 6.12"] [--tiers "..."]
#                      [--layers "..."] [--tests "test_process ..."] [--timeout SECS] [--no-install]
#   make vm-test       (builds build/static first; same variables as below)
#   make vm-test ARCH=arm64   (cross-builds build-arm64/static and boots Debian's arm64
#                      kernels under qemu-system-aarch64 -machine virt -cpu max, TCG)
#
# Environment (the options win):
#   VM_ARCH      x86 (default) or arm64: the guests' architecture (the binaries in --build
#                must be built for it)
#   VM_KERNELS   kernel series, default "5.10 6.1 6.12" on x86 (5.10: Debian 11's newest),
#                "6.1 6.12" on arm64
#   VM_FULL      1: every tier, layer and test on every kernel (the whole matrix, on
#                demand). Unset, each kernel runs what scripts/vm/ci.plan gives it (CI's
#                choice, to stay within its time), unless VM_TIERS, VM_LAYERS or VM_TESTS
#                (or their options) are given: those then apply to every kernel.
#   VM_TIERS     default "fentry kprobe tp_btf raw_tp tracepoint"; "unforced" adds one run of
#                every test with nothing forced (the tests listing "auto" have that run anyway)
#   VM_LAYERS    default "dispatcher tracepoints"
#   VM_TESTS     test binaries (names in build/static/tests), default all
#   (scripts/vm/tests.list says which tiers and layers tell each test anything new;
#   a test listing "auto" also runs once with nothing forced, on every kernel)
#   VM_MODULES   kernel modules added to scripts/vm/modules.list
#   VM_TIMEOUT   seconds one guest may run, default 3600
#   VM_TEST_TIMEOUT  seconds one test binary may run in the guest, default 900 (3000 on arm64: test_apps took 1711 s on its 6.1)
#   VM_REPEAT   runs of each (tier, layer, test) in a guest, default 1 (for flaky tests)
#   VM_PACKAGE   a .deb of bpfpush for the guests' architecture: its binary, with the
#                libraries it names, runs in each guest as installed (--version,
#                --check-config and 5 s of the shipped config, which must send): one more
#                result, test "package"
#   VM_PROBES    all (default): the --probe record of the shipped config, of every module at
#                log_level debug, of each tier and layer forced; auto: the shipped config's alone
#   VM_SMP, VM_MEM   guest CPUs (default 2) and memory (default 1024 MiB)
#   VM_PARALLEL  1 (default) boots the guests at the same time; 0 one after the other.
#                Guests wait on timers and RCU much of the time: two at once on two
#                host cores took 10 min where one after the other took 13.5 min for half the tests.
#   VM_QEMU_ARGS extra qemu arguments (e.g. a -drive for disk tests)
#   VM_BENCH     arguments of scripts/bench/overhead: each guest runs that benchmark (under a
#                static bash, with the helpers scripts/bench/guest builds into BUILD/bench-guest)
#                instead of the probes and tests, and its output is printed; no test runs
#
# Needs root (apt-get, and files owned by root in the initramfs). Installs
# qemu-system-x86 (qemu-system-arm for arm64) and busybox-static when missing
# (arm64's busybox-static is downloaded and unpacked, not installed); downloads the kernel packages
# with `apt-get download` into build/vm-cache/ (reused; never installed into /boot)
# and unpacks them with dpkg-deb -x. Exits 0 only when every run of every test in
# every guest passed and every guest finished.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=build
install=1
arch=${VM_ARCH:-x86}
kernels=${VM_KERNELS:-}
# The plan applies unless the whole matrix or a selection was asked for.
use_plan=1
[[ ${VM_FULL:-0} == 1 || -n ${VM_TIERS+x} || -n ${VM_LAYERS+x} || -n ${VM_TESTS+x} ]] && use_plan=0
tiers=${VM_TIERS-"fentry kprobe tp_btf raw_tp tracepoint"}
layers=${VM_LAYERS-"dispatcher tracepoints"}
tests=${VM_TESTS:-}
timeout_s=${VM_TIMEOUT:-3600}
test_timeout=${VM_TEST_TIMEOUT:-}
smp=${VM_SMP:-2}
mem=${VM_MEM:-1024}
parallel=${VM_PARALLEL:-1}

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-3}"; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) build=$2; shift 2 ;;
	--arch) arch=$2; shift 2 ;;
	--kernels) kernels=$2; shift 2 ;;
	--tiers) tiers=$2; use_plan=0; shift 2 ;;
	--layers) layers=$2; use_plan=0; shift 2 ;;
	--tests) tests=$2; use_plan=0; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--no-install) install=0; shift ;;
	-h | --help) usage 0 ;;
	*) echo "vm-test: unknown argument $1" >&2; usage ;;
	esac
done

cd "$root"
case $build in /*) ;; *) build=$root/$build ;; esac
# What differs by architecture: Debian's name for it, the emulator and its machine, the
# serial console, and the kernel series Debian ships for it here (no 5.10 on arm64: the
# issue's matrix is bookworm's 6.1 and 6.12).
case $arch in
x86 | amd64 | x86_64)
	arch=x86 debarch=amd64 qemu=qemu-system-x86_64 qemu_pkg=qemu-system-x86 console=ttyS0
	qemu_machine=(-accel tcg,thread=single -cpu max)
	: "${kernels:=5.10 6.1 6.12}"
	;;
arm64 | aarch64)
	arch=arm64 debarch=arm64 qemu=qemu-system-aarch64 qemu_pkg=qemu-system-arm console=ttyAMA0
	# The host's objcopy knows only its own architecture: the modules' .modinfo needs the
	# cross binutils (installed with the cross compiler by scripts/install-deps.sh --arch arm64).
	objcopy=aarch64-linux-gnu-objcopy
	qemu_machine=(-machine virt -accel tcg,thread=single -cpu max)
	: "${kernels:=6.1 6.12}"
	;;
*) echo "vm-test: unknown architecture $arch (x86, arm64)" >&2; exit 3 ;;
esac
host_debarch=$(dpkg --print-architecture)
# A test binary's time in a guest depends on what shares the host: test_apps on 6.12's
# kprobe tier took 348 s in a guest alone, 512-536 s in CI beside three other guests, and
# over 600 s once (2026-12-06), so an x86 guest allows 900. An emulated aarch64 guest runs
# a test 2-4 times as long as an x86 one (test_apps: over 600 s).
: "${test_timeout:=$([[ $arch == arm64 ]] && echo 3000 || echo 900)}"
: "${objcopy:=objcopy}"
cache=$build/vm-cache
work=$build/vm
mkdir -p "$cache/debs" "$work"
t_start=$(date +%s)
say() { printf 'vm-test: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---------------------------------------------------------------- host tools
[[ $(id -u) -eq 0 ]] || die "run as root (apt-get, and an initramfs whose files root owns)"
apt_updated=0
apt_update_once() {
	[[ $apt_updated -eq 1 ]] && return 0
	say "apt-get update"
	apt-get update -q >/dev/null || say "apt-get update failed; using the lists there are"
	apt_updated=1
}
need_pkgs=()
command -v "$qemu" >/dev/null || need_pkgs+=("$qemu_pkg")
# The host's busybox packs the initramfs (cpio) whatever the guests' architecture.
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=(busybox-static)
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
	[[ $install -eq 1 ]] || die "missing ${need_pkgs[*]} (and --no-install)"
	say "installing ${need_pkgs[*]}"
	apt_update_once
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi
busybox=$(dpkg -L busybox-static | grep -m1 -E '/bin/busybox$')
[[ -x $busybox ]] || die "busybox-static installed but no busybox binary found"
guest_busybox=$busybox
if [[ $debarch != "$host_debarch" ]]; then
	# The guest's own busybox: downloaded (multiarch lists) and unpacked into the cache.
	bb_dir=$cache/busybox-$debarch
	if [[ ! -x $bb_dir/bin/busybox ]]; then
		bb_deb=$(ls "$cache/debs/busybox-static_"*"_$debarch.deb" 2>/dev/null | sort -V | tail -n 1 || true)
		if [[ -z $bb_deb ]]; then
			[[ $install -eq 1 ]] || die "no busybox-static:$debarch in $cache/debs (and --no-install)"
			apt-cache policy "busybox-static:$debarch" 2>/dev/null | grep -q 'Candidate: [0-9]' || apt_update_once
			say "downloading busybox-static:$debarch"
			(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "busybox-static:$debarch" >/dev/null) ||
				die "apt-get download busybox-static:$debarch failed (is $debarch a dpkg foreign architecture? scripts/install-deps.sh --arch $arch adds it)"
			bb_deb=$(ls "$cache/debs/busybox-static_"*"_$debarch.deb" | sort -V | tail -n 1)
		fi
		rm -rf "$bb_dir"
		mkdir -p "$bb_dir"
		dpkg-deb -x "$bb_deb" "$bb_dir"
	fi
	guest_busybox=$bb_dir/bin/busybox
	[[ -x $guest_busybox ]] || die "busybox-static:$debarch has no bin/busybox"
fi
for tool in "$qemu" dpkg-deb "$objcopy" xz gzip readelf; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

# ---------------------------------------------------------- static binaries
agent=$build/static/bpfpush
[[ -x $agent ]] || die "$agent missing: run 'make static' (or 'make vm-test')"
bench_dir=$build/bench-guest
if [[ -n ${VM_BENCH:-} ]]; then
	tests="" use_plan=0
	for f in bash floor floor.bpf.o syscall_loop mapcost mapcost.bpf.o; do
		[[ -x $bench_dir/$f || ( $f == *.bpf.o && -r $bench_dir/$f ) ]] || die "$bench_dir/$f missing: run scripts/bench/guest"
	done
elif [[ -z $tests ]]; then
	tests=$(cd "$build/static/tests" 2>/dev/null && ls test_* 2>/dev/null | tr '\n' ' ') || true
fi
[[ -n ${tests// /} || -n ${VM_BENCH:-} ]] || die "no test binaries in $build/static/tests: run 'make static'"
for t in $tests; do [[ -x $build/static/tests/$t ]] || die "$build/static/tests/$t missing"; done
readelf -l "$agent" 2>/dev/null | grep -q 'Requesting program interpreter' && say "warning: $agent is not statically linked"
want_machine=$([[ $arch == arm64 ]] && echo AArch64 || echo X86-64)
readelf -h "$agent" | grep -q "Machine: *.*$want_machine" ||
	die "$agent is not an $arch executable (readelf: $(readelf -h "$agent" | sed -n 's/^ *Machine: *//p')); build it with make static ARCH=$arch"

# ------------------------------------------------------- what each kernel runs
# scripts/vm/ci.plan: "series: tiers | layers | tests left out" (the reasons are
# written there). Without a plan line, or with the plan off, a kernel runs all.
declare -A ktiers klayers ktests
for series in $kernels; do
	ktiers[$series]=$tiers klayers[$series]=$layers ktests[$series]=$tests
	line=
	# x86's lines are "6.1: ...", another architecture's "arm64 6.1: ...".
	key=$series
	[[ $arch == x86 ]] || key="$arch $series"
	[[ $use_plan -eq 1 ]] && line=$(sed -n "s/^$key: *//p" "$here/vm/ci.plan")
	[[ -n $line ]] || continue
	IFS='|' read -r p_tiers p_layers p_out <<<"$line"
	ktiers[$series]=$(echo $p_tiers) klayers[$series]=$(echo $p_layers)
	kept=
	for t in $tests; do [[ " $(echo $p_out) " == *" $t "* ]] || kept="$kept $t"; done
	ktests[$series]=$(echo $kept)
	say "kernel $arch $series (scripts/vm/ci.plan; VM_FULL=1 runs all): tiers ${ktiers[$series]:--}, layers ${klayers[$series]:--}${p_out:+, left out:$p_out}"
done

# ----------------------------------------------------------- kernel packages
# The newest linux-image-5.10.0-N-amd64 / linux-image-6.1.0-N-amd64 /
# linux-image-6.12.N+deb12-amd64: no
# -cloud, -rt or -dbg flavour, no meta-package (the regexes admit only these).
kernel_regex() {
	case $1 in
	5.10) echo "^linux-image-5\\.10\\.0-[0-9]+-$debarch\$" ;;
	6.1) echo "^linux-image-6\\.1\\.0-[0-9]+-$debarch\$" ;;
	6.12) echo "^linux-image-6\\.12\\.[0-9]+\\+deb12-$debarch\$" ;;
	*) die "unknown kernel series $1 (known: 5.10 6.1 6.12)" ;;
	esac
}
# Debian 11's kernels are not in the host's (Debian 12) sources: apt gets its own
# sources list, lists and cache for bullseye and bullseye-security under the
# cache directory (scripts/lib/apt-private.sh), and never touches the host's. The
# 6.x series use the host's.
# shellcheck source=scripts/lib/apt-private.sh
source "$here/lib/apt-private.sh"
bullseye=$cache/apt-bullseye
mapfile -t bullseye_opts < <(apt_private_opts "$bullseye")
apt_opts() { # series -> the -o options of its apt, one per line
	case $1 in 5.10) printf '%s\n' "${bullseye_opts[@]}" ;; esac
}
bullseye_updated=0
apt_update_series() { # series: fetch the lists its packages come from
	case $1 in
	5.10)
		[[ $bullseye_updated -eq 1 ]] && return 0
		apt_private_sources "$bullseye" deb http://deb.debian.org/debian bullseye \
			http://deb.debian.org/debian-security bullseye-security
		say "apt-get update (bullseye, bullseye-security)"
		apt-get "${bullseye_opts[@]}" update -q >/dev/null || say "apt-get update (bullseye) failed; using the lists there are"
		bullseye_updated=1
		;;
	*) apt_update_once ;;
	esac
}
newest_package() { # series -> package name from the apt lists, or nothing
	local -a o
	mapfile -t o < <(apt_opts "$1")
	apt-cache "${o[@]}" search --names-only '^linux-image-[56]\.' 2>/dev/null |
		awk '{print $1}' | grep -E "$(kernel_regex "$1")" | sort -V | tail -n 1 || true
}
candidate_version() { # series package
	local -a o
	mapfile -t o < <(apt_opts "$1")
	apt-cache "${o[@]}" policy "$2:$debarch" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)' || true
}

declare -A kpkg kver kdir
for series in $kernels; do
	pkg=$(newest_package "$series")
	if [[ -z $pkg && $install -eq 1 ]]; then
		apt_update_series "$series"
		pkg=$(newest_package "$series")
	fi
	ver=
	[[ -n $pkg ]] && ver=$(candidate_version "$series" "$pkg")
	deb=
	if [[ -n $pkg && -n $ver ]]; then
		deb=$(ls "$cache/debs/${pkg}_${ver//:/%3a}_$debarch.deb" 2>/dev/null || true)
		if [[ -z $deb ]]; then
			say "downloading $pkg $ver"
			mapfile -t o < <(apt_opts "$series")
			(cd "$cache/debs" && apt-get "${o[@]}" download -q -o APT::Sandbox::User=root "$pkg:$debarch=$ver" >/dev/null) ||
				die "apt-get download $pkg=$ver failed"
			deb=$(ls "$cache/debs/${pkg}_"*"_$debarch.deb" | grep -F "_${ver//:/%3a}_" | head -n 1)
		fi
	else
		# No apt lists (offline): the newest package already in the cache.
		deb=$(ls "$cache/debs/"*.deb 2>/dev/null | while read -r f; do
			n=$(basename "$f"); n=${n%%_*}
			grep -qE "$(kernel_regex "$series")" <<<"$n" && echo "$f"
		done | sort -V | tail -n 1)
		[[ -n $deb ]] || die "no linux-image package for $series in the apt lists or in $cache/debs"
		pkg=$(dpkg-deb -f "$deb" Package)
		ver=$(dpkg-deb -f "$deb" Version)
		say "apt lists have no $series kernel: using the cached $pkg $ver"
	fi
	dir=$cache/x/$(basename "$deb" .deb)
	if [[ ! -f $dir/.unpacked ]]; then
		rm -rf "$dir"
		mkdir -p "$dir"
		dpkg-deb -x "$deb" "$dir"
		touch "$dir/.unpacked"
	fi
	kpkg[$series]=$pkg
	kver[$series]=$ver
	kdir[$series]=$dir
	say "kernel $series: $pkg $ver ($(basename "$(ls "$dir"/boot/vmlinuz-*)"))"
done

# ------------------------------------------------------------------ modules
modules=$(sed 's/#.*//' "$here/vm/modules.list" | tr -s ' \t' '\n\n' | grep -v '^$' || true)
modules="$modules ${VM_MODULES:-}"

# modinfo FIELD of one .ko or .ko.xz (no kmod on the host: read .modinfo directly)
modinfo_field() {
	local f=$1 field=$2 tmp
	tmp=$(mktemp -d)
	case $f in
	*.ko.xz) xz -dc "$f" > "$tmp/m.ko" ;;
	*.ko.zst) zstd -qdc "$f" > "$tmp/m.ko" ;;
	*.ko.gz) gzip -dc "$f" > "$tmp/m.ko" ;;
	*) cp "$f" "$tmp/m.ko" ;;
	esac
	"$objcopy" -O binary --only-section=.modinfo "$tmp/m.ko" "$tmp/modinfo" 2>/dev/null || true
	tr '\0' '\n' < "$tmp/modinfo" | sed -n "s/^$field=//p"
	rm -rf "$tmp"
}

# Resolve the module list of one kernel into "name file" lines in load order,
# copy (and decompress) each .ko into $2/lib/modules/.
pack_modules() {
	local dir=$1 dest=$2 mdir kv name f
	mdir=$(ls -d "$dir"/lib/modules/*/ | head -n 1)
	kv=$(basename "$mdir")
	declare -A path builtin seen
	while read -r f; do
		name=${f##*/}; name=${name%%.ko*}; name=${name//-/_}
		path[$name]=$f
	done < <(find "$mdir/kernel" -name '*.ko*')
	while read -r f; do
		name=${f##*/}; name=${name%%.ko*}; name=${name//-/_}
		builtin[$name]=1
	done < "$mdir/modules.builtin"
	mkdir -p "$dest/lib/modules"
	: > "$dest/lib/modules/load.order"
	visit() {
		local m=${1//-/_} d deps pre
		[[ -n ${seen[$m]:-} ]] && return 0
		seen[$m]=1
		if [[ -n ${builtin[$m]:-} ]]; then
			say "  $kv: $m is built in"
			return 0
		fi
		if [[ -z ${path[$m]:-} ]]; then
			[[ ${2:-} == soft ]] && return 0
			die "$kv has no module $m (neither built in nor in its package)"
		fi
		deps=$(modinfo_field "${path[$m]}" depends | tr ',' ' ')
		pre=$(modinfo_field "${path[$m]}" softdep | sed -n '/^pre:/{s/^pre: *//; s/ *post:.*//; p}')
		for d in $pre; do visit "$d" soft; done
		for d in $deps; do visit "$d"; done
		case ${path[$m]} in
		*.ko.xz) xz -dc "${path[$m]}" > "$dest/lib/modules/$m.ko" ;;
		*.ko.zst) zstd -qdc "${path[$m]}" > "$dest/lib/modules/$m.ko" ;;
		*.ko.gz) gzip -dc "${path[$m]}" > "$dest/lib/modules/$m.ko" ;;
		*) cp "${path[$m]}" "$dest/lib/modules/$m.ko" ;;
		esac
		echo "$m $m.ko" >> "$dest/lib/modules/load.order"
	}
	for name in $modules; do visit "$name"; done
	say "  $kv: modules in load order: $(awk '{print $1}' "$dest/lib/modules/load.order" | tr '\n' ' ')"
}

# --------------------------------------------------------------- initramfs
# Copy a binary's loader and libraries when it is dynamic (the tests link cmocka
# dynamically where no libcmocka.a exists). Read from the ELF itself, not ldd, which
# cannot run another architecture's loader: the interpreter, then each DT_NEEDED found
# in the target's multiarch directories (Debian's :arm64 packages), recursively.
lib_dirs() {
	local triplet
	case $arch in x86) triplet=x86_64-linux-gnu ;; arm64) triplet=aarch64-linux-gnu ;; esac
	echo "/lib/$triplet /usr/lib/$triplet /lib64 /lib"
}
copy_with_libs() {
	local bin=$1 dest=$2 interp lib dir found
	interp=$(readelf -l "$bin" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
	if [[ -n $interp && ! -e $dest$interp ]]; then
		mkdir -p "$dest$(dirname "$interp")"
		cp -L "$interp" "$dest$interp"
	fi
	for lib in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
		found=
		for dir in $(lib_dirs); do
			[[ -e $dir/$lib ]] && { found=$dir/$lib; break; }
		done
		[[ -n $found ]] || die "$bin needs $lib: not found in $(lib_dirs) (install its :$debarch package)"
		[[ -e $dest$found ]] && continue
		mkdir -p "$dest$(dirname "$found")"
		cp -L "$found" "$dest$found"
		copy_with_libs "$found" "$dest"
	done
}

make_initramfs() { # series -> path of the initramfs
	local series=$1 dir=${kdir[$1]} out=$work/$1 rootfs
	rootfs=$out/rootfs
	rm -rf "$rootfs"
	mkdir -p "$rootfs"/{bin,sbin,dev,proc,sys,tmp,run,etc/bpfpush,bpfpush/tests,root} "$rootfs"/usr/{bin,sbin}
	cp "$guest_busybox" "$rootfs/bin/busybox"
	ln -s busybox "$rootfs/bin/sh"
	cp "$here/vm/init.sh" "$rootfs/init"
	chmod 755 "$rootfs/init"
	cp "$agent" "$rootfs/bpfpush/bpfpush"
	for t in ${ktests[$series]}; do
		cp "$build/static/tests/$t" "$rootfs/bpfpush/tests/$t"
		copy_with_libs "$build/static/tests/$t" "$rootfs"
	done
	copy_with_libs "$agent" "$rootfs"
	if [[ -n ${VM_BENCH:-} ]]; then
		# The benchmark as the repository lays it out (it runs from its checkout): the
		# static agent as build/bpfpush, its prebuilt helpers in build/bench.
		local repo=$rootfs/bpfpush/repo
		mkdir -p "$repo/scripts/bench" "$repo/build/gen" "$repo/build/bench"
		cp "$bench_dir/bash" "$rootfs/bin/bash"
		cp scripts/bench/overhead scripts/bench/mapcost "$repo/scripts/bench/"
		cp "$agent" "$repo/build/bpfpush"
		: > "$repo/build/gen/vmlinux.h" # the script checks that a build ran; the helpers are built
		cp "$bench_dir"/{floor,floor.bpf.o,syscall_loop,mapcost,mapcost.bpf.o} "$repo/build/bench/"
	fi
	if [[ -n ${VM_PACKAGE:-} ]]; then
		# The packaged binary where the package puts it, and what its dynamic linking needs.
		local pkgroot=$out/package
		rm -rf "$pkgroot"
		dpkg-deb -x "$VM_PACKAGE" "$pkgroot" || die "VM_PACKAGE=$VM_PACKAGE: not a .deb"
		[[ -x $pkgroot/usr/sbin/bpfpush ]] || die "VM_PACKAGE=$VM_PACKAGE has no usr/sbin/bpfpush"
		mkdir -p "$rootfs/usr/sbin"
		cp "$pkgroot/usr/sbin/bpfpush" "$rootfs/usr/sbin/bpfpush"
		cp "$pkgroot/etc/bpfpush/bpfpush.yaml" "$rootfs/etc/bpfpush/package.yaml"
		copy_with_libs "$rootfs/usr/sbin/bpfpush" "$rootfs"
		say "  $series: packaged binary from $(basename "$VM_PACKAGE") ($(dpkg-deb -f "$VM_PACKAGE" Architecture))"
	fi
	cp config/run.yaml "$rootfs/etc/bpfpush/run.yaml"
	cp config/bpfpush.yaml "$rootfs/etc/bpfpush/bpfpush.yaml" # test_shipped runs it as shipped
	cp "$here/vm/tests.list" "$rootfs/etc/bpfpush/vm-tests.list"
	printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
	printf 'root:x:0:\n' > "$rootfs/etc/group"
	printf '127.0.0.1 localhost bpfpush-vm\n::1 localhost\n' > "$rootfs/etc/hosts"
	{
		printf 'VM_TIERS=%q\n' "${ktiers[$series]}"
		printf 'VM_LAYERS=%q\n' "${klayers[$series]}"
		printf 'VM_TEST_TIMEOUT=%q\n' "$test_timeout"
		printf 'VM_REPEAT=%q\n' "${VM_REPEAT:-1}"
		printf 'VM_PROBES=%q\n' "${VM_PROBES:-all}"
		printf 'VM_BENCH=%q\n' "${VM_BENCH:-}"
	} > "$rootfs/etc/vm-test.env"
	pack_modules "$dir" "$rootfs"
	(cd "$rootfs" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1) > "$out/initramfs.cpio.gz"
	cp "$(ls "$dir"/boot/vmlinuz-* | head -n 1)" "$out/vmlinuz"
	say "  $series: initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1)"
}

for series in $kernels; do
	mkdir -p "$work/$series"
	make_initramfs "$series"
done
t_prepared=$(date +%s)

# Does a (tier, layer) run tell test $1 anything new? The same rule as init.sh's.
runs_in() { # test tier layer; tier "auto": the run with nothing forced, only for tests listing "auto"
	local spec
	spec=$(sed -n "s/^$1: *//p" "$here/vm/tests.list")
	if [[ $2 == auto || $2 == unforced ]]; then
		[[ " ${spec%%|*} " == *" auto "* ]] && { [[ $2 == auto ]]; return; }
		[[ $2 == unforced ]]
		return
	fi
	[[ -n $spec ]] || return 0
	[[ -n $2 ]] && { [[ " ${spec%%|*} " == *" $2 "* ]]; return; }
	[[ -n $3 ]] && { [[ " ${spec#*|} " == *" $3 "* ]]; return; }
	return 0
}

# -------------------------------------------------------------------- boot
# One guest: TCG, no network device, serial console on stdio into the log;
# the result lines also go to stderr as they come.
# TCG runs the guest's CPUs one at a time (thread=single): with one host thread
# per vCPU, the kernel patching a hot tracepoint's jump (text_poke_bp, an int3
# then the new bytes) while the other vCPU runs it ended in "Oops: int3" in
# handle_softirqs (6.12) and a 455 s soft lockup there (6.1) once the softirq
# tracepoints were attached. The two guests still run side by side.
boot() { # series
	local series=$1 out=$work/$1 rc=0 t0
	t0=$(date +%s)
	say "booting $series (${kpkg[$series]} ${kver[$series]}), log $out/console.log"
	# shellcheck disable=SC2086
	timeout -k 10 "$timeout_s" "$qemu" "${qemu_machine[@]}" -smp "$smp" -m "$mem" \
		-kernel "$out/vmlinuz" -initrd "$out/initramfs.cpio.gz" \
		-append "console=$console panic=-1" -nographic -no-reboot -nic none ${VM_QEMU_ARGS:-} \
		< /dev/null 2>&1 | sed -u 's/\r$//' | tee "$out/console.log" |
		grep -a --line-buffered -E '^VMTEST (RESULT|BEGIN|DONE|MODULE .*failed)' | sed -u "s/^/  [$series] /" >&2 ||
		rc=${PIPESTATUS[0]}
	echo "${rc:-0} $(( $(date +%s) - t0 ))" > "$out/boot.status"
}
rm -f "$work"/*/boot.status
if [[ $parallel -eq 1 ]]; then
	pids=()
	for series in $kernels; do boot "$series" & pids+=($!); done
	wait "${pids[@]}"
else
	for series in $kernels; do boot "$series"; done
fi
t_end=$(date +%s)

# ------------------------------------------------------------------ report
# A guest that died mid-run (an oops, a panic, a lockup): name the run it was in and
# the kernel's own headline and call trace in the closing summary, which is all of the
# output CI keeps; the console's tail alone starts below the trace.
# Only the kernel's own lines (timestamped) count: a test's output may quote such words.
oops_re='^\[ *[0-9]+\.[0-9]+\] .*(BUG:|Oops|general protection fault|Kernel panic|kernel BUG|WARNING: CPU|Unable to handle|soft lockup|hung_task|RCU stall|self-detected stall|Internal error)'
guest_died() { # series log
	local in_run headline trace
	in_run=$(awk '/^VMTEST OUT-BEGIN /{run=$0; sub(/^VMTEST OUT-BEGIN /, "", run)} /^VMTEST OUT-END /{run=""} END {print run}' "$2")
	# (set -e and pipefail are on: a search that finds nothing must not end the report)
	headline=$(grep -aE "$oops_re" "$2" | head -n 1 | sed 's/^\[ *[0-9.]*\] //' || true)
	# The first trace's functions, innermost first: "name+0x1/0x2" without the offsets.
	trace=$(awk '/Call [Tt]race:/ {p=1; next} p && /<\/TASK>|^\[ *[0-9.]*\] ---\[|Code: |Modules linked in/ {exit}
		p {sub(/^\[ *[0-9.]*\] */, ""); for (i = 1; i <= NF; i++) if ($i ~ /\+0x/ && $(i - 1) != "?") {sub(/\+0x.*/, "", $i); printf "%s ", $i}}' "$2" | head -c 400 || true)
	failures+=("$1: the guest died${in_run:+ in run $in_run}: ${headline:-no oops line (qemu exit or timeout)}")
	[[ -n $trace ]] && failures+=("    call trace: $trace")
	if [[ -n $headline ]]; then
		say "$1: the kernel's report, from its first line:"
		awk -v re="$oops_re" '$0 ~ re {p=1} p && n < 80 {print "    " $0; n++}' "$2" | grep -av '^    VMTEST' >&2 || true
	fi
	return 0
}
status=0
n_passed=0
n_failed=0
results=$work/results.txt
failures=()
: > "$results"
printf '\n%-28s %-11s %-12s %-16s %4s %6s %6s %4s %5s\n' kernel tier layer test run passed failed rc secs
for series in $kernels; do
	log=$work/$series/console.log
	read -r qrc qsecs < "$work/$series/boot.status" || { qrc=?; qsecs=?; }
	grep -a '^VMTEST RESULT ' "$log" >> "$results" || true
	while read -r line; do
		declare -A r=()
		for kv in ${line#VMTEST RESULT }; do r[${kv%%=*}]=${kv#*=}; done
		r_kernel=${r[kernel]:-?} r_tier=${r[tier]:-?} r_layer=${r[layer]:-?} r_test=${r[test]:-?}
		r_run=${r[run]:--} r_passed=${r[passed]:-0} r_failed=${r[failed]:-0} r_rc=${r[rc]:-?} r_secs=${r[secs]:-?}
		[[ ${VM_REPEAT:-1} -gt 1 ]] && r_test="$r_test#${r[rep]:-?}"
		unset r
		mark=
		n_passed=$((n_passed + r_passed))
		n_failed=$((n_failed + r_failed))
		if [[ $r_run == - || $r_failed -ne 0 || $r_rc != 0 || $r_passed -ne $r_run ]]; then
			mark='  <-- FAILED'
			status=1
			# a crash, a timeout or a suite that never reported counts once
			[[ $r_failed -eq 0 ]] && n_failed=$((n_failed + 1))
		fi
		printf '%-28s %-11s %-12s %-16s %4s %6s %6s %4s %5s%s\n' "$r_kernel" "$r_tier" "$r_layer" "$r_test" \
			"$r_run" "$r_passed" "$r_failed" "$r_rc" "$r_secs" "$mark"
	done < <(grep -a '^VMTEST RESULT ' "$log" || true)
	expected=0
	for t in ${ktests[$series]}; do
		runs_in "$t" auto "" && expected=$((expected + 1))
		for tier in ${ktiers[$series]}; do runs_in "$t" "$tier" "" && expected=$((expected + 1)); done
		for layer in ${klayers[$series]}; do runs_in "$t" "" "$layer" && expected=$((expected + 1)); done
	done
	expected=$((expected * ${VM_REPEAT:-1}))
	[[ -n ${VM_PACKAGE:-} ]] && expected=$((expected + 1))
	got=$(grep -ac '^VMTEST RESULT ' "$log" || true)
	if [[ -n ${VM_BENCH:-} ]]; then
		# The benchmark's own output, as it printed it; it fails the run only when it did not finish.
		say "$series: scripts/bench/overhead $VM_BENCH in the guest:"
		awk '/^VMTEST BENCH-BEGIN/ {p=1; next} /^VMTEST BENCH-END/ {p=0} p' "$log"
		if ! grep -aq '^VMTEST BENCH-END rc=0' "$log"; then
			say "$series: the benchmark did not finish: $(grep -a '^VMTEST BENCH-END' "$log" || echo 'no end line')"
			status=1
			n_failed=$((n_failed + 1))
		fi
	fi
	if ! grep -aq '^VMTEST DONE ' "$log"; then
		say "$series: the guest did not finish (qemu exit $qrc after ${qsecs}s; 124 = timeout); last lines of $log:"
		grep -av '^VMTEST' "$log" | tail -n 20 | sed 's/^/    /' >&2
		status=1
		n_failed=$((n_failed + 1))
		guest_died "$series" "$log"
	elif [[ $got -ne $expected ]]; then
		say "$series: $got results, expected $expected"
		status=1
		n_failed=$((n_failed + 1))
	fi
	if grep -aq '^VMTEST MODULE .*status=failed' "$log"; then
		grep -a '^VMTEST MODULE .*status=failed' "$log" | sed 's/^/    /' >&2
		status=1
	fi
	# The whole output of each failed run, from the console log.
	for id in $(awk '/^VMTEST OUT-BEGIN /{id=$3} /^VMTEST RESULT /{ if ($0 ~ / failed=[1-9]/ || $0 !~ / rc=0 / || $0 ~ / run=- /) print id }' "$log"); do
		say "output of failed run $id ($series):"
		awk -v id="$id" '$0 ~ "^VMTEST OUT-BEGIN "id" " {p=1} p {print "    " $0} $0 == "VMTEST OUT-END "id {p=0}' "$log" >&2
		# CI keeps only the tail of its output: repeat the run's name and its
		# assertion lines in the closing summary.
		failures+=("$series run $id: $(awk -v id="$id" '$0 ~ "^VMTEST OUT-BEGIN "id" " {sub(/^VMTEST OUT-BEGIN [^ ]* /, ""); print; exit}' "$log")")
		while IFS= read -r why; do failures+=("    $why"); done < <(
			awk -v id="$id" '$0 ~ "^VMTEST OUT-BEGIN "id" " {p=1} $0 == "VMTEST OUT-END "id {p=0}
				p && /\[  ERROR   \]|\[  FAILED  \] test_|error: Failure|NOT in|not in \[|Segmentation|timed out|Aborted/' "$log" | head -n 6)
	done
	done_secs=$(sed -n 's/^VMTEST DONE .*secs=\([0-9]*\).*/\1/p' "$log")
	say "$series: ${kpkg[$series]} ${kver[$series]}: guest ran ${done_secs:-?}s of ${qsecs}s in qemu; probe output in $log"
done
say "prepared in $((t_prepared - t_start))s, guests ran $((t_end - t_prepared))s, total $((t_end - t_start))s"
if [[ ${#failures[@]} -gt 0 ]]; then
	say "what failed:"
	printf '  %s\n' "${failures[@]}"
fi
echo "vm-test: $n_passed passed, $n_failed failed"
exit $status
