#!/usr/bin/python3
"""Network benchmark: TCP throughput between a guest's virtio-net card and the host
(Debian's riscv64 kernel with the initramfs of scripts/get-guest.sh), on rvisor and, side by
side, on QEMU (`qemu-system-riscv64 -M virt` with the same kernel and initramfs behind
`-device virtio-net-device`), with the ratios.

Two backends, each in both directions:
- user-mode networking (libslirp): the guest sends to a sink on the host's 127.0.0.1
  through slirp's gateway 10.0.2.2, and receives from a host client that connects to a
  forwarded port (hostfwd=tcp:127.0.0.1:PORT-:5001);
- TAP: the VMM runs inside a network namespace made for the run (`ip netns add`) holding a
  TAP interface with 192.168.77.1/24; the guest is given 192.168.77.2/24 from its console,
  and the host peer runs inside the namespace too. The namespace is removed at the end, also
  on failure or Ctrl-C. Nothing leaves the machine. Without root or /dev/net/tun those rows
  are skipped, with the reason.

In the guest, one small static C program (added to the initramfs) sends or receives --mib
MiB over one TCP connection in 64 KiB writes and reads, timed with CLOCK_MONOTONIC from the
connection's start to the peer's close. The host peer, a Python socket program, times the
same span on the host's clock; the table shows the host's figures (MB/s, 10^6 bytes a
second), medians of --repeat transfers per VM boot. It prints figures and never fails on
slowness; it exits 1 only when a VM does not boot or a transfer fails.
Usage: bench/net.py [--mib N] [--repeat N] [--rvisor PATH] [--no-qemu] [--no-tap]
"""

import argparse
import os
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (MARKER, REPO, Guest, compile_c, host_load_line, initrd_with,
                    load_guest_env)

GUEST_PROGRAM = "/bench/netio"
GUEST_PORT = 5001  # the guest's listening port (hostfwd's target)
TAP_NAME = "rvtap0"  # inside the namespace, so it cannot clash with the host's interfaces
TAP_HOST = "192.168.77.1"
TAP_GUEST = "192.168.77.2"
SLIRP_GATEWAY = "10.0.2.2"
SLIRP_GUEST = "10.0.2.15"
WORKLOADS = [  # (backend, guest's role, label)
    ("user", "send", "guest to host, slirp"),
    ("user", "recv", "host to guest, slirp hostfwd"),
    ("tap", "send", "guest to host, TAP"),
    ("tap", "recv", "host to guest, TAP"),
]
RESULT = re.compile(rb"^netio (send|recv) bytes=(\d+) seconds=([0-9.]+)\r?$", re.M)
FAILURE = re.compile(rb"^netio: .*$", re.M)
LISTENING = rb"^netio listening\r?$"

