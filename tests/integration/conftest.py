"""Shared pieces of rvisor's integration tests: where the binary and the guest images are,
and a console that drives a running VM through pipes with a timeout on every wait.

The tests target build/rvisor. For checking the harness itself they can drive QEMU instead:
`--vmm qemu` (or RVISOR_TEST_VMM=qemu); tests of rvisor's own command line are then skipped.
`--accel jit|interp` (or RVISOR_ACCEL) runs every guest under that accelerator; without it
rvisor picks its own default. `--landlock` (or RVISOR_TEST_LANDLOCK=1) runs every rvisor that
serves the API (--api-sock, --config-file, restore, receive) under Landlock, allowed only
pytest's temporary directories (read-write) and the guest images (read-only); `rvisor run` is
under Landlock in any case.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARKER = b"rvisor-guest: init started"
# Anything that means the host process itself went wrong, whatever the exit status.
HOST_FAULT = re.compile(rb"Traceback \(most recent call last\)|Sanitizer|runtime error:")


def pytest_addoption(parser):
    parser.addoption(
        "--vmm",
        choices=("rvisor", "qemu"),
        default=os.environ.get("RVISOR_TEST_VMM", "rvisor"),
        help="the VMM to boot guests with (default rvisor; qemu checks the harness)",
    )
    parser.addoption(
        "--accel",
        choices=("jit", "interp"),
        default=os.environ.get("RVISOR_ACCEL") or None,
        help="rvisor's --accel for every guest (default: none given, rvisor's own default)",
    )
    parser.addoption(
        "--landlock",
        action="store_true",
        default=os.environ.get("RVISOR_TEST_LANDLOCK", "") not in ("", "0"),
        help="run rvisor's API modes under Landlock (--landlock-rule for the temporary "
             "directories and the guest images)",
    )
    parser.addoption(
        "--rvisor",
        default=os.environ.get("RVISOR_BIN", str(REPO / "build" / "rvisor")),
        help="path of the rvisor binary (default build/rvisor)",
    )


def pytest_configure(config):
    accel = config.getoption("--accel")
    if accel not in (None, "jit", "interp"):
        raise pytest.UsageError(f"RVISOR_ACCEL={accel!r} is not one of: jit, interp")


def pytest_report_header(config):
    return (f"rvisor accelerator: {config.getoption('--accel') or 'rvisor default'}"
            + (", API modes under Landlock" if config.getoption("--landlock") else ""))


API_MODES = ("--api-sock", "--config-file", "--no-api", "restore", "receive")


@pytest.fixture(autouse=True)
def landlock_rules(request, monkeypatch, tmp_path_factory):
    """With --landlock: every rvisor started in an API mode (and not given Landlock options
    of its own) gets --landlock-rule options for the temporary directories (read-write) and
    the guest images (read-only)."""
    if not request.config.getoption("--landlock"):
        return
    rvisor_bin = request.config.getoption("--rvisor")
    # /etc/hostname: the tests' stock read-only file.
    rules = ["--landlock-rule", f"{tmp_path_factory.getbasetemp()}:rw",
             "--landlock-rule", "/etc/hostname:ro"]
    if cache_dir().is_dir():
        rules += ["--landlock-rule", f"{cache_dir()}:ro"]
    popen = subprocess.Popen

    def popen_with_rules(argv, *args, **kwargs):
        if (isinstance(argv, (list, tuple)) and len(argv) > 1 and str(argv[0]) == rvisor_bin
                and any(str(argv[1]).startswith(m) for m in API_MODES)
                and not {"--no-landlock", "--landlock-rule", "--help"} & set(map(str, argv))):
            argv = list(argv) + rules
        return popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen_with_rules)


def cache_dir():
    """The directory scripts/get-guest.sh fills (same rule as the script)."""
    if os.environ.get("RVISOR_CACHE"):
        return Path(os.environ["RVISOR_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "rvisor"


def load_guest_env():
    """The variables of guest.env as a dict, or None when get-guest.sh has not run."""
    env_file = cache_dir() / "guest.env"
    if not env_file.is_file():
        return None
    env = {}
    for line in env_file.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            words = shlex.split(value)
            env[key] = words[0] if words else ""
    return env


@pytest.fixture(scope="session")
def vmm(request):
    """'rvisor' or 'qemu'."""
    return request.config.getoption("--vmm")


@pytest.fixture(scope="session")
def accel(request):
    """The accelerator to run guests under ('jit' or 'interp'), or None for rvisor's default."""
    return request.config.getoption("--accel")


def rvisor_run(rvisor_bin, accel):
    """The start of a command line running a VM on rvisor_bin under accel (None: the default)."""
    return [rvisor_bin, "run"] + (["--accel", accel] if accel else [])


@pytest.fixture(scope="session")
def rvisor(request):
    """Path of the rvisor binary; fails (not skips) when it is missing: it is under test."""
    path = Path(request.config.getoption("--rvisor"))
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing or not executable: run `make` first")
    return str(path)


@pytest.fixture(scope="session")
def guest():
    """The guest images from scripts/get-guest.sh; skips the test when they are missing."""
    env = load_guest_env()
    missing = "run scripts/get-guest.sh (scripts/test.sh does)"
    if env is None:
        pytest.skip(f"guest images missing: no {cache_dir() / 'guest.env'}; {missing}")
    for key in ("RVISOR_KERNEL", "RVISOR_INITRD", "RVISOR_FIRMWARE"):
        if not Path(env.get(key, "")).is_file():
            pytest.skip(f"guest images missing: {key}={env.get(key)!r}; {missing}")
    return env


