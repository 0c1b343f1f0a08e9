#!/bin/sh
# Rebuilds the committed format-1 snapshot of ticker.c (state.bin, mem.bin.gz): boots it
# through the API with 16 MiB of RAM, pauses after "tick 5" and snapshots it. Run from the
# repository root with a built rvisor; only needed when the snapshot format's version changes
# (then keep the old files for the previous version's test and add new ones).
set -eu
here=tests/integration/snapshot-v1
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
riscv64-unknown-elf-gcc -march=rv64gc -mabi=lp64d -mcmodel=medany -O2 -nostdlib \
	-ffreestanding -static -Wl,-Ttext=0x80200000 -Wl,--build-id=none \
	-o "$work/ticker.elf" "$here/ticker.c"
sock=$work/api.sock
build/rvisor --api-sock "$sock" >"$work/out" 2>&1 </dev/null &
pid=$!
while [ ! -S "$sock" ]; do sleep 0.05; done
api() { curl -sf --unix-socket "$sock" -X "$1" "http://localhost$2" -d "$3"; }
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 16}'
api PUT /boot-source "{\"kernel_image_path\": \"$work/ticker.elf\", \"boot_args\": \"\"}"
api PUT /actions '{"action_type": "InstanceStart"}'
while ! grep -q "tick 5" "$work/out"; do sleep 0.02; done
api PATCH /vm '{"state": "Paused"}'
api PUT /snapshot/create "{\"snapshot_path\": \"$here/state.bin\", \"mem_file_path\": \"$work/mem.bin\"}"
gzip -9 -n -c "$work/mem.bin" >"$here/mem.bin.gz"
grep -o "tick [0-9]*" "$work/out" | tail -n 1
