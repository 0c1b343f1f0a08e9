/* A queue size not a power of 2 (3) on virtio-rng, then QueueReady = 1: a split queue's size is a
 * power of 2 no larger than QueueNumMax (virtio 1.2 2.7, 4.2.2). rvisor refuses the queue
 * (QueueReady reads 0), sets DEVICE_NEEDS_RESET, never uses the rings, and works after a
 * reset. */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	volatile uint16_t *avail = alloc(4096, 4096);
	volatile uint32_t *used = alloc(4096, 4096);
	volatile struct vdesc *desc = alloc(4096, 4096);
	uint8_t *buf = alloc(64, 64);
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup_raw(base, 0, 3, (uint64_t)desc, (uint64_t)avail, (uint64_t)used), 0);
	CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	vdriver_ok(base);
	desc[0] = (struct vdesc){(uint64_t)buf, 8, D_WRITE, 0};
	avail[2] = 0;
	mb();
	avail[1] = 1;
	mb();
	vw(base, VM_QUEUE_NOTIFY, 0);
	delay_us(5000);
	CHECK_EQ(used[0], 0);
	rng_sanity(base);
}
