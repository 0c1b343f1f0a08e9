#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers, tests/fuzz/corpus/<target>/: for fuzz_virtq a few
well-formed split virtqueues and a few malformed ones (input layout at the top of
fuzz_virtq.c); for the device fuzzers fuzz_blk, fuzz_net, fuzz_console and fuzz_rng
well-formed requests of every kind a driver sends, some malformed ones and short driver
scripts (input layout in fuzz_common.h); for fuzz_mmio driver register sequences (layout at
the top of fuzz_mmio.c); for fuzz_pci configuration and BAR access scripts (fuzz_pci.c); for
fuzz_api request sequences, good and bad (fuzz_api.c); for fuzz_state snapshot state streams
that load, each section built as its save function writes it, with the guest RAM their rings,
programs and page tables need (fuzz_state.c); for fuzz_loader Image (plain and gzip'd), ELF,
raw and initrd files, good and bad (fuzz_loader.c); for fuzz_migrate migration streams, good
and bad (fuzz_migrate.c); for fuzz_sbi ecall sequences of every extension, good and bad
(fuzz_sbi.c); for fuzz_decode small programs (arithmetic, memory, AMOs, CSRs, FP, compressed,
Sv39, a trap and its return) with the hart state they start from (fuzz_decode.c). Run it again after changing a layout; it leaves
inputs it did not write (reproducers added by hand) alone.

Usage: gen_corpus.py [TARGET...]   (default: all)"""
import os
import struct
import sys

RAM_BASE = 0x80000000
NEXT, WRITE, INDIRECT = 1, 2, 4
EVENT_IDX, INDIRECT_DESC = 1, 2


class Queue:
    """A guest RAM image holding one split virtqueue and its buffers."""

    def __init__(self, num, desc=0x0, avail=0x400, used=0x600, features=0):
        self.num, self.desc, self.avail, self.used = num, desc, avail, used
        self.features = features
        self.ram = bytearray(0x1000)
        self.avail_idx = 0
        self.last_avail = 0
        self.used_idx = 0

    def put(self, off, data):
        if off + len(data) > len(self.ram):
            self.ram.extend(bytes(off + len(data) - len(self.ram)))
        self.ram[off:off + len(data)] = data

    def set_desc(self, table, i, addr, length, flags=0, nxt=0):
        self.put(table + 16 * i, struct.pack("<QIHH", addr, length, flags, nxt))

    def make_avail(self, head):
        self.put(self.avail + 4 + 2 * (self.avail_idx % self.num), struct.pack("<H", head))
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        self.put(self.avail + 2, struct.pack("<H", self.avail_idx))

    def encode(self, pops=8, read_off=0, write_off=0, raw=None):
        log2 = self.num.bit_length() - 1
        desc, avail, used = raw if raw else (self.desc, self.avail, self.used)
        header = struct.pack("<BBHHBBIIIHHII", log2, self.features, self.last_avail,
                             self.used_idx, pops, 0, desc, avail, used, 0, 0, read_off,
                             write_off)
        assert len(header) == 32
        return header + bytes(self.ram)


def gpa(off):
    return RAM_BASE + off


def virtq_seeds():
    # Two direct chains: readable header + writable status, and a lone readable buffer.
    q = Queue(16)
    q.set_desc(q.desc, 0, gpa(0x800), 16, NEXT, 1)
    q.set_desc(q.desc, 1, gpa(0x900), 512, NEXT | WRITE, 2)
    q.set_desc(q.desc, 2, gpa(0xB00), 1, WRITE)
    q.set_desc(q.desc, 3, gpa(0xC00), 64)
    q.make_avail(0)
    q.make_avail(3)
    yield "direct", q.encode(read_off=4, write_off=1)

    # An indirect table of three (r, w, w), event idx negotiated, used_event set.
    q = Queue(8, features=EVENT_IDX | INDIRECT_DESC)
    q.set_desc(q.desc, 5, gpa(0xA00), 48, INDIRECT)
    q.set_desc(0xA00, 0, gpa(0x800), 16, NEXT, 2)
    q.set_desc(0xA00, 2, gpa(0x880), 32, NEXT | WRITE, 1)
    q.set_desc(0xA00, 1, gpa(0x900), 1, WRITE)
    q.make_avail(5)
    q.put(q.avail + 4 + 2 * q.num, struct.pack("<H", 0))
    yield "indirect", q.encode()

    # Normal descriptors followed by one indirect descriptor.
    q = Queue(4, features=INDIRECT_DESC)
    q.set_desc(q.desc, 0, gpa(0x800), 8, NEXT, 1)
    q.set_desc(q.desc, 1, gpa(0xA00), 32, INDIRECT)
    q.set_desc(0xA00, 0, gpa(0x810), 8, NEXT, 1)
    q.set_desc(0xA00, 1, gpa(0x820), 8, WRITE)
    q.make_avail(0)
    yield "mixed", q.encode()

    # Indices about to wrap at 65535 -> 0.
    q = Queue(4)
    q.last_avail = q.used_idx = q.avail_idx = 65534
    for i in range(4):
        q.set_desc(q.desc, i, gpa(0x800 + 0x40 * i), 0x40, WRITE)
        q.make_avail(i)
    yield "wrap", q.encode()

    # The largest queue, one request using every descriptor.
    q = Queue(1024, desc=0x0, avail=0x4000, used=0x5000)
    for i in range(1024):
        q.set_desc(q.desc, i, gpa(0x8000 + i), 1, (NEXT if i < 1023 else 0) |
                   (WRITE if i >= 512 else 0), i + 1)
    q.make_avail(0)
    yield "max-queue", q.encode(pops=2)

    # Malformed: a loop.
    q = Queue(8)
    q.set_desc(q.desc, 0, gpa(0x800), 8, NEXT, 1)
    q.set_desc(q.desc, 1, gpa(0x800), 8, NEXT, 0)
    q.make_avail(0)
    yield "loop", q.encode()

    # Malformed: indirect inside indirect.
    q = Queue(8, features=INDIRECT_DESC)
    q.set_desc(q.desc, 0, gpa(0xA00), 32, INDIRECT)
    q.set_desc(0xA00, 0, gpa(0x800), 8, NEXT, 1)
    q.set_desc(0xA00, 1, gpa(0xB00), 16, INDIRECT)
    q.set_desc(0xB00, 0, gpa(0x800), 8)
    q.make_avail(0)
    yield "nested-indirect", q.encode()

    # Malformed: a buffer running past the end of RAM, and one below it.
    q = Queue(8)
    q.set_desc(q.desc, 0, gpa(0xFFF8), 16)
    q.set_desc(q.desc, 1, RAM_BASE - 8, 8)
    q.make_avail(0)
    q.make_avail(1)
    yield "outside-ram", q.encode()

    # Malformed: readable after writable; avail idx far ahead of the device.
    q = Queue(8)
    q.set_desc(q.desc, 0, gpa(0x800), 8, NEXT | WRITE, 1)
    q.set_desc(q.desc, 1, gpa(0x808), 8)
    q.make_avail(0)
    yield "order", q.encode()
    q.put(q.avail + 2, struct.pack("<H", 200))
    yield "avail-jump", q.encode()

    # Malformed layout: a misaligned descriptor table; a queue size that is not a power of 2.
    q = Queue(8)
    q.set_desc(q.desc, 0, gpa(0x800), 8)
    q.make_avail(0)
    yield "misaligned", q.encode(raw=(0x8, q.avail, q.used))
    data = bytearray(q.encode())
    data[0] = 0x80
    data[20:22] = struct.pack("<H", 12)
    yield "num-12", bytes(data)


# ---- the device fuzzers (fuzz_common.h) ----

ALL = (1 << 64) - 1
F_INDIRECT_DESC, F_EVENT_IDX, F_VERSION_1 = 1 << 28, 1 << 29, 1 << 32
OP_NOTIFY, OP_PUBLISH, OP_RESET, OP_CONFIG, OP_TARGET = range(5)
NOWAIT = 0x80


class Device:
    """Guest RAM with the split virtqueues of one device, a driver script and the header of
    the device fuzzers' input."""

    # desc, avail, used offsets of queues 0 and 1; room for 64 entries each.
    LAYOUT = [(0x0000, 0x0800, 0x0A00), (0x1000, 0x1800, 0x1A00)]

    def __init__(self, num=32, mask=ALL, flags=0, param=0, data=b"", heap=0x2000):
        self.ram = bytearray()
        self.queues = []
        for desc, avail, used in self.LAYOUT:
            self.queues.append({"num": num, "desc": desc, "avail": avail, "used": used,
                                "next": 0, "idx": 0, "staged": 0, "descs": 0})
        self.mask, self.flags, self.param, self.data = mask, flags, param, data
        self.heap = heap
        self.ops = []

    def put(self, off, data):
        if off + len(data) > len(self.ram):
            self.ram.extend(bytes(off + len(data) - len(self.ram)))
        self.ram[off:off + len(data)] = data

    def alloc(self, data, align=16):
        """Place data (bytes, or a length of zeroes) in RAM; returns its offset."""
        if isinstance(data, int):
            data = bytes(data)
        off = (self.heap + align - 1) // align * align
        self.heap = off + max(len(data), 1)
        self.put(off, data)
        return off

    def set_desc(self, table, i, off, length, flags=0, nxt=0):
        self.put(table + 16 * i, struct.pack("<QIHH", gpa(off), length, flags, nxt))

    def chain(self, qi, segs, indirect=False, avail=True):
        """A descriptor chain of (offset, length, writable) buffers; returns its head. With
        avail the driver makes it available now, else it is put in the ring for a later
        PUBLISH."""
        q = self.queues[qi]
        q["descs"] += 1 if indirect else len(segs)
        assert q["descs"] <= q["num"], "descriptor table full"
        flags = [(WRITE if w else 0) for _, _, w in segs]
        if indirect:
            table = self.alloc(16 * len(segs))
            for i, (off, length, _) in enumerate(segs):
                nxt = NEXT if i + 1 < len(segs) else 0
                self.set_desc(table, i, off, length, flags[i] | nxt, i + 1)
            head = q["next"]
            self.set_desc(q["desc"], head, table, 16 * len(segs), INDIRECT)
            q["next"] = (head + 1) % q["num"]
        else:
            head = q["next"]
            for i, (off, length, _) in enumerate(segs):
                idx = (head + i) % q["num"]
                nxt = NEXT if i + 1 < len(segs) else 0
                self.set_desc(q["desc"], idx, off, length, flags[i] | nxt,
                              (idx + 1) % q["num"])
            q["next"] = (head + len(segs)) % q["num"]
        slot = (q["idx"] + q["staged"]) % q["num"]
        self.put(q["avail"] + 4 + 2 * slot, struct.pack("<H", head))
        if avail:
            assert q["staged"] == 0
            q["idx"] += 1
            self.put(q["avail"] + 2, struct.pack("<H", q["idx"]))
        else:
            q["staged"] += 1
        return head

    def op(self, code, a=0, b=0):
        self.ops.append(struct.pack("<BBH", code, a, b))

    def encode(self):
        header = struct.pack("<QBBHI", self.mask, len(self.ops), self.flags, len(self.data),
                             self.param)
        for q in self.queues:
            num = q["num"]
            if num & (num - 1) == 0 and 1 <= num <= 1024:
                header += struct.pack("<BBHIII", num.bit_length() - 1, 0, num, q["desc"],
                                      q["avail"], q["used"])
            else:
                header += struct.pack("<BBHIII", 0x80, 0, num, q["desc"], q["avail"],
                                      q["used"])
        assert len(header) == 48
        return header + b"".join(self.ops) + self.data + bytes(self.ram)


# virtio-blk (5.2.6)
T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
DISK = 64 * 512


def blk_req(dev, rtype, sector, out=b"", data_in=0, status=True, split_hdr=False,
            indirect=False, avail=True, data_segs=1):
    """A virtio_blk_req: header, data out or data in (data_segs pieces), status byte."""
    hdr = struct.pack("<IIQ", rtype, 0, sector)
    segs = []
    if split_hdr:
        segs += [(dev.alloc(hdr[:8]), 8, False), (dev.alloc(hdr[8:]), 8, False)]
    else:
        segs.append((dev.alloc(hdr), 16, False))
    if out:
        segs.append((dev.alloc(out), len(out), False))
    if data_in:
        piece = data_in // data_segs
        for i in range(data_segs):
            n = piece if i + 1 < data_segs else data_in - piece * (data_segs - 1)
            segs.append((dev.alloc(n), n, True))
    if status:
        segs.append((dev.alloc(1), 1, True))
    return dev.chain(0, segs, indirect=indirect, avail=avail)


def pattern(n, seed):
    return bytes((i * 37 + seed) & 0xFF for i in range(n))


def dwz(sector, num, flags=0):
    return struct.pack("<QII", sector, num, flags)


def blk_seeds():
    d = Device(param=DISK)
    blk_req(d, T_IN, 3, data_in=1024)
    d.op(OP_NOTIFY)
    yield "read", d.encode()

    d = Device(param=DISK)
    blk_req(d, T_OUT, 5, out=pattern(1024, 1))
    blk_req(d, T_IN, 5, data_in=1024, data_segs=4)
    blk_req(d, T_IN, 4, data_in=512)
    d.op(OP_NOTIFY)
    yield "write-read", d.encode()

    d = Device(param=DISK, flags=2)
    blk_req(d, T_FLUSH, 0)
    blk_req(d, T_GET_ID, 0, data_in=20)
    d.op(OP_NOTIFY)
    d.op(OP_CONFIG, 2, 0)
    d.op(OP_CONFIG, 3, 0)
    d.op(OP_CONFIG, 0x82, 0)
    yield "flush-id", d.encode()

    d = Device(param=DISK)
    blk_req(d, T_DISCARD, 0, out=dwz(8, 4))
    blk_req(d, T_WRITE_ZEROES, 0, out=dwz(12, 2))
    blk_req(d, T_WRITE_ZEROES, 0, out=dwz(16, 8, 1))
    blk_req(d, T_IN, 12, data_in=2048)
    d.op(OP_NOTIFY)
    yield "discard-zeroes", d.encode()

    d = Device(param=DISK)
    blk_req(d, 99, 0, data_in=16)                       # unknown type
    blk_req(d, T_IN, 63, data_in=1024)                  # past the end
    blk_req(d, T_OUT, 1, out=bytes(100))                # not whole sectors
    blk_req(d, T_DISCARD, 0, out=dwz(0, 1, 1))          # unmap on a discard
    blk_req(d, T_WRITE_ZEROES, 0, out=dwz(0, 1, 4))     # unknown flag
    blk_req(d, T_GET_ID, 0, data_in=8)                  # id buffer too small
    blk_req(d, T_IN, 0, data_in=512, status=False)      # no status byte
    d.chain(0, [(d.alloc(8), 8, False), (d.alloc(1), 1, True)])  # short header
    d.op(OP_NOTIFY)
    yield "bad-requests", d.encode()

    d = Device(param=DISK, flags=1)
    blk_req(d, T_OUT, 2, out=pattern(512, 2))
    blk_req(d, T_WRITE_ZEROES, 0, out=dwz(0, 1))
    blk_req(d, T_IN, 2, data_in=512)
    d.op(OP_NOTIFY)
    yield "readonly", d.encode()

    d = Device(param=DISK)
    blk_req(d, T_OUT, 7, out=pattern(512, 3), split_hdr=True, indirect=True)
    blk_req(d, T_IN, 7, data_in=1024, data_segs=8, indirect=True, split_hdr=True)
    d.op(OP_NOTIFY)
    yield "indirect", d.encode()

    # A script: requests published in steps, one notification not waited for, a reset
    # with requests in flight, and the driver starting again.
    d = Device(param=DISK)
    blk_req(d, T_OUT, 9, out=pattern(512, 4))
    blk_req(d, T_IN, 9, data_in=512, avail=False)
    blk_req(d, T_OUT, 10, out=pattern(4096, 5), avail=False)
    blk_req(d, T_IN, 10, data_in=4096, avail=False)
    d.op(OP_NOTIFY)
    d.op(OP_PUBLISH, 0, 1)
    d.op(OP_NOTIFY)
    d.op(OP_PUBLISH, 0, 2)
    d.op(OP_NOTIFY, NOWAIT)
    d.op(OP_RESET)
    d.op(OP_NOTIFY)
    d.op(OP_TARGET)
    yield "script-reset", d.encode()

    # More requests than the device's slots, without event idx or indirect descriptors.
    d = Device(num=64, param=DISK, mask=ALL & ~(F_EVENT_IDX | F_INDIRECT_DESC))
    for i in range(20):
        if i % 2:
            blk_req(d, T_IN, i, data_in=512)
        else:
            blk_req(d, T_OUT, i, out=pattern(512, i))
    d.op(OP_NOTIFY, NOWAIT)
    d.op(OP_TARGET)
    yield "deep", d.encode()

    # A good request, then a chain that loops: the device needs a reset.
    d = Device(param=DISK)
    blk_req(d, T_IN, 0, data_in=512)
    q = d.queues[0]
    head = q["next"]
    d.set_desc(q["desc"], head, d.alloc(16), 16, NEXT, head + 1)
    d.set_desc(q["desc"], head + 1, d.alloc(16), 16, NEXT, head)
    d.put(q["avail"] + 4 + 2 * q["idx"], struct.pack("<H", head))
    q["idx"] += 1
    d.put(q["avail"] + 2, struct.pack("<H", q["idx"]))
    d.op(OP_NOTIFY)
    d.op(OP_RESET)
    yield "loop", d.encode()

    # A disk of 5 sectors and 100 bytes: the partial sector is not part of it.
    d = Device(param=5 * 512 + 100)
    blk_req(d, T_IN, 4, data_in=512)
    blk_req(d, T_OUT, 4, out=pattern(1024, 6))
    blk_req(d, T_WRITE_ZEROES, 0, out=dwz(4, 2))
    d.op(OP_NOTIFY)
    yield "partial-sector", d.encode()

    # Data and status in one descriptor, and a header sharing its descriptor with data.
    d = Device(param=DISK)
    hdr_out = d.alloc(struct.pack("<IIQ", T_OUT, 0, 3) + pattern(512, 8))
    status = d.alloc(1)
    hdr_in = d.alloc(struct.pack("<IIQ", T_IN, 0, 3))
    data_status = d.alloc(513)
    d.chain(0, [(hdr_out, 528, False), (status, 1, True)])
    d.chain(0, [(hdr_in, 16, False), (data_status, 513, True)])
    d.op(OP_NOTIFY)
    yield "shared-descriptors", d.encode()

    # One large read and one large write.
    d = Device(num=64, param=DISK)
    blk_req(d, T_OUT, 0, out=pattern(16384, 7))
    blk_req(d, T_IN, 0, data_in=16384, data_segs=32)
    d.op(OP_NOTIFY)
    yield "large", d.encode()


# virtio-net (5.1.6)
NET_HDR = 12


def net_hdr(flags=0, gso=0, csum_start=0, csum_offset=0):
    return struct.pack("<BBHHHHH", flags, gso, 0, 0, csum_start, csum_offset, 0)


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


ETH = bytes.fromhex("525400123456") + bytes.fromhex("525400abcdef")


def udp4(payload, good=True, vlan=False):
    """An Ethernet frame with an IPv4 UDP datagram; its checksum right or not."""
    src, dst = bytes([10, 0, 2, 2]), bytes([10, 0, 2, 15])
    udp = struct.pack("!HHHH", 5353, 53, 8 + len(payload), 0) + payload
    c = 0xFFFF & ~csum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp)
    udp = udp[:6] + struct.pack("!H", (c or 0xFFFF) if good else c ^ 0x5A5A) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", 0xFFFF & ~csum(ip)) + ip[12:]
    tag = struct.pack("!HH", 0x8100, 5) if vlan else b""
    return ETH + tag + struct.pack("!H", 0x0800) + ip + udp


