/* libFuzzer target for the PCIe host bridge and the virtio-pci transport (virtio 1.2 section
 * 4.1): an arbitrary sequence of configuration (ECAM) and memory-window reads and writes,
 * through the real MMIO bus, against a bus holding a virtio-rng and, when asked, a
 * virtio-blk on a temporary file (whose worker thread completes requests concurrently), over
 * guest RAM taken from the input.
 *
 * Input layout (little-endian):
 *   0  u8  bit 0: add the virtio-blk as device 1
 *   1  u8  unused                      2  u16 number of accesses
 *   4  accesses, 8 bytes each: u8 kind (bit 0: write; bit 1: a BAR window, the 64-bit one
 *      with bit 2, else ECAM),
 *      u8 log2 of the size (modulo 4: 1, 2, 4 or 8 bytes), u16 offset (from the ECAM base:
 *      devices 0 and 1; or from the window base), u32 value
 *      then the RAM image (the rest of RAM is zero).
 *
 * Checks after every access (abort() when broken): a device number past the last device,
 * or a function other than 0, reads as all ones and the present devices' vendor and device
 * IDs never change; configuration space past 256 bytes reads 0; BAR 0 (64-bit prefetchable)
 * reads back as the address bits written with its type bits (its size fixed), BAR 1 as
 * written (the upper half), BARs 2-5 as 0; the command register keeps exactly
 * its writable bits; the capability list walks from the capability pointer to its end in at
 * most 48 steps, in bounds, the same every time; and, with the rng alone (interrupts raised
 * on the notifying thread only), the INTx line is asserted exactly when the transport has
 * an interrupt to report and the guest has not set Interrupt Disable. Whatever the input,
 * RAM is a heap block, so AddressSanitizer reports any access beyond it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev/pci.h"
#include "host/blk_file.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "virtio/blk.h"
#include "virtio/pci.h"
#include "virtio/rng.h"

#define RAM_BASE   0x80000000ull
#define RAM_SIZE   0x10000ull
#define ECAM       0x30000000ull
#define WINDOW     0x40000000ull
#define WIN_SIZE   0x10000000ull
#define WIN64      0x20000000000ull
#define WIN64_SIZE 0x1000000000ull
#define HEADER     4u
#define ACCESS     8u
#define MAX_ACCESS 2048u
#define DISK_BYTES 8192

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "fuzz_pci: " __VA_ARGS__);         \
			fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); \
			abort();                                           \
		}                                                          \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	struct guest_mem mem;
	struct bus bus;
	struct pci_host host;
	struct virtio_rng rng;
	struct virtio_pci rng_pci;
	struct virtio_blk blk;
	struct virtio_pci blk_pci;
	struct blk_file file;
	int memfd;
	char path[64];
	unsigned ndev;
	bool level;
	/* The model: what the guest wrote, as the registers must keep it. */
	uint32_t bar0[2], bar1[2]; /* BAR 0 is 64-bit: BAR 1 is its upper half */
	uint16_t command[2];
	uint8_t caps[2][64]; /* the capability offsets, as first walked */
	unsigned ncaps[2];
} pz;

static void irq_fn(void *opaque, unsigned num, bool level)
{
	(void)opaque;
	(void)num;
	__atomic_store_n(&pz.level, level, __ATOMIC_RELAXED);
}

static uint64_t cfg_addr(unsigned dev, unsigned reg)
{
	return ECAM + ((uint64_t)dev << 15) + reg;
}

static uint64_t rd(uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	if (!bus_read(&pz.bus, gpa, size, &v))
		v = UINT64_MAX; /* refused by the bus (misaligned) */
	return v;
}

/* Walk device dev's capability list through ECAM into out; returns how many. */
static unsigned walk_caps(unsigned dev, uint8_t *out)
{
	unsigned at = (unsigned)rd(cfg_addr(dev, PCI_CAPABILITY), 1), n = 0;
	while (at) {
		CHECK(n < 48 && at >= 0x40 && at <= 0xfc && !(at & 3),
		      "device %u: capability list broken at %#x", dev, at);
		out[n++] = (uint8_t)at;
		at = (unsigned)rd(cfg_addr(dev, at + 1), 1);
	}
	return n;
}

