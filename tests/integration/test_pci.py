"""The PCI bus: Debian's kernel enumerates rvisor's PCIe host bridge (pci-host-ecam-generic,
built into the stock kernel) and drives virtio devices on it with virtio_pci (built in too).

One VM with every virtio device on PCI (--transport pci) and the console on virtio-console
(hvc0, no UART in the loop): the boot log shows the bridge and the BARs the kernel assigned,
/sys/bus/pci/devices lists each device with virtio's vendor and modern device IDs, bound to
virtio-pci, its interrupt on its own PLIC source; the entropy device feeds /dev/hwrng; the
shell answering on hvc0 is the console device itself. A second VM mixes transports: a disk on
PCI beside the entropy device on a virtio-mmio slot.
"""

import hashlib
import re

import pytest

from conftest import HOST_FAULT, MARKER, Console, boot_argv

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60

# Modern virtio-pci device IDs (virtio 1.2, 4.1.2.1): 0x1040 + the virtio device ID.
VIRTIO_VENDOR = "0x1af4"
PCI_IDS = {"console": "0x1043", "entropy": "0x1044", "block": "0x1042"}


class Shared:
    pass


def boot(request, guest, extra, cmdline):
    argv = boot_argv("rvisor", request.getfixturevalue("rvisor"), guest, firmware=False,
                     accel=request.getfixturevalue("accel"))
    argv[argv.index("--cmdline") + 1] = cmdline
    shared = Shared()
    shared.console = Console(argv + extra)
    shared.error = None
    try:
        shared.console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        shared.console.run("true", COMMAND_TIMEOUT)
    except AssertionError as e:
        shared.error = str(e)
    return shared


def vm(shared):
    if shared.error:
        pytest.fail(shared.error, pytrace=False)
    return shared.console


@pytest.fixture(scope="module")
def pci_vm(request, vmm, guest):
    if vmm != "rvisor":
        pytest.skip("--transport is rvisor's")
    shared = boot(request, guest, ["--transport", "pci", "--console", "virtio"], "console=hvc0")
    yield shared
    shared.console.close()


def pci_devices(console):
    """{slot: (vendor, device, driver)} from /sys/bus/pci/devices."""
    out = console.run(
        "for d in /sys/bus/pci/devices/*; do echo pcidev ${d##*/} $(cat $d/vendor) "
        "$(cat $d/device) $(basename $(readlink $d/driver)); done", COMMAND_TIMEOUT)
    found = {}
    for m in re.finditer(rb"^pcidev (\S+) (\S+) (\S+) (\S+)\r?$", out, re.M):
        found[m.group(1).decode()] = tuple(g.decode() for g in m.groups()[1:])
    return found


def test_bridge_enumerated(pci_vm):
    console = vm(pci_vm)
    out = console.run("dmesg | grep -E 'pci-host-generic|BAR 0'", COMMAND_TIMEOUT)
    assert re.search(rb"ECAM at \[mem 0x30000000-0x300fffff\] for \[bus 00\]", out), out
    # Both windows: 32-bit, and 64-bit prefetchable above all RAM.
    assert re.search(rb"MEM 0x0040000000\.\.0x007fffffff -> 0x0040000000", out), out
    assert re.search(rb"MEM 0x20000000000\.\.0x20fffffffff -> 0x20000000000", out), out
    # The kernel placed each (64-bit prefetchable) BAR in its window itself.
    assert re.search(rb"BAR 0 \[mem 0x200[0-9a-f]{8}-0x200[0-9a-f]{8} 64bit pref\]: assigned",
                     out), out
    assert not HOST_FAULT.search(console.err), console.tail()


def test_devices_listed_and_bound(pci_vm):
    console = vm(pci_vm)
    found = pci_devices(console)
    ids = sorted(dev for vendor, dev, _ in found.values() if vendor == VIRTIO_VENDOR)
    assert ids == sorted([PCI_IDS["console"], PCI_IDS["entropy"]]), found
    assert all(driver == "virtio-pci" for _, _, driver in found.values()), found


def test_each_device_has_its_interrupt(pci_vm):
    console = vm(pci_vm)
    out = console.run("cat /proc/interrupts", COMMAND_TIMEOUT)
    lines = [ln for ln in out.decode(errors="replace").splitlines() if "virtio" in ln]
    sources = sorted(int(re.search(r"PLIC\s+(\d+)", ln).group(1)) for ln in lines)
    assert sources == [32, 33], out
    # The console has taken interrupts (this very shell's input came through them).
    assert any(int(ln.split()[1]) > 0 for ln in lines), out


def test_console_is_virtio_on_pci(pci_vm):
    console = vm(pci_vm)
    out = console.run("cat /proc/consoles; readlink -f /sys/class/tty/hvc0/..", COMMAND_TIMEOUT)
    assert re.search(rb"^hvc0 ", out, re.M), out
    out = console.run("readlink -f /sys/bus/virtio/devices/virtio0", COMMAND_TIMEOUT)
    assert b"/pci0000:00/0000:00:0" in out, out


def test_entropy_from_pci(pci_vm):
    console = vm(pci_vm)
    out = console.run("cat /sys/class/misc/hw_random/rng_current; "
                      "head -c 4096 /dev/hwrng | od -An -tx1 | sort -u | wc -l", COMMAND_TIMEOUT)
    assert re.search(rb"^virtio_rng\.\d+\r?$", out, re.M), out
    m = re.search(rb"^\s*(\d+)\r?$", out, re.M)
    assert m and int(m.group(1)) > 200, f"4 KiB from /dev/hwrng look constant:\n{out}"


def test_mixed_transports(request, vmm, guest, tmp_path):
    """A disk on PCI and the entropy device on a virtio-mmio slot in one VM."""
    if vmm != "rvisor":
        pytest.skip("--transport is rvisor's")
    disk = tmp_path / "disk.img"
    data = bytes(range(256)) * 4096  # 1 MiB with a known checksum
    disk.write_bytes(data)
    shared = boot(request, guest, ["--drive", f"path={disk},transport=pci"], "console=ttyS0")
    try:
        console = vm(shared)
        found = pci_devices(console)
        assert [dev for _, dev, _ in found.values()] == [PCI_IDS["block"]], found
        out = console.run("for d in /sys/bus/virtio/devices/*; do echo vdev $(cat $d/device) "
                          "$(readlink -f $d); done; head -c 1048576 /dev/vda | md5sum",
                          COMMAND_TIMEOUT)
        assert re.search(rb"^vdev 0x0004 \S*virtio_mmio", out, re.M), out  # entropy
        assert re.search(rb"^vdev 0x0002 \S*/pci0000:00/", out, re.M), out  # block
        assert hashlib.md5(data).hexdigest().encode() in out, out
    finally:
        shared.console.close()