def tcp6(payload):
    src, dst = bytes(15) + b"\x01", bytes(15) + b"\x02"
    tcp = struct.pack("!HHIIBBHHH", 80, 4000, 1, 0, 0x50, 0x18, 8192, 0, 0) + payload
    c = 0xFFFF & ~csum(src + dst + struct.pack("!IxxxB", len(tcp), 6) + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, src, dst)
    return ETH + struct.pack("!H", 0x86DD) + ip + tcp


def partial_udp4(payload):
    """A UDP datagram as a driver hands it over for VIRTIO_NET_HDR_F_NEEDS_CSUM: the
    pseudo-header sum in the checksum field. Returns the frame, csum_start, csum_offset."""
    frame = bytearray(udp4(payload))
    start = 14 + 20
    pseudo = csum(bytes(frame[26:34]) + struct.pack("!BBH", 0, 17, 8 + len(payload)))
    frame[start + 6:start + 8] = struct.pack("!H", pseudo)
    return bytes(frame), start, 6


def net_tx(d, hdr, frame, split=False, avail=True):
    if split:
        segs = [(d.alloc(hdr), len(hdr), False), (d.alloc(frame[:14]), 14, False),
                (d.alloc(frame[14:]), len(frame) - 14, False)]
    else:
        segs = [(d.alloc(hdr + frame), len(hdr) + len(frame), False)]
    return d.chain(1, segs, avail=avail)


def net_rx(d, sizes, avail=True):
    return d.chain(0, [(d.alloc(n), n, True) for n in sizes], avail=avail)


def deliver(frames):
    """Target data and DELIVER operations for frames, in order."""
    ops = []
    for f in frames:
        extra = min(len(f), 0x3F)
        ops.append((OP_TARGET, extra, len(f) - extra))
    return b"".join(frames), ops


