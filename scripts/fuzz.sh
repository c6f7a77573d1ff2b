#!/usr/bin/env bash
# make fuzz: scripts/fuzz.sh FUZZ_DIR SECONDS TARGET...
# For each libFuzzer target built in FUZZ_DIR: replay tests/fuzz/regressions/TARGET/ (every
# input a fuzzer once crashed on), then fuzz for SECONDS from a working copy of the committed
# seeds, tests/fuzz/corpus/TARGET/, kept in FUZZ_DIR/corpus/TARGET (the committed corpus stays
# small; the working one grows from run to run). A crash, leak or timeout fails the target, and
# the input that caused it is copied into tests/fuzz/regressions/TARGET/ to be committed with
# its fix. tests/fuzz/TARGET.dict, when present, is the target's libFuzzer dictionary.
# Each target counts once; the last line is "N passed, N failed".
set -uo pipefail
dir=$1
seconds=$2
shift 2
passed=0
failed=0
failed_targets=()
summary=()

for target in "$@"; do
	bin=$dir/$target
	seeds=tests/fuzz/corpus/$target
	regressions=tests/fuzz/regressions/$target
	work=$dir/corpus/$target
	artifacts=$dir/artifacts/$target
	log=$dir/$target.log
	mkdir -p "$work" "$artifacts"
	ok=1
	echo "=== $target"
	if [[ -d $regressions ]] && compgen -G "$regressions/*" >/dev/null; then
		if "$bin" -runs=1 "$regressions"/* >"$dir/$target.replay.log" 2>&1; then
			echo "regressions: $(ls "$regressions" | wc -l) inputs replayed, no crash"
		else
			echo "regressions: a replayed input still crashes:"
			tail -n 40 "$dir/$target.replay.log"
			ok=0
		fi
	fi
	[[ -d $seeds ]] && cp -n "$seeds"/* "$work"/ 2>/dev/null
	rm -f "$artifacts"/*
	dict=()
	[[ -f tests/fuzz/$target.dict ]] && dict=(-dict="tests/fuzz/$target.dict")
	started=$SECONDS
	"$bin" "${dict[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$artifacts/" "$work" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | awk '{ print $2 }')
	ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -n 1 | awk '{ print $2 }')
	corp=$(grep -Eo 'corp: [0-9]+' "$log" | tail -n 1 | awk '{ print $2 }')
	secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
	secs=${secs:-$((SECONDS - started))}
	line="$target: ${execs:-?} execs in ${secs:-?} s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
	if [[ $rc -ne 0 ]]; then
		ok=0
		echo "fuzzing failed (exit $rc); the end of $log:"
		grep -v '^#' "$log" | tail -n 60
		mkdir -p "$regressions"
		for crash in "$artifacts"/*; do
			[[ -f $crash ]] || continue
			cp "$crash" "$regressions/"
			echo "kept $regressions/$(basename "$crash") as a regression input"
		done
		line="$line: FAILED"
	fi
	echo "$line"
	summary+=("$line")
	if [[ $ok -eq 1 ]]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failed_targets+=("$target")
	fi
done

echo
printf '%s\n' "${summary[@]}"
[[ ${#failed_targets[@]} -gt 0 ]] && echo "failed targets: ${failed_targets[*]}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
