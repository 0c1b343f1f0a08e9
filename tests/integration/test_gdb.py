"""rvisor's GDB stub (`--gdb tcp:HOST:PORT`, `--gdb-wait`), driven by gdb-multiarch in batch
mode as a kernel developer would: a bare-metal program (tests/guest/gdbstub.S) started stopped,
with a breakpoint, memory reads, a single step and a watchpoint; the Debian kernel stopped at a
syscall handler found in its /proc/kallsyms while it runs at the shell; and bad input (noise,
bad checksums, overlong packets, a second client, bad --gdb values), which must neither crash
nor stop the VM for good."""

import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import HOST_FAULT, MARKER, REPO, Console, boot_argv, rvisor_run

GDB_TIMEOUT = 120  # seconds for one gdb-multiarch session
PORT_RE = re.compile(rb"gdb stub listening on tcp:127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="module", autouse=True)
def rvisor_only(vmm):
    if vmm != "rvisor":
        pytest.skip("rvisor's GDB stub")


@pytest.fixture(scope="module")
def gdb():
    path = shutil.which("gdb-multiarch")
    if not path:
        pytest.fail("gdb-multiarch not found: run scripts/deps.sh")
    return path


@pytest.fixture(scope="module")
def guest_elf(tmp_path_factory):
    """tests/guest/gdbstub.S built (as tests/guest/run.sh builds it) into a private dir."""
    out = tmp_path_factory.mktemp("guest")
    r = subprocess.run(
        ["make", "-s", "-C", str(REPO), "-f", "tests/guest/guest.mk", f"GUEST_BUILD={out}",
         f"{out}/gdbstub.elf"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=120,
    )
    assert r.returncode == 0, f"building gdbstub.elf failed:\n{r.stderr.decode()}"
    return str(out / "gdbstub.elf")


def wait_port(con, timeout=30):
    """The port rvisor's stub listens on, from its stderr line."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with con.cond:
            m = PORT_RE.search(con.err)
            if m:
                return int(m.group(1))
            if con.proc.poll() is not None:
                break
            con.cond.wait(0.2)
    raise AssertionError(f"no 'gdb stub listening' line\n{con.tail()}")


def gdb_argv(gdb, port, commands, elf=None):
    argv = [gdb, "-batch", "-nx", "-ex", "set architecture riscv:rv64",
            "-ex", "set pagination off", "-ex", "set confirm off"]
    if elf:
        argv += ["-ex", f"file {elf}"]
    argv += ["-ex", f"target remote 127.0.0.1:{port}"]
    for c in commands:
        argv += ["-ex", c]
    return argv


def run_gdb(gdb, port, commands, elf=None):
    r = subprocess.run(gdb_argv(gdb, port, commands, elf), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=GDB_TIMEOUT)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def value(out, name):
    """The hex value of a `printf "NAME=%lx\\n"` line of gdb's output."""
    m = re.search(rf"^{name}=([0-9a-f]+)$", out, re.M)
    assert m, f"gdb printed no {name}= line:\n{out}"
    return int(m.group(1), 16)


def check_clean_exit(con, status=0, timeout=60):
    got = con.wait(timeout)
    assert got == status, f"exit status {got}, not {status}\n{con.tail()}"
    assert not HOST_FAULT.search(con.err), con.tail()


# ---- 1. a bare-metal program, started stopped

def test_bare_metal_program(rvisor, accel, gdb, guest_elf):
    con = Console(rvisor_run(rvisor, accel) + ["--firmware", guest_elf, "--mem", "64M",
                                               "--gdb", "tcp::0", "--gdb-wait"])
    try:
        port = wait_port(con)
        time.sleep(0.5)
        assert b"gdbstub:" not in con.out, "the guest ran before the debugger continued"
        out = run_gdb(gdb, port, [
            'printf "PC0=%lx\\n", $pc',
            'printf "PRIV=%lx\\n", $priv',
            'printf "MISA=%lx\\n", $misa',
            'printf "SYM=%lx\\n", (long)&gdb_break_here',
            "info threads",
            "break gdb_break_here",
            "continue",
            'printf "BP=%lx\\n", $pc',
            'printf "S0=%lx\\n", $s0',
            'printf "MAGIC=%lx\\n", *(long *)&gdb_magic',
            "x/2gx &gdb_magic",
            "info registers",
            "stepi",
            'printf "STEP=%lx\\n", $pc',
            'printf "COUNTER=%lx\\n", *(long *)&gdb_counter',
            "delete",
            "watch *(long *)&gdb_counter",
            "continue",
            'printf "WATCH=%lx\\n", $pc',
            'printf "COUNTER2=%lx\\n", *(long *)&gdb_counter',
            "delete",
            "detach",
        ], elf=guest_elf)
        print(out)
        detail = f"gdb output:\n{out}\n{con.tail()}"
        sym = value(out, "SYM")
        assert value(out, "PC0") == 0x80000000, detail  # stopped before the first instruction
        assert value(out, "PRIV") == 3, detail  # M-mode
        assert value(out, "MISA") >> 62 == 2, detail  # RV64
        assert "Thread 1" in out, detail
        assert "Breakpoint 1, " in out, detail
        assert value(out, "BP") == sym, detail
        assert value(out, "S0") == 1, detail  # the first round: the store not made yet
        assert value(out, "MAGIC") == 0x1122334455667788, detail
        assert value(out, "STEP") == sym + 4, detail  # exactly one 4-byte instruction
        assert value(out, "COUNTER") == 1, detail  # the stepped store
        assert re.search(r"Old value = 1\s+New value = 2", out), detail
        assert value(out, "WATCH") == sym + 4, detail  # just after the store
        assert value(out, "COUNTER2") == 2, detail
        assert "detached" in out, detail
        # Detached: the program runs to its end on its own.
        check_clean_exit(con, 0)
        assert b"gdbstub: PASS" in con.out, con.tail()
    finally:
        con.close()


# ---- 2. the Debian kernel at its shell

def kallsyms_address(con, names):
    """The address of the first of names (text symbols) in the guest's /proc/kallsyms."""
    out = con.run("grep -E ' [tT] (" + "|".join(names) + ")$' /proc/kallsyms", timeout=60)
    for name in names:
        m = re.search(rb"^([0-9a-f]{16}) [tT] " + re.escape(name.encode()) + rb"\r?$", out, re.M)
        if m and int(m.group(1), 16):
            return int(m.group(1), 16)
    raise AssertionError(f"none of {names} in /proc/kallsyms:\n{out.decode(errors='replace')}")


def uptime(con):
    """The guest's /proc/uptime, seconds."""
    out = con.run("cat /proc/uptime", timeout=60)
    m = re.search(rb"^(\d+\.\d+) \d+\.\d+\r?$", out, re.M)
    assert m, out
    return float(m.group(1))


def test_debian_kernel_syscall_breakpoint(rvisor, accel, gdb, guest):
    argv = boot_argv("rvisor", rvisor, guest, firmware=False, accel=accel)
    con = Console(argv + ["--cpus", "2", "--gdb", "tcp::0"])
    try:
        port = wait_port(con)
        con.expect(MARKER, 180, "init's marker")
        con.run("echo ready", timeout=60)
        addr = kallsyms_address(con, ["__riscv_sys_sync", "__se_sys_sync", "sys_sync"])
        up0, host0 = uptime(con), time.monotonic()
        proc = subprocess.Popen(gdb_argv(gdb, port, [
            "info threads",
            f"break *{addr:#x}",
            "continue",
            'printf "HIT=%lx\\n", $pc',
            'printf "PRIV=%lx\\n", $priv',
            'printf "SATP=%lx\\n", $satp',
            'printf "SP=%lx\\n", $sp',
            f'printf "INSN=%x\\n", *(unsigned short *){addr:#x}',
            "info registers ra a0 a7",
            "x/2i $pc",
            "stepi",
            'printf "STEP=%lx\\n", $pc',
            "shell sleep 3",  # the guest's clock stands still meanwhile
            "delete",
            "detach",
        ]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = []
        attached = threading.Event()

        def pump():
            for raw in proc.stdout:
                line = raw.decode(errors="replace")
                lines.append(line)
                if line.startswith("Breakpoint 1 at"):
                    attached.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        assert attached.wait(GDB_TIMEOUT), "gdb did not attach:\n" + "".join(lines)
        # The guest is stopped: the shell reads this once gdb has set the breakpoint and
        # continued (the harts interpret while it is set), and sync(2) hits it.
        con.send("sync\n")
        try:
            proc.wait(GDB_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("gdb did not finish:\n" + "".join(lines) + con.tail())
        reader.join(10)
        out = "".join(lines)
        print(out)
        detail = f"gdb output:\n{out}\n{con.tail()}"
        assert value(out, "HIT") == addr, detail
        assert value(out, "PRIV") == 1, detail  # in the kernel: S-mode
        assert value(out, "SATP") >> 60 in (8, 9, 10), detail  # paging on
        assert value(out, "SP") >= 0xff00000000000000, detail  # a kernel stack
        length = 4 if value(out, "INSN") & 3 == 3 else 2
        assert value(out, "STEP") == addr + length, detail
        assert "Thread 2 " in out, detail  # one thread per hart
        assert "detached" in out, detail
        # The shell works again; the guest's clock did not count the 3 s stop.
        assert b"ok-5" in con.run("echo ok-$((2+3))", timeout=120)
        guest_s, host_s = uptime(con) - up0, time.monotonic() - host0
        assert guest_s < host_s - 2.5, f"guest {guest_s:.2f} s, host {host_s:.2f} s"
        # The machine powers off cleanly.
        con.send("poweroff -f\n")
        check_clean_exit(con, 0, timeout=60)
    finally:
        con.close()


# ---- 3. bad input

# A bare-metal program that prints '.' every few million instructions, forever.
TICKER = """
    .globl _start
_start:
    li a0, 0x10000000
    li a1, '.'
1:  sb a1, 0(a0)
    li t0, 3000000
2:  addi t0, t0, -1
    bnez t0, 2b
    j 1b
"""


@pytest.fixture(scope="module")
def ticker(tmp_path_factory):
    d = tmp_path_factory.mktemp("ticker")
    (d / "ticker.S").write_text(TICKER)
    r = subprocess.run(
        ["riscv64-unknown-elf-gcc", "-march=rv64g", "-mabi=lp64", "-nostdlib", "-static",
         "-Wl,-Ttext=0x80000000", "-Wl,--build-id=none", "-o", str(d / "ticker.elf"),
         str(d / "ticker.S")],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    r = subprocess.run(
        ["riscv64-unknown-elf-objcopy", "-O", "binary", str(d / "ticker.elf"),
         str(d / "ticker.bin")],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr.decode()
    return str(d / "ticker.bin")  # raw: loaded at RAM's base


def frame(data):
    return b"$" + data + b"#" + b"%02x" % (sum(data) & 0xFF)


def recv_some(s, want, timeout=10):
    """Bytes from s until want appears (or the peer closes): all received."""
    buf = b""
    deadline = time.monotonic() + timeout
    while want not in buf and time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


PACKET_RE = re.compile(rb"\$[^#]*#[0-9a-f]{2}")


def recv_reply(s, timeout=10):
    """Bytes from s up to and including the first whole packet (or all, on a timeout)."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not PACKET_RE.search(buf) and time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:  # closed with our bytes unread: refused
            break
        if not chunk:
            break
        buf += chunk
    return buf


def output_grows(con, seconds=1.0):
    before = len(con.out)
    time.sleep(seconds)
    return len(con.out) > before


def stays_quiet(con, seconds=0.5):
    """True when the guest's output does not grow for seconds, after what it wrote before
    it stopped has had time to reach the test's reader thread."""
    time.sleep(0.3)
    return not output_grows(con, seconds)


def test_bad_clients(rvisor, accel, ticker):
    con = Console(rvisor_run(rvisor, accel) + ["--firmware", ticker, "--mem", "16M",
                                               "--gdb", "tcp::0"])
    try:
        port = wait_port(con)
        assert output_grows(con), "the ticker does not tick\n" + con.tail()
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        # Connecting stops the guest.
        time.sleep(0.5)
        assert not output_grows(con), "the guest runs while a debugger is attached"
        # Noise between packets is ignored; a bad checksum gets '-'.
        s.sendall(b"garbage\r\n\xff\x00 #00 ")
        s.sendall(b"$g#00")
        assert recv_some(s, b"-") == b"-"
        s.sendall(b"$?#zz")
        assert recv_some(s, b"-") == b"-"
        # A truncated packet, then a good one: only the good one is answered.
        s.sendall(b"$m80000000,4" + frame(b"?"))
        assert recv_reply(s).startswith(b"+$T05thread:1;#")
        # Overlong: acked and refused.
        s.sendall(frame(b"q" * 20000))
        assert recv_reply(s) == b"+" + frame(b"E01")
        # Malformed commands get errors; binary junk too.
        for bad in (b"m", b"mzz,4", b"M80000000,4:zz", b"p", b"Z0,", b"vCont;x", b"H",
                    b"m\x00\xff", b"X1,9999999:"):
            s.sendall(frame(bad))
            reply = recv_reply(s)
            assert reply.startswith(b"+$E") or reply.startswith(b"+$#"), (bad, reply)
        s.sendall(frame(b"m80000000,4"))
        assert recv_reply(s).startswith(b"+$"), "the stub stopped answering"
        # A second client is refused while one is attached.
        s2 = socket.create_connection(("127.0.0.1", port), timeout=10)
        s2.sendall(frame(b"?"))
        assert recv_reply(s2, timeout=5) == b"", "a second client was served"
        s2.close()
        # Still stopped; the first client goes away without detaching: the guest runs on.
        assert not output_grows(con, 0.5)
        s.close()
        assert output_grows(con), "the guest did not resume after the client left\n" + con.tail()
        # Another client can attach, and a D lets the guest go on too.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(frame(b"?"))
        assert recv_reply(s).startswith(b"+$T05")
        # Continue, then ^C: the guest runs in between, and stops with SIGINT.
        s.sendall(frame(b"c"))
        assert recv_reply(s, timeout=1) == b"+"  # no stop reply while it runs
        assert output_grows(con)
        s.sendall(b"\x03")
        assert recv_reply(s) == frame(b"T02thread:1;")
        assert stays_quiet(con), "the guest runs after the stop reply"
        s.sendall(frame(b"D"))
        assert recv_reply(s) == b"+" + frame(b"OK")
        assert output_grows(con), "the guest did not resume after D\n" + con.tail()
        # A client that sends a continue and then vanishes mid-packet.
        s.sendall(frame(b"c") + b"$m8000")
        s.close()
        assert output_grows(con)
        assert con.proc.poll() is None, con.tail()
        assert not HOST_FAULT.search(con.err), con.tail()
    finally:
        con.close()


def refuse(rvisor, args, names):
    r = subprocess.run([rvisor, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=30)
    err = r.stderr.decode(errors="replace")
    lines = [line for line in err.splitlines() if line.strip()]
    detail = f"rvisor {' '.join(args)}: exit {r.returncode}, stderr:\n{err}"
    assert not HOST_FAULT.search(r.stderr), detail
    assert r.returncode == 1, detail
    assert len(lines) == 1, detail
    assert names in lines[0], f"the error line does not name {names!r}\n{detail}"


def test_bad_gdb_options(rvisor, ticker):
    base = ["run", "--firmware", ticker, "--mem", "16M"]
    for spec in ("1234", "tcp:1234", "udp::1234", "tcp::", "tcp::99999", "tcp::12a4",
                 "tcp:::1234", "tcp:[::1:1234"):
        refuse(rvisor, base + ["--gdb", spec], spec)
    refuse(rvisor, base + ["--gdb"], "--gdb")
    refuse(rvisor, base + ["--gdb-wait"], "--gdb-wait")
    # An address this host does not have (TEST-NET-1: never bound here, nothing sent).
    refuse(rvisor, base + ["--gdb", "tcp:192.0.2.1:1234"], "192.0.2.1")
    # A port in use.
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        refuse(rvisor, base + ["--gdb", f"tcp::{port}"], "in use")
