#!/usr/bin/python3
"""Block I/O benchmark: sequential and random read and write throughput on a virtio-blk disk
inside the guest (Debian's riscv64 kernel with the initramfs of scripts/get-guest.sh), on
rvisor and, side by side, on QEMU (`qemu-system-riscv64 -M virt` with the same raw image),
each with the disk on virtio-mmio (`-device virtio-blk-device`) and on PCI
(`--drive ...,transport=pci`, `-device virtio-blk-pci`), and the same operations on a host
file, with the ratios.

One small C program, built for the guest (riscv64-linux-gnu-gcc, static, added to the
initramfs) and for the host from the same source, runs each workload with O_DIRECT on the
disk (the guest's /dev/vda, or the host file): sequential 1 MiB writes then reads over the
whole image, then 4 KiB writes and reads at pseudo-random offsets (the same sequence
everywhere) for a few seconds; writes end with fdatasync, inside the timing. Each VM boots
once and runs the set --repeat times; the medians are printed. The host runs it twice: on
its page cache (what both VMMs' buffered backends do underneath) and with O_DIRECT.

It prints figures and never fails on slowness; it exits 1 only when a VM does not boot or a
workload reports an error.
Usage: bench/blk.py [--size MIB] [--seconds S] [--repeat N] [--rvisor PATH] [--no-qemu]
[--rvisor-args ARGS]
"""

import argparse
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

from common import (MARKER, REPO, Guest, compile_c, host_load_line, initrd_with,
                    load_guest_env)

GUEST_PROGRAM = "/bench/blkio"
WORKLOADS = [  # (mode, block bytes, label)
    ("seqwrite", 1 << 20, "sequential write, 1 MiB"),
    ("seqread", 1 << 20, "sequential read, 1 MiB"),
    ("randwrite", 4096, "random write, 4 KiB"),
    ("randread", 4096, "random read, 4 KiB"),
]
RESULT = re.compile(rb"^blkio (\w+) ops=(\d+) bytes=(\d+) seconds=([0-9.]+)\r?$", re.M)
FAILURE = re.compile(rb"^blkio: .*$", re.M)

BLKIO_C = r"""
/* blkio: one I/O workload on a file or block device, timed with CLOCK_MONOTONIC.
 *   blkio PATH MODE BLOCK TOTAL SECONDS direct|cached
 * MODE is seqwrite, seqread, randwrite or randread; BLOCK and TOTAL are bytes (TOTAL: the
 * span used, from offset 0); a run stops after TOTAL/BLOCK operations or SECONDS, whichever
 * comes first. Writes end with fdatasync, timed. Prints
 *   blkio MODE ops=N bytes=N seconds=S
 * or "blkio: ..." and exit status 1 on an error. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* xorshift64: the same offsets on every machine. */
static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fail(const char *what)
{
	printf("blkio: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		printf("blkio: usage: blkio PATH MODE BLOCK TOTAL SECONDS direct|cached\n");
		return 1;
	}
	const char *mode = argv[2];
	size_t block = strtoull(argv[3], NULL, 0);
	uint64_t total = strtoull(argv[4], NULL, 0);
	double limit = strtod(argv[5], NULL);
	int direct = strcmp(argv[6], "direct") == 0;
	int write = strstr(mode, "write") != NULL;
	int random = strncmp(mode, "rand", 4) == 0;
	if (block == 0 || block % 4096 || total < block) {
		printf("blkio: BLOCK must be a multiple of 4096 and at most TOTAL\n");
		return 1;
	}
	int fd = open(argv[1], (write ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0));
	if (fd < 0)
		return fail(argv[1]);
	unsigned char *buf;
	if (posix_memalign((void **)&buf, 4096, block))
		return fail("posix_memalign");
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < block; i++)
		buf[i] = (unsigned char)next(&seed);

	uint64_t blocks = total / block, ops = 0, state = 88172645463325252ull;
	double start = now(), end = start;
	while (ops < blocks && end - start < limit) {
		uint64_t off = (random ? next(&state) % blocks : ops) * block;
		ssize_t n = write ? pwrite(fd, buf, block, (off_t)off)
				  : pread(fd, buf, block, (off_t)off);
		if (n != (ssize_t)block)
			return fail(write ? "pwrite" : "pread");
		ops++;
		if ((ops & 15) == 0 || random)
			end = now();
	}
	if (write && fdatasync(fd))
		return fail("fdatasync");
	end = now();
	printf("blkio %s ops=%llu bytes=%llu seconds=%.6f\n", mode, (unsigned long long)ops,
	       (unsigned long long)(ops * block), end - start);
	return 0;
}
"""


