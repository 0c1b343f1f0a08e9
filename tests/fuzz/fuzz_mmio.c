/* libFuzzer target for the virtio-mmio transport's register interface (virtio 1.2 section
 * 4.2.2): an arbitrary sequence of register and configuration-space reads and writes, through
 * the real MMIO bus, against a transport with a real device behind it (virtio-rng,
 * virtio-console, virtio-net or virtio-blk, each on a fake or temporary backend), over guest
 * RAM taken from the input. Resets (status 0) can come at any point, with requests in
 * flight on the disk's worker thread.
 *
 * Input layout (little-endian):
 *   0  u8  device: 0 rng, 1 console, 2 net, 3 blk (modulo 4)
 *   1  u8  unused                      2  u16 number of accesses
 *   4  accesses, 8 bytes each: u8 kind (bit 0: write), u8 log2 of the size (modulo 4:
 *      1, 2, 4 or 8 bytes), u16 offset in the window (modulo 4096), u32 value
 *      then the RAM image (the rest of RAM is zero).
 *
 * A model of the register file follows every access and checks every read: the constant
 * registers (MagicValue, Version, DeviceID, VendorID); DeviceFeatures for each select value;
 * QueueNumMax and QueueReady for each queue; Status as the bits the driver set that the
 * transport must keep (FEATURES_OK only for an acceptable subset including
 * VIRTIO_F_VERSION_1, DRIVER_OK only after FEATURES_OK; clearing takes a reset), with
 * DEVICE_NEEDS_RESET set when a queue outside RAM was made ready; InterruptStatus (only the
 * two defined bits, the configuration bit only with DEVICE_NEEDS_RESET, the interrupt line
 * asserted exactly when it is non-zero); the shared memory registers (no regions: -1);
 * ConfigGeneration (constant: no device changes its configuration here); the configuration
 * space (constant, any aligned access of 1, 2 or 4 bytes composes the same little-endian
 * bytes, anything past its end reads 0); and a reset restores every register. Reads of
 * write-only or reserved registers, and register accesses of a size other than 4, return 0
 * and change nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "host/blk_file.h"
#include "host/chr.h"
#include "host/net.h"
#include "mem/bus.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "virtio/rng.h"

#define WINDOW     0x10001000ull
#define HEADER     4u
#define ACCESS     8u
#define MAX_ACCESS 2048u
#define NQ_MAX     2u
#define DISK_BYTES 8192

#define DRIVER_BITS                                                                   \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What the driver programmed, as the transport must hold it. */
struct mqueue {
	uint16_t num;
	uint64_t desc, avail, used;
	bool ready;
};

static struct {
	struct guest_mem mem;
	struct bus bus;
	struct virtio_transport t;
	struct virtio_dev dev;
	unsigned kind, nq;
	bool threaded; /* the device completes on another thread (blk) */
	/* Devices and their backends. */
	struct virtio_rng rng;
	struct virtio_console con;
	struct chr chr;
	struct virtio_net net;
	struct net_backend nb;
	struct virtio_blk blk;
	struct blk_file file;
	int memfd;
	char path[64];
	/* Constant facts read at the start. */
	uint64_t offered;
	uint32_t vendor, generation;
	uint8_t config[256];
	/* The model. */
	uint32_t status, dev_sel, drv_sel, queue_sel;
	uint64_t driver_features;
	struct mqueue q[NQ_MAX];
	bool needs_reset;    /* DEVICE_NEEDS_RESET must be set */
	bool may_need_reset; /* the device may have set it: it has been running */
	bool just_reset;
	bool level;
} mz;

static void irq_fn(void *opaque, unsigned num, bool level)
{
	(void)opaque;
	(void)num;
	__atomic_store_n(&mz.level, level, __ATOMIC_RELAXED);
}

static void chr_write(struct chr *c, const void *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
}

static size_t chr_read(struct chr *c, void *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
	return 0;
}

static int nb_send(struct net_backend *nb, const void *frame, size_t len)
{
	(void)nb;
	(void)frame;
	FZ_CHECK(len >= NET_ETH_HLEN && len <= NET_FRAME_MAX, "sent %zu bytes", len);
	return 0;
}

static void nb_attach(struct net_backend *nb, net_receive_fn receive, void *opaque)
{
	(void)nb;
	(void)receive;
	(void)opaque;
}

static void nb_close(struct net_backend *nb)
{
	(void)nb;
}

