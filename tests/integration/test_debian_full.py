"""A whole Debian system: systemd to a login prompt, ssh, apt, poweroff and reboot, U-Boot.

The image comes from `scripts/make-debian-image.sh --small`: trixie's packages of Priority:
required with systemd, udev, systemd-networkd, openssh-server, apt, the kernel package,
initramfs-tools and u-boot-menu, every maintainer script run by dpkg inside rvisor (the
script's second stage). Its first build takes long (see the README); it is cached after. The
tests boot a copy carrying a root password and an ssh key made here, with get-guest.sh's
kernel and initramfs (root=/dev/vda1), and check what a user of an installed Debian expects:

- systemd brings up a getty on the serial console: logging in as root with the password
  gives a shell; `systemctl is-system-running` says running or degraded (the failed units
  are named in the log);
- DHCP through user-mode networking: ssh through a hostfwd port runs a command with the key;
- apt-get installs a package from a repository served on the host's loopback (10.0.2.2 in
  the guest), made with dpkg-scanpackages from a .deb downloaded through the private apt;
- `poweroff` ends rvisor with status 0 and the file system is clean (e2fsck -fn);
- `reboot` ends it with status 3 (rvisor's "the guest asked for a reboot");
- OpenSBI starts Debian's U-Boot (u-boot-qemu), which reads extlinux.conf from the image
  and boots the image's own kernel and initrd to the same login prompt.

The tests run when RVISOR_DEBIAN_FULL=1, as scripts/test.sh sets it after building the image
in the background beside its first stages (the build takes about 5 minutes, the tests about
1.5 minutes with the image cached); a plain pytest run skips them.
"""

import os
import re
import socket
import subprocess
import threading
from http.server import HTTPServer, SimpleHTTPRequestHandler
from functools import partial
from pathlib import Path

import pytest

from conftest import HOST_FAULT, REPO, Console, Shared, cache_dir, run_tool, rvisor_run, tool

BUILD_TIMEOUT = 3600  # the first build: downloads, then every maintainer script, emulated
BOOT_TIMEOUT = 600  # seconds to the login prompt: kernel, systemd, udev, ssh keys...
COMMAND_TIMEOUT = 120
EXIT_TIMEOUT = 180
LOGIN = rb"rvisor login: "
PROMPT = rb"root@rvisor:[^\r\n]*# "
ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
PASSWORD = "rvisor-test-password"
PART_OFFSET = 1 << 20  # the root partition starts at 1 MiB
UBOOT = cache_dir() / "debian-image" / "u-boot-qemu-riscv64_smode.bin"


def build_enabled():
    return os.environ.get("RVISOR_DEBIAN_FULL") == "1"


@pytest.fixture(scope="session")
def keypair(tmp_path_factory):
    """An ed25519 key pair made for this session: (private key path, public key path)."""
    d = tmp_path_factory.mktemp("ssh")
    key = d / "id_ed25519"
    r = run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "rvisor-test", "-f",
                  str(key)])
    assert r.returncode == 0, r.stderr
    return key, Path(f"{key}.pub")


