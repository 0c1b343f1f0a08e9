/* Unit tests of the PCIe host bridge (ECAM, BARs, INTx) and of the virtio-pci transport (virtio
 * 1.2 section 4.1), driven as a guest drives them: through the board's bus, at the ECAM and
 * BAR window addresses, with a virtio-rng behind the transport and split virtqueues built in
 * guest RAM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/pci.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "virtio/pci.h"
#include "virtio/rng.h"

#define RAM_BASE   0x80000000ull
#define RAM_SIZE   0x100000ull
#define ECAM       0x30000000ull
#define WINDOW     0x40000000ull
#define WIN_SIZE   0x10000000ull
#define WIN64      0x20000000000ull /* the 64-bit window */
#define WIN64_SIZE 0x1000000000ull
#define BAR_ADDR   0x40010000ull /* where the test places the device's BAR 0 */
#define NUM        16
#define DESC_OFF   0x1000 /* the queue's rings in RAM, from its base */
#define AVAIL_OFF  0x2000
#define USED_OFF   0x3000
#define BUF_OFF    0x8000

struct fixture {
	struct guest_mem mem;
	struct bus bus;
	struct pci_host host;
	struct virtio_rng rng;
	struct virtio_pci vp;
	int irq_level; /* what the INTx line was last driven to (-1: never) */
	unsigned irq_changes;
};

