#!/bin/sh
# Builds the fuzzers (libFuzzer with AddressSanitizer and UBSan, clang) and runs each for a
# bounded time on a copy of its committed seed corpus (tests/fuzz/corpus/TARGET):
#   virtq    the split-virtqueue parser (src/virtio/virtq.c)
#   blk      virtio-blk requests on a temporary disk, with the worker thread
#   net      virtio-net transmit and receive on a fake backend
#   console  virtio-console output, input and emergency writes on a fake backend
#   rng      virtio-rng requests
#   mmio     the virtio-mmio register interface with each device behind it
#   pci      the PCIe host bridge (ECAM, BARs, INTx) and the virtio-pci transport
#   api      the control plane's request parser and handlers (Firecracker's API)
#   state    the snapshot state loaders (harts, platform devices, virtio transports and
#            devices) on hostile state streams, the loaded state then put to use
#   loader   the guest image loaders (Image, gzip'd Image, ELF, raw, initrd)
#   migrate  the receiving side of a live migration on hostile streams
#   sbi      the SBI rvisor serves (ecalls with any a0-a7 from harts in any HSM state)
#   decode   the instruction decoder, one hart's code run by the interpreter and, against
#            it in lockstep, by the translator (x86-64 hosts)
# The device targets go through the real virtio-mmio transport (fuzz_common.h).
#
# Usage: tests/fuzz/run.sh [FUZZ_SECONDS]   (default 30)
# FUZZ_SECONDS is shared among the targets, at least 10 s each. FUZZ_TARGETS="blk net"
# runs only some; FUZZ_OUT (default build/fuzz) is where binaries, corpus copies, logs and
# crash inputs go; FUZZ_CC (default clang) the compiler.
# Prints each target's libFuzzer closing lines, then one line counting targets:
# "N passed, N failed". A crash leaves its input as FUZZ_OUT/TARGET-crash-* (replay:
# FUZZ_OUT/fuzz_TARGET FILE).
set -u

secs=${1:-${FUZZ_SECONDS:-30}}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
out=${FUZZ_OUT:-build/fuzz}
cc=${FUZZ_CC:-clang}
targets=${FUZZ_TARGETS:-virtq blk net console rng mmio pci api state loader migrate sbi decode}
ntargets=$(echo "$targets" | wc -w)

case $secs in
'' | *[!0-9]*)
	echo "run.sh: FUZZ_SECONDS must be a number of seconds, not '$secs'" >&2
	echo "0 passed, $ntargets failed"
	exit 1
	;;
esac
each=$((secs / ntargets))
[ "$each" -ge 10 ] || each=10

base="-std=gnu17 -g -O1 -D_GNU_SOURCE -pthread -Isrc -Itests/fuzz -Wall -Wextra -Werror
	-fno-sanitize-recover=undefined"
cflags="$base -fsanitize=fuzzer,address,undefined"
# The shared harness checks every input with loops over guest RAM: it is built without
# coverage instrumentation, which would only slow it and steer the fuzzer toward the checks.
common=$out/fuzz_common.o
# Device threads install their seccomp filters (none: the level stays 0 in a fuzzer).
seccomp="src/host/seccomp.c src/host/seccomp_hook/none.c"
virtio="src/virtio/mmio.c src/virtio/transport.c src/virtio/virtq.c $seccomp $common"

# The translator: the back end of this host's ISA, or the interface alone.
jit_sources() {
	if [ "$(uname -m)" = x86_64 ]; then
		echo "src/jit/jit.c src/jit/x86_64/*.c"
	else
		echo src/jit/none/jit_none.c
	fi
}

