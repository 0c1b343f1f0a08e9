# shellcheck shell=bash
# Shared by scripts/get-guest.sh and scripts/make-rootfs.sh (sourced, not run): where the
# guest cache lives, error reporting, the options of the private apt, and installing Debian's
# static riscv64 busybox with its applet links into a directory tree. The caller sets `prog`
# (its name, for messages) and uses `set -euo pipefail`.
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

# guest_apt_opts APTDIR MIRROR [ARCH]: set the array apt_opts to the options of the private
# apt the guest packages come through: its own sources, lists, package cache and (empty) dpkg
# status under APTDIR, one architecture only (ARCH, default riscv64); everything else
# (proxies, timeouts) comes from the host's apt configuration. MIRROR is the archive URI (a
# dated snapshot gets Check-Valid-Until=false). get-guest.sh fills APTDIR's lists;
# make-rootfs.sh reads them. cross-aarch64.sh has its own, for arm64.
guest_apt_opts() {
	local aptdir=$1 mirror=$2 arch=${3:-riscv64}
	apt_opts=(
		-o "Dir::State=$aptdir/state"
		-o "Dir::State::status=$aptdir/state/status"
		-o "Dir::Cache=$aptdir/cache"
		-o "Dir::Etc::sourcelist=$aptdir/etc/sources.list"
		-o "Dir::Etc::sourceparts=$aptdir/etc/sources.list.d"
		-o "Dir::Etc::preferences=$aptdir/etc/preferences"
		-o "Dir::Etc::preferencesparts=$aptdir/etc/preferences.d"
		-o "Dir::Etc::trusted=$aptdir/etc/trusted.gpg"
		-o "Dir::Etc::trustedparts=$aptdir/etc/trusted.gpg.d"
		-o "APT::Architecture=$arch"
		-o "APT::Architectures=$arch"
		-o "APT::Default-Release="
		-o "Acquire::Languages=none"
		-o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
	)
	# A dated archive snapshot (.../YYYYMMDDThhmmssZ) serves Release files past their
	# Valid-Until date; the signature is still checked.
	if [[ $mirror =~ /[0-9]{8}T[0-9]{6}Z$ ]]; then
		apt_opts+=(-o "Acquire::Check-Valid-Until=false")
	fi
	# As root, apt hands downloads to its _apt user, which may not reach a cache under /root.
	if ((EUID == 0)); then
		apt_opts+=(-o "APT::Sandbox::User=root")
	fi
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

# Print the URI of the main Debian archive from the host's apt sources: the first enabled
# "deb" entry whose suite is a release (no -security/-updates/-backports suffix) and whose
# components include main. Reads one-line (.list) and deb822 (.sources) files.
host_mirror() {
	local files=()
	[[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
	local f
	for f in /etc/apt/sources.list.d/*.list; do [[ -f $f ]] && files+=("$f"); done
	for f in "${files[@]}"; do
		awk '
			{ sub(/#.*/, "") }
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
				uri = $i; s = $(i + 1); main = 0
				for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
				if (main && s !~ /[-\/]/) { print uri; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		awk '
			function flush(   n, i, s, ok) {
				if (types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/ && enabled !~ /^no$/) {
					n = split(suites, s, " "); ok = 0
					for (i = 1; i <= n; i++) if (s[i] !~ /[-\/]/) ok = 1
					if (ok && uris != "") { split(uris, u, " "); print u[1]; exit }
				}
				types = uris = suites = comps = enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[A-Za-z-]+:/ {
				key = tolower($1); sub(/:.*/, "", key); val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "components") comps = val
				else if (key == "enabled") enabled = tolower(val)
			}
			END { flush() }' "$f"
	done
}
