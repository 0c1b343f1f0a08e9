/* A virtio-rng request whose writable buffer is the UART's registers: device DMA goes to RAM
 * only, so the chain is malformed: DEVICE_NEEDS_RESET, a configuration change interrupt,
 * nothing returned, the UART unchanged, and the device works after a reset. */
#include "hostile.h"

void case_main(void)
{
	static struct vq q;
	uint64_t base = rng_queue_ready(&q, 8);
	uint8_t lcr = rd8(UART_BASE + 3);
	q.desc[0] = (struct vdesc){UART_BASE, 8, D_WRITE, 0};
	vq_kick(base, &q, 0);
	CHECK_EQ(vwait_status(base, ST_NEEDS_RESET, 5000) & ST_NEEDS_RESET, ST_NEEDS_RESET);
	CHECK_EQ(vr(base, VM_INT_STATUS) & INT_CONFIG, INT_CONFIG);
	CHECK_EQ(vq_used_idx(&q), 0);
	CHECK_EQ(rd8(UART_BASE + 3), lcr);
	rng_sanity(base);
}
