#!/usr/bin/python3
"""CPU benchmark: how fast rvisor runs guest code, side by side with QEMU (TCG) and with the same
C code compiled for the host. Each workload (bench/cpu/*.c) is a bare-metal RISC-V program run
with `rvisor run --firmware` and `qemu-system-riscv64 -M virt -bios`, and a native program.

Every run is timed as a whole process (start-up included); the median time of an empty program
(the same start-up code, no workload) on the same VMM is subtracted, so that start-up does not
dominate. The table shows medians. It prints figures and never fails on slowness; it exits 1
only when a workload fails its own checks, disagrees between machines, or does not finish.

Usage: bench/cpu/run.py [--runs N] [--rvisor PATH] [--no-qemu] [--timeout S] [WORKLOAD...]
"""

import argparse
import collections
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from common import cpu_model, geomean, ratio, version  # noqa: E402

BUILD = REPO / "build" / "bench-cpu"
MEM = "64M"


def build_all(rvisor=None):
    """Builds rvisor (unless rvisor names a binary) and the benchmark programs; returns (the
    rvisor binary, the workload names). Exits when a build fails."""
    if rvisor is None:
        rvisor = str(REPO / "build" / "rvisor")
        if subprocess.run(["make", "-s", "-j2"], cwd=REPO).returncode != 0:
            sys.exit("bench: building rvisor failed (or pass a binary with --rvisor)")
    cmd = ["make", "-s", "-j2", "-f", "bench/cpu/cpu.mk", f"BENCH_BUILD={BUILD}"]
    if subprocess.run(cmd, cwd=REPO).returncode != 0:
        sys.exit("bench: building the benchmark programs failed")
    listed = subprocess.run(cmd + ["print-workloads"], cwd=REPO, capture_output=True, text=True)
    return rvisor, listed.stdout.split()


def build(args):
    """build_all for this script's arguments; sets args.rvisor."""
    args.rvisor, workloads = build_all(args.rvisor)
    return workloads


def native_argv(workload):
    return [str(BUILD / "native"), workload]


def rvisor_argv(rvisor, workload, accel=None):
    """rvisor running the bare-metal program of workload; accel "jit" or "interp" adds
    --accel (None: rvisor's default)."""
    return [rvisor, "run", "--firmware", str(BUILD / "guest" / f"{workload}.elf"), "--mem",
            MEM] + (["--accel", accel] if accel else [])


def qemu_argv(workload):
    return ["qemu-system-riscv64", "-M", "virt", "-bios", str(BUILD / "guest" / f"{workload}.elf"),
            "-nographic", "-m", MEM]


def qemu_missing():
    """Why QEMU cannot run, or None when it can."""
    if shutil.which("qemu-system-riscv64") is None:
        return "qemu-system-riscv64 not found; scripts/deps.sh installs it"
    return None


def machines(args):
    """(name, function from a workload name to the command that runs it) for each machine."""
    result = [("native", native_argv),
              ("rvisor", lambda w: rvisor_argv(args.rvisor, w))]
    if args.no_qemu:
        print("QEMU: skipped (--no-qemu)")
    elif qemu_missing():
        print(f"QEMU: skipped ({qemu_missing()})")
    else:
        result.append(("QEMU", qemu_argv))
    return result


# One run of a workload: seconds (None when it failed), the checksum it printed (or ""), the
# instructions it retired (or None), why it failed (or None) and its stderr.
Run = collections.namedtuple("Run", "seconds checksum instret reason stderr")


