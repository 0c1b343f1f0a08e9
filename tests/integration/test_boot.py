"""Boot Debian's riscv64 kernel with the busybox initramfs to a shell and power it off, once
with rvisor's built-in SBI and once with OpenSBI (fw_dynamic.bin) as M-mode firmware.

The tests of one boot share one VM and run in order: init's marker, `uname -m`,
/proc/cpuinfo, then `poweroff -f` and the exit status.
"""

import re

import pytest

from conftest import HOST_FAULT, MARKER, Console, boot_argv

BOOT_TIMEOUT = 120  # seconds to init's marker; the interpreter may need 10-20 s
COMMAND_TIMEOUT = 60
EXIT_TIMEOUT = 60


@pytest.fixture(scope="module", params=["builtin-sbi", "opensbi"])
def booted(request, vmm, guest):
    """A VM booted to init's marker, with the built-in SBI or with OpenSBI."""
    rvisor = request.getfixturevalue("rvisor") if vmm == "rvisor" else None
    console = Console(boot_argv(vmm, rvisor, guest, firmware=request.param == "opensbi"))
    try:
        console.boot_error = None
        try:
            console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        except AssertionError as e:
            console.boot_error = str(e)
        yield console
    finally:
        console.close()


def booted_or_fail(console):
    if console.boot_error:
        pytest.fail(console.boot_error, pytrace=False)
    return console


def test_init_marker(booted):
    booted_or_fail(booted)
    assert not HOST_FAULT.search(booted.err), booted.tail()


def test_uname_machine(booted):
    out = booted_or_fail(booted).run("uname -m", COMMAND_TIMEOUT)
    assert re.search(rb"^riscv64\r?$", out, re.M), booted.tail()


def test_cpuinfo(booted):
    out = booted_or_fail(booted).run("cat /proc/cpuinfo", COMMAND_TIMEOUT)
    assert re.search(rb"^hart\s*:\s*0\s*$", out, re.M), booted.tail()
    assert re.search(rb"^isa\s*:\s*rv64imafdc", out, re.M), booted.tail()


def test_poweroff(booted):
    booted_or_fail(booted).send("poweroff -f\n")
    status = booted.wait(EXIT_TIMEOUT)
    assert status == 0, f"exit status {status}\n{booted.tail()}"
    assert booted.out.count(MARKER) == 1, "init's marker must be printed exactly once"
    assert not HOST_FAULT.search(booted.err), booted.tail()
