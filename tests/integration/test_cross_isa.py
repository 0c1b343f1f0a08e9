"""A snapshot moves across host ISAs: taken by this x86-64 build, restored by rvisor built for
arm64 (scripts/cross-aarch64.sh: Debian's cross compiler, the arm64 libraries of the host's
Debian release) running under qemu-user.

The Debian guest, at its shell with a loop counting in /tmp, is paused and snapshotted
through the API; `rvisor restore` of the arm64 build (its harts interpret: it has no
translator back end) takes the state file and the memory file as they are, and the shell
goes on there: a command typed after the restore runs, the loop counts on from where it was,
and a file written before the snapshot keeps its checksum. The arm64 build's own device tree,
devices and clock are not involved until the restore: nothing in the files depends on the
host's ISA.
"""

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import HOST_FAULT, Console
from test_api import call
from test_migrate import boot_source
from test_snapshot import rv  # noqa: F401 (the fixture)

ROOT = Path(__file__).resolve().parents[2]
# The arm64 build runs under qemu-user and interprets: far slower than here.
SLOW_TIMEOUT = 300


@pytest.fixture(scope="module")
def aarch64():
    """The arm64 build and its sysroot, from scripts/cross-aarch64.sh (cached after its first
    run; scripts/test.sh runs it before the integration tests)."""
    r = subprocess.run(["bash", str(ROOT / "scripts/cross-aarch64.sh")], capture_output=True,
                       text=True, timeout=1800)
    assert r.returncode == 0, r.stderr
    env = dict(re.findall(r"^(RVISOR_AARCH64\w*)='([^']*)'$", r.stdout, re.M))
    assert Path(env["RVISOR_AARCH64"]).is_file(), r.stdout
    return env


def test_restore_on_arm64(rv, guest, aarch64, tmp_path):
    a, sock = boot_source(rv, guest, tmp_path)
    try:
        out = a.run("head -c 65536 /dev/urandom > /tmp/keep; sha256sum /tmp/keep; "
                    "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
                    "sleep 0.1; done) & sleep 0.5; cat /tmp/count", SLOW_TIMEOUT)
        keep = re.search(rb"([0-9a-f]{64})  /tmp/keep", out).group(1)
        before = int(re.findall(rb"^(\d+)\r?$", out, re.M)[-1])
        assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
        assert call(sock, "PUT", "/snapshot/create",
                    {"snapshot_type": "Full", "snapshot_path": str(tmp_path / "s.state"),
                     "mem_file_path": str(tmp_path / "s.mem")})[0] == 204
    finally:
        a.close()
    assert not HOST_FAULT.search(a.err), a.tail()

    # seccomp filters cannot work under qemu-user (they would filter the emulator's own calls).
    cmd = ["qemu-aarch64", "-L", aarch64["RVISOR_AARCH64_SYSROOT"], aarch64["RVISOR_AARCH64"],
           "restore", "--snapshot", str(tmp_path / "s.state"), "--mem-file",
           str(tmp_path / "s.mem"), "--no-seccomp"]
    b = Console(cmd)
    try:
        out = b.run("echo arm64-$((40+2)); uname -m; sha256sum /tmp/keep; cat /tmp/count",
                    SLOW_TIMEOUT)
        assert b"arm64-42" in out, (shlex.join(cmd), b.tail())
        assert b"riscv64" in out, out  # the guest's ISA, whatever the host's
        assert keep in out, out
        after = int(re.findall(rb"^(\d+)\r?$", out, re.M)[-1])
        assert after >= before, (before, after)
        out = b.run("sleep 1; cat /tmp/count", SLOW_TIMEOUT)
        assert int(re.findall(rb"^(\d+)\r?$", out, re.M)[-1]) > after, "the loop stopped"
    finally:
        b.close()
    assert not HOST_FAULT.search(b.err), b.tail()
