/* Unit tests of the virtio-mmio transport (virtio 1.2 section 4.2) through the bus, with a fake
 * device and real guest RAM: register reset values, feature negotiation, queue programming,
 * notifications to the device and interrupts back, device reset, configuration space and
 * generation, and that accesses of the wrong size or garbage values are ignored. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#define BASE 0x10001000ull
/* Registers (4.2.2). */
#define MAGIC         (BASE + 0x000)
#define VERSION       (BASE + 0x004)
#define DEVICE_ID     (BASE + 0x008)
#define VENDOR_ID     (BASE + 0x00c)
#define DEV_FEAT      (BASE + 0x010)
#define DEV_FEAT_SEL  (BASE + 0x014)
#define DRV_FEAT      (BASE + 0x020)
#define DRV_FEAT_SEL  (BASE + 0x024)
#define QUEUE_SEL     (BASE + 0x030)
#define QUEUE_NUM_MAX (BASE + 0x034)
#define QUEUE_NUM     (BASE + 0x038)
#define QUEUE_READY   (BASE + 0x044)
#define QUEUE_NOTIFY  (BASE + 0x050)
#define INT_STATUS    (BASE + 0x060)
#define INT_ACK       (BASE + 0x064)
#define STATUS        (BASE + 0x070)
#define DESC_LOW      (BASE + 0x080)
#define DESC_HIGH     (BASE + 0x084)
#define DRIVER_LOW    (BASE + 0x090)
#define DRIVER_HIGH   (BASE + 0x094)
#define DEVICE_LOW    (BASE + 0x0a0)
#define DEVICE_HIGH   (BASE + 0x0a4)
#define SHM_SEL       (BASE + 0x0ac)
#define SHM_LEN_LOW   (BASE + 0x0b0)
#define SHM_LEN_HIGH  (BASE + 0x0b4)
#define SHM_BASE_LOW  (BASE + 0x0b8)
#define SHM_BASE_HIGH (BASE + 0x0bc)
#define QUEUE_RESET   (BASE + 0x0c0)
#define CONFIG_GEN    (BASE + 0x0fc)
#define CONFIG        (BASE + 0x100)

#define RAM_BASE  0x80000000ull
#define RAM_SIZE  0x100000ull
#define DESC_GPA  (RAM_BASE + 0x1000)
#define AVAIL_GPA (RAM_BASE + 0x2000)
#define USED_GPA  (RAM_BASE + 0x3000)
#define DATA_GPA  (RAM_BASE + 0x10000)
#define QNUM      16
#define NQUEUES   2
#define CFG_SIZE  8

#define ACK       VIRTIO_STATUS_ACKNOWLEDGE
#define DRIVER    VIRTIO_STATUS_DRIVER
#define FEAT_OK   VIRTIO_STATUS_FEATURES_OK
#define DRIVER_OK VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RST VIRTIO_STATUS_DEVICE_NEEDS_RESET

/* Device feature bits of the fake device: two device-specific ones, and bit 30 in the
 * transport's range, which the transport must not pass on. */
#define FAKE_FEATURES ((1ull << 0) | (1ull << 60) | (1ull << 30))

struct fixture {
	struct guest_mem mem;
	struct bus bus;
	struct virtio_transport t;
	/* The interrupt line. */
	bool level;
	unsigned irq_calls;
	/* The fake device. */
	uint8_t config[CFG_SIZE];
	unsigned config_reads, config_writes, last_off, last_size;
	unsigned notifies, last_q, resets;
	bool serve;         /* notify pops and completes every request */
	uint32_t serve_len; /* bytes reported written for each */
	int last_pop;
	struct virtq_req req;
	/* Threaded mode: notify only wakes a device thread, which serves the queue. */
	bool threaded;
	pthread_mutex_t kick_lock;
	pthread_cond_t kick_cond;
	unsigned kicks;
	bool stop;
};

static void irq_fn(void *opaque, unsigned num, bool level)
{
	struct fixture *f = opaque;
	assert_int_equal(num, 5);
	f->level = level;
	f->irq_calls++;
}

static uint32_t cfg_read(void *opaque, uint32_t off, unsigned size)
{
	struct fixture *f = opaque;
	assert_true(off + size <= CFG_SIZE);
	f->config_reads++;
	f->last_off = off;
	f->last_size = size;
	uint32_t v = 0;
	memcpy(&v, f->config + off, size);
	return le32toh(v);
}

static void cfg_write(void *opaque, uint32_t off, unsigned size, uint32_t val)
{
	struct fixture *f = opaque;
	assert_true(off + size <= CFG_SIZE);
	f->config_writes++;
	f->last_off = off;
	f->last_size = size;
	val = htole32(val);
	memcpy(f->config + off, &val, size);
}

static void notify(void *opaque, struct virtio_transport *t, unsigned q)
{
	struct fixture *f = opaque;
	if (f->threaded) {
		pthread_mutex_lock(&f->kick_lock);
		f->kicks++;
		pthread_cond_signal(&f->kick_cond);
		pthread_mutex_unlock(&f->kick_lock);
		return;
	}
	/* Called without the transport's lock held. */
	assert_int_equal(pthread_mutex_trylock(&t->lock), 0);
	pthread_mutex_unlock(&t->lock);
	f->notifies++;
	f->last_q = q;
	if (!f->serve)
		return;
	while ((f->last_pop = virtio_pop(t, q, &f->req)) > 0)
		virtio_complete(t, q, f->req.epoch, f->req.head, f->serve_len);
}

