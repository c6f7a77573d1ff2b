#!/usr/bin/env bash
# scripts/bench/targets checks issue 32's targets from the files one `make bench` run leaves:
# from made-up figures (no benchmark runs here), each target's verdict, a ratio taken against
# the configuration's own floor, a file older than the run's .started stamp left out, a column
# the run could not measure said so, the noise line where two configurations load the same
# programs, and the collects while the agent first sees the processes, printed beside the verdicts.
source "$(dirname "$0")/lib.sh"
e2e_init --no-peers

TARGETS=$E2E_ROOT/scripts/bench/targets
DIR=$E2E_TMP/bench
mkdir -p "$DIR/scale"

# The floors' +ns, then the agent's: read 1.2x (met), write 1.5x (missed), no open column;
# NET_RX against floor-softirq (the softirq tracepoints' own floor), not the configuration's;
# bpfpush-timing (softirq timing on) reported beside the targets.
overhead() {
	printf 'floor\tbpfpush-default\tfloor-tracepoints\n'
	printf 'floor\tbpfpush-tracepoints\tfloor-tracepoints\n'
	printf 'floor\tbpfpush-entry\tfloor-tracepoints\n'
	printf 'floor-tracepoints\tread\t100.0\nfloor-tracepoints\twrite\t200.0\nfloor-tracepoints\ttcp\t1000.0\n'
	printf 'floor-tracepoints\tblock\t5.0\nfloor-tracepoints\tsoftirq\t2.0\n'
	printf 'floor\tbpfpush-timing\tfloor-tracepoints\n'
	printf 'floor-softirq\tsoftirq\t200.0\nfloor-softirq\ttcp\t250.0\n'
	printf 'bpfpush-timing\tsoftirq\t420.0\nbpfpush-timing\ttcp\t2000.0\n'
	printf 'bpftrace\tread\t400.0\n'
	printf 'bpfpush-default\tread\t120.0\nbpfpush-default\twrite\t300.0\nbpfpush-default\ttcp\t1600.0\n'
	printf 'bpfpush-default\tblock\t50.0\nbpfpush-default\tsoftirq\t300.0\n'
	printf 'bpfpush-tracepoints\tread\t130.0\nbpfpush-entry\tread\t140.0\n'
	# The read cells: none's at 1000 ns; default's and its twins' pooled, median 1125: +125, 1.25x.
	printf 'cell\tnone\tread\t%s\n' 1000 1000 1000
	printf 'cell\tbpfpush-default\tread\t%s\n' 1120 1120
	printf 'cell\tbpfpush-tracepoints\tread\t1130\ncell\tbpfpush-entry\tread\t1140\n'
}
scale() {
	printf 'module.collect_us apps\tprocesses\t2500\t12000\t30\n'
	printf 'module.collect_cpu_us apps\tprocesses\t2400\t7000\t30\n'
	printf 'module.collect_us apps, discovery\tprocesses\t4100\t14000\t27\n'
	printf 'module.collect_cpu_us apps, discovery\tprocesses\t3300\t9000\t27\n'
	printf 'agent cpu %% of a core\tboth\t1.5\t1.5\t3\n'
	printf 'agent peak RSS KiB\tprocesses\t15000\t16000\t3\n'
	printf 'agent peak RSS KiB\tboth\t15500\t17000\t3\n'
}
# The program-time pass: per event, the floor's programs 30 ns on read, the shipped config's 45
# (three rounds: median 45), bpftrace's 130; on TCP 2 runs of the agent's per event, 1 of the floor's;
# block's floor (+5 ns) is too small for a ratio.
progtime() {
	printf 'round\tconfig\tcolumn\tevents\truns\tns\n'
	printf '1\tfloor-tracepoints\tread\t1000\t1000\t30000\n'
	printf '%s\tbpfpush-default\tread\t1000\t1000\t%s\n' 1 44000 2 45000 3 90000
	printf '1\tbpftrace\tread\t1000\t2000\t130000\n'
	printf '1\tfloor-tracepoints\ttcp\t1000\t1000\t40000\n1\tbpfpush-default\ttcp\t1000\t2000\t240000\n'
	printf '1\tfloor-tracepoints\tblock\t1000\t2000\t60000\n1\tbpfpush-default\tblock\t1000\t2000\t160000\n'
}
touch "$DIR/.started"
overhead >"$DIR/overhead-fast.tsv"
progtime >"$DIR/overhead-progtime.tsv"
scale >"$DIR/scale/summary.tsv"

