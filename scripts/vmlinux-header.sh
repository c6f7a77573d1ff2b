#!/usr/bin/env bash
# Regenerate probes/vmlinux/vmlinux_ARCH.h.gz, the vmlinux.h a cross build (make ARCH=arm64) compiles
# its BPF objects against, from a Debian kernel package of that architecture: never from the host's
# /sys/kernel/btf/vmlinux, which describes the host's architecture.
#
#   scripts/vmlinux-header.sh arm64 [PACKAGE]
#
# PACKAGE defaults to the unsigned twin of the image Debian's linux-image-arm64 points at (e.g.
# linux-image-6.1.0-50-arm64-unsigned). Its /boot/vmlinuz is arm64's raw Image, not an ELF file, but
# the kernel's .BTF section sits in it whole: the blob is found by its header (magic 0xeB9F, version 1,
# types then strings right after the 24-byte header) and handed to bpftool, which reads raw BTF.
# Needs apt (arm64 known to dpkg: dpkg --add-architecture arm64; apt-get update), python3, bpftool.
set -euo pipefail

arch=${1:?usage: scripts/vmlinux-header.sh arm64 [PACKAGE]}
[[ "$arch" == arm64 ]] || { echo "vmlinux-header: only arm64 is known" >&2; exit 1; }
BPFTOOL=${BPFTOOL:-$(command -v bpftool || echo /usr/sbin/bpftool)}
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/probes/vmlinux/vmlinux_$arch.h.gz"

pkg=${2:-}
if [[ -z "$pkg" ]]; then
	image=$(apt-cache depends "linux-image-$arch:$arch" | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)/\1/p' | head -1)
	[[ -n "$image" ]] || { echo "vmlinux-header: apt knows no linux-image-$arch:$arch" >&2; exit 1; }
	pkg="${image%:*}-unsigned"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$pkg:$arch" >/dev/null 2>&1) ||
	{ echo "vmlinux-header: apt-get download $pkg:$arch failed" >&2; exit 1; }
dpkg-deb -x "$work"/*.deb "$work/root"
image=$(ls "$work"/root/boot/vmlinuz-* | head -1)

python3 - "$image" "$work/vmlinux.btf" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
found = []
at = data.find(b'\x9f\xeb\x01\x00')
while at >= 0:
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<IIIII', data, at + 4)
    if hdr_len == 24 and type_off == 0 and str_off == type_len and str_len:
        found.append(data[at:at + hdr_len + str_off + str_len])
    at = data.find(b'\x9f\xeb\x01\x00', at + 1)
if len(found) != 1:
    sys.exit('vmlinux-header: %d BTF blobs in %s, expected one' % (len(found), sys.argv[1]))
open(sys.argv[2], 'wb').write(found[0])
EOF

"$BPFTOOL" btf dump file "$work/vmlinux.btf" format c >"$work/vmlinux.h"
grep -q 'struct user_pt_regs {' "$work/vmlinux.h" ||
	{ echo "vmlinux-header: the BTF of $pkg has no arm64 struct user_pt_regs" >&2; exit 1; }
version=$(dpkg-deb -f "$work"/*.deb Version)
{
	echo "/* BTF of Debian's $pkg $version ($arch), by scripts/vmlinux-header.sh $arch $pkg */"
	cat "$work/vmlinux.h"
} | gzip -9n >"$out"
echo "vmlinux-header: $out from $pkg $version ($(wc -l <"$work/vmlinux.h") lines)"
