#!/usr/bin/env bash
# What can bpfpush do on this kernel? Reads the kernel's build config
# (/boot/config-$(uname -r), else /proc/config.gz) and what the running system
# shows (/sys, /proc, tracefs, securityfs), and says in plain words what works,
# what does not, and why. What the build config promises is not what loads: a
# security policy can refuse fentry (EPERM) on a kernel built for it. So on the
# running kernel, as root, the tier lines come from 'bpfpush --probe', which
# loads a trivial program of each tier the way the agent does at start-up; the
# files then only explain. No network; nothing left loaded, nothing changed.
#
#   scripts/check-kernel.sh                 the running kernel
#   scripts/check-kernel.sh --config FILE   judge a kernel from its config alone
#                                           (e.g. a Debian package's boot/config-*)
#   scripts/check-kernel.sh --no-probe      the running kernel from its files alone
#   scripts/check-kernel.sh --bpfpush PATH  the agent to probe with (default: $BPFPUSH,
#                                           else build/bpfpush beside this script, else PATH)
#
# Exit status: 0 when bpfpush can run here (BPF, BTF, kernel 5.8 or newer),
# 2 when it cannot (the agent's own "no module can run" code), 3 on bad usage.
set -u

config_file=
offline=0
probe=1
agent=${BPFPUSH:-}
while [ $# -gt 0 ]; do
	case $1 in
	--config) config_file=${2:-}; offline=1; shift 2 || { echo "--config needs a file" >&2; exit 3; } ;;
	--no-probe) probe=0; shift ;;
	--bpfpush) agent=${2:-}; shift 2 || { echo "--bpfpush needs a path" >&2; exit 3; } ;;
	-h | --help) sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "check-kernel: unknown argument $1 (try --help)" >&2; exit 3 ;;
	esac
done

# ------------------------------------------------------------------ config
cfg=
cfg_from=
if [ $offline -eq 1 ]; then
	[ -r "$config_file" ] || { echo "check-kernel: cannot read $config_file" >&2; exit 3; }
	cfg=$(cat "$config_file")
	cfg_from=$config_file
	release=$(sed -n 's/^# Linux\/[^ ]* \([0-9][^ ]*\) Kernel Configuration.*/\1/p' "$config_file" | head -n 1)
	case $config_file in */config-*) release=${config_file##*/config-} ;; esac
	[ -n "$release" ] || release=unknown
else
	release=$(uname -r)
	if [ -r "/boot/config-$release" ]; then
		cfg=$(cat "/boot/config-$release")
		cfg_from=/boot/config-$release
	elif [ -r /proc/config.gz ] && command -v zcat >/dev/null 2>&1; then
		cfg=$(zcat /proc/config.gz 2>/dev/null)
		cfg_from=/proc/config.gz
	fi
fi

# kconfig NAME -> y, m, a value, "n" (explicitly not set), or "" (unknown: no config)
kconfig() {
	[ -n "$cfg" ] || { echo ""; return; }
	local v
	v=$(printf '%s\n' "$cfg" | sed -n "s/^CONFIG_$1=//p" | head -n 1)
	[ -n "$v" ] && { echo "$v"; return; }
	echo n
}

# ------------------------------------------------------------------ output
can=()     # what works
cannot=()  # what does not
notes=()   # what the user may want to know
fatal=0
yes() { can+=("$1"); }
no() { cannot+=("$1"); }
note() { notes+=("$1"); }

# version >= MAJOR.MINOR ?
ver_major=$(echo "$release" | sed -n 's/^\([0-9]*\)\..*/\1/p')
ver_minor=$(echo "$release" | sed -n 's/^[0-9]*\.\([0-9]*\).*/\1/p')
at_least() {
	[ -n "$ver_major" ] && [ -n "$ver_minor" ] || return 1
	[ "$ver_major" -gt "$1" ] || { [ "$ver_major" -eq "$1" ] && [ "$ver_minor" -ge "$2" ]; }
}

# tracefs: where it is mounted, or whether it could be
tracefs=
if [ $offline -eq 0 ]; then
	for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
		if [ -d "$d/events" ]; then tracefs=$d; break; fi
	done
fi

echo "bpfpush kernel check: Linux $release ($(uname -m 2>/dev/null || echo ?))$([ $offline -eq 1 ] && echo ', from its config only')"
if [ -n "$cfg_from" ]; then
	echo "  build config: $cfg_from"
else
	echo "  build config: not found (no /boot/config-$release, no /proc/config.gz); judging from /sys and /proc only"
fi
echo

# ---------------------------------------------------------------- version
if [ -z "$ver_major" ]; then
	note "the kernel version could not be read from '$release'"
elif at_least 5 8; then
	yes "kernel $ver_major.$ver_minor: BPF ring buffers and CAP_BPF exist (5.8 or newer)"
else
	no "kernel $ver_major.$ver_minor is older than 5.8: no BPF ring buffer and no CAP_BPF; bpfpush needs 5.8 or newer"
	fatal=1
fi

# -------------------------------------------------------------------- BPF
bpf_syscall=$(kconfig BPF_SYSCALL)
if [ "$bpf_syscall" = y ] || { [ -z "$bpf_syscall" ] && [ $offline -eq 0 ] && [ -e /proc/sys/kernel/unprivileged_bpf_disabled ]; }; then
	yes "the bpf() system call is built in"
	if [ $offline -eq 0 ] && [ -r /proc/sys/kernel/unprivileged_bpf_disabled ]; then
		case $(cat /proc/sys/kernel/unprivileged_bpf_disabled) in
		0) note "unprivileged BPF is allowed (kernel.unprivileged_bpf_disabled=0); bpfpush still needs root or CAP_BPF+CAP_PERFMON" ;;
		*) note "unprivileged BPF is off (normal): run bpfpush as root, or with CAP_BPF, CAP_PERFMON (and CAP_SYS_ADMIN to mount tracefs)" ;;
		esac
	fi
