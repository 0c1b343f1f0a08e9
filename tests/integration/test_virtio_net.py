"""virtio-net on user-mode networking (libslirp): the guest reaches an HTTP server on the
host's loopback through the NAT (10.0.2.2 is the host), and a host client reaches a server
inside the guest through a forwarded port. Only loopback addresses are used on the host.
The card offers VIRTIO_NET_F_MTU with slirp's MTU, 65520, which Linux takes for eth0; files
of a few MiB cross in both directions in frames of that size, checked by their SHA-256.

The tests share one VM and run in order, once with the card on a virtio-mmio slot and once on
the PCI bus (virtio-pci).
"""

import hashlib
import http.server
import os
import re
import socket
import threading
import urllib.request

import pytest

from conftest import HOST_FAULT, MARKER, Console, boot_argv

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 90
SLIRP_MTU = 65520
BIG_SIZE = 4 << 20  # bytes of the large files moved each way


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Shared:
    pass


@pytest.fixture(scope="module", params=["mmio", "pci"])
def net_vm(request, vmm, guest, tmp_path_factory):
    if vmm != "rvisor":
        pytest.skip("the forwarding options are rvisor's")
    shared = Shared()
    shared.transport = request.param
    # A host HTTP server on loopback, serving one file.
    root = tmp_path_factory.mktemp("www")
    shared.host_text = "served-by-the-host-%d" % free_port()
    (root / "index.html").write_text(shared.host_text + "\n")
    big = os.urandom(BIG_SIZE)
    (root / "big.bin").write_bytes(big)
    shared.big_sha256 = hashlib.sha256(big).hexdigest()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(root), **kw
    )
    shared.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    shared.host_port = shared.server.server_address[1]
    threading.Thread(target=shared.server.serve_forever, daemon=True).start()
    # The guest's HTTP server on port 80, forwarded from a free host port.
    shared.fwd_port = free_port()
    argv = boot_argv(vmm, request.getfixturevalue("rvisor"), guest, firmware=False,
                     accel=request.getfixturevalue("accel"))
    argv += ["--net", f"user,hostfwd=tcp:127.0.0.1:{shared.fwd_port}-:80,"
             f"transport={shared.transport}"]
    shared.console = Console(argv)
    shared.error = None
    try:
        shared.console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        # Let the shell settle (its line editor queries the terminal once).
        shared.console.run("true", COMMAND_TIMEOUT)
    except AssertionError as e:
        shared.error = str(e)
    yield shared
    shared.console.close()
    shared.server.shutdown()


def vm(shared):
    if shared.error:
        pytest.fail(shared.error, pytrace=False)
    return shared.console


def test_link_up(net_vm):
    console = vm(net_vm)
    out = console.run(
        "ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && "
        "ip route add default via 10.0.2.2 && ip -o link show eth0",
        COMMAND_TIMEOUT,
    )
    assert re.search(rb"eth0.*UP", out), console.tail()
    assert not HOST_FAULT.search(console.err), console.tail()


def test_card_on_its_transport(net_vm):
    """The card hangs off a virtio-mmio platform device or a PCI function, as asked."""
    console = vm(net_vm)
    out = console.run("readlink -f /sys/class/net/eth0/device", COMMAND_TIMEOUT)
    want = rb"/pci0000:00/0000:00:00\.0/virtio" if net_vm.transport == "pci" else rb"virtio_mmio/virtio"
    assert re.search(want, out), console.tail()


def test_guest_fetches_from_host_loopback(net_vm):
    console = vm(net_vm)
    out = console.run(
        f"wget -q -O - http://10.0.2.2:{net_vm.host_port}/index.html", COMMAND_TIMEOUT
    )
    assert net_vm.host_text.encode() in out, console.tail()


def test_dhcp_lease(net_vm):
    console = vm(net_vm)
    out = console.run("udhcpc -i eth0 -n -q -t 5 -s /bin/true 2>&1", COMMAND_TIMEOUT)
    assert re.search(rb"lease of 10\.0\.2\.\d+ obtained", out), console.tail()


def test_host_reaches_guest_through_hostfwd(net_vm):
    console = vm(net_vm)
    console.run(
        "mkdir -p /srv && echo served-by-the-guest > /srv/index.html && httpd -p 80 -h /srv",
        COMMAND_TIMEOUT,
    )
    url = f"http://127.0.0.1:{net_vm.fwd_port}/index.html"
    body = urllib.request.urlopen(url, timeout=COMMAND_TIMEOUT).read()
    assert body.strip() == b"served-by-the-guest", console.tail()


def test_eth0_takes_the_slirp_mtu(net_vm):
    console = vm(net_vm)
    out = console.run("cat /sys/class/net/eth0/mtu", COMMAND_TIMEOUT)
    assert re.search(rb"^%d\r?$" % SLIRP_MTU, out, re.M), console.tail()


def test_guest_fetches_large_file(net_vm):
    # Host to guest: 4 MiB in segments of up to 65480 bytes.
    console = vm(net_vm)
    out = console.run(
        f"wget -q -O /tmp/big.bin http://10.0.2.2:{net_vm.host_port}/big.bin && "
        "sha256sum /tmp/big.bin && rm /tmp/big.bin",
        COMMAND_TIMEOUT,
    )
    assert net_vm.big_sha256.encode() + b"  /tmp/big.bin" in out, console.tail()


def test_host_fetches_large_file_from_guest(net_vm):
    # Guest to host, through the forwarded port of the guest's httpd (started above).
    console = vm(net_vm)
    out = console.run(
        f"dd if=/dev/urandom of=/srv/big.bin bs=65536 count={BIG_SIZE // 65536} 2>/dev/null"
        " && sha256sum /srv/big.bin",
        COMMAND_TIMEOUT,
    )
    m = re.search(rb"^([0-9a-f]{64})  /srv/big\.bin\r?$", out, re.M)
    assert m, console.tail()
    url = f"http://127.0.0.1:{net_vm.fwd_port}/big.bin"
    body = urllib.request.urlopen(url, timeout=COMMAND_TIMEOUT).read()
    assert len(body) == BIG_SIZE, console.tail()
    assert hashlib.sha256(body).hexdigest().encode() == m.group(1), console.tail()