@pytest.fixture(scope="session")
def debian_image(guest, keypair, tmp_path_factory):
    """A copy of the small image with root's password PASSWORD and the session's ssh key."""
    if not build_enabled():
        pytest.skip("the Debian image's first build takes minutes: set RVISOR_DEBIAN_FULL=1 "
                    "to run these tests (scripts/test.sh does; the image is then cached)")
    out = tmp_path_factory.mktemp("debian-full") / "disk.img"
    r = subprocess.run(["bash", str(REPO / "scripts" / "make-debian-image.sh"), "--small",
                        "--root-password", PASSWORD, "--ssh-key", str(keypair[1]), str(out)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
    assert r.returncode == 0, f"make-debian-image.sh failed:\n{r.stdout}{r.stderr}"
    print(r.stderr)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_argv(rvisor_bin, accel, guest, image, port=None, uboot=False):
    """rvisor booting image: get-guest.sh's kernel and initramfs (root=/dev/vda1), or OpenSBI
    and U-Boot (the image's own kernel, initrd and command line, from its extlinux.conf)."""
    argv = rvisor_run(rvisor_bin, accel) + ["--cpus", "2", "--mem", "1G",
                                            "--drive", f"path={image}"]
    if uboot:
        argv += ["--firmware", guest["RVISOR_FIRMWARE"], "--kernel", str(UBOOT)]
    else:
        argv += ["--kernel", guest["RVISOR_KERNEL"], "--initrd", guest["RVISOR_INITRD"],
                 "--cmdline", "console=ttyS0 root=/dev/vda1 rw"]
    net = "user" + (f",hostfwd=tcp:127.0.0.1:{port}-:22" if port else "")
    return argv + ["--net", net]


def sh(console, command, timeout=COMMAND_TIMEOUT):
    """Run command in the guest's shell: (its exit status, its output without carriage
    returns and terminal control sequences)."""
    out = console.run(f"echo rvisor-begin-$((6*6)); {command}; echo rvisor-status=$?", timeout)
    text = ESCAPES.sub(b"", out).replace(b"\r", b"").decode(errors="replace")
    # The prompt precedes the first line: echo is off, so the marker is output only.
    m = re.search(r"rvisor-begin-36\n(.*?)^rvisor-status=(\d+)$", text, re.M | re.S)
    assert m, f"no output frame for `{command}`\n{console.tail()}"
    return int(m.group(2)), m.group(1)


def ok(console, command, timeout=COMMAND_TIMEOUT):
    status, output = sh(console, command, timeout)
    assert status == 0, f"`{command}` exited {status}:\n{output}\n{console.tail()}"
    return output.splitlines()


def login(console):
    """Log in as root on the serial console's getty, with the password."""
    console.expect(LOGIN, BOOT_TIMEOUT, "the login prompt")
    console.send("root\n")
    console.expect(rb"Password: ", COMMAND_TIMEOUT, "the password prompt")
    console.send(PASSWORD + "\n")
    console.expect(PROMPT, COMMAND_TIMEOUT, "the shell's prompt after logging in")
    # One command per line from here on: no line editing noise.
    ok(console, "stty -echo; bind 'set enable-bracketed-paste off' 2>/dev/null; true")


@pytest.fixture(scope="module")
def debian_vm(request, rvisor, accel, guest, debian_image):
    """A VM booted from the image, logged in on the serial console."""
    shared = Shared()
    shared.port = free_port()
    shared.image = debian_image
    shared.console = Console(vm_argv(rvisor, accel, guest, debian_image, port=shared.port))
    try:
        login(shared.console)
    except AssertionError as e:
        shared.error = str(e)
    yield shared
    shared.console.close()


def test_login_on_the_serial_console(debian_vm):
    """systemd's getty on ttyS0 took root's password; the shell runs under systemd."""
    console = debian_vm.vm()
    assert ok(console, "tty; id -un") == ["/dev/ttyS0", "root"]
    assert ok(console, "readlink /proc/1/exe") == ["/usr/lib/systemd/systemd"]
    assert ok(console, "cat /etc/debian_version")[0].startswith("13.")
    # get-guest.sh's kernel is the one of the image's kernel package: its modules are there.
    ok(console, "test -d /lib/modules/$(uname -r)/kernel")


def test_system_is_running(debian_vm):
    """systemctl is-system-running: running, or degraded with the failed units named."""
    console = debian_vm.vm()
    _, state = sh(console, "timeout 400 systemctl is-system-running --wait", timeout=420)
    failed = ok(console, "systemctl list-units --failed --plain --no-legend --no-pager | cat")
    print("systemctl is-system-running:", state.strip())
    print("failed units:", failed or "none")
    for unit in failed:
        print(f"--- {unit.split()[0]}")
        print("\n".join(ok(console, f"journalctl -b -u {unit.split()[0]} --no-pager | tail -n 15")))
    assert state.strip() in ("running", "degraded"), state
    assert ok(console, "systemctl is-active systemd-networkd ssh systemd-journald "
                       "systemd-udevd serial-getty@ttyS0") == ["active"] * 5


def test_ssh_through_hostfwd(debian_vm, keypair):
    """DHCP gave the card 10.0.2.15; ssh to the forwarded port runs a command with the key."""
    console = debian_vm.vm()
    ok(console, "timeout 120 sh -c 'until networkctl status --no-pager | "
                "grep -q \"Address: 10.0.2.15\"; do sleep 1; done'", timeout=150)
    argv = ["ssh", "-i", str(keypair[0]), "-p", str(debian_vm.port), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "ConnectTimeout=60", "root@127.0.0.1", "uname -m; cat /etc/hostname"]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"ssh failed ({r.returncode}): {r.stderr}\n{console.tail()}"
    assert r.stdout.split() == ["riscv64", "rvisor"], r.stdout


def download_deb(package, directory):
    """Download package's .deb for riscv64 through get-guest.sh's private apt (its lists are
    signature-checked; apt checks the file against them). Returns its path."""
    script = ('prog=test; . "$1/scripts/guest-common.sh"; aptdir=$(guest_cache_dir)/apt; '
              "mirror=$(awk '$1 == \"deb\" { print $(NF - 2); exit }' $aptdir/etc/sources.list); "
              'guest_apt_opts "$aptdir" "$mirror"; cd "$2" && apt-get "${apt_opts[@]}" -q '
              'download "$3"')
    r = subprocess.run(["bash", "-c", script, "bash", str(REPO), str(directory), package],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"apt-get download {package}: {r.stdout}{r.stderr}"
    debs = list(Path(directory).glob(f"{package}_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_apt_install_from_a_repository_on_the_host(debian_vm, tmp_path):
    """apt-get update and install through HTTP from a repository on the host's loopback."""
    console = debian_vm.vm()
    repo = tmp_path / "repo"
    repo.mkdir()
    deb = download_deb("hello", repo)
    packages = subprocess.run(["dpkg-scanpackages", "--multiversion", "."], cwd=repo,
                              capture_output=True, check=True, timeout=60).stdout
    (repo / "Packages").write_bytes(packages)
    server = HTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(repo)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        ok(console, "test ! -e /usr/bin/hello")
        # Only this repository: the image's own sources name the Debian mirror.
        apt = "apt-get -q -o Dir::Etc::sourcelist=/etc/apt/host.list " \
              "-o Dir::Etc::sourceparts=/etc/apt/host.d"
        ok(console, f"echo 'deb [trusted=yes] http://10.0.2.2:{port} ./' >/etc/apt/host.list "
                    "&& mkdir -p /etc/apt/host.d")
        ok(console, f"{apt} update", timeout=300)
        ok(console, f"DEBIAN_FRONTEND=noninteractive {apt} -y install hello", timeout=600)
        assert ok(console, "hello") == ["Hello, world!"]
        version = deb.name.split("_")[1].replace("%3a", ":")
        assert ok(console, "dpkg-query -W -f '${Version}\\n' hello") == [version]
    finally:
        server.shutdown()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_poweroff_ends_rvisor_and_leaves_a_clean_disk(debian_vm):
    console = debian_vm.vm()
    ok(console, "echo kept >/root/kept && sync")
    console.send("poweroff\n")
    status = console.wait(EXIT_TIMEOUT)
    assert status == 0, f"rvisor exited {status} after poweroff\n{console.tail()}"
    assert not HOST_FAULT.search(console.err), console.tail()
    r = run_tool([tool("e2fsck"), "-fn", f"{debian_vm.image}?offset={PART_OFFSET}"])
    assert r.returncode == 0, f"e2fsck -fn:\n{r.stdout.decode()}{r.stderr.decode()}"
    r = run_tool([tool("debugfs"), "-R", "cat /root/kept", f"{debian_vm.image}?offset={PART_OFFSET}"])
    assert r.stdout == b"kept\n", r


def test_reboot_ends_rvisor_with_status_3(rvisor, accel, guest, debian_image):
    console = Console(vm_argv(rvisor, accel, guest, debian_image))
    try:
        login(console)
        console.send("reboot\n")
        status = console.wait(EXIT_TIMEOUT)
        assert status == 3, f"rvisor exited {status} after reboot, not 3\n{console.tail()}"
    finally:
        console.close()
    r = run_tool([tool("e2fsck"), "-fn", f"{debian_image}?offset={PART_OFFSET}"])
    assert r.returncode == 0, f"e2fsck -fn:\n{r.stdout.decode()}{r.stderr.decode()}"


def test_u_boot_boots_the_image_from_its_extlinux_conf(rvisor, accel, guest, debian_image):
    """OpenSBI, then U-Boot, which reads /boot/extlinux/extlinux.conf (written by u-boot-menu
    when the kernel package was configured) and boots the image's own kernel and initrd."""
    assert UBOOT.is_file(), f"{UBOOT} missing: make-debian-image.sh fetches it"
    console = Console(vm_argv(rvisor, accel, guest, debian_image, uboot=True))
    try:
        console.expect(rb"U-Boot 20\d\d", 120, "U-Boot's banner")
        console.expect(rb"Retrieving file: /boot/extlinux/extlinux\.conf", 300,
                       "U-Boot reading extlinux.conf")
        console.expect(rb"Retrieving file: /boot/vmlinu[xz]-", 300, "U-Boot loading the kernel")
        console.expect(rb"Retrieving file: /boot/initrd\.img-", 300, "U-Boot loading the initrd")
        login(console)
        lines = ok(console, "cat /proc/cmdline; uname -r; ls -1 /boot")
        # The command line u-boot-menu wrote (get-guest.sh's boots give another order).
        assert lines[0].startswith("root=/dev/vda1 console=ttyS0 rw"), lines
        assert {f"vmlinux-{lines[1]}", f"initrd.img-{lines[1]}"} <= set(lines[2:]), lines
        console.send("poweroff\n")
        assert console.wait(EXIT_TIMEOUT) == 0, console.tail()
    finally:
        console.close()