NETIO_C = r"""
/* netio: one TCP transfer, timed with CLOCK_MONOTONIC.
 *   netio send ADDR PORT BYTES TIMEOUT   connect, write BYTES in 64 KiB writes, shut down
 *                                        the sending side, read until the peer closes
 *   netio recv PORT BYTES TIMEOUT        listen (prints "netio listening"), accept one
 *                                        connection, read until the peer closes, close
 * The time runs from the connection's start to the peer's close. Prints
 *   netio MODE bytes=N seconds=S
 * or "netio: ..." and exit status 1 on an error, a short transfer or after TIMEOUT s. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static unsigned char buf[CHUNK];

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	printf("netio: %s: %s\n", what, strerror(errno));
	return 1;
}

/* Read until end of file; the byte count, or -1. */
static long long drain(int fd)
{
	long long total = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return total;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		total += n;
	}
}

static int do_send(const char *addr, const char *port, unsigned long long bytes)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		errno = EINVAL;
		return fail(addr);
	}
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return fail("socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return fail("connect");
	double start = now();
	unsigned long long sent = 0;
	while (sent < bytes) {
		size_t len = bytes - sent < CHUNK ? (size_t)(bytes - sent) : CHUNK;
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return fail("write");
		sent += (unsigned long long)n;
	}
	if (shutdown(fd, SHUT_WR))
		return fail("shutdown");
	if (drain(fd) < 0)
		return fail("read");
	double end = now();
	close(fd);
	printf("netio send bytes=%llu seconds=%.6f\n", sent, end - start);
	return 0;
}

static int do_recv(const char *port, unsigned long long bytes)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(port)),
				 .sin_addr.s_addr = htonl(INADDR_ANY)};
	int one = 1;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0)
		return fail("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1))
		return fail("bind/listen");
	printf("netio listening\n");
	fflush(stdout);
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		return fail("accept");
	double start = now();
	long long got = drain(fd);
	if (got < 0)
		return fail("read");
	double end = now();
	close(fd);
	close(lfd);
	if ((unsigned long long)got != bytes) {
		printf("netio: received %lld bytes, expected %llu\n", got, bytes);
		return 1;
	}
	printf("netio recv bytes=%lld seconds=%.6f\n", got, end - start);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	if (argc == 6 && strcmp(argv[1], "send") == 0) {
		alarm((unsigned)atoi(argv[5]));
		return do_send(argv[2], argv[3], strtoull(argv[4], NULL, 0));
	}
	if (argc == 5 && strcmp(argv[1], "recv") == 0) {
		alarm((unsigned)atoi(argv[4]));
		return do_recv(argv[2], strtoull(argv[3], NULL, 0));
	}
	printf("netio: usage: netio send ADDR PORT BYTES TIMEOUT | netio recv PORT BYTES TIMEOUT\n");
	return 1;
}
"""

# The host's end of a transfer, run as its own process so that it can run inside the
# namespace (`ip netns exec`). Times the same span as netio, on the host's clock.
#   sink ADDR TIMEOUT            listen on ADDR, print "port N", count one connection's bytes
#   send ADDR PORT BYTES TIMEOUT connect, send BYTES, shut down writing, wait for the close
# Prints "peer MODE bytes=N seconds=S", or "peer: ..." and exit status 1.
PEER_PY = r"""
import socket, sys, time

def drain(c):
    n, buf = 0, bytearray(1 << 20)
    while True:
        k = c.recv_into(buf)
        if not k:
            return n
        n += k

mode = sys.argv[1]
try:
    if mode == "sink":
        addr, timeout = sys.argv[2], float(sys.argv[3])
        s = socket.socket()
        s.bind((addr, 0))
        s.listen(1)
        s.settimeout(timeout)
        print("port", s.getsockname()[1], flush=True)
        c, _ = s.accept()
        start = time.monotonic()
        c.settimeout(timeout)
        n = drain(c)
        end = time.monotonic()
        c.close()
    else:
        addr, port, nbytes, timeout = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
            float(sys.argv[5])
        c = socket.create_connection((addr, port), timeout=timeout)
        start = time.monotonic()
        chunk = memoryview(bytes(range(256)) * 256)
        n = 0
        while n < nbytes:
            part = chunk[:min(len(chunk), nbytes - n)]
            c.sendall(part)
            n += len(part)
        c.shutdown(socket.SHUT_WR)
        drain(c)
        end = time.monotonic()
        c.close()
    print(f"peer {mode} bytes={n} seconds={end - start:.6f}", flush=True)
except OSError as e:
    print(f"peer: {mode}: {e}", flush=True)
    sys.exit(1)
"""
PEER_RESULT = re.compile(r"^peer (sink|send) bytes=(\d+) seconds=([0-9.]+)$", re.M)


