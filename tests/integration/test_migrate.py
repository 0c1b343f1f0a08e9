"""Live migration (PUT /migration/send on the source, `rvisor receive` on the destination).

The Debian guest, at its shell with two vCPUs, a writable disk and a loop rewriting a file in
its RAM-backed /tmp as fast as it can (so pages keep changing during the pre-copy), moves to
another rvisor process: the source answers 204 and ends with status 0, the destination's
shell answers, the counter loop goes on from where it was, files written before keep their
checksums, the disk carries what was written and the destination holds its lock. Failures
leave the guest running at the source: nobody listening, a destination that goes away in the
middle of the stream, one that refuses the VM (its disks are taken), a cancelled migration;
a stream that is not a migration ends `rvisor receive` with one line. While a migration runs,
GET /migration says where it stands. (A VM with a vsock migrates in test_vsock.py.)
"""

import os
import re
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import HOST_FAULT, MARKER, Console
from test_api import call
from test_snapshot import BOOT_TIMEOUT, COMMAND_TIMEOUT, start_api


@pytest.fixture
def rv(request, vmm):
    if vmm != "rvisor":
        pytest.skip("migration is rvisor's")
    return request.getfixturevalue("rvisor")


def boot_source(rv, guest, tmp_path, disk=None):
    sock = str(tmp_path / "src.sock")
    a = start_api(rv, sock)
    assert call(sock, "PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256})[0] == 204
    assert call(sock, "PUT", "/boot-source",
                {"kernel_image_path": guest["RVISOR_KERNEL"],
                 "initrd_path": guest["RVISOR_INITRD"], "boot_args": "console=ttyS0"})[0] == 204
    if disk:
        assert call(sock, "PUT", "/drives/data",
                    {"drive_id": "data", "path_on_host": str(disk), "is_root_device": False,
                     "is_read_only": False})[0] == 204
    assert call(sock, "PUT", "/actions", {"action_type": "InstanceStart"})[0] == 204
    a.expect(re.escape(MARKER), BOOT_TIMEOUT, "init's marker line")
    return a, sock


def counter(console):
    out = console.run("cat /tmp/count", COMMAND_TIMEOUT)
    m = re.findall(rb"^(\d+)\r?$", out, re.M)
    assert m, out
    return int(m[-1])


def wait_listening(path, proc, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            return
        assert proc.poll() is None, "rvisor receive ended"
        time.sleep(0.02)
    raise AssertionError("rvisor receive does not listen")


def start_send(sock, body):
    """PUT /migration/send on a thread of its own (it answers when the migration ends): the
    thread's .result is (status, body) once it did."""
    t = threading.Thread(target=lambda: setattr(
        t, "result", call(sock, "PUT", "/migration/send", body, timeout=600)), daemon=True)
    t.result = None
    t.start()
    return t


def watch_progress(sock, send, until, timeout=300):
    """GET /migration while the send runs, until until(progress) holds or the send ended;
    returns the answers that showed it active."""
    seen = []
    end = time.monotonic() + timeout
    while send.is_alive() and time.monotonic() < end:
        try:
            status, p = call(sock, "GET", "/migration")
        except OSError:
            # The source ends once its guest moved: between the check and the request.
            send.join(30)
            assert not send.is_alive(), "the source went away with its migration running"
            break
        assert status == 200, p
        if p["state"] == "Active":
            seen.append(p)
            if until(p):
                break
        time.sleep(0.1)
    return seen


def test_migrate_a_busy_guest(rv, guest, tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(4 << 20))
    a, sock = boot_source(rv, guest, tmp_path, disk)
    dst = tmp_path / "dst.mig"
    b = None
    try:
        a.run("head -c 2097152 /dev/urandom > /tmp/keep; "
              "printf moved-with-its-disk | dd of=/dev/vda conv=notrunc 2>/dev/null; sync; "
              "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
              "sleep 0.1; done) & "
              "(while :; do head -c 4194304 /dev/urandom > /tmp/churn; done) & sleep 0.5",
              COMMAND_TIMEOUT)
        keep = a.run("sha256sum /tmp/keep", COMMAND_TIMEOUT)
        keep = re.search(rb"([0-9a-f]{64})  /tmp/keep", keep).group(1)
        count = counter(a)
        b = Console([rv, "receive", "--listen", f"unix:{dst}"])
        wait_listening(dst, b.proc)
        t0 = time.monotonic()
        status, err = call(sock, "PUT", "/migration/send", {"destination_url": f"unix:{dst}"},
                           timeout=300)
        took = time.monotonic() - t0
        assert status == 204, (err, a.tail())
        # The source ends by itself, successfully.
        assert a.proc.wait(30) == 0, a.tail()
        assert b"migrated to" in a.err, a.err
        out = b.run("echo here-$((6*7)); cat /dev/vda | head -c 19; echo; "
                    "sha256sum /tmp/keep", COMMAND_TIMEOUT)
        assert b"here-42" in out and b"moved-with-its-disk" in out, out
        assert keep in out, out
        c2 = counter(b)
        assert c2 >= count, (count, c2)
        b.run("sleep 0.5", COMMAND_TIMEOUT)
        assert counter(b) > c2, "the loop stopped"
        # The destination holds the disk now: another VM cannot take it.
        r = subprocess.run([rv, "run", "--kernel", guest["RVISOR_KERNEL"], "--drive",
                            f"path={disk}"], capture_output=True, timeout=60)
        assert r.returncode == 1 and b"in use" in r.stderr, r.stderr
        print(f"migration of a busy 256 MiB guest: {took * 1000:.0f} ms")
    finally:
        a.close()
        if b:
            b.close()
    assert not HOST_FAULT.search(a.err), a.tail()
    assert not HOST_FAULT.search(b.err), b.tail()


def fake_destination(path, behaviour, result):
    """A destination that takes the stream and then: 'vanish' after the first 8 MiB, or
    'refuse' once the state came, answering status 1 with a reason."""
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def serve():
        c, _ = srv.accept()
        got = 0
        try:
            hdr = c.recv(24, socket.MSG_WAITALL)
            result["header"] = hdr
            while True:
                rec = c.recv(24, socket.MSG_WAITALL)
                if len(rec) < 24:
                    break
                kind, _, x, y = struct.unpack("<IIQQ", rec)
                n = y * 4096 if kind == 1 else x if kind == 2 else 0
                while n:
                    part = c.recv(min(n, 1 << 20))
                    if not part:
                        return
                    n -= len(part)
                    got += len(part)
                    if behaviour == "vanish" and got >= 8 << 20:
                        return
                if kind == 2:
                    result["state"] = x
                    reason = b"no room for it"
                    c.sendall(struct.pack("<II", 1, len(reason)) + reason)
                    return
        finally:
            c.close()
            srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("behaviour, mentions", [
    ("nobody", "cannot reach"),
    ("bad-url", "unix:PATH or tcp:HOST:PORT"),
    ("vanish", "went away"),
    ("refuse", "no room for it"),
])
def test_failed_migration_leaves_the_guest_running(rv, guest, tmp_path, behaviour, mentions):
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    a, sock = boot_source(rv, guest, tmp_path, disk)
    dst = str(tmp_path / "fake.mig")
    try:
        a.run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
              "sleep 0.1; done) & sleep 0.3", COMMAND_TIMEOUT)
        result = {}
        fake = behaviour in ("vanish", "refuse")
        if fake:
            t = fake_destination(dst, behaviour, result)
        url = "ftp:x" if behaviour == "bad-url" else f"unix:{dst}"
        status, err = call(sock, "PUT", "/migration/send", {"destination_url": url},
                           timeout=300)
        assert status == 400 and mentions in err["fault_message"], err
        if fake:
            t.join(30)
            assert result["header"][:8] == b"RVISORMG", result
        if behaviour == "refuse":
            assert result.get("state", 0) > 0, result
        # The guest runs on at the source, and still owns its disk.
        c = counter(a)
        a.run("sleep 0.5", COMMAND_TIMEOUT)
        assert counter(a) > c, "the guest did not run on"
        assert call(sock, "GET", "/")[1]["state"] == "Running"
        r = subprocess.run([rv, "run", "--kernel", guest["RVISOR_KERNEL"], "--drive",
                            f"path={disk}"], capture_output=True, timeout=60)
        assert r.returncode == 1 and b"in use" in r.stderr, r.stderr
        a.run("printf still-mine | dd of=/dev/vda conv=notrunc 2>/dev/null; sync",
              COMMAND_TIMEOUT)
    finally:
        a.close()
    assert disk.read_bytes()[:10] == b"still-mine"
    assert not HOST_FAULT.search(a.err), a.tail()


def test_receive_bad_input(rv, tmp_path):
    for args, mentions in ((["--listen", "ftp:nowhere"], b"unix:PATH"),
                           ([], b"--listen"),
                           (["--bogus"], b"unknown option"),
                           (["--listen", f"unix:{tmp_path}/no/such/dir/s"], b"cannot listen")):
        r = subprocess.run([rv, "receive", *args], capture_output=True, timeout=30)
        assert r.returncode == 1 and mentions in r.stderr, (args, r.stderr)
    # A peer that sends something else, or too little, or pages outside RAM: one line, status 1.
    for payload, mentions in ((b"GET / HTTP/1.1\r\n\r\n" + bytes(8), b"not an rvisor migration"),
                              (b"RVISORMG" + struct.pack("<IIQ", 2, 0, 256 << 20) + b"\x01",
                               b"cut short"),
                              (b"RVISORMG" + struct.pack("<IIQ", 2, 0, 256 << 20) +
                               struct.pack("<IIQQ", 1, 0, 65535, 2), b"outside its RAM"),
                              (b"RVISORMG" + struct.pack("<IIQ", 2, 0, 3), b"not valid"),
                              (b"RVISORMG" + struct.pack("<IIQ", 2, 0, 256 << 20) +
                               struct.pack("<IIQQ", 1, 12345, 0, 1) + bytes(4096),
                               b"damaged on the way"),
                              (b"RVISORMG" + struct.pack("<IIQ", 9, 0, 256 << 20), b"version")):
        path = tmp_path / "r.mig"
        p = subprocess.Popen([rv, "receive", "--listen", f"unix:{path}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_listening(path, p)
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(path))
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        _, err = p.communicate(timeout=60)
        s.close()
        assert p.returncode == 1 and mentions in err, (payload[:30], err)
        assert not HOST_FAULT.search(err), err


def test_receive_through_the_api(rv, guest, tmp_path):
    """An orchestrator's way: the destination is a control plane told to receive
    (PUT /migration/receive), answering at once and running the VM once it came."""
    a, sock = boot_source(rv, guest, tmp_path)
    dsock = str(tmp_path / "dst.sock")
    b = start_api(rv, dsock)
    try:
        a.run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
              "sleep 0.1; done) & sleep 0.3", COMMAND_TIMEOUT)
        status, err = call(dsock, "PUT", "/migration/receive", {"listen_url": "ftp:x"})
        assert status == 400 and "unix:PATH" in err["fault_message"], err
        dst = tmp_path / "api.mig"
        # Cloud Hypervisor's names for the two requests, this time.
        assert call(dsock, "PUT", "/vm.receive-migration",
                    {"receiver_url": f"unix:{dst}"})[0] == 204
        assert call(dsock, "GET", "/")[1]["state"] == "Not started"
        status, err = call(dsock, "PUT", "/migration/receive", {"listen_url": f"unix:{dst}"})
        assert status == 400, err  # one at a time
        count = counter(a)
        status, err = call(sock, "PUT", "/vm.send-migration",
                           {"destination_url": f"unix:{dst}", "local": True})
        assert status == 400 and "local" in err["fault_message"], err
        assert call(sock, "PUT", "/vm.send-migration", {"destination_url": f"unix:{dst}"},
                    timeout=300)[0] == 204
        assert a.proc.wait(30) == 0, a.tail()
        end = time.monotonic() + 30
        while call(dsock, "GET", "/")[1]["state"] != "Running":
            assert time.monotonic() < end, b.tail()
            time.sleep(0.05)
        assert counter(b) >= count
        mc = call(dsock, "GET", "/machine-config")[1]
        assert mc["vcpu_count"] == 2 and mc.get("rvisor_cpu") == "max", mc
        assert b"api-42" in b.run("echo api-$((6*7))", COMMAND_TIMEOUT)
    finally:
        a.close()
        b.close()
    assert not HOST_FAULT.search(b.err), b.tail()


def test_receive_refused_after_configuring(rv, guest, tmp_path):
    dsock = str(tmp_path / "d.sock")
    d = start_api(rv, dsock)
    try:
        assert call(dsock, "PUT", "/boot-source",
                    {"kernel_image_path": guest["RVISOR_KERNEL"]})[0] == 204
        status, err = call(dsock, "PUT", "/migration/receive",
                           {"listen_url": f"unix:{tmp_path / 'x.mig'}"})
        assert status == 400 and "after configuring" in err["fault_message"], err
        status, err = call(dsock, "PUT", "/migration/send",
                           {"destination_url": f"unix:{tmp_path / 'x.mig'}"})
        assert status == 400 and "before starting" in err["fault_message"], err
    finally:
        d.close()


def test_a_damaged_stream_is_refused(rv, guest, tmp_path):
    """A byte flipped on the way (a proxy in between): the destination refuses it and never
    runs the guest, the source says why and keeps running."""
    a, sock = boot_source(rv, guest, tmp_path)
    dst = tmp_path / "real.mig"
    proxy_path = str(tmp_path / "proxy.mig")
    b = subprocess.Popen([rv, "receive", "--listen", f"unix:{dst}"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_listening(dst, b)
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(proxy_path)
        srv.listen(1)

        def pipe(src, to, flip_at):
            seen = 0
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    if seen <= flip_at < seen + len(data):
                        data = bytearray(data)
                        data[flip_at - seen] ^= 0x20
                    seen += len(data)
                    to.sendall(data)
            except OSError:
                pass
            for s_ in (src, to):
                try:
                    s_.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        def proxy():
            c, _ = srv.accept()
            d = socket.socket(socket.AF_UNIX)
            d.connect(str(dst))
            t = threading.Thread(target=pipe, args=(d, c, 1 << 62), daemon=True)
            t.start()
            pipe(c, d, 1 << 20)  # a byte of guest RAM, 1 MiB into the stream
            t.join(30)

        t = threading.Thread(target=proxy, daemon=True)
        t.start()
        status, err = call(sock, "PUT", "/migration/send",
                           {"destination_url": f"unix:{proxy_path}"}, timeout=300)
        assert status == 400, err
        assert "damaged" in err["fault_message"] or "went away" in err["fault_message"], err
        _, berr = b.communicate(timeout=60)
        assert b.returncode == 1 and b"damaged on the way" in berr, berr
        assert b"here-42" in a.run("echo here-$((6*7))", COMMAND_TIMEOUT)
        assert call(sock, "GET", "/")[1]["state"] == "Running"
        t.join(10)
    finally:
        a.close()
        if b.poll() is None:
            b.kill()
            b.wait()
    assert not HOST_FAULT.search(a.err), a.tail()


def test_auto_converge_under_a_bandwidth_cap(rv, guest, tmp_path):
    """A guest that writes memory faster than a capped link carries (it rewrites 10 MiB of
    its /tmp in place, at memory speed, over and over): the dirty rounds do not shrink, so the
    source slows the harts, more every two rounds; the migration completes (at the round cap:
    even slowed, this guest outruns 8 MiB/s), the guest runs on at the destination at full
    speed, and the source says how much it slowed them. GET /migration reports all along."""
    a, sock = boot_source(rv, guest, tmp_path)
    dst = tmp_path / "cap.mig"
    b = None
    try:
        a.run("dd if=/dev/zero of=/tmp/churn bs=1M count=10 2>/dev/null; "
              "(while :; do dd if=/dev/zero of=/tmp/churn bs=1M count=10 conv=notrunc "
              "2>/dev/null; done) & echo $! > /tmp/churn.pid; "
              "(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
              "sleep 0.1; done) & sleep 1", COMMAND_TIMEOUT)
        status, err = call(sock, "PUT", "/migration/send",
                           {"destination_url": f"unix:{dst}", "max_bandwidth_mib": 0})
        assert status == 400 and "max_bandwidth_mib" in err["fault_message"], err
        assert call(sock, "GET", "/migration")[1] == {"state": "None"}
        b = Console([rv, "receive", "--listen", f"unix:{dst}"])
        wait_listening(dst, b.proc)
        send = start_send(sock, {"destination_url": f"unix:{dst}", "max_bandwidth_mib": 8})
        # While it runs, the API answers: no to changes (asked during the first pass over
        # RAM, which takes seconds at 8 MiB/s), and where the migration stands.
        seen = watch_progress(sock, send, lambda p: p["bytes_sent"] > 0)
        assert seen and seen[-1]["rounds"] == 1, seen
        status, err = call(sock, "PATCH", "/vm", {"state": "Paused"})
        assert status == 400 and "in progress" in err["fault_message"], err
        status, err = call(sock, "PUT", "/migration/send", {"destination_url": f"unix:{dst}"})
        assert status == 400 and "in progress" in err["fault_message"], err
        seen += watch_progress(sock, send, lambda p: False)
        first, last = seen[0], seen[-1]
        assert first["destination_url"] == f"unix:{dst}", first
        assert first["ram_bytes"] == 256 << 20, first
        assert last["rounds"] >= 2, last
        assert last["bytes_sent"] > first["bytes_sent"], (first, last)
        assert max(p["dirty_pages_rate"] for p in seen) > 0, seen
        assert max(p["bandwidth_bytes_per_s"] for p in seen) > 0, seen
        assert max(p["throttle_percent"] for p in seen) >= 20, seen
        # While the guest runs, pages go at most at the cap on average since the start (the
        # stop and copy then goes at full speed).
        pre = [p for p in seen if p["stage"] == "precopy"][-1]
        assert pre["bytes_sent"] <= (8 << 20) * (pre["elapsed_ms"] / 1000 + 1), pre
        send.join(600)
        assert send.result and send.result[0] == 204, (send.result, a.tail())
        assert a.proc.wait(60) == 0, a.tail()
        m = re.search(rb"(\d+) rounds, guest stopped [0-9.]+ ms, harts slowed by (\d+)% to "
                      rb"converge, sleeping (\d+) ms", a.err)
        assert m, a.err
        rounds, slowed, slept = int(m.group(1)), int(m.group(2)), int(m.group(3))
        assert slowed >= 20, a.err
        assert slept > 0, "the harts were never slowed: " + a.err.decode(errors="replace")
        # Without the churn, the counter loop (0.1 s sleeps) ticks at its pace: the harts
        # are not held back at the destination.
        b.run("kill $(cat /tmp/churn.pid)", COMMAND_TIMEOUT)
        c = counter(b)
        b.run("sleep 1", COMMAND_TIMEOUT)
        assert counter(b) >= c + 5, "the guest runs slowly at the destination"
        print(f"capped migration: {rounds} rounds, harts slowed by {slowed}%, "
              f"slept {slept} ms")
    finally:
        a.close()
        if b:
            b.close()
    assert not HOST_FAULT.search(a.err), a.tail()


def test_cancel_a_migration(rv, guest, tmp_path):
    """PUT /migration/cancel while the pages go: the send answers 400 saying so, GET
    /migration says Cancelled, the guest runs on at the source, the destination gives up with
    one line, and a new migration can then go through."""
    a, sock = boot_source(rv, guest, tmp_path)
    dst = tmp_path / "cancel.mig"
    b = None
    try:
        a.run("(i=0; while :; do i=$((i+1)); echo $i > /tmp/c; mv /tmp/c /tmp/count; "
              "sleep 0.1; done) & sleep 0.3", COMMAND_TIMEOUT)
        status, err = call(sock, "PUT", "/migration/cancel", {})
        assert status == 400 and "No migration" in err["fault_message"], err
        b = subprocess.Popen([rv, "receive", "--listen", f"unix:{dst}"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        wait_listening(dst, b)
        # 1 MiB/s: the first pass over RAM takes seconds.
        send = start_send(sock, {"destination_url": f"unix:{dst}", "max_bandwidth_mib": 1})
        seen = watch_progress(sock, send, lambda p: p["bytes_sent"] >= 1 << 20)
        assert seen and seen[-1]["stage"] == "precopy", seen
        assert call(sock, "PUT", "/migration/cancel", {})[0] == 204
        send.join(60)
        assert not send.is_alive(), "the cancelled send did not answer"
        status, err = send.result
        assert status == 400 and "cancelled" in err["fault_message"], err
        status, p = call(sock, "GET", "/migration")
        assert status == 200 and p["state"] == "Cancelled", p
        assert "cancelled" in p["error"], p
        # The destination gave up, with a line, and took nothing.
        out, errb = b.communicate(timeout=60)
        assert b.returncode == 1, (b.returncode, errb)
        assert errb.count(b"error") == 1 and b"gave the migration up" in errb, errb
        # The guest runs on here.
        c = counter(a)
        a.run("sleep 0.5", COMMAND_TIMEOUT)
        assert counter(a) > c, "the guest stopped at the source"
        assert a.proc.poll() is None
        # And can still move.
        dst2 = tmp_path / "again.mig"
        b2 = Console([rv, "receive", "--listen", f"unix:{dst2}"])
        try:
            wait_listening(dst2, b2.proc)
            assert call(sock, "PUT", "/migration/send", {"destination_url": f"unix:{dst2}"},
                        timeout=300)[0] == 204
            assert a.proc.wait(30) == 0, a.tail()
            assert b"here-42" in b2.run("echo here-$((6*7))", COMMAND_TIMEOUT)
        finally:
            b2.close()
    finally:
        a.close()
        if b and b.poll() is None:
            b.kill()
            b.wait()
    assert not HOST_FAULT.search(a.err), a.tail()
