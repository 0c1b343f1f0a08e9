#!/usr/bin/python3
"""Translator benchmark: rvisor with `--accel jit` side by side with rvisor `--accel interp`,
QEMU (`qemu-system-riscv64 -M virt`, TCG) and the host (x86-64), on the same machine in one
run. Workloads: every bare-metal program of bench/cpu; the boot of Debian's riscv64 kernel to
the first line of userspace (as bench/boot.py); and real Debian riscv64 programs in a Linux
guest with a minimal Debian root (`scripts/make-rootfs.sh --debian --with 7zip,xz-utils`):
`7z b` (fixed work: one pass, one thread, 4 MiB dictionary) and `xz -3` compressing a 4 MiB
text made from a fixed seed, timed from the host between markers the guest prints around the
command. The host runs its own 7-Zip and xz on the same work.

Prints per workload the median seconds of each machine and the ratios jit/QEMU (throughput:
QEMU seconds over jit seconds), jit/interp (speed-up) and jit/native (the fraction of native
speed), their geometric means, and, for the jit's boot, the translator's counters
(RVISOR_JIT_STATS=1): translation time as a share of the run, the code cache and the host
memory beyond guest RAM. A machine that cannot run (no translator back end yet, no QEMU) is
reported as unavailable. It prints figures and never fails on slowness; it exits 1 only when a
workload fails on an available machine or machines disagree on a result.

Usage: bench/jit.py [--runs N | --quick] [--no-qemu] [--no-interp] [--only WORKLOAD[,WORKLOAD]]...
                    [--rvisor PATH] [--timeout S]
"""

import argparse
import hashlib
import importlib.util
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import (REPO, Guest, cpu_model, geomean, host_load_line, load_guest_env, ratio,
                    version)
import boot

# bench/cpu/run.py's builders and runner (a script in a directory that is not a package).
_spec = importlib.util.spec_from_file_location("cpu_run", REPO / "bench" / "cpu" / "run.py")
cpu = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cpu)

MACHINES = ("jit", "interp", "QEMU", "native")
VMS = ("jit", "interp", "QEMU")
GUEST_PROGRAMS = ("7z", "xz")
WORK = REPO / "build" / "bench-jit"
BOOT_MEM = "512M"
ROOTFS_MARKER = rb"rvisor-rootfs: init started"
ROOTFS_PACKAGES = "7zip,xz-utils"

# 7-Zip's benchmark: one pass (the first argument), one thread, LZMA with a 4 MiB dictionary,
# and 2^30 "commands" of work per pass instead of 2^34 (-mtic), so it takes seconds. 7-Zip
# sizes its work from fixed constants, except when its CPU-speed loop takes 16 s or more: it
# then prints "(Cmplx)" and scales the work to the measured speed: such a run is reported as
# not comparable (n/c), neither a figure nor a failure.
SEVENZIP_ARGS = ["b", "1", "-mmt1", "-md22", "-mtic=30"]
# xz: preset 3, one thread: one stream whose bytes are the same on every VM (checked).
XZ_ARGS = ["-T1", "-3"]
INPUT_SIZE = 4 << 20
INPUT_SEED = 20240601
GUEST_INPUT = "/root/bench-input"

JIT_COUNTERS = ("blocks", "guest_insns", "code_bytes", "flushes", "page_drops", "dispatches",
                "chains", "translate_ns", "interp_insns")
JIT_LINE = re.compile(r"^jit: (\w+) (\d+)\s*$", re.M)


def jit_counters(stderr_text):
    """The translator's counters from its `jit: NAME VALUE` lines (summed over harts), or None
    when it printed none."""
    found = {}
    for name, value in JIT_LINE.findall(stderr_text or ""):
        if name in JIT_COUNTERS:
            found[name] = found.get(name, 0) + int(value)
    return found or None