static void irq_record(void *opaque, unsigned num, bool level)
{
	struct fixture *f = opaque;
	assert_int_equal(num, 7);
	f->irq_level = level;
	f->irq_changes++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->irq_level = -1;
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	assert_int_equal(pci_host_init(&f->host, WINDOW, WIN_SIZE, WIN64, WIN64_SIZE), 0);
	assert_int_equal(bus_add(&f->bus, ECAM, PCI_ECAM_SIZE, &pci_ecam_ops, &f->host, "ecam"), 0);
	assert_int_equal(
	    bus_add(&f->bus, WINDOW, WIN_SIZE, &pci_mmio_ops, &f->host.mmio32, "window"), 0);
	assert_int_equal(
	    bus_add(&f->bus, WIN64, WIN64_SIZE, &pci_mmio_ops, &f->host.mmio64, "window64"), 0);
	struct virtio_dev dev;
	assert_int_equal(virtio_rng_init(&f->rng, &dev), 0);
	assert_int_equal(virtio_pci_init(&f->vp, &dev, &f->mem), 0);
	assert_int_equal(pci_host_add(&f->host, &f->vp.pci, (struct irq_line){irq_record, f, 7}),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	pci_host_destroy(&f->host);
	virtio_rng_destroy(&f->rng);
	virtio_pci_destroy(&f->vp);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

/* ---- the guest's view ---- */

static uint64_t rd(struct fixture *f, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	assert_true(bus_read(&f->bus, gpa, size, &v));
	return v;
}

static void wr(struct fixture *f, uint64_t gpa, unsigned size, uint64_t v)
{
	assert_true(bus_write(&f->bus, gpa, size, v));
}

/* Configuration space of device dev (function fn), register reg. */
static uint64_t cfg(unsigned dev, unsigned fn, unsigned reg)
{
	return ECAM + ((uint64_t)dev << 15) + ((uint64_t)fn << 12) + reg;
}

/* Place BAR 0 and turn on memory decoding, as the guest's PCI core does. */
static void enable(struct fixture *f)
{
	wr(f, cfg(0, 0, PCI_BAR0), 4, BAR_ADDR);
	wr(f, cfg(0, 0, PCI_COMMAND), 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

/* The offset in configuration space of the virtio capability of cfg_type, found by walking
 * the list from the capability pointer; 0 if none. */
static unsigned find_cap(struct fixture *f, uint8_t type)
{
	unsigned at = (unsigned)rd(f, cfg(0, 0, PCI_CAPABILITY), 1), hops = 0;
	while (at && hops++ < 48) {
		assert_true(at >= 0x40 && at < 256);
		if (rd(f, cfg(0, 0, at), 1) == PCI_CAP_ID_VENDOR &&
		    rd(f, cfg(0, 0, at + 3), 1) == type)
			return at;
		at = (unsigned)rd(f, cfg(0, 0, at + 1), 1);
	}
	return 0;
}

/* The guest-physical address of the structure a capability points at (BAR 0 + offset). */
static uint64_t cap_addr(struct fixture *f, uint8_t type)
{
	unsigned at = find_cap(f, type);
	assert_true(at != 0);
	assert_int_equal(rd(f, cfg(0, 0, at + 4), 1), 0); /* BAR 0 */
	return BAR_ADDR + rd(f, cfg(0, 0, at + 8), 4);
}

/* ---- the host bridge ---- */

static void test_identity_and_absent_devices(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, cfg(0, 0, PCI_VENDOR_ID), 2), 0x1af4);
	assert_int_equal(rd(f, cfg(0, 0, PCI_DEVICE_ID), 2), 0x1040 + VIRTIO_ID_ENTROPY);
	assert_int_equal(rd(f, cfg(0, 0, 0), 4), 0x1044u << 16 | 0x1af4);
	assert_true(rd(f, cfg(0, 0, PCI_REVISION_ID), 1) >= 1);
	assert_true(rd(f, cfg(0, 0, PCI_SUBSYS_ID), 2) >= 0x40);
	assert_int_equal(rd(f, cfg(0, 0, PCI_HEADER_TYPE), 1), 0);
	assert_int_equal(rd(f, cfg(0, 0, PCI_INTERRUPT_PIN), 1), 1);
	assert_true(rd(f, cfg(0, 0, PCI_STATUS), 2) & PCI_STATUS_CAP_LIST);
	/* Other devices, other functions: nothing answers, all ones. */
	assert_int_equal(rd(f, cfg(1, 0, 0), 4), 0xffffffffu);
	assert_int_equal(rd(f, cfg(31, 0, 0), 2), 0xffff);
	assert_int_equal(rd(f, cfg(0, 1, 0), 4), 0xffffffffu);
	assert_int_equal(rd(f, cfg(0, 7, PCI_VENDOR_ID), 1), 0xff);
	/* No extended capabilities past 256 bytes. */
	assert_int_equal(rd(f, cfg(0, 0, 0x100), 4), 0);
	assert_int_equal(rd(f, cfg(0, 0, 0xffc), 4), 0);
	/* Writes to absent devices and read-only registers change nothing. */
	wr(f, cfg(1, 0, PCI_COMMAND), 2, 0xffff);
	wr(f, cfg(0, 0, PCI_VENDOR_ID), 4, 0x12345678);
	wr(f, cfg(0, 0, 0x100), 4, 0x12345678);
	assert_int_equal(rd(f, cfg(0, 0, 0), 4), 0x1044u << 16 | 0x1af4);
	assert_int_equal(rd(f, cfg(1, 0, 0), 4), 0xffffffffu);
}

static void test_bar_sizing_and_decoding(void **state)
{
	struct fixture *f = *state;
	/* The sizing protocol: write all ones, read back the size mask with the type bits, a
	 * 64-bit prefetchable BAR whose upper half is BAR 1. */
	const uint32_t type = PCI_BAR_MEM64 | PCI_BAR_PREFETCH;
	assert_int_equal(rd(f, cfg(0, 0, PCI_BAR0), 4), type);
	wr(f, cfg(0, 0, PCI_BAR0), 4, 0xffffffff);
	assert_int_equal(rd(f, cfg(0, 0, PCI_BAR0), 4),
			 ~(uint32_t)(VIRTIO_PCI_BAR_SIZE - 1) | type);
	wr(f, cfg(0, 0, PCI_BAR0 + 4), 4, 0xffffffff);
	assert_int_equal(rd(f, cfg(0, 0, PCI_BAR0 + 4), 4), 0xffffffff);
	for (unsigned i = 2; i < PCI_NUM_BARS; i++) { /* the others are not implemented */
		wr(f, cfg(0, 0, PCI_BAR0 + 4 * i), 4, 0xffffffff);
		assert_int_equal(rd(f, cfg(0, 0, PCI_BAR0 + 4 * i), 4), 0);
	}
	wr(f, cfg(0, 0, PCI_BAR0 + 4), 4, 0);
	wr(f, cfg(0, 0, PCI_BAR0), 4, BAR_ADDR | 0xfff); /* low bits are not address bits */
	assert_int_equal(rd(f, cfg(0, 0, PCI_BAR0), 4), BAR_ADDR | type);
	uint64_t common = BAR_ADDR + VIRTIO_PCI_COMMON_OFF;
	/* Memory decoding off: the window does not reach the device (master abort). */
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
	wr(f, cfg(0, 0, PCI_COMMAND), 2, PCI_COMMAND_MEMORY);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	/* Past the BAR, and across its end: nobody claims it. */
	assert_int_equal(rd(f, BAR_ADDR + VIRTIO_PCI_BAR_SIZE, 4), 0xffffffffu);
	assert_int_equal(rd(f, BAR_ADDR - 8, 8), ~0ull);
	/* Moved: the old place answers no more, the new one does. */
	wr(f, cfg(0, 0, PCI_BAR0), 4, BAR_ADDR + 0x100000);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
	assert_int_equal(rd(f, common + 0x100000 + VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	/* Above 4 GiB, in the 64-bit window: bits 63..32 from BAR 1. */
	wr(f, cfg(0, 0, PCI_BAR0), 4, (uint32_t)(WIN64 + 0x4000));
	wr(f, cfg(0, 0, PCI_BAR0 + 4), 4, (uint32_t)(WIN64 >> 32));
	assert_int_equal(rd(f, WIN64 + 0x4000 + VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	/* A BAR placed outside the windows (over RAM, say) is not decoded anywhere. */
	wr(f, cfg(0, 0, PCI_BAR0 + 4), 4, 0);
	wr(f, cfg(0, 0, PCI_BAR0), 4, 0x20000000);
	assert_int_equal(rd(f, common + 0x100000 + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
	wr(f, cfg(0, 0, PCI_BAR0), 4, (uint32_t)RAM_BASE);
	assert_int_equal(rd(f, common + 0x100000 + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
}

static void test_capabilities(void **state)
{
	struct fixture *f = *state;
	const uint8_t types[] = {VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_CAP_NOTIFY_CFG,
				 VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_CAP_PCI_CFG};
	for (unsigned i = 0; i < sizeof(types); i++)
		assert_true(find_cap(f, types[i]) != 0);
	/* virtio-rng has no configuration space, so no device capability (4.1.4.6). */
	assert_int_equal(find_cap(f, VIRTIO_PCI_CAP_DEVICE_CFG), 0);
	unsigned n = find_cap(f, VIRTIO_PCI_CAP_NOTIFY_CFG);
	assert_int_equal(rd(f, cfg(0, 0, n + 2), 1), 20);
	assert_int_equal(rd(f, cfg(0, 0, n + 16), 4), VIRTIO_PCI_NOTIFY_MULT);
	unsigned c = find_cap(f, VIRTIO_PCI_CAP_COMMON_CFG);
	assert_true(rd(f, cfg(0, 0, c + 12), 4) >= 0x38); /* struct virtio_pci_common_cfg */
	/* Capabilities are read-only, but for the configuration access window's fields. */
	wr(f, cfg(0, 0, c + 8), 4, 0x1234);
	assert_int_equal(rd(f, cfg(0, 0, c + 8), 4), VIRTIO_PCI_COMMON_OFF);
}

static void test_intx_and_interrupt_disable(void **state)
{
	struct fixture *f = *state;
	pci_set_intx(&f->vp.pci, true);
	assert_int_equal(f->irq_level, 1);
	assert_true(rd(f, cfg(0, 0, PCI_STATUS), 2) & PCI_STATUS_INTERRUPT);
	/* Interrupt Disable lowers the line but the status still shows the condition. */
	wr(f, cfg(0, 0, PCI_COMMAND), 2, PCI_COMMAND_INTX_OFF);
	assert_int_equal(f->irq_level, 0);
	assert_true(rd(f, cfg(0, 0, PCI_STATUS), 2) & PCI_STATUS_INTERRUPT);
	pci_set_intx(&f->vp.pci, false);
	pci_set_intx(&f->vp.pci, true);
	assert_int_equal(f->irq_level, 0);
	wr(f, cfg(0, 0, PCI_COMMAND), 2, 0);
	assert_int_equal(f->irq_level, 1);
	pci_set_intx(&f->vp.pci, false);
	assert_int_equal(f->irq_level, 0);
	assert_false(rd(f, cfg(0, 0, PCI_STATUS), 2) & PCI_STATUS_INTERRUPT);
}

/* ---- virtio-pci ---- */

/* Feature negotiation and one queue, as Linux's virtio_pci_modern does it. */
static void start(struct fixture *f, uint64_t common)
{
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 0);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, common + VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	uint32_t hi = (uint32_t)rd(f, common + VIRTIO_PCI_COMMON_DF, 4);
	assert_true(hi & 1); /* VIRTIO_F_VERSION_1 */
	wr(f, common + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(f, common + VIRTIO_PCI_COMMON_GF, 4, 1);
	wr(f, common + VIRTIO_PCI_COMMON_GFSELECT, 4, 0);
	wr(f, common + VIRTIO_PCI_COMMON_GF, 4, 0);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_STATUS, 1), 0x0b); /* FEATURES_OK */
	wr(f, common + VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_SIZE, 2), VIRTQ_MAX_SIZE);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	wr(f, common + VIRTIO_PCI_COMMON_Q_SIZE, 2, NUM);
	/* 64-bit fields in two halves (low, then high) and whole. */
	wr(f, common + VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)(RAM_BASE + DESC_OFF));
	wr(f, common + VIRTIO_PCI_COMMON_Q_DESCHI, 4, (uint32_t)((RAM_BASE + DESC_OFF) >> 32));
	wr(f, common + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, RAM_BASE + AVAIL_OFF);
	wr(f, common + VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)(RAM_BASE + USED_OFF));
	wr(f, common + VIRTIO_PCI_COMMON_Q_USEDHI, 4, 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_DESCLO, 8), RAM_BASE + DESC_OFF);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_AVAILHI, 4), 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_PCI_NO_VECTOR);
	wr(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 0x0f);
}

/* Make one device-writable buffer of len bytes available on queue 0 (avail index idx). */
static void post(struct fixture *f, uint16_t idx, uint32_t len)
{
	uint8_t *ram = guest_mem_ptr(&f->mem, RAM_BASE, RAM_SIZE);
	uint64_t buf = RAM_BASE + BUF_OFF;
	memcpy(ram + DESC_OFF, &buf, 8);
	memcpy(ram + DESC_OFF + 8, &len, 4);
	uint16_t flags = 2; /* VIRTQ_DESC_F_WRITE */
	memcpy(ram + DESC_OFF + 12, &flags, 2);
	uint16_t head = 0, next = (uint16_t)(idx + 1);
	memcpy(ram + AVAIL_OFF + 4 + 2 * (idx % NUM), &head, 2);
	memcpy(ram + AVAIL_OFF + 2, &next, 2);
}

static uint16_t used_idx(struct fixture *f)
{
	uint16_t v;
	memcpy(&v, (uint8_t *)guest_mem_ptr(&f->mem, RAM_BASE, RAM_SIZE) + USED_OFF + 2, 2);
	return v;
}

static void test_request_round_trip(void **state)
{
	struct fixture *f = *state;
	enable(f);
	uint64_t common = cap_addr(f, VIRTIO_PCI_CAP_COMMON_CFG);
	uint64_t isr = cap_addr(f, VIRTIO_PCI_CAP_ISR_CFG);
	uint64_t notify = cap_addr(f, VIRTIO_PCI_CAP_NOTIFY_CFG);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	start(f, common);
	post(f, 0, 64);
	/* queue_notify_off times the multiplier locates the queue's notification address. */
	uint64_t noff = rd(f, common + VIRTIO_PCI_COMMON_Q_NOFF, 2);
	wr(f, notify + noff * VIRTIO_PCI_NOTIFY_MULT, 2, 0);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(f->irq_level, 1);
	/* Reading ISR status returns the queue bit and clears it, lowering INTx. */
	assert_int_equal(rd(f, isr, 1), VIRTIO_INT_VRING);
	assert_int_equal(f->irq_level, 0);
	assert_int_equal(rd(f, isr, 1), 0);
	/* A notification of another queue's address, or of a wrong width, does nothing. */
	post(f, 1, 64);
	wr(f, notify + VIRTIO_PCI_NOTIFY_MULT, 2, 1);
	wr(f, notify + noff * VIRTIO_PCI_NOTIFY_MULT, 1, 0);
	assert_int_equal(used_idx(f), 1);
	wr(f, notify + noff * VIRTIO_PCI_NOTIFY_MULT, 4, 0);
	assert_int_equal(used_idx(f), 2);
	/* Reset: status 0 takes the queue down. */
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_STATUS, 1), 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_SIZE, 2), VIRTQ_MAX_SIZE);
}

