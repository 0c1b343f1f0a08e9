"""rvisor refuses bad usage and bad input files: exit status 1 and exactly one error line on
stderr that names the offending thing, and never a crash report."""

import shutil
import subprocess

import pytest

from conftest import HOST_FAULT

TIMEOUT = 30


@pytest.fixture(scope="module", autouse=True)
def rvisor_only(vmm):
    if vmm != "rvisor":
        pytest.skip("command-line checks apply to rvisor only")


@pytest.fixture
def tiny_kernel(tmp_path):
    """A valid raw kernel: one instruction, `j .` (an endless loop), so a VM that wrongly
    starts is stopped by the timeout instead of passing."""
    path = tmp_path / "loop.bin"
    path.write_bytes((0x0000006F).to_bytes(4, "little"))
    return str(path)


def refuse(rvisor, args, names):
    """Run `rvisor ARGS` and check it is refused with one error line that contains names."""
    try:
        r = subprocess.run(
            [rvisor, *args], stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"rvisor {' '.join(args)} ran for {TIMEOUT} s instead of refusing")
    err = r.stderr.decode(errors="replace")
    lines = [line for line in err.splitlines() if line.strip()]
    detail = f"rvisor {' '.join(args)}: exit {r.returncode}, stderr:\n{err}"
    assert not HOST_FAULT.search(r.stderr), detail
    assert r.returncode == 1, detail
    assert len(lines) == 1, detail
    assert names in lines[0], f"the error line does not name {names!r}\n{detail}"


def test_no_kernel(rvisor):
    refuse(rvisor, ["run"], "--kernel")


def test_missing_kernel_file(rvisor, tmp_path):
    path = str(tmp_path / "no-such-Image")
    refuse(rvisor, ["run", "--kernel", path], path)


def test_kernel_is_directory(rvisor, tmp_path):
    refuse(rvisor, ["run", "--kernel", str(tmp_path)], str(tmp_path))


def test_truncated_image(rvisor, guest, tmp_path):
    path = tmp_path / "Image-4k"
    with open(guest["RVISOR_KERNEL"], "rb") as f:
        path.write_bytes(f.read(4096))
    refuse(rvisor, ["run", "--kernel", str(path)], str(path))


def test_elf_for_another_architecture(rvisor, tmp_path):
    path = tmp_path / "x86-64-true"
    shutil.copyfile("/bin/true", path)
    refuse(rvisor, ["run", "--kernel", str(path)], str(path))


def test_initrd_larger_than_ram(rvisor, tiny_kernel, tmp_path):
    initrd = tmp_path / "initrd-100M"
    with open(initrd, "wb") as f:
        f.truncate(100 << 20)
    refuse(
        rvisor,
        ["run", "--kernel", tiny_kernel, "--mem", "64M", "--initrd", str(initrd)],
        str(initrd),
    )


def test_missing_initrd(rvisor, tiny_kernel, tmp_path):
    path = str(tmp_path / "no-such-initrd")
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--initrd", path], path)


def test_missing_firmware(rvisor, tiny_kernel, tmp_path):
    path = str(tmp_path / "no-such-fw.bin")
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--firmware", path], path)


def test_missing_u_boot(rvisor, guest, tmp_path):
    """OpenSBI with a U-Boot (the S-mode payload, --kernel) that is not there."""
    path = str(tmp_path / "u-boot.bin")
    refuse(rvisor, ["run", "--firmware", guest["RVISOR_FIRMWARE"], "--kernel", path], path)


def mbr(entries):
    """A first sector holding an MBR with the partitions (type, first sector, sectors)."""
    sector = bytearray(512)
    for i, (ptype, start, count) in enumerate(entries):
        e = 446 + 16 * i
        sector[e + 4] = ptype
        sector[e + 8:e + 12] = start.to_bytes(4, "little")
        sector[e + 12:e + 16] = count.to_bytes(4, "little")
    sector[510:512] = b"\x55\xaa"
    return bytes(sector)


def test_truncated_disk_image(rvisor, tiny_kernel, tmp_path):
    """A disk whose MBR partition ends past the end of the file: a copy cut short."""
    path = tmp_path / "disk.img"
    path.write_bytes(mbr([(0x83, 2048, 8 * 2048)]))
    with open(path, "r+b") as f:
        f.truncate(4 << 20)  # the partition table says 9 MiB
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--drive", f"path={path}"], "truncated")


def test_truncated_gpt_disk_image(rvisor, tiny_kernel, tmp_path):
    """A GPT disk whose backup header (named by the primary one) lies past the end."""
    path = tmp_path / "disk.img"
    header = bytearray(512)
    header[0:8] = b"EFI PART"
    header[32:40] = (16 * 2048 - 1).to_bytes(8, "little")  # the backup header's LBA: 16 MiB
    path.write_bytes(mbr([(0xEE, 1, 0xFFFFFFFF)]) + bytes(header))
    with open(path, "r+b") as f:
        f.truncate(8 << 20)
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--drive", f"path={path}"], "truncated")


