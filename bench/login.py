#!/usr/bin/python3
"""Login benchmark: seconds from process start to the login prompt of a whole Debian system
(systemd, udev, networkd, sshd, the getty on the serial console), the image of
scripts/make-debian-image.sh, booted with get-guest.sh's kernel and initramfs
(root=/dev/vda1), on rvisor (built-in SBI) and, side by side, on QEMU (`qemu-system-riscv64
-M virt`, OpenSBI, the same kernel, initramfs, command line, image, RAM and harts, the disk
and network card on virtio-mmio as rvisor's). Each boot runs on a fresh copy of the image
(its first boot makes a machine ID and so on once). Median of several runs and their ratio.

It prints figures and never fails on slowness; it exits 1 only when a VM does not reach the
prompt at all. Usage: bench/login.py [--runs N] [--image FLAVOUR] [--cpus N] [--mem SIZE]
[--rvisor PATH] [--accel jit|interp] [--no-qemu] [--timeout S] [--rvisor-args ARGS]
"""

import argparse
import os
import select
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, host_load_line, load_guest_env, stop, version

LOGIN = b"rvisor login: "
CMDLINE = "console=ttyS0 root=/dev/vda1 rw"


def login_once(argv, timeout):
    """Start argv, wait for the login prompt on its stdout, then kill it (the copy of the
    image is thrown away). Returns the seconds to the prompt, or a reason (str)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    out = bytearray()
    try:
        deadline = start + timeout
        while time.monotonic() < deadline:
            if not select.select([proc.stdout], [], [], 0.5)[0]:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return f"exited with status {proc.wait()} before the login prompt"
            out.extend(chunk)
            if LOGIN in out:
                return time.monotonic() - start
        return f"no login prompt within {timeout} s"
    finally:
        stop(proc)


def bench(name, make_argv, image, work, runs, timeout):
    """Median seconds to the prompt over runs boots of make_argv(copy of image), or None."""
    print(f"{name}: {shlex.join(make_argv(work / 'disk.img'))}", flush=True)
    times = []
    for i in range(runs):
        copy = work / "disk.img"
        subprocess.run(["cp", "--sparse=always", str(image), str(copy)], check=True)
        seconds = login_once(make_argv(copy), timeout)
        copy.unlink()
        if isinstance(seconds, str):
            print(f"  run {i + 1}: {seconds}", flush=True)
            return None
        print(f"  run {i + 1}: {seconds:.1f} s to the login prompt", flush=True)
        times.append(seconds)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="boots per VMM (default 3)")
    ap.add_argument("--image", choices=("small", "important", "standard"), default="small",
                    help="make-debian-image.sh's package set (default small, the tests' image)")
    ap.add_argument("--cpus", type=int, default=2, help="harts for both VMMs (default 2)")
    ap.add_argument("--mem", default="1G", help="guest RAM for both VMMs (default 1G)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--accel", choices=("jit", "interp"),
                    help="rvisor's --accel (default: rvisor's own default)")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU side")
    ap.add_argument("--rvisor-args", default="",
                    help="more rvisor run options, one string (e.g. --rvisor-args=--no-seccomp)")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per boot (default 900)")
    args = ap.parse_args()

    guest = load_guest_env()
    kernel, initrd = guest["RVISOR_KERNEL"], guest["RVISOR_INITRD"]
    work = Path(tempfile.mkdtemp(prefix="rvisor-login-"))
    try:
        image = work / "image.img"
        flavour = [] if args.image == "important" else [f"--{args.image}"]
        r = subprocess.run(["bash", str(REPO / "scripts" / "make-debian-image.sh"), *flavour,
                            str(image)], stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            sys.exit("bench: make-debian-image.sh failed (see above)")
        load_before = os.getloadavg()[0]

        def rvisor_argv(disk):
            argv = [args.rvisor, "run", "--kernel", kernel, "--initrd", initrd,
                    "--cmdline", CMDLINE, "--mem", args.mem, "--cpus", str(args.cpus),
                    "--drive", f"path={disk}", "--net", "user"]
            if args.accel:
                argv += ["--accel", args.accel]
            return argv + shlex.split(args.rvisor_args)

        def qemu_argv(disk):
            return ["qemu-system-riscv64", "-M", "virt", "-m", args.mem, "-smp", str(args.cpus),
                    "-nographic", "-bios", "default", "-kernel", kernel, "-initrd", initrd,
                    "-append", CMDLINE,
                    "-drive", f"file={disk},format=raw,if=none,id=d0",
                    "-device", "virtio-blk-device,drive=d0",
                    "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"]

        rv = bench("rvisor", rvisor_argv, image, work, args.runs, args.timeout)
        qm = None
        if args.no_qemu:
            print("qemu: skipped (--no-qemu)")
        elif not shutil.which("qemu-system-riscv64"):
            print("qemu: skipped (qemu-system-riscv64 not found; scripts/deps.sh installs it)")
        else:
            qm = bench("qemu", qemu_argv, image, work, args.runs, args.timeout)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nkernel {guest.get('RVISOR_KERNEL_VERSION', '?')}, image {args.image}, "
          f"{args.cpus} harts, {args.mem}; {args.runs} runs each, median seconds from process "
          f"start to the login prompt; {version(['qemu-system-riscv64', '--version'])}")
    print(f"{'':10}{'rvisor':>10}{'qemu':>10}{'rvisor/qemu':>14}")
    fmt = lambda v: f"{v:.1f}" if v is not None else "-"  # noqa: E731
    ratio = f"{rv / qm:.2f}" if rv and qm else "-"
    print(f"{'login':10}{fmt(rv):>10}{fmt(qm):>10}{ratio:>14}")
    print(host_load_line(load_before))
    return 1 if rv is None or (qm is None and not args.no_qemu and shutil.which(
        "qemu-system-riscv64")) else 0


if __name__ == "__main__":
    sys.exit(main())
