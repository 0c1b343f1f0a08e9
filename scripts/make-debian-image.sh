#!/usr/bin/env bash
# Build a whole Debian trixie riscv64 system on a raw (sparse) disk image, the way debootstrap
# does, with every maintainer script really run, the second half inside rvisor itself:
#
#   scripts/make-debian-image.sh [--small | --standard] [--size SIZE] [--root-password PW]
#                                [--ssh-key FILE.pub] [--cpus N] [--mem SIZE] OUT.img
#
# The packages: those of Priority: required and important (--standard adds the standard
# ones; --small keeps only required, for the tests), plus systemd, udev, systemd-networkd
# with systemd-resolved, openssh-server, apt, e2fsprogs, the kernel (linux-image-riscv64),
# initramfs-tools and u-boot-menu, and the closure of their Depends and Pre-Depends as apt
# resolves it. They come through the private riscv64 apt of scripts/get-guest.sh (the mirror
# of the host's apt sources or RVISOR_DEBIAN_MIRROR; lists verified with the host's Debian
# archive keyring, each .deb checked against them) and are kept in the cache.
#
# First stage, on the host: the disk gets an MBR partition table with one Linux partition
# (from 1 MiB to the end), an ext4 file system there (`mkfs.ext4 -d`, no loop mount) holding
# the required packages unpacked with `dpkg-deb -x` (so that the guest can run dpkg), every
# .deb, and the second stage's script. Second stage, inside rvisor (get-guest.sh's kernel and
# initramfs, root=/dev/vda1, that script as init): debootstrap's order, `dpkg --install` of
# the core packages one at a time, then `dpkg --unpack` and `dpkg --configure` of the other
# required packages with --force-depends, then `apt-get install` of the rest from their files
# (apt orders them: Pre-Depends configured first); the initrd is made once; then the system's
# own settings (host name, fstab, DHCP on the virtio-net card with systemd-networkd, apt's
# sources; the console's getty comes from systemd) and a power-off. The host keeps the image
# only when the guest said it finished (dpkg --audit clean), rvisor exited 0 and the file
# system is clean.
#
# The image is cached in ${RVISOR_CACHE:-~/.cache/rvisor}/debian-image/NAME, keyed on the
# package list, this script and the size; OUT.img is a sparse copy, to which the log-in
# settings are then written (debugfs, on the copy only):
#   root's password  empty unless --root-password PW is given: on the serial console, log in
#                    as root without a password (ssh refuses empty passwords)
#   --ssh-key FILE   FILE (a public key, e.g. ~/.ssh/id_ed25519.pub) becomes
#                    /root/.ssh/authorized_keys: `ssh -p PORT root@127.0.0.1` through
#                    `--net user,hostfwd=tcp:127.0.0.1:PORT-:22`
#
# Booting it: see scripts/run-debian.sh (get-guest.sh's kernel and initramfs, or the image's
# own through U-Boot). SIZE (default 4G, --small 2G) as mkfs.ext4 reads it; --cpus (default
# 2) and --mem (default 2G) are the second stage's VM. Needs build/rvisor (make).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
prog=make-debian-image
# shellcheck source=SCRIPTDIR/guest-common.sh
. "$here/guest-common.sh"

usage="usage: scripts/make-debian-image.sh [--small | --standard] [--size SIZE] [--root-password PW] [--ssh-key FILE.pub] [--cpus N] [--mem SIZE] OUT.img"
flavour=important size='' password='' ssh_key='' cpus=2 mem=2G out=''
while (($#)); do
	case $1 in
	-h | --help)
		echo "$usage"
		exit 0
		;;
	--small) flavour=small ;;
	--standard) flavour=standard ;;
	--size | --root-password | --ssh-key | --cpus | --mem)
		(($# >= 2)) || die "$1 needs a value; $usage"
		case $1 in
		--size) size=$2 ;;
		--root-password) password=$2 ;;
		--ssh-key) ssh_key=$2 ;;
		--cpus) cpus=$2 ;;
		--mem) mem=$2 ;;
		esac
		shift
		;;
	-*) die "unknown option '$1'; $usage" ;;
	*)
		[[ -z $out ]] || die "more than one OUT.img; $usage"
		out=$1
		;;
	esac
	shift