static uint64_t rd(uint64_t off, unsigned size)
{
	uint64_t v = 0;
	if (!bus_read(&mz.bus, WINDOW + off, size, &v))
		v = UINT64_MAX; /* refused by the bus (misaligned) */
	return v;
}

static void model_queue_reset(unsigned i)
{
	mz.q[i] = (struct mqueue){.num = VIRTQ_MAX_SIZE};
}

static void model_reset(void)
{
	mz.status = mz.dev_sel = mz.drv_sel = mz.queue_sel = 0;
	mz.driver_features = 0;
	for (unsigned i = 0; i < NQ_MAX; i++)
		model_queue_reset(i);
	mz.needs_reset = mz.may_need_reset = false;
	mz.just_reset = true;
}

static bool layout_ok(const struct mqueue *q)
{
	uint16_t n = q->num;
	if (n == 0 || n > VIRTQ_MAX_SIZE || (n & (n - 1)))
		return false;
	if (q->desc % 16 || q->avail % 2 || q->used % 4)
		return false;
	return guest_mem_ptr(&mz.mem, q->desc, 16ull * n) &&
	       guest_mem_ptr(&mz.mem, q->avail, 6 + 2ull * n) &&
	       guest_mem_ptr(&mz.mem, q->used, 6 + 8ull * n);
}

static struct mqueue *sel_queue(void)
{
	return mz.queue_sel < mz.nq ? &mz.q[mz.queue_sel] : NULL;
}

static bool any_ready(void)
{
	for (unsigned i = 0; i < mz.nq; i++)
		if (mz.q[i].ready)
			return true;
	return false;
}

static void set_half(uint64_t *r, bool high, uint32_t v)
{
	if (high)
		*r = (*r & 0xffffffffull) | (uint64_t)v << 32;
	else
		*r = (*r & ~0xffffffffull) | v;
}

/* The model's side of a 4-byte register write. */
static void model_write(uint32_t off, uint32_t v)
{
	struct mqueue *q = sel_queue();
	switch (off) {
	case FZ_REG_DEVICE_FEATURES_SEL: mz.dev_sel = v; break;
	case FZ_REG_DRIVER_FEATURES_SEL: mz.drv_sel = v; break;
	case FZ_REG_QUEUE_SEL: mz.queue_sel = v; break;
	case FZ_REG_DRIVER_FEATURES:
		/* Fixed once FEATURES_OK is set (3.1.1). */
		if (!(mz.status & VIRTIO_STATUS_FEATURES_OK) && mz.drv_sel < 2)
			set_half(&mz.driver_features, mz.drv_sel == 1, v);
		break;
	case FZ_REG_QUEUE_NUM:
		if (q && !q->ready)
			q->num = v <= VIRTQ_MAX_SIZE ? (uint16_t)v : 0;
		break;
	case FZ_REG_QUEUE_DESC_LOW:
	case FZ_REG_QUEUE_DESC_HIGH:
		if (q && !q->ready)
			set_half(&q->desc, off & 4, v);
		break;
	case FZ_REG_QUEUE_DRIVER_LOW:
	case FZ_REG_QUEUE_DRIVER_HIGH:
		if (q && !q->ready)
			set_half(&q->avail, off & 4, v);
		break;
	case FZ_REG_QUEUE_DEVICE_LOW:
	case FZ_REG_QUEUE_DEVICE_HIGH:
		if (q && !q->ready)
			set_half(&q->used, off & 4, v);
		break;
	case FZ_REG_QUEUE_READY:
		if (!q)
			break;
		if (v == 0) {
			q->ready = false;
		} else if (v == 1 && !q->ready && (mz.status & VIRTIO_STATUS_FEATURES_OK)) {
			if (layout_ok(q))
				q->ready = true;
			else
				mz.needs_reset = true;
		}
		break;
	case FZ_REG_QUEUE_NOTIFY:
		if (v < mz.nq && mz.q[v].ready && (mz.status & VIRTIO_STATUS_DRIVER_OK))
			mz.may_need_reset = true;
		break;
	case FZ_REG_STATUS: {
		if (v == 0) {
			model_reset();
			break;
		}
		uint32_t add = v & DRIVER_BITS & ~mz.status;
		bool acceptable = !(mz.driver_features & ~mz.offered) &&
				  (mz.driver_features & (1ull << VIRTIO_F_VERSION_1));
		if ((add & VIRTIO_STATUS_FEATURES_OK) && !acceptable)
			add &= ~VIRTIO_STATUS_FEATURES_OK;
		if ((add & VIRTIO_STATUS_DRIVER_OK) &&
		    !((mz.status | add) & VIRTIO_STATUS_FEATURES_OK))
			add &= ~VIRTIO_STATUS_DRIVER_OK;
		mz.status |= add;
		if ((add & VIRTIO_STATUS_DRIVER_OK) && any_ready())
			mz.may_need_reset = true;
		break;
	}
	default: break;
	}
}

