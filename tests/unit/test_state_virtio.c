/* Unit tests of the virtio snapshot sections (virtio/state.c): each device is brought up by
 * the fake driver of virtio_driver.h through virtio-mmio (virtio-rng also through virtio-pci
 * behind the PCIe bridge), does real requests, is saved with some of them in flight, and is
 * loaded into a fresh device and transport over a copy of its guest RAM, as a restore maps
 * the snapshot's memory file; the driver then carries on with the new instance: the used
 * rings hold exactly the completions expected, held buffers take the next input, new
 * requests work, interrupt status is the same. Then hostile sections, each refused with an
 * error naming the value, and the devices that cannot be saved. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/pci.h"
#include "host/blk_file.h"
#include "host/chr.h"
#include "host/net.h"
#include "mem/bus.h"
#include "mem/guest_mem.h"
#include "state/stream.h"
#include "virtio/balloon.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/fs.h"
#include "virtio/input.h"
#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"

#include "virtio_driver.h"

#define RAM_BASE 0x80000000ull
#define RAM_SIZE 0x400000ull /* 4 MiB */
#define NUM      64
#define SECTOR   512
#define HDR      VIRTIO_NET_HDR_SIZE

/* ---- what every test shares ---- */

/* A second guest RAM with the first one's contents, as a restore maps the memory file. */
static void copy_ram(struct guest_mem *dst, const struct guest_mem *src)
{
	assert_int_equal(guest_mem_init(dst, src->base, src->size), 0);
	memcpy(dst->hva, src->hva, src->size);
}

/* The driver of the restored VM: the same rings and indexes, on the new transport and RAM. */
static void clone_driver(struct vdrv *dst, const struct vdrv *src, struct virtio_transport *t,
			 struct guest_mem *mem)
{
	*dst = *src;
	dst->t = t;
	dst->mem = mem;
	dst->irqs = 0;
}

/* The payload of section name in a stream: its offset, and its length in *len. */
static size_t find_section(const uint8_t *buf, size_t size, const char *name, size_t *len)
{
	size_t pos = 0;
	while (pos < size) {
		size_t n = buf[pos];
		uint64_t l = 0;
		for (unsigned i = 0; i < 8; i++)
			l |= (uint64_t)buf[pos + 1 + n + 4 + i] << (8 * i);
		size_t payload = pos + 1 + n + 12;
		if (n == strlen(name) && !memcmp(buf + pos + 1, name, n)) {
			*len = (size_t)l;
			return payload;
		}
		pos = payload + (size_t)l;
	}
	fail_msg("no section %s", name);
	return 0;
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void assert_err(const char *err, const char *what)
{
	if (!strstr(err, what))
		fail_msg("error '%s' does not say '%s'", err, what);
}

/* ---- virtio-blk ---- */

#define IMG_SECTORS 256

struct blk_side {
	struct blk_file file;
	struct guest_mem mem;
	struct virtio_blk blk;
	struct virtio_transport t;
	struct vdrv drv;
	bool up;
};

struct blk_fixture {
	char path[64];
	struct blk_side a, b;
};

static void blk_side_up(struct blk_fixture *f, struct blk_side *s)
{
	assert_int_equal(blk_file_open(&s->file, f->path, false), 0);
	struct virtio_dev dev;
	assert_int_equal(virtio_blk_init(&s->blk, &s->file, "disk-0", &dev), 0);
	assert_int_equal(virtio_mmio_init(&s->t, &dev, &s->mem, vdrv_irq_line(&s->drv, 5)), 0);
	s->up = true;
}

static void blk_side_down(struct blk_side *s)
{
	if (!s->up)
		return;
	virtio_blk_destroy(&s->blk);
	virtio_mmio_destroy(&s->t);
	blk_file_close(&s->file);
	guest_mem_destroy(&s->mem);
	s->up = false;
}

static int blk_setup(void **state)
{
	struct blk_fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(f->path, sizeof(f->path), "%s/rvisor-state-XXXXXX", dir);
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SECTORS * SECTOR), 0);
	close(fd);
	assert_int_equal(guest_mem_init(&f->a.mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&f->a.drv, &f->a.t, &f->a.mem, 1, NUM);
	blk_side_up(f, &f->a);
	vdrv_start(&f->a.drv, VDRV_ALL_FEATURES);
	*state = f;
	return 0;
}

static int blk_teardown(void **state)
{
	struct blk_fixture *f = *state;
	blk_side_down(&f->b);
	blk_side_down(&f->a);
	unlink(f->path);
	free(f);
	return 0;
}

/* Make a request available (not notified): header, data of len bytes (written by the device
 * for IN), status. Returns its head; the status byte's gpa in *st, the data's in *data. */
static uint16_t blk_add(struct vdrv *d, uint32_t type, uint64_t sector, const void *out,
			uint32_t len, uint64_t *st, uint64_t *data)
{
	uint64_t h = vdrv_alloc(d, 16);
	uint8_t *hp = vdrv_host(d, h, 16);
	memset(hp, 0, 16);
	put_le(hp, type, 4);
	put_le(hp + 8, sector, 8);
	uint64_t buf = vdrv_alloc(d, len);
	if (out)
		memcpy(vdrv_host(d, buf, len), out, len);
	*st = vdrv_alloc(d, 1);
	*vdrv_host(d, *st, 1) = 0xff;
	struct vdrv_seg s[3] = {
	    {h, 16, false}, {buf, len, type == VIRTIO_BLK_T_IN}, {*st, 1, true}};
	if (data)
		*data = buf;
	return vdrv_add_chain(d, 0, s, 3);
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 11 + seed * 29 + 1);
}

/* A request done start to end; returns the status byte (data read into back for IN). */
static uint8_t blk_do(struct vdrv *d, uint32_t type, uint64_t sector, const void *out, void *back)
{
	uint64_t st, data;
	uint16_t head = blk_add(d, type, sector, out, SECTOR, &st, &data);
	vdrv_notify(d, 0);
	assert_int_equal(vdrv_wait_used(d, 0, head), type == VIRTIO_BLK_T_IN ? SECTOR + 1 : 1);
	if (back)
		memcpy(back, vdrv_host(d, data, SECTOR), SECTOR);
	return *vdrv_host(d, st, 1);
}

#define BLK_INFLIGHT 12 /* more than the disk's slots: some wait in the ring */

