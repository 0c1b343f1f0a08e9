/* The virtio-mmio transport, version 2 (virtio 1.2 section 4.2): the register block of 4.2.2,
 * device status and feature negotiation (2.1, 2.2, 3.1), queue set-up and notifications. Every
 * register value is guest-controlled: accesses of the wrong size, to unknown offsets or out of
 * order are ignored (reads return 0), never trusted. */
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

/* Feature bits 24 to 40 belong to the queue and transport, 41 to 49 are reserved (2.2, 6):
 * the transport offers exactly the ones it implements and masks a device's offer there. */
#define VIRTIO_TRANSPORT_FEATURES_MASK (((1ull << 50) - 1) & ~((1ull << 24) - 1))
#define VIRTIO_MMIO_TRANSPORT_FEATURES                                      \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) | \
	 (1ull << VIRTIO_F_INDIRECT_DESC))

/* Status bits a driver may set; DEVICE_NEEDS_RESET is the device's own (2.1). */
#define VIRTIO_STATUS_DRIVER_BITS                                                     \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)

/* Set or clear bits of InterruptStatus; the line follows InterruptStatus != 0 (4.2.3.4).
 * Called with the lock held. */
static void update_interrupt(struct virtio_mmio *t, uint32_t set, uint32_t clear)
{
	bool was = t->interrupt_status != 0;
	t->interrupt_status = (t->interrupt_status | set) & ~clear;
	bool now = t->interrupt_status != 0;
	if (was != now)
		irq_set(&t->irq, now);
}

/* The device hit an error only a reset clears (2.1.2): set DEVICE_NEEDS_RESET and, once the
 * driver is running, send a configuration change notification. Called with the lock held. */
static void needs_reset(struct virtio_mmio *t)
{
	t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		update_interrupt(t, VIRTIO_MMIO_INT_CONFIG, 0);
}

/* A new epoch: requests popped before are never completed into the queue's next set-up. */
static void queue_reset(struct virtio_mmio *t, unsigned i)
{
	struct virtq *q = &t->vq[i];
	*q = (struct virtq){.mem = t->mem, .epoch = q->epoch + 1};
	/* A driver that never writes QueueNum gets the largest size (QueueNumMax). */
	if (i < t->dev.num_queues)
		q->num = VIRTQ_MAX_SIZE;
}

/* Device reset (2.4, 4.2.2.1): status, features, interrupts and queues back to their initial
 * values; the device forgets its requests. ConfigGeneration keeps counting so a driver never
 * sees an old value again. Called with the lock held. */
static void device_reset(struct virtio_mmio *t)
{
	t->status = 0;
	update_interrupt(t, 0, UINT32_MAX);
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
	t->driver_features = 0;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		queue_reset(t, i);
	if (t->dev.reset)
		t->dev.reset(t->dev.opaque);
}

