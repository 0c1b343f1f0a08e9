"""virtio-vsock with Firecracker's hybrid host side, both ways, with Debian's kernel and its
vmw_vsock_virtio_transport, and a small static AF_VSOCK program in the guest (smp/vsock.c).

- The guest connects to the host's port 5000: rvisor connects to the Unix socket
  UDS_PATH_5000, where a host server answers; the guest prints the answer.
- A host program connects to UDS_PATH, writes "CONNECT 6000\\n", reads "OK PORT\\n", sends
  512 KiB to the guest's listener and reads back the guest's echo of all of it (far beyond
  the 64 KiB of credit either side gives, so the credit updates have to flow).
- Refusals: the guest connecting to a port no host program listens on gets an error; a host
  CONNECT to a port the guest does not listen on ends without "OK"; a malformed line is
  closed at once. The VM keeps running through all of them.
- Snapshots: a VM with a vsock and a connection open (the guest's, to a host program that
  holds it without answering) is snapshotted and restored in another process; the guest's
  end of the old connection is reset (the device tells the driver: its read fails), and new
  connections both ways work at the same socket path.
- Live migration to another process on this host: the same, the socket path handed over;
  after a destination that refused the VM, the source listens at its path again.
"""

import os
import re
import socket
import subprocess
import threading

import pytest

from conftest import HOST_FAULT, MARKER, REPO, Console, boot_argv

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60


class Shared:
    pass


@pytest.fixture(scope="module")
def vsock_vm(request, vmm, guest, tmp_path_factory):
    if vmm != "rvisor":
        pytest.skip("--vsock is rvisor's")
    out = tmp_path_factory.mktemp("vsock")
    build = subprocess.run(["bash", str(REPO / "tests" / "integration" / "smp" / "build.sh"),
                            str(out), guest["RVISOR_INITRD"]], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, f"smp/build.sh failed:\n{build.stdout}{build.stderr}"
    shared = Shared()
    shared.uds = str(out / "v.sock")
    shared.initrd = str(out / "initramfs.gz")
    argv = boot_argv(vmm, request.getfixturevalue("rvisor"), guest, firmware=False,
                     accel=request.getfixturevalue("accel"))
    argv[argv.index("--initrd") + 1] = str(out / "initramfs.gz")
    argv += ["--vsock", f"cid=3,uds={shared.uds}"]
    shared.console = Console(argv)
    shared.error = None
    try:
        shared.console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        shared.console.run("true", COMMAND_TIMEOUT)
    except AssertionError as e:
        shared.error = str(e)
    yield shared
    shared.console.close()


def vm(shared):
    if shared.error:
        pytest.fail(shared.error, pytrace=False)
    return shared.console


def recv_all(s):
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def test_guest_connects_to_host(vsock_vm, tmp_path):
    console = vm(vsock_vm)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(f"{vsock_vm.uds}_5000")
    server.listen(1)
    got = {}

    def serve():
        c, _ = server.accept()
        with c:
            got["data"] = recv_all(c)
            c.sendall(b"host-echo:" + got["data"])

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    out = console.run("/smp/vsock connect 5000 hello-from-the-guest", COMMAND_TIMEOUT)
    t.join(10)
    server.close()
    os.unlink(f"{vsock_vm.uds}_5000")
    assert got.get("data") == b"hello-from-the-guest", (got, console.tail())
    assert b"host-echo:hello-from-the-guest" in out and b"vsock: done" in out, console.tail()


def test_host_connects_to_guest(vsock_vm):
    console = vm(vsock_vm)
    out = console.run("/smp/vsock listen 6000 1 & sleep 0", COMMAND_TIMEOUT)
    if b"vsock: listening on 6000" not in out:
        console.expect(rb"vsock: listening on 6000", COMMAND_TIMEOUT, "the guest's listener")
    data = os.urandom(512 << 10)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(COMMAND_TIMEOUT)
        s.connect(vsock_vm.uds)
        s.sendall(b"CONNECT 6000\n")
        line = b""
        while not line.endswith(b"\n"):
            b = s.recv(1)
            assert b, f"closed before OK: {line}\n{console.tail()}"
            line += b
        assert re.fullmatch(rb"OK \d+\n", line), line
        sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)),
                                  daemon=True)
        sender.start()
        back = recv_all(s)
        sender.join(10)
    assert back == b"echo:" + data, (len(back), console.tail())
    console.expect(rb"vsock: served %d" % len(data), COMMAND_TIMEOUT, "the guest's report")


