# shellcheck shell=bash
# Shared by scripts/get-guest.sh and scripts/make-rootfs.sh (sourced, not run): where the
# guest cache lives, error reporting, and installing Debian's static riscv64 busybox with its
# applet links into a directory tree. The caller sets `prog` (its name, for messages) and
# uses `set -euo pipefail`.
# shellcheck disable=SC2154 # prog is set by the script that sources this file

# The cache directory: ${RVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvisor}. The
# integration tests and benchmarks apply the same rule.
guest_cache_dir() {
	echo "${RVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvisor}"
}

log() { echo "$prog: $*" >&2; }
die() {
	echo "$prog: error: $*" >&2
	exit 1
}

# Find a program on PATH or in the sbin directories, where Debian puts depmod, modprobe and
# mkfs.ext4 (a non-root PATH often lacks them). Prints its path; non-zero when absent.
find_tool() {
	local dir
	if command -v "$1" 2>/dev/null; then
		return 0
	fi
	for dir in /usr/sbin /sbin; do
		if [[ -x $dir/$1 ]]; then
			echo "$dir/$1"
			return 0
		fi
	done
	return 1
}

# busybox_install DEB ROOT [SKIP...]: unpack busybox-static's .deb DEB, install its binary
# as ROOT/bin/busybox and a symbolic link to it for every applet at the path busybox names
# (bin/sh, sbin/mount, usr/bin/...), except the paths listed in SKIP (e.g. sbin/init, which
# the caller provides itself). Checks that the applets the guests' scripts use are there.
# Prints the number of links made. Needs qemu-riscv64 to ask busybox for its applet list.
busybox_install() {
	local deb=$1 root=$2
	shift 2
	local skip=" $* " unpack bb applets path n=0
	unpack=$(mktemp -d "${TMPDIR:-/tmp}/rvisor-busybox.XXXXXX")
	dpkg-deb -x "$deb" "$unpack"
	bb=$(find "$unpack" -type f -name busybox -path '*bin/busybox' -print -quit)
	[[ -n $bb ]] || die "$deb has no busybox binary"
	mkdir -p "$root/bin"
	install -m 0755 "$bb" "$root/bin/busybox"
	rm -rf "$unpack"
	applets=$(qemu-riscv64 "$root/bin/busybox" --list-full) ||
		die "cannot list busybox's applets (qemu-riscv64 $root/bin/busybox --list-full)"
	while read -r path; do
		[[ -n $path && $path != bin/busybox && $path != */../* && $skip != *" $path "* ]] ||
			continue
		mkdir -p "$root/$(dirname "$path")"
		ln -sf /bin/busybox "$root/$path"
		n=$((n + 1))
	done <<<"$applets"
	for path in sh mount umount grep setsid cttyhack poweroff uname cat insmod \
		switch_root sleep sync; do
		grep -qE "(^|/)$path\$" <<<"$applets" || die "busybox lacks the $path applet"
	done
	echo "$n"
}
