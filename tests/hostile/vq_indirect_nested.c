/* An indirect table whose entry is itself indirect (virtio 1.2 2.7.5.3.1: the driver MUST
 * NOT), with VIRTIO_F_INDIRECT_DESC negotiated, on virtio-rng: DEVICE_NEEDS_RESET, a
 * configuration change interrupt, nothing returned; a reset recovers. */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	static struct vq q;
	volatile struct vdesc *t1 = alloc(64, 16), *t2 = alloc(64, 16);
	uint8_t *buf = alloc(64, 64);
	CHECK_EQ(vinit(base, F_VERSION_1 | F_INDIRECT) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup(base, &q, 0, 8), 1);
	vdriver_ok(base);
	t2[0] = (struct vdesc){(uint64_t)buf, 64, D_WRITE, 0};
	t1[0] = (struct vdesc){(uint64_t)t2, 16, D_INDIRECT, 0};
	q.desc[0] = (struct vdesc){(uint64_t)t1, 16, D_INDIRECT, 0};
	vq_kick(base, &q, 0);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
