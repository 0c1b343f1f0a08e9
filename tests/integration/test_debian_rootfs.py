"""A minimal Debian as the root file system on virtio-blk.

The image comes from `scripts/make-rootfs.sh --debian`: trixie's packages of Priority:
required and their dependencies, unpacked without running their maintainer scripts, with a
dpkg database made from their control files and a small /sbin/init. The initramfs of
scripts/get-guest.sh mounts it (root=/dev/vda ro) and switch_root's into it. Through the
console, what a user of that system expects:

- the init remounts / read-write and gives the console a bash login shell, whose controlling
  terminal it is (Ctrl-C interrupts a program);
- /etc/debian_version is the suite's version (trixie is Debian 13; the same as the Version of
  the signed InRelease file the packages came from);
- dpkg knows what is installed: dpkg-query lists exactly the packages and versions of the
  image's status file, coreutils and libc6 among them, all "ii"; dpkg -S, -L, --audit and -V
  (every file of coreutils matches its MD5 sum) work;
- dynamically linked programs (ls, sort, sha256sum, awk through its alternative) run and give
  the right answers on known inputs; accounts and file owners are Debian's;
- a file written and synced survives `poweroff -f`, which ends the VM with status 0: after
  the journal replay the next mount would do (`e2fsck -fy`), debugfs reads it on the host;
- leaving the shell shuts down cleanly (status 0, `e2fsck -fn` finds nothing to fix).
"""

import hashlib
import random
import re
import shutil
import subprocess
import time

import pytest

from conftest import (HOST_FAULT, MARKER, REPO, Console, Shared, cache_dir, debugfs_cat,
                      run_tool, rvisor_run, tool)

ROOTFS_MARKER = b"rvisor-rootfs: init started"
PROMPT = rb"root@rvisor:[^\r\n]*# "
BUILD_TIMEOUT = 900  # the first build downloads about 30 MiB of packages
BOOT_TIMEOUT = 180  # seconds to the shell prompt: kernel, modules, mount, init, bash
COMMAND_TIMEOUT = 60
EXIT_TIMEOUT = 60
# Terminal control sequences (bash's bracketed-paste mode brackets each command with them).
ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def status_packages(status):
    """{package: version} of the entries of a dpkg status file that are installed."""
    packages = {}
    for entry in status.decode().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", entry, re.M))
        if fields.get("Status") == "install ok installed":
            packages[fields["Package"]] = fields["Version"]
    return packages


def suite_version():
    """The Version of the InRelease file in get-guest.sh's package lists, or None."""
    for path in sorted((cache_dir() / "apt" / "state" / "lists").glob("*_InRelease")):
        m = re.search(rb"^Version: (\S+)$", path.read_bytes(), re.M)
        if m:
            return m.group(1).decode()
    return None


@pytest.fixture(scope="session")
def debian_rootfs(guest, tmp_path_factory):
    """A pristine image from `make-rootfs.sh --debian` (cached across sessions by the
    script itself); tests use copies."""
    out = tmp_path_factory.mktemp("debian") / "root.img"
    r = subprocess.run(["bash", str(REPO / "scripts" / "make-rootfs.sh"), "--debian", str(out)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT)
    assert r.returncode == 0, f"make-rootfs.sh --debian failed:\n{r.stdout}{r.stderr}"
    return out


def vm_argv(vmm, rvisor_bin, guest_env, image, accel=None):
    """The command line booting the initramfs with image as /dev/vda and root, on rvisor under
    accel (None: its default)."""
    kernel, initrd = guest_env["RVISOR_KERNEL"], guest_env["RVISOR_INITRD"]
    cmdline = "console=ttyS0 root=/dev/vda ro"
    if vmm == "qemu":
        return ["qemu-system-riscv64", "-M", "virt", "-m", "512M", "-nographic",
                "-bios", "default", "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
                "-drive", f"file={image},format=raw,if=none,id=d0",
                "-device", "virtio-blk-device,drive=d0"]
    return rvisor_run(rvisor_bin, accel) + ["--kernel", kernel, "--initrd", initrd,
                                            "--cmdline", cmdline, "--drive", f"path={image}"]


def boot(request, vmm, guest, image):
    """A console on a VM booted from image, at bash's first prompt; the caller closes it.
    Returns (console, seconds from start to the prompt)."""
    rvisor_bin = request.getfixturevalue("rvisor") if vmm == "rvisor" else None
    console = Console(vm_argv(vmm, rvisor_bin, guest, image,
                              accel=request.getfixturevalue("accel")))
    try:
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "the initramfs's marker line")
        console.expect(re.escape(ROOTFS_MARKER), BOOT_TIMEOUT, "the root file system's marker")
        console.expect(PROMPT, BOOT_TIMEOUT, "bash's prompt")
    except BaseException:
        console.close()
        raise
    return console, time.monotonic() - console.started


