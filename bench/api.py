#!/usr/bin/python3
"""Control-plane start-up benchmark: what starting a guest through the API costs beside the
command line. For the same guest (Debian's kernel, the busybox initramfs, 512 MiB):

- command line: seconds from `rvisor run` starting to the guest's first userspace line;
- API: seconds from `rvisor --api-sock` starting to the socket accepting a connection, the
  configuration requests (machine-config, boot-source) and InstanceStart (each a full HTTP
  round trip), and from sending InstanceStart to the first userspace line;
- the API's overhead: the API path's total (process start to first line) minus the command
  line's, medians of several runs each, interleaved.

It prints figures and never fails on slowness; it exits 1 only when a guest does not boot.
Usage: bench/api.py [--runs N] [--rvisor PATH] [--timeout S]
"""

import argparse
import http.client
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from common import REPO, host_load_line, load_guest_env, stop

FIRST_LINE = b"rvisor-guest: userspace started"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def put(sock, path, body):
    c = UnixHTTPConnection(sock)
    c.request("PUT", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 204:
        raise RuntimeError(f"PUT {path}: {r.status} {data!r}")


def wait_first_line(proc, start, timeout):
    """Seconds from start to the first userspace line on proc's stdout, or None."""
    out = bytearray()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if not select.select([proc.stdout], [], [], 0.5)[0]:
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            return None
        out.extend(chunk)
        if FIRST_LINE in out:
            return time.monotonic() - start
    return None


def spawn(argv):
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)


def cli_once(rvisor, guest, timeout):
    argv = [rvisor, "run", "--kernel", guest["RVISOR_KERNEL"], "--initrd", guest["RVISOR_INITRD"],
            "--mem", "512M", "--cmdline", "console=ttyS0"]
    start = time.monotonic()
    proc = spawn(argv)
    try:
        return wait_first_line(proc, start, timeout)
    finally:
        stop(proc)


def api_once(rvisor, guest, timeout, work):
    """(socket ready, configuration requests, InstanceStart request, InstanceStart to the
    first line, total) in seconds, or None."""
    sock = os.path.join(work, "api.sock")
    start = time.monotonic()
    proc = spawn([rvisor, "--api-sock", sock])
    try:
        while True:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sock)
                s.close()
                break
            except OSError:
                s.close()
                if proc.poll() is not None or time.monotonic() > start + timeout:
                    return None
                time.sleep(0.0002)
        ready = time.monotonic()
        put(sock, "/machine-config", {"vcpu_count": 1, "mem_size_mib": 512})
        put(sock, "/boot-source", {"kernel_image_path": guest["RVISOR_KERNEL"],
                                   "initrd_path": guest["RVISOR_INITRD"],
                                   "boot_args": "console=ttyS0"})
        configured = time.monotonic()
        put(sock, "/actions", {"action_type": "InstanceStart"})
        started = time.monotonic()
        first = wait_first_line(proc, configured, timeout)
        if first is None:
            return None
        return (ready - start, configured - ready, started - configured, first,
                configured + first - start)
    finally:
        stop(proc)
        try:
            os.unlink(sock)
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="runs of each path (default 7)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per boot (default 120)")
    args = ap.parse_args()
    guest = load_guest_env()
    load_before = os.getloadavg()[0]
    cli, api = [], []
    with tempfile.TemporaryDirectory() as work:
        for i in range(args.runs):
            c = cli_once(args.rvisor, guest, args.timeout)
            a = api_once(args.rvisor, guest, args.timeout, work)
            if c is None or a is None:
                print(f"run {i + 1}: the guest did not boot "
                      f"({'command line' if c is None else 'API'})")
                return 1
            print(f"run {i + 1}: command line {c * 1000:.1f} ms to the first line; API: socket "
                  f"{a[0] * 1000:.2f} ms, configuration {a[1] * 1000:.2f} ms, InstanceStart "
                  f"{a[2] * 1000:.2f} ms, to the first line {a[3] * 1000:.1f} ms, total "
                  f"{a[4] * 1000:.1f} ms", flush=True)
            cli.append(c)
            api.append(a)
    med = [statistics.median(x[k] for x in api) for k in range(5)]
    c = statistics.median(cli)
    print(f"medians of {args.runs} runs, 512 MiB guest, kernel "
          f"{guest.get('RVISOR_KERNEL_VERSION', '?')}:")
    print(f"  process start to the API socket accepting: {med[0] * 1000:.2f} ms")
    print(f"  machine-config + boot-source requests: {med[1] * 1000:.2f} ms; InstanceStart "
          f"request: {med[2] * 1000:.2f} ms")
    print(f"  to the first userspace line: command line {c * 1000:.1f} ms, API {med[4] * 1000:.1f}"
          f" ms (InstanceStart to the line {med[3] * 1000:.1f} ms)")
    print(f"  the API's overhead (API total - command line): {(med[4] - c) * 1000:+.1f} ms")
    print(host_load_line(load_before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
