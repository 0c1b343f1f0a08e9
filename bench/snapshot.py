#!/usr/bin/python3
"""Snapshot benchmark: a guest with 1 GiB of RAM (Debian's kernel, the busybox initramfs, one
vCPU) boots through the API to init's marker and idles at its shell; then

- full snapshot: the time PUT /snapshot/create takes on the paused guest, the state file's
  size, and the memory file's size on disk (sparse: pages never touched are holes);
- diff snapshots (the guest tracks its dirty pages): after it idled a second at its shell,
  and after it wrote 16 MiB to a file in its RAM: time and memory file size on disk;
- restore: in a new rvisor process, the time PUT /snapshot/load (resume_vm) takes, from the
  request to the answer, by which time every hart and device is loaded and the harts run
  (the guest's next instruction); the same from the process's start (socket ready, then the
  load); and until the guest answers a command on its console;
- side by side, QEMU (`-M virt`, the same kernel, initramfs and RAM): migration of the paused
  guest to a file (`migrate exec:cat > FILE`) and a new process started with
  `-incoming exec:cat FILE`, until QMP reports it running and until it answers.

Medians of several restores. It prints figures and never fails on slowness; it exits 1 only
when a guest does not boot or restore.
Usage: bench/snapshot.py [--runs N] [--mem MIB] [--rvisor PATH] [--no-qemu]
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from api import UnixHTTPConnection, spawn, stop
from common import MARKER, REPO, host_load_line, load_guest_env


def request(sock, method, path, body=None):
    c = UnixHTTPConnection(sock)
    c.request(method, path, json.dumps(body) if body is not None else None,
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status not in (200, 204):
        raise RuntimeError(f"{method} {path}: {r.status} {data!r}")
    return data


def wait_socket(sock, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sock)
            return True
        except OSError:
            if proc.poll() is not None:
                return False
            time.sleep(0.0002)
        finally:
            s.close()
    return False


def read_until(proc, pattern, timeout):
    """Read proc's stdout until the regex matches; True when it did."""
    import select
    buf = bytearray()
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not select.select([proc.stdout], [], [], 0.2)[0]:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        buf.extend(chunk)
        if re.search(pattern, buf):
            return True
    return False


class QMP:
    """A minimal QMP client: one command at a time, events skipped."""

    def __init__(self, path, timeout=30):
        end = time.monotonic() + timeout
        while True:
            self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > end:
                    raise
                time.sleep(0.0005)
        self.f = self.s.makefile("rwb")
        self.f.readline()  # the greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError(f"QMP {name}: {r['error']}")

    def close(self):
        self.s.close()