def sh(console, command, timeout=COMMAND_TIMEOUT):
    """Run command in the guest's shell. Returns (its exit status, what it printed, as text
    without carriage returns and terminal control sequences). Its output is found between
    two lines that only the shell's arithmetic writes, never the echoed command line."""
    out = console.run(f"echo rvisor-begin-$((6*6)); {command}; echo rvisor-status=$?", timeout)
    text = ESCAPES.sub(b"", out).replace(b"\r", b"").decode(errors="replace")
    m = re.search(r"^rvisor-begin-36\n(.*?)^rvisor-status=(\d+)$", text, re.M | re.S)
    assert m, f"no output frame for `{command}`\n{console.tail()}"
    return int(m.group(2)), m.group(1)


def ok(console, command, timeout=COMMAND_TIMEOUT):
    """Run command in the guest; assert it succeeds; returns its output lines."""
    status, output = sh(console, command, timeout)
    assert status == 0, f"`{command}` exited {status}:\n{output}\n{console.tail()}"
    return output.splitlines()


@pytest.fixture(scope="module")
def debian_vm(request, vmm, guest, debian_rootfs, tmp_path_factory):
    """A VM booted from a copy of the Debian image, at the shell prompt."""
    shared = Shared()
    shared.image = tmp_path_factory.mktemp("debian-vm") / "root.img"
    shutil.copyfile(debian_rootfs, shared.image)
    try:
        shared.console, shared.boot_seconds = boot(request, vmm, guest, shared.image)
    except AssertionError as e:
        shared.error = str(e)
    yield shared
    if shared.console:
        shared.console.close()


def test_bash_on_a_read_write_root(debian_vm, record_property):
    """The init remounted the ro-mounted root read-write and runs bash as a login shell."""
    console = debian_vm.vm()
    record_property("boot_seconds_to_prompt", round(debian_vm.boot_seconds, 1))
    lines = ok(console, 'readlink /proc/$$/exe; echo "$BASH_VERSION"; shopt -q login_shell && '
                        "echo login; tty")
    assert lines[0] == "/usr/bin/bash", lines
    assert re.match(r"5\.\d+\.\d+", lines[1]), lines
    assert lines[2:] == ["login", "/dev/ttyS0"], lines
    mounts = ok(console, "cat /proc/mounts")
    assert any(re.match(r"/dev/vda / ext4 rw[ ,]", m) for m in mounts), mounts
    for point, fstype in (("/run", "tmpfs"), ("/dev/pts", "devpts"), ("/proc", "proc")):
        assert any(m.split()[1:3] == [point, fstype] for m in mounts), (point, mounts)
    assert "/sbin/init" in ok(console, "tr '\\0' '\\n' </proc/1/cmdline")
    assert not HOST_FAULT.search(console.err), console.tail()


def test_ctrl_c_interrupts_a_program(debian_vm):
    """The console is the shell's controlling terminal: Ctrl-C stops the foreground job."""
    console = debian_vm.vm()
    console.send("sleep 120\n")
    time.sleep(2)
    console.send("\x03")
    status, _ = sh(console, "true", timeout=30)
    assert status == 0, console.tail()


def test_debian_version(debian_vm):
    console = debian_vm.vm()
    lines = ok(console, "cat /etc/debian_version")
    assert len(lines) == 1 and re.fullmatch(r"13\.\d+", lines[0]), \
        f"/etc/debian_version is not trixie's (13.x): {lines}"
    want = suite_version()
    if want is not None:
        assert lines[0] == want, f"/etc/debian_version {lines[0]}, the suite's InRelease {want}"
    os_release = "\n".join(ok(console, "cat /etc/os-release"))
    assert re.search(r'^VERSION_CODENAME=trixie$', os_release, re.M), os_release


def test_dpkg_lists_the_installed_packages(debian_vm, debian_rootfs):
    """dpkg-query in the guest reads the status file the host sees in the image."""
    console = debian_vm.vm()
    want = status_packages(debugfs_cat(debian_rootfs, "/var/lib/dpkg/status"))
    assert {"coreutils", "libc6", "bash", "dpkg", "base-files"} <= want.keys(), want
    lines = ok(console, "dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Version}\\n'")
    seen = {}
    for line in lines:
        status, package, version = line.split("|")
        assert status.strip() == "ii", f"{package} is {status!r}, not installed"
        seen[package] = version
    assert seen == want
    listed = ok(console, "dpkg -l coreutils libc6 | cat")
    for package in ("coreutils", "libc6"):
        assert any(re.match(rf"ii  {package}(:riscv64)? +{re.escape(want[package])} ", line)
                   for line in listed), listed


