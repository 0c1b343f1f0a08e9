"""Debian's riscv64 kernel with its root file system on a virtio-blk disk.

The root image comes from scripts/make-rootfs.sh (busybox on ext4); the initramfs of
scripts/get-guest.sh loads virtio_blk and ext4 and switch_root's into root=/dev/vda.

The read-write and the read-only root run twice: disks on virtio-mmio slots, then on the PCI
bus (virtio-pci); the rest on virtio-mmio. In order:

- a read-write root: a file written and synced in the guest is in the image after a
  remount read-only and `poweroff -f` (debugfs reads it back), and `e2fsck -fn` finds the
  file system clean; a second disk given with readonly=on is read-only to the guest (reads
  work, every write fails) and unchanged; while it runs, a second VM is refused both disks
  but may share the read-only one read-only (image locking);
- a read-only root disk mounted ro: reads work, writes and remounting read-write fail, the
  clean shutdown of the root's init powers off, and the image is unchanged;
- a host block device (a loop device) as the disk: capacity, reads, a synced write;
- bad --drive input: a missing, unusable or unreadable image and malformed options exit 1
  with one error line;
- data safety: while the guest appends numbered records to a file and syncs after each,
  rvisor is killed with SIGKILL at random moments; after each kill `e2fsck -fy` may replay
  the journal and clean up orphans but must find nothing else, and every record whose
  "synced N" line the guest printed must be in the file. A last boot reads the records in
  the guest, shuts down cleanly, and leaves a file system `e2fsck -fn` finds clean.

The random kill moments come from RVISOR_TEST_SEED when set (a failure message names the
seed it used).
"""

import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (HOST_FAULT, MARKER, REPO, Console, Shared, debugfs_cat, run_tool,
                      rvisor_run, second_vm, spin_argv, tool)

ROOTFS_MARKER = b"rvisor-rootfs: init started"
BOOT_TIMEOUT = 180  # seconds to the root's marker: kernel, modules (ext4 takes seconds), mount
COMMAND_TIMEOUT = 60
EXIT_TIMEOUT = 60
BAD_INPUT_TIMEOUT = 30

KILL_ROUNDS = 5
KILL_AFTER = (0.3, 4.0)  # seconds after the first "synced" line: the random kill moment
RECORD = re.compile(rb"^r(\d+) n(\d+)$")
SYNCED = re.compile(rb"^synced (\d+)\r?$", re.M)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fsck_clean(image):
    """Assert that `e2fsck -fn` finds nothing to fix in image."""
    r = run_tool([tool("e2fsck"), "-fn", str(image)])
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, f"e2fsck -fn {image}: exit {r.returncode}\n{out}"
    return out