static void test_blk_in_flight(void **state)
{
	struct blk_fixture *f = *state;
	struct blk_side *a = &f->a, *b = &f->b;
	uint8_t buf[SECTOR], back[SECTOR];
	pattern(buf, sizeof(buf), 100);
	assert_int_equal(blk_do(&a->drv, VIRTIO_BLK_T_OUT, 3, buf, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_do(&a->drv, VIRTIO_BLK_T_IN, 3, NULL, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, buf, SECTOR);

	/* Paused, the disk pops what it has slots for and does none of it. */
	virtio_blk_set_paused(&a->blk, true);
	uint16_t heads[BLK_INFLIGHT];
	uint64_t st[BLK_INFLIGHT];
	for (unsigned i = 0; i < BLK_INFLIGHT; i++) {
		pattern(buf, sizeof(buf), i);
		heads[i] = blk_add(&a->drv, VIRTIO_BLK_T_OUT, 10 + i, buf, SECTOR, &st[i], NULL);
	}
	uint16_t used_before = vdrv_used_idx(&a->drv, 0);
	vdrv_notify(&a->drv, 0);
	usleep(20000);
	assert_int_equal(vdrv_used_idx(&a->drv, 0), used_before);
	assert_int_equal((uint16_t)(a->t.vq[0].last_avail - a->t.vq[0].used_idx),
			 VIRTIO_BLK_QUEUE_DEPTH);

	/* Not quiesced: the save names the disk. */
	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_blk_state_save(&a->blk, &o);
	assert_true(o.failed);
	assert_err(o.err, "virtio-blk 'disk-0'");
	assert_err(o.err, "in flight");
	state_out_free(&o);

	/* Quiesced: every request is done and in the used ring, the worker still paused. */
	virtio_blk_quiesce(&a->blk);
	assert_int_equal((uint16_t)(vdrv_used_idx(&a->drv, 0) - used_before), BLK_INFLIGHT);
	assert_int_equal(a->t.vq[0].last_avail, a->t.vq[0].used_idx);
	assert_true(a->blk.paused);
	uint32_t isr = vdrv_read(&a->drv, REG_INTERRUPT_STATUS);
	assert_true(isr & VIRTIO_INT_VRING);

	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_blk_state_save(&a->blk, &o);
	assert_false(o.failed);

	/* The restore: a fresh disk and transport on the same image, over a copy of RAM. */
	copy_ram(&b->mem, &a->mem);
	clone_driver(&b->drv, &a->drv, &b->t, &b->mem);
	blk_side_down(a);
	blk_side_up(f, b);
	assert_null(b->blk.t);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&b->t, &in), 0);
	assert_int_equal(virtio_blk_state_load(&b->blk, &in), 0);
	assert_int_equal(in.pos, in.len);
	assert_false(in.failed);
	assert_ptr_equal(b->blk.t, &b->t);
	state_out_free(&o);

	/* The interrupt is pending and the line was raised again. */
	assert_int_equal(vdrv_read(&b->drv, REG_INTERRUPT_STATUS), isr);
	assert_int_equal(b->drv.irqs, 1);
	assert_int_equal(vdrv_read(&b->drv, REG_STATUS),
			 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	vdrv_write(&b->drv, REG_INTERRUPT_ACK, isr);

	/* Exactly the completions expected, once each, with their status. */
	for (unsigned i = 0; i < BLK_INFLIGHT; i++) {
		assert_int_equal(vdrv_take_used(&b->drv, 0, heads[i]), 1);
		assert_int_equal(*vdrv_host(&b->drv, st[i], 1), VIRTIO_BLK_S_OK);
	}
	vdrv_no_more_used(&b->drv, 0);

	/* The next requests work, and see what the quiesced ones wrote. */
	for (unsigned i = 0; i < BLK_INFLIGHT; i++) {
		pattern(buf, sizeof(buf), i);
		assert_int_equal(blk_do(&b->drv, VIRTIO_BLK_T_IN, 10 + i, NULL, back),
				 VIRTIO_BLK_S_OK);
		assert_memory_equal(back, buf, SECTOR);
	}
	pattern(buf, sizeof(buf), 77);
	assert_int_equal(blk_do(&b->drv, VIRTIO_BLK_T_OUT, 200, buf, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_do(&b->drv, VIRTIO_BLK_T_IN, 200, NULL, back), VIRTIO_BLK_S_OK);
	assert_memory_equal(back, buf, SECTOR);
	vdrv_no_more_used(&b->drv, 0);
}

/* Sections that do not fit the disk: another image size, requests the transport says are in
 * flight that the disk does not hold. */
static void test_blk_bad(void **state)
{
	struct blk_fixture *f = *state;
	struct blk_side *a = &f->a;
	uint8_t buf[SECTOR];
	pattern(buf, sizeof(buf), 1);
	assert_int_equal(blk_do(&a->drv, VIRTIO_BLK_T_OUT, 1, buf, NULL), VIRTIO_BLK_S_OK);
	virtio_blk_set_paused(&a->blk, true);
	virtio_blk_quiesce(&a->blk);
	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_blk_state_save(&a->blk, &o);
	assert_false(o.failed);
	size_t len, blk = find_section(o.buf, o.len, "virtio-blk", &len);
	size_t tr = find_section(o.buf, o.len, "virtio", &len);
	uint8_t *copy = malloc(o.len);
	assert_non_null(copy);

	struct state_in in;
	/* Another capacity. */
	memcpy(copy, o.buf, o.len);
	put_le(copy + blk, IMG_SECTORS + 8, 8);
	state_in_init(&in, copy, o.len);
	assert_int_equal(virtio_transport_state_load(&a->t, &in), 0);
	assert_int_equal(virtio_blk_state_load(&a->blk, &in), -EINVAL);
	assert_err(in.err, "section virtio-blk: capacity 264 sectors");

	/* Another serial. */
	memcpy(copy, o.buf, o.len);
	copy[blk + 9] = 'X';
	state_in_init(&in, copy, o.len);
	assert_int_equal(virtio_transport_state_load(&a->t, &in), 0);
	assert_int_equal(virtio_blk_state_load(&a->blk, &in), -EINVAL);
	assert_err(in.err, "serial");

	/* The queue's last_avail ahead of its used index: a request in flight that the disk
	 * does not hold would never complete. */
	memcpy(copy, o.buf, o.len);
	uint16_t last_avail = a->t.vq[0].last_avail;
	put_le(copy + tr + 40 + 29, (uint16_t)(last_avail + 1), 2);
	state_in_init(&in, copy, o.len);
	assert_int_equal(virtio_transport_state_load(&a->t, &in), 0);
	assert_int_equal(virtio_blk_state_load(&a->blk, &in), -EINVAL);
	assert_err(in.err, "queue 0 has 1 requests in flight, but the device holds 0");
	free(copy);
	state_out_free(&o);
}

/* ---- virtio-net ---- */

static const uint8_t guest_mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

#define FAKE_FRAMES 8

struct fake_be {
	struct net_backend nb;
	net_receive_fn receive;
	void *opaque;
	unsigned nsent;
	size_t len[FAKE_FRAMES];
	uint8_t frame[FAKE_FRAMES][2048];
};

static int fake_send(struct net_backend *nb, const void *frame, size_t len)
{
	struct fake_be *b = (struct fake_be *)nb;
	assert_true(b->nsent < FAKE_FRAMES && len <= sizeof(b->frame[0]));
	memcpy(b->frame[b->nsent], frame, len);
	b->len[b->nsent++] = len;
	return 0;
}

static void fake_attach(struct net_backend *nb, net_receive_fn receive, void *opaque)
{
	struct fake_be *b = (struct fake_be *)nb;
	b->receive = receive;
	b->opaque = opaque;
}

static void fake_close(struct net_backend *nb)
{
	(void)nb;
}

struct net_side {
	struct guest_mem mem;
	struct fake_be be;
	struct virtio_net net;
	struct virtio_transport t;
	struct vdrv drv;
	bool up;
};

static void net_side_up(struct net_side *s, const uint8_t *mac)
{
	s->be.nb = (struct net_backend){fake_send, fake_attach, fake_close, 1500};
	struct virtio_dev dev;
	assert_int_equal(virtio_net_init(&s->net, &s->be.nb, mac, &dev), 0);
	assert_int_equal(virtio_mmio_init(&s->t, &dev, &s->mem, vdrv_irq_line(&s->drv, 3)), 0);
	s->up = true;
}

static void net_side_down(struct net_side *s)
{
	if (!s->up)
		return;
	virtio_net_destroy(&s->net);
	virtio_mmio_destroy(&s->t);
	guest_mem_destroy(&s->mem);
	s->up = false;
}

/* A frame from the host: Ethernet header to the guest, then a pattern. */
static void deliver(struct net_side *s, size_t len, unsigned seed, uint8_t *frame)
{
	memcpy(frame, guest_mac, 6);
	memset(frame + 6, 0x02, 6);
	frame[12] = 0x08, frame[13] = 0x00;
	pattern(frame + 14, len - 14, seed);
	assert_non_null(s->be.receive);
	s->be.receive(s->be.opaque, frame, len);
}

/* A frame from the guest, made available on the transmitq (not notified); returns its head. */
static uint16_t net_add_tx(struct vdrv *d, size_t len, unsigned seed)
{
	uint64_t gpa = vdrv_alloc(d, HDR + len);
	uint8_t *p = vdrv_host(d, gpa, HDR + len);
	memset(p, 0, HDR);
	memset(p + HDR, 0xff, 6);
	memcpy(p + HDR + 6, guest_mac, 6);
	p[HDR + 12] = 0x08, p[HDR + 13] = 0x00;
	pattern(p + HDR + 14, len - 14, seed);
	struct vdrv_seg s = {gpa, (uint32_t)(HDR + len), false};
	return vdrv_add_chain(d, VIRTIO_NET_TRANSMITQ, &s, 1);
}

static void test_net_held_buffers(void **state)
{
	(void)state;
	struct net_side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	const unsigned rx = VIRTIO_NET_RECEIVEQ, tx = VIRTIO_NET_TRANSMITQ;
	assert_int_equal(guest_mem_init(&a->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&a->drv, &a->t, &a->mem, 2, NUM);
	net_side_up(a, guest_mac);
	vdrv_start(&a->drv, VDRV_ALL_FEATURES);
	assert_true(a->drv.features & (1ull << VIRTIO_NET_F_MRG_RXBUF));

	/* Receive buffers X, S (too small for a header) and Y; a frame needing three takes X,
	 * returns S at once, takes Y and finds no more: dropped, X and Y held. The held ones
	 * are not the last two popped. */
	uint16_t hx, hs, hy;
	uint64_t bx = vdrv_post_writable(&a->drv, rx, HDR + 100, &hx);
	vdrv_post_writable(&a->drv, rx, 8, &hs);
	uint64_t by = vdrv_post_writable(&a->drv, rx, HDR + 100, &hy);
	vdrv_notify(&a->drv, rx);
	uint8_t frame[1514];
	deliver(a, 300, 1, frame);
	assert_int_equal(a->net.nheld, 2);
	assert_int_equal(a->net.stats.rx_dropped, 1);

	/* Transmit: one frame goes; the next waits for the rate limiter, the third behind it in
	 * the ring. */
	struct rate_limiter_config none = {0}, slow = {{100, 0, 100000}, {0, 0, 0}};
	assert_int_equal(virtio_net_set_rate_limiters(&a->net, &none, &slow), 0);
	uint16_t t0 = net_add_tx(&a->drv, 60, 10);
	vdrv_notify(&a->drv, tx);
	assert_int_equal(a->be.nsent, 1);
	uint16_t t1 = net_add_tx(&a->drv, 60, 11), t2 = net_add_tx(&a->drv, 70, 12);
	vdrv_notify(&a->drv, tx);
	assert_int_equal(a->be.nsent, 1);
	assert_true(a->net.tx_held);

	virtio_net_set_paused(&a->net, true);
	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_net_state_save(&a->net, &o);
	assert_true(o.failed);
	assert_err(o.err, "virtio-net 52:54:00:12:34:56: a transmit request is in flight");
	state_out_free(&o);

	/* Quiesced: both waiting frames are sent and completed, receive buffers stay held. */
	virtio_net_quiesce(&a->net);
	assert_int_equal(a->be.nsent, 3);
	assert_int_equal(a->be.len[2], 70);
	assert_false(a->net.tx_held);
	assert_int_equal(a->net.nheld, 2);
	uint32_t isr = vdrv_read(&a->drv, REG_INTERRUPT_STATUS);
	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_net_state_save(&a->net, &o);
	assert_false(o.failed);

	/* The restore: a card with another (random) MAC on another backend. */
	copy_ram(&b->mem, &a->mem);
	clone_driver(&b->drv, &a->drv, &b->t, &b->mem);
	net_side_down(a);
	net_side_up(b, NULL);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&b->t, &in), 0);
	/* Between the two sections the card takes no frame: none pops a buffer. */
	assert_null(b->net.t);
	uint16_t last_avail = b->t.vq[rx].last_avail;
	deliver(b, 100, 3, frame);
	assert_int_equal(b->t.vq[rx].last_avail, last_avail);
	assert_int_equal(virtio_net_state_load(&b->net, &in), 0);
	assert_ptr_equal(b->net.t, &b->t);
	assert_int_equal(in.pos, in.len);
	state_out_free(&o);
	assert_memory_equal(b->net.config, guest_mac, 6);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(vdrv_config_read(&b->drv, i, 1), guest_mac[i]);
	assert_int_equal(vdrv_read(&b->drv, REG_INTERRUPT_STATUS), isr);
	assert_int_equal(b->drv.irqs, isr ? 1 : 0);
	assert_int_equal(b->net.nheld, 2);
	assert_int_equal(b->net.held[0].head, hx);
	assert_int_equal(b->net.held[1].head, hy);

	/* The used rings: S returned empty, the three frames sent. */
	assert_int_equal(vdrv_take_used(&b->drv, rx, hs), 0);
	vdrv_no_more_used(&b->drv, rx);
	assert_int_equal(vdrv_take_used(&b->drv, tx, t0), 0);
	assert_int_equal(vdrv_take_used(&b->drv, tx, t1), 0);
	assert_int_equal(vdrv_take_used(&b->drv, tx, t2), 0);
	vdrv_no_more_used(&b->drv, tx);

	/* The next frame goes into the held buffers, X then Y, without a notification. */
	deliver(b, 200, 2, frame);
	assert_int_equal(vdrv_take_used(&b->drv, rx, hx), HDR + 100);
	assert_int_equal(vdrv_take_used(&b->drv, rx, hy), 200 - 100);
	vdrv_no_more_used(&b->drv, rx);
	const uint8_t *px = vdrv_host(&b->drv, bx, HDR + 100), *py = vdrv_host(&b->drv, by, 100);
	assert_int_equal(px[10] | px[11] << 8, 2); /* num_buffers */
	assert_memory_equal(px + HDR, frame, 100);
	assert_memory_equal(py, frame + 100, 100);
	assert_int_equal(b->net.nheld, 0);

	/* And transmission works on the new card. */
	uint16_t t3 = net_add_tx(&b->drv, 64, 13);
	vdrv_notify(&b->drv, tx);
	assert_int_equal(vdrv_take_used(&b->drv, tx, t3), 0);
	assert_int_equal(b->be.nsent, 1);
	assert_int_equal(b->be.len[0], 64);

	net_side_down(b);
	free(a);
	free(b);
}

/* ---- virtio-balloon ---- */

#define PAGE   4096u
#define VICTIM (RAM_BASE + 0x200000)

struct balloon_side {
	struct guest_mem mem;
	struct virtio_balloon b;
	struct virtio_transport t;
	struct vdrv drv;
};

static void balloon_up(struct balloon_side *s)
{
	struct virtio_dev dev;
	assert_int_equal(virtio_balloon_init(&s->b, &s->mem, 2, false, &dev), 0);
	assert_int_equal(virtio_mmio_init(&s->t, &dev, &s->mem, vdrv_irq_line(&s->drv, 1)), 0);
}

static void balloon_down(struct balloon_side *s)
{
	virtio_mmio_destroy(&s->t);
	virtio_balloon_destroy(&s->b);
	guest_mem_destroy(&s->mem);
}

static void test_balloon(void **state)
{
	(void)state;
	struct balloon_side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(guest_mem_init(&a->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&a->drv, &a->t, &a->mem, 4, 16);
	balloon_up(a);
	vdrv_start(&a->drv, VDRV_ALL_FEATURES);

	/* Inflate two pages. */
	memset(vdrv_host(&a->drv, VICTIM, 2 * PAGE), 0x5a, 2 * PAGE);
	uint32_t pfns[] = {(uint32_t)(VICTIM / PAGE), (uint32_t)(VICTIM / PAGE + 1)};
	uint64_t buf = vdrv_alloc(&a->drv, sizeof(pfns));
	memcpy(vdrv_host(&a->drv, buf, sizeof(pfns)), pfns, sizeof(pfns));
	struct vdrv_seg s = {buf, sizeof(pfns), false};
	uint16_t h = vdrv_add_chain(&a->drv, BALLOON_Q_INFLATE, &s, 1);
	vdrv_notify(&a->drv, BALLOON_Q_INFLATE);
	assert_int_equal(vdrv_take_used(&a->drv, BALLOON_Q_INFLATE, h), 0);
	assert_int_equal(*vdrv_host(&a->drv, VICTIM, 1), 0);
	/* The guest says what it gave; the host asks for more. */
	virtio_mmio_ops.write(&a->t, REG_CONFIG + 4, 4, 2);
	virtio_balloon_set_target(&a->b, 5);
	/* A statistics buffer, held by the device: free memory = 12345. */
	uint8_t stat[10] = {4, 0};
	put_le(stat + 2, 12345, 8);
	uint64_t sbuf = vdrv_alloc(&a->drv, sizeof(stat));
	memcpy(vdrv_host(&a->drv, sbuf, sizeof(stat)), stat, sizeof(stat));
	s = (struct vdrv_seg){sbuf, sizeof(stat), false};
	uint16_t hs = vdrv_add_chain(&a->drv, BALLOON_Q_STATS, &s, 1);
	vdrv_notify(&a->drv, BALLOON_Q_STATS);
	assert_true(a->b.have_stats_req);
	vdrv_no_more_used(&a->drv, BALLOON_Q_STATS);
	uint32_t gen = vdrv_read(&a->drv, REG_CONFIG_GENERATION);
	uint32_t isr = vdrv_read(&a->drv, REG_INTERRUPT_STATUS);
	assert_int_equal(isr, VIRTIO_INT_VRING | VIRTIO_INT_CONFIG);

	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_balloon_state_save(&a->b, &o);
	assert_false(o.failed);
	copy_ram(&b->mem, &a->mem);
	clone_driver(&b->drv, &a->drv, &b->t, &b->mem);
	balloon_down(a);
	balloon_up(b);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&b->t, &in), 0);
	assert_int_equal(virtio_balloon_state_load(&b->b, &in), 0);
	assert_int_equal(in.pos, in.len);
	state_out_free(&o);

	assert_int_equal(vdrv_read(&b->drv, REG_CONFIG_GENERATION), gen);
	assert_int_equal(vdrv_read(&b->drv, REG_INTERRUPT_STATUS), isr);
	assert_int_equal(vdrv_config_read(&b->drv, 0, 4), 5 * 256);
	assert_int_equal(vdrv_config_read(&b->drv, 4, 4), 2);
	uint32_t target, actual;
	uint64_t returned;
	virtio_balloon_size(&b->b, &target, &actual, &returned);
	assert_int_equal(target, 5);
	assert_int_equal(returned, 2);
	/* Fresh figures asked for: the held request comes back on the new ring. */
	struct virtio_balloon_stats st;
	assert_int_equal(virtio_balloon_stats(&b->b, true, &st), 1);
	assert_true(st.have[4]);
	assert_int_equal(st.value[4], 12345);
	assert_int_equal(vdrv_take_used(&b->drv, BALLOON_Q_STATS, hs), 0);
	vdrv_no_more_used(&b->drv, BALLOON_Q_STATS);
	vdrv_no_more_used(&b->drv, BALLOON_Q_INFLATE);
	/* The driver's next figures arrive and are held again. */
	put_le(stat + 2, 999, 8);
	memcpy(vdrv_host(&b->drv, sbuf, sizeof(stat)), stat, sizeof(stat));
	vdrv_publish(&b->drv, BALLOON_Q_STATS, hs);
	vdrv_notify(&b->drv, BALLOON_Q_STATS);
	assert_int_equal(virtio_balloon_stats(&b->b, false, &st), 2);
	assert_int_equal(st.value[4], 999);
	balloon_down(b);
	free(a);
	free(b);
}

