"""The translator against the interpreter in lockstep on a real guest (tests/lockstep/lockstep.c):
Debian's kernel boots its busybox initramfs to the first line of userspace in two identical,
deterministic single-hart VMs, one translated and one interpreted, advanced one translated
block at a time; the architectural state after every block, the RAM every 50 million
instructions and at the end, and the console output must be the same. A deliberately wrong
translation must be caught."""

import subprocess
from pathlib import Path

import pytest

TIMEOUT = 600


@pytest.fixture(scope="module")
def lockstep(vmm, rvisor):
    if vmm != "rvisor":
        pytest.skip("the lockstep check is rvisor's own")
    path = Path(rvisor).parent / "tests" / "lockstep" / "lockstep"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make` (it builds the lockstep checker too)")
    return str(path)


def run(lockstep, guest, *extra):
    argv = [lockstep, "--kernel", guest["RVISOR_KERNEL"], "--initrd", guest["RVISOR_INITRD"],
            *extra]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=TIMEOUT)
    return r, f"{' '.join(argv)}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"


def test_linux_boot_in_lockstep(lockstep, guest):
    r, detail = run(lockstep, guest, "--insns", "3000000000", "--until",
                    "rvisor-guest: userspace started")
    assert r.returncode == 0, detail
    assert "translator and interpreter agree" in r.stdout, detail
    # It went the whole way: the kernel booted to userspace, not just the first blocks.
    assert "the console printed the text asked for" in r.stdout, detail
    assert "Run /init as init process" in r.stdout, detail


def test_linux_boot_in_lockstep_cpu_max(lockstep, guest):
    """The same with every extension (--cpu max): the kernel patches in its Zbb string and
    bit helpers and clears pages with cbo.zero, which both sides must do alike."""
    r, detail = run(lockstep, guest, "--cpu", "max", "--insns", "3000000000", "--until",
                    "rvisor-guest: userspace started")
    assert r.returncode == 0, detail
    assert "translator and interpreter agree" in r.stdout, detail
    assert "the console printed the text asked for" in r.stdout, detail


def test_lockstep_catches_a_wrong_translation(lockstep, guest):
    r, detail = run(lockstep, guest, "--insns", "50000000", "--inject-fault", "add")
    assert r.returncode == 1, detail
    assert "ends differently" in r.stderr, detail
    assert "DIFFERENT" in r.stdout, detail