@pytest.fixture(scope="session")
def rootfs(guest, tmp_path_factory):
    """A pristine root file system image from scripts/make-rootfs.sh; tests use copies."""
    out = tmp_path_factory.mktemp("rootfs") / "root.img"
    r = subprocess.run(["bash", str(REPO / "scripts" / "make-rootfs.sh"), str(out), "64M"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"make-rootfs.sh failed:\n{r.stdout}{r.stderr}"
    return out


def copy_image(src, dst):
    shutil.copyfile(src, dst)
    return dst


def vm_argv(vmm, rvisor_bin, guest_env, drives, cmdline, accel=None, transport="mmio"):
    """The command line booting the initramfs with these disks, each (path, readonly, id), on
    rvisor under accel (None: its default), on the transport ("mmio" or "pci")."""
    kernel, initrd = guest_env["RVISOR_KERNEL"], guest_env["RVISOR_INITRD"]
    if vmm == "qemu":
        argv = ["qemu-system-riscv64", "-M", "virt", "-m", "512M", "-nographic",
                "-bios", "default", "-kernel", kernel, "-initrd", initrd, "-append", cmdline]
        for i, (path, readonly, serial) in enumerate(drives):
            opts = f"file={path},format=raw,if=none,id=d{i}" + (",readonly=on" if readonly else "")
            model = "virtio-blk-pci" if transport == "pci" else "virtio-blk-device"
            argv += ["-drive", opts, "-device",
                     f"{model},drive=d{i}" + (f",serial={serial}" if serial else "")]
        return argv
    argv = rvisor_run(rvisor_bin, accel) + ["--kernel", kernel, "--initrd", initrd,
                                            "--cmdline", cmdline]
    for path, readonly, serial in drives:
        opts = f"path={path}" + (",readonly=on" if readonly else "")
        argv += ["--drive", opts + (f",id={serial}" if serial else "") + f",transport={transport}"]
    return argv


def boot_root(request, vmm, guest, drives, mode, transport="mmio"):
    """A console on a VM booted from the first of drives as root (mode "rw" or "ro"), past
    the root file system's init marker, its disks on transport. The caller closes it."""
    rvisor_bin = request.getfixturevalue("rvisor") if vmm == "rvisor" else None
    console = Console(vm_argv(vmm, rvisor_bin, guest, drives,
                              f"console=ttyS0 root=/dev/vda {mode}",
                              accel=request.getfixturevalue("accel"), transport=transport))
    try:
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "the initramfs's marker line")
        console.expect(re.escape(ROOTFS_MARKER), BOOT_TIMEOUT, "the root file system's marker")
    except BaseException:
        console.close()
        raise
    return console


def status_of(console, command):
    """Run command in the guest; returns (its exit status, what it printed)."""
    out = console.run(f"{command}; echo rvisor-status=$?", COMMAND_TIMEOUT)
    m = re.search(rb"^rvisor-status=(\d+)\r?$", out, re.M)
    assert m, f"no status line for `{command}`\n{console.tail()}"
    return int(m.group(1)), out


# ---------------------------------------------------------------- read-write root


@pytest.fixture(scope="module", params=["mmio", "pci"])
def rw_vm(request, vmm, guest, rootfs, tmp_path_factory):
    """Root rw on vda (a copy of the root image), and on vdb a small ext4 disk with a known
    file, given with readonly=on and id=rvisor-data; both on a virtio-mmio slot, then both
    on the PCI bus."""
    d = tmp_path_factory.mktemp("rw")
    shared = Shared()
    shared.transport = request.param
    shared.root = copy_image(rootfs, d / "root.img")
    shared.token = f"rvisor-blk-{random.getrandbits(64):016x}"
    data_dir = d / "data"
    data_dir.mkdir()
    shared.data_text = "data disk contents\n" * 100
    (data_dir / "hello.txt").write_text(shared.data_text)
    shared.data = d / "data.img"
    r = run_tool([tool("mkfs.ext4"), "-q", "-F", "-E", "root_owner=0:0", "-d", str(data_dir),
                  str(shared.data), "8M"])
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    shared.data_sha = sha256(shared.data)
    drives = [(shared.root, False, ""), (shared.data, True, "rvisor-data")]
    try:
        shared.console = boot_root(request, vmm, guest, drives, "rw", request.param)
    except AssertionError as e:
        shared.error = str(e)
    yield shared
    if shared.console:
        shared.console.close()


def test_rw_root_mounted(rw_vm):
    console = rw_vm.vm()
    out = console.run("cat /proc/mounts", COMMAND_TIMEOUT)
    assert re.search(rb"^/dev/vda / ext4 rw[ ,]", out, re.M), console.tail()
    out = console.run("readlink -f /sys/block/vda/device", COMMAND_TIMEOUT)
    want = rb"/pci0000:00/0000:00:00\.0/virtio" if rw_vm.transport == "pci" else rb"virtio_mmio/virtio"
    assert re.search(want, out), f"vda is not on {rw_vm.transport}\n{console.tail()}"
    assert not HOST_FAULT.search(console.err), console.tail()


def test_rw_write_and_sync(rw_vm):
    console = rw_vm.vm()
    status, _ = status_of(console, f"echo {rw_vm.token} > /root/token.txt && sync")
    assert status == 0, console.tail()
    out = console.run("cat /root/token.txt", COMMAND_TIMEOUT)
    assert re.search(rf"^{rw_vm.token}\r?$".encode(), out, re.M), console.tail()


def test_rw_root_is_locked(request, rw_vm, tmp_path):
    """While the VM runs, a second rvisor may open neither its read-write root (read-write or
    read-only) nor write its read-only disk, but may share that one read-only. Under --vmm
    qemu the locks are QEMU's, so this checks that rvisor honours them."""
    console = rw_vm.vm()
    rvisor_bin = request.getfixturevalue("rvisor")
    fw = tmp_path / "spin.bin"
    for drive in (f"path={rw_vm.root}", f"path={rw_vm.root},readonly=on", f"path={rw_vm.data}"):
        status, err = second_vm(spin_argv(rvisor_bin, fw, drive))
        assert status == 1, f"a second VM given {drive} was not refused: {status} {err}"
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "in use by another VM" in lines[0], err
        assert str(drive.split(",")[0][5:]) in lines[0], err
    status, err = second_vm(spin_argv(rvisor_bin, fw, f"path={rw_vm.data},readonly=on"))
    assert status is None, f"a second read-only user of a read-only disk was refused: {err}"
    out = console.run("cat /root/token.txt", COMMAND_TIMEOUT)  # the first VM is unharmed
    assert re.search(rf"^{rw_vm.token}\r?$".encode(), out, re.M), console.tail()


def test_readonly_disk_reads(rw_vm):
    console = rw_vm.vm()
    # The serial attribute ends without a newline.
    out = console.run("cat /sys/block/vdb/ro /sys/block/vdb/serial; echo", COMMAND_TIMEOUT)
    assert re.search(rb"^1\r?$", out, re.M), f"vdb is not read-only\n{console.tail()}"
    assert re.search(rb"^rvisor-data\r?$", out, re.M), f"vdb's serial\n{console.tail()}"
    status, _ = status_of(console, "mkdir -p /mnt/data && mount -o ro /dev/vdb /mnt/data")
    assert status == 0, console.tail()
    out = console.run("md5sum /mnt/data/hello.txt", COMMAND_TIMEOUT)
    want = hashlib.md5(rw_vm.data_text.encode()).hexdigest().encode()
    assert re.search(rb"^" + want + rb" ", out, re.M), console.tail()


def test_readonly_disk_refuses_writes(rw_vm):
    console = rw_vm.vm()
    for command in (
        "echo x > /mnt/data/new.txt",
        "mount -o remount,rw /mnt/data",
        "dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync",
        "blockdev --setrw /dev/vdb && dd if=/dev/zero of=/dev/vdb bs=4096 count=1 conv=fsync",
    ):
        status, _ = status_of(console, command)
        assert status != 0, f"`{command}` succeeded on a readonly=on disk\n{console.tail()}"
    status, _ = status_of(console, "umount /mnt/data")
    assert status == 0, console.tail()


def test_rw_poweroff_then_image_checks(rw_vm):
    """Remounting / read-only writes the journal back and marks the file system clean, so
    the host's e2fsck -fn (which replays no journal) sees the whole state."""
    console = rw_vm.vm()
    status, _ = status_of(console, "sync && mount -o remount,ro /")
    assert status == 0, console.tail()
    console.send("poweroff -f\n")
    status = console.wait(EXIT_TIMEOUT)
    assert status == 0, f"exit status {status}\n{console.tail()}"
    assert not HOST_FAULT.search(console.err), console.tail()
    out = fsck_clean(rw_vm.root)
    assert "journal" not in out, f"the file system was not left clean:\n{out}"
    assert debugfs_cat(rw_vm.root, "/root/token.txt") == f"{rw_vm.token}\n".encode()
    assert sha256(rw_vm.data) == rw_vm.data_sha, "the readonly=on disk image changed"


# ---------------------------------------------------------------- read-only root


@pytest.fixture(scope="module", params=["mmio", "pci"])
def ro_vm(request, vmm, guest, rootfs, tmp_path_factory):
    """Root on vda given readonly=on and mounted ro, on each transport."""
    shared = Shared()
    shared.root = copy_image(rootfs, tmp_path_factory.mktemp("ro") / "root.img")
    shared.sha = sha256(shared.root)
    try:
        shared.console = boot_root(request, vmm, guest, [(shared.root, True, "")], "ro",
                                   request.param)
    except AssertionError as e:
        shared.error = str(e)
    yield shared
    if shared.console:
        shared.console.close()


def test_ro_root_reads(ro_vm):
    console = ro_vm.vm()
    out = console.run("cat /proc/mounts /etc/hostname /sys/block/vda/ro", COMMAND_TIMEOUT)
    assert re.search(rb"^/dev/vda / ext4 ro[ ,]", out, re.M), console.tail()
    assert re.search(rb"^rvisor\r?$", out, re.M), console.tail()
    assert re.search(rb"^1\r?$", out, re.M), f"vda is not read-only\n{console.tail()}"
    status, _ = status_of(console, "busybox --help >/dev/null && ls -R /usr /etc >/dev/null")
    assert status == 0, console.tail()


def test_ro_root_refuses_writes(ro_vm):
    console = ro_vm.vm()
    for command in (
        "echo x > /root/new.txt",
        "mount -o remount,rw /",
        "dd if=/dev/zero of=/dev/vda bs=4096 count=1 seek=100 conv=fsync",
    ):
        status, _ = status_of(console, command)
        assert status != 0, f"`{command}` succeeded on a readonly=on root\n{console.tail()}"


def test_ro_root_clean_shutdown(ro_vm):
    """Leaving the shell runs the rest of the root's init: sync, remount ro, poweroff."""
    console = ro_vm.vm()
    console.send("exit\n")
    status = console.wait(EXIT_TIMEOUT)
    assert status == 0, f"exit status {status}\n{console.tail()}"
    assert not HOST_FAULT.search(console.err), console.tail()
    assert sha256(ro_vm.root) == ro_vm.sha, "the readonly=on root image changed"


# ---------------------------------------------------------------- bad --drive input


@pytest.fixture
def tiny_kernel(tmp_path):
    """A valid raw kernel, `j .`: a VM that wrongly starts is stopped by the timeout."""
    path = tmp_path / "loop.bin"
    path.write_bytes((0x0000006F).to_bytes(4, "little"))
    path.chmod(0o644)
    return path


def refuse(argv, names):
    """Run argv and check that rvisor refuses it: exit 1, one error line containing names."""
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=BAD_INPUT_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(argv)} ran for {BAD_INPUT_TIMEOUT} s instead of refusing")
    err = r.stderr.decode(errors="replace")
    lines = [line for line in err.splitlines() if line.strip()]
    detail = f"{' '.join(argv)}: exit {r.returncode}, stderr:\n{err}"
    assert not HOST_FAULT.search(r.stderr), detail
    assert r.returncode == 1, detail
    assert len(lines) == 1, detail
    assert names in lines[0], f"the error line does not name {names!r}\n{detail}"


