/* The fake virtio driver of the device unit tests (virtio_driver.h). */
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio/virtq.h"
#include "virtio_driver.h"

/* Offsets of the avail and used rings from a queue's descriptor table. */
#define AVAIL_OFFSET 0x1000
#define USED_OFFSET  0x2000

void vdrv_init(struct vdrv *d, struct virtio_transport *t, struct guest_mem *mem, unsigned nqueues,
	       uint16_t num)
{
	assert_true(nqueues >= 1 && nqueues <= VDRV_MAX_QUEUES);
	assert_true(num >= 1 && num <= VDRV_MAX_NUM && (num & (num - 1)) == 0);
	assert_true(mem->size > VDRV_HEAP_OFFSET);
	memset(d, 0, sizeof(*d));
	d->t = t;
	d->mem = mem;
	d->nqueues = nqueues;
	d->num = num;
	for (unsigned q = 0; q < nqueues; q++) {
		d->q[q].desc = mem->base + VDRV_QUEUE_STRIDE * q;
		d->q[q].avail = d->q[q].desc + AVAIL_OFFSET;
		d->q[q].used = d->q[q].desc + USED_OFFSET;
	}
	d->heap_base = d->heap = mem->base + VDRV_HEAP_OFFSET;
}

static void irq_record(void *opaque, unsigned num, bool level)
{
	struct vdrv *d = opaque;
	(void)num;
	if (level)
		__atomic_add_fetch(&d->irqs, 1, __ATOMIC_RELAXED);
}

struct irq_line vdrv_irq_line(struct vdrv *d, unsigned num)
{
	return (struct irq_line){irq_record, d, num};
}

uint32_t vdrv_read(struct vdrv *d, uint64_t off)
{
	return (uint32_t)virtio_mmio_ops.read(d->t, off, 4);
}

void vdrv_write(struct vdrv *d, uint64_t off, uint32_t val)
{
	virtio_mmio_ops.write(d->t, off, 4, val);
}

uint32_t vdrv_config_read(struct vdrv *d, uint32_t off, unsigned size)
{
	return (uint32_t)virtio_mmio_ops.read(d->t, REG_CONFIG + off, size);
}

uint64_t vdrv_offered(struct vdrv *d)
{
	vdrv_write(d, REG_DEVICE_FEATURES_SEL, 0);
	uint64_t v = vdrv_read(d, REG_DEVICE_FEATURES);
	vdrv_write(d, REG_DEVICE_FEATURES_SEL, 1);
	return v | (uint64_t)vdrv_read(d, REG_DEVICE_FEATURES) << 32;
}

static struct vdrv_queue *queue(struct vdrv *d, unsigned q)
{
	assert_true(q < d->nqueues);
	return &d->q[q];
}