done
[[ -n $out ]] || die "$usage"
[[ -n $size ]] || { [[ $flavour == small ]] && size=2G || size=4G; }
[[ $size =~ ^[1-9][0-9]*[MG]$ ]] || die "size '$size' is not a size: use e.g. 2G or 3000M"
[[ $cpus =~ ^[1-9][0-9]*$ ]] || die "--cpus '$cpus' is not a number of harts"
[[ $mem =~ ^[1-9][0-9]*[MG]$ ]] || die "--mem '$mem' is not a size: use e.g. 2G"
[[ -d $(dirname -- "$out") ]] || die "$(dirname -- "$out"): no such directory for $out"
if [[ -n $ssh_key ]]; then
	[[ -f $ssh_key ]] || die "--ssh-key $ssh_key: no such file"
	grep -qE '^(ssh-|ecdsa-|sk-)[a-z0-9@.-]+ [A-Za-z0-9+/=]+' "$ssh_key" ||
		die "--ssh-key $ssh_key is not an OpenSSH public key (give the .pub file)"
fi

mkfs=$(find_tool mkfs.ext4) || die "mkfs.ext4 not found: run scripts/deps.sh first (e2fsprogs)"
debugfs=$(find_tool debugfs) || die "debugfs not found: run scripts/deps.sh first (e2fsprogs)"
e2fsck=$(find_tool e2fsck) || die "e2fsck not found: run scripts/deps.sh first (e2fsprogs)"
for tool in apt-get apt-cache dpkg-deb sha256sum openssl; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/deps.sh first"
done
rvisor=${RVISOR_BIN:-$repo/build/rvisor}
[[ -x $rvisor ]] || die "$rvisor not found: run make first"

guest_env=$("$here/get-guest.sh") || die "scripts/get-guest.sh failed (see above)"
# guest.env holds only single-quoted assignments of RVISOR_* variables.
eval "$guest_env"

# The partition: from sector 2048 (1 MiB) to the end of the disk.
part_start=2048
part_offset=$((part_start * 512))
case $size in
*G) disk_bytes=$((${size%G} << 30)) ;;
*M) disk_bytes=$((${size%M} << 20)) ;;
esac
((disk_bytes >= 1 << 30)) || die "size $size is too small: a Debian system needs at least 1G"
part_sectors=$((disk_bytes / 512 - part_start))

extra=(systemd systemd-sysv udev systemd-resolved openssh-server apt e2fsprogs
	linux-image-riscv64 initramfs-tools u-boot-menu)
case $flavour in
small) priorities=(required) ;;
important) priorities=(required important) ;;
standard) priorities=(required important standard) ;;
esac

base=$(guest_cache_dir)
aptdir=$base/apt
pool=$base/debian-image/debs
cache=$base/debian-image/$flavour-$size
mkdir -p "$pool" "$cache"
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"
# get-guest.sh's apt state, under its lock while in use: it may be refreshing the lists.
exec 8>"$base/.lock"
flock 8 || die "cannot lock $base/.lock"
[[ -f $aptdir/etc/sources.list ]] ||
	die "no package lists in $aptdir: run scripts/get-guest.sh with RVISOR_GUEST_REFRESH=1"
# "deb [OPTIONS] MIRROR DIST main", as get-guest.sh wrote it.
read -r mirror dist < <(awk '$1 == "deb" { print $(NF - 2), $(NF - 1); exit }' \
	"$aptdir/etc/sources.list")
guest_apt_opts "$aptdir" "$mirror"

