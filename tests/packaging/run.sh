#!/usr/bin/env bash
# tests/packaging/run.sh BUILD_DIR [DEB_ARCH RPM_ARCH]: checks the .deb and .rpm that `make deb rpm`
# built, for the host's architecture unless told (make test-packaging ARCH=arm64 passes arm64 aarch64).
# Run as root (make test-packaging). Installs into scratch roots only: the host's package
# database, users and systemd state are left alone (checked). Prints TAP-like
# "ok N - what" / "not ok N - what" lines and, last, "N passed, N failed"; exits 1 on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
pkgdir=$build/packaging
version=$(cat VERSION)
deb_arch=${2:-$(dpkg --print-architecture)}
rpm_arch=${3:-$(uname -m)}
deb=$pkgdir/bpfpush_${version}_${deb_arch}.deb
rpmf=$pkgdir/bpfpush-${version}-1.${rpm_arch}.rpm
# Another architecture's packages (cross-built): the installed binary runs under qemu-user for what
# needs no kernel (--version, --check-config); loading its BPF programs needs that architecture's
# kernel, so the runs that attach them are skipped. Natively $emu is empty: the binary runs as it is.
cross=
emu=
declare -A qemu_for=([arm64]=qemu-aarch64-static)
declare -A file_machine=([amd64]='x86-64' [arm64]='ARM aarch64')
if [[ $deb_arch != $(dpkg --print-architecture) ]]; then
	cross=1
	emu=${qemu_for[$deb_arch]:?no qemu-user emulator known for $deb_arch}
fi
skip() { echo "# skip: $1 (an $deb_arch binary on $(dpkg --print-architecture): needs an $deb_arch kernel: VM_PACKAGE=the .deb make vm-test ARCH=$deb_arch runs it in a guest)"; }

passed=0
failed=0
n=0
ok() { n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [[ -n "${2:-}" ]] && sed 's/^/#   /' <<<"$2"; }
check() { # WHAT COMMAND...: ok when the command succeeds; its output shown on failure
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$what"; else nok "$what" "$out"; fi
}

