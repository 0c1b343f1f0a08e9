#!/usr/bin/env bash
# Install every Debian package that building, testing and benchmarking rvisor needs.
# Idempotent: asks apt only for what is missing, and runs `apt-get update` only then.
# Needs root (or sudo) when something is missing. Quiet when everything is present.
set -euo pipefail

packages=(
	# build (libmicrohttpd and jansson: the API server's HTTP and JSON; libseccomp: the
	# threads' system call filters)
	build-essential make git pkg-config libfdt-dev zlib1g-dev libslirp-dev libmicrohttpd-dev
	libjansson-dev libseccomp-dev
	# unit tests (Capstone: the translator's encoder test decodes what it emits),
	# formatting, sanitizers and fuzzing (libFuzzer runtime)
	libcmocka-dev libcapstone-dev clang clang-format libclang-rt-14-dev
	# bare-metal guest tests; gdb-multiarch drives the GDB stub's tests (test_gdb.py)
	gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf device-tree-compiler gdb-multiarch
	# static riscv64 Linux programs run inside the guest (tests/integration/smp)
	gcc-riscv64-linux-gnu libc6-dev-riscv64-cross
	# the arm64 build (scripts/cross-aarch64.sh), run under qemu-user (below) by
	# tests/integration/test_cross_isa.py
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	# firmware for --firmware, and QEMU for side-by-side checks and benchmarks;
	# qemu-system-common holds bookworm's virtiofsd (/usr/lib/qemu/virtiofsd), the daemon
	# of the virtio-fs tests (trixie moved it to its own package: see below)
	opensbi qemu-system-misc qemu-system-common
	# guest download (scripts/get-guest.sh): apt with the archive keyring, dpkg-deb,
	# decompressors, cpio; qemu-user runs the riscv64 busybox to list its applets; kmod's
	# depmod and modprobe order the initramfs's modules
	apt dpkg gpgv debian-archive-keyring ca-certificates gzip xz-utils zstd cpio qemu-user kmod
	# root file system images (scripts/make-rootfs.sh: mkfs.ext4 -d) and their checks in the
	# tests (e2fsck, debugfs)
	e2fsprogs
	# the whole Debian system (scripts/make-debian-image.sh: openssl hashes the root
	# password; test_debian_full.py: ssh and ssh-keygen, dpkg-scanpackages for its local
	# package repository)
	openssl openssh-client dpkg-dev
	# integration tests and benchmarks (Debian's python3, not another one on PATH); losetup
	# (a host block device as a disk), setpriv (tests run as nobody), ip (bench/net.py's
	# network namespace), tar (make-rootfs.sh --debian)
	python3 python3-pytest mount util-linux iproute2 tar
	# the API tests validate responses against their JSON schemas
	python3-jsonschema
	# bench/jit.py runs the host's own 7-Zip and xz beside the guest's (xz-utils is above)
	7zip
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
	[[ $status == ii* ]] || missing+=("$p")
done

# The virtio-fs daemon: bookworm's is in qemu-system-common; from trixie on it is the
# virtiofsd package, installed below when no daemon is there.
have_virtiofsd() {
	command -v virtiofsd >/dev/null || [[ -x /usr/libexec/virtiofsd || -x /usr/lib/qemu/virtiofsd ]]
}

if ((${#missing[@]} == 0)) && have_virtiofsd; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]:-virtiofsd}"
sudo=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "deps: error: missing packages (${missing[*]:-virtiofsd}) and not root: run this script as root" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
if ((${#missing[@]})); then
	"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if ! have_virtiofsd; then
	"${sudo[@]}" apt-get install -y -q --no-install-recommends virtiofsd
fi
echo "deps: done"
