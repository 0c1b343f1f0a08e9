"""Snapshots through the API (Firecracker's /snapshot/create and /snapshot/load).

The Debian guest, at a shell with two vCPUs, a writable disk and user networking, is
paused and snapshotted; the snapshot is restored in another rvisor process and the shell
continues there: a command typed after the restore runs, a background loop started before
goes on counting, what was written to the disk is there, and the guest's clock goes on from
the snapshot's time; the memory file, mapped copy-on-write, stays unchanged. A second
restore of the snapshot while the first runs is refused: the disk is in use. Bad snapshots (damaged, cut short, another format
version, a memory file of the wrong size) and requests in the wrong state are refused with a
400 naming the problem, and the running VM is untouched. (A VM with a vsock is snapshotted in
test_vsock.py.)
"""

import gzip
import hashlib
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST_FAULT, MARKER, Console
from test_api import call, wait_socket

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60


def start_api(rvisor, sock):
    console = Console([rvisor, "--api-sock", sock])
    wait_socket(sock, console.proc)
    return console


def uptime(console):
    out = console.run("cat /proc/uptime", COMMAND_TIMEOUT)
    m = re.search(rb"^(\d+\.\d+) ", out, re.M)
    assert m, console.tail()
    return float(m.group(1))


@pytest.fixture
def rv(request, vmm):
    if vmm != "rvisor":
        pytest.skip("snapshots are rvisor's")
    return request.getfixturevalue("rvisor")