def run_once(argv, workload, timeout, env=None):
    """Runs argv (with env, if given, as its environment) and checks the workload's line."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return Run(None, None, None, f"did not finish within {timeout} s", "")
    seconds = time.perf_counter() - start
    out = proc.stdout.decode(errors="replace")
    err = proc.stderr.decode(errors="replace")
    ok = re.search(rf"^{workload}: ok(?: checksum (0x[0-9a-f]+))?$", out, re.M)
    if proc.returncode != 0 or not ok:
        text = (out + err).strip()
        return Run(None, None, None, f"exit status {proc.returncode}: {text[-500:]}", err)
    instret = re.search(r"^instret (\d+)$", out, re.M)
    return Run(seconds, ok.group(1) or "", int(instret.group(1)) if instret else None, None, err)


def fmt(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workloads", nargs="*", help="workloads to run (default: all)")
    ap.add_argument("--runs", type=int, default=3, help="runs per workload and machine (3)")
    ap.add_argument("--rvisor", help="rvisor binary (default: build/rvisor, built with make)")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU column")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per run (120)")
    args = ap.parse_args()
    if args.runs < 1:
        sys.exit("bench: --runs must be at least 1")

    available = build(args)
    workloads = args.workloads or available
    unknown = [w for w in workloads if w not in available]
    if unknown:
        sys.exit(f"bench: no workload {', '.join(unknown)}; there are: {' '.join(available)}")
    vmms = machines(args)
    names = [name for name, _ in vmms]
    failed = set()

    # The start-up cost of each machine: the empty program, same start-up code, no workload.
    empty = {}
    for name, argv in vmms:
        times = []
        for _ in range(args.runs):
            run = run_once(argv("empty"), "empty", args.timeout)
            if run.seconds is None:
                sys.exit(f"bench: the empty program fails on {name}: {run.reason}")
            times.append(run.seconds)
        empty[name] = statistics.median(times)
    print(f"host load average at the start: {os.getloadavg()[0]:.2f} (other load skews the figures)")
    print("start-up (empty program, median): " +
          ", ".join(f"{name} {empty[name]:.3f} s" for name in names), flush=True)

    times = {(w, name): [] for w in workloads for name in names}
    checksums, instret = {}, {}
    for run in range(args.runs):
        for w in workloads:
            line, problems = f"run {run + 1}/{args.runs} {w:8}", []
            for name, argv in vmms:
                if (w, name) in failed:
                    continue
                seconds, checksum, count, reason, _ = run_once(argv(w), w, args.timeout)
                if seconds is None:
                    line += f"  {name} FAILED"
                    problems.append(f"{w} failed on {name}: {reason}")
                    failed.add((w, name))
                    continue
                first, where = checksums.setdefault(w, (checksum, name))
                if checksum != first:
                    problems.append(f"{w} checksum {checksum} on {name} but {first} on {where}")
                    failed.add((w, name))
                if name == "rvisor" and count is not None:
                    instret[w] = count
                times[(w, name)].append(seconds)
                line += f"  {name} {seconds:.3f} s"
            print(line, flush=True)
            for problem in problems:
                print(f"bench: {problem}", flush=True)

    def net(w, name):
        """Median time of w on name minus the start-up time, or None if it failed."""
        if (w, name) in failed or not times.get((w, name)):
            return None
        return max(statistics.median(times[(w, name)]) - empty[name], 1e-4)

    print()
    print(f"Seconds: median of {args.runs} runs, whole process, minus the median of the empty "
          "program on the same machine.")
    print("Slowdowns are time ratios (higher = slower); MIPS = guest instructions retired "
          "(counted by rvisor) per rvisor second.")
    header = ("workload", "native s", "rvisor s", "QEMU s", "rvisor/native", "QEMU/native",
              "rvisor/QEMU", "Minsn", "rvisor MIPS")
    print("{:10}{:>10}{:>10}{:>10}{:>15}{:>13}{:>13}{:>8}{:>13}".format(*header))
    columns = {k: [] for k in ("rn", "qn", "rq")}
    for w in workloads:
        nat, rv, qe = net(w, "native"), net(w, "rvisor"), net(w, "QEMU")
        rn, qn, rq = ratio(rv, nat), ratio(qe, nat), ratio(rv, qe)
        for key, value in (("rn", rn), ("qn", qn), ("rq", rq)):
            columns[key].append(value)
        insns = instret.get(w)
        print("{:10}{:>10}{:>10}{:>10}{:>15}{:>13}{:>13}{:>8}{:>13}".format(
            w, fmt(nat), fmt(rv), fmt(qe), fmt(rn, 1), fmt(qn, 1), fmt(rq, 2),
            fmt(insns / 1e6 if insns else None, 0),
            fmt(insns / rv / 1e6 if insns and rv else None, 0)))
    print("{:10}{:>10}{:>10}{:>10}{:>15}{:>13}{:>13}".format(
        "geomean", "", "", "", fmt(geomean(columns["rn"]), 1), fmt(geomean(columns["qn"]), 1),
        fmt(geomean(columns["rq"]), 2)))
    print(f"host: {cpu_model()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, "
          f"Linux {platform.release()}; "
          f"{version([args.rvisor, '--version'])}; "
          f"{version(['qemu-system-riscv64', '--version']) if 'QEMU' in names else 'no QEMU'}")

    if failed:
        print("FAILED: " + ", ".join(f"{w} on {name}" for w, name in sorted(failed)))
        return 1
    return 0



if __name__ == "__main__":
    sys.exit(main())