class Interrupted(Exception):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, so the namespace is removed."""


def on_signal(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


class Namespace:
    """A network namespace holding a TAP interface with TAP_HOST, for one run. prefix() is
    what runs a command inside it."""

    def __init__(self):
        self.name = f"rvisor-netbench-{os.getpid()}"
        self.created = False

    def unavailable(self):
        """Why TAP cannot be used here, or None."""
        if os.geteuid() != 0:
            return "not root (a network namespace and a TAP interface need CAP_NET_ADMIN)"
        if not os.path.exists("/dev/net/tun"):
            return "no /dev/net/tun (modprobe tun)"
        if not shutil.which("ip"):
            return "no `ip` command (iproute2)"
        return None

    def _ip(self, *words, inside=True):
        argv = ["ip", "netns", "exec", self.name, "ip", *words] if inside else ["ip", *words]
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode:
            raise OSError(f"`{shlex.join(argv)}` failed: {r.stderr.strip()}")

    def setup(self):
        """Create it; returns None, or why it could not be (having cleaned up)."""
        why = self.unavailable()
        if why:
            return why
        try:
            self._ip("netns", "add", self.name, inside=False)
            self.created = True
            self._ip("link", "set", "lo", "up")
            self._ip("tuntap", "add", "dev", TAP_NAME, "mode", "tap")
            self._ip("addr", "add", f"{TAP_HOST}/24", "dev", TAP_NAME)
            self._ip("link", "set", TAP_NAME, "up")
        except OSError as e:
            self.cleanup()
            return str(e)
        return None

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def cleanup(self):
        """Remove it (and so its TAP interface); safe to call twice."""
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
            self.created = False


def free_port():
    """A TCP port free on the host's loopback now, for hostfwd."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """The host's end of one transfer (PEER_PY in a process of its own)."""

    def __init__(self, prefix, words, timeout):
        self.proc = subprocess.Popen([*prefix, sys.executable, "-c", PEER_PY, *words],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        self.timeout = timeout

    def port(self):
        """The sink's listening port, or None."""
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        line = self.proc.stdout.readline() if ready else ""
        m = re.match(r"port (\d+)$", line.strip())
        return int(m.group(1)) if m else None

    def result(self):
        """(bytes, seconds), or the peer's output as a str when it failed."""
        try:
            out, _ = self.proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return f"no result within {self.timeout} s"
        m = PEER_RESULT.search(out)
        if self.proc.returncode or not m:
            return out.strip() or f"exit status {self.proc.returncode}"
        return int(m.group(2)), float(m.group(3))

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def transfer(guest, backend, role, nbytes, timeout, ns, fwd_port):
    """One transfer; returns {"host": (bytes, s), "guest": (bytes, s)} or an error str."""
    prefix = ns.prefix() if backend == "tap" else []
    secs = str(int(timeout))
    peer = None
    try:
        if role == "send":
            peer = Peer(prefix, ["sink", TAP_HOST if backend == "tap" else "127.0.0.1", secs],
                        timeout)
            port = peer.port()
            if port is None:
                return f"the host sink did not start: {peer.result()}"
            to = TAP_HOST if backend == "tap" else SLIRP_GATEWAY
            out = guest.run(shlex.join([GUEST_PROGRAM, "send", to, str(port), str(nbytes),
                                        secs]), timeout)
        else:
            done = guest.send(shlex.join([GUEST_PROGRAM, "recv", str(GUEST_PORT), str(nbytes),
                                          secs]))
            if guest.expect(LISTENING, timeout) is None:
                return "the guest's receiver did not start"
            to, port = (TAP_GUEST, GUEST_PORT) if backend == "tap" else ("127.0.0.1", fwd_port)
            peer = Peer(prefix, ["send", to, str(port), str(nbytes), secs], timeout)
            out = guest.expect(done, timeout)
        host = peer.result()
        if out is None:
            return f"the guest's transfer did not finish within {timeout} s"
        failure = FAILURE.search(out)
        if failure:
            return f"guest: {failure.group().decode(errors='replace').strip()}"
        m = RESULT.search(out)
        if not m:
            return "the guest printed no result"
        if isinstance(host, str):
            return f"host peer: {host}"
        got = (int(m.group(2)), float(m.group(3)))
        for side, (n, _) in (("host", host), ("guest", got)):
            if n != nbytes:
                return f"the {side} counted {n} bytes, not {nbytes}"
        return {"host": host, "guest": got}
    finally:
        if peer:
            peer.kill()