"$TARGETS" --dir "$DIR" >"$E2E_TMP/out" 2>&1
tap_ok "targets exits 0 with targets missed (it reports, it does not gate)" test $? -eq 0
verdict() { # LABEL MEASURED VERDICT: the line of that target says both
	grep -F -- "$1" "$E2E_TMP/out" | grep -F -- "$2" | grep -qwF -- "$3" || { cat "$E2E_TMP/out"; return 1; }
}
line_says() { # FILE LABEL WORD: the line of that target says WORD
	grep -F -- "$2" "$1" | grep -qw -- "$3" || { cat "$1"; return 1; }
}
tap_ok "read: the same programs' cells pooled, 1.25x the floor: met" verdict "read(2), apps on as shipped, x floor" "1.25x" "met (3 configurations' 4 cells pooled; default alone 1.20x)"
tap_ok "write 1.50x the floor (no cells: default's own): MISSED" verdict "write(2), apps on, x floor" "1.50x" MISSED
tap_ok "no open column: not measured" verdict "openat+close, apps on, x floor" "not measured" column
tap_ok "read against bpftrace, pooled: 0.31x MISSED" verdict "x bpftrace" "0.31x" MISSED
tap_ok "TCP 1.60x: met (at most)" verdict "TCP send+recv" "1.60x" met
tap_ok "a floor under 10 ns gives no ratio" verdict "block request" "not measured" column
tap_ok "NET_RX against floor-softirq, 1.50x: met" verdict "NET_RX softirq" "1.50x" met
tap_ok "softirq timing's cost reported beside, against the same floors" line_says "$E2E_TMP/out" "with modules.softirq.timing on" "2.10x"
tap_ok "... and its TCP figure against its floor with floor-softirq's added" line_says "$E2E_TMP/out" "with modules.softirq.timing on" "1.60x"
tap_ok "collect median 2.5 ms: met" verdict "processes, median" "2.5 ms" met
tap_ok "collect max 12.0 ms: MISSED" verdict "processes, max" "12.0 ms" MISSED
tap_ok "agent CPU in the both case: met" verdict "500 endpoints" "1.50 %" met
tap_ok "peak RSS is the largest case's: 16.6 MiB MISSED" verdict "peak RSS" "16.6 MiB" MISSED
tap_ok "map memory said to be measured elsewhere" verdict "possible CPUs" "not in make bench" test_map_memory
tap_ok "the tally" grep -qx "5 met, 4 missed, 3 not measured in this run" "$E2E_TMP/out"
tap_ok "the noise line: the configurations that run the same programs, their read ratios" grep -q "bpfpush-tracepoints, bpfpush-entry run the same programs as bpfpush-default here; ratios (default/tracepoints/entry): read 1.20x/1.30x/1.40x" "$E2E_TMP/out"
tap_ok "the collect's CPU time beside its wall time" grep -q "median 2.4 ms, max 7.0 ms" "$E2E_TMP/out"
tap_ok "the collects while the table fills beside, not in the verdicts" \
	grep -q "first sees the 10000 processes (the period after its start): median 4.1 ms, max 14.0 ms; CPU median 3.3 ms, max 9.0 ms" "$E2E_TMP/out"
tap_ok "program time: read +15 ns beyond the floor's programs, 1.15x on the run's floor, 0.57x bpftrace's" \
	grep -qF "read(2)         +15.0 ns (1.00 program runs an event, the floor's 1.00); on this run's floor of +100: 1.15x, 0.57x bpftrace's (+100.0 ns beyond the floor's)" "$E2E_TMP/out"
tap_ok "program time: TCP's runs per event beside the floor's, +200 ns on +1000: 1.20x" \
	grep -qF "TCP send+recv  +200.0 ns (2.00 program runs an event, the floor's 1.00); on this run's floor of +1000: 1.20x" "$E2E_TMP/out"
tap_ok "program time: a floor under 10 ns gives no ratio, the +ns still" \
	grep -qF "block request  +100.0 ns (2.00 program runs an event, the floor's 2.00); this run's floor not measured" "$E2E_TMP/out"
tap_ok "program time is not a target: the tally is unchanged" grep -qx "5 met, 4 missed, 3 not measured in this run" "$E2E_TMP/out"

# An earlier run's overhead file: older than .started, so left out and said so.
touch -d '1 hour ago' "$DIR/overhead-fast.tsv"
"$TARGETS" --dir "$DIR" >"$E2E_TMP/stale" 2>&1
tap_ok "an overhead file older than .started is not used" grep -q "overhead-fast.tsv is from an earlier run" "$E2E_TMP/stale"
tap_ok "  ... and the scale figures still are" line_says "$E2E_TMP/stale" "processes, median" met
"$TARGETS" --dir "$DIR" --any-age >"$E2E_TMP/any" 2>&1
tap_ok "--any-age uses it" line_says "$E2E_TMP/any" "read(2), apps on as shipped" met

rm "$DIR/overhead-progtime.tsv"
"$TARGETS" --dir "$DIR" --any-age >"$E2E_TMP/noprogtime" 2>&1
tap_ok "no program-time file: said so, with why" grep -q "the programs' own run time: not measured: no .*overhead-progtime.tsv (its benchmark did not run)" "$E2E_TMP/noprogtime"
rm "$DIR/scale/summary.tsv"
"$TARGETS" --dir "$DIR" --any-age >"$E2E_TMP/noscale" 2>&1
tap_ok "no scale file: its targets not measured, with why" grep -q "scale/summary.tsv (its benchmark did not run)" "$E2E_TMP/noscale"

"$TARGETS" --dir "$DIR" --bogus >/dev/null 2>"$E2E_TMP/bad"
tap_ok "an unknown argument exits 2" test $? -eq 2
tap_ok "  ... and names it on one line" test "$(cat "$E2E_TMP/bad")" = "targets: unknown argument --bogus (see --help)"

tap_done
