#!/usr/bin/env bash
# rvisor's test command: installs what is missing, builds, and runs every test stage —
# format check, unit tests, unit tests under ASan/UBSan, bare-metal guest tests under each
# accelerator (interpreter, translator), the Debian guest download, the whole Debian system's
# image (scripts/make-debian-image.sh --small, built in the background beside the stages that
# do not time guests), the integration tests (real Linux boots, the whole Debian system with
# systemd, ssh, apt and U-Boot, bad input, the hostile-guest suite, which runs each of its
# cases under both accelerators itself) with Debian's pytest under rvisor's default accelerator and
# their guest-heavy part (boot, SMP) again under the interpreter, and the bad-input tests and
# the hostile-guest suite again against the ASan/UBSan build of rvisor.
#
# Keeps going after a failing stage. After each stage it prints the stage's closing lines
# (its full log stays in the log directory it names), and at the end one line
# "N passed, N failed, N skipped" totalling the tests the stages counted; a stage that fails
# without counting a failed test (a build, the format check, a crash) counts as one failure.
# Exits non-zero if anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
logdir=$(mktemp -d "${TMPDIR:-/tmp}/rvisor-test.XXXXXX")
export PYTHONDONTWRITEBYTECODE=1
# Debian's python3 and its pytest, whatever python3 comes first on PATH.
python=/usr/bin/python3

total_passed=0
total_failed=0
total_skipped=0
summary=()

# Count tests in a log. Sets passed/failed/skipped from the runner's own closing lines.
count_cmocka() {
	passed=$(sed -n 's/^\[  PASSED  \] \([0-9]\+\) test(s)\..*/\1/p' "$1" | awk '{s += $1} END {print s + 0}')
	failed=$(sed -n 's/^\[  FAILED  \] \([0-9]\+\) test(s).*/\1/p' "$1" | awk '{s += $1} END {print s + 0}')
	skipped=$(sed -n 's/^\[  SKIPPED \] \([0-9]\+\) test(s).*/\1/p' "$1" | awk '{s += $1} END {print s + 0}')
}
count_pytest() {
	local line
	line=$(grep -E '^=+ .*( in [0-9.]+s)' "$1" | tail -n1)
	passed=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || echo 0)
	failed=$(grep -oE '[0-9]+ (failed|errors?)' <<<"$line" | grep -oE '[0-9]+' | awk '{s += $1} END {print s + 0}')
	skipped=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+' || echo 0)
}
count_plain() {
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n1)
	passed=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"${line:-0 passed}")
	failed=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"${line:-0 passed, 0 failed}")
	skipped=0
}
count_none() { passed=0 failed=0 skipped=0; }

# stage NAME COUNTER COMMAND...: run COMMAND (no stdin), log it, count its tests.
stage() {
	local name=$1 counter=$2
	shift 2
	local log=$logdir/$name.log start rc
	echo "=== $name: $*"
	start=$(date +%s)
	"$@" </dev/null >"$log" 2>&1
	rc=$?
	"count_$counter" "$log"
	if ((rc != 0 && failed == 0)); then
		failed=1
	fi
	local verdict=ok
	((rc == 0)) || verdict="FAILED (exit status $rc)"
	{
		if ((rc != 0)); then
			# What went wrong, wherever it is in the log, then how the stage ended.
			grep -E '^\[  (FAILED|ERROR) +\]|^FAIL|error:|Error [0-9]+|^E  |Sanitizer' "$log" |
				head -n 40
			echo "..."
			tail -n 15 "$log"
		else
			tail -n 6 "$log"
		fi
	} | sed 's/^/    /'
	echo "=== $name: $verdict in $(($(date +%s) - start)) s; $passed passed, $failed failed, $skipped skipped"
	summary+=("$(printf '%-20s %s' "$name" "$verdict")")
	total_passed=$((total_passed + passed))
	total_failed=$((total_failed + failed))
	total_skipped=$((total_skipped + skipped))
	return "$rc"
}

