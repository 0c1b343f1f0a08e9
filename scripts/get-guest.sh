#!/usr/bin/env bash
# Fetch and build the Linux guest that rvisor boots in its integration tests and benchmarks:
# Debian trixie's riscv64 kernel (linux-image-riscv64 and the versioned linux-image-6.12*
# package behind it) and busybox-static, downloaded with the host's apt into a private apt
# state, signatures checked against the host's Debian archive keyring.
#
# Produces, in the cache directory ${RVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvisor}:
#   guest/Image          the raw RISC-V Linux Image ("RSC\x05" at offset 0x38)
#   guest/modules/       the kernel's module tree (lib/modules/VERSION) with the modules.dep,
#                        modules.alias... files that depmod makes
#   guest/initramfs.cpio newc cpio, uncompressed (inflating 2.3 MB of gzip was a quarter
#                        of the kernel's boot under rvisor's interpreter):
#                        busybox, its applet links, the virtio and ext4 modules
#                        (decompressed) and /init, which loads them, prints the marker line,
#                        then either mounts root=/dev/vdX and switch_root's into it or starts
#                        a shell on the console
#   debs/                the downloaded .debs (scripts/make-rootfs.sh reuses busybox-static:
#                        RVISOR_BUSYBOX_DEB)
#   guest.env            the paths above as shell variables (RVISOR_KERNEL, ...), also
#                        printed on the last lines; other scripts source it
# Reruns reuse the cache and need no network; RVISOR_GUEST_REFRESH=1 downloads again.
#
# Environment:
#   RVISOR_DEBIAN_MIRROR  the Debian archive URI; default: the one the host's apt sources use
#   RVISOR_CACHE          cache directory (see above)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=get-guest
# shellcheck source=SCRIPTDIR/guest-common.sh
. "$here/guest-common.sh"

suite=trixie
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
firmware=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
marker="rvisor-guest: init started"
# init's very first line, before any module is loaded: bench/boot.py times the kernel's boot
# to it (the first line of userspace), and to the marker above (devices ready).
first_line="rvisor-guest: userspace started"

# Kernel modules the initramfs carries, with everything they depend on (hard and soft
# dependencies), in groups that /init loads only when needed: first the virtio-mmio
# transport, then a group per virtio device ID present (virtio 1.2 section 5): a disk brings
# ext4 too, for a root file system on it. Built-in modules (virtio_console in Debian's 6.12)
# are skipped. Loading is slow under an interpreter (ext4 takes seconds), hence the groups.
guest_module_groups=(
	"mmio virtio_mmio"
	"1 virtio_net"
	"2 virtio_blk ext4"
	"3 virtio_console"
	"4 virtio-rng"
	"5 virtio_balloon"
	"18 virtio_input"
	"19 vmw_vsock_virtio_transport"
)

cache=$(guest_cache_dir)
guest=$cache/guest
aptdir=$cache/apt
debs=$cache/debs
env_file=$cache/guest.env

print_env() {
	cat "$env_file"
}

# One run at a time per cache (test sessions may start together); released at exit.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

# The whole output is a function of this script and the mirror: reuse it when both match.
mirror=${RVISOR_DEBIAN_MIRROR:-$(host_mirror | sed -n 1p)}
[[ -n $mirror ]] || die "no Debian archive found in the host's apt sources (/etc/apt/sources.list, /etc/apt/sources.list.d/): set RVISOR_DEBIAN_MIRROR to a Debian mirror URI"
mirror=${mirror%/}
stamp="$(cat "${BASH_SOURCE[0]}" "$here/guest-common.sh" | sha256sum | cut -d' ' -f1) $mirror"
if [[ ${RVISOR_GUEST_REFRESH:-0} != 1 && -f $env_file && -f $guest/stamp &&
	$(cat "$guest/stamp") == "$stamp" ]]; then
	# shellcheck source=/dev/null
	. "$env_file"
	if [[ -f $RVISOR_KERNEL && -f $RVISOR_INITRD && -d $RVISOR_MODULES &&
		-f ${RVISOR_BUSYBOX_DEB:-} ]]; then
		log "using the cached guest in $cache"
		print_env
		exit 0
	fi
fi

for tool in apt-get apt-cache dpkg-deb gpgv cpio gzip xz zstd qemu-riscv64 sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/deps.sh first"
done
depmod=$(find_tool depmod) || die "depmod not found: run scripts/deps.sh first (kmod)"
modprobe=$(find_tool modprobe) || die "modprobe not found: run scripts/deps.sh first (kmod)"
[[ -f $keyring ]] || die "$keyring not found: install debian-archive-keyring (scripts/deps.sh)"
[[ -f $firmware ]] || die "$firmware not found: install opensbi (scripts/deps.sh)"

