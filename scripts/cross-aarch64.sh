#!/usr/bin/env bash
# Build rvisor for arm64 (aarch64) Linux hosts with Debian's cross compiler, on this x86-64
# host: the build a snapshot taken here can be restored with on an arm64 machine, or under
# qemu-user here (tests/integration/test_cross_isa.py does that).
#
#   scripts/cross-aarch64.sh          builds build-aarch64/rvisor (no translator back end:
#                                     its harts interpret) and prints, as shell assignments,
#                                     RVISOR_AARCH64 (the binary), RVISOR_AARCH64_SYSROOT
#                                     (the arm64 libraries it runs with: qemu-aarch64 -L) and
#                                     RVISOR_AARCH64_USER (build-aarch64/rvisor-user: runs it
#                                     under qemu-aarch64, with --no-seccomp)
#
# The headers are the host's own (Debian's -dev packages install the same ones on every
# architecture); the arm64 shared libraries rvisor links against, and everything they need
# down to the C library, come from the host's Debian release as .debs, through a private apt
# (arm64 only, its own state in the cache, signatures checked against the host's archive
# keyring; the host's dpkg configuration is not touched) and are unpacked into a sysroot in
# ${RVISOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rvisor}/cross-arm64. Reruns reuse it.
#
# Environment: RVISOR_DEBIAN_MIRROR (the archive URI; default: the host's apt sources'),
# RVISOR_HOST_SUITE (the release; default: the host's VERSION_CODENAME).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
prog=cross-aarch64
# shellcheck source=SCRIPTDIR/guest-common.sh
. "$here/guest-common.sh"

keyring=/usr/share/keyrings/debian-archive-keyring.gpg
# The libraries of the Makefile's LDLIBS (-lm and -pthread are the C library's).
libs=(fdt z slirp microhttpd jansson seccomp)
lib_pkgs=(libfdt1 zlib1g libslirp0 libmicrohttpd12 libjansson4 libseccomp2)

for tool in aarch64-linux-gnu-gcc qemu-aarch64 apt-get apt-cache dpkg-deb gpgv make; do
	command -v "$tool" >/dev/null || die "$tool not found: run scripts/deps.sh first"
done
[[ -f $keyring ]] || die "$keyring not found: install debian-archive-keyring (scripts/deps.sh)"

mirror=${RVISOR_DEBIAN_MIRROR:-$(host_mirror | sed -n 1p)}
[[ -n $mirror ]] || die "no Debian archive found in the host's apt sources: set RVISOR_DEBIAN_MIRROR to a Debian mirror URI"
mirror=${mirror%/}
# shellcheck source=/dev/null
suite=${RVISOR_HOST_SUITE:-$(. /etc/os-release && echo "${VERSION_CODENAME:-}")}
[[ -n $suite ]] || die "the host's Debian release is unknown (/etc/os-release): set RVISOR_HOST_SUITE, e.g. bookworm"

cache=$(guest_cache_dir)/cross-arm64
aptdir=$cache/apt
debs=$cache/debs
sysroot=$cache/sysroot
linkdir=$cache/link
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"

