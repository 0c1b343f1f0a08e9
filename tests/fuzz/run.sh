#!/bin/sh
# Builds the virtqueue fuzzer (libFuzzer with AddressSanitizer and UBSan, clang) into
# build/fuzz/ and runs it for a bounded time on a copy of the committed seed corpus.
# Usage: tests/fuzz/run.sh [FUZZ_SECONDS]   (default 30)
# Prints libFuzzer's summary, then "1 passed, 0 failed" or "0 passed, 1 failed"; a crash
# leaves its input in build/fuzz/ as crash-* (replay: build/fuzz/fuzz_virtq FILE).
set -u

secs=${1:-${FUZZ_SECONDS:-30}}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
out=build/fuzz
cc=${FUZZ_CC:-clang}

result() {
	if [ "$1" -eq 0 ]; then
		echo "1 passed, 0 failed"
	else
		echo "0 passed, 1 failed"
	fi
	exit "$1"
}

case $secs in
'' | *[!0-9]*)
	echo "run.sh: FUZZ_SECONDS must be a number of seconds, not '$secs'" >&2
	result 1
	;;
esac

mkdir -p "$out" || result 1
if ! $cc -std=gnu17 -g -O1 -D_GNU_SOURCE -Isrc -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-o "$out/fuzz_virtq" tests/fuzz/fuzz_virtq.c src/virtio/virtq.c; then
	echo "run.sh: building the fuzzer failed (needs clang with libFuzzer:" \
		"apt-get install clang libclang-rt-dev)" >&2
	result 1
fi

corpus=$out/corpus-virtq
rm -rf "$corpus"
cp -r tests/fuzz/corpus/virtq "$corpus" || result 1
log=$out/fuzz_virtq.log

echo "fuzz_virtq: $secs s on $(ls "$corpus" | wc -l) seed inputs"
"$out/fuzz_virtq" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/" \
	"$corpus" >"$log" 2>&1
rc=$?

# libFuzzer's closing lines: the last status line (coverage, corpus, speed), the run count,
# and the final statistics; a crash report instead when it found one.
grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1
grep -E '^Done [0-9]+ runs' "$log"
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log"
if [ "$rc" -ne 0 ]; then
	grep -E 'ERROR|SUMMARY|runtime error|Test unit written|deadly signal' "$log" | head -n 20
	echo "full log: $log"
fi
echo "corpus after the run: $(ls "$corpus" | wc -l) inputs in $corpus"
result "$rc"