def net_seeds():
    F_CSUM, F_GUEST_CSUM, F_MRG = 1 << 0, 1 << 1, 1 << 15

    d = Device()
    net_tx(d, net_hdr(), ETH + b"\x88\xb5" + pattern(46, 1))
    frame, start, off = partial_udp4(pattern(31, 2))
    net_tx(d, net_hdr(1, 0, start, off), frame, split=True)
    net_tx(d, net_hdr(), tcp6(pattern(100, 3)), split=True)
    d.op(OP_NOTIFY, 1)
    yield "tx", d.encode()

    d = Device()
    net_tx(d, net_hdr(), ETH[:10])                                     # shorter than a header
    net_tx(d, net_hdr(0, 1), udp4(pattern(20, 4)))                     # GSO TCPv4
    net_tx(d, net_hdr(1, 0, 200, 6), udp4(pattern(20, 5)))             # csum_start past the end
    net_tx(d, net_hdr(1, 0, 34, 40), udp4(pattern(20, 6)))             # csum_offset past the end
    net_tx(d, net_hdr(1, 0x80, 34, 6), partial_udp4(pattern(9, 7))[0])  # ECN alone: sent
    d.op(OP_NOTIFY, 1)
    yield "tx-malformed", d.encode()

    d = Device(flags=1)
    net_tx(d, net_hdr(), udp4(pattern(10, 8)))
    d.op(OP_NOTIFY, 1)
    yield "tx-refused", d.encode()

    frames = [ETH + b"\x08\x06" + pattern(46, 9), udp4(pattern(1000, 10))]
    data, ops = deliver(frames)
    d = Device(mask=ALL & ~F_MRG, data=data)
    net_rx(d, [1526])
    net_rx(d, [12, 500, 1014])
    d.op(OP_NOTIFY, 0)
    for o in ops:
        d.op(*o)
    yield "rx", d.encode()

    frames = [udp4(pattern(1400, 11)), udp4(pattern(100, 12), vlan=True)]
    data, ops = deliver(frames)
    d = Device(data=data)
    for _ in range(8):
        net_rx(d, [256])
    d.op(OP_NOTIFY, 0)
    for o in ops:
        d.op(*o)
    yield "rx-mrg", d.encode()

    frames = [udp4(pattern(64, 13)), tcp6(pattern(200, 14)), udp4(pattern(64, 15), good=False),
              udp4(pattern(30, 16), vlan=True)]
    data, ops = deliver(frames)
    d = Device(mask=ALL & ~F_MRG, data=data)
    for _ in range(4):
        net_rx(d, [512])
    for code, a, b in ops:
        d.op(code, a, b)
    d.op(ops[2][0], ops[2][1] | 0x40, ops[2][2])
    yield "rx-csum", d.encode()

    # Frames that look like TCP or UDP but are not to be vouched for.
    frag = bytearray(udp4(pattern(40, 23)))
    frag[20] = 0x20                                  # more fragments
    bad_len = bytearray(udp4(pattern(40, 24)))
    bad_len[38:40] = struct.pack("!H", 9)            # UDP length disagrees
    icmp = bytearray(udp4(pattern(40, 25)))
    icmp[23] = 1                                     # not TCP or UDP
    no_sum = bytearray(udp4(pattern(40, 26)))
    no_sum[40:42] = b"\0\0"                          # UDP without a checksum
    frames = [bytes(frag), bytes(bad_len), bytes(icmp), bytes(no_sum), tcp6(b"")[:60]]
    data, ops = deliver(frames)
    d = Device(mask=ALL & ~F_MRG, data=data)
    for _ in range(5):
        net_rx(d, [256])
    for o in ops:
        d.op(*o)
    yield "rx-not-valid", d.encode()

    frames = [ETH + b"\x08\x00" + pattern(100, 17), ETH + b"\x08\x00" + pattern(40, 18)]
    data, ops = deliver(frames)
    d = Device(mask=ALL & ~F_MRG, data=data)
    net_rx(d, [4])             # too small for a header
    net_rx(d, [8, 2])          # still too small
    net_rx(d, [80])            # too small for the first frame: dropped, kept for the next
    for o in ops:
        d.op(*o)
    d.op(OP_TARGET, 0, 8)      # shorter than an Ethernet header
    yield "rx-small", d.encode()

    frames = [udp4(pattern(50, 19)), udp4(pattern(60, 20))]
    data, ops = deliver(frames)
    d = Device(data=data, mask=ALL & ~F_GUEST_CSUM & ~F_CSUM)
    net_rx(d, [128])
    net_rx(d, [128], avail=False)
    net_tx(d, net_hdr(), udp4(pattern(10, 21)))
    d.op(*ops[0])
    d.op(OP_RESET)
    d.op(OP_PUBLISH, 0, 1)
    d.op(*ops[1])
    d.op(OP_NOTIFY, 1)
    d.op(OP_CONFIG, 0, 0)
    d.op(OP_CONFIG, 1, 6)
    d.op(OP_CONFIG, 2, 8)
    yield "reset", d.encode()

    frames = [udp4(pattern(3000, 22))]
    data, ops = deliver(frames)
    d = Device(data=data)
    net_rx(d, [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100,
               100, 1000, 2000], )
    net_rx(d, [3100])
    for o in ops:
        d.op(*o)
    yield "rx-segments", d.encode()


# virtio-console (5.3)
def console_seeds():
    d = Device()
    text = b"hello from the guest\n"
    d.chain(1, [(d.alloc(text[:6]), 6, False), (d.alloc(text[6:]), len(text) - 6, False)])
    d.chain(1, [(d.alloc(b"x"), 1, False)], indirect=True)
    d.op(OP_NOTIFY, 1)
    yield "tx", d.encode()

    d = Device(data=b"typed on the host keyboard, then more of it\r\n")
    for n in (16, 8, 64):
        d.chain(0, [(d.alloc(n), n, True)])
    d.chain(0, [(d.alloc(3), 3, True), (d.alloc(5), 5, True)])
    d.op(OP_NOTIFY, 0)
    d.op(OP_TARGET, 0, 40)
    d.op(OP_TARGET, 0, 20)
    yield "rx", d.encode()

    d = Device(param=0x21)
    d.op(OP_CONFIG, 0x80 | 2, 8)    # 4 bytes at emerg_wr
    d.op(OP_CONFIG, 0x80 | 0, 8)    # 1 byte
    d.op(OP_CONFIG, 0x80 | 2, 4)    # 4 bytes below it: nothing
    d.op(OP_CONFIG, 0x80 | 1, 10)   # 2 bytes above it: nothing
    d.op(OP_CONFIG, 2, 8)
    d.op(OP_CONFIG, 0, 11)
    d.op(OP_CONFIG, 2, 12)          # past the end
    yield "emerg", d.encode()

    d = Device(data=b"early input")
    d.chain(0, [(d.alloc(32), 32, True)], avail=False)
    d.op(OP_TARGET, 0, 11)
    d.op(OP_PUBLISH, 0, 1)
    d.op(OP_NOTIFY, 0)
    yield "rx-early", d.encode()

    d = Device(data=b"after the reset")
    d.chain(0, [(d.alloc(32), 32, True)])
    d.chain(0, [(d.alloc(0), 0, True)])
    d.chain(1, [(d.alloc(b"bye"), 3, False)], avail=False)
    d.op(OP_NOTIFY, 0)
    d.op(OP_RESET)
    d.op(OP_TARGET, 0, 15)
    d.op(OP_PUBLISH, 1, 1)
    d.op(OP_NOTIFY, 1)
    yield "reset", d.encode()


# virtio-rng (5.4)
def rng_seeds():
    d = Device()
    for n in (64, 1, 4096):
        d.chain(0, [(d.alloc(n), n, True)])
    d.op(OP_NOTIFY)
    yield "fill", d.encode()

    d = Device(mask=ALL & ~F_EVENT_IDX)
    d.chain(0, [(d.alloc(n), n, True) for n in (7, 9, 100, 3)])
    d.chain(0, [(d.alloc(16), 16, False)])                    # nothing writable
    d.chain(0, [(d.alloc(16), 16, False), (d.alloc(16), 16, True)], indirect=True)
    d.chain(0, [(d.alloc(0), 0, True)])                       # empty
    d.op(OP_NOTIFY)
    yield "segments", d.encode()

    d = Device()
    d.chain(0, [(d.alloc(40000), 40000, True)])
    yield "large", d.encode()

    d = Device()
    d.chain(0, [(d.alloc(8), 8, True)])
    d.chain(0, [(d.alloc(8), 8, True), (d.alloc(8), 8, False)])   # readable after writable
    d.op(OP_NOTIFY)
    d.op(OP_RESET)
    d.op(OP_NOTIFY)
    yield "malformed", d.encode()

    d = Device(num=4)
    for _ in range(4):
        d.chain(0, [(d.alloc(32), 32, True)], avail=False)
    d.put(d.queues[0]["avail"] + 4 + 2 * 4, struct.pack("<H", 2))   # used_event
    for _ in range(3):
        d.op(OP_PUBLISH, 0, 4)
        d.op(OP_NOTIFY)
    d.op(OP_PUBLISH, 0, 9)     # more than the ring holds
    d.op(OP_NOTIFY)
    d.op(OP_CONFIG, 2, 0)
    yield "rounds", d.encode()

    d = Device()
    d.chain(0, [(d.alloc(8), 8, True)])
    d.queues[0]["used"] = 0x0A02     # misaligned device area
    yield "bad-layout", d.encode()

    d = Device(mask=ALL & ~F_VERSION_1)   # no FEATURES_OK without VERSION_1
    d.chain(0, [(d.alloc(8), 8, True)])
    d.op(OP_NOTIFY)
    yield "legacy-driver", d.encode()


# ---- fuzz_mmio: register sequences (layout at the top of fuzz_mmio.c) ----

R_DEV_FEAT, R_DEV_FEAT_SEL, R_DRV_FEAT, R_DRV_FEAT_SEL = 0x010, 0x014, 0x020, 0x024
R_QSEL, R_QNUM_MAX, R_QNUM, R_QREADY, R_QNOTIFY = 0x030, 0x034, 0x038, 0x044, 0x050
R_INT_STATUS, R_INT_ACK, R_STATUS = 0x060, 0x064, 0x070
R_QDESC, R_QDRIVER, R_QDEVICE = 0x080, 0x090, 0x0A0
R_SHM_SEL, R_SHM_LEN, R_GEN, R_CONFIG = 0x0AC, 0x0B0, 0x0FC, 0x100


class Regs:
    def __init__(self, device):
        self.device = device
        self.acc = []
        self.ram = Device()

    def w(self, off, val, size=4):
        self.acc.append(struct.pack("<BBHI", 1, size.bit_length() - 1, off, val & 0xFFFFFFFF))

    def r(self, off, size=4):
        self.acc.append(struct.pack("<BBHI", 0, size.bit_length() - 1, off, 0))

    def read_all(self):
        for off in range(0, 0x100, 4):
            self.r(off)

    def start(self, features=(1 << 32) | F_EVENT_IDX | F_INDIRECT_DESC, queues=(0,)):
        self.w(R_STATUS, 0)
        self.w(R_STATUS, 1)
        self.w(R_STATUS, 3)
        for sel in (0, 1, 2):
            self.w(R_DEV_FEAT_SEL, sel)
            self.r(R_DEV_FEAT)
        self.w(R_DRV_FEAT_SEL, 0)
        self.w(R_DRV_FEAT, features)
        self.w(R_DRV_FEAT_SEL, 1)
        self.w(R_DRV_FEAT, features >> 32)
        self.w(R_STATUS, 11)
        self.r(R_STATUS)
        for qi in queues:
            desc, avail, used = Device.LAYOUT[qi]
            self.w(R_QSEL, qi)
            self.r(R_QNUM_MAX)
            self.w(R_QNUM, 16)
            for reg, off in ((R_QDESC, desc), (R_QDRIVER, avail), (R_QDEVICE, used)):
                self.w(reg, gpa(off))
                self.w(reg + 4, gpa(off) >> 32)
            self.w(R_QREADY, 1)
            self.r(R_QREADY)
        self.w(R_STATUS, 15)
        self.r(R_STATUS)

    def encode(self):
        return struct.pack("<BBH", self.device, 0, len(self.acc)) + b"".join(self.acc) + \
            bytes(self.ram.ram)


