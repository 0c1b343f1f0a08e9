"""Smoke check of the translator benchmark (bench/jit.py): one small bare-metal workload, one
run on each machine but QEMU. It must exit 0 and print its table with a figure for every
machine that is available; the figures themselves are not judged (a benchmark is no test)."""

import re
import subprocess
import sys

import pytest

from conftest import REPO

TIMEOUT = 120
WORKLOAD = "crc32"


@pytest.fixture(scope="module", autouse=True)
def rvisor_only(vmm):
    if vmm != "rvisor":
        pytest.skip("bench/jit.py measures rvisor")


def number(cell):
    return re.fullmatch(r"\d+(\.\d+)?", cell) is not None


def test_quick_run_prints_table(rvisor):
    argv = [sys.executable, str(REPO / "bench" / "jit.py"), "--quick", "--no-qemu", "--only",
            WORKLOAD, "--rvisor", rvisor]
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"bench/jit.py --quick ran for more than {TIMEOUT} s")
    out = r.stdout
    detail = f"exit {r.returncode}\nstdout:\n{out}\nstderr:\n{r.stderr}"
    assert r.returncode == 0, detail
    assert "FAILED" not in out, detail

    header = re.search(r"^workload\s+jit s\s+interp s\s+QEMU s\s+native s\s+jit/QEMU\s+"
                       r"jit/interp\s+jit/native$", out, re.M)
    assert header, detail
    rows = re.findall(rf"^{WORKLOAD}\s+(.*)$", out, re.M)
    assert len(rows) == 1, detail
    cells = rows[0].split()
    assert len(cells) == 7, detail
    jit, interp, qemu, native, jit_qemu, jit_interp, jit_native = cells
    # QEMU is left out; the interpreter and the host always run.
    assert qemu == "n/a" and jit_qemu == "-", detail
    assert number(interp) and number(native), detail
    # The jit has figures exactly when the binary has a translator back end.
    if re.search(r"^jit: available$", out, re.M):
        assert number(jit) and number(jit_interp) and number(jit_native), detail
        geo = re.search(r"^geomean\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
        assert geo and geo.group(1) == "-" and number(geo.group(2)), detail
    else:
        assert re.search(r"^jit: unavailable: .+", out, re.M), detail
        assert jit == "n/a" and jit_interp == "-" and jit_native == "-", detail
    assert re.search(r"^host: \d+ CPUs, load average [\d.]+ at the start", out, re.M), detail