# resolve PRIORITY... -- PACKAGE...: "NAME VERSION ARCH" of the packages of those priorities
# and the named ones with the closure of their Depends and Pre-Depends, as apt resolves it for
# an empty system, sorted by name.
resolve() {
	local prios=" " names sim
	while [[ $1 != -- ]]; do
		prios+="$1 "
		shift
	done
	shift
	names=$(apt-cache "${apt_opts[@]}" dumpavail |
		awk -F': ' -v prios="$prios" '$1 == "Package" { p = $2 }
			$1 == "Priority" && index(prios, " " $2 " ") { print p }' | LC_ALL=C sort -u) ||
		die "cannot read the package lists (apt-cache dumpavail)"
	[[ -n $names ]] ||
		die "no Priority: required package in the lists of $aptdir: run scripts/get-guest.sh with RVISOR_GUEST_REFRESH=1"
	# shellcheck disable=SC2086 # package names are single words
	sim=$(apt-get "${apt_opts[@]}" -s -o APT::Install-Recommends=false \
		-o APT::Install-Suggests=false install $names "$@" 2>&1) ||
		die "apt cannot resolve the packages: $(grep -E '^(E|W):' <<<"$sim" | sed -n 1,3p | tr '\n' ' ')"
	# "Inst NAME [OLD] (VERSION ARCHIVE [ARCH]) [BROKEN...]"
	awk '$1 == "Inst" && match($0, /\[[a-z0-9-]+\]\)/) {
		i = ($3 ~ /^\[/) ? 4 : 3
		print $2, substr($i, 2), substr($0, RSTART + 1, RLENGTH - 3)
	}' <<<"$sim" | LC_ALL=C sort
}

required=$(resolve required -- apt)
packages=$(resolve "${priorities[@]}" -- "${extra[@]}")
n_packages=$(wc -l <<<"$packages")

# Download into the pool what it lacks (apt checks each file against the signed lists and
# keeps one that already matches).
specs=()
missing=0
while read -r name version arch; do
	specs+=("$name=$version")
	[[ -f $pool/${name}_${version//:/%3a}_$arch.deb ]] || missing=$((missing + 1))
done <<<"$packages"
if ((missing)); then
	log "downloading $missing of $n_packages packages into $pool"
	if ! (cd "$pool" && apt-get "${apt_opts[@]}" -q download "${specs[@]}") \
		>"$pool/download.log" 2>&1; then
		grep -E '^(E|W):' "$pool/download.log" | sed 's/^/  /' >&2
		die "downloading the packages failed (log: $pool/download.log); if the mirror dropped these versions, run scripts/get-guest.sh with RVISOR_GUEST_REFRESH=1"
	fi
fi

# Debian's U-Boot for QEMU's virt board in S-mode, which OpenSBI starts and which boots the
# image from its extlinux.conf: u-boot-qemu's qemu-riscv64_smode/u-boot.bin, kept in the
# cache as u-boot-qemu-riscv64_smode.bin.
uboot=$base/debian-image/u-boot-qemu-riscv64_smode.bin
read -r name version arch < <(apt-cache "${apt_opts[@]}" show --no-all-versions u-boot-qemu |
	awk -F': ' '$1 == "Package" { p = $2 } $1 == "Version" { v = $2 }
		$1 == "Architecture" { a = $2 } END { print p, v, a }')
[[ -n ${arch:-} ]] || die "apt cannot find u-boot-qemu in $dist"
uboot_deb=$pool/${name}_${version//:/%3a}_$arch.deb
if [[ ! -f $uboot_deb || ! -f $uboot || $uboot -ot $uboot_deb ]]; then
	(cd "$pool" && apt-get "${apt_opts[@]}" -q download "u-boot-qemu=$version") \
		>"$pool/download.log" 2>&1 || die "downloading u-boot-qemu $version failed (log: $pool/download.log)"
	rm -rf "$pool/u-boot"
	mkdir -p "$pool/u-boot"
	dpkg-deb -x "$uboot_deb" "$pool/u-boot" || die "dpkg-deb -x $uboot_deb failed"
	[[ -f $pool/u-boot/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin ]] ||
		die "$uboot_deb has no usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
	cp "$pool/u-boot/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin" "$uboot.new"
	mv "$uboot.new" "$uboot"
	rm -rf "$pool/u-boot"
fi
exec 8>&-

script_sum=$(cat "${BASH_SOURCE[0]}" "$here/guest-common.sh" | sha256sum | cut -d' ' -f1)
stamp="$script_sum $(sha256sum <<<"$packages" | cut -d' ' -f1) $size $mirror"
image=$cache/disk.img

# write_mbr IMG: an MBR partition table with one bootable Linux partition (type 0x83) from
# sector part_start over part_sectors sectors, addressed by LBA only.
write_mbr() {
	local start size i
	le() { for i in 0 8 16 24; do printf '\\x%02x' $((($1 >> i) & 255)); done; }
	start=$(le "$part_start")
	size=$(le "$part_sectors")
	# Disk signature (the PARTUUID's first half): fixed, the image is always the same.
	printf '\x72\x76\x69\x73' | dd of="$1" bs=1 seek=440 conv=notrunc status=none
	# shellcheck disable=SC2059 # the format is the bytes
	printf "\\x80\\xfe\\xff\\xff\\x83\\xfe\\xff\\xff$start$size" |
		dd of="$1" bs=1 seek=446 conv=notrunc status=none
	printf '\x55\xaa' | dd of="$1" bs=1 seek=510 conv=notrunc status=none
}

# stage2_script: the second stage's init (bash: dash's /bin/sh link may come only from its
# own maintainer script). Prints "rvisor-stage2: ..." progress lines and ends with "done" or
# "FAILED: WHAT", then powers off.
stage2_script() {
	cat <<EOF
#!/bin/bash
# Second stage of scripts/make-debian-image.sh, run as init by the first boot.
mirror='$mirror'
dist='$dist'
EOF
	cat <<'EOF'
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true LC_ALL=C HOME=/root
dir=/var/lib/rvisor-stage2
start=$(cut -d' ' -f1 /proc/uptime)
say() { echo "rvisor-stage2: [$(cut -d. -f1 /proc/uptime) s] $*"; }
finish() {
	local left
	# The bash running this (PID 1) is the one the host unpacked, which dpkg replaced: while
	# its deleted file (and its libraries') stays mapped, / cannot become read-only. The
	# script starts again in the installed bash and ends there.
	if [ "${1:-}" != again ]; then
		exec /run/rvisor-stage2 finish
	fi
	# What a maintainer script left running (it could hold a deleted file open on /).
	left=$(for exe in /proc/[0-9]*/exe; do
		pid=${exe#/proc/}
		pid=${pid%/exe}
		[ "$pid" = 1 ] || [ "$pid" = "$BASHPID" ] || [ ! -e "$exe" ] || readlink "$exe"
	done)
	if [ -n "$left" ]; then
		say "stopping what still runs: $(echo $left)"
		kill -TERM -1 2>/dev/null
		sleep 2
		kill -KILL -1 2>/dev/null
		sleep 1
	fi
	sync
	# Read-only before the power goes (sysrq u forces it when a file is still open).
	if ! mount -o remount,ro / 2>/dev/null; then
		say "/ is still busy: forcing it read-only"
		echo u >/proc/sysrq-trigger
		sleep 2
	fi
	sync
	echo o >/proc/sysrq-trigger
	sleep 600
}
fail() {
	say "FAILED: $*"
	finish
}

# The kernel's file systems, then run from /run, so that deleting $dir at the end leaves no
# open file on / (which could then not be remounted read-only).
if [ "$0" != /run/rvisor-stage2 ]; then
	[ -e /proc/self ] || mount -t proc proc /proc
	[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
	grep -q '^[^ ]* /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
	mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
	mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
	mkdir -p -m 1777 /run/lock
	ln -sfn /proc/self/fd /dev/fd
	cp "$0" /run/rvisor-stage2 && exec /run/rvisor-stage2
	fail "cannot run from /run"
fi
[ "${1:-}" != finish ] || finish again
mount -o remount,rw / || fail "cannot remount / read-write"
say "second stage started on $(nproc) harts"

# debs NAME...: the files of the packages NAME ("NAME FILE" lines in $dir/packages); bash
# alone, as awk comes and goes below.
declare -A file_of
while read -r name file; do
	file_of[$name]=$dir/debs/$file
done <"$dir/packages"
debs() {
	local p
	for p; do
		[ -n "${file_of[$p]:-}" ] || fail "no package $p in the image"
		echo "${file_of[$p]}"
	done
}
core() {
	dpkg --force-depends --install $(debs "$@") </dev/null || fail "dpkg --install $*"
}

# Daemons are not started while packages are installed.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

say "installing the core packages"
ln -sf mawk /usr/bin/awk
core base-passwd
core base-files
core dpkg
[ -e /etc/localtime ] || ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime
core libc6
core perl-base
rm -f /usr/bin/awk
core mawk
core debconf

required=$(cat "$dir/required")
say "unpacking the $(wc -w <<<"$required") required packages"
dpkg --force-depends --unpack $(debs $required) </dev/null ||
	fail "dpkg --unpack of the required packages"
say "configuring the required packages"
dpkg --configure --pending --force-configure-any --force-depends </dev/null ||
	fail "dpkg --configure of the required packages"

# The system's settings before the rest, which reads some of them (u-boot-menu's and
# initramfs-tools' hooks when the kernel package is configured).
echo rvisor >/etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\trvisor\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
	>/etc/hosts
cat >/etc/fstab <<'FSTAB'
# <file system>	<mount point>	<type>	<options>		<dump>	<pass>
LABEL=debian-root	/		ext4	errors=remount-ro	0	1
FSTAB
# u-boot-update's extlinux.conf: the kernel's command line (the serial console, the root
# partition), one second's menu.
cat >/etc/default/u-boot <<'UBOOT'
U_BOOT_UPDATE="true"
U_BOOT_PROMPT="1"
U_BOOT_TIMEOUT="10"
U_BOOT_PARAMETERS="console=ttyS0 rw"
U_BOOT_ROOT="root=/dev/vda1"
U_BOOT_FDT_DIR="/usr/lib/linux-image-"
UBOOT
# The initrd: the modules this machine needs (MODULES=dep finds the disk's driver and ext4)
# and the virtio transports; made once (the kernel package's hook), not again when
# initramfs-tools' trigger asks (each takes minutes here).
mkdir -p /etc/initramfs-tools/conf.d
printf 'virtio_mmio\nvirtio_pci\nvirtio_blk\nvirtio_net\next4\n' >>/etc/initramfs-tools/modules
echo MODULES=dep >/etc/initramfs-tools/conf.d/rvisor
printf 'update_initramfs=no\nbackup_initramfs=no\n' >/etc/initramfs-tools/update-initramfs.conf

rest=$(cat "$dir/rest")
# apt orders them (Pre-Depends configured first) and runs dpkg.
say "installing the other $(wc -w <<<"$rest") packages"
apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold \
	-o Dpkg::Use-Pty=false $(debs $rest) </dev/null || fail "apt-get install of the other packages"
printf 'update_initramfs=yes\nbackup_initramfs=no\n' >/etc/initramfs-tools/update-initramfs.conf
for modules in /lib/modules/*/modules.dep; do
	version=${modules#/lib/modules/}
	version=${version%/modules.dep}
	if [ -x /usr/sbin/update-initramfs ] && [ ! -f "/boot/initrd.img-$version" ]; then
		say "making the initrd of $version"
		update-initramfs -c -k "$version" </dev/null || fail "update-initramfs -c -k $version"
	fi
done
audit=$(dpkg --audit)
[ -z "$audit" ] || fail "dpkg --audit: $(echo $audit)"
installed=$(dpkg-query -W -f '${db:Status-Abbrev}\n' | grep -c '^ii')
say "$installed packages installed"

# DHCP on the virtio-net card (whatever udev names it), names through systemd-resolved.
mkdir -p /etc/systemd/network
cat >/etc/systemd/network/20-wired.network <<'NET'
[Match]
Type=ether

[Network]
DHCP=yes
NET
systemctl enable systemd-networkd.service systemd-resolved.service ||
	fail "systemctl enable systemd-networkd systemd-resolved"
ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
cat >/etc/apt/sources.list.d/debian.sources <<SOURCES
Types: deb
URIs: $mirror
Suites: $dist
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# Root's password: the host sets it on each copy; empty until then.
passwd -d root >/dev/null || fail "passwd -d root"
# Each copy makes its own machine ID on its first boot.
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id /usr/sbin/policy-rc.d
apt-get clean
[ -f /boot/extlinux/extlinux.conf ] || fail "no /boot/extlinux/extlinux.conf (u-boot-menu)"
ls /boot/initrd.img-* >/dev/null 2>&1 || fail "no /boot/initrd.img-* (initramfs-tools)"
rm -rf "$dir"
say "done"
finish
EOF
}

# build_image: the first stage into IMG.new, the second in rvisor, the checks.
build_image() {
	local start=$SECONDS staging=$cache/staging new=$cache/disk.img.new log=$cache/stage2.log
	local name version arch file rc
	log "building a Debian $dist image ($flavour: $n_packages packages, $size) in $cache"
	rm -rf "$staging" "$cache/stamp" "$image"
	mkdir -p "$staging/var/lib/rvisor-stage2/debs"
	# Merged /usr first: otherwise a package unpacked before base-files would make /bin a
	# directory.
	mkdir -p "$staging/usr/bin" "$staging/usr/sbin" "$staging/usr/lib"
	ln -s usr/bin "$staging/bin"
	ln -s usr/sbin "$staging/sbin"
	ln -s usr/lib "$staging/lib"
	while read -r name version arch; do
		file=${name}_${version//:/%3a}_$arch.deb
		dpkg-deb -x "$pool/$file" "$staging" || die "dpkg-deb -x $file failed"
	done <<<"$required"
	while read -r name version arch; do
		file=${name}_${version//:/%3a}_$arch.deb
		cp "$pool/$file" "$staging/var/lib/rvisor-stage2/debs/"
		echo "$name $file"
	done <<<"$packages" >"$staging/var/lib/rvisor-stage2/packages"
	cut -d' ' -f1 <<<"$required" >"$staging/var/lib/rvisor-stage2/required"
	cut -d' ' -f1 <<<"$packages" | LC_ALL=C comm -23 - "$staging/var/lib/rvisor-stage2/required" \
		>"$staging/var/lib/rvisor-stage2/rest"
	# An empty dpkg database: nothing is installed yet.
	mkdir -p "$staging/var/lib/dpkg/info" "$staging/var/lib/dpkg/updates" \
		"$staging/var/lib/dpkg/triggers"
	: >"$staging/var/lib/dpkg/status"
	: >"$staging/var/lib/dpkg/available"
	[[ -e $staging/usr/bin/sh ]] || ln -s dash "$staging/usr/bin/sh"
	stage2_script >"$staging/var/lib/rvisor-stage2/init"
	chmod 0755 "$staging/var/lib/rvisor-stage2/init"
	mkdir -p "$staging/proc" "$staging/sys" "$staging/dev" "$staging/run" "$staging/tmp"
	chmod 1777 "$staging/tmp"

	rm -f "$new"
	truncate -s "$size" "$new"
	write_mbr "$new"
	"$mkfs" -q -F -t ext4 -L debian-root -E "offset=$part_offset,root_owner=0:0" \
		-d "$staging" "$new" "$((part_sectors / 2))K" >/dev/null 2>"$cache/mkfs.log" ||
		die "mkfs.ext4 -d $staging failed: $(sed -n 1p "$cache/mkfs.log")"
	rm -rf "$staging"
	log "first stage done in $((SECONDS - start)) s; second stage in rvisor ($cpus harts, $mem; the log: $log)"

	local t2=$SECONDS
	rc=0
	: >"$log"
	"$rvisor" run --kernel "$RVISOR_KERNEL" --initrd "$RVISOR_INITRD" --cpus "$cpus" \
		--mem "$mem" --drive "path=$new" \
		--cmdline "console=ttyS0 root=/dev/vda1 rw init=/var/lib/rvisor-stage2/init" \
		</dev/null >"$log" 2>&1 &
	local pid=$!
	# The progress lines, as they come.
	tail -n +1 -f --pid=$pid "$log" | grep --line-buffered -a '^rvisor-stage2: ' |
		sed -u "s/\r\$//; s/^rvisor-stage2: /$prog: guest: /" >&2 &
	wait $pid || rc=$?
	wait
	if ! grep -aq '^rvisor-stage2: .* done' "$log"; then
		local why
		why=$(grep -a '^rvisor-stage2: .*FAILED' "$log" | sed -n 's/.*FAILED: //p;q')
		die "the second stage in rvisor failed (rvisor exit status $rc): ${why:-no \"done\" line}; see $log"
	fi
	((rc == 0)) || die "rvisor ended the second stage with status $rc; see $log"
	"$e2fsck" -fn "$new?offset=$part_offset" >"$cache/e2fsck.log" 2>&1 ||
		die "the image's file system is not clean after the second stage: see $cache/e2fsck.log"
	log "second stage done in $((SECONDS - t2)) s"
	mv "$new" "$image"
	echo "$stamp" >"$cache/stamp"
	log "built in $((SECONDS - start)) s: $(du -m "$image" | cut -f1) MiB used of $size"
}

if [[ -f $image && -f $cache/stamp && $(cat "$cache/stamp") == "$stamp" ]]; then
	log "using the cached image in $cache"
else
	build_image
fi

cp --sparse=always "$image" "$out.new"
exec 9>&-

# The log-in settings, on the copy.
if [[ -n $password || -n $ssh_key ]]; then
	fs="$out.new?offset=$part_offset"
	cmds=$out.new.debugfs
	: >"$cmds"
	if [[ -n $password ]]; then
		hash=$(openssl passwd -6 -stdin <<<"$password") || die "openssl passwd failed"
		"$debugfs" -R "dump /etc/shadow $out.new.shadow" "$fs" 2>/dev/null ||
			die "cannot read /etc/shadow from $out"
		awk -F: -v OFS=: -v h="$hash" '$1 == "root" { $2 = h } { print }' "$out.new.shadow" \
			>"$out.new.shadow2"
		gid=$("$debugfs" -R "stat /etc/shadow" "$fs" 2>/dev/null | sed -n 's/.*Group: *\([0-9]*\).*/\1/p')
		printf 'rm /etc/shadow\nwrite %s /etc/shadow\nsif /etc/shadow mode 0100640\nsif /etc/shadow uid 0\nsif /etc/shadow gid %s\n' \
			"$out.new.shadow2" "${gid:-0}" >>"$cmds"
	fi
	if [[ -n $ssh_key ]]; then
		# exists PATH: whether PATH is in the copy's file system.
		exists() { "$debugfs" -R "stat $1" "$fs" 2>/dev/null | grep -q '^Inode:'; }
		exists /root/.ssh || echo "mkdir /root/.ssh" >>"$cmds"
		exists /root/.ssh/authorized_keys && echo "rm /root/.ssh/authorized_keys" >>"$cmds"
		printf 'sif /root/.ssh mode 040700\nsif /root/.ssh uid 0\nsif /root/.ssh gid 0\nwrite %s /root/.ssh/authorized_keys\nsif /root/.ssh/authorized_keys mode 0100600\nsif /root/.ssh/authorized_keys uid 0\nsif /root/.ssh/authorized_keys gid 0\n' \
			"$ssh_key" >>"$cmds"
	fi
	# debugfs reports a failed command on stderr, after its version line, and exits 0.
	if ! "$debugfs" -w -f "$cmds" "$fs" >/dev/null 2>"$cmds.log" ||
		grep -v '^debugfs [0-9]' "$cmds.log" | grep -qv '^$'; then
		die "cannot write the log-in settings into $out: $(grep -v '^debugfs [0-9]' "$cmds.log" | sed -n 1p)"
	fi
	rm -f "$cmds" "$cmds.log" "$out.new.shadow" "$out.new.shadow2"
fi
mv "$out.new" "$out"
log "wrote $out (root=/dev/vda1); U-Boot for --kernel: $uboot"
