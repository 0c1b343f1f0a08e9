#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_virtq (tests/fuzz/corpus/virtq/): a few well-formed split
virtqueues and a few malformed ones, in the input layout described at the top of
fuzz_virtq.c. Run it again after changing that layout."""
import os
import struct

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


def seeds():
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


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "virtq")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
