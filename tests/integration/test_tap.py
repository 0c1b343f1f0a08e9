"""Networking through a TAP device, and a guest's TCP connection across a snapshot.

Each test makes its own network namespace (root only; skipped otherwise) holding a persistent
TAP device at 192.168.100.1/24 and a TCP server on it, and runs rvisor inside that namespace
(`ip netns exec`), so that nothing reaches the host's own network. The Debian guest (the busybox
initramfs) sets 192.168.100.2/24 on its card and opens a connection to the server with `nc`,
fed from a FIFO its shell holds open; the server answers each line with "echo:" and the line.

- The connection carries lines both ways through the card and the TAP.
- With a TAP, the connection's state lives in the guest's kernel and in the host's: rvisor
  only moves frames. So a snapshot taken with the connection open, restored in another
  process attached to the same device, carries on the same connection: a line sent after the
  restore reaches the server on the connection it accepted before the snapshot and is
  answered. (User-mode networking cannot do this: libslirp's state save keeps no socket that
  has a host descriptor, see the README.)
- The same through a live migration to another process in the namespace: the source lets
  the TAP go as the state goes (one process at a time can be attached), the destination
  attaches; and when the destination refuses the VM after that, the source attaches again
  and the connection carries on there.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import HOST_FAULT, MARKER, Console
from test_api import call, wait_socket
from test_migrate import fake_destination
from test_snapshot import BOOT_TIMEOUT, COMMAND_TIMEOUT

HOST_IP = "192.168.100.1"
GUEST_IP = "192.168.100.2"
PORT = 7777
TAP = "rvtap0"

# The server: accepts connections one after another, answers every line with "echo:" and the
# line, and logs "accept N" and "line N TEXT" (N counts connections) to its stdout.
SERVER = textwrap.dedent(f"""
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("{HOST_IP}", {PORT}))
    s.listen(4)
    print("listening", flush=True)
    n = 0
    while True:
        c, _ = s.accept()
        n += 1
        print("accept", n, flush=True)
        f = c.makefile("rwb", buffering=0)
        for line in f:
            print("line", n, line.decode().strip(), flush=True)
            f.write(b"echo:" + line)
""")


@pytest.fixture
def netns(vmm):
    """A network namespace with the TAP device up at HOST_IP and the server listening."""
    if vmm != "rvisor":
        pytest.skip("rvisor's TAP backend")
    if os.geteuid() != 0 or not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
        pytest.skip("needs root, iproute2 and /dev/net/tun to make a namespace with a TAP")
    name = f"rvisor-tap-{os.getpid()}"

    def ip(*argv):
        r = subprocess.run(["ip", *argv], capture_output=True, text=True)
        assert r.returncode == 0, f"ip {' '.join(argv)}: {r.stderr}"

    r = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"this host cannot make a network namespace: {r.stderr.strip()}")
    server = None
    try:
        ip("-n", name, "link", "set", "lo", "up")
        r = subprocess.run(["ip", "-n", name, "tuntap", "add", "dev", TAP, "mode", "tap"],
                           capture_output=True, text=True)
        if r.returncode:
            pytest.skip(f"this host cannot make a TAP interface: {r.stderr.strip()}")
        ip("-n", name, "addr", "add", f"{HOST_IP}/24", "dev", TAP)
        ip("-n", name, "link", "set", TAP, "up")
        server = subprocess.Popen(["ip", "netns", "exec", name, sys.executable, "-c", SERVER],
                                  stdout=subprocess.PIPE, text=True)
        assert server.stdout.readline().strip() == "listening"
        yield name, server
    finally:
        if server:
            server.kill()
            server.wait()
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def server_log(server, until, timeout=COMMAND_TIMEOUT):
    """The server's log lines up to and including the line `until`."""
    lines = []
    deadline = time.monotonic() + timeout
    os.set_blocking(server.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            time.sleep(0.05)
            continue
        lines.append(line.strip())
        if line.strip() == until:
            return lines
    raise AssertionError(f"the server did not log {until!r}; it logged {lines}")


def start_in(ns, rv, sock):
    """rvisor in API mode inside namespace ns."""
    console = Console(["ip", "netns", "exec", ns, rv, "--api-sock", sock])
    wait_socket(sock, console.proc)
    return console


def boot_with_tap(rv, guest, tmp_path, ns):
    sock = str(tmp_path / "a.sock")
    a = start_in(ns, rv, sock)
    assert call(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 256})[0] == 204
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    assert call(sock, "PUT", "/network-interfaces/eth0",
                {"iface_id": "eth0", "host_dev_name": TAP})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    a.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    a.run(f"ip addr add {GUEST_IP}/24 dev eth0 && ip link set eth0 up", COMMAND_TIMEOUT)
    return sock, a