elif [ -z "$bpf_syscall" ]; then
	no "cannot tell whether the bpf() system call is built in (no config, no /proc/sys/kernel/unprivileged_bpf_disabled)"
	fatal=1
else
	no "the kernel is built without the bpf() system call (CONFIG_BPF_SYSCALL is not set): bpfpush cannot run"
	fatal=1
fi

# -------------------------------------------------------------------- BTF
btf_cfg=$(kconfig DEBUG_INFO_BTF)
if [ $offline -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
	yes "kernel BTF at /sys/kernel/btf/vmlinux: CO-RE programs relocate, tp_btf and fentry can be typed"
elif [ $offline -eq 0 ] && [ -e /sys/kernel/btf/vmlinux ]; then
	no "/sys/kernel/btf/vmlinux exists but this user cannot read it: run as root"
elif [ "$btf_cfg" = y ] && [ $offline -eq 1 ]; then
	yes "CONFIG_DEBUG_INFO_BTF=y: the kernel publishes its BTF at /sys/kernel/btf/vmlinux"
else
	no "no kernel BTF (CONFIG_DEBUG_INFO_BTF${btf_cfg:+=$btf_cfg}; /sys/kernel/btf/vmlinux absent): bpfpush's CO-RE programs cannot load"
	fatal=1
fi

# -------------------------------------------------------------------- JIT
jit_cfg=$(kconfig BPF_JIT)
jit_on=
[ $offline -eq 0 ] && [ -r /proc/sys/net/core/bpf_jit_enable ] && jit_on=$(cat /proc/sys/net/core/bpf_jit_enable)
if [ "$(kconfig BPF_JIT_ALWAYS_ON)" = y ]; then
	yes "the BPF JIT is always on (CONFIG_BPF_JIT_ALWAYS_ON)"
elif [ -n "$jit_on" ] && [ "$jit_on" != 0 ]; then
	yes "the BPF JIT is on (net.core.bpf_jit_enable=$jit_on)"
elif [ "$jit_on" = 0 ]; then
	no "the BPF JIT is off (net.core.bpf_jit_enable=0): programs are interpreted, slower; fentry/fexit need the JIT"
elif [ "$jit_cfg" = y ]; then
	yes "the BPF JIT is built in (CONFIG_BPF_JIT)"
else
	no "no BPF JIT${jit_cfg:+ (CONFIG_BPF_JIT=$jit_cfg)}: programs are interpreted and fentry/fexit cannot work"
fi

# ----------------------------------------------------------- ring buffer
if at_least 5 8; then
	yes "BPF ring buffers (5.8+): events such as OOM kills reach bpfpush at once"
else
	no "no BPF ring buffer (before 5.8)"
fi

# ---------------------------------------------------------------- tiers
# What the agent's own probing found, per tier: "yes", "no: REASON", or "" (not probed).
probed_fentry='' probed_kprobe='' probed_tp_btf='' probed_raw_tp='' probed_tracepoint=''
probed_from=
if [ $offline -eq 0 ] && [ $probe -eq 1 ]; then
	if [ -z "$agent" ]; then
		checkout=$(cd "$(dirname "$0")/.." && pwd)
		if [ -x "$checkout/build/bpfpush" ]; then agent=$checkout/build/bpfpush
		else agent=$(command -v bpfpush 2>/dev/null || true)
		fi
	fi
	if [ -z "$agent" ] || [ ! -x "$agent" ]; then
		note "tiers judged from the build config only: no bpfpush found to probe with (build it, or give --bpfpush PATH)"
	elif [ "$(id -u)" -ne 0 ]; then
		note "tiers judged from the build config only: 'bpfpush --probe' needs root to load its test programs"
	else
		# A config the agent trusts (root's, mode 600, in a private directory) that runs no module:
		# only the tier probing matters here.
		probe_dir=$(mktemp -d /tmp/bpfpush-check.XXXXXX)
		trap 'rm -rf "$probe_dir"' EXIT
		{
			echo "sinks: [ { name: out, type: stdout } ]"
			echo "apps: { enabled: false }"
			echo "modules:"
			"$agent" --list-metrics 2>/dev/null | awk 'NR > 1 { print $4 }' | sort -u |
				grep -vx -e agent -e apps | sed 's/.*/  &: { enabled: false }/'
		} > "$probe_dir/probe.yaml"
		chmod 600 "$probe_dir/probe.yaml"
		probe_json=$("$agent" --probe --json -c "$probe_dir/probe.yaml" 2>/dev/null)
		tier_of() {
			local t
			t=$(printf '%s\n' "$probe_json" | sed -n "s/.*\"$1\": {\"ok\": \([a-z]*\), \"reason\": \"\([^\"]*\)\"}.*/\1 \2/p" | head -n 1)
			case $t in "true "*) echo yes ;; "false "*) echo "no: ${t#false }" ;; *) echo "" ;; esac
		}
		probed_fentry=$(tier_of fentry)
		probed_kprobe=$(tier_of kprobe)
		probed_tp_btf=$(tier_of tp_btf)
		probed_raw_tp=$(tier_of raw_tp)
		probed_tracepoint=$(tier_of tracepoint)
		if [ -n "$probed_fentry" ]; then
			probed_from="bpfpush --probe"
			note "the tier lines come from '$agent --probe': it loaded a test program of each tier as the agent does at start-up"
		else
			note "tiers judged from the build config only: '$agent --probe --json' gave no tier results"
		fi
	fi