tmp=$(mktemp -d /tmp/bpfpush-pkgtest.XXXXXX)
chmod 755 "$tmp"
bgpids=()
cleanup() {
	local p
	for p in "${bgpids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

if [[ $(id -u) -ne 0 ]]; then
	echo "test-packaging: needs root (dpkg --root, rpm --root, setpriv)" >&2
	nok "running as root"
	echo "$passed passed, $failed failed"
	exit 1
fi
for f in "$deb" "$rpmf"; do
	[[ -f $f ]] || { nok "package $f exists (run make deb rpm)"; echo "$passed passed, $failed failed"; exit 1; }
done

host_user_before=$(getent passwd bpfpush || true)
host_wants_before=$(ls /etc/systemd/system/multi-user.target.wants/ 2>/dev/null | grep -c bpfpush)

# ---------------------------------------------------------------- the .deb, unpacked
expected_deb=(./etc/bpfpush/bpfpush.yaml ./etc/bpfpush/conf.d/ ./etc/default/bpfpush
	./lib/systemd/system/bpfpush.service ./usr/sbin/bpfpush ./usr/share/man/man8/bpfpush.8.gz
	./usr/share/man/man5/bpfpush.yaml.5.gz ./usr/share/doc/bpfpush/copyright)
if [[ -n $cross ]]; then
	check "dpkg-deb -f: Architecture: $deb_arch" bash -c "[[ \$(dpkg-deb -f '$deb' Architecture) == '$deb_arch' ]]"
	check "rpm -qp: arch $rpm_arch" bash -c "[[ \$(rpm -qp --qf '%{ARCH}' '$rpmf' 2>/dev/null) == '$rpm_arch' ]]"
	check "the packaged binary is an ${file_machine[$deb_arch]} executable (file)" \
		bash -c "dpkg-deb --fsys-tarfile '$deb' | tar -xOf - ./usr/sbin/bpfpush > '$tmp/deb-bin' && file '$tmp/deb-bin' | grep -q 'ELF 64-bit LSB .*, ${file_machine[$deb_arch]},'"
fi
contents=$(dpkg -c "$deb" | awk '{ print $6 }')
missing=$(for f in "${expected_deb[@]}"; do grep -qxF "$f" <<<"$contents" || echo "missing $f"; done)
[[ -z $missing ]] && ok "dpkg -c: ${#expected_deb[@]} expected paths present" || nok "dpkg -c lists the expected paths" "$missing"

mkdir -p "$tmp/ctl"
dpkg-deb -e "$deb" "$tmp/ctl"
check "conffiles are /etc/bpfpush/bpfpush.yaml and /etc/default/bpfpush" \
	diff <(sort "$tmp/ctl/conffiles") <(printf '/etc/bpfpush/bpfpush.yaml\n/etc/default/bpfpush\n')
depends=$(dpkg-deb -f "$deb" Depends)
[[ $depends == *"libc6 (>= "* && $depends != *libbpf* && $depends != *libuv* && $depends != *libyaml* && $depends != *libelf* ]] \
	&& ok "Depends from shlibs: $depends" || nok "Depends: only libc6 from shlibs" "$depends"
[[ $depends == *"libssl3 | libssl3t64"* ]] \
	&& ok "Depends names OpenSSL 3 (opened at run time by tls:// sinks)" || nok "Depends names libssl3" "$depends"
check "postinst creates the user, postrm removes it on purge" \
	bash -c "grep -q 'adduser --system' '$tmp/ctl/postinst' && grep -q 'deluser --system' '$tmp/ctl/postrm'"
check "maintainer scripts from dh_installsystemd: enable/start in postinst, stop in prerm, purge in postrm" \
	bash -c "grep -q 'deb-systemd-helper enable' '$tmp/ctl/postinst' && grep -q 'deb-systemd-invoke' '$tmp/ctl/postinst' \
		&& grep -q 'deb-systemd-invoke stop' '$tmp/ctl/prerm' && grep -q 'deb-systemd-helper purge' '$tmp/ctl/postrm'"

lint=$(lintian -I --pedantic "$deb" 2>&1 | grep -v 'running with root privileges')
errors=$(grep '^E:' <<<"$lint")
[[ -z $errors ]] && ok "lintian: no errors ($(grep -c '^[WIP]:' <<<"$lint") warning/info/pedantic tags)" \
	|| nok "lintian: no errors" "$errors"
[[ -n $lint ]] && sed 's/^/#   lintian: /' <<<"$lint"

# ---------------------------------------------------------------- the .deb, installed
root=$tmp/debroot
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/etc"
touch "$root/var/lib/dpkg/status"
# Another architecture's package goes in as on a multiarch host: that architecture added to the
# scratch database (dpkg --add-architecture), not --force-architecture.
[[ -n $cross ]] && dpkg --root "$root" --add-architecture "$deb_arch"
# A minimal account database, so that the postinst can add its user there (useradd --prefix).
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
printf 'root:*:19000:0:99999:7:::\n' > "$root/etc/shadow"
printf 'root:*::\n' > "$root/etc/gshadow"
chmod 640 "$root/etc/shadow" "$root/etc/gshadow"
# The maintainer scripts run without chroot, with DPKG_ROOT set (the scratch root has no shell
# and no adduser). Depends (libc6, adduser) are not in the scratch database: --force-depends.
if out=$(dpkg --root "$root" --force-script-chrootless --force-depends -i "$deb" 2>&1); then
	ok "dpkg --root --force-script-chrootless -i"
else
	nok "dpkg --root --force-script-chrootless -i" "$out"
fi
check "dpkg --root -s: installed ok" bash -c "dpkg --root '$root' -s bpfpush | grep -qx 'Status: install ok installed'"
check "postinst added the bpfpush system user to the scratch root" \
	bash -c "grep -q '^bpfpush:x:[0-9]*:[0-9]*:.*:/nonexistent:/usr/sbin/nologin\$' '$root/etc/passwd' && grep -q '^bpfpush:' '$root/etc/group'"
check "deb-systemd-helper enabled the unit inside the scratch root" \
	test -L "$root/etc/systemd/system/multi-user.target.wants/bpfpush.service"
bin=$root/usr/sbin/bpfpush
check "installed binary: --version prints bpfpush $version${emu:+ ($emu)}" bash -c "[[ \$($emu '$bin' --version) == 'bpfpush $version' ]]"
check "installed binary: static libbpf/libelf/zlib/libuv/libyaml, glibc only, nothing newer than GLIBC_2.34 (objdump -T)" \
	scripts/packaging/check-binary.sh "$bin" 2.34
cfg=$root/etc/bpfpush/bpfpush.yaml
check "shipped config: StatsD to udp://127.0.0.1:8125, no stdout sink" \
	bash -c "grep -Eq '^ *- \\{ *name: statsd, type: statsd, address: \"udp://127.0.0.1:8125\"' '$cfg' && ! grep -Eq '^[^#]*type: *stdout' '$cfg'"
check "installed binary: --check-config -c the installed config${emu:+ ($emu)}" $emu "$bin" --check-config -c "$cfg"

if [[ -n $cross ]]; then
	skip "a 3 s run as root with the installed config, StatsD to 127.0.0.1:8125"
else
	# A 3 s run as root from the installed path with the installed config; a listener on
	# 127.0.0.1:8125 counts the StatsD datagrams when the port is free.
	listener=$tmp/statsd.py
	cat > "$listener" <<-'EOF'
	import socket, sys, time
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	try:
	    s.bind(("127.0.0.1", 8125))
	except OSError:
	    open(sys.argv[1], "w").write("busy\n"); sys.exit(0)
	s.settimeout(0.5)
	lines = 0
	end = time.time() + float(sys.argv[2])
	open(sys.argv[1] + ".ready", "w").close()
	while time.time() < end:
	    try:
	        data = s.recv(65536)
	    except socket.timeout:
	        continue
	    lines += len([l for l in data.split(b"\n") if l])
	open(sys.argv[1], "w").write("%d\n" % lines)
	EOF
	python3 "$listener" "$tmp/statsd.count" 7 &
	bgpids+=($!)
	for _ in $(seq 50); do [[ -e $tmp/statsd.count.ready || -e $tmp/statsd.count ]] && break; sleep 0.1; done
	if out=$("$bin" -c "$cfg" --duration 3 2>&1); then
		ok "installed binary: 3 s run as root with the installed config exits 0"
	else
		nok "installed binary: 3 s run as root with the installed config exits 0" "$out"
	fi
	wait "${bgpids[-1]}" 2>/dev/null
	count=$(cat "$tmp/statsd.count" 2>/dev/null || echo none)
	if [[ $count == busy ]]; then
		echo "# 127.0.0.1:8125 is in use on this host: StatsD delivery not checked"
	elif [[ $count =~ ^[0-9]+$ && $count -gt 0 ]]; then
		ok "the installed config pushed $count StatsD lines to 127.0.0.1:8125"
	else
		nok "the installed config pushes StatsD to 127.0.0.1:8125" "received: $count"
	fi
fi

# The unit: systemd-analyze verify, with ExecStart pointing at the installed binary (PID 1 is
# not systemd here; verify runs offline). Man pages are rendered separately, with warnings.
unit=$root/lib/systemd/system/bpfpush.service
sed "s|/usr/sbin/bpfpush|$bin|g" "$unit" > "$tmp/bpfpush.service"
out=$(systemd-analyze verify --man=no "$tmp/bpfpush.service" 2>&1)
rc=$?
own=$(grep 'bpfpush' <<<"$out")
[[ $rc -eq 0 && -z $own ]] && ok "systemd-analyze verify bpfpush.service: clean" || nok "systemd-analyze verify bpfpush.service" "$out"
exposure=$(systemd-analyze security --offline=yes "$tmp/bpfpush.service" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')
echo "# systemd-analyze security --offline=yes: $exposure"
check "unit: Type=notify, WatchdogSec, User=bpfpush, the three capabilities, EnvironmentFile=-/etc/default/bpfpush" \
	bash -c "grep -qx Type=notify '$unit' && grep -q '^WatchdogSec=' '$unit' && grep -qx User=bpfpush '$unit' \
		&& grep -qx 'AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH' '$unit' \
		&& grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH' '$unit' \
		&& grep -qx 'EnvironmentFile=-/etc/default/bpfpush' '$unit'"
for page in "$root/usr/share/man/man8/bpfpush.8.gz" "$root/usr/share/man/man5/bpfpush.yaml.5.gz"; do
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -Tutf8 "$page" 2>&1 >/dev/null)
	[[ -z $out ]] && ok "man page $(basename "$page") renders without warnings" || nok "man page $(basename "$page")" "$out"
done

# dpkg -r keeps the conffiles, -P removes them and the user.
check "dpkg --root -r" dpkg --root "$root" --force-script-chrootless -r bpfpush
check "after -r: binary gone, conffiles kept, state config-files" \
	bash -c "[[ ! -e '$bin' && -f '$cfg' && -f '$root/etc/default/bpfpush' ]] && dpkg --root '$root' -s bpfpush | grep -qx 'Status: deinstall ok config-files'"
check "dpkg --root -P" dpkg --root "$root" --force-script-chrootless -P bpfpush
check "after -P: conffiles and /etc/bpfpush gone, user removed, unit link removed" \
	bash -c "[[ ! -e '$cfg' && ! -e '$root/etc/bpfpush' && ! -e '$root/etc/default/bpfpush' ]] && ! grep -q '^bpfpush:' '$root/etc/passwd' \
		&& [[ ! -e '$root/etc/systemd/system/multi-user.target.wants/bpfpush.service' ]]"

# ---------------------------------------------------------------- the .rpm
expected_rpm=(/etc/bpfpush /etc/bpfpush/bpfpush.yaml /etc/bpfpush/conf.d /etc/sysconfig/bpfpush
	/usr/lib/systemd/system/bpfpush.service /usr/sbin/bpfpush /usr/share/man/man5/bpfpush.yaml.5
	/usr/share/man/man8/bpfpush.8 /usr/share/selinux/packages/bpfpush.pp)
check "rpm -qlp: exactly the ${#expected_rpm[@]} expected paths" \
	diff <(rpm -qlp "$rpmf" 2>/dev/null | sort) <(printf '%s\n' "${expected_rpm[@]}" | sort)
check "rpm -qpc: %config(noreplace) bpfpush.yaml and sysconfig/bpfpush" \
	diff <(rpm -qpc "$rpmf" 2>/dev/null | sort) <(printf '/etc/bpfpush/bpfpush.yaml\n/etc/sysconfig/bpfpush\n')
check "rpm --queryformat: both config files flagged noreplace" \
	bash -c "rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' '$rpmf' 2>/dev/null | grep -c '^cn.* /etc/' | grep -qx 2"
scripts=$(rpm -qp --scripts "$rpmf" 2>/dev/null)
check "rpm -qp --scripts: user in %pre, semodule -i in %post, preset/disable/try-restart, semodule -r and userdel on erase" \
	bash -c 'grep -q "useradd -r" <<<"$1" && grep -q "selinuxenabled; then" <<<"$1" && grep -q "semodule -i /usr/share/selinux/packages/bpfpush.pp" <<<"$1" \
		&& grep -q "systemctl --no-reload preset bpfpush.service" <<<"$1" && grep -q "disable --now bpfpush.service" <<<"$1" \
		&& grep -q "try-restart bpfpush.service" <<<"$1" && grep -q "semodule -r bpfpush" <<<"$1" && grep -q "userdel bpfpush" <<<"$1"' _ "$scripts"
requires=$(rpm -qp --requires "$rpmf" 2>/dev/null)
grep -qxF 'libssl.so.3()(64bit)' <<<"$requires" \
	&& ok "rpm Requires libssl.so.3()(64bit) (opened at run time by tls:// sinks)" || nok "rpm Requires libssl.so.3()(64bit)" "$requires"
newest=$(grep -Eo 'GLIBC_[0-9.]+' <<<"$requires" | sort -V | tail -n 1)
[[ $(printf '%s\nGLIBC_2.34\n' "$newest" | sort -V | tail -n 1) == GLIBC_2.34 ]] && ! grep -Eq 'libbpf|libuv|libyaml|libelf|libz' <<<"$requires" \
	&& ok "rpm requires: glibc up to $newest, no libbpf/libuv/libyaml/libelf/zlib" || nok "rpm requires" "$requires"

rroot=$tmp/rpmroot
mkdir -p "$rroot"
check "rpm --root --initdb" rpm --root "$rroot" --initdb
# rpm runs scriptlets chrooted in the root: a static busybox as /bin/sh lets them run
# (without shadow-utils or systemctl they find nothing to do and exit 0).
noscripts=--noscripts
if busybox=$(command -v busybox) && file -L "$busybox" | grep -q 'statically linked'; then
	mkdir -p "$rroot/bin" && cp "$busybox" "$rroot/bin/sh"
	noscripts=
fi
# Another architecture's package: --ignorearch (rpm has no foreign architectures to add).
ignorearch=
[[ -n $cross ]] && ignorearch=--ignorearch
check "rpm --root -i --nodeps ${ignorearch:+$ignorearch }${noscripts:-(scriptlets run)}" rpm --root "$rroot" -i --nodeps $ignorearch $noscripts "$rpmf"
check "rpm --root -q bpfpush" bash -c "[[ \$(rpm --root '$rroot' -q bpfpush) == bpfpush-$version-1.$rpm_arch ]]"
check "rpm-installed binary: --version prints bpfpush $version${emu:+ ($emu)}" \
	bash -c "[[ \$($emu '$rroot/usr/sbin/bpfpush' --version) == 'bpfpush $version' ]]"
check "rpm-installed unit reads /etc/sysconfig/bpfpush" \
	bash -c "grep -qx 'EnvironmentFile=-/etc/sysconfig/bpfpush' '$rroot/usr/lib/systemd/system/bpfpush.service' \
		&& ! grep -q '^EnvironmentFile=.*/etc/default' '$rroot/usr/lib/systemd/system/bpfpush.service'"
check "SELinux module bpfpush.pp installed (semodule_package output)" \
	bash -c "[[ -s '$rroot/usr/share/selinux/packages/bpfpush.pp' ]] && head -c 4 '$rroot/usr/share/selinux/packages/bpfpush.pp' | od -An -tx1 | grep -q '8f ff 7c f9'"
echo "# local edit" >> "$rroot/etc/bpfpush/bpfpush.yaml"
check "rpm --root -e: a locally edited config is kept as .rpmsave" \
	bash -c "rpm --root '$rroot' -e --nodeps $noscripts bpfpush && [[ -f '$rroot/etc/bpfpush/bpfpush.yaml.rpmsave' && ! -e '$rroot/usr/sbin/bpfpush' ]]"

if [[ -n $cross ]]; then
	skip "as nobody with the unit's capabilities: process, hardirq, softirq"
	skip "sd_notify READY=1, WATCHDOG=1, STOPPING=1 (the agent loads its programs first)"
else
	# ---------------------------------------------------------------- unprivileged, capabilities only
	# The service's user with exactly the unit's capabilities (inheritable, ambient, bounding):
	# tracepoint modules (process: tp_btf/raw_tp; hardirq, softirq) must attach and report.
	capcfg=$tmp/caps.yaml
	cat > "$capcfg" <<-'EOF'
	global: { interval: 1s }
	apps: { enabled: false }
	cgroups: { enabled: false }
	modules:
	  process: { enabled: true }
	  fd: { enabled: false }
	  vfs: { enabled: false }
	  sync: { enabled: false }
	  mount: { enabled: false }
	  shm: { enabled: false }
	  socket: { enabled: false }
	  network: { enabled: false }
	  hardirq: { enabled: true }
	  softirq: { enabled: true, timing: true }
	  oomkill: { enabled: false }
	sinks:
	  - { name: out, type: stdout, format: statsd }
	EOF
	chmod 644 "$capcfg"
	cp "$pkgdir/stage/bpfpush" "$tmp/bpfpush"
	chmod 755 "$tmp/bpfpush"
	caps=+bpf,+perfmon,+dac_read_search
	(for _ in $(seq 40); do /bin/true; sleep 0.05; done) &
	bgpids+=($!)
	setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps="-all,$caps" --ambient-caps="-all,$caps" \
		--bounding-set="-all,$caps" --no-new-privs "$tmp/bpfpush" -c "$capcfg" --duration 3 > "$tmp/caps.out" 2> "$tmp/caps.err"
	rc=$?
	[[ $rc -eq 0 ]] && ok "as nobody with CAP_BPF CAP_PERFMON CAP_DAC_READ_SEARCH only: 3 s run exits 0" \
		|| nok "as nobody with the unit's capabilities: 3 s run exits 0 (exit $rc)" "$(cat "$tmp/caps.err")"
	check "  ... process, hardirq and softirq report running, none failed" \
		bash -c "grep -q 'INFO process: running' '$tmp/caps.err' && grep -q 'INFO hardirq: running' '$tmp/caps.err' \
			&& grep -q 'INFO softirq: running' '$tmp/caps.err' && grep -q '3 module(s) running' '$tmp/caps.err'"
	creates=$(awk -F'[:|]' '/\.process\.create:/ { s += $2 } END { print s + 0 }' "$tmp/caps.out")
	[[ $creates -ge 40 ]] && ok "  ... process.create counted $creates forks (40 started)" \
		|| nok "  ... process.create counts the 40 forks" "process.create sum: $creates; $(grep -c . "$tmp/caps.out") lines"
	check "  ... softirq metrics appear" grep -q '\.softirq\.' "$tmp/caps.out"

	# ---------------------------------------------------------------- readiness and watchdog
	# What Type=notify and WatchdogSec rely on: READY=1, WATCHDOG=1 every WATCHDOG_USEC/2, STOPPING=1.
	cat > "$tmp/notify.py" <<-'EOF'
	import socket, sys, time
	s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
	s.bind(sys.argv[1])
	s.settimeout(0.5)
	end = time.time() + float(sys.argv[3])
	with open(sys.argv[2], "w") as out:
	    while time.time() < end:
	        try:
	            out.write(s.recv(4096).decode() + "\n"); out.flush()
	        except socket.timeout:
	            pass
	EOF
	python3 "$tmp/notify.py" "$tmp/notify.sock" "$tmp/notify.log" 6 &
	bgpids+=($!)
	for _ in $(seq 50); do [[ -S $tmp/notify.sock ]] && break; sleep 0.1; done
	NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=1000000 "$tmp/bpfpush" -c "$capcfg" --duration 3 >/dev/null 2>&1
	wait "${bgpids[-1]}" 2>/dev/null
	pings=$(grep -c '^WATCHDOG=1$' "$tmp/notify.log")
	[[ $(grep -c '^READY=1$' "$tmp/notify.log") -eq 1 && $pings -ge 4 && $pings -le 8 && $(grep -c '^STOPPING=1$' "$tmp/notify.log") -eq 1 ]] \
		&& ok "sd_notify: READY=1, $pings WATCHDOG=1 in 3 s at WATCHDOG_USEC=1s, STOPPING=1" \
		|| nok "sd_notify: READY=1, 4-8 WATCHDOG=1, STOPPING=1" "$(cat "$tmp/notify.log")"
fi

# ---------------------------------------------------------------- the host untouched
[[ "$(getent passwd bpfpush || true)" == "$host_user_before" \
	&& $(ls /etc/systemd/system/multi-user.target.wants/ 2>/dev/null | grep -c bpfpush) -eq $host_wants_before ]] \
	&& ! dpkg -s bpfpush >/dev/null 2>&1 \
	&& ok "host untouched: no bpfpush user, unit link or package added" || nok "host untouched"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