static void dev_reset(void *opaque)
{
	struct fixture *f = opaque;
	f->resets++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(guest_mem_init(&f->mem, RAM_BASE, RAM_SIZE), 0);
	for (unsigned i = 0; i < CFG_SIZE; i++)
		f->config[i] = (uint8_t)(0x10 + i);
	struct virtio_dev dev = {
	    .device_id = 4,
	    .features = FAKE_FEATURES,
	    .num_queues = NQUEUES,
	    .config_size = CFG_SIZE,
	    .opaque = f,
	    .config_read = cfg_read,
	    .config_write = cfg_write,
	    .queue_notify = notify,
	    .reset = dev_reset,
	};
	assert_int_equal(virtio_mmio_init(&f->t, &dev, &f->mem, (struct irq_line){irq_fn, f, 5}),
			 0);
	assert_int_equal(bus_add(&f->bus, BASE, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, &f->t, "vio"),
			 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	virtio_mmio_destroy(&f->t);
	guest_mem_destroy(&f->mem);
	free(f);
	return 0;
}

static uint64_t rd_n(struct fixture *f, uint64_t gpa, unsigned size)
{
	uint64_t v = 0xdeadbeef;
	assert_true(bus_read(&f->bus, gpa, size, &v));
	return v;
}

static uint32_t rd(struct fixture *f, uint64_t gpa)
{
	return (uint32_t)rd_n(f, gpa, 4);
}

static void wr_n(struct fixture *f, uint64_t gpa, unsigned size, uint64_t v)
{
	assert_true(bus_write(&f->bus, gpa, size, v));
}

static void wr(struct fixture *f, uint64_t gpa, uint32_t v)
{
	wr_n(f, gpa, 4, v);
}

static void put16(struct fixture *f, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(guest_mem_ptr(&f->mem, gpa, 2), &v, 2);
}

static uint32_t get32(struct fixture *f, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, guest_mem_ptr(&f->mem, gpa, 4), 4);
	return le32toh(v);
}

static void write_features(struct fixture *f, uint64_t features)
{
	wr(f, DRV_FEAT_SEL, 0);
	wr(f, DRV_FEAT, (uint32_t)features);
	wr(f, DRV_FEAT_SEL, 1);
	wr(f, DRV_FEAT, (uint32_t)(features >> 32));
}

/* 3.1.1 steps 1-6. Returns the status read back after writing FEATURES_OK. */
static uint32_t negotiate(struct fixture *f, uint64_t features)
{
	wr(f, STATUS, 0);
	wr(f, STATUS, ACK);
	wr(f, STATUS, ACK | DRIVER);
	write_features(f, features);
	wr(f, STATUS, ACK | DRIVER | FEAT_OK);
	return rd(f, STATUS);
}