# A private apt, riscv64 only (guest_apt_opts in guest-common.sh).
mkdir -p "$aptdir"/etc/sources.list.d "$aptdir"/etc/preferences.d "$aptdir"/etc/trusted.gpg.d \
	"$aptdir"/state/lists/partial "$aptdir"/cache/archives/partial "$debs"
: >"$aptdir/state/status"
guest_apt_opts "$aptdir" "$mirror"

# Update the lists from dists/$1, then check by hand, again, that the host's keyring verifies
# the InRelease file apt stored and that it is trixie's. Returns non-zero on any problem.
update_lists() {
	local dist=$1 inrelease
	rm -rf "$aptdir/state/lists"
	mkdir -p "$aptdir/state/lists/partial"
	echo "deb [arch=riscv64 signed-by=$keyring] $mirror $dist main" >"$aptdir/etc/sources.list"
	log "updating the riscv64 package lists of $mirror $dist"
	if ! apt-get "${apt_opts[@]}" -q update >"$aptdir/update.log" 2>&1 ||
		grep -q '^[WE]:' "$aptdir/update.log"; then
		grep -E '^[WE]:' "$aptdir/update.log" | sed 's/^/  /' >&2
		return 1
	fi
	inrelease=$(find "$aptdir/state/lists" -maxdepth 1 -name "*_dists_${dist}_InRelease" -print -quit)
	if [[ -z $inrelease ]]; then
		log "no signed InRelease file for $dist (an unsigned Release is refused)"
		return 1
	fi
	if ! gpgv --keyring "$keyring" "$inrelease" >/dev/null 2>"$aptdir/gpgv.log"; then
		sed 's/^/  /' "$aptdir/gpgv.log" >&2
		log "$inrelease does not verify with $keyring"
		return 1
	fi
	if ! grep -q "^Codename: $suite\$" "$inrelease"; then
		log "$mirror $dist is not $suite"
		return 1
	fi
	log "$dist InRelease ($suite) verified with $keyring"
}

# Some mirrors serve a dists/trixie whose index files lag its InRelease; dists/stable is the
# same release under another name (checked: its Codename must be trixie), so try it second.
update_lists "$suite" || update_lists stable ||
	die "cannot get verified $suite package lists from $mirror (see above); set RVISOR_DEBIAN_MIRROR to another Debian mirror"

apt_cache() { apt-cache "${apt_opts[@]}" "$@"; }
kernel_pkg=$(apt_cache show --no-all-versions linux-image-riscv64 |
	sed -n 's/^Depends: //p' | tr ',|' '\n' | sed 's/^ *//; s/ .*//' |
	grep -m1 '^linux-image-6\.12' || true)
[[ -n $kernel_pkg ]] || die "linux-image-riscv64 in $suite does not depend on a linux-image-6.12* package"
log "kernel package: $kernel_pkg"

