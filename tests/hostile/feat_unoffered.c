/* FEATURES_OK with bits the device did not offer (bit 63, the reserved bit 45, every bit),
 * and without VIRTIO_F_VERSION_1, on every virtio-mmio device present: the device refuses
 * (Status reads back without FEATURES_OK, virtio 1.2 3.1.1 step 6), a queue cannot be made
 * ready, and DRIVER_OK is not taken; a correct negotiation afterwards works. */
#include "hostile.h"

static void refuse(uint64_t base, uint64_t f)
{
	vw(base, VM_STATUS, 0);
	vw(base, VM_STATUS, ST_ACK | ST_DRIVER);
	vw(base, VM_DRV_FEAT_SEL, 0);
	vw(base, VM_DRV_FEATURES, (uint32_t)f);
	vw(base, VM_DRV_FEAT_SEL, 1);
	vw(base, VM_DRV_FEATURES, (uint32_t)(f >> 32));
	vw(base, VM_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	CHECK_EQ(vr(base, VM_STATUS) & ST_FEATURES_OK, 0);
	uint8_t *ring = alloc(8192, 4096);
	CHECK_EQ(vq_setup_raw(base, 0, 8, (uint64_t)ring, (uint64_t)ring + 0x100,
			      (uint64_t)ring + 0x1000),
		 0);
	vdriver_ok(base);
	CHECK_EQ(vr(base, VM_STATUS) & ST_DRIVER_OK, 0);
}

void case_main(void)
{
	unsigned devices = 0;
	for (unsigned n = 0; n < VIRTIO_SLOTS; n++) {
		uint64_t base = VIRTIO_BASE + n * VIRTIO_SLOT_SIZE;
		if (!vslot_id(n))
			continue;
		devices++;
		refuse(base, F_VERSION_1 | (1ull << 63));
		refuse(base, F_VERSION_1 | (1ull << 45));
		refuse(base, ~0ull);
		refuse(base, 0);
		vw(base, VM_STATUS, 0);
	}
	CHECK(devices >= 1);
	rng_sanity(vfind(VIRTIO_ID_RNG));
}
