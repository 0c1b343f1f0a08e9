"""Boot Debian's riscv64 kernel with `--cpu max` (every ISA extension rvisor implements beyond
RV64GC), with the built-in SBI and with OpenSBI: the kernel reads them from the device tree
(`riscv,isa-extensions`, `riscv,cbo*-block-size`), lists them in /proc/cpuinfo and uses them
(its clear_page and memset take cbo.zero with Zicboz, its string and bit helpers Zbb through
alternatives), and userspace runs. `--cpu rv64gc` lists none of them.
"""

import json
import re
import subprocess

import pytest

from conftest import HOST_FAULT, MARKER, Console, boot_argv

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60
EXIT_TIMEOUT = 60

NEW = ["zicbom", "zicbop", "zicboz", "zicond", "zihintntl", "zihintpause", "zimop", "zawrs",
       "zfa", "zfhmin", "zcb", "zcmop", "zba", "zbb", "zbs", "zkt", "svinval", "svnapot",
       "svpbmt"]
OLD = ["zicntr", "zicsr", "zifencei", "sstc"]


def cpu_argv(rvisor, guest, accel, firmware, cpu):
    argv = boot_argv("rvisor", rvisor, guest, firmware=firmware, accel=accel)
    return argv[:2] + ["--cpu", cpu] + argv[2:]


@pytest.fixture(scope="module", params=["builtin-sbi", "opensbi"])
def booted_max(request, vmm, rvisor, guest, accel):
    if vmm != "rvisor":
        pytest.skip("--cpu is rvisor's")
    console = Console(cpu_argv(rvisor, guest, accel, request.param == "opensbi", "max"))
    try:
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        yield console
    finally:
        console.close()


def isa_line(out):
    m = re.search(rb"^isa\s*:\s*(\S+)\s*$", out, re.M)
    assert m, out[-2000:]
    return m.group(1).decode()


def test_cpuinfo_lists_extensions(booted_max):
    out = booted_max.run("cat /proc/cpuinfo", COMMAND_TIMEOUT)
    isa = isa_line(out)
    assert isa.startswith("rv64imafdc"), isa
    names = isa.split("_")[1:]
    for ext in ["zicbom", "zicboz", "zicond", "zba", "zbb", "zbs"]:
        assert ext in names, f"{ext} missing from {isa}"


def test_device_tree_extensions(booted_max):
    out = booted_max.run(
        "tr '\\0' ' ' < /proc/device-tree/cpus/cpu@0/riscv,isa-extensions; echo; "
        "od -An -tx1 /proc/device-tree/cpus/cpu@0/riscv,cboz-block-size", COMMAND_TIMEOUT)
    listed = set(out.decode(errors="replace").split())
    for ext in NEW + OLD:
        assert ext in listed, f"{ext} not in riscv,isa-extensions: {out!r}"
    assert re.search(rb"00 00 00 40", out), out


def test_userspace_runs(booted_max):
    """A shell pipeline (fork, exec, pipes, page faults on fresh pages that the kernel clears
    with cbo.zero) gives the right answer."""
    out = booted_max.run("seq 1 20000 | tr -d 5 | wc -c; dd if=/dev/zero bs=1M count=8 "
                         "2>/dev/null | tr -d '\\0' | wc -c", COMMAND_TIMEOUT)
    assert re.search(rb"^\s*(\d+)\r?$", out, re.M), out
    counts = [int(x) for x in re.findall(rb"^\s*(\d+)\r?$", out, re.M)]
    expect = sum(len(str(i).replace("5", "")) + 1 for i in range(1, 20001))
    assert counts == [expect, 0], out


def test_poweroff(booted_max):
    booted_max.send("poweroff -f\n")
    assert booted_max.wait(EXIT_TIMEOUT) == 0, booted_max.tail()
    assert not HOST_FAULT.search(booted_max.err), booted_max.tail()


def test_rv64gc_lists_none(vmm, rvisor, guest, accel):
    if vmm != "rvisor":
        pytest.skip("--cpu is rvisor's")
    console = Console(cpu_argv(rvisor, guest, accel, False, "rv64gc"))
    try:
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        isa = isa_line(console.run("cat /proc/cpuinfo", COMMAND_TIMEOUT))
        names = isa.split("_")[1:]
        for ext in NEW:
            assert ext not in names, f"{ext} listed under --cpu rv64gc: {isa}"
        console.send("poweroff -f\n")
        assert console.wait(EXIT_TIMEOUT) == 0, console.tail()
    finally:
        console.close()


def test_config_file_cpu(vmm, rvisor, guest, tmp_path):
    """The configuration file's machine-config takes rvisor_cpu (rvisor's key, beside
    Firecracker's): "max" boots with the extensions; a bad value is one line, exit status 1."""
    if vmm != "rvisor":
        pytest.skip("the configuration file is rvisor's")

    def write(cpu):
        cfg = tmp_path / f"vm-{cpu}.json"
        cfg.write_text(json.dumps({
            "boot-source": {"kernel_image_path": guest["RVISOR_KERNEL"],
                            "initrd_path": guest["RVISOR_INITRD"],
                            "boot_args": "console=ttyS0"},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 256, "rvisor_cpu": cpu}}))
        return str(cfg)

    r = subprocess.run([rvisor, "--config-file", write("rv64gcv"), "--no-api"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    lines = [ln for ln in r.stderr.decode(errors="replace").splitlines() if ln.strip()]
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert "rvisor_cpu 'rv64gcv'" in lines[0] and "rv64gc, max" in lines[0], lines[0]

    console = Console([rvisor, "--config-file", write("max"), "--no-api"])
    try:
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        isa = isa_line(console.run("cat /proc/cpuinfo", COMMAND_TIMEOUT))
        assert "zbb" in isa.split("_"), isa
        console.send("poweroff -f\n")
        assert console.wait(EXIT_TIMEOUT) == 0, console.tail()
    finally:
        console.close()