/* 4.2.3.2: program queue q at the fixture's ring addresses. */
static void setup_queue(struct fixture *f, unsigned q, uint32_t num)
{
	wr(f, QUEUE_SEL, q);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	assert_int_equal(rd(f, QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	wr(f, QUEUE_NUM, num);
	wr(f, DESC_LOW, (uint32_t)DESC_GPA);
	wr(f, DESC_HIGH, (uint32_t)(DESC_GPA >> 32));
	wr(f, DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(f, DRIVER_HIGH, (uint32_t)(AVAIL_GPA >> 32));
	wr(f, DEVICE_LOW, (uint32_t)USED_GPA);
	wr(f, DEVICE_HIGH, (uint32_t)(USED_GPA >> 32));
	wr(f, QUEUE_READY, 1);
}

/* The whole driver start-up with features, queue 0 ready, DRIVER_OK. */
static void driver_start(struct fixture *f, uint64_t features)
{
	assert_int_equal(negotiate(f, features), ACK | DRIVER | FEAT_OK);
	setup_queue(f, 0, QNUM);
	assert_int_equal(rd(f, QUEUE_READY), 1);
	wr(f, STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	assert_int_equal(rd(f, STATUS), ACK | DRIVER | FEAT_OK | DRIVER_OK);
}

static void set_desc(struct fixture *f, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = guest_mem_ptr(&f->mem, DESC_GPA + 16ull * i, 16);
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t fl = htole16(flags), n = htole16(next);
	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &fl, 2);
	memcpy(d + 14, &n, 2);
}

static void make_avail(struct fixture *f, uint16_t idx, uint16_t head)
{
	put16(f, AVAIL_GPA + 4 + 2ull * (idx % QNUM), head);
	put16(f, AVAIL_GPA + 2, (uint16_t)(idx + 1));
}

/* A request popped before a reset, or before its queue was disabled and set up again, is
 * never completed into the new ring: the driver has forgotten it and may have reused the
 * descriptor (2.4, 4.2.3.1). Completions of the current epoch still land. */
static void test_stale_completion(void **state)
{
	struct fixture *f = *state;
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	set_desc(f, 0, DATA_GPA, 4, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0, 0);
	struct virtq_req old;
	assert_int_equal(virtio_pop(&f->t, 0, &old), 1);

	/* Device reset, then the driver starts again on the same ring memory. */
	put16(f, USED_GPA + 2, 0);
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	virtio_complete(&f->t, 0, old.epoch, old.head, 4);
	assert_int_equal(get32(f, USED_GPA) >> 16, 0);
	assert_int_equal(rd(f, INT_STATUS), 0);

	/* The same through QueueReady 0 and 1 without a device reset. */
	make_avail(f, 0, 0);
	assert_int_equal(virtio_pop(&f->t, 0, &old), 1);
	wr(f, QUEUE_SEL, 0);
	wr(f, QUEUE_READY, 0);
	wr(f, QUEUE_READY, 1);
	assert_int_equal(rd(f, QUEUE_READY), 1);
	virtio_complete(&f->t, 0, old.epoch, old.head, 4);
	assert_int_equal(get32(f, USED_GPA) >> 16, 0);

	/* A request of the current epoch completes. */
	make_avail(f, 0, 0);
	struct virtq_req cur;
	assert_int_equal(virtio_pop(&f->t, 0, &cur), 1);
	assert_int_not_equal(cur.epoch, old.epoch);
	const struct virtq_used_elem e[] = {{.id = cur.head, .len = 4}};
	virtio_complete_batch(&f->t, 0, old.epoch, e, 1);
	assert_int_equal(get32(f, USED_GPA) >> 16, 0);
	virtio_complete_batch(&f->t, 0, cur.epoch, e, 1);
	assert_int_equal(get32(f, USED_GPA) >> 16, 1);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_VRING);
}

/* Devices read the negotiated feature bits from the transport: none until FEATURES_OK, the
 * driver's accepted set after, none again after a reset. */
static void test_driver_features(void **state)
{
	struct fixture *f = *state;
	uint64_t want = (1ull << VIRTIO_F_VERSION_1) | (1ull << 0);
	assert_int_equal(virtio_driver_features(&f->t), 0);
	wr(f, STATUS, ACK);
	wr(f, STATUS, ACK | DRIVER);
	write_features(f, want);
	assert_int_equal(virtio_driver_features(&f->t), 0);
	wr(f, STATUS, ACK | DRIVER | FEAT_OK);
	assert_int_equal(virtio_driver_features(&f->t), want);
	/* Refused FEATURES_OK (an offer the device never made): still none. */
	assert_int_equal(negotiate(f, want | (1ull << 2)), ACK | DRIVER);
	assert_int_equal(virtio_driver_features(&f->t), 0);
	wr(f, STATUS, 0);
	assert_int_equal(virtio_driver_features(&f->t), 0);
}

static void test_reset_values(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, MAGIC), 0x74726976);
	assert_int_equal(rd(f, VERSION), 2);
	assert_int_equal(rd(f, DEVICE_ID), 4);
	assert_int_equal(rd(f, VENDOR_ID), 0x53495652); /* "RVIS" */
	assert_int_equal(rd(f, STATUS), 0);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_int_equal(rd(f, CONFIG_GEN), 0);
	assert_int_equal(rd(f, QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	assert_int_equal(rd(f, QUEUE_RESET), 0);
	/* Queues beyond the device's are not available (QueueNumMax 0). */
	wr(f, QUEUE_SEL, NQUEUES);
	assert_int_equal(rd(f, QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	wr(f, QUEUE_SEL, 0xffffffff);
	assert_int_equal(rd(f, QUEUE_NUM_MAX), 0);
	/* No shared memory: length and base of any region read as -1. */
	for (uint32_t sel = 0; sel < 3; sel++) {
		wr(f, SHM_SEL, sel);
		assert_int_equal(rd(f, SHM_LEN_LOW), 0xffffffff);
		assert_int_equal(rd(f, SHM_LEN_HIGH), 0xffffffff);
		assert_int_equal(rd(f, SHM_BASE_LOW), 0xffffffff);
		assert_int_equal(rd(f, SHM_BASE_HIGH), 0xffffffff);
	}
	assert_false(f->level);
}

static void test_device_features(void **state)
{
	struct fixture *f = *state;
	wr(f, DEV_FEAT_SEL, 0);
	uint32_t lo = rd(f, DEV_FEAT);
	wr(f, DEV_FEAT_SEL, 1);
	uint32_t hi = rd(f, DEV_FEAT);
	uint64_t feat = (uint64_t)hi << 32 | lo;
	uint64_t want = (1ull << 0) | (1ull << 60) | (1ull << VIRTIO_F_VERSION_1) |
			(1ull << VIRTIO_F_RING_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC);
	assert_int_equal(feat, want);
	wr(f, DEV_FEAT_SEL, 2);
	assert_int_equal(rd(f, DEV_FEAT), 0);
	wr(f, DEV_FEAT_SEL, 0xffffffff);
	assert_int_equal(rd(f, DEV_FEAT), 0);
}

static void test_feature_negotiation(void **state)
{
	struct fixture *f = *state;
	uint64_t v1 = 1ull << VIRTIO_F_VERSION_1;
	/* A subset of the offer including VERSION_1 is accepted (2.2.2). */
	assert_int_equal(negotiate(f, v1), ACK | DRIVER | FEAT_OK);
	assert_int_equal(f->t.driver_features, v1);
	assert_int_equal(negotiate(f, v1 | (1ull << 60) | (1ull << VIRTIO_F_RING_EVENT_IDX)),
			 ACK | DRIVER | FEAT_OK);
	/* Without VERSION_1 there is no version 2 device (6.2). */
	assert_int_equal(negotiate(f, 1ull << 0), ACK | DRIVER);
	assert_int_equal(negotiate(f, 0), ACK | DRIVER);
	/* Bits that were not offered, including a masked transport bit. */
	assert_int_equal(negotiate(f, v1 | (1ull << 1)), ACK | DRIVER);
	assert_int_equal(negotiate(f, v1 | (1ull << 30)), ACK | DRIVER);
	assert_int_equal(negotiate(f, v1 | (1ull << 63)), ACK | DRIVER);
	/* A failed FEATURES_OK leaves DRIVER_OK out too. */
	wr(f, STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	assert_int_equal(rd(f, STATUS), ACK | DRIVER);

	/* Words beyond the second are ignored. */
	wr(f, STATUS, 0);
	write_features(f, v1);
	wr(f, DRV_FEAT_SEL, 2);
	wr(f, DRV_FEAT, 0xffffffff);
	assert_int_equal(f->t.driver_features, v1);

	/* Once FEATURES_OK is set the features are frozen. */
	assert_int_equal(negotiate(f, v1), ACK | DRIVER | FEAT_OK);
	write_features(f, v1 | 1);
	assert_int_equal(f->t.driver_features, v1);
	/* Status bits are only added: writing fewer does not clear them. */
	wr(f, STATUS, ACK);
	assert_int_equal(rd(f, STATUS), ACK | DRIVER | FEAT_OK);
	/* FAILED can be set; DEVICE_NEEDS_RESET is the device's alone. */
	wr(f, STATUS, ACK | DRIVER | FEAT_OK | VIRTIO_STATUS_FAILED | NEEDS_RST);
	assert_int_equal(rd(f, STATUS), ACK | DRIVER | FEAT_OK | VIRTIO_STATUS_FAILED);
}

static void test_queue_programming(void **state)
{
	struct fixture *f = *state;
	/* QueueReady before features are settled is ignored. */
	wr(f, STATUS, ACK | DRIVER);
	setup_queue(f, 0, QNUM);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	assert_int_equal(rd(f, STATUS) & NEEDS_RST, 0);

	assert_int_equal(
	    negotiate(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX)),
	    ACK | DRIVER | FEAT_OK);
	setup_queue(f, 1, 64);
	assert_int_equal(rd(f, QUEUE_READY), 1);
	struct virtq *q = &f->t.vq[1];
	assert_true(q->ready);
	assert_int_equal(q->num, 64);
	assert_int_equal(q->desc_gpa, DESC_GPA);
	assert_int_equal(q->avail_gpa, AVAIL_GPA);
	assert_int_equal(q->used_gpa, USED_GPA);
	assert_true(q->event_idx);
	assert_false(q->indirect);
	/* QueueSel picks what QueueReady reads. */
	wr(f, QUEUE_SEL, 0);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	wr(f, QUEUE_SEL, 1);

	/* Layout registers are frozen while the queue is ready. */
	wr(f, QUEUE_NUM, 8);
	wr(f, DESC_LOW, 0x1230);
	wr(f, DESC_HIGH, 1);
	wr(f, DRIVER_LOW, 0x2000);
	wr(f, DEVICE_HIGH, 7);
	assert_int_equal(q->num, 64);
	assert_int_equal(q->desc_gpa, DESC_GPA);
	assert_int_equal(q->avail_gpa, AVAIL_GPA);
	assert_int_equal(q->used_gpa, USED_GPA);
	/* Write-only registers read as 0. */
	assert_int_equal(rd(f, QUEUE_NUM), 0);
	assert_int_equal(rd(f, DESC_LOW), 0);

	/* QueueReady 0 stops the queue; then it can be reprogrammed. */
	wr(f, QUEUE_READY, 0);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	wr(f, QUEUE_NUM, 8);
	assert_int_equal(q->num, 8);
	wr(f, QUEUE_READY, 1);
	assert_int_equal(rd(f, QUEUE_READY), 1);
	assert_int_equal(q->num, 8);
	assert_int_equal(rd(f, STATUS) & NEEDS_RST, 0);

	/* A queue the device does not have ignores everything. */
	wr(f, QUEUE_SEL, NQUEUES);
	wr(f, QUEUE_NUM, 8);
	wr(f, QUEUE_READY, 1);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	assert_false(f->t.vq[NQUEUES].ready);
}

static void test_queue_bad_layout(void **state)
{
	struct fixture *f = *state;
	static const uint32_t bad_num[] = {0, 3, 100, 2 * VIRTQ_MAX_SIZE, 0x10010};
	for (unsigned i = 0; i < sizeof(bad_num) / sizeof(bad_num[0]); i++) {
		assert_int_equal(negotiate(f, 1ull << VIRTIO_F_VERSION_1), ACK | DRIVER | FEAT_OK);
		setup_queue(f, 0, bad_num[i]);
		assert_int_equal(rd(f, QUEUE_READY), 0);
		assert_int_equal(rd(f, STATUS), ACK | DRIVER | FEAT_OK | NEEDS_RST);
	}
	/* Rings outside RAM, or misaligned. */
	assert_int_equal(negotiate(f, 1ull << VIRTIO_F_VERSION_1), ACK | DRIVER | FEAT_OK);
	wr(f, QUEUE_SEL, 0);
	wr(f, QUEUE_NUM, QNUM);
	wr(f, DESC_LOW, (uint32_t)DESC_GPA);
	wr(f, DESC_HIGH, 1); /* 0x1_8000_1000: beyond RAM */
	wr(f, DRIVER_LOW, (uint32_t)AVAIL_GPA);
	wr(f, DEVICE_LOW, (uint32_t)USED_GPA);
	wr(f, QUEUE_READY, 1);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	assert_int_equal(rd(f, STATUS) & NEEDS_RST, NEEDS_RST);

	assert_int_equal(negotiate(f, 1ull << VIRTIO_F_VERSION_1), ACK | DRIVER | FEAT_OK);
	setup_queue(f, 0, QNUM);
	assert_int_equal(rd(f, QUEUE_READY), 1);
	wr(f, QUEUE_READY, 0);
	wr(f, DEVICE_LOW, (uint32_t)USED_GPA + 2);
	wr(f, QUEUE_READY, 1);
	assert_int_equal(rd(f, QUEUE_READY), 0);
	assert_int_equal(rd(f, STATUS) & NEEDS_RST, NEEDS_RST);
	/* Not yet DRIVER_OK: no configuration change interrupt. */
	assert_int_equal(rd(f, INT_STATUS), 0);
	/* Reset clears DEVICE_NEEDS_RESET. */
	wr(f, STATUS, 0);
	assert_int_equal(rd(f, STATUS), 0);
}

static void test_notify(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(negotiate(f, 1ull << VIRTIO_F_VERSION_1), ACK | DRIVER | FEAT_OK);
	setup_queue(f, 0, QNUM);
	/* Not before DRIVER_OK... */
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->notifies, 0);
	/* ...but DRIVER_OK itself notifies every ready queue, once. */
	wr(f, STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(f->last_q, 0);
	wr(f, STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	assert_int_equal(f->notifies, 1);
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->notifies, 2);
	assert_int_equal(f->last_q, 0);
	/* Queue 1 is not ready; 2 and beyond do not exist. */
	wr(f, QUEUE_NOTIFY, 1);
	wr(f, QUEUE_NOTIFY, NQUEUES);
	wr(f, QUEUE_NOTIFY, 0x10000);
	wr(f, QUEUE_NOTIFY, 0xffffffff);
	assert_int_equal(f->notifies, 2);
	setup_queue(f, 1, QNUM);
	wr(f, QUEUE_NOTIFY, 1);
	assert_int_equal(f->notifies, 3);
	assert_int_equal(f->last_q, 1);
	/* Reading QueueNotify does nothing. */
	assert_int_equal(rd(f, QUEUE_NOTIFY), 0);
	assert_int_equal(f->notifies, 3);
}

static void test_request_roundtrip(void **state)
{
	struct fixture *f = *state;
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	f->serve = true;
	f->serve_len = 3;
	set_desc(f, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, DATA_GPA + 0x100, 4, VIRTQ_DESC_F_WRITE, 0);
	make_avail(f, 0, 0);
	unsigned calls = f->irq_calls, notifies = f->notifies;
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->notifies, notifies + 1);
	assert_int_equal(f->last_pop, 0);
	assert_int_equal(f->req.nout, 1);
	assert_int_equal(f->req.nin, 1);
	/* Used ring: idx 1, element {0, 3}. */
	assert_int_equal(get32(f, USED_GPA) >> 16, 1);
	assert_int_equal(get32(f, USED_GPA + 4), 0);
	assert_int_equal(get32(f, USED_GPA + 8), 3);
	/* Used buffer notification: InterruptStatus bit 0 and the line up. */
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_VRING);
	assert_true(f->level);
	assert_int_equal(f->irq_calls, calls + 1);
	wr(f, INT_ACK, VIRTIO_INT_VRING);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_false(f->level);

	/* The driver asks for no interrupts: none. */
	put16(f, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	make_avail(f, 1, 0);
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(get32(f, USED_GPA) >> 16, 2);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_false(f->level);

	/* Completing on a queue that is not ready, or does not exist, does nothing. */
	virtio_complete(&f->t, 1, f->t.vq[1].epoch, 0, 1);
	virtio_complete(&f->t, 100, 0, 0, 1);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_int_equal(virtio_pop(&f->t, 1, &f->req), 0);
	assert_int_equal(virtio_pop(&f->t, 100, &f->req), 0);
}

static void test_early_buffers(void **state)
{
	struct fixture *f = *state;
	/* A driver that makes buffers available before DRIVER_OK has them served when it sets
	 * DRIVER_OK; notifications before it are ignored (3.1.1). */
	f->serve = true;
	assert_int_equal(negotiate(f, 1ull << VIRTIO_F_VERSION_1), ACK | DRIVER | FEAT_OK);
	setup_queue(f, 0, QNUM);
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	make_avail(f, 0, 0);
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->notifies, 0);
	assert_int_equal(virtio_pop(&f->t, 0, &f->req), 0);
	assert_int_equal(get32(f, USED_GPA) >> 16, 0);
	wr(f, STATUS, ACK | DRIVER | FEAT_OK | DRIVER_OK);
	assert_int_equal(f->notifies, 1);
	assert_int_equal(get32(f, USED_GPA) >> 16, 1);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_VRING);
}

static void test_malformed_ring(void **state)
{
	struct fixture *f = *state;
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	f->serve = true;
	/* A descriptor outside RAM. */
	set_desc(f, 0, 0x1000, 16, 0, 0);
	make_avail(f, 0, 0);
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->last_pop, -EINVAL);
	unsigned notifies = f->notifies;
	/* DEVICE_NEEDS_RESET, and the driver is told by a configuration change interrupt. */
	assert_int_equal(rd(f, STATUS) & NEEDS_RST, NEEDS_RST);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_CONFIG);
	assert_true(f->level);
	/* The broken device takes no more requests. */
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->notifies, notifies);
	assert_int_equal(virtio_pop(&f->t, 0, &f->req), 0);
	/* Reset brings it back. */
	unsigned resets = f->resets;
	wr(f, STATUS, 0);
	assert_int_equal(f->resets, resets + 1);
	assert_false(f->level);
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->last_pop, 0);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_VRING);
}