@pytest.mark.parametrize("size", ["1M", "999T", "abc", "12Q", "-5M"])
def test_bad_mem(rvisor, tiny_kernel, size):
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--mem", size], size)


@pytest.mark.parametrize("count", ["0", "abc"])
def test_bad_cpus(rvisor, tiny_kernel, count):
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--cpus", count], "--cpus")


def test_unknown_option(rvisor, tiny_kernel):
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--bogus"], "--bogus")


def test_unknown_command(rvisor):
    refuse(rvisor, ["frobnicate"], "frobnicate")


@pytest.mark.parametrize("args,mentions", [(["--help"], b"run"), (["run", "--help"], b"--kernel")])
def test_help(rvisor, args, mentions):
    r = subprocess.run([rvisor, *args], capture_output=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert mentions in r.stdout
    assert r.stderr == b""


@pytest.mark.parametrize(
    "spec,mentions",
    [
        ("bridge", "bridge"),
        ("user,hostfwd=tcp:127.0.0.1:99999-:22", "99999"),
        ("user,mac=01:00:5e:00:00:01", "mac"),
        ("user,colour=blue", "colour"),
    ],
)
def test_bad_net(rvisor, tiny_kernel, spec, mentions):
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--net", spec], mentions)


def test_hostfwd_port_taken(rvisor, tiny_kernel):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        refuse(
            rvisor,
            ["run", "--kernel", tiny_kernel, "--net", f"user,hostfwd=tcp:127.0.0.1:{port}-:22"],
            str(port),
        )


def test_tap_cannot_be_opened(rvisor, tiny_kernel):
    # An interface name the kernel refuses, whether or not this user may create TAPs.
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--net", "tap=bad/name"], "bad/name")


@pytest.mark.parametrize(
    "args,mentions",
    [
        (["--cpu-affinity", "3-1"], "--cpu-affinity"),
        (["--cpu-affinity", "100000"], "--cpu-affinity"),
        (["--cpu-weight", "0"], "--cpu-weight"),
        (["--cpu-weight", "lots"], "--cpu-weight"),
        (["--console", "parallel"], "--console"),
        (["--transport", "isa"], "--transport"),
        (["--balloon", "lots"], "--balloon"),
        (["--balloon", "64,deflate=yes"], "--balloon"),
    ],
)
def test_bad_placement_and_console(rvisor, tiny_kernel, args, mentions):
    refuse(rvisor, ["run", "--kernel", tiny_kernel, *args], mentions)


@pytest.mark.parametrize("value", ["fast", "", "JIT", "kvm"])
def test_bad_accel(rvisor, tiny_kernel, value):
    """An unknown accelerator is refused, naming the value and the choices."""
    try:
        r = subprocess.run(
            [rvisor, "run", "--kernel", tiny_kernel, "--accel", value],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"--accel {value!r} ran instead of being refused")
    err = r.stderr.decode(errors="replace")
    lines = [line for line in err.splitlines() if line.strip()]
    assert r.returncode == 1, err
    assert len(lines) == 1, err
    assert f"--accel '{value}'" in lines[0] and "jit, interp" in lines[0], err


@pytest.mark.parametrize("value", ["rv64gcv", "", "MAX", "rva23", "rv64gc,zba"])
def test_bad_cpu(rvisor, tiny_kernel, value):
    """An unknown CPU model is refused, naming the value and the choices."""
    try:
        r = subprocess.run(
            [rvisor, "run", "--kernel", tiny_kernel, "--cpu", value],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"--cpu {value!r} ran instead of being refused")
    err = r.stderr.decode(errors="replace")
    lines = [line for line in err.splitlines() if line.strip()]
    assert r.returncode == 1, err
    assert len(lines) == 1, err
    assert f"--cpu '{value}'" in lines[0] and "rv64gc, max" in lines[0], err


@pytest.mark.parametrize("value", ["0", "512K", "2G", "lots", "-1M"])
def test_bad_jit_cache(rvisor, tiny_kernel, value):
    refuse(rvisor, ["run", "--kernel", tiny_kernel, "--jit-cache", value], "--jit-cache")


@pytest.mark.parametrize("value", ["3", "-1", "two", "", "22"])
@pytest.mark.parametrize("command", ["run", "restore", "api"])
def test_bad_seccomp_level(rvisor, tiny_kernel, tmp_path, command, value):
    args = {
        "run": ["run", "--kernel", tiny_kernel],
        "restore": ["restore", "--snapshot", "S", "--mem-file", "M"],
        "api": ["--api-sock", str(tmp_path / "api.sock")],
    }[command]
    refuse(rvisor, args + ["--seccomp-level", value], f"--seccomp-level '{value}'")