/* ---- virtio-console ---- */

struct fake_chr {
	struct chr chr;
	pthread_mutex_t lock;
	uint8_t in[256];
	size_t head, tail;
};

static void chr_write(struct chr *c, const void *buf, size_t len)
{
	(void)c;
	(void)buf;
	(void)len;
}

static size_t chr_read(struct chr *c, void *buf, size_t len)
{
	struct fake_chr *f = (struct fake_chr *)c;
	pthread_mutex_lock(&f->lock);
	size_t n = f->tail - f->head < len ? f->tail - f->head : len;
	memcpy(buf, f->in + f->head, n);
	f->head += n;
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void type_input(struct fake_chr *f, const char *s)
{
	pthread_mutex_lock(&f->lock);
	memcpy(f->in + f->tail, s, strlen(s));
	f->tail += strlen(s);
	pthread_mutex_unlock(&f->lock);
	f->chr.notify(f->chr.notify_opaque);
}

struct console_side {
	struct guest_mem mem;
	struct fake_chr chr;
	struct virtio_console con;
	struct virtio_transport t;
	struct vdrv drv;
};

static void console_up(struct console_side *s)
{
	s->chr.chr.write = chr_write;
	s->chr.chr.read = chr_read;
	pthread_mutex_init(&s->chr.lock, NULL);
	struct virtio_dev dev;
	assert_int_equal(virtio_console_init(&s->con, &s->chr.chr, &dev), 0);
	assert_int_equal(virtio_mmio_init(&s->t, &dev, &s->mem, vdrv_irq_line(&s->drv, 4)), 0);
}

static void console_down(struct console_side *s)
{
	virtio_console_destroy(&s->con);
	virtio_mmio_destroy(&s->t);
	guest_mem_destroy(&s->mem);
	pthread_mutex_destroy(&s->chr.lock);
}

static void test_console_held_buffer(void **state)
{
	(void)state;
	struct console_side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	const unsigned rx = VIRTIO_CONSOLE_RECEIVEQ;
	assert_int_equal(guest_mem_init(&a->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&a->drv, &a->t, &a->mem, 2, 16);
	console_up(a);
	vdrv_start(&a->drv, VDRV_ALL_FEATURES);
	/* One buffer filled, a second popped and held: no input is pending. */
	uint16_t h0, h1;
	uint64_t b0 = vdrv_post_writable(&a->drv, rx, 16, &h0);
	vdrv_notify(&a->drv, rx);
	type_input(&a->chr, "hi");
	assert_int_equal(vdrv_take_used(&a->drv, rx, h0), 2);
	assert_memory_equal(vdrv_host(&a->drv, b0, 2), "hi", 2);
	uint64_t b1 = vdrv_post_writable(&a->drv, rx, 16, &h1);
	vdrv_notify(&a->drv, rx);
	assert_true(a->con.rx_held);
	uint16_t a_last_avail = a->t.vq[rx].last_avail;

	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_console_state_save(&a->con, &o);
	assert_false(o.failed);
	copy_ram(&b->mem, &a->mem);
	clone_driver(&b->drv, &a->drv, &b->t, &b->mem);
	console_down(a);
	console_up(b);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&b->t, &in), 0);
	/* Input before the port's own section waits in the backend. */
	type_input(&b->chr, "x");
	assert_int_equal(b->t.vq[rx].last_avail, a_last_avail);
	assert_int_equal(virtio_console_state_load(&b->con, &in), 0);
	assert_int_equal(in.pos, in.len);
	state_out_free(&o);
	assert_true(b->con.rx_held);
	/* Input on the new backend goes into the held buffer, without a notification. */
	type_input(&b->chr, "again");
	assert_int_equal(vdrv_take_used(&b->drv, rx, h1), 6);
	assert_memory_equal(vdrv_host(&b->drv, b1, 6), "xagain", 6);
	vdrv_no_more_used(&b->drv, rx);
	/* Paused, the port takes no input; resumed, it delivers what came. */
	virtio_console_set_paused(&b->con, true);
	uint16_t h2;
	uint64_t b2 = vdrv_post_writable(&b->drv, rx, 16, &h2);
	vdrv_notify(&b->drv, rx);
	type_input(&b->chr, "zz");
	vdrv_no_more_used(&b->drv, rx);
	virtio_console_set_paused(&b->con, false);
	assert_int_equal(vdrv_take_used(&b->drv, rx, h2), 2);
	assert_memory_equal(vdrv_host(&b->drv, b2, 2), "zz", 2);
	console_down(b);
	free(a);
	free(b);
}

