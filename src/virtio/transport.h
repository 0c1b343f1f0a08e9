/* What every virtio transport shares (virtio 1.2 chapters 2 and 3): a device's status, feature
 * negotiation, virtqueues, configuration generation and interrupt status, kept in one struct
 * virtio_transport under one lock. The transports (virtio-mmio, mmio.c; virtio-pci, pci.c)
 * only decode their registers onto it; devices plug in through struct virtio_dev and use the
 * calls at the end of this header, never a transport's registers. */
#ifndef RVISOR_VIRTIO_TRANSPORT_H
#define RVISOR_VIRTIO_TRANSPORT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "virtio/virtq.h"

#define VIRTIO_MAX_QUEUES 8

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

/* Interrupt status bits: virtio-mmio's InterruptStatus (4.2.2) and virtio-pci's ISR status
 * (4.1.4.5) alike. */
#define VIRTIO_INT_VRING  1
#define VIRTIO_INT_CONFIG 2

struct virtio_transport;

/* A device behind a transport. config_read, config_write and reset run on a vCPU thread
 * with the transport's lock held; queue_notify runs on a vCPU thread without it (the device
 * calls virtio_pop / virtio_complete, which take the lock). */
struct virtio_dev {
	uint32_t device_id;   /* 5.x: 1 net, 2 block, 3 console, 4 rng */
	uint64_t features;    /* device feature bits offered, besides the transport's own */
	unsigned num_queues;  /* 1..VIRTIO_MAX_QUEUES */
	uint32_t config_size; /* bytes of device configuration space */
	/* The descriptor chains are parsed outside rvisor (a vhost-user back end): the
	 * transport offers indirect descriptors only if features has the bit, as the back end
	 * implements them or not. */
	bool external_chains;
	void *opaque;
	/* Read/write size (1, 2, 4) bytes at offset off of the configuration space; off + size
	 * is within config_size. */
	uint32_t (*config_read)(void *opaque, uint32_t off, unsigned size);
	void (*config_write)(void *opaque, uint32_t off, unsigned size, uint32_t val);
	/* The driver notified queue q (it is ready and DRIVER_OK is set). The device pops
	 * requests with virtq_pop and completes them with virtio_complete, now or later
	 * from another thread. */
	void (*queue_notify)(void *opaque, struct virtio_transport *t, unsigned q);
	/* The driver reset the device (status 0): forget all requests in flight. */
	void (*reset)(void *opaque);
	/* The transport was loaded from a snapshot (virtio_transport_state_load): t is the
	 * device's transport, taken as after a first notification now or, for a device whose
	 * backend's thread could pop buffers meanwhile, when its own section (loaded next) is.
	 * Runs without the transport's lock; may be NULL. */
	void (*restored)(void *opaque, struct virtio_transport *t);
};

/* One device's state as its driver sees it through any transport. Every field is written
 * with lock held. */
struct virtio_transport {
	pthread_mutex_t lock;
	struct virtio_dev dev;
	struct irq_line irq;        /* level: interrupt_status != 0 */
	uint32_t status;            /* device status (2.1) */
	uint32_t interrupt_status;  /* VIRTIO_INT_* bits not yet acknowledged */
	uint32_t config_generation; /* bumped on every configuration change (2.5.1) */
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint64_t driver_features;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	struct guest_mem *mem;
};

/* ---- for the transports ---- */

/* Set up t for dev, raising interrupts on irq. Offers VIRTIO_F_VERSION_1,
 * VIRTIO_F_RING_EVENT_IDX and VIRTIO_F_INDIRECT_DESC in addition to dev->features (and masks
 * the device's offer of other transport bits, 24 to 49). Returns 0, -EINVAL for a device
 * with no or too many queues or configuration space without config_read, or -errno. */
int virtio_transport_init(struct virtio_transport *t, const struct virtio_dev *dev,
			  struct guest_mem *mem, struct irq_line irq);
/* Release what virtio_transport_init set up (the device's own state is the device's). */
void virtio_transport_destroy(struct virtio_transport *t);
/* With the lock held: set and clear interrupt status bits (the line follows). */
void virtio_transport_interrupt(struct virtio_transport *t, uint32_t set, uint32_t clear);
/* With the lock held: the queue queue_sel names, or NULL if none of the device's. */
struct virtq *virtio_transport_selected_queue(struct virtio_transport *t);
/* With the lock held: 32 bits of the device's feature bits at device_features_sel (0 past
 * bit 63). */
uint32_t virtio_transport_device_features(const struct virtio_transport *t);
/* Whether the driver may be granted FEATURES_OK with feature bits features: a subset of the
 * device's offer that includes VIRTIO_F_VERSION_1 (2.2.2, 6.2). */
bool virtio_transport_features_ok(const struct virtio_transport *t, uint64_t features);
/* With the lock held: the driver writes 32 bits of its feature bits at driver_features_sel
 * (ignored once FEATURES_OK is set). */
void virtio_transport_write_driver_features(struct virtio_transport *t, uint32_t val);
/* With the lock held: the driver writes the device status (0 resets the device). Returns the
 * queues to notify once the lock is dropped, one bit each (virtio_transport_notify). */
uint32_t virtio_transport_write_status(struct virtio_transport *t, uint32_t val);
/* With the lock held: the driver enables (1) or disables (0) queue q, whose layout it has
 * written; a layout outside RAM sets DEVICE_NEEDS_RESET instead. */
void virtio_transport_write_queue_ready(struct virtio_transport *t, struct virtq *q, uint32_t val);
/* With the lock held: the driver notified queue val; the queue as a mask of one bit when it
 * is ready on a running device, else 0. */
