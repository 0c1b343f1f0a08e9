/* A fake virtio driver for the device unit tests: it drives a device through the real
 * virtio-mmio transport (virtio 1.2 section 4.2) as a guest driver does, negotiating features
 * through the registers, laying out split virtqueues (2.7) in guest RAM, making descriptor
 * chains available, notifying, and reading the used ring. Failures are cmocka assertions.
 *
 * Layout in guest RAM from its base: queue q's descriptor table at q * VDRV_QUEUE_STRIDE, its
 * avail ring 0x1000 and its used ring 0x2000 further; buffers from VDRV_HEAP_OFFSET to the end
 * of RAM, handed out by a bump allocator. */
#ifndef RVISOR_TESTS_UNIT_VIRTIO_DRIVER_H
#define RVISOR_TESTS_UNIT_VIRTIO_DRIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/irq.h"
#include "mem/guest_mem.h"
#include "virtio/mmio.h"

#define VDRV_MAX_QUEUES   4
#define VDRV_MAX_NUM      256     /* largest queue size the layout has room for */
#define VDRV_QUEUE_STRIDE 0x4000  /* bytes of guest RAM per queue's rings */
#define VDRV_HEAP_OFFSET  0x10000 /* first buffer byte, from the base of guest RAM */
#define VDRV_FILL         0xa5    /* what vdrv_alloc presets buffers to */
#define VDRV_ALL_FEATURES (~0ull) /* a feature mask accepting whatever is offered */

/* virtio-mmio registers (4.2.2): byte offsets in the device's window. */
enum {
	REG_MAGIC_VALUE = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

/* One buffer of a descriptor chain: guest-physical address, bytes, device-writable or not. */
struct vdrv_seg {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

/* The driver's side of one split virtqueue. */
struct vdrv_queue {
	uint64_t desc, avail, used; /* guest-physical addresses of its three parts */
	uint16_t avail_idx;         /* the avail ring's idx as last published */
	uint16_t used_seen;         /* used ring entries taken so far */
	uint16_t next_desc;         /* next descriptor to fill: descriptors are used in turn */
};

struct vdrv {
	struct virtio_transport *t;
	struct guest_mem *mem;
	unsigned nqueues;
	uint16_t num;      /* queue size of every queue */
	uint64_t offered;  /* device feature bits read at the last vdrv_start */
	uint64_t features; /* the bits the driver accepted then */
	struct vdrv_queue q[VDRV_MAX_QUEUES];
	uint64_t heap_base; /* guest-physical address of the first buffer byte */
	uint64_t heap;      /* next free buffer byte; a test may move it */
	int irqs;           /* rising edges of the interrupt line (atomic) */
};

/* Set up d for the device behind transport t on RAM mem, with nqueues queues (1 to
 * VDRV_MAX_QUEUES) of num entries (a power of two, at most VDRV_MAX_NUM). Touches no
 * register: call vdrv_start next. t may be initialised after this call. */
void vdrv_init(struct vdrv *d, struct virtio_transport *t, struct guest_mem *mem, unsigned nqueues,
	       uint16_t num);

/* An interrupt line for the transport whose rising edges count in d->irqs. */
struct irq_line vdrv_irq_line(struct vdrv *d, unsigned num);

/* Read or write a 32-bit register at byte offset off of the device's window. */
uint32_t vdrv_read(struct vdrv *d, uint64_t off);
void vdrv_write(struct vdrv *d, uint64_t off, uint32_t val);
/* Read size (1, 2 or 4) bytes at offset off of the device configuration space. */
uint32_t vdrv_config_read(struct vdrv *d, uint32_t off, unsigned size);

/* The 64 device feature bits, read through DeviceFeaturesSel/DeviceFeatures. */
uint64_t vdrv_offered(struct vdrv *d);

/* Driver initialisation (3.1.1): reset, ACKNOWLEDGE, DRIVER, accept the offered features in
 * mask, FEATURES_OK (asserted to stick), every queue on freshly zeroed rings and ready,
 * DRIVER_OK. Also resets the driver's ring indices and the buffer allocator. */
void vdrv_start(struct vdrv *d, uint64_t mask);

/* Host pointer to len bytes of guest RAM at gpa; asserts they are all in RAM. */
uint8_t *vdrv_host(struct vdrv *d, uint64_t gpa, uint64_t len);
/* A buffer of len bytes from the heap, 16-byte aligned, preset to VDRV_FILL so that bytes
 * the device did not write show. Asserts it fits in RAM. */
uint64_t vdrv_alloc(struct vdrv *d, uint64_t len);

/* Write the chain s[0..n-1] into queue q's descriptor table (descriptors in turn, wrapping)
 * and make it available, not notified. Returns the head's index. */
uint16_t vdrv_add_chain(struct vdrv *d, unsigned q, const struct vdrv_seg *s, unsigned n);
/* Put head, whatever it is, in queue q's avail ring and publish the new idx. */
void vdrv_publish(struct vdrv *d, unsigned q, uint16_t head);
/* A buffer of len device-writable bytes made available on queue q as a one-descriptor
 * chain; returns its gpa, and its head in *head if head is not NULL. */
uint64_t vdrv_post_writable(struct vdrv *d, unsigned q, uint32_t len, uint16_t *head);
/* Notify queue q (QueueNotify). */
void vdrv_notify(struct vdrv *d, unsigned q);

/* The used ring's idx of queue q (an acquire load). */
uint16_t vdrv_used_idx(struct vdrv *d, unsigned q);
/* Whether queue q has a used element the driver has not taken. */
bool vdrv_used_pending(struct vdrv *d, unsigned q);
/* Take queue q's next used element if there is one: its id and len; false if none. */
bool vdrv_pop_used(struct vdrv *d, unsigned q, uint32_t *id, uint32_t *len);
/* Take queue q's next used element, which must be there and be head's; returns its len. */
uint32_t vdrv_take_used(struct vdrv *d, unsigned q, uint16_t head);
/* As vdrv_take_used, waiting up to 10 s for the element (devices that complete on a worker
 * thread). */
uint32_t vdrv_wait_used(struct vdrv *d, unsigned q, uint16_t head);
/* Asserts that queue q has no used element the driver has not taken. */
void vdrv_no_more_used(struct vdrv *d, unsigned q);

#endif
