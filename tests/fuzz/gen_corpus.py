#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers, tests/fuzz/corpus/<target>/: for fuzz_virtq a few
well-formed split virtqueues and a few malformed ones (input layout at the top of
fuzz_virtq.c); for the device fuzzers fuzz_blk, fuzz_net, fuzz_console and fuzz_rng
well-formed requests of every kind a driver sends, some malformed ones and short driver
scripts (input layout in fuzz_common.h); for fuzz_mmio driver register sequences (layout at
the top of fuzz_mmio.c); for fuzz_pci configuration and BAR access scripts (fuzz_pci.c); for
fuzz_api request sequences, good and bad (fuzz_api.c). Run it again after changing a layout; it leaves inputs it did not
write (reproducers added by hand) alone.

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


TARGETS = {
    "virtq": virtq_seeds,
    "blk": blk_seeds,
    "net": net_seeds,
    "console": console_seeds,
    "rng": rng_seeds,
    "mmio": mmio_seeds,
    "pci": pci_seeds,
    "api": api_seeds,
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