void vdrv_start(struct vdrv *d, uint64_t mask)
{
	const uint32_t ack = VIRTIO_STATUS_ACKNOWLEDGE, drv = VIRTIO_STATUS_DRIVER,
		       fok = VIRTIO_STATUS_FEATURES_OK, dok = VIRTIO_STATUS_DRIVER_OK;
	vdrv_write(d, REG_STATUS, 0);
	vdrv_write(d, REG_STATUS, ack);
	vdrv_write(d, REG_STATUS, ack | drv);
	d->offered = vdrv_offered(d);
	d->features = d->offered & mask;
	vdrv_write(d, REG_DRIVER_FEATURES_SEL, 0);
	vdrv_write(d, REG_DRIVER_FEATURES, (uint32_t)d->features);
	vdrv_write(d, REG_DRIVER_FEATURES_SEL, 1);
	vdrv_write(d, REG_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vdrv_write(d, REG_STATUS, ack | drv | fok);
	assert_true(vdrv_read(d, REG_STATUS) & fok);
	for (unsigned q = 0; q < d->nqueues; q++) {
		struct vdrv_queue *vq = &d->q[q];
		memset(vdrv_host(d, vq->desc, VDRV_QUEUE_STRIDE), 0, VDRV_QUEUE_STRIDE);
		vq->avail_idx = vq->used_seen = vq->next_desc = 0;
		vdrv_write(d, REG_QUEUE_SEL, q);
		vdrv_write(d, REG_QUEUE_NUM, d->num);
		vdrv_write(d, REG_QUEUE_DESC_LOW, (uint32_t)vq->desc);
		vdrv_write(d, REG_QUEUE_DESC_HIGH, (uint32_t)(vq->desc >> 32));
		vdrv_write(d, REG_QUEUE_DRIVER_LOW, (uint32_t)vq->avail);
		vdrv_write(d, REG_QUEUE_DRIVER_HIGH, (uint32_t)(vq->avail >> 32));
		vdrv_write(d, REG_QUEUE_DEVICE_LOW, (uint32_t)vq->used);
		vdrv_write(d, REG_QUEUE_DEVICE_HIGH, (uint32_t)(vq->used >> 32));
		vdrv_write(d, REG_QUEUE_READY, 1);
		assert_int_equal(vdrv_read(d, REG_QUEUE_READY), 1);
	}
	vdrv_write(d, REG_STATUS, ack | drv | fok | dok);
	assert_int_equal(vdrv_read(d, REG_STATUS) & dok, dok);
	d->heap = d->heap_base;
}

uint8_t *vdrv_host(struct vdrv *d, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(d->mem, gpa, len);
	assert_non_null(p);
	if (!p)
		abort(); /* tells the compiler what assert_non_null means */
	return p;
}

uint64_t vdrv_alloc(struct vdrv *d, uint64_t len)
{
	uint64_t gpa = d->heap;
	assert_true(len <= d->mem->base + d->mem->size - gpa);
	d->heap = (gpa + len + 15) & ~15ull;
	memset(vdrv_host(d, gpa, len), VDRV_FILL, len);
	return gpa;
}

void vdrv_publish(struct vdrv *d, unsigned q, uint16_t head)
{
	struct vdrv_queue *vq = queue(d, q);
	uint16_t h = htole16(head);
	memcpy(vdrv_host(d, vq->avail + 4 + 2ull * (vq->avail_idx % d->num), 2), &h, 2);
	vq->avail_idx++;
	/* The ring entry before the index that publishes it (2.7.13). */
	__atomic_store_n((uint16_t *)vdrv_host(d, vq->avail + 2, 2), htole16(vq->avail_idx),
			 __ATOMIC_RELEASE);
}

uint16_t vdrv_add_chain(struct vdrv *d, unsigned q, const struct vdrv_seg *s, unsigned n)
{
	struct vdrv_queue *vq = queue(d, q);
	uint16_t head = vq->next_desc;
	for (unsigned i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % d->num);
		uint8_t *p = vdrv_host(d, vq->desc + 16ull * idx, 16);
		uint64_t addr = htole64(s[i].gpa);
		uint32_t len = htole32(s[i].len);
		uint16_t flags = htole16((uint16_t)((i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) |
						    (s[i].write ? VIRTQ_DESC_F_WRITE : 0)));
		uint16_t next = htole16((uint16_t)((idx + 1) % d->num));
		memcpy(p, &addr, 8);
		memcpy(p + 8, &len, 4);
		memcpy(p + 12, &flags, 2);
		memcpy(p + 14, &next, 2);
	}
	vq->next_desc = (uint16_t)((head + n) % d->num);
	vdrv_publish(d, q, head);
	return head;
}

uint64_t vdrv_post_writable(struct vdrv *d, unsigned q, uint32_t len, uint16_t *head)
{
	struct vdrv_seg s = {vdrv_alloc(d, len), len, true};
	uint16_t h = vdrv_add_chain(d, q, &s, 1);
	if (head)
		*head = h;
	return s.gpa;
}

void vdrv_notify(struct vdrv *d, unsigned q)
{
	vdrv_write(d, REG_QUEUE_NOTIFY, q);
}

uint16_t vdrv_used_idx(struct vdrv *d, unsigned q)
{
	struct vdrv_queue *vq = queue(d, q);
	return le16toh(
	    __atomic_load_n((uint16_t *)vdrv_host(d, vq->used + 2, 2), __ATOMIC_ACQUIRE));
}

bool vdrv_used_pending(struct vdrv *d, unsigned q)
{
	return vdrv_used_idx(d, q) != queue(d, q)->used_seen;
}

bool vdrv_pop_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len)
{
	if (!vdrv_used_pending(d, q))
		return false;
	struct vdrv_queue *vq = &d->q[q];
	const uint8_t *e = vdrv_host(d, vq->used + 4 + 8ull * (vq->used_seen % d->num), 8);
	uint32_t v[2];
	memcpy(v, e, 8);
	*id = le32toh(v[0]);
	*len = le32toh(v[1]);
	vq->used_seen++;
	return true;
}

uint32_t vdrv_take_used(struct vdrv *d, unsigned q, uint16_t head)
{
	uint32_t id, len;
	assert_true(vdrv_pop_used(d, q, &id, &len));
	assert_int_equal(id, head);
	return len;
}

uint32_t vdrv_wait_used(struct vdrv *d, unsigned q, uint16_t head)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!vdrv_used_pending(d, q)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			fail_msg("request %u on queue %u never completed", head, q);
		usleep(100);
	}
	return vdrv_take_used(d, q, head);
}

void vdrv_no_more_used(struct vdrv *d, unsigned q)
{
	assert_int_equal(vdrv_used_idx(d, q), queue(d, q)->used_seen);
}
