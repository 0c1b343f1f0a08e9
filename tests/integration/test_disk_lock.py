"""Disk image locking: no two VMs write one disk, and rvisor and QEMU keep out of each other's.

rvisor takes QEMU's open file description locks (block/file-posix.c: byte 100 + bit for each
permission held, byte 200 + bit for each permission not shared; write is bit 1). Each case
starts a VM that only holds its disk (a raw firmware spinning on `j .`, or QEMU stopped
with -S), then a second one on the same image, which must exit 1 with one line naming the
image when refused, or keep running when allowed. The holder must be unaffected either way.
The Linux-level case (a running Debian guest's root) is in test_virtio_blk.py.
"""

import shutil
import subprocess
import time

import pytest

from conftest import second_vm, spin_argv

HOLD_WAIT = 1.0  # seconds for the holder to open its disk (both VMMs lock at start-up)


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "disk.img"
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    return path


def qemu_argv(image, readonly):
    qemu = shutil.which("qemu-system-riscv64")
    if not qemu:
        pytest.fail("qemu-system-riscv64 not found: run scripts/deps.sh (qemu-system-misc)")
    drive = f"file={image},format=raw,if=none,id=d0" + (",readonly=on" if readonly else "")
    return [qemu, "-M", "virt", "-S", "-display", "none", "-monitor", "none", "-serial", "none",
            "-nodefaults", "-drive", drive, "-device", "virtio-blk-device,drive=d0"]


class Holder:
    """A VM holding the image: started, given time to open its disk, checked to be still
    running; killed on close."""

    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        time.sleep(HOLD_WAIT)
        self.check()

    def check(self):
        if self.p.poll() is not None:
            err = self.p.stderr.read().decode(errors="replace")
            pytest.fail(f"the holding VM exited ({self.p.returncode}): {err}")

    def close(self):
        self.p.kill()
        self.p.wait()


@pytest.fixture
def hold():
    holders = []

    def start(argv):
        h = Holder(argv)
        holders.append(h)
        return h

    yield start
    for h in holders:
        h.close()


def refused(argv, image):
    status, err = second_vm(argv)
    assert status == 1, f"not refused: {argv} -> {status} {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"want one error line:\n{err}"
    assert str(image) in lines[0] and "in use by another VM" in lines[0], err


def allowed(argv):
    status, err = second_vm(argv)
    assert status is None, f"refused: {argv} -> {status} {err}"


def test_writer_excludes_everyone(rvisor, image, hold, tmp_path):
    holder = hold(spin_argv(rvisor, tmp_path / "a.bin", f"path={image}"))
    refused(spin_argv(rvisor, tmp_path / "b.bin", f"path={image}"), image)
    refused(spin_argv(rvisor, tmp_path / "b.bin", f"path={image},readonly=on"), image)
    holder.check()
    holder.close()
    # Its locks went with it: the disk is free again.
    allowed(spin_argv(rvisor, tmp_path / "b.bin", f"path={image}"))


def test_readers_share_and_exclude_writers(rvisor, image, hold, tmp_path):
    holder = hold(spin_argv(rvisor, tmp_path / "a.bin", f"path={image},readonly=on"))
    allowed(spin_argv(rvisor, tmp_path / "b.bin", f"path={image},readonly=on"))
    refused(spin_argv(rvisor, tmp_path / "b.bin", f"path={image}"), image)
    holder.check()


def test_lock_off(rvisor, image, hold, tmp_path):
    """lock=off takes no locks and ignores others' (for cluster file systems)."""
    hold(spin_argv(rvisor, tmp_path / "a.bin", f"path={image}"))
    allowed(spin_argv(rvisor, tmp_path / "b.bin", f"path={image},lock=off"))


def test_two_drives_on_one_image(rvisor, image, tmp_path):
    fw = tmp_path / "a.bin"
    argv = spin_argv(rvisor, fw, f"path={image}") + ["--drive", f"path={image}"]
    refused(argv, image)


@pytest.mark.parametrize("readonly", [False, True], ids=["qemu-rw", "qemu-ro"])
def test_rvisor_respects_qemu(rvisor, image, hold, tmp_path, readonly):
    holder = hold(qemu_argv(image, readonly))
    refused(spin_argv(rvisor, tmp_path / "b.bin", f"path={image}"), image)
    if readonly:
        allowed(spin_argv(rvisor, tmp_path / "b.bin", f"path={image},readonly=on"))
    else:
        refused(spin_argv(rvisor, tmp_path / "b.bin", f"path={image},readonly=on"), image)
    holder.check()


@pytest.mark.parametrize("readonly", [False, True], ids=["rvisor-rw", "rvisor-ro"])
def test_qemu_respects_rvisor(rvisor, image, hold, tmp_path, readonly):
    drive = f"path={image}" + (",readonly=on" if readonly else "")
    holder = hold(spin_argv(rvisor, tmp_path / "a.bin", drive))
    status, err = second_vm(qemu_argv(image, readonly=False))
    assert status == 1 and 'Failed to get "write" lock' in err, f"QEMU: {status} {err}"
    status, err = second_vm(qemu_argv(image, readonly=True))
    if readonly:
        assert status is None, f"QEMU refused to share a read-only disk: {err}"
    else:
        assert status == 1 and "lock" in err, f"QEMU: {status} {err}"
    holder.check()
