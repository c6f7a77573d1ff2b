#!/usr/bin/env bash
# check-binary.sh BINARY [GLIBC_MAX]: the packaged binary links only glibc (and, later, the
# TLS library) dynamically, and needs no glibc symbol version newer than GLIBC_MAX (2.34).
# Prints what it found; exits 1 on a violation.
set -euo pipefail
bin=$1
max=${2:-2.34}
# Sonames a package may depend on: glibc's, and OpenSSL's for the tls:// transport.
allowed='^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|libssl\.so\.3|libcrypto\.so\.3)$'
rc=0
needed=$(objdump -p "$bin" | awk '$1 == "NEEDED" { print $2 }')
for lib in $needed; do
	if ! grep -Eq "$allowed" <<<"$lib"; then
		echo "check-binary: $bin needs $lib dynamically; it must be linked statically" >&2
		rc=1
	fi
done
newest=$(objdump -T "$bin" | grep -Eo 'GLIBC_[0-9]+(\.[0-9]+)+' | sed 's/GLIBC_//' | sort -u -V | tail -n 1)
if [[ -z "$newest" ]]; then
	echo "check-binary: $bin has no versioned glibc symbol (not dynamically linked?)" >&2
	rc=1
elif [[ $(printf '%s\n%s\n' "$newest" "$max" | sort -V | tail -n 1) != "$max" ]]; then
	echo "check-binary: $bin needs GLIBC_$newest, newer than GLIBC_$max:" >&2
	objdump -T "$bin" | awk -v v="GLIBC_$newest" 'index($0, v) { print "  " $NF " " v }' >&2
	rc=1
fi
echo "check-binary: $(basename "$bin"): NEEDED $(echo $needed); newest glibc symbol GLIBC_${newest:-none} (max $max)"
exit $rc