int virtio_mmio_init(struct virtio_mmio *t, const struct virtio_dev *dev, struct guest_mem *mem,
		     struct irq_line irq)
{
	if (!dev || !mem || dev->num_queues == 0 || dev->num_queues > VIRTIO_MMIO_MAX_QUEUES ||
	    dev->config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG ||
	    (dev->config_size && !dev->config_read))
		return -EINVAL;
	*t = (struct virtio_mmio){.dev = *dev, .irq = irq, .mem = mem};
	t->dev.features =
	    (dev->features & ~VIRTIO_TRANSPORT_FEATURES_MASK) | VIRTIO_MMIO_TRANSPORT_FEATURES;
	int rc = pthread_mutex_init(&t->lock, NULL);
	if (rc)
		return -rc;
	for (unsigned i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		queue_reset(t, i);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

/* The selected queue, or NULL if QueueSel names none of the device's queues. */
static struct virtq *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->dev.num_queues ? &t->vq[t->queue_sel] : NULL;
}

/* FEATURES_OK is granted only for a subset of the offer that includes VIRTIO_F_VERSION_1
 * (2.2.2, 6.2: a version 2 transport has no legacy interface). */
static bool features_acceptable(const struct virtio_mmio *t)
{
	return !(t->driver_features & ~t->dev.features) &&
	       (t->driver_features & (1ull << VIRTIO_F_VERSION_1));
}

static uint32_t ready_queues(const struct virtio_mmio *t)
{
	uint32_t mask = 0;
	for (unsigned i = 0; i < t->dev.num_queues; i++)
		if (t->vq[i].ready)
			mask |= 1u << i;
	return mask;
}

/* Returns the queues to notify: all ready ones when DRIVER_OK comes on, since a driver may
 * have made buffers available (and notified, which was ignored) before. */
static uint32_t write_status(struct virtio_mmio *t, uint32_t val)
{
	if (val == 0) {
		device_reset(t);
		return 0;
	}
	/* Drivers only ever add bits (3.1.1); clearing one takes a reset. */
	uint32_t add = val & VIRTIO_STATUS_DRIVER_BITS & ~t->status;
	if ((add & VIRTIO_STATUS_FEATURES_OK) && !features_acceptable(t))
		add &= ~VIRTIO_STATUS_FEATURES_OK;
	/* The device is live only once its features are settled. */
	if ((add & VIRTIO_STATUS_DRIVER_OK) && !((t->status | add) & VIRTIO_STATUS_FEATURES_OK))
		add &= ~VIRTIO_STATUS_DRIVER_OK;
	t->status |= add;
	if ((add & VIRTIO_STATUS_DRIVER_OK) && !(t->status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
		return ready_queues(t);
	return 0;
}

static void write_driver_features(struct virtio_mmio *t, uint32_t val)
{
	/* Features are fixed once FEATURES_OK is set (3.1.1 step 5). */
	if (t->status & VIRTIO_STATUS_FEATURES_OK)
		return;
	if (t->driver_features_sel == 0)
		t->driver_features = (t->driver_features & ~0xffffffffull) | val;
	else if (t->driver_features_sel == 1)
		t->driver_features = (t->driver_features & 0xffffffffull) | (uint64_t)val << 32;
}

static void write_queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t val)
{
	if (val == 0) {
		if (q->ready)
			q->epoch++;
		q->ready = false;
		return;
	}
	/* Queues are set up after feature negotiation (3.1.1 step 7), which fixes the ring
	 * format they use. */
	if (val != 1 || q->ready || !(t->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	q->event_idx = t->driver_features & (1ull << VIRTIO_F_RING_EVENT_IDX);
	q->indirect = t->driver_features & (1ull << VIRTIO_F_INDIRECT_DESC);
	q->last_avail = q->used_idx = 0;
	q->signalled_used = 0;
	q->signalled_valid = false;
	if (virtq_validate(q)) {
		needs_reset(t);
		return;
	}
	q->ready = true;
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

/* A notification is passed on only for a ready queue of a running device (4.2.3.3). Returns
 * the queue as a mask of one bit, or 0. */
static uint32_t queue_to_notify(const struct virtio_mmio *t, uint32_t val)
{
	if (val >= t->dev.num_queues || !t->vq[val].ready ||
	    (t->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) !=
		VIRTIO_STATUS_DRIVER_OK)
		return 0;
	return 1u << val;
}

static uint32_t read_register(struct virtio_mmio *t, uint64_t offset)
{
	struct virtq *q = selected_queue(t);
	switch (offset) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return VIRTIO_MMIO_VERSION_2;
	case VIRTIO_MMIO_DEVICE_ID: return t->dev.device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (t->device_features_sel > 1)
			return 0;
		return (uint32_t)(t->dev.features >> (32 * t->device_features_sel));
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
static uint32_t write_register(struct virtio_mmio *t, uint64_t offset, uint32_t val)
{
	switch (offset) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->device_features_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES: write_driver_features(t, val); break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->driver_features_sel = val; break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = val; break;
	case VIRTIO_MMIO_QUEUE_READY: {
		struct virtq *q = selected_queue(t);
		if (q)
			write_queue_ready(t, q, val);
		break;
	}
	case VIRTIO_MMIO_QUEUE_NOTIFY: return queue_to_notify(t, val);
	case VIRTIO_MMIO_INTERRUPT_ACK:
		update_interrupt(t, 0, val & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG));
		break;
	case VIRTIO_MMIO_STATUS: return write_status(t, val);
	default: write_queue_layout(selected_queue(t), offset, val); break;
	}
	return 0;
}

/* Configuration space access of size bytes at off: inside config_size, sizes 1, 2, 4. */
static bool config_access_ok(const struct virtio_mmio *t, uint64_t off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off < t->dev.config_size &&
	       size <= t->dev.config_size - off;
}

static uint64_t virtio_mmio_read(void *opaque, uint64_t offset, unsigned size)
{
	struct virtio_mmio *t = opaque;
	uint32_t val = 0;
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;
		if (config_access_ok(t, off, size))
			val = t->dev.config_read(t->dev.opaque, (uint32_t)off, size);
	} else if (size == 4) {
		val = read_register(t, offset);
	}
	pthread_mutex_unlock(&t->lock);
	return val;
}

static void virtio_mmio_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct virtio_mmio *t = opaque;
	uint32_t notify = 0;
	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;
		if (config_access_ok(t, off, size) && t->dev.config_write)
			t->dev.config_write(t->dev.opaque, (uint32_t)off, size, (uint32_t)value);
	} else if (size == 4) {
		notify = write_register(t, offset, (uint32_t)value);
	}
	pthread_mutex_unlock(&t->lock);
	/* The device pops under the lock itself (virtio_mmio_pop). */
	for (unsigned q = 0; notify && t->dev.queue_notify && q < t->dev.num_queues; q++)
		if (notify & (1u << q))
			t->dev.queue_notify(t->dev.opaque, t, q);
}

/* Any size reaches the callbacks so that wrong ones can be ignored rather than fault. */
const struct mmio_ops virtio_mmio_ops = {
    .read = virtio_mmio_read,
    .write = virtio_mmio_write,
    .min_size = 1,
    .max_size = 8,
};

int virtio_mmio_pop(struct virtio_mmio *t, unsigned q, struct virtq_req *req)
{
	int rc = 0;
	pthread_mutex_lock(&t->lock);
	/* The device must not touch a queue that is not ready (4.2.2.1), nor a broken one. */
	if (q < t->dev.num_queues && t->vq[q].ready &&
	    (t->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) ==
		VIRTIO_STATUS_DRIVER_OK) {
		rc = virtq_pop(&t->vq[q], req);
		if (rc < 0)
			needs_reset(t);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void virtio_mmio_complete_batch(struct virtio_mmio *t, unsigned q, uint32_t epoch,
				const struct virtq_used_elem *elems, unsigned n)
{
	pthread_mutex_lock(&t->lock);
	if (q < t->dev.num_queues && t->vq[q].ready && t->vq[q].epoch == epoch) {
		struct virtq *vq = &t->vq[q];
		virtq_push_batch(vq, elems, n);
		if (virtq_need_interrupt(vq))
			update_interrupt(t, VIRTIO_MMIO_INT_VRING, 0);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_complete(struct virtio_mmio *t, unsigned q, uint32_t epoch, uint16_t head,
			  uint32_t len)
{
	const struct virtq_used_elem e = {.id = head, .len = len};
	virtio_mmio_complete_batch(t, q, epoch, &e, 1);
}

uint64_t virtio_mmio_driver_features(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t f = (t->status & VIRTIO_STATUS_FEATURES_OK) ? t->driver_features : 0;
	pthread_mutex_unlock(&t->lock);
	return f;
}

void virtio_mmio_config_changed(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_generation++;
	/* A driver not yet running reads the configuration when it starts (3.1.1). */
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		update_interrupt(t, VIRTIO_MMIO_INT_CONFIG, 0);
	pthread_mutex_unlock(&t->lock);
}