static void test_wrong_widths_and_order(void **state)
{
	struct fixture *f = *state;
	enable(f);
	uint64_t common = cap_addr(f, VIRTIO_PCI_CAP_COMMON_CFG);
	/* Fields of the wrong width read zero and write nothing. */
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_DF, 2), 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_MSIX, 4), 0); /* msix + num_queues */
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 4, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_STATUS, 1), 0);
	assert_int_equal(rd(f, common + 0x3e, 2), 0); /* past the structure */
	assert_int_equal(rd(f, common + 0x800, 4), 0);
	/* A queue cannot be enabled before feature negotiation, nor changed once enabled. */
	wr(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	start(f, common);
	wr(f, common + VIRTIO_PCI_COMMON_Q_SIZE, 2, 4);
	wr(f, common + VIRTIO_PCI_COMMON_Q_DESCLO, 4, 0);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_SIZE, 2), NUM);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_DESCLO, 4), RAM_BASE + DESC_OFF);
	/* Features without VERSION_1 are refused FEATURES_OK. */
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 0);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 3);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_STATUS, 1), 3);
	/* Selecting a queue the device lacks: size 0, nothing to set up. */
	wr(f, common + VIRTIO_PCI_COMMON_Q_SELECT, 2, 5);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_SIZE, 2), 0);
	wr(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
}