def boot_and_snapshot(rv, guest, tmp_path, extra=None):
    """Boot a guest through the API, leave state behind, pause and snapshot it. Returns
    (state path, memory path, disk path, guest uptime at the snapshot)."""
    sock = str(tmp_path / "a.sock")
    a = start_api(rv, sock)
    try:
        assert call(sock, "PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256})[0] == 204
        assert call(sock, "PUT", "/boot-source",
                    {"kernel_image_path": guest["RVISOR_KERNEL"],
                     "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
        disk = tmp_path / "disk.img"
        disk.write_bytes(bytes(4 << 20))
        assert call(sock, "PUT", "/drives/data",
                    {"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
                     "is_read_only": False})[0] == 204
        assert call(sock, "PUT", "/network-interfaces/eth0",
                    {"iface_id": "eth0", "rvisor_user_networking": {}})[0] == 204
        for method, path, body in extra or ():
            assert call(sock, method, path, body)[0] == 204
        assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        a.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        a.run("printf written-before-the-snapshot | dd of=/dev/vda conv=notrunc 2>/dev/null; "
              "sync; echo 3 > /proc/sys/vm/drop_caches", COMMAND_TIMEOUT)
        a.run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
              "sleep 0.1; done) & sleep 0.5",
              COMMAND_TIMEOUT)
        up = uptime(a)
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_path": str(tmp_path / "s.state"),
                            "mem_file_path": str(tmp_path / "s.mem")})
        assert status == 400 and "paused" in err["fault_message"], err
        assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_type": "Full", "snapshot_path": str(tmp_path / "s.state"),
                            "mem_file_path": str(tmp_path / "s.mem")})
        assert status == 204, err
        # The VM carries on after the snapshot.
        assert call(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
        a.run("true", COMMAND_TIMEOUT)
    finally:
        a.close()
    assert not HOST_FAULT.search(a.err), a.tail()
    return tmp_path / "s.state", tmp_path / "s.mem", disk, up


def restore(rv, sock, state, mem, resume=True):
    b = start_api(rv, sock)
    status, err = call(sock, "PUT", "/snapshot/load",
                       {"snapshot_path": str(state),
                        "mem_backend": {"backend_type": "File", "backend_path": str(mem)},
                        "resume_vm": resume})
    assert status == 204, (err, b.tail())
    return b


def test_restore_in_another_process(rv, guest, tmp_path):
    state, mem, disk, up = boot_and_snapshot(rv, guest, tmp_path)
    assert os.stat(state).st_mode & 0o777 == 0o600 and os.stat(mem).st_mode & 0o777 == 0o600
    # Sparse: far fewer blocks than the 256 MiB of RAM.
    assert os.stat(mem).st_size == 256 << 20
    assert os.stat(mem).st_blocks * 512 < 200 << 20, os.stat(mem).st_blocks
    digest = hashlib.sha256(mem.read_bytes()).hexdigest()

    sock = str(tmp_path / "b.sock")
    b = restore(rv, sock, state, mem, resume=False)
    try:
        status, info = call(sock, "GET", "/")
        assert info["state"] == "Paused", info
        assert call(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
        out = b.run("cat /tmp/count; sleep 0.5; cat /tmp/count; "
                    "head -c 31 /dev/vda; echo; grep -c ^processor /proc/cpuinfo",
                    COMMAND_TIMEOUT)
        counts = [int(x) for x in re.findall(rb"^(\d+)\r?$", out, re.M)[:2]]
        assert len(counts) == 2 and counts[1] > counts[0], out
        assert b"written-before-the-snapshot" in out, out
        assert re.search(rb"^2\r?$", out, re.M), out
        # The clock went on from the snapshot's time, not from the original's boot.
        up2 = uptime(b)
        assert up < up2 < up + 30, (up, up2)
        mc = call(sock, "GET", "/machine-config")[1]
        # The CPU model is the saved harts' (the default, max).
        assert mc["vcpu_count"] == 2 and mc.get("rvisor_cpu") == "max", mc
    finally:
        b.close()
    assert not HOST_FAULT.search(b.err), b.tail()
    assert hashlib.sha256(mem.read_bytes()).hexdigest() == digest, "the memory file changed"


def test_second_restore_while_the_disk_is_in_use(rv, guest, tmp_path):
    """A restored VM takes its disk's locks like a booted one: a second restore of the same
    snapshot while the first runs is refused naming the disk, and works once it ended."""
    state, mem, disk, _ = boot_and_snapshot(rv, guest, tmp_path)
    first = restore(rv, str(tmp_path / "r0.sock"), state, mem)
    try:
        assert b"restored-42" in first.run("echo restored-$((40+2))", COMMAND_TIMEOUT)
        sock = str(tmp_path / "r1.sock")
        second = start_api(rv, sock)
        try:
            status, err = call(sock, "PUT", "/snapshot/load",
                               {"snapshot_path": str(state), "mem_file_path": str(mem),
                                "resume_vm": True})
            assert status == 400 and str(disk) in err["fault_message"] and \
                "in use" in err["fault_message"], err
        finally:
            second.close()
    finally:
        first.close()
    third = restore(rv, str(tmp_path / "r2.sock"), state, mem)
    try:
        assert b"restored-42" in third.run("echo restored-$((40+2))", COMMAND_TIMEOUT)
    finally:
        third.close()


@pytest.mark.parametrize("damage, mentions", [
    ("flip", "damaged"),
    ("truncate", "damaged"),
    ("format", "format version"),
    ("magic", "not an rvisor snapshot"),
    ("mem-size", "memory file"),
    ("no-state", "cannot open"),
])
def test_bad_snapshots(rv, guest, tmp_path, damage, mentions):
    state, mem, _, _ = boot_and_snapshot(rv, guest, tmp_path)
    data = bytearray(state.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x40
    elif damage == "truncate":
        data = data[:len(data) - 100]
    elif damage == "format":
        data[8] = 99
    elif damage == "magic":
        data[0:8] = b"NOTASNAP"
    bad = tmp_path / "bad.state"
    bad.write_bytes(bytes(data))
    if damage == "mem-size":
        bad.write_bytes(state.read_bytes())
        with open(mem, "r+b") as f:
            f.truncate(128 << 20)
    if damage == "no-state":
        bad = tmp_path / "missing.state"
    sock = str(tmp_path / "c.sock")
    c = start_api(rv, sock)
    try:
        status, err = call(sock, "PUT", "/snapshot/load",
                           {"snapshot_path": str(bad), "mem_file_path": str(mem)})
        assert status == 400 and mentions in err["fault_message"], err
        # Nothing was started; the control plane still serves, and a good load still works
        # when the inputs are good.
        assert call(sock, "GET", "/")[1]["state"] == "Not started"
    finally:
        c.close()


def test_wrong_states(rv, guest, tmp_path):
    sock = str(tmp_path / "d.sock")
    d = start_api(rv, sock)
    try:
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_path": str(tmp_path / "x"), "mem_file_path": str(tmp_path / "y")})
        assert status == 400 and "before starting" in err["fault_message"], err
        assert call(sock, "PUT", "/boot-source",
                    {"kernel_image_path": guest["RVISOR_KERNEL"]})[0] == 204
        status, err = call(sock, "PUT", "/snapshot/load",
                           {"snapshot_path": str(tmp_path / "x"), "mem_file_path": str(tmp_path / "y")})
        assert status == 400 and "after configuring" in err["fault_message"], err
        status, err = call(sock, "PUT", "/snapshot/load", {"snapshot_path": "x"})
        assert status == 400 and "mem_backend" in err["fault_message"], err
    finally:
        d.close()


def test_snapshot_during_disk_traffic(rv, guest, tmp_path):
    """A guest loop writes numbered records to its disk with O_DIRECT, one per sector, while
    the snapshot is taken; restored, the loop goes on. Afterwards every record from 1 to the
    last one the guest finished is on the disk: no write the guest saw complete was lost,
    whether it was in a ring, in the disk's worker or done at the snapshot."""
    sock = str(tmp_path / "a.sock")
    a = start_api(rv, sock)
    disk = tmp_path / "records.img"
    disk.write_bytes(bytes(8 << 20))
    loop = ("(i=0; while [ $i -lt 12000 ] && [ ! -e /tmp/stop ]; do i=$((i+1)); "
            "printf '%08d' $i | "
            "dd of=/dev/vda bs=512 seek=$i conv=notrunc,sync oflag=direct 2>/dev/null; "
            "echo $i > /tmp/l; mv /tmp/l /tmp/last; done; echo loop-done) & sleep 1")
    try:
        assert call(sock, "PUT", "/boot-source",
                    {"kernel_image_path": guest["RVISOR_KERNEL"],
                     "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
        assert call(sock, "PUT", "/drives/rec",
                    {"drive_id": "rec", "path_on_host": str(disk), "is_root_device": False,
                     "is_read_only": False})[0] == 204
        assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        a.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        a.run(loop, COMMAND_TIMEOUT)
        assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        assert call(sock, "PUT", "/snapshot/create",
                    {"snapshot_path": str(tmp_path / "s.state"),
                     "mem_file_path": str(tmp_path / "s.mem")})[0] == 204
    finally:
        a.close()
    b = restore(rv, str(tmp_path / "b.sock"), tmp_path / "s.state", tmp_path / "s.mem")
    try:
        out = b.run("cat /tmp/last; sleep 2; cat /tmp/last", COMMAND_TIMEOUT)
        counts = [int(x) for x in re.findall(rb"^(\d+)\r?$", out, re.M)]
        # The loop goes on after the restore: no request it waits for was lost.
        assert len(counts) == 2 and counts[1] > counts[0] + 10, out
        b.run("touch /tmp/stop; sleep 1; sync", COMMAND_TIMEOUT)
        out = b.run("cat /tmp/last", COMMAND_TIMEOUT)
        m = re.findall(rb"^(\d+)\r?$", out, re.M)
        assert m, out
        last = int(m[-1])
    finally:
        b.close()
    data = disk.read_bytes()
    missing = [i for i in range(1, last + 1) if data[512 * i:512 * i + 8] != b"%08d" % i]
    assert last > 20 and not missing, (last, missing[:10])


def test_command_line_restore(rv, guest, tmp_path):
    """`rvisor restore` runs the snapshot at once; bad command lines are one line and exit
    status 1."""
    state, mem, _, _ = boot_and_snapshot(rv, guest, tmp_path)
    c = Console([rv, "restore", "--snapshot", str(state), "--mem-file", str(mem)])
    try:
        assert b"restored-42" in c.run("echo restored-$((40+2))", COMMAND_TIMEOUT)
    finally:
        c.close()
    for args, mentions in (
        (["--snapshot", str(state)], "--mem-file"),
        (["--snapshot", str(tmp_path / "none"), "--mem-file", str(mem)], "none"),
        (["--snapshot", str(state), "--mem-file", str(mem), "--paused"], "--api-sock"),
        (["--bogus"], "unknown option"),
    ):
        r = subprocess.run([rv, "restore"] + args, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 1 and mentions in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_format_1_snapshot_loads(rv, tmp_path):
    """A snapshot of format version 1, committed (snapshot-v1/: a small S-mode program that
    prints "tick N" every 0.1 s, saved after "tick 5" by make.sh), loads and goes on with
    "tick 6": snapshots taken by earlier builds keep working."""
    here = Path(__file__).parent / "snapshot-v1"
    mem = tmp_path / "mem.bin"
    mem.write_bytes(gzip.decompress((here / "mem.bin.gz").read_bytes()))
    c = Console([rv, "restore", "--snapshot", str(here / "state.bin"), "--mem-file", str(mem)])
    try:
        out = c.expect(rb"tick 8\r?\n", COMMAND_TIMEOUT, "tick 8")
        ticks = [int(x) for x in re.findall(rb"tick (\d+)", out)]
        assert ticks == [6, 7, 8], out
    finally:
        c.close()


def test_balloon_on_a_restored_vm(rv, guest, tmp_path):
    """A restored guest's RAM is a private mapping of the memory file: inflating its balloon
    gives pages back without touching the file, and the guest runs on."""
    state, mem, _, _ = boot_and_snapshot(
        rv, guest, tmp_path,
        extra=[("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                                     "stats_polling_interval_s": 1})])
    digest = hashlib.sha256(mem.read_bytes()).hexdigest()
    sock = str(tmp_path / "b.sock")
    b = restore(rv, sock, state, mem)
    try:
        assert call(sock, "PATCH", "/balloon", {"amount_mib": 64})[0] == 204
        deadline = time.monotonic() + COMMAND_TIMEOUT
        while call(sock, "GET", "/balloon")[1].get("amount_mib") != 64 or \
                call(sock, "GET", "/balloon/statistics")[1].get("actual_mib", 0) < 64:
            assert time.monotonic() < deadline, call(sock, "GET", "/balloon/statistics")
            time.sleep(0.2)
        assert b"balloon-ok" in b.run("echo balloon-ok", COMMAND_TIMEOUT)
    finally:
        b.close()
    assert hashlib.sha256(mem.read_bytes()).hexdigest() == digest, "the memory file changed"
