/* Queue areas outside RAM on virtio-rng: the descriptor table at 2^48, then the used ring in
 * the UART's registers, then the avail ring straddling RAM's end. Each time QueueReady = 1
 * is refused (reads 0) with DEVICE_NEEDS_RESET; a reset recovers. */
#include "hostile.h"

static void attempt(uint64_t base, uint64_t desc, uint64_t avail, uint64_t used)
{
	CHECK_EQ(vinit(base, F_VERSION_1) & ST_FEATURES_OK, ST_FEATURES_OK);
	CHECK_EQ(vq_setup_raw(base, 0, 8, desc, avail, used), 0);
	CHECK_EQ(vr(base, VM_STATUS) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	vw(base, VM_STATUS, 0);
}

void case_main(void)
{
	uint64_t base = vfind(VIRTIO_ID_RNG);
	CHECK(base);
	uint8_t *ok = alloc(8192, 4096);
	uint64_t d = (uint64_t)ok, a = d + 0x100, u = d + 0x1000;
	attempt(base, 1ull << 48, a, u);
	attempt(base, d, a, UART_BASE);
	attempt(base, d, RAM_END - 8, u);
	attempt(base, d, a, 0xfffffffffffff000ull);
	rng_sanity(base);
}