/* ---- virtio-input ---- */

struct input_side {
	struct guest_mem mem;
	struct virtio_input kbd;
	struct virtio_transport t;
	struct vdrv drv;
};

static void input_up(struct input_side *s)
{
	struct virtio_dev dev;
	assert_int_equal(virtio_input_init(&s->kbd, &dev), 0);
	assert_int_equal(virtio_mmio_init(&s->t, &dev, &s->mem, vdrv_irq_line(&s->drv, 6)), 0);
}

static void input_down(struct input_side *s)
{
	virtio_input_destroy(&s->kbd);
	virtio_mmio_destroy(&s->t);
	guest_mem_destroy(&s->mem);
}

static void test_input_pending(void **state)
{
	(void)state;
	struct input_side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(guest_mem_init(&a->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&a->drv, &a->t, &a->mem, 2, 16);
	input_up(a);
	vdrv_start(&a->drv, VDRV_ALL_FEATURES);
	vdrv_notify(&a->drv, 0);                           /* no buffers yet */
	virtio_mmio_ops.write(&a->t, REG_CONFIG, 1, 0x11); /* select EV_BITS, subsel EV_KEY */
	virtio_mmio_ops.write(&a->t, REG_CONFIG + 1, 1, 1);
	assert_int_equal(virtio_input_ctrl_alt_del(&a->kbd), 0);
	assert_int_equal(a->kbd.npending, 8);

	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&a->t, &o);
	virtio_input_state_save(&a->kbd, &o);
	assert_false(o.failed);
	copy_ram(&b->mem, &a->mem);
	clone_driver(&b->drv, &a->drv, &b->t, &b->mem);
	input_down(a);
	input_up(b);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&b->t, &in), 0);
	assert_int_equal(virtio_input_state_load(&b->kbd, &in), 0);
	assert_int_equal(in.pos, in.len);
	state_out_free(&o);
	assert_int_equal(vdrv_config_read(&b->drv, 0, 1), 0x11);
	assert_int_equal(vdrv_config_read(&b->drv, 2, 1), 14); /* the answer's size */
	/* Buffers posted on the new VM take the eight events of the chord. */
	uint16_t heads[8];
	uint64_t bufs[8];
	for (unsigned i = 0; i < 8; i++)
		bufs[i] = vdrv_post_writable(&b->drv, 0, 8, &heads[i]);
	vdrv_notify(&b->drv, 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(vdrv_take_used(&b->drv, 0, heads[i]), 8);
	const uint8_t *e = vdrv_host(&b->drv, bufs[0], 8);
	assert_int_equal(e[0] | e[1] << 8, 1);  /* EV_KEY */
	assert_int_equal(e[2] | e[3] << 8, 29); /* KEY_LEFTCTRL */
	assert_int_equal(e[4], 1);              /* pressed */
	assert_int_equal(b->kbd.npending, 0);
	input_down(b);
	free(a);
	free(b);
}