def test_dpkg_database_is_consistent(debian_vm):
    console = debian_vm.vm()
    assert ok(console, "dpkg -S /usr/bin/sha256sum") == ["coreutils: /usr/bin/sha256sum"]
    assert "/usr/bin/dash" in ok(console, "dpkg -L dash")
    assert ok(console, "dpkg --audit") == []
    # Every file of coreutils and libc6 against the MD5 sums their packages ship.
    assert ok(console, "dpkg --verify coreutils libc6") == []


def test_dynamically_linked_programs(debian_vm):
    console = debian_vm.vm()
    for program in ("ls", "sort", "sha256sum"):
        deps = ok(console, f"ldd /usr/bin/{program}")
        assert any("libc.so.6 => /lib/riscv64-linux-gnu/libc.so.6" in d for d in deps), deps
    assert ok(console, "printf 'pear\\napple\\nfig\\n' | sort") == ["apple", "fig", "pear"]
    assert ok(console, "printf '10\\n9\\n100\\n' | sort -n") == ["9", "10", "100"]
    assert ok(console, "printf abc | sha256sum") == [hashlib.sha256(b"abc").hexdigest() + "  -"]
    million = hashlib.sha256(bytes(1 << 20)).hexdigest()
    assert ok(console, "head -c 1048576 /dev/zero | sha256sum") == [million + "  -"]
    assert ok(console, "mkdir /tmp/d && touch /tmp/d/b /tmp/d/c /tmp/d/a && ls /tmp/d | cat") \
        == ["a", "b", "c"]
    assert ok(console, "echo 3 5 | awk '{ print $1 * $2 }'") == ["15"]
    assert ok(console, "readlink -f /usr/bin/awk") == ["/usr/bin/mawk"]


def test_accounts_and_owners(debian_vm):
    """base-passwd's accounts, and the owners and modes the packages give their files."""
    console = debian_vm.vm()
    assert ok(console, "id") == ["uid=0(root) gid=0(root) groups=0(root)"]
    assert ok(console, "getent passwd _apt | cut -d: -f1,3") == ["_apt:42"]
    lines = ok(console, "stat -c '%A %U:%G %n' /etc/shadow /usr/bin/passwd /usr/bin/chage "
                        "/tmp /root")
    assert lines == ["-rw-r----- root:shadow /etc/shadow",
                     "-rwsr-xr-x root:root /usr/bin/passwd",
                     "-rwxr-sr-x root:shadow /usr/bin/chage",
                     "drwxrwxrwt root:root /tmp",
                     "drwx------ root:root /root"], lines


def test_poweroff_f_keeps_a_synced_file(debian_vm):
    console = debian_vm.vm()
    token = f"rvisor-debian-{random.getrandbits(64):016x}"
    ok(console, f"echo {token} > /root/token.txt && sync")
    console.send("poweroff -f\n")
    status = console.wait(EXIT_TIMEOUT)
    debian_vm.console = None
    console.close()
    assert status == 0, f"exit status {status}\n{console.tail()}"
    assert not HOST_FAULT.search(console.err), console.tail()
    # The file system was not unmounted: replay its journal as the next mount would.
    r = run_tool([tool("e2fsck"), "-fy", str(debian_vm.image)])
    assert r.returncode in (0, 1), \
        f"e2fsck -fy: exit {r.returncode}\n{(r.stdout + r.stderr).decode(errors='replace')}"
    assert debugfs_cat(debian_vm.image, "/root/token.txt") == f"{token}\n".encode()


def test_leaving_the_shell_shuts_down_cleanly(request, vmm, guest, debian_rootfs, tmp_path):
    image = tmp_path / "root.img"
    shutil.copyfile(debian_rootfs, image)
    console, _ = boot(request, vmm, guest, image)
    try:
        ok(console, "echo kept > /root/kept.txt")
        console.send("exit\n")
        status = console.wait(EXIT_TIMEOUT)
        assert status == 0, f"exit status {status}\n{console.tail()}"
        assert not HOST_FAULT.search(console.err), console.tail()
    finally:
        console.close()
    r = run_tool([tool("e2fsck"), "-fn", str(image)])
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0 and "journal" not in out, f"e2fsck -fn: exit {r.returncode}\n{out}"
    assert debugfs_cat(image, "/root/kept.txt") == b"kept\n"
