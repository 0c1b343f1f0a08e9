#!/usr/bin/env bash
# Boot Debian's riscv64 kernel (trixie) with a busybox initramfs to an interactive shell on
# this terminal: installs what is missing (scripts/deps.sh), builds rvisor, fetches the guest
# (scripts/get-guest.sh, cached) and runs it with the built-in SBI. Type Ctrl-A x to quit, or
# `poweroff -f` in the guest. Extra arguments go to `rvisor run` (e.g. --mem 1G, --cpus 2,
# --firmware /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/deps.sh" >&2
make -C "$root" -j2 >&2
guest_env=$("$root/scripts/get-guest.sh")
# guest.env holds only single-quoted assignments of RVISOR_* variables.
eval "$guest_env"
exec "$root/build/rvisor" run --kernel "$RVISOR_KERNEL" --initrd "$RVISOR_INITRD" \
	--cmdline "console=ttyS0 earlycon=sbi" "$@"
