"""The control plane: Firecracker's API on a Unix socket, and its configuration file.

A client on the socket drives a whole life cycle with the Debian kernel: it configures the
machine, the boot source, a disk and a network interface, starts the instance, pauses it
(the guest makes no progress, a ticking loop stops printing), resumes it (the guest's clock
has not jumped by the paused time), is refused the pre-boot resources after the start, and
sends Ctrl-Alt-Del, after which the guest reboots and the process ends (status 3, as
Firecracker ends on a reboot) with the socket removed. Every response is
checked against a JSON schema of its type (InstanceInfo, MachineConfiguration,
FullVmConfiguration, Error) as firecracker.yaml defines them, with python3-jsonschema.
Bad requests (malformed JSON, unknown or missing fields, values out of range, the wrong
state, unknown paths) get 400 and a fault_message; bad command lines and configuration files
exit 1 with one line.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time

import jsonschema
import pytest

from conftest import HOST_FAULT, MARKER, Console

BOOT_TIMEOUT = 120
COMMAND_TIMEOUT = 60

ERROR = {"type": "object", "required": ["fault_message"],
         "properties": {"fault_message": {"type": "string"}}}
INSTANCE_INFO = {
    "type": "object", "required": ["app_name", "id", "state", "vmm_version"],
    "properties": {"app_name": {"type": "string"}, "id": {"type": "string"},
                   "state": {"enum": ["Not started", "Running", "Paused"]},
                   "vmm_version": {"type": "string"}}}
MACHINE_CONFIG = {
    "type": "object", "required": ["vcpu_count", "mem_size_mib"],
    "properties": {"vcpu_count": {"type": "integer", "minimum": 1},
                   "mem_size_mib": {"type": "integer"}, "smt": {"type": "boolean"},
                   "track_dirty_pages": {"type": "boolean"}}}
DRIVE = {"type": "object", "required": ["drive_id", "is_root_device"],
         "properties": {"drive_id": {"type": "string"}, "path_on_host": {"type": "string"},
                        "is_root_device": {"type": "boolean"},
                        "is_read_only": {"type": "boolean"},
                        "cache_type": {"enum": ["Unsafe", "Writeback"]}}}
FULL_CONFIG = {
    "type": "object",
    "properties": {
        "boot-source": {"type": ["object", "null"], "required": ["kernel_image_path"],
                        "properties": {"kernel_image_path": {"type": "string"},
                                       "boot_args": {"type": "string"},
                                       "initrd_path": {"type": "string"}}},
        "machine-config": MACHINE_CONFIG,
        "drives": {"type": "array", "items": DRIVE},
        "network-interfaces": {"type": "array", "items": {
            "type": "object", "required": ["iface_id"],
            "properties": {"iface_id": {"type": "string"}}}}}}


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def call(sock, method, path, body=None, raw=None, schema=None, timeout=30):
    """(status, parsed JSON body or None); 400s are checked against the Error schema and
    200s against schema."""
    conn = UnixHTTPConnection(sock, timeout)
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    conn.request(method, path, body=data,
                 headers={"Content-Type": "application/json"} if data else {})
    r = conn.getresponse()
    text = r.read()
    conn.close()
    parsed = json.loads(text) if text else None
    if r.status == 400:
        jsonschema.validate(parsed, ERROR)
    elif r.status == 200 and schema:
        jsonschema.validate(parsed, schema)
    elif r.status == 204:
        assert not text
    return r.status, parsed


def wait_socket(path, proc, timeout=10):
    """Until the API accepts connections (the socket file comes before listen())."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"rvisor exited: {proc.poll()}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            try:
                s.connect(path)
                return
            except (FileNotFoundError, ConnectionRefusedError):
                pass
        assert time.monotonic() < deadline, "the API socket did not appear"
        time.sleep(0.02)


@pytest.fixture
def api(request, vmm, tmp_path):
    """rvisor serving the API, with its console; closed at the end."""
    if vmm != "rvisor":
        pytest.skip("the API is rvisor's")
    sock = str(tmp_path / "api.sock")
    console = Console([request.getfixturevalue("rvisor"), "--api-sock", sock])
    wait_socket(sock, console.proc)
    yield sock, console
    console.close()
    assert not HOST_FAULT.search(console.err), console.tail()