def test_refusals(vsock_vm):
    console = vm(vsock_vm)
    out = console.run("/smp/vsock connect 7000 nobody-listens", COMMAND_TIMEOUT)
    assert b"vsock: connect failed" in out, console.tail()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(COMMAND_TIMEOUT)
        s.connect(vsock_vm.uds)
        s.sendall(b"CONNECT 7001\n")
        assert recv_all(s) == b"", "a CONNECT to a closed guest port was answered"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(COMMAND_TIMEOUT)
        s.connect(vsock_vm.uds)
        s.sendall(b"HELLO THERE\n")
        assert recv_all(s) == b""
    out = console.run("echo still-running", COMMAND_TIMEOUT)
    assert b"still-running" in out
    assert not HOST_FAULT.search(console.err), console.tail()


@pytest.mark.parametrize("spec", ["cid=2,uds=/tmp/x", "cid=3", "uds=/tmp/x", "cid=3,uds="])
def test_bad_vsock_option(request, vmm, tmp_path, spec):
    if vmm != "rvisor":
        pytest.skip("--vsock is rvisor's")
    kernel = tmp_path / "k.bin"
    kernel.write_bytes(bytes.fromhex("6f000000"))
    r = subprocess.run([request.getfixturevalue("rvisor"), "run", "--kernel", str(kernel),
                        "--vsock", spec], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and "vsock" in lines[0], r.stderr


def host_connect(uds, port, timeout=COMMAND_TIMEOUT):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        assert b, f"closed before OK: {line}"
        line += b
    assert re.fullmatch(rb"OK \d+\n", line), line
    return s


def boot_with_vsock(console, sock, kernel, initrd, uds):
    """Configure and start the VM behind the API socket sock with a vsock at uds, and wait
    for init's marker on its console."""
    from test_api import call
    assert call(sock, "PUT", "/boot-source", {"kernel_image_path": kernel, "initrd_path": initrd,
                                              "boot_args": "console=ttyS0"})[0] == 204
    assert call(sock, "PUT", "/vsock", {"guest_cid": 3, "uds_path": uds})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")


def held_guest_connection(console, uds, before):
    """The guest connects to a host program at uds_5000 that reads what it sends and then
    holds the connection open without answering: once the host has seen the guest's end of
    sending, the guest program is past its connect and waits in (or is about to call) read.
    Returns the host's end."""
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    held.bind(f"{uds}_5000")
    held.listen(1)
    console.send(f"/smp/vsock connect 5000 sent-before-the-{before} &\n")
    held.settimeout(COMMAND_TIMEOUT)
    old, _ = held.accept()
    old.settimeout(COMMAND_TIMEOUT)
    assert recv_all(old) == f"sent-before-the-{before}".encode()
    held.close()
    os.unlink(f"{uds}_5000")
    return old


def new_connections_both_ways(console, uds, when):
    """A host program reaches a new guest listener through uds, and the guest reaches a new
    host listener at uds_5000 (after a restore or a migration: when names it)."""
    if b"listening on 6001" not in console.run("/smp/vsock listen 6001 1 & sleep 0",
                                               COMMAND_TIMEOUT):
        console.expect(rb"vsock: listening on 6001", COMMAND_TIMEOUT, "the guest's new listener")
    with host_connect(uds, 6001) as s:
        s.sendall(b"after-the-" + when.encode())
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b"echo:after-the-" + when.encode(), console.tail()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(f"{uds}_5000")
    server.listen(1)

    def answer():
        c, _ = server.accept()
        c.sendall(b"host-echo:" + recv_all(c))
        c.close()

    t = threading.Thread(target=answer, daemon=True)
    t.start()
    out = console.run(f"/smp/vsock connect 5000 from-the-guest-after-the-{when}", COMMAND_TIMEOUT)
    t.join(10)
    server.close()
    assert f"host-echo:from-the-guest-after-the-{when}".encode() in out, console.tail()


def test_snapshot_with_a_vsock(vsock_vm, request, guest, tmp_path):
    vm(vsock_vm)  # the initramfs with /smp/vsock is built
    from test_api import call
    from test_snapshot import restore, start_api
    rv = request.getfixturevalue("rvisor")
    uds = str(tmp_path / "s.vsock")
    sock = str(tmp_path / "a.sock")
    a = start_api(rv, sock)
    try:
        boot_with_vsock(a, sock, guest["RVISOR_KERNEL"], vsock_vm.initrd, uds)
        old = held_guest_connection(a, uds, "snapshot")
        assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_path": str(tmp_path / "s.state"),
                            "mem_file_path": str(tmp_path / "s.mem")})
        assert status == 204, err
    finally:
        a.close()
    # The saved VM was killed, so its socket stayed: a restore says so, and works once the
    # stale socket is removed.
    assert os.path.exists(uds)
    c = start_api(rv, str(tmp_path / "c.sock"))
    try:
        status, err = call(str(tmp_path / "c.sock"), "PUT", "/snapshot/load",
                           {"snapshot_path": str(tmp_path / "s.state"),
                            "mem_file_path": str(tmp_path / "s.mem"), "resume_vm": True})
        assert status == 400 and uds in err["fault_message"] and \
            "remove the old socket" in err["fault_message"], err
    finally:
        c.close()
    os.unlink(uds)
    b = restore(rv, str(tmp_path / "b.sock"), tmp_path / "s.state", tmp_path / "s.mem")
    try:
        # The old connection is gone in the guest: its read fails (reset).
        b.expect(rb"vsock: read failed", COMMAND_TIMEOUT, "the old connection's end in the guest")
        old.close()
        new_connections_both_ways(b, uds, "restore")
        status, cfg = call(str(tmp_path / "b.sock"), "GET", "/vm/config")
        assert cfg["vsock"]["guest_cid"] == 3 and cfg["vsock"]["uds_path"] == uds, cfg
    finally:
        b.close()
    assert not HOST_FAULT.search(b.err), b.tail()


