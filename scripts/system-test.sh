#!/usr/bin/env bash
# The package on a real systemd host: Debian 12 with systemd as PID 1, booted under QEMU (TCG)
# with Debian 12's own 6.1 kernel, where tests/system/guest.sh installs the .deb with apt,
# checks the service (user, capabilities, READY, watchdog, journal, reload, security score),
# upgrades it, purges it, and drives contrib/ansible/roles/bpfpush with Debian's ansible-core.
#
#   scripts/system-test.sh [--build DIR] [--timeout SECS] [--keep]
#   (--timeout, or SYSTEM_TIMEOUT: seconds the guest may run, default 3600; about 700 on an idle
#   2-core host, over 1500 with the kernel matrix's three guests beside it)
#   make test-system      (builds the .deb first)
#
# The guest's root filesystem is built once with mmdebstrap from Debian's packages and cached
# as build/system/base-HASH.img (HASH: the package list and this script's image recipe); each
# run boots a copy-on-write overlay of it, so the cached image stays as built. The test payload
# (both packages, the guest script, the Ansible role, Etsy statsd) goes in on a second disk,
# where the guest also leaves its TAP results. The guest reaches Debian's mirror through QEMU's
# user-mode network (apt resolves the package's dependencies there); nothing else leaves it.
# Needs root (mmdebstrap, files owned by root in the image). Prints TAP and "N passed, N failed";
# exits 0 only when every check passed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=$root/build
timeout_s=${SYSTEM_TIMEOUT:-3600}
keep=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) build=$(cd "$2" && pwd); shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "system-test: unknown argument $1" >&2; exit 3 ;;
	esac
