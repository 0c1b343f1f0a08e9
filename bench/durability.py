#!/usr/bin/python3
"""kill -9 durability: records acknowledged after a flush survive a SIGKILL of rvisor.

Each trial runs bench/durability/writer.c, a bare-metal guest (faster to loop than a Linux
boot), with a fresh zeroed raw image as its virtio-blk disk: it writes numbered 512-byte
records in batches of 1 to 4, sends a FLUSH after each batch and, once the FLUSH completes,
prints "ack N" on the console for each record of the batch. The host waits for the first
acknowledgement, then a random time (0 to --max-delay ms), sends SIGKILL to rvisor and reads
the image: every record acknowledged on a complete console line must be there, whole.
Records written but not yet acknowledged may or may not be there (both are right).

Prints the trials, the records checked and the records lost (must be 0), and exits 1 when a
record was lost or a trial could not run. The figures depend on the host's load: other work
on the host changes how many records each trial writes, not the outcome.
Usage: bench/durability.py [--trials N] [--max-delay MS] [--rvisor PATH] [--accel jit|interp]
[--seed N]
"""

import argparse
import os
import random
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WRITER = REPO / "bench" / "durability" / "writer.c"
MAGIC = b"RVDUR001"
DISK_BYTES = 8 << 20  # 16384 records: more than a trial writes
ACK = re.compile(rb"^ack (\d+)$", re.M)
START_TIMEOUT = 30


def build_writer(work):
    """writer.c as a raw binary loaded at 0x80000000 (rvisor's --firmware)."""
    cc = "riscv64-unknown-elf-gcc"
    if not shutil.which(cc):
        sys.exit(f"durability: {cc} not found: run scripts/deps.sh")
    ld = work / "writer.ld"
    ld.write_text("ENTRY(_start)\nSECTIONS {\n . = 0x80000000;\n"
                  " .text : { *(.text.start) *(.text*) }\n .rodata : { *(.rodata*) *(.srodata*) }\n"
                  " .data : { *(.data*) *(.sdata*) }\n"
                  " .bss : { *(.bss*) *(.sbss*) *(COMMON) }\n}\n")
    elf = work / "writer.elf"
    subprocess.run([cc, "-march=rv64g", "-mabi=lp64", "-mcmodel=medany", "-O2", "-Wall",
                    "-Wextra", "-Werror", "-ffreestanding", "-nostdlib", "-static",
                    "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments", "-T", str(ld), "-o", str(elf), str(WRITER)],
                   check=True)
    binary = work / "writer.bin"
    subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(binary)],
                   check=True)
    return binary


def expected_record(n):
    """The 512 bytes the writer puts at sector n."""
    out = bytearray(MAGIC + struct.pack("<Q", n))
    x = (n * 0x9E3779B97F4A7C15 + 1) & (2**64 - 1)
    while len(out) < 512:
        x ^= (x << 13) & (2**64 - 1)
        x ^= x >> 7
        x ^= (x << 17) & (2**64 - 1)
        out += struct.pack("<Q", x)
    return bytes(out)


def trial(rvisor, accel, writer, image, max_delay, rng):
    """One trial: returns (records acknowledged, records lost, records on disk beyond the
    acknowledged ones)."""
    with open(image, "wb") as f:
        f.truncate(DISK_BYTES)
    argv = [rvisor, "run", "--firmware", str(writer), "--mem", "16M",
            "--drive", f"path={image}"] + (["--accel", accel] if accel else [])
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out = bytearray()
    deadline = time.monotonic() + START_TIMEOUT
    kill_at = None
    try:
        while True:
            now = time.monotonic()
            if kill_at is not None and now >= kill_at:
                break
            if now > deadline:
                raise RuntimeError(f"no acknowledgement within {START_TIMEOUT} s")
            wait = (kill_at if kill_at is not None else deadline) - now
            ready, _, _ = select.select([proc.stdout], [], [], max(wait, 0))
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError("rvisor ended before it was killed: "
                                       + proc.stderr.read().decode(errors="replace")[-500:])
                out += chunk
                if kill_at is None and ACK.search(out):
                    kill_at = time.monotonic() + rng.uniform(0, max_delay / 1000)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # What the console had delivered before the kill (the pipe keeps it).
        while True:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode != -signal.SIGKILL:
        raise RuntimeError(f"rvisor ended with status {proc.returncode}, not by the SIGKILL")
    acked = sorted({int(m.group(1)) for m in ACK.finditer(out)})
    data = Path(image).read_bytes()
    lost = [n for n in acked if data[n * 512:(n + 1) * 512] != expected_record(n)]
    top = acked[-1] if acked else -1
    extra = 0
    n = top + 1
    while data[n * 512:n * 512 + 8] == MAGIC:
        extra += 1
        n += 1
    return len(acked), lost, extra


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--max-delay", type=float, default=200.0,
                    help="the kill comes 0 to this many ms after the first acknowledgement")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"))
    ap.add_argument("--accel", choices=("jit", "interp"))
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    if not os.access(args.rvisor, os.X_OK):
        sys.exit(f"durability: {args.rvisor} is not executable: run make first")
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    rng = random.Random(seed)
    load = os.getloadavg()[0]
    checked = lost = unacked = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rvisor-durability-") as tmp:
        work = Path(tmp)
        writer = build_writer(work)
        image = work / "disk.img"
        for i in range(args.trials):
            try:
                n, bad, extra = trial(args.rvisor, args.accel, writer, image, args.max_delay,
                                      rng)
            except (RuntimeError, OSError) as e:
                print(f"trial {i + 1}: {e}", file=sys.stderr)
                sys.exit(1)
            checked += n
            unacked += extra
            if bad:
                lost += len(bad)
                print(f"trial {i + 1}: {len(bad)} acknowledged records lost, first {bad[:5]}")
            if (i + 1) % 100 == 0:
                print(f"  {i + 1} trials, {checked} records checked, {lost} lost "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
    print(f"accelerator: {args.accel or 'rvisor default'}, seed {seed}, kill 0-"
          f"{args.max_delay:g} ms after the first acknowledgement")
    print(f"host: {os.cpu_count()} CPUs, load average {load:.2f} at the start, "
          f"{os.getloadavg()[0]:.2f} at the end")
    print(f"trials: {args.trials}")
    print(f"records checked (acknowledged after a flush): {checked}")
    print(f"records on disk past the last acknowledgement (written, not yet acknowledged): "
          f"{unacked}")
    print(f"records lost: {lost}")
    print(f"time: {time.monotonic() - started:.0f} s")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
