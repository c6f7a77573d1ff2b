#!/bin/sh
# /init of the bpfpush test guest (busybox sh). scripts/vm-test.sh packs it with
# /etc/vm-test.env, busybox, the static agent, the integration tests and the
# kernel modules listed in /lib/modules/load.order.
#
# What it prints on the console (the host parses only lines starting "VMTEST"):
#   VMTEST BEGIN kernel=... tiers=... layers=... tests=...
#   VMTEST MODULE name=... status=ok|failed
#   VMTEST PROBE-BEGIN name / the --probe output / VMTEST PROBE-END name
#   VMTEST OUT-BEGIN id / a test's whole output / VMTEST OUT-END id
#   VMTEST RESULT kernel=K tier=T layer=L test=NAME rep=N run=N passed=N failed=N rc=N secs=N
#   VMTEST DONE kernel=K secs=N
#   (VM_BENCH: VMTEST BENCH-BEGIN / the benchmark's output / VMTEST BENCH-END rc=N instead)
# and then powers the guest off. Anything going wrong ends in a poweroff too.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
/bin/busybox --install -s /bin 2>/dev/null

finish() {
	echo "VMTEST DONE kernel=$KVER secs=$(( $(date +%s) - T0 ))"
	sync
	poweroff -f
	sleep 5
	echo o > /proc/sysrq-trigger
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
echo +pids > /sys/fs/cgroup/cgroup.subtree_control
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
hostname bpfpush-vm

. /etc/vm-test.env
KVER=$(uname -r)
T0=$(date +%s)
trap finish EXIT
echo "VMTEST BEGIN kernel=$KVER tiers=$(echo $VM_TIERS | tr ' ' ,) layers=$(echo $VM_LAYERS | tr ' ' ,) tests=$(cd /bpfpush/tests && echo test_* | tr ' ' ,) cpus=$(grep -c ^processor /proc/cpuinfo) mem_kb=$(sed -n 's/^MemTotal: *\([0-9]*\).*/\1/p' /proc/meminfo)"

# Modules, in dependency order (the host resolved it from each .ko's .modinfo).
if [ -s /lib/modules/load.order ]; then
	while read -r name file; do
		[ -n "$name" ] || continue
		if insmod "/lib/modules/$file" 2>/tmp/insmod.err; then
			echo "VMTEST MODULE name=$name status=ok"
		elif grep -q 'File exists' /tmp/insmod.err; then
			echo "VMTEST MODULE name=$name status=ok (already loaded)"
		else
			echo "VMTEST MODULE name=$name status=failed: $(cat /tmp/insmod.err)"
		fi
	done < /lib/modules/load.order
fi

# What the kernel offers, for the record.
echo "VMTEST INFO btf=$([ -r /sys/kernel/btf/vmlinux ] && echo yes || echo no)" \
	"kprobe_events=$([ -e /sys/kernel/tracing/kprobe_events ] && echo yes || echo no)" \
	"syscall_tracepoints=$(ls /sys/kernel/tracing/events/syscalls 2>/dev/null | grep -c '^sys_')" \
	"lockdown=$(cat /sys/kernel/security/lockdown 2>/dev/null | tr ' ' , || echo unknown)" \
	"jit=$(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null)"

# VM_BENCH (scripts/bench/guest): the access-cost and overhead benchmarks instead of the probes and tests.
if [ -n "$VM_BENCH" ]; then
	cd /bpfpush/repo
	echo "VMTEST BENCH-BEGIN"
	BENCH_PREBUILT=1 /bin/bash scripts/bench/mapcost --rounds 3 --calls 50000 2>&1 || echo "mapcost failed: rc=$?"
	# shellcheck disable=SC2086 # the benchmark's arguments
	BENCH_PREBUILT=1 /bin/bash scripts/bench/overhead $VM_BENCH 2>&1
	echo "VMTEST BENCH-END rc=$?"
	exit 0
fi

AGENT=/bpfpush/bpfpush
probe() { # name config [--json]
	name=$1 config=$2; shift 2
	echo "VMTEST PROBE-BEGIN $name"
	timeout 300 "$AGENT" --probe -c "$config" "$@" 2>&1
	echo "VMTEST PROBE-END $name rc=$?"
}
# The shipped `make run` config as it is, then with each tier forced, then with
# load_mode return (syscall-exit events hooked) and each syscall layer forced.
probe auto /etc/bpfpush/run.yaml
# VM_PROBES=auto: that one alone (each probe loads every program: minutes on an emulated arm64).
if [ "${VM_PROBES:-all}" = all ]; then
probe auto-json /etc/bpfpush/run.yaml --json
# Every module on, at log_level debug: libbpf's verifier logs say why a program does not load.
sed -e "s/^\(  log_level: *\)info/\1debug/" -e "s/enabled: false/enabled: true/" /etc/bpfpush/run.yaml > /tmp/probe-debug.yaml
probe "all-modules,log_level=debug" /tmp/probe-debug.yaml
for tier in $VM_TIERS; do
	[ "$tier" = unforced ] && continue
	sed "s/^\(  attach: *\)auto/\1$tier/" /etc/bpfpush/run.yaml > /tmp/probe-$tier.yaml
	probe "attach=$tier" /tmp/probe-$tier.yaml
done
for layer in $VM_LAYERS; do
	sed -e "s/^\(  syscall_layer: *\)auto/\1$layer/" -e "s/^\(  load_mode: *\)entry/\1return/" \
		/etc/bpfpush/run.yaml > /tmp/probe-$layer.yaml
	probe "load_mode=return,syscall_layer=$layer" /tmp/probe-$layer.yaml
done
rm -f /tmp/probe-*.yaml
fi

# The matrix: every test binary once per tier forced (syscall layer automatic, so
# kernel-function ways get their turn), then once per syscall layer forced (tier
# automatic). "auto" leaves the variable unset.
# scripts/vm/tests.list: the tiers and layers that tell a test anything new; unlisted: all.
# Tier "unforced" (asked for in VM_TIERS): every test once with nothing forced, but
# those listing "auto", which ran so already.
runs_in() { # test tier layer; tier "auto": the run with nothing forced, only for tests listing "auto"
	spec=$(sed -n "s/^$1: *//p" /etc/bpfpush/vm-tests.list 2>/dev/null)
	if [ "$2" = auto ] || [ "$2" = unforced ]; then
		case " ${spec%%|*} " in *" auto "*) [ "$2" = auto ]; return ;; esac
		[ "$2" = unforced ]
		return
	fi
	[ -n "$spec" ] || return 0
	if [ -n "$2" ]; then
		case " ${spec%%|*} " in *" $2 "*) return 0 ;; esac
		return 1
	fi
	if [ -n "$3" ]; then
		case " ${spec#*|} " in *" $3 "*) return 0 ;; esac
		return 1
	fi
	return 0
}

