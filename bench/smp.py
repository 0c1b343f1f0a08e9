#!/usr/bin/python3
"""SMP and density benchmark: Debian's riscv64 kernel with the busybox initramfs of
scripts/get-guest.sh, rvisor (built-in SBI) side by side with QEMU (`qemu-system-riscv64 -M
virt`, multi-threaded TCG) where the figure exists for both.

  1. boot time to init's first line at 1, 2 and 4 vCPUs (median of --runs boots);
  2. speed-up of a CPU-bound parallel workload from 1 to 2 vCPUs: the compute mode of
     tests/integration/smp/atomics.c (2 threads, private integer work, timed inside the guest),
     in a 1-vCPU and in a 2-vCPU guest, median of 3 runs after one to warm up;
  3. host CPU use of one idle 2-vCPU guest, and of 8 idle 1-vCPU guests at once (percent of one
     host core over --idle-window seconds, total and per VM), measured once the guests have
     settled after boot;
  4. host memory per idle VM beyond its guest RAM: resident set minus the resident part of the
     guest RAM (memfd) mapping, as bench/boot.py measures it.

It prints figures and never fails on slowness; it exits 1 only when a VM does not boot or a
guest program fails. Usage: bench/smp.py [--runs N] [--rvisor PATH] [--no-qemu] [--vms N]
[--vm-mem SIZE] [--idle-window S] [--work N] [--timeout S] [--only boot|speedup|idle]...
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from boot import boot_once, load_guest_env, memory_at  # noqa: E402  (bench/boot.py)
from conftest import MARKER, Console  # noqa: E402  (the integration tests' console driver)

# A guest just booted still works for a while (most of a second of CPU time; with 8 guests
# sharing 2 host cores, 10-20 s of wall time). Idle means settled: the CPU use of every guest
# over SETTLE_STEP seconds below SETTLE_PERCENT, or SETTLE_MAX seconds have passed.
QEMU_WORK_FACTOR = 10
SETTLE_STEP = 2
SETTLE_PERCENT = 2.0
SETTLE_MAX = 90


def vm_argv(vmm, rvisor, guest, cpus, mem, initrd=None):
    """The command line booting the test guest on vmm ('rvisor' or 'qemu') with cpus vCPUs."""
    kernel, initrd = guest["RVISOR_KERNEL"], initrd or guest["RVISOR_INITRD"]
    if vmm == "qemu":
        return ["qemu-system-riscv64", "-M", "virt", "-m", mem, "-smp", str(cpus),
                "-nographic", "-bios", "default", "-kernel", kernel, "-initrd", str(initrd),
                "-append", "console=ttyS0"]
    return [rvisor, "run", "--kernel", kernel, "--initrd", str(initrd), "--mem", mem,
            "--cpus", str(cpus), "--cmdline", "console=ttyS0"]


def cpu_seconds(pid):
    """User plus system CPU time of process pid and all its threads, in seconds (proc(5))."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def fmt(x, unit="s", digits=2):
    return "-" if x is None else f"{x:.{digits}f} {unit}".rstrip()


def boot_times(vmms, rvisor, guest, runs, timeout, mem):
    """Median seconds to the marker for each vmm and vCPU count: {(vmm, cpus): s or None}."""
    print("== boot time to init's first line (median of %d)" % runs, flush=True)
    result = {}
    for vmm in vmms:
        for cpus in (1, 2, 4):
            times = []
            for _ in range(runs):
                seconds, why = boot_once(vm_argv(vmm, rvisor, guest, cpus, mem), timeout, False)
                if seconds is None:
                    print(f"  {vmm} {cpus} vCPU: {why}", flush=True)
                    times = []
                    break
                times.append(seconds[0])  # (to the first line, to the marker)
            result[vmm, cpus] = statistics.median(times) if times else None
            runs_text = ", ".join(f"{t:.2f}" for t in times)
            print(f"  {vmm:6} {cpus} vCPU: {fmt(result[vmm, cpus])}  (runs: {runs_text})",
                  flush=True)
    return result


