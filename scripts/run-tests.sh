#!/usr/bin/env bash
# Run every test binary, show each one's cmocka report, and close with one line
# that counts them all: "N passed, N failed". Exit non-zero if any failed.
set -uo pipefail
build=${1:-build}
# --unit-only: the cmocka suites in BUILD/tests only (make test-asan), no end-to-end scripts.
unit_only=${2:-}
passed=0
failed=0
failed_suites=()

run_suite() {
	local bin=$1 out rc run ok bad
	echo "=== $(basename "$bin")"
	out=$("$bin" 2>&1)
	rc=$?
	echo "$out"
	run=$(sed -n 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' <<<"$out" | tail -1)
	ok=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' <<<"$out" | tail -1)
	bad=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' <<<"$out" | tail -1)
	ok=${ok:-0}
	bad=${bad:-0}
	# A suite that crashed or never reported still counts as a failure.
	if [[ -z "$run" || ( $rc -ne 0 && $bad -eq 0 ) ]]; then
		bad=$((bad + 1))
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
	[[ $bad -gt 0 ]] && failed_suites+=("$(basename "$bin")")
}

# End-to-end scripts speak TAP: "ok N - what" / "not ok N - what".
run_tap() {
	local script=$1 out rc ok bad
	echo "=== $(basename "$script")"
	out=$(BPFPUSH_BIN="$build/bpfpush" bash "$script" 2>&1)
	rc=$?
	echo "$out"
	ok=$(grep -c '^ok ' <<<"$out")
	bad=$(grep -c '^not ok ' <<<"$out")
	[[ $rc -ne 0 && $bad -eq 0 ]] && bad=1
	[[ $ok -eq 0 && $bad -eq 0 ]] && bad=1
	passed=$((passed + ok))
	failed=$((failed + bad))
	[[ $bad -gt 0 ]] && failed_suites+=("$(basename "$script")")
}

for bin in "$build"/tests/test_*; do
	[[ -x "$bin" ]] || continue
	run_suite "$bin"
done
for script in tests/e2e/test_*.sh; do
	[[ -f "$script" && "$unit_only" != --unit-only ]] || continue
	run_tap "$script"
done

echo
[[ ${#failed_suites[@]} -gt 0 ]] && echo "failed suites: ${failed_suites[*]}"
echo "$passed passed, $failed failed"
[[ $failed -eq 0 && $passed -gt 0 ]]
