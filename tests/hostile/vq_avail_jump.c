/* The avail idx jumps by more than the queue size (8 -> idx 100) on virtio-rng: the driver
 * claims more buffers than the ring can hold; DEVICE_NEEDS_RESET, a configuration change
 * interrupt, nothing returned; a reset recovers. */
#include "hostile.h"

void case_main(void)
{
	static struct vq q;
	uint64_t base = rng_queue_ready(&q, 8);
	uint8_t *buf = alloc(64, 64);
	for (unsigned i = 0; i < 8; i++) {
		q.desc[i] = (struct vdesc){(uint64_t)buf, 8, D_WRITE, 0};
		q.avail[2 + i] = (uint16_t)i;
	}
	mb();
	q.avail[1] = 100;
	mb();
	vw(base, VM_QUEUE_NOTIFY, 0);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
