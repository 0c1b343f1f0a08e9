"""rvisor-jailer: rvisor alone in a chroot, namespaces, a cgroup and rlimits, as an
unprivileged user with no capabilities.

One boot: the Debian kernel and initramfs are hard-linked into the jail beforehand (as an
orchestrator places a VM's files), the jailer starts rvisor with --api-sock /run/rvisor.socket
in a new PID namespace, and the test drives it through <root>/run/rvisor.socket from outside.
While the guest runs, /proc shows the rvisor process with the given uid/gid, no capability,
its own mount and PID namespaces, the chroot as its root, the cgroup's files holding the values
asked and the rlimits; a drive outside the jail cannot be named. Ctrl-Alt-Del ends the guest
and the jailer passes rvisor's status (3) on. With --daemonize and --netns the jailer returns
at once, and rvisor runs in its own session, its stdio on /dev/null, in the network namespace
given, without the descriptor the jailer inherited. Bad flags and failed steps exit 1 with one line naming them and leave no jail
directory or cgroup behind.

The jailer needs root (namespaces, device nodes, cgroups): the tests skip without it.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST_FAULT, MARKER, Console
from test_api import call, wait_socket

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60
UID, GID = 43210, 43211
VM_ID = "jail-test-1"

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="rvisor-jailer needs root (namespaces, mknod, cgroups)")


@pytest.fixture(scope="session")
def jailer(rvisor):
    path = Path(rvisor).parent / "rvisor-jailer"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing or not executable: run `make` first")
    return str(path)


def cgroup2_mount():
    """Where the cgroup v2 hierarchy is mounted read-write, or None."""
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            if fstype == "cgroup2" and "rw" in opts.split(","):
                return Path(mnt)
    return None


def place(src, dst):
    """Put the host file src at dst inside the jail: a hard link, or a copy across file
    systems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy(src, dst)


