"""The hostile-guest suite: each case of tests/hostile/ (a bare-metal program that attacks
rvisor from inside, see tests/hostile/hostile.h) runs under both accelerators with the devices
it attacks attached, while a second VM (tests/hostile/ticker.c, printing "tick N") runs
beside it. A case passes when:
- the program reports its own checks passed ("NAME: PASS") and rvisor exits with the status
  the case defines (0, or 2 for a guest-reported failure the case asks for), never a signal;
- stderr holds no sanitizer report, no seccomp violation and no crash report;
- it ends within its time limit (no hang);
- the files beside the VM's disk image are untouched and the image keeps its size;
- the ticker made progress while the case's VM was alive (after its attack, before it was
  allowed to end) and again after it exited.

The case programs are built with `make -f tests/hostile/hostile.mk` (into build/hostile). Run
with --rvisor build-san/rvisor for the sanitizer build; with --accel only that accelerator.
"""

import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import HOST_FAULT, REPO, rvisor_run

BUILD = REPO / "build" / "hostile"
ATTACK_TIMEOUT = int(os.environ.get("HOSTILE_TIMEOUT", "90"))  # seconds for a case to reach "attack done" (the sanitizer build is slow)
EXIT_TIMEOUT = 30
TICK_TIMEOUT = 20  # seconds the ticker may take to print its next line
DISK_BYTES = 8 << 20
FAULT = re.compile(rb"seccomp|AddressSanitizer|LeakSanitizer|UndefinedBehavior|Segmentation")

ALL = ("--drive", "path={disk}", "--net", "user", "--balloon", "8",
       "--vsock", "cid=3,uds={dir}/vsock.sock")
DISK = ("--drive", "path={disk}")

# name: (rvisor arguments beyond the program and --mem 64M, expected exit status)
CASES = {
    # virtqueues (virtio 1.2 2.7) on virtio-rng, which every VM has
    "vq_desc_outside_ram": ((), 0),
    "vq_desc_mmio": ((), 0),
    "vq_desc_overlap_ring": ((), 0),
    "vq_loop": ((), 0),
    "vq_indirect_nested": ((), 0),
    "vq_huge_len": ((), 0),
    "vq_zero_len": ((), 0),
    "vq_avail_jump": ((), 0),
    "vq_head_out_of_range": ((), 0),
    "vq_size_pow2": ((), 0),
    "vq_size_zero": ((), 0),
    "vq_size_too_big": ((), 0),
    "vq_ring_outside_ram": ((), 0),
    "vq_notify_unready": ((), 0),
    # virtio-blk and feature negotiation
    "blk_reset_inflight": (DISK, 0),
    "blk_out_of_range": (DISK, 0),
    "feat_after_driver_ok": ((), 0),
    "feat_unoffered": (ALL, 0),
    # MMIO of every width to every register
    "mmio_widths_virtio": (ALL, 0),
    "mmio_widths_plic": ((), 0),
    "mmio_widths_aclint": ((), 0),
    "mmio_widths_uart": ((), 0),
    "mmio_widths_rtc": ((), 0),
    # address translation and fetches
    "pt_walk_mmio": ((), 0),
    "pt_walk_outside_ram": ((), 0),
    "jump_mmio": ((), 0),
    "jump_outside_ram": ((), 0),
    # interrupts and timers
    "irq_storm_ipi": ((), 0),
    "irq_storm_plic": ((), 0),
    "timer_mtimecmp": ((), 0),
    "timer_stimecmp": ((), 0),
    "sbi_set_timer": ((), 0),
    # floods
    "flood_console": ((), 0),
    "flood_net": (("--net", "user"), 0),
    "flood_disk": (DISK, 0),
    # code generation
    "smc_two_harts": (("--cpus", "2"), 0),
    "jit_cache_fill": (("--jit-cache", "1M"), 0),
    # SBI with garbage (S-mode on rvisor's own SBI)
    "sbi_garbage_ids": ((), 0),
    "sbi_hsm_bad": (("--cpus", "2"), 0),
    "sbi_rfence_ipi_masks": (("--cpus", "2"), 0),
    "sbi_dbcn_bad": ((), 0),
    "sbi_srst_bad": ((), 0),
    "sbi_srst_failure": ((), 2),
}

