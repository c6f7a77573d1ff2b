#!/usr/bin/env bash
# scripts/libbpf-source.sh DIR VERSION: Debian's libbpf source package VERSION (the Makefile's
# LIBBPF_VERSION) unpacked into DIR/src, which mk/libbpf.mk builds into the static libbpf.a that
# every build links.
#
# Why not bookworm's libbpf-dev (1.1): libbpf before 1.6 reads /sys/kernel/btf/vmlinux into one
# buffer and copies it into another to load each object, so the agent's peak RSS held two
# copies of the kernel's BTF (about 11 MB of a 15 MB heap on 6.18, measured with massif);
# libbpf 1.7 maps the file read-only on kernels that allow it (6.16 and later) and parses it in
# place (README "Benchmarks").
#
# The source comes from Debian's registry (testing, then unstable) through apt's own sources
# list, lists and cache under DIR/apt (scripts/lib/apt-private.sh): the host's apt
# configuration is never touched, and apt checks the files against the signed Release.
# apt-get source unpacks it with Debian's patches.
# Run again with the same VERSION it does nothing; DIR/VERSION says what DIR/src holds.
#
# When VERSION has left the registry (testing and unstable keep one version each), the newest
# one there at 1.6 or later is taken with a warning: the build goes on, and the Makefile's pin
# should follow. DIR/FETCHED names the version actually unpacked.
set -euo pipefail

dir=$(realpath -m "${1:?usage: libbpf-source.sh DIR VERSION}") # apt takes its Dir:: paths from /
want=${2:?usage: libbpf-source.sh DIR VERSION}
oldest=1.6

say() { echo "libbpf-source: $*" >&2; }
die() { say "$*"; exit 1; }

if [[ -f "$dir/VERSION" && -f "$dir/FETCHED" && -f "$dir/src/src/Makefile" && $(cat "$dir/VERSION") == "$want" ]]; then
	exit 0
fi

# shellcheck source=scripts/lib/apt-private.sh
source "$(dirname "$0")/lib/apt-private.sh"
apt_dir=$dir/apt
apt_private_sources "$apt_dir" deb-src http://deb.debian.org/debian forky http://deb.debian.org/debian sid
mapfile -t apt_opts < <(apt_private_opts "$apt_dir")
apt_opts+=(-o APT::Sandbox::User=root)

command -v dpkg-source >/dev/null || die "dpkg-source not found (Debian's dpkg-dev; make deps installs it)"
say "apt-get update (Debian's source lists: forky, sid)"
apt-get "${apt_opts[@]}" update -q >/dev/null || say "apt-get update failed; using the lists there are"

versions=$(apt-cache "${apt_opts[@]}" showsrc libbpf 2>/dev/null | sed -n 's/^Version: //p' | sort -uV)
[[ -n "$versions" ]] || die "no libbpf source package in Debian's forky or sid lists (is deb.debian.org reachable?)"
take=$want
if ! grep -qxF "$want" <<<"$versions"; then
	take=$(tail -n 1 <<<"$versions")
	if [[ $(printf '%s\n%s\n' "$oldest" "$take" | sort -V | head -n 1) != "$oldest" ]]; then
		die "libbpf $want is not in Debian's forky or sid, and the newest there ($take) is older than $oldest"
	fi
	say "WARNING: libbpf $want is no longer in Debian's forky or sid; building $take (update LIBBPF_VERSION in the Makefile)"
fi

tmp=$(mktemp -d "$dir/unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
say "apt-get source libbpf=$take"
(cd "$tmp" && apt-get "${apt_opts[@]}" source -q "libbpf=$take" >/dev/null) || die "apt-get source libbpf=$take failed"
unpacked=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d -name 'libbpf-*' | head -n 1)
[[ -n "$unpacked" && -f "$unpacked/src/Makefile" ]] || die "apt-get source libbpf=$take unpacked no libbpf-*/src/Makefile"
rm -rf "$dir/src"
mv "$unpacked" "$dir/src"
echo "$take" > "$dir/FETCHED"
echo "$want" > "$dir/VERSION"
say "libbpf $take in $dir/src"
