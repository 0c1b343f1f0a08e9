#!/usr/bin/python3
"""virtio-fs benchmark: large and small file I/O in the guest (Debian's riscv64 kernel with the
initramfs of scripts/get-guest.sh) on a host directory shared through virtio-fs with Debian's
virtiofsd, against the same workload on an ext4 file system on virtio-blk, on rvisor and,
side by side, on QEMU with the same daemon (`-device vhost-user-fs-pci`) and the same disk
(`-device virtio-blk-pci`), with the ratios.

One small C program, built for the guest (riscv64-linux-gnu-gcc, static, added to the
initramfs), runs each workload in a directory: writing a 64 MiB file in 1 MiB blocks and
fsync, reading it back, creating 1000 files of 4 KiB and syncing, reading them back. The
guest drops its page cache before each read, so reads reach the device. Each VM boots once
and runs the set --repeat times; the medians are printed. A fresh daemon serves each VM.

It prints figures and never fails on slowness; it exits 1 only when a VM does not boot or a
workload reports an error.
Usage: bench/fs.py [--repeat N] [--rvisor PATH] [--no-qemu]
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

from common import MARKER, REPO, Guest, compile_c, host_load_line, initrd_with, load_guest_env

GUEST_PROGRAM = "/bench/fsio"
BIG = 64 << 20
SMALL_FILES = 1000
WORKLOADS = [  # (mode, label, unit)
    ("bigwrite", "64 MiB file, write + fsync", "MiB/s"),
    ("bigread", "64 MiB file, read", "MiB/s"),
    ("smallwrite", "1000 files of 4 KiB, create + sync", "files/s"),
    ("smallread", "1000 files of 4 KiB, read", "files/s"),
]
RESULT = re.compile(rb"^fsio (\w+) bytes=(\d+) files=(\d+) seconds=([0-9.]+)\r?$", re.M)
FAILURE = re.compile(rb"^fsio: .*$", re.M)

FSIO_C = r"""
/* fsio: one file workload in directory DIR, timed with CLOCK_MONOTONIC.
 *   fsio DIR bigwrite|bigread|smallwrite|smallread
 * Prints "fsio MODE bytes=N files=N seconds=S", or "fsio: ..." and exit status 1. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIG   (64 << 20)
#define BLOCK (1 << 20)
#define NSMALL 1000
#define SMALL 4096

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
	printf("fsio: %s failed\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fail("usage");
	static char buf[BLOCK], path[4096];
	memset(buf, 0x5a, sizeof(buf));
	const char *dir = argv[1], *mode = argv[2];
	unsigned long long bytes = 0, files = 0;
	double start = now();
	if (!strcmp(mode, "bigwrite") || !strcmp(mode, "bigread")) {
		int w = mode[3] == 'w';
		snprintf(path, sizeof(path), "%s/big", dir);
		int fd = open(path, w ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0644);
		if (fd < 0)
			return fail("open");
		for (; bytes < BIG; bytes += BLOCK)
			if ((w ? write(fd, buf, BLOCK) : read(fd, buf, BLOCK)) != BLOCK)
				return fail(w ? "write" : "read");
		if (w && fsync(fd))
			return fail("fsync");
		close(fd);
		files = 1;
	} else if (!strcmp(mode, "smallwrite") || !strcmp(mode, "smallread")) {
		int w = mode[5] == 'w';
		snprintf(path, sizeof(path), "%s/small", dir);
		if (w && mkdir(path, 0755))
			return fail("mkdir");
		for (; files < NSMALL; files++, bytes += SMALL) {
			snprintf(path, sizeof(path), "%s/small/f%04llu", dir, files);
			int fd = open(path, w ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY, 0644);
			if (fd < 0)
				return fail("open");
			if ((w ? write(fd, buf, SMALL) : read(fd, buf, SMALL)) != SMALL)
				return fail(w ? "write" : "read");
			close(fd);
		}
		if (w)
			sync();
	} else {
		return fail("mode");
	}
	printf("fsio %s bytes=%llu files=%llu seconds=%.6f\n", mode, bytes, files, now() - start);
	return 0;
}
"""


def virtiofsd_argv(sock, directory):
    """Debian's daemon: bookworm's (QEMU's, -o source=) or trixie's (--shared-dir)."""
    for path in (shutil.which("virtiofsd"), "/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"):
        if path and os.access(path, os.X_OK):
            break
    else:
        sys.exit("bench: virtiofsd not found: run scripts/deps.sh")
    out = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    if "--shared-dir" in out.stdout + out.stderr:
        return [path, f"--socket-path={sock}", f"--shared-dir={directory}", "--sandbox=chroot",
                "--cache=auto"]
    return [path, f"--socket-path={sock}", "-o", f"source={directory}", "-o", "sandbox=chroot",
            "-o", "cache=auto"]


def start_daemon(work, name):
    """A fresh shared directory and a virtiofsd serving it; returns (process, socket)."""
    directory = work / f"share-{name}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    sock = str(work / f"{name}.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    proc = subprocess.Popen(virtiofsd_argv(sock, directory), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit("bench: virtiofsd did not start")
        time.sleep(0.05)
    return proc, sock


def parse(out):
    if FAILURE.search(out):
        return None
    return {m.group(1).decode(): (int(m.group(2)), int(m.group(3)), float(m.group(4)))
            for m in RESULT.finditer(out)}


def rate(result, mode):
    nbytes, files, seconds = result[mode]
    seconds = max(seconds, 1e-9)
    return nbytes / seconds / 2**20 if mode.startswith("big") else files / seconds


def bench_vm(name, argv, mount, args):
    """Boot argv, mount the file system under test at /mnt/t (the shell command mount), run
    the workloads --repeat times. Returns {mode: median rate}, or None on a failure."""
    print(f"{name}: {shlex.join(argv)}", flush=True)
    guest = Guest(argv, tag="fs-bench")
    try:
        if guest.expect(re.escape(MARKER), args.timeout) is None:
            print(f"  no marker within {args.timeout} s\n{guest.tail()}")
            return None
        out = guest.run(f"mkdir -p /mnt/t && {mount} && echo mounted-ok", args.timeout)
        if out is None or b"mounted-ok" not in out.split(b"\n", 1)[-1]:
            print(f"  mount failed\n{guest.tail()}")
            return None
        runs = []
        for i in range(args.repeat):
            results = {}
            guest.run("rm -rf /mnt/t/big /mnt/t/small; sync", args.timeout)
            for mode, _, _ in WORKLOADS:
                if mode.endswith("read"):
                    guest.run("sync; echo 3 > /proc/sys/vm/drop_caches", args.timeout)
                out = guest.run(f"{GUEST_PROGRAM} /mnt/t {mode}", args.timeout)
                got = parse(out) if out is not None else None
                if not got:
                    print(f"  {mode} failed\n{guest.tail()}")
                    return None
                results.update(got)
            print("  run %d: %s" % (i + 1, ", ".join(
                f"{m} {rate(results, m):.0f} {u}" for m, _, u in WORKLOADS)), flush=True)
            runs.append(results)
        return {m: statistics.median(rate(r, m) for r in runs) for m, _, _ in WORKLOADS}
    finally:
        guest.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per VM boot (default 3)")
    ap.add_argument("--rvisor", default=str(REPO / "build" / "rvisor"), help="rvisor binary")
    ap.add_argument("--mem", default="512M", help="guest RAM for both VMMs (default 512M)")
    ap.add_argument("--no-qemu", action="store_true", help="skip the QEMU side")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per boot or command")
    args = ap.parse_args()
    if args.repeat < 1:
        sys.exit("bench: --repeat must be positive")

    guest_env = load_guest_env()
    kernel = guest_env["RVISOR_KERNEL"]
    qemu = shutil.which("qemu-system-riscv64") if not args.no_qemu else None
    failed = False
    load_before = os.getloadavg()[0]
    results = {}
    ext4 = "modprobe ext4 2>/dev/null; mount -t ext4 /dev/vda /mnt/t"
    virtiofs = "mount -t virtiofs bench /mnt/t"
    with tempfile.TemporaryDirectory(prefix="rvisor-fs-bench-", dir=os.environ.get("TMPDIR"))\
            as tmp:
        work = Path(tmp)
        src = work / "fsio.c"
        src.write_text(FSIO_C)
        guest_bin = work / "fsio-riscv64"
        compile_c(src, guest_bin, guest=True)
        initrd = initrd_with(work, guest_env["RVISOR_INITRD"], {GUEST_PROGRAM: guest_bin})
        image = work / "ext4.img"
        base = [args.rvisor, "run", "--kernel", kernel, "--initrd", str(initrd), "--mem",
                args.mem, "--cmdline", "console=ttyS0"]
        qbase = ["qemu-system-riscv64", "-M", "virt,memory-backend=mem", "-m", args.mem,
                 "-object", f"memory-backend-memfd,id=mem,size={args.mem},share=on",
                 "-nographic", "-bios", "default", "-kernel", kernel, "-initrd", str(initrd),
                 "-append", "console=ttyS0"]

        def mkfs():
            subprocess.run(["mkfs.ext4", "-q", "-F", str(image), "512M"], check=True,
                           env={**os.environ, "PATH": os.environ["PATH"] + ":/sbin:/usr/sbin"})

        proc, sock = start_daemon(work, "rvisor")
        results["rvisor-fs"] = bench_vm("rvisor virtio-fs",
                                        base + ["--fs", f"tag=bench,socket={sock}"], virtiofs,
                                        args)
        proc.kill()
        proc.wait()
        mkfs()
        results["rvisor-blk"] = bench_vm(
            "rvisor virtio-blk", base + ["--drive", f"path={image},transport=pci"], ext4, args)
        if qemu:
            proc, sock = start_daemon(work, "qemu")
            results["qemu-fs"] = bench_vm(
                "qemu virtio-fs", qbase + ["-chardev", f"socket,id=vfs,path={sock}", "-device",
                                           "vhost-user-fs-pci,chardev=vfs,tag=bench"],
                virtiofs, args)
            proc.kill()
            proc.wait()
            mkfs()
            results["qemu-blk"] = bench_vm(
                "qemu virtio-blk", qbase + ["-drive", f"file={image},format=raw,if=none,id=d",
                                            "-device", "virtio-blk-pci,drive=d"], ext4, args)
        else:
            print("qemu: skipped" + (" (--no-qemu)" if args.no_qemu else
                                     " (qemu-system-riscv64 not found)"))
        failed = any(v is None for v in results.values())

    print()
    print(f"virtio-fs (virtiofsd, cache=auto) and ext4 on virtio-blk (PCI), 1 vCPU, medians of "
          f"{args.repeat} runs; the guest drops its page cache before reads")
    print(host_load_line(load_before))
    cols = [("rvisor-fs", "rvisor fs"), ("rvisor-blk", "rvisor blk"), ("qemu-fs", "QEMU fs"),
            ("qemu-blk", "QEMU blk")]
    pairs = [("rvisor-fs", "qemu-fs", "rv/QEMU fs"), ("rvisor-fs", "rvisor-blk", "fs/blk")]
    print(f"{'workload':<46}" + "".join(f"{t:>12}" for _, t in cols)
          + "".join(f"{t:>12}" for _, _, t in pairs))
    for mode, label, unit in WORKLOADS:
        row = f"{label + ' (' + unit + ')':<46}"
        for key, _ in cols:
            v = (results.get(key) or {}).get(mode)
            row += f"{v:>12.0f}" if v is not None else f"{'-':>12}"
        for a, b, _ in pairs:
            x, y = (results.get(a) or {}).get(mode), (results.get(b) or {}).get(mode)
            row += f"{x / y:>12.2f}" if x is not None and y else f"{'-':>12}"
        print(row)
    print("ratios are throughput ratios (above 1: the first is faster)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