/* ---- virtio-rng through virtio-pci ---- */

#define ECAM       0x30000000ull
#define WINDOW     0x40000000ull
#define WIN_SIZE   0x10000000ull
#define WIN64      0x20000000000ull
#define WIN64_SIZE 0x1000000000ull
#define BAR_ADDR   0x40010000ull
#define PCI_NUM    16
#define DESC       (RAM_BASE + 0x1000)
#define AVAIL      (RAM_BASE + 0x2000)
#define USED       (RAM_BASE + 0x3000)
#define BUF        (RAM_BASE + 0x8000)
#define COMMON     (BAR_ADDR + VIRTIO_PCI_COMMON_OFF)

struct pci_side {
	struct guest_mem mem;
	struct bus bus;
	struct pci_host host;
	struct virtio_rng rng;
	struct virtio_pci vp;
	int level;
	unsigned edges;
};

static void pci_irq(void *opaque, unsigned num, bool level)
{
	struct pci_side *s = opaque;
	(void)num;
	s->edges += level && !s->level;
	s->level = level;
}

static void pci_up(struct pci_side *s)
{
	assert_int_equal(pci_host_init(&s->host, WINDOW, WIN_SIZE, WIN64, WIN64_SIZE), 0);
	assert_int_equal(bus_add(&s->bus, ECAM, PCI_ECAM_SIZE, &pci_ecam_ops, &s->host, "ecam"), 0);
	assert_int_equal(
	    bus_add(&s->bus, WINDOW, WIN_SIZE, &pci_mmio_ops, &s->host.mmio32, "window"), 0);
	assert_int_equal(
	    bus_add(&s->bus, WIN64, WIN64_SIZE, &pci_mmio_ops, &s->host.mmio64, "window64"), 0);
	struct virtio_dev dev;
	assert_int_equal(virtio_rng_init(&s->rng, &dev), 0);
	assert_int_equal(virtio_pci_init(&s->vp, &dev, &s->mem), 0);
	assert_int_equal(pci_host_add(&s->host, &s->vp.pci, (struct irq_line){pci_irq, s, 7}), 0);
}