/* The model's side of a configuration write of size bytes at reg of device dev. */
static void model_cfg_write(unsigned dev, unsigned reg, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size; i++) {
		unsigned b = reg + i;
		uint8_t v = (uint8_t)(val >> (8 * i));
		if (b >= PCI_BAR0 && b < PCI_BAR0 + 4) {
			unsigned sh = 8 * (b - PCI_BAR0);
			uint32_t m = ~(uint32_t)(VIRTIO_PCI_BAR_SIZE - 1) & (0xffu << sh);
			pz.bar0[dev] = (pz.bar0[dev] & ~m) | (((uint32_t)v << sh) & m);
		} else if (b >= PCI_BAR0 + 4 && b < PCI_BAR0 + 8) {
			unsigned sh = 8 * (b - PCI_BAR0 - 4);
			pz.bar1[dev] = (pz.bar1[dev] & ~(0xffu << sh)) | ((uint32_t)v << sh);
		} else if (b == PCI_COMMAND) {
			pz.command[dev] = (uint16_t)((pz.command[dev] & ~0x47) | (v & 0x47));
		} else if (b == PCI_COMMAND + 1) {
			pz.command[dev] =
			    (uint16_t)((pz.command[dev] & ~0x500) | ((v << 8) & 0x500));
		}
	}
}

static void check_all(void)
{
	for (unsigned dev = 0; dev < pz.ndev; dev++) {
		uint32_t id = (uint32_t)rd(cfg_addr(dev, 0), 4);
		uint32_t want = (uint32_t)(0x1040 + (dev ? 2 : 4)) << 16 | 0x1af4;
		CHECK(id == want, "device %u: IDs %#x, want %#x", dev, id, want);
		uint32_t type = PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
		CHECK(rd(cfg_addr(dev, PCI_BAR0), 4) == (pz.bar0[dev] | type),
		      "device %u: BAR 0 %#llx, want %#x", dev,
		      (unsigned long long)rd(cfg_addr(dev, PCI_BAR0), 4), pz.bar0[dev] | type);
		CHECK(rd(cfg_addr(dev, PCI_BAR0 + 4), 4) == pz.bar1[dev], "device %u: BAR 1", dev);
		for (unsigned i = 2; i < PCI_NUM_BARS; i++)
			CHECK(rd(cfg_addr(dev, PCI_BAR0 + 4 * i), 4) == 0, "device %u: BAR %u", dev,
			      i);
		CHECK(rd(cfg_addr(dev, PCI_COMMAND), 2) == pz.command[dev],
		      "device %u: command %#llx, want %#x", dev,
		      (unsigned long long)rd(cfg_addr(dev, PCI_COMMAND), 2), pz.command[dev]);
		uint8_t caps[64];
		unsigned n = walk_caps(dev, caps);
		CHECK(n == pz.ncaps[dev] && !memcmp(caps, pz.caps[dev], n),
		      "device %u: the capability list changed", dev);
		CHECK(rd(cfg_addr(dev, 0x100), 4) == 0, "device %u: extended space", dev);
	}
	for (unsigned dev = pz.ndev; dev < 2; dev++)
		CHECK(rd(cfg_addr(dev, 0), 4) == 0xffffffffu, "absent device %u answered", dev);
	CHECK(rd(ECAM + (1u << 12), 4) == 0xffffffffu, "function 1 answered");
	if (pz.ndev == 1) {
		struct virtio_transport *t = &pz.rng_pci.t;
		pthread_mutex_lock(&t->lock);
		bool pending = t->interrupt_status != 0;
		pthread_mutex_unlock(&t->lock);
		bool want = pending && !(pz.command[0] & PCI_COMMAND_INTX_OFF);
		CHECK(__atomic_load_n(&pz.level, __ATOMIC_RELAXED) == want,
		      "INTx is %d with interrupt status %d, command %#x", pz.level, pending,
		      pz.command[0]);
	}
}

