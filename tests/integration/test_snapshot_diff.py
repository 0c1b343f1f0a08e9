"""Diff snapshots (Firecracker's snapshot_type "Diff" with track_dirty_pages).

The Debian guest boots with dirty page tracking; a Full snapshot is taken, then two Diff
snapshots, with the guest changing memory in between: files in its RAM-backed /tmp, a loop
counting, and the page cache filled by the disk's DMA. Each Diff memory file holds only the
pages written since the snapshot before (far fewer blocks than the Full one). Rebased in
order onto a copy of the Full memory file, the last Diff restores: every file the guest wrote
is there with its checksum, the loop goes on, and the disk's contents are served from the
page cache as they were read (the image on the host was zeroed after the snapshots, so a
page the log missed shows up as a wrong checksum). Diff without tracking and bad rebases are
refused with a message naming the problem.
"""

import hashlib
import os
import re
import shutil
import subprocess

import pytest

from conftest import HOST_FAULT, MARKER, Console
from test_api import call
from test_snapshot import BOOT_TIMEOUT, COMMAND_TIMEOUT, restore, start_api


@pytest.fixture
def rv(request, vmm):
    if vmm != "rvisor":
        pytest.skip("snapshots are rvisor's")
    return request.getfixturevalue("rvisor")


def snapshot(sock, tmp_path, name, kind):
    assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
    status, err = call(sock, "PUT", "/snapshot/create",
                       {"snapshot_type": kind, "snapshot_path": str(tmp_path / (name + ".state")),
                        "mem_file_path": str(tmp_path / (name + ".mem"))})
    assert status == 204, err
    assert call(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
    return tmp_path / (name + ".state"), tmp_path / (name + ".mem")


def allocated(path):
    return os.stat(path).st_blocks * 512


def sums(console, names):
    out = console.run("sha256sum " + " ".join(names), COMMAND_TIMEOUT)
    found = dict((n.decode(), h.decode()) for h, n in
                 re.findall(rb"^([0-9a-f]{64})  (\S+)\r?$", out, re.M))
    assert len(found) == len(names), out
    return found


def counter(console):
    out = console.run("cat /tmp/count", COMMAND_TIMEOUT)
    m = re.findall(rb"^(\d+)\r?$", out, re.M)
    assert m, out
    return int(m[-1])


def test_diff_chain(rv, guest, tmp_path):
    disk = tmp_path / "data.img"
    data = os.urandom(4 << 20)
    disk.write_bytes(data)
    sock = str(tmp_path / "a.sock")
    a = start_api(rv, sock)
    try:
        assert call(sock, "PUT", "/machine-config",
                    {"vcpu_count": 2, "mem_size_mib": 256, "track_dirty_pages": True})[0] == 204
        assert call(sock, "PUT", "/boot-source",
                    {"kernel_image_path": guest["RVISOR_KERNEL"],
                     "initrd_path": guest["RVISOR_INITRD"],
                     # Pages are not zeroed by the kernel when allocated, so that only the
                     # disk's DMA writes those the page cache gets.
                     "boot_args": "console=ttyS0 init_on_alloc=0"})[0] == 204
        assert call(sock, "PUT", "/drives/data",
                    {"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
                     "is_read_only": True})[0] == 204
        assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        a.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        a.run("head -c 1048576 /dev/urandom > /tmp/a; "
              "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
              "sleep 0.1; done) & sleep 0.3", COMMAND_TIMEOUT)
        s0, m0 = snapshot(sock, tmp_path, "s0", "Full")
        # Between the Full and the first Diff: a new file, and the disk read into the page
        # cache (the device writes those pages).
        # (A process keeps the disk open: Linux drops a block device's cache at its last
        # close.)
        a.run("head -c 3145728 /dev/urandom > /tmp/b; sleep 100000 < /dev/vda & sleep 0.1",
              COMMAND_TIMEOUT)
        read = sums(a, ["/dev/vda"])
        assert read["/dev/vda"] == hashlib.sha256(data).hexdigest()
        s1, m1 = snapshot(sock, tmp_path, "s1", "Diff")
        # Then the first file is rewritten in place, and another is made.
        a.run("dd if=/dev/urandom of=/tmp/a bs=4096 count=64 seek=16 conv=notrunc "
              "2>/dev/null; head -c 524288 /dev/urandom > /tmp/c2", COMMAND_TIMEOUT)
        before = sums(a, ["/tmp/a", "/tmp/b", "/tmp/c2"])
        count = counter(a)
        s2, m2 = snapshot(sock, tmp_path, "s2", "Diff")
    finally:
        a.close()
    assert not HOST_FAULT.search(a.err), a.tail()

    # A Diff memory file is RAM-sized but holds only what changed.
    for m in (m0, m1, m2):
        assert os.stat(m).st_size == 256 << 20
    assert allocated(m1) < allocated(m0) // 2, (allocated(m1), allocated(m0))
    assert allocated(m2) < allocated(m0) // 2, (allocated(m2), allocated(m0))
    # And at least what the guest wrote (3 MiB of /tmp/b, 4 MiB of page cache).
    assert allocated(m1) >= 7 << 20, allocated(m1)

    # Nothing on the host's disk can stand in for the page cache now.
    disk.write_bytes(bytes(4 << 20))
    base = tmp_path / "base.mem"
    shutil.copyfile(m0, base)
    for state, diff in ((s1, m1), (s2, m2)):
        r = subprocess.run([rv, "rebase", "--snapshot", str(state), "--diff-file", str(diff),
                            "--base-file", str(base)], capture_output=True, timeout=120)
        assert r.returncode == 0, r.stderr
    b = restore(rv, str(tmp_path / "b.sock"), s2, base)
    try:
        after = sums(b, ["/tmp/a", "/tmp/b", "/tmp/c2", "/dev/vda"])
        assert {k: after[k] for k in before} == before
        assert after["/dev/vda"] == hashlib.sha256(data).hexdigest(), \
            "the page cache the disk filled was not in the diffs"
        assert counter(b) >= count
        b.run("sleep 0.5", COMMAND_TIMEOUT)
        assert counter(b) > count, "the loop stopped"
    finally:
        b.close()
    assert not HOST_FAULT.search(b.err), b.tail()


def test_diff_needs_tracking(rv, guest, tmp_path):
    sock = str(tmp_path / "a.sock")
    a = start_api(rv, sock)
    try:
        assert call(sock, "PUT", "/boot-source",
                    {"kernel_image_path": guest["RVISOR_KERNEL"],
                     "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
        assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        a.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_type": "Diff", "snapshot_path": str(tmp_path / "d.state"),
                            "mem_file_path": str(tmp_path / "d.mem")})
        assert status == 400 and "track_dirty_pages" in err["fault_message"], err
        assert not (tmp_path / "d.state").exists() and not (tmp_path / "d.mem").exists()
        # A Full one still works, and the guest runs on.
        s, m = snapshot(sock, tmp_path, "f", "Full")
        assert b"still-here-2" in a.run("echo still-here-$((1+1))", COMMAND_TIMEOUT)
    finally:
        a.close()
    # rebase refuses a Full snapshot, a missing file and bad command lines.
    for args, mentions in (
            (["--snapshot", str(s), "--diff-file", str(m), "--base-file", str(m)], b"full"),
            (["--snapshot", str(tmp_path / "none"), "--diff-file", str(m), "--base-file",
              str(m)], b"cannot open"),
            (["--snapshot", str(s)], b"needs"),
            (["--bogus"], b"unknown option")):
        r = subprocess.run([rv, "rebase", *args], capture_output=True, timeout=60)
        assert r.returncode == 1 and mentions in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