def mmio_seeds():
    # Each device: start, a request, notify, interrupt status and ack, reset in the middle,
    # start again.
    for device, name in enumerate(("rng", "console", "net", "blk")):
        m = Regs(device)
        queues = (0,) if device in (0, 3) else (0, 1)
        if device == 3:
            blk_req(m.ram, T_IN, 1, data_in=512)
            blk_req(m.ram, T_OUT, 2, out=pattern(512, 1))
        else:
            m.ram.chain(0, [(m.ram.alloc(64), 64, True)])
            if device != 0:
                m.ram.chain(1, [(m.ram.alloc(b"\0" * 12 + ETH + b"\x08\x06" + bytes(46)),
                                 72, False)])
        m.read_all()
        m.start(queues=queues)
        for qi in queues:
            m.w(R_QNOTIFY, qi)
        m.r(R_INT_STATUS)
        m.w(R_INT_ACK, 1)
        m.r(R_INT_STATUS)
        for off in range(0, 16, 4):
            m.r(R_CONFIG + off)
        m.r(R_CONFIG, 1)
        m.r(R_CONFIG + 2, 2)
        m.w(R_STATUS, 0)
        m.read_all()
        m.start(queues=queues)
        m.w(R_QNOTIFY, 0)
        m.w(R_STATUS, 0)
        m.r(R_STATUS)
        yield "start-" + name, m.encode()

    # Registers out of order, of the wrong size, and out of range.
    m = Regs(0)
    m.w(R_STATUS, 15)                       # DRIVER_OK before anything
    m.r(R_STATUS)
    m.w(R_QSEL, 5)
    m.r(R_QNUM_MAX)
    m.r(R_QREADY)
    m.w(R_QREADY, 1)
    m.w(R_DEV_FEAT_SEL, 7)
    m.r(R_DEV_FEAT)
    m.w(R_STATUS, 0)
    m.w(R_STATUS, 3, size=2)                # wrong size
    m.r(R_STATUS, 1)
    m.r(R_STATUS, 8)
    m.w(R_DRV_FEAT_SEL, 0)
    m.w(R_DRV_FEAT, 0xFFFFFFFF)             # more than offered: FEATURES_OK refused
    m.w(R_STATUS, 11)
    m.r(R_STATUS)
    m.w(R_STATUS, 1)                        # clearing bits: ignored
    m.r(R_STATUS)
    m.w(R_SHM_SEL, 0)
    for off in range(R_SHM_LEN, R_SHM_LEN + 16, 4):
        m.r(off)
    m.r(R_GEN)
    m.r(0x0C0)
    m.r(0x0FC)
    m.r(0x0FE, 2)
    m.r(0xFF8, 8)
    yield "garbage", m.encode()

    # A queue outside RAM, one misaligned, one of size 12: DEVICE_NEEDS_RESET.
    m = Regs(2)
    m.start(queues=())
    m.w(R_QSEL, 0)
    m.w(R_QNUM, 16)
    m.w(R_QDESC, 0x10000000)
    m.w(R_QREADY, 1)
    m.r(R_QREADY)
    m.r(R_STATUS)
    m.r(R_INT_STATUS)
    m.w(R_QSEL, 1)
    m.w(R_QNUM, 12)
    m.w(R_QREADY, 1)
    m.r(R_QREADY)
    m.w(R_STATUS, 0)
    m.r(R_INT_STATUS)
    yield "bad-queues", m.encode()


class PciRegs:
    """A configuration and BAR access script for fuzz_pci, with the RAM image after it."""

    ECAM, WINDOW = 0, 2  # access kinds (bit 1)
    BAR = 0x40000000     # where the scripts place device 0's BAR 0 (the window's base)

    def __init__(self, with_blk=False):
        self.flags = 1 if with_blk else 0
        self.acc = []
        self.ram = Device()

    def access(self, kind, write, off, size=4, val=0):
        self.acc.append(struct.pack("<BBHI", kind | write, size.bit_length() - 1, off,
                                    val & 0xFFFFFFFF))

    def cfg_r(self, dev, reg, size=4):
        self.access(self.ECAM, 0, (dev << 15) + reg, size)

    def cfg_w(self, dev, reg, val, size=4):
        self.access(self.ECAM, 1, (dev << 15) + reg, size, val)

    def bar_r(self, off, size=4):
        self.access(self.WINDOW, 0, off, size)

    def bar_w(self, off, val, size=4):
        self.access(self.WINDOW, 1, off, size, val)

    def enumerate(self, dev, bar_off):
        """What an OS's PCI core does: IDs, header, BAR sizing and placement, capabilities,
        then memory decoding on."""
        for reg in range(0, 0x40, 4):
            self.cfg_r(dev, reg)
        self.cfg_w(dev, 0x10, 0xFFFFFFFF)
        self.cfg_r(dev, 0x10)
        self.cfg_w(dev, 0x10, self.BAR + bar_off)
        self.cfg_w(dev, 0x14, 0xFFFFFFFF)
        self.cfg_r(dev, 0x14)
        for reg in range(0x40, 0x98, 4):
            self.cfg_r(dev, reg)
        self.cfg_w(dev, 0x04, 0x6, size=2)

    def start(self, bar_off, queue=0, isr=True):
        """virtio_pci_modern's probe: status, features, one queue, DRIVER_OK, a notify; then
        the interrupt acknowledged (ISR status read) if isr."""
        c = bar_off
        self.bar_w(c + 0x14, 0, 1)
        self.bar_w(c + 0x14, 1, 1)
        self.bar_w(c + 0x14, 3, 1)
        for sel in (0, 1):
            self.bar_w(c + 0x00, sel)
            self.bar_r(c + 0x04)
        self.bar_w(c + 0x08, 1)
        self.bar_w(c + 0x0C, 1)
        self.bar_w(c + 0x08, 0)
        self.bar_w(c + 0x0C, 0)
        self.bar_w(c + 0x14, 11, 1)
        self.bar_r(c + 0x14, 1)
        desc, avail, used = Device.LAYOUT[queue]
        self.bar_w(c + 0x16, queue, 2)
        self.bar_r(c + 0x18, 2)
        self.bar_w(c + 0x18, 16, 2)
        self.bar_w(c + 0x20, gpa(desc))
        self.bar_w(c + 0x24, 0)
        self.bar_w(c + 0x28, gpa(avail))
        self.bar_w(c + 0x2C, 0)
        self.bar_w(c + 0x30, gpa(used))
        self.bar_w(c + 0x34, 0)
        self.bar_w(c + 0x1C, 1, 2)
        self.bar_w(c + 0x14, 15, 1)
        self.bar_r(c + 0x1E, 2)
        self.bar_w(c + 0x3000, queue, 2)
        if isr:
            self.bar_r(c + 0x1000, 1)

    def encode(self):
        return struct.pack("<BBH", self.flags, 0, len(self.acc)) + b"".join(self.acc) + \
            bytes(self.ram.ram)


def pci_seeds():
    # The entropy device enumerated, started, a request served, INTx acknowledged.
    m = PciRegs()
    m.ram.chain(0, [(m.ram.alloc(64), 64, True)])
    m.enumerate(0, 0)
    m.start(0)
    m.cfg_r(0, 0x04)
    yield "rng", m.encode()

    # The same with Interrupt Disable set while the request completes, then cleared.
    m = PciRegs()
    m.ram.chain(0, [(m.ram.alloc(64), 64, True)])
    m.enumerate(0, 0)
    m.cfg_w(0, 0x04, 0x406, size=2)
    m.start(0, isr=False)
    m.cfg_r(0, 0x04)
    m.cfg_w(0, 0x04, 0x006, size=2)
    m.bar_r(0x1000, 1)
    yield "intx-disable", m.encode()

    # Both devices; a read and a write on the disk.
    m = PciRegs(with_blk=True)
    blk_req(m.ram, T_IN, 1, data_in=512)
    blk_req(m.ram, T_OUT, 2, out=pattern(512, 1))
    m.enumerate(0, 0)
    m.enumerate(1, 0x4000)
    m.start(0x4000)
    for off in range(0x2000, 0x2020, 4):
        m.bar_r(0x4000 + off)
    m.bar_w(0x4014, 0, 1)
    yield "blk", m.encode()

    # The configuration access window: num_queues and a status write through it.
    m = PciRegs()
    m.enumerate(0, 0)
    m.cfg_w(0, 0x88, 0x12)
    m.cfg_w(0, 0x8C, 2)
    m.cfg_r(0, 0x90)
    m.cfg_w(0, 0x88, 0x14)
    m.cfg_w(0, 0x8C, 1)
    m.cfg_w(0, 0x90, 1)
    m.bar_r(0x14, 1)
    yield "cfg-window", m.encode()


def api_req(method, path, body=b""):
    if isinstance(body, str):
        body = body.encode()
    return (struct.pack("<BB", {"GET": 0, "PUT": 1, "PATCH": 2, "DELETE": 3}[method], len(path))
            + path.encode() + struct.pack("<H", len(body)) + body)


def api_seeds():
    boot = '{"kernel_image_path": "/nonexistent/Image", "initrd_path": "/nonexistent/initrd",' \
           ' "boot_args": "console=ttyS0"}'
    yield "configure", b"".join([
        api_req("PUT", "/machine-config", '{"vcpu_count": 2, "mem_size_mib": 256, "smt": false}'),
        api_req("PUT", "/boot-source", boot),
        api_req("PUT", "/drives/rootfs", '{"drive_id": "rootfs", "path_on_host": "/dev/null",'
                ' "is_root_device": true, "is_read_only": true, "rate_limiter":'
                ' {"bandwidth": {"size": 1048576, "refill_time": 1000, "one_time_burst": 10},'
                ' "ops": {"size": 100, "refill_time": 1000}}}'),
        api_req("PUT", "/network-interfaces/eth0", '{"iface_id": "eth0", "guest_mac":'
                ' "52:54:00:12:34:56", "rvisor_user_networking": {"hostfwd":'
                ' "tcp:127.0.0.1:2222-:22"}, "rx_rate_limiter": {"bandwidth": {"size": 1000,'
                ' "refill_time": 100}}}'),
        api_req("PUT", "/vsock", '{"guest_cid": 3, "uds_path": "/nonexistent/v.sock"}'),
        api_req("PUT", "/balloon", '{"amount_mib": 64, "deflate_on_oom": true,'
                ' "stats_polling_interval_s": 1}'),
        api_req("GET", "/vm/config"),
        api_req("GET", "/machine-config"),
        api_req("GET", "/balloon"),
        api_req("PUT", "/actions", '{"action_type": "InstanceStart"}'),
    ])
    yield "tap-and-patch", b"".join([
        api_req("PUT", "/network-interfaces/tap0", '{"iface_id": "tap0", "host_dev_name":'
                ' "tap0"}'),
        api_req("PATCH", "/machine-config", '{"vcpu_count": 4}'),
        api_req("PATCH", "/drives/rootfs", '{"drive_id": "rootfs", "path_on_host": "/x"}'),
        api_req("PATCH", "/vm", '{"state": "Paused"}'),
        api_req("PATCH", "/balloon/statistics", '{"stats_polling_interval_s": 5}'),
        api_req("GET", "/balloon/statistics"),
        api_req("PUT", "/actions", '{"action_type": "FlushMetrics"}'),
        api_req("PUT", "/actions", '{"action_type": "SendCtrlAltDel"}'),
    ])
    yield "bad", b"".join([
        api_req("PUT", "/machine-config", '{"vcpu_count": 0, "mem_size_mib": 1}'),
        api_req("PUT", "/drives/a", '{"drive_id": "b", "path_on_host": "/dev/null",'
                ' "is_root_device": false}'),
        api_req("PUT", "/drives/a", '{"drive_id": "a", "is_root_device": 1}'),
        api_req("PUT", "/boot-source", '{"kernel_image_path": "x", "x": 1}'),
        api_req("PUT", "/boot-source", '{"kernel_image_path": "x", "kernel_image_path": "y"}'),
        api_req("PUT", "/actions", '[1, 2'),
        api_req("PUT", "/snapshot/create", '{"snapshot_path": "s", "mem_file_path": "m"}'),
        api_req("PUT", "/mmds", '{}'),
        api_req("DELETE", "/"),
        api_req("GET", "/drives/\xff"),
    ])