done
say() { printf 'system-test: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root (mmdebstrap, and an image whose files root owns)"

work=$build/system
mkdir -p "$work"
t0=$(date +%s)

# ---------------------------------------------------------------- host tools
need=()
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v debugfs >/dev/null || need+=(e2fsprogs)
[[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || need+=(debian-archive-keyring)
if ((${#need[@]})); then
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
[[ -f $build/peers/statsd/node_modules/statsd/stats.js ]] || PEERS_DIR=$build/peers "$root/scripts/install-peers.sh" >&2

# ---------------------------------------------------------------- the image
# What the guest has before the test: systemd as init, its network (systemd-networkd, DHCP
# from QEMU), journald, dbus (systemd-analyze asks systemd over it), Debian's 6.1 kernel with
# an initramfs, python3 and ansible-core (the role), nodejs (Etsy statsd). Not the package's
# own dependencies beyond what these pull in: apt must resolve them.
IMAGE_PKGS=systemd,systemd-sysv,dbus,udev,linux-image-amd64,initramfs-tools,ansible-core,python3,nodejs,procps,iproute2,apt-utils,ca-certificates
IMAGE_RECIPE=3
hash=$(printf '%s\n' "$IMAGE_PKGS" "$IMAGE_RECIPE" "$(cat "$root/tests/system/bpfpush-system-test.service")" | sha256sum | cut -c1-12)
base=$work/base-$hash.img
if [[ ! -f $base ]]; then
	say "building the guest image with mmdebstrap (once; cached as $base)"
	rm -rf "$work/rootfs" "$work"/base-*.img "$work"/vmlinuz-* "$work"/initrd-*
	mmdebstrap --variant=minbase --include="$IMAGE_PKGS" \
		--customize-hook='echo bpfpush-guest > "$1/etc/hostname"' \
		--customize-hook='printf "/dev/vda / ext4 rw,errors=remount-ro 0 1\n/dev/vdb /payload ext4 rw,nofail 0 2\n" > "$1/etc/fstab"; mkdir -p "$1/payload"' \
		--customize-hook='printf "[Match]\nName=eth0\n[Network]\nDHCP=yes\n" > "$1/etc/systemd/network/eth0.network"' \
		--customize-hook='rm -f "$1/etc/resolv.conf"; echo "nameserver 10.0.2.3" > "$1/etc/resolv.conf"' \
		--customize-hook='chroot "$1" systemctl enable systemd-networkd >/dev/null 2>&1' \
		--customize-hook='chroot "$1" passwd -d root >/dev/null' \
		--customize-hook="copy-in $root/tests/system/bpfpush-system-test.service /etc/systemd/system" \
		--customize-hook='chroot "$1" systemctl enable bpfpush-system-test.service >/dev/null 2>&1' \
		bookworm "$work/rootfs" "deb http://deb.debian.org/debian bookworm main" \
		"deb http://deb.debian.org/debian bookworm-updates main" \
		"deb http://deb.debian.org/debian-security bookworm-security main" \
		>"$work/mmdebstrap.log" 2>&1 || { tail -30 "$work/mmdebstrap.log" >&2; die "mmdebstrap failed (log: $work/mmdebstrap.log)"; }
	kver=$(ls "$work/rootfs/lib/modules" | sort -V | tail -1)
	cp "$work/rootfs/boot/vmlinuz-$kver" "$work/vmlinuz-$hash"
	cp "$work/rootfs/boot/initrd.img-$kver" "$work/initrd-$hash"
	echo "$kver" >"$work/kver-$hash"
	mkfs.ext4 -q -F -L root -d "$work/rootfs" "$base.tmp" 3G
	rm -rf "$work/rootfs"
	mv "$base.tmp" "$base"
	say "image built in $(($(date +%s) - t0)) s (kernel $kver)"
fi
kver=$(cat "$work/kver-$hash")

# ---------------------------------------------------------------- the payload
# Two versions of the package: the "previous" one is the same tree with a lower version
# (VERSION~prev), so the test upgrades from it to this tree's. Both come from make deb.
version=$(cat "$root/VERSION")
deb_cur=$build/packaging/bpfpush_${version}_amd64.deb
[[ -f $deb_cur ]] || die "$deb_cur missing (make test-system builds it)"
prev=$work/prev
if [[ ! -f $prev/stamp || $(cat "$prev/stamp") != "$(sha256sum "$deb_cur" | cut -c1-16)" ]]; then
	say "building the previous version (${version}~prev) in a scratch copy"
	rm -rf "$prev" && mkdir -p "$prev/src"
	git -C "$root" ls-files -z | (cd "$root" && xargs -0 tar -cf -) | tar -C "$prev/src" -xf -
	echo "${version}~prev" >"$prev/src/VERSION"
	make -C "$prev/src" --no-print-directory -j2 deb >"$prev/build.log" 2>&1 || { tail -20 "$prev/build.log" >&2; die "previous version's make deb failed"; }
	cp "$prev/src/build/packaging/bpfpush_${version}~prev_amd64.deb" "$prev/"
	rm -rf "$prev/src"
	sha256sum "$deb_cur" | cut -c1-16 >"$prev/stamp"
fi

run=$work/run
rm -rf "$run" && mkdir -p "$run/payload"
cp "$deb_cur" "$run/payload/bpfpush_cur.deb"
cp "$prev/bpfpush_${version}~prev_amd64.deb" "$run/payload/bpfpush_prev.deb"
cp "$root"/tests/system/guest.sh "$root"/tests/system/statsd_json.js "$root"/tests/system/playbook.yml "$run/payload/"
cp -r "$root/contrib/ansible/roles" "$run/payload/roles"
cp -r "$build/peers/statsd" "$run/payload/statsd"
${CC:-gcc} -O2 -static -o "$run/payload/opener" "$root/tests/system/opener.c"
printf '%s\n%s\n' "$version" "${version}~prev" >"$run/payload/versions"
mkfs.ext4 -q -F -L payload -d "$run/payload" "$run/payload.img" 512M
qemu-img create -q -f qcow2 -F raw -b "$base" "$run/root.qcow2"

# ---------------------------------------------------------------- the boot
say "booting Debian 12 ($kver) with systemd under qemu (TCG); the guest runs tests/system/guest.sh"
rc=0
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -m 2048 -smp 2 -nographic -no-reboot \
	-kernel "$work/vmlinuz-$hash" -initrd "$work/initrd-$hash" \
	-append "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 systemd.show_status=0" \
	-drive file="$run/root.qcow2",if=virtio,format=qcow2 \
	-drive file="$run/payload.img",if=virtio,format=raw \
	-netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
	-serial file:"$run/console.log" -monitor none -display none </dev/null >/dev/null 2>&1 || rc=$?
((rc == 124)) && say "the guest did not finish within $timeout_s s (console: $run/console.log)"

# ---------------------------------------------------------------- the results
debugfs -R "cat /result.tap" "$run/payload.img" 2>/dev/null >"$run/result.tap" || true
for f in guest.log timings; do debugfs -R "cat /$f" "$run/payload.img" 2>/dev/null >"$run/$f" || true; done
cat "$run/result.tap"
passed=$(grep -c '^ok ' "$run/result.tap" || true)
failed=$(grep -c '^not ok ' "$run/result.tap" || true)
planned=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$run/result.tap" | tail -1)
if [[ -z $planned ]]; then
	say "the guest's run did not complete (no plan line); last console lines:"
	tail -30 "$run/console.log" | sed 's/^/#   /' >&2
	failed=$((failed + 1))
elif ((passed + failed != planned)); then
	say "planned $planned checks, saw $((passed + failed))"
	failed=$((failed + planned - passed - failed))
fi
say "guest log: $run/guest.log; console: $run/console.log; $(($(date +%s) - t0)) s in all"
((keep)) || rm -f "$run/root.qcow2"
echo "$passed passed, $failed failed"
((failed == 0))