uint32_t virtio_transport_queue_to_notify(const struct virtio_transport *t, uint32_t val);
/* Without the lock: pass notifications (a mask of queues) on to the device. */
void virtio_transport_notify(struct virtio_transport *t, uint32_t queues);
/* Whether a device configuration access of size bytes at off is one to pass on: sizes 1, 2,
 * 4 within config_size. */
bool virtio_transport_config_access_ok(const struct virtio_transport *t, uint64_t off,
				       unsigned size);

/* ---- snapshots (state/stream.h; implemented in virtio/state.c) ----
 * Saving, with the vCPUs parked and the devices' own threads paused (virtio_blk_set_paused,
 * virtio_net_set_paused, virtio_console_set_paused): first virtio_blk_quiesce and
 * virtio_net_quiesce (they complete requests into guest RAM, so before it is saved), then for
 * each device its transport's section(s) followed by its own (virtio_blk_state_save, ...). A
 * device's save fails the stream, naming the device, unless it holds exactly the requests its
 * queues have in flight (popped and not completed), so that none is lost or completed twice.
 * Loading, into a VM freshly created with the same configuration (every device and transport
 * set up by its *_init, nothing run, guest RAM holding the snapshot's memory), takes the same
 * sections in the same order: the transport's first, which gives the device its transport
 * (virtio_dev.restored) and the queues its own load checks its requests against. Loads check
 * every value as a hostile file's: on a bad one they return -EINVAL and the stream's err names
 * the section and the value; the VM is then to be discarded (a load may have applied part of
 * its state). */

struct state_out;
struct state_in;

/* Append section "virtio", version 1: the state every transport shares (chapters 2, 3), read
 * under the lock. Fields in order: u32 device id, u32 number of queues, u32 status, u32
 * interrupt status, u32 config generation, u32 device_features_sel, u32 driver_features_sel,
 * u32 queue_sel, u64 driver features; then for each queue u16 num, bool ready, bool event_idx,
 * bool indirect, u64 descriptor table, u64 driver area, u64 device area (guest-physical), u16
 * last_avail, u16 used_idx, u16 signalled_used, bool signalled_valid. The virtio-mmio
 * registers all live here: an MMIO device's transport is saved with this alone. */
void virtio_transport_state_save(struct virtio_transport *t, struct state_out *o);
/* Load section "virtio" into t. Checked: the device id and the number of queues are t's;
 * status has only the bits of 2.1, DRIVER_OK only with FEATURES_OK; with FEATURES_OK the
 * driver features are a subset of t's offer including VIRTIO_F_VERSION_1 (2.2.2; without it
 * they are whatever the driver wrote, as the transport keeps them too); interrupt status has
 * only VIRTIO_INT_* bits; each queue's size is at most VIRTQ_MAX_SIZE, and a ready queue (only
 * after FEATURES_OK) has event_idx and indirect as the driver features say and a layout that
 * virtq_validate accepts, as when the driver sets QueueReady (size a power of 2, rings aligned
 * and inside guest RAM). Then, under the lock, the state is t's (the queues' epochs stay as
 * virtio_transport_init set them) and the interrupt line follows interrupt status; last,
 * dev.restored. Returns 0 or -EINVAL. */
int virtio_transport_state_load(struct virtio_transport *t, struct state_in *in);

/* ---- for the devices ---- */

/* Pop the next request of queue q under the transport lock. Returns as virtq_pop; on
 * -EINVAL the device is marked DEVICE_NEEDS_RESET and the driver told (config interrupt). */
int virtio_pop(struct virtio_transport *t, unsigned q, struct virtq_req *req);
/* Take the next available head of queue q only (virtq_take_head), for a device whose chains
 * another process parses: 1 with *head and *epoch, 0 when there is none (or the queue is not
 * running), or -EINVAL (then the device is marked DEVICE_NEEDS_RESET, as by virtio_pop). */
int virtio_take_head(struct virtio_transport *t, unsigned q, uint16_t *head, uint32_t *epoch);
/* Parse the chain at head of queue q, taken before in epoch, into req (virtq_chain). Returns 0,
 * -ESTALE when the queue has been reset since, or -EINVAL for a malformed chain. */
int virtio_chain(struct virtio_transport *t, unsigned q, uint32_t epoch, uint16_t head,
		 struct virtq_req *req);
/* Complete the request with chain head of queue q, popped in epoch (its req->epoch), with len
 * bytes written, and interrupt the driver if it wants (2.7.7, 2.7.10). A request whose queue
 * has been reset or disabled since it was popped is dropped: it belongs to no ring now. */
void virtio_complete(struct virtio_transport *t, unsigned q, uint32_t epoch, uint16_t head,
		     uint32_t len);
/* Complete n requests of queue q, all popped in epoch, with one used index update and at
 * most one interrupt (virtq_push_batch); dropped whole if the epoch is over. */
void virtio_complete_batch(struct virtio_transport *t, unsigned q, uint32_t epoch,
			   const struct virtq_used_elem *elems, unsigned n);
/* The feature bits the driver accepted: its driver features once FEATURES_OK is set, else 0
 * (3.1.1). Devices take their negotiated behaviour from here. */
uint64_t virtio_driver_features(struct virtio_transport *t);
/* The device's configuration changed: bump the generation and interrupt the driver. */
void virtio_config_changed(struct virtio_transport *t);
/* A device whose rings are served elsewhere used buffers: interrupt the driver (the used
 * buffer notification of 2.7.7; the back end applied the driver's suppression already). */
void virtio_interrupt(struct virtio_transport *t);
/* The device failed for good (e.g. its back end went away): set DEVICE_NEEDS_RESET and tell
 * a running driver (2.1.2). */
void virtio_needs_reset(struct virtio_transport *t);

#endif