# ---- fuzz_state: snapshot state streams (layout at the top of fuzz_state.c) ----
# Every section as its save function writes it (src/state/stream.h): u8 name length, the
# name, u32 layout version, u64 payload length, the payload; every field little-endian.

ALL64 = (1 << 64) - 1
SEL_CHAIN, SEL_HART0, SEL_HART1, SEL_ACLINT, SEL_PLIC, SEL_UART, SEL_RTC, SEL_PCI_HOST, \
    SEL_DEV0 = range(9)
DEV_BLK, DEV_NET, DEV_CONSOLE, DEV_INPUT, DEV_BALLOON, DEV_RNG = range(6)
NDEV = 6
OPT_RNG_PRNG, OPT_BLK_RO, OPT_BALLOON_OOM = 1, 2, 4


def section(name, payload, version=1):
    name = name.encode()
    return struct.pack("<B", len(name)) + name + struct.pack("<IQ", version, len(payload)) + \
        payload


def state_input(sel, stream, ram=b"", pci=0, options=0):
    return struct.pack("<BBBBH", sel, pci, options, 0, len(stream)) + stream + bytes(ram)


# Harts (src/cpu/hart_state.c). Programs (riscv64-linux-gnu-as -march=rv64gc, .option norvc)
# and the data they use two pages on (auipc t0, 0x2).
M_PROG = [
    0x00002297,  # auipc t0,0x2
    0x0002b503,  # ld a0,0(t0)
    0x00750513,  # addi a0,a0,7
    0x00a2b423,  # sd a0,8(t0)
    0x1002b5af,  # lr.d a1,(t0)
    0x0102b007,  # fld ft0,16(t0)
    0x020070d3,  # fadd.d ft1,ft0,ft0
    0x34002673,  # csrr a2,mscratch
    0x00160613,  # addi a2,a2,1
    0x34061073,  # csrw mscratch,a2
    0x18a2b6af,  # sc.d a3,a0,(t0)
    0x10000337,  # lui t1,0x10000: the UART
    0x04100393,  # li t2,65
    0x00730023,  # sb t2,0(t1)
    0x00534383,  # lbu t2,5(t1)
    0x0200c337,  # lui t1,0x200c: the ACLINT
    0xff833383,  # ld t2,-8(t1): mtime
    0x0c200337,  # lui t1,0xc200: PLIC context 0
    0x00432383,  # lw t2,4(t1): claim
    0x00732223,  # sw t2,4(t1): complete
    0x10001337,  # lui t1,0x10001: virtio-mmio slot 0
    0x00000393,  # li t2,0
    0x04732823,  # sw t2,80(t1): QueueNotify
    0x34402773,  # csrr a4,mip
    0x10500073,  # wfi
    0x00000073,  # ecall
    0x0000006f,  # 1: j 1b
]
S_PROG = [
    0x00002297,  # auipc t0,0x2
    0x0002b503,  # ld a0,0(t0)
    0x00750513,  # addi a0,a0,7
    0x00a2b423,  # sd a0,8(t0)
    0x1002a5af,  # lr.w a1,(t0)
    0x0102b007,  # fld ft0,16(t0)
    0x1a107153,  # fdiv.d ft2,ft0,ft1
    0x001027f3,  # frflags a5
    0x14002673,  # csrr a2,sscratch
    0x00160613,  # addi a2,a2,1
    0x14061073,  # csrw sscratch,a2
    0x18a2a6af,  # sc.w a3,a0,(t0)
    0x00a2b82f,  # amoadd.d a6,a0,(t0)
    0xc02028f3,  # rdinstret a7
    0xc01024f3,  # rdtime s1
    0x12000073,  # sfence.vma
    0x0000100f,  # fence.i
    0x00000073,  # ecall
    0x0000006f,  # 1: j 1b
]
U_PROG = [
    0x00002297,  # auipc t0,0x2
    0x0002b503,  # ld a0,0(t0)
    0x00a2bc23,  # sd a0,24(t0)
    0xc00025f3,  # rdcycle a1
    0x00000073,  # ecall
    0x00100073,  # ebreak
    0x0000006f,  # 1: j 1b
]
M_TRAP = [0x34102e73, 0x004e0e13, 0x341e1073, 0x30200073]  # mepc += 4; mret
S_TRAP = [0x14102e73, 0x004e0e13, 0x141e1073, 0x10200073]  # sepc += 4; sret

# Where they go in RAM (offsets), and the page tables: VA 0x40000000 is a 1 GiB page on RAM.
M_CODE, S_CODE, U_CODE, M_HANDLER, S_HANDLER = 0x0000, 0x0200, 0x0400, 0x0600, 0x0610
SV39_S, SV39_U, SV48, SV57 = 0x1000, 0x3000, 0x4000, 0x5000
VA_RAM = 0x40000000
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_A, PTE_D = 1, 2, 4, 8, 16, 64, 128

MISA = (2 << 62) | sum(1 << (ord(c) - ord("A")) for c in "ACDFIMSU")
MSTATUS_RESET = (2 << 32) | (2 << 34)  # UXL = SXL = 64
MSTATUS_SIE, MSTATUS_MIE, MSTATUS_SPIE, MSTATUS_MPIE, MSTATUS_SPP = 2, 8, 32, 128, 256
MSTATUS_FS_INITIAL, MSTATUS_FS_DIRTY, MSTATUS_SUM = 1 << 13, 3 << 13, 1 << 18
MPP_S, MPP_M = 1 << 11, 3 << 11
MIP_SSIP, MIP_MSIP, MIP_STIP, MIP_MTIP, MIP_SEIP, MIP_MEIP = 2, 8, 32, 128, 512, 2048
MENVCFG_STCE = 1 << 63
SATP_SV39, SATP_SV48, SATP_SV57 = 8 << 60, 9 << 60, 10 << 60
CSR_ORDER = ["mstatus", "mie", "mideleg", "medeleg", "mtvec", "mscratch", "mepc", "mcause",
             "mtval", "stvec", "sscratch", "sepc", "scause", "stval", "satp", "mcounteren",
             "scounteren", "mcountinhibit", "menvcfg", "senvcfg", "stimecmp", "mtval2",
             "mtinst", "tselect"]
TICKS = 1000000  # the harness's timebase at the start of an input