stamp="$(cat "${BASH_SOURCE[0]}" "$here/guest-common.sh" | sha256sum | cut -d' ' -f1) $mirror $suite"
if [[ ! -f $sysroot/stamp || $(cat "$sysroot/stamp") != "$stamp" ]]; then
	rm -rf "$aptdir" "$sysroot" "$linkdir"
	mkdir -p "$aptdir"/etc/sources.list.d "$aptdir"/etc/preferences.d "$aptdir"/etc/trusted.gpg.d \
		"$aptdir"/state/lists/partial "$aptdir"/cache/archives/partial "$debs" "$sysroot" "$linkdir"
	: >"$aptdir/state/status"
	guest_apt_opts "$aptdir" "$mirror" arm64
	echo "deb [arch=arm64 signed-by=$keyring] $mirror $suite main" >"$aptdir/etc/sources.list"
	log "updating the arm64 package lists of $mirror $suite"
	if ! apt-get "${apt_opts[@]}" -q update >"$aptdir/update.log" 2>&1 ||
		grep -q '^[WE]:' "$aptdir/update.log"; then
		grep -E '^[WE]:' "$aptdir/update.log" | sed 's/^/  /' >&2
		die "cannot get the arm64 package lists of $mirror $suite (see above)"
	fi
	inrelease=$(find "$aptdir/state/lists" -maxdepth 1 -name "*_dists_${suite}_InRelease" -print -quit)
	[[ -n $inrelease ]] || die "no signed InRelease file for $suite (an unsigned Release is refused)"
	gpgv --keyring "$keyring" "$inrelease" >/dev/null 2>&1 ||
		die "$inrelease does not verify with $keyring"

	# The libraries and everything they depend on (Depends and Pre-Depends), resolved by apt.
	mapfile -t closure < <(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends \
		--no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "${lib_pkgs[@]}" |
		grep -v '^ ' | grep -v '^<' | LC_ALL=C sort -u)
	((${#closure[@]} >= ${#lib_pkgs[@]})) || die "apt cannot resolve ${lib_pkgs[*]} for arm64 in $suite"
	log "downloading ${#closure[@]} arm64 packages"
	# apt-get download checks each file against the signed index (and keeps one that matches).
	(cd "$debs" && apt-get "${apt_opts[@]}" -q download "${closure[@]/%/:arm64}" >"$aptdir/download.log" 2>&1) ||
		{
			sed 's/^/  /' "$aptdir/download.log" >&2
			die "downloading the arm64 packages failed (see above)"
		}
	for p in "${closure[@]}"; do
		deb=$(find "$debs" -maxdepth 1 -name "${p}_*_arm64.deb" -print -quit)
		[[ -n $deb ]] || deb=$(find "$debs" -maxdepth 1 -name "${p}_*_all.deb" -print -quit)
		[[ -n $deb ]] || die "the .deb of $p is missing after the download"
		dpkg-deb -x "$deb" "$sysroot"
	done
	# Link names (libfdt.so ...) for the linker, as the -dev packages would make them.
	for l in "${libs[@]}"; do
		so=$(find "$sysroot/lib/aarch64-linux-gnu" "$sysroot/usr/lib/aarch64-linux-gnu" \
			-maxdepth 1 -name "lib$l.so.[0-9]*" 2>/dev/null | LC_ALL=C sort | sed -n 1p)
		[[ -n $so ]] || die "lib$l.so.N is not in the arm64 packages"
		ln -sf "$so" "$linkdir/lib$l.so"
	done
	echo "$stamp" >"$sysroot/stamp"
fi

libpath=$sysroot/lib/aarch64-linux-gnu:$sysroot/usr/lib/aarch64-linux-gnu
log "building build-aarch64/rvisor"
make -C "$root" -j2 BUILD=build-aarch64 HOST_ARCH=aarch64 CC=aarch64-linux-gnu-gcc \
	LDFLAGS="-L$linkdir -Wl,-rpath-link,$libpath" build-aarch64/rvisor >"$cache/build.log" 2>&1 ||
	{
		grep -E 'error:|warning:' "$cache/build.log" | head -20 | sed 's/^/  /' >&2
		die "the arm64 build failed (the whole log: $cache/build.log)"
	}
version=$(qemu-aarch64 -L "$sysroot" "$root/build-aarch64/rvisor" --version 2>&1) ||
	die "the arm64 build does not run under qemu-aarch64: $version"
log "built: $version"
# A wrapper that runs it under qemu-user, for scripts that take an rvisor binary (e.g.
# tests/guest/run.sh). Seccomp filters cannot work under qemu-user: they would filter the
# emulator's own system calls.
printf '#!/bin/sh\nexec qemu-aarch64 -L %q %q "$@" --no-seccomp\n' "$sysroot" \
	"$root/build-aarch64/rvisor" >"$root/build-aarch64/rvisor-user"
chmod +x "$root/build-aarch64/rvisor-user"
echo "RVISOR_AARCH64='$root/build-aarch64/rvisor'"
echo "RVISOR_AARCH64_SYSROOT='$sysroot'"
echo "RVISOR_AARCH64_USER='$root/build-aarch64/rvisor-user'"
