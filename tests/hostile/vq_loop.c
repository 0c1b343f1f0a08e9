/* A descriptor chain that loops (0 -> 1 -> 2 -> 0) on virtio-rng: the device must not walk it
 * forever; rvisor sets DEVICE_NEEDS_RESET with a configuration change interrupt, returns
 * nothing and works after a reset. */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	static struct vq q;
	uint8_t *buf = alloc(64, 64);
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &q, 0, 8), 1);
	vdriver_ok(base);
	for (unsigned i = 0; i < 3; i++)
		q.desc[i] =
		    (struct vdesc){(uint64_t)buf, 8, D_WRITE | D_NEXT, (uint16_t)((i + 1) % 3)};
	vq_kick(base, &q, 0);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