static void test_status_reset(void **state)
{
	struct fixture *f = *state;
	driver_start(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC));
	setup_queue(f, 1, 32);
	virtio_config_changed(&f->t);
	assert_true(f->level);
	wr(f, QUEUE_SEL, 1);
	wr(f, DEV_FEAT_SEL, 1);
	wr(f, DRV_FEAT_SEL, 1);
	unsigned resets = f->resets;

	wr(f, STATUS, 0);
	assert_int_equal(f->resets, resets + 1);
	assert_int_equal(rd(f, STATUS), 0);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_false(f->level);
	assert_int_equal(f->t.driver_features, 0);
	assert_int_equal(f->t.queue_sel, 0);
	assert_int_equal(f->t.device_features_sel, 0);
	assert_int_equal(f->t.driver_features_sel, 0);
	for (unsigned i = 0; i < NQUEUES; i++) {
		wr(f, QUEUE_SEL, i);
		assert_int_equal(rd(f, QUEUE_READY), 0);
		struct virtq *q = &f->t.vq[i];
		assert_false(q->ready);
		assert_int_equal(q->desc_gpa, 0);
		assert_int_equal(q->avail_gpa, 0);
		assert_int_equal(q->used_gpa, 0);
		assert_int_equal(q->last_avail, 0);
		assert_int_equal(q->used_idx, 0);
		assert_false(q->indirect);
	}
	/* The generation is not reset: a driver must never see an old value again. */
	assert_int_equal(rd(f, CONFIG_GEN), 1);
	/* Reset twice is harmless. */
	wr(f, STATUS, 0);
	assert_int_equal(f->resets, resets + 2);
	assert_int_equal(rd(f, STATUS), 0);
}