def configure(sock, guest, tmp_path, **extra):
    assert call(sock, "PUT", "/machine-config",
                {"vcpu_count": 2, "mem_size_mib": 256})[0] == 204
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"], "initrd_path": guest["RVISOR_INITRD"],
                 "boot_args": "console=ttyS0"})[0] == 204
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"api-disk" + bytes(1 << 20))
    assert call(sock, "PUT", "/drives/data",
                {"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
                 "is_read_only": False})[0] == 204
    assert call(sock, "PUT", "/network-interfaces/eth0",
                {"iface_id": "eth0", "rvisor_user_networking": {}})[0] == 204
    return disk


def guest_uptime(console):
    out = console.run("cat /proc/uptime", COMMAND_TIMEOUT)
    m = re.search(rb"^(\d+\.\d+) ", out, re.M)
    assert m, console.tail()
    return float(m.group(1))


def test_life_cycle(api, guest, tmp_path):
    sock, console = api
    status, info = call(sock, "GET", "/", schema=INSTANCE_INFO)
    assert status == 200 and info["state"] == "Not started"
    disk = configure(sock, guest, tmp_path)
    status, cfg = call(sock, "GET", "/vm/config", schema=FULL_CONFIG)
    assert status == 200 and cfg["machine-config"]["vcpu_count"] == 2
    assert cfg["drives"][0]["path_on_host"] == str(disk)

    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    console.run("true", COMMAND_TIMEOUT)
    assert call(sock, "GET", "/", schema=INSTANCE_INFO)[1]["state"] == "Running"
    out = console.run("grep -c ^processor /proc/cpuinfo; head -c 8 /dev/vda; echo; "
                      "ls /sys/class/net", COMMAND_TIMEOUT)
    assert re.search(rb"^2\r?$", out, re.M) and b"api-disk" in out and b"eth0" in out, \
        console.tail()

    # Paused: the guest makes no progress. Resumed: its clock has not jumped.
    console.run("(i=0; while :; do echo tick-$i; i=$((i+1)); sleep 0.1; done) & sleep 0",
                COMMAND_TIMEOUT)
    console.expect(rb"tick-5\b", COMMAND_TIMEOUT, "ticks")
    up1, host1 = guest_uptime(console), time.monotonic()
    assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
    assert call(sock, "GET", "/", schema=INSTANCE_INFO)[1]["state"] == "Paused"
    time.sleep(0.3)  # anything already on its way out
    before = len(console.out)
    time.sleep(2.0)
    assert len(console.out) == before, "the guest printed while paused"
    paused_for = 2.3
    assert call(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
    up2, host2 = guest_uptime(console), time.monotonic()
    elapsed = host2 - host1
    assert up2 - up1 < elapsed - paused_for + 1.0, (up1, up2, elapsed)
    assert up2 - up1 > 0, (up1, up2)
    assert call(sock, "GET", "/", schema=INSTANCE_INFO)[1]["state"] == "Running"

    # After the start, the pre-boot resources are refused, with Firecracker's reason.
    for path, body in (("/boot-source", {"kernel_image_path": guest["RVISOR_KERNEL"]}),
                       ("/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                       ("/drives/data", {"drive_id": "data", "path_on_host": str(disk),
                                         "is_root_device": False})):
        status, err = call(sock, "PUT", path, body)
        assert status == 400 and "after starting the microVM" in err["fault_message"]
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 400
    assert call(sock, "GET", "/machine-config", schema=MACHINE_CONFIG)[0] == 200

    # A clean shutdown request: Ctrl-Alt-Del on the virtio-input keyboard makes the guest's
    # kernel reboot, which ends the VM with status 3, as Firecracker ends on a reboot.
    assert call(sock, "PUT", "/actions", {"action_type": "SendCtrlAltDel"})[0] == 204
    assert console.wait(COMMAND_TIMEOUT) == 3, console.tail()
    assert not os.path.exists(sock), "the socket outlived the VM"
    assert not HOST_FAULT.search(console.err), console.tail()


