#!/bin/sh
# Runs the bare-metal guest tests. Builds them first (into build/guest) if needed.
#
#   tests/guest/run.sh [RVISOR_BINARY] [TEST...]     run on rvisor (default build/rvisor)
#   RUNNER=qemu tests/guest/run.sh [TEST...]         run on qemu-system-riscv64 -M virt
#   ACCEL=jit|interp tests/guest/run.sh ...          run rvisor with --accel ACCEL (default:
#                                                    none given, rvisor's own default)
#
# Each test runs under a timeout (TIMEOUT seconds, default 20) and passes when the machine
# exits with status 0 (the program wrote the test finisher's pass value) and, where
# tests/guest/NAME.expected exists, its console output matches that file. A runner-specific
# NAME.RUNNER.expected (e.g. zicsr.qemu.expected) takes precedence. Output lines starting
# with "# " are notes that may differ between machines and are not compared. Where
# tests/guest/NAME.count exists, each of its lines "COUNT<tab>TEXT" requires TEXT to appear as a
# whole output line exactly COUNT times.
# Where tests/guest/NAME.rvisor-args exists, its words are added to rvisor's command line (e.g. a
# small --jit-cache, so that the translator's cache fills up and is flushed); NAME.qemu-args
# does the same for QEMU's (e.g. a -cpu with extensions turned off).
# Prints one line per test and "N passed, N failed"; exits 1 if any test failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
RUNNER=${RUNNER:-rvisor}
ACCEL=${ACCEL:-}
TIMEOUT=${TIMEOUT:-20}
GUEST_BUILD=${GUEST_BUILD:-$root/build/guest}

# The first argument is the rvisor binary if it names a file or a path; the rest are tests.
rvisor=$root/build/rvisor
if [ $# -gt 0 ]; then
	case $1 in
	*/*)
		rvisor=$1
		shift
		;;
	*)
		if [ -f "$1" ]; then
			rvisor=./$1
			shift
		fi
		;;
	esac
fi

case $ACCEL in
'' | jit | interp) ;;
*)
	echo "run.sh: ACCEL must be jit or interp, not '$ACCEL'" >&2
	exit 1
	;;
esac
if [ -n "$ACCEL" ] && [ "$RUNNER" != rvisor ]; then
	echo "run.sh: ACCEL selects rvisor's accelerator; unset it with RUNNER=$RUNNER" >&2
	exit 1
fi

case $RUNNER in
rvisor)
	if [ ! -x "$rvisor" ]; then
		echo "run.sh: no rvisor binary at $rvisor: build it with 'make' or pass its path" >&2
		exit 1
	fi
	;;
qemu)
	if ! command -v qemu-system-riscv64 >/dev/null; then
		echo "run.sh: qemu-system-riscv64 not found: apt-get install qemu-system-misc" >&2
		exit 1
	fi
	;;
*)
	echo "run.sh: RUNNER must be rvisor or qemu, not '$RUNNER'" >&2
	exit 1
	;;
esac

if ! make -s -C "$root" -f tests/guest/guest.mk GUEST_BUILD="$GUEST_BUILD" guest-tests; then
	echo "run.sh: building the guest tests failed" >&2
	exit 1
fi

if [ $# -gt 0 ]; then
	tests=$*
else
	tests=$(cd "$here" && ls *.S | sed -e '/^common\.S$/d' -e 's/\.S$//')
fi

# run_one NAME ELF OUT: runs ELF on the chosen machine, console to OUT; returns its status.
run_one() {
	case $RUNNER in
	rvisor)
		extra=
		[ -f "$here/$1.rvisor-args" ] && extra=$(cat "$here/$1.rvisor-args")
		# $extra is split into words on purpose
		timeout "$TIMEOUT" "$rvisor" run ${ACCEL:+--accel "$ACCEL"} $extra --firmware "$2" \
			--mem 64M </dev/null >"$3" 2>"$3.err"
		;;
	qemu)
		extra=
		[ -f "$here/$1.qemu-args" ] && extra=$(cat "$here/$1.qemu-args")
		# $extra is split into words on purpose
		timeout "$TIMEOUT" qemu-system-riscv64 -M virt $extra -bios "$2" -nographic -m 64M \
			</dev/null >"$3" 2>"$3.err"
		;;
	esac
}

passed=0
failed=0
for t in $tests; do
	elf=$GUEST_BUILD/$t.elf
	out=$GUEST_BUILD/$t.$RUNNER${ACCEL:+-$ACCEL}.out
	if [ ! -f "$elf" ]; then
		echo "FAIL $t: no such test ($elf)"
		failed=$((failed + 1))
		continue
	fi
	start=$(date +%s)
	run_one "$t" "$elf" "$out"
	rc=$?
	secs=$(($(date +%s) - start))
	why=
	if [ $rc -eq 124 ]; then
		why="timed out after ${TIMEOUT}s"
	elif [ $rc -ne 0 ]; then
		why="exit status $rc"
	else
		expected=$here/$t.$RUNNER.expected
		[ -f "$expected" ] || expected=$here/$t.expected
		if [ -f "$expected" ]; then
			tr -d '\r' <"$out" | grep -a -v '^# ' >"$out.cmp"
			if ! diff -u "$expected" "$out.cmp" >"$out.diff"; then
				why="console output differs from $(basename "$expected") (see $out.diff)"
			fi
		fi
		# NAME.count: lines "COUNT<tab>TEXT"; the output must hold TEXT as a whole line
		# exactly COUNT times (for output too long for an expected file).
		if [ -z "$why" ] && [ -f "$here/$t.count" ]; then
			tab=$(printf '\t')
			while IFS= read -r spec; do
				want=${spec%%"$tab"*}
				text=${spec#*"$tab"}
				got=$(tr -d '\r' <"$out" | grep -a -c -F -x -e "$text")
				if [ "$got" != "$want" ]; then
					why="$got lines of '$(echo "$text" | cut -c 1-40)', expected $want"
					break
				fi
			done <"$here/$t.count"
		fi
	fi
	if [ -z "$why" ]; then
		echo "PASS $t (${secs}s)"
		passed=$((passed + 1))
	else
		echo "FAIL $t: $why"
		# The last console and error lines usually name the failing check.
		tr -d '\r' <"$out" | grep -a -v '^$' | tail -n 3 | cut -c 1-200 | sed 's/^/    | /'
		tail -n 3 "$out.err" | cut -c 1-200 | sed 's/^/    ! /'
		failed=$((failed + 1))
	fi
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