static void test_interrupt_ack(void **state)
{
	struct fixture *f = *state;
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	f->serve = true;
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	make_avail(f, 0, 0);
	wr(f, QUEUE_NOTIFY, 0);
	virtio_config_changed(&f->t);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_VRING | VIRTIO_INT_CONFIG);
	assert_true(f->level);
	unsigned calls = f->irq_calls;
	/* Undefined bits and bits not set change nothing. */
	wr(f, INT_ACK, 0xfffffffc);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_VRING | VIRTIO_INT_CONFIG);
	wr(f, INT_ACK, VIRTIO_INT_VRING);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_CONFIG);
	assert_true(f->level);
	wr(f, INT_ACK, VIRTIO_INT_CONFIG);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_false(f->level);
	/* The line moved once: down. */
	assert_int_equal(f->irq_calls, calls + 1);
	/* InterruptStatus is read-only. */
	wr(f, INT_STATUS, 3);
	assert_int_equal(rd(f, INT_STATUS), 0);
}

static void test_bad_sizes(void **state)
{
	struct fixture *f = *state;
	/* Registers take 32-bit accesses only (4.2.2.2); others read 0 and write nothing. */
	static const unsigned sizes[] = {1, 2, 8};
	for (unsigned i = 0; i < 3; i++) {
		unsigned s = sizes[i];
		assert_int_equal(rd_n(f, MAGIC, s), 0);
		assert_int_equal(rd_n(f, DEVICE_ID, s), 0);
		wr_n(f, STATUS, s, ACK);
		wr_n(f, QUEUE_SEL, s, 1);
		wr_n(f, DRV_FEAT, s, 0xffffffff);
	}
	assert_int_equal(rd(f, STATUS), 0);
	assert_int_equal(f->t.queue_sel, 0);
	assert_int_equal(f->t.driver_features, 0);
	/* Configuration space: 1, 2, 4 bytes only. */
	unsigned reads = f->config_reads, writes = f->config_writes;
	assert_int_equal(rd_n(f, CONFIG, 8), 0);
	wr_n(f, CONFIG, 8, 0x1122334455667788ull);
	assert_int_equal(f->config_reads, reads);
	assert_int_equal(f->config_writes, writes);
	/* Misaligned accesses never reach the device (the bus refuses them). */
	uint64_t v;
	assert_false(bus_read(&f->bus, MAGIC + 1, 4, &v));
	/* Reserved offsets read 0 and ignore writes. */
	assert_int_equal(rd(f, BASE + 0x018), 0);
	assert_int_equal(rd(f, BASE + 0x0f8), 0);
	wr(f, BASE + 0x018, 0xffffffff);
	wr(f, QUEUE_RESET, 1);
	wr(f, CONFIG_GEN, 5);
	wr(f, MAGIC, 0);
	assert_int_equal(rd(f, MAGIC), 0x74726976);
	assert_int_equal(rd(f, CONFIG_GEN), 0);
	assert_int_equal(rd(f, QUEUE_RESET), 0);
}