def connect(console):
    """In the guest: nc to the server, its input a FIFO that fd 3 of the shell keeps open,
    its output in /tmp/out."""
    console.run(f"mkfifo /tmp/in; (nc {HOST_IP} {PORT} < /tmp/in > /tmp/out &); exec 3>/tmp/in",
                COMMAND_TIMEOUT)


def say(console, text):
    """Send a line on the connection; wait for its echo in /tmp/out."""
    out = console.run(f"echo {text} >&3; for i in $(seq 50); do grep -q 'echo:{text}' /tmp/out "
                      f"&& break; sleep 0.1; done; cat /tmp/out", COMMAND_TIMEOUT)
    assert f"echo:{text}".encode() in out, out


def test_tcp_through_the_tap(rvisor, guest, tmp_path, netns):
    ns, server = netns
    sock, a = boot_with_tap(rvisor, guest, tmp_path, ns)
    try:
        connect(a)
        say(a, "hello")
        say(a, "again")
        assert server_log(server, "line 1 again") == ["accept 1", "line 1 hello",
                                                       "line 1 again"]
    finally:
        a.close()
    assert not HOST_FAULT.search(a.err), a.tail()


def test_tcp_connection_survives_a_snapshot(rvisor, guest, tmp_path, netns):
    ns, server = netns
    sock, a = boot_with_tap(rvisor, guest, tmp_path, ns)
    try:
        connect(a)
        say(a, "before")
        assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_type": "Full", "snapshot_path": str(tmp_path / "s.state"),
                            "mem_file_path": str(tmp_path / "s.mem")})
        assert status == 204, err
    finally:
        a.close()  # the source ends: the TAP (persistent) stays, unattached
    assert not HOST_FAULT.search(a.err), a.tail()

    sock_b = str(tmp_path / "b.sock")
    b = start_in(ns, rvisor, sock_b)
    try:
        status, err = call(sock_b, "PUT", "/snapshot/load",
                           {"snapshot_path": str(tmp_path / "s.state"),
                            "mem_backend": {"backend_type": "File",
                                            "backend_path": str(tmp_path / "s.mem")},
                            "resume_vm": True})
        assert status == 204, (err, b.tail())
        say(b, "after")
        # One connection, accepted before the snapshot, carried both lines.
        assert server_log(server, "line 1 after") == ["accept 1", "line 1 before",
                                                       "line 1 after"]
    finally:
        b.close()
    assert not HOST_FAULT.search(b.err), b.tail()


def test_tcp_connection_survives_a_live_migration(rvisor, guest, tmp_path, netns):
    """The same through a live migration to another process on this host, in the same
    namespace: the source lets the TAP go as the state goes, and the destination attaches."""
    ns, server = netns
    sock, a = boot_with_tap(rvisor, guest, tmp_path, ns)
    dst = tmp_path / "dst.mig"
    b = None
    try:
        connect(a)
        say(a, "before")
        b = Console(["ip", "netns", "exec", ns, rvisor, "receive", "--listen", f"unix:{dst}"])
        deadline = time.monotonic() + 30
        while not dst.exists():
            assert b.proc.poll() is None and time.monotonic() < deadline, b.tail()
            time.sleep(0.02)
        status, err = call(sock, "PUT", "/migration/send", {"destination_url": f"unix:{dst}"},
                           timeout=300)
        assert status == 204, (err, a.tail(), b.tail())
        assert a.proc.wait(30) == 0, a.tail()
        say(b, "moved")
        assert server_log(server, "line 1 moved") == ["accept 1", "line 1 before",
                                                       "line 1 moved"]
    finally:
        a.close()
        if b:
            b.close()
    assert not HOST_FAULT.search(a.err), a.tail()
    assert b and not HOST_FAULT.search(b.err), b.tail()


def test_failed_migration_keeps_the_tap(rvisor, guest, tmp_path, netns):
    """A destination that refuses the VM once its state came (after the source let the TAP
    go): the source attaches again and its guest's connection carries on."""
    ns, server = netns
    sock, a = boot_with_tap(rvisor, guest, tmp_path, ns)
    dst = str(tmp_path / "fake.mig")
    try:
        connect(a)
        say(a, "before")
        result = {}
        t = fake_destination(dst, "refuse", result)
        status, err = call(sock, "PUT", "/migration/send", {"destination_url": f"unix:{dst}"},
                           timeout=300)
        assert status == 400 and "no room for it" in err["fault_message"], err
        t.join(30)
        assert result.get("state", 0) > 0, result
        say(a, "still")
        assert server_log(server, "line 1 still") == ["accept 1", "line 1 before",
                                                       "line 1 still"]
    finally:
        a.close()
    assert not HOST_FAULT.search(a.err), a.tail()
