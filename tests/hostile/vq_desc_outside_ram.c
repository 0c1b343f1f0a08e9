/* A virtio-rng request whose writable buffer lies past the end of RAM: the device must not
 * write there; rvisor treats the chain as malformed and sets DEVICE_NEEDS_RESET (virtio 1.2
 * 2.1.2) with a configuration change interrupt, returns nothing, and works after a reset. */
#include "hostile.h"

void case_main(void)
{
	static struct vq q;
	uint64_t base = rng_queue_ready(&q, 8);
	q.desc[0] = (struct vdesc){RAM_END - 16, 64, D_WRITE, 0};
	vq_kick(base, &q, 0);
	uint32_t st = vwait_status(base, ST_NEEDS_RESET, 5000);
	CHECK_EQ(st & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