def alive(pid):
    """Whether pid runs (neither gone nor a zombie)."""
    try:
        return status_fields(pid)["State"][0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def remove_cgroup(path):
    """rmdir the jail's cgroup (retrying while a killed process is reaped), then its parent
    if no other VM's cgroup is in it."""
    deadline = time.monotonic() + 10
    while path.exists():
        try:
            path.rmdir()
        except OSError:
            assert time.monotonic() < deadline, f"{path} stays busy"
            time.sleep(0.05)
    try:
        path.parent.rmdir()
    except OSError:
        pass


def status_fields(pid):
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        out[key] = value.split()
    return out


def limit(pid, name):
    """(soft, hard) of the /proc/PID/limits row name."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith(name):
            soft, hard = line[len(name):].split()[:2]
            return soft, hard
    raise AssertionError(f"no {name} in /proc/{pid}/limits")


def test_boot_in_jail(jailer, rvisor, guest, tmp_path):
    base = tmp_path / "jails"
    root = base / "rvisor" / VM_ID / "root"
    root.mkdir(parents=True)
    place(guest["RVISOR_KERNEL"], root / "Image")
    place(guest["RVISOR_INITRD"], root / "initramfs.cpio")

    mnt = cgroup2_mount()
    cgroups = {}
    if mnt:
        cgroups["cgroup.max.descendants"] = "7"
        if "cpu" in (mnt / "cgroup.controllers").read_text().split():
            cgroups["cpu.weight"] = "50"
        if "pids" in (mnt / "cgroup.controllers").read_text().split():
            cgroups["pids.max"] = "400"
    argv = [jailer, "--id", VM_ID, "--exec-file", rvisor, "--uid", str(UID), "--gid", str(GID),
            "--chroot-base-dir", str(base), "--new-pid-ns", "--cgroup-version", "2",
            "--resource-limit", "fsize=1073741824", "--resource-limit", "no-file=512"]
    for key, value in cgroups.items():
        argv += ["--cgroup", f"{key}={value}"]
    argv += ["--", "--api-sock", "/run/rvisor.socket"]
    cgroup_dir = mnt / "rvisor" / VM_ID if mnt else None
    console = Console(argv)
    try:
        sock = str(root / "run" / "rvisor.socket")
        wait_socket(sock, console.proc)
        pid = int((root / "rvisor.pid").read_text())

        # Paths given to the API are the jail's: the host's /etc/hostname is not there.
        status, err = call(sock, "PUT", "/drives/host",
                           {"drive_id": "host", "path_on_host": "/etc/hostname",
                            "is_root_device": False, "is_read_only": True})
        assert status == 400 and "Unable to open" in err["fault_message"], err
        assert call(sock, "PUT", "/machine-config",
                    {"vcpu_count": 1, "mem_size_mib": 256})[0] == 204
        assert call(sock, "PUT", "/boot-source",
                    {"kernel_image_path": "/Image", "initrd_path": "/initramfs.cpio",
                     "boot_args": "console=ttyS0"})[0] == 204
        assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        console.run("true", COMMAND_TIMEOUT)

        st = status_fields(pid)
        assert st["Name"] == ["rvisor"], st["Name"]
        assert st["Uid"] == [str(UID)] * 4 and st["Gid"] == [str(GID)] * 4, (st["Uid"], st["Gid"])
        assert st["Groups"] == [], st["Groups"]
        for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(st[caps][0], 16) == 0, (caps, st[caps])
        assert st["NoNewPrivs"] == ["1"]
        assert len(st["NSpid"]) == 2 and st["NSpid"][-1] == "1", st["NSpid"]
        for ns in ("mnt", "pid"):
            assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
        assert os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net")
        jail_root, seen_root = os.stat(root), os.stat(f"/proc/{pid}/root/")
        assert (seen_root.st_dev, seen_root.st_ino) == (jail_root.st_dev, jail_root.st_ino)
        assert os.readlink(f"/proc/{pid}/exe") == "/rvisor"
        assert limit(pid, "Max file size") == ("1073741824", "1073741824")
        assert limit(pid, "Max open files") == ("512", "512")
        if cgroup_dir:
            lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
            assert f"0::/rvisor/{VM_ID}" in lines, lines
            for key, value in cgroups.items():
                assert (cgroup_dir / key).read_text().split() == [value], key

        # The guest's reboot ends rvisor with 3; the jailer outside the PID namespace says so.
        assert call(sock, "PUT", "/actions", {"action_type": "SendCtrlAltDel"})[0] == 204
        assert console.wait(COMMAND_TIMEOUT) == 3, console.tail()
        assert not HOST_FAULT.search(console.err), console.tail()
    finally:
        console.close()
        if cgroup_dir:
            remove_cgroup(cgroup_dir)


def test_daemonize_in_netns(jailer, rvisor, tmp_path):
    ip = shutil.which("ip") or "/usr/sbin/ip"
    if not os.access(ip, os.X_OK):
        pytest.skip("no ip(8) to make a network namespace")
    name = f"rvisor-jailer-test-{os.getpid()}"
    assert subprocess.run([ip, "netns", "add", name], capture_output=True).returncode == 0
    netns = Path("/run/netns") / name
    base = tmp_path / "jails"
    root = base / "rvisor" / "daemon" / "root"
    mnt = cgroup2_mount()
    pid = None
    canary = open(tmp_path / "inherited-canary", "w")  # an fd the jailer must not pass on
    try:
        r = subprocess.run([jailer, "--id", "daemon", "--exec-file", rvisor, "--uid", str(UID),
                            "--gid", str(GID), "--chroot-base-dir", str(base), "--daemonize",
                            "--netns", str(netns), "--", "--api-sock", "/run/rvisor.socket"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                           pass_fds=(canary.fileno(),))
        assert r.returncode == 0 and not r.stderr, r
        pid = int((root / "rvisor.pid").read_text())
        sock = str(root / "run" / "rvisor.socket")
        deadline = time.monotonic() + 10
        while True:
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(sock)
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the API socket did not appear"
                    time.sleep(0.05)
        status, info = call(sock, "GET", "/")
        assert status == 200 and info["state"] == "Not started", info
        assert os.readlink(f"/proc/{pid}/ns/net") == f"net:[{os.stat(netns).st_ino}]"
        assert os.getsid(pid) == pid
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null", fd
        held = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        assert not [h for h in held if "inherited-canary" in h], held
        assert status_fields(pid)["Uid"] == [str(UID)] * 4
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(pid):
            assert time.monotonic() < deadline, "rvisor did not end on SIGTERM"
            time.sleep(0.05)
        pid = None
    finally:
        canary.close()
        if pid:
            os.kill(pid, signal.SIGKILL)
        subprocess.run([ip, "netns", "delete", name], capture_output=True)
        if mnt:
            remove_cgroup(mnt / "rvisor" / "daemon")


@pytest.mark.parametrize("args,mentions", [
    (["--id", "bad_id!"], "--id 'bad_id!'"),
    (["--id", "x" * 65], "--id"),
    (["--uid", "0"], "--uid '0'"),
    (["--gid", "-5"], "--gid '-5'"),
    (["--frobnicate"], "unknown option '--frobnicate'"),
    (["--cgroup-version", "1"], "only cgroup v2"),
    (["--cgroup", "cpuweight"], "--cgroup 'cpuweight'"),
    (["--cgroup", "../x.y=1"], "--cgroup '../x.y=1'"),
    (["--resource-limit", "stack=1"], "--resource-limit 'stack=1'"),
    (["--resource-limit", "fsize=-1"], "--resource-limit 'fsize=-1'"),
    (["--parent-cgroup", "../up"], "--parent-cgroup '../up'"),
    (["--chroot-base-dir", "relative"], "--chroot-base-dir 'relative'"),
    (["--netns", "/nonexistent/netns"], "--netns /nonexistent/netns"),
    (["--exec-file", "/nonexistent/rvisor"], "--exec-file /nonexistent/rvisor"),
    (["stray"], "unexpected argument 'stray'"),
])
def test_bad_flags(jailer, rvisor, tmp_path, args, mentions):
    base = tmp_path / "jails"
    argv = [jailer, "--id", "bad", "--exec-file", rvisor, "--uid", str(UID), "--gid", str(GID),
            "--chroot-base-dir", str(base)] + args + ["--", "--version"]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert len(err.splitlines()) == 1 and err.startswith("rvisor-jailer: error: "), err
    assert mentions in err, err
    assert not base.exists(), "a jail was left behind"


def test_failed_step_leaves_nothing(jailer, rvisor, tmp_path):
    """A step that fails after files and the cgroup were made (a cgroup file that refuses
    the value, or an unknown controller) removes them again."""
    mnt = cgroup2_mount()
    if not mnt:
        pytest.skip("no read-write cgroup v2 hierarchy on this host")
    base = tmp_path / "jails"
    parent = mnt / "rvisor-jailer-test"
    for cg, mentions in (("cgroup.max.depth=many", "refused the value"),
                         ("cgroup.nonesuch=1", "has no file cgroup.nonesuch"),
                         ("nonesuch.max=1", "controller 'nonesuch' is not available")):
        argv = [jailer, "--id", "bad", "--exec-file", rvisor, "--uid", str(UID), "--gid",
                str(GID), "--chroot-base-dir", str(base), "--parent-cgroup", parent.name,
                "--cgroup", cg, "--", "--version"]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        err = r.stderr.decode()
        assert r.returncode == 1 and len(err.splitlines()) == 1 and mentions in err, err
        assert not base.exists(), "a jail was left behind"
        assert not parent.exists(), "a cgroup was left behind"


def test_id_in_use(jailer, rvisor, tmp_path):
    """A second jail with the same --id is refused (the first one's files are there), and the
    first one's files are left alone."""
    base = tmp_path / "jails"
    argv = [jailer, "--id", "twice", "--exec-file", rvisor, "--uid", str(UID), "--gid",
            str(GID), "--chroot-base-dir", str(base), "--parent-cgroup", "rvisor-jailer-test",
            "--", "--version"]
    try:
        first = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        assert first.returncode == 0 and first.stdout.startswith(b"rvisor "), first
        root = base / "rvisor" / "twice" / "root"
        assert (root / "rvisor").is_file() and (root / "dev/net/tun").exists()
        assert os.stat(root).st_uid == UID and os.stat(root / "run").st_uid == UID
        second = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        assert second.returncode == 1 and b"exists already" in second.stderr, second
        assert (root / "rvisor").is_file() and (root / "dev/net/tun").exists()
    finally:
        mnt = cgroup2_mount()
        if mnt:
            remove_cgroup(mnt / "rvisor-jailer-test" / "twice")


def test_not_root_refused(jailer, rvisor, tmp_path):
    """Run as an ordinary user, the jailer says it needs root, having made nothing."""
    base = tmp_path / "jails"
    r = subprocess.run(["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups",
                        jailer, "--id", "x", "--exec-file", rvisor, "--uid", str(UID),
                        "--gid", str(GID), "--chroot-base-dir", str(base)],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert r.returncode == 1 and b"must run as root" in r.stderr, r
    assert not base.exists()