cd /tmp
id=0
# The packaged binary (VM_PACKAGE), as a host that installed the package runs it: the package's
# config, with its sink replaced the way an operator would (a conf.d file naming the same sink),
# by stdout. Three checks, one result line.
if [ -x /usr/sbin/bpfpush ]; then
	id=$((id + 1))
	start=$(date +%s)
	echo "VMTEST OUT-BEGIN $id kernel=$KVER tier=auto layer=auto test=package"
	passed=0 failed=0
	check() { # name command...
		name=$1; shift
		if "$@" > /tmp/pkg.out 2>&1; then passed=$((passed + 1)); echo "ok $name"
		else failed=$((failed + 1)); echo "not ok $name"; sed 's/^/    /' /tmp/pkg.out | tail -n 20; fi
	}
	check "--version: $(/usr/sbin/bpfpush --version 2>&1 | head -n 1)" /usr/sbin/bpfpush --version
	check "--check-config of the package's config" /usr/sbin/bpfpush --check-config -c /etc/bpfpush/package.yaml
	mkdir -p /pkgtest/conf.d && chmod 700 /pkgtest
	cp /etc/bpfpush/package.yaml /pkgtest/bpfpush.yaml
	printf 'sinks:\n  - { name: statsd, type: stdout }\n' > /pkgtest/conf.d/sink.yaml
	/usr/sbin/bpfpush -c /pkgtest/bpfpush.yaml --duration 5 > /tmp/pkg.lines 2> /tmp/pkg.log
	run_rc=$?
	if [ $run_rc -eq 0 ] && grep -q '\.process\.zombies:' /tmp/pkg.lines; then
		passed=$((passed + 1)); echo "ok 5 s of the shipped config: $(wc -l < /tmp/pkg.lines) lines on stdout"
	else
		failed=$((failed + 1)); echo "not ok 5 s of the shipped config (rc $run_rc, $(wc -l < /tmp/pkg.lines) lines)"
		tail -n 20 /tmp/pkg.log | sed 's/^/    /'
	fi
	echo "[==========] 3 test(s) run."
	echo "VMTEST OUT-END $id"
	echo "VMTEST RESULT kernel=$KVER tier=auto layer=auto test=package rep=1 run=3 passed=$passed failed=$failed rc=$([ $failed -eq 0 ] && echo 0 || echo 1) secs=$(( $(date +%s) - start ))"
	pkill -9 -x bpfpush 2>/dev/null
fi

combos="auto:auto" # nothing forced: the shipped config as it is (test_shipped)
for tier in $VM_TIERS; do combos="$combos $tier:-"; done
for layer in $VM_LAYERS; do combos="$combos -:$layer"; done
for combo in $combos; do
	tier=${combo%%:*} layer=${combo#*:}
	only=
	[ "$combo" = auto:auto ] && only=auto
	[ "$tier" = auto ] || [ "$tier" = - ] && tier=
	[ "$layer" = auto ] || [ "$layer" = - ] && layer=
		for bin in /bpfpush/tests/test_*; do
		for rep in $(seq "${VM_REPEAT:-1}"); do
			[ -x "$bin" ] || continue
			test=${bin##*/}
			runs_in "$test" "${only:-$tier}" "$layer" || continue
			id=$((id + 1))
			start=$(date +%s)
			echo "VMTEST OUT-BEGIN $id kernel=$KVER tier=${tier:-auto} layer=${layer:-auto} test=$test"
			attach=$tier
			[ "$tier" = unforced ] && attach=
			BPFPUSH_BIN=$AGENT BPFPUSH_TEST_ATTACH=$attach BPFPUSH_TEST_SYSCALL_LAYER=$layer \
				timeout "$VM_TEST_TIMEOUT" "$bin" > /tmp/out.txt 2>&1
			rc=$?
			cat /tmp/out.txt
			echo "VMTEST OUT-END $id"
			run=$(sed -n 's/^\[==========\] \([0-9]*\) test(s) run\..*/\1/p' /tmp/out.txt | tail -n 1)
			passed=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' /tmp/out.txt | tail -n 1)
			failed=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' /tmp/out.txt | tail -n 1)
			echo "VMTEST RESULT kernel=$KVER tier=${tier:-auto} layer=${layer:-auto} test=$test rep=$rep run=${run:--} passed=${passed:-0} failed=${failed:-0} rc=$rc secs=$(( $(date +%s) - start ))"
			# No agent may outlive its test: the next run counts tasks kernel-wide.
			pkill -9 -x bpfpush 2>/dev/null
			rm -rf /tmp/bpfpush-test-*
		done
		done
done

exit 0
