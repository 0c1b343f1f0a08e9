/* A descriptor chain that loops (0 -> 1 -> 2 -> 0) on virtio-rng: the device must not walk it
 * forever; rvisor sets DEVICE_NEEDS_RESET with a configuration change interrupt, returns
 * nothing and works after a reset. */
#include "hostile.h"

void case_main(void)
{
	static struct vq q;
	uint64_t base = rng_queue_ready(&q, 8);
	uint8_t *buf = alloc(64, 64);
	for (unsigned i = 0; i < 3; i++)
		q.desc[i] =
		    (struct vdesc){(uint64_t)buf, 8, D_WRITE | D_NEXT, (uint16_t)((i + 1) % 3)};
	vq_kick(base, &q, 0);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
