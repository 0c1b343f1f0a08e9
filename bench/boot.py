#!/usr/bin/python3
"""Boot-time benchmark: seconds from process start to the first line of userspace, the line
the guest's init prints before anything else ("rvisor-guest: userspace started"), for
Debian's riscv64 kernel with the busybox initramfs of scripts/get-guest.sh; and to init's
marker ("rvisor-guest: init started"), printed once it has loaded the virtio modules for the
devices present (every rvisor VM has a virtio-rng; QEMU's virt machine has no virtio device
unless asked, so it loads only the transport). Median of several runs of rvisor (built-in
SBI) and, side by side, of QEMU (`qemu-system-riscv64 -M virt`), and their ratio. Also
rvisor's host memory beyond guest RAM at the marker: resident set minus the resident part of
the guest RAM (memfd) mapping.

It prints figures and never fails on slowness; it exits 1 only when a VM does not reach the
marker at all. Usage: bench/boot.py [--runs N] [--rvisor PATH] [--accel jit|interp] [--no-qemu]
[--timeout S] [--rvisor-args ARGS]
"""

import argparse
import os
import re
import select
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import MARKER, REPO, host_load_line, load_guest_env, stop

FIRST_LINE = b"rvisor-guest: userspace started"


def memory_at(pid):
    """(resident set, resident part of the guest RAM) in bytes for process pid, from
    /proc/PID/smaps. Guest RAM is the memfd named rvisor-ram. A memfd mapped at two addresses
    (the translator's code cache: writable and executable views of one file) has the same
    pages under both, so each memfd counts once, at its larger mapping."""
    other, by_inode, ram_inodes = 0, {}, set()
    inode = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                fields = line.split(None, 5)
                inode = None
                if len(fields) == 6 and fields[5].startswith("/memfd:"):
                    inode = fields[4]
                    if fields[5].startswith("/memfd:rvisor-ram"):
                        ram_inodes.add(inode)
            elif line.startswith("Rss:"):
                kib = int(line.split()[1])
                if inode is None:
                    other += kib
                else:
                    by_inode[inode] = max(by_inode.get(inode, 0), kib)
    ram = sum(by_inode.get(i, 0) for i in ram_inodes)
    return (other + sum(by_inode.values())) * 1024, ram * 1024


def boot_once(argv, timeout, measure_memory, env=None, stderr=None):
    """Start argv (with env as its environment, if given; its stderr to the file object
    stderr, or nowhere), wait for the first line and the marker on its stdout, then power the
    guest off. Returns ((seconds to the first line, seconds to the marker), memory or None),
    or (None, reason) when either does not come."""
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr if stderr else subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    out = bytearray()
    result = (None, f"no marker within {timeout} s")
    first = None
    try:
        deadline = start + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                result = (None, f"exited with status {proc.wait()} before the marker")
                break
            out.extend(chunk)
            if first is None and FIRST_LINE in out:
                first = time.monotonic() - start
            if MARKER in out:
                elapsed = time.monotonic() - start
                if first is None:
                    result = (None, "the marker came without the first line (old initramfs? "
                              "run scripts/get-guest.sh)")
                    break
                memory = memory_at(proc.pid) if measure_memory else None
                result = ((first, elapsed), memory)
                break
        if result[0] is not None:
            proc.stdin.write(b"poweroff -f\n")
            proc.stdin.flush()
            try:
                # Drain the console so the guest never blocks on a full pipe.
                end = time.monotonic() + 30
                while proc.poll() is None and time.monotonic() < end:
                    if select.select([proc.stdout], [], [], 0.5)[0]:
                        if not os.read(proc.stdout.fileno(), 65536):
                            break
                proc.wait(5)
            except (subprocess.TimeoutExpired, OSError):
                pass
    finally:
        stop(proc)
    return result


def bench(name, argv, runs, timeout, measure_memory=False):
    print(f"{name}: {shlex.join(argv)}", flush=True)
    times, memories = [], []
    for i in range(runs):
        seconds, extra = boot_once(argv, timeout, measure_memory)
        if seconds is None:
            print(f"  run {i + 1}: {extra}", flush=True)
            return None, None
        line = f"  run {i + 1}: {seconds[0]:.2f} s to the first line, {seconds[1]:.2f} s to the marker"
        if extra:
            rss, ram = extra
            memories.append(rss - ram)
            line += f"; RSS {rss / 2**20:.1f} MiB, of which guest RAM {ram / 2**20:.1f} MiB"
            if ram == 0:
                line += " (no rvisor-ram memfd found: guest RAM is counted in the rest)"
        print(line, flush=True)
        times.append(seconds)
    median_memory = statistics.median(memories) if memories else None
    medians = tuple(statistics.median(t[k] for t in times) for k in (0, 1))
    return medians, median_memory


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="boots per VMM (default 5)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--mem", default="512M", help="guest RAM for both VMMs (default 512M)")
    ap.add_argument("--accel", choices=("jit", "interp"),
                    help="rvisor's --accel (default: rvisor's own default)")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU side")
    ap.add_argument("--rvisor-args", default="",
                    help="more rvisor run options, one string (e.g. --rvisor-args=--no-seccomp)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot (default 300)")
    args = ap.parse_args()

    guest = load_guest_env()
    kernel, initrd = guest["RVISOR_KERNEL"], guest["RVISOR_INITRD"]
    failed = False
    load_before = os.getloadavg()[0]

    rvisor_argv = [args.rvisor, "run", "--kernel", kernel, "--initrd", initrd,
                   "--mem", args.mem, "--cmdline", "console=ttyS0"]
    if args.accel:
        rvisor_argv += ["--accel", args.accel]
    rvisor_argv += shlex.split(args.rvisor_args)
    rv_time, rv_mem = bench("rvisor", rvisor_argv, args.runs, args.timeout, True)
    failed |= rv_time is None

    qemu_time = None
    if args.no_qemu:
        print("qemu: skipped (--no-qemu)")
    elif not any(os.access(Path(d) / "qemu-system-riscv64", os.X_OK)
                 for d in os.environ.get("PATH", "").split(":")):
        print("qemu: skipped (qemu-system-riscv64 not found; scripts/deps.sh installs it)")
    else:
        qemu_argv = ["qemu-system-riscv64", "-M", "virt", "-m", args.mem, "-nographic",
                     "-bios", "default", "-kernel", kernel, "-initrd", initrd,
                     "-append", "console=ttyS0"]
        qemu_time, _ = bench("qemu", qemu_argv, args.runs, args.timeout)
        failed |= qemu_time is None

    print(f"kernel {guest.get('RVISOR_KERNEL_VERSION', '?')}, {args.runs} runs each, "
          f"median seconds from process start")
    for k, what in enumerate(("to the first line of userspace", "to init's marker (modules loaded)")):
        rv = f"{rv_time[k]:.2f} s" if rv_time is not None else "no boot"
        qm = f"{qemu_time[k]:.2f} s" if qemu_time is not None else "not measured"
        ratio = f", ratio rvisor/qemu {rv_time[k] / qemu_time[k]:.2f}" if rv_time and qemu_time else ""
        print(f"{what}: rvisor {rv}, qemu {qm}{ratio}")
    print(host_load_line(load_before))
    if rv_mem is not None:
        print(f"rvisor host memory beyond guest RAM at the marker: {rv_mem / 2**20:.1f} MiB "
              f"(median)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
