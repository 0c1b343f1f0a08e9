/* The virtio-mmio transport, version 2 only (virtio 1.2 section 4.2): the register block a
 * driver uses to negotiate feature bits, program virtqueues and exchange notifications and
 * interrupts with one device. Devices plug in through struct virtio_dev and never see the
 * transport's registers. */
#ifndef RVISOR_VIRTIO_MMIO_H
#define RVISOR_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "mem/bus.h"
#include "virtio/virtq.h"

#define VIRTIO_MMIO_SIZE       0x1000 /* bytes of MMIO window per device */
#define VIRTIO_MMIO_MAX_QUEUES 8

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

/* Reserved feature bits (6). */
#define VIRTIO_F_INDIRECT_DESC  28
#define VIRTIO_F_RING_EVENT_IDX 29
#define VIRTIO_F_VERSION_1      32

/* InterruptStatus bits (4.2.2). */
#define VIRTIO_MMIO_INT_VRING  1
#define VIRTIO_MMIO_INT_CONFIG 2

struct virtio_mmio;

/* A device behind the transport. config_read, config_write and reset run on a vCPU thread
 * with the transport's lock held; queue_notify runs on a vCPU thread without it (the device
 * calls virtio_mmio_pop / virtio_mmio_complete, which take the lock). */
struct virtio_dev {
	uint32_t device_id;   /* 5.x: 1 net, 2 block, 3 console, 4 rng */
	uint64_t features;    /* device feature bits offered, besides the transport's own */
	unsigned num_queues;  /* 1..VIRTIO_MMIO_MAX_QUEUES */
	uint32_t config_size; /* bytes of device configuration space */
	void *opaque;
	/* Read/write size (1, 2, 4) bytes at offset off of the configuration space; off + size
	 * is within config_size. */
	uint32_t (*config_read)(void *opaque, uint32_t off, unsigned size);
	void (*config_write)(void *opaque, uint32_t off, unsigned size, uint32_t val);
	/* The driver notified queue q (it is ready and DRIVER_OK is set). The device pops
	 * requests with virtq_pop and completes them with virtio_mmio_complete, now or later
	 * from another thread. */
	void (*queue_notify)(void *opaque, struct virtio_mmio *t, unsigned q);
	/* The driver reset the device (status 0): forget all requests in flight. */
	void (*reset)(void *opaque);
};

struct virtio_mmio {
	pthread_mutex_t lock;
	struct virtio_dev dev;
	struct irq_line irq;
	uint32_t status;
	uint32_t interrupt_status;
	uint32_t config_generation;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	struct virtq vq[VIRTIO_MMIO_MAX_QUEUES];
	struct guest_mem *mem;
};

/* Set up the transport for dev, raising interrupts on irq. Offers VIRTIO_F_VERSION_1,
 * VIRTIO_F_RING_EVENT_IDX and VIRTIO_F_INDIRECT_DESC in addition to dev->features.
 * Returns 0 or -EINVAL. */
int virtio_mmio_init(struct virtio_mmio *t, const struct virtio_dev *dev, struct guest_mem *mem,
		     struct irq_line irq);
void virtio_mmio_destroy(struct virtio_mmio *t);
/* MMIO callbacks; opaque is the struct virtio_mmio. 4-byte accesses to registers; 1, 2 and
 * 4-byte accesses to the configuration space at 0x100. */
extern const struct mmio_ops virtio_mmio_ops;

/* Pop the next request of queue q under the transport lock. Returns as virtq_pop; on
 * -EINVAL the device is marked DEVICE_NEEDS_RESET and the driver told (config interrupt). */
int virtio_mmio_pop(struct virtio_mmio *t, unsigned q, struct virtq_req *req);
/* Complete the request with chain head of queue q, popped in epoch (its req->epoch), with len
 * bytes written, and interrupt the driver if it wants (2.7.7, 2.7.10). A request whose queue
 * has been reset or disabled since it was popped is dropped: it belongs to no ring now. */
void virtio_mmio_complete(struct virtio_mmio *t, unsigned q, uint32_t epoch, uint16_t head,
			  uint32_t len);
/* Complete n requests of queue q, all popped in epoch, with one used index update and at
 * most one interrupt (virtq_push_batch); dropped whole if the epoch is over. */
void virtio_mmio_complete_batch(struct virtio_mmio *t, unsigned q, uint32_t epoch,
				const struct virtq_used_elem *elems, unsigned n);
/* The feature bits the driver accepted: its DriverFeatures once FEATURES_OK is set, else 0
 * (3.1.1). Devices take their negotiated behaviour from here. */
uint64_t virtio_mmio_driver_features(struct virtio_mmio *t);
/* The device's configuration changed: bump the generation and interrupt the driver. */
void virtio_mmio_config_changed(struct virtio_mmio *t);

#endif
