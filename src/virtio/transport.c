/* The state every virtio transport shares (virtio 1.2 chapters 2 and 3): device status and
 * its reset, feature negotiation, queue enabling, notifications and interrupts; and the calls
 * devices make to take and complete requests. Every value here may come from the guest's
 * driver: out-of-order or invalid writes are ignored or set DEVICE_NEEDS_RESET, never
 * trusted. */
#include <errno.h>

#include "virtio/transport.h"

/* Feature bits 24 to 40 belong to the queue and transport, 41 to 49 are reserved (2.2, 6):
 * the transport offers exactly the ones it implements and masks a device's offer there. */
#define VIRTIO_TRANSPORT_FEATURES_MASK (((1ull << 50) - 1) & ~((1ull << 24) - 1))
#define VIRTIO_TRANSPORT_FEATURES                                           \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_RING_EVENT_IDX) | \
	 (1ull << VIRTIO_F_INDIRECT_DESC))

/* Status bits a driver may set; DEVICE_NEEDS_RESET is the device's own (2.1). */
#define VIRTIO_STATUS_DRIVER_BITS                                                     \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK | \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)

/* Set or clear bits of InterruptStatus; the line follows InterruptStatus != 0 (4.2.3.4).
 * Called with the lock held. */
void virtio_transport_interrupt(struct virtio_transport *t, uint32_t set, uint32_t clear)
{
	bool was = t->interrupt_status != 0;
	t->interrupt_status = (t->interrupt_status | set) & ~clear;
	bool now = t->interrupt_status != 0;
	if (was != now)
		irq_set(&t->irq, now);
}

/* The device hit an error only a reset clears (2.1.2): set DEVICE_NEEDS_RESET and, once the
 * driver is running, send a configuration change notification. Called with the lock held. */
static void needs_reset(struct virtio_transport *t)
{
	t->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_transport_interrupt(t, VIRTIO_INT_CONFIG, 0);
}

/* A new epoch: requests popped before are never completed into the queue's next set-up. */
static void queue_reset(struct virtio_transport *t, unsigned i)
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
static void device_reset(struct virtio_transport *t)
{
	t->status = 0;
	virtio_transport_interrupt(t, 0, UINT32_MAX);
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
	t->driver_features = 0;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		queue_reset(t, i);
	if (t->dev.reset)
		t->dev.reset(t->dev.opaque);
}

int virtio_transport_init(struct virtio_transport *t, const struct virtio_dev *dev,
			  struct guest_mem *mem, struct irq_line irq)
{
	if (!dev || !mem || dev->num_queues == 0 || dev->num_queues > VIRTIO_MAX_QUEUES ||
	    (dev->config_size && !dev->config_read))
		return -EINVAL;
	*t = (struct virtio_transport){.dev = *dev, .irq = irq, .mem = mem};
	uint64_t own = VIRTIO_TRANSPORT_FEATURES;
	if (dev->external_chains) /* the back end's choice */
		own &= dev->features | ~(1ull << VIRTIO_F_INDIRECT_DESC);
	t->dev.features = (dev->features & ~VIRTIO_TRANSPORT_FEATURES_MASK) | own;
	int rc = pthread_mutex_init(&t->lock, NULL);
	if (rc)
		return -rc;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		queue_reset(t, i);
	return 0;
}

void virtio_transport_destroy(struct virtio_transport *t)
{
	pthread_mutex_destroy(&t->lock);
}

struct virtq *virtio_transport_selected_queue(struct virtio_transport *t)
{
	return t->queue_sel < t->dev.num_queues ? &t->vq[t->queue_sel] : NULL;
}

uint32_t virtio_transport_device_features(const struct virtio_transport *t)
{
	if (t->device_features_sel > 1)
		return 0;
	return (uint32_t)(t->dev.features >> (32 * t->device_features_sel));
}

/* FEATURES_OK is granted only for a subset of the offer that includes VIRTIO_F_VERSION_1
 * (2.2.2, 6.2: a version 2 transport has no legacy interface). */
bool virtio_transport_features_ok(const struct virtio_transport *t, uint64_t features)
{
	return !(features & ~t->dev.features) && (features & (1ull << VIRTIO_F_VERSION_1));
}

static bool features_acceptable(const struct virtio_transport *t)
{
	return virtio_transport_features_ok(t, t->driver_features);
}

static uint32_t ready_queues(const struct virtio_transport *t)
{
	uint32_t mask = 0;
	for (unsigned i = 0; i < t->dev.num_queues; i++)
		if (t->vq[i].ready)
			mask |= 1u << i;
	return mask;
}