fi

# fentry/fexit: BPF trampolines need the JIT, BTF and (x86) ftrace direct calls.
tramp=$(kconfig DYNAMIC_FTRACE_WITH_DIRECT_CALLS)
ftrace=$(kconfig FUNCTION_TRACER)
if [ "$probed_fentry" = yes ]; then
	yes "fentry/fexit (the cheapest kernel-function hooks): a test program loaded ($probed_from)"
	fentry=yes
elif [ -n "$probed_fentry" ]; then
	no "fentry/fexit: ${probed_fentry#no: } ($probed_from)$([ "$tramp" = y ] && [ "$ftrace" = y ] && echo '; the kernel is built with BPF trampolines, so a security policy (LSM, lockdown) refuses them')"
	fentry=no
elif [ "$tramp" = y ] && [ "$ftrace" = y ] && [ "$jit_on" != 0 ] && { [ "$btf_cfg" = y ] || [ -r /sys/kernel/btf/vmlinux ]; }; then
	yes "fentry/fexit (the cheapest kernel-function hooks): the kernel is built with BPF trampolines (ftrace direct calls, JIT, BTF); a security policy can still refuse them at load (EPERM): 'bpfpush --probe' tries"
	fentry=built
elif [ -z "$cfg" ]; then
	note "fentry/fexit: unknown without the build config; bpfpush --probe tries it and says"
	fentry=unknown
