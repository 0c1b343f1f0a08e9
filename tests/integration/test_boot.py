"""Boot Debian's riscv64 kernel with the busybox initramfs to a shell and power it off, once
with rvisor's built-in SBI and once with OpenSBI (fw_dynamic.bin) as M-mode firmware.

The tests of one boot share one VM and run in order: init's marker, `uname -m`,
/proc/cpuinfo, the wall-clock time from the RTC, setting the RTC, then `poweroff -f` and the
exit status.
"""

import re
import time

import pytest

from conftest import HOST_FAULT, MARKER, Console, boot_argv

BOOT_TIMEOUT = 120  # seconds to init's marker; the interpreter may need 10-20 s
COMMAND_TIMEOUT = 60
EXIT_TIMEOUT = 60


@pytest.fixture(scope="module", params=["builtin-sbi", "opensbi"])
def booted(request, vmm, guest, accel):
    """A VM booted to init's marker, with the built-in SBI or with OpenSBI."""
    rvisor = request.getfixturevalue("rvisor") if vmm == "rvisor" else None
    console = Console(boot_argv(vmm, rvisor, guest, firmware=request.param == "opensbi",
                                accel=accel))
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


def test_wall_clock_from_rtc(booted):
    """The kernel set its clock from the RTC at boot (hctosys): the guest's `date +%s` is the
    host's time within a few seconds, and the RTC is the Goldfish device at 0x101000."""
    before = time.time()
    out = booted_or_fail(booted).run("date +%s; cat /sys/class/rtc/rtc0/name", COMMAND_TIMEOUT)
    after = time.time()
    m = re.search(rb"^(\d+)\r?$", out, re.M)
    assert m, booted.tail()
    guest = int(m.group(1))
    assert before - 5 <= guest <= after + 5, f"guest {guest}, host {before:.0f}-{after:.0f}"
    assert re.search(rb"^goldfish_rtc 101000\.rtc\r?$", out, re.M), booted.tail()


def test_set_rtc(booted):
    """The guest sets the RTC (hwclock -w writes TIME_HIGH, then TIME_LOW) and reads it back
    running from there; the host's clock does not move."""
    target = int(time.time()) + 10 * 365 * 86400  # ten years ahead
    out = booted_or_fail(booted).run(
        f"date -s @{target} >/dev/null && hwclock -w && cat /sys/class/rtc/rtc0/since_epoch",
        COMMAND_TIMEOUT,
    )
    m = re.search(rb"^(\d+)\r?$", out, re.M)
    assert m, booted.tail()
    assert target <= int(m.group(1)) <= target + COMMAND_TIMEOUT, booted.tail()
    assert time.time() < target - 3600, "the host's clock moved with the guest's RTC"


def test_poweroff(booted):
    booted_or_fail(booted).send("poweroff -f\n")
    status = booted.wait(EXIT_TIMEOUT)
    assert status == 0, f"exit status {status}\n{booted.tail()}"
    assert booted.out.count(MARKER) == 1, "init's marker must be printed exactly once"
    assert not HOST_FAULT.search(booted.err), booted.tail()