def mbps(sample):
    nbytes, seconds = sample
    return nbytes / max(seconds, 1e-9) / 1e6


def vm_argv(vmm, args, kernel, initrd, backend, fwd_port, ns):
    if vmm == "rvisor":
        net = (f"user,hostfwd=tcp:127.0.0.1:{fwd_port}-:{GUEST_PORT}" if backend == "user"
               else f"tap={TAP_NAME}")
        argv = [args.rvisor, "run", "--kernel", kernel, "--initrd", str(initrd), "--mem",
                args.mem, "--cmdline", "console=ttyS0", "--net", net]
    else:
        netdev = (f"user,id=n0,hostfwd=tcp:127.0.0.1:{fwd_port}-:{GUEST_PORT}"
                  if backend == "user"
                  else f"tap,id=n0,ifname={TAP_NAME},script=no,downscript=no")
        argv = ["qemu-system-riscv64", "-M", "virt", "-m", args.mem, "-nographic", "-bios",
                "default", "-kernel", kernel, "-initrd", str(initrd), "-append",
                "console=ttyS0", "-netdev", netdev, "-device", "virtio-net-device,netdev=n0"]
    return (ns.prefix() if backend == "tap" else []) + argv


def guest_net_setup(backend):
    """Shell commands giving the guest's eth0 its static address; they end by printing the
    link's state, "up" when it works."""
    if backend == "user":
        cmds = [f"ip addr add {SLIRP_GUEST}/24 dev eth0", "ip link set eth0 up",
                f"ip route add default via {SLIRP_GATEWAY}"]
    else:
        cmds = [f"ip addr add {TAP_GUEST}/24 dev eth0", "ip link set eth0 up"]
    return " && ".join(cmds) + " && sleep 1 && echo eth0-state-$(cat /sys/class/net/eth0/operstate)"


