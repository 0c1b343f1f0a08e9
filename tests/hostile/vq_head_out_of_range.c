/* An avail ring entry naming descriptor 0xffff of a queue of 8 on virtio-rng: the index is
 * out of range; DEVICE_NEEDS_RESET, a configuration change interrupt, nothing returned; a
 * reset recovers. */
#include "hostile.h"

void case_main(void)
{
	static struct vq q;
	uint64_t base = rng_queue_ready(&q, 8);
	vq_kick(base, &q, 0xffff);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