@pytest.fixture
def rvisor_only(vmm):
    if vmm != "rvisor":
        pytest.skip("command-line checks apply to rvisor only")


def test_drive_missing_image(rvisor_only, rvisor, tiny_kernel, tmp_path):
    path = str(tmp_path / "no-such.img")
    refuse([rvisor, "run", "--kernel", str(tiny_kernel), "--drive", f"path={path}"], path)


def test_drive_is_directory(rvisor_only, rvisor, tiny_kernel, tmp_path):
    refuse([rvisor, "run", "--kernel", str(tiny_kernel), "--drive", f"path={tmp_path}"],
           str(tmp_path))


@pytest.mark.parametrize("readonly", [False, True], ids=["rw", "readonly"])
def test_drive_unreadable_image(rvisor_only, rvisor, tmp_path, readonly):
    """An image the user may not open. Root may open anything, so as root rvisor runs as
    the user nobody (setpriv), from a directory nobody can reach."""
    argv_prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.skip("running as root and setpriv (util-linux) is missing")
        argv_prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        tmp_path = Path(tempfile.mkdtemp(prefix="rvisor-blk-"))
        tmp_path.chmod(0o755)
        shutil.copy(rvisor, tmp_path / "rvisor")
        rvisor = str(tmp_path / "rvisor")
    try:
        kernel = tmp_path / "loop.bin"
        kernel.write_bytes((0x0000006F).to_bytes(4, "little"))
        kernel.chmod(0o644)
        image = tmp_path / "secret.img"
        image.write_bytes(bytes(1 << 20))
        image.chmod(0o000)
        refuse([*argv_prefix, rvisor, "run", "--kernel", str(kernel), "--drive",
                f"path={image}" + (",readonly=on" if readonly else "")], str(image))
    finally:
        if argv_prefix:
            shutil.rmtree(tmp_path)