def build_programs():
    """Build the guest programs and their initramfs; returns (tempdir, initramfs) or None."""
    if not shutil.which("riscv64-linux-gnu-gcc"):
        print("  skipped: riscv64-linux-gnu-gcc missing (scripts/deps.sh installs it)")
        return None
    tmp = tempfile.TemporaryDirectory(prefix="rvisor-bench-smp.")
    guest = load_guest_env()
    build = subprocess.run(
        ["bash", str(REPO / "tests/integration/smp/build.sh"), tmp.name, guest["RVISOR_INITRD"]],
        stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if build.returncode != 0:
        print(f"  skipped: tests/integration/smp/build.sh failed:\n{build.stderr}")
        tmp.cleanup()
        return None
    return tmp, Path(tmp.name) / "initramfs.gz"


def compute_seconds(console, threads, work, timeout):
    """Run the compute workload in the guest. Returns (the seconds it reports, its checksum,
    the host CPU seconds the VM used meanwhile)."""
    before = cpu_seconds(console.proc.pid)
    out = console.run(f"/smp/atomics compute {threads} {work}", timeout)
    host = cpu_seconds(console.proc.pid) - before
    m = re.search(rb"^atomics: compute .* ([0-9.]+) s, checksum ([0-9a-f]+)\r?$", out, re.M)
    if not m or b"atomics: PASS" not in out:
        raise AssertionError(f"compute workload failed\n{console.tail()}")
    return float(m.group(1)), m.group(2).decode(), host


def speedup(vmms, rvisor, guest, initrd, work, timeout, mem):
    """Seconds of 2 threads of work in a 1-vCPU and a 2-vCPU guest, per vmm (QEMU, a JIT, gets
    QEMU_WORK_FACTOR times the work, so its runs are not too short to time). Returns
    {vmm: speed-up or None}; None also when guests given the same work disagree on its
    checksum."""
    print(f"== parallel speed-up: `atomics compute 2 {work}` (2 threads, no sharing; QEMU "
          f"{QEMU_WORK_FACTOR} times the work)", flush=True)
    result = {}
    for vmm in vmms:
        secs, checksums = {}, set()
        work_vmm = work * (QEMU_WORK_FACTOR if vmm == "qemu" else 1)
        for cpus in (1, 2):
            console = Console(vm_argv(vmm, rvisor, guest, cpus, mem, initrd))
            try:
                console.expect(re.escape(MARKER), timeout, "init's marker line")
                # The first run after boot is up to twice as slow (the guest is still
                # settling): one run to warm up, then the median of three.
                compute_seconds(console, 2, work_vmm, timeout)
                runs = [compute_seconds(console, 2, work_vmm, timeout) for _ in range(3)]
                secs[cpus] = statistics.median(t for t, _, _ in runs)
                checksums.update(c for _, c, _ in runs)
                host = ", ".join(f"{t:.2f}/{h:.2f}" for t, _, h in runs)
                console.send("poweroff -f\n")
                console.wait(60)
            except AssertionError as e:
                print(f"  {vmm} {cpus} vCPU: {str(e).splitlines()[0]}", flush=True)
                secs[cpus] = host = None
            finally:
                console.close()
            print(f"  {vmm:6} {cpus} vCPU: {fmt(secs[cpus], digits=3)}  (runs, guest s/host CPU "
                  f"s: {host})", flush=True)
        if len(checksums) > 1:
            print(f"  {vmm}: the guests computed different checksums: {sorted(checksums)}",
                  flush=True)
            result[vmm] = None
        elif secs.get(1) and secs.get(2):
            result[vmm] = secs[1] / secs[2]
            print(f"  {vmm:6} speed-up 1 -> 2 vCPUs: {result[vmm]:.2f}x", flush=True)
        else:
            result[vmm] = None
    return result


def settle(consoles):
    """Wait until every VM's host CPU use is below SETTLE_PERCENT (at most SETTLE_MAX s)."""
    start = time.monotonic()
    while time.monotonic() - start < SETTLE_MAX:
        before = [cpu_seconds(c.proc.pid) for c in consoles]
        time.sleep(SETTLE_STEP)
        after = [cpu_seconds(c.proc.pid) for c in consoles]
        if max(100 * (a - b) / SETTLE_STEP for a, b in zip(after, before)) < SETTLE_PERCENT:
            break
    print(f"  settled after {time.monotonic() - start:.0f} s", flush=True)


def idle_vms(vmm, rvisor, guest, count, cpus, mem, window, timeout):
    """Boot count VMs, let them idle, measure each one's host CPU and memory.
    Returns (percent of one core per VM, (rss, memfd) per VM) or None when a boot fails."""
    consoles = []
    try:
        for _ in range(count):
            consoles.append(Console(vm_argv(vmm, rvisor, guest, cpus, mem)))
        deadline = time.monotonic() + timeout
        for c in consoles:
            c.expect(re.escape(MARKER), max(deadline - time.monotonic(), 1), "marker")
        for c in consoles:
            c.run("echo idle", 60)
        settle(consoles)
        before = [cpu_seconds(c.proc.pid) for c in consoles]
        t0 = time.monotonic()
        time.sleep(window)
        after = [cpu_seconds(c.proc.pid) for c in consoles]
        elapsed = time.monotonic() - t0
        memory = [memory_at(c.proc.pid) for c in consoles]
        percent = [100 * (a - b) / elapsed for a, b in zip(after, before)]
        for c in consoles:
            c.send("poweroff -f\n")
        for c in consoles:
            c.wait(60)
        return percent, memory
    except AssertionError as e:
        print(f"  {vmm}: {str(e).splitlines()[0]}", flush=True)
        return None
    finally:
        for c in consoles:
            c.close()


def idle(vmms, rvisor, guest, count, window, timeout, mem):
    print(f"== idle guests at the shell, host CPU over {window:g} s (percent of one core)",
          flush=True)
    result = {}
    for vmm in vmms:
        one = idle_vms(vmm, rvisor, guest, 1, 2, "512M", window, timeout)
        if one:
            print(f"  {vmm:6} 1 VM, 2 vCPUs, 512M: {one[0][0]:.2f} %", flush=True)
        many = idle_vms(vmm, rvisor, guest, count, 1, mem, window, timeout)
        if many:
            percent, memory = many
            per_vm = ", ".join(f"{p:.2f}" for p in percent)
            print(f"  {vmm:6} {count} VMs, 1 vCPU, {mem} each: total {sum(percent):.2f} %, "
                  f"per VM {statistics.mean(percent):.2f} % (each: {per_vm})", flush=True)
            if vmm == "rvisor":
                beyond = [(rss - ram) / 2**20 for rss, ram in memory]
                each = ", ".join(f"{b:.1f}" for b in beyond)
                print(f"  {vmm:6} host memory beyond guest RAM per idle VM: median "
                      f"{statistics.median(beyond):.1f} MiB (each: {each}); guest RAM resident "
                      f"median {statistics.median(r for _, r in memory) / 2**20:.1f} MiB",
                      flush=True)
        result[vmm] = (one, many)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="boots per VMM and vCPU count (3)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU side")
    ap.add_argument("--vms", type=int, default=8, help="idle VMs at once (default 8)")
    ap.add_argument("--vm-mem", default="128M", help="guest RAM of each idle VM (128M)")
    ap.add_argument("--idle-window", type=float, default=30, help="seconds measured (30)")
    ap.add_argument("--work", type=int, default=100_000_000,
                    help="iterations of the compute workload (default 100000000)")
    ap.add_argument("--timeout", type=float, default=400, help="seconds per boot (400)")
    ap.add_argument("--only", action="append", choices=("boot", "speedup", "idle"),
                    help="run only this part (repeatable; default: all)")
    args = ap.parse_args()
    parts = set(args.only or ("boot", "speedup", "idle"))

    guest = load_guest_env()
    vmms = ["rvisor"]
    if args.no_qemu:
        print("qemu: skipped (--no-qemu)")
    elif not shutil.which("qemu-system-riscv64"):
        print("qemu: skipped (qemu-system-riscv64 not found; scripts/deps.sh installs it)")
    else:
        vmms.append("qemu")
    print(f"kernel {guest.get('RVISOR_KERNEL_VERSION', '?')}, host {os.cpu_count()} cores, "
          f"host load average {load()} (other work on the host skews every figure)", flush=True)

    boots, speed, failed = {}, {}, False
    if "boot" in parts:
        boots = boot_times(vmms, args.rvisor, guest, args.runs, args.timeout, "512M")
        failed |= any(v is None for v in boots.values())

    if "speedup" in parts:
        print("== building the guest programs (tests/integration/smp)", flush=True)
        built = build_programs()
        if built:
            tmp, initrd = built
            with tmp:
                speed = speedup(vmms, args.rvisor, guest, initrd, args.work, args.timeout,
                                "512M")
            failed |= any(v is None for v in speed.values())
        else:
            failed = True

    if "idle" in parts:
        idles = idle(vmms, args.rvisor, guest, args.vms, args.idle_window, args.timeout,
                     args.vm_mem)
        failed |= any(one is None or many is None for one, many in idles.values())

    print(f"== summary (host load average now {load()})")
    for vmm in vmms:
        print(f"  {vmm:6} boot 1/2/4 vCPU: "
              + " / ".join(fmt(boots.get((vmm, n))) for n in (1, 2, 4))
              + f"; speed-up 1->2 vCPU: {fmt(speed.get(vmm), 'x')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
