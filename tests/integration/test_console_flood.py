"""The console never stops the guest: a bare-metal program floods the UART while nothing reads
rvisor's stdout (a full pipe), or after the reader went away (EPIPE). The guest must run to its
end on its own, output that did not fit is dropped with a line on stderr, and output written
after the reader catches up arrives whole.
"""

import os
import subprocess
import time

import pytest

# Writes FLOOD bytes to the UART (lines of 63 letters and a newline), waits WAIT ticks of the
# 10 MHz mtime, prints "flood: done", and powers off through the test finisher.
FLOOD_S = r"""
	.globl _start
_start:
	li t0, 0x10000000
	li t1, FLOOD
	li t2, 0
1:	li a0, 'a'
	addi t2, t2, 1
	andi a1, t2, 63
	bnez a1, 2f
	li a0, '\n'
2:	sb a0, 0(t0)
	addi t1, t1, -1
	bnez t1, 1b
	li t3, 0x200bff8
	ld t4, 0(t3)
	li t5, WAIT
	add t4, t4, t5
3:	ld t6, 0(t3)
	bltu t6, t4, 3b
	la a2, msg
4:	lbu a0, 0(a2)
	beqz a0, 5f
	sb a0, 0(t0)
	addi a2, a2, 1
	j 4b
5:	li t0, 0x100000
	li t1, 0x5555
	sw t1, 0(t0)
6:	j 6b
msg:
	.asciz "\nflood: done\n"
"""

NOT_READ = b"console output is not being read"
READ_AGAIN = b"console output is being read again"
CLOSED = b"console output is closed"


def build(tmp_path, flood, wait_ticks):
    src = tmp_path / "flood.S"
    src.write_text(FLOOD_S)
    elf, raw = tmp_path / "flood.elf", tmp_path / "flood.bin"
    r = subprocess.run(
        ["riscv64-unknown-elf-gcc", "-march=rv64g", "-mabi=lp64", "-nostdlib", "-static",
         f"-DFLOOD={flood}", f"-DWAIT={wait_ticks}", "-Wl,-Ttext=0x80000000",
         "-Wl,--build-id=none", "-o", str(elf), str(src)],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    r = subprocess.run(["riscv64-unknown-elf-objcopy", "-O", "binary", str(elf), str(raw)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return str(raw)


@pytest.fixture
def need_rvisor(vmm):
    if vmm != "rvisor":
        pytest.skip("rvisor's own console")


def start(rvisor, program, stdout):
    return subprocess.Popen([rvisor, "run", "--firmware", program, "--mem", "64M"],
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)


def test_unread_stdout_does_not_stop_the_guest(need_rvisor, rvisor, tmp_path):
    """4 MiB into a pipe nobody reads: the guest finishes and powers off by itself."""
    program = build(tmp_path, 4 << 20, 0)
    r, w = os.pipe()
    t0 = time.monotonic()
    proc = start(rvisor, program, w)
    os.close(w)
    try:
        err = proc.communicate(timeout=60)[1]  # stdout's pipe is never read meanwhile
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.monotonic() - t0
    os.set_blocking(r, False)
    got = bytearray()
    while True:
        try:
            chunk = os.read(r, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        got += chunk
    os.close(r)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert err.count(NOT_READ) == 1, err.decode(errors="replace")
    assert got.startswith(b"a" * 63 + b"\n"), got[:80]
    assert len(got) < 1 << 20, len(got)  # most was dropped: the pipe and the ring at most
    assert elapsed < 30, elapsed


def test_output_resumes_when_the_reader_catches_up(need_rvisor, rvisor, tmp_path):
    """Nothing read for 3 s while the guest writes 1 MiB and then waits 6 s: the line it prints
    after the reader caught up arrives, and stderr counts what was dropped."""
    program = build(tmp_path, 1 << 20, 60_000_000)
    r, w = os.pipe()
    proc = start(rvisor, program, w)
    os.close(w)
    try:
        time.sleep(3)
        assert proc.poll() is None, "the guest ended before its wait"
        with os.fdopen(r, "rb") as f:
            out = f.read()  # to EOF: the process ends
        err = proc.stderr.read()
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert status == 0, err.decode(errors="replace")
    assert out.endswith(b"\nflood: done\n"), out[-200:]
    assert NOT_READ in err and READ_AGAIN in err, err.decode(errors="replace")
    assert b"bytes of guest output were dropped" in err


def test_closed_stdout(need_rvisor, rvisor, tmp_path):
    """The reader went away before the guest wrote: no SIGPIPE, one line, status 0."""
    program = build(tmp_path, 256 << 10, 0)
    r, w = os.pipe()
    os.close(r)
    proc = start(rvisor, program, w)
    os.close(w)
    try:
        err = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode(errors="replace")
    assert err.count(CLOSED) == 1, err.decode(errors="replace")
