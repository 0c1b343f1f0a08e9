"""Landlock: rvisor keeps access only to the files it was given.

With the API and --landlock-rule DIR (the files the API will name lie there) and the guest
images read-only, a guest boots; a drive, a log file or a snapshot outside those paths is
refused with a 400 that names Landlock and --landlock-rule, and nothing is created there,
while a snapshot inside the allowed directory is written. With --no-landlock the same
snapshot path outside works. A read-only rule does not allow writing: a writable drive there
is refused. On the command line (`rvisor run`, restricted to its own files by default) a rule
naming a path that does not exist is an error of one line, exit status 1; and, through the
test hook of `make TEST_HOOKS=1` (RVISOR_TEST_OPEN=KIND:PATH makes the first thread of that
kind open PATH), the main, vCPU and disk threads of a running `rvisor run` cannot open a host
file outside its rules, can with --no-landlock, and can once a rule names it.
The kernel must have Landlock (the tests skip otherwise).
"""

import ctypes
import os
import re
import subprocess

import pytest

from conftest import HOST_FAULT, MARKER, Console, rvisor_run
from test_api import call, wait_socket
from test_seccomp import hooked, program  # noqa: F401 (fixtures: the TEST_HOOKS build)

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60
LANDLOCK_CREATE_RULESET_VERSION = 1
NR_LANDLOCK_CREATE_RULESET = 444  # x86-64 and the generic table alike


def landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    v = libc.syscall(NR_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(v, 0)


pytestmark = pytest.mark.skipif(landlock_abi() == 0, reason="this kernel has no Landlock")


@pytest.fixture
def rv(request, vmm):
    if vmm != "rvisor":
        pytest.skip("Landlock is rvisor's")
    return request.getfixturevalue("rvisor")


def start(rv, sock, rules):
    argv = [rv, "--api-sock", sock]
    for r in rules:
        argv += ["--landlock-rule", r]
    console = Console(argv)
    wait_socket(sock, console.proc)
    return console


def test_api_files_outside_the_rules(rv, guest, tmp_path):
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    images = os.path.dirname(guest["RVISOR_KERNEL"])
    ro_dir = tmp_path / "ro"
    ro_dir.mkdir()
    (ro_dir / "disk.img").write_bytes(bytes(1 << 20))
    (outside / "disk.img").write_bytes(bytes(1 << 20))
    sock = str(allowed / "api.sock")
    rules = [str(allowed), f"{images}:ro", f"{os.path.dirname(guest['RVISOR_INITRD'])}:ro",
             f"{ro_dir}:ro"]
    a = start(rv, sock, rules)
    try:
        landlock = "outside the paths Landlock allows rvisor: see --landlock-rule"
        # A drive outside every rule, and a writable one under a read-only rule: refused.
        for path, ro in ((outside / "disk.img", True), (ro_dir / "disk.img", False)):
            status, err = call(sock, "PUT", "/drives/data",
                               {"drive_id": "data", "path_on_host": str(path),
                                "is_root_device": False, "is_read_only": ro})
            assert status == 400 and landlock in err["fault_message"], (path, err)
        status, err = call(sock, "PUT", "/logger", {"log_path": str(outside / "log")})
        assert status == 400 and landlock in err["fault_message"], err
        assert not (outside / "log").exists()

        # Read-only under a read-only rule is fine; so is read-write where allowed.
        assert call(sock, "PUT", "/drives/ro", {"drive_id": "ro", "path_on_host":
                                                str(ro_dir / "disk.img"),
                                                "is_root_device": False,
                                                "is_read_only": True})[0] == 204
        disk = allowed / "disk.img"
        disk.write_bytes(b"landlock" + bytes(1 << 20))
        assert call(sock, "PUT", "/drives/data",
                    {"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
                     "is_read_only": False})[0] == 204
        assert call(sock, "PUT", "/machine-config",
                    {"vcpu_count": 1, "mem_size_mib": 256})[0] == 204
        assert call(sock, "PUT", "/boot-source",
                    {"kernel_image_path": guest["RVISOR_KERNEL"],
                     "initrd_path": guest["RVISOR_INITRD"],
                     "boot_args": "console=ttyS0"})[0] == 204
        assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        a.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        out = a.run("head -c 8 /dev/vdb; echo; echo written | dd of=/dev/vdb conv=notrunc "
                    "2>/dev/null; sync", COMMAND_TIMEOUT)
        assert b"landlock" in out, a.tail()
        assert disk.read_bytes().startswith(b"written\n")

        assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_path": str(outside / "s.state"),
                            "mem_file_path": str(allowed / "s.mem")})
        assert status == 400 and landlock in err["fault_message"], err
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_path": str(allowed / "s.state"),
                            "mem_file_path": str(outside / "s.mem")})
        assert status == 400 and landlock in err["fault_message"], err
        assert sorted(os.listdir(outside)) == ["disk.img"], os.listdir(outside)
        status, err = call(sock, "PUT", "/snapshot/create",
                           {"snapshot_path": str(allowed / "s.state"),
                            "mem_file_path": str(allowed / "s.mem")})
        assert status == 204, err
        assert (allowed / "s.state").stat().st_size > 0
        assert (allowed / "s.mem").stat().st_size == 256 << 20
        assert call(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
        a.run("true", COMMAND_TIMEOUT)
    finally:
        a.close()
    assert not HOST_FAULT.search(a.err), a.tail()


def test_no_landlock_turns_it_off(rv, tmp_path):
    """--no-landlock drops the rules: a log file outside them is created."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    sock = str(allowed / "api.sock")
    a = Console([rv, "--api-sock", sock, "--landlock-rule", str(allowed), "--no-landlock"])
    try:
        wait_socket(sock, a.proc)
        assert call(sock, "PUT", "/logger", {"log_path": str(outside / "log")})[0] == 204
        assert (outside / "log").exists()
    finally:
        a.close()


@pytest.mark.parametrize("mode", ["run", "api"])
def test_rule_on_a_missing_path(rv, tmp_path, accel, mode):
    missing = str(tmp_path / "nonexistent")
    if mode == "run":
        kernel = tmp_path / "k.bin"
        kernel.write_bytes(b"\x6f\x00\x00\x00")  # j . (never runs: the rule fails first)
        argv = rvisor_run(rv, accel) + ["--kernel", str(kernel), "--landlock-rule", missing]
    else:
        argv = [rv, "--api-sock", str(tmp_path / "a.sock"), "--landlock-rule", missing]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert err.splitlines() == [f"rvisor: error: Landlock rule {missing}: "
                                "No such file or directory"], err


def test_bad_rule_syntax(rv, tmp_path):
    r = subprocess.run([rv, "--api-sock", str(tmp_path / "a.sock"), "--landlock-rule", ":rw"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert r.returncode == 1 and b"--landlock-rule ':rw'" in r.stderr, r


@pytest.mark.parametrize("kind", ["main", "vcpu", "device"])
def test_every_thread_is_restricted(hooked, program, tmp_path, accel, kind):  # noqa: F811
    """rvisor run: a thread of each kind opens a host file the VM was not given."""
    target = tmp_path / "host-secret"
    target.write_text("not the guest's")
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    base = rvisor_run(hooked, accel) + ["--firmware", program, "--mem", "64M",
                                        "--drive", f"path={disk}"]
    env = dict(os.environ, RVISOR_TEST_OPEN=f"{kind}:{target}")
    line = f"rvisor: test hook: open {target} on the {kind} thread: "
    for extra, result in (([], "Permission denied"), (["--no-landlock"], "OK"),
                          (["--landlock-rule", f"{target}:ro"], "OK")):
        r = subprocess.run(base + extra, stdin=subprocess.DEVNULL, capture_output=True,
                           env=env, timeout=60)
        err = r.stderr.decode(errors="replace")
        assert r.returncode == 0, err
        assert line + result in err.splitlines(), (extra, err)