else
	no "fentry/fexit: not available (needs CONFIG_FUNCTION_TRACER=y and CONFIG_DYNAMIC_FTRACE_WITH_DIRECT_CALLS=y; here ${ftrace:-?} and ${tramp:-?})"
	fentry=no
fi

kprobes=$(kconfig KPROBES)
kprobe_pmu=
[ $offline -eq 0 ] && [ -d /sys/bus/event_source/devices/kprobe ] && kprobe_pmu=yes
if [ -n "$probed_kprobe" ] && [ "$probed_kprobe" != yes ]; then
	no "kprobes: ${probed_kprobe#no: } ($probed_from)"
	kprobe=no
elif [ "$probed_kprobe" = yes ] || [ "$kprobe_pmu" = yes ] || { [ $offline -eq 1 ] && [ "$kprobes" = y ] && [ "$(kconfig KPROBE_EVENTS)" = y ]; }; then
	yes "kprobes/kretprobes: the fallback for kernel-function hooks where fentry is missing"
	kprobe=yes
elif [ "$kprobes" = y ]; then
	no "kprobes are built in but the kprobe PMU (/sys/bus/event_source/devices/kprobe) is missing: kprobe attach fails (CONFIG_KPROBE_EVENTS=$(kconfig KPROBE_EVENTS))"
	kprobe=no
elif [ -z "$kprobes" ] && [ -z "$kprobe_pmu" ]; then
	no "kprobes: no kprobe PMU in /sys/bus/event_source/devices (and no config to say more)"
	kprobe=no
else
	no "kprobes: not built in (CONFIG_KPROBES is not set)"
	kprobe=no
fi

if [ -n "$probed_tp_btf" ] && [ "$probed_tp_btf" != yes ]; then
	no "tp_btf: ${probed_tp_btf#no: } ($probed_from)"
	tpbtf=no
elif [ "$probed_tp_btf" = yes ] || { at_least 5 5 && { [ "$btf_cfg" = y ] || [ -r /sys/kernel/btf/vmlinux ]; }; }; then
	yes "tp_btf (BTF-typed raw tracepoints): the cheapest tracepoint hook, no tracefs needed"
	tpbtf=yes
else
	no "tp_btf: needs kernel BTF (5.5+)"
	tpbtf=no
fi
rawtp=yes
if [ -n "$probed_raw_tp" ] && [ "$probed_raw_tp" != yes ]; then
	no "raw_tp: ${probed_raw_tp#no: } ($probed_from)"
	rawtp=no
elif at_least 4 17 || [ -z "$ver_major" ]; then
	yes "raw_tp (raw tracepoints): no tracefs needed"
fi