/* A 4-byte register read, against the model. */
static void check_read(uint32_t off, uint32_t v)
{
	const struct mqueue *q = sel_queue();
	uint32_t want = 0;
	switch (off) {
	case FZ_REG_MAGIC: want = 0x74726976; break;
	case FZ_REG_VERSION: want = 2; break;
	case FZ_REG_DEVICE_ID: want = mz.dev.device_id; break;
	case FZ_REG_VENDOR_ID: want = mz.vendor; break;
	case FZ_REG_DEVICE_FEATURES:
		want = mz.dev_sel < 2 ? (uint32_t)(mz.offered >> (32 * mz.dev_sel)) : 0;
		break;
	case FZ_REG_QUEUE_NUM_MAX: want = q ? VIRTQ_MAX_SIZE : 0; break;
	case FZ_REG_QUEUE_READY: want = q && q->ready; break;
	case FZ_REG_INTERRUPT_STATUS:
		FZ_CHECK(!(v & ~3u), "InterruptStatus %#x", v);
		FZ_CHECK(!(v & VIRTIO_INT_CONFIG) ||
			     (mz.t.status & VIRTIO_STATUS_DEVICE_NEEDS_RESET),
			 "configuration interrupt without a configuration change");
		FZ_CHECK(!mz.just_reset || v == 0, "InterruptStatus %#x after reset", v);
		if (!mz.threaded)
			FZ_CHECK(__atomic_load_n(&mz.level, __ATOMIC_RELAXED) == (v != 0),
				 "interrupt line %d with InterruptStatus %#x", mz.level, v);
		return;
	case FZ_REG_STATUS:
		FZ_CHECK((v & ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET) == mz.status,
			 "Status %#x, the driver set %#x", v, mz.status);
		FZ_CHECK(!mz.needs_reset || (v & VIRTIO_STATUS_DEVICE_NEEDS_RESET),
			 "no DEVICE_NEEDS_RESET after a queue outside RAM (status %#x)", v);
		FZ_CHECK(!(v & VIRTIO_STATUS_DEVICE_NEEDS_RESET) || mz.needs_reset ||
			     mz.may_need_reset,
			 "DEVICE_NEEDS_RESET out of nowhere");
		return;
	case FZ_REG_SHM_LEN_LOW:
	case FZ_REG_SHM_LEN_HIGH:
	case FZ_REG_SHM_BASE_LOW:
	case FZ_REG_SHM_BASE_HIGH: want = UINT32_MAX; break; /* no such region (4.2.2) */
	case FZ_REG_CONFIG_GENERATION: want = mz.generation; break;
	default: want = 0; break;
	}
	FZ_CHECK(v == want, "register %#x reads %#x, expected %#x", off, v, want);
}

static void check_config(uint32_t off, unsigned size, uint64_t v)
{
	uint64_t want = 0;
	if (size <= 4 && off < mz.dev.config_size && size <= mz.dev.config_size - off)
		for (unsigned i = 0; i < size; i++)
			want |= (uint64_t)mz.config[off + i] << (8 * i);
	FZ_CHECK(v == want, "config %u bytes at %u read %#llx, expected %#llx", size, off,
		 (unsigned long long)v, (unsigned long long)want);
}

static void do_access(const uint8_t *a)
{
	bool write = a[0] & 1;
	unsigned size = 1u << (a[1] & 3);
	uint32_t off = fz_le16(a + 2) % VIRTIO_MMIO_SIZE;
	uint32_t val = fz_le32(a + 4);
	if (off % size)
		return; /* the bus refuses it: the hart takes an access fault */
	if (write) {
		uint64_t v = size == 8 ? (uint64_t)val * 0x100000001ull : val;
		FZ_CHECK(bus_write(&mz.bus, WINDOW + off, size, v), "write refused");
		if (off < FZ_REG_CONFIG && size == 4) {
			mz.just_reset = false;
			model_write(off, val);
		}
		return;
	}
	uint64_t v = rd(off, size);
	if (off >= FZ_REG_CONFIG)
		check_config(off - FZ_REG_CONFIG, size, v);
	else if (size == 4)
		check_read(off, (uint32_t)v);
	else
		FZ_CHECK(v == 0, "a %u-byte register read returned %#llx", size,
			 (unsigned long long)v);
}