static void pci_down(struct pci_side *s)
{
	pci_host_destroy(&s->host);
	virtio_rng_destroy(&s->rng);
	virtio_pci_destroy(&s->vp);
	guest_mem_destroy(&s->mem);
}

static uint64_t rd(struct pci_side *s, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	assert_true(bus_read(&s->bus, gpa, size, &v));
	return v;
}

static void wr(struct pci_side *s, uint64_t gpa, unsigned size, uint64_t v)
{
	assert_true(bus_write(&s->bus, gpa, size, v));
}

static uint64_t cfg(unsigned reg)
{
	return ECAM + reg;
}

/* One request of len writable bytes at BUF, the n-th made (descriptor 0, avail slot n). */
static uint32_t rng_request(struct pci_side *s, uint16_t n, uint32_t len)
{
	uint8_t *d = guest_mem_ptr(&s->mem, DESC, 16);
	put_le(d, BUF, 8);
	put_le(d + 8, len, 4);
	put_le(d + 12, VIRTQ_DESC_F_WRITE, 2);
	uint8_t *avail = guest_mem_ptr(&s->mem, AVAIL, 4 + 2 * PCI_NUM);
	put_le(avail + 4 + 2 * (n % PCI_NUM), 0, 2);
	put_le(avail + 2, (uint16_t)(n + 1), 2);
	wr(s, BAR_ADDR + VIRTIO_PCI_NOTIFY_OFF, 2, 0);
	const uint8_t *used = guest_mem_ptr(&s->mem, USED, 4 + 8 * PCI_NUM);
	assert_int_equal(used[2] | used[3] << 8, n + 1);
	const uint8_t *e = used + 4 + 8 * (n % PCI_NUM);
	return (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;
}

static void test_rng_pci(void **state)
{
	(void)state;
	struct pci_side *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(guest_mem_init(&a->mem, RAM_BASE, 0x100000), 0);
	pci_up(a);
	/* The guest's PCI core: BAR 0 placed, memory decoding on, an interrupt line noted. */
	wr(a, cfg(PCI_BAR0), 4, BAR_ADDR);
	wr(a, cfg(PCI_COMMAND), 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	wr(a, cfg(PCI_INTERRUPT_LINE), 1, 33);
	/* The driver: features, one queue, DRIVER_OK. */
	wr(a, COMMON + VIRTIO_PCI_COMMON_STATUS, 1, 3);
	wr(a, COMMON + VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	wr(a, COMMON + VIRTIO_PCI_COMMON_GF, 4, 1); /* VIRTIO_F_VERSION_1 */
	wr(a, COMMON + VIRTIO_PCI_COMMON_STATUS, 1, 11);
	assert_int_equal(rd(a, COMMON + VIRTIO_PCI_COMMON_STATUS, 1), 11);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_SIZE, 2, PCI_NUM);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_DESCLO, 4, (uint32_t)DESC);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_DESCHI, 4, DESC >> 32);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_AVAILLO, 4, (uint32_t)AVAIL);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_AVAILHI, 4, AVAIL >> 32);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_USEDLO, 4, (uint32_t)USED);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_USEDHI, 4, USED >> 32);
	wr(a, COMMON + VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	wr(a, COMMON + VIRTIO_PCI_COMMON_STATUS, 1, 15);
	assert_int_equal(rng_request(a, 0, 32), 32);
	assert_int_equal(a->level, 1); /* ISR not read yet */

	struct state_out o;
	state_out_init(&o);
	pci_host_state_save(&a->host, &o);
	virtio_pci_state_save(&a->vp, &o);
	virtio_rng_state_save(&a->rng, &o);
	assert_false(o.failed);

	copy_ram(&b->mem, &a->mem);
	pci_down(a);
	pci_up(b);
	/* A fresh function: no BAR, decoding off. */
	assert_int_equal(rd(b, cfg(PCI_COMMAND), 2), 0);
	assert_int_equal(rd(b, COMMON + VIRTIO_PCI_COMMON_NUMQ, 2), 0xffff);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(pci_host_state_load(&b->host, &in), 0);
	assert_int_equal(virtio_pci_state_load(&b->vp, &in), 0);
	assert_int_equal(virtio_rng_state_load(&b->rng, &in), 0);
	assert_int_equal(in.pos, in.len);

	/* The configuration the guest wrote, the BAR decoding where it was, INTx up again. */
	assert_int_equal(rd(b, cfg(PCI_COMMAND), 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(rd(b, cfg(PCI_BAR0), 4), BAR_ADDR | PCI_BAR_MEM64 | PCI_BAR_PREFETCH);
	assert_int_equal(rd(b, cfg(PCI_INTERRUPT_LINE), 1), 33);
	assert_int_equal(rd(b, cfg(PCI_VENDOR_ID), 2), 0x1af4);
	assert_true(rd(b, cfg(PCI_STATUS), 2) & PCI_STATUS_INTERRUPT);
	assert_int_equal(b->level, 1);
	assert_int_equal(b->edges, 1);
	assert_int_equal(rd(b, COMMON + VIRTIO_PCI_COMMON_NUMQ, 2), 1);
	assert_int_equal(rd(b, COMMON + VIRTIO_PCI_COMMON_STATUS, 1), 15);
	assert_int_equal(rd(b, COMMON + VIRTIO_PCI_COMMON_Q_ENABLE, 2), 1);
	assert_int_equal(rd(b, BAR_ADDR + VIRTIO_PCI_ISR_OFF, 1), VIRTIO_INT_VRING);
	assert_int_equal(b->level, 0);
	/* The next request is the ring's second. */
	assert_int_equal(rng_request(b, 1, 48), 48);
	assert_int_equal(b->level, 1);

	/* Interrupt Disable comes back with the command register: the line stays low. */
	struct state_out o2;
	state_out_init(&o2);
	wr(b, cfg(PCI_COMMAND), 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_OFF);
	assert_int_equal(b->level, 0);
	pci_host_state_save(&b->host, &o2);
	virtio_pci_state_save(&b->vp, &o2);
	assert_false(o2.failed);

	/* A read-only byte changed (the device ID): refused, naming it. */
	size_t len, pcfg = find_section(o.buf, o.len, "virtio-pci", &len);
	assert_int_equal(len, PCI_CONFIG_SIZE);
	o.buf[pcfg + PCI_DEVICE_ID] ^= 1;
	struct pci_side *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	copy_ram(&c->mem, &b->mem);
	pci_up(c);
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(pci_host_state_load(&c->host, &in), 0);
	assert_int_equal(virtio_pci_state_load(&c->vp, &in), -EINVAL);
	assert_err(in.err, "section virtio-pci: configuration space byte 0x02");
	pci_down(c);
	/* A bus with another device. */
	o.buf[pcfg + PCI_DEVICE_ID] ^= 1;
	size_t host = find_section(o.buf, o.len, "pci-host", &len);
	o.buf[host + 6] ^= 1;
	memset(c, 0, sizeof(*c));
	copy_ram(&c->mem, &b->mem);
	pci_up(c);
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(pci_host_state_load(&c->host, &in), -EINVAL);
	assert_err(in.err, "section pci-host: device 0 is 1af4:1045");
	pci_down(c);

	memset(c, 0, sizeof(*c));
	copy_ram(&c->mem, &b->mem);
	pci_up(c);
	state_in_init(&in, o2.buf, o2.len);
	assert_int_equal(pci_host_state_load(&c->host, &in), 0);
	assert_int_equal(virtio_pci_state_load(&c->vp, &in), 0);
	assert_true(c->vp.pci.intx_level);
	assert_true(c->vp.pci.intx_disabled);
	assert_int_equal(c->edges, 0);
	assert_int_equal(c->level, 0);
	pci_down(c);
	free(c);

	state_out_free(&o);
	state_out_free(&o2);
	pci_down(b);
	free(a);
	free(b);
}

/* ---- hostile transport sections ---- */

/* Offsets in section "virtio" (virtio_transport_state_save's field order). */
enum {
	TR_DEVICE_ID = 0,
	TR_NUM_QUEUES = 4,
	TR_STATUS = 8,
	TR_ISR = 12,
	TR_FEATURES = 32,
	TR_Q0 = 40, /* queue 0: */
	TR_Q_NUM = 0,
	TR_Q_READY = 2,
	TR_Q_DESC = 5,
	TR_Q_AVAIL = 13,
	TR_Q_USED = 21,
	TR_Q_SIZE = 36, /* bytes per queue */
};

struct rng_side {
	struct guest_mem mem;
	struct virtio_rng rng;
	struct virtio_transport t;
	struct vdrv drv;
};

static int rng_setup(void **state)
{
	struct rng_side *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	assert_int_equal(guest_mem_init(&s->mem, RAM_BASE, RAM_SIZE), 0);
	vdrv_init(&s->drv, &s->t, &s->mem, 1, 16);
	struct virtio_dev dev;
	assert_int_equal(virtio_rng_init(&s->rng, &dev), 0);
	assert_int_equal(virtio_mmio_init(&s->t, &dev, &s->mem, vdrv_irq_line(&s->drv, 2)), 0);
	vdrv_start(&s->drv, VDRV_ALL_FEATURES);
	*state = s;
	return 0;
}

static int rng_teardown(void **state)
{
	struct rng_side *s = *state;
	virtio_mmio_destroy(&s->t);
	virtio_rng_destroy(&s->rng);
	guest_mem_destroy(&s->mem);
	free(s);
	return 0;
}

/* Load a copy of the saved transport section with len bytes at off set to v; expect the
 * load to fail saying what. */
static void refuse(struct rng_side *s, const struct state_out *o, size_t off, uint64_t v,
		   unsigned bytes, const char *what)
{
	uint8_t *copy = malloc(o->len);
	assert_non_null(copy);
	memcpy(copy, o->buf, o->len);
	size_t len, tr = find_section(copy, o->len, "virtio", &len);
	put_le(copy + tr + off, v, bytes);
	struct virtio_transport t;
	struct virtio_dev dev = s->t.dev;
	assert_int_equal(virtio_transport_init(&t, &dev, &s->mem, (struct irq_line){0}), 0);
	struct state_in in;
	state_in_init(&in, copy, o->len);
	assert_int_equal(virtio_transport_state_load(&t, &in), -EINVAL);
	assert_true(in.failed);
	assert_err(in.err, "section virtio: ");
	assert_err(in.err, what);
	assert_int_equal(t.status, 0); /* nothing taken */
	virtio_transport_destroy(&t);
	free(copy);
}

static void test_transport_bad(void **state)
{
	struct rng_side *s = *state;
	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&s->t, &o);
	assert_false(o.failed);
	size_t len;
	find_section(o.buf, o.len, "virtio", &len);
	assert_int_equal(len, TR_Q0 + TR_Q_SIZE);
	const size_t q0 = TR_Q0;

	refuse(s, &o, TR_DEVICE_ID, VIRTIO_ID_BLOCK, 4, "device id 2, but this device is 4");
	refuse(s, &o, TR_NUM_QUEUES, 2, 4, "2 queues, but this device has 1");
	/* A ring past the end of RAM, or straddling it; one misaligned. */
	refuse(s, &o, q0 + TR_Q_DESC, RAM_BASE + RAM_SIZE, 8,
	       "queue 0: its rings (descriptors at 0x80400000");
	refuse(s, &o, q0 + TR_Q_USED, RAM_BASE + RAM_SIZE - 8, 8, "not inside guest RAM");
	refuse(s, &o, q0 + TR_Q_AVAIL, 0, 8, "not inside guest RAM");
	refuse(s, &o, q0 + TR_Q_DESC, RAM_BASE + 8, 8, "misaligned");
	refuse(s, &o, q0 + TR_Q_NUM, 3, 2, "queue 0: size 3 is not a power of 2");
	refuse(s, &o, q0 + TR_Q_NUM, 2048, 2, "queue 0: size 2048 is larger than 1024");
	/* Feature bits the device does not offer (rng offers none of its own). */
	refuse(s, &o, TR_FEATURES, s->t.driver_features | 1, 8,
	       "driver features 0x130000001 are not a subset of the device's offer 0x130000000");
	refuse(s, &o, TR_FEATURES, 0, 8, "are not a subset"); /* no VIRTIO_F_VERSION_1 */
	refuse(s, &o, TR_STATUS, 0x100 | 15, 4, "status 0x10f has bits outside");
	refuse(s, &o, TR_STATUS, 7, 4, "status 0x7 has DRIVER_OK without FEATURES_OK");
	refuse(s, &o, TR_ISR, 4, 4, "interrupt status 0x4");
	refuse(s, &o, q0 + TR_Q_READY, 2, 1, "a boolean field holds 2");

	/* Cut short: the stream ends inside the section; a section shorter than its fields. */
	struct virtio_transport t;
	struct virtio_dev dev = s->t.dev;
	assert_int_equal(virtio_transport_init(&t, &dev, &s->mem, (struct irq_line){0}), 0);
	struct state_in in;
	state_in_init(&in, o.buf, o.len - 10);
	assert_int_equal(virtio_transport_state_load(&t, &in), -EINVAL);
	assert_err(in.err, "section virtio is cut short");
	struct state_out shortened;
	state_out_init(&shortened);
	state_begin(&shortened, "virtio", 1);
	state_put_bytes(&shortened, o.buf + o.len - len, len - 3);
	state_end(&shortened);
	state_in_init(&in, shortened.buf, shortened.len);
	assert_int_equal(virtio_transport_state_load(&t, &in), -EINVAL);
	assert_err(in.err, "section virtio: its payload is shorter than its fields");
	/* Another layout version. */
	shortened.buf[1 + 6] = 2;
	state_in_init(&in, shortened.buf, shortened.len);
	assert_int_equal(virtio_transport_state_load(&t, &in), -EINVAL);
	assert_err(in.err, "layout version 2");
	state_out_free(&shortened);
	/* The good one loads. */
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&t, &in), 0);
	assert_int_equal(t.status, s->t.status);
	virtio_transport_destroy(&t);
	state_out_free(&o);
}

