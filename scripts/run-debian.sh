#!/usr/bin/env bash
# Boot a whole Debian trixie riscv64 system on this terminal: systemd, udev, DHCP with
# systemd-networkd, sshd and a login prompt on the serial console. Installs what is missing
# (scripts/deps.sh), builds rvisor, fetches the kernel (scripts/get-guest.sh, cached) and, on
# first use, builds the disk with scripts/make-debian-image.sh (cached; long the first time:
# every package's maintainer scripts run inside rvisor).
#
#   scripts/run-debian.sh [--u-boot] [--small | --standard] [--root-password PW]
#                         [--ssh-key FILE.pub] [--image FILE] [--size SIZE] [--busybox]
#                         [-- RVISOR-OPTIONS...]
#
# The disk is FILE (default ${RVISOR_CACHE:-~/.cache/rvisor}/debian.img): made on first use,
# then kept between boots, with what was installed on it. Log in as root: no password, unless
# --root-password PW was given when the disk was made; --ssh-key FILE.pub (made then too)
# lets `ssh -p 2222 root@127.0.0.1` in, through the forwarded port (RVISOR_SSH_PORT, default
# 2222). Delete the disk to make it again with other settings.
#
# By default rvisor boots get-guest.sh's kernel and initramfs (the same kernel version as the
# image's package), which mount the disk's partition; --u-boot boots the way an installed
# system does instead: OpenSBI starts Debian's U-Boot, which loads the kernel and initrd the
# disk's /boot/extlinux/extlinux.conf names (so a kernel upgraded inside the guest takes effect).
# `poweroff` ends the VM; `reboot` starts it again; Ctrl-A x quits at once. --busybox boots
# only the kernel and busybox initramfs to a shell (`poweroff -f` to leave).
# Extra options after -- go to `rvisor run` (e.g. -- --mem 4G --cpus 4).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC2034 # used by guest-common.sh
prog=run-debian # for guest-common.sh's messages
# shellcheck source=SCRIPTDIR/guest-common.sh
. "$root/scripts/guest-common.sh"

uboot=0 busybox=0 image='' make_opts=()
while (($#)); do
	case $1 in
	--u-boot) uboot=1 ;;
	--busybox) busybox=1 ;;
	--small | --standard) make_opts+=("$1") ;;
	--root-password | --ssh-key | --size)
		(($# >= 2)) || die "$1 needs a value"
		make_opts+=("$1" "$2")
		shift
		;;
	--image)
		(($# >= 2)) || die "$1 needs a value"
		image=$2
		shift
		;;
	--)
		shift
		break
		;;
	-h | --help)
		sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "unknown option '$1' (see --help); options for rvisor go after --" ;;
	esac
	shift
done

"$root/scripts/deps.sh" >&2
make -C "$root" -j2 >&2
guest_env=$("$root/scripts/get-guest.sh")
# guest.env holds only single-quoted assignments of RVISOR_* variables.
eval "$guest_env"
rvisor=$root/build/rvisor

if ((busybox)); then
	exec "$rvisor" run --kernel "$RVISOR_KERNEL" --initrd "$RVISOR_INITRD" \
		--cmdline "console=ttyS0 earlycon=sbi" "$@"
fi

image=${image:-$(guest_cache_dir)/debian.img}
if [[ ! -f $image ]]; then
	"$root/scripts/make-debian-image.sh" "${make_opts[@]}" "$image" ||
		die "cannot make $image (see above)"
elif ((${#make_opts[@]})); then
	log "$image exists: ${make_opts[*]} not applied (delete it to make it again)"
fi

port=${RVISOR_SSH_PORT:-2222}
argv=("$rvisor" run --cpus 2 --mem 2G --drive "path=$image"
	--net "user,hostfwd=tcp:127.0.0.1:$port-:22")
if ((uboot)); then
	argv+=(--firmware "$RVISOR_FIRMWARE"
		--kernel "$(guest_cache_dir)/debian-image/u-boot-qemu-riscv64_smode.bin")
else
	argv+=(--kernel "$RVISOR_KERNEL" --initrd "$RVISOR_INITRD"
		--cmdline "console=ttyS0 root=/dev/vda1 rw")
fi
log "booting $image; log in as root; ssh: ssh -p $port root@127.0.0.1; Ctrl-A x quits"
# rvisor's exit status 3: the guest asked for a reboot.
while :; do
	status=0
	"${argv[@]}" "$@" || status=$?
	((status == 3)) || exit "$status"
	log "the guest rebooted: starting it again"
done
