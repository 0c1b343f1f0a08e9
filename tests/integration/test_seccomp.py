"""Every kind of thread runs under its seccomp filter: rvisor built with `make TEST_HOOKS=1`
(into build-hooks/) makes a forbidden call on the thread kind RVISOR_TEST_SECCOMP names, and
the process must end with status 6 and a line naming the kind and the call. The normal binary
has no such hook. That the filters allow everything rvisor needs is what the rest of the
integration suite shows: it runs with the default, --seccomp-level 2.
"""

import os
import pty
import subprocess
import termios
import time

import pytest

from conftest import REPO

SECCOMP_STATUS = 6

# Waits about WAIT ticks of the 10 MHz mtime, then powers off.
WAIT_S = r"""
	.globl _start
_start:
	li t3, 0x200bff8
	ld t4, 0(t3)
	li t5, 20000000
	add t4, t4, t5
1:	ld t6, 0(t3)
	bltu t6, t4, 1b
	li t0, 0x100000
	li t1, 0x5555
	sw t1, 0(t0)
2:	j 2b
"""


@pytest.fixture(scope="module")
def hooked(vmm):
    """rvisor with the test hooks, built into build-hooks/ (a build of its own)."""
    if vmm != "rvisor":
        pytest.skip("rvisor's own filters")
    r = subprocess.run(
        ["make", "-s", "-j2", "-C", str(REPO), "BUILD=build-hooks", "TEST_HOOKS=1",
         "build-hooks/rvisor"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr.decode()
    return str(REPO / "build-hooks" / "rvisor")


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """A bare-metal program that runs for about 2 s and powers off."""
    d = tmp_path_factory.mktemp("wait")
    (d / "wait.S").write_text(WAIT_S)
    r = subprocess.run(
        ["riscv64-unknown-elf-gcc", "-march=rv64g", "-mabi=lp64", "-nostdlib", "-static",
         "-Wl,-Ttext=0x80000000", "-Wl,--build-id=none", "-o", str(d / "wait.elf"),
         str(d / "wait.S")],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    r = subprocess.run(
        ["riscv64-unknown-elf-objcopy", "-O", "binary", str(d / "wait.elf"), str(d / "wait.bin")],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    return str(d / "wait.bin")


def run(argv, hook, timeout=60):
    env = dict(os.environ)
    if hook:
        env["RVISOR_TEST_SECCOMP"] = hook
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                       timeout=timeout)
    return r.returncode, r.stderr.decode(errors="replace")


def vm_args(binary, program, extra=()):
    return [binary, "run", "--firmware", program, "--mem", "64M", *extra]


def forbidden(kind, call, nr):
    return f"rvisor: seccomp: the {kind} thread made a forbidden system call: {call} ({nr})"


@pytest.mark.parametrize("kind", ["main", "vcpu", "device", "console", "gdb"])
def test_forbidden_call_on_vm_thread(hooked, program, kind):
    extra = ["--gdb", "tcp:127.0.0.1:0"] if kind == "gdb" else []
    status, err = run(vm_args(hooked, program, extra), kind)
    assert status == SECCOMP_STATUS, err
    assert forbidden(kind, "execve", 59) in err, err


@pytest.mark.parametrize("kind", ["vcpu", "device"])
def test_the_terminal_is_put_back(hooked, program, kind):
    """rvisor on a terminal puts it in raw mode; ended by a filter (no exit handler runs),
    it still leaves the terminal as it found it."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    try:
        env = dict(os.environ, RVISOR_TEST_SECCOMP=kind)
        p = subprocess.Popen(vm_args(hooked, program), stdin=slave, stdout=slave,
                             stderr=subprocess.PIPE, env=env)
        err = p.communicate(timeout=60)[1].decode(errors="replace")
        assert p.returncode == SECCOMP_STATUS, err
        assert forbidden(kind, "execve", 59) in err, err
        after = termios.tcgetattr(slave)
        assert after == before, (before, after)
        assert after[3] & termios.ICANON and after[3] & termios.ECHO, after
    finally:
        os.close(slave)
        os.close(master)


def test_forbidden_call_on_api_thread(hooked, tmp_path):
    sock = tmp_path / "api.sock"
    status, err = run([hooked, "--api-sock", str(sock)], "api")
    assert status == SECCOMP_STATUS, err
    assert forbidden("api", "execve", 59) in err, err


@pytest.mark.parametrize("kind", ["vcpu", "device", "main"])
def test_executable_mapping_needs_level_2(hooked, program, kind):
    """Level 2 checks arguments: no thread maps memory executable once the VM runs. Level 1
    checks only the call's number, so the same mmap goes through."""
    status, err = run(vm_args(hooked, program), f"{kind}:exec")
    assert status == SECCOMP_STATUS, err
    assert forbidden(kind, "mmap", 9) in err, err
    status, err = run(vm_args(hooked, program, ["--seccomp-level", "1"]), f"{kind}:exec")
    assert status == 0, err
    assert f"mmap PROT_EXEC on the {kind} thread returned a mapping" in err, err


@pytest.mark.parametrize("flag", [["--no-seccomp"], ["--seccomp-level", "0"]])
def test_no_filters(hooked, program, flag):
    """Without filters the hook's call simply fails and the guest runs to its end."""
    status, err = run(vm_args(hooked, program, flag), "vcpu")
    assert status == 0, err
    assert "execve on the vcpu thread returned" in err, err


def test_normal_build_has_no_hook(rvisor, vmm, program):
    """The environment variable means nothing to the normal binary."""
    if vmm != "rvisor":
        pytest.skip("rvisor's own filters")
    t0 = time.monotonic()
    status, err = run(vm_args(rvisor, program), "vcpu")
    assert status == 0, err
    assert "test hook" not in err and "seccomp" not in err, err
    assert time.monotonic() - t0 < 30


def test_threads_are_filtered(rvisor, vmm, program):
    """Every thread of a running VM is in filter mode (Seccomp: 2 in its status)."""
    if vmm != "rvisor":
        pytest.skip("rvisor's own filters")
    # stdin stays open, so the console's reader lives on.
    proc = subprocess.Popen(vm_args(rvisor, program, ["--gdb", "tcp:127.0.0.1:0"]),
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        time.sleep(1)
        modes = {}
        for tid in os.listdir(f"/proc/{proc.pid}/task"):
            with open(f"/proc/{proc.pid}/task/{tid}/status") as f:
                fields = dict(line.split(":\t", 1) for line in f if ":\t" in line)
            modes[fields["Name"].strip()] = fields["Seccomp"].strip()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert set(modes) >= {"rvisor", "rvisor-vcpu", "rvisor-device", "rvisor-console",
                          "rvisor-gdb"}, modes
    assert set(modes.values()) == {"2"}, modes