def make_input(path):
    """A text of INPUT_SIZE bytes from a fixed seed: lines of words made of syllables, drawn
    with a skew so that some recur often (as in prose), by a 64-bit LCG (PCG's constants), so
    it is the same on every machine and Python. Written once; returns its SHA-256."""
    state = INPUT_SEED

    def draw():
        nonlocal state
        state = (state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        return state >> 33

    syllables = ["ka", "ri", "to", "ne", "shi", "mo", "la", "ven", "dor", "ex", "qui", "pra",
                 "sto", "ul", "ae", "ion", "ber", "gen", "tal", "ruk"]
    vocabulary = ["".join(syllables[draw() % len(syllables)] for _ in range(1 + draw() % 4))
                  for _ in range(4096)]
    if not path.is_file() or path.stat().st_size != INPUT_SIZE:
        out, size, line = [], 0, []
        while size < INPUT_SIZE:
            r = draw()
            line.append(vocabulary[(r % 4096) * ((r >> 12) & 4095) // 4096])
            if len(line) >= 8 + r % 8:
                text = " ".join(line) + "\n"
                out.append(text)
                size += len(text)
                line = []
        data = "".join(out).encode()[:INPUT_SIZE]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Results:
    """Seconds per (workload, machine), failures, and the notes printed under the table."""

    def __init__(self):
        self.times = {}
        self.failed = {}
        self.stats = {}
        self.versions = {}
        self.incomparable = set()

    def add(self, workload, machine, seconds):
        self.times.setdefault((workload, machine), []).append(seconds)

    def fail(self, workload, machine, reason):
        print(f"bench: {workload} on {machine}: {reason}", flush=True)
        self.failed.setdefault((workload, machine), reason)

    def rescaled(self, workload, machine):
        """A run that did other work than the others (7-Zip's (Cmplx)): no figure, no
        failure."""
        self.incomparable.add((workload, machine))

    def median(self, workload, machine):
        if (workload, machine) in self.failed or (workload, machine) in self.incomparable \
                or not self.times.get((workload, machine)):
            return None
        return statistics.median(self.times[(workload, machine)])


# ---------- the machines ----------


def probe_machines(args, rvisor):
    """{machine: None if it can run, else why not}. The jit is probed with the empty
    bare-metal program: a build without a back end refuses --accel jit."""
    status = {m: None for m in MACHINES}
    for accel in ("jit", "interp"):
        run = cpu.run_once(cpu.rvisor_argv(rvisor, "empty", accel), "empty", 60)
        if run.seconds is None:
            lines = [l for l in (run.stderr or run.reason or "").splitlines() if l.strip()]
            status[accel] = lines[0].strip() if lines else run.reason
    if args.no_qemu:
        status["QEMU"] = "--no-qemu"
    elif cpu.qemu_missing():
        status["QEMU"] = cpu.qemu_missing()
    return status


def jit_env():
    env = dict(os.environ)
    env["RVISOR_JIT_STATS"] = "1"
    return env


# ---------- (a) the bare-metal CPU workloads ----------


def cpu_argv(machine, rvisor, workload):
    if machine == "native":
        return cpu.native_argv(workload)
    if machine == "QEMU":
        return cpu.qemu_argv(workload)
    return cpu.rvisor_argv(rvisor, workload, machine)


def run_cpu(workloads, machines, args, rvisor, results):
    """Each workload args.runs times on each machine, interleaved; the median time of the empty
    program (start-up alone) on the same machine is subtracted, as bench/cpu/run.py does."""
    env = {m: (jit_env() if m == "jit" else None) for m in machines}
    empty = {}
    for m in machines:
        times = []
        for _ in range(args.runs):
            run = cpu.run_once(cpu_argv(m, rvisor, "empty"), "empty", args.timeout, env[m])
            if run.seconds is None:
                break
            times.append(run.seconds)
        if len(times) < args.runs:
            for w in workloads:
                results.fail(w, m, f"the empty program fails: {run.reason}")
            continue
        empty[m] = statistics.median(times)
    print("start-up (empty program, median, subtracted below): " +
          ", ".join(f"{m} {empty[m]:.3f} s" for m in machines if m in empty), flush=True)
    checksums = {}
    for r in range(args.runs):
        for w in workloads:
            line = f"run {r + 1}/{args.runs} {w:8}"
            for m in machines:
                if m not in empty or (w, m) in results.failed:
                    continue
                run = cpu.run_once(cpu_argv(m, rvisor, w), w, args.timeout, env[m])
                if run.seconds is None:
                    line += f"  {m} FAILED"
                    results.fail(w, m, run.reason)
                    continue
                first, where = checksums.setdefault(w, (run.checksum, m))
                if run.checksum != first:
                    results.fail(w, m, f"checksum {run.checksum}, but {first} on {where}")
                    continue
                results.add(w, m, max(run.seconds - empty[m], 1e-4))
                line += f"  {m} {run.seconds:.3f} s"
                counters = jit_counters(run.stderr) if m == "jit" else None
                if counters:
                    results.stats.setdefault(w, []).append((counters, run.seconds))
            print(line, flush=True)


# ---------- (b) the boot ----------


def boot_argv(machine, rvisor, guest):
    kernel, initrd = guest["RVISOR_KERNEL"], guest["RVISOR_INITRD"]
    if machine == "QEMU":
        return ["qemu-system-riscv64", "-M", "virt", "-m", BOOT_MEM, "-nographic", "-bios",
                "default", "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0"]
    return [rvisor, "run", "--kernel", kernel, "--initrd", initrd, "--mem", BOOT_MEM,
            "--cmdline", "console=ttyS0", "--accel", machine]


def run_boot(machines, args, rvisor, guest, results):
    """Boots to the first line of userspace (bench/boot.py's boot_once), args.runs times per
    VM; for the jit also its counters at exit and its memory beyond guest RAM at the marker."""
    memory = {}
    for r in range(args.runs):
        line = f"run {r + 1}/{args.runs} boot    "
        for m in machines:
            if ("boot", m) in results.failed:
                continue
            with tempfile.TemporaryFile() as err:
                start = time.monotonic()
                seconds, extra = boot.boot_once(boot_argv(m, rvisor, guest), args.timeout,
                                                m != "QEMU", env=jit_env() if m == "jit" else None,
                                                stderr=err)
                lifetime = time.monotonic() - start
                err.seek(0)
                stderr_text = err.read().decode(errors="replace")
            if seconds is None:
                line += f"  {m} FAILED"
                results.fail("boot", m, f"{extra}; stderr: {stderr_text.strip()[-300:]}")
                continue
            results.add("boot", m, seconds[0])
            line += f"  {m} {seconds[0]:.2f} s ({seconds[1]:.2f} s to the marker)"
            if extra:
                rss, ram = extra
                memory.setdefault(m, []).append(rss - ram)
            counters = jit_counters(stderr_text) if m == "jit" else None
            if counters:
                results.stats.setdefault("boot", []).append((counters, lifetime))
        print(line, flush=True)
    return {m: statistics.median(v) for m, v in memory.items()}


# ---------- (c) Debian programs in a Linux guest ----------


def guest_root(work, input_path):
    """A copy of the Debian root image with 7-Zip and xz (make-rootfs.sh builds and caches
    it) holding the input text at GUEST_INPUT (written with debugfs). Its path, or exits."""
    image = work / "root.img"
    cmd = [str(REPO / "scripts" / "make-rootfs.sh"), "--debian", "--with", ROOTFS_PACKAGES,
           str(image)]
    print(f"guest root: {shlex.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"bench: make-rootfs.sh failed:\n{proc.stderr[-2000:]}")
    debugfs = shutil.which("debugfs") or "/usr/sbin/debugfs"
    proc = subprocess.run([debugfs, "-w", "-R", f"write {input_path} {GUEST_INPUT}", str(image)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or "Allocated inode" not in proc.stdout + proc.stderr:
        sys.exit(f"bench: debugfs could not write the input into the image: {proc.stderr}")
    return image


def guest_vm_argv(machine, rvisor, guest, image):
    """The VM with the root image read-only (every machine boots the same bytes)."""
    kernel, initrd = guest["RVISOR_KERNEL"], guest["RVISOR_INITRD"]
    cmdline = "console=ttyS0 root=/dev/vda ro"
    if machine == "QEMU":
        return ["qemu-system-riscv64", "-M", "virt", "-m", BOOT_MEM, "-nographic", "-bios",
                "default", "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
                "-drive", f"file={image},format=raw,if=none,id=root,readonly=on",
                "-device", "virtio-blk-device,drive=root"]
    return [rvisor, "run", "--kernel", kernel, "--initrd", initrd, "--mem", BOOT_MEM,
            "--drive", f"path={image},readonly=on", "--cmdline", cmdline, "--accel", machine]


def program_command(workload, seven_zip, out_dir):
    """The shell command of a guest program workload, its output left in out_dir."""
    if workload == "7z":
        return f"{seven_zip} {' '.join(SEVENZIP_ARGS)} > {out_dir}/7z.out 2>&1"
    return f"xz {' '.join(XZ_ARGS)} -c {out_dir}/in > {out_dir}/out.xz"


RESCALED = ("7-Zip rescaled its work to the measured speed ((Cmplx): its CPU-speed loop took "
            "16 s or more), so the run did other work than the other machines'")


def check_7z(text):
    """None if 7-Zip's benchmark output is complete and its work was the fixed one, RESCALED
    when 7-Zip changed the work (slowness, not a failure), else what went wrong."""
    if not re.search(r"^Tot:", text, re.M) or re.search(r"error", text, re.I):
        return f"no result line or an error: {text.strip()[-300:]}"
    if "(Cmplx)" in text:
        return RESCALED
    return None


def timed(vm, command, timeout):
    """Run command in the guest shell between two markers the guest prints; the seconds
    between the host's reading the first and the second, and the exit status, or (None,
    reason)."""
    vm.serial += 1
    tag = f"jitbench-{vm.serial}"
    vm.proc.stdin.write(f"echo {tag}-start-$((6*7)); {command}; "
                        f"echo {tag}-end-$((6*7))-status-$?\n".encode())
    vm.proc.stdin.flush()
    if vm.expect(re.escape(f"{tag}-start-42").encode(), 60) is None:
        return None, "the command did not start"
    start = time.monotonic()
    seen = vm.expect(re.escape(f"{tag}-end-42-status-").encode() + rb"(\d+)", timeout)
    seconds = time.monotonic() - start
    if seen is None:
        return None, f"did not finish within {timeout} s"
    status = int(re.search(rb"status-(\d+)$", seen).group(1))
    return (seconds, None) if status == 0 else (None, f"exit status {status}")


def guest_output(vm, command, timeout=120):
    """The text a guest command prints (the console's echo and prompt around it removed)."""
    seen = vm.run(command, timeout)
    if seen is None:
        return None
    text = seen.decode(errors="replace").replace("\r", "")
    return text


def run_guest_programs(workloads, machines, args, rvisor, guest, image, input_sha, results):
    """Boots each VM once with the Debian root and runs each program args.runs times; checks
    xz's output (the same bytes on every machine, and it decompresses to the input) and 7-Zip's
    own verification."""
    xz_sums = {}
    for m in machines:
        if all((w, m) in results.failed for w in workloads):
            continue
        print(f"{m}: booting the Debian root: {shlex.join(guest_vm_argv(m, rvisor, guest, image))}",
              flush=True)
        err = tempfile.TemporaryFile()
        vm = Guest(guest_vm_argv(m, rvisor, guest, image), tag="jitbench", stderr=err,
                   env=jit_env() if m == "jit" else None)
        session = time.monotonic()
        try:
            start = time.monotonic()
            if vm.expect(ROOTFS_MARKER, args.timeout) is None:
                err.seek(0)
                reason = (f"no {ROOTFS_MARKER.decode()} within {args.timeout} s: "
                          f"{vm.tail()[-500:]} {err.read().decode(errors='replace')[-300:]}")
                for w in workloads:
                    results.fail(w, m, reason)
                continue
            print(f"  {m}: root up in {time.monotonic() - start:.1f} s", flush=True)
            # Work in tmpfs (the root is read-only): the input copied there and checked.
            text = guest_output(vm, "stty -echo; cd /dev/shm && cp " + GUEST_INPUT +
                                " in && sha256sum in && command -v 7z 7zz", 300)
            if text is None or input_sha not in text:
                for w in workloads:
                    results.fail(w, m, f"the input did not arrive intact: {text!r}")
                continue
            seven_zip = "7z" if re.search(r"/7z$", text, re.M) else "7zz"
            for r in range(args.runs):
                line = f"run {r + 1}/{args.runs} on {m}:"
                for w in workloads:
                    if (w, m) in results.failed:
                        continue
                    seconds, reason = timed(vm, program_command(w, seven_zip, "/dev/shm"),
                                            args.timeout)
                    if seconds is None:
                        line += f"  {w} FAILED"
                        results.fail(w, m, reason)
                        continue
                    if w == "7z":
                        out = guest_output(vm, "cat /dev/shm/7z.out") or ""
                        problem = check_7z(out)
                        seen = re.search(r"^(7-Zip[^:\n]*?)\s*:", out, re.M)
                        if seen:
                            results.versions["guest 7-Zip"] = seen.group(1)
                        rating = re.search(r"^Tot:\s+\d+\s+\d+\s+(\d+)", out, re.M)
                        detail = f" (7-Zip's rating {rating.group(1)} MIPS)" if rating else ""
                    else:
                        out = guest_output(vm, "sha256sum out.xz; xz -dc out.xz | sha256sum")
                        sums = re.findall(r"^([0-9a-f]{64}) ", out or "", re.M)
                        problem, detail = None, ""
                        if len(sums) != 2 or sums[1] != input_sha:
                            problem = f"its output does not decompress to the input: {out!r}"
                        else:
                            xz_sums.setdefault(m, sums[0])
                            first = next(iter(xz_sums.items()))
                            if sums[0] != first[1]:
                                problem = (f"its output {sums[0][:16]}... differs from "
                                           f"{first[1][:16]}... on {first[0]}")
                    if problem == RESCALED:
                        line += f"  {w} {seconds:.2f} s, not comparable"
                        results.rescaled(w, m)
                        continue
                    if problem:
                        line += f"  {w} FAILED"
                        results.fail(w, m, problem)
                        continue
                    results.add(w, m, seconds)
                    line += f"  {w} {seconds:.2f} s{detail}"
                print(line, flush=True)
        finally:
            vm.close()
            if m == "jit":
                err.seek(0)
                counters = jit_counters(err.read().decode(errors="replace"))
                if counters:
                    key = f"Debian guest ({', '.join(workloads)})"
                    results.stats[key] = [(counters, time.monotonic() - session)]
            err.close()
    return xz_sums


def native_programs(workloads, args, input_path, input_sha, xz_sums, results):
    """The host's own 7-Zip and xz, args.runs times each, on the same work."""
    seven_zip = shutil.which("7zz") or shutil.which("7z")
    xz = shutil.which("xz")
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):
            line = f"run {r + 1}/{args.runs} on native:"
            for w in workloads:
                if (w, "native") in results.failed:
                    continue
                tool = seven_zip if w == "7z" else xz
                if tool is None:
                    results.fail(w, "native", f"no {'7zz or 7z' if w == '7z' else 'xz'} on the "
                                 "host: run scripts/deps.sh")
                    continue
                out_path = Path(tmp) / "out.xz"
                argv = [tool, *SEVENZIP_ARGS] if w == "7z" else [tool, *XZ_ARGS, "-c",
                                                                  str(input_path)]
                start = time.perf_counter()
                with open(out_path, "wb") as out:
                    proc = subprocess.run(argv, stdout=subprocess.PIPE if w == "7z" else out,
                                          stderr=subprocess.STDOUT, timeout=args.timeout)
                seconds = time.perf_counter() - start
                problem = None
                if proc.returncode != 0:
                    problem = f"exit status {proc.returncode}"
                elif w == "7z":
                    problem = check_7z(proc.stdout.decode(errors="replace"))
                else:
                    data = out_path.read_bytes()
                    back = subprocess.run([xz, "-dc"], input=data, capture_output=True).stdout
                    if hashlib.sha256(back).hexdigest() != input_sha:
                        problem = "its output does not decompress to the input"
                    elif xz_sums:
                        mine = hashlib.sha256(data).hexdigest()
                        other = next(iter(xz_sums.values()))
                        if mine != other and r == 0:
                            print(f"note: the host's xz output differs from the guests' "
                                  f"({mine[:16]}... vs {other[:16]}...; another xz version); "
                                  "both decompress to the input", flush=True)
                if problem == RESCALED:
                    line += f"  {w} {seconds:.2f} s, not comparable"
                    results.rescaled(w, "native")
                    continue
                if problem:
                    line += f"  {w} FAILED"
                    results.fail(w, "native", problem)
                    continue
                results.add(w, "native", seconds)
                line += f"  {w} {seconds:.2f} s"
            print(line, flush=True)


# ---------- the report ----------


def fmt(value, digits=2, missing="-"):
    if value is None:
        return missing
    return f"{value:.{digits}f}" if value < 100 else f"{value:.0f}"


def print_table(workloads, status, results, runs):
    print()
    print(f"Seconds: median of {runs} run{'s' if runs != 1 else ''} per machine (CPU workloads: "
          "minus the start-up of an empty program; boot: to the first line of userspace; 7z, "
          "xz: the command alone).")
    print("Ratios (higher is better for the jit): jit/QEMU = QEMU s / jit s (throughput), "
          "jit/interp = interp s / jit s, jit/native = native s / jit s (fraction of native "
          "speed).")
    head = "{:10}{:>10}{:>10}{:>10}{:>10}{:>11}{:>12}{:>12}"
    print(head.format("workload", "jit s", "interp s", "QEMU s", "native s", "jit/QEMU",
                      "jit/interp", "jit/native"))
    columns = {"q": [], "i": [], "n": []}
    for w in workloads:
        cells = []
        for m in MACHINES:
            if status[m] is not None:
                cells.append("n/a")
            elif (w, m) in results.failed:
                cells.append("FAILED")
            elif (w, m) in results.incomparable:
                cells.append("n/c")
            elif w == "boot" and m == "native":
                cells.append("-")
            else:
                cells.append(fmt(results.median(w, m), 3))
        jit = results.median(w, "jit")
        q = ratio(results.median(w, "QEMU"), jit)
        i = ratio(results.median(w, "interp"), jit)
        n = ratio(results.median(w, "native"), jit)
        columns["q"].append(q)
        columns["i"].append(i)
        columns["n"].append(n)
        print(head.format(w, *cells, fmt(q), fmt(i), fmt(n, 3)))
    print(head.format("geomean", "", "", "", "", fmt(geomean(columns["q"])),
                      fmt(geomean(columns["i"])), fmt(geomean(columns["n"]), 3)))
    if results.incomparable:
        print("n/c: not comparable: " + RESCALED)
    unavailable = [f"{m} ({status[m]})" for m in MACHINES if status[m] is not None]
    if unavailable:
        print("unavailable: " + "; ".join(unavailable))


def print_jit_boot(status, results, memory, booted):
    """The translator's figures for the boot: translation time as a share of the run, the code
    cache after it, the host memory beyond guest RAM (and the interpreter's, to compare); then
    its counters for the other workloads."""
    print()
    if status["jit"] is not None:
        what = "boot (translation share, code cache, memory)" if booted else "counters"
        print(f"rvisor jit, {what}: n/a: the jit is unavailable ({status['jit']})")
        return
    if booted:
        print_boot_counters(results, memory)
    print_other_counters(results)


def print_boot_counters(results, memory):
    print("rvisor jit, boot:")
    samples = results.stats.get("boot")
    if not samples:
        print("  translation time as a share of boot: n/a (no `jit:` counters on stderr with "
              "RVISOR_JIT_STATS=1)")
        print("  code cache after boot: n/a")
    else:
        shares = [c.get("translate_ns", 0) / 1e9 / life for c, life in samples]
        translate = statistics.median(c.get("translate_ns", 0) / 1e9 for c, _ in samples)
        life = statistics.median(life for _, life in samples)
        c = samples[len(samples) // 2][0]
        print(f"  translation time as a share of boot: {100 * statistics.median(shares):.1f}% "
              f"({translate:.3f} s of a {life:.2f} s run: boot to init's marker, then power "
              "off; counters at exit)")
        print(f"  code cache after boot: {c.get('code_bytes', 0) / 2**20:.2f} MiB of host code "
              f"since the last flush, {c.get('flushes', 0)} flushes; "
              f"{c.get('blocks', 0)} blocks, {c.get('guest_insns', 0)} guest instructions "
              f"translated, {c.get('page_drops', 0)} page drops, {c.get('dispatches', 0)} "
              f"dispatches, {c.get('chains', 0)} chains, {c.get('interp_insns', 0)} "
              "instructions interpreted")
    for m in ("jit", "interp"):
        if m in memory:
            print(f"  host memory beyond guest RAM at init's marker ({m}): "
                  f"{memory[m] / 2**20:.1f} MiB (median)")
        elif m == "jit":
            print("  host memory beyond guest RAM: n/a")


def print_other_counters(results):
    others = {w: s for w, s in results.stats.items() if w != "boot"}
    if others:
        print("rvisor jit, the other workloads (counters at exit of a run; for 7z and xz the "
              "whole Debian guest session: boot, set-up and every run):")
    for w, samples in others.items():
        share = statistics.median(c.get("translate_ns", 0) / 1e9 / life for c, life in samples)
        life = statistics.median(life for _, life in samples)
        c = samples[-1][0]
        print(f"  {w}: translation {100 * share:.1f}% of the run (median; runs of {life:.2f} s, "
              f"median), {c.get('blocks', 0)} blocks, {c.get('code_bytes', 0) / 1024:.0f} KiB "
              f"of code since the last of {c.get('flushes', 0)} flushes, "
              f"{c.get('page_drops', 0)} page drops (last run)")


def git_head():
    """The commit measured: the work tree's HEAD, and where main is when that is another."""
    def git(*argv):
        try:
            return subprocess.run(["git", "-C", str(REPO), *argv], capture_output=True,
                                  text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None

    def describe(rev):
        proc = git("log", "-1", "--format=%h %s", rev)
        return proc.stdout.strip()[:72] if proc and proc.returncode == 0 else ""

    head, main = describe("HEAD") or "?", describe("main")
    if main and main != head:
        proc = git("merge-base", "--is-ancestor", "main", "HEAD")
        where = "on top of" if proc and proc.returncode == 0 else "not containing"
        return f"{head} ({where} main {main})"
    return head


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per workload and machine (3)")
    ap.add_argument("--quick", action="store_true", help="one run each (a smoke test)")
    ap.add_argument("--no-qemu", action="store_true", help="leave QEMU out")
    ap.add_argument("--no-interp", action="store_true",
                    help="leave rvisor's interpreter out (it only checks that rvisor runs)")
    ap.add_argument("--only", action="append", metavar="WORKLOAD",
                    help="run only these workloads (repeat, or separate with commas)")
    ap.add_argument("--rvisor", help="rvisor binary (default: build/rvisor, built with make)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds per run, and per guest boot (600)")
    args = ap.parse_args()
    if args.quick:
        args.runs = 1
    if args.runs < 1:
        sys.exit("bench: --runs must be at least 1")

    rvisor, cpu_workloads = cpu.build_all(args.rvisor)
    every = cpu_workloads + ["boot", *GUEST_PROGRAMS]
    selected = every
    if args.only:
        selected = [w for item in args.only for w in item.split(",") if w]
        unknown = [w for w in selected if w not in every]
        if unknown:
            sys.exit(f"bench: no workload {', '.join(unknown)}; there are: {' '.join(every)}")
        selected = [w for w in every if w in selected]

    load_before = os.getloadavg()[0]
    measured = git_head()
    print(f"bench/jit.py: {', '.join(selected)}; {args.runs} run{'s' if args.runs != 1 else ''} "
          f"each; commit {measured}", flush=True)
    status = probe_machines(args, rvisor)
    for m in MACHINES:
        print(f"{m}: {'available' if status[m] is None else 'unavailable: ' + status[m]}",
              flush=True)
    if status["interp"] is not None:
        # The jit may lack a back end, QEMU may be missing; rvisor's interpreter must run.
        print(f"bench: rvisor --accel interp cannot run the empty program: {status['interp']}")
        return 1
    if args.no_interp:
        status["interp"] = "left out (--no-interp)"
    ready = [m for m in MACHINES if status[m] is None]
    results = Results()

    chosen_cpu = [w for w in selected if w in cpu_workloads]
    if chosen_cpu:
        run_cpu(chosen_cpu, ready, args, rvisor, results)
    memory = {}
    needs_guest = "boot" in selected or any(w in selected for w in GUEST_PROGRAMS)
    guest = load_guest_env() if needs_guest else None
    if "boot" in selected:
        memory = run_boot([m for m in ready if m in VMS], args, rvisor, guest, results)
    programs = [w for w in selected if w in GUEST_PROGRAMS]
    xz_sums = {}
    if programs:
        WORK.mkdir(parents=True, exist_ok=True)
        input_path = WORK / f"input-{INPUT_SIZE >> 20}M-{INPUT_SEED}.txt"
        input_sha = make_input(input_path)
        print(f"input: {input_path} ({INPUT_SIZE} bytes, sha256 {input_sha})", flush=True)
        vms = [m for m in ready if m in VMS]
        if vms:
            with tempfile.TemporaryDirectory(prefix="rvisor-bench-jit.") as tmp:
                image = guest_root(Path(tmp), input_path)
                xz_sums = run_guest_programs(programs, vms, args, rvisor, guest, image,
                                             input_sha, results)
        if "native" in ready:
            native_programs(programs, args, input_path, input_sha, xz_sums, results)

    print_table(selected, status, results, args.runs)
    print_jit_boot(status, results, memory, "boot" in selected)
    print()
    print(host_load_line(load_before))
    qemu = version(["qemu-system-riscv64", "--version"]) if status["QEMU"] is None else "no QEMU"
    print(f"host: {cpu_model()}; {version([rvisor, '--version'])} built from {measured}; {qemu}")
    if programs:
        seven = shutil.which("7zz") or shutil.which("7z")
        host_7z = "none"
        if seven:
            seen = re.search(r"^(7-Zip[^:\n]*?)\s*:", subprocess.run(
                [seven], capture_output=True, text=True).stdout, re.M)
            host_7z = seen.group(1) if seen else "?"
        host = [version(["xz", "--version"])] if "xz" in programs else []
        guest = ["xz-utils' xz"] if "xz" in programs else []
        if "7z" in programs:
            host.append(host_7z)
            guest.append(results.versions.get("guest 7-Zip", "7-Zip (version not seen)"))
        print(f"programs: host {', '.join(host)}; guest (Debian trixie riscv64 packages) "
              f"{', '.join(guest)}")
    if results.failed:
        print("FAILED: " + "; ".join(f"{w} on {m}" for (w, m) in results.failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
