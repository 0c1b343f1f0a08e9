#!/usr/bin/env bash
# Build an ext4 root file system image for rvisor's guests from Debian riscv64 packages, with
# no root privileges and no loop mount: the files are staged in a directory and written into
# the image by `mkfs.ext4 -d`. Every file is owned by root in the image (or by the owner its
# package gives it), whoever runs the script. Two flavours:
#
#   scripts/make-rootfs.sh [--busybox] OUT.img [SIZE]     SIZE default 64M
#   scripts/make-rootfs.sh --debian [--with PKG[,PKG...]] OUT.img [SIZE]   SIZE default 256M
#
# SIZE is the image size as mkfs.ext4 reads it (bytes with a K, M or G suffix).
#
# --busybox (the default): Debian's busybox-static (the .deb scripts/get-guest.sh downloaded,
# reused from its cache) with its applet links, in a merged-/usr layout, a few /etc files and
# an /sbin/init script.
#
# --debian: a minimal Debian trixie: the packages of Priority: required and the closure of
# their Depends and Pre-Depends, resolved by apt from the signed package lists get-guest.sh
# keeps (its private riscv64 apt, guest_apt_opts) and downloaded through it, each unpacked
# with `dpkg-deb -x`. No maintainer script runs; what theirs would do for a first
# installation is done here instead: /etc/passwd, group, shadow and gshadow from
# base-passwd's masters (every password locked), base-files' /etc and /var set-up, the
# alternatives (awk, which, pager, rmt), /etc/shells, nsswitch.conf, the time zone (UTC), and
# a dpkg database (/var/lib/dpkg/status and info/) assembled from the packages' control
# files, so dpkg lists them as installed. Plus /etc/hostname, hosts and fstab, an
# /sbin/init script, and /usr/local/sbin/poweroff (the required set has no init system, so
# no poweroff). The .debs are cached in the cache directory under rootfs-debian/debs.
# --with adds the named packages (and the closure of their Depends and Pre-Depends) to the
# required set, e.g. --with 7zip,xz-utils for bench/jit.py; such an image is built and cached
# apart, under rootfs-debian+PKG+PKG... (the names sorted), so the plain one stays as it is.
#
# Both boot with the initramfs of get-guest.sh:
#   rvisor run ... --drive path=OUT.img --cmdline "console=ttyS0 root=/dev/vda rw"
# Their init mounts the kernel's file systems (unless already there), prints
# "rvisor-rootfs: init started" and starts a login shell on the console (busybox sh, or
# bash as the console's controlling terminal); when the shell exits it syncs, remounts /
# read-only and powers off. The Debian flavour's init also mounts /run, /dev/pts and
# /dev/shm and remounts / read-write first.
#
# The built image is cached in ${RVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvisor}/rootfs
# (rootfs-debian for --debian) and copied (sparse) to OUT.img; it is rebuilt when this
# script, the packages, the size or mkfs.ext4's version changes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=make-rootfs
# shellcheck source=SCRIPTDIR/guest-common.sh
. "$here/guest-common.sh"

usage="usage: scripts/make-rootfs.sh [--busybox | --debian [--with PKG[,PKG...]]] OUT.img [SIZE]"
flavour=busybox
case ${1:-} in
-h | --help)
	echo "$usage"
	exit 0
	;;
--busybox) shift ;;
--debian)
	flavour=debian
	shift
	;;
