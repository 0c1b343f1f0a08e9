/* QueueNotify for a queue that was never made ready (its rings hold a request), for queue
 * numbers the device lacks (1, 0xffff, 0xffffffff), and before DRIVER_OK, on virtio-rng: the
 * device must ignore them (virtio 1.2 4.2.2.1): nothing written, no interrupt, no
 * DEVICE_NEEDS_RESET; afterwards the device works. */
#include "hostile.h"

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	volatile struct vdesc *desc = alloc(4096, 4096);
	volatile uint16_t *avail = alloc(4096, 4096);
	volatile uint32_t *used = alloc(4096, 4096);
	uint8_t *buf = alloc(64, 64);
	desc[0] = (struct vdesc){(uint64_t)buf, 64, D_WRITE, 0};
	avail[2] = 0;
	avail[1] = 1;
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	/* Layout written, QueueReady never set. */
	vw(base, VM_QUEUE_SEL, 0);
	vw(base, VM_QUEUE_NUM, 8);
	vw(base, VM_QUEUE_DESC, (uint32_t)(uint64_t)desc);
	vw(base, VM_QUEUE_DRIVER, (uint32_t)(uint64_t)avail);
	vw(base, VM_QUEUE_DEVICE, (uint32_t)(uint64_t)used);
	vdriver_ok(base);
	static const uint32_t queues[] = {0, 1, 2, 0xffff, 0x10000, 0xffffffff};
	for (unsigned r = 0; r < 100; r++)
		for (unsigned i = 0; i < sizeof(queues) / sizeof(queues[0]); i++)
			vw(base, VM_QUEUE_NOTIFY, queues[i]);
	delay_us(5000);
	CHECK_EQ(used[0], 0);
	CHECK_EQ(vr(base, VM_INT_STATUS), 0);
	CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, 0);
	/* Ready before DRIVER_OK on a fresh start: notify, nothing happens until DRIVER_OK. */
	vw(base, VM_STATUS, 0);
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup_raw(base, 0, 8, (uint64_t)desc, (uint64_t)avail, (uint64_t)used), 1);
	vw(base, VM_QUEUE_NOTIFY, 0);
	delay_us(5000);
	CHECK_EQ(used[0], 0);
	/* DRIVER_OK picks up what was made available before (rvisor notifies ready queues). */
	vdriver_ok(base);
	uint64_t end = now_ticks() + 5 * TIMEBASE_HZ;
	while ((used[0] >> 16) != 1 && (int64_t)(now_ticks() - end) < 0)
		;
	CHECK_EQ(used[0] >> 16, 1);
	CHECK_EQ(used[2], 64);
	rng_sanity(base);
}
