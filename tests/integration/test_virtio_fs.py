"""virtio-fs: a host directory shared with the guest through Debian's virtiofsd (the vhost-user
back end) and rvisor's virtio-fs device on PCI, mounted by the stock kernel's built-in
virtiofs driver.

- One VM with a shared directory: the guest reads a host file; writes one the host then sees
  with the same contents; creates, renames and deletes; sees a file the host adds while
  mounted; runs four writers at once, each checking its files; and a file of a few MiB
  crosses in both directions, checked by SHA-256.
- The Debian kernel boots with its root on a host directory (rootfstype=virtiofs, no
  initramfs at all) to a shell: the busybox root image of scripts/make-rootfs.sh, unpacked.
- The daemon killed mid-operation: rvisor reports it once, the guest's file operations on
  the share fail or are killable, and the VM itself keeps running (its shell answers).
- Bad input: a --fs socket nobody listens on, one whose back end hangs up, answers wrongly or
  not at all (a fake back end), or malformed options: exit 1 with one line.
"""

import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import HOST_FAULT, MARKER, Console, boot_argv, run_tool, tool

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60
ROOTFS_MARKER = b"rvisor-rootfs: init started"
BIG = 3 << 20


def virtiofsd():
    """The daemon and how to give it a socket and a directory: bookworm's C virtiofsd
    (QEMU's, -o source=) or the Rust one of trixie (--shared-dir)."""
    for path in (shutil.which("virtiofsd"), "/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"):
        if path and os.access(path, os.X_OK):
            break
    else:
        pytest.fail("virtiofsd not found: run scripts/deps.sh")
    out = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    rust = "--shared-dir" in out.stdout + out.stderr
    def argv(sock, directory):
        if rust:
            return [path, f"--socket-path={sock}", f"--shared-dir={directory}",
                    "--sandbox=chroot", "--cache=auto"]
        return [path, f"--socket-path={sock}", "-o", f"source={directory}",
                "-o", "sandbox=chroot", "-o", "cache=auto"]
    return argv