class Console:
    """A VM process with its console (stdin/stdout) and stderr on pipes.

    Output is collected by reader threads; expect() waits for a pattern with a deadline, so a
    guest that stops talking fails the test instead of hanging it.
    """

    def __init__(self, argv):
        self.argv = argv
        self.out = bytearray()
        self.err = bytearray()
        self.pos = 0
        self.cond = threading.Condition()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _pump(self, pipe, buf):
        while True:
            chunk = os.read(pipe.fileno(), 65536)
            with self.cond:
                if not chunk:
                    self.cond.notify_all()
                    return
                buf.extend(chunk)
                self.cond.notify_all()

    def tail(self, n=3000):
        return (
            f"command: {shlex.join(self.argv)}\n"
            f"exit status: {self.proc.poll()}\n"
            f"--- last console output ---\n{bytes(self.out[-n:]).decode(errors='replace')}\n"
            f"--- stderr ---\n{bytes(self.err[-n:]).decode(errors='replace')}"
        )

    def expect(self, pattern, timeout, what):
        """Wait up to timeout seconds for the regex (bytes) in output not yet consumed.
        Returns the output up to and including the match, and consumes it."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                m = regex.search(self.out, self.pos)
                if m:
                    seen = bytes(self.out[self.pos : m.end()])
                    self.pos = m.end()
                    return seen
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {what} within {timeout} s\n{self.tail()}")
                if self.proc.poll() is not None and not any(t.is_alive() for t in self.readers):
                    raise AssertionError(f"the VM exited before {what}\n{self.tail()}")
                self.cond.wait(min(left, 0.5))

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, command, timeout=60):
        """Run a shell command in the guest; returns what the console printed meanwhile
        (the echoed command line included). The end is recognised by an arithmetic result
        that the echoed command line itself does not contain."""
        self.serial = getattr(self, "serial", 0) + 1
        tag = f"rvisor-done-{self.serial}"
        self.send(f"{command}; echo {tag}-$((6*7))\n")
        return self.expect(re.escape(f"{tag}-42").encode(), timeout, f"end of `{command}`")

    def wait(self, timeout):
        """The exit status, waiting at most timeout seconds (then the VM is killed)."""
        try:
            status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the VM did not exit within {timeout} s\n{self.tail()}")
        for t in self.readers:
            t.join(5)
        return status

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def close(self):
        self.kill()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def boot_argv(vmm, rvisor_bin, guest_env, firmware, mem="512M", accel=None):
    """The command line that boots the test guest with the built-in SBI or with OpenSBI, on
    rvisor under accel (None: rvisor's default)."""
    kernel, initrd = guest_env["RVISOR_KERNEL"], guest_env["RVISOR_INITRD"]
    if vmm == "qemu":
        bios = guest_env["RVISOR_FIRMWARE"] if firmware else "default"
        return [
            "qemu-system-riscv64", "-M", "virt", "-m", mem, "-nographic", "-bios", bios,
            "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0",
        ]
    argv = rvisor_run(rvisor_bin, accel) + ["--kernel", kernel, "--initrd", initrd, "--mem", mem,
                                            "--cmdline", "console=ttyS0"]
    if firmware:
        argv += ["--firmware", guest_env["RVISOR_FIRMWARE"]]
    return argv


# ---- host tools and ordered tests (shared by the virtio-blk and Debian root tests)

TOOL_TIMEOUT = 60  # seconds for one e2fsprogs command on the host


def tool(name):
    """Path of an e2fsprogs program (in sbin, which a non-root PATH may lack)."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/sbin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"{name} not found: run scripts/deps.sh (e2fsprogs)")


def run_tool(argv):
    """Run a host tool with no stdin; its CompletedProcess (output captured)."""
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=TOOL_TIMEOUT)


def debugfs_cat(image, path):
    """The bytes of file path in the ext4 image, read on the host with debugfs."""
    r = run_tool([tool("debugfs"), "-R", f"cat {path}", str(image)])
    assert r.returncode == 0, f"debugfs cat {path}: {r.stderr.decode(errors='replace')}"
    return r.stdout


class Shared:
    """State the ordered tests of one VM hand on; a failed boot fails each of them."""

    def __init__(self):
        self.console = None
        self.error = None

    def vm(self):
        if self.error:
            pytest.fail(self.error, pytrace=False)
        return self.console


# ---- a second VM on a disk (image locking)

SPIN_FIRMWARE = bytes.fromhex("6f000000")  # `j .`: a raw firmware that runs until killed
SECOND_VM_WAIT = 1.5  # seconds a VM given a free disk must keep running


def second_vm(argv, wait=SECOND_VM_WAIT):
    """Start a VM that only holds its disks (argv runs SPIN_FIRMWARE or an idle QEMU): returns
    (None, "") when it is still running after `wait` seconds (then it is killed), else
    (its exit status, its stderr)."""
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        _, err = p.communicate(timeout=wait)
        return p.returncode, err.decode(errors="replace")
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return None, ""


def spin_argv(rvisor_bin, firmware, drive):
    """rvisor running SPIN_FIRMWARE (written to path firmware) with one --drive drive."""
    Path(firmware).write_bytes(SPIN_FIRMWARE)
    return [rvisor_bin, "run", "--firmware", str(firmware), "--mem", "16M", "--drive", drive]
