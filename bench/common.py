"""Pieces the benchmarks share: where the guest images are, building a small C program for
the guest and adding it to the initramfs, a VM driven through its console on pipes, the
host's load average and CPU, and the arithmetic of their tables (ratios, geometric means).
"""

import gzip
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The guest images' location and guest.env are read as the integration tests read them.
sys.path.insert(0, str(REPO / "tests" / "integration"))
import conftest  # noqa: E402

MARKER = conftest.MARKER
CFLAGS = ["-std=gnu17", "-O2", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE"]


def load_guest_env():
    """The variables of guest.env as a dict; exits when get-guest.sh has not run."""
    env = conftest.load_guest_env()
    if env is None:
        sys.exit(f"bench: no {conftest.cache_dir() / 'guest.env'}: run scripts/get-guest.sh first")
    return env


def compile_c(src, out, guest):
    """Build the C file src into out: static for the guest (riscv64-linux-gnu-gcc, or
    $RISCV_LINUX_CC), or for the host (gcc). Exits when the compiler is missing."""
    cc = os.environ.get("RISCV_LINUX_CC", "riscv64-linux-gnu-gcc") if guest else "gcc"
    if not shutil.which(cc):
        sys.exit(f"bench: {cc} not found: run scripts/deps.sh")
    subprocess.run([cc, *CFLAGS, *(["-static"] if guest else []), "-o", str(out), str(src)],
                   check=True)


def initrd_with(work, base_initrd, files):
    """A copy of base_initrd (a newc archive, compressed or not) with files ({path in the
    guest: host path}) added as a second, gzip'd newc archive after it: Linux unpacks
    concatenated archives in order. Returns its path, in work."""
    root = work / "initrd-extra"
    for guest_path, host_path in files.items():
        dest = root / guest_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(host_path, dest)
    names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root, check=True,
                           capture_output=True).stdout
    archive = subprocess.run(["cpio", "--create", "--format=newc", "--owner=0:0", "--quiet"],
                             cwd=root, input=names, check=True, capture_output=True).stdout
    initrd = work / "initrd.img"
    with open(initrd, "wb") as f:
        f.write(Path(base_initrd).read_bytes())
        f.write(gzip.compress(archive, 1))
    return initrd


def stop(proc):
    """Kill a VM started in its own process group (start_new_session) and close its pipes."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for f in (proc.stdin, proc.stdout):
        try:
            f.close()
        except OSError:
            pass


def host_load_line(load_before):
    """One line naming the host's CPUs and its 1-minute load average at the start (given)
    and now."""
    return (f"host: {os.cpu_count()} CPUs, load average {load_before:.2f} at the start, "
            f"{os.getloadavg()[0]:.2f} at the end (other work on the host skews the figures)")


def ratio(a, b):
    """a / b, or None when either is missing (or b is 0)."""
    return a / b if a is not None and b else None


def geomean(values):
    """Geometric mean of the values that are there (not None, not 0), or None."""
    values = [v for v in values if v]
    if not values:
        return None
    product = 1.0
    for v in values:
        product *= v
    return product ** (1 / len(values))


def cpu_model():
    """The host CPU's model name from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def version(argv):
    """The first line argv prints (e.g. [PROGRAM, "--version"]), or "?"."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


class Guest:
    """A VM on pipes (console on stdin/stdout); every wait has a deadline. stderr goes to
    the file object given, or nowhere; env, if given, is its environment."""

    def __init__(self, argv, tag="bench", stderr=None, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr if stderr else subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        self.out = bytearray()
        self.pos = 0
        self.serial = 0
        self.tag = tag

    def _read(self, timeout):
        """Append what the console prints within timeout seconds; False at its end."""
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return True
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        self.out.extend(chunk)
        return bool(chunk)

    def expect(self, pattern, timeout):
        """The output up to the regex (bytes) past what was consumed, or None when it does
        not come within timeout seconds or the console ends."""
        regex = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(self.out, self.pos)
            if m:
                seen = bytes(self.out[self.pos:m.end()])
                self.pos = m.end()
                return seen
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(min(left, 0.5)):
                return None

    def send(self, command):
        """Type command and a line that ends with a unique tag; returns the tag's regex,
        for expect."""
        self.serial += 1
        tag = f"{self.tag}-done-{self.serial}"
        self.proc.stdin.write(f"{command}; echo {tag}-$((6*7))\n".encode())
        self.proc.stdin.flush()
        return re.escape(f"{tag}-42").encode()

    def run(self, command, timeout):
        """Run a shell command in the guest; its output, or None if it does not finish
        within timeout seconds."""
        return self.expect(self.send(command), timeout)

    def close(self):
        """Power off (reading the console meanwhile, so the guest never blocks on it)."""
        try:
            self.proc.stdin.write(b"poweroff -f\n")
            self.proc.stdin.flush()
            end = time.monotonic() + 20
            while self.proc.poll() is None and time.monotonic() < end and self._read(0.5):
                pass
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def tail(self):
        """The last console output, for error messages."""
        return bytes(self.out[-2000:]).decode(errors="replace")