/* A device section refused: the rng's generator and requests in flight. */
static void test_rng_bad(void **state)
{
	struct rng_side *s = *state;
	s->rng.prng = 42;
	struct state_out o;
	state_out_init(&o);
	virtio_transport_state_save(&s->t, &o);
	virtio_rng_state_save(&s->rng, &o);
	assert_false(o.failed);
	s->rng.prng = 0;
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&s->t, &in), 0);
	assert_int_equal(virtio_rng_state_load(&s->rng, &in), -EINVAL);
	assert_err(in.err, "section virtio-rng: the generator was deterministic");
	s->rng.prng = 7;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_transport_state_load(&s->t, &in), 0);
	assert_int_equal(virtio_rng_state_load(&s->rng, &in), 0);
	assert_int_equal(s->rng.prng, 42);
	state_out_free(&o);
}

/* ---- vsock: saved without its connections; virtio-fs: not saved ---- */

static void vsock_up(struct virtio_vsock *v, const char *name, uint64_t cid)
{
	struct virtio_dev dev;
	char err[200], path[96];
	snprintf(path, sizeof(path), "%s-%d", name, (int)getpid());
	unlink(path);
	assert_int_equal(virtio_vsock_init(v, cid, path, &dev, err, sizeof(err)), 0);
}

static void test_vsock_state(void **state)
{
	(void)state;
	struct virtio_vsock *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	assert_non_null(a);
	assert_non_null(b);
	vsock_up(a, "/tmp/rvisor-test-vsock-a", 3);
	vsock_up(b, "/tmp/rvisor-test-vsock-b", 3);
	/* Never notified: saved as a device with no rings, loaded as one. */
	struct state_out o;
	state_out_init(&o);
	virtio_vsock_state_save(a, &o);
	assert_false(o.failed);
	struct state_in in;
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_vsock_state_load(b, &in), 0);
	assert_false(atomic_load(&b->event_reset)); /* no driver: nothing to tell */
	virtio_vsock_destroy(b);
	/* Another guest CID is refused, naming both. */
	vsock_up(b, "/tmp/rvisor-test-vsock-b", 4);
	state_in_init(&in, o.buf, o.len);
	assert_int_equal(virtio_vsock_state_load(b, &in), -EINVAL);
	assert_err(in.err, "guest CID 3, but this VM's is 4");
	state_out_free(&o);
	/* A held receive buffer without rings, or with rings that hold none: refused. */
	for (int active = 0; active < 2; active++) {
		state_out_init(&o);
		state_begin(&o, "virtio-vsock", 1);
		state_put_u64(&o, 4);
		state_put_bool(&o, active);
		state_put_bool(&o, true);
		state_put_u16(&o, 0);
		state_put_bool(&o, false);
		state_end(&o);
		state_in_init(&in, o.buf, o.len);
		assert_int_equal(virtio_vsock_state_load(b, &in), -EINVAL);
		assert_err(in.err, active ? "in flight" : "held before any notification");
		assert_false(b->have_spare);
		state_out_free(&o);
	}
	virtio_vsock_destroy(a);
	virtio_vsock_destroy(b);
	free(a);
	free(b);
}

static void test_fs_not_saved(void **state)
{
	(void)state;
	struct virtio_fs *fs = calloc(1, sizeof(*fs));
	assert_non_null(fs);
	memcpy(fs->tag, "share", 5);
	struct state_out o;
	state_out_init(&o);
	virtio_fs_state_save(fs, &o);
	assert_true(o.failed);
	assert_err(o.err, "virtio-fs 'share'");
	assert_err(o.err, "remove --fs to take snapshots");
	state_out_free(&o);
	free(fs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_blk_in_flight, blk_setup, blk_teardown),
	    cmocka_unit_test_setup_teardown(test_blk_bad, blk_setup, blk_teardown),
	    cmocka_unit_test(test_net_held_buffers),
	    cmocka_unit_test(test_balloon),
	    cmocka_unit_test(test_console_held_buffer),
	    cmocka_unit_test(test_input_pending),
	    cmocka_unit_test(test_rng_pci),
	    cmocka_unit_test_setup_teardown(test_transport_bad, rng_setup, rng_teardown),
	    cmocka_unit_test_setup_teardown(test_rng_bad, rng_setup, rng_teardown),
	    cmocka_unit_test(test_vsock_state),
	    cmocka_unit_test(test_fs_not_saved),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
