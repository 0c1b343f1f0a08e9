#!/usr/bin/python3
"""Live migration benchmark: a guest with 1 GiB of RAM (Debian's kernel, the busybox
initramfs, two vCPUs) boots to its shell, then migrates to a second process on this host over
a Unix socket, twice: idle at its shell, and busy (a loop rewriting a 4 MiB file from
/dev/urandom as fast as it can, so pages keep changing during the pre-copy). For each:

- total: from the request (rvisor: PUT /migration/send; QEMU: QMP migrate) to its completion;
- downtime: how long the guest stood still (rvisor's own figure, the pause to the go; QEMU's
  query-migrate "downtime");
- answer: from the completion until the destination's guest answers a console command.

Side by side, QEMU (`-M virt`, the same kernel, initramfs and RAM, `-incoming unix:`), with
its bandwidth limit raised to 10 GiB/s so neither side is capped (QEMU 7.2's default is
128 MiB/s) and its default downtime limit (300 ms). Medians of --runs migrations each. It
prints figures and never fails on slowness; it exits 1 only when a guest does not boot or
migrate.
Usage: bench/migrate.py [--runs N] [--mem MIB] [--rvisor PATH] [--no-qemu]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from common import MARKER, REPO, host_load_line, load_guest_env, stop
from snapshot import QMP, read_until, request, wait_socket

BUSY = (b"(while :; do head -c 4194304 /dev/urandom > /tmp/churn; done) & "
        b"sleep 1; echo churn-$((6*7))\n")


def spawn(argv, err):
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                            start_new_session=True)


def answer(proc, timeout=60):
    proc.stdin.write(b"echo moved-$((40+2))\n")
    proc.stdin.flush()
    return read_until(proc, rb"moved-42", timeout)


def rvisor_once(args, guest, work, busy, i):
    sock = os.path.join(work, f"src{i}.sock")
    dst = os.path.join(work, f"dst{i}.mig")
    errpath = os.path.join(work, f"src{i}.err")
    with open(errpath, "wb") as err, open(os.devnull, "wb") as null:
        src = spawn([args.rvisor, "--api-sock", sock], err)
        recv = None
        try:
            if not wait_socket(sock, src):
                return None
            request(sock, "PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": args.mem})
            request(sock, "PUT", "/boot-source", {"kernel_image_path": guest["RVISOR_KERNEL"],
                                                  "initrd_path": guest["RVISOR_INITRD"],
                                                  "boot_args": "console=ttyS0"})
            request(sock, "PUT", "/actions", {"action_type": "InstanceStart"})
            if not read_until(src, re.escape(MARKER), 120):
                return None
            if busy:
                src.stdin.write(BUSY)
                src.stdin.flush()
                if not read_until(src, rb"churn-42", 60):
                    return None
            time.sleep(1)
            recv = spawn([args.rvisor, "receive", "--listen", f"unix:{dst}"], null)
            end = time.monotonic() + 10
            while not os.path.exists(dst) and time.monotonic() < end:
                time.sleep(0.001)
            t0 = time.monotonic()
            request(sock, "PUT", "/migration/send", {"destination_url": f"unix:{dst}"})
            t1 = time.monotonic()
            if not answer(recv):
                return None
            t2 = time.monotonic()
            src.wait(30)
        finally:
            stop(src)
            if recv:
                stop(recv)
    m = re.search(rb"guest stopped ([0-9.]+) ms", open(errpath, "rb").read())
    return t1 - t0, float(m.group(1)) / 1000 if m else float("nan"), t2 - t1


def qemu_once(args, guest, work, busy, i):
    base = ["qemu-system-riscv64", "-M", "virt", "-smp", "2", "-m", f"{args.mem}M",
            "-nographic", "-bios", "default", "-kernel", guest["RVISOR_KERNEL"], "-initrd",
            guest["RVISOR_INITRD"], "-append", "console=ttyS0"]
    qsrc, qdst = os.path.join(work, f"q{i}.qmp"), os.path.join(work, f"qd{i}.qmp")
    dst = os.path.join(work, f"q{i}.mig")
    with open(os.devnull, "wb") as null:
        src = spawn(base + ["-qmp", f"unix:{qsrc},server=on,wait=off"], null)
        recv = spawn(base + ["-qmp", f"unix:{qdst},server=on,wait=off", "-incoming",
                             f"unix:{dst}"], null)
        try:
            if not read_until(src, re.escape(MARKER), 180):
                return None
            if busy:
                src.stdin.write(BUSY)
                src.stdin.flush()
                if not read_until(src, rb"churn-42", 60):
                    return None
            time.sleep(1)
            q = QMP(qsrc)
            q.cmd("migrate-set-parameters", **{"max-bandwidth": 10 << 30})
            t0 = time.monotonic()
            q.cmd("migrate", uri=f"unix:{dst}")
            while True:
                st = q.cmd("query-migrate")
                if st.get("status") in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.001)
            t1 = time.monotonic()
            if st.get("status") != "completed":
                return None
            if not answer(recv):
                return None
            t2 = time.monotonic()
            q.close()
        finally:
            stop(src)
            stop(recv)
    return t1 - t0, st.get("downtime", float("nan")) / 1000, t2 - t1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="migrations per case (default 3)")
    ap.add_argument("--mem", type=int, default=1024, help="guest RAM in MiB (default 1024)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--no-qemu", action="store_true", help="skip QEMU's side")
    args = ap.parse_args()
    guest = load_guest_env()
    load_before = os.getloadavg()[0]
    sides = [("rvisor", rvisor_once)] + ([] if args.no_qemu else [("qemu", qemu_once)])
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for busy in (False, True):
            case = "busy" if busy else "idle"
            for name, once in sides:
                runs = []
                for i in range(args.runs):
                    r = once(args, guest, work, busy, f"{case}{i}")
                    if r is None:
                        print(f"{name} {case} run {i + 1}: the guest did not boot or migrate")
                        return 1
                    runs.append(r)
                    print(f"{name} {case} run {i + 1}: total {r[0] * 1000:.1f} ms, downtime "
                          f"{r[1] * 1000:.1f} ms, destination answered {r[2] * 1000:.1f} ms "
                          f"later", flush=True)
                med = [statistics.median(x[k] for x in runs) for k in range(3)]
                results[(name, case)] = med
                print(f"{name} {case} ({args.mem} MiB, medians of {args.runs}): total "
                      f"{med[0] * 1000:.1f} ms, downtime {med[1] * 1000:.1f} ms, answer "
                      f"{med[2] * 1000:.1f} ms", flush=True)
    if not args.no_qemu:
        for case in ("idle", "busy"):
            r, q = results[("rvisor", case)], results[("qemu", case)]
            print(f"ratios rvisor/qemu, {case}: total {r[0] / q[0]:.2f}, downtime "
                  f"{r[1] / q[1]:.2f}")
    print(host_load_line(load_before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