static void setup_disk(void)
{
	pz.memfd = memfd_create("fuzz-pci-disk", 0);
	CHECK(pz.memfd >= 0 && ftruncate(pz.memfd, DISK_BYTES) == 0, "disk");
	snprintf(pz.path, sizeof(pz.path), "/proc/self/fd/%d", pz.memfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	if (!pz.mem.hva) {
		pz.mem.hva = aligned_alloc(4096, RAM_SIZE);
		CHECK(pz.mem.hva, "RAM");
		pz.mem.base = RAM_BASE;
		pz.mem.size = RAM_SIZE;
		pz.mem.fd = -1;
		setup_disk();
	}
	size_t n = (size_t)data[2] | (size_t)data[3] << 8;
	if (n > MAX_ACCESS)
		n = MAX_ACCESS;
	if (n > (size - HEADER) / ACCESS)
		n = (size - HEADER) / ACCESS;
	const uint8_t *acc = data + HEADER, *img = acc + n * ACCESS;
	size_t img_len = size - HEADER - n * ACCESS;
	if (img_len > RAM_SIZE)
		img_len = RAM_SIZE;
	memset(pz.mem.hva, 0, RAM_SIZE);
	memcpy(pz.mem.hva, img, img_len);

	bool with_blk = data[0] & 1;
	pz.bus.count = 0;
	pz.level = false;
	CHECK(pci_host_init(&pz.host, WINDOW, WIN_SIZE, WIN64, WIN64_SIZE) == 0, "host");
	CHECK(bus_add(&pz.bus, ECAM, PCI_ECAM_SIZE, &pci_ecam_ops, &pz.host, "ecam") == 0 &&
		  bus_add(&pz.bus, WINDOW, WIN_SIZE, &pci_mmio_ops, &pz.host.mmio32, "window") ==
		      0 &&
		  bus_add(&pz.bus, WIN64, WIN64_SIZE, &pci_mmio_ops, &pz.host.mmio64, "window64") ==
		      0,
	      "bus");
	struct virtio_dev dev;
	CHECK(virtio_rng_init(&pz.rng, &dev) == 0, "rng");
	CHECK(virtio_pci_init(&pz.rng_pci, &dev, &pz.mem) == 0, "rng transport");
	CHECK(pci_host_add(&pz.host, &pz.rng_pci.pci, (struct irq_line){irq_fn, NULL, 0}) == 0,
	      "add rng");
	pz.ndev = 1;
	if (with_blk) {
		CHECK(blk_file_open(&pz.file, pz.path, false) == 0, "disk file");
		CHECK(virtio_blk_init(&pz.blk, &pz.file, "fuzz", &dev) == 0, "blk");
		CHECK(virtio_pci_init(&pz.blk_pci, &dev, &pz.mem) == 0, "blk transport");
		CHECK(pci_host_add(&pz.host, &pz.blk_pci.pci, (struct irq_line){0}) == 1,
		      "add blk");
		pz.ndev = 2;
	}
	for (unsigned d = 0; d < pz.ndev; d++) {
		pz.bar0[d] = pz.bar1[d] = 0;
		pz.command[d] = 0;
		pz.ncaps[d] = walk_caps(d, pz.caps[d]);
		CHECK(pz.ncaps[d] >= 4, "device %d: %u capabilities", d, pz.ncaps[d]);
	}

	for (size_t k = 0; k < n; k++) {
		const uint8_t *a = acc + k * ACCESS;
		bool write = a[0] & 1, window = a[0] & 2;
		unsigned sz = 1u << (a[1] & 3);
		uint64_t off = (uint64_t)a[2] | (uint64_t)a[3] << 8;
		uint64_t val = (uint64_t)a[4] | (uint64_t)a[5] << 8 | (uint64_t)a[6] << 16 |
			       (uint64_t)a[7] << 24;
		uint64_t gpa = (window ? (a[0] & 4 ? WIN64 : WINDOW) : ECAM) + off;
		if (sz == 8)
			val |= val << 32;
		if (write) {
			if (!bus_write(&pz.bus, gpa, sz, val))
				continue; /* misaligned: refused by the bus */
			unsigned devn = (unsigned)(off >> 15), fn = (unsigned)(off >> 12) & 7;
			unsigned reg = (unsigned)off & 0xfff;
			if (!window && devn < pz.ndev && !fn && reg < PCI_CONFIG_SIZE && sz <= 4)
				model_cfg_write(devn, reg, sz, val);
		} else {
			uint64_t v = rd(gpa, sz);
			(void)v;
		}
		check_all();
	}

	if (with_blk) {
		virtio_blk_destroy(&pz.blk); /* before the transport: completions use it */
		blk_file_close(&pz.file);
	}
	pci_host_destroy(&pz.host);
	virtio_rng_destroy(&pz.rng);
	virtio_pci_destroy(&pz.rng_pci);
	if (with_blk)
		virtio_pci_destroy(&pz.blk_pci);
	return 0;
}
