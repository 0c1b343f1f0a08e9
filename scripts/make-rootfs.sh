#!/usr/bin/env bash
# Build an ext4 root file system image for rvisor's guests from Debian riscv64 packages, with
# no root privileges and no loop mount: Debian's busybox-static (the .deb scripts/get-guest.sh
# downloaded, reused from its cache) with its applet links, in a merged-/usr layout, a few
# /etc files and an /sbin/init script, staged in a directory and written into the image by
# `mkfs.ext4 -d`. Every file is owned by root in the image, whoever runs the script.
#
#   scripts/make-rootfs.sh OUT.img [SIZE]
#
# SIZE is the image size as mkfs.ext4 reads it (default 64M: bytes with a K, M or G suffix).
# The guest boots it with the initramfs of get-guest.sh:
#   rvisor run ... --drive path=OUT.img --cmdline "console=ttyS0 root=/dev/vda rw"
# Its init mounts proc, sys and dev (unless already there), prints
# "rvisor-rootfs: init started" and starts a shell on the console; when the shell exits it
# syncs, remounts / read-only and powers off.
#
# The built image is cached in ${RVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvisor}/rootfs
# and copied (sparse) to OUT.img; it is rebuilt when this script, the busybox package, the
# size or mkfs.ext4's version changes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=make-rootfs
# shellcheck source=SCRIPTDIR/guest-common.sh
. "$here/guest-common.sh"

marker="rvisor-rootfs: init started"

(($# >= 1 && $# <= 2)) || die "usage: scripts/make-rootfs.sh OUT.img [SIZE]"
out=$1
size=${2:-64M}
[[ $size =~ ^[1-9][0-9]*[KMG]?$ ]] || die "size '$size' is not a size: use e.g. 64M or 1G"
[[ -d $(dirname -- "$out") ]] || die "$(dirname -- "$out"): no such directory for $out"

mkfs=$(find_tool mkfs.ext4) || die "mkfs.ext4 not found: run scripts/deps.sh first (e2fsprogs)"
debugfs=$(find_tool debugfs) || die "debugfs not found: run scripts/deps.sh first (e2fsprogs)"
for tool in dpkg-deb qemu-riscv64 sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/deps.sh first"
done

# get-guest.sh answers from its cache without network once it has run.
guest_env=$("$here/get-guest.sh") || die "scripts/get-guest.sh failed (see above)"
# guest.env holds only single-quoted assignments of RVISOR_* variables.
eval "$guest_env"
deb=${RVISOR_BUSYBOX_DEB:-}
[[ -f $deb ]] || die "get-guest.sh named no busybox-static package (RVISOR_BUSYBOX_DEB='$deb')"

cache=$(guest_cache_dir)/rootfs
image=$cache/rootfs.img
mkdir -p "$cache"
# One build at a time per cache (test sessions may start together); released at exit.
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"
stamp="$(cat "${BASH_SOURCE[0]}" "$here/guest-common.sh" | sha256sum | cut -d' ' -f1)"
stamp+=" $(basename "$deb") $size $("$mkfs" -V 2>&1 | sed -n 1p)"

# write_init FILE: the root file system's /sbin/init.
write_init() {
	cat >"$1" <<EOF
#!/bin/sh
# rvisor test root file system: mount the kernel's file systems unless the initramfs moved
# them here already, say so once, then give the console a login shell. When the shell exits,
# write everything out, remount / read-only (a clean file system) and power off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mounted() { grep -q "^[^ ]* \$1 " /proc/mounts 2>/dev/null; }
mounted /proc || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
hostname -F /etc/hostname
echo "$marker"
cd /root
setsid cttyhack sh -l
cd /
sync
mount -o remount,ro /
poweroff -f
EOF
	chmod 0755 "$1"
}

# stage DIR: the file tree of the image.
stage() {
	local root=$1 n
	mkdir -p "$root"/usr/{bin,sbin,lib} "$root"/{dev,proc,sys,run,mnt,etc,var/tmp,var/log,home}
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	ln -s usr/lib "$root/lib"
	install -d -m 0700 "$root/root"
	install -d -m 1777 "$root/tmp"
	chmod 1777 "$root/var/tmp"
	# The whole package (its copyright file comes along), then the binary and applet links.
	dpkg-deb -x "$deb" "$root"
	n=$(busybox_install "$deb" "$root" sbin/init linuxrc)
	log "busybox with $n applet links"
	write_init "$root/usr/sbin/init"

	echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
	echo "root:x:0:" >"$root/etc/group"
	echo "rvisor" >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\trvisor\n::1\t\tlocalhost ip6-localhost\n' \
		>"$root/etc/hosts"
	cat >"$root/etc/profile" <<'EOF'
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
PS1='\h:\w\$ '
EOF
	cat >"$root/etc/os-release" <<'EOF'
PRETTY_NAME="rvisor test root file system (Debian busybox-static)"
NAME="rvisor-rootfs"
ID=rvisor-rootfs
ID_LIKE=debian
EOF
}

# make_image STAGING IMG: the ext4 image. Not root: mkfs.ext4 -d copies each file's owner,
# so every inode's uid and gid are then set to 0 with debugfs (which does not follow the
# symbolic link a path ends in).
make_image() {
	local staging=$1 img=$2
	rm -f "$img"
	"$mkfs" -q -F -t ext4 -L rvisor-root -E root_owner=0:0 -d "$staging" "$img" "$size" \
		>/dev/null ||
		die "mkfs.ext4 -d $staging $img $size failed"
	if ((EUID != 0)); then
		(cd "$staging" && find . -mindepth 1 -printf '%P\n') |
			awk '{ printf "sif \"/%s\" uid 0\nsif \"/%s\" gid 0\n", $0, $0 }' >"$img.debugfs"
		"$debugfs" -w -f "$img.debugfs" "$img" >/dev/null 2>"$img.debugfs.log" ||
			die "debugfs could not give the files to root: $(head -n3 "$img.debugfs.log")"
		rm -f "$img.debugfs" "$img.debugfs.log"
	fi
}

if [[ ! -f $image || ! -f $cache/stamp || $(cat "$cache/stamp") != "$stamp" ]]; then
	log "building the root file system ($size) in $cache"
	rm -rf "$cache/staging" "$cache/stamp"
	stage "$cache/staging"
	make_image "$cache/staging" "$image.new"
	rm -rf "$cache/staging"
	mv "$image.new" "$image"
	echo "$stamp" >"$cache/stamp"
else
	log "using the cached root file system in $cache"
fi
cp --sparse=always "$image" "$out.new"
mv "$out.new" "$out"
log "wrote $out"
