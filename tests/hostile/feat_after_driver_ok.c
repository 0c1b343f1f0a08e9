/* Feature negotiation after the fact on virtio-rng: features fixed at FEATURES_OK without
 * VIRTIO_F_INDIRECT_DESC, then DriverFeatures written with every bit after FEATURES_OK and
 * again after DRIVER_OK, and Status written with bits cleared. Features are fixed at
 * FEATURES_OK (virtio 1.2 3.1.1) and a driver only adds status bits: Status keeps
 * FEATURES_OK | DRIVER_OK, and an indirect descriptor, never negotiated, is a malformed chain
 * (DEVICE_NEEDS_RESET with a configuration change interrupt). */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	static struct vq q;
	volatile struct vdesc *table = alloc(64, 16);
	uint8_t *buf = alloc(64, 64);
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	for (unsigned sel = 0; sel < 4; sel++) {
		vw(base, VM_DRV_FEAT_SEL, sel);
		vw(base, VM_DRV_FEATURES, 0xffffffff);
	}
	CHECK_EQ(vq_setup(base, &q, 0, 8), 1);
	vdriver_ok(base);
	for (unsigned sel = 0; sel < 4; sel++) {
		vw(base, VM_DRV_FEAT_SEL, sel);
		vw(base, VM_DRV_FEATURES, 0xffffffff);
	}
	vw(base, VM_STATUS, ST_ACK);
	vw(base, VM_STATUS, ST_FEATURES_OK | ST_ACK | ST_DRIVER | ST_DRIVER_OK);
	CHECK_EQ(vr(base, VM_STATUS), ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	table[0] = (struct vdesc){(uint64_t)buf, 64, D_WRITE, 0};
	q.desc[0] = (struct vdesc){(uint64_t)table, 16, D_INDIRECT, 0};
	vq_kick(base, &q, 0);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	rng_sanity(base);
}