def test_migrate_with_a_vsock(vsock_vm, request, guest, tmp_path):
    """Live migration of a VM with a vsock to another process on this host: the source hands
    its socket path over (closes and removes its listener just before the state goes), the
    destination listens there; the guest's old connection is reset as after a restore, and
    new connections work both ways at the same path."""
    vm(vsock_vm)  # the initramfs with /smp/vsock is built
    from test_api import call
    from test_migrate import fake_destination, wait_listening
    from test_snapshot import start_api
    rv = request.getfixturevalue("rvisor")
    uds = str(tmp_path / "m.vsock")
    sock = str(tmp_path / "a.sock")
    dst = tmp_path / "dst.mig"
    a = start_api(rv, sock)
    b = None
    try:
        boot_with_vsock(a, sock, guest["RVISOR_KERNEL"], vsock_vm.initrd, uds)
        old = held_guest_connection(a, uds, "migration")
        # A destination that refuses the VM, after the source let its path go: the source
        # listens there again, and a host program reaches the guest through it.
        result = {}
        fake = str(tmp_path / "fake.mig")
        t = fake_destination(fake, "refuse", result)
        status, err = call(sock, "PUT", "/migration/send", {"destination_url": f"unix:{fake}"},
                           timeout=300)
        assert status == 400 and "no room for it" in err["fault_message"], err
        t.join(30)
        if b"listening on 6002" not in a.run("/smp/vsock listen 6002 1 & sleep 0",
                                             COMMAND_TIMEOUT):
            a.expect(rb"vsock: listening on 6002", COMMAND_TIMEOUT, "the guest's listener")
        with host_connect(uds, 6002) as s:
            s.sendall(b"after-a-refusal")
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b"echo:after-a-refusal", a.tail()
        b = Console([rv, "receive", "--listen", f"unix:{dst}"])
        wait_listening(dst, b.proc)
        status, err = call(sock, "PUT", "/migration/send", {"destination_url": f"unix:{dst}"},
                           timeout=300)
        assert status == 204, (err, a.tail())
        assert a.proc.wait(30) == 0, a.tail()
        old.close()
        b.expect(rb"vsock: read failed", COMMAND_TIMEOUT, "the old connection's end in the guest")
        new_connections_both_ways(b, uds, "migration")
    finally:
        a.close()
        if b:
            b.close()
    assert not HOST_FAULT.search(a.err), a.tail()
    assert not HOST_FAULT.search(b.err), b.tail()