# Download a package's .deb into the cache and print its path. apt-get download checks the
# file against the signed index, and keeps a copy that already matches.
fetch_deb() {
	local pkg=$1 name version arch file
	read -r name version arch < <(apt_cache show --no-all-versions "$pkg" |
		awk -F': ' '$1 == "Package" { p = $2 } $1 == "Version" { v = $2 }
			$1 == "Architecture" { a = $2 } END { print p, v, a }')
	[[ -n $arch ]] || die "apt cannot find $pkg in $suite"
	file=$debs/${name}_${version//:/%3a}_$arch.deb
	[[ -f $file ]] || log "downloading $pkg $version"
	(cd "$debs" && apt-get "${apt_opts[@]}" -q download "$pkg" >/dev/null) ||
		die "downloading $pkg $version failed"
	[[ -f $file ]] || die "apt-get download $pkg did not produce $file"
	echo "$file"
}
meta_deb=$(fetch_deb linux-image-riscv64)
kernel_deb=$(fetch_deb "$kernel_pkg")
busybox_deb=$(fetch_deb busybox-static)
# Drop the .debs of older versions.
find "$debs" -maxdepth 1 -name '*.deb' ! -path "$meta_deb" ! -path "$kernel_deb" \
	! -path "$busybox_deb" -delete
log "have $(basename "$meta_deb") $(basename "$kernel_deb") $(basename "$busybox_deb")"

rm -rf "$guest.new"
mkdir -p "$guest.new/kernel-root"
dpkg-deb -x "$kernel_deb" "$guest.new/kernel-root"

# --- kernel Image ---
hex_at() { od -An -tx1 -j "$2" -N "$3" "$1" | tr -d ' \n'; }
le32_at() { od -An -tu4 --endian=little -j "$2" -N 4 "$1" | tr -d ' \n'; }
is_image() { [[ $(hex_at "$1" 56 4) == 52534305 ]]; }

# Turn whatever Debian ships in /boot into the raw Image: plain, or compressed with gzip,
# xz or zstd, or an EFI zboot wrapper (PE file with "zimg" at offset 4 around a compressed
# Image), or an ELF vmlinux.
to_image() {
	local in=$1 out=$2 magic
	magic=$(hex_at "$in" 0 6)
	if is_image "$in"; then
		cp "$in" "$out"
	elif [[ $magic == 1f8b* ]]; then
		gzip -dc "$in" >"$out"
	elif [[ $magic == fd377a585a00 ]]; then
		xz -dc "$in" >"$out"
	elif [[ $magic == 28b52ffd* ]]; then
		zstd -qdc "$in" >"$out"
	elif [[ $magic == 4d5a* && $(hex_at "$in" 4 4) == 7a696d67 ]]; then
		local off size
		off=$(le32_at "$in" 8)
		size=$(le32_at "$in" 12)
		tail -c +$((off + 1)) "$in" | head -c "$size" >"$out.payload"
		to_image "$out.payload" "$out"
		rm -f "$out.payload"
		return
	elif [[ $magic == 7f454c46* ]]; then
		riscv64-unknown-elf-objcopy -O binary "$in" "$out"
	else
		die "$in: unknown kernel format (first bytes $magic)"
	fi
	is_image "$out" || die "$in: unpacked to a file without the RISC-V Image magic"
}

vmlinu=$(find "$guest.new/kernel-root/boot" -maxdepth 1 -name 'vmlinu[xz]-*' -print -quit)
[[ -n $vmlinu ]] || die "$kernel_deb has no /boot/vmlinux-* or vmlinuz-*"
kver=${vmlinu##*/vmlinu?-}
log "kernel $kver from /boot/${vmlinu##*/}$(is_image "$vmlinu" && echo ", a raw Image")"
to_image "$vmlinu" "$guest.new/Image"

moddir=$(find "$guest.new/kernel-root" -maxdepth 4 -type d -path "*/lib/modules/$kver" -print -quit)
[[ -n $moddir ]] || die "$kernel_deb has no lib/modules/$kver"
mkdir -p "$guest.new/modules"
mv "$moddir" "$guest.new/modules/$kver"

# --- modules needed by the initramfs, in load order ---
# depmod writes modules.dep, modules.alias and the others into the tree (it wants the tree at
# BASE/lib/modules/VERSION: a symbolic link provides that); `modprobe --show-depends` then
# prints the insmod commands that loading a module takes, dependencies first, soft ones
# ("softdep pre:", e.g. ext4 and jbd2 on crypto-crc32c) included, or "builtin NAME".
modbase=$guest.new/depmod-base
mkdir -p "$modbase/lib/modules"
ln -s "$guest.new/modules/$kver" "$modbase/lib/modules/$kver"
log "running depmod on the module tree"
"$depmod" -b "$modbase" "$kver" || die "depmod failed on $guest.new/modules/$kver"

# group_modules NAME...: print, one a line, the module files (relative to the tree) that
# loading the modules NAME takes, in load order, each once.
group_modules() {
	local m steps verb path rel seen=" "
	for m in "$@"; do
		steps=$("$modprobe" -d "$modbase" -S "$kver" --show-depends "$m" 2>&1) ||
			die "modprobe --show-depends $m: ${steps:-no output}"
		while read -r verb path _; do
			case $verb in
			insmod)
				rel=${path#"$modbase/lib/modules/$kver/"}
				[[ $rel != "$path" ]] || die "modprobe named $path, outside the module tree"
				[[ $seen == *" $rel "* ]] || echo "$rel"
				seen+="$rel "
				;;
			builtin) log "$m is built into the kernel" ;;
			*) die "modprobe --show-depends $m: unexpected line: $verb $path" ;;
			esac
		done <<<"$steps"
	done
}

# --- initramfs ---
root=$guest.new/initramfs-root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root,etc,newroot}
n=$(busybox_install "$busybox_deb" "$root")
log "busybox with $n applet links"

# Each group's modules go into the initramfs decompressed (busybox insmod reads only plain
# .ko files), and into the shell function modules_for that /init calls: its case labels
# are the group keys, its answers the files to insmod.
modules_for="modules_for() {
	case \$1 in"