def f64(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def hart_section(hartid, pc=RAM_BASE, x=None, f=None, fflags=0, frm=0, priv=3, mip=0,
                 mtimecmp=ALL64, pmpcfg=None, pmpaddr=None, instret=0, reservation=ALL64,
                 reservation_val=0, stopped=0, wfi=0, m_trap_fatal=0, tohost=0, **csrs):
    """hart_state_save's fields; csrs by name (those not given as after hart_reset)."""
    csr = {"mstatus": MSTATUS_RESET, "stimecmp": ALL64}
    csr.update(csrs)
    x = (x or {})
    f = (f or {})
    p = struct.pack("<QQQ", hartid, MISA, pc)
    p += b"".join(struct.pack("<Q", x.get(i, 0)) for i in range(32))
    p += b"".join(struct.pack("<Q", f.get(i, 0)) for i in range(32))
    p += struct.pack("<BBBQ", fflags, frm, priv, mip)
    p += b"".join(struct.pack("<Q", csr.get(name, 0)) for name in CSR_ORDER)
    p += struct.pack("<Q", mtimecmp)
    p += b"".join(struct.pack("<Q", v) for v in (pmpcfg or [0] * 16))
    p += b"".join(struct.pack("<Q", v) for v in (pmpaddr or [0] * 64))
    p += struct.pack("<QQQBBBQ", instret, reservation, reservation_val, stopped, wfi,
                     m_trap_fatal, tohost)
    return section("hart", p)


def hart_m(hartid=0):
    """M-mode running M_PROG: FP on, interrupts enabled (its timer due a few batches in), a
    handler, LR/SC, PMP entries."""
    pmpcfg = [0] * 16
    pmpcfg[0] = 0x1f | (0x0f << 8)  # entry 0: RWX, NAPOT; entry 1: RWX, TOR
    pmpaddr = [0] * 64
    pmpaddr[0] = (RAM_BASE >> 2) | 0x1ffff  # 1 MiB NAPOT at RAM
    pmpaddr[1] = (RAM_BASE + 0x200000) >> 2
    return hart_section(hartid, pc=RAM_BASE + M_CODE, x={2: RAM_BASE + 0x8000, 10: 3},
                        f={1: f64(2.5)}, fflags=0x10, frm=1,
                        mstatus=MSTATUS_RESET | MSTATUS_FS_INITIAL | MSTATUS_MIE | MPP_M,
                        mie=MIP_MTIP, mtvec=RAM_BASE + M_HANDLER,
                        mscratch=5, mcounteren=7, mtimecmp=TICKS + 500, pmpcfg=pmpcfg,
                        pmpaddr=pmpaddr, instret=77, reservation=RAM_BASE + 0x2008,
                        reservation_val=9)


def hart_s(hartid=1, satp=SATP_SV39 | ((RAM_BASE + SV39_S) >> 12), **kw):
    """S-mode through a page table, with delegated traps and interrupts, Sstc (its timer
    due a few batches in), LR/SC."""
    args = dict(pc=VA_RAM + S_CODE, x={2: VA_RAM + 0x9000}, f={0: f64(1.5), 1: f64(3.0)},
                fflags=1, priv=1,
                mstatus=MSTATUS_RESET | MSTATUS_FS_DIRTY | MSTATUS_SUM | MSTATUS_SIE | MPP_S,
                mie=MIP_SSIP | MIP_STIP | MIP_MTIP, mideleg=MIP_SSIP | MIP_STIP |
                MIP_SEIP, medeleg=(1 << 2) | (1 << 3) | (1 << 8) | (1 << 12) | (1 << 13) |
                (1 << 15), mtvec=RAM_BASE + M_HANDLER, stvec=VA_RAM + S_HANDLER,
                sscratch=41, sepc=VA_RAM + S_CODE, scause=9, satp=satp, mcounteren=7,
                scounteren=7, menvcfg=MENVCFG_STCE, stimecmp=TICKS + 300, instret=12345,
                reservation=RAM_BASE + 0x2200, reservation_val=0x1234)
    args.update(kw)
    return hart_section(hartid, **args)


def hart_u(hartid=1):
    """U-mode on a user page, waiting in WFI with a timer interrupt due."""
    return hart_section(hartid, pc=VA_RAM + U_CODE, priv=0, wfi=1, mip=MIP_STIP,
                        mstatus=MSTATUS_RESET | MSTATUS_SPIE | MSTATUS_SIE,
                        mie=MIP_STIP | MIP_SSIP, mideleg=MIP_SSIP | MIP_STIP | MIP_SEIP,
                        medeleg=(1 << 8) | (1 << 3) | (1 << 13) | (1 << 15),
                        stvec=VA_RAM + S_HANDLER | 1, mtvec=RAM_BASE + M_HANDLER,
                        satp=SATP_SV39 | (5 << 44) | ((RAM_BASE + SV39_U) >> 12),
                        mcounteren=1, scounteren=1, stimecmp=TICKS)


def hart_ram():
    """The programs, trap handlers, page tables and data of the hart seeds."""
    ram = bytearray(0x6000)

    def words(off, ws):
        ram[off:off + 4 * len(ws)] = b"".join(struct.pack("<I", w) for w in ws)
    words(M_CODE, M_PROG)
    words(S_CODE, S_PROG)
    words(U_CODE, U_PROG)
    words(M_HANDLER, M_TRAP)
    words(S_HANDLER, S_TRAP)
    leaf = ((RAM_BASE >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
    struct.pack_into("<Q", ram, SV39_S + 8, leaf)             # VA 1 GiB-2 GiB on RAM
    struct.pack_into("<Q", ram, SV39_U + 8, leaf | PTE_U)
    struct.pack_into("<Q", ram, SV48, (((RAM_BASE + SV39_S) >> 12) << 10) | PTE_V)
    struct.pack_into("<Q", ram, SV57, (((RAM_BASE + SV48) >> 12) << 10) | PTE_V)
    for data in (0x2000, 0x2200, 0x2400):
        struct.pack_into("<QQd", ram, data, 0x1234, 0, 1.5)
    return ram


# The platform devices (src/dev/).
PLIC_SOURCES, PLIC_CONTEXTS = 96, 4
F_FROZEN = 1767225600 * 10**9  # the RTC's frozen clock, as in fuzz_state.c


def aclint_section(msip=(0, 0), mtimecmp=(ALL64, ALL64)):
    return section("aclint", struct.pack("<I", len(msip)) + b"".join(
        struct.pack("<IQ", s, c) for s, c in zip(msip, mtimecmp)))


def plic_section(priority=None, pending=(), claimed=(), level=(), enable=None,
                 threshold=None):
    def words(srcs):
        w = [0, 0, 0]
        for s in srcs:
            w[s // 32] |= 1 << (s % 32)
        return struct.pack("<3I", *w)
    priority = priority or {}
    enable = enable or {}
    threshold = threshold or {}
    p = struct.pack("<II", PLIC_SOURCES, PLIC_CONTEXTS)
    p += b"".join(struct.pack("<I", priority.get(s, 0)) for s in range(PLIC_SOURCES))
    p += words(pending) + words(claimed) + words(level)
    for c in range(PLIC_CONTEXTS):
        p += words(enable.get(c, ())) + struct.pack("<I", threshold.get(c, 0))
    return section("plic", p)


def uart_section(ier=0, lcr=0, mcr=0, msr_delta=0, scr=0, fcr=0, dll=0, dlm=0, fifo=b"",
                 rx_head=0, thr=0, overrun=False):
    """The registers the device derives (LSR, IIR, MSR's modem inputs) as it derives them."""
    assert len(fifo) <= (16 if fcr & 1 else 1)
    lsr = (2 if overrun else 0) | 0x60 | (1 if fifo else 0)
    if mcr & 0x10:  # loopback: the modem control outputs
        modem = (0x10 if mcr & 2 else 0) | (0x20 if mcr & 1 else 0) | \
            (0x40 if mcr & 4 else 0) | (0x80 if mcr & 8 else 0)
    else:
        modem = 0xb0
    msr = modem | msr_delta
    iir = 1
    if ier & 4 and lsr & 0x1e:
        iir = 6
    elif ier & 1 and fifo:
        iir = 4
    elif ier & 2 and thr:
        iir = 2
    elif ier & 8 and msr & 0x0f:
        iir = 0
    iir |= 0xc0 if fcr & 1 else 0
    ring = bytearray(16)
    for i, c in enumerate(fifo):
        ring[(rx_head + i) % 16] = c
    return section("uart", struct.pack("<13B", ier, iir, lcr, mcr, lsr, msr, scr, fcr, dll, dlm,
                                       rx_head, len(fifo), thr) + bytes(ring))


def rtc_section(offset=0, alarm=0, time_high=0, set_high=0, set_high_valid=0, armed=0,
                pending=0, enabled=0):
    return section("rtc", struct.pack("<QQII4B", offset, alarm, time_high, set_high,
                                      set_high_valid, armed, pending, enabled))


# Virtio (src/virtio/state.c): device ids, queues, configuration sizes and feature offers.
DEVICE_ID = [2, 1, 3, 18, 5, 4]
NUM_QUEUES = [1, 2, 2, 2, 4, 1]
CONFIG_SIZE = [72, 12, 12, 136, 8, 0]
F_INDIRECT, F_EVENT_IDX, F_V1 = 1 << 28, 1 << 29, 1 << 32
TRANSPORT_FEATURES = F_INDIRECT | F_EVENT_IDX | F_V1
NET_MAC = bytes([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
DISK_BYTES = 16 * 1024  # the harness's disk


def offered(k, options):
    own = {DEV_BLK: (1 << 2) | (1 << 6) | (1 << 9) | (
        (1 << 5) if options & OPT_BLK_RO else (1 << 13) | (1 << 14)),
        DEV_NET: 1 | 2 | 8 | 32 | (1 << 15) | (1 << 16), DEV_CONSOLE: 4, DEV_INPUT: 0,
        DEV_BALLOON: 2 | 32 | (4 if options & OPT_BALLOON_OOM else 0), DEV_RNG: 0}[k]
    return own | TRANSPORT_FEATURES


def pci_config(k, num, command=0x6, bar=None, window=None):
    """The configuration space virtio_pci_init and pci_host_add give device k (PCI device
    number num), with the bits a guest writes: command, BAR 0 (64-bit), cache line, latency
    timer, interrupt line, and the configuration access window (bar, offset, length, data)."""
    c = bytearray(256)
    did = DEVICE_ID[k]
    cls = {1: 0x020000, 2: 0x018000, 3: 0x078000}.get(did, 0xff0000)
    struct.pack_into("<HHHH", c, 0, 0x1af4, 0x1040 + did, command, 0x10)  # status: caps
    c[8], c[9] = 1, cls & 0xff
    struct.pack_into("<H", c, 0x0a, cls >> 8)
    c[0x0c], c[0x0d] = 16, 0x40
    bar = 0x40000000 + 0x4000 * num if bar is None else bar
    struct.pack_into("<II", c, 0x10, (bar & 0xffffc000) | 0x0c, bar >> 32)
    struct.pack_into("<HH", c, 0x2c, 0x1af4, 0x40 + did)
    c[0x34] = 0x40
    c[0x3c], c[0x3d] = 32 + num, 1
    caps = [(16, 1, 0x0000, 0x3c), (20, 2, 0x3000, 4 * NUM_QUEUES[k]), (16, 3, 0x1000, 1)]
    if CONFIG_SIZE[k]:
        caps.append((16, 4, 0x2000, CONFIG_SIZE[k]))
    caps.append((20, 5, 0, 0))
    at = 0x40
    for i, (length, ctype, offset, size) in enumerate(caps):
        nxt = at + ((length + 3) & ~3) if i + 1 < len(caps) else 0
        struct.pack_into("<BBBBBxxxII", c, at, 9, nxt, length, ctype, 0, offset, size)
        if ctype == 2:
            struct.pack_into("<I", c, at + 16, 4)  # notify_off_multiplier
        if ctype == 5 and window:
            struct.pack_into("<BxxxIII", c, at + 4, *window)
        at = nxt
    return section("virtio-pci", bytes(c))


class StateRam:
    """Guest RAM for the virtio sections: split virtqueues and their buffers (offsets)."""

    def __init__(self, image=None, heap=0x0):
        self.ram = bytearray(image or b"")
        self.heap = heap

    def put(self, off, data):
        if off + len(data) > len(self.ram):
            self.ram.extend(bytes(off + len(data) - len(self.ram)))
        self.ram[off:off + len(data)] = data

    def alloc(self, data, align=16):
        if isinstance(data, int):
            data = bytes(data)
        off = (self.heap + align - 1) // align * align
        self.heap = off + max(len(data), 1)
        self.put(off, data)
        return off

    def queue(self, num=8, features=TRANSPORT_FEATURES):
        q = {"num": num, "desc": self.alloc(16 * num, 16), "avail": self.alloc(6 + 2 * num, 2),
             "used": self.alloc(6 + 8 * num, 4), "next": 0, "avail_idx": 0,
             "event_idx": bool(features & F_EVENT_IDX),
             "indirect": bool(features & F_INDIRECT), "last_avail": 0, "used_idx": 0}
        return q

    def chain(self, q, segs):
        """Make a chain of (data or length, writable) buffers available; returns its head."""
        head = q["next"]
        for i, (data, writable) in enumerate(segs):
            buf = self.alloc(data)
            length = data if isinstance(data, int) else len(data)
            idx = (head + i) % q["num"]
            flags = (NEXT if i + 1 < len(segs) else 0) | (WRITE if writable else 0)
            self.put(q["desc"] + 16 * idx, struct.pack("<QIHH", gpa(buf), length, flags,
                                                       (idx + 1) % q["num"]))
        q["next"] = (head + len(segs)) % q["num"]
        self.put(q["avail"] + 4 + 2 * (q["avail_idx"] % q["num"]), struct.pack("<H", head))
        q["avail_idx"] += 1
        self.put(q["avail"] + 2, struct.pack("<H", q["avail_idx"] & 0xFFFF))
        return head


def transport_section(k, status=0, isr=0, generation=0, qsel=0, features=0, queues=None):
    """Section "virtio": queues as StateRam.queue gives them (ready), or None for one the
    driver never set up (as virtio_transport_init leaves it: size 1024)."""
    queues = queues or [None] * NUM_QUEUES[k]
    p = struct.pack("<8IQ", DEVICE_ID[k], NUM_QUEUES[k], status, isr, generation,
                    1 if features else 0, 1 if features else 0, qsel, features)
    for q in queues:
        if q is None:
            p += struct.pack("<H???QQQHHH?", 1024, False, False, False, 0, 0, 0, 0, 0, 0, False)
        else:
            p += struct.pack("<H???QQQHHH?", q["num"], True, q["event_idx"], q["indirect"],
                             gpa(q["desc"]), gpa(q["avail"]), gpa(q["used"]), q["last_avail"],
                             q["used_idx"], q["used_idx"], q["used_idx"] > 0)
    return section("virtio", p)


def device_section(k, options=0, **kw):
    if k == DEV_BLK:
        return section("virtio-blk", struct.pack("<Q?", DISK_BYTES // 512,
                                                 bool(options & OPT_BLK_RO)) +
                       b"fuzz-disk".ljust(20, b"\0"))
    if k == DEV_NET:
        heads = kw.get("heads", [])
        return section("virtio-net", kw.get("mac", NET_MAC) + struct.pack(
            "<HH", 1500, len(heads)) + b"".join(struct.pack("<H", h) for h in heads))
    if k == DEV_CONSOLE:
        return section("virtio-console", struct.pack("<?H", "head" in kw, kw.get("head", 0)))
    if k == DEV_INPUT:
        ev = kw.get("events", [])
        return section("virtio-input", struct.pack("<BBI", kw.get("select", 0),
                                                   kw.get("subsel", 0), len(ev)) +
                       b"".join(struct.pack("<HHI", *e) for e in ev))
    if k == DEV_BALLOON:
        stats = kw.get("stats", {})
        p = struct.pack("<IIQQQ", kw.get("target", 0), kw.get("actual", 0),
                        kw.get("inflated", 0), kw.get("reported", 0), kw.get("updates", 0))
        p += b"".join(struct.pack("<?Q", t in stats, stats.get(t, 0)) for t in range(16))
        return section("virtio-balloon", p + struct.pack("<?H", "head" in kw, kw.get("head", 0)))
    return section("virtio-rng", struct.pack("<Q", 0x9e3779b97f4a7c15 if options & OPT_RNG_PRNG
                                             else 0))


CHORD = [(1, 29, 1), (1, 56, 1), (1, 111, 1), (0, 0, 0), (1, 111, 0), (1, 56, 0), (1, 29, 0),
         (0, 0, 0)]


def busy_device(k, ram, options=0):
    """Device k with a driver running: features negotiated, queues set up in ram, requests
    waiting in them and those the device holds. Returns its transport's and its own sections'
    arguments."""
    feats = offered(k, options)
    qs = [ram.queue(8, feats) for _ in range(NUM_QUEUES[k])]
    dev = {}
    isr = 1
    if k == DEV_BLK:
        for rtype, sector, out, din in ((0, 1, b"", 512), (1, 2, pattern(512, 5), 0),
                                        (8, 0, b"", 20)):
            segs = [(struct.pack("<IIQ", rtype, 0, sector), False)]
            if out:
                segs.append((out, False))
            if din:
                segs.append((din, True))
            ram.chain(qs[0], segs + [(1, True)])
    elif k == DEV_NET:
        heads = [ram.chain(qs[0], [(12 + 1514, True)]) for _ in range(3)]
        qs[0]["last_avail"] = 2  # two popped and held, one still in the ring
        dev["heads"] = heads[:2]
        frame = bytes(12) + b"\xff" * 6 + NET_MAC + b"\x08\x06" + bytes(46)
        ram.chain(qs[1], [(frame, False)])
    elif k == DEV_CONSOLE:
        dev["head"] = ram.chain(qs[0], [(64, True)])
        ram.chain(qs[0], [(8, True), (8, True)])
        qs[0]["last_avail"] = 1
        ram.chain(qs[1], [(b"hello from the guest\n", False)])
    elif k == DEV_INPUT:
        for _ in range(4):
            ram.chain(qs[0], [(8, True)])
        dev.update(select=0x11, subsel=1, events=CHORD)
    elif k == DEV_BALLOON:
        victim = (RAM_BASE + 0x80000) // 4096
        ram.chain(qs[0], [(struct.pack("<II", victim, victim + 1), False)])
        dev["head"] = ram.chain(qs[2], [(struct.pack("<HQ", 4, 12345), False)])
        qs[2]["last_avail"] = 1
        dev.update(target=64, actual=16, inflated=16, reported=2, updates=3,
                   stats={4: 12345, 5: 99999})
        isr = 3
    else:
        for n in (16, 64, 1):
            ram.chain(qs[0], [(n, True)])
    tr = dict(status=15, isr=isr, generation=2, features=feats, queues=qs)
    return tr, dev


def port_sections(k, num, on_pci, tr, window=None):
    s = pci_config(k, num, window=window) if on_pci else b""
    return s + transport_section(k, **tr)


def pci_host_section(pci):
    ids = [0x1af4 | (0x1040 + DEVICE_ID[k]) << 16 for k in range(NDEV) if pci & (1 << k)]
    return section("pci-host", struct.pack("<I", len(ids)) + b"".join(
        struct.pack("<I", i) for i in ids))


def busy_plic():
    """Sources pending, one claimed, contexts enabled with thresholds that mask some."""
    return plic_section(priority={1: 1, 2: 2, 10: 7, 11: 3, 32: 5, 33: 4, 34: 1},
                        pending=(10, 33), claimed=(1,), level=(1, 10, 33),
                        enable={0: (1, 10, 11), 1: (32, 33, 34), 2: (2, 10), 3: (33,)},
                        threshold={0: 0, 1: 2, 2: 7, 3: 0})


def busy_uart():
    """FIFOs on, every interrupt enabled, input waiting across the FIFO's end."""
    return uart_section(ier=0x0f, lcr=0x03, mcr=0x0b, msr_delta=0x01, scr=0x5a, fcr=0xc1,
                        dll=1, fifo=b"boot: ok\n", rx_head=12, thr=1)


def busy_rtc():
    """An alarm an hour ahead, armed, its interrupt enabled; a time high half staged."""
    return rtc_section(offset=0x1000, alarm=F_FROZEN + 3600 * 10**9, time_high=F_FROZEN >> 32,
                       set_high=0x12345678, set_high_valid=1, armed=1, enabled=1)


def busy_platform():
    return aclint_section((0, 1), (TICKS + 500, ALL64)) + busy_plic() + busy_uart() + busy_rtc()


def pristine_platform():
    return (aclint_section() + plic_section() +
            uart_section() + rtc_section())


def chain(pci=0, options=0, busy=True):
    """The whole VM: harts, platform, PCI bridge, every device's transport and section."""
    ram = StateRam(hart_ram() if busy else b"", heap=0x6000)
    s = (hart_m(0) + hart_s(1)) if busy else (hart_section(0) + hart_section(1))
    s += busy_platform() if busy else pristine_platform()
    if pci:
        s += pci_host_section(pci)
    for k in range(NDEV):
        on_pci = bool(pci & (1 << k))
        num = bin(pci & ((1 << k) - 1)).count("1")  # its PCI device number
        tr, dev = busy_device(k, ram, options) if busy else ({}, {})
        s += port_sections(k, num, on_pci, tr) + device_section(k, options, **dev)
    return state_input(SEL_CHAIN, s, ram.ram, pci, options)


def one_device(k, on_pci, options=0, window=None):
    ram = StateRam()
    tr, dev = busy_device(k, ram, options)
    s = port_sections(k, 0, on_pci, tr, window) + device_section(k, options, **dev)
    return state_input(SEL_DEV0 + k, s, ram.ram, (1 << k) if on_pci else 0, options)


def state_seeds():
    yield "chain-pristine", chain(busy=False)
    yield "chain-mmio", chain(options=OPT_RNG_PRNG)
    yield "chain-pci", chain(pci=0x3f, options=OPT_BALLOON_OOM)
    yield "chain-mixed", chain(pci=0x12, options=OPT_BLK_RO | OPT_RNG_PRNG)

    ram = hart_ram()
    yield "hart-m", state_input(SEL_HART0, hart_m(0), ram)
    yield "hart-s-sv39", state_input(SEL_HART1, hart_s(1), ram)
    yield "hart-s-sv48", state_input(SEL_HART1, hart_s(
        1, satp=SATP_SV48 | ((RAM_BASE + SV48) >> 12)), ram)
    yield "hart-s-sv57", state_input(SEL_HART0, hart_s(
        0, satp=SATP_SV57 | (0x7f << 44) | ((RAM_BASE + SV57) >> 12)), ram)
    yield "hart-u-wfi", state_input(SEL_HART1, hart_u(1), ram)
    yield "hart-stopped", state_input(SEL_HART1, hart_section(1, stopped=1, pc=RAM_BASE), ram)
    yield "hart-htif", state_input(SEL_HART0, hart_section(
        0, pc=RAM_BASE + M_CODE, m_trap_fatal=1, tohost=RAM_BASE + 0x2100,
        mstatus=MSTATUS_RESET | MPP_M), ram)

    yield "aclint", state_input(SEL_ACLINT, aclint_section((1, 1), (0, TICKS + 10)))
    yield "plic", state_input(SEL_PLIC, busy_plic())
    yield "plic-all", state_input(SEL_PLIC, plic_section(
        priority={s: 1 + s % 7 for s in range(1, PLIC_SOURCES)}, pending=range(1, 48),
        claimed=range(48, 96), level=range(1, 96),
        enable={c: range(1, 96) for c in range(PLIC_CONTEXTS)}, threshold={3: 7}))
    yield "uart", state_input(SEL_UART, busy_uart())
    yield "uart-loopback", state_input(SEL_UART, uart_section(
        ier=0x07, lcr=0x83, mcr=0x1f, msr_delta=0x0f, fcr=0x00, dll=3, dlm=1, fifo=b"z",
        rx_head=15, overrun=True))
    yield "uart-full", state_input(SEL_UART, uart_section(
        ier=0x05, fcr=0xc9, fifo=bytes(range(16)), rx_head=5, mcr=0x03))
    yield "rtc-armed", state_input(SEL_RTC, busy_rtc())
    yield "rtc-due", state_input(SEL_RTC, rtc_section(
        offset=(-5 * 10**9) & ALL64, alarm=F_FROZEN - 10 * 10**9, armed=1, enabled=1))
    yield "rtc-pending", state_input(SEL_RTC, rtc_section(
        set_high=7, set_high_valid=1, pending=1, enabled=1))
    yield "pci-host", state_input(SEL_PCI_HOST, pci_host_section(0x3f), pci=0x3f)
    yield "pci-host-two", state_input(SEL_PCI_HOST, pci_host_section(0x21), pci=0x21)

    for k in range(NDEV):
        name = ("blk", "net", "console", "input", "balloon", "rng")[k]
        yield "dev-" + name, one_device(k, False, OPT_BALLOON_OOM)
        yield "dev-" + name + "-pci", one_device(k, True, OPT_RNG_PRNG,
                                                 window=(0, 0x14, 1, 0))

    # Refused: a receive buffer held twice (it would be completed twice); a head given with
    # nothing held; a section whose name is a terminal escape (the error shows it escaped).
    ram = StateRam()
    tr, dev = busy_device(DEV_NET, ram)
    yield "net-held-twice", state_input(SEL_DEV0 + DEV_NET, transport_section(DEV_NET, **tr) +
                                        device_section(DEV_NET, heads=[dev["heads"][0]] * 2),
                                        ram.ram)
    for k, name in ((DEV_CONSOLE, "console"), (DEV_BALLOON, "balloon")):
        ram = StateRam()
        tr, dev = busy_device(k, ram)
        tr["queues"][2 if k == DEV_BALLOON else 0]["last_avail"] = 0
        sec = bytearray(device_section(k, **dev))
        sec[-3:] = struct.pack("<?H", False, 5)  # nothing held, yet a head
        yield name + "-head-not-held", state_input(SEL_DEV0 + k, transport_section(k, **tr) +
                                                   bytes(sec), ram.ram)
    yield "name-escape", state_input(SEL_UART, section("\x1b]0;x\x07\x1b[2J", bytes(29)))


def image_header(text_offset=0, image_size=0x1000):
    """A Linux RISC-V Image header (64 bytes) as the kernel's boot-image-header documents."""
    return struct.pack("<IIQQQIIQQQI", 0x0000006f, 0, text_offset, image_size, 0, 2, 0, 0,
                       0x5643534952, 0x05435352, 0)[:64].ljust(64, b"\0")


def elf64(entry=RAM_BASE, paddr=RAM_BASE, body=b"\x13\x00\x00\x00" * 4, machine=243):
    """A minimal ELF64 executable for EM_RISCV with one PT_LOAD."""
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, machine, 1,
                       entry, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 120, paddr, paddr, len(body), len(body), 0x1000)
    return ehdr + phdr + body


def loader_seeds():
    import gzip
    img = image_header() + bytes(0x1000 - 64)
    for which in (0, 1):
        yield f"image-{which}", bytes([which]) + img
        yield f"image-gz-{which}", bytes([which]) + gzip.compress(img, mtime=0)
        yield f"elf-{which}", bytes([which]) + elf64()
        yield f"raw-{which}", bytes([which]) + b"\x13\x00\x00\x00" * 8
    yield "image-too-big", b"\0" + image_header(image_size=64 << 20) + bytes(64)
    yield "elf-outside-ram", b"\0" + elf64(paddr=0x1000)
    yield "elf-other-machine", b"\0" + elf64(machine=62)
    yield "initrd", b"\x02" + bytes(range(256)) * 16
    yield "initrd-empty", b"\x02"


def migrate_seeds():
    import zlib
    hdr = b"RVISORMG" + struct.pack("<IIQ", 2, 0, 2 << 20)

    def rec(kind, a=0, b=0, data=b""):
        crc = zlib.crc32(data) if data else 0
        return struct.pack("<IIQQ", kind, crc, a, b) + data

    state = b"RVISORVM" + bytes(24)
    page = bytes(range(256)) * 16
    yield "pages-then-state", hdr + rec(1, 0, 1, page) + rec(2, len(state), 0, state)
    yield "two-page-runs", hdr + rec(1, 3, 2, b"\xaa" * 8192) + rec(1, 511, 1, b"\x55" * 4096) + \
        rec(2, 4, 0, b"RVIS")
    yield "damaged-page", hdr + struct.pack("<IIQQ", 1, 1, 0, 1) + page
    yield "abort", hdr + rec(4)
    yield "page-outside", hdr + rec(1, 512, 1) + bytes(4096)
    yield "cut-short", hdr + rec(1, 0, 2) + bytes(100)
    yield "bad-magic", b"RVISORVX" + hdr[8:]
    yield "bad-version", b"RVISORMG" + struct.pack("<IIQ", 7, 0, 2 << 20)
    yield "bad-size", b"RVISORMG" + struct.pack("<IIQ", 2, 0, 12345)
    yield "unknown-record", hdr + rec(9, 1, 1)


# ---- fuzz_sbi: ecall sequences (layout at the top of fuzz_sbi.c) ----

SBI_BASE, SBI_TIME, SBI_IPI, SBI_RFENCE = 0x10, 0x54494D45, 0x735049, 0x52464E43
SBI_HSM, SBI_SRST, SBI_DBCN = 0x48534D, 0x53525354, 0x4442434E
M64 = (1 << 64) - 1


def sbi_input(calls, harts=1, caller=0, stopped=0, console=b"", ram=b""):
    """calls: (eid, fid, a0, ...) tuples (missing arguments are 0; negative ones wrap)."""
    out = struct.pack("<BBBBB3x", harts - 1, caller, stopped, len(calls), len(console))
    for eid, fid, *args in calls:
        args = (list(args) + [0] * 6)[:6]
        out += struct.pack("<8Q", eid & M64, fid & M64, *(a & M64 for a in args))
    return out + console + ram


def sbi_seeds():
    msg = b"hello from the SBI\n"
    yield "base", sbi_input([(SBI_BASE, f) for f in range(7)] + [(SBI_BASE, 3, SBI_HSM),
                                                                 (SBI_BASE, 3, 0x12345)])
    yield "timer", sbi_input([(SBI_TIME, 0, 0), (SBI_TIME, 0, -1), (0x00, 0, 12345)])
    yield "ipi", sbi_input([(SBI_IPI, 0, 1, 0), (SBI_IPI, 0, 3, 0), (SBI_IPI, 0, 0, -1),
                            (SBI_IPI, 0, -1, 0)], harts=2)
    yield "rfence", sbi_input([(SBI_RFENCE, f, 3, 0, 0, -1, 1) for f in range(7)] +
                              [(SBI_RFENCE, 0, 1, 64)], harts=4)
    yield "hsm", sbi_input([(SBI_HSM, 2, 1), (SBI_HSM, 0, 1, RAM_BASE + 0x100, 42),
                            (SBI_HSM, 2, 1), (SBI_HSM, 0, 1, RAM_BASE), (SBI_HSM, 0, 2, 0x1000),
                            (SBI_HSM, 0, 3, RAM_BASE + 0x10001), (SBI_HSM, 0, 9, RAM_BASE),
                            (SBI_HSM, 3, 0), (SBI_HSM, 3, 0x80000000), (SBI_HSM, 3, 1),
                            (SBI_HSM, 1)], harts=4, stopped=0b1110)
    yield "srst", sbi_input([(SBI_SRST, 0, 3), (SBI_SRST, 0, 0, 2), (SBI_SRST, 1, 0),
                             (SBI_SRST, 0, 0xF0000000), (SBI_SRST, 0, 0, 1)])
    yield "dbcn", sbi_input([(SBI_DBCN, 0, len(msg), RAM_BASE), (SBI_DBCN, 1, 8, RAM_BASE + 64),
                             (SBI_DBCN, 2, 0x41), (SBI_DBCN, 0, 16, RAM_BASE + 0xFFF8),
                             (SBI_DBCN, 0, 16, RAM_BASE, 1), (SBI_DBCN, 1, -1, RAM_BASE)],
                            console=b"typed", ram=msg)
    yield "legacy", sbi_input([(0x01, 0, 0x41), (0x02, 0), (0x02, 0), (0x03, 0), (0x08, 0)],
                              console=b"x")
    # 0xee in the top byte: the implemented extension a7 % 11 (fuzz_sbi.c).
    yield "known-ids", sbi_input([(0xEE << 56 | k, f, k, f) for k in range(11)
                                  for f in (0, 1, 2)][:64], harts=2, stopped=2)


# ---- fuzz_decode: a hart's state and code (layout at the top of fuzz_decode.c) ----

def rv_r(op, rd, f3, rs1, rs2, f7):
    return op | rd << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | f7 << 25


def rv_i(op, rd, f3, rs1, imm):
    return op | rd << 7 | f3 << 12 | rs1 << 15 | (imm & 0xFFF) << 20


def rv_s(op, f3, rs1, rs2, imm):
    return op | (imm & 0x1F) << 7 | f3 << 12 | rs1 << 15 | rs2 << 20 | (imm >> 5 & 0x7F) << 25


def rv_b(f3, rs1, rs2, off):
    return (0x63 | (off >> 11 & 1) << 7 | (off >> 1 & 0xF) << 8 | f3 << 12 | rs1 << 15 |
            rs2 << 20 | (off >> 5 & 0x3F) << 25 | (off >> 12 & 1) << 31)


def rv_u(op, rd, imm):
    return op | rd << 7 | (imm & 0xFFFFF) << 12


def decode_input(words, flags=0, steps=32, regs=None, ram_extra=b""):
    regs = regs or [0x1000 * i + i for i in range(1, 32)]
    head = struct.pack("<BB6x", flags, steps) + b"".join(struct.pack("<Q", r & M64) for r in regs)
    head += bytes(256 - len(head))
    code = b"".join(struct.pack("<I", w) if w > 0xFFFF or w & 3 == 3 else struct.pack("<H", w)
                    for w in words)
    return head + code + ram_extra


def decode_seeds():
    # x5 = RAM + 0x800 (a data area), then arithmetic, loads and stores, a loop, an ecall.
    la = [rv_u(0x37, 5, 0x80001), rv_i(0x13, 5, 0, 5, -0x800)]
    alu = [rv_r(0x33, 6, 0, 1, 2, 0), rv_r(0x33, 7, 0, 3, 4, 0x20), rv_r(0x33, 8, 1, 6, 2, 0),
           rv_r(0x33, 9, 0, 6, 7, 1), rv_r(0x33, 10, 4, 8, 9, 1), rv_r(0x3B, 11, 0, 1, 2, 0),
           rv_i(0x13, 12, 1, 10, 13), rv_i(0x1B, 13, 5, 12, 3 | 0x400)]
    mem = [rv_s(0x23, 3, 5, 6, 0), rv_i(0x03, 14, 3, 5, 0), rv_s(0x23, 2, 5, 7, 12),
           rv_i(0x03, 15, 4, 5, 13), rv_i(0x03, 16, 1, 5, 1)]
    loop = [rv_i(0x13, 17, 0, 0, 10), rv_i(0x13, 17, 0, 17, -1), rv_b(1, 17, 0, -4)]
    ecall = [0x00000073]
    yield "alu-mem-loop", decode_input(la + alu + mem + loop + ecall)
    # AMOs and LR/SC on the data area, CSR reads and writes.
    amo = [rv_r(0x2F, 18, 3, 5, 6, 0x00), rv_r(0x2F, 19, 2, 5, 7, 0x04),
           rv_r(0x2F, 20, 3, 5, 0, 0x08), rv_r(0x2F, 21, 3, 5, 9, 0x0C)]
    csr = [rv_i(0x73, 22, 2, 0, 0xC01), rv_i(0x73, 0, 1, 6, 0x340), rv_i(0x73, 23, 2, 0, 0x340),
           rv_i(0x73, 24, 2, 0, 0x300), rv_i(0x73, 0, 6, 8, 0x300)]
    yield "amo-csr", decode_input(la + amo + csr + ecall)
    # Floating point with FS on: fmv, fadd, fmul, fcvt, a compare.
    fp = [rv_r(0x53, 1, 0, 6, 0, 0x78), rv_r(0x53, 2, 0, 7, 0, 0x78),
          rv_r(0x53, 3, 7, 1, 2, 0x00), rv_r(0x53, 4, 7, 3, 2, 0x08),
          rv_r(0x53, 25, 1, 4, 0, 0x60), rv_r(0x53, 26, 1, 3, 4, 0x50),
          rv_r(0x53, 5, 7, 3, 0, 0x2C)]
    yield "fp", decode_input(fp + ecall, flags=8)
    # Compressed forms: c.li, c.addi, c.add, c.mv, c.lw/c.sw, c.j back.
    rvc = [0x4505, 0x0505, 0x952E, 0x85AA, 0x4188, 0xC188, 0xBFF5]
    yield "compressed", decode_input(la + rvc, steps=16)
    # S-mode under Sv39: the root at RAM + 0x4000 maps RAM with one gigapage (V R W X A D).
    ram = bytearray(0x4000 - 0x40)
    ram += struct.pack("<Q", 0) * 2 + struct.pack("<Q", (0x80000000 >> 12) << 10 | 0xCF)
    yield "sv39", decode_input(la + alu + mem + ecall, flags=1 | 2, ram_extra=bytes(ram))
    # A trap vector at RAM + 0x100 that returns: mepc += 4, mret.
    vec = [rv_i(0x73, 30, 2, 0, 0x341), rv_i(0x13, 30, 0, 30, 4), rv_i(0x73, 0, 1, 30, 0x341),
           0x30200073]
    body = [0x00000073, 0xFFFFFFFF, rv_i(0x03, 1, 3, 0, 0x10), 0x00100073]
    pad = (0x100 - 4 * len(body)) // 4
    yield "trap-return", decode_input(body + [0x00000013] * pad + vec, steps=48)


TARGETS = {
    "virtq": virtq_seeds,
    "blk": blk_seeds,
    "net": net_seeds,
    "console": console_seeds,
    "rng": rng_seeds,
    "mmio": mmio_seeds,
    "pci": pci_seeds,
    "api": api_seeds,
    "state": state_seeds,
    "loader": loader_seeds,
    "migrate": migrate_seeds,
    "sbi": sbi_seeds,
    "decode": decode_seeds,
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for target in sys.argv[1:] or TARGETS:
        out = os.path.join(here, "corpus", target)
        os.makedirs(out, exist_ok=True)
        for name, data in TARGETS[target]():
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