def bench_vm(vmm, backend, args, kernel, initrd, ns, stderr_path):
    """Boot one VM on one backend and run its two workloads --repeat times. Returns
    {role: [samples]}, or None when the VM or a transfer fails."""
    fwd_port = free_port()
    argv = vm_argv(vmm, args, kernel, initrd, backend, fwd_port, ns)
    name = f"{vmm} ({backend})"
    print(f"{name}: {shlex.join(argv)}", flush=True)
    nbytes = args.mib << 20
    start = time.monotonic()
    with open(stderr_path, "w+b") as err:
        guest = Guest(argv, tag="net-bench", stderr=err)

        def why(msg):
            err.seek(0)
            stderr = err.read()[-2000:].decode(errors="replace")
            try:  # the console may close just before the process ends
                msg += f" (the VMM exited with status {guest.proc.wait(1)})"
            except subprocess.TimeoutExpired:
                pass
            print(f"  {msg}\n--- console ---\n{guest.tail()}\n--- stderr ---\n{stderr}")

        try:
            if guest.expect(re.escape(MARKER), args.timeout) is None:
                why(f"no marker within {args.timeout} s")
                return None
            print(f"  booted in {time.monotonic() - start:.1f} s", flush=True)
            guest.run("true", args.timeout)  # the shell settles (one terminal query)
            out = guest.run(guest_net_setup(backend), args.timeout)
            if out is None or not re.search(rb"^eth0-state-up\r?$", out, re.M):
                why("eth0 did not come up")
                return None
            runs = {role: [] for b, role, _ in WORKLOADS if b == backend}
            for i in range(args.repeat):
                line = []
                for role in runs:
                    r = transfer(guest, backend, role, nbytes, args.timeout, ns, fwd_port)
                    if isinstance(r, str):
                        why(f"{role}: {r}")
                        return None
                    runs[role].append(r)
                    line.append(f"{role} {mbps(r['host']):.1f} MB/s "
                                f"(guest clock {mbps(r['guest']):.1f})")
                print(f"  run {i + 1}: {', '.join(line)}", flush=True)
            return runs
        finally:
            guest.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=64, help="MiB per transfer (default 64)")
    ap.add_argument("--repeat", type=int, default=5, help="transfers per VM boot (default 5)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--mem", default="512M", help="guest RAM for both VMMs (default 512M)")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU side")
    ap.add_argument("--no-tap", action="store_true", help="skip the TAP rows")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot or transfer")
    args = ap.parse_args()
    if args.mib < 1 or args.repeat < 1 or args.timeout < 1:
        sys.exit("bench: --mib, --repeat and --timeout must be positive")
    if not os.access(args.rvisor, os.X_OK):
        sys.exit(f"bench: {args.rvisor} is missing or not executable: run `make` first")

    guest = load_guest_env()
    kernel = guest["RVISOR_KERNEL"]
    vmms = ["rvisor"]
    if args.no_qemu:
        print("qemu: skipped (--no-qemu)")
    elif not shutil.which("qemu-system-riscv64"):
        print("qemu: skipped (qemu-system-riscv64 not found; scripts/deps.sh installs it)")
    else:
        vmms.append("qemu")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    failed = False
    load_before = os.getloadavg()[0]
    ns = Namespace()
    results = {}  # (vmm, backend, role) -> median MB/s
    tap_note = None
    try:
        with tempfile.TemporaryDirectory(prefix="rvisor-net-bench-",
                                         dir=os.environ.get("TMPDIR")) as tmp:
            work = Path(tmp)
            src = work / "netio.c"
            src.write_text(NETIO_C)
            compile_c(src, work / "netio", guest=True)
            initrd = initrd_with(work, guest["RVISOR_INITRD"], {GUEST_PROGRAM: work / "netio"})

            backends = ["user"]
            if args.no_tap:
                tap_note = "skipped (--no-tap)"
            else:
                tap_note = ns.setup()
                if tap_note:
                    tap_note = f"skipped: {tap_note}"
                else:
                    backends.append("tap")
            if tap_note:
                print(f"TAP: {tap_note}")
            for backend in backends:
                for vmm in vmms:
                    runs = bench_vm(vmm, backend, args, kernel, initrd, ns, work / "stderr")
                    if runs is None:
                        failed = True
                        continue
                    for role, samples in runs.items():
                        results[(vmm, backend, role)] = statistics.median(
                            mbps(s["host"]) for s in samples)
    except (KeyboardInterrupt, Interrupted) as e:
        print(f"\nbench: interrupted ({str(e) or 'SIGINT'}); cleaning up")
        return 130
    finally:
        ns.cleanup()

    print()
    print(f"virtio-net TCP throughput, {args.mib} MiB a transfer, 1 vCPU, {args.mem} guest RAM; "
          f"medians of {args.repeat} transfers, timed by the host peer")
    print(host_load_line(load_before))
    print(f"{'workload':<32}{'rvisor MB/s':>13}{'QEMU MB/s':>13}{'rvisor/QEMU':>13}")
    for backend, role, label in WORKLOADS:
        rv = results.get(("rvisor", backend, role))
        qe = results.get(("qemu", backend, role))
        row = f"{label:<32}"
        row += "".join(f"{v:>13.1f}" if v is not None else f"{'-':>13}" for v in (rv, qe))
        row += f"{rv / qe:>13.2f}" if rv is not None and qe else f"{'-':>13}"
        print(row)
    if tap_note:
        print(f"TAP rows: {tap_note}")
    print("MB/s is 10^6 bytes a second; above 1, rvisor is faster")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