for group in "${guest_module_groups[@]}"; do
	read -r -a names <<<"$group"
	key=${names[0]}
	names=("${names[@]:1}")
	files=()
	while read -r rel; do
		[[ -n $rel ]] || continue
		ko=${rel%.xz}
		ko=${ko%.zst}
		ko=${ko%.gz}
		if [[ ! -f $root/lib/modules/$kver/$ko ]]; then
			src=$guest.new/modules/$kver/$rel
			mkdir -p "$root/lib/modules/$kver/$(dirname "$ko")"
			case $rel in
			*.xz) xz -dc "$src" ;;
			*.zst) zstd -qdc "$src" ;;
			*.gz) gzip -dc "$src" ;;
			*) cat "$src" ;;
			esac >"$root/lib/modules/$kver/$ko"
		fi
		files+=("$ko")
	done < <(group_modules "${names[@]}")
	log "modules for $key (${names[*]}): ${files[*]:-none}"
	modules_for+="
	$key) echo '${files[*]}' ;;"
done
modules_for+="
	esac
}"
rm -rf "$modbase"

# Build-time values first, then the script itself (quoted: expanded at run time).
{
	cat <<EOF
#!/bin/sh
# rvisor test guest: say it runs (first line), mount the kernel's file systems, load the
# virtio-mmio transport and the drivers of the virtio devices present (with ext4 when there
# is a disk), say so once (marker). Then,
# when the kernel command line has root=/dev/vdX, mount that disk (type from rootfstype=,
# default ext4; ro unless rw is given, as the kernel does) and switch_root to its init
# (init=, default /sbin/init). Otherwise, or when that fails, give the console a shell; when
# the shell ends, power off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
kver='$kver'
marker='$marker'
first_line='$first_line'

# The module files, dependencies first, that the transport (mmio) and each virtio device
# type (by device ID, virtio 1.2 section 5) need; made with depmod and modprobe.
$modules_for
EOF
	cat <<'EOF'

loaded=' '
load() {
	for m in $(modules_for "$1"); do
		case $loaded in *" $m "*) continue ;; esac
		# insmod's complaints (say, a module already there) are not worth a console line.
		insmod "/lib/modules/$kver/$m" >/dev/null 2>&1
		loaded="$loaded$m "
	done
}

echo "$first_line"
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
# The transport first: it registers the devices the device tree lists, so their IDs can be
# read; then each type's driver once, as udev would.
load mmio
for dev in /sys/bus/virtio/devices/*; do
	id=
	[ -r "$dev/device" ] && read -r id <"$dev/device"
	case $id in
	0x[0-9a-fA-F]*) load $((id)) ;;
	esac
done
echo "$marker"

root='' fstype=ext4 mode=ro init=/sbin/init
set -f
for arg in $(cat /proc/cmdline); do
	case $arg in
	root=*) root=${arg#root=} ;;
	rootfstype=*) fstype=${arg#rootfstype=} ;;
	ro | rw) mode=$arg ;;
	init=*) init=${arg#init=} ;;
	esac
done
set +f

# Returns only on failure, having said why.
switch_to_root() {
	i=0
	while [ ! -b "$root" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if [ ! -b "$root" ]; then
		echo "rvisor-guest: no block device $root"
		return 1
	fi
	if ! mount -t "$fstype" -o "$mode" "$root" /newroot; then
		echo "rvisor-guest: cannot mount $root ($fstype, $mode)"
		return 1
	fi
	if [ ! -x "/newroot$init" ] && [ ! -L "/newroot$init" ]; then
		echo "rvisor-guest: $root has no $init"
		umount /newroot
		return 1
	fi
	for fs in dev proc sys; do
		if [ -d "/newroot/$fs" ]; then
			mount --move "/$fs" "/newroot/$fs"
		else
			umount "/$fs"
		fi
	done
	exec switch_root /newroot "$init"
}

case $root in
/dev/vd[a-z]*) switch_to_root || echo "rvisor-guest: starting a shell instead" ;;
esac
setsid cttyhack sh
poweroff -f
EOF
} >"$root/init"
chmod 0755 "$root/init"

(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --owner=0:0 --quiet) >"$guest.new/initramfs.cpio"
log "initramfs.cpio: $(($(stat -c %s "$guest.new/initramfs.cpio") / 1024)) KiB"

rm -rf "$guest.new/kernel-root" "$root"
echo "$stamp" >"$guest.new/stamp"
rm -rf "$guest"
mv "$guest.new" "$guest"

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
{
	echo "RVISOR_KERNEL=$(q "$guest/Image")"
	echo "RVISOR_INITRD=$(q "$guest/initramfs.cpio")"
	echo "RVISOR_MODULES=$(q "$guest/modules/$kver")"
	echo "RVISOR_KERNEL_VERSION=$(q "$kver")"
	echo "RVISOR_FIRMWARE=$(q "$firmware")"
	echo "RVISOR_BUSYBOX_DEB=$(q "$busybox_deb")"
} >"$env_file"
log "guest ready in $guest"
print_env