# classic tracepoints and tracefs
if [ -n "$probed_tracepoint" ] && [ "$probed_tracepoint" != yes ]; then
	no "classic tracepoints: ${probed_tracepoint#no: } ($probed_from)"
elif [ -n "$tracefs" ]; then
	yes "classic tracepoints: tracefs is mounted at $tracefs"
elif [ $offline -eq 0 ] && grep -qw tracefs /proc/filesystems 2>/dev/null; then
	note "tracefs is not mounted: bpfpush mounts it at /sys/kernel/tracing when it runs as root (classic tracepoints need it; tp_btf and raw_tp do not)"
elif [ "$(kconfig TRACING)" = y ] || [ "$(kconfig EVENT_TRACING)" = y ]; then
	yes "classic tracepoints: tracefs is built in"
else
	no "classic tracepoints: no tracefs in this kernel"
fi
syscalls_tp=$(kconfig FTRACE_SYSCALLS)
if [ -n "$tracefs" ] && [ -d "$tracefs/events/syscalls" ]; then
	yes "per-syscall tracepoints ($(ls "$tracefs/events/syscalls" 2>/dev/null | grep -c '^sys_') of them): syscall_layer 'tracepoints' works"
elif [ "$syscalls_tp" = y ]; then
	yes "per-syscall tracepoints are built in (CONFIG_FTRACE_SYSCALLS): syscall_layer 'tracepoints' works once tracefs is mounted"
elif [ "$syscalls_tp" = n ]; then
	no "no per-syscall tracepoints (CONFIG_FTRACE_SYSCALLS is not set): only the sys_exit dispatcher counts syscalls"
fi
if [ $offline -eq 0 ] && [ -n "$tracefs" ] && [ -e "$tracefs/available_filter_functions" ] && ! cat "$tracefs/available_filter_functions" >/dev/null 2>&1; then
	note "$tracefs/available_filter_functions is unreadable here: bpfpush checks symbols in /proc/kallsyms and BTF instead"
fi

# ---------------------------------------------------------------- lockdown
lockdown=
lockdown_from=
if [ $offline -eq 0 ] && [ -r /sys/kernel/security/lockdown ]; then
	lockdown=$(sed -n 's/.*\[\([a-z]*\)\].*/\1/p' /sys/kernel/security/lockdown)
	lockdown_from=/sys/kernel/security/lockdown
elif [ $offline -eq 0 ] && grep -qo 'lockdown=[a-z]*' /proc/cmdline 2>/dev/null; then
	lockdown=$(grep -o 'lockdown=[a-z]*' /proc/cmdline | head -n 1 | cut -d= -f2)
	lockdown_from="the kernel command line"
fi
if [ -z "$lockdown" ]; then
	if [ "$(kconfig LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY)" = y ]; then lockdown=confidentiality
	elif [ "$(kconfig LOCK_DOWN_KERNEL_FORCE_INTEGRITY)" = y ]; then lockdown=integrity
	fi
	[ -n "$lockdown" ] && lockdown_from="the build config, CONFIG_LOCK_DOWN_KERNEL_FORCE_*"
fi
case $lockdown in
none) yes "kernel lockdown is off (from $lockdown_from)" ;;
integrity) yes "kernel lockdown is 'integrity' (from $lockdown_from): BPF tracing works (reads of kernel memory are allowed)" ;;
confidentiality) no "kernel lockdown is 'confidentiality' (from $lockdown_from): BPF programs may not read kernel memory, so bpfpush's probes are refused"; fatal=1 ;;
*)
	if [ "$(kconfig SECURITY_LOCKDOWN_LSM)" = n ]; then
		yes "no lockdown LSM in this kernel"
	elif [ "$(kconfig LOCK_DOWN_IN_EFI_SECURE_BOOT)" = y ]; then
		note "lockdown: unknown$([ $offline -eq 0 ] && echo ' (securityfs not mounted)'); this kernel locks down to 'integrity' under UEFI Secure Boot, which BPF tracing survives"
	else
		note "lockdown: unknown$([ $offline -eq 0 ] && echo ' (securityfs not mounted: mount -t securityfs securityfs /sys/kernel/security to see it)')"
	fi
	;;