def build(work, base_initrd):
    """Compile blkio for the host and the guest; returns (host binary, guest initramfs)."""
    src = work / "blkio.c"
    src.write_text(BLKIO_C)
    host_bin = work / "blkio-host"
    guest_bin = work / "blkio-riscv64"
    compile_c(src, host_bin, guest=False)
    compile_c(src, guest_bin, guest=True)
    return host_bin, initrd_with(work, base_initrd, {GUEST_PROGRAM: guest_bin})


def fresh_image(path, size):
    """A raw image of size bytes, written out (not sparse), the same for every VMM."""
    block = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        for _ in range(size // len(block)):
            f.write(block)
        f.flush()
        os.fsync(f.fileno())


def workload_args(size, seconds):
    """blkio's arguments after PATH for each workload, in the order they run."""
    return [[mode, str(block), str(size), str(seconds)] for mode, block, _ in WORKLOADS]


def parse(out, where):
    """{mode: (ops, bytes, seconds)} from blkio's lines; exits on a blkio error line."""
    failure = FAILURE.search(out)
    if failure:
        print(f"{where}: {failure.group().decode(errors='replace')}")
        return None
    return {m.group(1).decode(): (int(m.group(2)), int(m.group(3)), float(m.group(4)))
            for m in RESULT.finditer(out)}


def bench_vm(name, argv, args, size):
    """Boot argv, run the workloads --repeat times in the guest. Returns a list of result
    dicts, or None when the VM fails."""
    print(f"{name}: {shlex.join(argv)}", flush=True)
    start = time.monotonic()
    guest = Guest(argv, tag="blk-bench")
    try:
        if guest.expect(re.escape(MARKER), args.timeout) is None:
            print(f"  no marker within {args.timeout} s\n{guest.tail()}")
            return None
        print(f"  booted in {time.monotonic() - start:.1f} s", flush=True)
        runs = []
        for i in range(args.repeat):
            results = {}
            for wargs in workload_args(size, args.seconds):
                cmd = shlex.join([GUEST_PROGRAM, "/dev/vda", *wargs, "direct"])
                out = guest.run(cmd, args.timeout)
                if out is None:
                    print(f"  `{cmd}` did not finish within {args.timeout} s\n{guest.tail()}")
                    return None
                got = parse(out, name)
                if not got:
                    print(f"  `{cmd}` printed no result\n{guest.tail()}")
                    return None
                results.update(got)
            print(f"  run {i + 1}: {summary(results)}", flush=True)
            runs.append(results)
        return runs
    finally:
        guest.close()


def bench_host(host_bin, image, args, size, mode):
    """The workloads on the host file, page cache ("cached") or O_DIRECT ("direct")."""
    print(f"host ({mode}): {host_bin} {image}", flush=True)
    runs = []
    for i in range(args.repeat):
        results = {}
        for wargs in workload_args(size, args.seconds):
            r = subprocess.run([str(host_bin), str(image), *wargs, mode], capture_output=True,
                               timeout=args.timeout)
            got = parse(r.stdout, f"host ({mode})")
            if r.returncode != 0 or not got:
                print(f"  {r.stdout.decode(errors='replace')}{r.stderr.decode(errors='replace')}")
                return None
            results.update(got)
        print(f"  run {i + 1}: {summary(results)}", flush=True)
        runs.append(results)
    return runs


def rate(result, mode):
    """MiB/s for sequential workloads, operations per second for random ones."""
    ops, nbytes, seconds = result[mode]
    seconds = max(seconds, 1e-9)
    return nbytes / seconds / 2**20 if mode.startswith("seq") else ops / seconds


def unit(mode):
    return "MiB/s" if mode.startswith("seq") else "IOPS"


def summary(results):
    return ", ".join(f"{m} {rate(results, m):.0f} {unit(m)}" for m, _, _ in WORKLOADS
                     if m in results)


def medians(runs):
    if not runs:
        return None
    return {m: statistics.median(rate(r, m) for r in runs) for m, _, _ in WORKLOADS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=256, help="image size in MiB (default 256)")
    ap.add_argument("--seconds", type=float, default=3.0,
                    help="time limit per workload run (default 3)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per VM boot (default 5)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--mem", default="512M", help="guest RAM for both VMMs (default 512M)")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU side")
    ap.add_argument("--rvisor-args", default="",
                    help="more rvisor run options, one string (e.g. --rvisor-args=--no-seccomp)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot or command")
    args = ap.parse_args()
    if args.size < 1 or args.repeat < 1 or args.seconds <= 0:
        sys.exit("bench: --size, --repeat and --seconds must be positive")
    size = args.size << 20

    guest = load_guest_env()
    kernel = guest["RVISOR_KERNEL"]
    failed = False
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="rvisor-blk-bench-", dir=os.environ.get("TMPDIR"))\
            as tmp:
        work = Path(tmp)
        host_bin, initrd = build(work, guest["RVISOR_INITRD"])
        image = work / "disk.img"
        results = {}

        for transport in ("mmio", "pci"):
            fresh_image(image, size)
            argv = [args.rvisor, "run", "--kernel", kernel, "--initrd", str(initrd), "--mem",
                    args.mem, "--cmdline", "console=ttyS0", "--drive",
                    f"path={image},transport={transport}"]
            argv += shlex.split(args.rvisor_args)
            key = f"rvisor-{transport}"
            results[key] = medians(bench_vm(key, argv, args, size))
            failed |= results[key] is None

        if args.no_qemu:
            print("qemu: skipped (--no-qemu)")
        elif not shutil.which("qemu-system-riscv64"):
            print("qemu: skipped (qemu-system-riscv64 not found; scripts/deps.sh installs it)")
        else:
            for transport, model in (("mmio", "virtio-blk-device"), ("pci", "virtio-blk-pci")):
                fresh_image(image, size)
                argv = ["qemu-system-riscv64", "-M", "virt", "-m", args.mem, "-nographic",
                        "-bios", "default", "-kernel", kernel, "-initrd", str(initrd),
                        "-append", "console=ttyS0",
                        "-drive", f"file={image},format=raw,if=none,id=d",
                        "-device", f"{model},drive=d"]
                key = f"qemu-{transport}"
                results[key] = medians(bench_vm(key, argv, args, size))
                failed |= results[key] is None

        for mode in ("cached", "direct"):
            fresh_image(image, size)
            results[f"host-{mode}"] = medians(bench_host(host_bin, image, args, size, mode))
            failed |= results[f"host-{mode}"] is None

    print()
    print(f"virtio-blk, {args.size} MiB raw image, guest O_DIRECT on /dev/vda, "
          f"1 vCPU, medians of {args.repeat} runs (random I/O: {args.seconds:g} s a run)")
    print(host_load_line(load_before))
    cols = [("rvisor-mmio", "rvisor mmio"), ("rvisor-pci", "rvisor pci"),
            ("qemu-mmio", "QEMU mmio"), ("qemu-pci", "QEMU pci"), ("host-cached", "host cache"),
            ("host-direct", "host direct")]
    pairs = [("rvisor-pci", "rvisor-mmio", "pci/mmio"), ("rvisor-mmio", "qemu-mmio", "rv/QEMU mmio"),
             ("rvisor-pci", "qemu-pci", "rv/QEMU pci"), ("rvisor-mmio", "host-cached", "rv/host")]
    print(f"{'workload':<32}" + "".join(f"{title:>13}" for _, title in cols)
          + "".join(f"{title:>14}" for _, _, title in pairs))
    for mode, _, label in WORKLOADS:
        row = f"{label + ' (' + unit(mode) + ')':<32}"
        for key, _ in cols:
            value = (results.get(key) or {}).get(mode)
            row += f"{value:>13.0f}" if value is not None else f"{'-':>13}"
        for a, b, _ in pairs:
            x = (results.get(a) or {}).get(mode)
            y = (results.get(b) or {}).get(mode)
            row += f"{x / y:>14.2f}" if x is not None and y else f"{'-':>14}"
        print(row)
    print("ratios are throughput ratios (above 1: the first is faster); "
          "rv/host compares with the host's page cache, which rvisor's backend uses")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