class Daemon:
    def __init__(self, directory, sock):
        self.sock = sock
        self.proc = subprocess.Popen(virtiofsd()(sock, directory), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.exists(sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                self.close()
                pytest.fail(f"virtiofsd did not start: {err}")
            time.sleep(0.05)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Shared:
    pass


@pytest.fixture(scope="module")
def fs_vm(request, vmm, guest, tmp_path_factory):
    if vmm != "rvisor":
        pytest.skip("--fs is rvisor's")
    shared = Shared()
    shared.dir = tmp_path_factory.mktemp("share")
    shared.text = "shared by the host %d\n" % os.getpid()
    (shared.dir / "hello.txt").write_text(shared.text)
    big = os.urandom(BIG)
    (shared.dir / "big.bin").write_bytes(big)
    shared.big_sha = hashlib.sha256(big).hexdigest()
    sock = str(tmp_path_factory.mktemp("sock") / "fs.sock")
    shared.daemon = Daemon(shared.dir, sock)
    argv = boot_argv(vmm, request.getfixturevalue("rvisor"), guest, firmware=False,
                     accel=request.getfixturevalue("accel"))
    argv += ["--fs", f"tag=hostshare,socket={sock}"]
    shared.console = Console(argv)
    shared.error = None
    try:
        shared.console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        shared.console.run("true", COMMAND_TIMEOUT)
    except AssertionError as e:
        shared.error = str(e)
    yield shared
    shared.console.close()
    shared.daemon.close()


def vm(shared):
    if shared.error:
        pytest.fail(shared.error, pytrace=False)
    return shared.console


def status_of(console, command, timeout=COMMAND_TIMEOUT):
    out = console.run(f"{command}; echo rvisor-status=$?", timeout)
    m = re.search(rb"^rvisor-status=(\d+)\r?$", out, re.M)
    assert m, f"no status line for `{command}`\n{console.tail()}"
    return int(m.group(1)), out


def test_mount_and_read(fs_vm):
    console = vm(fs_vm)
    status, _ = status_of(console, "mkdir -p /mnt/host && mount -t virtiofs hostshare /mnt/host")
    assert status == 0, console.tail()
    out = console.run("cat /mnt/host/hello.txt; grep virtiofs /proc/mounts", COMMAND_TIMEOUT)
    assert fs_vm.text.strip().encode() in out, console.tail()
    assert re.search(rb"^hostshare /mnt/host virtiofs ", out, re.M), console.tail()
    # The device is on PCI, where the stock kernel's drivers are built in.
    out = console.run("readlink -f /sys/bus/virtio/drivers/virtiofs/virtio*", COMMAND_TIMEOUT)
    assert b"/pci0000:00/" in out, console.tail()
    assert not HOST_FAULT.search(console.err), console.tail()


def test_guest_writes_host_reads(fs_vm):
    console = vm(fs_vm)
    status, _ = status_of(console, "echo written-in-the-guest > /mnt/host/from-guest.txt && sync")
    assert status == 0, console.tail()
    assert (fs_vm.dir / "from-guest.txt").read_text() == "written-in-the-guest\n"


def test_create_rename_delete(fs_vm):
    console = vm(fs_vm)
    status, _ = status_of(console, "cd /mnt/host && mkdir d && echo a > d/f && mv d/f d/g && "
                                   "mv d e && ls e && rm e/g && rmdir e && cd /")
    assert status == 0, console.tail()
    assert not (fs_vm.dir / "d").exists() and not (fs_vm.dir / "e").exists()
    (fs_vm.dir / "from-host.txt").write_text("added while mounted\n")
    out = console.run("cat /mnt/host/from-host.txt", COMMAND_TIMEOUT)
    assert b"added while mounted" in out, console.tail()


def test_parallel_writers(fs_vm):
    """Four writers at once, each writing 50 files and reading every one back."""
    console = vm(fs_vm)
    script = ("mkdir -p /mnt/host/par; for w in 1 2 3 4; do ( i=0; while [ $i -lt 50 ]; do "
              "echo w$w-$i > /mnt/host/par/w$w-$i; [ \"$(cat /mnt/host/par/w$w-$i)\" = w$w-$i ] "
              "|| echo MISMATCH w$w-$i; i=$((i+1)); done ) & done; wait; ls /mnt/host/par | wc -l")
    out = console.run(script, COMMAND_TIMEOUT)
    assert not re.search(rb"^MISMATCH w", out, re.M), console.tail()
    assert re.search(rb"^\s*200\r?$", out, re.M), console.tail()
    names = sorted(p.name for p in (fs_vm.dir / "par").iterdir())
    assert len(names) == 200
    assert all((fs_vm.dir / "par" / n).read_text().strip() == n for n in names)


def test_large_file_both_ways(fs_vm):
    console = vm(fs_vm)
    out = console.run("sha256sum /mnt/host/big.bin && cp /mnt/host/big.bin /mnt/host/copy.bin "
                      "&& sync", COMMAND_TIMEOUT)
    assert fs_vm.big_sha.encode() in out, console.tail()
    data = (fs_vm.dir / "copy.bin").read_bytes()
    assert hashlib.sha256(data).hexdigest() == fs_vm.big_sha


def test_daemon_killed(fs_vm):
    """Last in the module: the daemon dies while the guest reads the share in a loop. The
    requests it held and every later one fail with EIO; the VM keeps running."""
    console = vm(fs_vm)
    console.run("(while cat /mnt/host/big.bin > /dev/null; do :; done; echo READER-ENDED) & "
                "sleep 0",
                COMMAND_TIMEOUT)
    time.sleep(1)
    fs_vm.daemon.proc.send_signal(signal.SIGKILL)
    fs_vm.daemon.proc.wait()
    console.expect(rb"^READER-ENDED", COMMAND_TIMEOUT, "the reader's end on an I/O error")
    deadline = time.monotonic() + 10
    while b"virtio-fs 'hostshare': the vhost-user daemon" not in console.err:
        assert time.monotonic() < deadline, f"no report of the daemon's end\n{console.tail()}"
        time.sleep(0.1)
    assert console.err.count(b"virtio-fs 'hostshare'") == 1, console.tail()
    status, out = status_of(console, "cat /mnt/host/hello.txt /mnt/host/new-file 2>&1")
    assert status != 0 and re.search(rb"I/O error|Input/output error", out), console.tail()
    out = console.run("echo the-vm-still-runs", COMMAND_TIMEOUT)
    assert b"the-vm-still-runs" in out, console.tail()
    assert console.proc.poll() is None, "rvisor exited"
    assert not HOST_FAULT.search(console.err), console.tail()


def test_root_on_virtiofs(request, vmm, guest, tmp_path):
    """No initramfs: the kernel mounts a host directory as / and runs its init."""
    if vmm != "rvisor":
        pytest.skip("--fs is rvisor's")
    image = tmp_path / "root.img"
    r = subprocess.run(["bash", str(Path(__file__).resolve().parents[2] / "scripts" /
                                    "make-rootfs.sh"), str(image), "64M"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"make-rootfs.sh failed:\n{r.stdout}{r.stderr}"
    root = tmp_path / "root"
    root.mkdir()
    r = run_tool([tool("debugfs"), "-R", f"rdump / {root}", str(image)])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    image.unlink()
    sock = str(tmp_path / "root.sock")
    daemon = Daemon(root, sock)
    try:
        argv = [request.getfixturevalue("rvisor"), "run", "--kernel", guest["RVISOR_KERNEL"],
                "--mem", "512M", "--fs", f"tag=rootfs,socket={sock}",
                "--cmdline", "console=ttyS0 rootfstype=virtiofs root=rootfs rw"]
        accel = request.getfixturevalue("accel")
        if accel:
            argv[2:2] = ["--accel", accel]
        console = Console(argv)
        try:
            console.expect(re.escape(ROOTFS_MARKER), BOOT_TIMEOUT, "the root's init marker")
            console.run("true", COMMAND_TIMEOUT)
            out = console.run("grep ' / ' /proc/mounts; echo made-on-root > /on-root.txt; sync",
                              COMMAND_TIMEOUT)
            assert re.search(rb"^rootfs / virtiofs ", out, re.M), console.tail()
            assert (root / "on-root.txt").read_text() == "made-on-root\n"
        finally:
            console.close()
    finally:
        daemon.close()


def test_bad_fs_options(request, vmm, tiny_kernel_path, tmp_path):
    if vmm != "rvisor":
        pytest.skip("--fs is rvisor's")
    rvisor_bin = request.getfixturevalue("rvisor")
    nobody = str(tmp_path / "nobody.sock")
    cases = [
        (f"tag=x,socket={nobody}", "nobody.sock"),
        ("tag=x", "socket="),
        (f"socket={nobody}", "tag="),
        (f"tag={'t' * 40},socket={nobody}", "tag"),
        (f"tag=x,socket={nobody},transport=isa", "transport"),
        (f"tag=x,socket={nobody},bogus=1", "bogus"),
    ]
    for spec, names in cases:
        r = subprocess.run([rvisor_bin, "run", "--kernel", tiny_kernel_path, "--fs", spec],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and names in lines[0], (spec, r.stderr)


class FakeBackEnd:
    """A vhost-user back end that misbehaves in one way: "close" hangs up at once, "garbage"
    answers GET_FEATURES with another request's reply, "short" with a payload of the wrong
    size, "silent" reads requests and never answers."""

    def __init__(self, path, how):
        self.how = how
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn:
            if self.how == "close":
                return
            while True:
                try:
                    head = conn.recv(12)
                except ConnectionResetError:  # rvisor gave up on it: expected
                    return
                if len(head) < 12:
                    return
                request, _, size = struct.unpack("<III", head)
                if size:
                    conn.recv(size)
                if request != 1 or self.how == "silent":  # only GET_FEATURES answers
                    continue
                if self.how == "garbage":
                    conn.sendall(struct.pack("<IIIQ", 15, 0x5, 8, 0))
                else:
                    conn.sendall(struct.pack("<IIII", 1, 0x5, 4, 0))


@pytest.mark.parametrize("how", ["close", "garbage", "short", "silent"])
def test_back_end_misbehaves_at_start(request, vmm, tiny_kernel_path, tmp_path, how):
    """A socket that hangs up, answers wrongly or not at all: one line naming it, exit 1."""
    if vmm != "rvisor":
        pytest.skip("--fs is rvisor's")
    path = str(tmp_path / f"{how}.sock")
    FakeBackEnd(path, how)
    r = subprocess.run([request.getfixturevalue("rvisor"), "run", "--kernel", tiny_kernel_path,
                        "--fs", f"tag=x,socket={path}"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert path in lines[0] and "vhost-user" in lines[0], r.stderr


@pytest.fixture
def tiny_kernel_path(tmp_path):
    path = tmp_path / "tiny.bin"
    path.write_bytes(bytes.fromhex("6f000000"))
    return str(path)