esac

# ------------------------------------------------------- this process, now
if [ $offline -eq 0 ]; then
	capeff=$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status 2>/dev/null)
	has_cap() { [ -n "$capeff" ] && [ $(( (0x$capeff >> $1) & 1 )) -eq 1 ]; }
	if [ "$(id -u)" -eq 0 ] && has_cap 21; then
		yes "running as root with CAP_SYS_ADMIN: bpfpush can load, attach and mount tracefs"
	elif has_cap 39 && has_cap 38; then
		yes "this user has CAP_BPF and CAP_PERFMON: tp_btf, raw_tp, fentry and kprobes work; classic tracepoints need tracefs access"
	else
		no "this user lacks CAP_BPF/CAP_PERFMON (run bpfpush as root, or as the packaged service)"
	fi
	if ! has_cap 24 && [ "$(ulimit -l)" != unlimited ]; then
		if at_least 5 11; then
			note "RLIMIT_MEMLOCK is $(ulimit -l) KiB and cannot be raised here; 5.11+ accounts BPF memory to the cgroup instead, so that is fine"
		else
			note "RLIMIT_MEMLOCK is $(ulimit -l) KiB and cannot be raised (no CAP_SYS_RESOURCE): before 5.11 BPF maps count against it"
		fi
	fi
	if [ -d /sys/fs/cgroup/pids ] || [ -d /sys/fs/cgroup/memory ]; then
		note "cgroups: v1 hierarchies are mounted; apps grouped by cgroup use the v1 paths"
	elif [ -r /sys/fs/cgroup/cgroup.controllers ]; then
		note "cgroups: unified v2 hierarchy (controllers: $(cat /sys/fs/cgroup/cgroup.controllers))"
	fi
fi

# ---------------------------------------------------------------- verdict
for line in "${can[@]}"; do echo "  yes  $line"; done
for line in "${cannot[@]}"; do echo "  no   $line"; done
for line in "${notes[@]}"; do echo "  note $line"; done
echo
if [ $fatal -eq 1 ]; then
	echo "Verdict: bpfpush cannot run on this kernel (see the 'no' lines above)."
	exit 2
fi
ways=
[ "$tpbtf" = yes ] && ways="tp_btf"
[ "$rawtp" = yes ] && ways="${ways:+$ways, }raw_tp"
[ -n "$ways" ] || ways="no BPF-typed hook"
case $fentry in
yes) kfn="fentry/fexit" ;;
built) kfn="fentry/fexit if the kernel loads them (not tried: 'bpfpush --probe' as root tries)" ;;
*) kfn= ;;
esac
if [ "$kprobe" = yes ]; then kfn="${kfn:+$kfn, else }kprobes"; fi
echo "Verdict: bpfpush can run here. 'bpfpush --probe' loads each way and shows, per module and event, the one it takes."
echo "  Tracepoint events (sched, block, irq, ...) attach via $ways$({ [ -n "$tracefs" ] || [ "$(kconfig TRACING)" = y ]; } && [ "${probed_tracepoint:-yes}" = yes ] && echo ', else classic tracepoints')."
if [ -n "$kfn" ]; then
	echo "  Kernel-function events (vfs, tcp, dcache, ...) attach via $kfn."
elif [ "$fentry" = unknown ]; then
	echo "  Kernel-function events: fentry unknown, no kprobes; 'bpfpush --probe' tries and says which modules lose metrics."
else
	echo "  Kernel-function events have no hook here (no fentry, no kprobes): they fall back to the syscall layer"
	echo "  where one gives the same meaning; the rest (e.g. dcstat) are not sent. 'bpfpush --probe' lists each."
fi
exit 0
