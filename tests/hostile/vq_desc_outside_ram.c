/* A virtio-rng request whose writable buffer lies past the end of RAM: the device must not
 * write there; rvisor treats the chain as malformed and sets DEVICE_NEEDS_RESET (virtio 1.2
 * 2.1.2) with a configuration change interrupt, returns nothing, and works after a reset. */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	static struct vq q;
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &q, 0, 8), 1);
	vdriver_ok(base);
	q.desc[0] = (struct vdesc){RAM_END - 16, 64, D_WRITE, 0};
	vq_kick(base, &q, 0);
	uint32_t st = vwait_status(base, ST_NEEDS_RESET, 5000);
	CHECK_EQ(st & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