static void test_config_space(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd_n(f, CONFIG + 0, 1), 0x10);
	assert_int_equal(f->last_off, 0);
	assert_int_equal(f->last_size, 1);
	assert_int_equal(rd_n(f, CONFIG + 6, 2), 0x1716);
	assert_int_equal(f->last_off, 6);
	assert_int_equal(f->last_size, 2);
	assert_int_equal(rd(f, CONFIG + 4), 0x17161514);
	assert_int_equal(f->last_size, 4);
	unsigned reads = f->config_reads;
	/* Beyond config_size: 0, and the device is not asked. */
	assert_int_equal(rd_n(f, CONFIG + CFG_SIZE, 1), 0);
	assert_int_equal(rd(f, CONFIG + CFG_SIZE), 0);
	assert_int_equal(rd(f, BASE + VIRTIO_MMIO_SIZE - 4), 0);
	assert_int_equal(f->config_reads, reads);

	wr_n(f, CONFIG + 1, 1, 0xab);
	assert_int_equal(f->config[1], 0xab);
	wr_n(f, CONFIG + 4, 4, 0xa1b2c3d4);
	assert_int_equal(f->config[4], 0xd4);
	assert_int_equal(f->config[7], 0xa1);
	unsigned writes = f->config_writes;
	wr(f, CONFIG + CFG_SIZE, 1);
	wr_n(f, CONFIG + 0xe00, 2, 1);
	assert_int_equal(f->config_writes, writes);
}