class FileVM:
    """A VM whose console output and stderr go to files, so that rvisor never has to drop
    output for a slow reader (a file takes it at once) and the flood can be counted exactly;
    its stdin is a pipe."""

    def __init__(self, argv, directory, name):
        self.argv = argv
        self.out_path = directory / f"{name}.out"
        self.err_path = directory / f"{name}.err"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=err,
                                         start_new_session=True)

    @property
    def out(self):
        return self.out_path.read_bytes()

    @property
    def err(self):
        return self.err_path.read_bytes()

    def tail(self, n=3000):
        return (f"command: {' '.join(self.argv)}\nexit status: {self.proc.poll()}\n"
                f"--- last console output ---\n{self.out[-n:].decode(errors='replace')}\n"
                f"--- stderr ---\n{self.err[-n:].decode(errors='replace')}")

    def expect(self, pattern, timeout, what):
        """Waits up to timeout seconds for the regex (bytes) in the console output."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            if regex.search(self.out):
                return
            if self.proc.poll() is not None and not regex.search(self.out):
                raise AssertionError(f"the VM exited before {what}\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s\n{self.tail()}")
            time.sleep(0.02)

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise AssertionError(f"the VM did not exit within {timeout} s\n{self.tail()}")

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self.proc.stdin.close()


FLOOD_LINE = (b"flood " + bytes(range(ord("g"), ord("z") + 1)) + bytes(range(ord("a"), ord("z") + 1))
              + bytes(range(ord("a"), ord("k") + 1)) + b"\n")


DROPPED = re.compile(rb"(\d+) bytes of guest output were dropped")


def check_flood(vm):
    """flood_console wrote 32768 lines of 64 bytes, then "attack done" lines until the test's
    go-ahead (their number in its "said N times" note). rvisor's console drops output its
    writer cannot take in time, counting it on stderr (the guest is never held up, and on a
    busy host that happens even with a file as stdout): what arrived and what was dropped add
    up to exactly what was written, and without drops the flood arrived whole and in order."""
    out = vm.out
    begin = out.index(b"flood_console: start\n") + len(b"flood_console: start\n")
    end = out.index(b"flood_console: # attack done said ")
    said = int(re.match(rb"flood_console: # attack done said (\d+) times", out[end:]).group(1))
    region = out[begin:end]
    done_line = b"flood_console: attack done\n"
    written = 32768 * len(FLOOD_LINE) + said * len(done_line)
    dropped = sum(int(n) for n in DROPPED.findall(vm.err))
    assert len(region) + dropped == written, \
        f"{len(region)} bytes arrived and {dropped} were dropped, of {written} written"
    assert set(region) <= set(FLOOD_LINE) | set(done_line), "bytes the guest never wrote"
    if not dropped:
        assert region == FLOOD_LINE * 32768 + done_line * said


# Extra checks on a case's console output.
CHECKS = {"flood_console": check_flood}


@pytest.fixture(scope="module", autouse=True)
def rvisor_only(vmm):
    if vmm != "rvisor":
        pytest.skip("the hostile-guest cases drive rvisor's own board and SBI")


@pytest.fixture(scope="module")
def programs():
    """Builds the cases (and the ticker) into build/hostile."""
    r = subprocess.run(["make", "-s", "-C", str(REPO), "-f", "tests/hostile/hostile.mk",
                        "hostile-cases"], capture_output=True, timeout=600)
    if r.returncode != 0:
        pytest.fail("building tests/hostile failed (needs riscv64-unknown-elf-gcc):\n"
                    + r.stderr.decode(errors="replace"))
    return BUILD


class Ticker:
    """The VM beside the attacks: its last "tick N" and whether it still runs."""

    TICK = re.compile(rb"tick (\d+)\n")

    def __init__(self, rvisor, accel, programs, directory):
        self.vm = FileVM(rvisor_run(rvisor, accel) + [
            "--firmware", str(programs / "ticker.elf"), "--mem", "16M"], directory,
            f"ticker-{accel}")

    def count(self):
        with open(self.vm.out_path, "rb") as f:
            f.seek(max(0, os.path.getsize(self.vm.out_path) - 64))
            found = self.TICK.findall(f.read())
        return int(found[-1]) if found else -1

    def wait_past(self, n, why):
        """Waits until the ticker prints a tick after n; fails if it stops or dies."""
        deadline = time.monotonic() + TICK_TIMEOUT
        while True:
            now = self.count()
            if now > n:
                return now
            if self.vm.proc.poll() is not None:
                pytest.fail(f"the VM beside the attack exited {why}\n{self.vm.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the VM beside the attack made no progress {why} "
                            f"(stuck at tick {n})\n{self.vm.tail()}")
            time.sleep(0.005)


@pytest.fixture(scope="module")
def tickers(rvisor, programs, tmp_path_factory):
    started = {}
    directory = tmp_path_factory.mktemp("ticker")

    def get(accel):
        if accel not in started:
            started[accel] = Ticker(rvisor, accel, programs, directory)
            started[accel].wait_past(-1, "at its start")
        return started[accel]

    yield get
    for t in started.values():
        t.vm.close()


def accels(config_accel):
    return [config_accel] if config_accel else ["jit", "interp"]


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        only = metafunc.config.getoption("--accel")
        metafunc.parametrize("accel_", accels(only))
        metafunc.parametrize("case", list(CASES))


def snapshot(directory):
    """Name -> (size, sha256) of every regular file in directory."""
    out = {}
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False):
            out[entry.name] = (entry.stat().st_size,
                               hashlib.sha256(open(entry.path, "rb").read()).hexdigest())
        else:
            out[entry.name] = ("not a regular file",)
    return out


def test_case(rvisor, programs, tickers, tmp_path, case, accel_):
    args, want_status = CASES[case]
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(DISK_BYTES)
    # Files beside the VM's own: nothing the guest does may reach them.
    (tmp_path / "host-secret.txt").write_bytes(os.urandom(4096))
    (tmp_path / "kernel-copy.bin").write_bytes(b"\x6f\x00\x00\x00" * 1024)
    before = snapshot(tmp_path)
    del before["disk.img"]

    mode = "--kernel" if case.startswith("sbi_") else "--firmware"
    argv = rvisor_run(rvisor, accel_) + [mode, str(programs / f"{case}.elf"), "--mem", "64M"]
    argv += [a.format(disk=disk, dir=tmp_path) for a in args]

    ticker = tickers(accel_)
    start_tick = ticker.count()
    logs = tmp_path / "logs"  # the console files: not beside the disk
    logs.mkdir()
    vm = FileVM(argv, logs, case)
    before["logs"] = ("not a regular file",)
    try:
        vm.expect(re.escape(f"{case}: attack done").encode(), ATTACK_TIMEOUT,
                  f"the end of {case}'s attack")
        assert vm.proc.poll() is None, f"{case} exited before its end\n{vm.tail()}"
        during = ticker.wait_past(start_tick, f"while {case} ran")
        vm.send("g")
        status = vm.wait(EXIT_TIMEOUT)
        ticker.wait_past(during, f"after {case} ended")
    finally:
        vm.close()

    detail = vm.tail()
    assert status >= 0, f"rvisor was killed by signal {-status}\n{detail}"
    assert status == want_status, f"exit status {status}, expected {want_status}\n{detail}"
    assert re.search(rb"^" + re.escape(case.encode()) + rb": PASS\r?$", vm.out, re.M), \
        f"no PASS line\n{detail}"
    assert not HOST_FAULT.search(vm.err) and not FAULT.search(vm.err), \
        f"a host-side fault was reported\n{detail}"
    if case in CHECKS:
        CHECKS[case](vm)

    after = snapshot(tmp_path)
    assert after.pop("disk.img")[0] == DISK_BYTES, "the disk image changed size"
    after.pop("vsock.sock", None)
    assert after == before, "files beside the VM's disk changed"