static void test_queue_outside_ram_needs_reset(void **state)
{
	struct fixture *f = *state;
	enable(f);
	uint64_t common = cap_addr(f, VIRTIO_PCI_CAP_COMMON_CFG);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 3);
	wr(f, common + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(f, common + VIRTIO_PCI_COMMON_GF, 4, 1);
	wr(f, common + VIRTIO_PCI_COMMON_STATUS, 1, 0x0b);
	wr(f, common + VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x1000); /* not RAM */
	wr(f, common + VIRTIO_PCI_COMMON_Q_AVAILLO, 8, RAM_BASE + AVAIL_OFF);
	wr(f, common + VIRTIO_PCI_COMMON_Q_USEDLO, 8, RAM_BASE + USED_OFF);
	wr(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	assert_int_equal(rd(f, common + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0);
	assert_true(rd(f, common + VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* The configuration access capability reaches BAR 0 through configuration cycles alone. */
static void test_pci_cfg_window(void **state)
{
	struct fixture *f = *state;
	unsigned w = find_cap(f, VIRTIO_PCI_CAP_PCI_CFG);
	assert_true(w != 0);
	wr(f, cfg(0, 0, w + 4), 1, 0);
	wr(f, cfg(0, 0, w + 8), 4, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_NUMQ);
	wr(f, cfg(0, 0, w + 12), 4, 2);
	assert_int_equal(rd(f, cfg(0, 0, w + 16), 4), 1); /* num_queues, memory decoding off */
	wr(f, cfg(0, 0, w + 8), 4, VIRTIO_PCI_COMMON_OFF + VIRTIO_PCI_COMMON_STATUS);
	wr(f, cfg(0, 0, w + 12), 4, 1);
	wr(f, cfg(0, 0, w + 16), 4, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(f->vp.t.status, VIRTIO_STATUS_ACKNOWLEDGE);
	/* Another BAR, a bad length, a misaligned or out-of-range offset: no access. */
	wr(f, cfg(0, 0, w + 4), 1, 1);
	assert_int_equal(rd(f, cfg(0, 0, w + 16), 4), VIRTIO_STATUS_ACKNOWLEDGE); /* the image */
	wr(f, cfg(0, 0, w + 4), 1, 0);
	wr(f, cfg(0, 0, w + 12), 4, 3);
	wr(f, cfg(0, 0, w + 16), 4, 0);
	wr(f, cfg(0, 0, w + 12), 4, 4);
	wr(f, cfg(0, 0, w + 8), 4, VIRTIO_PCI_BAR_SIZE);
	wr(f, cfg(0, 0, w + 16), 4, 0);
	wr(f, cfg(0, 0, w + 8), 4, 2);
	wr(f, cfg(0, 0, w + 16), 4, 0);
	assert_int_equal(f->vp.t.status, VIRTIO_STATUS_ACKNOWLEDGE);
}

static void test_init_checks(void **state)
{
	struct fixture *f = *state;
	struct virtio_pci vp;
	struct virtio_dev dev = {.device_id = 4, .num_queues = 0};
	assert_int_equal(virtio_pci_init(&vp, &dev, &f->mem), -EINVAL);
	dev.num_queues = 1;
	dev.config_size = 0x1001;
	assert_int_equal(virtio_pci_init(&vp, &dev, &f->mem), -EINVAL);
	/* The bus holds 32 devices. */
	struct pci_device *d = calloc(PCI_MAX_DEVICES, sizeof(*d));
	assert_non_null(d);
	for (unsigned i = 1; i < PCI_MAX_DEVICES; i++)
		assert_int_equal(pci_host_add(&f->host, &d[i], (struct irq_line){0}), (int)i);
	assert_int_equal(pci_host_add(&f->host, &d[0], (struct irq_line){0}), -ENOSPC);
	d[0].bar_size[0] = 100; /* not a power of two */
	struct pci_host h2;
	assert_int_equal(pci_host_init(&h2, WINDOW, WIN_SIZE, 0, 0), 0);
	assert_int_equal(pci_host_add(&h2, &d[0], (struct irq_line){0}), -EINVAL);
	d[0].bar_size[0] = 0x1000;
	d[0].bar_ops[0] = &pci_ecam_ops;
	d[0].bar_flags[5] = PCI_BAR_MEM64 | PCI_BAR_PREFETCH; /* no BAR 6 for its upper half */
	d[0].bar_size[5] = 0x1000;
	d[0].bar_ops[5] = &pci_ecam_ops;
	assert_int_equal(pci_host_add(&h2, &d[0], (struct irq_line){0}), -EINVAL);
	pci_host_destroy(&h2);
	pci_host_destroy(&f->host); /* before d goes */
	assert_int_equal(pci_host_init(&f->host, WINDOW, WIN_SIZE, WIN64, WIN64_SIZE), 0);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_identity_and_absent_devices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bar_sizing_and_decoding, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_capabilities, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_intx_and_interrupt_disable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_widths_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_outside_ram_needs_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_checks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