static void test_config_generation(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(rd(f, CONFIG_GEN), 0);
	/* Before DRIVER_OK: the generation moves, no interrupt. */
	virtio_config_changed(&f->t);
	assert_int_equal(rd(f, CONFIG_GEN), 1);
	assert_int_equal(rd(f, INT_STATUS), 0);
	assert_false(f->level);
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	virtio_config_changed(&f->t);
	assert_int_equal(rd(f, CONFIG_GEN), 2);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_CONFIG);
	assert_true(f->level);
	/* Stable while nothing changes. */
	assert_int_equal(rd(f, CONFIG_GEN), 2);
}

static void test_init_invalid(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport t;
	struct virtio_dev dev = {.device_id = 2, .num_queues = 1};
	struct irq_line irq = {0};
	assert_int_equal(virtio_mmio_init(&t, &dev, &f->mem, irq), 0);
	virtio_mmio_destroy(&t);
	assert_int_equal(virtio_mmio_init(&t, &dev, NULL, irq), -EINVAL);
	dev.num_queues = 0;
	assert_int_equal(virtio_mmio_init(&t, &dev, &f->mem, irq), -EINVAL);
	dev.num_queues = VIRTIO_MAX_QUEUES + 1;
	assert_int_equal(virtio_mmio_init(&t, &dev, &f->mem, irq), -EINVAL);
	dev.num_queues = VIRTIO_MAX_QUEUES;
	dev.config_size = 4; /* no config_read */
	assert_int_equal(virtio_mmio_init(&t, &dev, &f->mem, irq), -EINVAL);
	dev.config_read = cfg_read;
	dev.config_size = VIRTIO_MMIO_SIZE - 0x100 + 1;
	assert_int_equal(virtio_mmio_init(&t, &dev, &f->mem, irq), -EINVAL);
	dev.config_size = VIRTIO_MMIO_SIZE - 0x100;
	assert_int_equal(virtio_mmio_init(&t, &dev, &f->mem, irq), 0);
	virtio_mmio_destroy(&t);
}

/* xorshift64: a repeatable stream of garbage. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_garbage(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	/* Garbage at every offset and size, with rings pointing into random RAM; then the device
	 * must still come up cleanly. */
	for (unsigned round = 0; round < 20; round++) {
		for (uint64_t off = 0; off < VIRTIO_MMIO_SIZE; off += 4) {
			unsigned size = 1u << (next_rand(&seed) % 4);
			uint64_t gpa = BASE + (off & ~(uint64_t)(size - 1));
			uint64_t v = next_rand(&seed);
			if (off <= 0xa4 && (v & 1))
				v = RAM_BASE + (v % RAM_SIZE); /* sometimes plausible */
			if (off == 0x70 && (v & 2))
				v = ACK | DRIVER | FEAT_OK | DRIVER_OK;
			if (off == 0x30 || off == 0x50)
				v %= 4;
			wr_n(f, gpa, size, v);
			(void)rd_n(f, gpa, size);
		}
	}
	f->serve = true;
	wr(f, STATUS, 0);
	memset(guest_mem_ptr(&f->mem, AVAIL_GPA, 0x2000), 0, 0x2000);
	set_desc(f, 0, DATA_GPA, 16, 0, 0);
	make_avail(f, 0, 0);
	driver_start(f, 1ull << VIRTIO_F_VERSION_1);
	wr(f, QUEUE_NOTIFY, 0);
	assert_int_equal(f->last_pop, 0);
	assert_int_equal(get32(f, USED_GPA) >> 16, 1);
	assert_int_equal(rd(f, INT_STATUS), VIRTIO_INT_VRING);
}