@pytest.mark.parametrize(
    "spec, names",
    [
        ("readonly=on", "path"),
        ("path=", "path"),
        ("", "path"),
        ("path=IMG,readonly=maybe", "maybe"),
        ("path=IMG,bogus=1", "bogus"),
        ("path=IMG,id=" + "x" * 21, "x" * 21),
        ("path=IMG,readonly", "readonly"),
    ],
    ids=["no-path", "empty-path", "empty", "bad-readonly", "unknown-key", "long-id",
         "key-without-value"],
)
def test_drive_malformed(rvisor_only, rvisor, tiny_kernel, tmp_path, spec, names):
    image = tmp_path / "disk.img"
    image.write_bytes(bytes(1 << 20))
    refuse([rvisor, "run", "--kernel", str(tiny_kernel), "--drive",
            spec.replace("IMG", str(image))], names)


def test_drive_too_many(rvisor_only, rvisor, tiny_kernel, tmp_path):
    argv = [rvisor, "run", "--kernel", str(tiny_kernel)]
    for i in range(9):
        image = tmp_path / f"disk{i}.img"
        image.write_bytes(bytes(1 << 20))
        argv += ["--drive", f"path={image}"]
    refuse(argv, "--drive")


# ---------------------------------------------------------------- data safety

# Numbered records appended and synced one by one; "synced N" is printed only after sync
# returned, so record N is then durable.
WRITER = ('i=0; while [ $i -lt 1000000 ]; do i=$((i + 1)); echo "r{round} n$i" >> /data.log;'
          ' sync; echo "synced $i"; done')