@pytest.mark.parametrize("method,path,body,mentions", [
    ("PUT", "/boot-source", "{not json", "not JSON"),
    ("PUT", "/boot-source", "[1, 2]", "JSON object"),
    ("PUT", "/boot-source", '{"kernel_image_path": "/nonexistent/Image"}', "cannot be opened"),
    ("PUT", "/boot-source", '{"kernel_image_path": 7}', "kernel_image_path"),
    ("PUT", "/boot-source", '{"boot_args": "x"}', "missing field `kernel_image_path`"),
    ("PUT", "/boot-source", '{"kernel_image_path": "/etc/hostname", "x": 1}', "unknown field"),
    ("PUT", "/machine-config", '{"vcpu_count": 0, "mem_size_mib": 128}', "vcpu_count"),
    ("PUT", "/machine-config", '{"vcpu_count": 65, "mem_size_mib": 128}', "vcpu_count"),
    ("PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 8}', "mem_size_mib"),
    ("PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 129}', "multiple of 2"),
    ("PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 128, "smt": true}', "smt"),
    ("PUT", "/machine-config", '{"mem_size_mib": 128}', "vcpu_count"),
    ("PUT", "/drives/a", '{"drive_id": "b", "path_on_host": "/etc/hostname", '
                         '"is_root_device": false, "is_read_only": true}', "does not match"),
    ("PUT", "/drives/a", '{"drive_id": "a", "path_on_host": "/nonexistent", '
                         '"is_root_device": false}', "Unable to open"),
    ("PUT", "/drives/a", '{"drive_id": "a", "path_on_host": "/etc/hostname", '
                         '"is_root_device": false, "is_read_only": true, '
                         '"rate_limiter": {"bandwidth": {"size": 1}}}', "refill_time"),
    ("PUT", "/drives/a", '{"drive_id": "a", "path_on_host": "/etc/hostname", '
                         '"is_root_device": false, "is_read_only": true, '
                         '"rate_limiter": {"bytes": {"size": 1, "refill_time": 1}}}',
     "unknown field"),
    ("PUT", "/metrics", '{"metrics_path": "/nonexistent-dir/m"}', "Cannot open"),
    ("PUT", "/logger", '{"log_path": "/dev/null", "level": "Loud"}', "level"),
    ("PUT", "/actions", '{"action_type": "FlushMetrics"}', "metrics are not configured"),
    ("PUT", "/network-interfaces/eth0", '{"iface_id": "eth0"}', "host_dev_name"),
    ("PATCH", "/vm", '{"state": "Paused"}', "before starting the microVM"),
    ("PUT", "/actions", '{"action_type": "InstanceStart"}', "without kernel"),
    ("PUT", "/actions", '{"action_type": "Explode"}', "action_type"),
    ("PUT", "/actions", '{"action_type": "SendCtrlAltDel"}', "before starting"),
    ("PUT", "/vsock", '{"guest_cid": 2, "uds_path": "/tmp/v"}', "guest_cid"),
    ("PUT", "/snapshot/create", '{"snapshot_path": "s", "mem_file_path": "m"}', "before starting"),
    ("GET", "/nowhere", None, "Invalid request method and/or path"),
    ("DELETE", "/", None, "Invalid request method and/or path"),
])
def test_bad_requests(api, method, path, body, mentions):
    sock, _ = api
    status, err = call(sock, method, path, raw=body)
    assert status == 400, (status, err)
    assert mentions in err["fault_message"], err
    # Still serving, still not started.
    assert call(sock, "GET", "/", schema=INSTANCE_INFO)[1]["state"] == "Not started"


def test_second_root_and_oversized_body(api):
    sock, _ = api
    root = {"drive_id": "r1", "path_on_host": "/etc/hostname", "is_root_device": True,
            "is_read_only": True}
    assert call(sock, "PUT", "/drives/r1", root)[0] == 204
    status, err = call(sock, "PUT", "/drives/r2", {**root, "drive_id": "r2"})
    assert status == 400 and "root block device already exists" in err["fault_message"]
    status, err = call(sock, "PUT", "/boot-source", raw="[" + "0," * 70000 + "0]")
    assert status == 400 and "larger than" in err["fault_message"]


def test_config_file_boots(request, vmm, guest, tmp_path):
    if vmm != "rvisor":
        pytest.skip("the configuration file is rvisor's")
    cfg = tmp_path / "vm.json"
    cfg.write_text(json.dumps({
        "boot-source": {"kernel_image_path": guest["RVISOR_KERNEL"],
                        "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 256},
        "drives": [], "network-interfaces": []}))
    console = Console([request.getfixturevalue("rvisor"), "--config-file", str(cfg), "--no-api"])
    try:
        console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
        console.run("true", COMMAND_TIMEOUT)
        console.send("poweroff -f\n")
        assert console.wait(COMMAND_TIMEOUT) == 0, console.tail()
    finally:
        console.close()


@pytest.mark.parametrize("args,content,mentions", [
    (["--no-api"], None, "--no-api needs --config-file"),
    (["--config-file", "CFG"], "{}", "--api-sock"),
    (["--config-file", "CFG", "--no-api"], "{not json", "not JSON"),
    (["--config-file", "CFG", "--no-api"], "{}", "boot-source"),
    (["--config-file", "CFG", "--no-api"], '{"boot-source": {"kernel_image_path": "/nope"}}',
     "cannot be opened"),
    (["--config-file", "CFG", "--no-api"], '{"boot-source": {}, "gpu": {}}', "unknown field"),
    (["--api-sock", "/nonexistent-dir/api.sock"], None, "/nonexistent-dir/api.sock"),
])
def test_bad_command_lines(request, vmm, tmp_path, args, content, mentions):
    if vmm != "rvisor":
        pytest.skip("rvisor's command line")
    cfg = tmp_path / "vm.json"
    if content is not None:
        cfg.write_text(content)
    argv = [request.getfixturevalue("rvisor")] + [str(cfg) if a == "CFG" else a for a in args]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=30)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1 and mentions in lines[0], r.stderr


def test_socket_in_use(request, vmm, tmp_path):
    if vmm != "rvisor":
        pytest.skip("rvisor's command line")
    path = tmp_path / "taken.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    r = subprocess.run([request.getfixturevalue("rvisor"), "--api-sock", str(path)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    s.close()
    assert r.returncode == 1 and "remove the old socket" in r.stderr, r.stderr


def uptime_of(console, command):
    """Guest seconds (from /proc/uptime) that command takes."""
    out = console.run(f"cat /proc/uptime; {command}; cat /proc/uptime", COMMAND_TIMEOUT)
    t = [float(x) for x in re.findall(rb"^(\d+\.\d+) ", out, re.M)]
    assert len(t) == 2, out
    return t[1] - t[0]


def test_rate_limiter_metrics_logger(api, guest, tmp_path):
    """A disk limited to 1 MiB/s reads at that rate (within 10%), and at 2 MiB/s once
    PATCHed; the metrics count its bytes; the logger records the requests."""
    sock, console = api
    metrics, log = tmp_path / "metrics.json", tmp_path / "api.log"
    assert call(sock, "PUT", "/metrics", {"metrics_path": str(metrics)})[0] == 204
    assert call(sock, "PUT", "/metrics", {"metrics_path": str(metrics)})[0] == 400
    assert call(sock, "PUT", "/logger", {"log_path": str(log), "level": "Info",
                                         "show_level": True})[0] == 204
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    disk = tmp_path / "slow.img"
    disk.write_bytes(os.urandom(16 << 20))
    mib = 1 << 20
    assert call(sock, "PUT", "/drives/slow",
                {"drive_id": "slow", "path_on_host": str(disk), "is_root_device": False,
                 "is_read_only": True,
                 "rate_limiter": {"bandwidth": {"size": mib, "refill_time": 1000}}})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    console.run("true", COMMAND_TIMEOUT)
    time.sleep(1.2)  # the bucket is full: 1 MiB goes at once, the next 3 at 1 MiB/s
    took = uptime_of(console, "dd if=/dev/vda of=/dev/null bs=64k count=64 iflag=direct")
    assert 2.7 <= took <= 3.3, f"4 MiB at 1 MiB/s (1 MiB of it from the full bucket) took {took} s"

    status, _ = call(sock, "PATCH", "/drives/slow",
                     {"drive_id": "slow",
                      "rate_limiter": {"bandwidth": {"size": 2 * mib, "refill_time": 1000}}})
    assert status == 204
    took = uptime_of(console, "dd if=/dev/vda of=/dev/null bs=64k count=128 skip=64 iflag=direct")
    assert 2.7 <= took <= 3.3, f"8 MiB at 2 MiB/s (2 MiB from the full bucket) took {took} s"

    assert call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
    lines = metrics.read_text().strip().splitlines()
    m = json.loads(lines[-1])
    assert m["block_slow"]["read_bytes"] >= 12 * mib, m
    assert m["block_slow"]["rate_limiter_throttled_events"] > 0, m
    assert m["block"]["read_bytes"] == m["block_slow"]["read_bytes"], m
    assert m["api_server"]["requests"] > 0 and len(m["vcpu"]) == 1, m
    assert m["vcpu"][0]["instructions"] > 0, m
    # The disk's registers were touched and the hart slept between its requests.
    assert m["vcpu"][0]["exits_mmio"] > 0 and m["vcpu"][0]["exits_wfi"] > 0, m
    # Counters are since the last flush.
    assert call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
    m2 = json.loads(metrics.read_text().strip().splitlines()[-1])
    assert m2["block_slow"]["read_bytes"] == 0, m2
    text = log.read_text()
    assert re.search(r":INFO\] The API server received a PUT request on \"/actions\"", text), text
    assert "The microVM started" in text, text


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS")


def balloon_actual(sock):
    status, st = call(sock, "GET", "/balloon/statistics")
    assert status == 200, st
    return st


def wait_actual(sock, pred, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        st = balloon_actual(sock)
        if pred(st["actual_mib"]):
            return st
        assert time.monotonic() < deadline, f"the balloon stayed at {st}"
        time.sleep(0.5)


def test_balloon(api, guest):
    """Inflating returns the guest's memory to the host (its RSS drops); deflating gives it
    back to the guest (which can fill it again); statistics come from the guest."""
    sock, console = api
    assert call(sock, "GET", "/balloon")[0] == 400  # none configured yet
    assert call(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 512})[0] == 204
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    assert call(sock, "PUT", "/balloon", {"amount_mib": 600, "deflate_on_oom": False})[0] == 400
    assert call(sock, "PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                                          "stats_polling_interval_s": 1})[0] == 204
    status, b = call(sock, "GET", "/balloon")
    assert status == 200 and b == {"amount_mib": 0, "deflate_on_oom": False,
                                   "stats_polling_interval_s": 1}
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    console.run("true", COMMAND_TIMEOUT)
    pid = console.proc.pid

    st = balloon_actual(sock)
    assert st["total_memory"] > 400 << 20 and st["free_memory"] > 0, st
    console.run("dd if=/dev/zero of=/fill bs=1M count=250 2>/dev/null; sync", COMMAND_TIMEOUT)
    filled = rss_mib(pid)
    console.run("rm /fill", COMMAND_TIMEOUT)
    assert call(sock, "PATCH", "/balloon", {"amount_mib": 350})[0] == 204
    wait_actual(sock, lambda mib: mib >= 340)
    time.sleep(0.5)
    ballooned = rss_mib(pid)
    assert ballooned <= filled - 150, (filled, ballooned)

    assert call(sock, "PATCH", "/balloon", {"amount_mib": 0})[0] == 204
    wait_actual(sock, lambda mib: mib == 0)
    console.run("dd if=/dev/zero of=/fill bs=1M count=250 2>/dev/null; sync", COMMAND_TIMEOUT)
    refilled = rss_mib(pid)
    assert refilled >= ballooned + 150, (ballooned, refilled)
    assert call(sock, "PATCH", "/balloon", {"deflate_on_oom": True})[0] == 400
    assert call(sock, "PATCH", "/balloon/statistics", {"stats_polling_interval_s": 0})[0] == 400
    console.run("rm /fill", COMMAND_TIMEOUT)


def test_net_rate_limiters(api, guest, tmp_path):
    """A card whose transmit side is limited to 512 KiB/s sends 2 MiB to a host sink in the
    time that takes (within 20%: TCP and the frames' headers ride on it too); its receive side,
    limited too, still takes a host transfer whole; the metrics count the waits."""
    sock, console = api
    metrics = tmp_path / "metrics.json"
    assert call(sock, "PUT", "/metrics", {"metrics_path": str(metrics)})[0] == 204
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    kib = 1024
    limit = {"bandwidth": {"size": 256 * kib, "refill_time": 500}}  # 512 KiB/s
    assert call(sock, "PUT", "/network-interfaces/eth0",
                {"iface_id": "eth0", "rvisor_user_networking": {}, "tx_rate_limiter": limit,
                 "rx_rate_limiter": limit})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    console.run("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && "
                "ip route add default via 10.0.2.2", COMMAND_TIMEOUT)

    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    port = sink.getsockname()[1]
    got = {}

    def receive():
        c, _ = sink.accept()
        n, first, last = 0, None, None
        while True:
            b = c.recv(65536)
            if not b:
                break
            now = time.monotonic()
            first = first or now
            last = now
            n += len(b)
        got.update(n=n, first=first, last=last)
        c.close()

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    console.run(f"dd if=/dev/zero bs=64k count=32 2>/dev/null | nc 10.0.2.2 {port}", 120)
    t.join(30)
    sink.close()
    assert got.get("n") == 2 << 20, got
    took = got["last"] - got["first"]
    # 256 KiB go at once from the full bucket, the other 1792 KiB at 512 KiB/s: 3.5 s.
    assert 2.8 <= took <= 4.2, f"2 MiB through a 512 KiB/s limiter took {took:.2f} s"
    assert call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
    m = json.loads(metrics.read_text().strip().splitlines()[-1])
    assert m["net_eth0"]["tx_rate_limiter_throttled"] > 0, m
    assert m["net_eth0"]["tx_bytes_count"] >= 2 << 20, m
    # Lifted (an empty limiter): the same 2 MiB go at the link's pace.
    assert call(sock, "PATCH", "/network-interfaces/eth0",
                {"iface_id": "eth0", "tx_rate_limiter": {}})[0] == 204
    sink = socket.socket()
    sink.bind(("127.0.0.1", 0))
    sink.listen(1)
    port = sink.getsockname()[1]
    got.clear()
    t = threading.Thread(target=receive, daemon=True)
    t.start()
    console.run(f"dd if=/dev/zero bs=64k count=32 2>/dev/null | nc 10.0.2.2 {port}", 120)
    t.join(30)
    sink.close()
    # Nothing was held back (the throttle count stands still), and it went faster than the
    # limiter could ever let it (3.5 s; a loaded host slows the link itself).
    assert got.get("n") == 2 << 20 and got["last"] - got["first"] < 3.4, got
    assert call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
    m2 = json.loads(metrics.read_text().strip().splitlines()[-1])
    assert m2["net_eth0"]["tx_rate_limiter_throttled"] == 0, m2  # counts since the last line


def open_paths(pid):
    """The files the process holds open."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return out


def test_drive_new_medium(api, guest, tmp_path):
    """PATCH /drives with a new path_on_host puts the running guest's disk on another image:
    the guest's driver learns the new size (a configuration change) and reads the new data;
    the old image is closed (its locks with it). A path that cannot be opened is refused and
    the disk stays where it was."""
    sock, console = api
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    first, second = tmp_path / "first.img", tmp_path / "second.img"
    first.write_bytes(b"FIRST-MEDIUM" + bytes((1 << 20) - 12))
    second.write_bytes(b"SECOND-MEDIUM" + bytes((3 << 20) - 13))
    assert call(sock, "PUT", "/drives/media",
                {"drive_id": "media", "path_on_host": str(first), "is_root_device": False,
                 "is_read_only": False})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    read = "cat /sys/block/vda/size; dd if=/dev/vda bs=4096 count=1 iflag=direct 2>/dev/null " \
           "| head -c 13; echo"
    out = console.run(read, COMMAND_TIMEOUT)
    assert re.search(rb"^2048\r?$", out, re.M) and b"FIRST-MEDIUM" in out, console.tail()
    assert str(first) in open_paths(console.proc.pid)

    status, err = call(sock, "PATCH", "/drives/media",
                       {"drive_id": "media", "path_on_host": str(tmp_path / "none.img")})
    assert status == 400 and "none.img" in err["fault_message"], err
    out = console.run(read, COMMAND_TIMEOUT)
    assert re.search(rb"^2048\r?$", out, re.M) and b"FIRST-MEDIUM" in out, console.tail()

    assert call(sock, "PATCH", "/drives/media",
                {"drive_id": "media", "path_on_host": str(second)})[0] == 204
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while True:
        out = console.run(read, COMMAND_TIMEOUT)
        if re.search(rb"^6144\r?$", out, re.M) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert re.search(rb"^6144\r?$", out, re.M) and b"SECOND-MEDIUM" in out, console.tail()
    held = open_paths(console.proc.pid)
    assert str(second) in held and str(first) not in held, held
    # Writes go to the new image.
    console.run("printf WRITTEN-HERE | dd of=/dev/vda bs=4096 seek=100 conv=notrunc "
                "oflag=direct 2>/dev/null; sync", COMMAND_TIMEOUT)
    data = second.read_bytes()
    assert data[100 * 4096:100 * 4096 + 12] == b"WRITTEN-HERE"
    assert first.read_bytes()[100 * 4096:100 * 4096 + 12] == bytes(12)
    _, cfg = call(sock, "GET", "/vm/config", schema=FULL_CONFIG)
    assert cfg["drives"][0]["path_on_host"] == str(second), cfg


def test_pause_holds_devices(api, guest, tmp_path):
    """While the VM is paused its network card delivers nothing (the frames wait, no guest
    memory changes): a host connection through a forwarded port gets through only after
    the resume, and then whole."""
    sock, console = api
    metrics = tmp_path / "metrics.json"
    assert call(sock, "PUT", "/metrics", {"metrics_path": str(metrics)})[0] == 204
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    assert call(sock, "PUT", "/network-interfaces/eth0",
                {"iface_id": "eth0", "rvisor_user_networking":
                 {"hostfwd": f"tcp:127.0.0.1:{port}-:7000"}})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    console.run("ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && "
                "ip route add default via 10.0.2.2; (nc -l -p 7000 > /tmp/got &); sleep 0.5",
                COMMAND_TIMEOUT)

    assert call(sock, "PATCH", "/vm", {"state": "Paused"})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"sent-while-paused\n")
    time.sleep(1.5)
    assert call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
    m = json.loads(metrics.read_text().strip().splitlines()[-1])
    assert m["net_eth0"]["rx_packets_count"] == 0, m

    assert call(sock, "PATCH", "/vm", {"state": "Resumed"})[0] == 204
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while True:
        out = console.run("cat /tmp/got", COMMAND_TIMEOUT)
        if b"sent-while-paused" in out or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    c.close()
    assert b"sent-while-paused" in out, console.tail()
    assert call(sock, "PUT", "/actions", {"action_type": "FlushMetrics"})[0] == 204
    m = json.loads(metrics.read_text().strip().splitlines()[-1])
    assert m["net_eth0"]["rx_packets_count"] > 0, m


def test_clients_that_misbehave(api, guest, tmp_path):
    """The socket is owner-only. Clients that connect and send nothing, send half a request
    and wait, or go away mid-request, neither hold up the other clients nor the guest."""
    sock, console = api
    assert os.stat(sock).st_mode & 0o777 == 0o600, oct(os.stat(sock).st_mode)
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    console.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    idle = []
    for i in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        idle.append(s)
        if i % 3 == 1:  # half a request, then nothing
            s.sendall(b"PUT /drives/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"dri")
        elif i % 3 == 2:  # half the headers, then gone
            s.sendall(b"GET / HTTP/1.1\r\nHo")
            s.close()
    start = time.monotonic()
    status, info = call(sock, "GET", "/", schema=INSTANCE_INFO)
    assert status == 200 and info["state"] == "Running"
    assert time.monotonic() - start < 2.0
    out = console.run("echo guest-still-runs", COMMAND_TIMEOUT)
    assert b"guest-still-runs" in out
    for s in idle:
        s.close()
    assert call(sock, "GET", "/machine-config", schema=MACHINE_CONFIG)[0] == 200