# guest_tests ACCEL: the bare-metal guest tests on rvisor --accel ACCEL (jit or interp).
guest_tests() {
	ACCEL=$1 sh tests/guest/run.sh build/rvisor
}

# Every integration test, under rvisor's default accelerator (the translator where the host
# has one).
# The arm64 build (scripts/cross-aarch64.sh), interpreting under qemu-user: slower.
guest_tests_aarch64() {
	TIMEOUT=120 sh tests/guest/run.sh build-aarch64/rvisor-user
}

integration() {
	"$python" -m pytest tests/integration
}

# The integration tests that run guest code hardest (boot, SMP: atomics, cross-hart code
# modification, TLB shootdowns), under the interpreter.
integration_interp() {
	"$python" -m pytest tests/integration/test_boot.py tests/integration/test_smp.py \
		--accel interp
}

# The API's life cycle and snapshots again with the API modes under Landlock, allowed only the
# temporary directories and the guest images (rvisor run is under it in every stage).
integration_landlock() {
	"$python" -m pytest tests/integration/test_api.py tests/integration/test_snapshot.py \
		--landlock
}

# The bad-input tests again, against rvisor built with ASan and UBSan: the command line, bad
# GDB clients, bad migration streams, and the hostile guests (tests/hostile/).
bad_input_san() {
	make -j2 BUILD=build-san SAN=1 &&
		"$python" -m pytest tests/integration/test_bad_input.py \
			tests/integration/test_gdb.py::test_bad_clients \
			tests/integration/test_gdb.py::test_bad_gdb_options \
			tests/integration/test_migrate.py::test_receive_bad_input \
			tests/integration/test_hostile.py --rvisor build-san/rvisor
}

# The whole Debian system of test_debian_full.py (scripts/make-debian-image.sh --small, into
# the cache; the test then copies it): built beside the stages that do not time guests.
debian_image() {
	bash scripts/make-debian-image.sh --small "$logdir/debian-image.img" &&
		rm -f "$logdir/debian-image.img"
}

# background_stage NAME COUNTER COMMAND...: stage NAME run in the background; its report
# comes with wait_stage.
background_pid=
background_stage() {
	background_name=$1
	(stage "$@") >"$logdir/$1.stage" 2>&1 &
	background_pid=$!
	echo "=== $1: started in the background"
}

# wait_stage: wait for the background stage, print its report and count it (a stage that
# ends without its report, or with a failure, counts as one failed test).
wait_stage() {
	[[ -n $background_pid ]] || return 0
	wait "$background_pid"
	cat "$logdir/$background_name.stage"
	local line
	line=$(grep -E "^=== $background_name: .* in [0-9]+ s; " "$logdir/$background_name.stage" |
		tail -n1)
	if [[ $line == "=== $background_name: ok "* ]]; then
		summary+=("$(printf '%-20s %s' "$background_name" ok)")
	else
		summary+=("$(printf '%-20s %s' "$background_name" FAILED)")
		total_failed=$((total_failed + 1))
	fi
	background_pid=
}

echo "rvisor tests; logs in $logdir"
stage deps none scripts/deps.sh
stage build none make -j2
stage get-guest none scripts/get-guest.sh
background_stage debian-image none debian_image
stage format-check none make format-check
stage unit cmocka make -j2 unit
stage unit-san cmocka make -j2 BUILD=build-san SAN=1 unit
stage fuzz plain make fuzz FUZZ_SECONDS=90
stage cross-aarch64 none scripts/cross-aarch64.sh
wait_stage
stage guest-tests-interp plain guest_tests interp
stage guest-tests-jit plain guest_tests jit
stage guest-tests-aarch64 plain guest_tests_aarch64
export RVISOR_DEBIAN_FULL=1 # test_debian_full.py: the image is in the cache now
stage integration pytest integration
stage integration-interp pytest integration_interp
stage integration-landlock pytest integration_landlock
stage bad-input-san pytest bad_input_san

echo
echo "stages:"
printf '  %s\n' "${summary[@]}"
echo "logs: $logdir"
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
((total_failed == 0))
