#!/usr/bin/env bash
# Build the SMP guest test programs (static riscv64 Linux binaries, Debian's
# riscv64-linux-gnu-gcc) and an initramfs that holds them beside the busybox guest's:
#
#   tests/integration/smp/build.sh OUTDIR [BASE_INITRAMFS]
#
# Writes OUTDIR/bin/NAME for each NAME.c here; with BASE_INITRAMFS (the initramfs.cpio of
# scripts/get-guest.sh) also OUTDIR/initramfs.gz: BASE_INITRAMFS followed by a second gzip'd
# newc cpio archive with the programs under /smp (Linux unpacks concatenated archives in
# order: Documentation/driver-api/early-userspace/buffer-format.rst). No root needed.
# Checks that the atomics program really uses the A-extension instructions it is meant to test.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh OUTDIR [BASE_INITRAMFS]}
base=${2:-}
cc=${RISCV_LINUX_CC:-riscv64-linux-gnu-gcc}
objdump=${cc%gcc}objdump
cflags=(-std=gnu17 -O2 -static -pthread -D_GNU_SOURCE
	-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror)

command -v "$cc" >/dev/null ||
	{ echo "build.sh: $cc not found: run scripts/deps.sh (gcc-riscv64-linux-gnu, libc6-dev-riscv64-cross)" >&2; exit 1; }

mkdir -p "$out/bin"
for src in "$here"/*.c; do
	name=$(basename "$src" .c)
	"$cc" "${cflags[@]}" -o "$out/bin/$name" "$src"
done

# Each instruction the stress test is about must be in its worker function: a compiler that
# lowered __atomic_fetch_add to an LR/SC loop (or the reverse) would leave a part untested.
disasm=$("$objdump" -d --disassemble=stress "$out/bin/atomics")
for insn in amoadd.w amoadd.d amoor.d lr.w sc.w lr.d sc.d; do
	grep -qE "[[:space:]]${insn//./\\.}(\\.aq|\\.rl|\\.aqrl)?[[:space:]]" <<<"$disasm" ||
		{ echo "build.sh: stress() in $out/bin/atomics has no $insn instruction" >&2; exit 1; }
done

if [[ -n $base ]]; then
	rm -rf "$out/root"
	mkdir -p "$out/root/smp"
	cp "$out"/bin/* "$out/root/smp/"
	(cd "$out/root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
		cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -1n >"$out/smp.cpio.gz"
	cat "$base" "$out/smp.cpio.gz" >"$out/initramfs.gz.new"
	mv "$out/initramfs.gz.new" "$out/initramfs.gz"
	rm -rf "$out/root"
fi
