"""The host terminal's size reaches the guest through the virtio console.

rvisor runs on a pseudo-terminal that is its controlling terminal, as in an interactive
shell, with the Debian guest's console on hvc0 (`--console virtio`). The guest's `stty size`
shows the terminal's rows and columns at boot; after the host terminal is resized (the
kernel sends rvisor SIGWINCH), the guest sees the new size (VIRTIO_CONSOLE_F_SIZE and a
configuration change, virtio 1.2 section 5.3), and rvisor keeps running.
"""

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time

import pytest

from conftest import HOST_FAULT, rvisor_run

TIMEOUT = 120


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Pty:
    """rvisor with a pseudo-terminal as its controlling terminal, stdin and stdout."""

    def __init__(self, argv):
        self.master, slave = pty.openpty()
        set_size(slave, 30, 100)
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=subprocess.PIPE, start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.out = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        while True:
            try:
                b = os.read(self.master, 4096)
            except OSError:
                return
            if not b:
                return
            with self.lock:
                self.out += b

    def expect(self, pattern, start=0, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                m = re.search(pattern, bytes(self.out[start:]))
            if m:
                return m
            assert self.proc.poll() is None, bytes(self.out[-2000:])
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} not seen: {bytes(self.out[-2000:])!r}")

    def run(self, cmd):
        with self.lock:
            start = len(self.out)
        # The end mark is computed by the shell, so its echo of the line does not match.
        os.write(self.master, cmd.encode() + b"; echo ==$((6*7))==\r")
        self.expect(rb"==42==\r*\n", start)
        with self.lock:
            return bytes(self.out[start:])

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.err = self.proc.communicate(timeout=30)[1]
        os.close(self.master)


def test_resize_reaches_hvc0(request, vmm, guest):
    if vmm != "rvisor":
        pytest.skip("rvisor's virtio console")
    argv = rvisor_run(request.getfixturevalue("rvisor"), request.getfixturevalue("accel")) + [
        "--kernel", guest["RVISOR_KERNEL"], "--initrd", guest["RVISOR_INITRD"],
        "--console", "virtio", "--cmdline", "console=hvc0"]
    p = Pty(argv)
    try:
        p.expect(rb"built-in shell")  # on hvc0 (init's marker goes to the kernel's log)
        out = p.run("stty size")
        assert re.search(rb"^30 100\r*$", out, re.M), out
        set_size(p.master, 41, 123)
        end = time.monotonic() + TIMEOUT
        while not re.search(rb"^41 123\r*$", out, re.M):
            assert time.monotonic() < end, out
            time.sleep(0.2)
            out = p.run("stty size")
        assert p.proc.poll() is None
    finally:
        p.close()
    assert not HOST_FAULT.search(p.err), p.err
