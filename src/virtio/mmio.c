/* The virtio-mmio transport, version 2 (virtio 1.2 section 4.2): the register block of 4.2.2
 * decoded onto the shared state of transport.c. Every register value is guest-controlled:
 * accesses of the wrong size, to unknown offsets or out of order are ignored (reads return 0),
 * never trusted. */
#include <errno.h>

#include "virtio/mmio.h"

/* Register offsets (4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_QUEUE_RESET         0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC     0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION_2 2u
/* VendorID: no registry assigns these for virtio-mmio; "RVIS" read as little-endian bytes,
 * as MagicValue spells "virt". */
#define VIRTIO_MMIO_VENDOR 0x53495652u

int virtio_mmio_init(struct virtio_transport *t, const struct virtio_dev *dev,
		     struct guest_mem *mem, struct irq_line irq)
{
	if (dev && dev->config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	return virtio_transport_init(t, dev, mem, irq);
}

void virtio_mmio_destroy(struct virtio_transport *t)
{
	virtio_transport_destroy(t);
}

static void set_low(uint64_t *reg, uint32_t val)
{
	*reg = (*reg & ~0xffffffffull) | val;
}

static void set_high(uint64_t *reg, uint32_t val)
{
	*reg = (*reg & 0xffffffffull) | (uint64_t)val << 32;
}

/* Writes to a queue's layout registers, accepted only while it is not ready (4.2.3). */
static void write_queue_layout(struct virtq *q, uint64_t offset, uint32_t val)
{
	if (!q || q->ready)
		return;
	switch (offset) {
	case VIRTIO_MMIO_QUEUE_NUM: q->num = val <= VIRTQ_MAX_SIZE ? (uint16_t)val : 0; break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: set_low(&q->desc_gpa, val); break;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: set_high(&q->desc_gpa, val); break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW: set_low(&q->avail_gpa, val); break;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: set_high(&q->avail_gpa, val); break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW: set_low(&q->used_gpa, val); break;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: set_high(&q->used_gpa, val); break;
	default: break;
	}
}

static uint32_t read_register(struct virtio_transport *t, uint64_t offset)
{
	struct virtq *q = virtio_transport_selected_queue(t);
	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return VIRTIO_MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID: return t->dev.device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES: return virtio_transport_device_features(t);
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? VIRTQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q && q->ready;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return t->interrupt_status;
	case VIRTIO_MMIO_STATUS: return t->status;
	/* No shared memory regions: every SHMSel names a missing one (4.2.2). */
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH: return UINT32_MAX;
	case VIRTIO_MMIO_CONFIG_GENERATION: return t->config_generation;
	default: return 0; /* write-only, reserved, or QueueReset without VIRTIO_F_RING_RESET */
	}
}

/* Returns the queues to notify once the lock is dropped, one bit each. */
static uint32_t write_register(struct virtio_transport *t, uint64_t offset, uint32_t val)
{
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->device_features_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES: virtio_transport_write_driver_features(t, val); break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->driver_features_sel = val; break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = val; break;
	case VIRTIO_MMIO_QUEUE_READY: {
		struct virtq *q = virtio_transport_selected_queue(t);
		if (q)
			virtio_transport_write_queue_ready(t, q, val);
		break;
	}
	case VIRTIO_MMIO_QUEUE_NOTIFY: return virtio_transport_queue_to_notify(t, val);
	case VIRTIO_MMIO_INTERRUPT_ACK:
		virtio_transport_interrupt(t, 0, val & (VIRTIO_INT_VRING | VIRTIO_INT_CONFIG));
		break;
	case VIRTIO_MMIO_STATUS: return virtio_transport_write_status(t, val);
	default: write_queue_layout(virtio_transport_selected_queue(t), offset, val); break;
	}
	return 0;
}

static uint64_t virtio_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct virtio_transport *t = opaque;
	uint32_t val = 0;
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;
		if (virtio_transport_config_access_ok(t, off, size))
			val = t->dev.config_read(t->dev.opaque, (uint32_t)off, size);
	} else if (size == 4) {
		val = read_register(t, offset);
	}
	pthread_mutex_unlock(&t->lock);
	return val;
}

static void virtio_mmio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct virtio_transport *t = opaque;
	uint32_t notify = 0;
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;
		if (virtio_transport_config_access_ok(t, off, size) && t->dev.config_write)
			t->dev.config_write(t->dev.opaque, (uint32_t)off, size, (uint32_t)value);
	} else if (size == 4) {
		notify = write_register(t, offset, (uint32_t)value);
	}
	pthread_mutex_unlock(&t->lock);
	virtio_transport_notify(t, notify);
}

/* Any size reaches the callbacks so that wrong ones can be ignored rather than fault. */
const struct mmio_ops virtio_mmio_ops = {
    .read = virtio_mmio_read,
    .write = virtio_mmio_write,
    .min_size = 1,
    .max_size = 8,
};