static void make_device(unsigned kind)
{
	int err = 0;
	mz.kind = kind;
	mz.threaded = false;
	switch (kind) {
	case 0: err = virtio_rng_init(&mz.rng, &mz.dev); break;
	case 1:
		mz.chr = (struct chr){.write = chr_write, .read = chr_read};
		err = virtio_console_init(&mz.con, &mz.chr, &mz.dev);
		break;
	case 2: {
		static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
		mz.nb = (struct net_backend){nb_send, nb_attach, nb_close, NET_MTU_DEFAULT};
		err = virtio_net_init(&mz.net, &mz.nb, mac, &mz.dev);
		break;
	}
	default:
		if (!mz.path[0]) {
			mz.memfd = memfd_create("fuzz-mmio-disk", MFD_CLOEXEC);
			if (mz.memfd < 0 || ftruncate(mz.memfd, DISK_BYTES))
				abort();
			snprintf(mz.path, sizeof(mz.path), "/proc/self/fd/%d", mz.memfd);
		}
		err = blk_file_open(&mz.file, mz.path, false);
		if (!err)
			err = virtio_blk_init(&mz.blk, &mz.file, "mmio", &mz.dev);
		mz.threaded = true;
		break;
	}
	if (err) {
		fprintf(stderr, "device init: %s\n", strerror(-err));
		abort();
	}
}

static void destroy_device(void)
{
	switch (mz.kind) {
	case 0: virtio_rng_destroy(&mz.rng); break;
	case 1:
		mz.chr.notify = NULL;
		virtio_console_destroy(&mz.con);
		break;
	case 2: virtio_net_destroy(&mz.net); break;
	default:
		virtio_blk_destroy(&mz.blk);
		blk_file_close(&mz.file);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER)
		return 0;
	if (!mz.mem.hva) {
		mz.mem.hva = aligned_alloc(4096, FZ_RAM_SIZE);
		if (!mz.mem.hva)
			abort();
		mz.mem.base = FZ_RAM_BASE;
		mz.mem.size = FZ_RAM_SIZE;
		mz.mem.fd = -1;
	}
	size_t n = fz_le16(data + 2);
	if (n > MAX_ACCESS)
		n = MAX_ACCESS;
	if (n > (size - HEADER) / ACCESS)
		n = (size - HEADER) / ACCESS;
	const uint8_t *acc = data + HEADER, *img = acc + n * ACCESS;
	size_t img_len = size - HEADER - n * ACCESS;
	if (img_len > FZ_RAM_SIZE)
		img_len = FZ_RAM_SIZE;
	memset(mz.mem.hva, 0, FZ_RAM_SIZE);
	memcpy(mz.mem.hva, img, img_len);

	make_device(data[0] % 4);
	mz.nq = mz.dev.num_queues < NQ_MAX ? mz.dev.num_queues : NQ_MAX;
	mz.bus.count = 0;
	mz.level = false;
	if (virtio_mmio_init(&mz.t, &mz.dev, &mz.mem, (struct irq_line){.set = irq_fn}) ||
	    bus_add(&mz.bus, WINDOW, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, &mz.t, "virtio"))
		abort();
	/* Facts that never change: the offer, VendorID, the configuration space. */
	bus_write(&mz.bus, WINDOW + FZ_REG_DEVICE_FEATURES_SEL, 4, 1);
	mz.offered = rd(FZ_REG_DEVICE_FEATURES, 4) << 32;
	bus_write(&mz.bus, WINDOW + FZ_REG_DEVICE_FEATURES_SEL, 4, 0);
	mz.offered |= rd(FZ_REG_DEVICE_FEATURES, 4);
	FZ_CHECK(mz.offered & (1ull << VIRTIO_F_VERSION_1), "no VIRTIO_F_VERSION_1");
	mz.vendor = (uint32_t)rd(FZ_REG_VENDOR_ID, 4);
	mz.generation = (uint32_t)rd(FZ_REG_CONFIG_GENERATION, 4);
	for (uint32_t i = 0; i < mz.dev.config_size && i < sizeof(mz.config); i++)
		mz.config[i] = (uint8_t)rd(FZ_REG_CONFIG + i, 1);
	model_reset();
	mz.just_reset = false;

	for (size_t i = 0; i < n; i++)
		do_access(acc + ACCESS * i);

	destroy_device();
	virtio_mmio_destroy(&mz.t);
	return 0;
}