# The sources each target links: its own, and the device code it drives.
sources() {
	case $1 in
	virtq) echo "tests/fuzz/fuzz_virtq.c src/virtio/virtq.c" ;;
	blk) echo "tests/fuzz/fuzz_blk.c src/virtio/blk.c src/host/blk_file.c src/host/rate_limiter.c $virtio" ;;
	net) echo "tests/fuzz/fuzz_net.c src/virtio/net.c src/host/rate_limiter.c $virtio" ;;
	console) echo "tests/fuzz/fuzz_console.c src/virtio/console.c $virtio" ;;
	rng) echo "tests/fuzz/fuzz_rng.c src/virtio/rng.c $virtio" ;;
	mmio)
		echo "tests/fuzz/fuzz_mmio.c src/virtio/blk.c src/virtio/console.c src/virtio/net.c" \
			"src/virtio/rng.c src/host/blk_file.c src/host/rate_limiter.c src/mem/bus.c $virtio"
		;;
	pci)
		echo "tests/fuzz/fuzz_pci.c src/dev/pci.c src/virtio/pci.c src/virtio/rng.c" \
			"src/virtio/blk.c src/host/blk_file.c src/host/rate_limiter.c src/mem/bus.c $virtio"
		;;
	loader) echo "tests/fuzz/fuzz_loader.c src/vmm/boot.c src/mem/guest_mem.c" ;;
	api | state | migrate)
		# The control plane links the whole VMM (it reaches vm_create); only its requests
		# are fuzzed, before the start. The state loaders reach every device and the harts
		# (the translator is linked, never started).
		echo "tests/fuzz/fuzz_$1.c" $(ls src/*/*.c | grep -v -e '^src/jit/' -e '^src/jailer/') $(jit_sources) \
			src/host/seccomp_hook/none.c
		;;
	# The harts, with the translator the decoder target runs; the SBI reaches the VMM's exit
	# request (vcpu.c) and the UART's input.
	decode) echo "tests/fuzz/fuzz_decode.c src/cpu/*.c src/mem/*.c src/state/stream.c $(jit_sources)" ;;
	sbi)
		echo "tests/fuzz/fuzz_sbi.c src/sbi/sbi.c src/vmm/vcpu.c src/dev/uart16550.c src/cpu/*.c" \
			"src/mem/*.c src/state/stream.c $(jit_sources) $seccomp"
		;;
	*) return 1 ;;
	esac
}

mkdir -p "$out" || exit 1
passed=0
failed=0
# shellcheck disable=SC2086 # word splitting of the flag list is intended
if ! $cc $base -fsanitize=address,undefined -c -o "$common" tests/fuzz/fuzz_common.c; then
	echo "fuzz_common.c: build failed"
	echo "0 passed, $ntargets failed"
	exit 1
fi
for t in $targets; do
	if ! src=$(sources "$t"); then
		echo "fuzz_$t: no such target"
		failed=$((failed + 1))
		continue
	fi
	# shellcheck disable=SC2086 # word splitting of the flag and source lists is intended
	libs=-lseccomp
	case $t in
	api | state | migrate) libs="-lfdt -lz -lm -lslirp -lmicrohttpd -ljansson -lseccomp" ;;
	sbi | decode) libs="-lm -lseccomp" ;;
	loader) libs="-lz -lseccomp" ;;
	esac
	# shellcheck disable=SC2086 # word splitting of the flag and source lists is intended
	if ! $cc $cflags -o "$out/fuzz_$t" $src $libs; then
		echo "fuzz_$t: build failed (needs clang with libFuzzer:" \
			"apt-get install clang libclang-rt-dev)"
		failed=$((failed + 1))
		continue
	fi
	corpus=$out/corpus-$t
	log=$out/fuzz_$t.log
	rm -rf "$corpus"
	if ! cp -r "tests/fuzz/corpus/$t" "$corpus"; then
		failed=$((failed + 1))
		continue
	fi
	echo "fuzz_$t: $each s on $(ls "$corpus" | wc -l) seed inputs"
	# -timeout: an input that runs this long is a hang, reported like a crash.
	"$out/fuzz_$t" -max_total_time="$each" -timeout=30 -print_final_stats=1 \
		-artifact_prefix="$out/$t-" "$corpus" >"$log" 2>&1
	rc=$?

	# libFuzzer's closing lines: the last status line (coverage, corpus, speed), the run
	# count and the final statistics; the report instead when it found something.
	grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1
	grep -E '^Done [0-9]+ runs' "$log"
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log"
	if [ "$rc" -ne 0 ]; then
		grep -E 'invariant broken|ERROR|SUMMARY|runtime error|Test unit written|deadly signal' \
			"$log" | head -n 20
		echo "fuzz_$t: FAILED, full log: $log"
		failed=$((failed + 1))
	else
		echo "fuzz_$t: passed; corpus after the run: $(ls "$corpus" | wc -l) inputs in $corpus"
		passed=$((passed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