# e2fsck -fy lines allowed after a crash: the checker's own progress and summary, journal
# replay, orphan clean-up, and the superblock's free counts, which ext4 does not keep
# current on disk while mounted (the group descriptors' counts, journaled, must be right).
FSCK_BENIGN = re.compile(
    r"^(e2fsck \d.*|Pass \d[A-Z]?: .*|.*: recovering journal|"
    r"Clearing orphaned inode \d+ .*|Truncating orphaned inode \d+ .*|"
    r"Free (blocks|inodes) count wrong \(\d+, counted=\d+\)\.|Fix\? yes|"
    r"Setting free (blocks|inodes) count to \d+ \(was \d+\)|"
    r".*: \*+ FILE SYSTEM WAS MODIFIED \*+|.*: \d+/\d+ files .*, \d+/\d+ blocks|)$"
)


def check_records(log, synced, round_seed):
    """Every round r's records in the file are r1..rk in order with k >= synced[r]."""
    seen = {}
    lines = log.split(b"\n")
    assert lines[-1] == b"", f"{round_seed}: /data.log ends in a partial line {lines[-1]!r}"
    for number, line in enumerate(lines[:-1], 1):
        m = RECORD.match(line)
        assert m, f"{round_seed}: line {number} of /data.log is not a record: {line!r}"
        r, n = int(m.group(1)), int(m.group(2))
        assert n == seen.get(r, 0) + 1, \
            f"{round_seed}: line {number}: r{r} n{n} follows n{seen.get(r, 0)}"
        seen[r] = n
    for r, n in synced.items():
        assert seen.get(r, 0) >= n, \
            f"{round_seed}: round {r} printed 'synced {n}' but the file has " \
            f"{seen.get(r, 0)} of its records"
    return seen