#define THREAD_REQS 20000
#define INFLIGHT    (QNUM / 2)

/* The device thread: serve queue 0 after each notification until told to stop. */
static void *device_thread(void *opaque)
{
	struct fixture *f = opaque;
	unsigned seen = 0;
	pthread_mutex_lock(&f->kick_lock);
	for (;;) {
		while (f->kicks == seen && !f->stop)
			pthread_cond_wait(&f->kick_cond, &f->kick_lock);
		if (f->stop)
			break;
		seen = f->kicks;
		pthread_mutex_unlock(&f->kick_lock);
		struct virtq_req *req = &f->req;
		while (virtio_pop(&f->t, 0, req) > 0) {
			uint32_t v = 0;
			virtq_read(req, 0, &v, sizeof(v));
			v = ~v;
			virtio_complete(&f->t, 0, req->epoch, req->head,
					(uint32_t)virtq_write(req, 0, &v, sizeof(v)));
		}
		pthread_mutex_lock(&f->kick_lock);
	}
	pthread_mutex_unlock(&f->kick_lock);
	return NULL;
}

static uint16_t load_le16(struct fixture *f, uint64_t gpa)
{
	uint16_t *p = guest_mem_ptr(&f->mem, gpa, 2);
	return le16toh(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void store_le16(struct fixture *f, uint64_t gpa, uint16_t v)
{
	uint16_t *p = guest_mem_ptr(&f->mem, gpa, 2);
	__atomic_store_n(p, htole16(v), __ATOMIC_RELEASE);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_threads(void **state)
{
	struct fixture *f = *state;
	/* A driver on this thread and the device on another, with event idx suppressing both
	 * directions' notifications (2.7.7, 2.7.10): a notification lost to a race would stall
	 * the driver, which fails after a deadline instead of hanging. */
	driver_start(f, (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX));
	pthread_mutex_init(&f->kick_lock, NULL);
	pthread_cond_init(&f->kick_cond, NULL);
	f->threaded = true;
	pthread_t dev;
	assert_int_equal(pthread_create(&dev, NULL, device_thread, f), 0);

	const uint64_t avail_event = USED_GPA + 4 + 8 * QNUM;
	uint16_t avail_idx = 0, last_used = 0;
	unsigned done = 0, notifies = 0;
	double deadline = now_s() + 20;
	for (unsigned i = 0; done < THREAD_REQS;) {
		/* Reap completions, in order: one device thread serves them FIFO. */
		while (last_used != load_le16(f, USED_GPA + 2)) {
			unsigned slot = last_used % QNUM, k = last_used % INFLIGHT;
			assert_int_equal(get32(f, USED_GPA + 4 + 8 * slot), 2 * k);
			assert_int_equal(get32(f, USED_GPA + 8 + 8 * slot), 4);
			assert_int_equal(get32(f, DATA_GPA + 16 * k + 4), ~(uint32_t)last_used);
			last_used++;
			done++;
		}
		if (i < THREAD_REQS && (uint16_t)(avail_idx - last_used) < INFLIGHT) {
			/* Request k: descriptors 2k (readable) and 2k + 1 (writable). */
			unsigned slot = avail_idx % QNUM, k = avail_idx % INFLIGHT;
			uint32_t v = htole32(avail_idx);
			memcpy(guest_mem_ptr(&f->mem, DATA_GPA + 16 * k, 4), &v, 4);
			set_desc(f, 2 * k, DATA_GPA + 16 * k, 4, VIRTQ_DESC_F_NEXT,
				 (uint16_t)(2 * k + 1));
			set_desc(f, 2 * k + 1, DATA_GPA + 16 * k + 4, 4, VIRTQ_DESC_F_WRITE, 0);
			put16(f, AVAIL_GPA + 4 + 2 * slot, (uint16_t)(2 * k));
			uint16_t old = avail_idx++;
			store_le16(f, AVAIL_GPA + 2, avail_idx);
			__atomic_thread_fence(__ATOMIC_SEQ_CST);
			uint16_t event = load_le16(f, avail_event);
			if ((uint16_t)(avail_idx - event - 1) < (uint16_t)(avail_idx - old)) {
				wr(f, QUEUE_NOTIFY, 0);
				notifies++;
			}
			i++;
		}
		if (rd(f, INT_STATUS))
			wr(f, INT_ACK, VIRTIO_INT_VRING);
		if (now_s() > deadline)
			fail_msg("stalled: %u of %u requests done, %u notifications", done,
				 THREAD_REQS, notifies);
	}
	pthread_mutex_lock(&f->kick_lock);
	f->stop = true;
	pthread_cond_signal(&f->kick_cond);
	pthread_mutex_unlock(&f->kick_lock);
	pthread_join(dev, NULL);
	/* Notifications were suppressed while the device was busy. */
	assert_true(notifies > 0 && notifies <= THREAD_REQS);
	assert_int_equal(rd(f, STATUS) & NEEDS_RST, 0);
	pthread_cond_destroy(&f->kick_cond);
	pthread_mutex_destroy(&f->kick_lock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_device_features, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_feature_negotiation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_programming, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_bad_layout, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_request_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_early_buffers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed_ring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_reset, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_interrupt_ack, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_sizes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config_generation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_init_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_completion, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_driver_features, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