def qemu_side(args, guest, work):
    """QEMU's migration to a file and back (QEMU 7.2 has no file: URI: exec:cat), with the
    same guest: (save seconds, file bytes, restore medians: to running, to an answer)."""
    mig = os.path.join(work, "qemu.mig")
    base = ["qemu-system-riscv64", "-M", "virt", "-m", f"{args.mem}M", "-nographic",
            "-bios", "default", "-kernel", guest["RVISOR_KERNEL"], "-initrd",
            guest["RVISOR_INITRD"], "-append", "console=ttyS0"]
    qsock = os.path.join(work, "qmp.sock")
    proc = spawn(base + ["-qmp", f"unix:{qsock},server=on,wait=off"])
    try:
        if not read_until(proc, re.escape(MARKER), 120):
            return None
        time.sleep(1)
        q = QMP(qsock)
        q.cmd("stop")
        t0 = time.monotonic()
        q.cmd("migrate", uri=f"exec:cat > {mig}")
        while q.cmd("query-migrate").get("status") not in ("completed", "failed"):
            time.sleep(0.001)
        save = time.monotonic() - t0
        q.close()
    finally:
        stop(proc)
    size = os.stat(mig).st_size
    running, answers = [], []
    for i in range(args.runs):
        qsock = os.path.join(work, f"qmp{i}.sock")
        start = time.monotonic()
        proc = spawn(base + ["-qmp", f"unix:{qsock},server=on,wait=off",
                             "-incoming", f"exec:cat {mig}"])
        try:
            q = QMP(qsock)
            while True:
                st = q.cmd("query-status").get("status")
                if st == "running":
                    break
                if st == "paused":  # loaded: it was saved stopped, as rvisor's is
                    q.cmd("cont")
                time.sleep(0.0005)
            t1 = time.monotonic()
            proc.stdin.write(b"echo restored-$((40+2))\n")
            proc.stdin.flush()
            if not read_until(proc, rb"restored-42", 60):
                return None
            t2 = time.monotonic()
            q.close()
        finally:
            stop(proc)
        running.append(t1 - start)
        answers.append(t2 - t1)
        print(f"qemu run {i + 1}: process start to running {(t1 - start) * 1000:.1f} ms, then "
              f"a console command answered in {(t2 - t1) * 1000:.1f} ms", flush=True)
    return save, size, statistics.median(running), statistics.median(answers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="restores (default 5)")
    ap.add_argument("--mem", type=int, default=1024, help="guest RAM in MiB (default 1024)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--no-qemu", action="store_true", help="skip QEMU's side")
    args = ap.parse_args()
    guest = load_guest_env()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        sock = os.path.join(work, "a.sock")
        state, mem = os.path.join(work, "vm.state"), os.path.join(work, "vm.mem")
        proc = spawn([args.rvisor, "--api-sock", sock])
        try:
            if not wait_socket(sock, proc):
                print("rvisor did not serve the API")
                return 1
            request(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": args.mem,
                                                     "track_dirty_pages": True})
            request(sock, "PUT", "/boot-source", {"kernel_image_path": guest["RVISOR_KERNEL"],
                                                  "initrd_path": guest["RVISOR_INITRD"],
                                                  "boot_args": "console=ttyS0"})
            request(sock, "PUT", "/actions", {"action_type": "InstanceStart"})
            if not read_until(proc, re.escape(MARKER), 120):
                print("the guest did not boot")
                return 1
            time.sleep(1)
            request(sock, "PATCH", "/vm", {"state": "Paused"})
            t0 = time.monotonic()
            request(sock, "PUT", "/snapshot/create", {"snapshot_path": state,
                                                      "mem_file_path": mem})
            create = time.monotonic() - t0
            # A diff after the guest ran on for a second at its shell, and after it wrote
            # 16 MiB to a file in its RAM.
            diffs = []
            for what, cmd in (("idle 1 s", b"sleep 1; echo ok-$((6*7))\n"),
                              ("16 MiB written", b"head -c 16777216 /dev/urandom > /tmp/f; "
                                                 b"echo ok-$((6*7))\n")):
                request(sock, "PATCH", "/vm", {"state": "Resumed"})
                proc.stdin.write(cmd)
                proc.stdin.flush()
                if not read_until(proc, rb"ok-42", 60):
                    print("the guest did not answer")
                    return 1
                request(sock, "PATCH", "/vm", {"state": "Paused"})
                # New names: replacing an older file costs the file system more than writing
                # (ext4 waits on the rename here).
                dstate, dmem = f"{state}.diff{len(diffs)}", f"{mem}.diff{len(diffs)}"
                t0 = time.monotonic()
                request(sock, "PUT", "/snapshot/create", {"snapshot_type": "Diff",
                                                          "snapshot_path": dstate,
                                                          "mem_file_path": dmem})
                diffs.append((what, time.monotonic() - t0,
                              os.stat(dmem).st_blocks * 512 / 2**20))
        finally:
            stop(proc)
        st = os.stat(mem)
        print(f"full snapshot of a {args.mem} MiB guest idle at its shell: {create * 1000:.1f} ms;"
              f" state file {os.stat(state).st_size / 1024:.1f} KiB, memory file "
              f"{st.st_size >> 20} MiB of which {st.st_blocks * 512 / 2**20:.1f} MiB on disk")
        for what, took, size in diffs:
            print(f"diff snapshot after {what}: {took * 1000:.1f} ms, memory file {size:.1f} MiB "
                  f"on disk")

        loads, totals, answers = [], [], []
        for i in range(args.runs):
            rsock = os.path.join(work, f"r{i}.sock")
            start = time.monotonic()
            proc = spawn([args.rvisor, "--api-sock", rsock])
            try:
                if not wait_socket(rsock, proc):
                    print("rvisor did not serve the API")
                    return 1
                t0 = time.monotonic()
                request(rsock, "PUT", "/snapshot/load",
                        {"snapshot_path": state, "resume_vm": True,
                         "mem_backend": {"backend_type": "File", "backend_path": mem}})
                t1 = time.monotonic()
                proc.stdin.write(b"echo restored-$((40+2))\n")
                proc.stdin.flush()
                if not read_until(proc, rb"restored-42", 60):
                    print(f"run {i + 1}: the restored guest did not answer")
                    return 1
                t2 = time.monotonic()
            finally:
                stop(proc)
            loads.append(t1 - t0)
            totals.append(t1 - start)
            answers.append(t2 - t1)
            print(f"run {i + 1}: load {(t1 - t0) * 1000:.2f} ms, process start to running "
                  f"{(t1 - start) * 1000:.2f} ms, then a console command answered in "
                  f"{(t2 - t1) * 1000:.1f} ms", flush=True)
        print(f"restore of a {args.mem} MiB guest, medians of {args.runs}: PUT /snapshot/load "
              f"{statistics.median(loads) * 1000:.2f} ms; process start to the guest running "
              f"{statistics.median(totals) * 1000:.2f} ms; first console answer after "
              f"{statistics.median(answers) * 1000:.1f} ms")
        if args.no_qemu:
            print("qemu: skipped (--no-qemu)")
        else:
            q = qemu_side(args, guest, work)
            if q is None:
                print("qemu: the guest did not boot or restore")
                return 1
            save, size, running, answer = q
            print(f"qemu (migration to a file and back, the same guest): save {save * 1000:.1f} ms"
                  f", file {size / 2**20:.1f} MiB; process start to running {running * 1000:.1f}"
                  f" ms, first console answer after {answer * 1000:.1f} ms")
            print(f"ratios rvisor/qemu: save {create / save:.2f}, process start to running "
                  f"{statistics.median(totals) / running:.3f}")
    print(host_load_line(load_before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