@pytest.fixture(scope="module")
def crash_image(rootfs, tmp_path_factory):
    return copy_image(rootfs, tmp_path_factory.mktemp("crash") / "root.img")


def test_sigkill_while_syncing(request, vmm, guest, crash_image):
    seed = int(os.environ.get("RVISOR_TEST_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    synced = {}
    for round_ in range(1, KILL_ROUNDS + 1):
        where = f"seed {seed}, round {round_}"
        console = boot_root(request, vmm, guest, [(crash_image, False, "")], "rw")
        try:
            console.send(WRITER.format(round=round_) + "\n")
            console.expect(rb"^synced 1\r?$", COMMAND_TIMEOUT, f"'synced 1' ({where})")
            time.sleep(rng.uniform(*KILL_AFTER))
            os.kill(console.proc.pid, signal.SIGKILL)
            console.wait(EXIT_TIMEOUT)
            numbers = [int(n) for n in SYNCED.findall(bytes(console.out))]
            synced[round_] = max(numbers)
            assert not HOST_FAULT.search(console.err), console.tail()
        finally:
            console.close()

        r = run_tool([tool("e2fsck"), "-fy", str(crash_image)])
        out = (r.stdout + r.stderr).decode(errors="replace")
        assert r.returncode in (0, 1), f"{where}: e2fsck -fy exit {r.returncode}\n{out}"
        odd = [line for line in out.splitlines() if not FSCK_BENIGN.match(line.strip())]
        assert not odd, f"{where}: e2fsck -fy found more than a crash leaves:\n{out}"
        fsck_clean(crash_image)
        check_records(debugfs_cat(crash_image, "/data.log"), synced, where)

    # The guest sees the same records, and its clean shutdown leaves a clean file system.
    console = boot_root(request, vmm, guest, [(crash_image, False, "")], "rw")
    try:
        host = check_records(debugfs_cat(crash_image, "/data.log"), synced, f"seed {seed}")
        total = sum(host.values())
        out = console.run("wc -l < /data.log", COMMAND_TIMEOUT)
        assert re.search(rf"^{total}\r?$".encode(), out, re.M), \
            f"the guest counts other than the host's {total} records\n{console.tail()}"
        console.send("exit\n")
        status = console.wait(EXIT_TIMEOUT)
        assert status == 0, f"exit status {status}\n{console.tail()}"
    finally:
        console.close()
    out = fsck_clean(crash_image)
    assert "recovering journal" not in out and "skipping journal" not in out, out


# ---------------------------------------------------------------- host block device


@pytest.fixture
def loop_device(tmp_path):
    """A host block device: a loop device over an 8 MiB image whose 4 KiB block i holds the
    byte i % 251 throughout. Yields (device path, image path); detaches afterwards."""
    losetup = shutil.which("losetup") or "/usr/sbin/losetup"
    if os.geteuid() != 0:
        pytest.skip("attaching a loop device needs root")
    image = tmp_path / "disk.img"
    image.write_bytes(b"".join(bytes([i % 251]) * 4096 for i in range(2048)))
    r = run_tool([losetup, "--find", "--show", str(image)])
    assert r.returncode == 0, f"losetup: {r.stderr.decode(errors='replace')}"
    dev = r.stdout.decode().strip()
    try:
        yield dev, image
    finally:
        run_tool([losetup, "--detach", dev])


def test_host_block_device(request, vmm, guest, loop_device):
    """--drive on a block device: its size comes from the device (BLKGETSIZE64), reads see
    its blocks, and a write synced in the guest reaches the device's backing file."""
    dev, image = loop_device
    rvisor_bin = request.getfixturevalue("rvisor") if vmm == "rvisor" else None
    console = Console(vm_argv(vmm, rvisor_bin, guest, [(dev, False, "")], "console=ttyS0",
                              accel=request.getfixturevalue("accel")))
    try:
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        out = console.run("cat /sys/block/vda/size", COMMAND_TIMEOUT)
        assert re.search(rb"^16384\r?$", out, re.M), f"vda's sectors\n{console.tail()}"
        for block in (0, 1000, 2047):
            want = hashlib.md5(bytes([block % 251]) * 4096).hexdigest().encode()
            out = console.run(f"dd if=/dev/vda bs=4096 skip={block} count=1 2>/dev/null | md5sum",
                              COMMAND_TIMEOUT)
            assert re.search(rb"^" + want + rb" ", out, re.M), f"block {block}\n{console.tail()}"
        status, _ = status_of(
            console, "yes rvisor | head -c 4096 | dd of=/dev/vda bs=4096 seek=7 conv=fsync")
        assert status == 0, console.tail()
        console.send("poweroff -f\n")
        status = console.wait(EXIT_TIMEOUT)
        assert status == 0, f"exit status {status}\n{console.tail()}"
        assert not HOST_FAULT.search(console.err), console.tail()
    finally:
        console.close()
    data = image.read_bytes()
    assert data[7 * 4096 : 8 * 4096] == (b"rvisor\n" * 586)[:4096], "block 7 was not written"
    assert data[6 * 4096 : 7 * 4096] == bytes([6]) * 4096, "block 6 changed"
    assert data[8 * 4096 : 9 * 4096] == bytes([8]) * 4096, "block 8 changed"


@pytest.mark.parametrize("fmt, header, offset", [
    ("qcow2", b"QFI\xfb\x00\x00\x00\x03", 0),
    ("vmdk", b"KDMV", 0),
    ("vdi", b"\x7f\x10\xda\xbe", 0x40),
    ("vhdx", b"vhdxfile", 0),
])
def test_drive_in_another_format(rvisor_only, rvisor, tiny_kernel, tmp_path, fmt, header,
                                 offset):
    """An image in a format rvisor does not read is refused naming the format and the
    conversion; format=raw takes it as raw all the same."""
    image = tmp_path / f"disk.{fmt}"
    data = bytearray(1 << 20)
    data[offset:offset + len(header)] = header
    image.write_bytes(bytes(data))
    refuse([rvisor, "run", "--kernel", str(tiny_kernel), "--drive", f"path={image}"], fmt)
    r = subprocess.run([rvisor, "run", "--kernel", str(tiny_kernel), "--drive",
                        f"path={image}"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=BAD_INPUT_TIMEOUT)
    assert "qemu-img convert -O raw" in r.stderr, r.stderr
    # format=raw: the VM starts (the kernel loops until the timeout stops it).
    try:
        r = subprocess.run([rvisor, "run", "--kernel", str(tiny_kernel), "--drive",
                            f"path={image},format=raw"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=2)
        pytest.fail(f"format=raw: exit {r.returncode}: {r.stderr}")
    except subprocess.TimeoutExpired:
        pass
    refuse([rvisor, "run", "--kernel", str(tiny_kernel), "--drive",
            f"path={image},format=qcow2"], "format=qcow2")