/* All ready queues are notified when DRIVER_OK comes on, since a driver may have made buffers
 * available (and notified, which was ignored) before. */
uint32_t virtio_transport_write_status(struct virtio_transport *t, uint32_t val)
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

void virtio_transport_write_driver_features(struct virtio_transport *t, uint32_t val)
{
	/* Features are fixed once FEATURES_OK is set (3.1.1 step 5). */
	if (t->status & VIRTIO_STATUS_FEATURES_OK)
		return;
	if (t->driver_features_sel == 0)
		t->driver_features = (t->driver_features & ~0xffffffffull) | val;
	else if (t->driver_features_sel == 1)
		t->driver_features = (t->driver_features & 0xffffffffull) | (uint64_t)val << 32;
}

void virtio_transport_write_queue_ready(struct virtio_transport *t, struct virtq *q, uint32_t val)
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

/* A notification is passed on only for a ready queue of a running device (4.2.3.3, 4.1.5.2). */
uint32_t virtio_transport_queue_to_notify(const struct virtio_transport *t, uint32_t val)
{
	if (val >= t->dev.num_queues || !t->vq[val].ready ||
	    (t->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) !=
		VIRTIO_STATUS_DRIVER_OK)
		return 0;
	return 1u << val;
}

void virtio_transport_notify(struct virtio_transport *t, uint32_t queues)
{
	/* The device pops under the lock itself (virtio_pop). */
	for (unsigned q = 0; queues && t->dev.queue_notify && q < t->dev.num_queues; q++)
		if (queues & (1u << q))
			t->dev.queue_notify(t->dev.opaque, t, q);
}

bool virtio_transport_config_access_ok(const struct virtio_transport *t, uint64_t off,
				       unsigned size)
{
	return (size == 1 || size == 2 || size == 4) && off < t->dev.config_size &&
	       size <= t->dev.config_size - off;
}

int virtio_pop(struct virtio_transport *t, unsigned q, struct virtq_req *req)
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

int virtio_take_head(struct virtio_transport *t, unsigned q, uint16_t *head, uint32_t *epoch)
{
	int rc = 0;
	pthread_mutex_lock(&t->lock);
	if (q < t->dev.num_queues && t->vq[q].ready &&
	    (t->status & (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET)) ==
		VIRTIO_STATUS_DRIVER_OK) {
		rc = virtq_take_head(&t->vq[q], head);
		*epoch = t->vq[q].epoch;
		if (rc < 0)
			needs_reset(t);
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int virtio_chain(struct virtio_transport *t, unsigned q, uint32_t epoch, uint16_t head,
		 struct virtq_req *req)
{
	int rc = -ESTALE;
	pthread_mutex_lock(&t->lock);
	if (q < t->dev.num_queues && t->vq[q].ready && t->vq[q].epoch == epoch)
		rc = virtq_chain(&t->vq[q], head, req);
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void virtio_complete_batch(struct virtio_transport *t, unsigned q, uint32_t epoch,
			   const struct virtq_used_elem *elems, unsigned n)
{
	pthread_mutex_lock(&t->lock);
	if (q < t->dev.num_queues && t->vq[q].ready && t->vq[q].epoch == epoch) {
		struct virtq *vq = &t->vq[q];
		virtq_push_batch(vq, elems, n);
		if (virtq_need_interrupt(vq))
			virtio_transport_interrupt(t, VIRTIO_INT_VRING, 0);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_complete(struct virtio_transport *t, unsigned q, uint32_t epoch, uint16_t head,
		     uint32_t len)
{
	const struct virtq_used_elem e = {.id = head, .len = len};
	virtio_complete_batch(t, q, epoch, &e, 1);
}

uint64_t virtio_driver_features(struct virtio_transport *t)
{
	pthread_mutex_lock(&t->lock);
	uint64_t f = (t->status & VIRTIO_STATUS_FEATURES_OK) ? t->driver_features : 0;
	pthread_mutex_unlock(&t->lock);
	return f;
}

void virtio_config_changed(struct virtio_transport *t)
{
	pthread_mutex_lock(&t->lock);
	t->config_generation++;
	/* A driver not yet running reads the configuration when it starts (3.1.1). */
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_transport_interrupt(t, VIRTIO_INT_CONFIG, 0);
	pthread_mutex_unlock(&t->lock);
}

void virtio_interrupt(struct virtio_transport *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		virtio_transport_interrupt(t, VIRTIO_INT_VRING, 0);
	pthread_mutex_unlock(&t->lock);
}

void virtio_needs_reset(struct virtio_transport *t)
{
	pthread_mutex_lock(&t->lock);
	needs_reset(t);
	pthread_mutex_unlock(&t->lock);
}
