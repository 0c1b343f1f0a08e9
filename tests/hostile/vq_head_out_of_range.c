/* An avail ring entry naming descriptor 0xffff of a queue of 8 on virtio-rng: the index is
 * out of range; DEVICE_NEEDS_RESET, a configuration change interrupt, nothing returned; a
 * reset recovers. */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	static struct vq q;
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &q, 0, 8), 1);
	vdriver_ok(base);
	vq_kick(base, &q, 0xffff);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