-*) die "unknown option '$1'; $usage" ;;
esac
# Extra packages for the Debian flavour, sorted and without duplicates.
extra=()
if [[ $flavour == debian && ${1:-} == --with ]]; then
	(($# >= 2)) || die "--with needs a list of packages; $usage"
	[[ $2 =~ ^[a-z0-9][a-z0-9.+-]*(,[a-z0-9][a-z0-9.+-]*)*$ ]] ||
		die "--with '$2' is not a comma-separated list of Debian package names"
	mapfile -t extra < <(tr ',' '\n' <<<"$2" | LC_ALL=C sort -u)
	shift 2
fi
[[ ${1:-} != -* ]] || die "unknown option '$1'; $usage"
(($# >= 1 && $# <= 2)) || die "$usage"
out=$1
if [[ $flavour == debian ]]; then
	size=${2:-256M}
else
	size=${2:-64M}
fi
[[ $size =~ ^[1-9][0-9]*[KMG]?$ ]] || die "size '$size' is not a size: use e.g. 64M or 1G"
[[ -d $(dirname -- "$out") ]] || die "$(dirname -- "$out"): no such directory for $out"

mkfs=$(find_tool mkfs.ext4) || die "mkfs.ext4 not found: run scripts/deps.sh first (e2fsprogs)"
debugfs=$(find_tool debugfs) || die "debugfs not found: run scripts/deps.sh first (e2fsprogs)"
tools=(dpkg-deb sha256sum)
if [[ $flavour == debian ]]; then
	tools+=(apt-get apt-cache tar md5sum update-alternatives)
else
	tools+=(qemu-riscv64)
fi
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/deps.sh first"
done

# get-guest.sh answers from its cache without network once it has run.
guest_env=$("$here/get-guest.sh") || die "scripts/get-guest.sh failed (see above)"
# guest.env holds only single-quoted assignments of RVISOR_* variables.
eval "$guest_env"

marker="rvisor-rootfs: init started"
base=$(guest_cache_dir)
script_sum=$(cat "${BASH_SOURCE[0]}" "$here/guest-common.sh" | sha256sum | cut -d' ' -f1)
mkfs_version=$("$mkfs" -V 2>&1 | sed -n 1p)

# --- the busybox flavour ---

# busybox_write_init FILE: the root file system's /sbin/init.
busybox_write_init() {
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

# busybox_stage DIR OWNERS DEB: the file tree of the image, from busybox-static's DEB; every
# file is root's (OWNERS stays empty).
busybox_stage() {
	local root=$1 owners=$2 deb=$3 n
	: >"$owners"
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
	busybox_write_init "$root/usr/sbin/init"

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

# --- the Debian flavour ---

# The alternatives that the packages' postinst scripts register on a first installation, as
# `update-alternatives --install` arguments (LINK NAME PATH PRIORITY [--slave LINK NAME
# PATH]...), without the manual pages' slaves.
debian_alternatives=(
	"/usr/bin/awk awk /usr/bin/mawk 5 --slave /usr/bin/nawk nawk /usr/bin/mawk"
	"/usr/bin/which which /usr/bin/which.debianutils 0"
	"/usr/bin/pager pager /bin/more 50"
	"/usr/sbin/rmt rmt /usr/sbin/rmt-tar 50"
)

# debian_resolve: print "NAME VERSION ARCH" for each package of the image, sorted by name:
# those of Priority: required in the private apt's lists and the --with packages, and the
# closure of their Depends and Pre-Depends, as apt resolves it for an empty system (no
# Recommends, no Suggests).
debian_resolve() {
	local required sim
	required=$(apt-cache "${apt_opts[@]}" dumpavail |
		awk -F': ' '$1 == "Package" { p = $2 } $1 == "Priority" && $2 == "required" { print p }' |
		LC_ALL=C sort -u) || die "cannot read the package lists (apt-cache dumpavail)"
	if ((${#extra[@]})); then
		required+=$'\n'"$(printf '%s\n' "${extra[@]}")"
	fi
	[[ -n $required ]] ||
		die "no Priority: required package in the lists of $aptdir: run scripts/get-guest.sh with RVISOR_GUEST_REFRESH=1"
	# shellcheck disable=SC2086 # package names are single words
	sim=$(apt-get "${apt_opts[@]}" -s -o APT::Install-Recommends=false \
		-o APT::Install-Suggests=false install $required 2>&1) ||
		die "apt cannot resolve the required packages: $(grep -E '^(E|W):' <<<"$sim" | sed -n 1,5p)"
	# "Inst NAME [OLD] (VERSION ARCHIVE [ARCH]) [BROKEN...]"
	awk '$1 == "Inst" && match($0, /\[[a-z0-9-]+\]\)/) {
		i = ($3 ~ /^\[/) ? 4 : 3
		print $2, substr($i, 2), substr($0, RSTART + 1, RLENGTH - 3)
	}' <<<"$sim" | LC_ALL=C sort
}

# debian_download PACKAGES DIR: download the .debs of PACKAGES (debian_resolve's lines) into
# DIR through the private apt, which checks each against the signed lists and keeps a file
# that already matches; delete the other .debs there. Prints the files' paths.
debian_download() {
	local pkgs=$1 dir=$2 name version arch specs=() files=() missing=0 file
	while read -r name version arch; do
		specs+=("$name=$version")
		file=$dir/${name}_${version//:/%3a}_$arch.deb
		files+=("$file")
		[[ -f $file ]] || missing=$((missing + 1))
	done <<<"$pkgs"
	((missing == 0)) || log "downloading $missing of ${#specs[@]} packages into $dir"
	if ! (cd "$dir" && apt-get "${apt_opts[@]}" -q download "${specs[@]}") \
		>"$dir/download.log" 2>&1; then
		grep -E '^(E|W):' "$dir/download.log" | sed 's/^/  /' >&2
		die "downloading the packages failed (log: $dir/download.log); if the mirror dropped these versions, run scripts/get-guest.sh with RVISOR_GUEST_REFRESH=1"
	fi
	for file in "${files[@]}"; do
		[[ -f $file ]] || die "apt-get download did not produce $file"
	done
	find "$dir" -maxdepth 1 -name '*.deb' -print0 | while IFS= read -r -d '' file; do
		[[ " ${files[*]} " == *" $file "* ]] || rm -f "$file"
	done
	printf '%s\n' "${files[@]}"
}

# debian_unpack ROOT OWNERS DEB...: unpack the packages into ROOT and record them in ROOT's
# dpkg database as dpkg would have: an entry in var/lib/dpkg/status per package (its control
# file, "Status: install ok installed", its conffiles with their MD5 sums), and in
# var/lib/dpkg/info the package's file list (PKG.list) and control members (md5sums,
# maintainer scripts...), named PKG:ARCH.* for Multi-Arch: same packages (database format 1).
# Appends "UID GID PATH" to OWNERS for each file a package gives to another owner than root.
debian_unpack() {
	local root=$1 owners=$2 db=$1/var/lib/dpkg ctl deb name arch ma key member path sum
	shift 2
	ctl=$(mktemp -d "${TMPDIR:-/tmp}/rvisor-control.XXXXXX")
	mkdir -p "$db/info"
	: >"$db/status"
	for deb in "$@"; do
		rm -rf "$ctl"
		dpkg-deb -e "$deb" "$ctl" || die "dpkg-deb -e $deb failed"
		read -r name arch ma < <(awk -F': *' '$1 == "Package" { p = $2 }
			$1 == "Architecture" { a = $2 } $1 == "Multi-Arch" { m = $2 }
			END { print p, a, (m == "" ? "no" : m) }' "$ctl/control")
		[[ -n $name && -n $arch ]] || die "$deb: no Package or Architecture in its control file"
		key=$name
		[[ $ma == same ]] && key=$name:$arch
		# Unpack (as dpkg-deb -x does: modes kept, owners too when root) and list each member
		# in one pass: "TYPE+MODE UID/GID SIZE DATE TIME ./PATH[ -> TARGET| link to TARGET]".
		dpkg-deb --fsys-tarfile "$deb" |
			tar -x -vv --numeric-owner -p --warning=no-timestamp -C "$root" |
			awk -v list="$db/info/$key.list" -v owners="$owners" '{
				type = substr($1, 1, 1)
				split($2, owner, "/")
				path = $0
				sub(/^[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ /, "", path)
				if (type == "l") sub(/ -> .*/, "", path)
				if (type == "h") sub(/ link to .*/, "", path)
				sub(/^\.\/?/, "", path)
				sub(/\/$/, "", path)
				print (path == "" ? "/." : "/" path) > list
				if (path != "" && (owner[1] != 0 || owner[2] != 0))
					print owner[1], owner[2], "/" path >> owners
			}' || die "cannot unpack $deb"
		for member in "$ctl"/*; do
			[[ ${member##*/} == control ]] || cp -p "$member" "$db/info/$key.${member##*/}"
		done
		{
			awk 'NF == 0 { next } { print } $1 == "Package:" { print "Status: install ok installed" }' \
				"$ctl/control"
			if [[ -s $ctl/conffiles ]]; then
				echo "Conffiles:"
				# Lines with a flag first (remove-on-upgrade PATH) name no shipped file.
				while read -r path _; do
					[[ $path == /* ]] || continue
					[[ -f $root$path ]] || die "$deb: conffile $path is not in the package"
					sum=$(md5sum <"$root$path")
					echo " $path ${sum%% *}"
				done <"$ctl/conffiles"
			fi
			echo
		} >>"$db/status"
	done
	rm -rf "$ctl"
	echo 1 >"$db/info/format"
	: >"$db/available"
	: >"$db/diversions"
	: >"$db/statoverride"
	echo riscv64 >"$db/arch-native"
}

# gid_of ROOT GROUP: the group's ID in ROOT/etc/group.
gid_of() {
	local gid
	gid=$(awk -F: -v g="$2" '$1 == g { print $3 }' "$1/etc/group")
	[[ -n $gid ]] || die "no group $2 in base-passwd's group.master"
	echo "$gid"
}

# debian_configure ROOT OWNERS: what the maintainer scripts would do on a first installation
# (configure), for the parts a booted system needs. Appends to OWNERS like debian_unpack.
debian_configure() {
	local root=$1 owners=$2 share=$1/usr/share d alt args shadow utmp mail
	# base-passwd: the masters; passwd (shadowconfig on): the passwords, all locked ("*"), in
	# shadow and gshadow, readable by the shadow group. No date of last change (pwconv writes
	# today's): the board has no real-time clock, so the guest's clock starts in 1970 and
	# would find every change in the future.
	awk -F: -v OFS=: '{ $2 = "x"; print }' "$share/base-passwd/passwd.master" >"$root/etc/passwd"
	awk -F: -v OFS=: '{ $2 = "x"; print }' "$share/base-passwd/group.master" >"$root/etc/group"
	awk -F: -v OFS=: '{ print $1, $2, "", 0, 99999, 7, "", "", "" }' \
		"$share/base-passwd/passwd.master" >"$root/etc/shadow"
	awk -F: -v OFS=: '{ print $1, $2, "", $4 }' "$share/base-passwd/group.master" \
		>"$root/etc/gshadow"
	chmod 0644 "$root/etc/passwd" "$root/etc/group"
	chmod 0640 "$root/etc/shadow" "$root/etc/gshadow"
	install -m 0644 /dev/null "$root/etc/subuid"
	install -m 0644 /dev/null "$root/etc/subgid"
	shadow=$(gid_of "$root" shadow)
	utmp=$(gid_of "$root" utmp)
	mail=$(gid_of "$root" mail)
	printf '0 %s /etc/shadow\n0 %s /etc/gshadow\n' "$shadow" "$shadow" >>"$owners"

	# base-files
	ln -sfn debian "$root/etc/dpkg/origins/default"
	cp -p "$share/base-files/dot.profile" "$root/root/.profile"
	cp -p "$share/base-files/dot.bashrc" "$root/root/.bashrc"
	cp -p "$share/base-files/profile" "$root/etc/profile"
	cp -p "$share/base-files/motd" "$root/etc/motd"
	for d in mnt srv opt etc/opt var/opt media; do
		install -d -m 0755 "$root/$d"
	done
	install -d -m 2775 "$root/var/mail"
	echo "0 $mail /var/mail" >>"$owners"
	ln -sfn ../mail "$root/var/spool/mail"
	install -d -m 1777 "$root/run/lock"
	rmdir "$root/var/run" "$root/var/lock"
	ln -s /run "$root/var/run"
	ln -s /run/lock "$root/var/lock"
	for d in share share/man bin games lib libexec include sbin src etc; do
		install -d -m 0755 "$root/usr/local/$d"
	done
	ln -sfn share/man "$root/usr/local/man"
	install -m 0664 /dev/null "$root/var/log/wtmp"
	install -m 0660 /dev/null "$root/var/log/btmp"
	install -m 0664 /dev/null "$root/var/log/lastlog"
	printf '0 %s /var/log/%s\n' "$utmp" wtmp "$utmp" btmp "$utmp" lastlog >>"$owners"
	install -m 0644 "$share/base-files/info.dir" "$root/usr/share/info/dir"
	for d in lib32 lib64 libo32 libx32; do
		if [[ -d $root/usr/$d && ! -e $root/$d ]]; then ln -s "usr/$d" "$root/$d"; fi
	done

	# libc-bin, debianutils (update-shells: each shell also under its /usr-merged path),
	# tzdata (UTC), libpam-modules
	cp -p "$share/libc-bin/nsswitch.conf" "$root/etc/nsswitch.conf"
	cat "$share/debianutils/shells" "$share/debianutils/shells.d/"* | sed 's/#.*//' |
		awk 'NF { print $1; if ($1 ~ /^\/(s?bin|lib)\//) print "/usr" $1 }' |
		awk '!seen[$0]++' | { echo "# /etc/shells: valid login shells" && cat; } >"$root/etc/shells"
	ln -sfn /usr/share/zoneinfo/Etc/UTC "$root/etc/localtime"
	install -m 0600 /dev/null "$root/etc/security/opasswd"

	# The alternatives, with the host's update-alternatives working in ROOT.
	for alt in "${debian_alternatives[@]}"; do
		read -r -a args <<<"$alt"
		[[ -e $root${args[2]} || -L $root${args[2]} ]] ||
			die "alternative ${args[1]}: ${args[2]} is in no package of the image"
		update-alternatives --root "$root" --log /dev/null --install "${args[@]}" >/dev/null ||
			die "update-alternatives --install ${args[*]} failed"
	done
}

# debian_write_init FILE: the root file system's /sbin/init.
debian_write_init() {
	cat >"$1" <<EOF
#!/bin/sh
# rvisor's Debian root file system has no init system (none is in Debian's required
# packages); this script does what a console session needs: mount the kernel's file systems
# unless the initramfs moved them here already, /run, /dev/pts and /dev/shm, remount /
# read-write, set the host name and say so once, then run a login shell (bash) with the
# console as its controlling terminal. When the shell exits, write everything out, remount /
# read-only (a clean file system) and power off.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mounted() { grep -q "^[^ ]* \$1 " /proc/mounts 2>/dev/null; }
mounted /proc || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
mounted /dev/shm || mount -t tmpfs -o nosuid,nodev tmpfs /dev/shm
mounted /run || mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
mkdir -p -m 1777 /run/lock
mount -o remount,rw / || echo "rvisor-rootfs: / stays read-only"
hostname -F /etc/hostname
echo "$marker"
# The device behind /dev/console (the last of the active consoles), opened as the shell's
# terminal so that it can be the controlling one: Ctrl-C and job control then work.
tty=
read -r tty </sys/class/tty/console/active
tty=/dev/\${tty##* }
[ -c "\$tty" ] || tty=/dev/console
cd /root
HOME=/root setsid --ctty --wait bash -l <>"\$tty" >&0 2>&1
cd /
sync
mount -o remount,ro /
poweroff -f
EOF
	chmod 0755 "$1"
}

# debian_write_poweroff FILE: /usr/local/sbin/poweroff. The reboot(2) system call (number 142
# on riscv64, LINUX_REBOOT_CMD_POWER_OFF) through perl, which perl-base provides.
debian_write_poweroff() {
	cat >"$1" <<'EOF'
#!/bin/sh
# poweroff [-f]: power the machine off. There is no init system to ask, so this does what one
# does last: write everything out and, without -f, remount / read-only (a clean file system);
# then the reboot(2) system call, LINUX_REBOOT_CMD_POWER_OFF.
force=
for arg; do
	case $arg in
	-f | --force) force=1 ;;
	*)
		echo "usage: poweroff [-f]" >&2
		exit 1
		;;
	esac
done
sync
if [ -z "$force" ]; then
	mount -o remount,ro / || echo "poweroff: / stays read-write" >&2
fi
exec perl -e 'syscall(142, 0xfee1dead, 672274793, 0x4321fedc, 0); die "poweroff: $!\n"'
EOF
	chmod 0755 "$1"
}

# debian_stage DIR OWNERS DEB...: the file tree of the image from the packages DEB; OWNERS
# receives the files owned by others than root ("UID GID PATH").
debian_stage() {
	local root=$1 owners=$2
	shift 2
	mkdir -p "$root"
	: >"$owners"
	debian_unpack "$root" "$owners" "$@"
	[[ -L $root/bin && -L $root/sbin && -L $root/lib ]] ||
		die "base-files no longer makes /bin, /sbin and /lib links into /usr (merged /usr)"
	debian_configure "$root" "$owners"
	debian_write_init "$root/usr/sbin/init"
	install -d -m 0755 "$root/usr/local/sbin"
	debian_write_poweroff "$root/usr/local/sbin/poweroff"

	echo "rvisor" >"$root/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\trvisor\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
		>"$root/etc/hosts"
	cat >"$root/etc/fstab" <<'EOF'
# <file system>	<mount point>	<type>	<options>		<dump>	<pass>
LABEL=rvisor-root	/		ext4	errors=remount-ro	0	1
EOF
	ln -sfn ../proc/self/mounts "$root/etc/mtab"
}

# --- the image ---

# make_image STAGING IMG [OWNERS]: the ext4 image. Not root: mkfs.ext4 -d copies each file's
# owner, so every inode's uid and gid are then set to 0 with debugfs (which does not follow
# the symbolic link a path ends in). Then, root or not, each "UID GID PATH" line of OWNERS
# gives PATH to that owner.
make_image() {
	local staging=$1 img=$2 owners=${3:-/dev/null}
	rm -f "$img"
	"$mkfs" -q -F -t ext4 -L rvisor-root -E root_owner=0:0 -d "$staging" "$img" "$size" \
		>/dev/null ||
		die "mkfs.ext4 -d $staging $img $size failed"
	{
		if ((EUID != 0)); then
			(cd "$staging" && find . -mindepth 1 -printf '%P\n') |
				awk '{ printf "sif \"/%s\" uid 0\nsif \"/%s\" gid 0\n", $0, $0 }'
		fi
		awk '{ path = $0; sub(/^[^ ]+ [^ ]+ /, "", path)
			printf "sif \"%s\" uid %d\nsif \"%s\" gid %d\n", path, $1, path, $2 }' "$owners"
	} >"$img.debugfs"
	if [[ -s $img.debugfs ]]; then
		# debugfs reports a failed command on stderr, after its version line, and exits 0.
		if ! "$debugfs" -w -f "$img.debugfs" "$img" >/dev/null 2>"$img.debugfs.log" ||
			grep -qv '^debugfs [0-9]' "$img.debugfs.log"; then
			die "debugfs could not set the files' owners: $(grep -v '^debugfs [0-9]' \
				"$img.debugfs.log" | sed -n 1,3p)"
		fi
	fi
	rm -f "$img.debugfs" "$img.debugfs.log"
}

# build_image CACHE STAMP STAGE_FUNCTION [ARGS...]: unless CACHE/rootfs.img was built for
# STAMP, stage the tree with STAGE_FUNCTION DIR OWNERS ARGS... and make the image.
build_image() {
	local cache=$1 stamp=$2 stage=$3 start=$SECONDS
	shift 3
	if [[ -f $cache/rootfs.img && -f $cache/stamp && $(cat "$cache/stamp") == "$stamp" ]]; then
		log "using the cached root file system in $cache"
		return
	fi
	log "building the root file system ($size) in $cache"
	rm -rf "$cache/staging" "$cache/stamp"
	"$stage" "$cache/staging" "$cache/owners" "$@"
	log "staged $(du -sm "$cache/staging" | cut -f1) MiB"
	make_image "$cache/staging" "$cache/rootfs.img.new" "$cache/owners"
	rm -rf "$cache/staging" "$cache/owners"
	mv "$cache/rootfs.img.new" "$cache/rootfs.img"
	echo "$stamp" >"$cache/stamp"
	log "built in $((SECONDS - start)) s: $(du -m "$cache/rootfs.img" | cut -f1) MiB used of $size"
}

if [[ $flavour == busybox ]]; then
	deb=${RVISOR_BUSYBOX_DEB:-}
	[[ -f $deb ]] || die "get-guest.sh named no busybox-static package (RVISOR_BUSYBOX_DEB='$deb')"
	cache=$base/rootfs
	mkdir -p "$cache"
	# One build at a time per cache (test sessions may start together); released at exit.
	exec 9>"$cache/.lock"
	flock 9 || die "cannot lock $cache/.lock"
	build_image "$cache" "$script_sum busybox $(basename "$deb") $size $mkfs_version" \
		busybox_stage "$deb"
else
	cache=$base/rootfs-debian
	if ((${#extra[@]})); then
		cache+=$(printf '+%s' "${extra[@]}")
	fi
	aptdir=$base/apt
	mkdir -p "$cache/debs"
	exec 9>"$cache/.lock"
	flock 9 || die "cannot lock $cache/.lock"
	# get-guest.sh's apt state, under its lock: it may be refreshing the lists.
	exec 8>"$base/.lock"
	flock 8 || die "cannot lock $base/.lock"
	[[ -f $aptdir/etc/sources.list ]] ||
		die "no package lists in $aptdir: run scripts/get-guest.sh with RVISOR_GUEST_REFRESH=1"
	# "deb [OPTIONS] MIRROR DIST main", as get-guest.sh wrote it.
	mirror=$(awk '$1 == "deb" { print $(NF - 2); exit }' "$aptdir/etc/sources.list")
	guest_apt_opts "$aptdir" "$mirror"
	packages=$(debian_resolve)
	deb_list=$(debian_download "$packages" "$cache/debs")
	mapfile -t debs <<<"$deb_list"
	exec 8>&-
	log "${#debs[@]} packages: Priority: required${extra[*]:+, ${extra[*]}} and their dependencies"
	build_image "$cache" \
		"$script_sum debian $(sha256sum <<<"$packages" | cut -d' ' -f1) $size $mkfs_version" \
		debian_stage "${debs[@]}"
fi

image=$cache/rootfs.img
cp --sparse=always "$image" "$out.new"
mv "$out.new" "$out"
log "wrote $out"
