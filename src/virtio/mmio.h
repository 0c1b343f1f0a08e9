/* The virtio-mmio transport, version 2 only (virtio 1.2 section 4.2): the register block a
 * driver uses to negotiate feature bits, program virtqueues and exchange notifications and
 * interrupts with one device, decoded onto a struct virtio_transport. */
#ifndef RVISOR_VIRTIO_MMIO_H
#define RVISOR_VIRTIO_MMIO_H

#include "mem/bus.h"
#include "virtio/transport.h"

#define VIRTIO_MMIO_SIZE 0x1000 /* bytes of MMIO window per device */

/* Set up t for dev behind a virtio-mmio register block, raising interrupts on irq
 * (virtio_transport_init). Returns 0 or -EINVAL (also for configuration space larger than
 * the block's 0xf00 bytes). */
int virtio_mmio_init(struct virtio_transport *t, const struct virtio_dev *dev,
		     struct guest_mem *mem, struct irq_line irq);
/* Release the transport (virtio_transport_destroy); unmap its window first. */
void virtio_mmio_destroy(struct virtio_transport *t);
/* MMIO callbacks; opaque is the struct virtio_transport. 4-byte accesses to registers; 1, 2
 * and 4-byte accesses to the configuration space at 0x100. */
extern const struct mmio_ops virtio_mmio_ops;

#endif
